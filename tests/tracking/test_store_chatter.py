"""What MLflow prints in the middle of a sweep's output: nothing at INFO level."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from workbench.tracking import MlflowTracker


def test_a_new_store_and_ended_runs_print_no_mlflow_info_lines(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A new sqlite store printed "INFO mlflow.store.db.utils: Creating initial MLflow database tables..." and
    "Updating database tables" between `make demo`'s lines; a tracking server's runs printed two "View run" lines
    each on stdout."""
    from workbench._telemetry import disable_telemetry

    tracker = MlflowTracker(f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}")
    tracker.client.search_experiments()
    out, err = capfd.readouterr()
    assert "Creating initial MLflow database tables" not in out + err and "Updating database tables" not in out + err
    # set with the other defaults when workbench is imported (the tracker set it for the process at its first sweep)
    monkeypatch.delenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", raising=False)
    disable_telemetry()
    assert os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] == "true"
    monkeypatch.setenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "false")  # a user who wants the links keeps them
    disable_telemetry()
    MlflowTracker(f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}")
    assert os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] == "false"


def test_a_level_the_user_set_on_mlflows_store_logger_stays(tmp_path: Path) -> None:
    """Quietening MLflow's store logger set it to WARNING whatever the user had asked for: a notebook that had turned
    it to DEBUG (to watch a store's migrations) lost that for the rest of the kernel at its first sweep."""
    logger = logging.getLogger("mlflow.store.db.utils")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        MlflowTracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
        assert logger.level == logging.DEBUG
    finally:
        logger.setLevel(level)
