"""Run an experiment: build each shared index once, run every variant in its sandbox, score, log to MLflow.

One engine for every kind of sweep: a variant with a prompt and a model retrieves and generates; a retrieval-only
variant (an experiment without ``models:``, or ``run(..., generate=False)``) retrieves and is scored on the retrieval
metrics. Both use the same indexes, the same tracker and the same leaderboard.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from workbench.cache import CachedEmbedder, CachedGenerator, CacheStore, DiskCacheStore
from workbench.comparison import sweep_comparison
from workbench.config import Settings, settings as default_settings
from workbench.datasets import Corpus, Dataset, load_corpus, load_dataset
from workbench.errors import BudgetExceeded, DataError, WorkbenchError
from workbench.grid import Variant, expand_grid, index_key
from workbench.metrics import COST_PER_SUCCESS, RETRIEVAL_METRICS, SUCCESS_METRIC, cost_per_success, percentile
from workbench.models import MINILM_ID, Embedder, GenerationParams, Generator, ModelKind, Price, default_kind, load_embedder, load_generator
from workbench.pipeline import (
    ChunkStats,
    IndexStore,
    QuestionRecord,
    Retriever,
    VectorIndex,
    answer_question,
    chunk_corpus,
    chunk_stats,
    index_store_for,
    retrieve_question,
)
from workbench.prompts import PromptTemplate
from workbench.results import SweepResult, VariantResult
from workbench.sandbox import Outcome, Sandbox, Stopped, run_sandboxed
from workbench.scoring import Judge, ScoreContext, ScoreFn, ScorerEnv, build_scorers, judge_metrics, mean_scores, run_scorers, ModelJudge
from workbench.spec import ExperimentSpec, load_experiment
from workbench.tracking import MlflowTracker, Tracker

__all__ = ["ProgressEvent", "load_inputs", "load_spec_dataset", "reuse_key", "run"]

EventKind = Literal[
    "sweep_started", "index_started", "index_built", "variant_started", "variant_reused", "question_done", "question_scored",
    "variant_done", "sweep_done",
]


@dataclass(frozen=True)
class ProgressEvent:
    """What the runner reports as it goes (widgets and the CLI render these; the runner prints nothing itself).

    ``done``/``total`` count indexes for ``index_started``, questions of the current variant for ``question_done``
    (generation) and ``question_scored`` (scoring), and variants for ``variant_started``/``variant_reused``/
    ``variant_done``. ``variant_reused`` (its ``message`` is the run reused) comes instead of ``variant_started`` for a
    variant whose finished run is reused rather than recomputed.
    """

    kind: EventKind
    done: int = 0
    total: int = 0
    variant: Variant | None = None
    result: VariantResult | None = None
    message: str = ""


def load_spec_dataset(spec: ExperimentSpec, limit: int | None = None) -> Dataset:
    """The spec's dataset, with its ``limit`` (or ``limit``) and its length caps on questions and references."""
    ref = spec.dataset
    return load_dataset(
        spec.resolve(ref.path), limit=limit or ref.limit, max_question_chars=ref.max_question_chars, max_reference_chars=ref.max_reference_chars
    )


def load_inputs(spec: ExperimentSpec, limit: int | None = None) -> tuple[Dataset, Corpus]:
    """Load the spec's dataset and corpus, and check that every labelled source id exists in the corpus."""
    dataset = load_spec_dataset(spec, limit)
    corpus = load_corpus(spec.corpus.builtin or spec.resolve(spec.corpus.path or ""), glob=spec.corpus.glob)
    ids = corpus.ids
    for case in dataset.cases:
        missing = [s for s in case.source_ids if s not in ids]
        if missing:
            raise DataError(
                f"{dataset.source}: case '{case.id}': field 'source_ids': '{missing[0]}' is not a document of corpus "
                f"'{corpus.name}' — use the document ids of that corpus"
            )
    return dataset, corpus


