"""What a sweep would do, found without running or computing anything: ``workbench run --dry-run``."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workbench.cache import CachedEmbedder, CachedGenerator, CacheReader, ExtractedTexts, embedding_key, generation_key
from workbench.config import Settings, settings as default_settings
from workbench.datasets import Corpus, Dataset
from workbench.execution import ModelResolver, generation_params
from workbench.grid import CHARS_PER_TOKEN, SweepPlan, Variant, VariantPlan, embedded_index_key, expand_grid, plan_grid
from workbench.metrics import scorer_entries
from workbench.models import (
    DEFAULT_CONTEXT_WINDOW,
    MINILM_ID,
    OLLAMA_DEFAULT_WINDOW,
    Embedder,
    Generator,
    Price,
    default_kind,
    prompt_budget,
    runs_locally,
    sends_window,
)
from workbench.pipeline import (
    Hit,
    IndexStore,
    QuestionRecord,
    Router,
    existing_index_store,
    format_context,
    retrievers_sharing_search,
    route_answer,
)
from workbench.prompts import PromptTemplate, RenderedPrompt, template_variables
from workbench.results import corpus_notes
from workbench.scoring import JUDGED_METRICS, Judge, JudgeReply, ModelJudge, ScoreContext, ScoreFn, ScorerEnv, build_scorers, judge_prompts
from workbench.spec import ExperimentSpec, JudgeSpec, ModelSpec, RouterSpec, load_experiment
from workbench.tracking import MlflowTracker
from workbench.runner._inputs import sweep_inputs
from workbench.runner._reuse import Scoring, reuse_keys, sweep_scoring
from workbench.runner._sweep import check_can_start

__all__ = ["plan_sweep"]



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
    holds, and the model calls left with their estimated cost, the judge's apart (``_JudgePricing``).

    The tracking store, the answer cache, the index store and the records of model files' sha256 are read, never made,
    locked or written: a dry run in a fresh folder leaves it as it was. A variant's cached answers are counted when its
    index is built and its questions were embedded before (its prompts are then rendered with what it would retrieve);
    else all its calls are counted.
    The arguments are ``run``'s (``dataset`` and ``corpus`` in memory too).

    Raises:
        What ``run`` raises before it starts: a bad spec, dataset or corpus; an unusable tracking store; every variant
        unservable (a provider package or API key missing).
    """
    spec = experiment.validated() if isinstance(experiment, ExperimentSpec) else load_experiment(experiment)
    cfg = settings or default_settings()
    cache = CacheReader(cfg.cache_dir)
    spec, dataset, corpus = sweep_inputs(spec, limit, dataset=dataset, corpus=corpus, texts=ExtractedTexts(cache))  # read, never kept
    variants = expand_grid(spec, generate=generate)
    check_can_start(spec, variants, models, judge, cfg, own_index_store=True)
    # a model file's sha256 is read where the sweep keeps it, computed here when it is not, and recorded by the sweep
    resolver = ModelResolver(models, cache, read=not fresh, retries=spec.execution.retries, home=cfg.home, record_sha256=False)
    scoring = sweep_scoring(spec, resolver, judge, generating=any(v.generates for v in variants))
    keys, _, unservable = reuse_keys(spec, variants, resolver, scoring, given_judge=judge is not None, dataset=dataset, corpus=corpus)
    if unservable and len(unservable) == len(variants) and spec.execution.backend != "ray":
        raise next(iter(unservable.values()))  # as run says it, before anything
    store = None if fresh or not keys else MlflowTracker.existing(cfg.tracking_uri)
    try:
        reusable = store.reusable_before(spec.name, dataset.hash, corpus.hash, keys, spec.limits) if store is not None else {}
    finally:
        if store is not None:  # read once: its connections let go of (a kernel plans in project after project)
            store.close()
    todo = [v for v in variants if v.id not in reusable and v.id not in unservable]
    indexes = existing_index_store(spec, cfg) if todo else None
    judging = _judge_pricing(spec, scoring, resolver, cache, look_up=judge is None and not fresh) if todo else None
    try:
        planned = {p.variant.id: p for p in _planned_groups(spec, todo, resolver, cache, indexes, dataset, corpus, judging, fresh=fresh)}
    finally:
        if indexes is not None:
            indexes.close()
    built = {v.index_group for v in todo if planned[v.id].index_built}
    plans = tuple(
        VariantPlan(v, len(dataset), reused_from=reusable[v.id]) if v.id in reusable
        else VariantPlan(v, len(dataset), unservable=f"{type(unservable[v.id]).__name__}: {unservable[v.id]}") if v.id in unservable
        else planned[v.id]
        for v in variants
    )
    # a scorer registered as judged calls the judge as it will: its calls cannot be counted
    uncounted = tuple(n for n in scoring.answer_scorers if scorer_entries()[n].judged and n not in JUDGED_METRICS)
    return SweepPlan(plan_grid(spec, variants, len(dataset), len(corpus.documents)), plans, indexes_built=len(built),
                     indexes_needed=len({v.index_group for v in todo}), judge_uncounted=uncounted if todo else (),
                     notes=(*corpus_notes(dataset, corpus), *_window_notes(spec, plans)))


