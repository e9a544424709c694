"""Variants as Ray tasks: on an existing cluster (``address: auto`` or ``ray://host:10001``) or a local instance.

Each variant is one task in a fresh Ray worker process (``max_calls=1``), with the same job, caches and results as a
local worker; the caller keeps logging to MLflow (one writer). Limits: the memory cap is the worker's rlimit; past
its wall time a task is cancelled with force, and a C-level watchdog (``faulthandler``) ends a worker hung in native
code even if the cancellation cannot reach it. A stop (the Stop button, Ctrl+C, SIGTERM) reaches the tasks through the
sweep's actor: each ends after its calls in flight with the answers it has, and past ``STOP_GRACE_S`` (or a second
Ctrl+C) is cancelled with force. On a cluster the cache directory must be a path every node shares
(NFS), or each node keeps its own cache; provider keys come from the workers' environment, not from the caller's.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import queue
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

from workbench.errors import shortened
from workbench.execution._process import KILL_GRACE_S, STARTUP_S, STOP_GRACE_S, cap_memory, with_cache_journal
from workbench.execution._worker import (
    VariantJob, failed_result, import_preloads, redacted_errors, run_job, stopped_result, wall_time_error, with_slots,
)
from workbench.grid import Variant
from workbench.models import runs_locally
from workbench.results import VariantResult
from workbench.spec import ExecutionSpec

__all__ = ["HOSTED_CPUS", "RayExecutor", "local_ray_site"]

HOSTED_CPUS = 0.25  # the Ray CPUs a variant answered by a hosted model asks for (it mostly waits on the network)
REACH_TIMEOUT_S = 5.0  # how long the cluster's port may take to accept a connection (Ray itself waits minutes)
ANSWER_TIMEOUT_S = 2.0  # how long it may take to answer an HTTP/2 client (a gRPC server answers at once)
_START_HINT = "start it (ray start --head --port 6379 --ray-client-server-port 10001) or fix execution.address"
# Ray Client starts a server process for each new connection; on a busy head node it can miss its start-up deadline
# ("Initialization failure from server:"), and connecting again works
_SERVER_NOT_READY = "Initialization failure from server"
# an HTTP/2 client's preface and an empty SETTINGS frame; a gRPC server answers with a SETTINGS frame (type 4)
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_HTTP2_SETTINGS = b"\x04"
_SILENT = bytes(b"nothing in time")  # what _grpc_answer returns for a port that never answers (compared by identity)
JOIN_ATTEMPTS = 3
JOIN_RETRY_S = 2.0
# The address this process's Ray connection was made for by a sweep ("local" for an instance of its own); a connection
# the user made themselves (ray.init in the notebook) is theirs and is used as it is.
_CONNECTED_FOR: dict[str, str] = {}
_STARTER: dict[str, Any] = {}  # the thread kept to start local Ray instances from, and the queue of its calls
_STARTER_LOCK = threading.Lock()
RAY_SITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ray_site")  # see local_ray_site
_NO_SIGTERM_HANDLER = "SIGTERM handler is not set because current thread is not the main thread"


def _ray_task(
    job: VariantJob, threads: int, share: int, started: Any,
) -> tuple[VariantResult, list[tuple[str, str, dict[str, Any]]]]:
    """Runs in a Ray worker: set the limits, run the job, return its result (and cache writes of an in-memory cache).

    Calls in flight per provider are limited per task (``provider_limit // share``): Ray workers may be on other
    machines, where the caller's lock files are out of reach; a call also holds a slot of the cache's pool, which the
    tasks on one machine (or sharing the cache's folder) and the other sweeps using the cache share. ``started`` (a ``_Started`` actor) is told when the
    variant's wall time starts (and again when its scoring's does), as a local worker tells its caller, and says when
    the sweep is stopping: the task then ends after its calls in flight, with the answers it has.
    """
    import faulthandler
    import shutil
    import tempfile

    limits = job.spec.limits
    # until the variant is ready (its models and scorers loaded) the watchdog allows a start as slow as a local worker's
    faulthandler.dump_traceback_later(max(limits.wall_time_s, STARTUP_S) + 2 * KILL_GRACE_S, exit=True)

    def on_ready(deadline: float) -> None:
        faulthandler.dump_traceback_later(max(0.0, deadline - time.monotonic()) + 2 * KILL_GRACE_S, exit=True)
        started.ready.remote(job.variant.id)

    os.environ.setdefault("WORKBENCH_LLAMA_THREADS", str(threads))
    import_preloads(job)  # as a forkserver's worker has them: not within the wall time, which starts when the job is ready
    if limits.memory_mb is not None:
        cap_memory(limits.memory_mb)
    folder = tempfile.mkdtemp(prefix="workbench-slots-")
    (job,) = with_slots([job], job.spec.execution, folder, share=share)
    job, journal = with_cache_journal(job)
    try:
        # redacted here, where the worker's provider keys are known: the caller does not hold them
        return redacted_errors(run_job(job, on_ready=on_ready, stop=lambda: _stopping(started))), journal
    finally:
        faulthandler.cancel_dump_traceback_later()
        shutil.rmtree(folder, ignore_errors=True)


def _stopping(started: Any) -> bool:
    """Whether the sweep of a task's ``_Started`` actor is stopping (asked between questions; False when the actor
    cannot be reached: the caller then cancels the task itself if it must)."""
    import ray
    from ray.exceptions import GetTimeoutError, RayError

    try:
        return bool(ray.get(started.stopping.remote(), timeout=REACH_TIMEOUT_S))
    except (RayError, GetTimeoutError):
        return False


class _Started:
    """A Ray actor that counts, per variant, the times its task said its wall time started: the caller cannot see
    when a task leaves Ray's queue (tasks past the cluster's free CPUs wait there) or when its fresh worker process
    has imported the workbench and loaded its models, and must not count either against the variant's wall time.
    It also holds the sweep's stop, which the tasks ask about between questions."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True

    def stopping(self) -> bool:
        return self.stopped

    def ready(self, variant_id: str) -> None:
        self.counts[variant_id] = self.counts.get(variant_id, 0) + 1

    def seen(self) -> dict[str, int]:
        return dict(self.counts)


