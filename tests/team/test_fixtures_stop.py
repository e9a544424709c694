"""The team fixtures' servers end with the pytest process that started them, however it ends: a tiny pytest run using
the ``postgres`` fixture is stopped as ``timeout`` stops one (SIGTERM, no teardown runs) or killed. The cluster and
its temp dir outlived it before (``pg_ctl start`` detaches the server), holding its port, memory and ~40 MB in /tmp."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.team.conftest import ROOT, require_postgres_bin_dir

pytestmark = pytest.mark.integration  # reads the process table from /proc: fails, never skips, where it is missing

HOLDS = """
import time
from pathlib import Path
from tests.team.conftest import postgres  # noqa: F401 (the fixture)

def test_holds(postgres):
    Path({ready!r}).write_text(str(postgres.port))
    time.sleep(120)
"""


def processes() -> dict[int, tuple[int, str]]:
    """Every running process: pid -> (parent pid, command line)."""
    found: dict[int, tuple[int, str]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            state, parent = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[:2]
            cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        if state != "Z":
            found[int(entry.name)] = (int(parent), cmdline)
    return found


def descendants(pid: int) -> dict[int, str]:
    table = processes()
    found: dict[int, str] = {}
    for candidate, (_parent, cmdline) in table.items():
        ancestor = candidate
        while ancestor > 1 and ancestor != pid:
            ancestor = table.get(ancestor, (0, ""))[0]
        if ancestor == pid and candidate != pid:
            found[candidate] = cmdline
    return found


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_stopped_pytest_leaves_no_postgres_behind(sig: signal.Signals, tmp_path: Path) -> None:
    require_postgres_bin_dir()
    ready = tmp_path / "ready"
    (tmp_path / "test_holds.py").write_text(HOLDS.format(ready=str(ready)))
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--rootdir", str(tmp_path),
                            str(tmp_path / "test_holds.py")], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    left: dict[int, str] = {}
    work = ""
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ready.exists(), (run.poll(), run.stdout.read().decode(errors="replace")[-2000:] if run.poll() is not None and run.stdout else "")
        port = int(ready.read_text())
        started = descendants(run.pid)
        # the server's own command line names its socket folder, the cluster's temp dir: -p PORT -k /tmp/wb-pg-...
        server = next(c.split() for _, c in processes().values() if f"-p {port} " in c and " -k " in c)
        work = server[server.index("-k") + 1]
        assert listening(port)

        run.send_signal(sig)
        run.wait(timeout=10)
        stopped = time.monotonic()
        table = processes()
        left = {p: c for p, c in started.items() if p in table} | {p: c for p, (_, c) in table.items() if work in c}
        while (left or listening(port)) and time.monotonic() - stopped < 12:
            time.sleep(0.2)
            table = processes()
            left = {p: c for p, c in started.items() if p in table} | {p: c for p, (_, c) in table.items() if work in c}
        assert not left, f"still running {time.monotonic() - stopped:.0f} s after pytest's {sig.name}: {left}"
        assert not listening(port)
        assert not Path(work).exists()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for pid in left:  # what a failed run of this test left
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if work.startswith(tempfile.gettempdir()):
            shutil.rmtree(work, ignore_errors=True)