def _planned_groups(
    spec: ExperimentSpec, todo: Sequence[Variant], resolver: ModelResolver, cache: CacheReader, indexes: IndexStore | None,
    dataset: Dataset, corpus: Corpus, judging: _JudgePricing | None, *, fresh: bool,
) -> Iterator[VariantPlan]:
    """The plans of the variants a sweep would compute, an index at a time: each looked up (read only) and, when built
    and its questions' vectors are in the cache, searched for every retrieval setting, so each variant's prompts are
    rendered as its sweep would render them and its answers looked up in the cache."""
    groups: dict[tuple[str, str], list[Variant]] = {}
    for v in todo:
        groups.setdefault(v.index_group, []).append(v)
    questions = [c.question for c in dataset.cases]
    asked: set[str] = set()  # the answers an earlier variant asks the model for: the sweep's cache answers them once
    for group in groups.values():
        chunker, embedding = group[0].chunker, group[0].retrieval.embedding
        embedder = resolver.embedder(embedding, cache=False)
        index = indexes.open(embedded_index_key(chunker, embedding, corpus.text_hash, embedder.identity)) if indexes is not None else None
        # the prompts are rendered from what the questions find (their vectors in the cache), --fresh or not: it recomputes
        # the answers, which are then all to pay for
        queries = resolver.embedder(embedding, cache=False, queries=True)
        embedded = len(cache.cached("embedding", [embedding_key(queries.identity, q) for q in questions])) == len(set(questions))
        retrievals: dict[str, list[tuple[Hit, ...]]] = {}
        if index is not None and embedded:  # the settings share each question's search, as the sweep's do
            vectors = CachedEmbedder(queries, cache, identity=queries.identity)
            retrievers = retrievers_sharing_search(index, vectors, [v.retrieval for v in group if v.generates], corpus.page_starts)
            retrievals = {key: [] for key in retrievers}
            for q in questions:
                for key, retriever in retrievers.items():
                    retrievals[key].append(tuple(retriever.retrieve(q)))
        for v in group:
            hits = retrievals[v.retrieval.model_dump_json()] if index is not None and embedded and v.generates else None
            yield _variant_plan(spec, v, dataset, hits, cache, lambda m: resolver.generator(m.id, m.resolved_kind, cache=False, window=m.window),
                                index_built=index is not None, fresh=fresh, embedder=embedder, judging=judging, asked_before=asked)


