"""The default tracking store is a sqlite file: open it in WAL mode with ``synchronous=NORMAL``.

MLflow commits once per logged entity, and every assessment of every trace is one commit; with sqlite's default
rollback journal each commit waits for the disk (about 10 ms here), which made logging a variant's traces cost a
quarter of its model time. In WAL mode a commit that survives the process (a crash, ``kill -9``) needs no disk wait;
only an operating-system crash can lose the last commits, never corrupt the file. WAL also lets readers (the MLflow UI,
a second notebook) work while a sweep writes, and a busy timeout makes writers wait for each other instead of failing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

__all__ = ["tune_sqlite_store"]

_PATHS: set[str] = set()
_LOCK = threading.Lock()
_LISTENING = False


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    row = dbapi_connection.execute("PRAGMA database_list").fetchone()
    if not row or not row[2] or os.path.realpath(row[2]) not in _PATHS:
        return
    dbapi_connection.execute("PRAGMA busy_timeout = 60000")
    dbapi_connection.execute("PRAGMA journal_mode = WAL")
    dbapi_connection.execute("PRAGMA synchronous = NORMAL")


def tune_sqlite_store(tracking_uri: str) -> None:
    """Open this process's connections to a ``sqlite:///`` tracking store in WAL mode (other URIs are left alone)."""
    global _LISTENING
    if not tracking_uri.startswith("sqlite:///"):
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    with _LOCK:
        _PATHS.add(os.path.realpath(tracking_uri.removeprefix("sqlite:///")))
        if not _LISTENING:
            event.listen(Engine, "connect", _on_connect)
            _LISTENING = True
