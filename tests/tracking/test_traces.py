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


class _FailsAt:
    """A ``TracingClient`` whose ``call`` fails (``error``) the ``at``-th time it is made, as Ctrl+C, a full disk or a
    value the store refuses does half way through a variant's traces."""

    def __init__(self, client, call: str, at: int, error: BaseException) -> None:  # type: ignore[no-untyped-def]
        self._client, self._call, self._left, self._error = client, call, at, error

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        real = getattr(self._client, name)
        if name != self._call:
            return real

        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            self._left -= 1
            if self._left == 0:
                raise self._error
            return real(*args, **kwargs)

        return call


@pytest.mark.parametrize(("call", "at", "error", "kept"), [
    ("start_trace", 55, KeyboardInterrupt(), 50),  # Ctrl+C in the second batch's start_trace calls
    ("log_spans", 2, OSError(28, "No space left on device"), 50),  # the second batch's spans
    ("start_trace", 3, KeyboardInterrupt(), 0),
])
def test_traces_written_half_way_are_each_whole(wb_settings, tmp_path, call: str, at: int, error: BaseException, kept: int) -> None:  # type: ignore[no-untyped-def]
    # a variant of 5,000 questions was interrupted with every trace started and none with its spans: the MLflow UI
    # listed thousands of traces it could not open ("missing span data"), for good
    from mlflow import MlflowClient
    from mlflow.tracing.client import TracingClient

    from workbench.tracking._traces import write_traces

    uri = wb_settings.tracking_uri
    experiment_id = MlflowClient(uri).create_experiment("unit", artifact_location=(tmp_path / "artifacts").as_uri())
    traces = [built(experiment_id, i) for i in range(60)]
    with pytest.raises(type(error)):
        write_traces(_FailsAt(TracingClient(uri), call, at, error), experiment_id, traces)
    client = MlflowClient(uri)
    stored = client.search_traces(locations=[experiment_id], include_spans=False, max_results=100)
    assert sorted(t.info.trace_id for t in stored) == sorted(t.trace_id for t in traces[:kept])
    for info in stored:
        trace = client.get_trace(info.info.trace_id)
        assert [s.name for s in trace.data.spans] == ["rag_pipeline", "generate"]
        assert [a.name for a in trace.info.assessments] == ["token_f1"]


def built(experiment_id: str, i: int) -> TraceBuilder:
    trace = TraceBuilder.start(
        "rag_pipeline", SpanType.CHAIN, experiment_id=experiment_id, inputs={"question": f"q{i}?"}, start_time_ns=(1 + i) * 10**9,
        tags={"workbench.case_id": f"c{i}"}, metadata={}, attributes={}, wrap=redacting,
    )
    child = trace.span("generate", SpanType.LLM, parent=trace.root, inputs={"prompt": "p"}, start_time_ns=(1 + i) * 10**9)
    child.end(end_time_ns=(1 + i) * 10**9 + 5)
    trace.root.end(end_time_ns=(1 + i) * 10**9 + 10)
    trace.assessments.append(Feedback(name="token_f1", value=0.5, source=AssessmentSource(source_type="CODE", source_id="wb")))
    return trace


def test_each_sweeps_traces_name_the_source_and_commit_their_run_does(wb_settings, fake_models, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # MLflow looks the environment up once per process: in a notebook kept open all day, every trace kept the first
    # sweep's commit (and the kernel launcher as its source) while its run had the commit its experiment folder is at
    import subprocess

    from mlflow import MlflowClient

    import workbench as wb
    from workbench.pipeline import MemoryIndexStore

    from ..test_runner import ROOT

    folder = tmp_path / "project"
    folder.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=folder, check=True,
                              capture_output=True, text=True).stdout.strip()

    spec = wb.ExperimentSpec.from_dict({
        "name": "unit", "dataset": {"path": str(ROOT / "datasets" / "python_docs.jsonl"), "limit": 2},
        "corpus": {"builtin": "python-reference"}, "prompts": [{"name": "p", "template": "{context} {question}"}],
        "models": [{"id": "local:gemma3-270m"}], "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
    }, base_dir=folder)
    git("init", "-q")
    commits = []
    for version in ("v1", "v2"):
        (folder / "prompt.txt").write_text(version, encoding="utf-8")
        git("add", ".")
        git("commit", "-qm", version)
        commits.append(git("rev-parse", "HEAD"))
        events: list[wb.ProgressEvent] = []
        result = wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, fresh=True,
                        on_event=events.append)
        assert [(e.done, e.total) for e in events if e.kind == "question_logged"] == [(2, 2)]  # as MLflow stored them
        client = MlflowClient(wb_settings.tracking_uri)
        run = client.get_run(result.variants[0].run_id)
        traces = client.search_traces(locations=[result.experiment_id], run_id=run.info.run_id, include_spans=False)
        assert len(traces) == 2
        for trace in traces:
            meta = trace.info.trace_metadata
            assert meta["mlflow.source.git.commit"] == run.data.tags["mlflow.source.git.commit"] == commits[-1]
            assert meta["mlflow.source.name"] == run.data.tags["mlflow.source.name"] == str(folder)
            assert meta["mlflow.user"] == run.data.tags["mlflow.user"]


