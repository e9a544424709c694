"""What ``workbench server`` checks before MLflow starts, each a one-line error: ``--artifacts-destination``, where it
keeps every sweep's artifacts, must be writable (one that was not, a read-only mount, started the server without a word,
and each sweep then ended on its first artifact with "answered with errors (HTTP 500 to every try)", its parent run left
RUNNING); an ``--app-name`` for MLflow must be one of its apps, and load."""

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


def _started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *mlflow_args: str) -> tuple[int, list[list[str]]]:
    execs: list[list[str]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    monkeypatch.setattr("workbench.cli._servers._supervise", lambda cmd, env: execs.append(list(cmd)) or 0)
    code = main(["server", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--port", str(free_port()), "--", *mlflow_args])
    return code, execs


def test_a_server_app_mlflow_does_not_have_is_one_line_naming_those_it_has(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, execs = _started(tmp_path, monkeypatch, "--app-name", "basic-auht")
    line = one_line(capsys, code)
    assert line == "--app-name basic-auht: MLflow has no such server app (it has: basic-auth) — give one of them"
    assert execs == []


def test_the_login_app_without_its_package_is_one_line_naming_the_install(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's basic-auth app needs Flask-WTF (``mlflow[auth]``): without it the server ended in a 50-line traceback
    after its startup lines. Where the package is installed, the server starts."""
    import importlib.util

    code, execs = _started(tmp_path, monkeypatch, "--app-name=basic-auth")
    if importlib.util.find_spec("flask_wtf") is None:
        line = one_line(capsys, code)
        assert line.startswith("--app-name basic-auth: MLflow cannot load this app (")
        assert line.endswith("— pip install 'mlflow[auth]' where the server runs")
        assert execs == []
    else:
        assert code == 0 and len(execs) == 1
