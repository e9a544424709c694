"""Benchmark: writing a variant's traces to a sqlite MLflow store, the workbench's path against the alternatives.

Every scenario writes the same N fake traces (the shape of a workbench question: a root span, ``retrieve`` with four
chunks, ``generate``; five tags, the metadata ``finish`` gives, four assessments) into a store of its own, timed on the
wall clock and in CPU seconds of the writing processes (building the spans is not timed), and prints traces per second,
the wall-clock ratio to the first row and milliseconds per trace:

  MLflow live   MLflow's live tracing, as the workbench logged a question before it built traces in memory: spans
                started and ended under ``mlflow.start_span`` (each exported as it ends), tags and metadata through
                ``update_current_trace``, then each assessment with ``log_expectation``/``log_feedback`` (its spans
                are built as they are written: their building is timed too, a few percent of its time)
  workbench     ``write_traces``: one ``start_trace`` per trace (info, tags, metadata, assessments: one transaction),
                then the spans of 50 traces per ``log_spans``
  store calls   the same ``start_trace`` and ``log_spans`` calls on traces already finished (previews and size
                statistics computed before the clock starts): what MLflow's store takes, the floor of the workbench
                path with MLflow 3.17's API (it has no call that starts several traces at once)
  spans only    ``log_spans`` alone, which creates the trace rows itself: NOT the same traces (no tags but the trace
                name, no metadata, no assessments; those would cost a ``set_trace_tag`` or ``create_assessment`` call,
                one transaction, each): the most that skipping ``start_trace`` could save
  2 writers     ``write_traces`` split between two processes writing at once (each builds its half first; their
                start-up is not timed)

The figures move with the machine's load: compare the rows of one run, not runs. On a machine shared with other work the
wall clock also counts the time the writer waited for a core; the CPU column does not.

    .venv/bin/python bench/trace_logging.py                 # 2000 traces per scenario
    .venv/bin/python bench/trace_logging.py --traces 200    # a quick check that it works
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from workbench.tracking._read import every_page
from workbench.tracking._redact import redacting
from workbench.tracking._sqlite import tune_sqlite_store
from workbench.tracking._traces import TraceBuilder, write_traces


def fake_trace(experiment_id: str, run_id: str, i: int) -> TraceBuilder:
    from mlflow.entities import AssessmentSource, Expectation, Feedback, SpanType

    start = 1_700_000_000_000_000_000 + i * 10_000_000
    trace = TraceBuilder.start(
        "rag_pipeline", SpanType.CHAIN, experiment_id=experiment_id, inputs={"question": f"What does clause {i} say?"},
        start_time_ns=start, tags={"workbench.variant_id": "v1", "workbench.case_id": f"c{i}", "workbench.category": "policy",
                                   "workbench.case_index": str(i)},
        metadata={"mlflow.sourceRun": run_id}, attributes={"variant": "bench"}, wrap=redacting,
    )
    retrieve = trace.span("retrieve", SpanType.RETRIEVER, parent=trace.root, inputs={"query": f"clause {i}", "k": 4}, start_time_ns=start)
    retrieve.set_outputs([{"page_content": f"chunk {k} " + "text " * 150, "metadata": {"doc_uri": "doc", "chunk_id": f"d{k}"}, "id": f"d{k}"}
                          for k in range(4)])
    retrieve.end(end_time_ns=start + 2_000_000)
    generate = trace.span("generate", SpanType.LLM, parent=trace.root, inputs={"prompt": "context " * 400}, start_time_ns=start + 2_000_000)
    generate.set_outputs(f"answer {i} " * 20)
    generate.end(end_time_ns=start + 9_000_000)
    trace.root.set_outputs({"answer": f"answer {i}"})
    trace.root.end(end_time_ns=start + 9_000_000)
    code = AssessmentSource(source_type="CODE", source_id="workbench.bench")
    trace.assessments.extend([
        Expectation(name="expected_response", value="reference", source=AssessmentSource(source_type="HUMAN", source_id="dataset")),
        Feedback(name="token_f1", value=0.5, source=code), Feedback(name="exact_match", value=0.0, source=code),
        Feedback(name="recall_at_k", value=1.0, source=code),
    ])
    return trace


def new_store(folder: Path, name: str) -> tuple[str, str, str]:
    """A store of its own: its URI, an experiment and a run in it."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{folder / name}.db"
    tune_sqlite_store(uri)
    client = MlflowClient(uri)
    experiment_id = client.create_experiment(name, artifact_location=str(folder / f"{name}-artifacts"))
    return uri, experiment_id, client.create_run(experiment_id).info.run_id


def _tracing(uri: str) -> Any:
    from mlflow.tracing.client import TracingClient

    tune_sqlite_store(uri)
    return TracingClient(uri)


Timing = tuple[float, float]  # wall-clock seconds, CPU seconds of the writing processes


def _clock() -> Timing:
    return time.perf_counter(), time.process_time()


