"""Claims: an answer being computed is claimed, so every other process or thread asking for it meanwhile waits and
reads it from the cache instead of computing (paying for) it too.

A claim is an exclusive ``flock`` on a file named after the answer's key, in a folder beside the cache store
(``DiskCacheStore.claims_dir``), so every sweep on the machine that uses the cache (two CI jobs, two notebooks, a CLI
run beside a RunPanel) shares them. The kernel lets go of a lock when its holder dies, so a killed process never leaves
a claim held: the next asker takes it and, finding no answer, computes it. A holder removes the file as it lets go (a
claims folder shared by every sweep would otherwise keep a file per answer ever computed); an asker that locked a file
removed meanwhile tries again with the file now at the path, so one claim never has two holders. A thread holds one
claim at a time and holds nothing else the others wait for while it waits, so claims taken in any order never deadlock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["claimed", "locks_work"]

# a cache folder on a mount without flock (some NFS, FUSE and CI-cache mounts): every answer failed on the lock of its
# claim, an OSError naming no file
_NO_LOCKS = frozenset({errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP})


@contextlib.contextmanager
def claimed(path: Path, deadline: float | None, *, poll_s: float = 0.05) -> Iterator[None]:
    """Hold the claim at ``path`` for the block, waiting for it at most until ``deadline`` (``time.monotonic``; None:
    as long as it takes); past it, go on without it (the call itself then meets the deadline)."""
    fd = _take(path, deadline, poll_s)
    try:
        yield
    finally:
        if fd is not None:
            _let_go(path, fd)


def locks_work(folder: Path) -> bool:
    """Whether ``flock`` works in ``folder`` (made when missing): False on a mount without it (some NFS, FUSE and
    CI-cache mounts), where what a lock would share between processes must be kept apart instead."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".lock-probe-", dir=folder)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError as exc:
        if exc.errno not in _NO_LOCKS:
            raise
        return False
    finally:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
    return True


def _take(path: Path, deadline: float | None, poll_s: float) -> int | None:
    """The open, locked claim file at ``path``, or None past ``deadline``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(poll_s if deadline is None else max(0.0, min(poll_s, deadline - time.monotonic())))
            continue
        except OSError as exc:
            if exc.errno not in _NO_LOCKS:
                os.close(fd)
                raise
            _let_go(path, fd)  # a claim only saves a second computation: the answer is computed without one
            return None
        if _still_at(path, fd):
            return fd
        os.close(fd)  # its holder removed it after this open: the claim is the file now at the path


def _still_at(path: Path, fd: int) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _let_go(path: Path, fd: int) -> None:
    """Remove the file while still holding it (an asker that locks it afterwards sees it gone), then unlock."""
    try:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    finally:
        os.close(fd)
