"""A scorer's code digest follows the team's own helpers however the scorer reaches them."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.scoring import code_digest


@pytest.fixture()
def project(tmp_path: Path) -> Iterator[Path]:
    """A team's project folder on sys.path (as a notebook beside its modules has it); its modules forgotten after."""
    sys.path.insert(0, str(tmp_path))
    before = set(sys.modules)
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in set(sys.modules) - before:
            del sys.modules[name]


SCORERS = {
    "module attribute": "import helpers\n\ndef score(answer):\n    return float(len(answer) < helpers.cut())\n",
    "package module attribute": "from team import helpers\n\ndef score(answer):\n    return float(len(answer) < helpers.cut())\n",
    "name from another module": "from helpers import cut\n\ndef score(answer):\n    return float(len(answer) < cut())\n",
    "constant of a module": "import helpers\n\ndef score(answer):\n    return float(len(answer) < helpers.LIMIT)\n",
}


@pytest.mark.parametrize("reach", sorted(SCORERS))
def test_an_edited_and_reloaded_helper_of_the_teams_own_changes_the_digest(project: Path, reach: str) -> None:
    # a scorer calling `helpers.cut()` (or `from helpers import cut` in a module of another name) was digested without
    # it: the helper edited and reloaded in the kernel, the next sweep reused the old scores as if nothing had changed
    (project / "team").mkdir()
    (project / "team" / "__init__.py").write_text("", encoding="utf-8")
    for folder in (project, project / "team"):
        (folder / "helpers.py").write_text("LIMIT = 3\n\ndef cut():\n    return 3\n", encoding="utf-8")
    (project / "my_scorer.py").write_text(SCORERS[reach], encoding="utf-8")
    scorer = importlib.import_module("my_scorer")
    helpers = sys.modules["team.helpers" if reach.startswith("package") else "helpers"]
    before = code_digest(scorer.score)
    assert code_digest(scorer.score) == before  # stable while nothing changes

    Path(helpers.__file__).write_text("LIMIT = 100\n\ndef cut():\n    return 100\n", encoding="utf-8")
    importlib.reload(helpers)
    if reach == "name from another module":  # the name was bound at import: the scorer module reloads too
        scorer = importlib.reload(scorer)

    assert code_digest(scorer.score) != before


def test_a_librarys_functions_are_not_followed(project: Path) -> None:
    # installed libraries change with their versions, which the run records; their code is not the team's to digest
    import json

    (project / "my_scorer.py").write_text("import json\n\ndef score(answer):\n    return float(bool(json.loads(answer)))\n",
                                          encoding="utf-8")
    scorer = importlib.import_module("my_scorer")
    before = code_digest(scorer.score)
    original = json.loads
    try:
        json.loads = lambda text: text  # type: ignore[assignment]  # another json.loads: not followed, not digested
        assert code_digest(scorer.score) == before
    finally:
        json.loads = original
