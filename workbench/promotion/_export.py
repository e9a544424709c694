"""Export the configuration holding an alias into a deployment git repository, as one commit on a new branch.

The bundle folder (``<name>/<alias>/`` by default) holds ``config.yaml`` (+ its JSON schema), the prompt files,
``EVALUATION.md``, any plots of the sweep, a ``.gitattributes`` that has git check the folder out byte for byte, and
``manifest.json`` with the sha256 of every other file. Everything is
built in memory and scanned for secrets before git is touched; the commit is made with a private index (in a
temporary folder, with no copy of the files) and the branch is created last, in one step (see ``_git.py``).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workbench import grid
from workbench.comparison import bootstrap_mean, number_text
from workbench.config import Settings, settings as default_settings
from workbench.promotion._config import (
    CONFIG_FILE,
    CONFIG_SCHEMA_FILE,
    CORPUS_DOCUMENTS_FILE,
    GITATTRIBUTES_FILE,
    MANIFEST_FILE,
    REPORT_FILE,
    AuditRecord,
    BundleConfig,
    Environment,
    GateRecord,
    IntervalRecord,
    Manifest,
    MetricRecord,
    RegistryRecord,
    installed_workbench,
    sha256,
)
from workbench.promotion._corpus_check import CORPUS_FIX, corpus_change, evaluated_hashes
from workbench.promotion._errors import ExportError, SecretFound
from workbench.promotion._gates import Evidence
from workbench.promotion._git import GitRepo
from workbench.promotion._candidate import (
    evaluated_chunks,
    evaluated_embedder,
    evaluated_generator,
    evaluated_weights,
    promoted_run,
    read_candidate,
    run_gone_note,
    stale_chunks,
)
from workbench.promotion._promote import check_target, current_user
from workbench.promotion._registry import (
    LOGGED_MODEL_TAG,
    PROMPT_NAME_TAG,
    PROMPT_VERSION_TAG,
    alias_holder,
    client_for,
    get_logged_model,
    mistyped_model_hint,
    now_utc,
    quiet_downloads,
)
from workbench.promotion._report import render_report
from workbench.promotion._secrets import describe, scan_files
from workbench.redaction import secret_env_values, without_credentials
from workbench.spec import file_name_problem
from workbench.tracking import artifacts_elsewhere, audit_tag, missing_artifacts, out_of_reach, promoted_run_id, reading_artifacts, shown_uri, store_released

_SUMMARY_METRICS = ("token_f1", "hit_at_k", "recall_at_k", "mrr", "rouge_l", "semantic_similarity", "faithfulness")
# a variant's totals, the sums of its per-question columns of the same names: no mean, so no interval
_TOTALS = frozenset({"input_tokens", "output_tokens", "cost_usd"})

# In the bundle folder, so it covers the bundle alone and overrides the repository's own rules there: no line-end
# conversion (core.autocrlf=true, Git for Windows' default, would check the text files out with CRLF), no filter, no
# $Id$ expansion, no re-encoding; every file is checked out as hashed in manifest.json. Diffs still show.
_GITATTRIBUTES = (
    b"# Written by workbench export: check this bundle out byte for byte, as manifest.json hashes it.\n"
    b"* -text -filter -ident -working-tree-encoding\n"
)


@dataclass(frozen=True)
class ExportResult:
    """Where the bundle went: the branch and commit in ``repo``, and the bundle folder inside the repository; the commit
    it was built on (``parent``: HEAD's, None in a repository without commits) and the branch HEAD was on (``based_on``,
    None when detached), whose commits the new branch carries too."""

    repo: Path
    branch: str
    commit: str
    bundle_dir: str
    files: tuple[str, ...]
    version: str
    checked_out: bool
    based_on: str | None = None
    parent: str | None = None
    note: str | None = None  # the exported version's run is in MLflow's trash: the next export needs it restored

    @property
    def path(self) -> Path:
        """The bundle folder in the working tree (present once the branch is checked out)."""
        return self.repo / self.bundle_dir

    def __str__(self) -> str:
        base = (" as the repository's first commit" if self.parent is None
                else f", on top of {f'branch {self.based_on}' if self.based_on else 'the detached HEAD'} ({self.parent[:10]})")
        note = f"\nnote: {self.note}" if self.note else ""
        return (f"committed {len(self.files)} files to {self.bundle_dir}/ on branch {self.branch} ({self.commit[:10]}) in "
                f"{self.repo}{base}{note}")


def _download_dir(uri: str, tracking_uri: str) -> dict[str, bytes]:
    import mlflow.artifacts

    with tempfile.TemporaryDirectory(prefix="wb-dl-") as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp, tracking_uri=tracking_uri))
        return {p.relative_to(local).as_posix(): p.read_bytes() for p in sorted(local.rglob("*")) if p.is_file()}


def _plots(client: Any, parent_run_id: str | None) -> dict[str, bytes]:
    """PNG files under ``plots/`` of the sweep's parent run (none when there are none)."""
    from workbench.tracking import artifact_bytes

    if not parent_run_id:
        return {}
    out: dict[str, bytes] = {}
    pending = ["plots"]
    while pending:
        folder = pending.pop()
        with reading_artifacts(client, parent_run_id):
            listed = client.list_artifacts(parent_run_id, folder)
        for item in listed:
            if item.is_dir:
                pending.append(item.path)
            elif item.path.lower().endswith(".png"):
                out[item.path] = artifact_bytes(client, parent_run_id, item.path)
    return out


