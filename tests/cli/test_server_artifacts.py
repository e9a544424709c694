"""``workbench server`` keeps every sweep's artifacts in ``--artifacts-destination``: one it cannot write (a read-only
mount, a folder of another user) is one line before MLflow starts. It started without a word, and each sweep then
ended on its first artifact with "answered with errors (HTTP 500 to every try)", its parent run left RUNNING."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_user_errors import one_line
from tests.team.conftest import free_port
from workbench.cli import main

# a folder that exists and in which no process, root included, can make a file: as a read-only mount is to the server
UNWRITABLE = Path("/proc/self")


def test_a_server_whose_artifacts_destination_cannot_be_written_is_one_line_and_starts_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    execs: list[list[str]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    monkeypatch.setattr("workbench.cli._servers._supervise", lambda cmd, env: execs.append(list(cmd)) or 0)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    line = one_line(capsys, main(["server", "--backend-store-uri", store, "--artifacts-destination", str(UNWRITABLE),
                                  "--port", str(free_port())]))
    assert line.startswith(f"--artifacts-destination {UNWRITABLE}: the server cannot write there (")
    assert line.endswith("— give a folder the server's user can write (a read-write mount)")
    assert execs == []
    # a writable one starts the server as before
    assert main(["server", "--backend-store-uri", store, "--artifacts-destination", str(tmp_path / "artifacts"),
                 "--port", str(free_port())]) == 0
    assert len(execs) == 1 and not list((tmp_path / "artifacts").iterdir())  # the check leaves no file behind
