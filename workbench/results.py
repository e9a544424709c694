"""What a sweep returns: one ``VariantResult`` per variant and a ``SweepResult`` with the leaderboard."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from workbench.config import shown_uri
from workbench.datasets import Corpus, Dataset, Document, EvalCase, Source
from workbench.errors import WorkbenchError
from workbench.grid import Variant
from workbench.metrics import LEADERBOARD_METRICS, METADATA_PREFIX, Score, direction, scorer_entries
from workbench.models import (
    CONTEXT_ADVICE, DEFAULT_CONTEXT_WINDOW, Generation, embedder_input_tokens, embedder_unknown_share, runs_locally, trained_context,
    window_advice,
)
from workbench.pipeline import ChunkStats, Hit, QuestionRecord
from workbench.redaction import quoted_error, redact, redactor
from workbench.sandbox import Outcome
from workbench.spec import ExperimentSpec, ModelSpec, RouterSpec

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "RANKING_METRICS", "ROUTING_COLUMNS", "EarlyStop", "SweepResult", "VariantResult", "corpus_notes", "leaderboard_frame",
    "metadata_columns", "question_row", "ranking_metric", "reused_metrics", "routing_columns", "sweep_totals",
]

@dataclass(frozen=True)
class EarlyStop:
    """Why a racing sweep stopped a variant: after ``questions`` questions, the paired bootstrap interval of its
    ``metric`` minus the leader's, ``[low, high]`` at ``confidence``, lay entirely on the worse side of zero, or of
    ``tolerance`` when the race had one (the variant could not beat the leader by that much).

    Attributes:
        metric: the per-question score the sweep raced on.
        questions: the questions the variant had answered when it stopped.
        leader: the leading variant it was compared with (its name).
        estimate: the mean paired difference, variant minus leader.
        low, high: the interval's bounds.
        confidence: the interval's coverage.
        tolerance: the race's indifference zone (0: none).
    """

    metric: str
    questions: int
    leader: str
    estimate: float
    low: float
    high: float
    confidence: float = 0.95
    tolerance: float = 0.0

    @property
    def label(self) -> str:
        """One line: ``after 8 questions: token_f1 -0.412 [-0.530, -0.301] vs <leader>``, ending in ``(tolerance
        0.05)`` when the race had one."""
        within = f" (tolerance {self.tolerance:g})" if self.tolerance else ""
        return (f"after {self.questions} questions: {self.metric} {self.estimate:+.3f} [{self.low:+.3f}, {self.high:+.3f}] "
                f"vs {self.leader}{within}")


_KEPT_FRAME = "_records_frame"  # where a VariantResult keeps its per-question table (with the redactor it was built for)


@dataclass(frozen=True)
class VariantResult:
    """One variant's outcome: status, per-question records (with scores) and aggregate metrics.

    ``reused_from`` names the finished run this result was read from when the sweep reused it instead of computing it
    (same variant, dataset, corpus, models, scorers and workbench version). ``stopped_early`` says why a racing sweep
    stopped this variant before the last question (its records are the questions it answered); None otherwise.
    ``workdir`` is the variant's sandbox folder, kept when it did not finish (FAILED, STOPPED) to look into; ``""``
    for a variant that finished (its folder is removed) or was reused. ``tracking_uri`` is the store its ``run_id`` is
    in (``wb.promote`` looks there), None before it is logged.
    """

    variant: Variant
    outcome: Outcome
    records: tuple[QuestionRecord, ...]
    metrics: Mapping[str, float]
    chunk_stats: ChunkStats
    started_ms: int
    ended_ms: int
    run_id: str | None = None
    workdir: str = ""
    reused_from: str | None = None
    stopped_early: EarlyStop | None = None
    tracking_uri: str | None = None

    def __repr__(self) -> str:
        # the default repr holds every record with its prompt and retrieved chunks: pages of text in a notebook
        error = f", error={quoted_error(self.outcome.error)!r}" if self.outcome.error else ""
        return (f"VariantResult(variant={self.variant.name!r}, status={self.status!r}, questions={len(self.records)}, "
                f"run_id={self.run_id!r}{error})")

    @property
    def status(self) -> str:
        return self.outcome.status

    @property
    def question_errors(self) -> int:
        """Questions whose answer failed (a model error, a timeout): their answer scores are missing, not zero (their
        retrieval scores stand: the chunks were retrieved before the model failed)."""
        return sum(1 for r in self.records if r.error)

    @property
    def complete(self) -> bool:
        """Every question answered and judged: not stopped early by racing, no question errors, no judge call that
        failed (a rate limit, the network), no router call that failed (a cheap call that escalated for it, a strong
        call whose cheap answer stood). Only a complete run is reused by a later sweep: an incomplete one is computed
        again, its answers and judge replies read from the cache, so only what failed is asked again."""
        failed_calls = any(c.error for r in self.records for c in r.calls)
        return self.stopped_early is None and not self.question_errors and not self.metrics.get("judge_call_errors") and not failed_calls

    def records_frame(self) -> pd.DataFrame:
        """Per-question table: question, answer, why it ended (``finish_reason``: ``stop``, ``length`` when cut at
        max_tokens, ``content_filter``...), the tokens cut from the start of a prompt longer than the model's context
        window (``prompt_tokens_cut``), retrieved ids, every score, tokens, latency, error (a retrieval-only
        variant's table has no answer, tokens or cost columns). Texts are redacted as in MLflow: a notebook saves the
        table with its output. A router's table also says which model answered,
        whether it escalated and why, and lists its model calls (tokens and cost of each); its tokens and cost cover
        every call.

        Built once per result and kept with it while the environment's secrets stay as they are (a new secret
        variable builds it again, redacted for it); each call returns a copy. The sweep logs the table, its comparison
        reads it and a notebook's ``wb.compare(result)`` again: 1.4 s each over 5,000 questions, mostly redaction."""
        current = redactor()
        kept = self.__dict__.get(_KEPT_FRAME)
        if kept is None or kept[0] is not current:
            kept = (current, self._build_records_frame())
            self.__dict__[_KEPT_FRAME] = kept  # frozen: set beside the fields, as functools.cached_property does
        return kept[1].copy()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop(_KEPT_FRAME, None)  # a copy in another process builds its own (the redactor holds locks)
        return state

    def _build_records_frame(self) -> pd.DataFrame:
        import pandas as pd

        if not self.variant.generates:
            return pd.DataFrame([question_row(r.case, r.hits, r.latency_s, r.scores) for r in self.records])
        return pd.DataFrame([
            question_row(
                r.case, r.hits, r.latency_s, r.scores,
                reference=redact(r.case.reference) if r.case.reference else r.case.reference,
                answer=redact(r.answer) if r.answer else r.answer,
                # unknown, not 0, where the server sent no token counts: a comparison read 0 tokens as the fewest
                input_tokens=r.input_tokens if r.usage_reported else None,
                output_tokens=r.output_tokens if r.usage_reported else None,
                cost_usd=r.cost_usd,
                finish_reason=r.generation.finish_reason if r.generation else None,
                prompt_tokens_cut=r.generation.prompt_tokens_cut if r.generation else None,
                error=_redacted(r.error),
                **(routing_columns(r) if self.variant.router is not None else {}),
            )
            for r in self.records
        ])