class _Clocks:
    """The caller's clock of each running task: its wall time counts from the moment its task said it was ready
    (seen by the caller), as a local worker's does. A task not ready yet (queued behind others, starting its worker)
    may wait for as long as another of the sweep's tasks is running; past ``max(wall_time_s, STARTUP_S)`` of waiting
    with none of them running it failed to start.
    """

    def __init__(self, ray: Any, actor: Any) -> None:
        self._ray = ray
        self._actor = actor
        self._poll: Any = None
        self._seen: dict[str, int] = {}
        self._wall_time_s: dict[str, float] = {}
        self.deadlines: dict[str, float] = {}  # ready variants: when the caller kills their task
        self.waiting: dict[str, float] = {}  # not ready ones: since when they wait with none of the sweep's running

    def add(self, job: VariantJob) -> None:
        self.waiting[job.variant.id] = time.monotonic()
        self._wall_time_s[job.variant.id] = job.spec.limits.wall_time_s

    def remove(self, variant_id: str) -> None:
        self.deadlines.pop(variant_id, None)
        self.waiting.pop(variant_id, None)

    def update(self) -> None:
        """Read what the tasks said since the last update (without waiting for the actor)."""
        if self._poll is None:
            self._poll = self._actor.seen.remote()
        from ray.exceptions import RayError

        ready, _ = self._ray.wait([self._poll], timeout=0)
        now = time.monotonic()
        if ready:
            poll, self._poll = self._poll, None
            try:
                seen: dict[str, int] = self._ray.get(poll)
            except RayError:  # its node died: the tasks there fail too; the others keep the clocks they have
                return
            for variant_id, count in seen.items():
                if count != self._seen.get(variant_id) and (variant_id in self.waiting or variant_id in self.deadlines):
                    self.waiting.pop(variant_id, None)
                    self.deadlines[variant_id] = now + self._wall_time_s[variant_id] + KILL_GRACE_S
            self._seen = seen
        if self.deadlines:  # the sweep's own tasks hold the cluster: the waiting ones are queued behind them
            self.waiting = dict.fromkeys(self.waiting, now)

    def scoring(self, variant_id: str) -> bool:
        """Whether the variant's task said its scoring started (each job says so after its answers' start: twice)."""
        seen = self._seen.get(variant_id, 0)
        return seen > 0 and seen % 2 == 0

    def timed_out(self, variant_id: str) -> str | None:
        """Why the caller ends this task now (``timeout``: past its wall time; ``startup``: never started), or None."""
        now = time.monotonic()
        wall_time_s = self._wall_time_s[variant_id]
        if variant_id in self.deadlines:
            return "timeout" if now > self.deadlines[variant_id] else None
        waited = now - self.waiting.get(variant_id, now)
        return "startup" if waited > max(wall_time_s, STARTUP_S) else None