def _interval(values: list[float | None], seed: int) -> IntervalRecord | None:
    present = [v for v in values if v is not None]
    if len(present) < 2:
        return None
    i = bootstrap_mean(present, seed=seed)
    return IntervalRecord(estimate=i.estimate, low=i.low, high=i.high, n=i.n, confidence=i.confidence)


def metric_records(evidence: Evidence, *, seed: int = 0) -> dict[str, MetricRecord]:
    """Every logged metric; a metric that is the mean of a per-question column also gets a bootstrap interval,
    resampled with ``seed`` (the sweep's, as its ``comparison.json`` and ``wb.compare`` are: the same interval there).

    Totals (``input_tokens``, ``cost_usd``) share their column's name but are sums: they get no interval (one of 0,
    a model that costs nothing, is its questions' mean as well).
    """
    out: dict[str, MetricRecord] = {}
    for name in sorted(evidence.metrics, key=lambda n: (n not in _SUMMARY_METRICS, n)):
        value = evidence.metrics[name]
        per_q = evidence.per_question.get(name)
        interval = _interval(list(per_q.values()), seed) if per_q and name not in _TOTALS else None
        if interval is not None and interval.estimate is not None and abs(interval.estimate - value) > 1e-6 * max(1.0, abs(value)):
            interval = None
        out[name] = MetricRecord(value=value, interval=interval)
    return out


def _evaluated_versions(logged: str | None) -> dict[str, str]:
    """The package versions a run was evaluated with, from its ``workbench.versions`` tag (pure; {} when it has none or
    it cannot be read)."""
    try:
        data = json.loads(logged) if logged else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _commit_message(config: BundleConfig, alias: str, version: str, metrics: dict[str, MetricRecord],
                    gates: tuple[GateRecord, ...], audit: AuditRecord | None, run_id: str) -> str:
    shown = []
    for name in _SUMMARY_METRICS:
        m = metrics.get(name)
        if m is not None and m.value is not None:
            ci = f" [{number_text(m.interval.low)}, {number_text(m.interval.high)}]" if m.interval and m.interval.low is not None else ""
            shown.append(f"{name} {number_text(m.value)}{ci}")
    passed = sum(1 for g in gates if g.passed)
    lines = [
        f"Promote {config.name} v{version} to {alias}",
        "",
        f"Config {config.config_hash[:12]}: prompt {config.prompt.name} (registry {config.prompt.registry_name} "
        f"v{config.prompt.registry_version}), model {config.model_label}, chunker {config.chunker.label}, retrieval {config.retrieval.label} "
        f"with {config.retrieval.embedding}.",
        f"Evaluated on {config.dataset.name} ({config.dataset.cases} questions): {', '.join(shown) or 'no summary metrics'}.",
        f"Gates: {passed} of {len(gates)} passed.",
    ]
    if audit is not None:
        lines.append(f"Promoted by {audit.user} at {audit.at.isoformat()} from MLflow run {run_id}.")
        if audit.override_reason:  # a reason given with gates that all passed overrode nothing
            lines.append(f"{'Reason' if audit.gates_passed else 'OVERRIDE (gates failed)'}: {audit.override_reason}")
    return "\n".join(lines) + "\n"


