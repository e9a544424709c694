"""One variant in its own worker process: its limits are enforced from outside, and its death is a FAILED run.

The worker is forked from a ``forkserver`` that has imported the workbench (and, when the first sweep needs them,
llama.cpp and sentence-transformers) once, so a worker starts in milliseconds and never inherits the caller's
threads, loaded models or open stores. Over a pipe it receives a job (cloudpickled) with the caller's environment and
working directory, and talks back: ready, progress events, then the result. A worker serves one variant: it ends
after its job, or (racing) stays up for the same variant's next batch and so loads its models once. The caller kills
it past a job's wall time (counted from ready: SIGTERM, then SIGKILL), and reads a death by signal (a segfault in
native code, an abort) as the variant's error. The caller's ``__main__`` script is never re-run in a worker (as
plain multiprocessing would), so a script that calls ``workbench.run`` needs no ``if __name__ == "__main__"`` guard.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Any

from workbench.errors import WorkbenchError
from workbench.execution._worker import QuestionEvent, VariantJob, failed_result, run_job, stopped_result, wall_time_error
from workbench.models import llama_crash_advice
from workbench.results import VariantResult
from workbench.tracking import interrupts_deferred

__all__ = [
    "KILL_GRACE_S", "STOP_GRACE_S", "WorkerProcess", "cap_memory", "check_can_start_workers", "run_in_process", "start_worker_server",
    "with_cache_journal", "worker_context",
]

KILL_GRACE_S = 3.0  # between SIGTERM and SIGKILL, and the head start the worker's own deadline check gets
# how long a stopped variant (Stop, Ctrl+C, SIGTERM) may take to finish the model or judge calls in flight, so their
# answers (paid for) are stored and logged, before its worker is ended: within docker stop's and CI's 10 s to SIGKILL
STOP_GRACE_S = 5.0
STARTUP_S = 120.0  # a worker that is not ready by then (the forkserver's first start imports heavy libraries) failed
_context: Any = None
_preloaded: tuple[str, ...] = ()  # what the forkserver imports when it starts (the running one imported these)
# held while the forkserver is chosen and a worker started from it: a forkserver stopped to take more preloads must not
# be the one another thread is starting a worker from
_context_lock = threading.RLock()


def worker_context(preload: tuple[str, ...] = ()) -> Any:
    """The multiprocessing context of worker processes: a forkserver, started on first use with the workbench and
    the ``preload`` modules imported. A later sweep that needs more modules (a ragas scorer after sweeps scored
    without it) gets a forkserver that imports them too, started anew when no worker of the running one is alive;
    otherwise its workers import them, each on its own (seconds each for ragas)."""
    global _context, _preloaded
    with _context_lock:
        if _context is None:
            _fit_socket_dir()
            _context = multiprocessing.get_context("forkserver")
        wanted = [m for m in ("workbench.execution._process", *preload) if m not in _preloaded and _importable(m)]
        if wanted and _server_stopped():
            _preloaded = (*_preloaded, *wanted)
            _context.set_forkserver_preload(list(_preloaded))
        return _context


def _server_stopped() -> bool:
    """Whether no forkserver is running now: none was started (or it was forgotten after a fork), or the running one
    had no child alive (a worker of a sweep, or a process of the caller's own from that forkserver) and was stopped."""
    from multiprocessing import context, forkserver, util

    server = forkserver._forkserver
    if getattr(server, "_forkserver_pid", None) is None:
        return True
    if any(isinstance(p, context.ForkServerProcess) for p in multiprocessing.active_children()):
        return False
    with server._lock:
        pid, lifeline, address = server._forkserver_pid, server._forkserver_alive_fd, server._forkserver_address
        server._forkserver_pid = server._forkserver_alive_fd = server._forkserver_address = None
    with suppress(OSError):
        os.close(lifeline)  # its lifeline closed, a forkserver exits
    if address and not util.is_abstract_socket_namespace(address):
        with suppress(OSError):
            os.unlink(address)
    _reap(pid)
    return True


def _reap(pid: int, wait_s: float = 5.0) -> None:
    """Wait for the ended forkserver ``pid`` to exit, and kill it past ``wait_s`` (a process that inherited its
    lifeline keeps it up)."""
    until = time.monotonic() + wait_s
    with suppress(ChildProcessError, ProcessLookupError):  # reaped elsewhere, or gone between the wait and the kill
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > until:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return
            time.sleep(0.01)


def check_can_start_workers() -> None:
    """Refuse, in one line, a sweep in a process that Python lets start no worker processes.

    A daemonic process (a ``multiprocessing.Pool`` worker running ``wb.run`` for each of a list of experiments) is
    refused children ("daemonic processes are not allowed to have children"): every variant of its sweep failed on
    that AssertionError, logged as FAILED runs.

    Raises:
        WorkbenchError: this process is daemonic.
    """
    if multiprocessing.current_process().daemon:
        raise WorkbenchError(
            f"this sweep runs in a daemonic process ({multiprocessing.current_process().name}: a multiprocessing.Pool's "
            "worker), which Python lets start no worker processes for its variants — run wb.run in a "
            "concurrent.futures.ProcessPoolExecutor or a multiprocessing.Process of the 'spawn' context instead, or set "
            "execution: {isolation: none}"
        )


def _forget_worker_server_after_fork() -> None:
    """In a child forked from a process that started the forkserver (``os.fork``, a fork-context
    ``ProcessPoolExecutor`` or ``multiprocessing.Process``, a prefork server), forget the parent's forkserver so the
    child's first sweep starts its own. Python 3.11 keeps the parent's forkserver pid there, which is no child of the
    child: every variant of the child's sweep failed on "ChildProcessError: [Errno 10] No child processes". Holding
    the parent's forkserver lifeline also kept that forkserver alive after the parent died. A lock another thread held
    at the fork would never be released in the child: they are made anew."""
    global _context_lock
    _context_lock = threading.RLock()
    forkserver = sys.modules.get("multiprocessing.forkserver")
    server = getattr(forkserver, "_forkserver", None)
    if server is None:
        return
    alive = getattr(server, "_forkserver_alive_fd", None)
    if alive is not None:
        with suppress(OSError):
            os.close(alive)
    server._forkserver_alive_fd = server._forkserver_address = server._forkserver_pid = server._inherited_fds = None
    server._lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_worker_server_after_fork)


