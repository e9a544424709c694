"""Promote a variant run to an environment alias (after its gates pass), and roll an alias back."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from workbench.config import Settings, settings as default_settings
from workbench.errors import WorkbenchError
from workbench import grid
from workbench.grid import index_key
from workbench.models import LLAMA_CPP_PACKAGES, embedding_packages, hosted_server, runs_locally
from workbench.promotion._config import (
    CORPUS_FILE,
    ENVIRONMENTS,
    AuditRecord,
    BundleConfig,
    ChunksInfo,
    CorpusInfo,
    DatasetInfo,
    EmbedderInfo,
    GeneratorInfo,
    Environment,
    PromptRef,
    SourceInfo,
    answering_models,
    config_files,
    config_hash,
    evaluated_prices,
    model_contents,
    gate_records,
    gguf_sha256,
    installed_workbench,
)
from workbench.promotion._bundle import documents_corpus
from workbench.promotion._corpus_check import CORPUS_FIX, corpus_change
from workbench.promotion._errors import BundleError, GateFailed, GateMetricUnknown, PromotionError, SecretFound
from workbench.promotion._gates import Evidence, GateReport, Holder, evaluate_gates, unknown_gate_metrics
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
    link_prompt_to_run,
    get_version,
    holder_stack,
    now_utc,
    point_alias,
    prompt_kept,
    prompt_registry_name,
    prompt_renders,
    logged_template,
    quiet_downloads,
    record_event,
    register_config,
    register_prompt,
)
from workbench.promotion._secrets import find_secrets, secret_env_values
from workbench.prompts import PromptTemplate
from workbench.results import VariantResult
from workbench.spec import (
    BeatsHolderGate, ChunkerSpec, GateSpec, ModelSpec, Name, PriceSpec, PromotionSpec, PromptSpec, RetrievalSpec, RouterSpec,
)
from workbench.tracking import (
    CHUNKS_SHA256_TAG,
    CHUNKS_TAG,
    CORPUS_ARTIFACT,
    CORPUS_RUN_TAG,
    MODELS_TAG,
    artifact_bytes,
    audit_tag,
    early_stop_from_tags,
    lower_is_better_from_tags,
    missing_artifacts,
    promoted_run_id,
    registry_changes_serialised,
    require_active,
    shown_uri,
)

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


@dataclass(frozen=True)
class Candidate:
    """A finished variant run read back from MLflow, as a deployable configuration."""

    run_id: str
    experiment_id: str
    parent_run_id: str | None
    config: BundleConfig
    template: PromptTemplate
    metrics: Mapping[str, float]
    promotion: PromotionSpec | None
    documents: str | None = None  # the corpus's documents (JSONL) when they were given in memory: bundled with the config


def _artifact_text(client: Any, run_id: str, path: str) -> str:
    from mlflow.exceptions import MlflowException

    try:
        return artifact_bytes(client, run_id, path).decode("utf-8")
    except (MlflowException, OSError) as exc:
        gone = missing_artifacts(run_id, get_run(client, run_id).info.artifact_uri or "")
        raise PromotionError(gone or f"run {run_id} has no artifact '{path}' ({type(exc).__name__}) — was it logged by workbench?") from None
    except UnicodeDecodeError as exc:  # cut inside a character
        raise _damaged_artifact(run_id, path, exc) from None


def _artifact_mapping(client: Any, run_id: str, path: str) -> dict[str, Any]:
    """A YAML artifact of a run (``variant.yaml``, ``experiment.yaml``) as the mapping it holds; an empty file as {}."""
    try:
        loaded = yaml.safe_load(_artifact_text(client, run_id, path))
    except yaml.YAMLError as exc:
        raise _damaged_artifact(run_id, path, exc) from None
    if loaded is not None and not isinstance(loaded, dict):
        raise _damaged_artifact(run_id, path, TypeError(f"it holds a {type(loaded).__name__}, not a mapping"))
    return loaded or {}


def _damaged_artifact(run_id: str, path: str, exc: Exception) -> PromotionError:
    """A run's artifact that is there but cannot be read: a full disk or a sync tool cut it short (promote ended in a
    YAML scanner traceback)."""
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
    return PromotionError(f"run {run_id}: its {path} cannot be read ({reason}) — it was cut short or overwritten (a full disk, a sync "
                          "tool): run its experiment again (answers come from the cache) and promote the new run")


def _documents(client: Any, holder: str, sweep_id: str | None) -> str:
    """The documents a sweep was given in memory, from the run holding them: the sweep, or an earlier one of its
    experiment over the same documents (deleted and garbage-collected since, they are gone)."""
    try:
        return _artifact_text(client, holder, CORPUS_ARTIFACT)
    except PromotionError:
        if holder == sweep_id:
            raise
        raise PromotionError(f"sweep {sweep_id}'s documents were logged with the earlier sweep {holder}, which no longer "
                             "holds them (deleted?) — run the experiment again (it logs them with its sweep) and promote "
                             "the new run") from None


def get_run(client: Any, run_id: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException:
        raise PromotionError(f"run '{run_id}' not found in {shown_uri(client.tracking_uri)} — check the run id (workbench list EXPERIMENT)") from None


def promoted_run(client: Any, run_id: str, version: str, fix: str) -> Any:
    """The run a registered version (``version``: "NAME vN, the holder of ALIAS") was promoted from, or one line saying
    it is gone (deleted for good: ``mlflow gc``) and ``fix``: "run 'X' not found — check the run id" named a run the user
    never gave."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException:
        raise PromotionError(f"{version}, was promoted from run {run_id}, which is no longer in {shown_uri(client.tracking_uri)} "
                             f"(deleted for good) — {fix}") from None


