"""The leaderboard of any variant results: one row per variant, its axes, status and scores, ranked best first with
the variants scored on fewer questions after the others."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError
from workbench.metrics import LEADERBOARD_METRICS, direction, scorer_entries
from workbench.results._rows import redacted_error
from workbench.results._variant import VariantResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RANKING_METRICS", "leaderboard_frame", "ranking_metric"]


_EMPTY_LEADERBOARD_COLUMNS = ("variant", "variant_id", "prompt", "model", "chunker", "retrieval", "status", "questions", "question_errors",
                              "chunks", "mean_chunk_chars", *LEADERBOARD_METRICS, "run_id", "reused_from", "stopped_early", "error")


def _other_scores(variants: Sequence[VariantResult]) -> tuple[str, ...]:
    """The scores some variant has that are no column of ``LEADERBOARD_METRICS`` (pure apart from reading the scorer
    catalogue): a scorer of yours (``@wb.scorer``), bleu, chrf, pii_leak..., in the catalogue's order. They were left
    out of the leaderboard, so a sweep's own scorer was never shown and sorting by it said no variant had it. After each
    scorer, the questions it raised on (``<scorer>_errors``, any scorer's): one that raised on every question has no
    score, and nothing on the leaderboard said it had been run at all."""
    held = {m for v in variants for m in v.metrics}
    return tuple(c for n in scorer_entries() for c in (n, f"{n}_errors")
                 if c in held and c not in LEADERBOARD_METRICS)


def _leaderboard_columns(extra: Sequence[str]) -> tuple[str, ...]:
    """The leaderboard's columns in order (pure): ``extra`` scores after the other scores, before latency."""
    at = _EMPTY_LEADERBOARD_COLUMNS.index("latency_p50_s")
    return (*_EMPTY_LEADERBOARD_COLUMNS[:at], *extra, *_EMPTY_LEADERBOARD_COLUMNS[at:])


# what a leaderboard ranks by when not told, the first of them its variants have
RANKING_METRICS = ("token_f1", "mrr", "hit_at_k")


def ranking_metric(columns: Iterable[str]) -> str | None:
    """The metric a leaderboard with these columns is ranked by when not told (``RANKING_METRICS``), if any (pure)."""
    present = set(columns)
    return next((m for m in RANKING_METRICS if m in present), None)


def leaderboard_frame(variants: Sequence[VariantResult], sort_by: str | None = None, ascending: bool | None = None) -> pd.DataFrame:
    """The leaderboard of any variant results (a finished sweep, or the variants done so far while one runs).

    One row per variant: axes (prompt and model are None for a retrieval-only variant), status, question count,
    chunk count and mean chunk length, the ``LEADERBOARD_METRICS`` it has and every other scorer's score (yours too) and any scorer's question errors (``<scorer>_errors``), run id, the run it reused, why a racing
    sweep stopped it early (``stopped_early``, None for a variant that answered every question) and error; sorted by ``sort_by``
    (default token_f1, else mrr, else hit_at_k), best first in the metric's direction unless ``ascending`` is given (a
    lower-is-better metric such as ``latency_p50_s`` or ``cost_usd`` ascending), missing values last, variants that did
    not finish (FAILED, or STOPPED by the user or their limits: scored on the questions they reached, if any), stopped
    early or with question errors (``question_errors``: their means leave those questions out) after the others.
    """
    import pandas as pd

    extra = _other_scores(variants)
    rows = []
    for v in variants:
        row: dict[str, Any] = {
            "variant": v.variant.name,
            "variant_id": v.variant.id,
            "prompt": v.variant.prompt.name if v.variant.prompt else None,
            "model": v.variant.model.id if v.variant.model else None,
            "chunker": v.variant.chunker.label,
            "retrieval": v.variant.retrieval.label,
            "status": v.status,
            "questions": len(v.records),
            "question_errors": v.question_errors,
            "chunks": v.chunk_stats.count,
            "mean_chunk_chars": round(v.chunk_stats.mean_chars, 1),
        }
        row.update({m: v.metrics.get(m) for m in (*LEADERBOARD_METRICS, *extra) if m in v.metrics})
        row["run_id"] = v.run_id
        row["reused_from"] = v.reused_from
        row["stopped_early"] = v.stopped_early.label if v.stopped_early is not None else None
        row["error"] = redacted_error(v.outcome.error)
        rows.append(row)
    # no variant (a sweep stopped before its first finished): the columns still exist, so selecting them finds none.
    # The columns in one order whichever variant comes first: a failed first variant has no scores, and pandas would
    # put the metrics only its successors have after run_id and error
    columns = [c for c in _leaderboard_columns(extra) if any(c in row for row in rows)] if rows else list(_EMPTY_LEADERBOARD_COLUMNS)
    frame = pd.DataFrame(rows, columns=columns)
    if sort_by is not None and sort_by not in frame.columns and len(frame):
        raise WorkbenchError(f"cannot sort the leaderboard by '{sort_by}': no variant has it"
                             f"{' (every variant failed)' if all(v.status == 'FAILED' for v in variants) else ''} — columns: "
                             f"{', '.join(frame.columns)}")
    key = sort_by or ranking_metric(frame.columns)
    if key is not None and key in frame.columns and len(frame):
        low_first = direction(key) == "lower" if ascending is None else ascending
        frame = frame.sort_values(key, ascending=low_first, na_position="last", kind="stable")
        # a variant that did not finish, stopped early, or with questions that errored, was scored on fewer questions
        # (a FAILED one that never started on none, so it has no question error to count): its mean is not ranked
        # against the complete ones
        incomplete = (frame["status"] != "FINISHED") | frame["stopped_early"].notna() | (frame["question_errors"] > 0)
        frame = frame.iloc[incomplete.argsort(kind="stable")]
    return frame.reset_index(drop=True)
