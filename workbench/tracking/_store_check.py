"""Is a tracking store usable? Checked before anything is computed or written, without writing anything.

A sqlite store must exist (when it is read) or be creatable (when a sweep writes it); a tracking server must answer; a
database server (PostgreSQL, MySQL, SQL Server) must accept the URI's login. Each problem is one line naming the store (never its password) and what to do.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.tracking._unreachable import shown_uri

__all__ = ["STORE_HINT", "check_served_artifacts", "check_store", "half_made", "scheme", "sqlite_path"]

STORE_HINT = "point --tracking-uri or MLFLOW_TRACKING_URI at your store"


def sqlite_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` store (None for other stores and in-memory sqlite)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def check_store(uri: str, *, must_exist: bool) -> None:
    """Raise a one-line ``WorkbenchError`` when the store cannot be used: ``must_exist`` for commands that read runs,
    else it must be creatable and writable (a sweep)."""
    shown = shown_uri(uri)
    path = sqlite_path(uri)
    if path is not None:
        if path.is_dir():
            raise WorkbenchError(f"tracking store {shown}: {path} is a folder, not an MLflow sqlite file — {STORE_HINT}")
        if path.exists():
            head = _head(path)
            if head and head != _SQLITE_HEADER:
                raise WorkbenchError(f"tracking store {shown}: {path} is not an SQLite database — {STORE_HINT}")
            tables = _tables(path, shown)
            foreign = {t for t in tables or () if not t.startswith(("alembic_", "sqlite_"))}
            if foreign and not foreign & _MLFLOW_TABLES:  # another application's database: MLflow would add ~30 tables to it
                raise WorkbenchError(f"tracking store {shown}: {path} is another database (tables {', '.join(sorted(foreign)[:3])}"
                                     f"{', ...' if len(foreign) > 3 else ''}), not an MLflow store — {STORE_HINT}")
            if must_exist and tables is not None and "runs" not in tables:
                raise WorkbenchError(f"tracking store {shown}: {path} holds no MLflow store (no runs table) — run a sweep first "
                                     f"(workbench run EXPERIMENT.yaml), or {STORE_HINT}")
            if not must_exist and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
                raise WorkbenchError(f"tracking store {shown}: read-only (no write permission on {path} or its folder) — "
                                     f"make it writable, or {STORE_HINT}")
        elif must_exist:
            raise WorkbenchError(f"tracking store {shown}: no such file — run a sweep first (workbench run EXPERIMENT.yaml), or "
                                 f"{STORE_HINT}")
        else:
            ancestor = path.parent
            while not ancestor.exists() and ancestor != ancestor.parent:
                ancestor = ancestor.parent
            if not ancestor.is_dir() or not os.access(ancestor, os.W_OK):
                why = "is a file, not a folder" if not ancestor.is_dir() else "is not writable"
                raise WorkbenchError(f"tracking store {shown}: cannot be created ({ancestor} {why}) — {STORE_HINT}")
    elif uri.startswith(("http://", "https://")):
        _probe_server(uri, shown)
    elif scheme(uri) in _DATABASE_SCHEMES:
        _probe_database(uri, shown, must_exist=must_exist)
    elif (meant := _meant_scheme(uri)) is not None:  # MLflow's error for it is a traceback quoting the whole URI, password too
        raise WorkbenchError(f"tracking store {shown}: MLflow knows no '{scheme(uri)}://' store — write {meant}://...")
    else:
        _refuse_file_store(uri, shown)


def half_made(uri: str) -> Path | None:
    """The file of a sqlite store whose making was cut short, or None. The first sweep killed while MLflow made the
    store's tables (Ctrl+C, a full disk) leaves its schema between two migrations, which every later command failed
    to upgrade ('duplicate column name', 'table ... already exists'); such a store holds no run and no model yet."""
    import sqlite3

    path = sqlite_path(uri)
    if path is None or not path.is_file():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            held = sum(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("runs", "registered_models"))
    except sqlite3.Error:
        return None
    return path if held == 0 else None


def check_served_artifacts(artifact_uri: str, uri: str, owner: str) -> None:
    """Artifacts a tracking server serves (``mlflow-artifacts:/...``) are read and written only through that server:
    a client pointed at the server's database (``postgresql://...``, its sqlite file) cannot reach them, and MLflow
    says so in a paragraph after the sweep's run exists. Raise one line naming the server to point at instead."""
    if artifact_uri.startswith("mlflow-artifacts:") and not uri.startswith(("http://", "https://")):
        raise WorkbenchError(f"{owner} keeps its artifacts on a tracking server ({artifact_uri}), which only that server reads "
                             f"and writes — point --tracking-uri or MLFLOW_TRACKING_URI at the server (http://HOST:PORT), "
                             f"not at its store {shown_uri(uri)}")