SUN_PATH_MAX = 107  # bytes in an AF_UNIX socket path (108 with the NUL; 104 on macOS, whose TMPDIR is short)
_LISTENER = len("/listener-12345678")  # the forkserver's socket name inside multiprocessing's temp folder


def _fit_socket_dir() -> None:
    """Give multiprocessing a temp folder short enough for the forkserver's socket.

    Python before 3.14 puts that socket in ``$TMPDIR/pymp-*/`` (gh-132124); under a deep TMPDIR (a batch job's own
    scratch folder, a nested test folder) every worker failed with "AF_UNIX path too long". Then the folder goes under
    /tmp or /var/tmp instead, as Python 3.14 does, removed at exit like the one it replaces.

    Raises:
        WorkbenchError: no such folder is writable.
    """
    import shutil
    import tempfile
    from multiprocessing import process, util

    current = util.get_temp_dir()
    if len(os.fsencode(current)) + _LISTENER <= SUN_PATH_MAX:
        return
    for base in ("/tmp", "/var/tmp"):
        if os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK):
            short = tempfile.mkdtemp(prefix="pymp-", dir=base)
            util.Finalize(None, shutil.rmtree, args=(short, True), exitpriority=-100)
            process.current_process()._config["tempdir"] = short
            return
    raise WorkbenchError(f"TMPDIR {tempfile.gettempdir()!r} is too long for the worker processes' socket path "
                         f"({SUN_PATH_MAX} bytes at most) and neither /tmp nor /var/tmp is writable — set TMPDIR to a "
                         "shorter folder")


def start_worker_server(preload: tuple[str, ...] = ()) -> None:
    """Start the forkserver now, importing ``preload`` in its own process while the caller goes on (building or
    opening the indexes), instead of when the first worker starts. It starts once per process; a started one is
    left as it is."""
    with _context_lock:
        worker_context(preload)
        with _main_hidden(), interrupts_deferred():
            _launch_worker_server()


