"""Fixtures of the notebook tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.notebooks._project import make_project


@pytest.fixture
def project(tmp_path: Path, empty_store: Path) -> Path:
    """A temp copy of the project; its notebooks write their MLflow store under it (a copy of a migrated empty one)."""
    return make_project(tmp_path, empty_store)
