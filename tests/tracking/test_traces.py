"""Traces built in memory (``workbench.tracking._traces``), before any store sees them."""

from __future__ import annotations

import pytest
from mlflow.entities import AssessmentSource, Feedback, SpanType

from workbench.tracking._redact import redacting
from workbench.tracking._traces import TraceBuilder


def build(status: str) -> TraceBuilder:
    trace = TraceBuilder.start(
        "rag_pipeline", SpanType.CHAIN, experiment_id="7", inputs={"question": "q?"}, start_time_ns=1_000_000_000,
        tags={"workbench.case_id": "c1"}, metadata={"mlflow.sourceRun": "r1"}, attributes={"variant": "v"}, wrap=redacting,
    )
    child = trace.span("generate", SpanType.LLM, parent=trace.root, inputs={"prompt": "p"}, start_time_ns=1_500_000_000)
    child.end(end_time_ns=2_000_000_000, status=status)
    trace.assessments.append(Feedback(name="token_f1", value=0.5, source=AssessmentSource(source_type="CODE", source_id="wb")))
    return trace


@pytest.mark.parametrize("status", ["OK", "ERROR"])
def test_a_finished_trace_has_its_timings_state_tags_and_assessments(status: str) -> None:
    trace = build(status)
    with pytest.raises(RuntimeError, match="root span has not ended"):
        trace.finish()
    trace.root.end(end_time_ns=3_000_000_000, status=status)
    info, spans = trace.finish()
    assert info.trace_id == trace.trace_id and info.trace_id.startswith("tr-")
    assert (info.request_time, info.execution_duration) == (1000, 2000)
    assert info.state.value == status
    assert info.tags["workbench.case_id"] == "c1" and info.tags["mlflow.traceName"] == "rag_pipeline"
    assert info.trace_metadata["mlflow.sourceRun"] == "r1" and '"q?"' in info.trace_metadata["mlflow.traceInputs"]
    assert [a.trace_id for a in info.assessments] == [info.trace_id]
    assert [s.name for s in spans] == ["rag_pipeline", "generate"] and spans[1].parent_id == spans[0].span_id
    assert {s.trace_id for s in spans} == {info.trace_id}


def test_span_contents_are_redacted_as_they_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-proj-" + "Zq8" * 10 + "T3BlbkFJ" + "Xy7" * 7
    monkeypatch.setenv("OPENAI_API_KEY", key)
    trace = build("OK")
    trace.root.set_outputs({"answer": f"the key is {key}"})
    trace.root.end(end_time_ns=3_000_000_000)
    _, spans = trace.finish()
    assert key not in str(spans[0].outputs) and "[REDACTED:" in spans[0].outputs["answer"]
