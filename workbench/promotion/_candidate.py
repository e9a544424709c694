"""Read a variant run back from MLflow as a deployable candidate: its configuration (variant.yaml, its tags, the sweep's
experiment.yaml), the models, packages and chunks it was evaluated with, and its metrics and per-question scores as
gate evidence. Promotion and export read runs through here; nothing here writes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from workbench.errors import WorkbenchError
from workbench import grid
from workbench.grid import index_key
from workbench.models import LLAMA_CPP_PACKAGES, embedding_packages, hosted_server, runs_locally
from workbench.promotion._config import (
    CORPUS_FILE,
    BundleConfig,
    ChunksInfo,
    CorpusInfo,
    DatasetInfo,
    EmbedderInfo,
    GeneratorInfo,
    PromptRef,
    SourceInfo,
    answering_models,
    config_hash,
    evaluated_prices,
    model_contents,
    gguf_sha256,
    installed_workbench,
)
from workbench.promotion._bundle import documents_corpus
from workbench.promotion._errors import BundleError, PromotionError
from workbench.promotion._gates import Evidence
from workbench.prompts import PromptTemplate
from workbench.spec import ChunkerSpec, ModelSpec, PriceSpec, PromotionSpec, PromptSpec, RetrievalSpec, RouterSpec
from workbench.tracking import (
    CHUNKS_SHA256_TAG,
    CHUNKS_TAG,
    CORPUS_ARTIFACT,
    CORPUS_RUN_TAG,
    MODELS_TAG,
    artifact_bytes,
    early_stop_from_tags,
    lower_is_better_from_tags,
    missing_artifacts,
    require_active,
    shown_uri,
)


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