def _redacted(error: str | None) -> str | None:
    """An error as shown in a notebook (its output is saved with it): a provider's error can quote the API key."""
    return redact(error) if error else error


def _window_of(model: ModelSpec) -> str:
    """A model's context window as the notes name it: a llama.cpp model's with its size in tokens."""
    return f"the model's context window ({model.window or DEFAULT_CONTEXT_WINDOW} tokens)" if runs_locally(model.id) else "the model's context window"


def _window_advice(model: ModelSpec) -> str:
    """What to do about prompts longer than a model's context window (``window_advice``; a hosted one's cannot be set)."""
    if not runs_locally(model.id):
        return CONTEXT_ADVICE
    return window_advice(model.window or DEFAULT_CONTEXT_WINDOW, trained_context(model.id))


def _answers(v: VariantResult) -> Iterator[tuple[ModelSpec, Generation]]:
    """Every answer a variant's questions got, with the model that gave it (each call of a router)."""
    model, router = v.variant.model, v.variant.router
    for r in v.records:
        if r.calls and router is not None:
            yield from ((router.cheap if c.role == "cheap" else router.strong, c.generation) for c in r.calls if c.generation is not None)
        elif r.generation is not None and isinstance(model, ModelSpec):
            yield model, r.generation


def _after_failed(role: str, router: RouterSpec, records: Sequence[QuestionRecord]) -> str:
    """What became of the questions whose ``role`` call failed, as a routing note says it (pure): a failed cheap call
    escalated; a failed strong call left the cheap answer standing, unless the question had none (it went straight to the
    strong model, or its cheap call failed too), and then the question failed."""
    if role == "cheap":
        return f", which went to {router.strong.id} instead"
    lost = sum(1 for r in records if r.generation is None)
    if not lost:
        return ", whose cheap answers stood"
    if lost == len(records):
        return ", which failed, having no cheap answer to fall back to"
    return f": {len(records) - lost} kept their cheap answers and {lost} failed, having none"


def reused_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """The metrics of a finished run as a sweep that reuses it logs them: the same results, with no call made, no
    call retried and no money spent in that sweep (as when its answers are read from the cache)."""
    out = dict(metrics)
    if "generation_calls" in out or "cache_hits" in out:
        out["cache_hits"] = out.get("cache_hits", 0.0) + out.get("generation_calls", 0.0)
        out["generation_calls"] = 0.0
    for retried in ("retries", "judge_retries"):
        if retried in out:
            out[retried] = 0.0
    if "judge_calls" in out:
        out["judge_cache_hits"] = out["judge_calls"]
    # nothing spent, known even where the run's own spending was not (a model without a price)
    for spent, calls in (("spent_usd", "generation_calls"), ("judge_spent_usd", "judge_calls")):
        if spent in metrics or calls in metrics:
            out[spent] = 0.0
    return out