def _variant_plan(
    spec: ExperimentSpec, variant: Variant, dataset: Dataset, hits: list[tuple[Hit, ...]] | None, cache: CacheReader,
    served: Callable[[ModelSpec], Generator], *, index_built: bool, fresh: bool, embedder: Embedder | None = None,
    judging: _JudgePricing | None = None, asked_before: set[str] | None = None,
) -> VariantPlan:
    """A computed variant's plan: for each answering model (``served`` gives the generator serving it, uncached: its
    identity and kind key its answers), its answers in the cache (when ``hits``, what it would retrieve, render its
    prompts) and the estimated cost of the others. A router's questions are routed as its sweep would route them, from
    the cache (``_routed_answers``): each model counts only the questions it would answer, or might. Then the judge's
    calls on its answers (``judging``), those on cached answers looked up in the cache. ``asked_before``: the cache keys of the
    answers earlier variants of the sweep ask for, which this variant's same prompts find in the cache (``shared``, not
    counted or priced again); its own are added to it, but for a router's strong model, which may not be asked."""
    plan = VariantPlan(variant, len(dataset), index_built=index_built, budget_usd=spec.limits.max_cost_usd, budget_tokens=spec.limits.max_tokens)
    if variant.prompt is None:
        return plan
    template = variant.prompt.as_template()
    prompts = [template.render(question=c.question, context=format_context(h)) for c, h in zip(dataset.cases, hits)] if hits is not None else None
    # before the index exists, each prompt as long as k of the longest chunks its chunker cuts make it
    longest = "\n\n".join(["x" * _chunk_chars(variant)] * variant.retrieval.k)
    rendered = prompts if prompts is not None else [template.render(question=c.question, context=longest) for c in dataset.cases]
    # the prompts as they will be sent: what it would retrieve rendered, or a closed-book template's, the same whatever it retrieves
    exact = rendered if prompts is not None or "context" not in template_variables(template.text) else None
    shared = 0
    cached: int | None = 0 if hits is not None else None
    cost: float | None = 0.0
    total: float | None = 0.0
    tokens = 0
    least: tuple[float | None, int] | None = None  # a router's cheap answers alone: what it costs escalating nothing
    routed = (_routed_answers(spec, variant.router, template, dataset, hits, cache, served, embedder)
              if variant.router is not None and hits is not None and embedder is not None and not fresh else None)
    answers = 0
    texts: list[str | None] | None = None  # the cached answers of a variant with one model, to judge
    answer_keys: list[str] | None = None  # and the cache keys of its answers, cached or to come
    for j, m in enumerate(variant.answering_models):
        generator = served(m)
        asked = routed[j] if routed is not None else [True] * len(dataset)
        answers += sum(asked)
        hit = [False] * len(dataset)
        again = [False] * len(dataset)  # asked by an earlier variant, not cached yet
        # the cache keys of its answers, when its prompts are known (``exact`` is ``prompts`` whenever they are)
        keys = ([generation_key(generator.identity, generator.kind, p, generation_params(m, spec)) for p in exact]
                if exact is not None and m.cache and not fresh else None)
        if prompts is not None and keys is not None:
            found = cache.cached("generation", keys)
            hit = [k in found for k in keys]
            if variant.router is None:
                texts = [_cached_text(cache, k) if k in found else None for k in keys]
                answer_keys = keys
        if keys is not None and asked_before is not None:  # --fresh reads no answer another variant made
            certain = variant.router is None or m is variant.router.cheap  # a router's strong model answers what it escalates
            for i, key in enumerate(keys):
                if not asked[i] or hit[i]:
                    continue
                if key in asked_before:
                    again[i] = True
                elif certain:
                    asked_before.add(key)
        if cached is not None:
            cached += sum(h for h, a in zip(hit, asked) if a)
        lengths = [len(p.text) if generator.kind == "completion" else sum(len(c) for _, c in p.messages) for p in rendered]
        lengths = [n for n, a in zip(lengths, asked) if a]
        shared += sum(g for g, a in zip(again, asked) if a)
        hit = [h or g for h, g, a in zip(hit, again, asked) if a]  # neither is paid for
        price = spec.price(m.id)
        each = [price.cost(math.ceil(n / CHARS_PER_TOKEN), m.params.max_tokens) if price is not None else None for n in lengths]
        tokens += sum(math.ceil(n / CHARS_PER_TOKEN) + m.params.max_tokens for n in lengths)
        missed = [c for c, h in zip(each, hit) if not h]
        cost = None if cost is None or any(c is None for c in missed) else cost + sum(c for c in missed if c is not None)
        total = None if total is None or any(c is None for c in each) else total + sum(c for c in each if c is not None)
        if variant.router is not None and m is variant.router.cheap:
            least = (total, tokens)
    over = _over_window(variant, prompts)
    plan = replace(plan, answers=answers, cached=cached, shared=shared, cost_usd=cost, total_cost_usd=total, over_window=over, unset_windows=_unset_windows(variant, rendered),
                   tokens=tokens, least_cost_usd=least[0] if least else None, least_tokens=least[1] if least else None)
    return judging.priced(plan, dataset, hits, texts, answer_keys) if judging is not None else plan


