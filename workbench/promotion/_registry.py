"""The MLflow side of promotion: prompt versions, configuration versions (LoggedModel + registered model version),
aliases and their history. Only ``workbench.promotion`` writes aliases; the runner has no alias code at all.

Layout in MLflow, for a registered model ``NAME``:
  - registered model ``NAME``: one version per configuration (``workbench.config_hash`` tag), each backed by a
    LoggedModel whose artifacts are the bundle config (``config.yaml``, schema, prompt files); aliases ``staging`` /
    ``production`` point at versions; the tag ``workbench.alias_history.<alias>`` is the alias's event log.
  - prompt ``NAME-prompt`` in the Prompt Registry: one version per template, with the same aliases.
  - version tags ``workbench.audit.<alias>``: the audit record (JSON) of the promotion to that alias.
"""

from __future__ import annotations

import difflib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.promotion._config import CONFIG_FILE, BundleConfig, Environment, reads_as_registry_syntax, to_jinja_template, to_mlflow_template
from workbench.promotion._errors import PromotionError
from workbench.prompts import PromptTemplate
from workbench.tracking import RUN_ID_TAG, found as _found, redacting

CONFIG_HASH_TAG = "workbench.config_hash"
PROMPT_NAME_TAG = "workbench.prompt_name"
PROMPT_VERSION_TAG = "workbench.prompt_version"
PROMPT_HASH_TAG = "workbench.prompt_hash"
LOGGED_MODEL_TAG = "workbench.logged_model_id"
KIND_TAG = "workbench.kind"
_HISTORY_KEEP = 200
# the longest prompt text of the Prompt Registry (a model version tag: mlflow.utils.validation's
# MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH); a chat prompt's text is its messages as JSON
_PROMPT_TEXT_MAX = 100_000
# the longest registered model tag value a SQL store keeps (its registered_model_tags.value column is String(5000)),
# though MLflow's validation lets 100,000 characters through: on PostgreSQL a history past it, some 46 promotions and
# rollbacks of one alias, failed every later promotion with "value too long for type character varying(5000)"
_TAG_VALUE_MAX = 5000


def history_tag(alias: str) -> str:
    return f"workbench.alias_history.{alias}"


def prompt_registry_name(name: str) -> str:
    """The Prompt Registry name of a registered model's prompt (prompts and models share one namespace)."""
    return f"{name}-prompt"


@contextmanager
def quiet_downloads() -> Iterator[None]:
    """No MLflow download progress bars while promoting or exporting (the user's own setting wins)."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    if key in os.environ:
        yield
        return
    os.environ[key] = "false"
    try:
        yield
    finally:
        os.environ.pop(key, None)


# a tracking server's registry logs "Waiting up to 300 seconds for model version to finish creation ..." for each
# prompt and model version a promotion registers: two timestamped INFO lines in `workbench promote`'s output
_REGISTRY_CHATTER = "mlflow.store.model_registry.abstract_store"


def client_for(tracking_uri: str) -> Any:
    """The registry client; every write (prompt text, tags, descriptions) goes through the redactor."""
    import logging

    from mlflow import MlflowClient

    chatter = logging.getLogger(_REGISTRY_CHATTER)
    if chatter.level == logging.NOTSET:  # a level the user chose stays
        chatter.setLevel(logging.WARNING)
    return redacting(MlflowClient(tracking_uri, registry_uri=tracking_uri))


def get_registered_model(client: Any, name: str) -> Any | None:
    return _found(client.get_registered_model, name)


def mistyped_model_hint(client: Any, name: str) -> str | None:
    """What to tell a command given ``name`` when no registered model has that name but one has a close one (a typo,
    another case: ``hr-asistant``, ``HR-Assistant`` for ``hr-assistant``), else None: "holds no alias, promote one
    first" sent its user to register a second model under the typo."""
    if get_registered_model(client, name) is not None:
        return None
    by_lower = {m.name.lower(): m.name for m in client.search_registered_models(max_results=1000)}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.8)
    return f"no registered model is named '{name}': did you mean '{by_lower[close[0]]}'?" if close else None


