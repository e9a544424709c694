"""Which process owns a sweep: recorded when it starts, so a sweep left RUNNING by a process that died can be told
apart, safely, from one that is still running (here, in another container of this machine, or on another machine)."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Mapping
from pathlib import Path

__all__ = ["END_REASON_TAG", "abandoned_reason", "alive_here", "process_alive", "process_tags"]

HOST_TAG = "workbench.host"
PID_TAG = "workbench.pid"
PID_START_TAG = "workbench.pid_start"
# the PID namespace the pid belongs to (Linux): two containers of one machine share its host name when they share its
# network (Docker's --network host, Kubernetes' hostNetwork) but not their pids, and a teammate's live sweep in the other
# container was ended KILLED because its pid was not one of this container's
PID_NS_TAG = "workbench.pid_ns"
# which machine, and which boot of it (Linux; digests, as systemd asks of an application's use of the machine id): two
# machines given the same name (cloud VMs called "instance-1", "ip-10-0-0-12" in two VPCs, "localhost") share the host
# name and, outside containers, the PID namespace, and a teammate's live sweep on the other one was ended KILLED
MACHINE_TAG = "workbench.machine"
BOOT_TAG = "workbench.boot"
_INITIAL_PID_NS = "pid:[4026531836]"  # the machine's own PID namespace (the kernel's PROC_PID_INIT_INO), not a container's
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


def _digest_of(*paths: str) -> str | None:
    """A digest of the first of ``paths`` that reads as a non-empty line (an id), or None."""
    for path in paths:
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue
        if value:
            return hashlib.sha256(f"workbench:{value}".encode()).hexdigest()[:32]
    return None


def _machine() -> str | None:
    """This machine's id, digested (systemd's ``/etc/machine-id``), or None where it has none."""
    return _digest_of("/etc/machine-id")


def _boot() -> str | None:
    """This boot of the machine's kernel, digested (Linux ``boot_id``; shared by the containers on it), or None."""
    return _digest_of("/proc/sys/kernel/random/boot_id")


def process_tags() -> dict[str, str]:
    """Tags naming this process: host, pid and (where known) when the pid started, its PID namespace, and the machine
    and boot it runs on (digests)."""
    pid = os.getpid()
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(pid)}
    ticks = _start_ticks(pid)
    if ticks is not None:
        tags[PID_START_TAG] = ticks
    for tag, value in ((PID_NS_TAG, _pid_namespace()), (MACHINE_TAG, _machine()), (BOOT_TAG, _boot())):
        if value is not None:
            tags[tag] = value
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


def _pid_here(tags: Mapping[str, str]) -> int | None:
    """The pid these tags record when it names a process of this host's PID namespace, else None (another host, another
    namespace, where the pid means another process or none; no pid recorded)."""
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return None
    if PID_NS_TAG in tags and tags[PID_NS_TAG] != _pid_namespace():
        return None
    return int(tags[PID_TAG])


def abandoned_reason(tags: Mapping[str, str]) -> str | None:
    """Why a RUNNING sweep with these tags is abandoned, or None when that cannot be decided safely (another host, or
    another machine of the same name, another PID namespace of this host: a container, no pid recorded) or its
    process is alive. This machine restarted since the sweep started: abandoned, whatever runs under its pid now."""
    pid = _pid_here(tags)
    if pid is None:
        return None
    if BOOT_TAG in tags and tags[BOOT_TAG] != _boot():  # another machine of that name, or this one restarted since
        # this one, when it has this machine's id and ran outside containers (whose namespaces and ids, baked into an
        # image, can be alike on two machines)
        if tags.get(MACHINE_TAG) is None or tags[MACHINE_TAG] != _machine() or tags.get(PID_NS_TAG) != _INITIAL_PID_NS:
            return None
        return f"abandoned: its machine ({tags[HOST_TAG]}) restarted since its process (pid {pid}) started the sweep"
    if process_alive(pid, tags.get(PID_START_TAG)):
        return None
    return f"abandoned: its process (pid {pid} on {tags[HOST_TAG]}) ended without closing the sweep (killed or crashed)"


def alive_here(tags: Mapping[str, str]) -> int | None:
    """The pid of the process these tags name when it runs on this machine, in this PID namespace, since this boot (a
    sweep that is certainly still running), else None (gone, or another machine or container: this one cannot tell)."""
    pid = _pid_here(tags)
    if pid is None or (BOOT_TAG in tags and tags[BOOT_TAG] != _boot()):
        return None
    return pid if process_alive(pid, tags.get(PID_START_TAG)) else None