def run_gone_note(client: Any, run_id: str | None, version: str, target: str) -> str | None:
    """What to know of the run a version (``version``: "v3") was promoted from when it is in MLflow's trash or gone for
    good, for a rollback or export that still goes ahead (``target``: "NAME@ALIAS"); None when it is there (or the version
    has no run). Gates against ``models:/NAME@ALIAS`` refuse a deleted run, and exports need its evaluation."""
    from mlflow.exceptions import MlflowException

    if not run_id:
        return None
    try:
        run = client.get_run(run_id)
    except MlflowException:
        return (f"{version} was promoted from run {run_id}, which is no longer in {shown_uri(client.tracking_uri)} (deleted for "
                f"good): gates against models:/{target} cannot read it and exports cannot bundle it — promote a run of its "
                "experiment run again to replace it")
    if run.info.lifecycle_stage != "deleted":
        return None
    return (f"{version} was promoted from run {run_id}, which is deleted in MLflow — restore it with 'mlflow runs restore "
            f"--run-id {run_id}' before mlflow gc removes it: gates against models:/{target} refuse it, and exports cannot "
            "bundle it once it is gone")


def _unfinished(run_id: str, mlflow_status: str, workbench_status: str, error: str) -> str | None:
    """Why a run cannot be promoted as unfinished, from MLflow's status and the one workbench recorded (None: finished).

    Either can be the one that did not finish: a run killed in MLflow after workbench ended it, or a run whose sweep
    was killed before it could end it (left RUNNING in MLflow, no workbench status)."""
    status = next((s for s in (mlflow_status, workbench_status) if s != "FINISHED"), None)
    if status is None:
        return None
    if status in ("RUNNING", "SCHEDULED"):
        return (f"run {run_id} is still {status} in MLflow: it never finished (or its sweep was killed) — promote a finished "
                "variant run (run the experiment again to finish it)")
    return f"run {run_id} ended {status}{': ' + error[:200] if error else ''} — only finished variants can be promoted"


