"""Tracking: the ``Tracker`` protocol, the MLflow implementation and an in-memory one for unit tests."""

from workbench.tracking._memory import MemoryRun, MemoryTracker
from workbench.tracking._mlflow import EVAL_RUN_TYPE, MlflowTracker
from workbench.tracking._protocol import SweepHandle, Tracker

__all__ = ["EVAL_RUN_TYPE", "MemoryRun", "MemoryTracker", "MlflowTracker", "SweepHandle", "Tracker"]
