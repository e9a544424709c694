"""Question-by-question review of a logged sweep, read back from MLflow's traces.

One ``QuestionReview`` per question: the question, its reference and labelled sources, and each variant's answer with
the retrieved chunks (source ids, similarity scores), every score and the latest human feedback. Works for any sweep
in the store, so a review can be picked up again after the notebook is closed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from workbench.errors import WorkbenchError
from workbench.metrics import Score
from workbench.tracking._feedback import HumanFeedback, _tracking_uri, latest_human_feedback
from workbench.tracking._read import every_page, sweep_variants
from workbench.tracking._unreachable import shown_uri

_GENERATION_ERROR = "generation"


@dataclass(frozen=True)
class RetrievedChunk:
    """A chunk retrieved for a question: its source document id, chunk id, similarity score and text."""

    source_id: str
    chunk_id: str
    score: float | None
    text: str


@dataclass(frozen=True)
class VariantAnswer:
    """What one variant did for one question. For a router variant: ``answered_by``, the model whose answer stands,
    and ``escalation``, why the question went to the strong model ("" when it did not; both "" for other variants).
    ``generated`` is False for a variant of a retrieval-only sweep, which answers nothing."""

    variant: str
    variant_id: str
    run_id: str
    trace_id: str
    answer: str
    chunks: tuple[RetrievedChunk, ...]
    scores: Mapping[str, Score] = field(default_factory=dict)
    error: str | None = None
    feedback: HumanFeedback | None = None
    experiment_id: str = ""
    answered_by: str = ""
    escalation: str = ""
    generated: bool = True


@dataclass(frozen=True)
class QuestionReview:
    """One question of a sweep and every variant's answer to it (variants in sweep order)."""

    case_id: str
    question: str
    reference: str
    category: str
    relevant_ids: tuple[str, ...]
    answers: tuple[VariantAnswer, ...]

    def answer(self, key: str) -> VariantAnswer:
        """A variant's answer by variant name, variant id or run id.

        Raises:
            WorkbenchError: no variant of that name or id answered this question (one line naming those that did).
        """
        for a in self.answers:
            if key in (a.variant, a.variant_id, a.run_id):
                return a
        answered = ", ".join(a.variant for a in self.answers) or "none"
        raise WorkbenchError(f"no variant '{key}' answered question '{self.case_id}' — the variants that did: {answered}")


def _span(trace: Any, name: str) -> Any | None:
    return next((s for s in trace.data.spans if s.name == name), None)


def _chunks(span: Any | None) -> tuple[RetrievedChunk, ...]:
    if span is None or not isinstance(span.outputs, list):
        return ()
    out = []
    for doc in span.outputs:
        meta = doc.get("metadata") or {}
        score = meta.get("score")
        out.append(RetrievedChunk(str(meta.get("doc_uri", "")), str(meta.get("chunk_id", doc.get("id", ""))),
                                  float(score) if score is not None else None, str(doc.get("page_content", ""))))
    return tuple(out)


@dataclass
class _Question:
    case_id: str
    question: str = ""
    reference: str = ""
    category: str = "answerable"
    relevant_ids: tuple[str, ...] = ()
    answers: list[VariantAnswer] = field(default_factory=list)


def _read_trace(trace: Any, run: Any, questions: dict[str, _Question]) -> None:
    tags = trace.info.tags
    case_id = tags.get("workbench.case_id")
    if case_id is None:
        return
    q = questions.setdefault(case_id, _Question(case_id))
    root = _span(trace, "rag_pipeline")
    inputs = (root.inputs if root is not None else None) or {}
    outputs = (root.outputs if root is not None else None) or {}
    q.question = q.question or str(inputs.get("question", ""))
    q.category = tags.get("workbench.category", q.category)
    scores: dict[str, Score] = {}
    error = None
    assessments = trace.info.assessments or []
    for a in assessments:
        if a.valid is False:
            continue
        source_type = str(a.source.source_type) if a.source is not None else ""
        if a.name == "expected_response" and a.expectation is not None:
            q.reference = q.reference or str(a.expectation.value or "")
        elif a.name == "expected_source_ids" and a.expectation is not None:
            q.relevant_ids = q.relevant_ids or tuple(a.expectation.value or ())
        elif a.feedback is not None and source_type == "CODE":
            fb_error = a.feedback.error.error_message if a.feedback.error is not None else None
            if a.name == _GENERATION_ERROR:
                error = fb_error
            else:
                value = a.feedback.value
                scores[a.name] = Score(float(value) if isinstance(value, (int, float)) else None, a.rationale or "", fb_error)
    q.answers.append(
        VariantAnswer(
            variant=run.info.run_name or run.info.run_id,
            variant_id=tags.get("workbench.variant_id", run.data.tags.get("workbench.variant_id", "")),
            run_id=run.info.run_id,
            trace_id=trace.info.trace_id,
            answer=str(outputs.get("answer", "")) if isinstance(outputs, dict) else str(outputs),
            chunks=_chunks(_span(trace, "retrieve")),
            scores=scores,
            error=error,
            feedback=latest_human_feedback(trace.info.trace_id, assessments),
            experiment_id=str(run.info.experiment_id),
            answered_by=tags.get("workbench.answered_by", ""),
            escalation=tags.get("workbench.escalation_reasons", "") if tags.get("workbench.escalated") == "true" else "",
            generated=run.data.tags.get("workbench.generates") != "false",
        )
    )