def _since(start: Timing) -> Timing:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def live_path(uri: str, experiment_id: str, run_id: str, n: int) -> Timing:
    """MLflow's own tracing API, one question after another (synchronous export, as the workbench sets it)."""
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import AssessmentSource, SpanType

    tune_sqlite_store(uri)
    mlflow.set_tracking_uri(uri)
    warm = MlflowClient(uri).create_experiment("live-warm-up")  # MLflow's tracer and exporter set up off the clock
    code, human = AssessmentSource(source_type="CODE", source_id="workbench.bench"), AssessmentSource(source_type="HUMAN", source_id="dataset")

    def question(i: int) -> None:
        with mlflow.start_span("rag_pipeline", span_type=SpanType.CHAIN) as root:
            root.set_inputs({"question": f"What does clause {i} say?"})
            root.set_attributes({"variant": "bench"})
            mlflow.update_current_trace(
                tags={"workbench.variant_id": "v1", "workbench.case_id": f"c{i}", "workbench.category": "policy", "workbench.case_index": str(i)},
                metadata={"mlflow.sourceRun": run_id},
            )
            with mlflow.start_span("retrieve", span_type=SpanType.RETRIEVER) as retrieve:
                retrieve.set_inputs({"query": f"clause {i}", "k": 4})
                retrieve.set_outputs([{"page_content": f"chunk {k} " + "text " * 150, "metadata": {"doc_uri": "doc", "chunk_id": f"d{k}"}, "id": f"d{k}"}
                                      for k in range(4)])
            with mlflow.start_span("generate", span_type=SpanType.LLM) as generate:
                generate.set_inputs({"prompt": "context " * 400})
                generate.set_outputs(f"answer {i} " * 20)
            root.set_outputs({"answer": f"answer {i}"})
        trace_id = root.trace_id
        mlflow.log_expectation(trace_id=trace_id, name="expected_response", value="reference", source=human)
        for name, value in (("token_f1", 0.5), ("exact_match", 0.0), ("recall_at_k", 1.0)):
            mlflow.log_feedback(trace_id=trace_id, name=name, value=value, source=code)

    mlflow.set_experiment(experiment_id=warm)
    question(-1)
    mlflow.set_experiment(experiment_id=experiment_id)
    start = _clock()
    for i in range(n):
        question(i)
    return _since(start)


def workbench_path(uri: str, experiment_id: str, run_id: str, n: int) -> Timing:
    client = _tracing(uri)
    traces = [fake_trace(experiment_id, run_id, i) for i in range(n)]
    start = _clock()
    write_traces(client, experiment_id, traces)
    return _since(start)


def store_calls(uri: str, experiment_id: str, run_id: str, n: int) -> Timing:
    client = _tracing(uri)
    finished = [fake_trace(experiment_id, run_id, i).finish() for i in range(n)]
    start = _clock()
    for batch in range(0, n, 50):
        for info, _ in finished[batch : batch + 50]:
            client.start_trace(info)
        client.log_spans(experiment_id, [span for _, spans in finished[batch : batch + 50] for span in spans])
    return _since(start)


def spans_only(uri: str, experiment_id: str, run_id: str, n: int) -> Timing:
    client = _tracing(uri)
    finished = [fake_trace(experiment_id, run_id, i).finish() for i in range(n)]
    start = _clock()
    for batch in range(0, n, 50):
        client.log_spans(experiment_id, [span for _, spans in finished[batch : batch + 50] for span in spans])
    return _since(start)


def _writer(uri: str, experiment_id: str, run_id: str, part: range, ready: Any, go: Any, cpu: Any) -> None:
    client = _tracing(uri)
    traces = [fake_trace(experiment_id, run_id, i) for i in part]
    ready.release()
    go.wait()
    start = time.process_time()
    write_traces(client, experiment_id, traces)
    with cpu.get_lock():
        cpu.value += time.process_time() - start


def two_writers(uri: str, experiment_id: str, run_id: str, n: int) -> Timing:
    context = multiprocessing.get_context("spawn")  # a forked child would share the parent's open sqlite connections
    ready, go, cpu = context.Semaphore(0), context.Event(), context.Value("d", 0.0)
    halves = (range(0, n // 2), range(n // 2, n))
    writers = [context.Process(target=_writer, args=(uri, experiment_id, run_id, part, ready, go, cpu)) for part in halves]
    for writer in writers:
        writer.start()
    for _ in writers:
        ready.acquire()
    start = time.perf_counter()
    go.set()
    for writer in writers:
        writer.join()
    wall = time.perf_counter() - start
    if any(writer.exitcode for writer in writers):
        raise SystemExit(f"a writer process failed (exit codes {[w.exitcode for w in writers]})")
    return wall, cpu.value


def stored(uri: str, experiment_id: str) -> tuple[int, int]:
    """How many traces, and assessments on them, the store holds (every scenario must have written all N)."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    traces = list(every_page(lambda token: client.search_traces(locations=[experiment_id], include_spans=False, page_token=token)))
    return len(traces), sum(len(t.info.assessments) for t in traces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=2000, help="traces per scenario (default 2000)")
    n = parser.parse_args().traces
    scenarios = {"MLflow live": live_path, "workbench": workbench_path, "store calls": store_calls, "spans only": spans_only,
                 "2 writers": two_writers}
    with tempfile.TemporaryDirectory(prefix="trace-bench-") as tmp:
        rows = []
        for name, scenario in scenarios.items():
            uri, experiment_id, run_id = new_store(Path(tmp), name.replace(" ", "_"))
            wall, cpu = scenario(uri, experiment_id, run_id, n)
            rows.append((name, wall, cpu, *stored(uri, experiment_id)))
    print(f"{n} traces per scenario, sqlite store (WAL)")
    print(f"{'scenario':<12} {'seconds':>8} {'traces/s':>9} {'ratio':>6} {'ms/trace':>9} {'CPU ms/trace':>13} {'stored':>7} {'assessments':>12}")
    base = rows[0][1]
    for name, wall, cpu, traces, assessments in rows:
        print(f"{name:<12} {wall:8.2f} {n / wall:9.1f} {base / wall:5.2f}x {wall / n * 1000:9.2f} {cpu / n * 1000:13.2f} {traces:7d} {assessments:12d}")


if __name__ == "__main__":
    main()
