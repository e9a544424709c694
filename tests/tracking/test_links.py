"""Links into the MLflow UI go where the runs were logged."""

from __future__ import annotations

import pytest

from workbench.tracking import run_url, ui_url


def test_the_ui_of_a_tracking_server_is_the_server_without_its_login(monkeypatch: pytest.MonkeyPatch) -> None:
    # a team's RunPanel, leaderboard and inspector linked runs on their MLflow server to http://127.0.0.1:5000
    monkeypatch.delenv("WORKBENCH_UI_URL", raising=False)
    assert ui_url("https://alice:s3cret@mlflow.example.com/team/") == "https://mlflow.example.com/team"
    assert ui_url("http://u:pa/ss@w@10.0.0.5:5000?x=1") == "http://10.0.0.5:5000"  # a password written unencoded
    assert run_url("r1", base=ui_url("http://mlflow:5000")) == "http://mlflow:5000/#/runs/r1"
    assert ui_url("sqlite:////tmp/p/mlruns/mlflow.db") == "http://127.0.0.1:5000"  # workbench ui serves a local store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.internal:8080")
    assert ui_url() == "http://tracking.internal:8080"  # the project's store
    monkeypatch.setenv("WORKBENCH_UI_URL", "https://ui.example.com/")  # a UI behind another address wins
    assert ui_url("http://mlflow:5000") == "https://ui.example.com"
