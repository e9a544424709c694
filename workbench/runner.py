"""Run an experiment: build each shared index once, retrieve, run every variant through an executor, log to MLflow.

One engine for every kind of sweep: a variant with a prompt and a model retrieves and generates; a retrieval-only
variant (an experiment without ``models:``, or ``run(..., generate=False)``) retrieves and is scored on the retrieval
metrics. Both use the same indexes, the same tracker and the same leaderboard.

The caller's process owns the indexes and the tracker (one writer); generation and scoring run where the
experiment's ``execution`` section says (a worker process per variant by default, see ``workbench.execution``).
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import inspect
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from workbench.cache import CachedEmbedder, CachedGenerator, CacheReader, CacheStore, DiskCacheStore, embedding_key, generation_key
from workbench.comparison import comparison_key, early_stops, sweep_comparison
from workbench.config import LARGE_GRID, Settings, settings as default_settings
from workbench.datasets import Corpus, Dataset, check_limit, document_id, left_out_fix, load_corpus, load_dataset
from workbench.errors import DataError, SpecError, Terminated, WorkbenchError
from workbench.execution import (
    ModelResolver,
    RacingExecutor,
    VariantJob,
    check_can_start_workers,
    executor_for,
    failed_result,
    generation_params,
    question_workers,
)
from workbench.grid import CHARS_PER_TOKEN, SweepPlan, Variant, VariantPlan, embedded_index_key, expand_grid, plan_grid
from workbench.metrics import RETRIEVAL_METRICS, scorer_entries
from workbench.models import MINILM_ID, Embedder, Generator, embedder_input_tokens, llama_threads, runs_locally
from workbench.pipeline import (
    ChromaIndexStore,
    ChromaServerIndexStore,
    Chunk,
    ChunkStats,
    Hit,
    IndexStore,
    QuestionRecord,
    Retriever,
    Router,
    VectorIndex,
    check_index_store_for,
    chunk_corpus,
    chunk_stats,
    count_truncated,
    embed_chunks_reusing,
    embed_within,
    existing_index_store,
    format_context,
    index_store_for,
    retrieve_question,
    route_answer,
)
from workbench.prompts import PromptTemplate
from workbench.results import SweepResult, VariantResult
from workbench.sandbox import SweepSandboxes
from workbench.scoring import JUDGED_METRICS, NON_LLM_METRICS, Judge, ScoreFn, ScorerEnv, build_scorers, code_digest
from workbench.spec import ExperimentSpec, JudgeSpec, ModelSpec, RouterSpec, load_experiment
from workbench.tracking import MlflowTracker, SweepComparison, SweepHandle, Tracker, TrackingUnavailable

__all__ = ["ProgressEvent", "load_inputs", "load_spec_corpus", "load_spec_dataset", "plan_sweep", "reuse_key", "run"]

EventKind = Literal[
    "sweep_waiting", "sweep_started", "index_started", "index_built", "variant_started", "variant_reused", "question_done", "question_scored",
    "question_logged", "variant_done", "sweep_done",
]


@dataclass(frozen=True)
class ProgressEvent:
    """What the runner reports as it goes (widgets and the CLI render these; the runner prints nothing itself).

    ``done``/``total`` count the indexes the sweep needs for ``index_started`` (none for variants it reuses), questions of the current variant for ``question_done``
    (generation), ``question_scored`` (scoring) and ``question_logged`` (its traces stored in MLflow, 50 at a time:
    minutes for thousands of questions), and variants for ``variant_started``/``variant_reused``/
    ``variant_done``. ``variant_reused`` (its ``message`` is the run reused) comes instead of ``variant_started`` for a
    variant whose finished run is reused rather than recomputed. ``sweep_waiting`` (first, when at all) says that the
    sweep waits for another sweep of the same process to end.
    """

    kind: EventKind
    done: int = 0
    total: int = 0
    variant: Variant | None = None
    result: VariantResult | None = None
    message: str = ""


def load_spec_dataset(spec: ExperimentSpec, limit: int | None = None) -> Dataset:
    """The spec's dataset, with ``limit`` (default: the spec's) and its length caps on questions and references.

    Raises:
        SpecError: the spec names no dataset (it is given to ``run`` in memory).
    """
    ref = spec.dataset
    if ref is None:
        raise SpecError(_no_data(spec, "dataset", "add dataset: {path: ...}", "the cases: wb.run(exp, dataset=df)"))
    return load_dataset(
        spec.resolve(ref.path), limit=ref.limit if limit is None else limit, max_question_chars=ref.max_question_chars, max_reference_chars=ref.max_reference_chars
    )


def load_spec_corpus(spec: ExperimentSpec) -> Corpus:
    """The spec's corpus: its built-in one, or its folder (relative to the experiment file) read with its glob.

    Raises:
        SpecError: the spec names no corpus (it is given to ``run`` in memory).
    """
    if spec.corpus is None:
        raise SpecError(_no_data(spec, "corpus", "add corpus: {path: ...} or {builtin: python-reference}", "the documents: wb.run(exp, corpus=docs)"))
    return load_corpus(spec.corpus.builtin or spec.resolve(spec.corpus.path or ""), glob=spec.corpus.glob)


def _no_data(spec: ExperimentSpec, field: str, add: str, given: str) -> str:
    """Why a spec without a dataset or corpus cannot run (pure): its file's missing field, as any other would be named."""
    if spec.source_file is not None:
        return f"{spec.source_file}:1: {field}: required field is missing — {add}"
    return f"experiment '{spec.name}' names no {field} — {add}, or pass {given}"


def _in_memory_spec(spec: ExperimentSpec, dataset: Any = None, corpus: Any = None) -> ExperimentSpec:
    """The spec a sweep over in-memory data runs and logs (pure): without the file dataset or corpus it replaces, so
    its logged experiment.yaml never names a file the sweep did not read."""
    return spec.model_copy(update={k: None for k, v in (("dataset", dataset), ("corpus", corpus)) if v is not None})


def _given_dataset(spec: ExperimentSpec, value: Any, limit: int | None) -> Dataset:
    """A dataset handed to ``run``: a ``Dataset`` or a DataFrame (checked row by row, like a file). It replaces the
    spec's dataset file, not the spec's ``limit`` and length caps, which apply to it as they would to the file: an
    experiment saying ``limit: 8`` evaluated every row of the frame instead (hosted models billed for each)."""
    ref = spec.dataset
    limit = ref.limit if limit is None and ref is not None else limit
    if isinstance(value, Dataset):
        return value.head(check_limit(limit))
    if ref is None:
        return load_dataset(value, limit=limit)
    return load_dataset(value, limit=limit, max_question_chars=ref.max_question_chars, max_reference_chars=ref.max_reference_chars)


def load_inputs(spec: ExperimentSpec, limit: int | None = None, *, dataset: Any = None, corpus: Any = None) -> tuple[Dataset, Corpus]:
    """Load the spec's dataset and corpus, and check that every labelled source id exists in the corpus.

    Args:
        spec: the experiment.
        limit: evaluate only the first ``limit`` cases (default: the spec's).
        dataset: cases in memory instead of the spec's: a ``Dataset`` or a DataFrame.
        corpus: documents in memory instead of the spec's: a ``Corpus``, or anything ``load_corpus`` reads in memory.
    """
    dataset = load_spec_dataset(spec, limit) if dataset is None else _given_dataset(spec, dataset, limit)
    corpus = load_spec_corpus(spec) if corpus is None else corpus if isinstance(corpus, Corpus) else load_corpus(corpus)
    ids = corpus.ids
    missing = [(i, case, s) for i, case in enumerate(dataset.cases) for s in case.source_ids if s not in ids]
    if missing:
        i, case, first = missing[0]
        left_out = _file_left_out(spec, first)
        fix = left_out_fix(spec.resolve(spec.corpus.path), spec.corpus.glob, left_out) if left_out and spec.corpus and spec.corpus.path else _source_id_fix(first, corpus)
        raise DataError(
            f"{dataset.where(i)}: case '{case.id}': field 'source_ids': '{first}' is not a document of corpus "
            f"'{corpus.name}' — {fix}{_other_missing_ids(first, [s for _, _, s in missing])}"
        )
    return dataset, corpus


