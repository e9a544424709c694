"""The widgets' background jobs (a RunPanel's sweep, a ChunkExplorer's scoring) and the processes they start."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import threading
import time

import pytest

from workbench.execution._ray import _in_a_lasting_thread
from workbench.widgets._common import BackgroundJob

_PR_SET_PDEATHSIG = 1


def _dies_with_its_starter() -> None:
    """What Ray does for its local instance's agents: the child is killed when what started it ends (on Linux, the
    *thread* that started it)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], preexec_fn=_dies_with_its_starter)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_local_ray_instance_a_runpanel_job_starts_outlives_the_job() -> None:
    # a RunPanel's Ray sweep started Ray's agents from the job's thread; the thread ended with the sweep, the agents
    # were killed with it, and the next Ray sweep of the kernel killed the kernel. The Ray backend starts its local
    # instance from a thread of its own (as here), so the job's thread may end with the job.
    started: list[subprocess.Popen[bytes]] = []
    first = BackgroundJob("workbench-run")
    first.start(lambda: started.append(_in_a_lasting_thread(_sleeper)))
    assert first.wait(10)
    try:
        time.sleep(0.5)  # a SIGKILL on the starting thread's end arrives within this
        assert started[0].poll() is None, "the Ray instance's agents were killed when the job's thread ended"
        second = BackgroundJob("workbench-run")  # a later job (another panel) runs too, and reports its end
        second.start(lambda: None)
        assert second.wait(10)
        assert not any(t.name == "workbench-run" and t.is_alive() for t in threading.enumerate())  # no thread left on a job
    finally:
        started[0].kill()
        started[0].wait()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # said on stderr, as any thread says it
def test_a_job_that_raises_ends_and_the_panel_can_start_another() -> None:
    job = BackgroundJob("workbench-run")
    job.start(lambda: 1 / 0)
    assert job.wait(10) and not job.running
    # its thread says the error after the job is marked ended: let it, within this test (whose filter covers it)
    for thread in [t for t in threading.enumerate() if t.name == "workbench-run"]:
        thread.join(10)
    ran: list[int] = []
    job.start(lambda: ran.append(1))
    assert job.wait(10) and ran == [1]
