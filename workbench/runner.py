"""Run an experiment: build each shared index once, run every variant in its sandbox, score, log to MLflow.

One engine for every kind of sweep: a variant with a prompt and a model retrieves and generates; a retrieval-only
variant (an experiment without ``models:``, or ``run(..., generate=False)``) retrieves and is scored on the retrieval
metrics. Both use the same indexes, the same tracker and the same leaderboard.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from workbench.comparison import sweep_comparison
from workbench.config import Settings, settings as default_settings
from workbench.datasets import Corpus, Dataset, load_corpus, load_dataset
from workbench.errors import BudgetExceeded, DataError
from workbench.grid import Variant, expand_grid, index_key
from workbench.metrics import COST_PER_SUCCESS, RETRIEVAL_METRICS, SUCCESS_METRIC, cost_per_success, percentile
from workbench.models import MINILM_ID, Embedder, GenerationParams, Generator, Price, load_embedder, load_generator
from workbench.pipeline import (
    ChromaIndexStore,
    ChunkStats,
    IndexStore,
    QuestionRecord,
    Retriever,
    VectorIndex,
    answer_question,
    chunk_corpus,
    chunk_stats,
    retrieve_question,
)
from workbench.prompts import PromptTemplate
from workbench.results import SweepResult, VariantResult
from workbench.sandbox import Outcome, Sandbox, Stopped, run_sandboxed
from workbench.scoring import Judge, ScoreContext, ScoreFn, ScorerEnv, build_scorers, judge_metrics, load_judge, mean_scores, run_scorers
from workbench.spec import ExperimentSpec, load_experiment
from workbench.tracking import MlflowTracker, Tracker

__all__ = ["ProgressEvent", "load_inputs", "run"]

EventKind = Literal[
    "sweep_started", "index_started", "index_built", "variant_started", "question_done", "question_scored", "variant_done",
    "sweep_done",
]


@dataclass(frozen=True)
class ProgressEvent:
    """What the runner reports as it goes (widgets and the CLI render these; the runner prints nothing itself).

    ``done``/``total`` count indexes for ``index_started``, questions of the current variant for ``question_done``
    (generation) and ``question_scored`` (scoring), and variants for ``variant_started``/``variant_done``.
    """

    kind: EventKind
    done: int = 0
    total: int = 0
    variant: Variant | None = None
    result: VariantResult | None = None
    message: str = ""


def load_inputs(spec: ExperimentSpec, limit: int | None = None) -> tuple[Dataset, Corpus]:
    """Load the spec's dataset and corpus, and check that every labelled source id exists in the corpus."""
    dataset = load_dataset(spec.resolve(spec.dataset.path), limit=limit or spec.dataset.limit)
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
    """Resolves model strings once per sweep; ``overrides`` inject models (tests use the fakes from workbench.testing)."""

    def __init__(self, overrides: Mapping[str, Generator | Embedder] | None) -> None:
        self._overrides = dict(overrides or {})
        self._cache: dict[tuple[str, str], Any] = {}

    def generator(self, model_id: str, kind: Any) -> Generator:
        if model_id in self._overrides:
            return self._overrides[model_id]  # type: ignore[return-value]
        key = (model_id, kind)
        if key not in self._cache:
            self._cache[key] = load_generator(model_id, kind=kind)
        return self._cache[key]  # type: ignore[no-any-return]

    def embedder(self, model_id: str) -> Embedder:
        if model_id in self._overrides:
            return self._overrides[model_id]  # type: ignore[return-value]
        key = (model_id, "embedder")
        if key not in self._cache:
            self._cache[key] = load_embedder(model_id)
        return self._cache[key]  # type: ignore[no-any-return]


