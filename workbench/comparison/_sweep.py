"""The comparison every sweep carries: the runner asks for it here and hands it to the tracker, which logs
``comparison.json`` and the plots under ``plots/`` on the parent run."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from workbench.comparison._compare import ComparisonReport, compare
from workbench.results import VariantResult

__all__ = ["sweep_comparison"]

_log = logging.getLogger(__name__)


def sweep_comparison(results: Sequence[VariantResult], *, seed: int = 0) -> ComparisonReport | None:
    """Compare a sweep's variants against ``wb.compare``'s default baseline, the first one that answered every question
    it asked and that racing did not stop early (variants without per-question results are listed as skipped).

    Args:
        results: the sweep's variant results.
        seed: the bootstrap seed (the sweep's seed, so a recomputed comparison is identical).

    Returns:
        The report; None when no variant has per-question results, or when the comparison cannot be computed (a
        warning says why: it is derived data and never fails the sweep).
    """
    if not any(r.records for r in results):
        return None
    try:
        return compare(list(results), seed=seed)
    except Exception as exc:  # noqa: BLE001 - derived data: the variants are logged either way
        _log.warning("could not compare the sweep's variants: %s: %s", type(exc).__name__, exc)
        return None