def _other_missing_ids(first: str, missing: list[str]) -> str:
    """The end of the line refusing a dataset's first source id the corpus lacks: the other ids it lacks, each counted
    once and a few of them shown (pure), so a dataset labelled in another scheme (file names, another corpus) is seen as
    such in one run. An id many questions label is one id to fix, not one per question."""
    others = [s for s in dict.fromkeys(missing) if s != first]
    if not others:
        return ""
    shown = ", ".join(f"'{s}'" for s in others[:3])
    return f" (and {len(others)} more source id{'' if len(others) == 1 else 's'} the corpus lacks: {shown}{', ...' if len(others) > 3 else ''})"


def _file_left_out(spec: ExperimentSpec, doc_id: str) -> str | None:
    """The file of the spec's corpus folder (relative to it) whose document id is ``doc_id`` (one the corpus glob leaves
    out, as the corpus has no such document), or None. A close spelling of another document is then not what was meant."""
    if spec.corpus is None or spec.corpus.path is None:
        return None
    folder = spec.resolve(spec.corpus.path)
    files = (p.relative_to(folder) for p in sorted(folder.rglob("*")) if p.is_file())
    return next((f.as_posix() for f in files if document_id(f.with_suffix("").as_posix()) == doc_id), None)


def _source_id_fix(name: str, corpus: Corpus) -> str:
    """What to write instead of a source id the corpus does not have (pure): the document it most likely names (the
    id without its file suffix, with '/' for '\\', without the folders above the corpus or with those inside it, in
    another case, the document whose metadata holds it, or a close spelling), or several ids joined with commas, or
    else the general rule."""
    ids = corpus.ids
    parts = [p.strip() for p in name.split(",")]
    if len(parts) > 1 and all(p in ids for p in parts):
        return f"separate several ids with '|' ({'|'.join(parts)}) or give a JSON list, not commas"
    path = PurePosixPath(name.strip().replace("\\", "/"))
    lowered = {i.lower(): i for i in ids}
    # the longest tail first: 'datasets/handbook/benefits.md', written from the project's root, is 'benefits' of the
    # corpus datasets/handbook
    tails = [PurePosixPath(*path.parts[i:]) for i in range(len(path.parts)) if path.parts[i] != "/"]
    for candidate in dict.fromkeys(c for tail in tails for c in (tail.as_posix(), tail.with_suffix("").as_posix() if tail.suffix else tail.as_posix())):
        found = candidate if candidate in ids else lowered.get(candidate.lower())
        if found:
            why = " (a file's document id is its path in the corpus folder, without the suffix)" if candidate != path.as_posix() else ""
            return f"did you mean '{found}'?{why}"
    # written inside a subfolder of the corpus: 'leave' of a corpus at the project's root is 'docs/leave'
    inside = sorted(i for i in ids if i.endswith("/" + path.with_suffix("").as_posix()))
    if len(inside) == 1:
        return f"did you mean '{inside[0]}'? (a file's document id is its path in the corpus folder, without the suffix)"
    held = _metadata_fix(name, corpus)
    if held is not None:
        return held
    number = name.strip()
    padded = sorted(i for i in ids if i.isdecimal() and i != number and int(i) == int(number)) if number.isdecimal() else []
    if len(padded) == 1:  # a spreadsheet read '007' as the number 7
        return f"did you mean '{padded[0]}'? (a spreadsheet drops a number's leading zeros: format the column as text)"
    close = difflib.get_close_matches(name, list(ids), n=1, cutoff=0.8)
    if close:
        return f"did you mean '{close[0]}'?"
    return "use the document ids of that corpus"


def _metadata_fix(name: str, corpus: Corpus) -> str | None:
    """The document whose metadata holds ``name`` as a value, as the fix of a source id naming it so (pure), or None:
    LangChain's loaders keep a document's file in ``metadata['source']`` and give it no id, so handed to ``wb.run`` in
    memory such documents are ``doc-1``, ``doc-2``... by position, and a dataset labelled with their files matched none."""
    wanted = name.strip()
    for doc in corpus.documents:
        key = next((k for k, v in doc.metadata.items() if str(v).strip() == wanted), None)  # a Document made by hand may hold numbers
        if key is not None:
            return (f"did you mean '{doc.id}'? (its metadata '{key}' is '{wanted}': a document given without an id is named by "
                    "its position) or give each document its id, e.g. LangChain's Document(id=...)")
    return None


def _scorer_code(scorers: Mapping[str, ScoreFn]) -> dict[str, list[str]]:
    """The digests of the scorers' code, by scorer name (computed once per sweep: every variant shares its scorers)."""
    # a scorer fixed in its notebook cell (or in a new workbench) scores differently: the code of the function that
    # scores, and of the factory of a scorer registered with @wb.scorer (it may return a helper of another cell)
    code = {name: [code_digest(fn)] for name, fn in scorers.items()}
    for name, entry in scorer_entries().items():
        if name in code and callable(entry.factory):
            code[name].insert(0, code_digest(entry.factory))
    return code


def _scorer_fingerprint(spec: ExperimentSpec, variant: Variant, scorers: Mapping[str, ScoreFn], code: Mapping[str, list[str]],
                        judge: Judge | None, judge_code: str | None = None) -> dict[str, Any]:
    """What the scores of a variant depend on besides its answers: the scorers (``code``: their ``_scorer_code``), the
    judge (``judge_code``: the digest of the code that reads its replies), the prices."""
    out: dict[str, Any] = {"scorers": sorted(scorers), "scorer_code": {name: list(digests) for name, digests in code.items()}}
    if set(scorers) & {*JUDGED_METRICS, *NON_LLM_METRICS}:
        # ragas scores them (its prompts, parsing, n-gram code), and the scorer code digests stop at installed libraries:
        # a ragas installed over the pinned one scores them again; the keys of runs scored without ragas stay as they were
        out["ragas"] = _version("ragas")
    if variant.model is None:
        return out
    if judge is not None:
        # a GGUF judge as its experiment file writes it: two clones of the project reuse each other's runs
        out["judge"] = spec.as_written(spec.judge.model_dump(mode="json")) if spec.judge is not None else judge.model_id
        # and the code that reads its replies (which JSON it accepts), which the scorers reach through env.judge
        out["judge_code"] = judge_code
    router = variant.router
    answering = (("price", variant.model.id),) if router is None else (("price_cheap", router.cheap.id), ("price_strong", router.strong.id))
    for role, model_id in (*answering, ("judge_price", spec.judge.id if spec.judge else None)):
        price = spec.price(model_id) if model_id else None
        # a cached-input price only when there is one, so the runs of a model priced without it are reused as before
        cached = [] if price is None or price.cached_input_per_m is None else [price.cached_input_per_m]
        out[role] = [price.input_per_m, price.output_per_m, *cached] if price is not None else None
    return out


@dataclass(frozen=True)
class _Scoring:
    """A sweep's judge and scorers: those of the variants that answer, and of those that only retrieve."""

    judge: Judge | None
    answer_scorers: Mapping[str, ScoreFn]
    retrieval_scorers: Mapping[str, ScoreFn]

    def scorers_of(self, variant: Variant) -> Mapping[str, ScoreFn]:
        return self.answer_scorers if variant.generates else self.retrieval_scorers


