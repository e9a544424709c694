"""Reading the model registry: which run a registered model version was promoted from, and what an MLflow model URI
(``models:/NAME@ALIAS``, ``models:/NAME/VERSION``) names. ``workbench.promotion`` writes the registry; comparisons read
it to compare a sweep against what is in production."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.errors import WorkbenchError
from workbench.tracking._read import _client, _uri, store_errors
from workbench.tracking._unreachable import shown_uri

__all__ = [
    "MODEL_URI_PREFIX",
    "RUN_ID_TAG",
    "RegisteredRun",
    "audit_tag",
    "found",
    "is_model_uri",
    "parse_model_uri",
    "promoted_run_id",
    "registered_run",
]

MODEL_URI_PREFIX = "models:/"
RUN_ID_TAG = "workbench.run_id"  # on a registered version: the run it was registered from
_LISTED = 10  # names, aliases or versions an error lists


def audit_tag(alias: str) -> str:
    """The version tag holding the audit record (JSON) of its promotion to ``alias``."""
    return f"workbench.audit.{alias}"


def _not_found(exc: Exception) -> bool:
    from mlflow.exceptions import MlflowException

    return isinstance(exc, MlflowException) and exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE")


def found(fetch: Callable[..., Any], *args: str) -> Any | None:
    """``fetch(*args)``, or None when MLflow says it does not exist (never created, or deleted)."""
    from mlflow.exceptions import MlflowException

    try:
        return fetch(*args)
    except MlflowException as exc:
        if _not_found(exc):
            return None
        raise


def promoted_run_id(version: Any, alias: str | None = None) -> str | None:
    """The run a registered model version stands for (pure): with ``alias``, the run promoted to it (its audit record:
    a version registered from one run can be promoted to production from a later run of the same configuration); else,
    or for a version workbench did not promote there, the run it was registered from; None for a version with no run
    (registered by hand from a path)."""
    if alias is not None:
        try:
            audit = json.loads(version.tags.get(audit_tag(alias)) or "{}")
        except ValueError:
            audit = {}
        run_id = audit.get("run_id") if isinstance(audit, dict) else None
        if isinstance(run_id, str) and run_id:
            return run_id
    return version.tags.get(RUN_ID_TAG) or version.run_id or None


@dataclass(frozen=True)
class RegisteredRun:
    """What a model URI resolved to: the registered model, the version, the alias it was named by (if any) and the run
    that version stands for."""

    name: str
    version: str
    alias: str | None
    run_id: str

    @property
    def label(self) -> str:
        """How a report names it: ``docs-bot@production v3`` or ``docs-bot v3``."""
        return f"{self.name}@{self.alias} v{self.version}" if self.alias else f"{self.name} v{self.version}"


def is_model_uri(text: str) -> bool:
    """Whether ``text`` is an MLflow model URI (``models:/...``) rather than a variant's name or run id."""
    return isinstance(text, str) and text.startswith(MODEL_URI_PREFIX)


def parse_model_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``(name, alias, version)`` of ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` (pure).

    Raises:
        WorkbenchError: another form (a stage, ``latest``, a logged model id), or no name.
    """
    rest = uri[len(MODEL_URI_PREFIX):].strip()
    form = "give models:/NAME@ALIAS (e.g. models:/docs-bot@production) or models:/NAME/VERSION (e.g. models:/docs-bot/3)"
    if "@" in rest and "/" not in rest:
        name, _, alias = rest.rpartition("@")
        if name and alias:
            return name, alias, None
    elif "/" in rest:
        name, _, version = rest.rpartition("/")
        if name and version.isdigit():
            return name, None, str(int(version))
        if name and version:
            raise WorkbenchError(f"'{uri}': '{version}' is not a version number (stages and 'latest' name no single run) — {form}")
    raise WorkbenchError(f"'{uri}' is not a registered model version — {form}")


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f" and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def _registered_names(client: Any) -> list[str]:
    return sorted(m.name for m in client.search_registered_models(max_results=100))


def registered_run(uri: str, *, tracking_uri: str | None = None) -> RegisteredRun:
    """The run a model URI stands for: ``models:/NAME@ALIAS``, the run promoted to the alias's version (what is in
    production); ``models:/NAME/VERSION``, the run the version was registered from.

    Raises:
        WorkbenchError: a malformed URI, or no such model, alias or version (naming those that exist), a version with no
            run, or the store could not be read.
    """
    from mlflow import MlflowClient

    name, alias, number = parse_model_uri(uri)
    store = _uri(tracking_uri)
    _client(store)  # a sqlite store that does not exist is refused in one line (MLflow would make an empty one)
    client = MlflowClient(store, registry_uri=store)
    where = shown_uri(store)
    with store_errors(f"could not read the model registry of {store}"):
        model = found(client.get_registered_model, name)
        if model is None:
            names = _registered_names(client)
            have = (f"registered models: {_listed(names)}" if names else "the store has no registered model yet: promote a run first "
                    f"(workbench promote RUN_ID --name {name} --alias {alias or 'production'})")
            raise WorkbenchError(f"'{uri}': no registered model '{name}' in {where} — {have}")
        if alias is not None:
            version = found(client.get_model_version_by_alias, name, alias)
            if version is None:
                aliases = dict(sorted((model.aliases or {}).items()))
                have = (f"its aliases: {_listed([f'{a} (v{v})' for a, v in aliases.items()])}" if aliases
                        else f"it has no alias: promote a run to it first (workbench promote RUN_ID --name {name} --alias {alias})")
                raise WorkbenchError(f"'{uri}': registered model '{name}' has no alias '{alias}' in {where} — {have}")
        else:
            version = found(client.get_model_version, name, number or "")
            if version is None:
                numbers = sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'", max_results=1000))
                raise WorkbenchError(f"'{uri}': registered model '{name}' has no version {number} in {where} — its versions: "
                                     f"{_listed([str(n) for n in numbers]) or 'none'}")
    run_id = promoted_run_id(version, alias)
    if run_id is None:
        raise WorkbenchError(f"'{uri}': {name} v{version.version} has no run (registered from a path, not by workbench) — "
                             "give a run id as the baseline instead")
    return RegisteredRun(name, str(version.version), alias, run_id)
