"""Real servers for the team-store tests: a throwaway PostgreSQL 15 cluster, an MLflow server on it, a Chroma server.

Each is started on a free loopback port and torn down after the module (PostgreSQL after the session: its tests each
use databases of their own). In CI (``CI=true``) a server that cannot start
fails the test with the reason; elsewhere the PostgreSQL tests are skipped only when its binaries are not installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from workbench.cli._group_guard import start_guarded

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"
_MIGRATED = "wb_migrated_store"  # the template of Postgres.create_store
_PG_DIRS = (Path("/usr/lib/postgresql/15/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(**extra: str) -> dict[str, str]:
    """The environment of a server process: telemetry off, no proxies for loopback."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "ANONYMIZED_TELEMETRY": "False", "DO_NOT_TRACK": "true",
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return {**env, **extra}


def _log_tail(log: Path, lines: int = 25) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    """Poll ``url`` until it answers 200; fail with the server's log when it exits or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode} before {url} answered:\n{_log_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(f"{url} did not answer within {timeout_s:.0f} s:\n{_log_tail(log)}")


def start_server(cmd: Sequence[str], log: Path, *, guard: bool = True, **env: str) -> subprocess.Popen[bytes]:
    """A server in its own process group (its workers are stopped with it), output to ``log``.

    ``guard``: the group ends when this pytest process does, even killed (``timeout``'s SIGTERM, SIGKILL), through the
    workbench's group guard, which is then the process returned. Servers outlived a killed pytest, holding their ports.
    Without it, the process returned is the server's own (a test of how the server itself takes signals).
    """
    with log.open("wb") as out:
        popen = {"stdout": out, "stderr": subprocess.STDOUT, "env": server_env(**env), "start_new_session": True, "cwd": log.parent}
        return start_guarded(list(cmd), **popen) if guard else subprocess.Popen(list(cmd), **popen)  # type: ignore[call-overload]


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, SIGKILL after a short grace (uvicorn waits for idle keep-alive clients)."""
    if proc.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


# -- PostgreSQL ----------------------------------------------------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    return next((d for d in _PG_DIRS if (d / "initdb").is_file() and (d / "pg_ctl").is_file()), None)


def require_postgres_bin_dir() -> Path:
    """``postgres_bin_dir()``; a test needing it is skipped where it is missing, outside CI only (CI fails it)."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        reason = "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin — `make team-deps` installs them"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return bin_dir


@dataclass(frozen=True)
class Postgres:
    """A running throwaway cluster: ``uri(db)`` is the SQLAlchemy URI of one of its databases."""

    port: int
    user: str

    def uri(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, *, template: str | None = None) -> str:
        import psycopg  # the driver SQLAlchemy (and so MLflow) uses for postgresql:// URIs

        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.uri(name)

    def create_store(self, name: str) -> str:
        """A database holding MLflow's tables, for a test that needs a store but not a new one: a copy of one migrated
        once per cluster (MLflow's migrations take seconds on PostgreSQL, a copy does not)."""
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        if _MIGRATED not in self._databases():
            migrating = SqlAlchemyStore(self.create_database(_MIGRATED), tempfile.gettempdir())  # makes the tables
            migrating.engine.dispose()  # a template must have no sessions open when it is copied
        return self.create_database(name, template=_MIGRATED)

    def _databases(self) -> set[str]:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres") as conn:
            return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def _as_cluster_owner(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: as root, run its binaries as the postgres system user
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run_checked(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"PostgreSQL: {what} failed ({done.returncode}): {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL cluster in a temp dir owned by its user, on a free loopback port, socket in the temp dir.

    Skipped (outside CI only) when the server binaries are missing; any other failure to start fails the test.
    """
    bin_dir = require_postgres_bin_dir()
    work = Path(tempfile.mkdtemp(prefix="wb-pg-"))
    if os.geteuid() == 0:
        import pwd

        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(work, ignore_errors=True)
            pytest.fail("running as root but there is no 'postgres' system user to run PostgreSQL as (apt's postgresql package creates it)")
        os.chown(work, owner.pw_uid, owner.pw_gid)
    data, log, port = work / "data", work / "server.log", free_port()
    user = "postgres"
    _run_checked(_as_cluster_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8",
                                    "--no-sync", "--no-instructions"]), "initdb")
    # the server itself, not `pg_ctl start` (which detaches it from every process group): in a guarded group, it and
    # its temp dir go with this pytest process however it ends (they outlived a SIGTERMed one)
    server = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(work), "-c", "listen_addresses=127.0.0.1",
              "-c", "fsync=off", "-c", "full_page_writes=off"]
    with log.open("wb") as out:
        proc = start_guarded(_as_cluster_owner(server), remove=str(work), stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True, env=server_env())
    try:
        _wait_postgres(port, user, proc, log)
        yield Postgres(port=port, user=user)
    finally:
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data)]
        subprocess.run(_as_cluster_owner([*pg_ctl, "-m", "immediate", "-w", "stop"]), capture_output=True, timeout=60)
        stop_server(proc)
        shutil.rmtree(work, ignore_errors=True)


def _wait_postgres(port: int, user: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 60) -> None:
    """Until the server at ``port`` accepts a connection; fail with its log when it exits or the time is up."""
    import psycopg

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"PostgreSQL exited with {proc.returncode} before it accepted connections:\n{_log_tail(log)}")
        try:
            psycopg.connect(host="127.0.0.1", port=port, user=user, dbname="postgres", connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            time.sleep(0.1)
    pytest.fail(f"PostgreSQL did not accept connections within {timeout_s:.0f} s:\n{_log_tail(log)}")


# -- MLflow server ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MlflowServer:
    url: str
    artifacts: Path
    seconds_to_start: float


def start_mlflow_server(store_uri: str, artifacts: Path, log: Path, *, timeout_s: float = 120) -> Iterator[MlflowServer]:
    """``workbench server`` (which execs ``mlflow server --serve-artifacts``) on a free port, until /health answers."""
    port = free_port()
    cmd = [sys.executable, "-m", "workbench.cli", "server", "--backend-store-uri", store_uri,
           "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    started = time.monotonic()
    proc = start_server(cmd, log, PYTHONPATH=str(ROOT))
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, log, timeout_s)
        yield MlflowServer(f"http://127.0.0.1:{port}", artifacts, time.monotonic() - started)
    finally:
        stop_server(proc)


# -- Chroma server ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChromaServer:
    url: str
    path: Path
    seconds_to_start: float


def chroma_run(data: Path, host: str, port: int) -> list[str]:
    """The command of ``chroma run --path DATA --host HOST --port PORT``, without its Python start-up: the ``chroma`` CLI
    that comes with chromadb imports all of chromadb (seconds) before it hands its arguments to chromadb's Rust
    bindings, which serve. The same server, started for a fraction of the time."""
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.is_file():
        pytest.fail(f"the chroma CLI is not at {chroma}: chromadb is a dependency, reinstall with `make install`")
    return [sys.executable, "-c", "import sys, chromadb_rust_bindings; chromadb_rust_bindings.cli(['chroma', *sys.argv[1:]])",
            "run", "--path", str(data), "--host", host, "--port", str(port)]


def start_chroma(data: Path, host: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """A Chroma server on ``host:port`` with its data in ``data``, once its heartbeat answers."""
    proc = start_server(chroma_run(data, host, port), log)
    address = f"[{host}]" if ":" in host else host
    wait_http(f"http://{address}:{port}/api/v2/heartbeat", proc, log, 60)
    return proc


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A Chroma server (``chroma run``) on a free loopback port, data in a temp folder."""
    where = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    started = time.monotonic()
    proc = start_chroma(where / "data", "127.0.0.1", port, where / "server.log")
    try:
        yield ChromaServer(f"http://127.0.0.1:{port}", where / "data", time.monotonic() - started)
    finally:
        stop_server(proc)
