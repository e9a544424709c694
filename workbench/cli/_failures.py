"""One line and an exit code per failure: a user's error, an unusable tracking store (unreachable, half made, of
another MLflow's schema), a file system's refusal, or a bug in workbench; and the exit code of an interrupted command.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

from workbench.results import one_line, without_secrets
from workbench.errors import Terminated, WorkbenchError, shortened
from workbench.tracking import STORE_HINT, half_made


def _failure_line(exc: BaseException, tracking_uri: str) -> tuple[int, str]:
    """The exit code and the one line (without ``error: ``) that ``workbench`` prints for an exception.

    User errors (``WorkbenchError``: bad files, unknown names, refused promotions), an unreachable or unusable
    tracking store and file-system refusals exit 2; anything else is a bug in workbench and exits 3 (a CI job told a
    failed gate, 1, from a crash by reading the log).
    """
    if isinstance(exc, WorkbenchError):
        code, line = 2, str(exc)
    elif _is_store_failure(exc) and _MIGRATED_TWICE.search(_first_line(exc)) and (cut := half_made(tracking_uri)) is not None:
        code, line = 2, (f"tracking store {tracking_uri}: {cut} was left half made, by a sweep stopped while it made it "
                         f"({_first_line(exc)}), and holds no run — delete it ({cut.name} and its -wal and -shm files) and run "
                         "again")
    elif _is_store_failure(exc) and (schema := _OTHER_SCHEMA.search(str(exc))) is not None:
        code, line = 2, f"tracking store {tracking_uri}: {_schema_advice(*schema.groups(), tracking_uri)}"
    elif _is_store_failure(exc):
        code, line = 2, (f"tracking store {tracking_uri}: {type(exc).__name__}: {_first_line(exc)} — check that it is reachable "
                         f"and writable, or {STORE_HINT}")
    elif isinstance(exc, OSError) and exc.filename:
        code, line = 2, f"{exc.filename}: {exc.strerror or _first_line(exc)} — check the path and its permissions"
    else:
        code, line = 3, f"internal error: {type(exc).__name__}: {_first_line(exc)} — rerun with --debug for the traceback, and report it"
    return code, without_secrets(one_line(line))


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's text (its type's name when it has none), redacted and cut between words."""
    text = str(exc).strip()
    return shortened(without_secrets(text.splitlines()[0]), 300) if text else type(exc).__name__


_STORE_MODULES = ("mlflow", "sqlalchemy", "sqlite3", "requests", "urllib3", "alembic")


def _is_store_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if type(seen).__module__.split(".")[0] in _STORE_MODULES:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


_MIGRATED_TWICE = re.compile(r"duplicate column name|already exists")  # a migration of MLflow's run again on its own work


# MLflow's refusal of a database store whose tables another MLflow version made
_OTHER_SCHEMA = re.compile(r"out-of-date database schema \(found version (\w+), but expected (\w+)\)")


def _schema_advice(found: str, expected: str, uri: str) -> str:
    """What to do about a store whose schema is not this MLflow's: upgrade its tables when an older MLflow made them
    (its revision is one of this MLflow's migrations); else a newer MLflow made them, which ``mlflow db upgrade`` cannot
    take back."""
    import importlib.util
    from importlib import metadata

    version = metadata.version("mlflow")
    found_spec = importlib.util.find_spec("mlflow.store.db_migrations")
    versions = Path(found_spec.origin).parent / "versions" if found_spec is not None and found_spec.origin else None
    if versions is not None and any(versions.glob(f"{found}_*.py")):
        return (f"its tables were made by an older MLflow (schema {found}; MLflow {version} reads {expected}) — back the store "
                f"up, then upgrade its tables: mlflow db upgrade {uri}")
    return (f"its tables were made by a newer MLflow than {version}, the one workbench uses (schema {found}, which it does not "
            f"know) — open it with the workbench of that MLflow, or {STORE_HINT}")


def _interrupted_code(exc: KeyboardInterrupt) -> int:
    """128 + the signal, as shells report it: a supervisor (systemd, Kubernetes, CI) tells SIGTERM from Ctrl+C."""
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
