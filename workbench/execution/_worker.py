"""Run one variant's generation and scoring from a ``VariantJob``, wherever it is: a worker process, a Ray task, or
the caller's process (``isolation: none``).

A job carries everything the variant needs and nothing that lives only in the caller: the spec, the variant, each
question with the chunks already retrieved for it, where the cache is, and the objects a caller injected (test fakes,
a notebook's own generator). The worker resolves model strings itself, so a model is loaded where it runs.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from workbench.cache import CachedEmbedder, CachedGenerator, CacheStore, locks_work
from workbench.execution._slots import CallSlots, SlotPool
from workbench.errors import BudgetExceeded
from workbench.grid import Variant
from workbench.metrics import COST_PER_SUCCESS, RETRIEVAL_METRICS, SUCCESS_METRIC, ScorerEntry, cost_per_success, percentile, scorer, scorer_entries
from workbench.models import MINILM_ID, Embedder, Generation, GenerationParams, Generator, ModelKind, Price, cost_of, default_kind, embeds_queries_apart, load_embedder, load_generator, runs_locally
from workbench.pipeline import ChunkStats, QuestionRecord, Router, generate_answer, route_answer, routing_metrics
from workbench.prompts import RenderedPrompt
from workbench.redaction import Redactor, redactor
from workbench.results import VariantResult
from workbench.sandbox import Outcome, Sandbox, Stopped, run_sandboxed
from workbench.scoring import Judge, ModelJudge, ScoreContext, ScoreFn, ScorerEnv, build_scorers, judge_metrics, mean_scores, run_scorers
from workbench.spec import ExecutionSpec, ExperimentSpec, JudgeSpec, ModelSpec, RouterSpec

__all__ = ["ModelResolver", "QuestionEvent", "VariantJob", "failed_result", "question_workers", "redacted_errors", "run_job", "variant_metrics", "wall_time_error", "with_slots"]


class QuestionEvent(Protocol):
    """Told as questions are answered (``question_done``) and scored (``question_scored``)."""

    def __call__(self, kind: str, done: int, total: int) -> None: ...


class ModelResolver:
    """Resolves model strings once and puts each model behind the cache (unless told not to).

    ``overrides`` inject ready models by model string (tests use the fakes from workbench.testing). ``retries``: of a
    hosted embedding call (the sweep's ``execution.retries``; generation params carry their own). ``claims``: the
    folder where an answer being computed is claimed (``CachedGenerator``); default: the store's ``claims_dir``, shared
    by every sweep using the cache (the caller's resolver, which ``isolation: none`` variants share, claimed nothing:
    two sweeps, or two variants of one, computed one answer each). ``home``: the sweep's settings' home, where the sha256
    of its model files is kept (``load_generator``); without ``record_sha256``, one computed is not written there (a dry
    run writes nothing).
    """

    def __init__(
        self, overrides: Mapping[str, Generator | Embedder] | None, store: CacheStore, *, read: bool = True, retries: int = 2,
        claims: str | None = None, home: Path | None = None, record_sha256: bool = True,
    ) -> None:
        self.overrides = dict(overrides or {})
        self.home = home
        self.record_sha256 = record_sha256
        self.retries = retries
        self.claims = claims if claims is not None else getattr(store, "claims_dir", None)
        self._loaded: dict[tuple[Any, ...], Any] = {}  # (model, kind, context window) or (embedding model, role)
        self._wrapped: dict[tuple[Any, ...], Any] = {}
        self.store = store
        self.read = read

    def _raw_generator(self, model_id: str, kind: ModelKind, window: int | None = None) -> Generator:
        if model_id in self.overrides:
            return self.overrides[model_id]  # type: ignore[return-value]
        key = (model_id, kind, window)
        if key not in self._loaded:
            self._loaded[key] = load_generator(model_id, kind=kind, home=self.home, record_sha256=self.record_sha256, context_window=window)
        return self._loaded[key]  # type: ignore[no-any-return]

    def generator(self, model_id: str, kind: ModelKind, *, cache: bool = True, window: int | None = None) -> Generator:
        """The generator of ``model_id`` served as ``kind``, behind the cache unless told not to; ``window``: a llama.cpp
        model's context window (None: the default one) or an Ollama model's num_ctx (None: its server's), each loaded apart."""
        key = (model_id, kind, cache, window)
        if key not in self._wrapped:
            raw = self._raw_generator(model_id, kind, window)
            self._wrapped[key] = CachedGenerator(raw, self.store, identity=raw.identity, read=self.read, claims=self.claims) if cache else raw
        return self._wrapped[key]  # type: ignore[no-any-return]

    def embedder(self, model_id: str, *, cache: bool = True, queries: bool = False) -> Embedder:
        """The embedding model ``model_id`` (an override as given); with ``queries``, the one of the questions retrieval
        searches with: the same one, unless the model embeds a query otherwise than a document (``embeds_queries_apart``),
        so that a model is loaded once."""
        role = "query embedder" if queries and embeds_queries_apart(model_id) else "embedder"
        if (model_id, role) not in self._loaded:
            found = self.overrides.get(model_id)
            self._loaded[(model_id, role)] = found if found is not None else load_embedder(
                model_id, retries=self.retries, queries=role == "query embedder", home=self.home, record_sha256=self.record_sha256)
        raw = self._loaded[(model_id, role)]
        if not cache:
            return raw  # type: ignore[no-any-return]
        key = (model_id, role, True)
        if key not in self._wrapped:
            self._wrapped[key] = CachedEmbedder(raw, self.store, identity=raw.identity, read=self.read)
        return self._wrapped[key]  # type: ignore[no-any-return]

    def identities(self, variant: Variant, judge: JudgeSpec | None = None) -> dict[str, str]:
        """The identities of the models whose outputs make a variant's results (with ``judge``, the judge's too: a
        judge served by another server or from another file scores differently)."""
        out = {"embedding": self.embedder(variant.retrieval.embedding, cache=False).identity}
        queries = self.embedder(variant.retrieval.embedding, cache=False, queries=True).identity
        if queries != out["embedding"]:  # questions embedded as queries retrieve otherwise than those embedded as documents
            out["query_embedding"] = queries
        if isinstance(variant.model, RouterSpec):
            for role, m in (("cheap", variant.model.cheap), ("strong", variant.model.strong)):
                out[role] = self._raw_generator(m.id, m.resolved_kind, m.window).identity
        elif variant.model is not None:
            out["generator"] = self._raw_generator(variant.model.id, variant.model.resolved_kind, variant.model.window).identity
        if judge is not None and variant.model is not None:
            out["judge"] = self._raw_generator(judge.id, judge.kind or default_kind(judge.id), judge.window).identity
        return out

    def judge(self, spec: ExperimentSpec, slots: Mapping[str, CallSlots] | None = None) -> Judge | None:
        """The spec's judge model, or None without a ``judge:`` section; with ``slots``, each judge call holds a slot
        of its provider's pool, as an answer's call does."""
        j = spec.judge
        if j is None:
            return None
        generator = self.generator(j.id, j.kind or default_kind(j.id), cache=j.cache, window=j.window)
        pool = (slots or {}).get(j.id.partition(":")[0])
        return ModelJudge(
            generator if pool is None else _Slotted(generator, pool), max_tokens=j.max_tokens, timeout_s=j.timeout_s,
            temperature=j.temperature, seed=spec.seed, price=spec.price(j.id), retries=spec.execution.retries, context_window=j.window,
        )


class _Slotted:
    """A generator whose every call holds a slot of its provider's pool while in flight, an answer's or a judge's (the
    judge's held none, so four variants scoring at once sent four calls past a limit of one)."""

    def __init__(self, inner: Generator, pool: CallSlots) -> None:
        self.inner = inner
        self.pool = pool
        self.model_id = inner.model_id
        self.kind: ModelKind = inner.kind

    @property
    def identity(self) -> str:
        return self.inner.identity

    def generate(
        self, prompt: RenderedPrompt, params: GenerationParams, *, deadline: float | None = None, json_schema: Mapping[str, Any] | None = None,
    ) -> Generation:
        with self.pool.slot():
            return self.inner.generate(prompt, params, deadline=deadline, json_schema=json_schema)


class _SlottedEmbedder:
    """An embedder whose every call holds a slot of its provider's pool while in flight: a router's grounding signal
    embeds each cheap answer from the question's thread (they held none, so two routers under {openai: 2} sent four
    embedding calls at once)."""

    def __init__(self, inner: Embedder, pool: CallSlots) -> None:
        self.inner = inner
        self.pool = pool
        self.model_id = inner.model_id

    @property
    def identity(self) -> str:
        return self.inner.identity

    @property
    def tokenizer(self) -> Any:
        return self.inner.tokenizer

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        with self.pool.slot():
            return self.inner.embed(texts)


@dataclass(frozen=True)
class VariantJob:
    """Everything one variant needs to run anywhere; it pickles (with cloudpickle), so it crosses process boundaries.

    Args:
        variant: what runs.
        spec: the experiment (limits, seed, pricing, judge, scorers).
        retrieved: each question with the chunks retrieved for it (retrieval ran where the index is).
        stats: the chunk statistics of the variant's index (reported with its run).
        workdir: the variant's private working directory.
        cache: the cache store (a disk store is reopened by path in another process).
        read_cache: False for ``--fresh``: recompute, still storing.
        overrides: injected models by model string.
        judge: an injected judge (else the spec's judge is loaded where the job runs).
        scorer_names: the scorers to run (None: the default set).
        custom_scorers: scorers registered in the caller (``@scorer`` in a notebook), registered again where the job runs.
        question_workers: questions answered at once (hosted models; 1 for local models).
        slots: per provider, the slots a call holds in flight (set by the executor): shared by every sweep using the
            cache, and a Ray task's share of the limit.
        answered_before: questions of this variant answered without error by its earlier jobs (racing batches).
        claims: the folder where the answers being computed are claimed (set by the executor with the slots: the disk
            cache's ``claims_dir``, shared by every sweep using it): two variants or sweeps asking one question at once
            compute it once.
        home: the sweep's settings' home, where the sha256 of its model files is kept.
    """

    variant: Variant
    spec: ExperimentSpec
    retrieved: tuple[QuestionRecord, ...]
    stats: ChunkStats
    workdir: str
    cache: CacheStore
    read_cache: bool = True
    overrides: Mapping[str, Any] = field(default_factory=dict)
    judge: Judge | None = None
    scorer_names: tuple[str, ...] | None = None
    custom_scorers: tuple[ScorerEntry, ...] = ()
    question_workers: int = 1
    slots: Mapping[str, CallSlots] = field(default_factory=dict)
    answered_before: int = 0
    claims: str | None = None
    home: Path | None = None

    @property
    def generates(self) -> bool:
        return self.variant.generates

    @property
    def judge_workers(self) -> int:
        """Answers judged at once: a hosted judge's provider limit (its replies come, and are stored, from that many
        threads); 1 for a local judge, or none."""
        return question_workers([self.spec.judge.id], self.spec.execution) if self.spec.judge is not None and self.generates else 1

    def scorers(self, resolver: ModelResolver) -> dict[str, ScoreFn]:
        """Build the job's scorers where it runs (the judge and embedder are loaded here, lazily)."""
        for entry in self.custom_scorers:
            scorer(entry.name, default=entry.default, judged=entry.judged, lower_is_better=entry.lower_is_better)(entry.factory)  # type: ignore[arg-type]
        if not self.generates:
            return build_scorers(self.scorer_names, ScorerEnv())
        judge = self.judge if self.judge is not None else resolver.judge(self.spec, self.slots)
        env = ScorerEnv(embedder=resolver.embedder(MINILM_ID), judge=judge, judge_repeats=self.spec.judge.n if self.spec.judge else 1)
        return build_scorers(self.scorer_names, env)


def wall_time_error(wall_time_s: float, how: str, *, scoring: bool) -> str:
    """The error of a variant ended past its wall time (``how``: what ended it), saying when its scoring ran out (a
    judge's many calls), which has a wall time of its own (pure)."""
    when = " while scoring its answers (scoring has a wall time of its own: the judge's calls)" if scoring else ""
    return f"wall-time limit of {wall_time_s:g}s exceeded{when}: {how} — raise limits.wall_time_s"


def question_workers(job_models: Sequence[str], execution: ExecutionSpec) -> int:
    """How many of a variant's questions are answered (or judged) at once: one for a local model (or when any of a
    router's two is local, or there is none), else the largest of its providers' limits. A call holds a slot of its
    own provider only while in flight, so a router's cheap calls fill their provider's limit while its escalations
    wait for the strong one's (the smallest limit answered one question at a time under {anthropic: 1})."""
    if not job_models or any(runs_locally(m) for m in job_models):
        return 1
    return max(execution.provider_limit(m.partition(":")[0]) for m in job_models)


def variant_metrics(records: tuple[QuestionRecord, ...], variant: Variant) -> dict[str, float]:
    """A variant's metrics from its scored records (pure): its scores and the metrics ``workbench.metrics`` lists as
    a run's (``RUN_METRICS``, ``ANSWER_METRICS``...), which the gates check a metric against."""
    generates = variant.generates
    out = mean_scores(r.scores for r in records)
    latencies = [r.latency_s for r in records if r.error is None]
    if latencies:
        out["latency_p50_s"] = percentile(latencies, 50)
        out["latency_p95_s"] = percentile(latencies, 95)
    out["questions"] = float(len(records))
    if not generates:
        return out
    out["question_errors"] = float(sum(1 for r in records if r.error))
    answered = [r.generation for r in records if r.generation]
    if all(r.usage_reported for r in records):
        # left out, never 0 or a part, when a server sent no token counts with some reply (as cost_usd is): its 0
        # tokens were the fewest of any variant on the leaderboard
        out["input_tokens"] = float(sum(g.input_tokens for g in answered))
        out["output_tokens"] = float(sum(g.output_tokens for g in answered))
    # calls that reached the model in this run (errors included) and answers read from the cache
    out["generation_calls"] = float(sum(1 for r in records if r.generation is None or not r.generation.cached))
    out["cache_hits"] = float(sum(1 for r in records if r.generation is not None and r.generation.cached))
    out["retries"] = float(sum(r.retries for r in records))  # a question that failed in the end retried too
    costs = [r.cost_usd for r in records if r.generation]
    # what this run's calls cost: an answer read from the cache cost nothing now, priced or not (a warm re-run of a
    # model without a price said 'spent now: answers unknown' for a sweep that made no call)
    spent = [r.cost_usd for r in records if r.generation and not r.generation.cached]
    if costs and all(c is not None for c in spent):
        out["spent_usd"] = float(sum(c for c in spent if c is not None))
    if costs and all(c is not None for c in costs):
        out["cost_usd"] = float(sum(c for c in costs if c is not None))
        out["cost_per_question_usd"] = out["cost_usd"] / len(costs)
        quality = [r.scores[SUCCESS_METRIC].value if SUCCESS_METRIC in r.scores else None for r in records if r.generation]
        per_success = cost_per_success(costs, quality)
        if per_success is not None and math.isfinite(per_success):
            out[COST_PER_SUCCESS] = per_success
    out.update(judge_metrics(r.scores for r in records))  # judge tokens and cost, apart from the answering model's
    if variant.router is not None:  # escalation rate, tokens and cost per model, every call counted
        out.update(routing_metrics(records, variant.router))
    return out


def _score_all(
    records: Sequence[QuestionRecord], scorers: Mapping[str, ScoreFn], price: Price | None, workers: int, tell: QuestionEvent,
) -> tuple[QuestionRecord, ...]:
    """The records scored, in order. With ``workers`` > 1 (a hosted judge: its provider's calls in flight) the judged
    scorers of that many answers run at once, the others one answer after another in this thread: judged one at a time,
    a hosted judge's 300 answers x 7 calls of a second outlasted the variant's wall time after its answers had all come."""
    entries = scorer_entries()
    judged = {name for name in scorers if name in entries and entries[name].judged} if workers > 1 else set()
    plain = {name: fn for name, fn in scorers.items() if name not in judged}
    if not judged:
        out = []
        for i, record in enumerate(records):
            out.append(_score(record, plain, price) if scorers else record)
            tell("question_scored", i + 1, len(records))
        return tuple(out)
    first = [_score(record, plain, price) for record in records]
    done = [0]
    lock = threading.Lock()

    def judge(record: QuestionRecord) -> QuestionRecord:
        if record.error is None:  # a failed answer has nothing to judge (as _score leaves it)
            scores = {**record.scores, **run_scorers({n: scorers[n] for n in judged}, _context(record))}
            record = replace(record, scores={n: scores[n] for n in scorers if n in scores})  # columns in the scorers' order
        with lock:
            done[0] += 1
            tell("question_scored", done[0], len(records))
        return record

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="judge") as pool:
        return tuple(pool.map(judge, first))


def _answer_cost(record: QuestionRecord, price: Price | None) -> float | None:
    """What an answer cost, as ``cost_usd`` will say (0 for a question that failed before any answer)."""
    if record.routed:  # a router priced each call
        return record.cost_usd
    return cost_of(record.generation, price) if record.generation else 0.0


def _context(record: QuestionRecord) -> ScoreContext:
    return ScoreContext(
        question=record.case.question,
        answer=record.answer,
        reference=record.case.reference,
        contexts=tuple(h.chunk.text for h in record.hits),
        retrieved_ids=record.retrieved_ids,
        relevant_ids=frozenset(record.case.source_ids),
        category=record.case.category,
    )


def _score(record: QuestionRecord, scorers: Mapping[str, ScoreFn], price: Price | None) -> QuestionRecord:
    # a question whose answer failed has no answer to score, but it was retrieved for: hit@k, recall@k, precision@k
    # and MRR score its chunks, so variants that retrieve alike report the same retrieval metrics
    scores = run_scorers(scorers if record.error is None else {n: f for n, f in scorers.items() if n in RETRIEVAL_METRICS}, _context(record))
    cost = _answer_cost(record, price) if record.generation or record.routed else None
    return replace(record, scores=scores, cost_usd=cost)


def failed_result(variant: Variant, error: str, kind: str, stats: ChunkStats, *, started_ms: int | None = None) -> VariantResult:
    """A variant that failed before it produced records (index build, worker process died, limit)."""
    now = int(time.time() * 1000)
    return VariantResult(variant, Outcome("FAILED", error, kind), (), {}, stats, started_ms or now, now)


def stopped_result(variant: Variant, why: str, stats: ChunkStats, *, started_ms: int) -> VariantResult:
    """A variant stopped by the user whose worker (process or Ray task) was ended before it sent its records; the
    answers it had are in the cache for the next sweep."""
    return VariantResult(variant, Outcome("STOPPED", why, "stopped"), (), {}, stats, started_ms, int(time.time() * 1000))


def generation_params(model: ModelSpec, spec: ExperimentSpec) -> GenerationParams:
    """How a sweep of ``spec`` calls ``model`` (pure): its params, the sweep's seed and retries (what its cached answers
    are keyed by, which a dry run counts)."""
    return model.params.generation(spec.seed, spec.execution.retries)


def run_job(
    job: VariantJob,
    *,
    on_question: QuestionEvent | None = None,
    stop: Callable[[], bool] | None = None,
    resolver: ModelResolver | None = None,
    on_ready: Callable[[float], None] | None = None,
    scoring: Callable[[int], AbstractContextManager[None]] | None = None,
) -> VariantResult:
    """Answer and score one variant's questions in this process; every way it can end is in the result's outcome.

    Args:
        job: the variant and its inputs.
        on_question: told after each question is answered and after each is scored.
        stop: polled between questions; True ends the variant STOPPED with the answers so far.
        resolver: reuse loaded models (in-process runs share the caller's); default: a new one over ``job.cache``.
        on_ready: told the variant's deadline (``time.monotonic()``) once its scorers are built and its wall time runs,
            and again when scoring starts (scoring gets a wall time of its own).
        scoring: the block the scoring runs in, given how many answers are judged at once (``judge_workers``): a
            worker process holds its SIGTERM there while the judge's replies are stored from threads.
    """
    started_ms = int(time.time() * 1000)
    tell = on_question or (lambda kind, done, total: None)
    models = resolver or ModelResolver(job.overrides, job.cache, read=job.read_cache, retries=job.spec.execution.retries, claims=job.claims,
                                       home=job.home)
    spec, variant = job.spec, job.variant
    records: list[QuestionRecord | None] = [None] * len(job.retrieved)
    model, prompt = variant.model, variant.prompt
    price = spec.price(model.id) if isinstance(model, ModelSpec) else None
    try:
        scorers = job.scorers(models)
    except Exception as exc:  # noqa: BLE001 - a scorer that cannot be built fails its variant
        return failed_result(variant, f"scorers could not be built: {type(exc).__name__}: {exc}", "scorers", job.stats, started_ms=started_ms)
    sandbox = Sandbox(Path(job.workdir), wall_time_s=spec.limits.wall_time_s, max_tokens=spec.limits.max_tokens,
                      max_cost_usd=spec.limits.max_cost_usd)
    if on_ready is not None:
        on_ready(sandbox.deadline)

    def body(box: Sandbox) -> None:
        total = len(job.retrieved)
        if model is None or prompt is None:
            for i, found in enumerate(job.retrieved):
                records[i] = found
            return
        template = prompt.as_template()

        def params_of(m: ModelSpec) -> GenerationParams:
            return generation_params(m, spec)

        def slotted(model_id: str, generator: Generator) -> Generator:
            """The generator of ``model_id``, each of whose calls to a hosted provider holds a slot of its pool while in
            flight (not the whole question: a routed question held its strong model's slot while the cheap one answered)."""
            pool = job.slots.get(model_id.partition(":")[0])
            return generator if pool is None else _Slotted(generator, pool)

        def slotted_embedder(model_id: str, embedder: Embedder) -> Embedder:
            pool = job.slots.get(model_id.partition(":")[0])
            return embedder if pool is None else _SlottedEmbedder(embedder, pool)

        respond: Callable[[QuestionRecord], QuestionRecord]
        if isinstance(model, RouterSpec):  # cheap model first, the strong one when a signal fires
            router = Router.from_spec(
                model, generator=lambda m: slotted(m.id, models.generator(m.id, m.resolved_kind, cache=m.cache, window=m.window)), params=params_of,
                price=spec.price,
                embedder=slotted_embedder(variant.retrieval.embedding, models.embedder(variant.retrieval.embedding)),
            )
            respond = lambda found: route_answer(found, template=template, router=router, deadline=box.deadline)  # noqa: E731
        else:
            generator = slotted(model.id, models.generator(model.id, model.resolved_kind, cache=model.cache, window=model.window))
            params = params_of(model)
            respond = lambda found: generate_answer(found, template=template, generator=generator, params=params, deadline=box.deadline)  # noqa: E731
        (box.workdir / "prompt.txt").write_text(template.text, encoding="utf-8")
        lock = threading.Lock()
        done = [0]
        answering = model.id if isinstance(model, ModelSpec) else model.name

        def answer(i: int) -> QuestionRecord:
            record = respond(job.retrieved[i])
            with lock:
                records[i] = record
                done[0] += 1
                tell("question_done", done[0], total)
                if record.generation and record.generation.finish_reason == "deadline":
                    raise BudgetExceeded(
                        f"wall-time limit of {box.wall_time_s:g}s exceeded during question {i + 1}/{total} — raise limits.wall_time_s",
                        kind="timeout",
                    )
                box.charge(record.tokens, _answer_cost(record, price), unpriced=f"an answer of {answering} came without token counts")
            return record

        if job.question_workers <= 1:
            for i in range(total):
                if stop is not None and stop():
                    raise Stopped()
                box.check_time(i, total)
                answer(i)
        else:
            _answer_concurrently(answer, total, job.question_workers, box, stop)
        finished = [r for r in records if r is not None]
        if finished and all(r.error for r in finished):
            if job.answered_before:  # a racing batch: the variant's earlier questions were answered
                raise RuntimeError(
                    f"every question of a racing batch failed ({len(finished)} in the batch; {job.answered_before} answered "
                    f"before it) — a larger execution.racing.batch rides out a passing error; first error: {finished[0].error}"
                )
            raise RuntimeError(f"every question failed; first error: {finished[0].error}")

    outcome = run_sandboxed(body, sandbox)
    if on_ready is not None:
        on_ready(time.monotonic() + spec.limits.wall_time_s)  # scoring has a wall time of its own
    if outcome.error_kind == "MemoryError" and spec.limits.memory_mb is not None:
        outcome = Outcome("FAILED", f"memory limit of {spec.limits.memory_mb} MB exceeded — raise limits.memory_mb", "memory", outcome.traceback)
    answered = [r for r in records if r is not None]
    judging = job.judge_workers
    with scoring(judging) if scoring is not None else nullcontext():
        scored = _score_all(answered, scorers, price, judging, tell)
    return VariantResult(
        variant=variant, outcome=outcome, records=scored, metrics=variant_metrics(scored, variant), chunk_stats=job.stats,
        started_ms=started_ms, ended_ms=int(time.time() * 1000), workdir=sandbox.release(outcome),
    )


def redacted_errors(result: VariantResult) -> VariantResult:
    """The result with the secrets of this process's environment redacted from the texts the variant's run wrote: its
    error and traceback, each question's error, each model call's, each score's error and explanation.

    A Ray task does this before its result leaves the worker: a cluster's workers hold provider keys that the caller
    does not (they come from the workers' environment), so the caller's redactor cannot know them, and a provider's
    error echoing one was logged and printed whole. (Answers are redacted where a hosted model makes them.)
    """
    red = redactor()
    outcome = replace(result.outcome, error=_redacted(red, result.outcome.error), traceback=_redacted(red, result.outcome.traceback))
    records = tuple(_record_redacted(red, r) for r in result.records)
    return replace(result, outcome=outcome, records=records)


def _redacted(red: Redactor, text: str | None) -> str | None:
    return None if text is None else red.redact(text)


def _record_redacted(red: Redactor, record: QuestionRecord) -> QuestionRecord:
    scores = {name: replace(s, error=_redacted(red, s.error), explanation=red.redact(s.explanation)) for name, s in record.scores.items()}
    calls = tuple(replace(c, error=_redacted(red, c.error)) for c in record.calls)
    return replace(record, error=_redacted(red, record.error), scores=scores, calls=calls)


def _answer_concurrently(answer: Callable[[int], QuestionRecord], total: int, workers: int, box: Sandbox, stop: Callable[[], bool] | None) -> None:
    """Answer questions ``workers`` at a time, in order of submission; the first failure or a stop cancels the rest."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="question") as pool:
        pending = []
        try:
            for i in range(total):
                if stop is not None and stop():
                    raise Stopped()
                box.check_time(i, total)
                pending.append(pool.submit(answer, i))
                if len(pending) >= workers:
                    pending.pop(0).result()
            for future in pending:
                future.result()
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def with_slots(jobs: Sequence[VariantJob], execution: ExecutionSpec, folder: str, *, share: int = 1) -> list[VariantJob]:
    """The jobs with the slots of each hosted provider they call (answering models, the judge, a router's embedding
    model), and, for a cache on disk, its claims folder (``claims_dir``, beside it), where every sweep using that cache
    claims the answers it computes: a claims folder of the sweep's own let two sweeps at once compute (pay for) each
    new answer twice.

    A call holds a slot of the provider's pool in the cache's ``slots_dir``, shared by every sweep using the cache:
    with pools in ``folder``, the sweep's own, two sweeps at once (two CI jobs, two notebooks) each sent the limit's
    number of calls, twice what the provider allows. A pool of ``provider_limit // share`` slots in ``folder`` comes
    first when ``share`` > 1 (a Ray task: the cache's folder on another node is another folder). In memory, or on a
    mount without ``flock``, the sweep keeps its pools in ``folder``, as claims are done without there.
    """
    called = [m.id for j in jobs for m in j.variant.answering_models] + [j.spec.judge.id for j in jobs if j.spec.judge and j.generates]
    called += [j.variant.retrieval.embedding for j in jobs if j.variant.router is not None]  # its grounding signal's calls
    providers = sorted({model_id.partition(":")[0] for model_id in called if not runs_locally(model_id)})
    shared = _shared_slots_dir(jobs[0].cache) if jobs and providers else None
    slots = {p: CallSlots(_pools(p, execution.provider_limit(p), folder, shared, share)) for p in providers}
    return [replace(j, slots=slots, claims=getattr(j.cache, "claims_dir", None)) for j in jobs]


def _pools(provider: str, limit: int, folder: str, shared: str | None, share: int) -> tuple[SlotPool, ...]:
    """The pools a call to ``provider`` holds a slot of, in the order it takes them (pure)."""
    if shared is None:
        return (SlotPool(folder, provider, max(1, limit // share)),)
    if share <= 1:
        return (SlotPool(shared, provider, limit),)
    return SlotPool(folder, provider, max(1, limit // share)), SlotPool(shared, provider, limit)


def _shared_slots_dir(cache: CacheStore) -> str | None:
    """The cache's slots folder, or None when it has none (in memory), its mount takes no ``flock``, or it cannot be
    made (a file of its name, a folder this user may not write to): the slots only share a limit with other sweeps,
    and failed the whole sweep there."""
    directory = getattr(cache, "slots_dir", None)
    if directory is None:
        return None
    try:
        return directory if locks_work(Path(directory)) else None
    except OSError:
        return None


# The libraries a scorer imports when it first runs: a forkserver imports them once for every worker, which would
# otherwise each pay for them (ragas alone is seconds of imports; rouge_score imports nltk).
_RAGAS = ("ragas.dataset_schema", "ragas.metrics", "ragas.metrics.collections")
_SCORER_LIBRARIES: dict[str, tuple[str, ...]] = {
    "semantic_similarity": ("sentence_transformers",),
    "answer_relevancy": ("sentence_transformers", *_RAGAS),
    "rouge_l": ("rouge_score.rouge_scorer",),
    **dict.fromkeys(
        ("string_similarity", "bleu", "chrf", "non_llm_context_recall", "non_llm_context_precision", "faithfulness",
         "context_precision", "context_recall"),
        _RAGAS,
    ),
}


def _preload(variants: Sequence[Variant], scorer_names: Sequence[str], overrides: Mapping[str, Any], judge: str | None = None) -> tuple[str, ...]:
    """The heavy libraries the workers of these generating variants will import, scoring with ``scorer_names`` (all
    of them when empty) and the ``judge`` model, when one of them is LLM-judged: a forkserver imports them once for all
    its workers."""
    models = {m.id.partition(":")[0] for v in variants for m in v.answering_models if m.id not in overrides}
    entries = scorer_entries()
    if variants and judge is not None and judge not in overrides and any(entries[n].judged for n in scorer_names or entries if n in entries):
        models.add(judge.partition(":")[0])  # a hosted judge of local answers: its client was imported by each worker
    out: list[str] = []
    if models & {"local", "llamacpp"}:
        out.append("llama_cpp")
    if models & {"openai", "azure_openai"}:
        # the openai client imports its resources and HTTP transport when the first chat model is built (0.2 s)
        out.extend(("langchain_openai", "openai.resources", "httpcore", "h11"))
    if variants:
        for name in scorer_names or _SCORER_LIBRARIES:
            for module in _SCORER_LIBRARIES.get(name, ()):
                if module == "sentence_transformers" and MINILM_ID in overrides:
                    continue  # a test's embedder stands in for the real one
                if module not in out:
                    out.append(module)
    return tuple(out)


def _jobs_preload(jobs: Sequence[VariantJob]) -> tuple[str, ...]:
    """``_preload`` for the generating jobs among ``jobs`` (their scorers together)."""
    generating = [j for j in jobs if j.generates]
    names = tuple(dict.fromkeys(n for j in generating for n in (j.scorer_names or _SCORER_LIBRARIES)))
    judge = generating[0].spec.judge if generating and generating[0].judge is None else None
    return _preload([j.variant for j in generating], names, generating[0].overrides if generating else {}, judge.id if judge else None)


def import_preloads(job: VariantJob) -> None:
    """Import what ``job``'s models and scorers will (``_jobs_preload``) in this process now, before its wall time
    starts: a forkserver's worker inherits them, a fresh Ray worker imported them within the variant's wall time (the
    openai client seconds on a busy machine, ragas more), so a wall time a worker process kept failed on Ray. A module
    that is not installed is left to fail where the variant needs it, with its hint."""
    import importlib

    for module in _jobs_preload([job]):
        try:
            importlib.import_module(module)
        except ImportError:
            pass