def _audit_record(raw: str | None, version: str, alias: str) -> AuditRecord | None:
    """The audit record of ``version``'s promotion to ``alias`` from its tag; None when it has none (registered before
    workbench recorded one).

    Raises:
        ExportError: the tag is not an audit record (cut short, or edited in the MLflow UI): one line naming it.
    """
    if not raw:
        return None
    try:
        return AuditRecord.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ExportError(f"{version}: its audit record (the tag {audit_tag(alias)}) cannot be read ({f'{where}: ' if where else ''}"
                          f"{err['msg']}) — promote its run to '{alias}' again, which records it anew, then export") from None


def build_bundle(name: str, alias: Environment, *, settings: Settings | None = None) -> tuple[dict[str, bytes], BundleConfig, str, str]:
    """The bundle's files for the version holding ``alias`` (nothing is written).

    Returns:
        (files by relative path, the config, the registry version, the commit message).
    """
    cfg = settings or default_settings()
    with quiet_downloads():
        return _build_bundle(name, alias, cfg)


def _build_bundle(name: str, alias: Environment, cfg: Settings) -> tuple[dict[str, bytes], BundleConfig, str, str]:
    from workbench.tracking import RESULTS_TABLE, REUSED_FROM_TAG, load_variant_table

    client = client_for(cfg.tracking_uri)
    mv = alias_holder(client, name, alias)
    if mv is None:
        fix = mistyped_model_hint(client, name) or "promote one first (workbench promote)"
        raise ExportError(f"no version of '{name}' holds the alias '{alias}' in {shown_uri(cfg.tracking_uri)} — {fix}")
    audit = _audit_record(mv.tags.get(audit_tag(alias)), f"{name} v{mv.version}", alias)
    run_id = promoted_run_id(mv, alias)
    model_id = mv.tags.get(LOGGED_MODEL_TAG) or getattr(mv, "model_id", None)
    if not model_id:
        raise ExportError(f"{name} v{mv.version} has no logged model with its configuration — it was not registered by workbench")
    logged = get_logged_model(client, model_id)
    if logged is None:
        raise ExportError(f"{name} v{mv.version}: its logged model {model_id} (config.yaml and the prompt files) was deleted from "
                          f"MLflow — delete version {mv.version} of {name} in the registry and promote its run again")
    gone = artifacts_elsewhere(logged.artifact_location)
    if gone is not None:  # a sqlite store names them by absolute path: the project folder moved, or they were deleted
        raise ExportError(f"{name} v{mv.version}: its logged model {model_id} (config.yaml and the prompt files) keeps its files in "
                          f"{gone}, which is not there (the project folder moved, or they were deleted) — put them back where the "
                          f"store says, or run its experiment again here, promote the new run to '{alias}' and export that")
    try:
        files = _download_dir(logged.artifact_location, cfg.tracking_uri)
    except ImportError as exc:  # an experiment keeping its artifacts in s3:// on a machine without boto3
        raise out_of_reach(f"{name} v{mv.version}", logged.artifact_location, cfg.tracking_uri, exc, verb="reads") from None
    if CONFIG_FILE not in files:
        raise ExportError(f"{name} v{mv.version}: the logged model {model_id} has no {CONFIG_FILE}")
    try:
        config = BundleConfig.from_yaml(files[CONFIG_FILE].decode(), source=f"models:/{model_id}/{CONFIG_FILE}")
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    run = promoted_run(client, run_id, f"{name} v{mv.version}, the holder of {alias}", "its evaluation cannot be bundled: "
                       f"run its experiment again (answers come from the cache), promote the new run to {alias} and export that")
    gone = missing_artifacts(run_id, run.info.artifact_uri or "")
    if gone is not None:  # its per-question table with them: the bundle would lose its answers and intervals
        raise ExportError(f"{name} v{mv.version}: {gone}")
    if run_id != config.source.run_id:
        # the version was registered from an earlier run of the same configuration: the bundle describes the run that
        # was promoted to this alias (its dataset and source), with the registered prompt
        promoted = read_candidate(client, run_id, name).config
        config = promoted.model_copy(update={"prompt": config.prompt})
        files[CONFIG_FILE] = config.to_yaml().encode()

    stale = stale_chunks(run_id, run.data.tags, config.chunker, config.retrieval.embedding)
    if stale is not None:
        raise ExportError(f"{name} v{mv.version}: {stale} — run its experiment again with this workbench, promote the new run "
                          f"to '{alias}' and export that")
    changed = corpus_change(client, run_id, run.data.tags.get("mlflow.parentRunId"), config.corpus, cfg)
    if changed is not None:
        raise ExportError(f"{name} v{mv.version}: {changed} — {CORPUS_FIX}, promote the new run to '{alias}' and export that")
    evaluated = evaluated_hashes(client, run.data.tags.get("mlflow.parentRunId")) if config.corpus.path is not None else None
    if evaluated is not None:  # load_bundle names the documents changed since by them (a sweep logged before has none)
        files[CORPUS_DOCUMENTS_FILE] = (json.dumps(evaluated, ensure_ascii=False, indent=0) + "\n").encode()
    answering = config.answering_models
    recorded = {"chunking_revision": grid.CHUNKING_REVISION if "workbench.index_key" in run.data.tags else None,
                "chunks": evaluated_chunks(run.data.tags), "weights": evaluated_weights(run.data.tags, answering),
                "embedder": evaluated_embedder(run.data.tags, config.retrieval.embedding),
                "generator": evaluated_generator(run.data.tags, answering)}
    missing = {field: value for field, value in recorded.items() if getattr(config, field) is None and value is not None}
    # registered before workbench recorded them, or by an earlier workbench (schema 1): written as this one writes bundles
    config = config.model_copy(update=missing).current_schema(installed_workbench())
    files[CONFIG_FILE] = config.to_yaml().encode()
    files[CONFIG_SCHEMA_FILE] = (json.dumps(BundleConfig.model_json_schema(), indent=2) + "\n").encode()
    try:
        table = load_variant_table(run_id, tracking_uri=cfg.tracking_uri)
    except (ValueError, KeyError, TypeError) as exc:  # there, but cut short (a full disk, a sync tool) or overwritten
        raise ExportError(f"{name} v{mv.version}: the per-question table of run {run_id} ({RESULTS_TABLE}) cannot be read "
                          f"({type(exc).__name__}: {exc}) — the bundle's EVALUATION.md would lose its answers and intervals: run "
                          f"its experiment again (answers come from the cache), promote the new run to '{alias}' and export that") from None
    except Exception:  # noqa: BLE001 - a run without its table still exports, without intervals
        table = None
    evidence = Evidence.from_table(run_id, run.data.metrics, table, dataset_hash=config.dataset.hash, config_hash=config.config_hash)
    metrics = metric_records(evidence, seed=config.seed)
    parent = run.data.tags.get("mlflow.parentRunId")
    plots = _plots(client, parent)
    files.update(plots)
    files[GITATTRIBUTES_FILE] = _GITATTRIBUTES
    gates = audit.gates if audit is not None else ()
    registry = RegistryRecord(
        tracking_uri=without_credentials(cfg.tracking_uri), experiment_id=run.info.experiment_id, run_id=run_id, parent_run_id=parent,
        registered_model=name, version=str(mv.version), logged_model_id=model_id, prompt_name=mv.tags.get(PROMPT_NAME_TAG),
        prompt_version=int(mv.tags[PROMPT_VERSION_TAG]) if mv.tags.get(PROMPT_VERSION_TAG) else None,
    )
    rows = table.to_dict(orient="records") if table is not None else []
    score_columns = [c for c in metrics if c in evidence.per_question and c in (table.columns if table is not None else ())]
    files[REPORT_FILE] = render_report(
        config=config, alias=alias, registry=registry, metrics=metrics, gates=gates, audit=audit, rows=rows,
        score_columns=[c for c in score_columns if c not in ("latency_s", "input_tokens", "output_tokens", "cost_usd")][:6],
        plots=sorted(plots), reused_from=run.data.tags.get(REUSED_FROM_TAG),
        judge={k.removeprefix("judge."): v for k, v in run.data.params.items() if k.startswith("judge.")},
        versions=_evaluated_versions(run.data.tags.get("workbench.versions")),
    ).encode()
    manifest = Manifest(
        name=name, alias=alias, config_hash=config.config_hash, exported_at=now_utc(), exported_by=current_user(),
        mlflow=registry, metrics=metrics, gates=gates, audit=audit,
        files={rel: sha256(data) for rel, data in sorted(files.items())},
    )
    files[MANIFEST_FILE] = manifest.to_json().encode()
    return files, config, str(mv.version), _commit_message(config, alias, str(mv.version), metrics, gates, audit, run_id)