def ensure_registered_model(client: Any, name: str) -> Any:
    """The registered model ``name``, created when missing.

    Prompts and models share one namespace in MLflow, which refuses a clash only when the model or the prompt is
    created: so ``name`` taken by a prompt, or its prompt's name taken by a model, is refused here, before any write;
    so are a model and a prompt of those names that another app registered (their aliases are that app's).
    """
    if client.get_prompt(name) is not None:
        raise PromotionError(f"'{name}' is a prompt in the MLflow Prompt Registry, not a model — choose another --name")
    prompt_name = prompt_registry_name(name)
    if get_registered_model(client, prompt_name) is not None:
        raise PromotionError(f"'{prompt_name}', the name of {name}'s prompt in the Prompt Registry, is a registered model (prompts "
                             "and models share one namespace in MLflow) — choose another --name")
    if _foreign_prompt(client, prompt_name):  # its aliases would be moved under the app that reads them
        raise PromotionError(f"'{prompt_name}', the name of {name}'s prompt in the Prompt Registry, is a prompt workbench did not "
                             "register (its first version has no workbench.prompt_hash tag): promoting would add versions to it "
                             "and move its aliases — choose another --name")
    from mlflow.exceptions import MlflowException

    model = get_registered_model(client, name)
    if model is None:
        try:
            client.create_registered_model(
                name, tags={KIND_TAG: "rag-config"},
                description="RAG configurations promoted by workbench (prompt, model + params, chunker, retrieval, corpus).",
            )
        except MlflowException as exc:  # a teammate's first promotion of the name created it meanwhile (a tracking server)
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        return client.get_registered_model(name)
    found = versions(client, name)
    if found and CONFIG_HASH_TAG not in found[0].tags:  # its aliases are another app's: moving them would deploy ours there
        raise PromotionError(f"'{name}' is a registered model workbench did not register (its first version, v{found[0].version}, "
                             f"has no {CONFIG_HASH_TAG} tag): promoting would add versions to it and move its aliases — choose "
                             "another --name")
    return model


def _prompt_versions(client: Any, prompt_name: str) -> list[Any]:
    """Every version of a prompt of the Prompt Registry (none when it does not exist)."""
    return list(_found(lambda: client.search_prompt_versions(prompt_name, max_results=1000)) or [])


def _foreign_prompt(client: Any, prompt_name: str) -> bool:
    """Whether the prompt exists and was created by someone else than workbench, which tags every version it registers
    (its oldest one left: a version deleted by hand leaves the next)."""
    found = _prompt_versions(client, prompt_name)
    return bool(found) and PROMPT_HASH_TAG not in min(found, key=lambda pv: int(pv.version)).tags


def alias_holder(client: Any, name: str, alias: str) -> Any | None:
    """The model version holding ``alias``, or None (also when the model does not exist)."""
    if get_registered_model(client, name) is None:
        return None
    return _found(client.get_model_version_by_alias, name, alias)


def get_version(client: Any, name: str, version: str) -> Any | None:
    """A version of a registered model, or None when it was deleted."""
    return _found(client.get_model_version, name, version)


def get_logged_model(client: Any, model_id: str) -> Any | None:
    """A logged model (a registered configuration's artifacts), or None when it was deleted."""
    return _found(client.get_logged_model, model_id)


def versions(client: Any, name: str) -> list[Any]:
    """Every version of a registered model, oldest first."""
    if get_registered_model(client, name) is None:
        return []
    found = list(client.search_model_versions(f"name = '{name}'", max_results=10_000))
    return sorted(found, key=lambda mv: int(mv.version))


def find_version(client: Any, name: str, hashes: Sequence[str], *, prefer: Sequence[Any] = ()) -> Any | None:
    """The version registered for a configuration, by its hash as this workbench computes it or as earlier ones did
    (``hashes``), or None. Of twins (two promotions of it at once through a tracking server, which has no lock to take,
    each registered one), the first of the versions in ``prefer`` (alias holders) that is one of them."""
    found = [mv for mv in versions(client, name) if mv.tags.get(CONFIG_HASH_TAG) in hashes]
    held = {str(mv.version): mv for mv in found}
    return next((held[str(p.version)] for p in prefer if str(p.version) in held), found[0] if found else None)


