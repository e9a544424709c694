"""Calibrate a logged run's judge against human labels: reads the run's per-question scores, then
``workbench.scoring.calibrate`` (pure) does the statistics."""

from __future__ import annotations

from typing import Any

from workbench.results import VariantResult
from workbench.scoring import CalibrationReport, calibrate
from workbench.tracking._engines import store_released
from workbench.tracking._read import load_judge_scores

__all__ = ["calibrate_run"]


def calibrate_run(
    verdicts: str | VariantResult | Any, labels: Any, *, threshold: float = 0.5, tracking_uri: str | None = None
) -> CalibrationReport:
    """Agreement between a run's judge scores and human labels, per labelled metric (``wb.calibrate``).

    Args:
        verdicts: a variant run id (its ``eval_results.json`` is read from MLflow), a ``VariantResult``, or a
            DataFrame with a ``case_id`` column and one column per metric (an ``answer`` column enables stale checks).
        labels: a labels file (.csv / .jsonl) or DataFrame with case_id, metric, label (and optionally answer).
        threshold: scores and labels at or above it count as a pass.
        tracking_uri: the MLflow store a run id is read from (default: the project's).

    Returns:
        A ``CalibrationReport``; metrics are in the order they first appear in the labels.

    Raises:
        DataError: bad labels (file, line and field named), or no label matches a scored metric or a case of the run.
        WorkbenchError: the run has no per-question table.
        TypeError: ``verdicts`` is none of the above.
    """
    import pandas as pd

    from workbench.config import settings

    if isinstance(verdicts, pd.DataFrame):
        table, source = verdicts, "DataFrame"
    elif isinstance(verdicts, VariantResult):
        table, source = verdicts.records_frame(), verdicts.run_id or verdicts.variant.name
    elif isinstance(verdicts, str):
        with store_released(tracking_uri or settings().tracking_uri):  # read once: the store's connections let go of
            table, source = load_judge_scores(verdicts, tracking_uri=tracking_uri), verdicts
    else:
        raise TypeError(f"calibrate() takes a variant run id, a VariantResult or a DataFrame, not {type(verdicts).__name__}")
    return calibrate(table, labels, threshold=threshold, source=source)
