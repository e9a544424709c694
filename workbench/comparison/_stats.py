"""Bootstrap statistics over questions (pure, deterministic given a seed).

A comparison of two variants is paired: both answered the same questions, so we resample questions and look at
the mean per-question difference. An interval that excludes zero is a detectable difference; one that straddles
zero is not, however different the two means look.

The intervals are expanded percentile intervals (Hesterberg, "What Teachers Should Know About the Bootstrap", 2015):
the plain percentile interval is too narrow on few questions (a resample's spread is that of n values divided by n, not
n - 1, and the t distribution's tails are heavier than the normal's), so its bounds are read further out, at ``tail``.
Measured on paired differences with a known mean, the plain 95% interval called a difference where there was none on
24% of 4-question comparisons, 11% of 8-question ones and 7% of 20-question ones; the expanded one on 3 to 8% from 6
to 32 questions.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from functools import lru_cache
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import cachetools

from workbench.comparison._render import interval_text
from workbench.metrics import mean

if TYPE_CHECKING:  # numpy is imported where it is used, so importing workbench stays light
    import numpy as np

__all__ = [
    "Interval", "Verdict", "bootstrap_mean", "bootstrap_means", "bootstrap_ratio", "check_options", "fewest_questions", "paired_bootstrap", "paired_bootstrap_ratio", "paired_bootstraps", "tail",
    "verdict",
]

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
    def conclusive(self) -> bool:
        """Whether the interval can support a verdict: it has bounds, and enough questions that it is narrower than the
        range of the values. With n questions, a resample that draws one question n times has probability n**-n; when
        that reaches the tail its bounds are read at (``tail``: 2, 3 or 4 questions at 95%) the percentile interval is
        just [min, max] of the values, so every question improving by any amount would read as a real difference."""
        return self.n >= 2 and not math.isnan(self.low) and self.n ** -self.n < tail(self.n, self.confidence)

    @property
    def excludes_zero(self) -> bool:
        return self.conclusive and (self.low > 0 or self.high < 0)

    def __str__(self) -> str:
        return interval_text(self.estimate, self.low, self.high)


@lru_cache(maxsize=256)
def tail(n: int, confidence: float) -> float:
    """The probability below the low bound (and above the high one) of an interval over ``n`` questions: the plain
    percentile interval's ``(1 - confidence) / 2``, expanded for few questions as ``Phi(-sqrt(n / (n - 1)) * t)``, with
    ``t`` the Student t quantile of ``confidence`` at n - 1 degrees of freedom (0.025 becomes 0.00012 for 4 questions,
    0.0057 for 8, 0.016 for 20 and 0.021 for 50)."""
    from scipy import stats

    alpha = (1 - confidence) / 2
    if n < 2:
        return alpha
    return float(stats.norm.cdf(-math.sqrt(n / (n - 1)) * stats.t.ppf(1 - alpha, n - 1)))


def fewest_questions(confidence: float) -> int:
    """The fewest questions whose interval at ``confidence`` can support a verdict or stop a racing variant
    (``Interval.conclusive``): 5 at 95%, 7 at 99%. Fewer, and the interval is only the range of the values."""
    n = 2
    while n ** -n >= tail(n, confidence):
        n += 1
    return n


def check_options(*, confidence: float, n_resamples: int, seed: int = 0) -> None:
    """Refuse a coverage outside (0, 1), fewer than one resample or a seed numpy cannot take.

    Raises:
        ValueError: one line saying which and what to give (95 for 95% gave NaN intervals, 0 or a negative coverage
            inverted ones, 1 the resamples' whole range; a negative seed numpy's own error).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence} — e.g. 0.95 for 95% intervals")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")


def bootstrap_mean(values: Sequence[float], *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0) -> Interval:
    """Mean with an expanded percentile-bootstrap interval (``scipy.stats.bootstrap``, ``method="percentile"``, its
    bounds read at ``tail``).

    None/NaN values are dropped. With fewer than 2 values the interval is the point itself (scipy needs two).
    """
    return bootstrap_means([values], n_resamples=n_resamples, confidence=confidence, seed=seed)[0]