def _dataset_position(trace: Any) -> int:
    """The question's position in the dataset (``workbench.case_index``; traces logged before it was: their start)."""
    index = trace.info.tags.get("workbench.case_index")
    return int(index) if index is not None and index.isdigit() else trace.info.request_time


def load_question_reviews(parent_run_id: str, *, tracking_uri: str | None = None) -> list[QuestionReview]:
    """Every question of a logged sweep with each variant's answer, retrieved chunks, scores and human feedback.

    Args:
        parent_run_id: the sweep's parent run (``SweepResult.parent_run_id``, or see ``workbench list``).
        tracking_uri: the MLflow store (default: the project's).

    Returns:
        Questions in dataset order; answers in the order the variants ran. Variants without traces (failed before
        answering) are absent.

    Raises:
        WorkbenchError: the run does not exist in that store, or is not a sweep (a variant's run names its sweep).
    """
    questions: dict[str, _Question] = {}
    for run, trace in _sweep_traces(parent_run_id, tracking_uri, with_spans=True):
        _read_trace(trace, run, questions)
    return [_review(q) for q in questions.values()]


def _review(q: _Question) -> QuestionReview:
    return QuestionReview(q.case_id, q.question, q.reference, q.category, q.relevant_ids, tuple(q.answers))


def _sweep_traces(parent_run_id: str, tracking_uri: str | None, *, with_spans: bool) -> Iterator[tuple[Any, Any]]:
    """Each variant run of a sweep with its traces, variants in sweep order and traces in dataset order (``with_spans``
    False: the traces' info alone, its tags, previews and assessments, several times cheaper to read)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = _tracking_uri(tracking_uri)
    client = MlflowClient(uri)
    parent_run_id = parent_run_id.strip()  # pasted from the MLflow UI or a log with a space or newline around it
    try:
        parent = client.get_run(parent_run_id)
    except MlflowException:
        raise WorkbenchError(f"run {parent_run_id} not found in {shown_uri(uri)} — pass a sweep's parent run id (workbench list)") from None
    tags = parent.data.tags
    if tags.get("workbench.kind") != "sweep":  # a variant has no variants of its own: it would read as a sweep with no questions
        sweep = tags.get("mlflow.parentRunId") if tags.get("workbench.kind") == "variant" else None
        fix = f"it is a variant of sweep {sweep}: pass that id" if sweep else "pass a sweep's parent run id (workbench list)"
        raise WorkbenchError(f"run {parent_run_id} ({parent.info.run_name}) is not a sweep — {fix}")
    experiment_id = parent.info.experiment_id
    for run in sweep_variants(parent_run_id, tracking_uri=uri):
        traces = every_page(lambda token: client.search_traces(
            locations=[experiment_id], run_id=run.info.run_id, max_results=500, order_by=["timestamp_ms ASC"], page_token=token,
            include_spans=with_spans))
        for trace in sorted(traces, key=_dataset_position):  # concurrent questions do not start in dataset order
            yield run, trace


def _previewed_question(trace: Any) -> str:
    """The question as the trace's request preview holds it, enough to list the question: the preview of a question
    longer than MLflow's 1,000 characters is its JSON cut short, of which the question's beginning is read."""
    preview = trace.info.request_preview or ""
    try:
        request = json.loads(preview)
    except ValueError:
        body = preview.removeprefix('{"question": "').removesuffix("...")
        for end in range(len(body), max(len(body) - 6, 0) - 1, -1):  # not inside an escape the cut split (\n, \u00e9)
            try:
                return str(json.loads(f'"{body[:end]}"'))
            except ValueError:
                continue
        return body
    return str(request.get("question", "")) if isinstance(request, dict) else preview


class QuestionReviews(Sequence[QuestionReview]):
    """A sweep's questions in dataset order, as ``load_question_reviews`` gives them, each read from MLflow when it is
    first asked for (what the question inspector shows): listing the questions reads no trace's spans, so a sweep of
    1,000 questions opens in a fraction of the time reading every trace took.

    Raises:
        WorkbenchError: as ``load_question_reviews``.
    """

    def __init__(self, parent_run_id: str, *, tracking_uri: str | None = None) -> None:
        self._uri = _tracking_uri(tracking_uri)
        listed: dict[str, tuple[str, list[tuple[Any, str]]]] = {}
        for run, trace in _sweep_traces(parent_run_id, self._uri, with_spans=False):
            case_id = trace.info.tags.get("workbench.case_id")
            if case_id is not None:
                question, traces = listed.setdefault(case_id, (_previewed_question(trace), []))
                traces.append((run, trace.info.trace_id))
        self.case_ids: tuple[str, ...] = tuple(listed)
        self.questions: tuple[str, ...] = tuple(question for question, _ in listed.values())  # as previewed
        self._traces = tuple(tuple(traces) for _, traces in listed.values())
        self._read: dict[int, QuestionReview] = {}

    def __len__(self) -> int:
        return len(self.case_ids)

    @overload
    def __getitem__(self, i: int) -> QuestionReview: ...

    @overload
    def __getitem__(self, i: slice) -> list[QuestionReview]: ...

    def __getitem__(self, i: int | slice) -> QuestionReview | list[QuestionReview]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self))[i]  # an IndexError past the end, as a list's
        if i not in self._read:
            from mlflow import MlflowClient

            client = MlflowClient(self._uri)
            questions: dict[str, _Question] = {}
            for run, trace_id in self._traces[i]:
                _read_trace(client.get_trace(trace_id), run, questions)
            self._read[i] = _review(questions[self.case_ids[i]])
        return self._read[i]
