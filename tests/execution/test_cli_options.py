"""``workbench run --workers N --isolation none`` override the experiment's ``execution`` section."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.cli import build_parser, main
from workbench.cli._run import _with_execution

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = str(ROOT / "experiments" / "quickstart.yaml")


def test_workers_and_isolation_replace_the_experiments_execution_settings() -> None:
    args = build_parser().parse_args(["run", QUICKSTART, "--workers", "3", "--isolation", "none"])
    spec = _with_execution(args.experiment, workers=args.workers, isolation=args.isolation)
    assert (spec.execution.workers, spec.execution.isolation, spec.execution.backend) == (3, "none", "local")
    assert spec.name == "quickstart"
    assert _with_execution(QUICKSTART, workers=None, isolation=None) == QUICKSTART  # nothing given: the file as it is


@pytest.mark.parametrize("bad", [["--workers", "0"], ["--isolation", "thread"]])
def test_bad_values_are_one_line_and_exit_2(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", QUICKSTART, *bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
