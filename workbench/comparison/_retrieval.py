"""Retrieval at each k (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from workbench.datasets import labels_covering

__all__ = ["retrieval_at_k"]


def _found_at(retrieved: Sequence[str], relevant: Sequence[str]) -> list[float]:
    """The rank (from 1) at which each labelled source is first retrieved, infinity for one never retrieved (pure): a
    document by any chunk of it, pages of one by a chunk on one of them (see ``labels_covering``)."""
    first: dict[str, float] = dict.fromkeys(relevant, math.inf)
    for rank, covered in enumerate(labels_covering(retrieved, first), start=1):
        for label in covered:
            first[label] = min(first[label], rank)
    return list(first.values())


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
    found_at = [_found_at(r, g) for r, g in zip(retrieved, relevant) if g]
    top = max_k if max_k is not None else max((len(r) for r, g in zip(retrieved, relevant) if g), default=0)
    rows = []
    for k in range(1, top + 1):
        hits = [1.0 if any(rank <= k for rank in ranks) else 0.0 for ranks in found_at]
        recalls = [sum(1 for rank in ranks if rank <= k) / len(ranks) for ranks in found_at]
        n = len(found_at)
        rows.append((k, sum(hits) / n if n else math.nan, sum(recalls) / n if n else math.nan, n))
    return rows