def sweep_totals(variants: Sequence[VariantResult]) -> dict[str, float]:
    """A sweep's accounting, summed over its variants (its parent run's metrics, and what ``workbench run`` says it
    spent): ``generation_calls`` and ``cache_hits``, ``spent_usd`` (what the answering models' calls cost now, a
    router's every call) and ``judge_spent_usd`` (the judge's). A reused variant and an answer read from the cache
    spend nothing, nor does one whose every question failed (a failed call is not billed). A total is left out when a
    variant's is unknown (a model without a price, a server that sent no token counts) rather than shown smaller than
    it was (pure)."""
    answering = [v.metrics for v in variants if "generation_calls" in v.metrics]
    judged = [v.metrics for v in variants if "judge_calls" in v.metrics]
    out: dict[str, float] = {}
    if answering:
        out["generation_calls"] = sum(m["generation_calls"] for m in answering)
        out["cache_hits"] = sum(m.get("cache_hits", 0.0) for m in answering)
    # a variant with no answer logs no spent_usd (there is no cost to sum), which left the whole sweep's total unknown
    spent = [m.get("spent_usd", 0.0 if m.get("question_errors") == m.get("questions") else None) for m in answering]
    for total, values in (("spent_usd", spent), ("judge_spent_usd", [m.get("judge_spent_usd") for m in judged])):
        if values and all(v is not None for v in values):
            out[total] = sum(v for v in values if v is not None)
    return out


ROUTING_COLUMNS = ("answered_by", "escalated", "escalation_reasons", "model_calls")


def routing_columns(record: QuestionRecord) -> dict[str, Any]:
    """A routed question's columns: the model that answered, whether and why it escalated, and each model call."""
    return {
        "answered_by": record.answered_by,
        "escalated": record.escalated,
        "escalation_reasons": list(record.escalation.reasons) if record.escalation is not None else [],
        "model_calls": [
            {"model": c.model_id, "short_name": c.short_name, "role": c.role, "input_tokens": c.input_tokens,
             "output_tokens": c.output_tokens, "cost_usd": c.cost_usd, "cached": bool(c.generation is not None and c.generation.cached),
             "error": _redacted(c.error)}
            for c in record.calls
        ],
    }



def metadata_columns(case: EvalCase) -> dict[str, Any]:
    """A case's metadata as the columns of its row in a per-question table (``metadata.<key>``, text redacted; pure)."""
    return {f"{METADATA_PREFIX}{key}": redact(value) if isinstance(value, str) else value for key, value in case.metadata.items()}


