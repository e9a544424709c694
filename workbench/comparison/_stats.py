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
    from scipy import special  # what scipy.stats.norm.cdf and t.ppf call, without importing scipy.stats (a second)

    alpha = (1 - confidence) / 2
    if n < 2:
        return alpha
    return float(special.ndtr(-math.sqrt(n / (n - 1)) * special.stdtrit(n - 1, 1 - alpha)))


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
    bounds read at ``tail``, over the values in ascending order: see ``bootstrap_means``).

    None/NaN values are dropped. With fewer than 2 values the interval is the point itself (scipy needs two).
    """
    return bootstrap_means([values], n_resamples=n_resamples, confidence=confidence, seed=seed)[0]


def bootstrap_means(
    samples: Sequence[Sequence[float | None]], *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> list[Interval]:
    """``bootstrap_mean`` of each of ``samples``, with the same seed: identical intervals, computed together.

    ``scipy.stats.bootstrap(..., method="percentile")`` computed the same way without its per-call overhead (a sweep
    compares every variant on every metric: thousands of intervals): the same resampled question indices (drawn once
    per seed, question count and resample count), the mean of each resample, and scipy's quantiles of those means
    (``_quantiles``, to the last bit), taken in one call for every sample. Each sample's values are resampled in
    ascending order, so an interval depends on the values alone, not on the order of the questions (a dataset file
    reordered gave the same means and other intervals); samples with as many values are resampled together
    (``_resample_sums``).
    """
    import numpy as np

    check_options(confidence=confidence, n_resamples=n_resamples, seed=seed)
    arrays = [np.sort(_present(values)) for values in samples]
    points = [mean(xs.tolist()) for xs in arrays]  # correctly rounded: equal values average to themselves
    out = [Interval(float("nan"), float("nan"), float("nan"), 0, confidence) if len(xs) == 0
           else Interval(point, point, point, len(xs), confidence) for xs, point in zip(arrays, points)]
    resampled = [i for i, xs in enumerate(arrays) if len(xs) >= 2]  # scipy needs two
    if not resampled:
        return out
    means = np.empty((len(resampled), n_resamples))
    by_length: dict[int, list[int]] = {}
    for row, i in enumerate(resampled):
        by_length.setdefault(len(arrays[i]), []).append(row)
    for n, rows in by_length.items():  # samples with as many values draw the same resamples: counted once for all
        sums = _resample_sums(np.stack([arrays[resampled[row]] for row in rows], axis=1), _resample_counts(seed, n, n_resamples))
        means[rows] = sums.T / n
    alphas = [(1 - (1 - 2 * tail(len(arrays[i]), confidence))) / 2 for i in resampled]  # as scipy reads its level
    bounds = _quantiles(means, np.asarray([[a, 1 - a] for a in alphas]))
    for i, (low, high) in zip(resampled, bounds):
        # the point is the correctly rounded mean, the resamples' means are summed in floating point: three values of 0.7
        # have the mean 0.7 and every resample 0.6999999999999998, an interval beside its own point
        point = out[i].estimate
        out[i] = Interval(point, min(float(low), point), max(float(high), point), out[i].n, confidence)
    return out


def _quantiles(samples: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per row of ``samples``, its quantiles at that row of ``p`` (probabilities in [0, 1]): what
    ``scipy.stats.quantile(samples, p, axis=-1)`` gives (its default ``linear`` method, Hyndman and Fan's type 7), to
    the last bit, computed as scipy computes it; a row with a NaN gives NaN. Importing scipy.stats took a second of
    every fresh process's sweep, most of what its comparison cost."""
    import numpy as np

    y = np.sort(samples, axis=-1)
    n = float(y.shape[-1])
    jg = p * n + (1 - p)
    jp1 = jg // 1
    j = jp1 - 1
    g = jg % 1
    g[j < 0] = 0
    j, jp1 = np.clip(j, 0.0, n - 1), np.clip(jp1, 0.0, n - 1)
    out = (1 - g) * np.take_along_axis(y, j.astype(np.int64), axis=-1) + g * np.take_along_axis(y, jp1.astype(np.int64), axis=-1)
    out[np.isnan(y).any(axis=-1)] = np.nan
    return out  # type: ignore[no-any-return]


def _present(values: Sequence[float | None]) -> np.ndarray:
    """``values`` as floats without the missing ones (None or NaN)."""
    import numpy as np

    xs = np.asarray(values if len(values) else [], dtype=float).reshape(-1)
    return xs[~np.isnan(xs)]


# the drawn resamples kept for reuse, in bytes: 2,000 resamples of 5,000 questions are 20 MB of counts (80 MB as indices),
# and sixteen kept by count (racing looks at a growing number of questions, a comparison's metrics can each have their
# own) held 1.3 GB as indices
_KEPT_RESAMPLE_BYTES = 160 * 2**20
_RESAMPLES_AT_ONCE = 100  # resamples drawn (and multiplied) at once: 4 MB over 5,000 questions, not 80 MB for 2,000