def test_a_variants_traces_are_built_as_they_are_written_not_all_first(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # every trace of a variant was built before the first was written: ~25 KiB each, 125 MB held at once for 5,000
    # questions, growing with the dataset
    from mlflow import MlflowClient
    from mlflow.tracing.client import TracingClient

    from workbench.tracking._traces import write_traces

    uri = wb_settings.tracking_uri
    experiment_id = MlflowClient(uri).create_experiment("unit", artifact_location=(wb_settings.root / "artifacts").as_uri())
    built_before_write: list[int] = []
    made = [0]

    class Counting:
        def __init__(self, client) -> None:  # type: ignore[no-untyped-def]
            self._client = client

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self._client, name)

        def start_trace(self, info):  # type: ignore[no-untyped-def]
            built_before_write.append(made[0])
            return self._client.start_trace(info)

    def traces():  # type: ignore[no-untyped-def]
        for i in range(120):
            made[0] += 1
            yield built(experiment_id, i)

    logged: list[int] = []
    ids = write_traces(Counting(TracingClient(uri)), experiment_id, traces(), logged.append)
    assert len(ids) == 120 == len(set(ids))
    assert logged == [50, 100, 120]  # said as each batch is stored (5,000 questions log for minutes)
    assert max(n - i for i, n in enumerate(built_before_write)) <= 50  # at most a batch built ahead of the writes
    stored = MlflowClient(uri).search_traces(locations=[experiment_id], include_spans=False, max_results=200)
    assert sorted(t.info.trace_id for t in stored) == sorted(ids)


