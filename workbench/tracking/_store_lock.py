"""Serialise what two processes must not do at once on a sqlite tracking store.

The first process that opens a brand-new ``sqlite:///`` store creates MLflow's tables and runs its schema migrations
(alembic). Two sweeps started together on the same new file (two notebooks) both find an empty database, both
migrate, and one dies with an alembic ``CommandError``. So a process opens the store the first time under an
inter-process lock (``<db>.lock``): the second one waits, then finds the tables made and only checks the schema.
Two processes of two machines opening a new PostgreSQL database store (``postgresql://...``) at once raced the same
way (one died on "duplicate key value violates unique constraint pg_type_typname_nsp_index"): there the lock is one of
the database server's advisory locks, which every machine sees. PostgreSQL makes the migrations in one transaction, so
a Ctrl+C in the middle of them leaves an empty database, which the next process migrates again: its interrupt is not
deferred.

A change of the model registry (a promotion, a rollback) reads the alias holder and the registered versions, then
registers and moves the alias. Two at once (two terminals, two CI jobs) each read the registry as it was before the
other: both created the registered model (one died on "already exists") or registered one configuration as two
versions. So such changes are made one at a time, under ``<db>.registry.lock`` (on a PostgreSQL store, under another
advisory lock of its server: the CI jobs of two machines).

Migrating a new sqlite store costs about two seconds of CPU, the same every time for one version of MLflow: the first
store a machine makes is kept, empty (its schema, no experiment), as ``~/.cache/workbench/stores/<versions>.db``, and
a later new store starts as a copy of it; MLflow then finds its schema current and makes the Default experiment as for
any new store. A copy that cannot be made (a read-only home) leaves MLflow to migrate the store itself, as before.

A Ctrl+C (a notebook's interrupt) in the middle of the first ``import mlflow`` of a process, or of a new store's
migrations, left a half-imported library (every later sweep of the kernel failed on "partially initialized module
'mlflow'") or a half-migrated store ("table _alembic_tmp_experiments already exists", in any process). So both are
done with the interrupt held until they end: ``interrupts_deferred``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.tracking._store_check import check_store, scheme
from workbench.tracking._unreachable import shown_uri

__all__ = ["interrupts_deferred", "interrupts_held", "open_store_serialised", "registry_changes_serialised"]

_log = logging.getLogger(__name__)
_WAIT_S = 600.0  # migrating a store takes seconds; an old store being upgraded by another process may take minutes


@contextlib.contextmanager
def _held(tracking_uri: str, suffix: str, what: str) -> Iterator[None]:
    """Hold the file lock ``<db><suffix>`` of a ``sqlite:///`` store for a block; other URIs take no lock."""
    if not tracking_uri.startswith("sqlite:///"):
        yield
        return
    from filelock import FileLock, Timeout

    db = Path(tracking_uri.removeprefix("sqlite:///"))
    lock = FileLock(str(db) + suffix, timeout=_WAIT_S)
    try:
        lock.acquire()
    except Timeout:
        raise WorkbenchError(
            f"waited {_WAIT_S:.0f} s for another process to {what} {db} (lock {lock.lock_file}) — is a process stuck on it?"
        ) from None
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def interrupts_deferred(signum: int = signal.SIGINT) -> Iterator[None]:
    """A block that a Ctrl+C (SIGINT; or ``signum``: a worker's SIGTERM) does not cut in two: one received meanwhile is
    delivered, to the handler that was in place, once the block has ended. Outside the main thread (where no signal
    handler runs), or under a handler installed from outside Python, the block runs as it is."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signum) is None:
        yield
        return
    received: list[int] = []
    previous = signal.signal(signum, lambda got, _frame: received.append(got))
    try:
        yield
    finally:
        signal.signal(signum, previous)
        if received:
            signal.raise_signal(signum)  # as it would have come: a KeyboardInterrupt, a death by SIGTERM, or ignored under SIG_IGN


@contextlib.contextmanager
def interrupts_held(*signums: int, received: list[int] | None = None) -> Iterator[None]:
    """A block that a first Ctrl+C (or any of ``signums``: SIGINT by default) does not cut in two, while a second one
    still stops it at once (a block that hangs on a server that does not answer): the first one is delivered, to the
    handler that was in place, once the block has ended; a second is delivered as it comes. ``received`` gets each
    signal as it comes (the caller's other threads can start to stop meanwhile). Outside the main thread, or under a
    handler installed from outside Python, the block runs as it is."""
    signums = signums or (signal.SIGINT,)
    if threading.current_thread() is not threading.main_thread() or any(signal.getsignal(s) is None for s in signums):
        yield
        return
    held: list[int] = []
    previous = {s: signal.getsignal(s) for s in signums}

    def restore() -> None:
        for s, handler in previous.items():
            signal.signal(s, handler)

    def hold(got: int, _frame: object) -> None:
        held.append(got)
        if received is not None:
            received.append(got)
        if len(held) > 1:  # stop now: to the handler that was in place
            restore()
            signal.raise_signal(got)

    for s in signums:
        signal.signal(s, hold)
    try:
        yield
    finally:
        restore()
        if len(held) == 1:
            signal.raise_signal(held[0])


# the key of the advisory lock under which a process opens a PostgreSQL store ("wbst" as an integer): any 64-bit number
# that no other application of the database locks
_PG_LOCK_KEY = 0x77627374
# the key of the advisory lock under which a process changes the model registry of a PostgreSQL store ("wbrg")
_PG_REGISTRY_KEY = 0x77627267
_OPENED: set[str] = set()  # the postgresql:// stores this process has opened
_OPENING = threading.Lock()


@contextlib.contextmanager
def _advisory_lock(tracking_uri: str, key: int = _PG_LOCK_KEY, what: str = "create the MLflow store") -> Iterator[None]:
    """Hold the session advisory lock ``key`` of a ``postgresql://`` store's database server for a block, on a
    connection of its own: another machine's process taking it on the same database (to open it, or to ``what``) waits
    for it (ten minutes at most)."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    engine = sqlalchemy.create_engine(tracking_uri, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(f"SET lock_timeout = '{_WAIT_S:.0f}s'"))
            try:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            except sqlalchemy.exc.OperationalError:  # lock_timeout: LockNotAvailable
                raise WorkbenchError(f"waited {_WAIT_S:.0f} s for another process to {what} {shown_uri(tracking_uri)} "
                                     f"(PostgreSQL advisory lock {key}) — is a process stuck on it?") from None
            conn.commit()
            yield  # closing the connection releases the lock, also when the block failed because the server went away
    finally:
        engine.dispose()


def open_store_serialised(tracking_uri: str) -> None:
    """Create (or open) the tracking store of a ``sqlite:///`` URI under a file lock, or of a ``postgresql://`` URI
    under an advisory lock of its server (once per process: a sweep's, and a command reading the store, which creates
    a new database's tables as well); other URIs are left alone.

    MLflow keeps one store object per URI in the process, so the clients made afterwards use the one opened here.

    Raises:
        WorkbenchError: another process held the lock for longer than ten minutes.
    """
    from mlflow import MlflowClient

    _quiet_store_chatter()
    if scheme(tracking_uri) == "postgresql":
        with _OPENING:
            if tracking_uri in _OPENED:  # MLflow made its store object, and checked the schema, when it was first opened
                return
            check_store(tracking_uri, must_exist=False)  # a database that refuses the login: one line, not the driver's error
            with _advisory_lock(tracking_uri):
                MlflowClient(tracking_uri).search_experiments(max_results=1)  # creates the store: tables and migrations
            _OPENED.add(tracking_uri)
    elif tracking_uri.startswith("sqlite:///"):
        with _held(tracking_uri, ".lock", "create the MLflow store"), interrupts_deferred():
            _copy_empty_store(Path(tracking_uri.removeprefix("sqlite:///")))
            MlflowClient(tracking_uri).search_experiments(max_results=1)


def _copy_empty_store(db: Path) -> None:
    """Make a new sqlite store ``db`` (none there yet, or an empty file) a copy of the migrated empty store this machine
    keeps for this MLflow, made first if need be; left to MLflow's migrations when it cannot be."""
    if db.name == ":memory:" or (db.exists() and db.stat().st_size > 0):
        return
    copy = db.with_name(f"{db.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        template = _empty_store()
        db.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, copy)
        os.replace(copy, db)  # whole: the MLflow UI opening the file meanwhile never reads half of it
    except Exception as exc:  # noqa: BLE001 - a copy saves seconds; MLflow makes the store without it
        _log.debug("could not start %s from an empty migrated store: %s: %s", db, type(exc).__name__, exc)
    finally:
        with contextlib.suppress(OSError):
            copy.unlink(missing_ok=True)


def _empty_store() -> Path:
    """The migrated empty sqlite store of this MLflow, SQLAlchemy, alembic and sqlite (made once: MLflow's own table
    creation and migrations on a file of its own, then moved into place whole, so a reader never sees half of it)."""
    import sqlite3

    import alembic
    import mlflow
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables, create_sqlalchemy_engine_with_retry

    versions = f"mlflow-{mlflow.__version__}-sqlalchemy-{sqlalchemy.__version__}-alembic-{alembic.__version__}-sqlite-{sqlite3.sqlite_version}"
    template = _stores_dir() / f"{versions}.db"
    if template.exists():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    making = template.with_name(f"{template.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        engine = create_sqlalchemy_engine_with_retry(f"sqlite:///{making}")
        try:
            _initialize_tables(engine)
        finally:
            engine.dispose()
        os.replace(making, template)
    finally:
        making.unlink(missing_ok=True)
    return template


def _stores_dir() -> Path:
    """Where the empty migrated stores are kept: beside the downloaded models (``~/.cache/workbench``)."""
    return Path.home() / ".cache" / "workbench" / "stores"


# MLflow's INFO lines as it makes a new store's tables ("Creating initial MLflow database tables...", "Updating database
# tables"), in the middle of a sweep's output or after what `workbench list` printed; the CLI names the store and how
# to open it once, at the end
_MLFLOW_CHATTER = ("mlflow.store.db.utils",)


def _quiet_store_chatter() -> None:
    """MLflow's store logger at WARNING, unless the user chose its level (DEBUG, to see the migrations)."""
    for chatter in map(logging.getLogger, _MLFLOW_CHATTER):
        if chatter.level == logging.NOTSET:
            chatter.setLevel(logging.WARNING)


def registry_changes_serialised(tracking_uri: str) -> contextlib.AbstractContextManager[None]:
    """A block in which this process alone changes the model registry of a ``sqlite:///`` store, or of a
    ``postgresql://`` one (an advisory lock of its server, which two CI machines share): other processes' promotions
    and rollbacks wait for it. Other stores (a tracking server's ``http://``) take no lock.

    Raises:
        WorkbenchError: another process held the lock for longer than ten minutes.
    """
    what = "finish changing the model registry of"
    if scheme(tracking_uri) == "postgresql":  # two CI jobs promoting at once registered one configuration as two versions
        return _advisory_lock(tracking_uri, _PG_REGISTRY_KEY, what)
    return _held(tracking_uri, ".registry.lock", what)
