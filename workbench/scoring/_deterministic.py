"""Deterministic scorers: retrieval against labelled sources, answer overlap with the reference, refusals."""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import lru_cache
from typing import Any

from workbench.metrics import cosine, is_refusal
from workbench.scoring._base import Score, ScoreContext, ScoreFn, ScorerEnv

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """SQuAD-style normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _dedupe(ids: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(ids))


def _not_applicable(why: str) -> Score:
    return Score(None, why)


def hit_at_k(env: ScorerEnv) -> ScoreFn:
    """1 when any retrieved chunk comes from a labelled source document."""

    def score(ctx: ScoreContext) -> Score:
        if not ctx.relevant_ids:
            return _not_applicable("no labelled sources")
        hit = any(i in ctx.relevant_ids for i in ctx.retrieved_ids)
        return Score(1.0 if hit else 0.0, f"retrieved {_dedupe(ctx.retrieved_ids)}; relevant {sorted(ctx.relevant_ids)}")

    return score


def recall_at_k(env: ScorerEnv) -> ScoreFn:
    """Share of the labelled source documents that appear among the retrieved chunks."""

    def score(ctx: ScoreContext) -> Score:
        if not ctx.relevant_ids:
            return _not_applicable("no labelled sources")
        found = ctx.relevant_ids.intersection(ctx.retrieved_ids)
        return Score(len(found) / len(ctx.relevant_ids), f"found {sorted(found)} of {sorted(ctx.relevant_ids)}")

    return score


def mrr(env: ScorerEnv) -> ScoreFn:
    """Reciprocal rank of the first retrieved chunk from a labelled source (0 when none)."""

    def score(ctx: ScoreContext) -> Score:
        if not ctx.relevant_ids:
            return _not_applicable("no labelled sources")
        for rank, doc_id in enumerate(ctx.retrieved_ids, start=1):
            if doc_id in ctx.relevant_ids:
                return Score(1.0 / rank, f"first relevant chunk at rank {rank}")
        return Score(0.0, "no relevant chunk retrieved")

    return score


def precision_at_k(env: ScorerEnv) -> ScoreFn:
    """Share of the retrieved chunks that come from a labelled source document."""

    def score(ctx: ScoreContext) -> Score:
        if not ctx.relevant_ids:
            return _not_applicable("no labelled sources")
        if not ctx.retrieved_ids:
            return Score(0.0, "nothing retrieved")
        good = sum(1 for i in ctx.retrieved_ids if i in ctx.relevant_ids)
        return Score(good / len(ctx.retrieved_ids), f"{good} of {len(ctx.retrieved_ids)} chunks relevant")

    return score


def token_f1_value(answer: str, reference: str) -> float:
    pred, gold = normalize(answer).split(), normalize(reference).split()
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def _answerable_only(fn):  # type: ignore[no-untyped-def]
    def score(ctx: ScoreContext) -> Score:
        if ctx.expects_refusal:
            return _not_applicable("refusal item: see refusal_correct")
        if not ctx.reference:
            return _not_applicable("no reference answer")
        return fn(ctx)

    return score


def token_f1(env: ScorerEnv) -> ScoreFn:
    """Token-overlap F1 between answer and reference (SQuAD normalisation); answerable items only."""
    return _answerable_only(lambda ctx: Score(token_f1_value(ctx.answer, ctx.reference)))


def exact_match(env: ScorerEnv) -> ScoreFn:
    """1 when the normalised answer equals the normalised reference; answerable items only."""
    return _answerable_only(lambda ctx: Score(float(normalize(ctx.answer) == normalize(ctx.reference))))


@lru_cache(maxsize=1)
def _rouge_l_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(env: ScorerEnv) -> ScoreFn:
    """ROUGE-L F-measure of answer against reference; answerable items only. rouge_score (and nltk) load at the first
    answer scored: a sweep builds its scorers in the caller too, which scores no answer."""
    return _answerable_only(lambda ctx: Score(_rouge_l_scorer().score(ctx.reference, ctx.answer)["rougeL"].fmeasure))


def semantic_similarity(env: ScorerEnv) -> ScoreFn:
    """Cosine similarity of answer and reference embeddings (the local embedding model); answerable items only."""
    embedder = env.embedder
    if embedder is None:
        from workbench.models import MINILM_ID, load_embedder

        embedder = load_embedder(MINILM_ID)

    def score(ctx: ScoreContext) -> Score:
        if not ctx.answer.strip():
            return Score(0.0, "empty answer")
        a, b = embedder.embed([ctx.answer, ctx.reference])
        return Score(max(0.0, min(1.0, cosine(a, b))))

    return _answerable_only(score)


def refusal_correct(env: ScorerEnv) -> ScoreFn:
    """1 when the model declines an unanswerable or policy item; not applicable to answerable items."""

    def score(ctx: ScoreContext) -> Score:
        if not ctx.expects_refusal:
            return _not_applicable("answerable item")
        refused = is_refusal(ctx.answer)
        return Score(1.0 if refused else 0.0, "declined" if refused else f"answered a {ctx.category} item")

    return score


def false_refusal(env: ScorerEnv) -> ScoreFn:
    """1 when the model declines (or answers nothing to) an answerable item; lower is better."""

    def score(ctx: ScoreContext) -> Score:
        if ctx.expects_refusal:
            return _not_applicable("refusal item")
        refused = is_refusal(ctx.answer)
        return Score(1.0 if refused else 0.0, "declined an answerable item" if refused else "answered")

    return score
