"""A Ray cluster that is not there: the sweep ends at once with one line naming execution.address and what to do.

Ray alone waited 30 s (Ray Client) to many minutes (a GCS host:port) and then raised a bare ``ConnectionError`` that
the CLI reported as an internal error. No Ray instance is started here (Ray must not be initialised in this process).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import workbench as wb
from tests.execution.test_ray import first_sentence, require_ray, spec_of
from tests.team.conftest import free_port, start_server, stop_server
from workbench.errors import WorkbenchError
from workbench.execution._ray import RAY_SITE
from workbench.grid import expand_grid
from workbench.models import MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import MemoryTracker

require_ray()

CLUSTER_SITE = Path(__file__).with_name("ray_cluster_site")


@pytest.mark.parametrize("scheme", ["ray://", ""])
def test_no_ray_cluster_at_the_address_is_one_line_naming_it(wb_settings, scheme: str) -> None:  # type: ignore[no-untyped-def]
    import ray

    assert not ray.is_initialized()
    address = f"{scheme}127.0.0.1:{free_port()}"  # nothing listens there
    models = {"ollama:scripted": ScriptedModel(lambda p: "fine", model_id="ollama:scripted"),
              MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = spec_of("ray", ["ollama:scripted"], execution={"backend": "ray", "address": address})
    with pytest.raises(WorkbenchError) as info:
        wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"execution.address '{address}': no Ray cluster answers there (Connection refused) — start it"), message
    assert not ray.is_initialized()


@pytest.mark.parametrize("scheme", ["ray://", ""])
def test_a_port_of_something_else_than_ray_is_one_line_at_once(wb_settings, scheme: str) -> None:  # type: ignore[no-untyped-def]
    import http.server
    import threading

    import ray

    # the dashboard's port, a web server: Ray waited 30 s (Ray Client) or many minutes (a GCS host:port) on it
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    address = f"{scheme}127.0.0.1:{web.server_address[1]}"
    try:
        message = _refusal_at_once(address, wb_settings)
    finally:
        web.shutdown()
        web.server_close()
    assert message.startswith(f"execution.address '{address}': something answers there, but not Ray ('"), message
    assert not ray.is_initialized()


@pytest.mark.parametrize("scheme", ["ray://", ""])
def test_a_port_that_takes_the_connection_but_never_answers_is_one_line_at_once(wb_settings, scheme: str) -> None:  # type: ignore[no-untyped-def]
    import threading

    import ray

    # a stuck head node, a tunnel whose far end hangs: Ray waited 40 s (Ray Client) or for good (a GCS host:port,
    # "Failed to get cluster ID from GCS server" every 40 s), the silence being taken for a TLS server's
    held: list[socket.socket] = []
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)

    def take() -> None:
        while True:
            try:
                held.append(silent.accept()[0])
            except OSError:
                return

    threading.Thread(target=take, daemon=True).start()
    address = f"{scheme}127.0.0.1:{silent.getsockname()[1]}"
    try:
        message = _refusal_at_once(address, wb_settings)
    finally:
        for conn in [silent, *held]:
            conn.close()
    assert message.startswith(f"execution.address '{address}': something takes the connection there but does not answer"), message
    assert not ray.is_initialized()


def _refusal_at_once(address: str, wb_settings: Any) -> str:
    """The one line a sweep on the Ray cluster at ``address`` is refused with, asserted to come within 20 s."""
    models = {"ollama:scripted": ScriptedModel(lambda p: "fine", model_id="ollama:scripted"),
              MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = spec_of("ray", ["ollama:scripted"], execution={"backend": "ray", "address": address})
    started = time.monotonic()
    with pytest.raises(WorkbenchError) as info:
        wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    message = str(info.value)
    assert "\n" not in message and time.monotonic() - started < 20, message
    return message


class FlakyRay:
    """``ray`` as seen by the join: Ray Client's server misses its start-up deadline ``failures`` times, then connects."""

    def __init__(self, failures: int) -> None:
        self.failures, self.inits, self.shutdowns = failures, 0, 0

    def init(self, **options: object) -> None:
        self.inits += 1
        if self.inits <= self.failures:
            raise ConnectionError("Initialization failure from server:\nTraceback (most recent call last): ...")

    def shutdown(self) -> None:
        self.shutdowns += 1


