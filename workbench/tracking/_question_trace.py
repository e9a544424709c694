"""A question's trace, built from what the pipeline recorded: retrieve and generate spans with their timings (a router's
calls and its route decision), tags to search it by, every score as a feedback assessment and the reference as an
expectation. Built in memory (``TraceBuilder``), redacted, written by the tracker in bulk."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from workbench.grid import Variant
from workbench.models import Generation
from workbench.pipeline import ModelCall, QuestionRecord
from workbench.redaction import redact
from workbench.spec import RouterSpec
from workbench.tracking._protocol import SweepHandle
from workbench.tracking._redact import redacted, redacting
from workbench.tracking._traces import TraceBuilder


def question_trace(
    sweep: SweepHandle, run_id: str, variant: Variant, record: QuestionRecord, position: int | None, run_source: dict[str, str],
) -> TraceBuilder:
    """The trace of one question of a variant run ``run_id`` (built, not written): a ``rag_pipeline`` root with its
    retrieve span and generate span(s), tags to search it by, the reference and every score as assessments, and
    ``run_source`` (who ran the sweep, from where: ``MlflowTracker._run_source``) in its metadata."""
    from mlflow.entities import AssessmentError, AssessmentSource, Expectation, Feedback, SpanType
    from mlflow.tracing.constant import AssessmentMetadataKey, TraceMetadataKey

    tags = {"workbench.variant_id": variant.id, "workbench.case_id": record.case.id, "workbench.category": record.case.category}
    if position is not None:
        tags["workbench.case_index"] = str(position)
    if record.escalation is not None:
        tags.update(routing_tags(record))
    tags.update(metadata_tags(record.case.metadata))
    trace = TraceBuilder.start(
        "rag_pipeline", SpanType.CHAIN, experiment_id=sweep.experiment_id, inputs={"question": record.case.question},
        start_time_ns=record.started_ns, tags=redacted(tags), metadata={TraceMetadataKey.SOURCE_RUN: run_id, **run_source},
        attributes={"variant": variant.name}, wrap=redacting,
    )
    retrieve = trace.span(
        "retrieve", SpanType.RETRIEVER, parent=trace.root, start_time_ns=record.started_ns,
        inputs={"query": record.case.question, "k": variant.retrieval.k, "search": variant.retrieval.search},
    )
    retrieve.set_outputs([
        {"page_content": h.chunk.text, "metadata": {"doc_uri": h.chunk.source, "chunk_id": h.chunk.id, "score": round(h.score, 4)}, "id": h.chunk.id}
        for h in record.hits
    ])
    retrieve.set_attribute("retrieved_source_ids", list(record.retrieved_ids))
    retrieve.end(end_time_ns=record.retrieved_ns)
    if isinstance(variant.model, RouterSpec):
        _route_spans(trace, variant.model, record)
    elif variant.model is not None:
        _generate_span(
            trace, "generate", prompt=record.prompt, model_id=variant.model.id, generation=record.generation,
            attributes={"kind": variant.model.resolved_kind}, started_ns=record.retrieved_ns, ended_ns=record.ended_ns,
            error=record.error,
        )
    trace.root.set_outputs({"answer": record.answer, "retrieved_source_ids": list(record.retrieved_ids)})
    trace.root.end(end_time_ns=record.ended_ns, status=_status(record.error))
    root_id = trace.root.span_id
    meta = {AssessmentMetadataKey.SOURCE_RUN_ID: run_id}
    code = lambda name: AssessmentSource(source_type="CODE", source_id=f"workbench.{name}")  # noqa: E731
    dataset = AssessmentSource(source_type="HUMAN", source_id="dataset")
    # a question with no reference (unanswerable, a policy item) expects none: an empty expected_response read in the
    # UI as if the right answer were empty, and MLflow's Correctness judge graded against it
    assessments: list[Any] = [
        *([Expectation(name="expected_response", value=record.case.reference, source=dataset, metadata=meta, span_id=root_id)]
          if record.case.reference else []),
        Expectation(name="expected_source_ids", value=list(record.case.source_ids), source=dataset, metadata=meta, span_id=root_id),
    ]
    for name, score in record.scores.items():
        if score.error is not None:
            assessments.append(Feedback(name=name, error=AssessmentError(error_code="SCORER_ERROR", error_message=score.error), source=code(name), metadata=meta, span_id=root_id))
        elif score.value is not None:
            assessments.append(Feedback(name=name, value=score.value, rationale=score.explanation or None, source=code(name), metadata=meta, span_id=root_id))
    if record.error:
        assessments.append(Feedback(name="generation", error=AssessmentError(error_code="GENERATION_ERROR", error_message=record.error), source=code("pipeline"), metadata=meta, span_id=root_id))
    trace.assessments.extend(redacted(assessments))
    return trace


def _route_spans(trace: TraceBuilder, router: RouterSpec, record: QuestionRecord) -> None:
    """A router's spans: ``generate (cheap)``, ``route`` (the decision, its signals and reasons), and
    ``generate (strong)`` when it escalated."""
    from mlflow.entities import SpanType

    kinds = {"cheap": router.cheap.resolved_kind, "strong": router.strong.resolved_kind}
    cheap = next((c for c in record.calls if c.role == "cheap"), None)
    strong = next((c for c in record.calls if c.role == "strong"), None)
    if cheap is not None:
        _call_span(trace, cheap, kinds["cheap"])
    decision = record.escalation
    if decision is not None:
        at = cheap.ended_ns if cheap is not None else record.retrieved_ns
        signals = decision.signals
        route = trace.span(
            "route", SpanType.CHAIN, parent=trace.root, start_time_ns=at,
            inputs={
                "best_retrieval_score": signals.best_retrieval_score, "refused_or_empty": signals.refused_or_empty,
                "grounding": signals.grounding, "cheap_error": signals.cheap_error, "grounding_error": signals.grounding_error,
            },
            attributes={"router": router.name, "escalate_when": router.escalate_when.model_dump(mode="json")},
        )
        route.set_outputs({"escalate": decision.escalate, "fired": list(decision.fired), "reasons": list(decision.reasons),
                           "answered_by": record.answered_by})
        # a grounding signal that could not be measured left the question undecided: the span is red with why
        route.end(end_time_ns=strong.started_ns if strong is not None else at, status=_status(signals.grounding_error))
    if strong is not None:
        _call_span(trace, strong, kinds["strong"])


def _call_span(trace: TraceBuilder, call: ModelCall, kind: str) -> None:
    _generate_span(
        trace, f"generate ({call.role})", prompt=call.prompt, model_id=call.model_id, generation=call.generation,
        attributes={"kind": kind, "role": call.role, "cost_usd": call.cost_usd}, started_ns=call.started_ns,
        ended_ns=call.ended_ns, error=call.error,
    )


def _generate_span(
    trace: TraceBuilder, name: str, *, prompt: str, model_id: str, generation: Generation | None, attributes: dict[str, Any],
    started_ns: int, ended_ns: int, error: str | None,
) -> None:
    """One model call as an LLM span: its prompt, answer, token usage and latency, or the error it failed with (the
    span's status and an ``exception`` event, which the trace view shows on the red span)."""
    from mlflow.entities import SpanEvent, SpanType
    from mlflow.tracing.constant import SpanAttributeKey

    span = trace.span(
        name, SpanType.LLM, parent=trace.root, inputs={"prompt": prompt, "model": model_id},
        start_time_ns=started_ns, attributes={"model": model_id, **attributes},
    )
    if generation is not None:
        span.set_attribute(
            SpanAttributeKey.CHAT_USAGE,
            {"input_tokens": generation.input_tokens, "output_tokens": generation.output_tokens,
             "total_tokens": generation.input_tokens + generation.output_tokens},
        )
        span.set_outputs({"text": generation.text, "finish_reason": generation.finish_reason})
        span.set_attribute("latency_s", generation.latency_s)
        if generation.prompt_tokens_cut:  # the model read the prompt above without its first tokens
            span.set_attribute("prompt_tokens_cut", generation.prompt_tokens_cut)
    status = _status(error)
    if error is not None:
        shown = status.description  # redacted: the event is not an argument the redacting span reads
        kind = shown.split(":", 1)[0]  # errors read "RuntimeError: ..."
        span.add_event(SpanEvent("exception", ended_ns, {"exception.type": kind if kind.isidentifier() else "Error", "exception.message": shown}))
    span.end(end_time_ns=ended_ns, status=status)


def _status(error: str | None) -> Any:
    """A span's status: OK, or ERROR with the (redacted) error as its description, which the trace view shows."""
    from mlflow.entities import SpanStatus, SpanStatusCode

    return SpanStatus(SpanStatusCode.OK) if error is None else SpanStatus(SpanStatusCode.ERROR, redact(error))


def routing_tags(record: QuestionRecord) -> dict[str, str]:
    """The trace tags of a routed question: which model answered, whether it escalated and why (searchable in MLflow)."""
    decision = record.escalation
    return {
        "workbench.answered_by": record.answered_by,
        "workbench.escalated": "true" if decision is not None and decision.escalate else "false",
        "workbench.escalation_reasons": decision.reason_text if decision is not None else "",
    }


# the longest trace tag key MLflow's stores keep (a database column of 250 characters), and the part of a metadata value
# a tag holds (the per-question table holds all of it)
_TAG_KEY_CHARS = 250
_TAG_VALUE_CHARS = 250


def metadata_tags(metadata: Mapping[str, object]) -> dict[str, str]:
    """A case's metadata as trace tags ``workbench.metadata.<key>`` (pure), to search a variant's traces by them in
    MLflow (``tags.`workbench.metadata.difficulty` = 'hard'``): a value as JSON writes it (true, 2, 0.5, text as it is),
    cut to ``_TAG_VALUE_CHARS``; a key too long for a tag is left out."""
    tags = {}
    for key, value in metadata.items():
        name = f"workbench.metadata.{key}"
        text = value if isinstance(value, str) else json.dumps(value)
        if len(name) <= _TAG_KEY_CHARS:
            tags[name] = text if len(text) <= _TAG_VALUE_CHARS else text[: _TAG_VALUE_CHARS - 1] + "…"
    return tags
