"""Benchmark: how a sweep scales out — worker processes, the Ray backend, and local models on this machine's cores.

Everything runs through the real engine (``wb.run``): worker processes, the real ``openai:`` LangChain provider and
its HTTP client, real Chroma, a real sqlite MLflow store, a real disk cache. Every sweep gets its own temporary
folder (cache, indexes, store) and runs ``fresh``, so nothing is reused. Embeddings come from the testing package's
``HashingEmbedder`` (the indexes are built once per sweep in the caller either way; a real MiniLM would add the same
fixed cost to every row and say nothing about scaling). Scorers: deterministic ones only.

  hosted   ``OpenAIStub(delay_s=0.3)`` (a real OpenAI-compatible HTTP server on loopback, started here in its own
           process, as a hosted API is not in yours) answers every call after 0.3 s; the same grid (``--variants``
           prompts x ``--questions`` questions) with workers = 1, 2, 4, 8.
           Results (answers and scores) must be identical for every worker count.
  ray      the same sweep on the Ray backend (a local Ray instance started here with RAY_AUTH_MODE=disabled) against
           the local backend at the same worker count: overhead per variant.
  local    ``local:gemma3-270m`` (llama.cpp), ``--local-questions`` questions, ``--local-max-tokens`` tokens, with 1 vs 2
           workers: on 2 cores two workers split the cores (one llama.cpp thread each), so expect little or no gain.

Per row: the sweep's wall time; set-up (to the first ``variant_started`` ProgressEvent: inputs, index, MLflow sweep
start); the generation phase (the first model call's start to the last one's end, from the answers' own timestamps);
the tail (last answer to the end of ``wb.run``); the time spent in the tracker's ``log_variant`` (MLflow, in the
caller: one writer) and ``end_sweep``; per variant, on average, ``start/v`` (its ``variant_started`` to its first model
call: worker start, job transfer, models and scorers) and ``hand/v`` (its last answer to the start of its logging:
scoring, the result's way back, and waiting for the writer to finish logging other variants); and throughput
(answers per second over the wall and over the generation phase). Ratios are against workers = 1 of
the same run. One small untimed sweep runs first: a process's first sweep starts the worker forkserver and imports
MLflow, Chroma and the model clients (a notebook pays that once, not per sweep).

    .venv/bin/python bench/scaling.py                                # the full benchmark
    .venv/bin/python bench/scaling.py --variants 4 --questions 4 --workers 1,4 --no-local   # a quick check
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCORERS = ["token_f1", "rouge_l", "exact_match", "hit_at_k", "mrr"]
_LOCATION_VARS = ("WORKBENCH_ROOT", "WORKBENCH_HOME", "WORKBENCH_CACHE_DIR", "MLFLOW_TRACKING_URI")


@dataclass
class Row:
    name: str
    workers: int
    answers: int = 0
    variants: int = 0
    wall_s: float = 0.0
    setup_s: float = 0.0  # to the first variant_started: inputs, indexes, MLflow sweep start
    generation_s: float = 0.0  # the first model call's start -> the last one's end (the answers' own timestamps)
    tail_s: float = 0.0  # the last answer -> the end (the last variants' scoring, hand-over and logging, the sweep's end)
    log_s: float = 0.0  # summed time in the tracker's log_variant (MLflow, the caller's thread)
    end_s: float = 0.0  # the tracker's end_sweep (leaderboard, comparison, plots)
    start_s: float = 0.0  # per variant, mean: variant_started -> its first model call (worker start, job, models, scorers)
    handoff_s: float = 0.0  # per variant, mean: its last answer -> its logging starts (scoring, result, waiting for the writer)
    failed: int = 0
    signature: Any = field(default=None, repr=False)
    note: str = ""

    @property
    def throughput(self) -> float:
        return self.answers / self.wall_s if self.wall_s else 0.0

    @property
    def generation_throughput(self) -> float:
        return self.answers / self.generation_s if self.generation_s else 0.0


def spec_of(*, variants: int, questions: int, model: str, workers: int, backend: str = "local", max_tokens: int = 32) -> Any:
    from workbench.spec import ExperimentSpec

    data = {
        "name": f"scaling-{backend}-{workers}",
        "dataset": {"path": "datasets/python_docs.jsonl", "limit": questions},
        "corpus": {"builtin": "python-reference"},
        "prompts": [{"name": f"p{i}", "template": f"Context: {{context}}\nQuestion {i}: {{question}}\nAnswer:"} for i in range(variants)],
        "models": [{"id": model, "params": {"max_tokens": max_tokens, "timeout_s": 60, "temperature": 0.0}}],
        "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
        "scorers": SCORERS,
        "execution": {"backend": backend, "workers": workers},
        "limits": {"wall_time_s": 1800},
    }
    return ExperimentSpec.from_dict(data, base_dir=ROOT)


@contextmanager
def scratch(label: str) -> Iterator[Path]:
    """A temporary project folder: cache, indexes, sandboxes and the sqlite store live in it, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=f"wb-scaling-{label}-"))
    saved = {k: os.environ.pop(k) for k in _LOCATION_VARS if k in os.environ}
    os.environ["WORKBENCH_HOME"] = str(folder / ".workbench")
    try:
        yield folder
    finally:
        os.environ.pop("WORKBENCH_HOME", None)
        os.environ.update(saved)
        shutil.rmtree(folder, ignore_errors=True)


