"""The Ray backend against a real local Ray instance started here: the same grid gives the same results as the
local backend, through the same caches and the same MLflow logging. Under CI=true a Ray that cannot start fails."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench.cache import DiskCacheStore
from workbench.execution._ray import local_ray_site
from workbench.models import MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.spec import ExperimentSpec
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.testing.crashing import CrashingModel
from workbench.tracking import MemoryTracker

from tests.conftest import mlflow_client

ROOT = Path(__file__).resolve().parents[2]


def require_ray() -> Any:
    """The ray module; without it a skip on a developer's machine, a failure under CI=true (where it must be there)."""
    try:
        import ray
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("ray is not installed (pip install 'workbench[ray]')", allow_module_level=True)
    return ray


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[object]:
    ray = require_ray()
    found = signal.getsignal(signal.SIGTERM)
    with pytest.MonkeyPatch.context() as mp:  # the rest of this pytest worker keeps its environment
        if "RAY_AUTH_MODE" not in os.environ:
            mp.setenv("RAY_AUTH_MODE", "disabled")  # a throwaway local instance
        mp.setenv("PYTHONBREAKPOINT", os.environ.get("PYTHONBREAKPOINT", ""))  # ray.init points it at Ray's debugger
        mp.setenv("RAY_USAGE_STATS_ENABLED", os.environ.get("RAY_USAGE_STATS_ENABLED", "0"))  # and turns usage stats off
        with local_ray_site():  # as the workbench starts a local instance
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        # ray.init's SIGTERM handler (sys.exit) failed only the test running when `timeout` or a CI runner stopped
        # pytest, which went on with the next ones: a SIGTERM now stops pytest as Ctrl+C does, whose teardown (below)
        # shuts the instance down
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            yield ray
        finally:
            ray.shutdown()
            # ray.init's own SIGTERM handler (sys.exit) outlives the shutdown: a later SIGTERM test in this pytest worker
            # ended the worker (CI: "node down: Not properly terminated")
            signal.signal(signal.SIGTERM, found)


def spec_of(backend: str, models: list[str], **extra: object) -> ExperimentSpec:
    data = {
        "name": f"ray-{backend}",
        "dataset": {"path": "datasets/python_docs.jsonl", "limit": 4},
        "corpus": {"builtin": "python-reference"},
        "prompts": [
            {"name": "p1", "template": "Context: {context}\nQuestion: {question}\nAnswer:"},
            {"name": "p2", "template": "{context}\n\nQ: {question}\nA:"},
        ],
        "models": [{"id": m} for m in models],
        "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
        "scorers": ["token_f1", "exact_match", "hit_at_k", "mrr"],
        "execution": {"backend": backend, "workers": 2},
        **extra,
    }
    return ExperimentSpec.from_dict(data, base_dir=ROOT)


def first_sentence(prompt) -> str:  # type: ignore[no-untyped-def]
    context = prompt.text.split("Context:", 1)[-1].split("Question:", 1)[0].strip()
    return context.split(". ")[0][:120]


