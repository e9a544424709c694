"""Racing decisions (pure): which variants stop because they are already clearly worse than the leader.

After each batch of questions the runner hands over every variant's per-question scores on the questions answered so
far, aligned by question. The leader is the variant with the best mean among those with enough scored answers to be
compared with (a variant that failed most of its questions would otherwise lead on the few it answered, and no other
variant could then be paired with it on enough questions to stop); a variant stops when the paired bootstrap
interval of its scores minus the leader's (``paired_bootstrap``, the comparison's own) lies entirely on the worse
side of zero, or, given a tolerance (an indifference zone), when it rules out that the variant beats the leader by
the tolerance or more. Each look uses the interval at the stated confidence, with no correction for looking after
every batch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from workbench.comparison._stats import check_options, fewest_questions, paired_bootstraps
from workbench.metrics import direction
from workbench.results import EarlyStop

__all__ = ["early_stops", "race_leader"]


def _mean(values: Sequence[float | None]) -> float:
    xs = [float(v) for v in values if v is not None and not math.isnan(v)]
    return sum(xs) / len(xs) if xs else math.nan


def _scored(values: Sequence[float | None]) -> int:
    return sum(1 for v in values if v is not None and not math.isnan(v))


def race_leader(scores: Mapping[str, Sequence[float | None]], metric: str, *, min_scored: int = 1) -> str | None:
    """The variant with the best mean of ``metric`` (in its good direction) among those with at least ``min_scored``
    scored questions; the first one listed wins a tie; None when no variant has that many."""
    sign = 1.0 if direction(metric) == "higher" else -1.0
    best: tuple[float, str] | None = None
    for key, values in scores.items():
        mean = _mean(values)
        if _scored(values) >= min_scored and not math.isnan(mean) and (best is None or sign * mean > best[0]):
            best = (sign * mean, key)
    return best[1] if best is not None else None


def early_stops(
    scores: Mapping[str, Sequence[float | None]],
    *,
    metric: str,
    confidence: float = 0.95,
    min_questions: int = 8,
    tolerance: float = 0.0,
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict[str, EarlyStop]:
    """The variants that stop now, each with the interval that stops it.

    Args:
        scores: per variant, its ``metric`` on each question answered so far, aligned by question (None: not scored,
            e.g. an errored answer; such questions are left out of that variant's pairs).
        metric: the score's name (its direction says which side of zero is worse).
        confidence: the coverage of the paired interval.
        min_questions: the scored pairs a variant needs against the leader before it can stop.
        tolerance: the smallest difference that matters (in the metric's units). 0: a variant stops only when it is
            worse than the leader; t > 0: it also stops when the interval rules out that it is better than the
            leader by t or more, so the variant racing keeps is within t of the best with the interval's confidence.
        n_resamples, seed: of the bootstrap.

    Returns:
        Variant -> ``EarlyStop`` (``leader`` holds the leader's key), for every variant whose interval of its score
        minus the leader's lies entirely below ``tolerance`` (above ``-tolerance`` for a lower-is-better metric). The
        leader (the best mean among the variants with enough scored answers to stop one: ``min_questions``, and the
        fewest an interval at ``confidence`` needs) never stops; with no tolerance, nor does a variant tied with it.

    Raises:
        ValueError: the variants were not scored on the same number of questions, ``tolerance`` is negative, or
            ``confidence`` is not between 0 and 1.
    """
    if not tolerance >= 0:
        raise ValueError(f"racing tolerance must be >= 0, got {tolerance}")
    check_options(confidence=confidence, n_resamples=n_resamples, seed=seed)
    lengths = {len(v) for v in scores.values()}
    if len(lengths) > 1:
        raise ValueError(f"racing compares variants on the same questions, got {sorted(lengths)} questions")
    # a leader with fewer scored answers than a stop needs could be paired with no variant on enough questions to stop it
    leader = race_leader(scores, metric, min_scored=max(min_questions, fewest_questions(confidence)))
    if leader is None:
        return {}
    higher = direction(metric) == "higher"
    others = [key for key in scores if key != leader]
    # every variant against the leader at once: one resampling of the questions answered so far for all of them
    diffs = paired_bootstraps([(scores[leader], scores[key]) for key in others], n_resamples=n_resamples, confidence=confidence, seed=seed)
    out = {}
    for key, diff in zip(others, diffs):
        if diff.n < min_questions or not diff.conclusive:
            continue
        if (diff.high < tolerance) if higher else (diff.low > -tolerance):
            out[key] = EarlyStop(metric, len(scores[key]), leader, diff.estimate, diff.low, diff.high, confidence, tolerance)
    return out
