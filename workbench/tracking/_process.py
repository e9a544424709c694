"""Which process owns a sweep: recorded when it starts, so a sweep left RUNNING by a process that died can be told
apart, safely, from one that is still running (here, in another container of this machine, or on another machine)."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path

__all__ = ["END_REASON_TAG", "abandoned_reason", "process_alive", "process_tags"]

HOST_TAG = "workbench.host"
PID_TAG = "workbench.pid"
PID_START_TAG = "workbench.pid_start"
# the PID namespace the pid belongs to (Linux): two containers of one machine share its host name when they share its
# network (Docker's --network host, Kubernetes' hostNetwork) but not their pids, and a teammate's live sweep in the other
# container was ended KILLED because its pid was not one of this container's
PID_NS_TAG = "workbench.pid_ns"
END_REASON_TAG = "workbench.end_reason"


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``), which tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 of stat, counted after the command name


def _pid_namespace() -> str | None:
    """This process's PID namespace (``pid:[4026531836]``; Linux ``/proc``), or None where there is none to read."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def process_tags() -> dict[str, str]:
    """Tags naming this process: host, pid and (where known) when the pid started and the PID namespace it is in."""
    pid = os.getpid()
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(pid)}
    ticks = _start_ticks(pid)
    if ticks is not None:
        tags[PID_START_TAG] = ticks
    namespace = _pid_namespace()
    if namespace is not None:
        tags[PID_NS_TAG] = namespace
    return tags


def process_alive(pid: int, start: str | None = None) -> bool:
    """Whether process ``pid`` runs (another user's too), and, given its ``start`` (ticks since boot), is the process
    that started then, not a later one given the same pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return start is None or _start_ticks(pid) in (start, None)


def abandoned_reason(tags: Mapping[str, str]) -> str | None:
    """Why a RUNNING sweep with these tags is abandoned, or None when that cannot be decided safely (another host,
    another PID namespace of this host: a container, no pid recorded) or its process is alive."""
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return None
    if PID_NS_TAG in tags and tags[PID_NS_TAG] != _pid_namespace():  # its pid means another process here, or none
        return None
    pid = int(tags[PID_TAG])
    if process_alive(pid, tags.get(PID_START_TAG)):
        return None
    return f"abandoned: its process (pid {pid} on {tags[HOST_TAG]}) ended without closing the sweep (killed or crashed)"
