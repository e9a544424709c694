"""The worker processes' forkserver imports what every sweep of the process needs, not only the first one's: a sweep
scored with ragas after sweeps without it made each of its workers import ragas on its own (seconds per variant).
Each check runs in a process of its own, whose forkserver it may stop and start."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# a process started from the workers' forkserver reports which probe modules it found imported
REPORTER = '''
import sys

def report(conn):
    conn.send(sorted(m for m in sys.modules if m.startswith("wb_probe_")))

def hold(conn):
    conn.send("up")
    conn.recv()
'''

HELPERS = '''
import sys
import wb_reporter
from workbench.execution._process import worker_context

def imported_in_a_worker(ctx):
    parent, child = ctx.Pipe()
    p = ctx.Process(target=wb_reporter.report, args=(child,))
    p.start()
    child.close()
    got = parent.recv()
    p.join()
    return got
'''


def run_script(tmp_path: Path, body: str) -> list[str]:
    (tmp_path / "wb_reporter.py").write_text(REPORTER)
    for name in ("wb_probe_a", "wb_probe_b"):
        (tmp_path / f"{name}.py").write_text("")
    env = {"PYTHONPATH": os.pathsep.join((str(tmp_path), str(ROOT))), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", HELPERS + textwrap.dedent(body)], capture_output=True, text=True, timeout=120,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.splitlines()


def test_a_later_sweep_needing_more_modules_gets_a_forkserver_that_imports_them(tmp_path: Path) -> None:
    lines = run_script(tmp_path, """
        print(imported_in_a_worker(worker_context(("wb_probe_a",))))
        print(imported_in_a_worker(worker_context(("wb_probe_a", "wb_probe_b"))))
        print(imported_in_a_worker(worker_context(("wb_probe_b",))))  # asking for fewer keeps what it has
    """)
    assert lines == ["['wb_probe_a']", "['wb_probe_a', 'wb_probe_b']", "['wb_probe_a', 'wb_probe_b']"]


def test_the_forkserver_is_not_stopped_under_a_live_worker(tmp_path: Path) -> None:
    # workers end with their forkserver: one still running keeps it, and later workers import what they need themselves
    lines = run_script(tmp_path, """
        ctx = worker_context(("wb_probe_a",))
        parent, child = ctx.Pipe()
        held = ctx.Process(target=wb_reporter.hold, args=(child,))
        held.start()
        assert parent.recv() == "up"
        print(imported_in_a_worker(worker_context(("wb_probe_b",))))
        parent.send("go")
        held.join(30)
        print(held.exitcode)
        print(imported_in_a_worker(worker_context(("wb_probe_b",))))  # none alive now: the new forkserver imports it
    """)
    assert lines == ["['wb_probe_a']", "0", "['wb_probe_a', 'wb_probe_b']"]
