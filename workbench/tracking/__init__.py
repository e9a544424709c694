"""Tracking: the ``Tracker`` protocol, the MLflow implementation and an in-memory one for unit tests."""

from workbench.tracking._memory import MemoryRun, MemoryTracker
from workbench.tracking._mlflow import EVAL_RUN_TYPE, MlflowTracker
from workbench.tracking._protocol import SweepHandle, Tracker
from workbench.tracking._read import RESULTS_TABLE, latest_sweep, load_variant_table, sweep_variants

__all__ = [
    "EVAL_RUN_TYPE",
    "RESULTS_TABLE",
    "MemoryRun",
    "MemoryTracker",
    "MlflowTracker",
    "SweepHandle",
    "Tracker",
    "latest_sweep",
    "load_variant_table",
    "sweep_variants",
]
