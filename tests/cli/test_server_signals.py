"""``workbench server`` stops as a whole: a real server (MLflow with its job runner, a sqlite store in tmp_path) is
sent SIGTERM (``kill``, ``systemctl stop``) or, as a terminal's Ctrl+C does, SIGINT to its process group. Every process
it started (mlflow, uvicorn, the job runner and its huey consumers) is gone within seconds, the port is free again and
the store is intact.

It became mlflow before (execve): mlflow passes these signals to its web server only; its job runner's consumers
outlived it, and mlflow itself kept running beside a dead job runner.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import copy_store
from tests.team.conftest import ROOT, free_port, start_server, stop_server, wait_http

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _session(sid: int) -> dict[int, str]:
    """The running processes of session ``sid`` (the test's server and all it started): pid -> command line."""
    found: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            state, _parent, _group, session = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[:4]
            cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        if int(session) == sid and state != "Z":
            found[int(entry.name)] = cmdline
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def server_command(store: Path, artifacts: Path, port: int) -> list[str]:
    """``workbench server`` on a sqlite store, one web worker."""
    return [sys.executable, "-m", "workbench.cli", "server", "--backend-store-uri", f"sqlite:///{store}",
            "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]


def assert_session_gone_within_12_s(sid: int, after: str) -> None:
    ended = time.monotonic()
    left = _session(sid)
    while left and time.monotonic() - ended < 12:
        time.sleep(0.2)
        left = _session(sid)
    assert not left, f"still running {time.monotonic() - ended:.0f} s after {after}: {left}"


# the job runner's consumers (slow to start) where they were left orphaned: a SIGTERM to the workbench process reached
# mlflow's web server only; a Ctrl+C reaches every process of the group itself, and left mlflow alive
@pytest.mark.parametrize(("to", "jobs"), [("workbench process: SIGTERM", True), ("process group: SIGINT", False)])
def test_a_stopped_server_leaves_no_process_behind_a_free_port_and_an_intact_store(to: str, jobs: bool, tmp_path: Path, empty_store: Path) -> None:
    store = tmp_path / "mlruns" / "mlflow.db"
    client = MlflowClient(copy_store(empty_store, tmp_path))  # a copy of a migrated store: migrating one took a second
    client.create_experiment("kept")  # a store with something in it, migrated before the server starts
    port = free_port()
    cmd = server_command(store, tmp_path / "artifacts", port)
    log = tmp_path / "server.log"
    proc = start_server(cmd, log, guard=False, PYTHONPATH=str(ROOT), MLFLOW_SERVER_ENABLE_JOB_EXECUTION=str(jobs).lower())
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, log, 120)
        deadline = time.monotonic() + 60  # the job runner starts its consumers after the web server
        while jobs and sum("huey_consumer" in c for c in _session(proc.pid).values()) < 2 and time.monotonic() < deadline:
            time.sleep(0.25)
        started = _session(proc.pid)
        assert any("huey_consumer" in c for c in started.values()) if jobs else len(started) > 2, started

        if to.startswith("workbench"):
            os.kill(proc.pid, signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        assert_session_gone_within_12_s(proc.pid, "the signal")
        assert proc.wait(timeout=5) == 0  # a server asked to stop ends well
        assert _port_free(port)
    finally:
        stop_server(proc)
        for pid in _session(proc.pid):  # what a failed run of this test left
            os.kill(pid, signal.SIGKILL)
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert client.get_experiment_by_name("kept") is not None


def test_a_killed_workbench_server_takes_its_mlflow_processes_with_it(tmp_path: Path, empty_store: Path) -> None:
    """SIGKILL (the OOM killer, ``kill -9``, a CI runner ending a job) cannot be handled by the workbench process: the
    group it started mlflow in must end by itself once the workbench process is gone. It ran on, holding the port."""
    store = tmp_path / "mlruns" / "mlflow.db"
    copy_store(empty_store, tmp_path)  # the server's store, migrated: the server migrating a new one took a second
    port = free_port()
    cmd = server_command(store, tmp_path / "artifacts", port)
    log = tmp_path / "server.log"
    proc = start_server(cmd, log, guard=False, PYTHONPATH=str(ROOT), MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, log, 120)
        assert len(_session(proc.pid)) > 2, _session(proc.pid)  # workbench, mlflow and its web server at least
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=5) == -signal.SIGKILL
        assert_session_gone_within_12_s(proc.pid, "the workbench process was killed")
        assert _port_free(port)
    finally:
        stop_server(proc)
        for pid in _session(proc.pid):  # what a failed run of this test left
            os.kill(pid, signal.SIGKILL)