class RayExecutor:
    """Runs variants as Ray tasks, ``workers`` at a time (one CPU each on local models, a quarter on hosted ones).

    Args:
        execution: the spec's ``execution`` section (``address``: None starts a local instance).
    """

    def __init__(self, execution: ExecutionSpec) -> None:
        self.execution = execution

    def prepare(self, variants: Sequence[Variant], *, scorer_names: Sequence[str], overrides: Mapping[str, Any], judge: str | None = None) -> None:
        """Nothing: Ray starts (and keeps) its own worker processes."""

    def keep_workers(self, variant_ids: Collection[str]) -> None:
        """Nothing: each variant's task runs in a fresh Ray worker process (``max_calls=1``)."""

    def _connect(self) -> Any:
        try:
            import ray
        except ImportError:
            from workbench.errors import SpecError

            raise SpecError("execution.backend: ray is not installed — pip install 'workbench[ray]'") from None
        wanted = str(self.execution.address or "local")
        if not ray.is_initialized():
            _CONNECTED_FOR.clear()  # shut down since (ray.shutdown()): whatever is initialised next is not ours
        elif _CONNECTED_FOR.get("address") not in (None, wanted) or _CONNECTED_FOR.get("node_died"):
            # a connection an earlier sweep of this process made for another address (a local instance, another cluster):
            # this sweep's tasks would run there instead of where its experiment says. Or one whose node died (the head
            # stopped, then started again): every later sweep failed ('WrongClusterID ... RAY_AUTH_MODE') until a restart
            _CONNECTED_FOR.pop("node_died", None)
            ray.shutdown()
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            with _keeping_the_process():
                if self.execution.address:
                    _join(ray, self.execution, options)
                else:
                    # "local": a new instance even when RAY_ADDRESS or a `ray start` on this machine names a cluster
                    # (Ray would join it, and refuse num_cpus there)
                    with local_ray_site():
                        _in_a_lasting_thread(lambda: ray.init(address="local", num_cpus=os.cpu_count() or 1, **options))
            _CONNECTED_FOR["address"] = wanted
        return ray

    def run(
        self,
        jobs: Sequence[VariantJob],
        *,
        on_start: Callable[[Variant], None],
        on_question: Callable[[Variant, str, int, int], None],
        stop: Callable[[], bool],
        on_stopping: Callable[[], None] = lambda: None,
        abandon: Callable[[], bool] = lambda: False,
    ) -> Iterator[VariantResult]:
        if not jobs:
            return
        ray = self._connect()
        task = ray.remote(max_calls=1, max_retries=0)(_ray_task)
        workers = self.execution.workers
        threads = max(1, (os.cpu_count() or 1) // workers)
        pending = list(jobs)
        running: dict[Any, tuple[VariantJob, float]] = {}
        started = clocks = relay = None
        stopped_at: float | None = None  # when the tasks were told to stop: they have STOP_GRACE_S to finish their calls
        try:
            try:
                started = _start_clock(ray, self.execution)
                clocks = _Clocks(ray, started)
                relay = _StopRelay(started, stop)
                while pending or running:
                    while pending and len(running) < workers and stopped_at is None and not stop():
                        job = pending.pop(0)
                        on_start(job.variant)
                        ref = task.options(num_cpus=_cpus(job), name=f"workbench-{job.variant.id}").remote(job, threads, workers, started)
                        running[ref] = (job, time.monotonic())
                        clocks.add(job)
                    if not running:
                        break
                    ready, _ = ray.wait(list(running), num_returns=1, timeout=0.2)
                    for ref in ready:
                        job, _started = running.pop(ref)
                        clocks.remove(job.variant.id)
                        yield _collected(ray, ref, job, on_question)
                    if stopped_at is None and relay.told():  # the Stop button: each task ends after its calls in flight
                        stopped_at = relay.told_at
                    past_grace = stopped_at is not None and time.monotonic() - stopped_at > STOP_GRACE_S
                    if stopped_at is not None and (past_grace or abandon()):  # abandon: Stop pressed again, no more waiting
                        why = f" after its calls in flight took more than {STOP_GRACE_S:g}s" if past_grace else ""
                        for ref, (job, started_at) in list(running.items()):
                            if clocks.scoring(job.variant.id):  # the grace is the answering's: scoring keeps its own wall time
                                continue
                            ray.cancel(ref, force=True)
                            running.pop(ref)
                            clocks.remove(job.variant.id)
                            started_ms = int((time.time() - (time.monotonic() - started_at)) * 1000)
                            yield stopped_result(job.variant, f"stopped by the user: its Ray task was cancelled{why}", job.stats, started_ms=started_ms)
                    if running:
                        clocks.update()
                    for ref, (job, started_at) in list(running.items()):
                        why = clocks.timed_out(job.variant.id)
                        if why is None:
                            continue
                        scoring = clocks.scoring(job.variant.id)
                        ray.cancel(ref, force=True)
                        running.pop(ref)
                        clocks.remove(job.variant.id)
                        started_ms = int((time.time() - (time.monotonic() - started_at)) * 1000)
                        yield failed_result(job.variant, _timeout_error(why, job, scoring=scoring), why, job.stats, started_ms=started_ms)
            except KeyboardInterrupt:
                # Ctrl+C, SIGTERM, in Ray's wait or in the caller as it handled a result: the tasks finish their calls in
                # flight, a second one cancels them
                if started is not None and clocks is not None and running:
                    started.stop.remote()
                    on_stopping()
                    yield from _wound_down(ray, running, clocks, on_question)
                raise
        except ConnectionError as exc:  # Ray Client: the cluster dropped the connection, or refused a task it cannot load
            running.clear()  # their refs live in the broken connection: nothing left to cancel
            raise _broken(self.execution, exc) from None
        finally:
            if relay is not None:
                relay.close()
            for ref in running:
                ray.cancel(ref, force=True)
            if started is not None:
                with contextlib.suppress(Exception):  # a broken connection took it along
                    ray.kill(started)


class _StopRelay:
    """Tells a sweep's tasks to stop (through its ``_Started`` actor) once ``stop`` says so, asked every 0.1 s from a
    thread of its own: the executor's loop does not run while the caller handles a result it yielded (logging a
    variant, which a Ctrl+C waits for), and the tasks answered more questions meanwhile."""

    def __init__(self, started: Any, stop: Callable[[], bool]) -> None:
        self._started, self._stop = started, stop
        self.told_at: float | None = None
        self._told = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="workbench-ray-stop", daemon=True)
        self._thread.start()

    def told(self) -> bool:
        """Whether the tasks were told to stop: by the thread, or now, when ``stop`` says so (asked here, in the
        caller's thread, even once the thread told them: the caller says from its own thread that the sweep stops)."""
        if self._stop():
            self._tell()
        return self.told_at is not None

    def _tell(self) -> None:
        with self._told:
            if self.told_at is None:
                self._started.stop.remote()
                self.told_at = time.monotonic()

    def _watch(self) -> None:
        while not self._closed.wait(0.1):
            if self.told_at is not None:
                return
            with contextlib.suppress(Exception):  # a broken connection: the caller's loop finds out itself
                if self._stop():
                    self._tell()
                    return

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)


