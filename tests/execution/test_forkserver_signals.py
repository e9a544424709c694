"""The worker processes' forkserver ignores Ctrl+C from its very start: it imports heavy libraries first (torch,
llama.cpp, ragas), and a Ctrl+C then printed the import's traceback under the caller's one-line "stopped" message."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_forkserver_ignores_ctrl_c_while_it_imports_its_preloads(tmp_path: Path) -> None:
    seen = tmp_path / "seen.txt"
    # a preload module that records how the forkserver treats SIGINT while it is being imported
    (tmp_path / "wb_probe_preload.py").write_text(textwrap.dedent(f"""
        import signal
        open({str(seen)!r}, "w").write("ignored" if signal.getsignal(signal.SIGINT) == signal.SIG_IGN else "handled")
    """))
    script = textwrap.dedent("""
        import signal, sys
        from workbench.execution._process import start_worker_server
        start_worker_server(("wb_probe_preload",))
        import time
        deadline = time.time() + 60
        while not __import__("os").path.exists(sys.argv[1]) and time.time() < deadline:
            time.sleep(0.05)
        # the caller's own Ctrl+C handling is back as it was
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, signal.getsignal(signal.SIGINT)
    """)
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", script, str(seen)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert seen.read_text() == "ignored"


def test_a_ctrl_c_while_the_first_worker_starts_is_raised_once_it_has_started(tmp_path: Path) -> None:
    # the first worker waits for the forkserver's preload imports (seconds: torch, llama.cpp); a Ctrl+C then was
    # ignored and lost, and the sweep went on. Now it is held until the worker has started, then raised.
    (tmp_path / "wb_slow_preload.py").write_text("import time\ntime.sleep(1.5)\n")
    script = textwrap.dedent("""
        import os, signal, threading, time
        from workbench.execution._process import WorkerProcess
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        started = time.monotonic()
        try:
            worker = WorkerProcess("v1", ("wb_slow_preload",))
        except KeyboardInterrupt:
            # raised after the start, not in its middle; the caller's handler is back
            assert time.monotonic() - started > 1.0, time.monotonic() - started
            assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, signal.getsignal(signal.SIGINT)
            print("interrupted")
        else:
            worker.close()
            print("not interrupted")
    """)
    env = {"PYTHONPATH": os.pathsep.join((str(tmp_path), str(ROOT))), "PATH": "/usr/bin:/bin"}  # this checkout's workbench
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "interrupted", proc.stdout + proc.stderr[-2000:]