def test_a_question_without_a_reference_has_no_empty_expected_response_on_its_trace(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # an unanswerable question's trace showed the expectation expected_response: "" in the MLflow UI, as if the right
    # answer were an empty one (and MLflow's Correctness judge, run on these traces, graded against "")
    import pandas as pd
    from mlflow import MlflowClient

    import workbench as wb
    from workbench.pipeline import MemoryIndexStore

    from ..test_runner import ROOT

    spec = wb.ExperimentSpec.from_dict({
        "name": "unit", "corpus": {"builtin": "python-reference"}, "prompts": [{"name": "p", "template": "{context} {question}"}],
        "models": [{"id": "local:gemma3-270m"}], "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
    }, base_dir=ROOT)
    cases = pd.DataFrame([
        {"id": "known", "question": "What does the for statement do?", "reference": "It iterates over a sequence.", "category": "answerable"},
        {"id": "unknown", "question": "What is Guido's favourite colour?", "category": "unanswerable"},
    ])
    result = wb.run(spec, dataset=cases, models=fake_models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    client = MlflowClient(wb_settings.tracking_uri)
    traces = client.search_traces(locations=[result.experiment_id], run_id=result.variants[0].run_id)
    expected = {t.info.tags["workbench.case_id"]: {a.name: a.value for a in t.info.assessments if a.name.startswith("expected_")}
                for t in traces}
    assert expected["known"]["expected_response"] == "It iterates over a sequence."
    assert "expected_response" not in expected["unknown"], expected["unknown"]


def _size(info: object) -> int:
    return int(info.trace_metadata["mlflow.trace.sizeBytes"])  # type: ignore[attr-defined]


def test_a_traces_size_is_counted_before_its_assessments_as_the_live_path_counts_it() -> None:
    """MLflow's live tracing computes ``mlflow.trace.sizeBytes`` when the root span ends, before any assessment is
    logged; the workbench counted its assessments too (10,492 bytes where the live path stores 9,503)."""
    with_them = build("OK")
    with_them.root.end(end_time_ns=3_000_000_000)
    without = build("OK")
    without.assessments.clear()
    without.root.end(end_time_ns=3_000_000_000)
    info, _ = with_them.finish()
    assert info.assessments  # still on the trace, only not in its size
    assert _size(info) == _size(without.finish()[0])
    assert info.trace_metadata["mlflow.trace.sizeStats"] == without.finish()[0].trace_metadata["mlflow.trace.sizeStats"]


def test_a_traces_size_is_the_one_mlflows_live_tracing_stores_for_it(wb_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The same question traced live (``mlflow.start_span``, then ``log_feedback``) and built by ``TraceBuilder``: the
    sizes differ only by the metadata that names where each ran (user, source, git), far less than the assessments."""
    import mlflow
    from mlflow import MlflowClient

    uri = wb_settings.tracking_uri
    experiment_id = MlflowClient(uri).create_experiment("live")
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # mlflow sets it too; put back as it was
    code = AssessmentSource(source_type="CODE", source_id="wb")
    with _use_tracking_uri(uri):
        with mlflow.start_span("rag_pipeline", span_type=SpanType.CHAIN) as root:
            root.set_inputs({"question": "q?"})
            root.set_attributes({"variant": "v"})
            mlflow.update_current_trace(tags={"workbench.case_id": "c1"}, metadata={"mlflow.sourceRun": "r1"})
            with mlflow.start_span("generate", span_type=SpanType.LLM) as child:
                child.set_inputs({"prompt": "p" * 2000})
                child.set_outputs("answer " * 100)
        for i in range(8):
            mlflow.log_feedback(trace_id=root.trace_id, name=f"score_{i}", value=0.5, source=code, rationale="because " * 20)
        live = MlflowClient(uri).get_trace(root.trace_id).info

    def built(assessed: bool) -> object:
        trace = TraceBuilder.start(
            "rag_pipeline", SpanType.CHAIN, experiment_id=experiment_id, inputs={"question": "q?"},
            start_time_ns=live.request_time * 1_000_000, tags={"workbench.case_id": "c1"}, metadata={"mlflow.sourceRun": "r1"},
            attributes={"variant": "v"}, wrap=redacting,
        )
        child = trace.span("generate", SpanType.LLM, parent=trace.root, inputs={"prompt": "p" * 2000},
                           start_time_ns=live.request_time * 1_000_000 + 1000)
        child.set_outputs("answer " * 100)
        child.end(end_time_ns=live.request_time * 1_000_000 + 2000)
        trace.root.end(end_time_ns=live.request_time * 1_000_000 + 3000)
        if assessed:
            trace.assessments.extend(live.assessments)
        return trace.finish()[0]

    assert len(live.assessments) == 8
    assessed, bare = built(True), built(False)
    noise = abs(_size(bare) - _size(live))  # where each ran; the assessments are what must not count
    assert noise < 400, (_size(bare), _size(live))
    assert abs(_size(assessed) - _size(live)) == noise, (_size(assessed), _size(bare), _size(live))


def test_building_a_trace_scans_each_text_that_could_hold_a_secret_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # a trace hands ~90 texts to the redactor (its spans' keys, a ``k``, the chunks in the retrieve span, the prompt):
    # every text too short to hold a secret went through the detectors and the cache all the same
    import uuid

    from workbench.redaction import Redactor

    monkeypatch.setenv("BENCH_TRACE_TOKEN", uuid.uuid4().hex)  # a redactor of its own: a cache nothing else filled
    scanned: list[str] = []
    find = Redactor.find
    monkeypatch.setattr(Redactor, "find", lambda self, text: scanned.append(text) or find(self, text))
    chunk = "Chroma keeps each chunk with its source and id; the retriever returns the closest ones."
    trace = build("OK")
    retrieve = trace.span("retrieve", SpanType.RETRIEVER, parent=trace.root, inputs={"query": "q?", "k": 4}, start_time_ns=1_100_000_000)
    retrieve.set_outputs([{"page_content": chunk, "metadata": {"doc_uri": "d", "chunk_id": f"d{i}"}, "id": f"d{i}"} for i in range(3)]
                         + [{"page_content": chunk, "metadata": {"doc_uri": "d", "chunk_id": "d0"}, "id": "d0"}])
    retrieve.end(end_time_ns=1_200_000_000)
    trace.root.set_outputs({"answer": "the closest ones", "retrieved_source_ids": ["d0", "d1"]})
    trace.root.end(end_time_ns=3_000_000_000)
    _, spans = trace.finish()
    assert spans[2].outputs[0]["page_content"] == chunk
    assert scanned and all(len(text) >= 8 for text in scanned), [t for t in scanned if len(t) < 8]
    assert len(scanned) == len(set(scanned))  # the chunk repeated, the keys of every chunk: scanned once