def _raylet_died() -> str:
    """Why a local instance's task failed when its raylet died, naming its log where Ray keeps it (under RAY_TMPDIR,
    else TMPDIR, else /tmp: Ray's own rule for its temp folder)."""
    root = os.environ.get("RAY_TMPDIR") or os.environ.get("TMPDIR") or "/tmp"
    log = os.path.join(root, "ray", "session_latest", "logs", "raylet.out")
    return f"the local Ray instance's raylet died (one of its processes was killed, or the OOM killer ended it; its logs: {log})"


def _collected(ray: Any, ref: Any, job: VariantJob, on_question: Callable[[Variant, str, int, int], None]) -> VariantResult:
    """The result of a finished task, its in-memory cache writes stored in the caller's cache (a task that failed: a
    FAILED result)."""
    from ray.exceptions import GetTimeoutError, LocalRayletDiedError, NodeDiedError, RayError

    try:
        result, journal = ray.get(ref)
        for kind, key, value in journal:
            job.cache.put(kind, key, value)  # type: ignore[arg-type]
    except (RayError, GetTimeoutError) as exc:
        # the next sweep connects again: to the cluster, or to a new local instance (its raylet died with one of its
        # agents, or at the OOM killer's hand: every later sweep of the kernel failed at once until a restart)
        if isinstance(exc, (NodeDiedError, LocalRayletDiedError)) and _CONNECTED_FOR:
            _CONNECTED_FOR["node_died"] = "yes"
        # Ray's own line for it points at a raylet.out it does not locate
        why = (_raylet_died() + (" — run the sweep again: it starts a new instance" if _CONNECTED_FOR else "")
               if isinstance(exc, LocalRayletDiedError) else _first_line(exc))
        result = failed_result(job.variant, f"Ray task failed: {why}", "ray", job.stats)
    on_question(job.variant, "question_scored", len(result.records), len(job.retrieved))
    return result  # type: ignore[no-any-return]


