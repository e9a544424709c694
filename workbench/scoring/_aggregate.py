"""Aggregate per-question scores and measurements into a variant's metrics (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from workbench.scoring._base import Score


def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (``p`` in [0, 100]); NaN for no values."""
    xs = sorted(values)
    if not xs:
        return math.nan
    pos = (len(xs) - 1) * p / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean_scores(rows: Iterable[Mapping[str, Score]]) -> dict[str, float]:
    """Mean of each scorer over the rows where it applied; ``<name>_errors`` counts failed scorer calls."""
    values: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    for row in rows:
        for name, score in row.items():
            values.setdefault(name, [])
            errors.setdefault(name, 0)
            if score.error is not None:
                errors[name] += 1
            elif score.value is not None:
                values[name].append(score.value)
    out: dict[str, float] = {}
    for name, xs in values.items():
        if xs:
            out[name] = sum(xs) / len(xs)
        if errors[name]:
            out[f"{name}_errors"] = float(errors[name])
    return out