def question_row(case: EvalCase, hits: Sequence[Hit], latency_s: float, scores: Mapping[str, Score], **extra: Any) -> dict[str, Any]:
    """One row of a per-question results table (of a generating or a retrieval-only variant): its case's tags (a list)
    and metadata (columns ``metadata.<key>``, ``metadata.difficulty``), to slice results by, which no other column or
    score shares."""
    row: dict[str, Any] = {
        "case_id": case.id,
        "category": case.category,
        "tags": [redact(tag) for tag in case.tags],
        "question": redact(case.question),
        **metadata_columns(case),
        **extra,
        "relevant_ids": list(case.source_ids),
        "retrieved_ids": [h.chunk.source for h in hits],
        "chunk_ids": [h.chunk.id for h in hits],
        "retrieval_scores": [round(h.score, 4) for h in hits],
        "contexts": [redact(h.chunk.text) for h in hits],
        "latency_s": round(latency_s, 4),
    }
    row.update({name: score.value for name, score in scores.items()})
    return row


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep. ``leaderboard()`` ranks the variants; MLflow ids point at the logged runs. ``status`` is its
    parent run's: FINISHED, FAILED (a variant failed) or KILLED (stopped before every variant was done)."""

    spec: ExperimentSpec
    dataset: Dataset
    corpus: Corpus
    variants: tuple[VariantResult, ...]
    parent_run_id: str | None = None
    experiment_id: str | None = None
    tracking_uri: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    status: str = "FINISHED"
    # embedding model -> the positions of the questions longer than it reads (only models whose input limit is known)
    long_questions: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def __repr__(self) -> str:
        # the default repr holds the whole corpus and every record: a notebook cell ending in wb.run(...) showed megabytes
        counts = ", ".join(f"{n} {status}" for status, n in Counter(v.status for v in self.variants).items())
        return (f"SweepResult(experiment={self.spec.name!r}, status={self.status!r}, variants={len(self.variants)}"
                f"{f' ({counts})' if counts else ''}, questions={len(self.dataset)}, parent_run_id={self.parent_run_id!r}, "
                f"tracking_uri={self._shown_uri!r})")

    @property
    def _shown_uri(self) -> str | None:
        """The tracking URI without its password: a notebook saves the cell's output (``http://user:pass@host``)."""
        return shown_uri(self.tracking_uri) if self.tracking_uri else self.tracking_uri

    @property
    def failed(self) -> tuple[VariantResult, ...]:
        return tuple(v for v in self.variants if v.status != "FINISHED")

    @property
    def truncation_notes(self) -> tuple[str, ...]:
        """One line per index whose chunks are longer than its embedding model reads: their ends are never embedded,
        so retrieval cannot find what they say (shown by ``workbench run`` and the RunPanel)."""
        notes: dict[str, str] = {}
        for v in self.variants:
            stats, embedding = v.chunk_stats, v.variant.retrieval.embedding
            label = f"{v.variant.chunker.label} / {embedding}"
            if stats.truncated and label not in notes:
                notes[label] = (f"{label}: {stats.truncated} of {stats.count} chunks are longer than the {embedder_input_tokens(embedding)} "
                                "tokens the embedding model reads; only their beginning is embedded, so retrieval cannot find the rest "
                                "— use a smaller chunk size")
        return tuple(notes.values())

    @cached_property
    def _unknown_shares(self) -> dict[str, float | None]:
        """Each embedding model's ``embedder_unknown_share`` of a sample of the corpus (``_vocabulary_sample``), measured
        once per result (``notes`` is read by the CLI and the RunPanel, each a few times) and kept with it: a cache of the
        module's, keyed by every text of the corpus, held the texts of the last four corpora in the kernel after their
        results were gone (a notebook re-running a sweep over an edited 200 MB export: 800 MB)."""
        embeddings = dict.fromkeys(v.variant.retrieval.embedding for v in self.variants)
        if not embeddings:
            return {}
        sample = _vocabulary_sample([doc.text for doc in self.corpus.documents])
        return {embedding: embedder_unknown_share(embedding, sample) for embedding in embeddings}

    @property
    def vocabulary_notes(self) -> tuple[str, ...]:
        """One line per embedding model of the sweep that does not know a tenth or more of the corpus's tokens
        (all-MiniLM-L6-v2's vocabulary is English: most Chinese, Japanese and Thai words are its one unknown token), so
        chunks that differ in those words embed alike and retrieval cannot tell them apart (shown by ``workbench run``
        and the RunPanel). The share is measured on a million characters spread over the corpus."""
        notes = []
        for embedding, share in self._unknown_shares.items():
            if share is not None and share >= UNKNOWN_SHARE_NOTED:
                notes.append(f"corpus '{self.corpus.name}' / {embedding}: {share:.0%} of its tokens are unknown to the embedding model "
                             "(read as one [UNK] token), so chunks that differ in those words embed alike and retrieval cannot tell them "
                             "apart — use an embedding model that reads the corpus's language (e.g. openai:text-embedding-3-small)")
        return tuple(notes)

    @property
    def question_notes(self) -> tuple[str, ...]:
        """One line per embedding model that reads only the beginning of some questions: retrieval searched with what
        the question says first, so what it asks after that never chose a chunk (shown by ``workbench run`` and the
        RunPanel)."""
        return tuple(f"{embedding}: {len(long)} of {len(self.dataset)} questions are longer than the {embedder_input_tokens(embedding)} tokens "
                     f"the embedding model reads (the first at {self.dataset.where(long[0])}); retrieval searched with their beginning only "
                     "— shorten them, or put what they ask first"
                     for embedding, long in self.long_questions.items() if long)

    @property
    def price_notes(self) -> tuple[str, ...]:
        """One line per model of the sweep (answering, router or judge model) whose price is unknown, or whose server
        sent no token counts: what it cost is missing from ``cost_usd`` and ``spent_usd`` (the judge's from
        ``judge_cost_usd`` and ``judge_spent_usd``), which say nothing about why (shown by ``workbench run`` and the
        RunPanel)."""
        answering = dict.fromkeys(m.id for v in self.variants for m in v.variant.answering_models)
        judge = self.spec.judge.id if self.spec.judge is not None else None

        def costs_of(model_id: str) -> str:  # the metrics that hold what a model cost: an unpriced judge's are judge_*
            return ", ".join((["cost_usd", "spent_usd"] if model_id in answering else [])
                             + (["judge_cost_usd", "judge_spent_usd"] if model_id == judge else []))

        unpriced = tuple(f"{model_id}: no price known, so what it cost is missing ({costs_of(model_id)}) — give its price under 'pricing:' "
                         f"in the experiment, e.g. pricing: {{{model_id}: {{input: 0.5, output: 1.5}}}} (USD per 1M tokens)"
                         for model_id in dict.fromkeys([*answering, *([judge] if judge else [])]) if self.spec.price(model_id) is None)
        # a priced judge whose server sent no token counts: its variants' judge_cost_usd is missing, and nothing said why
        judged = [v for v in self.variants if "judge_calls" in v.metrics]
        unreported = [v for v in judged if "judge_cost_usd" not in v.metrics]
        if judge is not None and self.spec.price(judge) is not None and unreported:
            unpriced += (f"{judge}: its server sent no token counts with some judge replies ({len(unreported)} of {len(judged)} judged "
                         "variants), so what the judge cost is missing (judge_cost_usd, judge_spent_usd) — have the server (or the "
                         "proxy in front of it) send usage with each reply",)
        # a priced model whose server sent no token counts: its cost is missing just the same, and nothing said why
        answers = Counter(m.id for v in self.variants for m, _ in _answers(v))
        uncounted = Counter(m.id for v in self.variants for m, g in _answers(v) if not g.usage_reported)
        # and the token budget counted none of their tokens: a spending cap that could never be reached
        budget = self.spec.limits.max_tokens

        def missing(model_id: str) -> str:
            return " and ".join(([] if self.spec.price(model_id) is None else ["what they cost is missing (cost_usd, spent_usd)"])
                                + ([] if budget is None else [f"the token budget (limits.max_tokens: {budget}) counted none of their tokens"]))

        return unpriced + tuple(
            f"{model_id}: its server sent no token counts with {n} of {answers[model_id]} answers, so {missing(model_id)} "
            "— have the server (or the proxy in front of it) send usage with each reply"
            for model_id, n in uncounted.items() if missing(model_id)
        )

    @property
    def spent_line(self) -> str | None:
        """``spent now: answers $0.0105, judge $0.0018 ($0.0123 in all)``: what the sweep's model calls cost (shown by
        ``workbench run`` and the RunPanel; None when nothing was spent, and an unknown cost is named by the price notes)."""
        totals = sweep_totals(self.variants)
        if "generation_calls" not in totals:  # no variant answered (a retrieval-only sweep, indexes that failed)
            return None
        spent = [("answers", totals.get("spent_usd"))] + ([("judge", totals.get("judge_spent_usd"))] if self.spec.judge is not None else [])
        if all(value == 0 for _, value in spent):  # nothing spent (an unknown cost is named by the price notes, and here)
            return None
        text = ", ".join(f"{what} {'unknown' if value is None else f'${value:.4g}'}" for what, value in spent)
        known = [value for _, value in spent if value is not None]
        return f"spent now: {text}" + (f" (${sum(known):.4g} in all)" if len(known) > 1 else "")

    @property
    def cap_notes(self) -> tuple[str, ...]:
        """One line per ``openai:`` model whose server answered with more tokens than its ``max_tokens``: LangChain sends
        the cap as ``max_completion_tokens``, which older OpenAI-compatible servers (llama.cpp's before 2026,
        llama-cpp-python's) do not read, so they answered unbounded, slower and longer, while the variant's name and
        params said max_tokens (shown by ``workbench run`` and the RunPanel)."""
        over: dict[str, list[int]] = {}
        answers = Counter(m.id for v in self.variants for m, _ in _answers(v))
        for v in self.variants:
            for m, g in _answers(v):
                if m.id.startswith("openai:") and g.usage_reported and g.output_tokens > m.params.max_tokens:
                    over.setdefault(m.id, []).append(g.output_tokens - m.params.max_tokens)
        return tuple(f"{model_id}: {len(extra)} of {answers[model_id]} answers are longer than its max_tokens (by up to {max(extra)} tokens): "
                     "its server did not apply the cap, which LangChain sends as max_completion_tokens — update the server (older "
                     "llama.cpp and llama-cpp-python servers read only max_tokens), or cap answers on the server's side"
                     for model_id, extra in over.items())

    @property
    def context_notes(self) -> tuple[str, ...]:
        """One line per variant some of whose prompts were longer than its model's context window: a completion prompt
        keeps its end, so the instruction and the best-ranked chunks at its start were never read, and the variant
        finished as if they had been (shown by ``workbench run`` and the RunPanel). Turning k up made answers worse
        for that reason alone, and nothing said so. And one per variant whose llama.cpp answers were cut where the
        window ended, before their max_tokens: a prompt that fits leaves the answer only the rest of the window, and
        the answer's ``finish_reason`` (``length``) read as max_tokens, which raising would not mend."""
        notes = []
        for v in self.variants:
            answers = list(_answers(v))
            cut = [(m, g.prompt_tokens_cut) for m, g in answers if g.prompt_tokens_cut]
            if cut:
                model = cut[0][0]
                notes.append(f"{v.variant.name}: {len(cut)} of {len(answers)} prompts are longer than {_window_of(model)}, so their "
                             f"first tokens (up to {max(n for _, n in cut)}), the instruction and the best-ranked chunks among them, "
                             f"were never read — {_window_advice(model)}")
            ended = [(m, g.output_tokens) for m, g in answers
                     if runs_locally(m.id) and g.finish_reason == "length" and g.output_tokens < m.params.max_tokens]
            if ended:
                model = ended[0][0]
                notes.append(f"{v.variant.name}: {len(ended)} of {len(answers)} answers were cut where {_window_of(model)} ended, "
                             f"after as few as {min(n for _, n in ended)} tokens, before their max_tokens — {_window_advice(model)}")
        return tuple(notes)

    @property
    def scorer_notes(self) -> tuple[str, ...]:
        """One line per variant and scorer that failed on some of its questions (an unusable judge reply, a scorer of
        your own that raised): the scorer's mean leaves those questions out, which the mean does not say (shown by
        ``workbench run`` and the RunPanel)."""
        notes = []
        for v in self.variants:
            failed: dict[str, list[str]] = {}
            for r in v.records:
                for name, score in r.scores.items():
                    if score.error is not None:
                        failed.setdefault(name, []).append(score.error)
            for name, errors in failed.items():
                notes.append(f"{v.variant.name}: {name} failed on {len(errors)} of {len(v.records)} questions (first: {quoted_error(errors[0])}) "
                             "— its mean leaves them out")
        return tuple(notes)

    @property
    def routing_notes(self) -> tuple[str, ...]:
        """One line per router variant and model whose calls failed on some questions: a failed cheap call escalated
        to the strong model (at its price), a failed strong call left the cheap answer standing; either way the
        question stands as answered, so no error column or count shows it (shown by ``workbench run`` and the
        RunPanel). A question the strong model failed with no cheap answer to keep failed, and the note counts it apart."""
        notes = []
        for v in self.variants:
            router = v.variant.router
            if router is None:
                continue
            for role, model in (("cheap", router.cheap), ("strong", router.strong)):
                failed = [(r, c) for r in v.records for c in r.calls if c.role == role and c.error]
                asked = sum(1 for r in v.records for c in r.calls if c.role == role)
                if failed:
                    notes.append(f"{v.variant.name}: the {role} model {model.id} failed on {len(failed)} of the {asked} questions "
                                 f"it was asked{_after_failed(role, router, [r for r, _ in failed])} (first error: "
                                 f"{quoted_error(failed[0][1].error or '')}) — fix it and run again (only those calls are asked again)")
        return tuple(notes)

    @property
    def label_notes(self) -> tuple[str, ...]:
        """One line when a sweep that only retrieves has a dataset without a labelled source on any question:
        hit@k, recall@k, precision@k and MRR compare the retrieved chunks with those labels, so none was computed and
        its variants finished with no retrieval metric at all (shown by ``workbench run``, the RunPanel and the
        chunk explorer)."""
        if any(v.variant.generates for v in self.variants) or any(c.source_ids for c in self.dataset.cases):
            return ()
        return (f"no question of {self.dataset.source or self.dataset.name} has labelled source_ids, so no retrieval metric was "
                "computed (hit_at_k, recall_at_k, precision_at_k and mrr compare the retrieved chunks with them) — give each "
                "question the ids of the corpus documents that answer it",)

    @property
    def k_notes(self) -> tuple[str, ...]:
        """One line per chunker and retrieval setting whose ``k`` is not fewer than its index's chunks (a small corpus, large
        chunks): every question retrieved the whole index whatever its embedding and search, so its hit@k, recall@k and
        precision@k are the corpus's, not the retrieval's, and ranked that setting first among others for no merit of its
        own (shown by ``workbench run`` and the RunPanel)."""
        notes: dict[str, str] = {}
        for v in self.variants:
            chunks, k = v.chunk_stats.count, v.variant.retrieval.k
            label = f"{v.variant.chunker.label}|{v.variant.retrieval.label}"
            if v.status == "FINISHED" and 0 < chunks <= k and label not in notes:
                notes[label] = (f"{label}: k {k} is not fewer than the {chunks} chunks of its index, so every question retrieved all of "
                                "them, whatever its embedding and search: its hit_at_k, recall_at_k and precision_at_k measure the corpus, "
                                f"not the retrieval (only mrr still ranks it) — use a k below {chunks}, or smaller chunks")
        return tuple(notes.values())

    @property
    def copy_notes(self) -> tuple[str, ...]:
        """``_copy_notes`` of the sweep's dataset and corpus (shown by ``workbench run`` and the RunPanel)."""
        return _copy_notes(self.dataset, self.corpus)

    @property
    def markup_notes(self) -> tuple[str, ...]:
        """``_markup_notes`` of the sweep's corpus (shown by ``workbench run`` and the RunPanel)."""
        return _markup_notes(self.corpus)

    @property
    def notes(self) -> tuple[str, ...]:
        """What the sweep's numbers do not say by themselves: ``label_notes``, ``k_notes``, ``corpus_notes`` (what loading
        the corpus noticed, ``copy_notes``, ``markup_notes``: what its dry run says too), ``truncation_notes``,
        ``question_notes``, ``vocabulary_notes``, ``price_notes``, ``cap_notes``, ``context_notes``, ``scorer_notes`` and
        ``routing_notes``."""
        return (*self.label_notes, *self.k_notes, *corpus_notes(self.dataset, self.corpus), *self.truncation_notes, *self.question_notes, *self.vocabulary_notes,
                *self.price_notes, *self.cap_notes, *self.context_notes, *self.scorer_notes, *self.routing_notes)

    def variant(self, key: str) -> VariantResult:
        """A variant by id, name or MLflow run id."""
        for v in self.variants:
            if key in (v.variant.id, v.variant.name, v.run_id):
                return v
        names = ", ".join(v.variant.name for v in self.variants) or "none"
        raise KeyError(f"no variant '{key}' in this sweep — give a variant's name, id or run id: {names}")

    def records_frame(self) -> pd.DataFrame:
        """Every variant's per-question table (``VariantResult.records_frame``) in one frame, a row per variant and
        question, ``variant`` (its name) and ``variant_id`` first, in the sweep's order: to slice the sweep's scores by
        the dataset's own columns, e.g. ``result.records_frame().groupby(["variant", "metadata.difficulty"])["token_f1"].mean()``
        (``wb.compare`` of each variant's rows of one value gives their intervals)."""
        import pandas as pd

        frames = [v.records_frame() for v in self.variants]
        for v, frame in zip(self.variants, frames):
            frame.insert(0, "variant_id", v.variant.id)
            frame.insert(0, "variant", v.variant.name)
        if not frames:
            return pd.DataFrame(columns=["variant", "variant_id"])
        return pd.concat(frames, ignore_index=True)

    def leaderboard(self, sort_by: str | None = None, ascending: bool | None = None) -> pd.DataFrame:
        """One row per variant: axes, status, metrics; sorted by ``sort_by`` (default token_f1, else mrr), best first
        unless ``ascending`` says otherwise (lowest first for latency, cost, tokens, false refusals)."""
        return leaderboard_frame(self.variants, sort_by, ascending)