def register_prompt(client: Any, prompt_name: str, template: PromptTemplate, *, run_id: str, experiment_id: str | None = None) -> int:
    """The Prompt Registry version holding this template: reused when its hash is already registered, else new.

    With ``experiment_id`` (the promoted run's), the prompt is listed in that experiment's Prompts tab of the MLflow UI,
    and not in the one MLflow links it to: the process's active experiment, Default (0) in `workbench promote`."""
    content = _registry_content(template)
    for pv in _prompt_versions(client, prompt_name):
        # as this workbench registers it: a version an earlier one registered otherwise (a literal {{name}} in MLflow's
        # syntax, before Jinja2; a system message converted as a template) renders something else than was evaluated
        if pv.tags.get(PROMPT_HASH_TAG) == template.hash and pv.template == content:
            if experiment_id is not None:
                _link_to_experiment(client, prompt_name, experiment_id, _linked_experiments(client, prompt_name))
            return int(pv.version)
    before = _linked_experiments(client, prompt_name)
    tags = {PROMPT_HASH_TAG: template.hash, "workbench.prompt": template.name, RUN_ID_TAG: run_id}
    message = f"workbench prompt '{template.name}' from run {run_id}"
    # MLflow's ``register_prompt`` links the prompt to the process's active experiment (Default in `workbench promote`)
    # in a thread of its own, which could write its link after ours: ``create_prompt`` and ``create_prompt_version``
    # register the same prompt and version and link nothing, so the link below is the only one, written before return
    if _found(client.get_prompt, prompt_name) is None:
        client.create_prompt(prompt_name, description=message, tags=tags)
    else:
        for key, value in tags.items():  # the prompt's tags name its newest version, as ``register_prompt`` keeps them
            client.set_prompt_tag(prompt_name, key, value)
    pv = client.create_prompt_version(prompt_name, content, description=message, tags=tags)
    if experiment_id is not None:
        _link_to_experiment(client, prompt_name, experiment_id, before)
    return int(pv.version)


_EXPERIMENTS_TAG = "_mlflow_experiment_ids"  # mlflow.prompt.constants.PROMPT_EXPERIMENT_IDS_TAG_KEY: ",1,4," (LIKE '%,1,%')


def _linked_experiments(client: Any, prompt_name: str) -> list[str]:
    """The ids of the experiments a prompt is listed in (none when it does not exist yet)."""
    prompt = _found(client.get_prompt, prompt_name)
    value = (prompt.tags.get(_EXPERIMENTS_TAG, "") if prompt is not None else "") or ""
    return [i for i in value.split(",") if i.strip()]


def _link_to_experiment(client: Any, prompt_name: str, experiment_id: str, linked: Sequence[str]) -> None:
    """List the prompt in ``experiment_id`` besides the experiments in ``linked`` (those it was in before this
    promotion: whatever MLflow added meanwhile, the process's active experiment, is left out)."""
    ids = [*linked, experiment_id] if experiment_id not in linked else list(linked)
    if _linked_experiments(client, prompt_name) != ids:
        client.set_prompt_tag(prompt_name, _EXPERIMENTS_TAG, f",{','.join(ids)},")


def _registry_content(template: PromptTemplate) -> str | list[dict[str, str]]:
    """The template as the Prompt Registry holds it: its text, or with a system message, the two chat messages."""
    if reads_as_registry_syntax(template.text) or reads_as_registry_syntax(template.system, fields=False):
        # MLflow's own syntax has no escape for a literal {{name}} or {% tag %}: a Jinja2 template, which it renders so
        body, system = to_jinja_template(template.text), to_jinja_template(template.system, fields=False)
    else:  # the system message is sent as written (it has no placeholders): it is registered as written
        body, system = to_mlflow_template(template.text), template.system
    return [{"role": "system", "content": system}, {"role": "user", "content": body}] if template.system else body


def check_registrable(template: PromptTemplate) -> None:
    """Refuse, before anything is registered, a prompt longer than the Prompt Registry holds: the promotion failed
    half way (the registered model made, no version) with MLflow's "Prompt text exceeds max length", which the CLI
    blamed on the tracking store.

    Raises:
        PromotionError: one line naming the prompt, its length as stored and what to do.
    """
    content = _registry_content(template)
    stored = len(content) if isinstance(content, str) else len(json.dumps(content))
    if stored > _PROMPT_TEXT_MAX:
        how = "" if isinstance(content, str) else " (its two messages as JSON, where a character outside ASCII takes 6)"
        raise PromotionError(f"prompt '{template.name}' is {stored:,} characters as MLflow's Prompt Registry stores it{how}, "
                             f"over the {_PROMPT_TEXT_MAX:,} it holds — shorten the prompt or its system message, and run the "
                             "experiment again")


def _link_run_metrics(client: Any, run_id: str, model_id: str) -> None:
    """Give the logged model its run's evaluation metrics, on the run's evaluation dataset, which the MLflow UI's Models
    tab and a registered version's page show. Each is the run's own metric (same value, step and timestamp) logged
    again with the model's id: MLflow links it to the model and keeps one copy in the run's history."""
    from mlflow.entities import Metric

    run = client.get_run(run_id)
    inputs = run.inputs.dataset_inputs if run.inputs is not None else []
    dataset = inputs[0].dataset if inputs else None
    metrics = []
    for key in sorted(run.data.metrics):
        last = max(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp), default=None)
        if last is not None:
            metrics.append(Metric(key, last.value, last.timestamp, last.step, model_id=model_id, run_id=run_id,
                                  dataset_name=dataset.name if dataset else None, dataset_digest=dataset.digest if dataset else None))
    for start in range(0, len(metrics), 1000):  # MLflow's batch holds 1,000 metrics
        client.log_batch(run_id, metrics=metrics[start:start + 1000])


