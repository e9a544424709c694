"""A run's (or an experiment's) description on its MLflow page: why it ended as it did, what of a variant failed,
cut to what an MLflow tag holds and shown as text, never as markup."""

from __future__ import annotations

from typing import Any

from workbench.redaction import redact
from workbench.results import VariantResult
from workbench.tracking._process import END_REASON_TAG
from workbench.tracking._summary import MAX_RUN_NOTE, inert


NOTE_TAG = "mlflow.note.content"  # a run's (or an experiment's) description in the MLflow UI

_MAX_NOTE = 20000  # MLflow's limit on an experiment tag's value; the whole description is in each sweep's experiment.yaml


def _end_reason_tags(reason: str, status: str) -> list[Any]:
    """Why a run ended as it did: its ``END_REASON_TAG``, and its description on the run page (``KILLED: ...``)."""
    from mlflow.entities import RunTag

    return [RunTag(END_REASON_TAG, reason), RunTag(NOTE_TAG, f"{status}: {_shown(reason, MAX_RUN_NOTE - len(status) - 2)}")]


def _variant_note(result: VariantResult) -> str | None:
    """The run page's description of a variant run that did not simply finish: why it failed, why racing stopped it, or
    which of its questions failed. It fits in a run tag (``MAX_RUN_NOTE``) whatever the error: one of 5000 characters of
    markup, four times as long once shown as text, was cut by MLflow in the middle of an escape, with a warning line in
    the sweep's output on sqlite (and refused, failing the sweep, with ``MLFLOW_TRUNCATE_LONG_VALUES=false``)."""
    if result.stopped_early is not None:
        return (f"Stopped early by racing {result.stopped_early.label}: its metrics are over the questions it answered; "
                "run the experiment again without racing to finish it")
    if result.outcome.error:
        head = f"{result.status}: "  # the error as its workbench.error tag has it, shown as text
        return head + _shown(redact(result.outcome.error)[:5000], MAX_RUN_NOTE - len(head))
    failed = [r.error for r in result.records if r.error]
    if failed:
        head, tail = f"{len(failed)} of {len(result.records)} questions failed (the first: ", ") — run the experiment again to ask them again"
        return head + _shown(redact(failed[0])[:5000], MAX_RUN_NOTE - len(head) - len(tail)) + tail
    return None


def _shown(text: str, room: int) -> str:
    """``text`` (already redacted) as a description shows it (``inert``), in at most ``room`` characters: cut before it is
    made inert, ending in ``…``, so that a cut never splits an escape (``&lt;`` cut to ``&l``)."""
    if len(shown := inert(text)) <= room:
        return shown
    low, high = 0, len(text)  # the longest start of the text that fits, with the "…"
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if len(inert(text[:mid])) < room else (low, mid - 1)
    return inert(text[:low]) + "…"


def _note(text: str, whole: str = "the whole description is in each sweep's experiment.yaml", *, limit: int = _MAX_NOTE) -> str:
    """An experiment's (or a run's) description as its MLflow note: a longer one, cut, failed the first sweep when it
    created the experiment ("'value' exceeds the maximum length of 20000 characters"). ``whole`` says where all of it is."""
    if len(text) <= limit:
        return text
    cut = f"\n\n… (cut: {whole})"
    return text[: limit - len(cut)] + cut
