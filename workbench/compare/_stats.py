"""Bootstrap statistics over questions (pure, deterministic given a seed).

A comparison of two variants is paired: both answered the same questions, so we resample questions and look at
the mean per-question difference. An interval that excludes zero is a detectable difference; one that straddles
zero is not, however different the two means look.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Interval", "Verdict", "bootstrap_mean", "paired_bootstrap", "verdict"]

Verdict = Literal["better", "worse", "no detectable difference", "not enough data"]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval; ``n`` is the number of questions it rests on."""

    estimate: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        return self.n > 1 and (self.low > 0 or self.high < 0)

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _percentiles(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1 - confidence) / 2
    return float(np.quantile(samples, alpha)), float(np.quantile(samples, 1 - alpha))


def bootstrap_mean(values: Sequence[float], *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0) -> Interval:
    """Mean with a percentile-bootstrap interval. With fewer than 2 values the interval is the point itself."""
    xs = np.asarray([v for v in values if v is not None and not np.isnan(v)], dtype=float)
    if len(xs) == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, confidence)
    mean = float(xs.mean())
    if len(xs) < 2:
        return Interval(mean, mean, mean, len(xs), confidence)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(xs), size=(n_resamples, len(xs)))
    low, high = _percentiles(xs[idx].mean(axis=1), confidence)
    return Interval(mean, low, high, len(xs), confidence)


def paired_bootstrap(
    baseline: Sequence[float | None],
    candidate: Sequence[float | None],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Interval of mean(candidate - baseline) over questions both scored, resampling questions in pairs.

    Args:
        baseline, candidate: per-question values aligned by question; None/NaN pairs are dropped.
    """
    if len(baseline) != len(candidate):
        raise ValueError(f"paired values need equal lengths, got {len(baseline)} and {len(candidate)}")
    pairs = [
        (float(a), float(b))
        for a, b in zip(baseline, candidate)
        if a is not None and b is not None and not np.isnan(a) and not np.isnan(b)
    ]
    if not pairs:
        return Interval(float("nan"), float("nan"), float("nan"), 0, confidence)
    diffs = np.asarray([b - a for a, b in pairs])
    return bootstrap_mean(diffs.tolist(), n_resamples=n_resamples, confidence=confidence, seed=seed)


def verdict(diff: Interval, *, higher_is_better: bool = True, margin: float = 0.0) -> Verdict:
    """Read a paired difference interval: better / worse / no detectable difference.

    ``margin`` (>= 0) is a non-inferiority/superiority margin: the interval must clear it to count.
    """
    if diff.n < 2 or np.isnan(diff.low):
        return "not enough data"
    low, high = (diff.low, diff.high) if higher_is_better else (-diff.high, -diff.low)
    if low > margin:
        return "better"
    if high < -margin:
        return "worse"
    return "no detectable difference"