@contextmanager
def _starting_workers() -> Iterator[None]:
    """A block that starts a worker: the forkserver is launched first (if not running), and a Ctrl+C meanwhile is held
    until the block ends, then raised, so the sweep ends KILLED as on a Ctrl+C at any other time. (It was ignored for
    the whole block, and one pressed while the first worker waited for the forkserver's preload imports was lost.)"""
    with _main_hidden(), interrupts_deferred():
        _launch_worker_server()
        yield


@contextmanager
def _main_hidden() -> Iterator[None]:
    """A block with the caller's ``__main__`` hidden, so a forkserver or worker started there does not import (run)
    the caller's script."""
    main = sys.modules.get("__main__")
    hide = main is not None and getattr(main, "__file__", None) is not None
    if hide:
        sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if hide:
            sys.modules["__main__"] = main  # type: ignore[assignment]


def _launch_worker_server() -> None:
    """Launch the forkserver, if it is not running, with Ctrl+C ignored (in the main thread, where handlers are set):
    it inherits that while it imports its preloads (Python's forkserver ignores it only afterwards, so a Ctrl+C then
    printed its import traceback). This returns at once; the forkserver imports on its own."""
    import multiprocessing.forkserver

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main_thread else None
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _importable(module: str) -> bool:
    """Whether ``module``'s package is installed, found without importing anything (``find_spec`` of a submodule
    would import its packages here, in the caller; a missing submodule is skipped by the forkserver itself)."""
    from importlib.util import find_spec

    try:
        return find_spec(module.partition(".")[0]) is not None
    except (ImportError, ValueError):
        return False


class _StoreAround:
    """A cache store around another one: what it does not change, it forwards (its ``put`` is the one to change)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.persistent = bool(getattr(inner, "persistent", False))
        self.claims_dir = getattr(inner, "claims_dir", None)

    def get(self, kind: str, key: str) -> Any:
        return self.inner.get(kind, key)

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        self.inner.put(kind, key, value)

    def info(self) -> Any:
        return self.inner.info()

    def clear(self, older_than_s: float | None = None) -> int:
        return int(self.inner.clear(older_than_s))


class _Journal(_StoreAround):
    """A cache store that remembers what was stored (an in-memory cache's writes travel back with the result)."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.writes: list[tuple[str, str, dict[str, Any]]] = []

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        super().put(kind, key, value)
        self.writes.append((kind, key, value))


class _Writes:
    """The cache writes in progress in a worker, across its threads, and a SIGTERM held until they are done."""

    def __init__(self) -> None:
        self._count = 0
        self._ending = False
        self._lock = threading.Lock()

    @contextmanager
    def counted(self) -> Iterator[None]:
        with self._lock:
            self._count += 1
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1
                end = self._ending and self._count == 0
            if end:  # the SIGTERM held meanwhile, delivered again now that nothing is being written
                os.kill(os.getpid(), signal.SIGTERM)

    def on_sigterm(self, signum: int, _frame: Any) -> None:
        """SIGTERM's handler while a worker answers questions at once (their writes come from other threads than the
        main one, where a handler runs): end now, or once the writes in progress are done. It takes no lock: it may
        run in the main thread while that holds it."""
        self._ending = True
        if self._count == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)


_WRITES = _Writes()


