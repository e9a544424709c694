"""What MLflow prints in the middle of a sweep's output: nothing at INFO level."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench.tracking import MlflowTracker


def test_a_new_store_and_ended_runs_print_no_mlflow_info_lines(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A new sqlite store printed "INFO mlflow.store.db.utils: Creating initial MLflow database tables..." and
    "Updating database tables" between `make demo`'s lines; a tracking server's runs printed two "View run" lines
    each on stdout."""
    monkeypatch.delenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", raising=False)
    tracker = MlflowTracker(f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}")
    tracker.client.search_experiments()
    out, err = capfd.readouterr()
    assert "Creating initial MLflow database tables" not in out + err and "Updating database tables" not in out + err
    assert os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] == "true"
    monkeypatch.setenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "false")  # a user who wants the links keeps them
    MlflowTracker(f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}")
    assert os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] == "false"
