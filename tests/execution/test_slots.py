"""The sweep-wide pool of hosted calls in flight: lock files, one held per call."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

from workbench.execution._slots import SlotPool


def test_no_more_calls_than_slots_are_in_flight_and_every_waiter_gets_one(tmp_path: Path) -> None:
    pool = SlotPool(str(tmp_path), "openai", 2)
    lock = threading.Lock()
    in_flight, peak, held = 0, 0, []

    def call() -> None:
        nonlocal in_flight, peak
        with pool.slot(poll_s=0.001) as number:
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
                held.append(number)
            time.sleep(0.02)
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert peak == 2
    assert len(held) == 8 and set(held) == {0, 1}


def test_a_slot_is_free_again_after_its_block_even_when_the_block_raises(tmp_path: Path) -> None:
    pool = SlotPool(str(tmp_path), "openai", 1)
    try:
        with pool.slot():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    done = threading.Event()

    def take() -> None:
        with pool.slot():
            done.set()

    t = threading.Thread(target=take, daemon=True)
    t.start()
    assert done.wait(timeout=5)


def test_calls_of_one_process_share_the_pools_files(tmp_path: Path) -> None:
    """Each call opened every file of the pool for itself: 8 calls in flight in a worker with a provider limit of 200
    held 1,600 files, past the usual limit of 1,024 open files ('Too many open files' on every hosted call)."""
    pool = SlotPool(str(tmp_path), "openai", 200)
    lock, started, peak = threading.Lock(), threading.Barrier(8), 0

    def pool_files() -> int:
        """The process's open files in the pool's folder (not all its files: another thread of this pytest worker may
        open or close one meanwhile)."""
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # an fd closed since the listing
                count += os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path))
        return count

    def call() -> None:
        nonlocal peak
        with pool.slot(poll_s=0.001):
            started.wait(timeout=10)  # all 8 in flight at once
            with lock:
                peak = max(peak, pool_files())

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert 200 <= peak <= 210, peak
    assert pool_files() == 0  # closed when the last call ends: a sweep's pool leaves no file open
