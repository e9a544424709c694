"""Where workbench keeps things: ``workbench.settings``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import workbench as wb


def test_a_root_given_with_a_tilde_is_under_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # settings(root="~/project") resolved to ./~/project: the store and indexes went into a folder named '~'
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("WORKBENCH_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    cfg = wb.settings(root="~/project")
    assert cfg.root == tmp_path / "me" / "project"
    assert cfg.tracking_uri == f"sqlite:///{tmp_path / 'me' / 'project' / 'mlruns' / 'mlflow.db'}"
    assert cfg.home == tmp_path / "me" / "project" / ".workbench"


def test_a_sqlite_store_elsewhere_keeps_its_artifacts_beside_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a CI job's store outside its checkout got artifacts under <checkout>/mlruns: deleted with the checkout while the
    # store kept pointing at them
    monkeypatch.delenv("WORKBENCH_HOME", raising=False)
    checkout, elsewhere = tmp_path / "checkout", tmp_path / "elsewhere"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{elsewhere / 'mlflow.db'}")
    assert wb.settings(root=checkout).artifact_root == elsewhere / "artifacts"
    cfg = wb.settings(root=checkout, tracking_uri=f"sqlite:///{elsewhere / 'other.db'}?timeout=30")
    assert cfg.artifact_root == elsewhere / "artifacts"
    monkeypatch.chdir(elsewhere.parent)  # a relative sqlite path is relative to the current directory, as for MLflow
    assert wb.settings(root=checkout, tracking_uri="sqlite:///elsewhere/mlflow.db").artifact_root == elsewhere / "artifacts"
    assert wb.settings(tracking_uri="sqlite:///~/mlflow.db").artifact_root == tmp_path / "~" / "artifacts"  # as MLflow reads it
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert wb.settings(root=checkout).artifact_root == checkout / "mlruns" / "artifacts"  # the default store: as before
    assert wb.settings(root=checkout, tracking_uri="postgresql://u@h/db").artifact_root == checkout / "mlruns" / "artifacts"
    assert wb.settings(root=checkout, tracking_uri="sqlite:///:memory:").artifact_root == checkout / "mlruns" / "artifacts"


def test_settings_shown_in_a_notebook_hide_the_tracking_servers_password(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # wb.settings() in a cell showed (and saved with the notebook) http://alice:S3cret-pa55@host whole
    cfg = wb.settings(root=tmp_path, tracking_uri="http://alice:S3cret-pa55@mlflow.example.internal:5000")
    assert "S3cret-pa55" not in repr(cfg)
    assert "tracking_uri='http://alice:***@mlflow.example.internal:5000'" in repr(cfg)
    assert cfg.tracking_uri == "http://alice:S3cret-pa55@mlflow.example.internal:5000"


def test_a_password_given_in_the_store_uris_query_is_hidden_where_the_uri_is_shown(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # SQLAlchemy hands a database URI's query to the driver: postgresql://bob@db/mlflow?password=... logs in, and
    # every `workbench run` printed it whole ("Tracking store: ..." and its --format json), as wb.settings() showed it
    from workbench.config import shown_uri

    uri = "postgresql://bob@db.internal:5432/mlflow?sslmode=require&password=Hunter2-Secret&sslpassword=Key-Pass-99"
    assert shown_uri(uri) == "postgresql://bob@db.internal:5432/mlflow?sslmode=require&password=***&sslpassword=***"
    assert "Hunter2-Secret" not in repr(wb.settings(root=tmp_path, tracking_uri=uri))
    assert shown_uri("https://mlflow.example/?token=abc123def&x=1") == "https://mlflow.example/?token=***&x=1"
    for plain in ("sqlite:////tmp/p/mlflow.db?mode=ro", "postgresql://bob:***@db/mlflow?sslmode=require"):
        assert shown_uri(plain) == plain


@pytest.mark.parametrize(("call", "says"), [
    # a tracking URI given first made a project folder named 'sqlite:' in the current folder, silently
    (lambda: wb.settings("sqlite:///ci/mlflow.db"), "root: 'sqlite:///ci/mlflow.db' is a tracking URI, not a folder — pass it as wb.settings(tracking_uri="),
    (lambda: wb.settings(root=5), "root: expected the project folder's path, not a int"),  # TypeError from Path()
    (lambda: wb.settings(tracking_uri=Path("mlruns")), "tracking_uri: expected a URI such as 'sqlite:///path/to/mlflow.db', not a"),  # AttributeError
])
def test_a_wrong_settings_argument_is_one_line(call, says) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(wb.WorkbenchError, match=re.escape(says)):
        call()


def test_a_token_given_as_the_uris_whole_login_is_hidden_where_the_uri_is_shown() -> None:
    # https://<token>@mlflow.example: only a password after a ':' was hidden, and the token was printed with the store
    from workbench.config import shown_uri

    assert shown_uri("https://zq8opaquevalue77tok@mlflow.example/") == "https://***@mlflow.example/"
    for plain in ("postgresql://bob@db/mlflow", "https://mlflow_admin@mlflow.example/", "https://***@mlflow.example/"):
        assert shown_uri(plain) == plain
