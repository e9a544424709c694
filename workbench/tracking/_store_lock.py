"""Serialise the creation of a sqlite tracking store between processes.

The first process that opens a brand-new ``sqlite:///`` store creates MLflow's tables and runs its schema migrations
(alembic). Two sweeps started together on the same new file (two notebooks) both find an empty database, both
migrate, and one dies with an alembic ``CommandError``. So a process opens the store the first time under an
inter-process lock (``<db>.lock``): the second one waits, then finds the tables made and only checks the schema.
"""

from __future__ import annotations

from pathlib import Path

from workbench.errors import WorkbenchError

__all__ = ["open_store_serialised"]

_WAIT_S = 600.0  # migrating a store takes seconds; an old store being upgraded by another process may take minutes


def open_store_serialised(tracking_uri: str) -> None:
    """Create (or open) the tracking store of a ``sqlite:///`` URI under a file lock; other URIs are left alone.

    MLflow keeps one store object per URI in the process, so the clients made afterwards use the one opened here.

    Raises:
        WorkbenchError: another process held the lock for longer than ten minutes.
    """
    if not tracking_uri.startswith("sqlite:///"):
        return
    from filelock import FileLock, Timeout
    from mlflow import MlflowClient

    db = Path(tracking_uri.removeprefix("sqlite:///"))
    lock = FileLock(str(db) + ".lock", timeout=_WAIT_S)
    try:
        with lock:
            MlflowClient(tracking_uri).search_experiments(max_results=1)  # creates the store: tables and migrations
    except Timeout:
        raise WorkbenchError(
            f"waited {_WAIT_S:.0f} s for another process to create the MLflow store {db} (lock {lock.lock_file}) — "
            "is a process stuck on it?"
        ) from None
