"""The rows of a per-question results table: a case's question, labels, tags and metadata, the chunks it retrieved,
its scores, and a routed question's model calls (texts redacted)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workbench.datasets import EvalCase
from workbench.metrics import METADATA_PREFIX, Score
from workbench.pipeline import Hit, QuestionRecord
from workbench.redaction import redact

__all__ = ["ROUTING_COLUMNS", "metadata_columns", "question_row", "redacted_error", "routing_columns"]


def redacted_error(error: str | None) -> str | None:
    """An error as shown in a notebook (its output is saved with it): a provider's error can quote the API key."""
    return redact(error) if error else error


ROUTING_COLUMNS = ("answered_by", "escalated", "escalation_reasons", "model_calls")


def routing_columns(record: QuestionRecord) -> dict[str, Any]:
    """A routed question's columns: the model that answered, whether and why it escalated, and each model call."""
    return {
        "answered_by": record.answered_by,
        "escalated": record.escalated,
        "escalation_reasons": list(record.escalation.reasons) if record.escalation is not None else [],
        "model_calls": [
            {"model": c.model_id, "short_name": c.short_name, "role": c.role, "input_tokens": c.input_tokens,
             "output_tokens": c.output_tokens, "cost_usd": c.cost_usd, "cached": bool(c.generation is not None and c.generation.cached),
             "error": redacted_error(c.error)}
            for c in record.calls
        ],
    }


def metadata_columns(case: EvalCase) -> dict[str, Any]:
    """A case's metadata as the columns of its row in a per-question table (``metadata.<key>``, text redacted; pure)."""
    return {f"{METADATA_PREFIX}{key}": redact(value) if isinstance(value, str) else value for key, value in case.metadata.items()}


def question_row(case: EvalCase, hits: Sequence[Hit], latency_s: float, scores: Mapping[str, Score], **extra: Any) -> dict[str, Any]:
    """One row of a per-question results table (of a generating or a retrieval-only variant): its case's tags (a list)
    and metadata (columns ``metadata.<key>``, ``metadata.difficulty``), to slice results by, which no other column or
    score shares."""
    row: dict[str, Any] = {
        "case_id": case.id,
        "category": case.category,
        "tags": [redact(tag) for tag in case.tags],
        "question": redact(case.question),
        **metadata_columns(case),
        **extra,
        "relevant_ids": list(case.source_ids),
        "retrieved_ids": [h.chunk.source for h in hits],
        "chunk_ids": [h.chunk.id for h in hits],
        "retrieval_scores": [round(h.score, 4) for h in hits],
        "contexts": [redact(h.chunk.text) for h in hits],
        "latency_s": round(latency_s, 4),
    }
    row.update({name: score.value for name, score in scores.items()})
    return row
