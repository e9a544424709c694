"""The group guard (``workbench.cli._group_guard``): a command started under it, and every process that command starts,
ends when the process that started the guard dies, however it dies; while that process lives, the guard passes the
command's exit code on and leaves its signals alone. Cheap real processes (``sh``, ``sleep``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.cli._group_guard import start_guarded

ROOT = Path(__file__).resolve().parents[2]



def group_members(pgid: int) -> dict[int, str]:
    """The running processes of group ``pgid``: pid -> command line."""
    found: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            state, _parent, group = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[:3]
            cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        if int(group) == pgid and state != "Z":
            found[int(entry.name)] = cmdline
    return found


def wait_gone(pgid: int, within_s: float) -> dict[int, str]:
    deadline = time.monotonic() + within_s
    left = group_members(pgid)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = group_members(pgid)
    return left


# a parent that starts a guarded command (which starts a grandchild of its own), says the guard's pid, then waits
PARENT = """
import sys, time
from workbench.cli._group_guard import start_guarded
guard = start_guarded(["sh", "-c", "sleep 60 & sleep 60"], remove=sys.argv[1], start_new_session=True)
print(guard.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_the_group_and_its_temp_dir_go_when_the_parent_is_killed(sig: signal.Signals, tmp_path: Path) -> None:
    temp = tmp_path / "server-data"
    temp.mkdir()
    (temp / "file").write_text("data")
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(temp)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    pgid = 0
    try:
        assert parent.stdout is not None
        pgid = int(parent.stdout.readline())
        deadline = time.monotonic() + 10
        while len(group_members(pgid)) < 3 and time.monotonic() < deadline:  # guard, sh, the sleep sh started
            time.sleep(0.05)
        assert len(group_members(pgid)) >= 3, group_members(pgid)
        parent.send_signal(sig)
        parent.wait(timeout=5)
        left = wait_gone(pgid, 8)  # SIGTERM, then SIGKILL after the guard's 5 s grace
        assert not left, f"left running after the parent's {sig.name}: {left}"
        assert not temp.exists()
    finally:
        parent.kill()
        parent.wait()
        if pgid and group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)


def test_while_the_parent_lives_the_guard_passes_the_exit_code_on() -> None:
    assert start_guarded(["sh", "-c", "exit 3"], process_group=0).wait(timeout=10) == 3


def test_a_stop_signal_to_the_group_reaches_the_command_and_ends_it() -> None:
    # the guard ignores the signal but the command does not (an ignored signal would have stayed ignored in it)
    guard = start_guarded(["sleep", "60"], process_group=0)
    try:
        deadline = time.monotonic() + 10
        while len(group_members(guard.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(guard.pid, signal.SIGTERM)
        assert guard.wait(timeout=10) == 128 + signal.SIGTERM
        assert not wait_gone(guard.pid, 2)
    finally:
        if guard.poll() is None:
            os.killpg(guard.pid, signal.SIGKILL)


def test_a_caller_holding_more_than_1024_files_open_starts_its_command() -> None:
    # a long pytest worker (or a notebook kernel) holds that many: the guard's lifeline got a descriptor number that
    # select() refuses ("filedescriptor out of range"), so the guard died and the server under it never started
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip(f"this machine lets a process open {hard} files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    held: list[int] = []
    try:
        while not held or held[-1] < 1030:
            held.append(os.open(os.devnull, os.O_RDONLY))
        assert start_guarded(["sh", "-c", "exit 4"], process_group=0).wait(timeout=10) == 4
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
