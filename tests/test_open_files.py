"""A process that works in one project after another (a notebook kernel switching projects, a service sweeping for many
teams) keeps none of a project's files open once a call returns, and no more threads: its open files stay the same
however many projects it has worked in. Counted without running the garbage collector, as a kernel would between two
cells: what waits for it stays open for as long as it does not run."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from workbench.cache import DiskCacheStore


def held_under(folder: Path) -> list[str]:
    """The files this process holds open under ``folder`` (the garbage collector not run first)."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since it was listed (the listing's own descriptor)
            continue
        if target.startswith(f"{folder}{os.sep}"):
            held.append(target)
    return sorted(held)


def test_closing_the_cache_closes_the_connections_other_threads_opened(tmp_path: Path) -> None:
    # diskcache keeps one connection per thread and closed only the closing thread's: a sweep's question threads each
    # left theirs (to cache.db and counts/cache.db) for the garbage collector
    store = DiskCacheStore(tmp_path / "cache")
    keep_going, used = threading.Event(), threading.Event()
    answers: list[object] = []

    def question() -> None:
        store.put("generation", "k", {"answer": "a"})
        answers.append(store.get("generation", "k"))
        used.set()
        keep_going.wait(10)
        answers.append(store.get("generation", "k"))  # after the close: a connection of its own again

    threads = [threading.Thread(target=question) for _ in range(3)]
    for t in threads:
        t.start()
    assert used.wait(10)
    while len(answers) < 3:
        threading.Event().wait(0.01)
    store.close()
    assert held_under(tmp_path / "cache") == []
    keep_going.set()
    for t in threads:
        t.join(10)
    assert [a["answer"] if isinstance(a, dict) else a for a in answers] == ["a"] * 6
    store.close()
    assert held_under(tmp_path / "cache") == []
