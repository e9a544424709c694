"""workbench.promotion's public names, and the top-level entry points."""

from __future__ import annotations

import importlib
import sys

import workbench

# ``workbench.promotion`` the attribute is the function (wb.promote); the subpackage is reached through imports
promote = importlib.import_module("workbench.promotion")


def test_every_public_name_is_importable_and_listed_once() -> None:
    assert promote.__all__ and len(set(promote.__all__)) == len(promote.__all__)
    assert [n for n in promote.__all__ if not hasattr(promote, n)] == []


def test_top_level_api_has_the_promotion_path() -> None:
    for name in ("promote", "export", "load_bundle", "rollback"):
        assert name in workbench.__all__ and getattr(workbench, name) is getattr(promote, name)


def test_importing_promote_does_not_import_mlflow_eagerly() -> None:
    import subprocess

    code = "import workbench.promotion, sys; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"  # a deployment that only loads bundles does not pay for (or need) MLflow