def register_config(client: Any, config: BundleConfig, files: Mapping[str, bytes], *, tags: Mapping[str, str]) -> Any:
    """Register a configuration: a LoggedModel (params + bundle config artifacts) and a registered model version."""
    source = config.source
    logged = client.create_logged_model(
        # a logged model's name may not hold '.', which registered model names (and ours) may
        experiment_id=source.experiment_id, name=config.name.replace(".", "-"), source_run_id=source.run_id,
        tags={KIND_TAG: "rag-config", CONFIG_HASH_TAG: config.config_hash},
        params=config.params(), model_type="rag-config",
    )
    try:
        with tempfile.TemporaryDirectory(prefix="wb-config-") as tmp:
            for rel, data in files.items():
                target = Path(tmp) / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            client.log_model_artifacts(logged.model_id, tmp)
        _link_run_metrics(client, source.run_id, logged.model_id)
        client.finalize_logged_model(logged.model_id, "READY")
    except Exception:
        client.finalize_logged_model(logged.model_id, "FAILED")
        raise
    # the artifact location, not models:/<id>: MLflow's sqlite/SQL registry resolves that URI through the process's
    # global tracking URI (a fresh `workbench promote` or notebook kernel has none set), not this client's store
    mv = client.create_model_version(
        name=config.name, source=logged.artifact_location, run_id=source.run_id, model_id=logged.model_id,
        tags={**tags, LOGGED_MODEL_TAG: logged.model_id},
        description=(f"prompt {config.prompt.name}, {config.model.id if config.router is None else config.model_label}, chunker {config.chunker.label}, "
                     f"retrieval {config.retrieval.label} ({config.retrieval.embedding}); config {config.config_hash[:12]}"),
    )
    links = {"mlflow.modelVersions": json.dumps([{"name": config.name, "version": mv.version}])}
    if config.prompt.registry_name and config.prompt.registry_version is not None:
        links.update(_prompt_link(client, config.prompt.registry_name, config.prompt.registry_version))
    client.set_logged_model_tags(logged.model_id, links)
    return client.get_model_version(config.name, mv.version)


def link_prompt_to_run(client: Any, run_id: str, prompt_name: str, prompt_version: int) -> None:
    """Name the prompt version in the run's ``mlflow.linkedPrompts`` tag, which the MLflow UI's run page lists, as
    ``link_prompt_version_to_run`` writes it (kept with the prompts already linked; nothing written when it is one of
    them). Not through that method, which reads the run from the process's global tracking store (``_prompt_link``)."""
    from mlflow.tracing.constant import TraceTagKey
    from mlflow.tracing.utils.prompt import update_linked_prompts_tag

    current = client.get_run(run_id).data.tags.get(TraceTagKey.LINKED_PROMPTS)
    value = update_linked_prompts_tag(current, [client.get_prompt_version(prompt_name, prompt_version)])
    if value != current:
        client.set_tag(run_id, TraceTagKey.LINKED_PROMPTS, value)


def _prompt_link(client: Any, prompt_name: str, prompt_version: int) -> dict[str, str]:
    """The tag linking a new logged model to its prompt version, as MLflow writes it. Not through
    ``client.link_prompt_version_to_model``: MLflow's stores look the logged model up in the process's global tracking
    store there, not this client's, so a fresh process (``workbench promote``, a new kernel) failed to promote."""
    from mlflow.tracing.constant import TraceTagKey
    from mlflow.tracing.utils.prompt import update_linked_prompts_tag

    return {TraceTagKey.LINKED_PROMPTS: update_linked_prompts_tag(None, [client.get_prompt_version(prompt_name, prompt_version)])}


# -- aliases and their history -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AliasEvent:
    """One change of an alias: a promotion or a rollback."""

    action: str
    version: str
    user: str
    at: str
    previous: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def alias_history(client: Any, name: str, alias: str) -> list[AliasEvent]:
    """The alias's events, oldest first.

    Raises:
        PromotionError: the history tag is not one workbench wrote (edited by hand in the MLflow UI).
    """
    model = get_registered_model(client, name)
    raw = (model.tags if model is not None else {}).get(history_tag(alias))
    if not raw:
        return []
    try:
        return [AliasEvent(**e) for e in json.loads(raw)]
    except (ValueError, TypeError) as exc:  # not JSON, not a list of events, or an event with other fields
        raise PromotionError(f"registered model '{name}': its tag {history_tag(alias)} is not the alias history workbench wrote "
                             f"({type(exc).__name__}: {str(exc)[:100]}) — put back the value it had, or delete the tag to start "
                             f"the history afresh (a rollback then goes back only to versions promoted after)") from None