def read_candidate(client: Any, run_id: str, name: str) -> Candidate:
    """Read a variant run: its configuration (variant.yaml, tags, the sweep's experiment.yaml) and metrics.

    Raises:
        PromotionError: the run is missing, is a sweep, is not a workbench variant or did not finish.
    """
    run = get_run(client, run_id)
    try:  # registering a configuration in a deleted experiment fails half-way (the model and prompt already written)
        require_active(client.get_experiment(run.info.experiment_id), client.tracking_uri)
    except WorkbenchError as exc:
        raise PromotionError(f"run {run_id}: {exc}") from None
    if run.info.lifecycle_stage == "deleted":  # MLflow still returns a run in the trash
        raise PromotionError(f"run {run_id} ('{run.info.run_name}') is deleted in {shown_uri(client.tracking_uri)} — restore it with "
                             f"'mlflow runs restore --run-id {run_id}' (MLFLOW_TRACKING_URI set to this store), or promote another run")
    tags = run.data.tags
    kind = tags.get("workbench.kind")
    if kind == "sweep":
        children = client.search_runs(  # its variants, not a run another tool nested under it
            [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run_id}' and tags.`workbench.kind` = 'variant'", max_results=20,
        )
        names = ", ".join(f"{c.info.run_id} ({c.info.run_name})" for c in children[:5])
        raise PromotionError(f"run {run_id} is a sweep — promote one of its variant runs: {names}")
    if kind != "variant":
        raise PromotionError(f"run {run_id} is not a workbench variant run (tag workbench.kind is {kind!r})")
    if tags.get("workbench.generates") == "false":
        raise PromotionError(f"run {run_id} is a retrieval-only variant (no prompt, no model) — promote a variant of a full sweep "
                             "that uses its chunker and retrieval setting")
    unfinished = _unfinished(run_id, run.info.status, tags.get("workbench.status", run.info.status), tags.get("workbench.error", ""))
    if unfinished:
        raise PromotionError(unfinished)
    stop = early_stop_from_tags(tags)
    if stop is not None:
        raise PromotionError(f"run {run_id} was stopped early by racing ({stop.label}): it answered only some questions — run the "
                             "experiment again without racing (its answered questions come from the cache) and promote that run")
    variant = _artifact_mapping(client, run_id, "variant.yaml")
    parent_id = tags.get("mlflow.parentRunId")
    experiment: dict[str, Any] = {}
    parent_params: dict[str, str] = {}
    documents_run = parent_id  # where the sweep's documents given in memory are logged
    if parent_id:
        experiment = _artifact_mapping(client, parent_id, "experiment.yaml")
        parent = get_run(client, parent_id)
        parent_params = dict(parent.data.params)
        # the sweep, or the experiment's earlier sweep over the very same documents, which its tag names
        documents_run = parent.data.tags.get(CORPUS_RUN_TAG, parent_id)
    try:
        prompt = PromptSpec.model_validate(variant["prompt"])
        # a router's cheap model answers first: the bundle's model, the router saying the rest
        router = RouterSpec.model_validate(variant["router"]) if "router" in variant else None
        model = router.cheap if router is not None else ModelSpec.model_validate(variant["model"])
        chunker = ChunkerSpec.model_validate(variant["chunker"])
        retrieval = RetrievalSpec.model_validate(variant["retrieval"])
        promotion = PromotionSpec.model_validate(experiment["promotion"]) if experiment.get("promotion") else None
        pricing = {model_id: PriceSpec.model_validate(price) for model_id, price in (experiment.get("pricing") or {}).items()}
    except KeyError as exc:
        raise PromotionError(f"run {run_id}: variant.yaml has no {exc} — was the run logged by workbench?") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise PromotionError(f"run {run_id}: variant.yaml / the sweep's experiment.yaml: {exc.title}.{where}: {err['msg']}") from None
    stale = stale_chunks(run_id, tags, chunker, retrieval.embedding)
    if stale is not None:
        raise PromotionError(f"{stale} — run the experiment again (answers whose context is unchanged come from the cache) "
                             "and promote the new run")
    model = model.model_copy(update={"kind": model.resolved_kind})
    if router is not None:
        router = router.model_copy(update={"cheap": model, "strong": router.strong.model_copy(update={"kind": router.strong.resolved_kind})})
    template = prompt.as_template()
    seed = int(tags.get("workbench.seed", parent_params.get("seed", "0")))
    documents = None
    if experiment and not experiment.get("corpus"):  # given in memory: the sweep logged the documents, the bundle holds them
        documents = _documents(client, documents_run, parent_id) if documents_run else None
    corpus_ref = {"file": CORPUS_FILE} if documents is not None else experiment.get("corpus") or {"builtin": "python-reference"}
    corpus_hash, dataset_hash = tags.get("workbench.corpus_hash", ""), tags.get("workbench.dataset_hash", "")
    if not corpus_hash or not dataset_hash:
        raise PromotionError(f"run {run_id} has no workbench.corpus_hash/dataset_hash tags — it was not logged by workbench")
    if documents is not None and not _logged_as(documents, run_id, corpus_hash):
        # the tracker redacts what it logs: a document holding a key's shape (AWS's documented example) was logged redacted,
        # and a bundle rebuilt from it would refuse it as another corpus than the one the run was evaluated on
        raise PromotionError(f"run {run_id}: the documents it logged ({CORPUS_ARTIFACT}) are not the corpus it was evaluated on "
                             "(secret-looking text is redacted when logged), so a bundle could not rebuild its index — remove the secrets from the documents, or save them "
                             "as a folder and run with corpus: {path: ...}, then promote the new run")
    docs = parent_params.get("corpus.documents")
    corpus = CorpusInfo(
        builtin=corpus_ref.get("builtin"), path=corpus_ref.get("path"), file=corpus_ref.get("file"), glob=corpus_ref.get("glob", "**/*.md"),
        exclude=tuple(corpus_ref.get("exclude", ())), columns=dict(corpus_ref.get("columns") or {}),
        hash=corpus_hash, documents=int(docs) if docs else None,
    )
    inputs = getattr(getattr(run, "inputs", None), "dataset_inputs", None) or []
    dataset_name = inputs[0].dataset.name if inputs else str((experiment.get("dataset") or {}).get("path", "dataset"))
    metrics = dict(run.data.metrics)
    dataset = DatasetInfo(
        name=dataset_name, path=str((experiment.get("dataset") or {}).get("path", "")), hash=dataset_hash,
        cases=int(metrics.get("questions", parent_params.get("dataset.cases", 0) or 0)),
    )
    answering = answering_models(model, router)
    servers = _servers(tags.get(MODELS_TAG), {**{role: m.id for role, m in answering.items()}, "embedding": retrieval.embedding})
    weights, embedder = evaluated_weights(tags, answering), evaluated_embedder(tags, retrieval.embedding)
    digest = config_hash(template.hash, model, seed, chunker, retrieval, corpus_hash, servers, router=router,
                         contents=model_contents([m.id for m in answering.values()], retrieval.embedding, weights, embedder))
    config = BundleConfig(
        name=name, config_hash=digest, workbench=installed_workbench(), embedder=embedder,
        generator=evaluated_generator(tags, answering), router=router,
        prompt=PromptRef(name=template.name, file=f"prompts/{template.name}.txt",
                         system_file=f"prompts/{template.name}.system.txt" if template.system else None, sha256=template.hash),
        model=model, servers=servers, weights=weights, prices=evaluated_prices(pricing, answering.values()), seed=seed, chunker=chunker,
        retrieval=retrieval, corpus=corpus, dataset=dataset,
        chunking_revision=grid.CHUNKING_REVISION if "workbench.index_key" in tags else None,  # not stale: checked above
        chunks=evaluated_chunks(tags),
        source=SourceInfo(run_id=run_id, experiment_id=run.info.experiment_id, parent_run_id=parent_id,
                          variant_id=tags.get("workbench.variant_id", ""), variant_name=run.info.run_name or ""),
    )
    return Candidate(run_id, run.info.experiment_id, parent_id, config, template, metrics, promotion, documents)