def _cached_text(cache: CacheReader, key: str) -> str | None:
    entry = cache.get("generation", key)
    return str(entry["text"]) if entry is not None else None


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


def _over_window(variant: Variant, prompts: Sequence[RenderedPrompt] | None) -> tuple[int, int] | None:
    """How many of the rendered ``prompts`` are estimated (at ``CHARS_PER_TOKEN``) longer than what the context window
    of the variant's first llama.cpp model, or Ollama model with a ``context_window``, leaves them beside its
    ``max_tokens`` (``prompt_budget``), and that window; None when none is, or the prompts are not known (pure)."""
    model = next((m for m in variant.answering_models if runs_locally(m.id) or (sends_window(m.id) and m.window is not None)), None)
    if model is None or prompts is None:
        return None
    window = model.window or DEFAULT_CONTEXT_WINDOW
    budget = prompt_budget(window, model.params.max_tokens)
    over = sum(_tokens(model, p) > budget for p in prompts)
    return (over, window) if over else None


def _tokens(model: ModelSpec, prompt: RenderedPrompt) -> int:
    """A rendered prompt's input tokens for ``model``, estimated at ``CHARS_PER_TOKEN`` (pure)."""
    return math.ceil((len(prompt.text) if model.resolved_kind == "completion" else sum(len(c) for _, c in prompt.messages)) / CHARS_PER_TOKEN)


def _unset_windows(variant: Variant, prompts: Sequence[RenderedPrompt]) -> tuple[tuple[str, int], ...]:
    """Each Ollama model of the variant without a ``context_window`` whose longest prompt (``prompts``: as rendered, or
    as long as the chunker's longest chunks make them) and its ``max_tokens`` may pass ``OLLAMA_DEFAULT_WINDOW``, with
    those tokens (pure)."""
    found = []
    for m in variant.answering_models:
        if sends_window(m.id) and m.window is None and prompts:
            longest = max(_tokens(m, p) for p in prompts) + m.params.max_tokens
            if longest > OLLAMA_DEFAULT_WINDOW:
                found.append((m.id, longest))
    return tuple(found)


def _window_notes(spec: ExperimentSpec, plans: Sequence[VariantPlan]) -> tuple[str, ...]:
    """One line per Ollama model (the judge too) without a ``context_window`` whose prompts may pass what its server
    reads unless told, which drops a longer prompt's start without a word; and one for an Ollama judge whose set window
    is shorter than its longest prompt and max_tokens (pure)."""
    longest: dict[str, int] = {}
    for plan in plans:
        for model_id, tokens in plan.unset_windows:
            longest[model_id] = max(tokens, longest.get(model_id, 0))
    notes = [f"{model_id}: its prompts and max_tokens may take ~{tokens:,} tokens, more than the {OLLAMA_DEFAULT_WINDOW:,} an Ollama "
             "server reads unless told (some versions 4096, or its OLLAMA_CONTEXT_LENGTH), which drops a longer prompt's start "
             "without a word: its instructions and best-ranked chunks — set the model's context_window (sent as num_ctx), e.g. "
             f"context_window: {_window_for(tokens)}" for model_id, tokens in longest.items()]
    judge = spec.judge
    judged = max((p.judge_longest for p in plans), default=0)
    if judge is not None and sends_window(judge.id) and judged:
        needed = judged + judge.max_tokens
        if judge.window is None and needed > OLLAMA_DEFAULT_WINDOW:
            notes.append(f"judge {judge.id}: its prompts and max_tokens may take ~{needed:,} tokens, more than the "
                         f"{OLLAMA_DEFAULT_WINDOW:,} an Ollama server reads unless told, which drops a longer prompt's start (the "
                         f"metric's instructions) without a word — set judge.context_window, e.g. {_window_for(needed)}")
        elif judge.window is not None and judged > prompt_budget(judge.window, judge.max_tokens):
            notes.append(f"judge {judge.id}: its prompts and max_tokens may take ~{needed:,} tokens, more than its context window "
                         f"({judge.window:,} tokens), whose excess Ollama drops from a prompt's start without a word — raise "
                         f"judge.context_window, e.g. {_window_for(needed)}")
    return tuple(notes)