def _wound_down(ray: Any, running: dict[Any, tuple[VariantJob, float]], clocks: _Clocks,
                on_question: Callable[[Variant, str, int, int], None]) -> Iterator[VariantResult]:
    """The results of the ``running`` tasks, told to stop, that come within ``STOP_GRACE_S`` (the caller cancels the
    others): each ends after its calls in flight, with the answers it has."""
    ends = time.monotonic() + STOP_GRACE_S
    while running and time.monotonic() < ends:
        ready, _ = ray.wait(list(running), num_returns=1, timeout=0.2)
        for ref in ready:
            job, _started = running.pop(ref)
            clocks.remove(job.variant.id)
            yield _collected(ray, ref, job, on_question)


def _start_clock(ray: Any, execution: ExecutionSpec) -> Any:
    """Start the sweep's ``_Started`` actor.

    Raises:
        WorkbenchError: the cluster cannot load the workbench's code (Ray Client says so at once): another version
            is installed on its nodes, or none.
    """
    from workbench.errors import WorkbenchError

    try:
        actor = ray.remote(num_cpus=0)(_Started)
        # on a local instance (gone with this process, so never left behind) it is detached: after this process joined
        # a cluster through Ray Client (ray://), a local instance's tasks found it dead ("all references to the actor
        # were removed"), and a stopped task answered on; the sweep kills it in the end either way
        return (actor if execution.address else actor.options(lifetime="detached")).remote()
    except (AttributeError, ImportError) as exc:
        raise WorkbenchError(f"execution.address '{execution.address}': the Ray cluster cannot load this workbench's code "
                             f"({type(exc).__name__}: {_first_line(exc)}) — install the same workbench version on each node "
                             "(pip install 'workbench[ray]'), then re-run") from None


def _cpus(job: VariantJob) -> float:
    """The Ray CPUs a variant's task asks for: a core for local models, hardly any for one waiting on a provider."""
    return 1.0 if any(runs_locally(m.id) for m in job.variant.answering_models) else HOSTED_CPUS