@cachetools.cached(cachetools.LRUCache(_KEPT_RESAMPLE_BYTES, getsizeof=lambda counts: counts.nbytes), lock=threading.Lock())
def _resample_counts(seed: int, n: int, n_resamples: int) -> np.ndarray:
    """How often each of ``n_resamples`` resamples (rows) drew each of ``n`` questions (columns), for the question
    indices ``scipy.stats.bootstrap`` draws from ``numpy.random.default_rng(seed)`` (drawn a block of resamples at a
    time, the same numbers in the same order; read-only: shared by every call with the same arguments; the most recent
    ones are kept, up to ``_KEPT_RESAMPLE_BYTES``). A count is at most ``n``: 16 bits below 65,536 questions, so 2,000
    resamples of 20,000 questions (80 MB) are kept too."""
    import numpy as np

    rng = np.random.default_rng(seed)
    counts = np.empty((n_resamples, n), dtype=np.uint16 if n < 2**16 else np.uint32)
    for first in range(0, n_resamples, _RESAMPLES_AT_ONCE):
        size = min(_RESAMPLES_AT_ONCE, n_resamples - first)
        idx = rng.integers(0, n, (size, n)) + np.arange(size)[:, None] * n
        counts[first : first + size] = np.bincount(idx.ravel(), minlength=size * n).reshape(size, n)
    counts.flags.writeable = False
    return counts


def _resample_sums(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per resample (a row of ``counts``, from ``_resample_counts``), the sum of the values it drew: what
    ``values[idx].sum(axis=-1)`` gives for the drawn indices, for one column of values, or one such sum per column
    for several (shape (resamples,) or (resamples, columns)), rounded a little differently.

    A matrix product for every column at once, a block of resamples at a time: gathering each column's drawn values
    took 26 ms per interval over 5,000 questions, 29 of the 55 s of a comparison of 40 variants on 12 metrics, and
    racing did so for every variant after every batch."""
    import numpy as np

    values = np.ascontiguousarray(values, dtype=float)
    return np.concatenate([counts[i : i + _RESAMPLES_AT_ONCE].astype(float) @ values for i in range(0, len(counts), _RESAMPLES_AT_ONCE)])


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
    so this is ``bootstrap_mean`` of ``candidate - baseline`` (``scipy.stats.bootstrap``, percentile method, over the
    differences in ascending order: the same pairs in any order give the same interval).

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


def _differences(baseline: Sequence[float | None], candidate: Sequence[float | None]) -> np.ndarray:
    """candidate - baseline per question, for the questions both scored (neither None nor NaN); 0 for two values that
    agree to 9 significant digits (``_SAME_VALUE_RELATIVE``, as ``math.isclose`` reads it)."""
    import numpy as np

    a = np.asarray(baseline if len(baseline) else [], dtype=float).reshape(-1)
    b = np.asarray(candidate if len(candidate) else [], dtype=float).reshape(-1)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    with np.errstate(invalid="ignore"):  # inf - inf: equal values, made 0 below
        diff = b - a
        same = (a == b) | (np.abs(diff) <= _SAME_VALUE_RELATIVE * np.maximum(np.abs(a), np.abs(b)))
    return np.where(same, 0.0, diff)


def _ratio_rows(columns: Sequence[Sequence[float | None]], what: str) -> np.ndarray:
    """The questions with every one of ``columns`` present (neither None nor NaN), one row each, in ascending order of
    their values (first column first), so that a ratio's interval does not depend on the order of the questions."""
    import numpy as np

    if len({len(c) for c in columns}) != 1:
        raise ValueError(f"{what} need equal lengths, got {[len(c) for c in columns]}")
    rows = np.column_stack([np.asarray(c if len(c) else [], dtype=float).reshape(-1) for c in columns]).reshape(-1, len(columns))
    rows = rows[~np.isnan(rows).any(axis=1)]
    return rows[np.lexsort(rows.T[::-1])]


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
    question indices from ``numpy.random.default_rng(seed)``), over the questions in ascending order of their values.
    """
    check_options(confidence=confidence, n_resamples=n_resamples, seed=seed)
    rows = _ratio_rows([numerators, denominators], "ratio values")
    n = len(rows)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, confidence)
    point = float(_ratio(rows[:, 0], rows[:, 1]))
    if n < 2:
        return Interval(point, point, point, n, confidence)
    sums = _resample_sums(rows, _resample_counts(seed, n, n_resamples))
    return _ratio_interval(point, _divided(sums[:, 0], sums[:, 1]), n, confidence)


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
    rows = _ratio_rows([*baseline, *candidate], "paired ratio values")
    # a candidate value that agrees with the baseline's to 9 significant digits is the baseline's (``_differences``)
    rows[:, 2:] = np.where(np.isclose(rows[:, 2:], rows[:, :2], rtol=_SAME_VALUE_RELATIVE, atol=0.0), rows[:, :2], rows[:, 2:])
    rows = rows[np.lexsort(rows.T[::-1])]
    n = len(rows)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, confidence)
    with np.errstate(invalid="ignore"):
        point = float(_ratio(rows[:, 2], rows[:, 3]) - _ratio(rows[:, 0], rows[:, 1]))
    if n < 2:
        return Interval(point, point, point, n, confidence)
    b_cost, b_ok, c_cost, c_ok = _resample_sums(rows, _resample_counts(seed, n, n_resamples)).T
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
