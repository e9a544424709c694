"""A finished sweep (``SweepResult``): its variants, its leaderboard and per-question tables, and the notes on what its
numbers do not say by themselves."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from workbench.config import shown_uri
from workbench.datasets import Corpus, Dataset
from workbench.models import (
    CONTEXT_ADVICE, DEFAULT_CONTEXT_WINDOW, Generation, embedder_input_tokens, embedder_unknown_share, runs_locally, trained_context,
    window_advice,
)
from workbench.pipeline import QuestionRecord
from workbench.redaction import quoted_error
from workbench.results._corpus_notes import corpus_markup_notes, corpus_notes, dataset_copy_notes
from workbench.results._leaderboard import leaderboard_frame
from workbench.results._report import counted, items_html, mlflow_html, printable
from workbench.results._variant import VariantResult, sweep_totals
from workbench.spec import ExperimentSpec, ModelSpec, RouterSpec

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SweepResult"]


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

    def _repr_html_(self) -> str:
        """The sweep as a notebook cell shows it (a cell ending in one showed its one-line repr, nothing of what it
        noticed): the summary line, the leaderboard's first ``HTML_ROWS`` rows (and how many more), the failed
        variants' errors on one line each, the notes, and where to open it in MLflow. Everything is escaped (a variant's
        name, an error or a note may hold markup), and the tracking URI shows no password."""
        import html

        board = self.leaderboard()
        shown = board.drop(columns=[c for c in _HIDDEN_COLUMNS if c in board.columns]).head(HTML_ROWS)
        shown = shown.dropna(axis="columns", how="all")  # a retrieval sweep's prompt and model, stopped_early when none was
        table = shown.to_html(index=False, escape=True, border=0, na_rep="—", float_format=lambda x: f"{x:.4g}")
        more = len(board) - len(shown)
        more_html = f"<div>… and {more} more (<code>result.leaderboard()</code> has them all)</div>" if more > 0 else ""
        counts = ", ".join(f"{n} {status}" for status, n in Counter(v.status for v in self.variants).items())
        summary = (f"<b>Experiment {html.escape(repr(self.spec.name))}</b>: {counted(len(self.variants), 'variant')} on "
                   f"{counted(len(self.dataset), 'question')} — {html.escape(self.status)}{f' ({html.escape(counts)})' if counts else ''}, "
                   f"parent run {html.escape(str(self.parent_run_id))}")
        return (f"<div class='wb-sweep'><div>{summary}</div>{table}{more_html}{items_html([v.failed_line for v in self.failed], 'Failed')}"
                f"{items_html([printable(note) for note in self.notes], 'Notes')}"
                f"{mlflow_html(self.tracking_uri, self.experiment_id, self.parent_run_id)}</div>")

    @property
    def ending_lines(self) -> tuple[str, ...]:
        """What the sweep says when it ends, as ``workbench run`` and ``wb.run`` (with progress on) print it: a line per
        variant that did not finish (``VariantResult.failed_line``), then its ``notes``, each fit for a terminal."""
        return (*(v.failed_line for v in self.failed), *(printable(note) for note in self.notes))

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
        """``dataset_copy_notes`` of the sweep's dataset and corpus (shown by ``workbench run`` and the RunPanel)."""
        return dataset_copy_notes(self.dataset, self.corpus)

    @property
    def markup_notes(self) -> tuple[str, ...]:
        """``corpus_markup_notes`` of the sweep's corpus (shown by ``workbench run`` and the RunPanel)."""
        return corpus_markup_notes(self.corpus)

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


# the leaderboard rows a sweep's HTML shows: a 200-variant sweep's whole leaderboard was pages of a notebook
HTML_ROWS = 20

# the leaderboard's columns a sweep's HTML leaves out: ids too long to read (the run's link opens them) and the errors
# (listed below the table, one line each)
_HIDDEN_COLUMNS = ("variant_id", "run_id", "reused_from", "error")


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
