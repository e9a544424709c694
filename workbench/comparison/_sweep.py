"""What every sweep logs on its parent run at the end: ``comparison.json`` and the plots under ``plots/``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from workbench.comparison._compare import compare
from workbench.results import VariantResult

__all__ = ["COMPARISON_FILE", "PLOTS_DIR", "log_comparison"]

COMPARISON_FILE = "comparison.json"
PLOTS_DIR = "plots"

_log = logging.getLogger(__name__)


def log_comparison(client: Any, run_id: str, results: Sequence[VariantResult], *, seed: int = 0) -> list[str]:
    """Compare a sweep's variants against the first one and log the table and plots on the parent run.

    Args:
        client: an ``mlflow.MlflowClient``.
        run_id: the sweep's parent run.
        results: the sweep's variant results (variants without per-question results are listed as skipped).
        seed: the bootstrap seed (the sweep's seed, so a re-logged comparison is identical).

    Returns:
        The artifact paths logged. Nothing is logged when no variant has per-question results. A plot that
        cannot be drawn or logged is left out with a warning; it never fails the sweep.
    """
    if not any(r.records for r in results):
        return []
    report = compare(list(results), seed=seed)
    client.log_dict(run_id, report.to_dict(), COMPARISON_FILE)
    logged = [COMPARISON_FILE]
    for name, figure in report.plots().items():
        path = f"{PLOTS_DIR}/{name}.png"
        try:
            client.log_figure(run_id, figure, path, save_kwargs={"dpi": 120})
        except Exception as exc:  # noqa: BLE001 - a plot is a nicety; the sweep's results are already logged
            _log.warning("could not log %s on run %s: %s: %s", path, run_id, type(exc).__name__, exc)
            continue
        logged.append(path)
    return logged