def test_a_ray_sweep_gives_the_local_backends_results_and_logs_the_same(ray_instance, wb_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    outcomes = {}
    for backend in ("local", "ray"):
        model = ScriptedModel(lambda p: first_sentence(p), model_id="ollama:scripted", identity=f"scripted:{backend}")
        models = {"ollama:scripted": model, MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
        cache = DiskCacheStore(tmp_path / f"cache-{backend}")
        result = wb.run(spec_of(backend, ["ollama:scripted"]), models=models, index_store=MemoryIndexStore(), settings=wb_settings,
                        progress=False, cache=cache)
        assert [v.status for v in result.variants] == ["FINISHED", "FINISHED"], [v.outcome.error for v in result.variants]
        assert len(model.calls) == 2 * 4  # every call recorded, wherever it ran
        assert cache.info().entries["generation"] == 2 * 4  # the workers' answers are in the caller's cache
        metrics = {v.variant.name: {k: round(x, 9) for k, x in v.metrics.items() if not k.startswith("latency")} for v in result.variants}
        answers = {v.variant.name: [r.answer for r in v.records] for v in result.variants}
        runs = mlflow_client(wb_settings.tracking_uri).search_runs(
            [result.experiment_id], f"tags.`mlflow.parentRunId` = '{result.parent_run_id}'"
        )
        outcomes[backend] = (metrics, answers, len(runs))
    assert outcomes["ray"] == outcomes["local"]
    assert outcomes["ray"][2] == 2


def test_a_ray_task_that_dies_is_a_failed_run_and_the_others_finish(ray_instance, wb_settings) -> None:  # type: ignore[no-untyped-def]
    models = {
        "ollama:segfault": CrashingModel("segfault", model_id="ollama:segfault"),
        "ollama:good": ScriptedModel(lambda p: "fine", model_id="ollama:good"),
        MINILM_ID: HashingEmbedder(model_id=MINILM_ID),
    }
    spec = spec_of("ray", ["ollama:segfault", "ollama:good"], prompts=[{"name": "p", "template": "{context} {question}"}])
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, tracker=MemoryTracker())
    by_model = {v.variant.model.id: v for v in result.variants}  # type: ignore[union-attr]
    assert by_model["ollama:good"].status == "FINISHED"
    crashed = by_model["ollama:segfault"]
    assert crashed.status == "FAILED" and crashed.outcome.error_kind == "ray"
    assert crashed.outcome.error and crashed.outcome.error.startswith("Ray task failed:")


def sleepy(prompt) -> str:  # type: ignore[no-untyped-def]
    import time

    time.sleep(30)
    return "late"


def test_stop_cancels_a_running_ray_task_and_ends_the_sweep_killed(ray_instance, wb_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The RunPanel's Stop left a Ray task answering every question of its variant (or until its wall time), and the
    sweep ended FINISHED or FAILED long after the user stopped it."""
    import threading
    import time

    from workbench.execution import _ray

    monkeypatch.setattr(_ray, "STOP_GRACE_S", 2.0)  # the task's call in flight never ends: it is cancelled past the grace (5 s in use)
    models = {"ollama:sleepy": ScriptedModel(sleepy, model_id="ollama:sleepy"), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = spec_of("ray", ["ollama:sleepy"], prompts=[{"name": "p", "template": "{context} {question}"}],
                   limits={"wall_time_s": 20})
    stop = threading.Event()
    started: list[float] = []

    def on_event(event: wb.ProgressEvent) -> None:
        if event.kind == "variant_started":
            started.append(time.monotonic())
            threading.Timer(1.0, stop.set).start()

    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, stop=stop,
                    on_event=on_event)
    assert time.monotonic() - started[0] < 15
    [variant] = result.variants
    assert (variant.status, variant.outcome.error_kind) == ("STOPPED", "stopped"), variant.outcome.error
    assert mlflow_client(wb_settings.tracking_uri).get_run(result.parent_run_id).info.status == "KILLED"


def slow_after_the_first(first: Path, started: Path):  # type: ignore[no-untyped-def]
    """A script whose every answer after the first takes a second; the second says when it starts (``started``)."""

    def respond(prompt) -> str:  # type: ignore[no-untyped-def]
        import time

        if first.exists():
            started.touch()
            time.sleep(1.0)
        else:
            first.touch()
        return first_sentence(prompt)

    return respond


@pytest.mark.parametrize("how", ["stop", "SIGINT"])
def test_a_stopped_ray_task_finishes_its_call_in_flight_and_its_run_keeps_its_answers(ray_instance, wb_settings, tmp_path, how) -> None:  # type: ignore[no-untyped-def]
    """The Stop button (or Ctrl+C) cancelled a Ray task with force: the answer its model was producing (paid for) was
    lost and asked again on resume, and the stopped variant's run was logged without the answers it had."""
    import threading
    import time

    started = tmp_path / "second-call"
    model = ScriptedModel(slow_after_the_first(tmp_path / "first-call", started), model_id="ollama:slow", identity="scripted:slow")
    models = {"ollama:slow": model, MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = spec_of("ray", ["ollama:slow"], prompts=[{"name": "p", "template": "Context: {context}\nQuestion: {question}\nAnswer:"}],
                   execution={"backend": "ray", "workers": 2, "concurrency": {"ollama": 1}})  # one question at a time
    stop = threading.Event()

    def press() -> None:
        while not started.exists():
            time.sleep(0.02)
        stop.set() if how == "stop" else os.kill(os.getpid(), signal.SIGINT)

    pressing = threading.Thread(target=press, daemon=True)
    pressing.start()
    cache = DiskCacheStore(tmp_path / "cache")
    options = {"models": models, "index_store": MemoryIndexStore(), "settings": wb_settings, "progress": False, "cache": cache}
    if how == "stop":
        [variant] = wb.run(spec, stop=stop, **options).variants  # type: ignore[arg-type]
        assert (variant.status, len(variant.records)) == ("STOPPED", 2), variant.outcome.error
    else:
        with pytest.raises(KeyboardInterrupt):
            wb.run(spec, **options)  # type: ignore[arg-type]
    pressing.join()
    assert len(model.calls) == 2 and cache.info().entries["generation"] == 2  # the call in flight finished and was stored
    client = mlflow_client(wb_settings.tracking_uri)
    [logged] = client.search_runs([client.get_experiment_by_name(spec.name).experiment_id], "tags.`workbench.kind` = 'variant'")
    assert logged.data.metrics["questions"] == 2
    again = wb.run(spec, **options)  # type: ignore[arg-type]
    assert again.variants[0].status == "FINISHED" and again.variants[0].metrics["cache_hits"] == 2
    assert len(model.calls) == 4  # nothing asked twice


def test_a_ctrl_c_while_a_ray_result_is_logged_lets_the_other_task_finish_its_call_in_flight(ray_instance, wb_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A Ctrl+C that landed as the runner logged one variant (not in Ray's wait) cancelled the other tasks with force:
    the answer being produced was lost and the other variant's run was never logged with the answers it had."""
    import time

    from workbench.tracking import MlflowTracker

    started = tmp_path / "second-call"
    slow = ScriptedModel(slow_after_the_first(tmp_path / "first-call", started), model_id="local:gemma3-270m", identity="scripted:slow")
    models = {"local:gemma3-270m": slow, "ollama:fast": ScriptedModel(first_sentence, model_id="ollama:fast"),
              MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = spec_of("ray", ["local:gemma3-270m", "ollama:fast"], prompts=[{"name": "p", "template": "Context: {context}\nQuestion: {question}\nAnswer:"}])

    class InterruptedWhileLogging(MlflowTracker):
        pressed = False

        def log_variant(self, sweep, result, dataset, **options):  # type: ignore[no-untyped-def]
            if not self.pressed:
                self.pressed = True
                while not started.exists():  # the slow variant has an answer and a call in flight
                    time.sleep(0.02)
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(2.0)  # the Ctrl+C lands here
            return super().log_variant(sweep, result, dataset, **options)

    cache = DiskCacheStore(tmp_path / "cache")
    with pytest.raises(KeyboardInterrupt):
        wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, cache=cache,  # type: ignore[arg-type]
               tracker=InterruptedWhileLogging(wb_settings.tracking_uri))
    client = mlflow_client(wb_settings.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(spec.name).experiment_id], "tags.`workbench.kind` = 'variant'")
    [logged] = [r for r in runs if "gemma3" in r.info.run_name]
    assert logged.data.metrics["questions"] == 2  # the answer it had and the one in flight


def slow_answer(prompt) -> str:  # type: ignore[no-untyped-def]
    import time

    time.sleep(1.5)
    return "slow"


def test_a_task_queued_behind_the_clusters_free_cpus_is_not_charged_its_wait_as_wall_time(ray_instance, wb_settings) -> None:  # type: ignore[no-untyped-def]
    """Three variants on a local model (a core each) with workers: 3 on a 2-CPU instance: the third task waits in Ray's
    queue until one of the first two ends. Its wall time counted from its submission, so it failed 'wall-time limit of 7s
    exceeded' after answering for a few seconds; it counts from when the task is ready, as a local worker's does."""
    models = {"local:gemma3-270m": ScriptedModel(slow_answer, model_id="local:gemma3-270m"), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = spec_of("ray", ["local:gemma3-270m"], dataset={"path": "datasets/python_docs.jsonl", "limit": 3},
                   prompts=[{"name": f"p{i}", "template": f"{i} {{context}} {{question}}"} for i in range(3)],
                   limits={"wall_time_s": 7}, execution={"backend": "ray", "workers": 3})
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, tracker=MemoryTracker())
    assert [v.status for v in result.variants] == ["FINISHED"] * 3, [v.outcome.error for v in result.variants]


WORKER_KEY = "worker-only-key-abcdefghijklmnop"  # no known key shape: only its variable says it is a secret


def refused_with_the_workers_key(prompt) -> str:  # type: ignore[no-untyped-def]
    import os

    os.environ["WORKER_ONLY_API_KEY"] = WORKER_KEY  # the provider key a cluster's workers hold and the caller does not
    raise RuntimeError(f"401 Unauthorized: Incorrect API key provided: {WORKER_KEY}")


def test_a_key_only_the_ray_workers_hold_is_redacted_in_their_errors(ray_instance, wb_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Provider keys come from the Ray workers' environment, not the caller's: a provider error echoing the key came
    back in the task's result whole, and the caller, which does not know the key, logged and printed it."""
    monkeypatch.delenv("WORKER_ONLY_API_KEY", raising=False)
    models = {"ollama:refused": ScriptedModel(refused_with_the_workers_key, model_id="ollama:refused"),
              MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = spec_of("ray", ["ollama:refused"], prompts=[{"name": "p", "template": "{context} {question}"}])
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    [variant] = result.variants
    assert variant.status == "FAILED" and "401 Unauthorized" in (variant.outcome.error or "")
    texts = [variant.outcome.error or "", variant.outcome.traceback or "", *(r.error or "" for r in variant.records)]
    assert all(r.error and "[REDACTED:WORKER_ONLY_API_KEY]" in r.error for r in variant.records)
    assert not [t for t in texts if WORKER_KEY in t]
    client = mlflow_client(wb_settings.tracking_uri)
    run = client.get_run(variant.run_id)
    logged = [*run.data.tags.values(), *run.data.params.values()]  # values, not paths: a tag may be longer than a file name
    logged += [Path(client.download_artifacts(variant.run_id, a.path)).read_text(errors="replace")
               for a in client.list_artifacts(variant.run_id) if not a.is_dir]
    assert not [t for t in logged if WORKER_KEY in t]


def test_a_sweep_from_a_thread_that_ended_leaves_the_local_instance_to_the_next_sweep(tmp_path: Path) -> None:
    """A local Ray instance started by a sweep run from a thread that then ended (concurrent.futures, a script's thread,
    Airflow's task thread) died with that thread: the process's next sweep on Ray ended the whole process ('Failed to
    connect to GCS within 60 seconds'). Run in its own process: this one's Ray is the module's instance."""
    import subprocess
    import sys
    import textwrap

    require_ray()
    script = textwrap.dedent("""
        import threading, time
        import workbench as wb
        from tests.execution.test_ray import spec_of
        from workbench.models import MINILM_ID
        from workbench.pipeline import MemoryIndexStore
        from workbench.testing import HashingEmbedder, ScriptedModel
        from workbench.tracking import MemoryTracker

        def sweep():
            models = {"ollama:good": ScriptedModel(lambda p: "fine", model_id="ollama:good"),
                      MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
            spec = spec_of("ray", ["ollama:good"], prompts=[{"name": "p", "template": "{context} {question}"}])
            result = wb.run(spec, models=models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), progress=False)
            return [v.status for v in result.variants]

        statuses = []
        caller = threading.Thread(target=lambda: statuses.append(sweep()))
        caller.start()
        caller.join()
        time.sleep(2)  # the thread's end took the instance's processes along at once
        statuses.append(sweep())
        print(statuses)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WORKBENCH_ROOT": str(tmp_path), "WORKBENCH_HOME": str(tmp_path / "home"),
           "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled"), "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[['FINISHED'], ['FINISHED']]", proc.stdout[-2000:]
    assert "SIGTERM handler is not set" not in proc.stderr


def _overlapping(folder: Path, prompt) -> str:  # type: ignore[no-untyped-def]
    """A hosted call's answer that notes how many calls were in flight as it started (a file per call in ``folder``,
    seen by every Ray worker process)."""
    mine = folder / f"{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}"
    mine.touch()
    try:
        with open(folder.parent / "in_flight.log", "a", encoding="ascii") as log:
            log.write(f"{len(os.listdir(folder))}\n")
        time.sleep(0.3)
    finally:
        mine.unlink()
    return prompt.text.splitlines()[-1]


def test_ray_tasks_on_one_machine_keep_to_a_limit_smaller_than_their_number(ray_instance, wb_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """(A test of test_slots.py's pools, here to share this module's Ray instance.) Each task kept ``limit // tasks`` calls in flight, at least one: two tasks under ``concurrency: {ollama: 1}``
    sent two calls at once. They now also hold a slot of the cache's pool, which every task on the machine shares."""
    import functools

    folder = tmp_path / "calls"
    folder.mkdir()
    model = ScriptedModel(functools.partial(_overlapping, folder), model_id="ollama:scripted", identity="scripted:ray-slots")
    spec = spec_of("ray", ["ollama:scripted"])
    spec = spec.model_copy(update={"execution": spec.execution.model_copy(update={"concurrency": {"ollama": 1}})})
    result = wb.run(spec, models={"ollama:scripted": model, MINILM_ID: HashingEmbedder(model_id=MINILM_ID)},
                    index_store=MemoryIndexStore(), settings=wb_settings, progress=False, tracker=MemoryTracker())
    assert [v.status for v in result.variants] == ["FINISHED", "FINISHED"], [v.outcome.error for v in result.variants]
    seen = [int(n) for n in (tmp_path / "in_flight.log").read_text().split()]
    assert len(seen) == 2 * 4 and max(seen) == 1, seen


def imported_rouge(prompt) -> str:  # type: ignore[no-untyped-def]
    import sys

    return "imported" if "rouge_score.rouge_scorer" in sys.modules else "not imported"


def test_a_fresh_ray_worker_imports_the_variants_libraries_before_its_wall_time_starts(ray_instance, wb_settings) -> None:  # type: ignore[no-untyped-def]
    """A worker process is forked from a forkserver that imported the models' and scorers' libraries; a fresh Ray
    worker imported them as the variant first used them, within its wall time (the openai client took 2 s of a 5 s
    wall time on a busy machine, so a variant a worker process finished in 1 s FAILED on Ray; ragas takes more). They
    are imported before the wall time starts, as the README says: seen here from the answers, given while a scorer
    imports its library only once it first scores."""
    models = {"ollama:probe": ScriptedModel(imported_rouge, model_id="ollama:probe"), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = spec_of("ray", ["ollama:probe"], prompts=[{"name": "p", "template": "{context} {question}"}], scorers=["rouge_l", "hit_at_k"])
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, tracker=MemoryTracker())
    [variant] = result.variants
    assert variant.status == "FINISHED", variant.outcome.error
    assert [r.answer for r in variant.records] == ["imported"] * 4