class _QueryVectors:
    """An embedder that embeds each distinct text once per sweep: every variant of an index asks for the same questions."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._vectors: dict[str, list[float]] = {}
        self.model_id = embedder.model_id

    @property
    def tokenizer(self) -> Any:
        return self._embedder.tokenizer

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, self._embedder.embed(missing)))
        return [self._vectors[t] for t in texts]

    def count_tokens(self, text: str) -> int:
        return self._embedder.count_tokens(text)


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
    costs = [r.cost_usd for r in records if r.generation]
    if costs and all(c is not None for c in costs):
        out["cost_usd"] = float(sum(c for c in costs if c is not None))
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
            generator = models.generator(model.id, model.resolved_kind)
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


def _load_judge(spec: ExperimentSpec) -> Judge | None:
    j = spec.judge
    if j is None:
        return None
    price = spec.price(j.id)
    return load_judge(j.id, kind=j.kind, max_tokens=j.max_tokens, timeout_s=j.timeout_s, temperature=j.temperature, seed=spec.seed, price=price)


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
) -> SweepResult:
    """Run every variant of an experiment and log it (one parent run, one child run per variant).

    Args:
        experiment: a spec, or the path of an experiment YAML file.
        tracker: where runs go (default: MLflow at ``settings.tracking_uri``).
        models: model strings mapped to ready generators/embedders, overriding resolution (for tests and notebooks).
        index_store: where indexes are built (default: persistent Chroma under ``settings.index_dir``).
        limit: evaluate only the first ``limit`` cases.
        progress: show tqdm progress bars.
        stop: set this event to stop after the current question; finished variants stay logged.
        on_event: called with each ``ProgressEvent``.
        judge: a ready judge used instead of the spec's ``judge`` model (tests pass a ScriptedJudge); it turns the
            LLM-judged scorers on like a ``judge:`` section does.
        generate: False for a retrieval-only sweep: chunkers x retrieval settings, scored on the retrieval metrics
            (the spec's prompts, models and judge are not used). An experiment without ``models:`` is always one.

    Returns:
        The ``SweepResult``; failed variants are in it (and logged as FAILED runs), not raised.
    """
    spec = experiment if isinstance(experiment, ExperimentSpec) else load_experiment(experiment)
    cfg = settings or default_settings()
    dataset, corpus = load_inputs(spec, limit)
    variants = expand_grid(spec, generate=generate)
    generating = any(v.generates for v in variants)
    resolver = _Models(models)
    store = index_store or ChromaIndexStore(cfg.index_dir)
    track = tracker or MlflowTracker(cfg.tracking_uri, artifact_root=cfg.artifact_root)
    sweep = track.start_sweep(spec, dataset, corpus, variants)
    bars = _Bars(progress, len(variants))

    def emit(event: ProgressEvent) -> None:
        bars.update(event)
        if on_event is not None:
            on_event(event)

    emit(ProgressEvent("sweep_started", 0, len(variants)))
    answer_scorers: Mapping[str, ScoreFn] = {}
    if generating:
        scorer_env = ScorerEnv(
            embedder=resolver.embedder(MINILM_ID), judge=judge or _load_judge(spec), judge_repeats=spec.judge.n if spec.judge else 1
        )
        answer_scorers = build_scorers(spec.scorers, scorer_env)
    retrieval_scorers = build_scorers(_retrieval_scorer_names(spec.scorers), ScorerEnv())
    queries: dict[str, _QueryVectors] = {}
    results: list[VariantResult] = []
    groups: dict[str, list[Variant]] = {}
    for v in variants:
        groups.setdefault(v.index_key, []).append(v)
    try:
        for group_no, group in enumerate(groups.values()):
            chunker, embedding = group[0].chunker, group[0].retrieval.embedding
            emit(ProgressEvent("index_started", group_no, len(groups), message=f"{chunker.label} / {embedding}"))
            try:
                embedder = resolver.embedder(embedding)
                chunks = chunk_corpus(corpus, chunker, embedder.tokenizer)
                stats = chunk_stats(chunks)
                # the implementation's name is part of the key, so an injected fake never shares a real model's index
                key = index_key(chunker, embedding, f"{corpus.hash}:{type(embedder).__qualname__}")
                index = store.open(key) or store.build(key, chunks, embedder.embed([c.text for c in chunks]))
                if embedding not in queries:
                    queries[embedding] = _QueryVectors(embedder)
                    queries[embedding].embed([c.question for c in dataset.cases])  # one batch for every variant
            except Exception as exc:  # noqa: BLE001 - a broken index fails its variants, not the sweep
                empty = chunk_stats([])
                for v in group:
                    failed = track.log_variant(sweep, _failed(v, f"index build failed: {type(exc).__name__}: {exc}", "index", empty), dataset)
                    results.append(failed)
                    emit(ProgressEvent("variant_done", len(results), len(variants), v, failed))
                continue
            emit(ProgressEvent("index_built", stats.count, stats.count, message=f"{chunker.label}: {stats.count} chunks"))
            for v in group:
                if stop is not None and stop.is_set():
                    break
                emit(ProgressEvent("variant_started", len(results), len(variants), v))
                result = _run_variant(
                    v, spec=spec, dataset=dataset, index=index, embedder=queries[embedding], models=resolver,
                    scorers=answer_scorers if v.generates else retrieval_scorers,
                    stats=stats, workdir=cfg.sandbox_dir / sweep.sweep_id / v.id, stop=stop, emit=emit,
                )
                result = track.log_variant(sweep, result, dataset)
                results.append(result)
                emit(ProgressEvent("variant_done", len(results), len(variants), v, result))
    finally:
        status = "KILLED" if (stop is not None and stop.is_set()) else ("FAILED" if any(r.status == "FAILED" for r in results) else "FINISHED")
        track.end_sweep(sweep, results, status, comparison=sweep_comparison(results, seed=spec.seed))
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
