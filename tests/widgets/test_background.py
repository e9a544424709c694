"""The widgets' background jobs (a RunPanel's sweep, a ChunkExplorer's scoring) and the processes they start."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import threading
import time

import pytest

from workbench.widgets._common import BackgroundJob

_PR_SET_PDEATHSIG = 1


def _dies_with_its_starter() -> None:
    """What Ray does for its local instance's agents: the child is killed when what started it ends (on Linux, the
    *thread* that started it)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_process_started_by_a_background_job_outlives_the_job() -> None:
    # a RunPanel's Ray sweep started Ray's agents from the job's thread; the thread ended with the sweep, the agents
    # were killed with it, and the next Ray sweep of the kernel killed the kernel
    started: list[subprocess.Popen[bytes]] = []

    def job() -> None:
        started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], preexec_fn=_dies_with_its_starter))

    first = BackgroundJob("workbench-run")
    first.start(job)
    assert first.wait(10)
    try:
        time.sleep(0.5)  # a SIGKILL on the thread's end arrives within this
        assert started[0].poll() is None, "the child was killed when the job's thread ended"
        second = BackgroundJob("workbench-run")  # a later job (another panel) runs too, and reports its end
        second.start(lambda: None)
        assert second.wait(10)
        assert not any(t.name == "workbench-run" and t.is_alive() for t in threading.enumerate())  # no thread still on a job
    finally:
        started[0].kill()
        started[0].wait()
