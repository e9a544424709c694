"""Calls in flight per provider, across every worker of a sweep: ``size`` lock files, one held per call.

A slot is an exclusive ``flock`` on one of the files. The kernel releases it when its holder closes it or dies, so
a worker killed mid-call (a segfault, past its wall time) never leaks a slot the way a semaphore would. It works the
same for threads of one process (each call opens its own file) and for worker processes on one machine.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SlotPool"]


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
    def slot(self, poll_s: float = 0.01) -> Iterator[int]:
        """Hold one slot for the duration of the block (waits for a free one); yields the slot's number.

        The files are opened once per wait and tried without blocking every ``poll_s``: a waiting call costs one
        ``flock`` per slot per poll, not an open and a close as well.
        """
        fds = [os.open(path, os.O_RDWR | os.O_CREAT, 0o600) for path in self._paths()]
        try:
            while True:
                for i, fd in enumerate(fds):
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue
                    try:
                        yield i
                    finally:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                    return
                time.sleep(poll_s)
        finally:
            for fd in fds:
                os.close(fd)