def _timeout_error(why: str, job: VariantJob, *, scoring: bool = False) -> str:
    """The error of a task the caller ended: past its wall time (``scoring``: its scoring's), or never started
    (``why``: timeout, startup)."""
    wall_time_s = job.spec.limits.wall_time_s
    if why == "timeout":
        return wall_time_error(wall_time_s, "Ray task cancelled", scoring=scoring)
    return (f"Ray task not started after {max(wall_time_s, STARTUP_S):g}s while none of the sweep's other tasks ran: the "
            f"cluster had no free resources for it ({_cpus(job):g} CPU) or its worker could not start — see ray status")


@contextlib.contextmanager
def _keeping_the_process() -> Iterator[None]:
    """Put back what ``ray.init`` changes in the driver's process for good. Its SIGTERM handler (``sys.exit``): a
    SIGTERM to a sweep on Ray, and to every later sweep of the notebook or process, raised SystemExit instead of ending
    the sweep KILLED (exit 143); the driver's Ray processes are still ended by Ray's exit hook. And PYTHONBREAKPOINT,
    which it points at Ray's debugger hook: a notebook's ``breakpoint()`` after a sweep on Ray went through Ray, and a
    user's ``PYTHONBREAKPOINT=0`` (breakpoints off) or ``=ipdb.set_trace`` was lost for the rest of the kernel."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    found = signal.getsignal(signal.SIGTERM) if in_main_thread else None
    try:
        with _variable_kept("PYTHONBREAKPOINT"):
            yield
    finally:
        if found is not None:  # None: another thread, or a handler not installed from Python, which cannot be put back
            signal.signal(signal.SIGTERM, found)


@contextlib.contextmanager
def local_ray_site() -> Iterator[None]:
    """Start a local instance's processes with ``_ray_site`` first on their PYTHONPATH (they inherit it from this
    process as ``ray.init`` starts them, and each task's fresh worker from the raylet): its ``sitecustomize`` defers
    the 2 s import of ``rfc3987_syntax`` each of them paid (through ``ray`` and ``jsonschema``) before running anything.
    Nodes of a cluster start their own processes, which the workbench leaves as their admin set them up."""
    with _variable_kept("PYTHONPATH"):
        found = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join([RAY_SITE, found] if found else [RAY_SITE])
        yield


@contextlib.contextmanager
def _variable_kept(name: str) -> Iterator[None]:
    """This process's environment variable ``name`` as it was before, whatever the block sets it to."""
    found = os.environ.get(name)
    try:
        yield
    finally:
        if found is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = found


def _in_a_lasting_thread(call: Callable[[], Any]) -> Any:
    """``call()``, made from a thread that lives as long as the process: the calling thread if it is the main thread,
    else a daemon thread kept for it. Ray starts a local instance's processes (GCS, raylet) with PR_SET_PDEATHSIG, tied
    to the thread that called ``ray.init``: started from a thread that then ended (a concurrent.futures worker, a
    script's or Airflow's task thread, a widget's job), they were killed with it, and the process's next sweep on Ray
    died ("Failed to connect to GCS within 60 seconds": the whole process exited).

    Raises:
        BaseException: whatever ``call`` raised.
    """
    if threading.current_thread() is threading.main_thread():
        return call()
    done: concurrent.futures.Future[Any] = concurrent.futures.Future()
    _starter_calls().put((call, done))
    return done.result()


def _starter_calls() -> queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]:
    """The queue of the kept starter thread, started on first use (and again in a forked child, which has none)."""
    with _STARTER_LOCK:
        thread = _STARTER.get("thread")
        if thread is None or not thread.is_alive():
            _STARTER["calls"] = queue.SimpleQueue()
            thread = threading.Thread(target=_serve_calls, args=(_STARTER["calls"],), name="workbench-ray-starter", daemon=True)
            thread.start()
            _STARTER["thread"] = thread
        return _STARTER["calls"]  # type: ignore[no-any-return]


