"""Per-variant isolation: a private working directory, a wall-time deadline, a token budget, captured failures."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workbench.errors import BudgetExceeded

Status = Literal["FINISHED", "FAILED", "STOPPED"]


class Stopped(Exception):
    """The user asked the sweep to stop; the variant ends cleanly."""


@dataclass(frozen=True)
class Outcome:
    """How a variant ended. ``error_kind`` is ``timeout``, ``token_budget``, ``cost_budget``, ``stopped`` or the exception type."""

    status: Status
    error: str | None = None
    error_kind: str | None = None
    traceback: str | None = None


class Sandbox:
    """What one variant may use. The variant gets its own ``workdir``; other variants' state is out of reach.

    Args:
        workdir: created empty for this variant; removed by ``release`` once the variant finished.
        wall_time_s: the variant fails once this much time has passed (checked between questions and, for
            llama.cpp models, at every generated token).
        max_tokens: the variant fails once its input + output tokens pass this budget.
        max_cost_usd: the variant fails once what its answers cost passes this budget (an answer of unknown cost fails
            it too: the budget could not be kept).
    """

    def __init__(self, workdir: Path, *, wall_time_s: float, max_tokens: int | None, max_cost_usd: float | None = None) -> None:
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        self.workdir = workdir
        self.wall_time_s = wall_time_s
        self.max_tokens = max_tokens
        self.started = time.monotonic()
        self.deadline = self.started + wall_time_s
        self.max_cost_usd = max_cost_usd
        self.tokens_used = 0
        self.cost_used = 0.0

    def release(self, outcome: Outcome) -> str:
        """Remove the workdir of a variant that finished, and keep that of one that did not (FAILED, STOPPED) to look
        into: nothing reads a finished variant's workdir later, and every sweep left a folder per variant computed.

        Returns:
            the workdir's path when kept, else ``""``.
        """
        if outcome.status != "FINISHED":
            return str(self.workdir)
        shutil.rmtree(self.workdir, ignore_errors=True)
        return ""

    def check_time(self, done: int, total: int) -> None:
        if time.monotonic() > self.deadline:
            raise BudgetExceeded(
                f"wall-time limit of {self.wall_time_s:g}s exceeded after {done}/{total} questions — raise limits.wall_time_s",
                kind="timeout",
            )

    def charge(self, tokens: int, cost_usd: float | None = 0.0, *, unpriced: str = "") -> None:
        """Count an answer's tokens and cost; ``unpriced`` says why its cost is unknown (``cost_usd`` None)."""
        self.tokens_used += tokens
        if self.max_tokens is not None and self.tokens_used > self.max_tokens:
            raise BudgetExceeded(
                f"token budget of {self.max_tokens} exceeded ({self.tokens_used} used) — raise limits.max_tokens",
                kind="token_budget",
            )
        if self.max_cost_usd is None:
            return
        if cost_usd is None:
            raise BudgetExceeded(f"limits.max_cost_usd cannot be kept: {unpriced or 'an answer cost an unknown amount'} — "
                                 "have the server send usage with each reply, or leave max_cost_usd out", kind="cost_budget")
        self.cost_used += cost_usd
        if self.cost_used > self.max_cost_usd:
            raise BudgetExceeded(
                f"cost budget of ${self.max_cost_usd:g} exceeded (${self.cost_used:.4g} of answers) — raise limits.max_cost_usd",
                kind="cost_budget",
            )


_IN_USE = ".running"  # beside a running sweep's folder, ``<sweep>.running``: a file lock the sweep holds until it ends