def _bundle_folder(raw: str) -> str:
    """``raw`` as a clean relative folder (``a//b/./c`` is ``a/b/c``); an absolute path, ``..``, the repository itself
    or git's own folder is refused."""
    parts = [p for p in raw.replace("\\", "/").split("/") if p not in ("", ".")]
    if raw.startswith("/") or not parts or ".." in parts or parts[0].lower() == ".git":
        raise ExportError(f"bundle_dir '{raw}': give a relative folder inside the repository (not its root, not .git, no '..')")
    problem = next((p for p in map(file_name_problem, parts) if p is not None), None)
    if problem is not None:  # a deployment repository is checked out on Windows too
        raise ExportError(f"bundle_dir '{raw}': {problem}")
    return "/".join(parts)


def foreign_files(existing: list[str], manifest_text: str | None) -> list[str]:
    """The files of a bundle folder that the bundle exported there before did not write (its ``manifest.json`` lists
    them): an export replaces the whole folder, and would delete them."""
    try:  # only its file list: a manifest of an older workbench, with other fields, lists what it wrote all the same
        data = json.loads(manifest_text) if manifest_text is not None else None
    except ValueError:
        data = None
    files = data.get("files") if isinstance(data, dict) else None
    listed = {MANIFEST_FILE, *files} if isinstance(files, dict) else set()
    return [f for f in existing if f not in listed]


