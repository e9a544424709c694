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
import contextvars
import functools
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

__all__ = ["release_store", "releases_store", "store_released"]

_F = TypeVar("_F", bound=Callable[..., Any])

# the stores a block of this thread is reading (``store_released``): a read inside it leaves the release to the block,
# so a comparison reading a run table after another reconnects once, not at each read
_READING: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("workbench_stores_read", default=())

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
    writes: compare, promote, export, rollback); a block inside another one on the same store leaves it to that one."""
    outer = _READING.get()
    token = _READING.set((*outer, tracking_uri))
    try:
        yield
    finally:
        _READING.reset(token)
        if not any(_same_store(uri, tracking_uri) for uri in outer):
            release_store(tracking_uri)


def releases_store(resolve: Callable[[str | None], str]) -> Callable[[_F], _F]:
    """A public read of the store given as its ``tracking_uri`` keyword (``resolve``: to the store it reads, the
    project's by default) run in ``store_released``: a kernel reading sweeps of project after project (a run's table, its
    experiments and sweeps) keeps none of their stores open."""
    def decorate(read: _F) -> _F:
        @functools.wraps(read)
        def released(*args: Any, **kwargs: Any) -> Any:
            with store_released(resolve(kwargs.get("tracking_uri"))):
                return read(*args, **kwargs)

        return released  # type: ignore[return-value]

    return decorate
