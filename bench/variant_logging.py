"""Benchmark: what logging a sweep's variant runs to a sqlite MLflow store costs, per variant, measured in one run.

A sweep of 4 variants (2 prompts x 2 chunkers) over N questions runs with deterministic fakes (a scripted model, the
hashing embedder, an in-memory index store), so nearly all of its time is the tracker's; each repetition uses a fresh
sqlite store. Each tracker call the sweep makes is timed on the wall clock and in CPU seconds, and the store
transactions it opens (each ``BEGIN`` on the sqlite database, whichever MLflow call opened it) are counted:

  start sweep       ``start_sweep`` (the parent run, its params, experiment.yaml, the dataset and corpus inputs)
  log variant       ``log_variant`` per computed variant (params, metrics, tags, its artifacts, N traces, the dataset)
    of it: traces   ``write_traces`` of those N traces, the floor of a variant's run (the rest is its run's own)
  end sweep         ``end_sweep`` (totals, leaderboard, comparison, plots off)
  reuse check       the warm re-run's ``reusable`` (one search for every variant)
  reuse variant     ``reuse_variant`` per variant of the warm re-run (a copy of the run, its traces linked)

The ratio column is each row's wall-clock milliseconds against ``log variant``'s. The figures move with the machine's
load (the wall clock counts the time the process waited for a core; the CPU column does not): compare rows of one run,
and the CPU and transactions columns across runs (``PYTHONPATH=<an older checkout>`` runs this file against its code).

    .venv/bin/python bench/variant_logging.py                    # 40 questions, 3 repetitions
    .venv/bin/python bench/variant_logging.py --questions 5 -r 1 # a quick check that it works
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("WORKBENCH_PLOTS", "0")  # plots are matplotlib's time, not the store's

import workbench as wb
from workbench.config import settings
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.spec import ExperimentSpec
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import MlflowTracker
from workbench.tracking import _mlflow

ROOT = Path(__file__).resolve().parents[1]
TIMED = ("start_sweep", "log_variant", "end_sweep", "reusable", "reuse_variant")


class TimedTracker(MlflowTracker):
    """An ``MlflowTracker`` timing its sweep calls and counting the store transactions each opens."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seconds: dict[str, list[float]] = collections.defaultdict(list)
        self.cpu: dict[str, list[float]] = collections.defaultdict(list)
        self.calls: collections.Counter[str] = collections.Counter()
        self._step = "other"

    def began(self, *_: Any) -> None:
        self.calls[self._step] += 1

    def _timed(self, name: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        self._step = name
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return call(*args, **kwargs)
        finally:
            self.seconds[name].append(time.perf_counter() - start)
            self.cpu[name].append(time.process_time() - cpu)
            self._step = "other"

    def start_sweep(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("start_sweep", super().start_sweep, *args, **kwargs)

    def log_variant(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("log_variant", super().log_variant, *args, **kwargs)

    def end_sweep(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("end_sweep", super().end_sweep, *args, **kwargs)

    def reusable(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("reusable", super().reusable, *args, **kwargs)

    def reuse_variant(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("reuse_variant", super().reuse_variant, *args, **kwargs)


def make_spec(questions: int) -> ExperimentSpec:
    return ExperimentSpec.from_dict({
        "name": "variant-logging", "dataset": {"path": "datasets/python_docs.jsonl", "limit": questions},
        "corpus": {"builtin": "python-reference"},
        "prompts": [{"name": "p1", "template": "Context: {context}\nQuestion: {question}\nAnswer:"},
                    {"name": "p2", "template": "{context}\n\nQ: {question}\nA:", "system": "Answer briefly."}],
        "models": [{"id": GEMMA_ID, "params": {"max_tokens": 16}}],
        "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}, {"strategy": "sentence", "size": 300, "overlap": 0}],
        "retrieval": [{"k": 3}], "scorers": ["token_f1", "hit_at_k", "mrr"], "execution": {"isolation": "none"},
    }, base_dir=ROOT)


def one_store(folder: Path, spec: ExperimentSpec, indexes: MemoryIndexStore) -> tuple[TimedTracker, TimedTracker]:
    """A cold sweep and its warm re-run into a fresh store; the trackers that logged them."""
    cfg = settings(root=folder, tracking_uri=f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}")
    models = {GEMMA_ID: ScriptedModel(lambda p: p.text[-40:], model_id=GEMMA_ID, identity="scripted:bench"),
              MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    trackers = []
    for _ in ("cold", "warm"):
        tracker = TimedTracker(cfg.tracking_uri, artifact_root=cfg.artifact_root)
        traces = _mlflow.write_traces

        def timed_traces(*args: Any, **kwargs: Any) -> Any:
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return traces(*args, **kwargs)
            finally:
                tracker.seconds["traces"].append(time.perf_counter() - start)
                tracker.cpu["traces"].append(time.process_time() - cpu)

        _mlflow.write_traces = timed_traces
        event.listen(Engine, "begin", tracker.began)
        try:
            wb.run(spec, settings=cfg, models=models, index_store=indexes, tracker=tracker, progress=False)
        finally:
            event.remove(Engine, "begin", tracker.began)
            _mlflow.write_traces = traces
        tracker.close()
        trackers.append(tracker)
    return trackers[0], trackers[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=40, help="questions per variant (at most 55; default 40)")
    parser.add_argument("-r", "--repeat", type=int, default=3, help="fresh stores, the median taken (default 3)")
    options = parser.parse_args()
    spec, indexes = make_spec(options.questions), MemoryIndexStore()
    seconds: dict[str, list[float]] = collections.defaultdict(list)
    cpu: dict[str, list[float]] = collections.defaultdict(list)
    calls: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="variant-logging-") as tmp:
        one_store(Path(tmp) / "warm-up", spec, indexes)  # imports, MLflow's store set-up and the indexes, off the record
        for i in range(options.repeat):
            cold, warm = one_store(Path(tmp) / str(i), spec, indexes)
            for name, tracker in (("cold", cold), ("warm", warm)):
                for step, times in tracker.seconds.items():
                    if (name == "cold") == (step not in ("reusable", "reuse_variant")):
                        seconds[step].append(statistics.fmean(times) if step in ("log_variant", "reuse_variant", "traces") else sum(times))
                        cpu[step].append(statistics.fmean(tracker.cpu[step]) if step in ("log_variant", "reuse_variant", "traces")
                                         else sum(tracker.cpu[step]))
                for step, n in tracker.calls.items():
                    if step in TIMED and (name == "cold") == (step not in ("reusable", "reuse_variant")):
                        calls[step] = n
    per_variant = {"log_variant": 4, "reuse_variant": 4}
    rows = [("start sweep", "start_sweep"), ("log variant", "log_variant"), ("  of it: traces", "traces"), ("end sweep", "end_sweep"),
            ("reuse check", "reusable"), ("reuse variant", "reuse_variant")]
    base = statistics.median(seconds["log_variant"])
    print(f"4 variants x {options.questions} questions, sqlite store, median of {options.repeat} fresh stores")
    print(f"{'step':<16} {'ms':>8} {'ratio':>6} {'CPU ms':>8} {'transactions':>13}")
    for label, step in rows:
        ms, cpu_ms = statistics.median(seconds[step]) * 1000, statistics.median(cpu[step]) * 1000
        n = calls.get(step)
        said = "" if n is None else f"{n / per_variant.get(step, 1):.0f}" + (" a variant" if step in per_variant else "")
        print(f"{label:<16} {ms:8.1f} {ms / 1000 / base:5.2f}x {cpu_ms:8.1f} {said:>13}")


if __name__ == "__main__":
    main()