class _Models:
    """Resolves model strings once per sweep and puts each model behind the cache (unless told not to).

    ``overrides`` inject models (tests use the fakes from workbench.testing).
    """

    def __init__(self, overrides: Mapping[str, Generator | Embedder] | None, store: CacheStore, *, read: bool = True) -> None:
        self._overrides = dict(overrides or {})
        self._loaded: dict[tuple[str, str], Any] = {}
        self._wrapped: dict[tuple[str, str, bool], Any] = {}
        self.store = store
        self._read = read

    def _raw_generator(self, model_id: str, kind: ModelKind) -> Generator:
        if model_id in self._overrides:
            return self._overrides[model_id]  # type: ignore[return-value]
        key = (model_id, kind)
        if key not in self._loaded:
            self._loaded[key] = load_generator(model_id, kind=kind)
        return self._loaded[key]  # type: ignore[no-any-return]

    def generator(self, model_id: str, kind: ModelKind, *, cache: bool = True) -> Generator:
        key = (model_id, kind, cache)
        if key not in self._wrapped:
            raw = self._raw_generator(model_id, kind)
            self._wrapped[key] = CachedGenerator(raw, self.store, identity=raw.identity, read=self._read) if cache else raw
        return self._wrapped[key]  # type: ignore[no-any-return]

    def embedder(self, model_id: str, *, cache: bool = True) -> Embedder:
        if (model_id, "embedder") not in self._loaded:
            found = self._overrides.get(model_id)
            self._loaded[(model_id, "embedder")] = found if found is not None else load_embedder(model_id)
        raw = self._loaded[(model_id, "embedder")]
        if not cache:
            return raw  # type: ignore[no-any-return]
        key = (model_id, "embedder", True)
        if key not in self._wrapped:
            self._wrapped[key] = CachedEmbedder(raw, self.store, identity=raw.identity, read=self._read)
        return self._wrapped[key]  # type: ignore[no-any-return]

    def identities(self, variant: Variant) -> dict[str, str]:
        """The identities of the models whose outputs make a variant's results."""
        out = {"embedding": self.embedder(variant.retrieval.embedding, cache=False).identity}
        if variant.model is not None:
            out["generator"] = self._raw_generator(variant.model.id, variant.model.resolved_kind).identity
        return out


def _metrics(records: tuple[QuestionRecord, ...], generates: bool) -> dict[str, float]:
    out = mean_scores(r.scores for r in records)
    latencies = [r.latency_s for r in records if r.error is None]
    if latencies:
        out["latency_p50_s"] = percentile(latencies, 50)
        out["latency_p95_s"] = percentile(latencies, 95)
    out["questions"] = float(len(records))
    if not generates:
        return out
    out["question_errors"] = float(sum(1 for r in records if r.error))
    out["input_tokens"] = float(sum(r.generation.input_tokens for r in records if r.generation))
    out["output_tokens"] = float(sum(r.generation.output_tokens for r in records if r.generation))
    # calls that reached the model in this run (errors included) and answers read from the cache
    out["generation_calls"] = float(sum(1 for r in records if r.generation is None or not r.generation.cached))
    out["cache_hits"] = float(sum(1 for r in records if r.generation is not None and r.generation.cached))
    costs = [r.cost_usd for r in records if r.generation]
    if costs and all(c is not None for c in costs):
        out["cost_usd"] = float(sum(c for c in costs if c is not None))
        out["spent_usd"] = float(sum(r.cost_usd or 0.0 for r in records if r.generation and not r.generation.cached))
        out["cost_per_question_usd"] = out["cost_usd"] / len(costs)
        quality = [r.scores[SUCCESS_METRIC].value if SUCCESS_METRIC in r.scores else None for r in records if r.generation]
        per_success = cost_per_success(costs, quality)
        if per_success is not None and math.isfinite(per_success):
            out[COST_PER_SUCCESS] = per_success
    out.update(judge_metrics(r.scores for r in records))  # judge tokens and cost, apart from the answering model's
    return out


def _score(record: QuestionRecord, scorers: Mapping[str, ScoreFn], price: Price | None) -> QuestionRecord:
    ctx = ScoreContext(
        question=record.case.question,
        answer=record.answer,
        reference=record.case.reference,
        contexts=tuple(h.chunk.text for h in record.hits),
        retrieved_ids=record.retrieved_ids,
        relevant_ids=frozenset(record.case.source_ids),
        category=record.case.category,
    )
    scores = run_scorers(scorers, ctx) if record.error is None else {}
    gen = record.generation
    cost = price.cost(gen.input_tokens, gen.output_tokens) if (gen and price) else None
    return replace(record, scores=scores, cost_usd=cost)