def _sweep_scoring(spec: ExperimentSpec, resolver: ModelResolver, judge: Judge | None, *, generating: bool) -> _Scoring:
    """The judge (``judge``, else the spec's) and the scorers of a sweep of ``spec``; models load when first called."""
    the_judge = (judge or resolver.judge(spec)) if generating else None
    answer_scorers: Mapping[str, ScoreFn] = {}
    if generating:
        env = ScorerEnv(embedder=resolver.embedder(MINILM_ID), judge=the_judge, judge_repeats=spec.judge.n if spec.judge else 1)
        answer_scorers = build_scorers(spec.scorers, env)
    return _Scoring(the_judge, answer_scorers, build_scorers(_retrieval_scorer_names(spec.scorers), ScorerEnv()))


def _reuse_keys(
    spec: ExperimentSpec, variants: Sequence[Variant], resolver: ModelResolver, scoring: _Scoring, *, given_judge: bool, dataset: Dataset,
    corpus: Corpus,
) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, WorkbenchError]]:
    """Variant id -> its reuse key (not for a variant always called: ``_always_called``); variant id -> the identities
    of its models, logged with its run; variant id -> why it cannot run (a provider package or API key missing: known
    before anything runs)."""
    judge_spec = None if given_judge else spec.judge
    code_of: dict[bool, dict[str, list[str]]] = {}  # the scorers' digests, once per sweep (not once per variant)
    judge_code = code_digest(type(scoring.judge).ask) if scoring.judge is not None else None
    keys: dict[str, str] = {}
    models_of: dict[str, dict[str, str]] = {}
    unservable: dict[str, WorkbenchError] = {}
    for v in variants:
        try:
            identities = resolver.identities(v, judge_spec)
        except WorkbenchError as exc:
            unservable[v.id] = exc
            continue
        models_of[v.id] = identities
        if not _always_called(v, judge_spec):
            if v.generates not in code_of:
                code_of[v.generates] = _scorer_code(scoring.scorers_of(v))
            keys[v.id] = reuse_key(v, dataset=dataset, corpus=corpus, models=identities,
                                   scoring=_scorer_fingerprint(spec, v, scoring.scorers_of(v), code_of[v.generates], scoring.judge, judge_code),
                                   seed=spec.seed)
    return keys, models_of, unservable


def _always_called(variant: Variant, judge: JudgeSpec | None) -> bool:
    """Whether a variant calls a model marked ``cache: false`` (one of its answering models, or the judge that scores
    its answers): such a variant is computed in every sweep, never reused from a finished run."""
    uncached_judge = judge is not None and not judge.cache and variant.generates
    return uncached_judge or any(not m.cache for m in variant.answering_models)