def _logged_as(documents: str, run_id: str, corpus_hash: str) -> bool:
    """Whether the corpus a sweep logged (``CORPUS_ARTIFACT``) is the one of hash ``corpus_hash`` (see ``Corpus.hashed_as``:
    a run logged before the hash covered pages recorded its text's); False when it is unreadable."""
    try:
        return documents_corpus(documents, f"run {run_id}: {CORPUS_ARTIFACT}", name="documents").hashed_as(corpus_hash)
    except BundleError:
        return False


def evaluated_chunks(tags: Mapping[str, str]) -> ChunksInfo | None:
    """The chunks a run retrieved from, as it logged them; None for a run logged before workbench logged them."""
    count, digest = tags.get(CHUNKS_TAG), tags.get(CHUNKS_SHA256_TAG)
    if count is None or digest is None:
        return None
    return ChunksInfo(count=int(count), sha256=digest)


def evaluated_weights(tags: Mapping[str, str], answering: Mapping[str, ModelSpec]) -> dict[str, str] | None:
    """Model id -> the sha256 of the GGUF file that answered a run (its ``workbench.models`` tag), for each answering
    model (by role, ``answering_models``) that is a GGUF file; None for a run logged before that tag."""
    logged = tags.get(MODELS_TAG)
    if not logged:
        return None
    identities = json.loads(logged)
    shas = {m.id: gguf_sha256(str(identities.get(role, ""))) for role, m in answering.items()}
    return {model_id: sha for model_id, sha in shas.items() if sha}