# the share of a corpus's tokens unknown to its embedding model from which a sweep says so (an English corpus: under 1%)
UNKNOWN_SHARE_NOTED = 0.1


# what of a corpus its share of unknown tokens is measured on: tokenising all of it added half a second per MB to every
# sweep's notes, warm re-runs included (a 100 MB corpus: a minute), for a share that is only ever shown to the percent
_VOCABULARY_SAMPLE_CHARS = 1_000_000
_VOCABULARY_SAMPLE_PIECES = 200


def _vocabulary_sample(texts: Sequence[str]) -> tuple[str, ...]:
    """``texts`` whole when they hold at most ``_VOCABULARY_SAMPLE_CHARS`` characters, else that many in
    ``_VOCABULARY_SAMPLE_PIECES`` pieces spread evenly over them (pure): a corpus of many documents or of one long
    one is measured all through, not on its first pages only."""
    if sum(map(len, texts)) <= _VOCABULARY_SAMPLE_CHARS:
        return tuple(texts)
    text = "\n".join(texts)
    step, width = len(text) // _VOCABULARY_SAMPLE_PIECES, _VOCABULARY_SAMPLE_CHARS // _VOCABULARY_SAMPLE_PIECES
    return tuple(text[start : start + width] for start in range(0, step * _VOCABULARY_SAMPLE_PIECES, step))