def reuse_key(variant: Variant, *, dataset: Dataset, corpus: Corpus, models: Mapping[str, str], scoring: Mapping[str, Any], seed: int) -> str:
    """The content address of a variant's finished run (pure): the same key means the same result.

    Args:
        variant: the variant (its id covers prompt, model and decoding parameters, chunker and retrieval setting; its
            index key also the revision of the chunking code, so a run retrieved from chunks an older workbench cut
            differently is not reused).
        dataset: the questions (their hash).
        corpus: the documents (their hash).
        models: the identities of the models that make its results (answering model, embedding model).
        scoring: the scorer set, judge and prices.
        seed: the sweep's seed.
    """
    payload = {
        "variant": variant.id, "index": variant.index_key, "dataset": dataset.hash, "corpus": corpus.hash, "models": dict(models), "scoring": dict(scoring),
        "seed": seed, "workbench": _version(), **_turn_stops(variant),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _turn_stops(variant: Variant) -> dict[str, list[str]]:
    """Where a completion model's answers end when they run on into a next turn of the variant's template (pure; empty
    when the template has no such stop, so the keys of the runs it does not change stay as they were): runs answered
    before these stops were applied ran on to max_tokens and are not reused."""
    completion = any(m.resolved_kind == "completion" for m in variant.answering_models)
    if variant.prompt is None or not completion:
        return {}
    stops = PromptTemplate(variant.prompt.name, variant.prompt.template or "", variant.prompt.system).turn_stops
    return {"turn_stops": list(stops)} if stops else {}


def _version(package: str = "workbench") -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def plan_sweep(
    experiment: ExperimentSpec | str | Path,
    *,
    settings: Settings | None = None,
    limit: int | None = None,
    models: Mapping[str, Generator | Embedder] | None = None,
    judge: Judge | None = None,
    generate: bool = True,
    fresh: bool = False,
    dataset: Dataset | Any = None,
    corpus: Corpus | Any = None,
) -> SweepPlan:
    """What ``run`` would do with the same arguments, found without running or computing anything (``workbench run
    --dry-run``): the variants it would reuse and from which run, the indexes it would build, the answers the cache
    holds, and the model calls left with their estimated cost (the judge's calls aside).

    The tracking store, the answer cache and the index store are read, never made, locked or written: a dry run in a
    fresh folder leaves it as it was. A variant's cached answers are counted when its index is built and its questions
    were embedded before (its prompts are then rendered with what it would retrieve); else all its calls are counted.
    The arguments are ``run``'s (``dataset`` and ``corpus`` in memory too).

    Raises:
        What ``run`` raises before it starts: a bad spec, dataset or corpus; an unusable tracking store; every variant
        unservable (a provider package or API key missing).
    """
    spec = _in_memory_spec(experiment if isinstance(experiment, ExperimentSpec) else load_experiment(experiment), dataset, corpus)
    cfg = settings or default_settings()
    dataset, corpus = load_inputs(spec, limit, dataset=dataset, corpus=corpus)
    variants = expand_grid(spec, generate=generate)
    _check_can_start(spec, variants, models, judge, cfg, own_index_store=True)
    cache = CacheReader(cfg.cache_dir)
    resolver = ModelResolver(models, cache, read=not fresh, retries=spec.execution.retries)
    scoring = _sweep_scoring(spec, resolver, judge, generating=any(v.generates for v in variants))
    keys, _, unservable = _reuse_keys(spec, variants, resolver, scoring, given_judge=judge is not None, dataset=dataset, corpus=corpus)
    if unservable and len(unservable) == len(variants) and spec.execution.backend != "ray":
        raise next(iter(unservable.values()))  # as run says it, before anything
    store = None if fresh or not keys else MlflowTracker.existing(cfg.tracking_uri)
    reusable = store.reusable_before(spec.name, dataset.hash, corpus.hash, keys) if store is not None else {}
    todo = [v for v in variants if v.id not in reusable and v.id not in unservable]
    indexes = existing_index_store(spec, cfg) if todo else None
    try:
        planned = {p.variant.id: p for p in _planned_groups(spec, todo, resolver, cache, indexes, dataset, corpus, fresh=fresh)}
    finally:
        if indexes is not None:
            indexes.close()
    built = {v.index_key for v in todo if planned[v.id].index_built}
    plans = tuple(
        VariantPlan(v, len(dataset), reused_from=reusable[v.id]) if v.id in reusable
        else VariantPlan(v, len(dataset), unservable=f"{type(unservable[v.id]).__name__}: {unservable[v.id]}") if v.id in unservable
        else planned[v.id]
        for v in variants
    )
    return SweepPlan(plan_grid(spec, variants, len(dataset), len(corpus.documents)), plans, indexes_built=len(built),
                     indexes_needed=len({v.index_key for v in todo}))


def _planned_groups(
    spec: ExperimentSpec, todo: Sequence[Variant], resolver: ModelResolver, cache: CacheReader, indexes: IndexStore | None,
    dataset: Dataset, corpus: Corpus, *, fresh: bool,
) -> Iterator[VariantPlan]:
    """The plans of the variants a sweep would compute, an index at a time: each looked up (read only) and, when built
    and its questions' vectors are in the cache, searched for every retrieval setting, so each variant's prompts are
    rendered as its sweep would render them and its answers looked up in the cache."""
    groups: dict[str, list[Variant]] = {}
    for v in todo:
        groups.setdefault(v.index_key, []).append(v)
    questions = [c.question for c in dataset.cases]
    for group in groups.values():
        chunker, embedding = group[0].chunker, group[0].retrieval.embedding
        embedder = resolver.embedder(embedding, cache=False)
        index = indexes.open(embedded_index_key(chunker, embedding, corpus.hash, embedder.identity)) if indexes is not None else None
        # the prompts are rendered from what the questions find (their vectors in the cache), --fresh or not: it recomputes
        # the answers, which are then all to pay for
        queries = resolver.embedder(embedding, cache=False, queries=True)
        embedded = len(cache.cached("embedding", [embedding_key(queries.identity, q) for q in questions])) == len(set(questions))
        retrievals: dict[str, list[tuple[Hit, ...]]] = {}
        for v in group:
            hits = None
            if index is not None and embedded and v.generates:
                setting = v.retrieval.model_dump_json()
                if setting not in retrievals:
                    retriever = Retriever(index=index, embedder=CachedEmbedder(queries, cache, identity=queries.identity), spec=v.retrieval)
                    retrievals[setting] = [tuple(retriever.retrieve(q)) for q in questions]
                hits = retrievals[setting]
            yield _variant_plan(spec, v, dataset, hits, cache, lambda m: resolver.generator(m.id, m.resolved_kind, cache=False),
                                index_built=index is not None, fresh=fresh, embedder=embedder)


def _variant_plan(
    spec: ExperimentSpec, variant: Variant, dataset: Dataset, hits: list[tuple[Hit, ...]] | None, cache: CacheReader,
    served: Callable[[ModelSpec], Generator], *, index_built: bool, fresh: bool, embedder: Embedder | None = None,
) -> VariantPlan:
    """A computed variant's plan: for each answering model (``served`` gives the generator serving it, uncached: its
    identity and kind key its answers), its answers in the cache (when ``hits``, what it would retrieve, render its
    prompts) and the estimated cost of the others. A router's questions are routed as its sweep would route them, from
    the cache (``_routed_answers``): each model counts only the questions it would answer, or might."""
    plan = VariantPlan(variant, len(dataset), index_built=index_built, budget_usd=spec.limits.max_cost_usd, budget_tokens=spec.limits.max_tokens)
    if variant.prompt is None:
        return plan
    template = PromptTemplate(variant.prompt.name, variant.prompt.template or "", variant.prompt.system)
    prompts = [template.render(question=c.question, context=format_context(h)) for c, h in zip(dataset.cases, hits)] if hits is not None else None
    cached: int | None = 0 if hits is not None else None
    cost: float | None = 0.0
    total: float | None = 0.0
    tokens = 0
    least: tuple[float | None, int] | None = None  # a router's cheap answers alone: what it costs escalating nothing
    routed = (_routed_answers(spec, variant.router, template, dataset, hits, cache, served, embedder)
              if variant.router is not None and hits is not None and embedder is not None and not fresh else None)
    answers = 0
    for j, m in enumerate(variant.answering_models):
        generator = served(m)
        asked = routed[j] if routed is not None else [True] * len(dataset)
        answers += sum(asked)
        hit = [False] * len(dataset)
        if prompts is not None and m.cache and not fresh:
            keys = [generation_key(generator.identity, generator.kind, p, generation_params(m, spec)) for p in prompts]
            found = cache.cached("generation", keys)
            hit = [k in found for k in keys]
        if cached is not None:
            cached += sum(h for h, a in zip(hit, asked) if a)
        lengths = ([len(p.text) if generator.kind == "completion" else sum(len(c) for _, c in p.messages) for p in prompts]
                   if prompts is not None else [_prompt_chars(variant, c.question) for c in dataset.cases])
        lengths = [n for n, a in zip(lengths, asked) if a]
        hit = [h for h, a in zip(hit, asked) if a]
        price = spec.price(m.id)
        each = [price.cost(math.ceil(n / CHARS_PER_TOKEN), m.params.max_tokens) if price is not None else None for n in lengths]
        tokens += sum(math.ceil(n / CHARS_PER_TOKEN) + m.params.max_tokens for n in lengths)
        missed = [c for c, h in zip(each, hit) if not h]
        cost = None if cost is None or any(c is None for c in missed) else cost + sum(c for c in missed if c is not None)
        total = None if total is None or any(c is None for c in each) else total + sum(c for c in each if c is not None)
        if variant.router is not None and m is variant.router.cheap:
            least = (total, tokens)
    return replace(plan, answers=answers, cached=cached, cost_usd=cost, total_cost_usd=total,
                   tokens=tokens, least_cost_usd=least[0] if least else None, least_tokens=least[1] if least else None)


class _CacheOnly:
    """A model a dry run reads from the cache only (behind ``CachedGenerator``/``CachedEmbedder`` over the cache): a call
    that would reach the model raises instead, as a failed call (a dry run computes and pays for nothing)."""

    def __init__(self, inner: Generator | Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.identity = inner.identity

    @property
    def kind(self) -> Any:
        return self.inner.kind  # type: ignore[union-attr]

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        raise LookupError("not in the cache")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise LookupError("not in the cache")


def _routed_answers(
    spec: ExperimentSpec, router: RouterSpec, template: PromptTemplate, dataset: Dataset, hits: list[tuple[Hit, ...]],
    cache: CacheReader, served: Callable[[ModelSpec], Generator], embedder: Embedder,
) -> tuple[list[bool], list[bool]]:
    """Which questions a router's cheap and its strong model would answer (from the cache or not), found by routing each
    as its sweep would, with only what the cache holds: the cheap model is not asked when retrieval escalates; the
    strong model answers what a cached cheap answer escalates, and might answer any question whose cheap answer, or its
    grounding's embedding, is not cached yet (a bound)."""
    def cache_only(m: ModelSpec) -> Generator:
        raw = served(m)  # a model with cache: false answers anew in the sweep, so what the cache holds decides nothing
        return CachedGenerator(_CacheOnly(raw), cache, identity=raw.identity) if m.cache else _CacheOnly(raw)  # type: ignore[arg-type,return-value]

    replay = Router.from_spec(router, generator=cache_only, params=lambda m: generation_params(m, spec), price=spec.price,
                              embedder=CachedEmbedder(_CacheOnly(embedder), cache, identity=embedder.identity))  # type: ignore[arg-type]
    cheap, strong = [], []
    for case, found in zip(dataset.cases, hits):
        record = route_answer(QuestionRecord(case=case, hits=found, prompt="", generation=None, started_ns=0, retrieved_ns=0, ended_ns=0),
                              template=template, router=replay)
        first = record.calls[0]
        undecided = (first.role == "cheap" and first.generation is None) or (
            record.escalation is not None and record.escalation.signals.grounding_error is not None)
        cheap.append(first.role == "cheap")
        strong.append(record.escalated or undecided)
    return cheap, strong


def _prompt_chars(variant: Variant, question: str) -> int:
    """The length of a variant's prompt for ``question`` before anything is retrieved (pure): its template and system
    message, the question and ``k`` chunks as long as its chunker cuts them at most."""
    chunk = variant.chunker.size * (CHARS_PER_TOKEN if variant.chunker.strategy == "token" else 1)
    prompt = variant.prompt
    return (len(prompt.template or "") + len(prompt.system or "") if prompt is not None else 0) + len(question) + variant.retrieval.k * chunk


def run(
    experiment: ExperimentSpec | str | Path,
    *,
    tracker: Tracker | None = None,
    models: Mapping[str, Generator | Embedder] | None = None,
    index_store: IndexStore | None = None,
    settings: Settings | None = None,
    limit: int | None = None,
    progress: bool = True,
    stop: threading.Event | None = None,
    on_event: Callable[[ProgressEvent], None] | None = None,
    judge: Judge | None = None,
    generate: bool = True,
    fresh: bool = False,
    cache: CacheStore | None = None,
    dataset: Dataset | Any = None,
    corpus: Corpus | Any = None,
    allow_large_grid: bool = False,
) -> SweepResult:
    """Run every variant of an experiment and log it (one parent run, one child run per variant).

    Nothing is computed twice: a variant whose finished run is already in the store (same variant, dataset, corpus,
    models, scorers, seed and workbench version) is reused, not recomputed; model answers, judge replies and
    embeddings come from the cache when the same inputs were computed before (in any sweep, or by a sweep that was
    killed), so re-running an interrupted sweep finishes its work. Sweeps left RUNNING by a process of this machine
    that died are ended as KILLED first.

    Args:
        experiment: a spec, or the path of an experiment YAML file.
        tracker: where runs go (default: MLflow at ``settings.tracking_uri``).
        models: model strings mapped to ready generators/embedders, overriding resolution (for tests and notebooks).
        index_store: where indexes are built (default: persistent Chroma under ``settings.index_dir``).
        settings: where things are kept (default: ``workbench.settings()``).
        limit: evaluate only the first ``limit`` cases.
        progress: show tqdm progress bars.
        stop: set this event to stop after the current question (or the current batch of an index build, which is
            then not kept); finished variants stay logged and the sweep ends KILLED (run it again to finish it).
        on_event: called with each ``ProgressEvent``.
        judge: a ready judge used instead of the spec's ``judge`` model (tests pass a ScriptedJudge); it turns the
            LLM-judged scorers on like a ``judge:`` section does.
        generate: False for a retrieval-only sweep: chunkers x retrieval settings, scored on the retrieval metrics
            (the spec's prompts, models and judge are not used). An experiment without ``models:`` is always one.
        fresh: recompute everything: reuse no finished run and read no cached answer (new answers are still cached).
        cache: the cache store (default: ``DiskCacheStore(settings.cache_dir)``).
        dataset: the cases in memory, in place of the spec's ``dataset``: a ``Dataset`` or a pandas DataFrame (columns
            as in a dataset file). Its content hash identifies it, as a file's does.
        corpus: the documents in memory, in place of the spec's ``corpus``: a ``Corpus``, a list of strings, dicts
            (``text``, ``id``), LangChain Documents, or a DataFrame with a ``text`` column (see ``load_corpus``).
        allow_large_grid: run a grid of more than ``LARGE_GRID`` (1,000) variants (refused without it, as ``workbench
            run`` refuses one without ``--yes``: each variant is an MLflow run, with a trace per question).

    Returns:
        The ``SweepResult``; failed variants are in it (and logged as FAILED runs), not raised.

    Raises:
        Whatever stops the sweep itself (not a variant): the parent run is then ended FAILED with the error, or KILLED
        for KeyboardInterrupt, before it propagates.
        WorkbenchError: ``stop`` was set while the sweep waited for another sweep of this process (nothing logged);
            or an argument of the wrong type (a URI as ``tracker``, a folder as ``index_store``, ``fresh="false"``),
            named with what to pass, before anything is logged.
    """
    _check_arguments(models, on_event, settings=settings, tracker=tracker, index_store=index_store, cache=cache, judge=judge, stop=stop,
                     progress=progress, generate=generate, fresh=fresh)
    spec = _in_memory_spec(experiment if isinstance(experiment, ExperimentSpec) else load_experiment(experiment), dataset, corpus)
    cfg = settings or default_settings()
    dataset, corpus = load_inputs(spec, limit, dataset=dataset, corpus=corpus)
    variants = expand_grid(spec, generate=generate)
    if len(variants) > LARGE_GRID and not allow_large_grid:  # a typo'd range or one axis too many: months of calls
        raise WorkbenchError(f"{spec.name}: {plan_grid(spec, variants, len(dataset)).refusal('cut an axis, or pass allow_large_grid=True to run them all')}")
    generating = any(v.generates for v in variants)
    # everything that can be refused is checked before the first MLflow run exists, and the store before the cache
    _check_can_start(spec, variants, models, judge, cfg, own_index_store=index_store is None)
    cap_mb = cfg.cache_size_mb
    track = tracker or MlflowTracker(cfg.tracking_uri, artifact_root=cfg.artifact_root)  # an unusable store: one line, now
    store = cache if cache is not None else DiskCacheStore(cfg.cache_dir, size_limit_mb=cap_mb)
    resolver = ModelResolver(models, store, read=not fresh, retries=spec.execution.retries)
    indexes = index_store  # the default store is opened when a variant needs an index (a reused one needs none)
    own: ChromaIndexStore | ChromaServerIndexStore | None = None  # that default store: closed when the sweep ends
    scoring = _sweep_scoring(spec, resolver, judge, generating=generating)
    answer_scorers, scorers_of = scoring.answer_scorers, scoring.scorers_of
    keys, models_of, unservable = _reuse_keys(spec, variants, resolver, scoring, given_judge=judge is not None, dataset=dataset, corpus=corpus)
    if spec.execution.backend == "ray":
        unservable = {}  # Ray's workers bring their own packages and provider keys: the tasks find out
    elif unservable and len(unservable) == len(variants):
        raise next(iter(unservable.values()))  # nothing could run: one line, before any run or index exists
    with _one_sweep_at_a_time(spec.name, progress=progress, on_event=on_event, stop=stop), _terminate_interrupts() as terminated:
        track.close_abandoned(spec)
        sweep = track.start_sweep(spec, dataset, corpus, variants)
        sandboxes = SweepSandboxes(cfg.sandbox_dir, sweep.sweep_id)  # in use while the sweep runs: another terminal leaves it alone
        bars = _Bars(progress, len(variants))
        results: list[VariantResult] = []
        executor = executor_for(spec.execution, resolver=resolver)
        aborted = threading.Event()
        custom = tuple(e for e in scorer_entries().values() if callable(e.factory))

        def stopping() -> bool:
            return aborted.is_set() or (stop is not None and stop.is_set())

        def emit(event: ProgressEvent) -> None:
            bars.update(event)
            if on_event is not None:
                on_event(event)

        def finish(result: VariantResult) -> None:
            results.append(result)
            emit(ProgressEvent("variant_done", len(results), len(variants), result.variant, result))

        status, error, raised = "FINISHED", None, None
        try:
            sandboxes.hold()
            emit(ProgressEvent("sweep_started", 0, len(variants)))
            reusable = {} if fresh else track.reusable(sweep, keys)
            # the workers' libraries load in their own process while this one builds (or opens) the indexes
            executor.prepare([v for v in variants if v.id not in reusable], scorer_names=tuple(answer_scorers), overrides=dict(models or {}))
            groups: dict[str, list[Variant]] = {}
            jobs: list[VariantJob] = []
            for v in variants:
                groups.setdefault(v.index_key, []).append(v)
            # the indexes this sweep opens or builds: a group whose variants are all reused (or cannot run) needs none
            indexed = [k for k, group in groups.items() if any(v.id not in reusable and v.id not in unservable for v in group)]
            if indexed:  # a Chroma server that does not answer fails the sweep in one line, not every variant with it
                indexes = indexes or (own := index_store_for(spec, cfg))
            for group_key, group in groups.items():
                for v in group:
                    if v.id in reusable:
                        emit(ProgressEvent("variant_reused", len(results), len(variants), v, message=reusable[v.id]))
                        finish(track.reuse_variant(sweep, v, reusable[v.id], dataset))
                for v in group:
                    if v.id in unservable:  # failed now, without building an index for it
                        exc = unservable[v.id]
                        finish(track.log_variant(sweep, failed_result(v, f"{type(exc).__name__}: {exc}", type(exc).__name__, chunk_stats([])), dataset))
                todo = [v for v in group if v.id not in reusable and v.id not in unservable]
                if not todo or stopping():
                    continue
                chunker, embedding = group[0].chunker, group[0].retrieval.embedding
                emit(ProgressEvent("index_started", indexed.index(group_key), len(indexed), message=f"{chunker.label} / {embedding}"))
                embedded_note = ""  # the index opened, or how many chunks a build embedded when it took others' vectors
                try:
                    embedder = resolver.embedder(embedding, cache=False)
                    key = embedded_index_key(chunker, embedding, corpus.hash, embedder.identity)
                    indexes = indexes or (own := index_store_for(spec, cfg))
                    index = indexes.open(key)
                    stats = index.stats if index is not None else None  # kept with the index: it is not chunked again
                    if index is not None:  # a CI log said "built" for an index it only opened: the index cache looked unused
                        embedded_note = "; opened (built by an earlier sweep)"
                    if index is None or stats is None or stats.sha256 is None:  # (an older workbench kept no digest)
                        chunks = chunk_corpus(corpus, chunker, embedder.tokenizer if chunker.strategy == "token" else None)
                        stats = chunk_stats(chunks, truncated=count_truncated(chunks, embedder.count_tokens, embedder_input_tokens(embedding)))
                        if index is None:
                            lineage = embedded_index_key(chunker, embedding, "", embedder.identity)  # all but the corpus
                            built = _build_index(indexes, key, lineage, embedder, chunks, stats, by_text=not runs_locally(embedding),
                                                 stopping=stopping, timeout_s=spec.limits.wall_time_s)
                            if built is None:  # Stop pressed during the build: no index is kept, nothing of it runs
                                continue
                            index, embedded_note = built
                    queries = resolver.embedder(embedding, queries=True)
                    questions = [c.question for c in dataset.cases]  # once for every variant of the index
                    if runs_locally(embedding):  # each alone, as a bundle asks it: a local model's padded batch moves
                        for question in questions:  # a vector in its last bits with its longest text
                            queries.embed([question])
                    elif embed_within(queries, questions, spec.limits.wall_time_s, stopping) is None:  # one request to a provider
                        continue
                except Exception as exc:  # noqa: BLE001 - a broken index fails its variants, not the sweep
                    empty = chunk_stats([])
                    for v in todo:
                        finish(track.log_variant(sweep, failed_result(v, f"index build failed: {type(exc).__name__}: {exc}", "index", empty), dataset))
                    continue
                emit(ProgressEvent("index_built", stats.count, stats.count, message=f"{chunker.label}: {stats.count} chunks{embedded_note}"))
                retrievals: dict[str, tuple[QuestionRecord, ...]] = {}  # the variants of one retrieval setting share it
                for v in todo:
                    setting = v.retrieval.model_dump_json()
                    try:
                        if setting not in retrievals:
                            retriever = Retriever(index=index, embedder=queries, spec=v.retrieval)
                            retrievals[setting] = tuple(retrieve_question(case, retriever) for case in dataset.cases)
                        retrieved = retrievals[setting]
                    except Exception as exc:  # noqa: BLE001 - a failing retrieval fails its variant, not the sweep
                        finish(track.log_variant(sweep, failed_result(v, f"retrieval failed: {type(exc).__name__}: {exc}", "retrieval", stats), dataset))
                        continue
                    jobs.append(VariantJob(
                        variant=v, spec=spec, retrieved=retrieved, stats=stats,
                        workdir=str((sandboxes.folder / v.id).absolute()), cache=store, read_cache=not fresh,
                        overrides=dict(models or {}), judge=judge, scorer_names=tuple(scorers_of(v)), custom_scorers=custom,
                        question_workers=question_workers([m.id for m in v.answering_models], spec.execution),
                    ))
            race = spec.execution.racing
            # batches of questions; a variant clearly worse than the leader stops and is logged then. Not a sweep that only
            # retrieves: every question's retrieval is above, so a stop would save nothing and drop the variant's scores
            if race is not None and generating:
                decide = partial(
                    early_stops, metric=race.metric, confidence=race.confidence, min_questions=race.min_questions,
                    tolerance=race.tolerance, seed=spec.seed,
                )
                executor = RacingExecutor(executor, race, decide=decide, finished=[r for r in results if r.status == "FINISHED"], seed=spec.seed)
            running = executor.run(
                jobs,
                on_start=lambda v: emit(ProgressEvent("variant_started", len(results), len(variants), v)),
                on_question=lambda v, kind, done, total: emit(ProgressEvent(kind, done, total, v)),  # type: ignore[arg-type]
                stop=stopping,
            )
            try:
                for result in running:
                    finish(track.log_variant(sweep, result, dataset, reuse_key=keys.get(result.variant.id),
                                             models=models_of.get(result.variant.id), on_logged=_logged(emit, result)))
            except BaseException:
                aborted.set()  # nothing more starts; the executor ends its workers
                raise
            finally:
                running.close()
            cut_short = len(results) < len(variants) or any(r.status == "STOPPED" for r in results)
            if stop is not None and stop.is_set() and cut_short:  # a stop as the last question was answered cut nothing short
                status = "KILLED"
            elif any(r.status == "FAILED" for r in results):
                status = "FAILED"
        except BaseException as exc:
            raised = Terminated("SIGTERM") if terminated and type(exc) is KeyboardInterrupt else exc
            status = "KILLED" if isinstance(raised, KeyboardInterrupt) else "FAILED"
            error = f"interrupted ({str(raised) or 'KeyboardInterrupt'})" if isinstance(raised, KeyboardInterrupt) else f"{type(raised).__name__}: {raised}"
            if raised is not exc:  # Ray's wait raises a KeyboardInterrupt of its own in place of the SIGTERM handler's
                raise raised from exc
            raise
        finally:
            try:
                key = comparison_key(results, seed=spec.seed)
                track.end_sweep(sweep, results, status, comparison=_comparison(track, sweep, results, key, seed=spec.seed),
                                comparison_key=key, error=error)
            except KeyboardInterrupt:  # Ctrl+C while the sweep was being closed (its comparison, plots): end it anyway
                track.end_sweep(sweep, results, "KILLED", error="interrupted (KeyboardInterrupt) while the sweep was being ended")
                raise
            except Exception as failure:  # the sweep's own error, when there is one, is what the user must see
                down = raised if isinstance(raised, TrackingUnavailable) else failure
                if isinstance(down, TrackingUnavailable):
                    down.parent_not_ended(sweep.run_id)
                elif raised is not None:
                    raised.add_note(f"the sweep's parent run {sweep.run_id} could not be ended: {type(failure).__name__}: {failure}")
                if raised is None:
                    raise
            finally:
                bars.close()
                sandboxes.release()
                if own is not None:  # Chroma keeps a folder's files and threads open until its last client closes
                    own.close()
                if cache is None:  # the answer cache this sweep opened (a kernel's garbage collector may take hours to)
                    store.close()
        emit(ProgressEvent("sweep_done", len(results), len(variants)))
        return SweepResult(
            spec=spec, dataset=dataset, corpus=corpus, variants=tuple(results),
            parent_run_id=sweep.run_id, experiment_id=sweep.experiment_id, tracking_uri=sweep.tracking_uri, status=status,
            long_questions=_long_questions(dataset, {v.retrieval.embedding for v in variants}, resolver),
        )


def _comparison(track: Tracker, sweep: SweepHandle, results: Sequence[VariantResult], key: str | None, *, seed: int) -> SweepComparison | None:
    """The sweep's comparison: copied from an earlier sweep of the very same variant runs when every variant was reused
    from one (a warm re-run), else computed."""
    if key is not None and all(r.reused_from for r in results):
        earlier = track.earlier_comparison(sweep, key, results)
        if earlier is not None:
            return earlier
    return sweep_comparison(results, seed=seed)


def _build_index(
    indexes: IndexStore, key: str, lineage: str, embedder: Embedder, chunks: Sequence[Chunk], stats: ChunkStats, *, by_text: bool,
    stopping: Callable[[], bool], timeout_s: float | None,
) -> tuple[VectorIndex, str] | None:
    """Embed ``chunks`` and build index ``key``, taking the vectors an earlier index of the same ``lineage`` (chunker,
    chunking revision and embedder identity: another version of the corpus) holds for them (see
    ``embed_chunks_reusing``), so a corpus edit embeds only what changed. Returns the index and a note of what was
    embedded (empty for a cold build); None when stopped."""
    # an IndexStore of the caller's own (or a subclass overriding build) may not keep lineages: it is built cold
    reusing = getattr(indexes, "reusable_vectors", None) if _takes_keyword(indexes.build, "lineage") else None
    earlier = reusing(lineage, key) if reusing is not None else None
    # a provider's model: what a build embedded before it failed is kept, so the next one embeds (pays for) the rest
    keep = getattr(indexes, "keep_unfinished", None) if reusing is not None else None
    unfinished = (lambda texts, vectors: keep(lineage, key, texts, vectors)) if keep is not None else None
    embedded = embed_chunks_reusing(embedder, chunks, earlier, by_text=by_text, stopping=stopping, timeout_s=timeout_s,
                                    unfinished=unfinished)
    if embedded is None:
        return None
    vectors, fresh = embedded
    kept = {"lineage": lineage} if reusing is not None else {}
    index = indexes.build(key, chunks, vectors, stats=stats, **kept)
    return index, "" if earlier is None else reuse_note(fresh, len(chunks), earlier.key)


def reuse_note(fresh: int, total: int, earlier: str) -> str:
    """What an index build embedded, next to the index ``earlier`` whose vectors it could take (pure)."""
    if fresh >= total:  # "embedded 85 of 85, the others' vectors from ..." named others there were none of
        return f"; embedded all {total:,} chunks (none could take its vector from index {earlier})"
    return f"; embedded {fresh:,} of {total:,}, the others' vectors from index {earlier}"


def _takes_keyword(fn: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a callable whose signature Python cannot read
        return False


def _long_questions(dataset: Dataset, embeddings: set[str], resolver: ModelResolver) -> dict[str, tuple[int, ...]]:
    """Per embedding model whose input limit is known, the positions of the questions longer than it reads (counted
    with its tokenizer, as chunks are): only their beginning is embedded, so retrieval never searched with the rest."""
    out: dict[str, tuple[int, ...]] = {}
    for embedding in sorted(embeddings):
        limit = embedder_input_tokens(embedding)
        if limit is not None:
            count = resolver.embedder(embedding, cache=False).count_tokens
            out[embedding] = tuple(i for i, case in enumerate(dataset.cases) if count(case.question) > limit)
    return out


# run()'s arguments that take a ready object: the type, its words, and what to pass instead of a common mistake (a
# tracking URI for tracker=, a folder for index_store= or cache=, a model string for judge=)
_ARGUMENT_TYPES: dict[str, tuple[type, str, str]] = {
    "settings": (Settings, "a workbench Settings", "use wb.settings(root=..., tracking_uri=...)"),
    "tracker": (Tracker, "a Tracker", "use wb.MlflowTracker('sqlite:///...'), or settings=wb.settings(tracking_uri=...) for a store's URI"),
    "index_store": (IndexStore, "an IndexStore", "use wb.MemoryIndexStore(), or settings=wb.settings(root=...) for the folder the indexes go in"),
    "cache": (CacheStore, "a CacheStore", "use workbench.cache.DiskCacheStore(folder), or settings=wb.settings(root=...) for the project's cache"),
    "judge": (Judge, "a ready Judge", "use wb.load_judge('local:gemma3-270m'), or judge: in the experiment for a model string"),
    "stop": (threading.Event, "a threading.Event", "make one with threading.Event() and call its set() to stop the sweep"),
}
_FLAGS = ("progress", "generate", "fresh")


def _check_arguments(models: object, on_event: object, **given: object) -> None:
    """One line for a notebook's wrong argument before anything is logged, instead of an AttributeError from deep inside
    the sweep (a ``stop=True``, an ``on_event`` that is no function: after the parent run was started, which then
    ended FAILED), a sweep whose variants all failed on it (a folder as ``index_store=``), or a flag read the wrong
    way (``fresh="false"`` is true: every answer computed again, paid again at a hosted model's price).

    Args:
        models: run()'s ``models``: a mapping of model string to Generator or Embedder, or None.
        on_event: run()'s ``on_event``: a function, or None.
        given: run()'s other arguments by name: those of ``_ARGUMENT_TYPES`` (None allowed) and ``_FLAGS`` (bool).

    Raises:
        WorkbenchError: the first argument of a wrong type, naming it, its type and what to pass.
    """
    for name, value in given.items():
        if name in _FLAGS and not isinstance(value, bool):
            raise WorkbenchError(f"{name}: expected True or False, not a {type(value).__name__} ({str(value)[:40]!r}) — "
                                 f"a non-empty string is true: pass {name}=True or {name}=False")
        if name in _ARGUMENT_TYPES and value is not None and not isinstance(value, _ARGUMENT_TYPES[name][0]):
            _, words, fix = _ARGUMENT_TYPES[name]
            raise WorkbenchError(f"{name}: expected {words}, not a {type(value).__name__} — {fix}")
    if on_event is not None and not callable(on_event):
        raise WorkbenchError(f"on_event: expected a function called with each wb.ProgressEvent, not a {type(on_event).__name__}")
    if models is None:
        return
    if not isinstance(models, Mapping):
        raise WorkbenchError(f"models: expected a mapping of model string to model, not a {type(models).__name__} — "
                             "e.g. models={'local:gemma3-270m': my_generator}")
    for key, model in models.items():
        if not isinstance(key, str) or not isinstance(model, (Generator, Embedder)):
            raise WorkbenchError(f"models: {str(key)[:80]!r}: expected a model string mapped to a wb.Generator or wb.Embedder, "
                                 f"not a {type(key).__name__} to a {type(model).__name__} — a model string alone goes in the "
                                 "experiment's models: (or retrieval's embedding:)")


class _SweepQueue:
    """The sweeps of this process, the running one first and the others in the order they asked to run (a lock wakes
    its waiters in no order: of RunPanels pressed one after the other behind a running sweep, the last could run first)."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.sweeps: list[object] = []


_SWEEPS = _SweepQueue()


def _unlock_sweeps_after_fork() -> None:
    """A child forked while a sweep ran in another thread of its parent (a RunPanel in a kernel that forks) inherits
    the queue with a sweep at its head that it does not have: its own sweep said "another sweep is running" and waited
    forever."""
    global _SWEEPS
    _SWEEPS = _SweepQueue()


os.register_at_fork(after_in_child=_unlock_sweeps_after_fork)


def _waiting_message(name: str, ahead: int) -> str:
    """What a sweep with ``ahead`` sweeps before it in this process says while it waits (pure)."""
    if ahead <= 1:
        return f"another sweep is running in this process: '{name}' starts when it ends"
    return f"another sweep is running in this process and {ahead - 1} more wait before it: '{name}' starts after them"


@contextlib.contextmanager
def _one_sweep_at_a_time(
    name: str, *, progress: bool, on_event: Callable[[ProgressEvent], None] | None, stop: threading.Event | None
) -> Iterator[None]:
    """Sweeps started in one process (two RunPanels, or threads) run one after the other, in the order they started:
    several at once would build the same Chroma index and log the same MLflow dataset concurrently, which neither
    library supports within a process. A sweep that has to wait says so, with how many wait before it, and starts when
    those ahead of it end; stopped while it waits, it never starts.

    Raises:
        WorkbenchError: ``stop`` was set while the sweep waited (nothing was logged).
    """
    queue, turn = _SWEEPS, object()
    with queue.changed:
        queue.sweeps.append(turn)
        ahead = len(queue.sweeps) - 1
    try:
        if ahead:
            message = _waiting_message(name, ahead)
            if on_event is not None:
                on_event(ProgressEvent("sweep_waiting", message=message))
            if progress:
                print(message, file=sys.stderr, flush=True)
            with queue.changed:
                while queue.sweeps[0] is not turn:
                    queue.changed.wait(timeout=0.2)
                    if stop is not None and stop.is_set():
                        raise WorkbenchError(f"'{name}' was stopped while it waited for another sweep in this process; nothing was logged")
        yield
    finally:
        with queue.changed:
            queue.sweeps.remove(turn)
            queue.changed.notify_all()


@contextlib.contextmanager
def _terminate_interrupts() -> Iterator[list[int]]:
    """While a sweep runs in the main thread, SIGTERM (``kill``, ``timeout``, a CI job cancelled, ``docker stop``)
    stops it the way Ctrl+C does: the sweep and its running variant are ended KILLED instead of staying RUNNING in
    MLflow. A handler the caller installed is left alone. Yields the SIGTERMs received: Ray's ``wait`` runs the handler
    and raises a bare KeyboardInterrupt in place of its Terminated (a sweep on Ray ended "interrupted
    (KeyboardInterrupt)" and ``workbench run`` exited 130, as for Ctrl+C)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield []
        return
    received: list[int] = []  # SIGTERM, once it arrived: a library in C may raise its own KeyboardInterrupt for it

    def interrupt(signum: int, frame: Any) -> None:
        received.append(signum)
        raise Terminated("SIGTERM")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _check_can_start(
    spec: ExperimentSpec, variants: Sequence[Variant], models: Mapping[str, Any] | None, judge: Judge | None, cfg: Settings, *,
    own_index_store: bool,
) -> None:
    """Refuse, in one line, what would stop a sweep as it starts or fail every variant (a dry run refuses it too):
    a misspelt or unpicklable injected model, worker processes this process cannot start, a bad WORKBENCH_LLAMA_THREADS
    or WORKBENCH_CACHE_SIZE_MB, a local Chroma this process cannot open (``own_index_store``: the sweep opens its own)."""
    _check_overrides(spec, models)
    _check_portable(spec, models, judge)
    if any(v.generates for v in variants) and spec.execution.backend == "local" and spec.execution.isolation == "process":
        check_can_start_workers()  # a multiprocessing.Pool's worker: one line, not every variant FAILED on it
    if any(runs_locally(m.id) for v in variants for m in v.answering_models):
        llama_threads()  # a bad WORKBENCH_LLAMA_THREADS: one line now, not every variant failing on it
    if own_index_store:
        check_index_store_for(spec)  # a local Chroma in a child forked after it was opened: one line, not a hang
    _ = cfg.cache_size_mb  # likewise a bad WORKBENCH_CACHE_SIZE_MB, before the store is opened


def _check_overrides(spec: ExperimentSpec, models: Mapping[str, Any] | None) -> None:
    """Refuse a model handed to the sweep under a misspelt id (``local:gemma3-270M``): it would never be called, and the
    experiment's own model would answer in its place (loaded, or called at the provider's price), with nothing said.
    A key that is no near miss of one of the experiment's models is left alone (a notebook's dict of all its models).

    Raises:
        SpecError: a key is close to a model of the experiment that no key overrides.
    """
    if not models:
        return
    used = {m.id for v in expand_grid(spec) for m in v.answering_models} | {r.embedding for r in spec.retrieval} | {MINILM_ID}
    if spec.judge is not None:
        used.add(spec.judge.id)
    not_given = sorted(used - set(models))
    for key in models:
        if key in used:
            continue
        near = difflib.get_close_matches(key, not_given, n=1, cutoff=0.8) or [m for m in not_given if m.lower() == key.lower()]
        if near:
            raise SpecError(f"models: '{key}' is not a model of experiment '{spec.name}', so it would never be called and "
                            f"'{near[0]}' would answer instead — did you mean '{near[0]}'? (or leave '{key}' out of models=)")


def _check_portable(spec: ExperimentSpec, models: Mapping[str, Any] | None, judge: Judge | None) -> None:
    """Injected models and judges go to the worker processes with the job: refuse, in one line, one that cannot."""
    if spec.execution.isolation == "none" or (not models and judge is None):
        return
    import cloudpickle

    for name, obj in [*(models or {}).items(), ("judge", judge)]:
        if obj is None:
            continue
        try:
            cloudpickle.dumps(obj)
        except Exception as exc:  # noqa: BLE001 - whatever pickling raises, the answer is the same
            raise SpecError(
                f"execution.isolation: the injected model '{name}' cannot be sent to a worker process ({type(exc).__name__}: "
                f"{str(exc)[:120]}) — use execution: {{isolation: none}} to run it in this process"
            ) from None


def _retrieval_scorer_names(names: Sequence[str] | None) -> list[str]:
    """What a retrieval-only variant is scored on: the spec's retrieval scorers, or all of them when it names none."""
    chosen = [n for n in names or () if n in RETRIEVAL_METRICS]
    return chosen or list(RETRIEVAL_METRICS)


def _logged(emit: Callable[[ProgressEvent], None], result: VariantResult) -> Callable[[int], None]:
    """What reports a computed variant's traces as the tracker stores them (``question_logged``)."""
    total = len(result.records)
    return lambda done: emit(ProgressEvent("question_logged", done, total, result.variant))


class _Bars:
    """tqdm.auto progress: variants outer, questions inner (widgets in notebooks, text in terminals).

    The questions bar shows the variant of the latest ``question_done`` at that variant's own count: with racing (or
    several workers) the live variants' questions interleave, and counting them all on one variant's bar ran past it.

    Args:
        enabled: False draws nothing.
        total: the sweep's variants.
        make_bar: makes a bar (default: ``tqdm.auto.tqdm``).
    """

    def __init__(self, enabled: bool, total: int, make_bar: Callable[..., Any] | None = None) -> None:
        self.enabled = enabled
        self._outer: Any = None
        self._inner: Any = None
        self._inner_variant: str | None = None  # the id of the variant the questions bar shows
        if enabled:
            if make_bar is None:
                from tqdm.auto import tqdm as make_bar
            self._tqdm = make_bar
            self._outer = make_bar(total=total, desc="variants", unit="variant")

    def update(self, event: ProgressEvent) -> None:
        if not self.enabled:
            return
        if event.kind == "index_started":
            self._outer.set_postfix_str(f"index {event.message}")
        elif event.kind == "variant_started" and event.variant is not None:
            self._outer.set_postfix_str(event.variant.name)
        elif event.kind == "question_done" and event.variant is not None:
            self._question(event.variant, event.done, event.total)
        elif event.kind == "question_logged" and event.variant is not None:
            self._outer.set_postfix_str(f"{event.variant.name}: {event.done}/{event.total} traces logged")
        elif event.kind == "variant_done":
            if self._inner is not None and (event.variant is None or event.variant.id == self._inner_variant):
                self._inner.close()
                self._inner, self._inner_variant = None, None
            self._outer.update(1)

    def _question(self, variant: Variant, done: int, total: int) -> None:
        """Show ``done``/``total`` of ``variant`` (the bar is reset when the variant differs from the one it showed)."""
        if self._inner is None:
            self._inner = self._tqdm(total=total, desc="questions", unit="q", leave=False)
        elif variant.id != self._inner_variant:
            self._inner.reset(total=total)
        if variant.id != self._inner_variant:
            self._inner_variant = variant.id
            self._outer.set_postfix_str(variant.name)
        self._inner.update(done - self._inner.n)

    def close(self) -> None:
        for bar in (self._inner, self._outer):
            if bar is not None:
                bar.close()