def _window_for(tokens: int) -> int:
    """The least power of two holding ``tokens`` (pure): a context window to suggest."""
    return 1 << max(tokens - 1, 1).bit_length()


def _chunk_chars(variant: Variant) -> int:
    """The most characters a chunk of ``variant``'s chunker holds (pure)."""
    return variant.chunker.size * (CHARS_PER_TOKEN if variant.chunker.strategy == "token" else 1)


class _Tally:
    """The judge a dry run scores cached answers with: it answers from the cache only (a call the cache does not hold
    is a failed reply, which ends that repeat of the metric as a failed call would) and counts the replies it found."""

    def __init__(self, inner: Judge) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.cached = 0

    def ask(self, prompt: str, schema: Mapping[str, Any], *, repeat: int = 0) -> JudgeReply:
        reply = self.inner.ask(prompt, schema, repeat=repeat)
        self.cached += reply.cached
        return reply


@dataclass(frozen=True)
class _JudgePricing:
    """How a dry run prices the judge's calls on a variant's answers: the built-in judged metrics the sweep scores with
    (``judge_prompts`` lists each one's calls), ``repeats`` of each, every prompt at ``CHARS_PER_TOKEN`` characters
    a token and every reply ``max_tokens`` long, at ``price`` (None: unknown). ``replay``: the metrics scoring through
    ``tally``, to count the judge's replies to a cached answer that the cache holds (none: nothing is looked up, and
    the judge's cache is not read: each call is paid). ``asked``: the judge's calls counted so far in the sweep, by what
    keys the judge's cache (a call made again, by this variant or another, is answered from the first)."""

    metrics: tuple[str, ...]
    repeats: int
    max_tokens: int
    price: Price | None
    replay: Mapping[str, ScoreFn]
    tally: _Tally | None
    asked: set[tuple[object, ...]] = field(default_factory=set)

    def cached_calls(self, metric: str, ctx: ScoreContext) -> int:
        """The judge's replies about ``ctx`` the cache holds, found by scoring it as the sweep would."""
        if self.tally is None:
            return 0
        self.tally.cached = 0
        try:
            self.replay[metric](ctx)
        except LookupError:
            pass  # answer relevancy's embedding of its generated question, not in the cache: the judge's reply was counted
        return self.tally.cached

    def priced(self, plan: VariantPlan, dataset: Dataset, hits: list[tuple[Hit, ...]] | None, answers: list[str | None] | None,
               answer_keys: list[str] | None = None) -> VariantPlan:
        """``plan`` with the judge's calls on its answers: their number (a bound: an answer not in the cache is counted as
        long as its max_tokens, and a refusal or a failed answer is not judged), those the cache holds, and the cost of
        the others (None when the judge's price is unknown); a call the sweep makes twice is counted once. ``hits``: what
        each question retrieves (None: ``k`` chunks as long as the chunker cuts them); ``answers``: the cached answers
        (None where not cached), and ``answer_keys`` their cache keys (one key, one answer: cached or to come)."""
        variant = plan.variant
        longest = max(m.params.max_tokens for m in variant.answering_models) * CHARS_PER_TOKEN
        calls = cached = asked_longest = 0
        cost = 0.0
        once = hits is not None and self.tally is not None  # the prompts' texts known, and the judge's cache read
        for i, case in enumerate(dataset.cases):
            contexts = tuple(h.chunk.text for h in hits[i]) if hits is not None else ("x" * _chunk_chars(variant),) * variant.retrieval.k
            answer = answers[i] if answers is not None else None
            to_come = _answer_to_come(answer_keys[i] if answer_keys is not None else f"{variant.id}/{i}", longest)
            ctx = ScoreContext(question=case.question, answer=to_come if answer is None else answer, reference=case.reference,
                               contexts=contexts, category=case.category)
            for metric in self.metrics:
                prompts = [(r, p) for r in range(self.repeats) for p in judge_prompts(metric, ctx, statements_chars=self.max_tokens * CHARS_PER_TOKEN)]
                found = min(len(prompts), self.cached_calls(metric, ctx)) if answer is not None and prompts else 0
                asked_longest = max([asked_longest, *(math.ceil(p.chars / CHARS_PER_TOKEN) for _, p in prompts)])
                for n, (repeat, prompt) in enumerate(prompts):
                    if once and not self._first_ask(repeat, prompt.made_of):
                        continue
                    if n < found:
                        cached += 1
                    else:
                        calls += 1
                        cost += self._cost(prompt.chars)
        return replace(plan, judge_calls=calls, judge_cached=cached, judge_cost_usd=cost if self.price is not None else None,
                       judge_longest=asked_longest)

    def _first_ask(self, repeat: int, made_of: tuple[str, ...]) -> bool:
        """Whether the sweep asks the judge this for the first time (noted: asked again, the judge's cache answers)."""
        if (repeat, made_of) in self.asked:
            return False
        self.asked.add((repeat, made_of))
        return True

    def _cost(self, prompt_chars: int) -> float:
        return self.price.cost(math.ceil(prompt_chars / CHARS_PER_TOKEN), self.max_tokens) if self.price is not None else 0.0


