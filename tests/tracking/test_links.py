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


@pytest.mark.parametrize("password", ["pa?ss3cretQQ", "pa#ss3cretQQ", "pa?ss#3cret@QQ"])
def test_a_link_carries_no_piece_of_a_password_written_with_an_unencoded_question_mark_or_hash(
    monkeypatch: pytest.MonkeyPatch, password: str
) -> None:
    """The address was cut at its first '?' or '#' before its login was taken out: the links of every widget went to
    'http://u:pa', the start of the password (in the notebook's saved output)."""
    monkeypatch.delenv("WORKBENCH_UI_URL", raising=False)
    assert ui_url(f"http://u:{password}@10.0.0.5:5000/") == "http://10.0.0.5:5000"
    assert ui_url("https://3f9c0a7be21d4c6f8a9b0c1d@mlflow.example.com") == "https://mlflow.example.com"  # a token as the login


def test_a_ui_address_set_with_a_login_links_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_UI_URL", "https://rita:s3cr3t+pw@ui.example.com/mlflow/?token=abc")
    assert run_url("r1", base=ui_url()) == "https://ui.example.com/mlflow/#/runs/r1"  # the browser asks for the login
