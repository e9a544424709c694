"""A throwaway copy of the project for notebook and browser tests: datasets, experiments, notebooks, own MLflow store."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import copy_store

ROOT = Path(__file__).resolve().parents[2]


def make_project(tmp_path: Path, empty_store: Path) -> Path:
    """Copy what the notebooks read into ``tmp_path/project`` (the notebooks run from its ``notebooks/`` folder), with
    a copy of ``empty_store`` as its MLflow store: a kernel creating the store itself would run MLflow's migrations."""
    project = tmp_path / "project"
    skip = shutil.ignore_patterns(".ipynb_checkpoints", "*.db", "mlruns", ".workbench")
    for name in ("datasets", "experiments", "notebooks"):
        shutil.copytree(ROOT / name, project / name, ignore=skip)
    copy_store(empty_store, project)
    return project


def kernel_env(project: Path, home: Path) -> dict[str, str]:
    """The environment a notebook kernel gets: the project's own MLflow store, no API keys (offline, embedded models)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        WORKBENCH_ROOT=str(project),
        MLFLOW_TRACKING_URI=f"sqlite:///{project / 'mlruns' / 'mlflow.db'}",
        WORKBENCH_HOME=str(home),  # index cache: content-addressed, shared by the notebook and browser tests
        WORKBENCH_USER="notebook-test",
        MLFLOW_DISABLE_TELEMETRY="true",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONWARNINGS="ignore",
        TMPDIR=str(project / "tmp"),  # notebooks that make temp folders (04_promote) leave nothing behind
    )
    (project / "tmp").mkdir(exist_ok=True)
    return env
