"""Executors run a sweep's variant jobs and hand back results as they finish, in the caller's thread.

``LocalExecutor`` runs up to ``workers`` variants at once, each in its own worker process (``isolation: process``) or
in a thread of the caller's process (``isolation: none``). ``RayExecutor`` (workbench.execution._ray) runs them as
Ray tasks. Either way the caller sees one stream: progress callbacks and finished results, all in its own thread, so
the tracker has one writer.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from workbench.execution._process import KILL_GRACE_S, STOP_GRACE_S, WorkerProcess, start_worker_server
from workbench.execution._worker import ModelResolver, VariantJob, _jobs_preload, _preload, failed_result, run_job, with_slots
from workbench.grid import Variant
from workbench.models import runs_locally
from workbench.results import VariantResult
from workbench.spec import ExecutionSpec

__all__ = ["Executor", "LocalExecutor", "executor_for", "llama_threads", "variants_at_once"]

OnQuestion = Callable[[Variant, str, int, int], None]


def _nothing() -> None:
    return None


def _never() -> bool:
    return False


class Executor(Protocol):
    """Runs variant jobs; yields each result as it finishes (callbacks and results come in the calling thread)."""

    def run(
        self, jobs: Sequence[VariantJob], *, on_start: Callable[[Variant], None], on_question: OnQuestion, stop: Callable[[], bool],
        on_stopping: Callable[[], None] = _nothing, abandon: Callable[[], bool] = _never,
    ) -> Iterator[VariantResult]:
        """``stop`` is asked in the calling thread at least every 0.2 s while variants run (by the variants' threads
        too), so the caller says from its own thread that the sweep stops. ``on_stopping`` is called (in the calling
        thread) when a Ctrl+C or SIGTERM reaches the executor, as its running variants start to finish their calls in
        flight (``STOP_GRACE_S`` at most): the caller says so at once, instead of a silence a user reads as a hang. ``abandon``, polled once ``stop`` is true, ends the variants'
        workers without waiting for those calls (the RunPanel's Stop pressed twice, as a second Ctrl+C does)."""
        ...

    def prepare(self, variants: Sequence[Variant], *, scorer_names: Sequence[str], overrides: Mapping[str, Any], judge: str | None = None) -> None:
        """Start what running these variants will need, in the background, before their jobs are ready (the caller
        builds indexes meanwhile). ``scorer_names`` are the generating variants' scorers; ``overrides`` the models
        injected by the caller; ``judge`` the spec's judge model, if any."""

    def keep_workers(self, variant_ids: Collection[str]) -> None:
        """Keep the worker processes of these variants up between their jobs (racing's batches: each loads its models
        once), and end the others' (all of them, given none)."""


def llama_threads(workers: int, cores: int | None = None) -> int:
    """llama.cpp threads per worker: the cores split between the workers running local models at once."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


def variants_at_once(workers: int, question_workers: int) -> int:
    """How many variants run at once: ``workers``, or, for variants whose own questions already fill the calls in
    flight (hosted models answer ``question_workers`` questions at once), enough to keep the calls filled plus two
    starting up or finishing.

    Eight hosted variants with ``workers: 8`` run three at a time, each with up to eight questions in flight (the
    provider's slots are shared by the sweep): they finish one after another, so each one's logging, in the caller,
    overlaps the next ones' calls instead of all eight queuing for the one writer at the end.
    """
    return max(1, min(workers, -(-workers // max(1, question_workers)) + 2))


class LocalExecutor:
    """Variants in worker processes (or threads, ``isolation: none``) on this machine, ``workers`` at a time.

    Args:
        execution: the spec's ``execution`` section.
        resolver: the caller's models (``isolation: none`` runs share them instead of loading their own).
    """

    def __init__(self, execution: ExecutionSpec, *, resolver: ModelResolver | None = None) -> None:
        self.execution = execution
        self.resolver = resolver
        self._keep: frozenset[str] = frozenset()
        self._kept: dict[str, WorkerProcess] = {}  # idle workers, by variant id
        self._kept_lock = threading.Lock()

    def prepare(self, variants: Sequence[Variant], *, scorer_names: Sequence[str], overrides: Mapping[str, Any], judge: str | None = None) -> None:
        """Start the worker processes' forkserver, which imports the libraries they need (about 13 s for llama.cpp,
        torch and ragas on 2 cores), while the caller loads its own and builds the indexes."""
        generating = [v for v in variants if v.generates]
        if self.execution.isolation == "process" and generating:
            try:
                start_worker_server(_preload(generating, scorer_names, overrides, judge))
            except Exception:  # noqa: BLE001 - it fails again when the first worker starts, and fails that variant
                pass

    def keep_workers(self, variant_ids: Collection[str]) -> None:
        """Keep these variants' worker processes up between their jobs, while a quarter of the machine's memory is
        free (an idle worker holds its models: about 160 MB of its own with Gemma 3 270M loaded, the model file's pages
        shared); end the others'."""
        with self._kept_lock:
            self._keep = frozenset(variant_ids)
            ending = [self._kept.pop(key) for key in list(self._kept) if key not in self._keep]
        for worker in ending:
            worker.close()

    def _in_process(
        self, job: VariantJob, *, on_question: Any, stop: Callable[[], bool], abandon: Callable[[], bool], threads: int,
        preload: tuple[str, ...],
    ) -> VariantResult:
        """Run a job in its variant's kept worker, or a new one; keep the worker afterwards if asked to. ``abandon``:
        end the worker now (see ``WorkerProcess.run``)."""
        key = job.variant.id
        with self._kept_lock:
            worker = self._kept.pop(key, None)
        if worker is not None and not worker.process.is_alive():  # died while idle (the OOM killer): not the job's fault
            worker.close()
            worker = None
        worker = worker or WorkerProcess(key, preload)
        try:
            result = worker.run(job, on_question=on_question, stop=stop, threads=threads, abandon=abandon)
        finally:
            with self._kept_lock:
                keep = worker.usable and key in self._keep and not stop() and _memory_to_spare()
                if keep:
                    self._kept[key] = worker
            if not keep:
                worker.close()
        return result

    def run(
        self, jobs: Sequence[VariantJob], *, on_start: Callable[[Variant], None], on_question: OnQuestion, stop: Callable[[], bool],
        on_stopping: Callable[[], None] = _nothing, abandon: Callable[[], bool] = _never,
    ) -> Iterator[VariantResult]:
        if not jobs:
            return
        folder = tempfile.mkdtemp(prefix="workbench-slots-")
        jobs = with_slots(jobs, self.execution, folder)
        local = sum(1 for j in jobs if any(runs_locally(m.id) for m in j.variant.answering_models))
        threads = llama_threads(min(self.execution.workers, max(local, 1)))
        preload = _jobs_preload(jobs)
        inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        # Ctrl+C or SIGTERM: the variants running stop after their calls in flight (paid for: stored and logged), a
        # worker process for STOP_GRACE_S at most; a second one, or an error, ends worker processes at once (a question
        # in flight can take minutes, or never end), while threads (isolation: none) still stop after their question
        winding = threading.Event()
        aborting = threading.Event()

        def halt() -> bool:
            return aborting.is_set() or winding.is_set() or stop()

        def work(job: VariantJob) -> None:
            tell = lambda kind, done, total: inbox.put(("question", (job.variant, kind, done, total)))  # noqa: E731
            try:
                if self.execution.isolation == "process" and job.generates:
                    result = self._in_process(job, on_question=tell, stop=halt, abandon=lambda: aborting.is_set() or abandon(), threads=threads, preload=preload)
                else:
                    result = run_job(job, on_question=tell, stop=halt, resolver=self.resolver)
            except BaseException as exc:  # noqa: BLE001 - a supervisor's own failure fails its variant, not the sweep
                result = failed_result(job.variant, f"{type(exc).__name__}: {exc}", type(exc).__name__, job.stats)
            inbox.put(("result", result))

        # a variant starts only from here, after the previous results were handed over: a stop asked for while the
        # caller handled a result (or its progress events) starts nothing more
        waiting = list(jobs)
        running = 0
        pool = ThreadPoolExecutor(max_workers=self.execution.workers, thread_name_prefix="variant")
        try:
            while waiting or running:
                stop()  # asked here each round, not only by the variants' threads: the caller says it is stopping from this thread
                while waiting and running < variants_at_once(self.execution.workers, waiting[0].question_workers) and not stop():
                    job = waiting.pop(0)
                    on_start(job.variant)
                    pool.submit(work, job)
                    running += 1
                if not running:
                    break  # stopped: the rest never start
                result = _handed_over(inbox, on_question)
                if result is not None:
                    running -= 1
                    yield result
        except KeyboardInterrupt:
            winding.set()
            try:
                on_stopping()
                yield from _wound_down(inbox, running, on_question, STOP_GRACE_S + KILL_GRACE_S)
            finally:
                aborting.set()  # past the grace, or interrupted again
            raise
        except BaseException:
            aborting.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            shutil.rmtree(folder, ignore_errors=True)


def _wound_down(inbox: queue.Queue[tuple[str, Any]], running: int, on_question: OnQuestion, grace_s: float) -> Iterator[VariantResult]:
    """The results of the ``running`` variants, told to stop, that come within ``grace_s`` (a worker process ends its
    own variant past ``STOP_GRACE_S``, and ``KILL_GRACE_S`` later it is gone), with their progress on the way."""
    ends = time.monotonic() + grace_s
    while running and time.monotonic() < ends:
        result = _handed_over(inbox, on_question)
        if result is not None:
            running -= 1
            yield result


def _handed_over(inbox: queue.Queue[tuple[str, Any]], on_question: OnQuestion) -> VariantResult | None:
    """The result a variant hands over within 0.2 s, or None (its progress events passed on meanwhile)."""
    try:
        kind, payload = inbox.get(timeout=0.2)
    except queue.Empty:
        return None
    if kind == "question":
        on_question(*payload)
        return None
    return payload  # type: ignore[no-any-return]


def _memory_to_spare(reserve: float = 0.25) -> bool:
    """Whether more than ``reserve`` of the machine's memory is available (True where /proc/meminfo is not)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            kb = {name: int(rest.split()[0]) for name, _, rest in (line.partition(":") for line in meminfo)}
        return kb["MemAvailable"] > reserve * kb["MemTotal"]
    except (OSError, KeyError, ValueError, IndexError):
        return True


def executor_for(execution: ExecutionSpec, *, resolver: ModelResolver | None = None) -> Executor:
    """The executor an experiment's ``execution`` section asks for."""
    if execution.backend == "ray":
        from workbench.execution._ray import RayExecutor

        return RayExecutor(execution)
    return LocalExecutor(execution, resolver=resolver)