def other_models_bundle(manifest_text: str | None, name: str) -> str | None:
    """``NAME@ALIAS (vN)`` of the bundle a folder holds when its ``manifest.json`` names another registered model than
    ``name``, else None (pure): an export replaces the whole folder. A manifest naming no model (an older workbench's,
    or unreadable) is not another model's."""
    try:
        data = json.loads(manifest_text) if manifest_text is not None else None
    except ValueError:
        return None
    held = data.get("name") if isinstance(data, dict) else None
    if not isinstance(held, str) or not held or held == name:
        return None
    registry = data.get("mlflow")
    version = registry.get("version") if isinstance(registry, dict) else None
    return f"{held}@{data.get('alias') or '?'}{f' (v{version})' if version else ''}"


def default_branch(name: str, alias: str, version: str) -> str:
    """``promote/<name>-<alias>-v<version>``, without the dots git refuses in a branch name that a registered model name
    may hold (two in a row, a leading one)."""
    return f"promote/{re.sub(r'[.]{2,}', '.', name).lstrip('.')}-{alias}-v{version}"


def _earlier_export(text: str | None, config: BundleConfig, version: str, alias: str) -> str:
    """What the branch of an earlier export of the same version holds, for the error that refuses to overwrite it: the
    same bundle (deploy it again after a rollback), or the evaluation of another run of the configuration, such as one
    run again after an upgrade whose chunkers cut text otherwise (pure; ``text`` is that branch's config.yaml)."""
    same = f" (an earlier export of v{version} to {alias}: after a rollback, deploy that branch again)"
    try:
        held = yaml.safe_load(text) if text is not None else None
    except yaml.YAMLError:
        held = None
    if not isinstance(held, dict):
        return same
    source = held.get("source")
    run = source.get("run_id") if isinstance(source, dict) else None
    revision = held.get("chunking_revision")
    if run == config.source.run_id and revision == config.chunking_revision:
        return same
    cut = (f", evaluated on chunks cut by chunking revision {revision or 'unrecorded'}, which this workbench "
           f"(revision {config.chunking_revision}) does not load" if revision != config.chunking_revision else "")
    return f" (an earlier export of v{version} to {alias}, of an earlier evaluation: run {run or 'unknown'}{cut})"