_MLFLOW_TABLES = frozenset({"experiments", "runs", "metrics", "params", "tags"})  # any of them: an MLflow store, maybe half made


def _tables(path: Path, shown: str) -> set[str] | None:
    """The tables of a sqlite file, read without writing (an empty file stays empty); an MLflow store has ``runs``.
    None when they cannot be read now (the store locked by a writer in another process, or its WAL being recovered):
    MLflow, which opens it to write, waits for it; it is not a store without runs.

    Raises:
        WorkbenchError: sqlite cannot open the file, or it is damaged. Both were 'holds no MLflow store — run a sweep
            first', and a sweep then spent two minutes in MLflow's retries before calling the store unreachable.
    """
    import sqlite3

    try:
        # closed here: a sqlite connection refers to itself, so one left to go out of scope kept the store's file open
        # until the garbage collector ran (one more for every store a kernel had swept)
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=0.2)) as db:  # a lock: MLflow waits
            return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.OperationalError as exc:  # reading a store in WAL mode writes <db>-wal and <db>-shm beside it
        if "unable to open" not in str(exc):  # locked by another process, or a WAL this read-only reader cannot recover
            return None
        raise WorkbenchError(f"tracking store {shown}: sqlite cannot open {path} ({exc}) — it writes {path.name}-wal and "
                             f"{path.name}-shm beside it to read it: make {path.parent} writable, or copy {path.name} to a "
                             f"writable folder and point --tracking-uri at the copy") from None
    except sqlite3.DatabaseError as exc:  # cut short by a full disk or a sync tool, overwritten
        raise WorkbenchError(f"tracking store {shown}: {path} is damaged ({exc}) — restore it from a backup (sqlite3's .recover "
                             f"may save its runs into a new file), or {STORE_HINT}") from None


_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def _file_store_path(uri: str) -> Path | None:
    """The folder (or file) of a store MLflow reads as its file store: a plain path or a ``file:`` URI (None for
    any other store)."""
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(url2pathname(parts.path))
    return Path(uri) if parts.scheme == "" else None


def _refuse_file_store(uri: str, shown: str) -> None:
    """A path given as the store (``/data/mlflow.db``, ``./mlruns``) is MLflow's file store, which MLflow refuses
    with a paragraph unless ``MLFLOW_ALLOW_FILE_STORE`` is set: say in one line which sqlite URI was meant."""
    from mlflow.environment_variables import MLFLOW_ALLOW_FILE_STORE

    path = _file_store_path(uri)
    if path is None or MLFLOW_ALLOW_FILE_STORE.get():
        return
    path = path.absolute()
    sqlite_file = path.suffix.lower() in _SQLITE_SUFFIXES or (path.is_file() and _head(path) == _SQLITE_HEADER)
    meant = path if sqlite_file else path / "mlflow.db"
    raise WorkbenchError(f"tracking store {shown}: a plain path means MLflow's retired file store, which MLflow refuses — use "
                         f"sqlite:///{meant} (or set MLFLOW_ALLOW_FILE_STORE=true to open an old file store)")


