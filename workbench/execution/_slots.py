"""Calls in flight per provider, across every worker of a sweep and every sweep sharing a cache: ``size`` lock files,
one held per call.

A slot is an exclusive ``flock`` on one of the files. The kernel releases it when its holder closes it or dies, so
a worker killed mid-call (a segfault, past its wall time) never leaks a slot the way a semaphore would. Worker
processes on one machine take slots from each other through the lock; the threads of one process share one open file
per slot (a lock of that file is the process's) and take slots from each other through a thread lock.

Sweeps whose pools are in one folder (the cache's ``slots_dir``) share the files ``<provider>-0.lock``,
``<provider>-1.lock``...: a sweep with a limit of N takes only the first N, from the last of them down, so together
they keep at most the largest of their limits in flight, and each at most its own (a sweep with a smaller limit
finds the first files free while a larger one still has higher ones to take).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CallSlots", "SlotPool"]


@dataclass(frozen=True)
class SlotPool:
    """``size`` slots for calls to one provider, as lock files in ``directory`` (picklable: a path and a number)."""

    directory: str
    provider: str
    size: int

    def _paths(self) -> list[Path]:
        folder = Path(self.directory)
        folder.mkdir(parents=True, exist_ok=True)
        return [folder / f"{self.provider}-{i}.lock" for i in range(self.size)]

    @contextmanager
    def _files(self) -> Iterator[_OpenSlots]:
        """This process's open slot files, shared by its calls in flight and closed when the last one ends (files
        kept open would pile up in a notebook's kernel, one set per limit a sweep asked for). A forked worker opens its
        own: a file opened before the fork would share its lock with the parent."""
        key = (os.getpid(), self.directory, self.provider, self.size)
        with _OPENING:
            if key not in _OPEN:
                _OPEN[key] = _OpenSlots([os.open(path, os.O_RDWR | os.O_CREAT, 0o600) for path in self._paths()])
            files = _OPEN[key]
            files.users += 1
        try:
            yield files
        finally:
            with _OPENING:
                files.users -= 1
                if not files.users:
                    del _OPEN[key]
                    for fd in files.fds:
                        os.close(fd)

    @contextmanager
    def slot(self, poll_s: float = 0.01) -> Iterator[int]:
        """Hold one slot for the duration of the block (waits for a free one); yields the slot's number.

        The calls in flight in a process share one open file per slot, tried without blocking every ``poll_s``: a
        waiting call costs one ``flock`` per slot per poll. Each call opened every file of the pool for itself, so 8
        calls in flight in a worker with a limit of 200 held 1,600 files, past the usual limit of 1,024 open files
        ('Too many open files' on every call).
        """
        with self._files() as files:
            while True:
                taken = files.take()
                if taken is not None:
                    break
                time.sleep(poll_s)
            try:
                yield taken
            finally:
                files.give_back(taken)


@dataclass(frozen=True)
class CallSlots:
    """What one call to a provider holds while in flight: a slot of each pool, taken in this order (a Ray task's
    share of the limit, then the pool every sweep using the cache shares)."""

    pools: tuple[SlotPool, ...]

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot of each pool for the duration of the block (waits for them, one pool after another)."""
        with ExitStack() as held:
            for pool in self.pools:
                held.enter_context(pool.slot())
            yield


class _OpenSlots:
    """One process's open slot files and the slots its threads hold."""

    def __init__(self, fds: list[int]) -> None:
        self.fds = fds
        self.held: set[int] = set()
        self.users = 0  # calls holding or waiting for a slot
        self.lock = threading.Lock()

    def take(self) -> int | None:
        """A free slot, locked for this thread, or None when every slot is held (here or by another process)."""
        with self.lock:
            for i in reversed(range(len(self.fds))):  # the last first: a pool with a smaller limit takes the first ones
                fd = self.fds[i]
                if i in self.held:  # this process's lock: flock would grant it again
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                self.held.add(i)
                return i
        return None

    def give_back(self, i: int) -> None:
        with self.lock:
            fcntl.flock(self.fds[i], fcntl.LOCK_UN)
            self.held.discard(i)


_OPENING = threading.Lock()
_OPEN: dict[tuple[int, str, str, int], _OpenSlots] = {}
