"""Question-by-question review of a logged sweep, read back from MLflow's traces.

One ``QuestionReview`` per question: the question, its reference and labelled sources, and each variant's answer with
the retrieved chunks (source ids, similarity scores), every score and the latest human feedback. Works for any sweep
in the store, so a review can be picked up again after the notebook is closed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from workbench.errors import WorkbenchError
from workbench.metrics import Score
from workbench.tracking._catalog import LoggedRun
from workbench.tracking._engines import store_released
from workbench.tracking._feedback import HumanFeedback, _tracking_uri, latest_human_feedback
from workbench.tracking._read import RESULTS_TABLE, every_page, sweep_variants
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
    uri = _tracking_uri(tracking_uri)
    with store_released(uri):  # read once: a kernel reviewing project after project keeps none of their stores open
        for run, trace in _sweep_traces(parent_run_id, uri, with_spans=True):
            _read_trace(trace, run, questions)
    return [_review(q) for q in questions.values()]


def _review(q: _Question) -> QuestionReview:
    return QuestionReview(q.case_id, q.question, q.reference, q.category, q.relevant_ids, tuple(q.answers))


def _sweep_traces(parent_run_id: str, tracking_uri: str | None, *, with_spans: bool) -> Iterator[tuple[Any, Any]]:
    """Each variant run of a sweep with its traces, variants in sweep order and traces in dataset order (``with_spans``
    False: the traces' info alone, its tags, previews and assessments, several times cheaper to read)."""
    client, experiment_id, runs = _sweep_runs(parent_run_id, _tracking_uri(tracking_uri))
    for run in runs:
        for trace in _run_traces(client, experiment_id, run, with_spans=with_spans):
            yield run, trace


def _sweep_runs(parent_run_id: str, uri: str) -> tuple[Any, str, list[Any]]:
    """A client of the store, the sweep's experiment id and its variant runs in sweep order.

    Raises:
        WorkbenchError: the run does not exist in that store, or is not a sweep (a variant's run names its sweep).
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

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
    return client, parent.info.experiment_id, sweep_variants(parent_run_id, tracking_uri=uri)


def _run_traces(client: Any, experiment_id: str, run: Any, *, with_spans: bool) -> list[Any]:
    """A variant run's traces in dataset order (every page of a search by run)."""
    traces = every_page(lambda token: client.search_traces(
        locations=[experiment_id], run_id=run.info.run_id, max_results=500, order_by=["timestamp_ms ASC"], page_token=token,
        include_spans=with_spans))
    return sorted(traces, key=_dataset_position)  # concurrent questions do not start in dataset order


def _listed_questions(client: Any, experiment_id: str, run: Any, uri: str) -> list[tuple[str, str, str]]:
    """(case id, question, trace id) of each question a variant run answered, in dataset order: read from its
    per-question table and ``trace_ids.json`` (two files, the traces in the same order as the table's rows), else, for a
    run logged before it recorded its trace ids or whose files cannot be read, from its traces' info (listing 8
    variants' 2,000 questions that way read 16,000 trace infos: more than a minute)."""
    recorded = _recorded_questions(run, uri)
    if recorded is not None:
        return recorded
    return [(trace.info.tags["workbench.case_id"], _previewed_question(trace), trace.info.trace_id)
            for trace in _run_traces(client, experiment_id, run, with_spans=False) if "workbench.case_id" in trace.info.tags]


def _recorded_questions(run: Any, uri: str) -> list[tuple[str, str, str]] | None:
    """(case id, question, trace id) per row of a run's per-question table, paired with its recorded trace ids; None
    when either file is missing or cannot be read, or they do not pair up (not as many ids as rows)."""
    import tempfile

    from mlflow.exceptions import MlflowException
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    from workbench.tracking._reuse_reads import _TRACE_IDS, _recorded_trace_ids  # how a variant run records them

    repo = get_artifact_repository(run.info.artifact_uri, tracking_uri=uri)
    with tempfile.TemporaryDirectory(prefix="wb-review-") as tmp:
        try:
            trace_ids = _recorded_trace_ids(Path(repo.download_artifacts(_TRACE_IDS, tmp)))
            table = json.loads(Path(repo.download_artifacts(RESULTS_TABLE, tmp)).read_bytes()) if trace_ids is not None else None
        except (MlflowException, OSError, ImportError, ValueError):  # missing, damaged, or a bucket this machine cannot read
            return None
    if trace_ids is None or not isinstance(table, dict):
        return None
    try:
        columns = table["columns"]
        case_at, question_at = columns.index("case_id"), columns.index("question")
        rows = [(str(row[case_at]), str(row[question_at])) for row in table["data"]]
    except (KeyError, ValueError, TypeError, IndexError):
        return None
    if len(rows) != len(trace_ids):
        return None
    return [(case_id, question, trace_id) for (case_id, question), trace_id in zip(rows, trace_ids)]


def _traces_by_id(client: Any, experiment_id: str, trace_ids: Sequence[str]) -> dict[str, Any]:
    """Trace id -> the trace with its spans, for those of ``trace_ids`` the experiment still has: one search per 100
    ids (reading them one by one took 1.4 s for a question of 40 variants)."""
    found: dict[str, Any] = {}
    ids = sorted(set(trace_ids))
    for start in range(0, len(ids), 100):
        listed = ", ".join(f"'{trace_id}'" for trace_id in ids[start : start + 100])  # checked when recorded: nothing to escape
        found.update((trace.info.trace_id, trace) for trace in every_page(lambda token, listed=listed: client.search_traces(
            locations=[experiment_id], filter_string=f"trace.request_id IN ({listed})", include_spans=True, max_results=100,
            page_token=token)))
    return found


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
    first asked for (what the question inspector shows), all its variants' traces in one search. The questions are
    listed from each variant run's per-question table and ``trace_ids.json``, two files a run, not from its traces
    (those of a run logged before it recorded its trace ids are listed from their info).

    Attributes:
        variants: the sweep's variant runs in sweep order (their status, error and racing stop say why one answered
            fewer questions than the others, or none).
        answered: how many questions each variant run (by run id) answered.

    Raises:
        WorkbenchError: as ``load_question_reviews``.
    """

    def __init__(self, parent_run_id: str, *, tracking_uri: str | None = None) -> None:
        self._uri = _tracking_uri(tracking_uri)
        listed: dict[str, tuple[str, list[tuple[Any, str]]]] = {}
        answered: dict[str, int] = {}
        # the store let go of after each read (here, and each question's): a question inspector opened in one project
        # after another kept every project's store open (its database and two journal files)
        with store_released(self._uri):
            client, self._experiment_id, runs = _sweep_runs(parent_run_id, self._uri)
            for run in runs:
                questions = _listed_questions(client, self._experiment_id, run, self._uri)
                answered[run.info.run_id] = len(questions)
                for case_id, question, trace_id in questions:
                    listed.setdefault(case_id, (question, []))[1].append((run, trace_id))
        self.variants: tuple[LoggedRun, ...] = tuple(LoggedRun.from_mlflow(run) for run in runs)
        self.answered: Mapping[str, int] = answered
        self.case_ids: tuple[str, ...] = tuple(listed)
        self.questions: tuple[str, ...] = tuple(question for question, _ in listed.values())
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

            pairs = self._traces[i]
            with store_released(self._uri):
                traces = _traces_by_id(MlflowClient(self._uri), self._experiment_id, [trace_id for _, trace_id in pairs])
            questions: dict[str, _Question] = {}
            for run, trace_id in pairs:
                if trace_id in traces:  # a trace deleted since the sweep: that variant's answer is not shown
                    _read_trace(traces[trace_id], run, questions)
            case_id = self.case_ids[i]
            self._read[i] = _review(questions.get(case_id) or _Question(case_id, self.questions[i]))
        return self._read[i]