_SQLITE_HEADER = b"SQLite format 3\0"


def _head(path: Path) -> bytes:
    """The first bytes of a file: an SQLite database starts with ``_SQLITE_HEADER``."""
    with path.open("rb") as fh:
        return fh.read(len(_SQLITE_HEADER))


def _probe_server(uri: str, shown: str) -> None:
    """A tracking server must answer (any HTTP status will do) within 10 s, and take the login MLflow sends."""
    import urllib.error
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(uri)
    netloc = parts.netloc.rsplit("@", 1)[-1]  # credentials go in MLFLOW_TRACKING_USERNAME/PASSWORD, not in a probe
    try:
        with urllib.request.urlopen(urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/health", "", "")), timeout=10):
            pass
    except urllib.error.HTTPError:
        pass  # it answered
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WorkbenchError(f"tracking store {shown}: unreachable ({reason}) — start the server (workbench server), or "
                             f"{STORE_HINT}") from None
    _check_login(uri, shown)


def _check_login(uri: str, shown: str) -> None:
    """A server that wants a login (MLflow's basic-auth app, a proxy in front of it) must accept the one MLflow would send
    (``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``, ``MLFLOW_TRACKING_TOKEN``, or the URI's): one read, no retries. Its
    refusal came only from the sweep's first request, as "check that it is reachable and writable"."""
    import urllib.parse

    from mlflow.exceptions import MlflowException
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    creds = get_default_host_creds(uri)
    try:
        response = http_request(creds, "/api/2.0/mlflow/experiments/search", "GET", max_retries=0, timeout=10,
                                raise_on_status=False, params={"max_results": 1})
    except MlflowException:
        return  # no answer now: the first real request says what went wrong
    if response.status_code == 404:  # the Chroma server's port, another web server's: MLflow's 404 came from the first request
        raise WorkbenchError(f"tracking store {shown}: a web server answers there, but not as an MLflow tracking server (HTTP "
                             f"404 for its REST API) — check the host and port (the one `workbench server` printed), or {STORE_HINT}")
    if response.status_code not in (401, 403):
        return
    user = creds.username or urllib.parse.urlsplit(uri).username
    if user is None and creds.token is None:
        raise WorkbenchError(f"tracking store {shown}: the server wants a login (HTTP {response.status_code}) — set "
                             "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)")
    if user is None:
        who, where = "the token in MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_TOKEN"
    elif creds.username is None and "://***@" in shown_uri(uri):  # a token as the URI's whole login: never its name
        who, where = "the token given as the URI's login", "the token in the URI"
    else:
        where = "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD" if creds.username else "the user and password in the URI"
        who = f"the login of user '{user}'"
    raise WorkbenchError(f"tracking store {shown}: the server refused {who} (HTTP {response.status_code}) — check {where}")


_DATABASE_SCHEMES = frozenset({"postgresql", "mysql", "mssql"})  # MLflow's SQL stores besides sqlite
_CONNECT_TIMEOUT = {"postgresql": {"connect_timeout": 10}, "mysql": {"connect_timeout": 10}, "mssql": {"timeout": 10}}


_KNOWN_SCHEMES = (*sorted(_DATABASE_SCHEMES), "sqlite", "http", "https", "file")


def scheme(uri: str) -> str:
    """The store kind of a URI: ``postgresql`` for ``postgresql+psycopg2://...``, '' for a path."""
    head, sep, _ = uri.partition("://")
    return head.split("+", 1)[0].lower() if sep else ""


def _meant_scheme(uri: str) -> str | None:
    """The store scheme a misspelt one means (``postgres`` -> ``postgresql``); None when it is known or unlike any."""
    import difflib

    kind = scheme(uri)
    if not kind or kind in _KNOWN_SCHEMES:
        return None
    close = difflib.get_close_matches(kind, _KNOWN_SCHEMES, n=1, cutoff=0.75)
    return close[0] if close else None


def _probe_database(uri: str, shown: str, *, must_exist: bool) -> None:
    """One login to a database store, no retries: MLflow retries a refused login for up to 2 minutes, printing a
    warning and the driver's message at each try, then a traceback. Written to (``not must_exist``), a PostgreSQL
    store without MLflow's tables must let its user make them."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    if uri.partition("://")[2].split("?", 1)[0].count("@") > 1:  # the driver would quote the rest as the host name
        raise WorkbenchError(f"tracking store {shown}: {_ENCODE_PASSWORD}") from None
    try:
        url = sqlalchemy.engine.make_url(uri)
        engine = sqlalchemy.create_engine(url, poolclass=NullPool, connect_args=_CONNECT_TIMEOUT[url.get_backend_name()])
    except ImportError as exc:
        raise WorkbenchError(f"tracking store {shown}: its database driver is not installed ({exc.name or exc}) — install it "
                             "(for postgresql://: pip install 'workbench[team]', which installs psycopg 3)") from None
    except sqlalchemy.exc.ArgumentError as exc:
        raise WorkbenchError(f"tracking store {shown}: SQLAlchemy cannot open it ({_hidden(str(exc), uri)}) — check the scheme "
                             "and driver, e.g. postgresql:// or postgresql+psycopg://") from None
    except ValueError:  # a port that is not a number, often a piece of the password after an unencoded ':' or '/'
        raise WorkbenchError(f"tracking store {shown}: its port is not a number, or {_ENCODE_PASSWORD}") from None
    try:
        with engine.connect() as conn:
            if not must_exist and url.get_backend_name() == "postgresql":
                _check_create_right(conn, url, shown)
    except sqlalchemy.exc.DBAPIError as exc:
        reason = _hidden(str(exc.orig or exc), uri)
        raise WorkbenchError(f"tracking store {shown}: the database refused the connection ({reason}) — check the host, port, "
                             "user, password and database name in the URI, and that the server is running") from None
    finally:
        engine.dispose()


def _check_create_right(conn: Any, url: Any, shown: str) -> None:
    """MLflow makes its tables at the first start on a new database: a user who may not create them in its schema (a
    least-privilege role, a database another role owns: PostgreSQL 15 lets only the owner create in ``public``) ended
    ``workbench server`` and a sweep in a hundred lines of SQL and traceback. A store whose tables exist is left to
    MLflow.

    Raises:
        WorkbenchError: the tables are not there and the user may not create them.
    """
    import sqlalchemy

    if sqlalchemy.inspect(conn).has_table("alembic_version"):
        return
    schema, allowed = conn.execute(sqlalchemy.text(
        "SELECT current_schema(), coalesce(has_schema_privilege(current_schema(), 'CREATE'), false)")).one()
    if allowed:
        return
    user, where = url.username or "(this login)", schema or "public"
    raise WorkbenchError(f"tracking store {shown}: user '{user}' may not create tables in schema {where} of database "
                         f"'{url.database}', where MLflow makes its tables at the first start — have the database's owner "
                         f"run GRANT CREATE ON SCHEMA {where} TO {user} (or create it with createdb --owner {user}), or give "
                         "a store whose tables exist")


_ENCODE_PASSWORD = ("the password holds a character that must be percent-encoded in a URI — write @ as %40, : as %3A, "
                    "/ as %2F, # as %23 and % as %25")


def _hidden(message: str, uri: str) -> str:
    """The first line of a driver's message, with the URI's password (if the driver echoed it) starred out."""
    import sqlalchemy

    first = next((line.strip() for line in message.splitlines() if line.strip()), message)
    try:
        password = sqlalchemy.engine.make_url(uri).password
    except (sqlalchemy.exc.ArgumentError, ValueError):
        password = None
    return first.replace(str(password), "***") if password else first