def holder_stack(events: list[AliasEvent], current: str | None) -> list[str]:
    """The versions that held the alias, most recent last, replaying promotions (push) and rollbacks (pop)."""
    stack: list[str] = []
    for e in events:
        if e.action == "promote":
            if not stack or stack[-1] != e.version:
                stack.append(e.version)
        elif e.action == "rollback":
            while stack and stack[-1] != e.version:
                stack.pop()
            if not stack:
                stack.append(e.version)
    if current is not None and (not stack or stack[-1] != current):
        stack.append(current)  # the alias was moved outside workbench: treat that as a promotion
    return stack


def record_event(client: Any, name: str, alias: str, event: AliasEvent) -> None:
    client.set_registered_model_tag(name, history_tag(alias), history_value([*alias_history(client, name, alias), event]))


def history_value(events: list[AliasEvent]) -> str:
    """The history tag's JSON: the latest events, at most ``_HISTORY_KEEP`` of them and as many as fit in one MLflow tag
    (long reasons add up; a history past the limit made every later promotion fail after moving the alias)."""
    kept = events[-_HISTORY_KEEP:]
    text = json.dumps([e.as_dict() for e in kept])
    while len(text) > _TAG_VALUE_MAX and len(kept) > 1:
        kept = kept[1:]
        text = json.dumps([e.as_dict() for e in kept])
    return text


def prompt_kept(client: Any, mv: Any) -> bool:
    """Whether the Prompt Registry still has the prompt version a configuration version was registered with (it can be
    deleted by hand, in the MLflow UI or with ``MlflowClient.delete_prompt``); True for a version registered without one."""
    prompt_name, prompt_version = mv.tags.get(PROMPT_NAME_TAG), mv.tags.get(PROMPT_VERSION_TAG)
    return not (prompt_name and prompt_version) or _found(client.get_prompt_version, prompt_name, prompt_version) is not None


def prompt_renders(client: Any, mv: Any, template: PromptTemplate) -> bool:
    """Whether the Prompt Registry's prompt version of a configuration version holds ``template`` as this workbench
    registers it, rendering what was evaluated (``prompt_kept``, and not in an earlier workbench's form); True for a
    version registered without one."""
    prompt_name, prompt_version = mv.tags.get(PROMPT_NAME_TAG), mv.tags.get(PROMPT_VERSION_TAG)
    if not (prompt_name and prompt_version):
        return True
    pv = _found(client.get_prompt_version, prompt_name, prompt_version)
    return pv is not None and pv.template == _registry_content(template)


def logged_template(client: Any, mv: Any, tracking_uri: str) -> PromptTemplate | None:
    """The evaluated template of a configuration version, from its logged model's ``config.yaml`` and prompt files;
    None when they cannot be read (deleted, or not registered by workbench)."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    model_id = mv.tags.get(LOGGED_MODEL_TAG)
    logged = get_logged_model(client, model_id) if model_id else None
    if logged is None:
        return None

    def read(rel: str) -> str:
        with tempfile.TemporaryDirectory(prefix="wb-prompt-") as tmp:
            local = mlflow.artifacts.download_artifacts(artifact_uri=f"{logged.artifact_location}/{rel}", dst_path=tmp,
                                                        tracking_uri=tracking_uri)
            return Path(local).read_text(encoding="utf-8")

    try:
        prompt = BundleConfig.from_yaml(read(CONFIG_FILE), source=f"models:/{model_id}/{CONFIG_FILE}").prompt
        return PromptTemplate(prompt.name, read(prompt.file), read(prompt.system_file) if prompt.system_file else "")
    except (MlflowException, OSError, ValueError):
        return None


def point_alias(client: Any, name: str, alias: Environment, mv: Any) -> None:
    """Point the model alias, and the prompt alias, at a version (prompt first: the model alias is the switch)."""
    prompt_name, prompt_version = mv.tags.get(PROMPT_NAME_TAG), mv.tags.get(PROMPT_VERSION_TAG)
    if prompt_name and prompt_version:
        client.set_prompt_alias(prompt_name, alias, int(prompt_version))
    client.set_registered_model_alias(name, alias, str(mv.version))


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)
