"""``workbench cache info|clear``: the cache of answers, judge replies and embeddings; the indexes, local and on a
Chroma server; the sandbox folders kept of variants that did not finish.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.pipeline import ChromaIndexStore, ChromaServerIndexStore


def _cmd_cache(args: argparse.Namespace) -> int:
    from workbench.cache import DiskCacheStore, parse_age
    from workbench.config import settings
    from workbench.sandbox import kept_sandboxes, remove_sandboxes, running_sweeps

    older_than = None
    if args.action == "clear" and args.older_than is not None:
        try:
            older_than = parse_age(args.older_than)
        except ValueError as exc:
            raise WorkbenchError(f"--older-than: {exc}") from None
    cfg = settings()
    scope = f" older than {args.older_than}" if older_than is not None else ""
    if args.action == "clear" and args.sandboxes:
        removed_dirs = remove_sandboxes(cfg.sandbox_dir, older_than)
        print(f"removed {removed_dirs} sandbox folders{scope} from {cfg.sandbox_dir}")
        return 0
    if args.action == "clear" and args.indexes:
        live = [] if args.force else running_sweeps(cfg.sandbox_dir)
        if live:
            running = "1 sweep is" if len(live) == 1 else f"{len(live)} sweeps are"
            raise WorkbenchError(f"{running} running on this machine (in {cfg.home}), whose variants read the indexes: removing "
                                 "them now fails those variants — run it again once the sweep ends, or add --force")
        server = _server_indexes()  # refused before anything is removed when a teammate's sweep reads the server now
        if server is not None and not args.force:
            _refuse_if_in_use(server.address, server.url)
        indexes = _indexes(cfg.index_dir)
        try:
            removed = indexes.remove(older_than) if indexes is not None else []
            print(f"removed {len(removed)} indexes{scope} from {cfg.index_dir} (a sweep that needs one builds it again)")
            if server is not None:
                print(f"removed {len(server.remove(older_than))} indexes{scope} from the Chroma server {server.url} "
                      "(a sweep that needs one builds it again)")
        finally:
            _close(indexes, server)
        return 0
    if not cfg.cache_dir.exists():  # do not create a cache just to say it is empty
        print(f"cache {cfg.cache_dir}: empty (nothing cached yet)" if args.action == "info" else "removed 0 cache entries")
    else:
        store = DiskCacheStore(cfg.cache_dir, size_limit_mb=cfg.cache_size_mb)
        try:
            if args.action == "clear":
                unused = f" unused for {args.older_than}" if older_than is not None else ""
                print(f"removed {store.clear(older_than_s=older_than)} cache entries{unused} from {cfg.cache_dir}")
                return 0
            print(store.info().summary())
        finally:
            store.close()
    indexes = _indexes(cfg.index_dir) if args.action == "info" else None  # do not create an index store either
    if indexes is not None:
        try:
            found = indexes.indexes()
        finally:
            _close(indexes)
        age = f", the oldest built {_age(found[0].built_at)}" if found else ""
        damaged = sum(1 for i in found if i.chunks is None)
        age += f", {damaged} of them damaged (a sweep that needs one builds it again)" if damaged else ""
        print(f"indexes {cfg.index_dir}: {len(found)} indexes, {_mib([cfg.index_dir]):.1f} MiB on disk{age}"
              " (workbench cache clear --indexes [--older-than AGE] removes them)")
    server = _server_indexes() if args.action == "info" else None
    if server is not None:
        try:
            found = server.indexes()
        finally:
            _close(server)
        age = f", the oldest built {_age(found[0].built_at)}" if found else ""
        print(f"indexes on the Chroma server {server.url} (WORKBENCH_CHROMA_URL): {len(found)} indexes{age}"
              " (workbench cache clear --indexes [--older-than AGE] removes them)")
    kept = kept_sandboxes(cfg.sandbox_dir) if args.action == "info" else []
    if kept:
        print(f"sandboxes {cfg.sandbox_dir}: {len(kept)} folders kept of variants that did not finish, {_mib(kept):.1f} MiB"
              " (workbench cache clear --sandboxes [--older-than AGE] removes them)")
    return 0


def _server_indexes() -> ChromaServerIndexStore | None:
    """The Chroma server ``WORKBENCH_CHROMA_URL`` names, where this project's sweeps keep their indexes: ``cache info``
    and ``cache clear --indexes`` said nothing of it, and a clear that "removed 0 indexes" left every one on it."""
    from workbench.pipeline import ChromaServerIndexStore
    from workbench.pipeline.stores import CHROMA_URL_ENV

    url = os.environ.get(CHROMA_URL_ENV, "").strip()
    return ChromaServerIndexStore(url) if url else None


def _refuse_if_in_use(address: str, shown: str) -> None:
    """Refuse to clear the Chroma server at ``address`` while a sweep of the tracking store (any machine's) reads it:
    the local check sees this machine's sweeps only, and a teammate's sweep had its index removed under it."""
    from workbench.tracking import sweeps_using_index_server

    try:
        live = sweeps_using_index_server(address)
    except WorkbenchError as exc:  # which sweeps read the server cannot be known: nothing is removed blindly
        raise WorkbenchError(f"{exc} — the tracking store tells which sweeps read the Chroma server {shown} now: start it or set "
                             "MLFLOW_TRACKING_URI to the team's, or add --force to remove its indexes without checking") from None
    if live:
        running = "1 sweep is" if len(live) == 1 else f"{len(live)} sweeps are"
        raise WorkbenchError(f"{running} running on the Chroma server {shown} ({'; '.join(map(str, live[:3]))}"
                             f"{f'; and {len(live) - 3} more' if len(live) > 3 else ''}), whose variants read its indexes: removing them "
                             "now fails those variants — run it again once they end, or add --force (a sweep whose machine is gone: "
                             "workbench end RUN_ID --reason ... ends it)")


def _close(*stores: ChromaIndexStore | ChromaServerIndexStore | None) -> None:
    """Let go of the index stores a command opened: a local one's Chroma keeps its folder's files and threads open for
    the life of the process otherwise (``workbench.cli.main`` run in a kernel, project after project)."""
    for store in stores:
        if store is not None:
            store.close()


def _indexes(path: Path) -> ChromaIndexStore | None:
    from workbench.pipeline import ChromaIndexStore

    return ChromaIndexStore.existing(path)


def _mib(folders: Sequence[Path]) -> float:
    """The size of the files in ``folders``, in MiB."""
    return sum(f.stat().st_size for d in folders for f in d.rglob("*") if f.is_file()) / 2**20


def _age(built_at: float | None) -> str:
    """``3 days ago`` (``by an older workbench`` when unknown)."""
    if built_at is None:
        return "by an older workbench"
    days = (time.time() - built_at) / 86400
    return f"{days:.0f} days ago" if days >= 1 else f"{days * 24:.0f} hours ago"