# a comment's body never runs past its "-->": one reading of the leading comments (".*?" inside a repeated group tried
# every way of splitting N comments among the repeats, 2**N, so a markdown page opening with 30 comment
# lines hung `workbench run` and the RunPanel once the sweep had ended)
_HTML_PAGE = re.compile(r"\s*(?:<!--(?:(?!-->).)*-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL)


def corpus_notes(dataset: Dataset, corpus: Corpus) -> tuple[str, ...]:
    """What a sweep's numbers will not say of its dataset and corpus, known before anything runs (pure): labelled
    documents with copies under other ids, HTML pages (``workbench run --dry-run`` says them before the sweep does)."""
    return (*corpus.notes, *_copy_notes(dataset, corpus), *_markup_notes(corpus))


def _copy_notes(dataset: Dataset, corpus: Corpus) -> tuple[str, ...]:
    """One line when a labelled source document has a copy under another id (a page a wiki export holds twice) that
    some question labelling the one does not label (pure): retrieval ranks the copies alike, so such a question scores
    no hit, or a lower rank, whenever the copy comes first. Said by a sweep and by its dry run."""
    documents = [{Source.parse(label).doc_id for label in case.source_ids} for case in dataset.cases]  # a page's label names its document
    labelled = set().union(*documents)
    skewed = [ids for ids in _document_copies(corpus, labelled) if any(set(ids) & labels and not set(ids) <= labels for labels in documents)]
    if not skewed:
        return ()
    shown = ", ".join(" = ".join(f"'{i}'" for i in ids) for ids in skewed[:3])
    more = f" and {len(skewed) - 3} more" if len(skewed) > 3 else ""
    return (f"corpus '{corpus.name}': labelled documents have copies under other ids ({shown}{more}): a question labelled "
            "with one copy scores no hit, or a lower rank, when retrieval finds another — remove the copies, or label every copy",)


def _markup_notes(corpus: Corpus) -> tuple[str, ...]:
    """One line when documents of the corpus are HTML pages (a wiki's or Confluence's export) (pure): a document is read
    as it is written, so their tags, navigation, scripts and styles are chunked, embedded and retrieved as text. Said by
    a sweep and by its dry run."""
    pages = [doc.id for doc in corpus.documents if _is_html(doc)]
    if not pages:
        return ()
    shown = ", ".join(f"'{i}'" for i in pages[:3]) + (", ..." if len(pages) > 3 else "")
    return (f"corpus '{corpus.name}': HTML pages, {len(pages)} of {len(corpus)} documents ({shown}): their tags, scripts "
            "and styles are chunked and embedded as text — save the pages as .html files in a corpus folder, which reads their "
            "visible text, or export them as markdown or text",)


def _is_html(doc: Document) -> bool:
    """Whether a document is an HTML page (pure): a text that opens as a page does (a corpus folder's .html and .htm
    files are read as their visible text, which does not)."""
    return bool(_HTML_PAGE.match(doc.text[:4096]))


def _document_copies(corpus: Corpus, of: Set[str]) -> list[tuple[str, ...]]:
    """The ids of documents holding the same text as one of the documents ``of``, whitespace and line endings aside
    (pure), one tuple per such text held more than once, in corpus order.

    Only documents that open and end with the same words as one of them are compared whole: respacing every text of
    the corpus took 4 s on a 95 MB export, on every sweep's notes, and held a second copy of it meanwhile."""
    ends = {_ends(doc.text) for doc in corpus.documents if doc.id in of}
    by_text: dict[str, list[str]] = {}
    for doc in corpus.documents:
        if _ends(doc.text) in ends:
            by_text.setdefault(" ".join(doc.text.split()), []).append(doc.id)
    return [tuple(ids) for ids in by_text.values() if len(ids) > 1 and not of.isdisjoint(ids)]


def _ends(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The first and last three words of a text (pure): equal for two texts equal with their whitespace aside."""
    return tuple(text.split(maxsplit=3)[:3]), tuple(text.rsplit(maxsplit=3)[-3:])


_EMPTY_LEADERBOARD_COLUMNS = ("variant", "variant_id", "prompt", "model", "chunker", "retrieval", "status", "questions", "question_errors",
                              "chunks", "mean_chunk_chars", *LEADERBOARD_METRICS, "run_id", "reused_from", "stopped_early", "error")


def _other_scores(variants: Sequence[VariantResult]) -> tuple[str, ...]:
    """The scores some variant has that are no column of ``LEADERBOARD_METRICS`` (pure apart from reading the scorer
    catalogue): a scorer of yours (``@wb.scorer``), bleu, chrf, pii_leak..., in the catalogue's order. They were left
    out of the leaderboard, so a sweep's own scorer was never shown and sorting by it said no variant had it. After each
    scorer, the questions it raised on (``<scorer>_errors``, any scorer's): one that raised on every question has no
    score, and nothing on the leaderboard said it had been run at all."""
    held = {m for v in variants for m in v.metrics}
    return tuple(c for n in scorer_entries() for c in (n, f"{n}_errors")
                 if c in held and c not in LEADERBOARD_METRICS)


def _leaderboard_columns(extra: Sequence[str]) -> tuple[str, ...]:
    """The leaderboard's columns in order (pure): ``extra`` scores after the other scores, before latency."""
    at = _EMPTY_LEADERBOARD_COLUMNS.index("latency_p50_s")
    return (*_EMPTY_LEADERBOARD_COLUMNS[:at], *extra, *_EMPTY_LEADERBOARD_COLUMNS[at:])


# what a leaderboard ranks by when not told, the first of them its variants have
RANKING_METRICS = ("token_f1", "mrr", "hit_at_k")


def ranking_metric(columns: Iterable[str]) -> str | None:
    """The metric a leaderboard with these columns is ranked by when not told (``RANKING_METRICS``), if any (pure)."""
    present = set(columns)
    return next((m for m in RANKING_METRICS if m in present), None)


def leaderboard_frame(variants: Sequence[VariantResult], sort_by: str | None = None, ascending: bool | None = None) -> pd.DataFrame:
    """The leaderboard of any variant results (a finished sweep, or the variants done so far while one runs).

    One row per variant: axes (prompt and model are None for a retrieval-only variant), status, question count,
    chunk count and mean chunk length, the ``LEADERBOARD_METRICS`` it has and every other scorer's score (yours too) and any scorer's question errors (``<scorer>_errors``), run id, the run it reused, why a racing
    sweep stopped it early (``stopped_early``, None for a variant that answered every question) and error; sorted by ``sort_by``
    (default token_f1, else mrr, else hit_at_k), best first in the metric's direction unless ``ascending`` is given (a
    lower-is-better metric such as ``latency_p50_s`` or ``cost_usd`` ascending), missing values last, variants that did
    not finish (FAILED, or STOPPED by the user or their limits: scored on the questions they reached, if any), stopped
    early or with question errors (``question_errors``: their means leave those questions out) after the others.
    """
    import pandas as pd

    extra = _other_scores(variants)
    rows = []
    for v in variants:
        row: dict[str, Any] = {
            "variant": v.variant.name,
            "variant_id": v.variant.id,
            "prompt": v.variant.prompt.name if v.variant.prompt else None,
            "model": v.variant.model.id if v.variant.model else None,
            "chunker": v.variant.chunker.label,
            "retrieval": v.variant.retrieval.label,
            "status": v.status,
            "questions": len(v.records),
            "question_errors": v.question_errors,
            "chunks": v.chunk_stats.count,
            "mean_chunk_chars": round(v.chunk_stats.mean_chars, 1),
        }
        row.update({m: v.metrics.get(m) for m in (*LEADERBOARD_METRICS, *extra) if m in v.metrics})
        row["run_id"] = v.run_id
        row["reused_from"] = v.reused_from
        row["stopped_early"] = v.stopped_early.label if v.stopped_early is not None else None
        row["error"] = _redacted(v.outcome.error)
        rows.append(row)
    # no variant (a sweep stopped before its first finished): the columns still exist, so selecting them finds none.
    # The columns in one order whichever variant comes first: a failed first variant has no scores, and pandas would
    # put the metrics only its successors have after run_id and error
    columns = [c for c in _leaderboard_columns(extra) if any(c in row for row in rows)] if rows else list(_EMPTY_LEADERBOARD_COLUMNS)
    frame = pd.DataFrame(rows, columns=columns)
    if sort_by is not None and sort_by not in frame.columns and len(frame):
        raise WorkbenchError(f"cannot sort the leaderboard by '{sort_by}': no variant has it"
                             f"{' (every variant failed)' if all(v.status == 'FAILED' for v in variants) else ''} — columns: "
                             f"{', '.join(frame.columns)}")
    key = sort_by or ranking_metric(frame.columns)
    if key is not None and key in frame.columns and len(frame):
        low_first = direction(key) == "lower" if ascending is None else ascending
        frame = frame.sort_values(key, ascending=low_first, na_position="last", kind="stable")
        # a variant that did not finish, stopped early, or with questions that errored, was scored on fewer questions
        # (a FAILED one that never started on none, so it has no question error to count): its mean is not ranked
        # against the complete ones
        incomplete = (frame["status"] != "FINISHED") | frame["stopped_early"].notna() | (frame["question_errors"] > 0)
        frame = frame.iloc[incomplete.argsort(kind="stable")]
    return frame.reset_index(drop=True)