def evaluated_embedder(tags: Mapping[str, str], embedding: str) -> EmbedderInfo | None:
    """The embedding model that embedded a run's chunks: its identity (the run's ``workbench.models`` tag) and, for a
    local one, the versions of the packages computing its vectors (its ``workbench.versions`` tag); None for a run
    logged before workbench logged its models."""
    logged = json.loads(tags.get(MODELS_TAG) or "{}")
    identity = logged.get("embedding") if isinstance(logged, dict) else None
    if not isinstance(identity, str) or not identity:
        return None
    versions = _logged_versions(tags)
    # those computing a model's vectors here, as far as the tag names them (a hosted model's are its server's: servers
    # pins it); a run logged before the tag named torch, transformers and the model's package pins sentence-transformers
    packages = {p: versions[p] for p in embedding_packages(embedding) if p in versions}
    return EmbedderInfo(identity=identity, packages=packages)


def _logged_versions(tags: Mapping[str, str]) -> dict[str, str]:
    """The installed packages a run logged (its ``workbench.versions`` tag): package -> version; {} when not logged."""
    try:
        versions = json.loads(tags.get("workbench.versions") or "{}")
    except ValueError:
        return {}
    return {str(p): str(v) for p, v in versions.items()} if isinstance(versions, dict) else {}


def evaluated_generator(tags: Mapping[str, str], answering: Mapping[str, ModelSpec]) -> GeneratorInfo | None:
    """The packages that ran a run's answering models (by role, ``answering_models``): a GGUF model's
    llama-cpp-python as its ``workbench.versions`` tag logged it, none for hosted models (their servers run them); None
    for a run logged before workbench logged its models."""
    if not tags.get(MODELS_TAG):
        return None
    logged = _logged_versions(tags)
    running = LLAMA_CPP_PACKAGES if any(runs_locally(m.id) for m in answering.values()) else ()
    return GeneratorInfo(packages={p: logged[p] for p in running if p in logged})


def stale_chunks(run_id: str, tags: Mapping[str, str], chunker: ChunkerSpec, embedding: str) -> str | None:
    """Why a bundle of this run would not answer as evaluated, or None: the run's logged index key is not the one this
    workbench builds for its chunker (an older workbench cut the text into other chunks, ``CHUNKING_REVISION``), so
    the bundle would rebuild other chunks than the ones it was scored on. None when the run logged no index key."""
    logged, now = tags.get("workbench.index_key"), index_key(chunker, embedding)
    # (a run logged before index keys left out where a huggingface: model folder lies logged the folder's path in it)
    if logged is None or logged in (now, index_key(chunker, embedding, portable=False)):
        return None
    return (f"run {run_id} retrieved from chunks an older workbench cut differently (its index {logged}, this workbench's "
            f"{now}), so its bundle would not answer as evaluated")


