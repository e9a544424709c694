"""Whether a RUNNING sweep is abandoned, from the host, pid, PID namespace, machine and boot its process recorded: never
a sweep whose process may be alive on another machine of the same name or in another container of this one."""

from __future__ import annotations

import os
import socket

import pytest

from workbench.tracking import _process
from workbench.tracking._process import abandoned_reason, process_tags

DEAD_PID = str(2**22 + 12345)  # above pid_max: no such process
HOST_NS = "pid:[4026531836]"


@pytest.fixture
def here(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process's tags, on a machine outside containers (its own PID namespace), machine 'm1', boot 'b2'."""
    monkeypatch.setattr(_process, "_pid_namespace", lambda: HOST_NS)
    monkeypatch.setattr(_process, "_machine", lambda: "m1")
    monkeypatch.setattr(_process, "_boot", lambda: "b2")
    return process_tags()


def tags(here: dict[str, str], **changed: str) -> dict[str, str]:
    return {**here, **{f"workbench.{k}": v for k, v in changed.items()}}


def test_this_process_is_alive_and_a_dead_pid_is_abandoned(here: dict[str, str]) -> None:
    assert here["workbench.host"] == socket.gethostname() and here["workbench.pid"] == str(os.getpid())
    assert (here["workbench.pid_ns"], here["workbench.machine"], here["workbench.boot"]) == (HOST_NS, "m1", "b2")
    assert abandoned_reason(here) is None
    assert "ended without closing the sweep" in (abandoned_reason(tags(here, pid=DEAD_PID, pid_start="1")) or "")


def test_a_sweep_of_another_container_of_this_machine_is_left_alone(here: dict[str, str]) -> None:
    assert abandoned_reason(tags(here, pid=DEAD_PID, pid_ns="pid:[4026532999]")) is None


def test_a_sweep_of_another_machine_of_the_same_name_is_left_alone(here: dict[str, str]) -> None:
    # two cloud VMs called instance-1: the same host name and PID namespace, another machine and boot
    assert abandoned_reason(tags(here, pid=DEAD_PID, machine="m9", boot="b9")) is None
    assert abandoned_reason({k: v for k, v in tags(here, pid=DEAD_PID, boot="b9").items() if k != "workbench.machine"}) is None


def test_a_sweep_from_before_this_machine_restarted_is_abandoned_even_if_its_pid_runs_now(here: dict[str, str]) -> None:
    reason = abandoned_reason(tags(here, boot="b1"))  # its pid is this process's now
    assert reason == f"abandoned: its machine ({socket.gethostname()}) restarted since its process (pid {os.getpid()}) started the sweep"
    # in a container, whose machine id may be baked into its image: another machine's container is alike
    assert abandoned_reason(tags(here, boot="b1", pid_ns="pid:[4026532999]")) is None


def test_a_sweep_recorded_before_these_tags_is_decided_by_host_and_pid(here: dict[str, str]) -> None:
    old = {k: here[k] for k in ("workbench.host", "workbench.pid")}
    assert abandoned_reason(old) is None
    assert abandoned_reason({**old, "workbench.pid": DEAD_PID}) is not None


def test_the_machine_and_boot_are_recorded_as_digests_never_as_the_ids() -> None:
    recorded = process_tags()
    for tag, path in (("workbench.machine", "/etc/machine-id"), ("workbench.boot", "/proc/sys/kernel/random/boot_id")):
        try:
            value = open(path).read().strip()
        except OSError:
            continue
        if value:
            assert recorded[tag] != value and value not in recorded.values() and len(recorded[tag]) == 32
