"""A process group that ends when the process that started it is gone, even SIGKILLed (which no handler sees).

``start_guarded(cmd)`` runs this file as a small guard process at the head of a process group of its own; the guard
runs ``cmd`` in that group and holds the read end of a pipe whose only write end the caller keeps. When the caller
dies, the kernel closes its end: the guard reads end of file, sends SIGTERM to the group, and SIGKILL to whatever of it
is left after a grace period. A pipe, not Linux's
PR_SET_PDEATHSIG: it works on every POSIX system, and it follows the process, not the thread that started the guard.

While the caller lives, the group is the caller's to stop (a signal to the group reaches ``cmd``; the guard ignores it
and exits with ``cmd``'s exit code once ``cmd`` has ended, 128 + N where a signal N ended it).

The guard is run by path with ``python -I -S``: it imports nothing but the standard library.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Sequence
from typing import Any

__all__ = ["start_guarded"]

_GRACE_S = 5.0
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def start_guarded(cmd: Sequence[str], *, remove: str | None = None, **popen: Any) -> subprocess.Popen[bytes]:
    """Start ``cmd`` under a guard that ends its process group once this process is gone.

    Args:
        cmd: The command.
        remove: A folder the guard deletes after ending the group because this process died (a server's temp data).
        **popen: For ``subprocess.Popen``. The guard heads a new process group (``process_group=0``) unless
            ``start_new_session=True`` makes it head a new session.

    Returns:
        The guard's process (its pid is the group's id; it exits with ``cmd``'s exit code). The write end of the pipe
        is closed when this object is collected or the interpreter exits: keep it while the group is to run.
    """
    if not popen.get("start_new_session"):
        popen.setdefault("process_group", 0)
    read, write = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-I", "-S", os.path.abspath(__file__), str(read),
                                 *(["--remove", remove] if remove else []), "--", *cmd], pass_fds=(read,), **popen)
    except BaseException:
        os.close(write)
        raise
    finally:
        os.close(read)
    weakref.finalize(proc, os.close, write)
    return proc


def _guard(lifeline: int, cmd: list[str], remove: str | None) -> int:
    if os.getpgrp() != os.getpid():  # never the group of whoever started it: that is not the guard's to end
        os.setpgid(0, 0)
    for sig in _STOP_SIGNALS:  # a handler, not SIG_IGN: cmd starts with the default again (an ignored signal stays so)
        signal.signal(sig, lambda _signum, _frame: None)
    proc = subprocess.Popen(cmd)
    watch = select.poll()  # not select(): the lifeline keeps its caller's number, past 1024 in a process holding many files
    watch.register(lifeline, select.POLLIN)
    while proc.poll() is None:
        if watch.poll(100) and not os.read(lifeline, 1):  # end of file: the process that started the group is gone
            _end_own_group(proc, remove)
    code = proc.returncode
    return code if code >= 0 else 128 - code


def _end_own_group(proc: subprocess.Popen[bytes], remove: str | None) -> None:
    os.killpg(0, signal.SIGTERM)
    deadline = time.monotonic() + _GRACE_S
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if remove:
        shutil.rmtree(remove, ignore_errors=True)
    os.killpg(0, signal.SIGKILL)  # this guard too: what is left of the group after the grace


if __name__ == "__main__":
    _args = sys.argv[1:]
    _split = _args.index("--")
    _options = dict(zip(_args[1:_split:2], _args[2:_split:2]))
    sys.exit(_guard(int(_args[0]), _args[_split + 1:], _options.get("--remove")))
