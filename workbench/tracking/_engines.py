"""Let go of the database connections MLflow keeps for a store once the workbench is done with it.

MLflow keeps one SQLAlchemy engine per database URI for the life of the process (``SqlAlchemyStore._engine_map``, one
map for runs, one for the model registry), and each engine's pool keeps the connections it opened: for a sqlite store,
two connections and five files (the database, its -wal and -shm files). A kernel (or a service) sweeping project after
project held five more files for each store it had written, until it reached its limit of open files. Disposing an
engine closes the connections its pool holds and leaves the engine usable: a later call on the same store (the next
sweep, the user's own ``mlflow.search_runs``) opens a connection again, in a millisecond; a connection in use at that
moment (another thread's call) is closed once it is returned.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["release_store", "store_released"]

# MLflow's stores that keep an engine per URI (runs and traces; the model registry); only those already imported hold any
_ENGINE_MAPS = ("mlflow.store.tracking.sqlalchemy_store", "mlflow.store.model_registry.sqlalchemy_store")


def _same_store(a: str, b: str) -> bool:
    if a == b:
        return True
    sqlite = "sqlite:///"
    if not (a.startswith(sqlite) and b.startswith(sqlite)):
        return False
    return os.path.realpath(a.removeprefix(sqlite).split("?", 1)[0]) == os.path.realpath(b.removeprefix(sqlite).split("?", 1)[0])


def release_store(tracking_uri: str) -> None:
    """Close the idle connections MLflow's engines hold to the database store ``tracking_uri`` (a server's or a file
    store's URI: nothing to do). The engines stay, so nothing is recreated or checked again when the store is used
    next; only its connections are opened anew."""
    if tracking_uri.startswith(("http://", "https://", "file:", "databricks")) or "://" not in tracking_uri:
        return
    for name in _ENGINE_MAPS:
        module = sys.modules.get(name)
        if module is None:
            continue
        engines = dict(module.SqlAlchemyStore._engine_map)  # another thread may add one meanwhile
        for uri, engine in engines.items():
            if _same_store(uri, tracking_uri):
                engine.dispose()


@contextlib.contextmanager
def store_released(tracking_uri: str) -> Iterator[None]:
    """``release_store(tracking_uri)`` once the block is done with the store, however it ends (a command's reads and
    writes: compare, promote, export, rollback)."""
    try:
        yield
    finally:
        release_store(tracking_uri)
