"""Where workbench keeps things: ``workbench.settings``."""

from __future__ import annotations

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