def _servers(logged: str | None, roles: Mapping[str, str]) -> dict[str, str] | None:
    """Model id -> the server the sweep sent it to, for the hosted models of ``roles`` (role -> model id) whose
    identity in the run's ``workbench.models`` tag names one; None for a run logged before that tag (not known)."""
    if not logged:
        return None
    identities = json.loads(logged)
    found = {model_id: hosted_server(model_id, identities.get(role, "")) for role, model_id in roles.items()}
    return {model_id: server for model_id, server in found.items() if server}


def run_evidence(client: Any, tracking_uri: str, run_id: str, *, dataset_hash: str, digest: str) -> Evidence:
    """A run's metrics and per-question scores (the ``eval_results.json`` table) as gate evidence."""
    from workbench.tracking import RESULTS_TABLE, load_variant_table

    run = get_run(client, run_id)
    try:
        table = load_variant_table(run_id, tracking_uri=tracking_uri)
    except (ValueError, KeyError, TypeError) as exc:  # there, but cut short (a full disk, a sync tool) or overwritten
        raise PromotionError(f"run {run_id}: its per-question table ({RESULTS_TABLE}) cannot be read ({type(exc).__name__}: {exc}) "
                             "— the gates would judge it without its questions, and its bundle could not be exported: run its "
                             "experiment again (answers come from the cache) and promote the new run") from None
    except Exception:  # noqa: BLE001 - no table (e.g. an old run) leaves per-question gates to fail with a message
        table = None
    return Evidence.from_table(run_id, run.data.metrics, table, dataset_hash=dataset_hash, config_hash=digest,
                               lower_is_better=lower_is_better_from_tags(run.data.tags))


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


def _check_target(name: str, alias: str) -> None:
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
    _check_target(name, alias)
    reason = _check_reason(override_reason, "override reason")
    # a VariantResult is promoted from the store it was logged to, not the current folder's (a kernel that swept
    # into wb.settings(tracking_uri=...) and promoted without it was told its run was not found, in a new empty store)
    cfg = settings or default_settings(tracking_uri=run.tracking_uri if isinstance(run, VariantResult) else None)
    with quiet_downloads(), registry_changes_serialised(cfg.tracking_uri):  # the holder read and the alias moved as one step
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

    existing = find_version(client, name, (digest, *cand.config.earlier_hashes()))
    alias_history(client, name, alias)  # one that cannot be read is refused before anything is written, not after the alias moved
    if alias == "production" and need_staging and (existing is None or audit_tag("staging") not in existing.tags):
        raise PromotionError(
            f"config {digest[:12]} (run {run_id}) has not been promoted to staging — first run: workbench promote {run_id} "
            f"--name {name} --alias staging   (or set promotion.require_staging: false, or pass --no-require-staging)"
        )
    if alias == "production" and need_staging and existing is not None:
        staged = alias_holder(client, name, "staging")
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
    _check_target(name, alias)
    reason = _check_reason(reason, "rollback reason")
    cfg = settings or default_settings()
    with quiet_downloads(), registry_changes_serialised(cfg.tracking_uri):  # another promotion or rollback cannot move the alias meanwhile
        return _rollback(name, alias, reason, cfg)


def _rollback(name: str, alias: Environment, reason: str | None, cfg: Settings) -> Rollback:
    client = client_for(cfg.tracking_uri)
    current = alias_holder(client, name, alias)
    if current is None:
        raise PromotionError(f"'{name}' has no '{alias}' alias in {shown_uri(cfg.tracking_uri)} — nothing to roll back")
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