def _run_variant(
    variant: Variant,
    *,
    spec: ExperimentSpec,
    dataset: Dataset,
    index: VectorIndex,
    embedder: Embedder,
    models: _Models,
    scorers: Mapping[str, ScoreFn],
    stats: ChunkStats,
    workdir: Path,
    stop: threading.Event | None,
    emit: Callable[[ProgressEvent], None],
) -> VariantResult:
    started_ms = int(time.time() * 1000)
    records: list[QuestionRecord] = []
    sandbox = Sandbox(workdir, wall_time_s=spec.limits.wall_time_s, max_tokens=spec.limits.max_tokens)
    model, prompt = variant.model, variant.prompt
    price = spec.price(model.id) if model is not None else None

    def body(box: Sandbox) -> None:
        retriever = Retriever(index=index, embedder=embedder, spec=variant.retrieval)
        answer: Callable[[Any], QuestionRecord] = lambda case: retrieve_question(case, retriever)  # noqa: E731
        if model is not None and prompt is not None:
            generator = models.generator(model.id, model.resolved_kind, cache=model.cache)
            template = PromptTemplate(prompt.name, prompt.template or "", prompt.system)
            p = model.params
            params = GenerationParams(temperature=p.temperature, max_tokens=p.max_tokens, stop=p.stop, seed=spec.seed, timeout_s=p.timeout_s)
            (box.workdir / "prompt.txt").write_text(template.text, encoding="utf-8")
            answer = lambda case: answer_question(  # noqa: E731
                case, retriever=retriever, template=template, generator=generator, params=params, deadline=box.deadline
            )
        total = len(dataset.cases)
        for i, case in enumerate(dataset.cases):
            if stop is not None and stop.is_set():
                raise Stopped()
            box.check_time(i, total)
            record = answer(case)
            records.append(record)
            emit(ProgressEvent("question_done", i + 1, total, variant))
            if record.generation and record.generation.finish_reason == "deadline":
                raise BudgetExceeded(
                    f"wall-time limit of {box.wall_time_s:g}s exceeded during question {i + 1}/{total} — raise limits.wall_time_s",
                    kind="timeout",
                )
            box.charge(record.tokens)
        if records and all(r.error for r in records):
            raise RuntimeError(f"every question failed; first error: {records[0].error}")

    outcome = run_sandboxed(body, sandbox)
    scored_list: list[QuestionRecord] = []
    for i, record in enumerate(records):
        scored_list.append(_score(record, scorers, price))
        emit(ProgressEvent("question_scored", i + 1, len(records), variant))
    scored = tuple(scored_list)
    return VariantResult(
        variant=variant, outcome=outcome, records=scored, metrics=_metrics(scored, variant.generates), chunk_stats=stats,
        started_ms=started_ms, ended_ms=int(time.time() * 1000), workdir=str(workdir),
    )


def _failed(variant: Variant, error: str, kind: str, stats: ChunkStats) -> VariantResult:
    now = int(time.time() * 1000)
    return VariantResult(variant, Outcome("FAILED", error, kind), (), {}, stats, now, now)


def _load_judge(spec: ExperimentSpec, models: _Models) -> Judge | None:
    j = spec.judge
    if j is None:
        return None
    return ModelJudge(
        models.generator(j.id, j.kind or default_kind(j.id), cache=j.cache), max_tokens=j.max_tokens, timeout_s=j.timeout_s,
        temperature=j.temperature, seed=spec.seed, price=spec.price(j.id),
    )


def _scorer_fingerprint(spec: ExperimentSpec, variant: Variant, scorers: Mapping[str, ScoreFn], judge: Judge | None) -> dict[str, Any]:
    """What the scores of a variant depend on besides its answers: the scorers, the judge, the prices."""
    out: dict[str, Any] = {"scorers": sorted(scorers)}
    if variant.model is None:
        return out
    if judge is not None:
        out["judge"] = spec.judge.model_dump(mode="json") if spec.judge is not None else judge.model_id
    for role, model_id in (("price", variant.model.id), ("judge_price", spec.judge.id if spec.judge else None)):
        price = spec.price(model_id) if model_id else None
        out[role] = [price.input_per_m, price.output_per_m] if price is not None else None
    return out