@contextmanager
def _sigterm_after_writes(concurrent: bool) -> Iterator[None]:
    """A block during which a SIGTERM waits for the cache writes in progress in any thread (``concurrent``: questions
    answered, or a hosted judge's replies scored, at once, in threads); otherwise only the main thread's writes hold it
    (``_WritesFinished``), and a worker busy in native code (a model's prompt being read) ends at once, not a grace
    period later. The job's answering is one such block, its scoring another: a local model's answers judged by a
    hosted judge lost a reply being stored from a judge's thread."""
    if not concurrent:
        yield
        return
    previous = signal.signal(signal.SIGTERM, _WRITES.on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _WritesFinished(_StoreAround):
    """A worker's cache store whose writes a SIGTERM does not cut in two: the caller ends its workers with SIGTERM (Ctrl+C
    or SIGTERM of the sweep, a wall time), and one storing an answer the model had just produced (paid for) died
    mid-write, so the resumed sweep asked that question again. A SIGTERM meanwhile ends the worker once the write is
    done (milliseconds; the caller's SIGKILL comes a grace period later)."""

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        with interrupts_deferred(signal.SIGTERM), _WRITES.counted():
            super().put(kind, key, value)


def with_cache_journal(job: VariantJob) -> tuple[VariantJob, list[tuple[str, str, dict[str, Any]]]]:
    """The job, with its cache journaled when the cache lives in the caller's memory (a disk cache is shared as is)."""
    if getattr(job.cache, "persistent", False):
        return job, []
    journal = _Journal(job.cache)
    return replace(job, cache=journal), journal.writes


def _serve(conn: Any, stop: Any) -> None:
    """The worker process: run the jobs it is sent, one after another, until the caller closes the pipe. Each job
    takes on the caller's environment and working directory and sets its memory cap (counted from where it starts)."""
    import cloudpickle

    _die_with_forkserver()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the caller's: it stops this worker through `stop`
    while True:
        try:
            _, payload, env, cwd, memory_mb, threads = conn.recv()
        except (EOFError, ConnectionResetError):  # the caller closed the pipe; reset, with its reports still unread in it
            return
        os.environ.clear()
        os.environ.update(env)
        if threads is not None and "WORKBENCH_LLAMA_THREADS" not in env:
            os.environ["WORKBENCH_LLAMA_THREADS"] = str(threads)
        os.chdir(cwd)
        try:
            job, journal = with_cache_journal(cloudpickle.loads(payload))
            job = replace(job, cache=_WritesFinished(job.cache))
            if memory_mb is not None:
                cap_memory(memory_mb)
            with _sigterm_after_writes(job.question_workers > 1):
                result = run_job(
                    job,
                    on_question=lambda kind, done, total: conn.send(("event", kind, done, total)),
                    stop=stop.is_set,
                    on_ready=lambda deadline: conn.send(("ready", deadline)),
                    scoring=lambda judging: _sigterm_after_writes(judging > 1),
                )
            message: tuple[Any, ...] = ("result", cloudpickle.dumps((result, journal)))
        except BaseException as exc:  # noqa: BLE001 - whatever happens is reported, then the worker ends
            message = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(message)
        except (BrokenPipeError, ConnectionResetError):  # the caller went away (Ctrl+C, a stop): no one to tell
            return
        if message[0] != "result":
            return


def cap_memory(memory_mb: int) -> None:
    """Let this process allocate at most ``memory_mb`` more of data segment (RLIMIT_DATA) than it holds now.

    The cap counts from the job's start, not from zero: a worker forked from a forkserver that preloaded torch,
    ragas or llama.cpp already holds well over a gigabyte of (mostly untouched) data segment, which is not the variant's,
    and a worker kept between a variant's jobs holds the models its earlier jobs loaded.
    """
    held = _data_segment_bytes()
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = held + memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_DATA, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def _data_segment_bytes() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0  # no /proc: the cap counts from zero


def _die_with_forkserver() -> None:
    """Be killed when the forkserver dies, which it does when the caller dies (``kill -9``, a dead kernel): an
    orphaned worker would otherwise go on computing answers a resumed sweep computes again."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the worker ends when it next reports to its dead caller
        return
    if os.getppid() == 1:  # the forkserver died before the line above
        os._exit(1)
    # multiprocessing hands every process the forkserver starts the write end of the forkserver's lifeline, so that
    # the forkserver outlives them: holding it, a worker kept the forkserver alive after the caller died, and so
    # itself (it went on answering, or hung for good in native code). A worker starts no processes of its own.
    from multiprocessing import forkserver

    server = forkserver._forkserver
    if getattr(server, "_forkserver_alive_fd", None) is not None:
        os.close(server._forkserver_alive_fd)
        server._forkserver_alive_fd = None


def _signal_name(code: int) -> str:
    try:
        return f"{signal.Signals(-code).name} (signal {-code})"
    except ValueError:
        return f"signal {-code}"


def run_in_process(
    job: VariantJob,
    *,
    on_question: QuestionEvent | None = None,
    stop: Callable[[], bool] | None = None,
    threads: int | None = None,
    preload: tuple[str, ...] = (),
) -> VariantResult:
    """Run a job in a new worker process and wait for it; never raises for anything the worker does.

    Args:
        job: the variant and its inputs.
        on_question: told about the worker's progress (in the calling thread).
        stop: polled; True asks the worker to stop after its current question.
        threads: llama.cpp threads for the worker (unless ``WORKBENCH_LLAMA_THREADS`` is set).
        preload: heavy modules the worker will import (imported once by the forkserver when it starts).

    Returns:
        The worker's result; or a FAILED result naming the signal that killed it, the limit it passed, or its error.
    """
    worker = WorkerProcess(job.variant.id, preload)
    try:
        return worker.run(job, on_question=on_question, stop=stop, threads=threads)
    finally:
        worker.close()


class WorkerProcess:
    """A worker process that runs one variant's jobs one after another (racing keeps it between the variant's
    batches, so it loads its models once). After a job it did not finish (killed past its wall time, dead, failed
    outside the variant's questions) it is gone: ``usable`` is False.

    Args:
        variant_id: the variant it works for (its process is named after it).
        preload: heavy modules its jobs will import (imported once by the forkserver when it starts).
    """

    def __init__(self, variant_id: str, preload: tuple[str, ...] = ()) -> None:
        with _context_lock:  # no other thread stops this forkserver (for more preloads) while the worker starts from it
            ctx = worker_context(preload)
            self._conn, child = ctx.Pipe(duplex=True)
            self._stop = ctx.Event()
            self.process = ctx.Process(target=_serve, args=(child, self._stop), name=f"workbench-variant-{variant_id}", daemon=True)
            self._start(child)
        self.usable = True

    def _start(self, child: Any) -> None:
        try:
            with _starting_workers():
                self.process.start()  # the first start of a forkserver imports its preloads: not the variant's time
        except BaseException:  # a Ctrl+C held while it started: the worker, if started, must not wait for a job
            self._conn.close()
            if self.process.pid is not None:
                _end(self.process)
            raise
        finally:
            child.close()

    def run(
        self,
        job: VariantJob,
        *,
        on_question: QuestionEvent | None = None,
        stop: Callable[[], bool] | None = None,
        threads: int | None = None,
        abandon: Callable[[], bool] | None = None,
    ) -> VariantResult:
        """Run ``job`` in this worker and wait for it; never raises for anything the worker does (see
        ``run_in_process``).

        A stop lets the worker finish the calls in flight (their answers are paid for: stored, and in the result's
        records) for ``STOP_GRACE_S`` at most, then score what it answered (within its scoring's wall time); past the
        grace (a model that hangs) the worker is ended and the job ends STOPPED with no records, its finished answers
        in the cache. ``abandon`` is polled like ``stop``; True means the caller cannot wait (a second Ctrl+C, an error
        that ends the sweep): the worker is ended now, and the call in flight is asked again on resume."""
        result = self._run(job, on_question=on_question, stop=stop, threads=threads, abandon=abandon)
        if result.status != "FINISHED" and not result.workdir and os.path.isdir(job.workdir):
            result = replace(result, workdir=job.workdir)  # a worker killed or dead in its variant left it to look into
        return result

    def _run(
        self,
        job: VariantJob,
        *,
        on_question: QuestionEvent | None,
        stop: Callable[[], bool] | None,
        threads: int | None,
        abandon: Callable[[], bool] | None,
    ) -> VariantResult:
        import cloudpickle

        started_ms = int(time.time() * 1000)
        limits = job.spec.limits
        self._stop.clear()
        message: tuple[Any, ...] | None = None
        timed_out = abandoned = False
        stopped_at: float | None = None  # when the stop was first seen: the worker has STOP_GRACE_S to finish its calls
        deadline: float | None = None  # the worker's own (one monotonic clock for the machine); killed a grace period after
        readies = 0  # the worker says when its answers' wall time starts, and again when its scoring's does
        launched = time.monotonic()
        try:
            self._conn.send(("job", cloudpickle.dumps(job), dict(os.environ), os.getcwd(), limits.memory_mb, threads))
            while message is None:
                # a stop, an abandon and the wall time are looked at after every message too: a variant whose answers
                # keep coming (hosted questions, many at once) would otherwise never see them
                if self._conn.poll(0.2):
                    try:
                        received = self._conn.recv()
                    except EOFError:  # the worker died without a word
                        break
                    if received[0] == "ready":
                        deadline, readies = received[1], readies + 1
                    elif received[0] == "event":
                        if on_question is not None:
                            on_question(*received[1:])
                    else:
                        message = received
                        break
                elif not self.process.is_alive():
                    if not self._conn.poll(0):
                        break
                    continue
                now = time.monotonic()
                if stopped_at is None and stop is not None and stop():
                    self._stop.set()
                    stopped_at = now
                # the grace is the answering's: scoring the answers it has (a judge's calls) keeps its own wall time
                if (abandon is not None and abandon()) or (stopped_at is not None and readies < 2 and now - stopped_at > STOP_GRACE_S):
                    abandoned = True
                    break
                if (deadline is not None and now > deadline + KILL_GRACE_S) or (deadline is None and now - launched > STARTUP_S):
                    timed_out = True
                    break
        except (OSError, ValueError):  # the pipe broke while sending: the worker is gone
            pass
        finally:
            if message is None or message[0] != "result":
                self.close()
        if message is not None and message[0] == "result":
            result, journal = cloudpickle.loads(message[1])
            for kind, key, value in journal:
                job.cache.put(kind, key, value)
            return result  # type: ignore[no-any-return]
        if abandoned:
            return stopped_result(job.variant, f"stopped by the user: its worker process was ended{_past_grace(stopped_at)}", job.stats,
                                  started_ms=started_ms)
        if message is not None:
            return failed_result(job.variant, f"worker process failed: {message[1]}", "worker", job.stats, started_ms=started_ms)
        if timed_out and deadline is None:
            return failed_result(job.variant, f"worker process not ready after {STARTUP_S:g}s", "startup", job.stats, started_ms=started_ms)
        if timed_out:
            return failed_result(job.variant, wall_time_error(limits.wall_time_s, "worker process killed", scoring=readies > 1), "timeout",
                                 job.stats, started_ms=started_ms)
        code = self.process.exitcode if self.process.exitcode is not None else 0
        if code < 0:
            cause = _signal_name(code)
            hint = ""
            if limits.memory_mb is not None and -code in (signal.SIGABRT, signal.SIGKILL):
                hint = f" — native code aborts like this when an allocation fails: if it needs more than limits.memory_mb = {limits.memory_mb}, raise it"
            else:
                advice = llama_crash_advice([(m.id, m.resolved_kind) for m in job.variant.answering_models])
                hint = f" — {advice}" if advice else ""
            return failed_result(job.variant, f"worker process died: {cause}{hint}", "signal", job.stats, started_ms=started_ms)
        return failed_result(job.variant, f"worker process exited with code {code} before reporting", "exit", job.stats, started_ms=started_ms)

    def close(self) -> None:
        """End the worker: it leaves when its pipe closes (after its current job); else SIGTERM, then SIGKILL."""
        self.usable = False
        self._conn.close()
        _end(self.process)


def _past_grace(stopped_at: float | None) -> str:
    """Why a stopped worker was ended: its calls in flight outlasted the grace period (else the caller could not wait)."""
    return f" after its calls in flight took more than {STOP_GRACE_S:g}s" if stopped_at is not None and time.monotonic() - stopped_at > STOP_GRACE_S else ""


def _end(process: Any) -> None:
    """Make sure the worker is gone: SIGTERM, then SIGKILL after a grace period."""
    process.join(timeout=0.5 if process.is_alive() else None)
    if process.is_alive():
        process.terminate()
        process.join(KILL_GRACE_S)
    if process.is_alive():
        process.kill()
        process.join()
