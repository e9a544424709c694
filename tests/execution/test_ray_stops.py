"""Nothing of a local Ray instance outlives the process that started it, SIGTERMed or killed.

A pytest run holding the ``ray_instance`` fixture's instance stops when ``timeout`` (or a CI runner) sends it SIGTERM,
and takes the instance with it: Ray's own SIGTERM handler (``sys.exit``) failed the test running and let pytest go on
with the next ones, the instance with them; the run then ended in an abort."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.execution.test_ray import require_ray

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # reads the process table from /proc: fails, never skips, where it is missing

HOLDS = """
import os, time
from pathlib import Path
from tests.execution.test_ray import ray_instance  # noqa: F401 (the fixture)

def worker_pid():
    return os.getpid()

def test_holds(ray_instance):
    pid = ray_instance.get(ray_instance.remote(worker_pid).remote())
    Path("ready").write_text(str(pid))
    time.sleep(120)

def test_next(ray_instance):
    Path("went-on").touch()
"""


def descendants(pid: int) -> set[int]:
    """The running processes started (directly or not) by ``pid``."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                state, parent = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[:2]
            except (OSError, ValueError):
                continue
            if state != "Z":
                parents[int(entry.name)] = int(parent)
    found = set()
    for candidate in parents:
        ancestor = parents[candidate]
        while ancestor > 1 and ancestor != pid:
            ancestor = parents.get(ancestor, 0)
        if ancestor == pid:
            found.add(candidate)
    return found


def running(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (a zombie is not)."""
    alive = set()
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                alive.add(pid)
        except (OSError, IndexError):  # gone between listing and reading
            continue
    return alive


def assert_gone_within_10_s(pids: set[int], after: str) -> None:
    ended = time.monotonic()
    while running(pids) and time.monotonic() - ended < 10:
        time.sleep(0.2)
    assert not running(pids), f"Ray processes still running 10 s after {after}: {sorted(running(pids))}"


def kill_left(proc: subprocess.Popen[bytes], pids: set[int]) -> None:
    """Kill ``proc`` and what of ``pids`` a failed run of a test left."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for pid in running(pids):
        os.kill(pid, signal.SIGKILL)


def test_a_sigtermed_pytest_stops_and_leaves_no_ray_process(tmp_path: Path) -> None:
    require_ray()
    (tmp_path / "test_holds.py").write_text(HOLDS)
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--rootdir", str(tmp_path),
                            "test_holds.py"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "ready").exists() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (tmp_path / "ready").exists(), run.communicate(timeout=5)[0].decode(errors="replace")[-3000:] if run.poll() is not None else "no Ray within 120 s"
        started = descendants(run.pid) | {int((tmp_path / "ready").read_text())}  # GCS, raylet, agents, the task's worker
        run.send_signal(signal.SIGTERM)
        out = run.communicate(timeout=60)[0].decode(errors="replace")
        assert not (tmp_path / "went-on").exists(), f"pytest went on with the next test after SIGTERM:\n{out[-3000:]}"
        assert run.returncode == pytest.ExitCode.INTERRUPTED, out[-3000:]
        assert_gone_within_10_s(started, "pytest ended")
    finally:
        kill_left(run, started)


DRIVER = """
import os, time
import ray
from workbench.execution._ray import local_ray_site

with local_ray_site():  # as a sweep on execution: ray starts its local instance
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)

@ray.remote
def worker_pid():
    return os.getpid()

print(ray.get(worker_pid.remote()), flush=True)
time.sleep(120)
"""


def test_a_killed_process_leaves_nothing_of_the_local_instance_it_started() -> None:
    """A sweep on a local Ray instance killed with SIGKILL (the OOM killer, ``kill -9``): the GCS and raylet die with it,
    and now the raylet's agents too, within a second. They spent a minute trying to reach the dead GCS before exiting."""
    require_ray()
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"})
    started: set[int] = set()
    try:
        assert driver.stdout is not None
        worker = driver.stdout.readline()
        assert worker.strip().isdigit(), f"the driver ended ({driver.wait()}) before its task ran"
        started = descendants(driver.pid) | {int(worker)}
        driver.kill()
        driver.wait()
        assert_gone_within_10_s(started, "their driver was killed")
    finally:
        kill_left(driver, started)
