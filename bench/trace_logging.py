"""Benchmark: writing a variant's traces to a sqlite MLflow store, the workbench's path against the alternatives.

Every scenario writes the same N fake traces (the shape of a workbench question: a root span, ``retrieve`` with four
chunks, ``generate``; five tags, the metadata ``finish`` gives, four assessments) into a store of its own, timed on the
wall clock (building the traces is not timed), and prints traces per second and the ratio to the first row:

  workbench     ``write_traces``: one ``start_trace`` per trace (info, tags, metadata, assessments: one transaction),
                then the spans of 50 traces per ``log_spans``
  spans only    ``log_spans`` alone, which creates the trace rows itself: NOT the same traces (no tags but the trace
                name, no metadata, no assessments; those would cost a ``set_trace_tag`` or ``create_assessment`` call,
                one transaction, each): the most that skipping ``start_trace`` could save
  2 writers     ``write_traces`` split between two processes writing at once (each builds its half first; their
                start-up is not timed)

The figures move with the machine's load: compare the rows of one run, not runs.

    .venv/bin/python bench/trace_logging.py                 # 2000 traces per scenario
    .venv/bin/python bench/trace_logging.py --traces 200    # a quick check that it works
"""

from __future__ import annotations

import argparse
import multiprocessing
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


def workbench_path(uri: str, experiment_id: str, run_id: str, n: int) -> float:
    client = _tracing(uri)
    traces = [fake_trace(experiment_id, run_id, i) for i in range(n)]
    start = time.perf_counter()
    write_traces(client, experiment_id, traces)
    return time.perf_counter() - start


def spans_only(uri: str, experiment_id: str, run_id: str, n: int) -> float:
    client = _tracing(uri)
    finished = [fake_trace(experiment_id, run_id, i).finish() for i in range(n)]
    start = time.perf_counter()
    for batch in range(0, n, 50):
        client.log_spans(experiment_id, [span for _, spans in finished[batch : batch + 50] for span in spans])
    return time.perf_counter() - start


def _writer(uri: str, experiment_id: str, run_id: str, part: range, ready: Any, go: Any) -> None:
    client = _tracing(uri)
    traces = [fake_trace(experiment_id, run_id, i) for i in part]
    ready.release()
    go.wait()
    write_traces(client, experiment_id, traces)


def two_writers(uri: str, experiment_id: str, run_id: str, n: int) -> float:
    context = multiprocessing.get_context("spawn")  # a forked child would share the parent's open sqlite connections
    ready, go = context.Semaphore(0), context.Event()
    halves = (range(0, n // 2), range(n // 2, n))
    writers = [context.Process(target=_writer, args=(uri, experiment_id, run_id, part, ready, go)) for part in halves]
    for writer in writers:
        writer.start()
    for _ in writers:
        ready.acquire()
    start = time.perf_counter()
    go.set()
    for writer in writers:
        writer.join()
    if any(writer.exitcode for writer in writers):
        raise SystemExit(f"a writer process failed (exit codes {[w.exitcode for w in writers]})")
    return time.perf_counter() - start


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
    scenarios = {"workbench": workbench_path, "spans only": spans_only, "2 writers": two_writers}
    with tempfile.TemporaryDirectory(prefix="trace-bench-") as tmp:
        rows = []
        for name, scenario in scenarios.items():
            uri, experiment_id, run_id = new_store(Path(tmp), name.replace(" ", "_"))
            seconds = scenario(uri, experiment_id, run_id, n)
            rows.append((name, seconds, *stored(uri, experiment_id)))
    print(f"{n} traces per scenario, sqlite store (WAL)")
    print(f"{'scenario':<12} {'seconds':>8} {'traces/s':>9} {'ratio':>6} {'ms/trace':>9} {'stored':>7} {'assessments':>12}")
    base = rows[0][1]
    for name, seconds, traces, assessments in rows:
        print(f"{name:<12} {seconds:8.2f} {n / seconds:9.1f} {base / seconds:5.2f}x {seconds / n * 1000:9.2f} {traces:7d} {assessments:12d}")


if __name__ == "__main__":
    main()