def _answer_to_come(key: str, length: int) -> str:
    """An answer not made yet, as long as it may be: its cache key repeated, so that two answers to one prompt (which
    the cache makes one) are one text and any two others differ (pure)."""
    return (key * (length // len(key) + 1))[:length]


def _judge_pricing(spec: ExperimentSpec, scoring: Scoring, resolver: ModelResolver, cache: CacheReader, *, look_up: bool) -> _JudgePricing | None:
    """How to price the judge's calls of a sweep (None: it judges nothing). A judge handed to ``run`` is priced when it is
    a ``ModelJudge`` (it has its price), and its replies are not looked up (``look_up`` False, as with ``--fresh``), nor
    those of a judge with ``cache: false``."""
    judge = scoring.judge
    metrics = tuple(m for m in JUDGED_METRICS if m in scoring.answer_scorers)
    if judge is None or not metrics:
        return None
    max_tokens, price = (judge.max_tokens, judge.price) if isinstance(judge, ModelJudge) else (JudgeSpec.model_fields["max_tokens"].default, None)
    j = spec.judge
    repeats = j.n if j is not None else 1
    if not look_up or j is None or not j.cache:
        return _JudgePricing(metrics, repeats, max_tokens, price, {}, None)
    raw = resolver.generator(j.id, j.kind or default_kind(j.id), cache=False, window=j.window)
    tally = _Tally(ModelJudge(CachedGenerator(_CacheOnly(raw), cache, identity=raw.identity), max_tokens=j.max_tokens,  # type: ignore[arg-type]
                              timeout_s=None, temperature=j.temperature, seed=spec.seed, price=price))
    minilm = resolver.embedder(MINILM_ID, cache=False)
    env = ScorerEnv(embedder=CachedEmbedder(_CacheOnly(minilm), cache, identity=minilm.identity), judge=tally, judge_repeats=repeats)  # type: ignore[arg-type]
    return _JudgePricing(metrics, repeats, max_tokens, price, build_scorers(metrics, env), tally)
