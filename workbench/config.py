"""Where workbench keeps things: the MLflow store, caches and sandboxes. Environment variables override defaults."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import WorkbenchError

__all__ = ["LARGE_GRID", "Settings", "plots_wanted", "settings", "shown_uri"]

# a grid of more variants than this runs only when asked for by name (`workbench run --yes`, `RunPanel(...,
# allow_large_grid=True)`): a typo'd range or one axis too many means months of calls and a store of runs to clean
LARGE_GRID = 1000
_MAX_CACHE_MB = (2**63 - 1) // 2**20  # the largest cap whose size in bytes sqlite (diskcache's settings) can hold


@dataclass(frozen=True)
class Settings:
    """Resolved locations.

    Attributes:
        root: the project folder (the current directory unless ``WORKBENCH_ROOT`` is set).
        tracking_uri: MLflow tracking URI; ``MLFLOW_TRACKING_URI`` wins, else ``sqlite:///<root>/mlruns/mlflow.db``.
        artifact_root: where new MLflow experiments keep their artifacts: ``artifacts`` beside a sqlite store's file
            (``<root>/mlruns/artifacts`` for the default store), else ``<root>/mlruns/artifacts``.
        home: caches (built indexes, model answers, embeddings) and per-variant sandboxes (``<root>/.workbench``).
    """

    root: Path
    tracking_uri: str
    artifact_root: Path
    home: Path

    def __repr__(self) -> str:
        # a notebook cell showing wb.settings() saves its output: a team server's URI is shown without its password
        return (f"Settings(root={self.root!r}, tracking_uri={shown_uri(self.tracking_uri)!r}, artifact_root={self.artifact_root!r}, "
                f"home={self.home!r})")

    @property
    def index_dir(self) -> Path:
        return self.home / "indexes"

    @property
    def model_dir(self) -> Path:
        return _env_path("WORKBENCH_MODEL_DIR") or Path.home() / ".cache" / "workbench" / "models"

    @property
    def sandbox_dir(self) -> Path:
        return self.home / "sandboxes"

    @property
    def cache_dir(self) -> Path:
        """Model answers, judge replies and embeddings (``WORKBENCH_CACHE_DIR`` wins; default ``<home>/cache``)."""
        return _env_path("WORKBENCH_CACHE_DIR") or self.home / "cache"

    @property
    def cache_size_mb(self) -> int:
        """The cache's size cap in MiB (``WORKBENCH_CACHE_SIZE_MB``, default 4096); past it the entries read or stored least recently go.

        Raises:
            WorkbenchError: ``WORKBENCH_CACHE_SIZE_MB`` is not a whole number from 1 to ``_MAX_CACHE_MB``.
        """
        text = os.environ.get("WORKBENCH_CACHE_SIZE_MB") or "4096"  # empty is unset, as for the other variables
        try:
            size = int(text)
        except ValueError:
            size = 0
        if not 1 <= size <= _MAX_CACHE_MB:  # in bytes the cap is a sqlite integer: a 'no limit' of 10**15 overflows it
            raise WorkbenchError(f"WORKBENCH_CACHE_SIZE_MB={text!r}: the cache's size cap must be a whole number of MiB, at least 1 "
                                 f"and at most {_MAX_CACHE_MB} — fix it, or unset it for the default 4096")
        return size

    @property
    def plots(self) -> bool:
        """Whether a sweep logs its comparison plots (``plots/*.png`` on its parent run): ``WORKBENCH_PLOTS``, on by
        default; ``0`` leaves them out (a CI job whose runs nobody opens saves about half a second per sweep).

        Raises:
            WorkbenchError: ``WORKBENCH_PLOTS`` is not one of 1, 0, true, false, yes, no, on, off.
        """
        return plots_wanted()


_YES, _NO = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off"})


def plots_wanted() -> bool:
    """``Settings.plots``, read from the environment as the sweep ends (no project folder needed)."""
    given = os.environ.get("WORKBENCH_PLOTS") or "1"  # empty is unset, as for the other variables
    word = given.strip().lower()
    if word not in _YES | _NO:
        raise WorkbenchError(f"WORKBENCH_PLOTS={given!r}: give 1 to log a sweep's comparison plots or 0 to leave them "
                             "out, or unset it (they are logged)")
    return word in _YES


# a secret handed over in a URI's query rather than its login: SQLAlchemy gives a database URI's query to the driver
# (postgresql://bob@db/mlflow?password=...), a proxy takes ?token=...; the parameter names workbench.redaction masks
# in any URL's query (its url_query_secret)
_QUERY_SECRET = re.compile(r"(?i)([?&](?:[\w.-]*(?:key|token|secret|passw|pwd|sig|auth|credential)[\w.-]*|code)=)[^&\s#]+")


# a token given as a URI's whole login (https://<token>@mlflow.example): no ':', 16 characters or more holding a digit
# and a letter, as workbench.redaction's url_login_token reads it; a user's name (bob, mlflow_admin) is kept
_LOGIN_TOKEN = re.compile(r"(://)(?=[^\d/@\s]*\d)(?=[^A-Za-z/@\s]*[A-Za-z])[A-Za-z0-9._~+=%-]{16,}@")


def shown_uri(uri: str) -> str:
    """The URI without a password (``http://user:***@host``), also one written without percent-encoding its ``@``,
    ``:`` or ``/`` (everything up to the URI's last ``@`` is hidden), or given in its query (``?password=***``), and
    without a token given as its whole login (``https://***@host``)."""
    hidden = _LOGIN_TOKEN.sub(r"\1***@", re.sub(r"(://[^:/@\s]+):\S*@", r"\1:***@", uri))
    return _QUERY_SECRET.sub(r"\1***", hidden)


def settings(root: str | Path | None = None, tracking_uri: str | None = None) -> Settings:
    """Resolve settings; explicit arguments win over environment variables, which win over defaults. A ``root`` of
    ``~/project`` is under the home folder, as in ``WORKBENCH_ROOT`` (not a folder named ``~`` in the current one).

    Raises:
        WorkbenchError: ``root`` is not a folder's path (a tracking URI given first, ``wb.settings("sqlite:///...")``,
            made a folder named ``sqlite:`` the project), or ``tracking_uri`` is not a str.
    """
    _check_settings_arguments(root, tracking_uri)
    base = (Path(root).expanduser() if root else _env_path("WORKBENCH_ROOT") or Path.cwd()).resolve()
    mlruns = base / "mlruns"
    # a value set with a line end (a CI secret, a ConfigMap, `echo URI > .env`) named a second store, `mlflow.db\n`
    uri = (tracking_uri or "").strip() or os.environ.get("MLFLOW_TRACKING_URI", "").strip() or f"sqlite:///{mlruns / 'mlflow.db'}"
    home = _env_path("WORKBENCH_HOME") or base / ".workbench"
    return Settings(root=base, tracking_uri=uri, artifact_root=_artifact_root(uri, mlruns), home=home)


def _check_settings_arguments(root: object, tracking_uri: object) -> None:
    """One line for a root that is no folder or a tracking URI that is no text (see ``settings``)."""
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise WorkbenchError(f"root: expected the project folder's path, not a {type(root).__name__}")
    if isinstance(root, str) and "://" in root:
        raise WorkbenchError(f"root: {root!r} is a tracking URI, not a folder — pass it as wb.settings(tracking_uri={root!r})")
    if tracking_uri is not None and not isinstance(tracking_uri, str):
        raise WorkbenchError(f"tracking_uri: expected a URI such as 'sqlite:///path/to/mlflow.db', not a {type(tracking_uri).__name__} "
                             "— for a folder, pass root= (its store is mlruns/mlflow.db there)")


def _artifact_root(uri: str, mlruns: Path) -> Path:
    """``artifacts`` beside a sqlite store's file, so that the store and its artifacts move and go together: with the
    store elsewhere (a CI job's ``sqlite:////cache/mlflow.db``), artifacts under the checkout were gone with it while
    the store kept pointing at them. Other stores (a database server, in-memory sqlite) keep ``<root>/mlruns``."""
    database = uri.removeprefix("sqlite:///").split("?", 1)[0] if uri.startswith("sqlite:///") else ""
    return (Path(database).parent / "artifacts").resolve() if database not in ("", ":memory:") else mlruns / "artifacts"


def _env_path(name: str) -> Path | None:
    """A folder named by an environment variable, ``~`` expanded and spaces or line ends around it dropped (None when
    unset or empty): ``%env`` in a notebook, a ``.env`` file or a quoted shell value pass ``~/wb-cache`` as it is, which
    would otherwise be a folder named ``~`` in the current directory."""
    value = os.environ.get(name, "").strip()  # with a line end it was another folder, without the indexes or cache
    return Path(value).expanduser() if value else None