def export(
    name: str,
    alias: Environment = "production",
    *,
    repo: str | Path | GitRepo,
    bundle_dir: str | None = None,
    branch: str | None = None,
    allow_dirty: bool = False,
    checkout: bool = False,
    settings: Settings | None = None,
) -> ExportResult:
    """Commit the bundle of ``name@alias`` to a new branch of a deployment git repository.

    The commit adds (or replaces) the folder ``bundle_dir`` (default ``<name>/<alias>``) on top of the repository's
    HEAD, on the branch ``promote/<name>-<alias>-v<version>``; a folder holding files that no earlier export wrote there
    (its ``manifest.json`` lists what it wrote) is refused rather than emptied. The working tree, index and HEAD are not touched
    unless ``checkout`` is set; an export interrupted before the branch exists leaves the repository as it was.

    Args:
        name: the registered model name.
        alias: ``staging`` or ``production``.
        repo: the deployment repository (a path, or a ``GitRepo``).
        bundle_dir: folder of the bundle inside the repository.
        branch: branch to create (must not exist).
        allow_dirty: export even when the repository has uncommitted changes.
        checkout: switch the repository to the new branch afterwards (the bundle then appears on disk).
        settings: where the MLflow store is.

    Raises:
        ExportError: not a git repository, dirty repository, existing branch, nothing holds the alias, a bundle folder
            holding other files.
        SecretFound: a file of the bundle contains something that looks like a secret (nothing is written).
    """
    cfg = settings or default_settings()
    with store_released(cfg.tracking_uri):  # its connections let go of once done: a kernel exports project after project
        return _export(name, alias, repo=repo, bundle_dir=bundle_dir, branch=branch, allow_dirty=allow_dirty, checkout=checkout,
                       settings=cfg)


