"""A tracking server that stops answering mid-sweep: one clear line, not minutes of retries and a traceback.

MLflow's HTTP client retries a failed request for about four minutes by default (7 retries, backoff factor 2, 120 s
timeout), printing a urllib3 warning for every retry. The workbench sets shorter defaults where the user has not set
them (``MLFLOW_HTTP_REQUEST_MAX_RETRIES=4``, ``_BACKOFF_FACTOR=1``, ``_TIMEOUT=20``; see ``workbench._telemetry``): a
server restarting for a few seconds is waited for (about 15-20 s of retries), a server that is gone ends the sweep
within about 20 s. The retry warnings of MLflow's own
requests are silenced; when the retries are spent the tracker raises ``TrackingUnavailable``, whose message is the
line the user reads: which server, what was being logged, that nothing computed is lost (answers are cached) and
what to do (start the server again and re-run; finished variants are reused). A database store (``postgresql://``,
``mysql://``) whose server goes away is the same line, without MLflow's traceback of the driver's error.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

from workbench.config import shown_uri
from workbench.errors import WorkbenchError

__all__ = ["TrackingUnavailable", "is_unreachable", "quiet_retry_warnings", "shown_uri", "tracking_call"]

_T = TypeVar("_T")
_NETWORK_MODULES = ("requests", "urllib3", "http", "socket")
_DATABASE_DRIVERS = ("psycopg", "psycopg2", "pymysql", "MySQLdb", "pyodbc")  # their OperationalError: the server is gone
_SERVED = ("http", "https", "postgresql", "mysql", "mssql")  # stores behind a server that can stop answering


class TrackingUnavailable(WorkbenchError):
    """The tracking server did not answer (after MLflow's retries). The message is one line saying what to do.

    Attributes:
        uri: the tracking URI (without credentials).
        doing: what the workbench was logging when it failed.
    """

    def __init__(self, uri: str, doing: str, reason: str, *, unended_run: str | None = None) -> None:
        self.uri, self.doing, self.reason, self.unended_run = uri, doing, reason, unended_run
        super().__init__(self._line())

    def _line(self) -> str:
        # a server that answers every try with an error (a 502 from the gateway in front of it) is up: restarting is
        # not what it needs
        failing = self.reason.startswith("HTTP ")
        what, todo = (("answered with errors", "check its log, or the proxy in front of it, then re-run") if failing
                      else ("stopped answering", "start the server again and re-run"))
        line = (f"tracking server {self.uri} {what} while {self.doing} ({self.reason}) — {todo} the same command: variants "
                "already logged are reused and cached answers are not recomputed")
        if self.unended_run is not None:
            line += (f"; the sweep's parent run {self.unended_run} could not be ended and stays RUNNING (the next sweep of "
                     "this experiment from this machine ends it as KILLED)")
        return line

    def parent_not_ended(self, run_id: str) -> None:
        """Say in the message that the sweep's parent run could not be ended either."""
        self.unended_run = run_id
        self.args = (self._line(),)

    def __str__(self) -> str:
        return self._line()


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a network failure: connection refused or reset, a timeout, no route."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, (ConnectionError, TimeoutError)):
            return True
        if type(seen).__module__.split(".")[0] in _NETWORK_MODULES and isinstance(seen, OSError):
            return True  # requests' ConnectionError/Timeout, urllib3's MaxRetryError/NewConnectionError
        if type(seen).__module__.split(".")[0] == "urllib3":
            return True
        if type(seen).__module__.split(".")[0] in _DATABASE_DRIVERS and type(seen).__name__ == "OperationalError":
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _reason(exc: BaseException) -> str:
    text = str(exc)
    status = re.search(r"too many (\d{3}) error responses", text)  # urllib3's retries spent on 5xx answers (or 429)
    if status is not None:  # it answers, with errors: a gateway in front of it, or the server itself, is failing
        return f"HTTP {status.group(1)} to every try"
    for pattern in (r"Connection refused", r"Connection reset", r"Read timed out", r"timed out", r"Name or service not known",
                    r"Remote end closed connection", r"Connection aborted"):
        if re.search(pattern, text, re.IGNORECASE):
            return pattern.lower()
    seen: BaseException | None = exc
    while seen is not None and (seen.__cause__ or seen.__context__) is not None:
        seen = seen.__cause__ or seen.__context__
    return type(seen or exc).__name__


def tracking_call(doing: str) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """Decorate a tracker method: a network failure talking to a tracking server becomes ``TrackingUnavailable``."""

    def wrap(method: Callable[..., _T]) -> Callable[..., _T]:
        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> _T:
            try:
                return method(self, *args, **kwargs)
            except TrackingUnavailable:
                raise
            except Exception as exc:
                uri = str(getattr(self, "tracking_uri", ""))
                if uri.partition("://")[0].split("+", 1)[0].lower() not in _SERVED or not is_unreachable(exc):
                    raise
                self.unreachable = True
                raise TrackingUnavailable(shown_uri(uri), doing, _reason(exc)) from exc

        return call

    return wrap


class _DropRetries(logging.Filter):
    """Drops urllib3's "Retrying (...) after connection broken ..." warnings of requests to MLflow's REST API."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Retrying"):
            return True
        return "mlflow" not in " ".join(str(a) for a in (record.args or ()))


class _DropCaught(logging.Filter):
    """Drops MLflow's "SQLAlchemy database error" log (a traceback of ~100 lines) of an error it raises again."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("SQLAlchemy database error")


_FILTER = _DropRetries()
_CAUGHT = _DropCaught()


def quiet_retry_warnings() -> None:
    """Silence urllib3's per-retry warnings for MLflow's requests and MLflow's traceback of a database error it raises
    again (a failure that outlasts the retries is one line)."""
    for name, drop in (("urllib3.connectionpool", _FILTER), ("mlflow.store.db.utils", _CAUGHT)):
        logger = logging.getLogger(name)
        if drop not in logger.filters:
            logger.addFilter(drop)