@pytest.mark.parametrize(("failures", "joined"), [(1, True), (2, True), (3, False)])
def test_a_cluster_whose_client_server_starts_late_is_joined_on_a_later_attempt(
        failures: int, joined: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a busy head node the first connection after `ray start` can fail with 'Initialization failure from server:'
    (it failed the suite once); connecting again works, so the join tries three times before giving one line."""
    from workbench.execution import _ray
    from workbench.spec import ExecutionSpec

    monkeypatch.setattr(_ray, "JOIN_RETRY_S", 0.0)
    # the address answers, as gRPC does (a socket that only listens held each join ANSWER_TIMEOUT_S for its answer)
    monkeypatch.setattr(_ray, "_grpc_answer", lambda endpoint: _ray._HTTP2_PREFACE[-9:])
    address = "ray://127.0.0.1:10001"
    ray = FlakyRay(failures)
    execution = ExecutionSpec(backend="ray", address=address)
    if joined:
        _ray._join(ray, execution, {})
    else:
        with pytest.raises(WorkbenchError, match=rf"^execution.address '{address}': cannot connect to the Ray cluster "
                                                 r"\(Initialization failure from server:\) — start it"):
            _ray._join(ray, execution, {})
    assert ray.inits == min(failures + 1, 3) and ray.shutdowns == min(failures, 2)


class HandlerSettingRay:
    """``ray`` as its init behaves: it sets a SIGTERM handler of its own (``sys.exit``) and points PYTHONBREAKPOINT at
    its debugger hook, for the rest of the process."""

    def __init__(self) -> None:
        self.inits = 0

    def is_initialized(self) -> bool:
        return self.inits > 0

    def init(self, **options: object) -> None:
        self.inits += 1
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))
        os.environ["PYTHONBREAKPOINT"] = "ray.util.rpdb._driver_set_trace"


@pytest.mark.parametrize("address", [None, "ray://127.0.0.1:10001"])
def test_starting_or_joining_ray_keeps_the_processs_sigterm_handler(address: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray's handler stayed after ``ray.init``: a SIGTERM to that sweep, or to any later sweep of the notebook, raised
    SystemExit (a traceback, the sweep not ended KILLED) instead of stopping it as SIGTERM does without Ray."""
    from workbench.execution import _ray
    from workbench.spec import ExecutionSpec

    def ours(signum: int, frame: object) -> None:
        raise AssertionError("not called")

    monkeypatch.setattr(_ray, "_grpc_answer", lambda endpoint: _ray._HTTP2_PREFACE[-9:])  # the address answers, as gRPC does
    fake = HandlerSettingRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    found = signal.signal(signal.SIGTERM, ours)
    try:
        assert _ray.RayExecutor(ExecutionSpec(backend="ray", address=address))._connect() is fake
        assert fake.inits == 1
        assert signal.getsignal(signal.SIGTERM) is ours
    finally:
        signal.signal(signal.SIGTERM, found)


@pytest.mark.parametrize("hook", [None, "0", "ipdb.set_trace"])
def test_starting_ray_keeps_the_users_breakpoint_hook(hook: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """ray.init points PYTHONBREAKPOINT at Ray's debugger hook for the rest of the process: after a sweep on Ray a
    notebook's breakpoint() went through Ray, and breakpoints turned off (=0) or sent to ipdb were on pdb again."""
    from workbench.execution import _ray
    from workbench.spec import ExecutionSpec

    if hook is None:
        monkeypatch.delenv("PYTHONBREAKPOINT", raising=False)
    else:
        monkeypatch.setenv("PYTHONBREAKPOINT", hook)
    monkeypatch.setitem(sys.modules, "ray", HandlerSettingRay())
    monkeypatch.setattr(signal, "signal", lambda signum, handler: None)  # the SIGTERM handler is the test above's
    _ray.RayExecutor(ExecutionSpec(backend="ray"))._connect()
    assert os.environ.get("PYTHONBREAKPOINT") == hook


class PathNotingRay(HandlerSettingRay):
    """``ray`` that notes the PYTHONPATH its init starts the instance's processes with."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str | None] = []

    def init(self, **options: object) -> None:
        self.paths.append(os.environ.get("PYTHONPATH"))
        super().init(**options)


@pytest.mark.parametrize("address", [None, "ray://127.0.0.1:10001"])
def test_a_local_instances_processes_start_with_the_workbenchs_site_first_on_their_path(
        address: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each Ray process (every task's fresh worker among them) compiled rfc3987_syntax's parsers as it imported ray:
    a local instance's start with ``_ray_site`` first on PYTHONPATH; a cluster's nodes keep their own set-up, and this
    process its PYTHONPATH."""
    from workbench.execution import _ray
    from workbench.spec import ExecutionSpec

    monkeypatch.setenv("PYTHONPATH", "/the/users/path")
    monkeypatch.setattr(_ray, "_grpc_answer", lambda endpoint: _ray._HTTP2_PREFACE[-9:])  # the address answers, as gRPC does
    monkeypatch.setattr(signal, "signal", lambda signum, handler: None)  # the SIGTERM handler is another test's
    fake = PathNotingRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    _ray.RayExecutor(ExecutionSpec(backend="ray", address=address))._connect()
    expected = "/the/users/path" if address else os.pathsep.join([_ray.RAY_SITE, "/the/users/path"])
    assert fake.paths == [expected]
    assert os.environ["PYTHONPATH"] == "/the/users/path"


def test_a_process_started_with_the_ray_site_imports_ray_without_compiling_iri_parsers_and_still_checks_iris(
        tmp_path: Path) -> None:
    """What ``_ray_site``'s sitecustomize does in a Ray process: ``rfc3987_syntax`` is the workbench's stand-in after
    ``import ray`` (2 s of its 3 s start-up CPU before), an ``iri`` format is still checked, and a sitecustomize the
    user had further on the path still runs."""
    import subprocess

    from workbench.execution import _ray

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text("import os\nos.environ['THEIR_SITE_RAN'] = 'yes'\n")
    probe = ("import os, sys, ray, jsonschema\n"
             "print(type(sys.modules['rfc3987_syntax']).__name__, os.environ.get('THEIR_SITE_RAN'))\n"
             "checker = jsonschema.FormatChecker()\n"
             "print(checker.conforms('http://example.com/ä', 'iri'), checker.conforms('no iri', 'iri'))\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(theirs))
        with _ray.local_ray_site():
            env = dict(os.environ)
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["_Deferred", "yes", "True", "False"], done.stderr


class ConnectingRay:
    """``ray`` as a process sees it: connected to one address at a time until shut down."""

    def __init__(self) -> None:
        self.address: str | None = None
        self.connections: list[str] = []

    def is_initialized(self) -> bool:
        return self.address is not None

    def init(self, *, address: str, **options: object) -> None:
        self.address = address
        self.connections.append(address)

    def shutdown(self) -> None:
        self.address = None


def test_a_sweep_runs_on_its_own_address_after_a_sweep_on_another(monkeypatch: pytest.MonkeyPatch) -> None:
    """A notebook's sweep on a cluster after one on a local instance ran on the local instance: Ray was initialised,
    so the connection was kept whatever the experiment's address said. A connection the user made stays theirs."""
    from workbench.execution import _ray
    from workbench.spec import ExecutionSpec

    monkeypatch.setattr(_ray, "_grpc_answer", lambda endpoint: _ray._HTTP2_PREFACE[-9:])  # the cluster answers, as gRPC does
    monkeypatch.setattr(_ray, "_CONNECTED_FOR", {})
    fake = ConnectingRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    cluster = "ray://127.0.0.1:10001"
    for address in (None, None, cluster, cluster, None):
        _ray.RayExecutor(ExecutionSpec(backend="ray", address=address))._connect()
    assert fake.connections == ["local", cluster, "local"]

    fake.shutdown()
    monkeypatch.setattr(_ray, "_CONNECTED_FOR", {})
    fake.init(address="ray://the-users-own:10001")  # ray.init in the notebook itself
    _ray.RayExecutor(ExecutionSpec(backend="ray", address=None))._connect()
    assert fake.address == "ray://the-users-own:10001"


class DeadNodeRay(ConnectingRay):
    """``ray`` connected to a cluster whose head node died while a task ran on it."""

    def remote(self, **options: object) -> Any:
        def submit(*args: object) -> str:
            return "ref"
        task = SimpleNamespace(remote=submit)
        started = SimpleNamespace(seen=SimpleNamespace(remote=lambda: "seen"))  # the actor the tasks tell they are ready
        return lambda fn: SimpleNamespace(options=lambda **kw: task, remote=lambda: started)

    def kill(self, actor: object) -> None:
        pass

    def wait(self, refs: list[str], **options: object) -> tuple[list[str], list[str]]:
        return refs, []

    def get(self, ref: str) -> None:
        from ray.exceptions import NodeDiedError

        raise NodeDiedError("Task failed because the node it was running on is dead or unavailable.")

    def cancel(self, ref: str, **options: object) -> None:
        pass


def test_after_the_clusters_node_died_the_next_sweep_connects_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The head stopped mid-sweep and started again: the notebook's connection to the dead cluster was kept, and every
    later sweep failed with 'AuthenticationError RPC error: WrongClusterID ... RAY_AUTH_MODE' until a kernel restart."""
    from workbench.execution import _ray

    monkeypatch.setattr(_ray, "_grpc_answer", lambda endpoint: _ray._HTTP2_PREFACE[-9:])  # the cluster answers, as gRPC does
    monkeypatch.setattr(_ray, "_CONNECTED_FOR", {})
    fake = DeadNodeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    cluster = "ray://127.0.0.1:10001"
    spec = spec_of("ray", ["ollama:scripted"], execution={"backend": "ray", "address": cluster})
    job = SimpleNamespace(variant=expand_grid(spec)[0], spec=spec, stats=None, retrieved=(), cache=None)
    executor = _ray.RayExecutor(spec.execution)
    [result] = executor.run([job], on_start=lambda v: None, on_question=lambda *a: None, stop=lambda: False)
    assert result.status == "FAILED" and "node it was running on is dead" in (result.outcome.error or "")
    executor._connect()
    assert fake.connections == [cluster, cluster]


@dataclass(frozen=True)
class Cluster:
    client: str  # ray://127.0.0.1:PORT (Ray Client)
    gcs: str  # 127.0.0.1:PORT (what RAY_ADDRESS holds on a cluster node)


@pytest.fixture(scope="module")
def cluster_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A one-node Ray cluster started as the README says (``ray start --head``), in its own process group, once for
    this module (it takes about 20 s); its workers import nothing from this repository (as on a node where a module is
    not installed)."""
    import tempfile

    temp = tempfile.mkdtemp(prefix="wbr-")  # short: Ray's socket paths must fit in 107 bytes
    client, gcs = free_port(), free_port()
    ray_cli = Path(sys.executable).parent / "ray"
    cmd = [str(ray_cli), "start", "--head", "--block", "--port", str(gcs), "--ray-client-server-port", str(client),
           "--num-cpus", "1", "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", temp,
           "--dashboard-agent-listen-port", str(free_port()), "--node-ip-address", "127.0.0.1"]
    log = tmp_path_factory.mktemp("ray-cluster") / "ray.log"
    # on a loaded machine (the suite's other worker, other jobs) the raylet registered after Ray's 30 s default wait and
    # `ray start` gave up: 'The node registration may not be complete yet before the timeout'
    # PYTHONPATH: the workbench's site for Ray processes (its sitecustomize defers an import each process paid 2 s for)
    # and ray_cluster_site (the 10 s Ray Client's server waited after a broken connection cut to 1), nothing
    # importable from this repository
    path = os.pathsep.join([RAY_SITE, str(CLUSTER_SITE)])
    proc = start_server(cmd, log, RAY_AUTH_MODE="disabled", PYTHONPATH=path, RAY_raylet_start_wait_time_s="120")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"ray start exited with {proc.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", client)) == 0:
                    break
            time.sleep(0.5)
        else:
            pytest.fail(f"the Ray Client port {client} did not open within 120 s")
        yield Cluster(f"ray://127.0.0.1:{client}", f"127.0.0.1:{gcs}")
    finally:
        stop_server(proc)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def ray_cluster(cluster_node: Cluster) -> Iterator[Cluster]:
    """The module's cluster, with this process's Ray connection (a client, or a local instance) closed after each test,
    and the variables ray.init set for the process (token authentication, no usage stats) put back with it."""
    import ray

    found = {name: os.environ.get(name) for name in ("RAY_AUTH_MODE", "RAY_USAGE_STATS_ENABLED")}
    try:
        yield cluster_node
    finally:
        ray.shutdown()
        for name, value in found.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.mark.slow
def test_without_an_address_a_local_instance_runs_even_beside_a_cluster(wb_settings, ray_cluster: Cluster,  # type: ignore[no-untyped-def]
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # on a node of a cluster (RAY_ADDRESS set, or `ray start` run there) ray.init(num_cpus=...) joined the cluster and
    # raised "When connecting to an existing cluster, num_cpus and num_gpus must not be provided": an internal error
    monkeypatch.setenv("RAY_ADDRESS", ray_cluster.gcs)
    models = {"ollama:scripted": ScriptedModel(lambda p: "fine", model_id="ollama:scripted"),
              MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = spec_of("ray", ["ollama:scripted"], execution={"backend": "ray", "workers": 1})
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, tracker=MemoryTracker())
    assert [v.status for v in result.variants] == ["FINISHED", "FINISHED"], [v.outcome.error for v in result.variants]
    assert len(models["ollama:scripted"].calls) == 2 * 4


class ThreadNotingRay(ConnectingRay):
    """``ray`` that notes the thread each ``ray.init`` ran in (its local instance's processes die with that thread)."""

    def __init__(self, fails: bool = False) -> None:
        super().__init__()
        self.fails = fails
        self.threads: list[Any] = []

    def init(self, *, address: str, **options: object) -> None:
        import logging
        import threading

        self.threads.append(threading.current_thread())
        if not self.threads[-1] is threading.main_thread():  # as Ray says there
            logging.getLogger("ray._private.worker").warning(
                "SIGTERM handler is not set because current thread is not the main thread.")
        if self.fails:
            raise RuntimeError("the local instance did not start")
        super().init(address=address, **options)


def _connect_in_a_thread_that_ends() -> BaseException | None:
    import threading

    from workbench.execution import _ray
    from workbench.spec import ExecutionSpec

    raised: list[BaseException] = []

    def sweep() -> None:
        try:
            _ray.RayExecutor(ExecutionSpec(backend="ray"))._connect()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            raised.append(exc)

    caller = threading.Thread(target=sweep, name="short-lived")
    caller.start()
    caller.join(30)
    assert not caller.is_alive()
    return raised[0] if raised else None


def test_a_local_instance_is_started_from_a_thread_that_outlives_the_callers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """A sweep on a local Ray instance run from a thread that then ended (concurrent.futures, a script's or Airflow's
    task thread, a widget's job) took the instance's processes with it (PR_SET_PDEATHSIG is tied to the thread that
    called ray.init): the process's next sweep died ('Failed to connect to GCS within 60 seconds'). Ray's warning that
    it set no SIGTERM handler there (harmless: the caller's is kept) is not shown."""
    from workbench.execution import _ray

    monkeypatch.setattr(_ray, "_CONNECTED_FOR", {})
    fake = ThreadNotingRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    assert _connect_in_a_thread_that_ends() is None
    assert fake.connections == ["local"]
    (starter,) = fake.threads
    assert starter.name != "short-lived" and starter.daemon and starter.is_alive()
    assert "SIGTERM handler is not set" not in caplog.text

    fake.shutdown()  # the next start, from another short-lived thread, is made from the same kept thread
    assert _connect_in_a_thread_that_ends() is None
    assert fake.threads == [starter, starter]


def test_a_local_instance_that_fails_to_start_from_a_thread_raises_in_that_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from workbench.execution import _ray
    from workbench.spec import ExecutionSpec

    monkeypatch.setattr(_ray, "_CONNECTED_FOR", {})
    fake = ThreadNotingRay(fails=True)
    monkeypatch.setitem(sys.modules, "ray", fake)
    raised = _connect_in_a_thread_that_ends()
    assert isinstance(raised, RuntimeError) and str(raised) == "the local instance did not start"
    # from the main thread (a notebook's cell, a script) it is started there, as before
    monkeypatch.setattr(fake, "fails", False)
    _ray.RayExecutor(ExecutionSpec(backend="ray"))._connect()
    assert fake.threads[-1] is threading.main_thread()


# last in the module: after the cluster broke a client's connection, a local Ray instance started beside it in the
# same process took 25-30 s more to run its first tasks (5.9 s alone, 30-38 s right after this test)
@pytest.mark.slow
def test_a_task_the_cluster_cannot_load_is_one_line_naming_the_missing_module(wb_settings, ray_cluster: Cluster,  # type: ignore[no-untyped-def]
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # was 'internal error: ConnectionError: Failed during this or a previous request. Exception that broke the connection:
    # <_MultiThreadedRendezvous of RPC that terminated with:' — the reason (No module named ...) only under --debug
    # the server ends the client's session: Ray Client then tries to reconnect for its grace period (30 s) in some runs,
    # in others not; the reason is the same either way
    monkeypatch.setenv("RAY_CLIENT_RECONNECT_GRACE_PERIOD", "2")
    # a function of a module (tests.*) the cluster cannot import: pickled by reference, unlike a lambda
    models = {"ollama:scripted": ScriptedModel(first_sentence, model_id="ollama:scripted"),
              MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = spec_of("ray", ["ollama:scripted"], execution={"backend": "ray", "address": ray_cluster.client})
    with pytest.raises(WorkbenchError) as info:
        wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, tracker=MemoryTracker())
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"execution.address '{ray_cluster.client}': the Ray cluster broke the connection (No module named "
                              "'tests') — install workbench and every module your models and scorers import on each node"), message


class DeadRayletRay(DeadNodeRay):
    """``ray`` with a local instance whose raylet died while a task ran (one of its agents killed, the OOM killer)."""

    def get(self, ref: str) -> None:
        from ray.exceptions import LocalRayletDiedError

        raise LocalRayletDiedError()


def test_after_the_local_instances_raylet_died_the_next_sweep_starts_a_new_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel's local instance lost its raylet (its dashboard agent was killed, which takes the raylet along): every
    later sweep of the kernel failed at once, each variant 'The task's local raylet died', until a kernel restart."""
    from workbench.execution import _ray

    monkeypatch.setattr(_ray, "_CONNECTED_FOR", {})
    monkeypatch.delenv("RAY_TMPDIR", raising=False)
    monkeypatch.delenv("TMPDIR", raising=False)
    fake = DeadRayletRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    spec = spec_of("ray", ["ollama:scripted"])
    job = SimpleNamespace(variant=expand_grid(spec)[0], spec=spec, stats=None, retrieved=(), cache=None)
    executor = _ray.RayExecutor(spec.execution)
    [result] = executor.run([job], on_start=lambda v: None, on_question=lambda *a: None, stop=lambda: False)
    assert result.outcome.error == ("Ray task failed: the local Ray instance's raylet died (one of its processes was killed, or "
                                    "the OOM killer ended it; its logs: /tmp/ray/session_latest/logs/raylet.out) — run the sweep "
                                    "again: it starts a new instance")
    executor._connect()
    assert fake.connections == ["local", "local"]


def test_a_dead_raylets_logs_are_named_under_the_temp_folder_ray_was_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Ray keeps its session logs under RAY_TMPDIR (or TMPDIR) when set: the line named /tmp/ray/... all the same."""
    from workbench.execution import _ray

    monkeypatch.setattr(_ray, "_CONNECTED_FOR", {})
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "ray", DeadRayletRay())
    spec = spec_of("ray", ["ollama:scripted"])
    job = SimpleNamespace(variant=expand_grid(spec)[0], spec=spec, stats=None, retrieved=(), cache=None)
    [result] = _ray.RayExecutor(spec.execution).run([job], on_start=lambda v: None, on_question=lambda *a: None, stop=lambda: False)
    assert f"its logs: {tmp_path}/ray/session_latest/logs/raylet.out)" in result.outcome.error
