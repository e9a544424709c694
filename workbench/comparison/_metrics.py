"""What the comparison knows about metrics (pure): which way is better, cost per success, retrieval at each k."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

__all__ = [
    "COST_PER_SUCCESS",
    "SUCCESS_METRIC",
    "SUCCESS_THRESHOLD",
    "Direction",
    "cost_per_success",
    "direction",
    "higher_is_better",
    "passes",
    "retrieval_at_k",
]

Direction = Literal["higher", "lower"]

SUCCESS_METRIC = "token_f1"
SUCCESS_THRESHOLD = 0.5
COST_PER_SUCCESS = "cost_per_success_usd"

# The one place that says which metrics are better low. Everything else (scores in [0, 1]) is better high.
_LOWER_EXACT = frozenset({"false_refusal", "tokens"})
_LOWER_PREFIXES = ("latency", "cost", "judge_cost")
_LOWER_SUFFIXES = ("_tokens", "_errors", "_cost_usd", "_latency_s", "_leak", "_leaks")


def direction(metric: str) -> Direction:
    """Whether a larger value of ``metric`` is better ("higher") or worse ("lower").

    Lower is better for latency, cost, token counts, error counts, false refusals and leaks; higher for the rest.
    """
    name = metric.lower()
    lower = name in _LOWER_EXACT or name.startswith(_LOWER_PREFIXES) or name.endswith(_LOWER_SUFFIXES)
    return "lower" if lower else "higher"


def higher_is_better(metric: str) -> bool:
    """``direction(metric) == "higher"``."""
    return direction(metric) == "higher"


def passes(value: float, metric: str, threshold: float) -> bool:
    """Whether one question's ``value`` clears ``threshold`` in the metric's good direction (>= or <=)."""
    return value >= threshold if higher_is_better(metric) else value <= threshold


def cost_per_success(
    costs: Sequence[float | None],
    quality: Sequence[float | None],
    *,
    threshold: float = SUCCESS_THRESHOLD,
) -> float | None:
    """Total cost divided by the number of answers whose quality reaches ``threshold``.

    Args:
        costs: cost of each answered question (USD); one None makes the cost unknown.
        quality: the success metric of the same questions (e.g. token_f1); None (not scored) is not a success.
        threshold: the quality an answer needs to count as a success.

    Returns:
        The cost per successful answer; ``math.inf`` when something was spent and nothing succeeded; None when the
        cost is unknown, there are no questions, or nothing was spent and nothing succeeded (undefined).
    """
    if len(costs) != len(quality):
        raise ValueError(f"costs and quality need equal lengths, got {len(costs)} and {len(quality)}")
    if not costs or any(c is None or math.isnan(c) for c in costs):
        return None
    total = float(sum(c for c in costs if c is not None))
    successes = sum(1 for q in quality if q is not None and not math.isnan(q) and q >= threshold)
    if successes == 0:
        return math.inf if total > 0 else None
    return total / successes


def retrieval_at_k(
    retrieved: Sequence[Sequence[str]],
    relevant: Sequence[Sequence[str]],
    max_k: int | None = None,
) -> list[tuple[int, float, float, int]]:
    """Hit rate and recall at every cut-off k = 1..K of each question's ranked retrieved ids.

    Questions without relevant ids are left out (as the hit_at_k / recall_at_k scorers do). At k = K (the number of
    chunks retrieved) the values equal those scorers' means.

    Args:
        retrieved: per question, the source ids of the retrieved chunks in rank order (repeats kept).
        relevant: per question, the labelled source ids.
        max_k: the largest cut-off (default: the longest ranking).

    Returns:
        ``(k, hit_at_k, recall_at_k, questions)`` rows, k ascending.
    """
    if len(retrieved) != len(relevant):
        raise ValueError(f"retrieved and relevant need equal lengths, got {len(retrieved)} and {len(relevant)}")
    pairs = [(list(r), set(g)) for r, g in zip(retrieved, relevant) if g]
    top = max_k if max_k is not None else max((len(r) for r, _ in pairs), default=0)
    rows = []
    for k in range(1, top + 1):
        hits = [1.0 if gold.intersection(ranked[:k]) else 0.0 for ranked, gold in pairs]
        recalls = [len(gold.intersection(ranked[:k])) / len(gold) for ranked, gold in pairs]
        n = len(pairs)
        rows.append((k, sum(hits) / n if n else math.nan, sum(recalls) / n if n else math.nan, n))
    return rows