def timed_tracker(uri: str) -> Any:
    """An MlflowTracker that adds up the time spent in ``log_variant`` and ``end_sweep``."""
    from workbench.tracking import MlflowTracker

    class Timed(MlflowTracker):
        log_s = 0.0
        end_s = 0.0
        log_started: dict[str, float] = {}

        def log_variant(self, sweep: Any, result: Any, *args: Any, **kwargs: Any) -> Any:
            Timed.log_started[result.variant.id] = time.time()
            started = time.perf_counter()
            try:
                return super().log_variant(sweep, result, *args, **kwargs)
            finally:
                Timed.log_s += time.perf_counter() - started

        def end_sweep(self, *args: Any, **kwargs: Any) -> None:
            started = time.perf_counter()
            try:
                super().end_sweep(*args, **kwargs)
            finally:
                Timed.end_s += time.perf_counter() - started

    Timed.log_s = Timed.end_s = 0.0
    Timed.log_started = {}
    return Timed(uri)


def one_sweep(name: str, spec: Any, *, models: dict[str, Any] | None = None) -> Row:
    """Run ``spec`` fresh in its own temporary project and time it."""
    import workbench as wb
    from workbench.config import settings

    with scratch(name.replace(" ", "-")) as folder:
        cfg = settings(root=folder, tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
        tracker = timed_tracker(cfg.tracking_uri)
        variant_started: dict[str, float] = {}  # wall clock (time.time), as the answers' timestamps

        def on_event(event: wb.ProgressEvent) -> None:
            if event.kind == "variant_started" and event.variant is not None:
                variant_started[event.variant.id] = time.time()

        started = time.time()
        result = wb.run(spec, tracker=tracker, models=models, settings=cfg, progress=False, fresh=True, on_event=on_event)
        ended = time.time()
    for failed in result.failed:
        print(f"    FAILED {failed.variant.name}: {failed.outcome.error}", file=sys.stderr)
    calls = [(r.retrieved_ns / 1e9, r.ended_ns / 1e9) for v in result.variants for r in v.records if r.generation is not None]
    first = min((c[0] for c in calls), default=started)
    last = max((c[1] for c in calls), default=ended)
    starts, handoffs = [], []
    for v in result.variants:
        mine = [(r.retrieved_ns / 1e9, r.ended_ns / 1e9) for r in v.records if r.generation is not None]
        if mine and v.variant.id in variant_started:
            starts.append(min(c[0] for c in mine) - variant_started[v.variant.id])
        if mine and v.variant.id in type(tracker).log_started:
            handoffs.append(type(tracker).log_started[v.variant.id] - max(c[1] for c in mine))
    signature = {
        v.variant.id: ([r.answer for r in v.records], {k: round(x, 9) for k, x in v.metrics.items() if k in SCORERS})
        for v in result.variants
    }
    return Row(
        name=name, workers=spec.execution.workers, answers=sum(len(v.records) for v in result.variants if v.status == "FINISHED"),
        variants=len(result.variants), wall_s=ended - started, setup_s=min(variant_started.values(), default=started) - started,
        generation_s=last - first, tail_s=ended - last, log_s=type(tracker).log_s, end_s=type(tracker).end_s,
        start_s=sum(starts) / len(starts) if starts else 0.0, handoff_s=sum(handoffs) / len(handoffs) if handoffs else 0.0,
        failed=sum(1 for v in result.variants if v.status != "FINISHED"), signature=signature,
    )


@dataclass
class StubProcess:
    base_url: str

    def stats(self) -> dict[str, int]:
        import json
        import urllib.request

        with urllib.request.urlopen(f"{self.base_url}/stats", timeout=5) as reply:
            return json.loads(reply.read())  # type: ignore[no-any-return]


@contextmanager
def stub_process(delay_s: float) -> Iterator[StubProcess]:
    """The OpenAI stub in its own process (``python -m workbench.testing.openai_stub``), as a hosted API would be:
    its answering never shares the measured process's interpreter."""
    import subprocess

    proc = subprocess.Popen([sys.executable, "-m", "workbench.testing.openai_stub", "--delay", str(delay_s)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise SystemExit(f"the stub server did not start (exit {proc.poll()})")
        yield StubProcess(url)
    finally:
        proc.kill()
        proc.wait()


def embedders() -> dict[str, Any]:
    from workbench.models import MINILM_ID
    from workbench.testing import HashingEmbedder

    return {MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}


def hosted(args: argparse.Namespace, stub_url: str) -> list[Row]:
    rows = []
    for workers in args.workers:
        spec = spec_of(variants=args.variants, questions=args.questions, model="openai:gpt-4o-mini", workers=workers)
        rows.append(one_sweep(f"hosted local w={workers}", spec, models=embedders()))
        _progress(rows[-1])
    return rows


def on_ray(args: argparse.Namespace, workers: int) -> list[Row]:
    """The hosted sweep on a local Ray instance sized for ``workers`` tasks at once, and on the local backend."""
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a throwaway local instance
    # a task asks for one CPU; a default local instance has os.cpu_count() of them, which would cap the tasks at once
    # at the core count whatever `workers` says (fine for local models, too few for hosted calls that mostly wait)
    started = time.perf_counter()
    ray.init(num_cpus=max(workers, os.cpu_count() or 1), include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray_start = time.perf_counter() - started
    rows = []
    try:
        spec = spec_of(variants=args.variants, questions=args.questions, model="openai:gpt-4o-mini", workers=workers, backend="ray")
        rows.append(one_sweep(f"hosted ray w={workers}", spec, models=embedders()))
        rows[-1].note = f"ray.init {ray_start:.1f}s (not in wall)"
        _progress(rows[-1])
        # a second Ray sweep: the instance's worker pool is warm now
        rows.append(one_sweep(f"hosted ray w={workers} (2nd)", spec, models=embedders()))
        _progress(rows[-1])
    finally:
        ray.shutdown()
    return rows


def local_models(args: argparse.Namespace) -> list[Row]:
    from workbench.models import GEMMA_ID, MINILM_ID
    from workbench.testing import HashingEmbedder

    rows = []
    for workers in (1, 2):
        spec = spec_of(variants=2, questions=args.local_questions, model=GEMMA_ID, workers=workers, max_tokens=args.local_max_tokens)
        rows.append(one_sweep(f"local gemma w={workers}", spec, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}))
        _progress(rows[-1])
    return rows


def _progress(row: Row) -> None:
    print(f"  {row.name}: {row.wall_s:.1f}s wall, {row.answers} answers, {row.failed} failed", file=sys.stderr, flush=True)


def table(rows: Sequence[Row], baseline: Row | None) -> str:
    head = (f"{'sweep':<28} {'answers':>7} {'wall s':>7} {'setup s':>7} {'gen s':>7} {'tail s':>7} {'log s':>7} {'end s':>6} "
            f"{'start/v':>7} {'hand/v':>7} {'ans/s':>7} {'gen ans/s':>9} {'x wall':>7} {'x gen':>6}  note")
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = f"{r.throughput / baseline.throughput:.2f}" if baseline and baseline.throughput else "-"
        gen_ratio = f"{r.generation_throughput / baseline.generation_throughput:.2f}" if baseline and baseline.generation_throughput else "-"
        note = r.note + (f" {r.failed} FAILED" if r.failed else "")
        lines.append(
            f"{r.name:<28} {r.answers:>7} {r.wall_s:>7.2f} {r.setup_s:>7.2f} {r.generation_s:>7.2f} {r.tail_s:>7.2f} {r.log_s:>7.2f} "
            f"{r.end_s:>6.2f} {r.start_s:>7.2f} {r.handoff_s:>7.2f} {r.throughput:>7.2f} {r.generation_throughput:>9.2f} {ratio:>7} {gen_ratio:>6}  {note}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=8, help="prompts in the hosted grid (one variant each)")
    parser.add_argument("--questions", type=int, default=24, help="questions per variant (default 24: 192 calls, so that a sweep's fixed ~2 s of set-up and end does not hide its throughput)")
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4, 8])
    parser.add_argument("--delay", type=float, default=0.3, help="the stub's answer time, seconds")
    parser.add_argument("--ray-workers", type=int, default=None, help="workers of the Ray comparison (default: the largest --workers)")
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--no-local", action="store_true", help="skip the local-model rows (llama.cpp)")
    parser.add_argument("--local-questions", type=int, default=3)
    parser.add_argument("--local-max-tokens", type=int, default=16)
    args = parser.parse_args(argv)

    for name, value in {"MLFLOW_DISABLE_TELEMETRY": "true", "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1",
                        "TRANSFORMERS_OFFLINE": "1", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}.items():
        os.environ.setdefault(name, value)
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the start", file=sys.stderr)
    with stub_process(args.delay) as stub:
        os.environ["OPENAI_BASE_URL"] = stub.base_url
        os.environ["OPENAI_API_KEY"] = "stub-key"
        # untimed: the first sweep of a process starts the worker forkserver (it imports the workbench, the openai
        # client and rouge once for every later worker) and imports MLflow, Chroma and the rest in this process
        one_sweep("warm-up", spec_of(variants=1, questions=1, model="openai:gpt-4o-mini", workers=1), models=embedders())
        rows = hosted(args, stub.base_url)
        baseline = next((r for r in rows if r.workers == 1), None)
        served = stub.stats()
        print(f"\nHosted (stub, {args.delay:g}s per call): {args.variants} variants x {args.questions} questions, "
              f"{served['requests']} calls, at most {served['max_in_flight']} in flight")
        print(table(rows, baseline))
        same = all(r.signature == rows[0].signature for r in rows)
        print(f"results identical across worker counts: {'yes' if same else 'NO'}")
        best = max(rows, key=lambda r: r.workers)
        if baseline and best.workers > 1:
            x = best.throughput / baseline.throughput
            print(f"{best.workers} workers vs 1: {x:.2f}x over the wall, "
                  f"{best.generation_throughput / baseline.generation_throughput:.2f}x over the generation phase (target >= 6x at 8)")
        if not args.no_ray:
            workers = args.ray_workers or max(args.workers)
            local = next((r for r in rows if r.workers == workers), None)
            ray_rows = on_ray(args, workers)
            print(f"\nRay backend vs local, {workers} workers")
            print(table([*([local] if local else []), *ray_rows], local))
            if local is not None:
                for r in ray_rows:
                    print(f"{r.name}: {(r.wall_s - local.wall_s) / max(1, r.variants):+.2f}s per variant vs local; "
                          f"results identical to local: {'yes' if r.signature == local.signature else 'NO'}")
    if not args.no_local:
        local_rows = local_models(args)
        print(f"\nLocal model (llama.cpp, local:gemma3-270m), 2 variants x {args.local_questions} questions, "
              f"max_tokens {args.local_max_tokens}, {os.cpu_count()} cores")
        print(table(local_rows, local_rows[0]))
        print(f"results identical 1 vs 2 workers: {'yes' if local_rows[0].signature == local_rows[1].signature else 'NO'}")
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end (other work on the machine skews every figure)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
