"""How many variants an executor runs at once, what its worker processes import before the first one starts, and when
an idle worker may be kept."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.execution._executors import _memory_to_spare, _preload, variants_at_once
from workbench.grid import expand_grid
from workbench.models import MINILM_ID
from workbench.spec import load_experiment

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("workers", "question_workers", "expected"),
    [(1, 1, 1), (8, 1, 8), (2, 1, 2), (8, 8, 3), (8, 2, 6), (8, 4, 4), (4, 4, 3), (2, 2, 2), (16, 8, 4)],
)
def test_variants_at_once_keeps_the_calls_filled_without_a_process_per_variant(workers: int, question_workers: int, expected: int) -> None:
    assert variants_at_once(workers, question_workers) == expected


def test_the_preload_names_the_libraries_of_the_variants_models_and_scorers() -> None:
    variants = expand_grid(load_experiment(ROOT / "experiments" / "quickstart.yaml"))
    assert _preload(variants, ("rouge_l", "semantic_similarity"), {}) == ("llama_cpp", "rouge_score.rouge_scorer", "sentence_transformers")
    # models and embedders injected by the caller are not imported for them
    injected = {m.id: object() for v in variants for m in v.answering_models} | {MINILM_ID: object()}
    assert _preload(variants, ("rouge_l", "semantic_similarity"), injected) == ("rouge_score.rouge_scorer",)
    assert _preload([], ("rouge_l",), {}) == ()


def test_the_preload_names_the_library_of_a_hosted_judge_of_local_answers() -> None:
    # a hosted judge's client was imported by each worker process on its own (seconds each), not once by the forkserver
    variants = expand_grid(load_experiment(ROOT / "experiments" / "quickstart.yaml"))
    assert _preload(variants, ("rouge_l", "faithfulness"), {}, judge="openai:gpt-4o-mini") == (
        "llama_cpp", "langchain_openai", "openai.resources", "httpcore", "h11", "rouge_score.rouge_scorer", "ragas.dataset_schema",
        "ragas.metrics", "ragas.metrics.collections")
    # a judge model injected by the caller is not imported for it; nor is a judge no scorer asks
    assert _preload(variants, ("rouge_l", "faithfulness"), {"openai:gpt-4o-mini": object()}, judge="openai:gpt-4o-mini") == (
        "llama_cpp", "rouge_score.rouge_scorer", "ragas.dataset_schema", "ragas.metrics", "ragas.metrics.collections")
    assert _preload(variants, ("rouge_l",), {}, judge="openai:gpt-4o-mini") == ("llama_cpp", "rouge_score.rouge_scorer")


_STARTED = """
import json, multiprocessing.forkserver as fs, sys
from workbench.execution import executor_for
from workbench.grid import expand_grid
from workbench.spec import ExecutionSpec, load_experiment
variants = expand_grid(load_experiment(sys.argv[1]))
executor_for(ExecutionSpec(isolation=sys.argv[2])).prepare(variants[: int(sys.argv[3])], scorer_names=("rouge_l",), overrides={})
server = fs._forkserver
print(json.dumps({"pid": server._forkserver_pid, "preload": server._preload_modules}))
"""


@pytest.mark.parametrize(("isolation", "variants", "started"), [("process", 2, True), ("none", 2, False), ("process", 0, False)])
def test_prepare_starts_the_worker_server_with_its_preload_before_any_job(isolation: str, variants: int, started: bool) -> None:
    experiment = str(ROOT / "experiments" / "quickstart.yaml")
    out = subprocess.run([sys.executable, "-c", _STARTED, experiment, isolation, str(variants)], capture_output=True, text=True, timeout=120, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert (seen["pid"] is not None) is started
    if started:
        assert seen["preload"] == ["workbench.execution._process", "llama_cpp", "rouge_score.rouge_scorer"]


def test_a_worker_server_that_cannot_start_early_fails_no_sweep_there(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.execution import _executors, executor_for
    from workbench.spec import ExecutionSpec

    def refuse(preload: tuple[str, ...]) -> None:
        raise OSError("no more processes")

    monkeypatch.setattr(_executors, "start_worker_server", refuse)
    variants = expand_grid(load_experiment(ROOT / "experiments" / "quickstart.yaml"))
    # the first worker's start meets the same error and fails its variant, as it did before workers started early
    assert executor_for(ExecutionSpec()).prepare(variants, scorer_names=(), overrides={}) is None


def test_a_worker_is_kept_only_while_the_memory_it_reads_allows() -> None:
    assert _memory_to_spare(reserve=0.0)  # something is available
    assert not _memory_to_spare(reserve=1.0)  # never all of it: so /proc/meminfo was read, not guessed


@pytest.mark.parametrize("isolation", ["none", "process"])
def test_every_progress_event_of_a_stopped_sweep_comes_from_the_thread_that_called_run(isolation: str, wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # a stop= seen first by a variant's thread (its worker between two questions) said sweep_stopping from that thread:
    # the RunPanel's and the CLI's callbacks, written for the caller's thread as every other event comes, ran beside it
    import threading

    import workbench as wb
    from workbench.pipeline import MemoryIndexStore
    from workbench.tracking import MemoryTracker

    from ..test_runner import make_spec

    stop = threading.Event()
    threads: dict[str, set[int]] = {}

    def on_event(event: wb.ProgressEvent) -> None:
        threads.setdefault(event.kind, set()).add(threading.get_ident())
        if event.kind == "question_done":
            stop.set()

    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], execution={"isolation": isolation, "workers": 1})
    result = wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings,
                    progress=False, stop=stop, on_event=on_event)
    assert result.status == "KILLED" and "sweep_stopping" in threads
    assert {kind: ids for kind, ids in threads.items() if ids != {threading.get_ident()}} == {}