def _export(name: str, alias: Environment, *, repo: str | Path | GitRepo, bundle_dir: str | None, branch: str | None,
            allow_dirty: bool, checkout: bool, settings: Settings) -> ExportResult:
    check_target(name, alias)
    git = repo if isinstance(repo, GitRepo) else GitRepo(repo)
    root = git.toplevel()
    changed = git.changed() if not allow_dirty else []
    if changed:  # named: a project folder that is the deployment repository holds mlruns/ and .workbench/ untracked
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        raise ExportError(f"{root} has uncommitted changes ({', '.join(changed[:3])}{more}) — commit or stash them (files git does "
                          "not track: commit them or list them in .gitignore), or pass allow_dirty=True (--allow-dirty)")
    folder = _bundle_folder(bundle_dir or f"{name}/{alias}")

    files, config, version, message = build_bundle(name, alias, settings=settings)
    earlier = "" if branch else _earlier_export(git.read_text(default_branch(name, alias, version), f"{folder}/{CONFIG_FILE}"),
                                                config, version, alias)
    branch = branch or default_branch(name, alias, version)
    git.check_branch_name(branch)
    if git.branch_exists(branch):
        raise ExportError(f"branch '{branch}' already exists in {root}{earlier} — delete it, or pass another branch name "
                          "(branch=..., --branch NAME)")
    blocking = git.branch_in_the_way(branch)
    if blocking:
        raise ExportError(f"branch '{blocking}' in {root} makes a branch named '{branch}' impossible in git — rename or delete "
                          "it, or pass another branch name")
    hits = scan_files(files, secret_env_values(os.environ))
    if hits:
        raise SecretFound(f"refusing to export {name}@{alias}: {describe(hits)} — remove the secret from its source and promote again")

    parent, based_on = git.head(), git.current_branch()
    if parent is not None:
        parts = folder.split("/")
        for i in range(1, len(parts) + 1):
            prefix, siblings = "/".join(parts[:i]), git.entries(parent, "/".join(parts[: i - 1]))
            kind = siblings.get(parts[i - 1])
            alike = next((n for n in siblings if n != parts[i - 1] and n.casefold() == parts[i - 1].casefold()), None)
            if alike is not None:  # another registered model's bundle, Bot/ beside bot/
                raise ExportError(f"bundle_dir '{folder}': '{'/'.join([*parts[: i - 1], alike])}' is a folder of {root} already, its "
                                  "name differing only in case: one folder on macOS and Windows — choose another folder "
                                  "(--bundle-dir), or rename it")
            if kind == "blob":
                raise ExportError(f"bundle_dir '{folder}': '{prefix}' is a file in {root} — choose another folder")
            if kind == "commit":  # the export replaced the submodule by the bundle's folder, or failed in git update-index
                raise ExportError(f"bundle_dir '{folder}': '{prefix}' is a submodule of {root} — export into its own repository "
                                  f"(--repo {root / prefix}), or choose another folder")
        manifest_text = git.read_text(parent, f"{folder}/{MANIFEST_FILE}")
        held = other_models_bundle(manifest_text, name)
        if held is not None:  # a --bundle-dir copied from another model's export: its bundle would go, under this one's name
            raise ExportError(f"bundle_dir '{folder}' in {root} holds the bundle of {held} — an export of {name}@{alias} would "
                              "replace it: choose another folder (--bundle-dir), or remove that bundle in a commit first")
        foreign = foreign_files(git.files_in(parent, folder), manifest_text)
        if foreign:
            more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            raise ExportError(f"bundle_dir '{folder}' in {root} holds files no export of a bundle wrote ({', '.join(foreign[:3])}{more}) "
                              "— the export replaces the whole folder: choose another folder (--bundle-dir), or move them out")
    env = git.identity_env(current_user())
    with tempfile.TemporaryDirectory(prefix="wb-export-") as tmp:  # the private index alone: paths and blob ids
        index = Path(tmp) / "index"
        git.read_tree(index, parent)
        git.remove_from_index(index, folder)
        for rel in sorted(files):
            git.add_to_index(index, git.hash_object(files[rel]), f"{folder}/{rel}")
        tree = git.write_tree(index)
        commit = git.commit_tree(tree, parent, message, env)
        try:
            git.create_branch(branch, commit)
        except ExportError:
            if not git.branch_exists(branch):
                raise
            raise ExportError(f"branch '{branch}' was created in {root} while this export ran (another export at the same time) "
                              "— this one exported nothing: check that branch, or pass another branch name") from None
    if checkout:
        try:
            git.checkout(branch)
        except ExportError as exc:  # e.g. local changes the new branch would overwrite: leave no half-done export
            git.delete_branch(branch, commit)
            raise ExportError(f"{exc} — nothing was exported (the branch was removed again); commit or stash your local "
                              "changes, or export without checkout") from None
    note = run_gone_note(client_for(settings.tracking_uri), config.source.run_id, f"v{version}", f"{name}@{alias}")
    return ExportResult(root, branch, commit, folder, tuple(sorted(files)), version, checkout, based_on, parent, note)