class SweepSandboxes:
    """The folder of a running sweep's sandboxes (``root/<sweep_id>``), marked in use from ``hold`` to ``release``.

    The mark is a file lock (filelock) the sweep's process holds, released by the kernel when that process dies, so
    ``workbench cache info`` / ``cache clear --sandboxes`` in another terminal neither count a live variant's folder as
    kept nor remove it under the variant (which then failed writing its prompt), while a killed sweep's folders go.
    """

    def __init__(self, root: Path, sweep_id: str) -> None:
        from filelock import FileLock

        self.folder = root / sweep_id
        self._lock = FileLock(str(self.folder) + _IN_USE, timeout=0)

    def hold(self) -> None:
        with contextlib.suppress(OSError):  # a home this user cannot write to: its workers say so, for their variants
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()

    def release(self) -> None:
        """Remove the folder unless a variant's was kept in it, then the mark."""
        with contextlib.suppress(OSError):
            self.folder.rmdir()
        if self._lock.is_locked:
            self._lock.release()
            with contextlib.suppress(OSError):
                os.unlink(self._lock.lock_file)


def _running(sweep: Path) -> bool:
    """Whether the sweep of this folder is running (its process holds the mark); a mark left by a killed sweep goes."""
    from filelock import FileLock, Timeout

    mark = Path(str(sweep) + _IN_USE)
    if not mark.exists():
        return False
    lock = FileLock(str(mark), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    with contextlib.suppress(OSError):
        mark.unlink()
    return False


def running_sweeps(root: Path) -> list[str]:
    """The ids of the sweeps running on this machine whose sandboxes are under ``root`` (their process holds the mark
    ``SweepSandboxes.hold`` took); the marks of sweeps that died are removed. Every sweep holds one from its start to
    its end, so ``workbench cache clear --indexes`` can refuse to remove the indexes a running sweep reads."""
    if not root.is_dir():
        return []
    marks = sorted(p for p in root.iterdir() if p.name.endswith(_IN_USE) and p.is_file())
    return [mark.name[: -len(_IN_USE)] for mark in marks if _running(Path(str(mark)[: -len(_IN_USE)]))]


def kept_sandboxes(root: Path) -> list[Path]:
    """The variants' folders kept under ``root`` (``<sweep>/<variant>``: variants that did not finish, and every
    variant of sweeps run before finished ones were removed); those of sweeps still running are not kept, but in use.
    Only folders count, never a link: a link under ``root`` to a folder elsewhere (the home folder) had each folder in
    it taken for a variant's, and ``workbench cache clear --sandboxes`` removed them."""
    sweeps = [sweep for sweep in _folders(root) if not _running(sweep)] if root.is_dir() else []
    return sorted(p for sweep in sweeps for p in _folders(sweep))


def _folders(folder: Path) -> list[Path]:
    """The folders in ``folder``, links to folders left out."""
    return [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()]


def remove_sandboxes(root: Path, older_than_s: float | None = None) -> int:
    """Remove the kept variant folders under ``root`` created more than ``older_than_s`` seconds ago (all when None),
    and the sweep folders left empty; returns how many variant folders went. Running sweeps' folders are left alone."""
    now, removed = time.time(), 0
    for workdir in kept_sandboxes(root):
        if older_than_s is None or now - workdir.stat().st_mtime > older_than_s:
            shutil.rmtree(workdir, ignore_errors=True)
            removed += 1
    for sweep in root.iterdir() if root.is_dir() else ():
        if sweep.is_dir() and not any(sweep.iterdir()):
            with contextlib.suppress(OSError):  # a sweep that started meanwhile
                sweep.rmdir()
    return removed


def run_sandboxed(fn: Callable[[Sandbox], None], sandbox: Sandbox) -> Outcome:
    """Run ``fn`` and turn every way it can end into an ``Outcome``; never raises (except KeyboardInterrupt)."""
    try:
        fn(sandbox)
    except BudgetExceeded as exc:
        return Outcome("FAILED", str(exc), exc.kind)
    except Stopped:
        return Outcome("STOPPED", "stopped by the user", "stopped")
    except Exception as exc:  # noqa: BLE001 - a failing variant is data: the sweep goes on
        return Outcome("FAILED", f"{type(exc).__name__}: {exc}", type(exc).__name__, traceback.format_exc())
    return Outcome("FINISHED")
