"""Promote a variant run to an environment alias (after its gates pass), and roll an alias back."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from workbench.config import Settings, settings as default_settings
from workbench.promotion._candidate import Candidate, get_run, promoted_run, read_candidate, run_evidence, run_gone_note
from workbench.promotion._config import (
    ENVIRONMENTS,
    AuditRecord,
    Environment,
    config_files,
    gate_records,
)
from workbench.promotion._corpus_check import CORPUS_FIX, corpus_change
from workbench.promotion._errors import GateFailed, GateMetricUnknown, PromotionError, SecretFound
from workbench.promotion._gates import GateReport, Holder, evaluate_gates, unknown_gate_metrics
from workbench.promotion._registry import (
    CONFIG_HASH_TAG,
    PROMPT_HASH_TAG,
    PROMPT_NAME_TAG,
    PROMPT_VERSION_TAG,
    RUN_ID_TAG,
    AliasEvent,
    alias_history,
    alias_holder,
    check_registrable,
    client_for,
    ensure_registered_model,
    find_version,
    get_version,
    holder_stack,
    link_prompt_to_run,
    logged_template,
    mistyped_model_hint,
    now_utc,
    point_alias,
    prompt_kept,
    prompt_registry_name,
    prompt_renders,
    quiet_downloads,
    record_event,
    register_config,
    register_prompt,
)
from workbench.promotion._secrets import find_secrets
from workbench.redaction import secret_env_values
from workbench.results import VariantResult
from workbench.spec import BeatsHolderGate, GateSpec, Name, PromotionSpec
from workbench.tracking import (
    audit_tag,
    promoted_run_id,
    registry_changes_serialised,
    shown_uri,
    store_released,
)

__all__ = ["Promotion", "Rollback", "check_target", "current_user", "promote", "rollback"]

_NAME = TypeAdapter(Name)  # the experiment's own rule for names
_GATES = TypeAdapter(tuple[GateSpec, ...])
_REASON_MAX = 2000  # a reason is kept in a registry tag of at most 5000 characters, with the alias's other events


def current_user() -> str:
    """Who is acting: ``$WORKBENCH_USER``, else the login name."""
    explicit = os.environ.get("WORKBENCH_USER")
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _resolve_gates(gates: Sequence[GateSpec | Mapping[str, Any]] | None, promotion: PromotionSpec | None) -> tuple[GateSpec, ...]:
    if gates is None:
        return promotion.gates if promotion is not None else ()
    kinds = "kind: metric, min_questions, max_cost_per_answer, max_failed_rate, beats_holder"
    if isinstance(gates, (Mapping, str, BaseModel)):  # tuple() of one gate made gates of its keys: "gates[0]: a valid dictionary"
        raise PromotionError(f"gates: give a list of gates, not one {type(gates).__name__} — e.g. gates=[{{'kind': 'metric', 'metric': "
                             f"'token_f1', 'min': 0.5}}] ({kinds})")
    try:
        return _GATES.validate_python(tuple(gates))
    except ValidationError as exc:
        err = exc.errors()[0]
        # (index, kind, field...): "gates[0.metric.mn]" named the gate's kind where its field belongs
        index, *field = [p for i, p in enumerate(err["loc"]) if i != 1] or [""]
        where = f"[{index}]" + "".join(f".{f}" for f in field)
        raise PromotionError(f"gates{where}: {err['msg']} — see workbench.promotion gate types ({kinds})") from None


def _run_id(run: Any) -> str:
    if isinstance(run, str):
        return run
    run_id = getattr(run, "run_id", None)
    if isinstance(run_id, str) and run_id:
        return run_id
    raise PromotionError(f"cannot promote {type(run).__name__}: pass a variant run id or a VariantResult that was logged to MLflow")


def check_target(name: str, alias: str) -> None:
    """Refuse, in one line, a registered model name or an alias that promotion, rollback and export cannot use.

    Raises:
        PromotionError: the name is not 1 to 100 letters, digits, '.', '_' and '-', or the alias is no environment.
    """
    try:
        _NAME.validate_python(name)
    except ValidationError as exc:
        # a name of letters and dots that no file or folder can have says why, as in an experiment file
        said = [str(e["ctx"]["error"]) for e in exc.errors() if e["type"] == "value_error"]
        why = said[0] if said and said[0].endswith("rename it") else "use 1 to 100 letters, digits, '.', '_' and '-', not only dots"
        raise PromotionError(f"name '{str(name)[:100]}': {why}") from None
    if alias not in ENVIRONMENTS:
        raise PromotionError(f"alias '{alias}': use one of {', '.join(ENVIRONMENTS)}")


def _check_reason(reason: str | None, what: str) -> str | None:
    if reason is None:
        return None
    if not reason.strip():
        raise PromotionError(f"{what} must not be blank — say why")
    if len(reason.strip()) > _REASON_MAX:
        raise PromotionError(f"{what} is {len(reason.strip())} characters — keep it to {_REASON_MAX} (it is stored in the audit "
                             "record and the alias history); link to a longer write-up")
    hits = find_secrets(what, reason, secret_env_values(os.environ))
    if hits:
        raise SecretFound(f"{what} looks like it contains a secret ({hits[0].kind}) — it would be stored in MLflow; remove it")
    return reason.strip()


@dataclass(frozen=True)
class Promotion:
    """A completed promotion: which version now holds the alias, what it replaced, and the evidence."""

    name: str
    alias: Environment
    version: str
    previous_version: str | None
    run_id: str
    config_hash: str
    prompt_name: str
    prompt_version: int
    report: GateReport
    audit: AuditRecord

    @property
    def overridden(self) -> bool:
        return not self.report.passed

    def __str__(self) -> str:
        head = f"{self.name} v{self.version} is now '{self.alias}'"
        prev = f" (was v{self.previous_version})" if self.previous_version else ""
        override = f"\nOVERRIDE: {self.audit.override_reason}" if self.overridden else ""
        return f"{head}{prev}; prompt {self.prompt_name} v{self.prompt_version}\n{self.report.summary()}{override}"


def promote(
    run: Any,
    *,
    name: str,
    alias: Environment,
    gates: Sequence[GateSpec | Mapping[str, Any]] | None = None,
    override_reason: str | None = None,
    require_staging: bool | None = None,
    settings: Settings | None = None,
) -> Promotion:
    """Promote a finished variant run to ``alias`` of the registered model ``name``, if its gates pass.

    On success the prompt is registered in the MLflow Prompt Registry (``<name>-prompt``), the whole configuration
    is registered as a version of the model ``name`` (a LoggedModel with ``config.yaml`` and the prompt files), both
    get the alias, and an audit record (who, when, which run, every gate with its value, any override) is stored on
    the version. The same configuration promoted twice reuses its version.

    Args:
        run: a variant run id, or a ``VariantResult`` from ``wb.run``.
        name: the registered model name (e.g. ``python-docs-assistant``).
        alias: ``staging`` or ``production``.
        gates: gate objects or dicts (``{"kind": "metric", "metric": "token_f1", "min": 0.3}``); default: the
            ``promotion.gates`` of the run's experiment.
        override_reason: promote even though gates failed; recorded in the audit.
        require_staging: production needs the same configuration to hold staging now: promoted there first, and
            neither rolled back nor replaced since (default: the experiment's ``promotion.require_staging``, else True).
        settings: where the MLflow store is (default: a ``VariantResult``'s own store, else ``workbench.config.settings()``).

    Raises:
        GateFailed: a gate failed and no override reason was given; lists every failed gate.
        GateMetricUnknown: one of ``gates`` names a metric no run logs (misspelt), whatever the override reason.
        PromotionError: the run cannot be promoted (not a finished variant run, staging step missing, staging
            rolled back or holding another configuration...).
    """
    check_target(name, alias)
    reason = _check_reason(override_reason, "override reason")
    # a VariantResult is promoted from the store it was logged to, not the current folder's (a kernel that swept
    # into wb.settings(tracking_uri=...) and promoted without it was told its run was not found, in a new empty store)
    cfg = settings or default_settings(tracking_uri=run.tracking_uri if isinstance(run, VariantResult) else None)
    # the holder read and the alias moved as one step; the store's connections let go of once done (a kernel promotes in
    # project after project)
    with quiet_downloads(), registry_changes_serialised(cfg.tracking_uri), store_released(cfg.tracking_uri):
        return _promote(_run_id(run), name, alias, gates, reason, require_staging, cfg)


def _in_same_sweep(client: Any, holder_run: str, digest: str, cand: Candidate, name: str) -> str | None:
    """A finished run of the holder's configuration (``digest``) in the candidate's own sweep, or None: a sweep that put
    both configurations in its grid evaluated them on the same questions, as a paired comparison needs."""
    source = cand.config.source
    variant = get_run(client, holder_run).data.tags.get("workbench.variant_id", "")
    if not source.parent_run_id or not variant:
        return None
    found = client.search_runs(
        [source.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{source.parent_run_id}' and "
        f"tags.`workbench.variant_id` = '{variant}' and attributes.status = 'FINISHED'",
    )
    for run in found:
        try:
            if read_candidate(client, run.info.run_id, name).config.is_configuration(digest):
                return str(run.info.run_id)
        except PromotionError:  # not a run a configuration can be read from (racing stopped it, ...): not the holder's
            continue
    return None


def _promote(
    run_id: str, name: str, alias: Environment, gates: Sequence[GateSpec | Mapping[str, Any]] | None,
    reason: str | None, require_staging: bool | None, cfg: Settings,
) -> Promotion:
    client = client_for(cfg.tracking_uri)
    cand = read_candidate(client, run_id, name)
    changed = corpus_change(client, run_id, cand.parent_run_id, cand.config.corpus, cfg)
    if changed is not None:
        raise PromotionError(f"{changed} — {CORPUS_FIX} and promote the new run")
    check_registrable(cand.template)
    gate_specs = _resolve_gates(gates, cand.promotion)
    need_staging = require_staging if require_staging is not None else (cand.promotion.require_staging if cand.promotion else True)
    digest = cand.config.config_hash

    evidence = run_evidence(client, cfg.tracking_uri, run_id, dataset_hash=cand.config.dataset.hash, digest=digest)
    unknown = unknown_gate_metrics(gate_specs, evidence) if gates is not None else []  # an experiment's own were checked as it loaded
    if unknown:
        raise GateMetricUnknown(*unknown[0])
    current = alias_holder(client, name, alias)
    holder = None
    if current is not None and any(isinstance(g, BeatsHolderGate) for g in gate_specs):
        holder_run = promoted_run_id(current, alias)
        held, nothing = f"{name} v{current.version}, the holder of {alias}", ("the beats_holder gate has nothing to compare "
                                                                              "with: promote with gates that leave it out (--gates FILE)")
        if not holder_run:  # registered by hand or another tool from a path, with no run (get_run(None): a TypeError)
            raise PromotionError(f"{held}, was not promoted by workbench: it has no run — {nothing}")
        read = promoted_run(client, holder_run, held, nothing)
        if read.data.tags.get("workbench.kind") != "variant":  # its gate read "a different dataset ( vs 1a2b...)"
            raise PromotionError(f"{held}, was not promoted by workbench: its run {holder_run} is not a workbench variant run "
                                 f"— {nothing}")
        if read.data.tags.get("workbench.dataset_hash", "") != cand.config.dataset.hash:
            # compared on the candidate's dataset when its sweep ran the holder too
            same_sweep = _in_same_sweep(client, holder_run, current.tags.get(CONFIG_HASH_TAG, ""), cand, name)
            if same_sweep is not None:
                holder_run, read = same_sweep, get_run(client, same_sweep)
        holder_dataset = read.data.tags.get("workbench.dataset_hash", "")
        trashed = read.info.lifecycle_stage == "deleted"  # its evidence is intact until mlflow gc
        note = (f"read from run {holder_run}, which is deleted in MLflow — restore it with 'mlflow runs restore --run-id "
                f"{holder_run}' before mlflow gc removes it, or this gate will have nothing to compare with") if trashed else ""
        held_digest = current.tags.get(CONFIG_HASH_TAG, "")  # an earlier workbench's hash of the candidate's configuration is its
        held_digest = digest if cand.config.is_configuration(held_digest) else held_digest
        holder = Holder(str(current.version), run_evidence(client, cfg.tracking_uri, holder_run, dataset_hash=holder_dataset,
                                                           digest=held_digest), note)
    report = evaluate_gates(gate_specs, evidence, holder, seed=cand.config.seed)  # resampled as wb.compare does the sweep

    # a twin registered by a promotion at the same time is this configuration too: the one holding the alias (or, to
    # production, staging) is taken, so that the alias does not move and production is not refused as another one's
    staged = alias_holder(client, name, "staging") if alias == "production" else None
    existing = find_version(client, name, (digest, *cand.config.earlier_hashes()),
                            prefer=[v for v in (current, staged) if v is not None])
    alias_history(client, name, alias)  # one that cannot be read is refused before anything is written, not after the alias moved
    if alias == "production" and need_staging and (existing is None or audit_tag("staging") not in existing.tags):
        typo = mistyped_model_hint(client, name)
        if typo is not None:
            raise PromotionError(f"config {digest[:12]} (run {run_id}) has not been promoted to staging — {typo} (a new model "
                                 f"starts at staging: workbench promote {run_id} --name {name} --alias staging)")
        raise PromotionError(
            f"config {digest[:12]} (run {run_id}) has not been promoted to staging — first run: workbench promote {run_id} "
            f"--name {name} --alias staging   (or set promotion.require_staging: false, or pass --no-require-staging)"
        )
    if alias == "production" and need_staging and existing is not None:
        if staged is None or str(staged.version) != str(existing.version):
            # the event that took staging away from this version: a rollback, or another configuration's promotion
            lost = next((e for e in reversed(alias_history(client, name, "staging")) if e.previous == str(existing.version)), None)
            now = f"v{staged.version}" if staged is not None else "nothing"
            why = (f"staging was rolled back from it to {now}" if lost is not None and lost.action == "rollback"
                   else f"staging now holds {now}, another configuration" if staged is not None
                   else "no version holds staging now (its alias was deleted)")
            raise PromotionError(
                f"config {digest[:12]} (run {run_id}, {name} v{existing.version}) no longer holds staging: {why} — promote it to "
                f"staging again first: workbench promote {run_id} --name {name} --alias staging   (or set promotion.require_staging: false, or pass --no-require-staging)"
            )
    if not report.passed and reason is None:
        failed = "; ".join(f"{r.label}: {r.detail}" for r in report.failed)
        raise GateFailed(
            f"promotion of run {run_id} to {name}@{alias} blocked by {len(report.failed)} failed gate(s): {failed} "
            "— improve the configuration, or pass an override reason (it is recorded)", report,
        )

    ensure_registered_model(client, name)
    if existing is None:
        prompt_name = prompt_registry_name(name)
        prompt_version = register_prompt(client, prompt_name, cand.template, run_id=run_id, experiment_id=cand.experiment_id)
        config = cand.config.model_copy(update={"prompt": cand.config.prompt.model_copy(
            update={"registry_name": prompt_name, "registry_version": prompt_version})})
        tags = {CONFIG_HASH_TAG: digest, RUN_ID_TAG: run_id, PROMPT_NAME_TAG: prompt_name,
                PROMPT_VERSION_TAG: str(prompt_version), PROMPT_HASH_TAG: cand.template.hash,
                "workbench.variant": cand.config.source.variant_name}
        mv = register_config(client, config, config_files(config, cand.template, cand.documents), tags=tags)
    elif not prompt_renders(client, existing, cand.template):
        # deleted from the Prompt Registry by hand, or registered by an earlier workbench in a form that renders
        # something else than was evaluated: registered again, from this run
        prompt_version = register_prompt(client, existing.tags[PROMPT_NAME_TAG], cand.template, run_id=run_id, experiment_id=cand.experiment_id)
        client.set_model_version_tag(name, existing.version, PROMPT_VERSION_TAG, str(prompt_version))
        mv = client.get_model_version(name, existing.version)
    else:
        mv = existing
    if mv.tags.get(CONFIG_HASH_TAG) != digest:  # registered by an earlier workbench, which hashed it otherwise: tagged anew,
        # so that the configuration evaluated again (with another timeout, say) finds its version by this hash
        client.set_model_version_tag(name, mv.version, CONFIG_HASH_TAG, digest)
    user, at = current_user(), now_utc()
    previous = str(current.version) if current is not None and str(current.version) != str(mv.version) else None
    audit = AuditRecord(
        name=name, alias=alias, version=str(mv.version), run_id=run_id, config_hash=digest, user=user, at=at,
        gates_passed=report.passed, gates=gate_records(report.as_records()), override_reason=reason,
        require_staging=need_staging, previous_version=previous,
    )
    client.set_model_version_tag(name, mv.version, audit_tag(alias), audit.to_json())
    summary = f"{at.isoformat()} by {user}; gates {len(report.results) - len(report.failed)}/{len(report.results)} passed"
    client.set_model_version_tag(name, mv.version, f"workbench.promoted.{alias}", summary + (f"; OVERRIDE: {reason}" if not report.passed else ""))
    link_prompt_to_run(client, run_id, mv.tags[PROMPT_NAME_TAG], int(mv.tags[PROMPT_VERSION_TAG]))  # the run page lists it
    point_alias(client, name, alias, mv)
    record_event(client, name, alias, AliasEvent("promote", str(mv.version), user, at.isoformat(), previous=previous, reason=reason))
    return Promotion(
        name=name, alias=alias, version=str(mv.version), previous_version=previous, run_id=run_id, config_hash=digest,
        prompt_name=mv.tags[PROMPT_NAME_TAG], prompt_version=int(mv.tags[PROMPT_VERSION_TAG]), report=report, audit=audit,
    )


@dataclass(frozen=True)
class Rollback:
    """A completed rollback: ``version`` holds the alias again, replacing ``replaced_version``."""

    name: str
    alias: Environment
    version: str
    replaced_version: str
    user: str
    reason: str | None
    note: str | None = None  # the restored version's run is in MLflow's trash, or gone for good

    def __str__(self) -> str:
        note = f"\nnote: {self.note}" if self.note else ""
        return f"{self.name}@{self.alias} rolled back to v{self.version} (was v{self.replaced_version}){note}"


def rollback(name: str, *, alias: Environment = "production", reason: str | None = None, settings: Settings | None = None) -> Rollback:
    """Point ``alias`` back at the version that held it before the current one (model and prompt alias).

    Raises:
        PromotionError: the alias has no holder, or no earlier one.
    """
    check_target(name, alias)
    reason = _check_reason(reason, "rollback reason")
    cfg = settings or default_settings()
    # another promotion or rollback cannot move the alias meanwhile
    with quiet_downloads(), registry_changes_serialised(cfg.tracking_uri), store_released(cfg.tracking_uri):
        return _rollback(name, alias, reason, cfg)


def _rollback(name: str, alias: Environment, reason: str | None, cfg: Settings) -> Rollback:
    client = client_for(cfg.tracking_uri)
    current = alias_holder(client, name, alias)
    if current is None:
        fix = mistyped_model_hint(client, name) or "nothing to roll back"
        raise PromotionError(f"'{name}' has no '{alias}' alias in {shown_uri(cfg.tracking_uri)} — {fix}")
    history = alias_history(client, name, alias)
    stack = holder_stack(history, str(current.version))
    if len(stack) < 2:
        undone = sorted({e.version for e in history} - {str(current.version)}, key=lambda v: (len(v), v))
        if not undone:
            raise PromotionError(f"{name}@{alias} has had no other holder than v{current.version} — nothing to roll back to")
        # the later holders were rolled back from already: a rollback only goes back, never forward again
        raise PromotionError(f"{name}@{alias}: v{current.version} is the earliest holder left (rollbacks already undid "
                             f"{', '.join('v' + v for v in undone)}) — nothing to roll back to; to restore a later one, promote its run "
                             f"again (workbench promote RUN_ID --name {name} --alias {alias})")
    restored = get_version(client, name, stack[-2])
    if restored is None:
        raise PromotionError(f"v{stack[-2]}, the holder of {name}@{alias} before v{current.version}, was deleted from the registry — "
                             f"nothing to roll back to; promote the run you want instead (workbench promote RUN_ID --name {name} --alias {alias})")
    if not prompt_kept(client, restored):
        run_id = promoted_run_id(restored, alias)
        raise PromotionError(f"v{restored.version}, the holder of {name}@{alias} before v{current.version}, lost its prompt "
                             f"{restored.tags[PROMPT_NAME_TAG]} v{restored.tags[PROMPT_VERSION_TAG]}: it was deleted from the Prompt Registry "
                             f"— promote v{restored.version}'s run again, which registers its prompt again (workbench promote {run_id} "
                             f"--name {name} --alias {alias})")
    template = logged_template(client, restored, cfg.tracking_uri)
    if template is not None and not prompt_renders(client, restored, template):
        # its prompt version was registered by an earlier workbench in a form that renders something else than was
        # evaluated (a literal {{name}} in MLflow's syntax): registered again as this workbench registers it
        version = register_prompt(client, restored.tags[PROMPT_NAME_TAG], template, run_id=restored.tags.get(RUN_ID_TAG, ""))
        client.set_model_version_tag(name, restored.version, PROMPT_VERSION_TAG, str(version))
        restored = client.get_model_version(name, restored.version)
    user, at = current_user(), now_utc().isoformat()
    point_alias(client, name, alias, restored)
    record_event(client, name, alias, AliasEvent("rollback", str(restored.version), user, at, previous=str(current.version), reason=reason))
    note = {"at": at, "user": user, "reason": reason}
    client.set_model_version_tag(name, restored.version, f"workbench.restored.{alias}", json.dumps({"from_version": str(current.version), **note}))
    client.set_model_version_tag(name, current.version, f"workbench.rolled_back.{alias}", json.dumps({"to_version": str(restored.version), **note}))
    gone = run_gone_note(client, promoted_run_id(restored, alias), f"v{restored.version}", f"{name}@{alias}")
    return Rollback(name, alias, str(restored.version), str(current.version), user, reason, gone)