def bootstrap_means(
    samples: Sequence[Sequence[float | None]], *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> list[Interval]:
    """``bootstrap_mean`` of each of ``samples``, with the same seed: identical intervals, computed together.

    ``scipy.stats.bootstrap(..., method="percentile")`` computed the same way without its per-call overhead (a sweep
    compares every variant on every metric: thousands of intervals): the same resampled question indices (drawn once
    per seed, question count and resample count), the mean of each resample, and scipy's own quantiles of those means,
    taken in one call for every sample.
    """
    import numpy as np
    from scipy import stats

    check_options(confidence=confidence, n_resamples=n_resamples, seed=seed)
    arrays = [np.asarray([v for v in values if v is not None and not np.isnan(v)], dtype=float) for values in samples]
    points = [mean(xs.tolist()) for xs in arrays]  # correctly rounded: equal values average to themselves
    out = [Interval(float("nan"), float("nan"), float("nan"), 0, confidence) if len(xs) == 0
           else Interval(point, point, point, len(xs), confidence) for xs, point in zip(arrays, points)]
    resampled = [i for i, xs in enumerate(arrays) if len(xs) >= 2]  # scipy needs two
    if not resampled:
        return out
    means = np.stack([_resample_sums(arrays[i], _resample_indices(seed, len(arrays[i]), n_resamples)) / len(arrays[i]) for i in resampled])
    alphas = [(1 - (1 - 2 * tail(len(arrays[i]), confidence))) / 2 for i in resampled]  # as scipy reads its level
    bounds = stats.quantile(means, np.asarray([[a, 1 - a] for a in alphas]), axis=-1)
    for i, (low, high) in zip(resampled, bounds):
        # the point is the correctly rounded mean, the resamples' means are summed in floating point: three values of 0.7
        # have the mean 0.7 and every resample 0.6999999999999998, an interval beside its own point
        point = out[i].estimate
        out[i] = Interval(point, min(float(low), point), max(float(high), point), out[i].n, confidence)
    return out


# the drawn indices kept for reuse, in bytes: 2,000 resamples of 5,000 questions are 80 MB, and sixteen kept by count
# (racing looks at a growing number of questions, a comparison's metrics can each have their own) held 1.3 GB
_KEPT_INDEX_BYTES = 160 * 2**20


@cachetools.cached(cachetools.LRUCache(_KEPT_INDEX_BYTES, getsizeof=lambda idx: idx.nbytes), lock=threading.Lock())
def _resample_indices(seed: int, n: int, n_resamples: int) -> np.ndarray:
    """The question indices of ``n_resamples`` resamples of ``n`` questions, as ``scipy.stats.bootstrap`` draws them
    from ``numpy.random.default_rng(seed)`` (read-only: shared by every call with the same arguments; the most recent
    ones are kept, up to ``_KEPT_INDEX_BYTES``)."""
    import numpy as np

    idx = np.random.default_rng(seed).integers(0, n, (n_resamples, n))
    idx.flags.writeable = False
    return idx


_RESAMPLES_AT_ONCE = 100  # resamples whose drawn values are gathered at once: 4 MB over 5,000 questions, not 80 MB for 2,000


def _resample_sums(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Per resample (a row of ``idx``), the sum of the values it drew: ``values[idx].sum(axis=-1)``, the same numbers,
    gathered a block of resamples at a time. All at once, 2,000 resamples of 5,000 questions are an 80 MB array for
    each column summed (320 MB for a paired ratio's four), written and read back for every interval."""
    import numpy as np

    values = np.ascontiguousarray(values)
    return np.concatenate([values[idx[i : i + _RESAMPLES_AT_ONCE]].sum(axis=-1) for i in range(0, len(idx), _RESAMPLES_AT_ONCE)])


def paired_bootstrap(
    baseline: Sequence[float | None],
    candidate: Sequence[float | None],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Interval of mean(candidate - baseline) over questions both scored, resampling questions in pairs.

    Resampling pairs of questions and taking the mean difference is the bootstrap of the per-question differences,
    so this is ``bootstrap_mean`` of ``candidate - baseline`` (``scipy.stats.bootstrap``, percentile method).

    Args:
        baseline, candidate: per-question values aligned by question; None/NaN pairs are dropped.
    """
    return paired_bootstraps([(baseline, candidate)], n_resamples=n_resamples, confidence=confidence, seed=seed)[0]


def paired_bootstraps(
    pairs: Sequence[tuple[Sequence[float | None], Sequence[float | None]]],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[Interval]:
    """``paired_bootstrap`` of each (baseline, candidate) pair, with the same seed: identical intervals, computed together."""
    check_options(confidence=confidence, n_resamples=n_resamples, seed=seed)
    for baseline, candidate in pairs:
        if len(baseline) != len(candidate):
            raise ValueError(f"paired values need equal lengths, got {len(baseline)} and {len(candidate)}")
    return bootstrap_means([_differences(b, c) for b, c in pairs], n_resamples=n_resamples, confidence=confidence, seed=seed)


# Two values this close are one value: MLflow keeps a run's per-question table to 10 significant digits, so a value read
# back from the store and the same value in memory (a sweep's result against a baseline run from the store) differ in
# their last digits. A difference of those digits on every question read as "better" or "worse" in 7% of comparisons
# of the very same answers. No score, latency or cost means anything at the tenth significant digit.
_SAME_VALUE_RELATIVE = 1e-9


def _differences(baseline: Sequence[float | None], candidate: Sequence[float | None]) -> list[float]:
    """candidate - baseline per question, for the questions both scored (neither None nor NaN); 0 for two values that
    agree to 9 significant digits (``_SAME_VALUE_RELATIVE``)."""
    return [
        0.0 if math.isclose(float(a), float(b), rel_tol=_SAME_VALUE_RELATIVE) else float(b) - float(a)
        for a, b in zip(baseline, candidate)
        if a is not None and b is not None and not math.isnan(a) and not math.isnan(b)
    ]


def _ratio_pairs(numerators: Sequence[float | None], denominators: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    if len(numerators) != len(denominators):
        raise ValueError(f"ratio values need equal lengths, got {len(numerators)} and {len(denominators)}")
    keep = [
        (float(a), float(b))
        for a, b in zip(numerators, denominators)
        if a is not None and b is not None and not np.isnan(a) and not np.isnan(b)
    ]
    arr = np.asarray(keep, dtype=float).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Row-wise sum(num) / sum(den): infinite when only the denominator is zero, NaN when both are."""
    return _divided(num.sum(axis=-1), den.sum(axis=-1))


def _divided(num_sums: np.ndarray, den_sums: np.ndarray) -> np.ndarray:
    """num_sums / den_sums: infinite when only the denominator is zero, NaN when both are."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        return num_sums / den_sums  # type: ignore[no-any-return]


def _ratio_interval(point: float, samples: np.ndarray, n: int, confidence: float, *, undefined_widens: bool = False) -> Interval:
    """Percentile interval of the defined resamples; with ``undefined_widens`` an undefined (NaN) resample counts as
    below every value for the low bound and above every value for the high bound instead of being left out."""
    import numpy as np

    undefined = np.isnan(samples)
    if np.isnan(point) or undefined.all():
        return Interval(point, float("nan"), float("nan"), n, confidence)
    alpha = tail(n, confidence)
    kept = samples[~undefined]
    lows = np.where(undefined, -np.inf, samples) if undefined_widens else kept
    highs = np.where(undefined, np.inf, samples) if undefined_widens else kept
    # "nearest": interpolating between infinite resamples would give NaN
    low = float(np.quantile(lows, alpha, method="nearest"))
    high = float(np.quantile(highs, 1 - alpha, method="nearest"))
    return Interval(point, low, high, n, confidence)


def bootstrap_ratio(
    numerators: Sequence[float | None],
    denominators: Sequence[float | None],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Ratio of sums, sum(numerators) / sum(denominators), with an expanded percentile-bootstrap interval over questions.

    This is the shape of "cost per successful answer" (per-question cost over per-question 0/1 success). Questions
    where either value is None/NaN are dropped. When the denominators sum to zero the ratio is infinite (cost spent,
    nothing succeeded), or NaN if the numerators do too (undefined); undefined resamples are left out of the
    interval, whose bounds are resampled values (no interpolation, so infinite bounds stay meaningful).

    Resampled here rather than with ``scipy.stats.bootstrap``: scipy takes linearly interpolated quantiles of every
    resample, so one undefined (NaN) resample makes its whole interval NaN, and interpolating next to an infinite
    resample gives NaN too; neither can be switched off. The resampling itself is the same as scipy's (uniform
    question indices from ``numpy.random.default_rng(seed)``).
    """
    import numpy as np

    check_options(confidence=confidence, n_resamples=n_resamples, seed=seed)
    num, den = _ratio_pairs(numerators, denominators)
    n = len(num)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, confidence)
    point = float(_ratio(num, den))
    if n < 2:
        return Interval(point, point, point, n, confidence)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    return _ratio_interval(point, _divided(_resample_sums(num, idx), _resample_sums(den, idx)), n, confidence)


def paired_bootstrap_ratio(
    baseline: tuple[Sequence[float | None], Sequence[float | None]],
    candidate: tuple[Sequence[float | None], Sequence[float | None]],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Interval of ratio(candidate) - ratio(baseline), resampling questions in pairs (see ``bootstrap_ratio``).

    A resample where the difference is undefined (no success on either side: inf - inf) counts against every claim:
    it is below the low bound's and above the high bound's quantile, so a difference resting on one or two successes
    is not called certain.

    Args:
        baseline, candidate: (numerators, denominators), all four aligned by question; a question missing any of
            its four values is dropped.
    """
    import numpy as np

    check_options(confidence=confidence, n_resamples=n_resamples, seed=seed)
    columns = [*baseline, *candidate]
    if len({len(c) for c in columns}) != 1:
        raise ValueError(f"paired ratio values need equal lengths, got {[len(c) for c in columns]}")
    rows = np.asarray(
        [[np.nan if v is None else float(v) for v in row] for row in zip(*columns)], dtype=float
    ).reshape(-1, 4)
    rows = rows[~np.isnan(rows).any(axis=1)]
    # a candidate value that agrees with the baseline's to 9 significant digits is the baseline's (``_differences``)
    rows[:, 2:] = np.where(np.isclose(rows[:, 2:], rows[:, :2], rtol=_SAME_VALUE_RELATIVE, atol=0.0), rows[:, :2], rows[:, 2:])
    n = len(rows)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, confidence)
    with np.errstate(invalid="ignore"):
        point = float(_ratio(rows[:, 2], rows[:, 3]) - _ratio(rows[:, 0], rows[:, 1]))
    if n < 2:
        return Interval(point, point, point, n, confidence)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    b_cost, b_ok, c_cost, c_ok = (_resample_sums(rows[:, k], idx) for k in range(4))
    with np.errstate(invalid="ignore"):  # inf - inf (no success on either side) is NaN: an undefined resample
        samples = _divided(c_cost, c_ok) - _divided(b_cost, b_ok)
    # An undefined resample says nothing about which side is cheaper: leaving it out would keep only the resamples
    # where the baseline had a success, and one success against none would read as certainly worse.
    return _ratio_interval(point, samples, n, confidence, undefined_widens=True)


def verdict(diff: Interval, *, higher_is_better: bool = True, margin: float = 0.0) -> Verdict:
    """Read a paired difference interval: better / worse / no detectable difference.

    ``margin`` (>= 0) is a non-inferiority/superiority margin: the interval must clear it to count. An interval that is
    not ``conclusive`` (too few questions: 4 or fewer at 95%) is "not enough data".
    """
    if not diff.conclusive:
        return "not enough data"
    low, high = (diff.low, diff.high) if higher_is_better else (-diff.high, -diff.low)
    if low > margin:
        return "better"
    if high < -margin:
        return "worse"
    return "no detectable difference"