def _serve_calls(calls: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]) -> None:
    """The kept starter thread: make each call it is sent and hand back its result or exception, for good. Ray's
    warning that it set no SIGTERM handler here is not shown: ``_keeping_the_process`` puts the caller's back anyway."""
    logging.getLogger("ray._private.worker").addFilter(_not_the_sigterm_warning)
    while True:
        call, done = calls.get()
        try:
            done.set_result(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
            done.set_exception(exc)


def _not_the_sigterm_warning(record: logging.LogRecord) -> bool:
    return _NO_SIGTERM_HANDLER not in record.getMessage()


def _join(ray: Any, execution: ExecutionSpec, options: Mapping[str, Any]) -> None:
    """Connect to the cluster at ``execution.address``, or raise one line naming it (Ray alone waits minutes on a wrong
    port, then raises its own multi-line or bare errors).

    Raises:
        WorkbenchError: nothing listens at the address, or Ray cannot connect to it.
    """
    from workbench.errors import WorkbenchError

    address = str(execution.address)
    endpoint = execution.ray_endpoint()
    if endpoint is not None:
        try:
            answer = _grpc_answer(endpoint)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise WorkbenchError(f"execution.address '{address}': no Ray cluster answers there ({reason}) — {_START_HINT}") from None
        if answer is _SILENT:
            raise WorkbenchError(f"execution.address '{address}': something takes the connection there but does not answer "
                                 f"within {ANSWER_TIMEOUT_S:g} s, as Ray's gRPC port does at once (a stuck head node, a tunnel "
                                 f"whose far end hangs, or not Ray; with TLS set RAY_USE_TLS=1) — {_START_HINT}")
        if answer is not None and answer[3:4] != _HTTP2_SETTINGS:
            shown = " ".join(answer.decode("latin-1").split())[:60] or "it closed the connection"
            raise WorkbenchError(f"execution.address '{address}': something answers there, but not Ray ({shown!r}) — use the "
                                 f"head's GCS port (ray start --port) or ray://host:<its --ray-client-server-port>; {_START_HINT}")
    for attempt in range(1, JOIN_ATTEMPTS + 1):
        try:
            ray.init(address=address, **options)
            return
        except (ConnectionError, ValueError, RuntimeError) as exc:
            if attempt < JOIN_ATTEMPTS and _SERVER_NOT_READY in str(exc):
                ray.shutdown()
                time.sleep(JOIN_RETRY_S)
                continue
            raise WorkbenchError(f"execution.address '{address}': cannot connect to the Ray cluster ({_first_line(exc)}) — "
                                 f"{_START_HINT}") from None


def _grpc_answer(endpoint: tuple[str, int]) -> bytes | None:
    """The first bytes the server at ``endpoint`` sends to an HTTP/2 client (``_SILENT``: nothing within
    ``ANSWER_TIMEOUT_S``; None: it speaks TLS, which this does not check). Ray's GCS and its Ray Client server speak gRPC
    and answer with a SETTINGS frame; a port of something else (the dashboard, a web server, the GCS port written as
    ray://) or one that never answers (a stuck head, a tunnel whose far end hangs) held ``ray.init`` for minutes (the
    GCS: for good) or 30 s (Ray Client) before Ray gave up, if ever."""
    with socket.create_connection(endpoint, timeout=REACH_TIMEOUT_S) as conn:
        if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
            return None
        conn.sendall(_HTTP2_PREFACE)
        conn.settimeout(ANSWER_TIMEOUT_S)
        try:
            return conn.recv(64)
        except TimeoutError:
            return _SILENT


def _broken(execution: ExecutionSpec, exc: ConnectionError) -> Exception:
    """One line for a Ray Client connection that broke mid-sweep, with the server's reason (``details = "..."`` of the
    gRPC error, e.g. ``No module named 'mymodels'`` when a node cannot load a task's code)."""
    from workbench.errors import WorkbenchError

    found = re.search(r'details = "([^"]*)"', str(exc))
    reason = found.group(1) if found else _first_line(exc)
    return WorkbenchError(f"execution.address '{execution.address}': the Ray cluster broke the connection ({shortened(reason, 300)}) — "
                          "install workbench and every module your models and scorers import on each node (pip install "
                          "'workbench[ray]'), check the cluster is up (ray status), then re-run: cached answers are not recomputed")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return shortened(next((line for line in text if line.strip()), type(exc).__name__))