def reuse_key(variant: Variant, *, dataset: Dataset, corpus: Corpus, models: Mapping[str, str], scoring: Mapping[str, Any], seed: int) -> str:
    """The content address of a variant's finished run (pure): the same key means the same result.

    Args:
        variant: the variant (its id covers prompt, model and decoding parameters, chunker and retrieval setting).
        dataset: the questions (their hash).
        corpus: the documents (their hash).
        models: the identities of the models that make its results (answering model, embedding model).
        scoring: the scorer set, judge and prices.
        seed: the sweep's seed.
    """
    payload = {
        "variant": variant.id, "dataset": dataset.hash, "corpus": corpus.hash, "models": dict(models), "scoring": dict(scoring),
        "seed": seed, "workbench": _version(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("workbench")
    except metadata.PackageNotFoundError:
        return "unknown"


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
        stop: set this event to stop after the current question; finished variants stay logged and the sweep ends
            KILLED (run it again to finish it).
        on_event: called with each ``ProgressEvent``.
        judge: a ready judge used instead of the spec's ``judge`` model (tests pass a ScriptedJudge); it turns the
            LLM-judged scorers on like a ``judge:`` section does.
        generate: False for a retrieval-only sweep: chunkers x retrieval settings, scored on the retrieval metrics
            (the spec's prompts, models and judge are not used). An experiment without ``models:`` is always one.
        fresh: recompute everything: reuse no finished run and read no cached answer (new answers are still cached).
        cache: the cache store (default: ``DiskCacheStore(settings.cache_dir)``).

    Returns:
        The ``SweepResult``; failed variants are in it (and logged as FAILED runs), not raised.

    Raises:
        Whatever stops the sweep itself (not a variant): the parent run is then ended FAILED with the error, or KILLED
        for KeyboardInterrupt, before it propagates.
    """
    spec = experiment if isinstance(experiment, ExperimentSpec) else load_experiment(experiment)
    cfg = settings or default_settings()
    dataset, corpus = load_inputs(spec, limit)
    variants = expand_grid(spec, generate=generate)
    generating = any(v.generates for v in variants)
    store = cache if cache is not None else DiskCacheStore(cfg.cache_dir, size_limit_mb=cfg.cache_size_mb)
    resolver = _Models(models, store, read=not fresh)
    indexes = index_store  # the default store is opened when a variant needs an index (a reused one needs none)
    # everything that can be refused is checked before the first MLflow run exists
    the_judge = (judge or _load_judge(spec, resolver)) if generating else None
    answer_scorers: Mapping[str, ScoreFn] = {}
    if generating:
        env = ScorerEnv(embedder=resolver.embedder(MINILM_ID), judge=the_judge, judge_repeats=spec.judge.n if spec.judge else 1)
        answer_scorers = build_scorers(spec.scorers, env)
    retrieval_scorers = build_scorers(_retrieval_scorer_names(spec.scorers), ScorerEnv())

    def scorers_of(v: Variant) -> Mapping[str, ScoreFn]:
        return answer_scorers if v.generates else retrieval_scorers

    keys: dict[str, str] = {}
    for v in variants:
        if v.model is not None and not v.model.cache:
            continue
        try:
            identities = resolver.identities(v)
        except WorkbenchError:
            continue  # a model that cannot be loaded fails its variant when it runs, with this error
        keys[v.id] = reuse_key(v, dataset=dataset, corpus=corpus, models=identities,
                               scoring=_scorer_fingerprint(spec, v, scorers_of(v), the_judge), seed=spec.seed)
    track = tracker or MlflowTracker(cfg.tracking_uri, artifact_root=cfg.artifact_root)
    track.close_abandoned(spec)
    sweep = track.start_sweep(spec, dataset, corpus, variants)
    bars = _Bars(progress, len(variants))
    results: list[VariantResult] = []

    def emit(event: ProgressEvent) -> None:
        bars.update(event)
        if on_event is not None:
            on_event(event)

    def finish(result: VariantResult) -> None:
        results.append(result)
        emit(ProgressEvent("variant_done", len(results), len(variants), result.variant, result))

    status, error = "FINISHED", None
    try:
        emit(ProgressEvent("sweep_started", 0, len(variants)))
        reusable = {} if fresh else track.reusable(sweep, keys)
        groups: dict[str, list[Variant]] = {}
        for v in variants:
            groups.setdefault(v.index_key, []).append(v)
        for group_no, group in enumerate(groups.values()):
            for v in group:
                if v.id in reusable:
                    emit(ProgressEvent("variant_reused", len(results), len(variants), v, message=reusable[v.id]))
                    finish(track.reuse_variant(sweep, v, reusable[v.id], dataset))
            todo = [v for v in group if v.id not in reusable]
            if not todo or (stop is not None and stop.is_set()):
                continue
            chunker, embedding = group[0].chunker, group[0].retrieval.embedding
            emit(ProgressEvent("index_started", group_no, len(groups), message=f"{chunker.label} / {embedding}"))
            try:
                embedder = resolver.embedder(embedding, cache=False)
                chunks = chunk_corpus(corpus, chunker, embedder.tokenizer if chunker.strategy == "token" else None)
                stats = chunk_stats(chunks)
                # the implementation's name is part of the key, so an injected fake never shares a real model's index
                key = index_key(chunker, embedding, f"{corpus.hash}:{type(embedder).__qualname__}")
                indexes = indexes or index_store_for(spec, cfg)
                index = indexes.open(key) or indexes.build(key, chunks, embedder.embed([c.text for c in chunks]))
                queries = resolver.embedder(embedding)
                queries.embed([c.question for c in dataset.cases])  # one batch for every variant of the index
            except Exception as exc:  # noqa: BLE001 - a broken index fails its variants, not the sweep
                empty = chunk_stats([])
                for v in todo:
                    finish(track.log_variant(sweep, _failed(v, f"index build failed: {type(exc).__name__}: {exc}", "index", empty), dataset))
                continue
            emit(ProgressEvent("index_built", stats.count, stats.count, message=f"{chunker.label}: {stats.count} chunks"))
            for v in todo:
                if stop is not None and stop.is_set():
                    break
                emit(ProgressEvent("variant_started", len(results), len(variants), v))
                result = _run_variant(
                    v, spec=spec, dataset=dataset, index=index, embedder=queries, models=resolver, scorers=scorers_of(v),
                    stats=stats, workdir=cfg.sandbox_dir / sweep.sweep_id / v.id, stop=stop, emit=emit,
                )
                finish(track.log_variant(sweep, result, dataset, reuse_key=keys.get(v.id)))
        if stop is not None and stop.is_set():
            status = "KILLED"
        elif any(r.status == "FAILED" for r in results):
            status = "FAILED"
    except BaseException as exc:
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        error = "interrupted (KeyboardInterrupt)" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"
        raise
    finally:
        track.end_sweep(sweep, results, status, comparison=sweep_comparison(results, seed=spec.seed), error=error)
        bars.close()
    emit(ProgressEvent("sweep_done", len(results), len(variants)))
    return SweepResult(
        spec=spec, dataset=dataset, corpus=corpus, variants=tuple(results),
        parent_run_id=sweep.run_id, experiment_id=sweep.experiment_id, tracking_uri=sweep.tracking_uri,
    )


def _retrieval_scorer_names(names: Sequence[str] | None) -> list[str]:
    """What a retrieval-only variant is scored on: the spec's retrieval scorers, or all of them when it names none."""
    chosen = [n for n in names or () if n in RETRIEVAL_METRICS]
    return chosen or list(RETRIEVAL_METRICS)


class _Bars:
    """tqdm.auto progress: variants outer, questions inner (widgets in notebooks, text in terminals)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self._outer: Any = None
        self._inner: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self._tqdm = tqdm
            self._outer = tqdm(total=total, desc="variants", unit="variant")

    def update(self, event: ProgressEvent) -> None:
        if not self.enabled:
            return
        if event.kind == "index_started":
            self._outer.set_postfix_str(f"index {event.message}")
        elif event.kind == "variant_started" and event.variant is not None:
            self._outer.set_postfix_str(event.variant.name)
        elif event.kind == "question_done":
            if self._inner is None:
                self._inner = self._tqdm(total=event.total, desc="questions", unit="q", leave=False)
            self._inner.update(1)
        elif event.kind == "variant_done":
            if self._inner is not None:
                self._inner.close()
                self._inner = None
            self._outer.update(1)

    def close(self) -> None:
        for bar in (self._inner, self._outer):
            if bar is not None:
                bar.close()
