"""ragas metrics as workbench scorers.

LLM-judged (on when the spec sets a judge): ``faithfulness``, ``answer_relevancy``, ``context_precision``,
``context_recall`` — ragas 0.4.3's own prompts and score formulas (``ragas.metrics.collections``), with the judge
answering under a bounded JSON schema. Each value is checked against ragas's range [0, 1]; an unusable judge output
or an out-of-range value is an error score carrying the raw judge text, never NaN. With ``judge.n`` repeats the value
is their mean and ``spread`` their standard deviation.

Offline (on by default, no model calls): ``string_similarity``, ``bleu`` (sacrebleu's over the whole answer: ragas's
scores its first sentence only), ``chrf`` (answer against reference) and ``non_llm_context_recall`` /
``non_llm_context_precision`` (retrieved chunks against the reference answer's sentences).
"""

from __future__ import annotations

import json
import math
import statistics
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from workbench.errors import SpecError
from workbench.scoring._base import Score, ScoreContext, ScoreFn, ScorerEnv
from workbench.scoring._deterministic import is_refusal, words
from workbench.metrics import JudgeUsage, is_empty_answer
from workbench.scoring._judge import JudgeReply

__all__ = ["JUDGED_METRICS", "NON_LLM_METRICS", "JudgePrompt", "judge_prompts"]

JUDGED_METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")
NON_LLM_METRICS = ("string_similarity", "bleu", "chrf", "non_llm_context_recall", "non_llm_context_precision")

_MAX_RAW = 2000  # characters of raw judge text kept in an error score's explanation
_ROUNDING = 1e-9

Applies = Callable[[ScoreContext], str | None]  # None when the scorer applies, else why not


def _snapped(value: float) -> float:
    """0 or 1 for a value within floating-point noise of it (a cosine of 1.0000000000000002; ragas adds 1e-10 to a
    precision's denominator, so a perfect ranking scored 0.9999999999 and failed a gate of >= 1), else the value."""
    return float(round(value)) if abs(value - 1.0) <= _ROUNDING or abs(value) <= _ROUNDING else value


def _needs_answer_and_contexts(ctx: ScoreContext) -> str | None:
    if not ctx.contexts:
        return "no retrieved contexts"
    if is_empty_answer(ctx.answer):  # is_refusal counts it, but it declines nothing
        return "empty answer: no claims to check"
    if is_refusal(ctx.answer):
        return "the answer declines: no claims to check"
    return None


def _answerable_with_reference_and_contexts(ctx: ScoreContext) -> str | None:
    if ctx.expects_refusal:
        return "refusal item: see refusal_correct"
    if not ctx.has_reference:
        return "no reference answer"
    if not ctx.contexts:
        return "no retrieved contexts"
    return None


def _answerable_with_answer(ctx: ScoreContext) -> str | None:
    if ctx.expects_refusal:
        return "refusal item: see refusal_correct"
    if is_empty_answer(ctx.answer):  # "..." was judged, "" was not
        return "empty answer"
    return None


# when each judged metric applies to an item (None), else why not
_APPLIES: Mapping[str, Applies] = {
    "faithfulness": _needs_answer_and_contexts,
    "answer_relevancy": _answerable_with_answer,
    "context_precision": _answerable_with_reference_and_contexts,
    "context_recall": _answerable_with_reference_and_contexts,
}


@dataclass(frozen=True)
class JudgePrompt:
    """One judge prompt of a judged metric: its length, and what it is made of (its ragas prompt's name and the texts
    filled in). Two prompts made of the same are one prompt: the judge's cache answers the second from the first."""

    chars: int
    made_of: tuple[str, ...]


def judge_prompts(metric: str, ctx: ScoreContext, *, statements_chars: int) -> tuple[JudgePrompt, ...]:
    """The judge prompts one repeat of the judged ``metric`` sends about ``ctx``, as ragas 0.4.3 asks them (none when
    the metric does not apply): faithfulness asks for the answer's statements, then for one verdict per statement in a
    second call (``statements_chars``: how long the first call's statements may be; they are the judge's reply to the
    first, so the question and answer make them), answer relevancy for one generated question, context precision for a
    verdict per retrieved chunk, context recall once."""
    from workbench.scoring._ragas_bridge import prompt_overhead

    if _APPLIES[metric](ctx) is not None:
        return ()
    fixed = prompt_overhead()
    contexts = "\n".join(ctx.contexts)
    question, answer, reference = ctx.question, ctx.answer, ctx.reference
    if metric == "faithfulness":
        return (JudgePrompt(fixed["statements"] + len(question) + len(answer), ("statements", question, answer)),
                JudgePrompt(fixed["verdicts"] + len(contexts) + statements_chars, ("verdicts", contexts, question, answer)))
    if metric == "answer_relevancy":
        return (JudgePrompt(fixed["answer_relevancy"] + len(answer), ("answer_relevancy", answer)),)
    if metric == "context_precision":
        return tuple(JudgePrompt(fixed["context_precision"] + len(question) + len(c) + len(reference), ("context_precision", question, c, reference))
                     for c in ctx.contexts)
    return (JudgePrompt(fixed["context_recall"] + len(question) + len(contexts) + len(reference), ("context_recall", question, contexts, reference)),)


def _raw_text(replies: list[JudgeReply]) -> str:
    bad = [r for r in replies if not r.ok] or replies
    text = "\n---\n".join(f"[{r.error or 'ok'}] {r.raw}" for r in bad)
    return text[:_MAX_RAW]


def _verdicts_text(replies: list[JudgeReply]) -> str:
    return "\n".join(json.dumps(r.value, ensure_ascii=False) for r in replies if r.ok)[:_MAX_RAW]


def _judged(
    env: ScorerEnv,
    name: str,
    build: Callable[[Any], Any],
    inputs: Callable[[ScoreContext], Mapping[str, Any]],
    applies: Applies,
    *,
    clip_negative: bool = False,
    committal: bool = False,
) -> ScoreFn:
    """A scorer that runs a ragas collections metric ``n`` times through the judge and validates every value; the
    value is the mean of the repeats that gave one. ``committal``: answer relevancy, whose repeats are ragas's
    generated questions: the mean of their cosines, 0 when the judge found the answer noncommittal in every one."""
    judge = env.judge
    if judge is None:
        raise SpecError(f"scorer '{name}' needs a judge model — add a 'judge:' section to the experiment")
    repeats = max(1, env.judge_repeats)

    def score(ctx: ScoreContext) -> Score:
        from workbench.scoring._ragas_bridge import CommittalJudgeLLM, JudgeLLM, UnusableOutput, run_sync

        why = applies(ctx)
        if why is not None:
            return Score(None, why)
        values: list[float] = []
        replies: list[JudgeReply] = []
        problems: list[str] = []
        noncommittal: list[bool] = []  # per repeat that gave a value (committal scorers only)
        rejected = 0
        for i in range(repeats):
            llm = CommittalJudgeLLM(judge, repeat=i) if committal else JudgeLLM(judge, repeat=i)
            metric = build(llm)
            try:
                result = run_sync(metric.ascore(**inputs(ctx)))
            except UnusableOutput as exc:
                problems.append(exc.reason)
                replies.extend(llm.replies)
                continue
            replies.extend(llm.replies)
            value = float(result.value) if isinstance(result.value, (int, float)) else math.nan
            if clip_negative and -1.0 <= value < 0.0:
                value = 0.0  # a negative cosine similarity: the judge's questions are unrelated to the asked one
            value = _snapped(value)
            invalid = metric.validate_result_value(value) if math.isfinite(value) else f"{name} came out as {value} (the judge gave nothing to score)"
            if invalid:
                rejected += 1
                problems.append(invalid)
                continue
            values.append(value)
            if isinstance(llm, CommittalJudgeLLM):
                noncommittal.append(all(llm.noncommittal))
        usage = JudgeUsage.of(replies, extra_failures=rejected)
        if not values:
            raw = _raw_text(replies)
            said = next((r.raw for r in replies if not r.ok), replies[-1].raw if replies else "")
            error = problems[0] + (f" (all {repeats} repeats failed)" if repeats > 1 else "") + f"; the judge said: {said[:160]!r}"
            return Score(None, explanation=raw, error=error, judge=usage)
        evasive = bool(noncommittal) and all(noncommittal)
        mean = 0.0 if evasive else sum(values) / len(values)
        spread = (0.0 if evasive else statistics.stdev(values)) if len(values) > 1 else None
        note = (f"repeats: {', '.join(f'{v:.3f}' for v in values)}" + (f"; {len(problems)} failed ({problems[0]})" if problems else "")
                + ("; noncommittal in every repeat: 0" if evasive and len(values) > 1 else "") + "\n")
        return Score(mean, explanation=(note if repeats > 1 else "") + _verdicts_text(replies), spread=spread, judge=usage)

    return score


def faithfulness(env: ScorerEnv) -> ScoreFn:
    """ragas faithfulness (LLM judge): share of the answer's statements supported by the retrieved contexts (a judge
    that does not give one verdict per statement is an error reply)."""
    from workbench.scoring._ragas_bridge import CountedFaithfulness

    return _judged(
        env, "faithfulness", lambda llm: CountedFaithfulness(llm=llm),
        lambda ctx: {"user_input": ctx.question, "response": ctx.answer, "retrieved_contexts": list(ctx.contexts)},
        _APPLIES["faithfulness"],
    )


def answer_relevancy(env: ScorerEnv) -> ScoreFn:
    """ragas response relevancy (LLM judge + embeddings): how well questions generated from the answer (one per
    repeat) match the asked one, by mean cosine; 0 for an answer every repeat found noncommittal. Answerable items only."""
    from ragas.metrics.collections import AnswerRelevancy

    from workbench.scoring._ragas_bridge import RagasEmbeddings

    embedder = env.embedder
    if embedder is None:
        from workbench.models import MINILM_ID, load_embedder

        embedder = load_embedder(MINILM_ID)
    embeddings = RagasEmbeddings(embedder)
    # One generated question per call: the judge's repeats (judge.n) are ragas's strictness questions, the score the
    # mean of their cosines, zeroed only when the answer was noncommittal in every one (as ragas zeroes it).
    return _judged(
        env, "answer_relevancy", lambda llm: AnswerRelevancy(llm=llm, embeddings=embeddings, strictness=1),
        lambda ctx: {"user_input": ctx.question, "response": ctx.answer},
        _APPLIES["answer_relevancy"], clip_negative=True, committal=True,
    )


def context_precision(env: ScorerEnv) -> ScoreFn:
    """ragas context precision with reference (LLM judge): average precision of the retrieved chunks judged useful
    for the reference answer (one judge call per chunk). Answerable items only."""
    from workbench.scoring._ragas_bridge import context_precision_metric

    return _judged(
        env, "context_precision", lambda llm: context_precision_metric()(llm=llm, name="context_precision"),
        lambda ctx: {"user_input": ctx.question, "reference": ctx.reference, "retrieved_contexts": list(ctx.contexts)},
        _APPLIES["context_precision"],
    )


def context_recall(env: ScorerEnv) -> ScoreFn:
    """ragas context recall (LLM judge): share of the reference answer's statements attributable to the retrieved
    contexts. Answerable items only."""
    from ragas.metrics.collections import ContextRecall

    return _judged(
        env, "context_recall", lambda llm: ContextRecall(llm=llm),
        lambda ctx: {"user_input": ctx.question, "reference": ctx.reference, "retrieved_contexts": list(ctx.contexts)},
        _APPLIES["context_recall"],
    )


# -- offline ragas metrics -----------------------------------------------------------------------------------------------


def nfc(text: str) -> str:
    """``text`` in Unicode NFC, the form a model writes: decomposed accents (macOS, PDFs) composed."""
    return unicodedata.normalize("NFC", text)


def _answer_vs_reference(value: Callable[[str, str], float]) -> ScoreFn:
    """A scorer of the answer against the reference by ``value(reference, answer)``, clipped to [0, 1]; answerable
    items with a reference only, and 0 for an empty answer. Both are compared in one Unicode form (NFC): a reference
    pasted from macOS or a PDF writes "é" as "e" and a combining accent, which these metrics read as other characters
    (BLEU 0.12 for a German sentence against itself)."""

    def score(ctx: ScoreContext) -> Score:
        if ctx.expects_refusal:
            return Score(None, "refusal item: see refusal_correct")
        if not ctx.has_reference:
            return Score(None, "no reference answer")
        if is_empty_answer(ctx.answer):  # " - " scored 0.07 string similarity
            return Score(0.0, "empty answer")
        return Score(min(1.0, max(0.0, _snapped(value(nfc(ctx.reference), nfc(ctx.answer))))))

    return score


def _collection_metric(metric_class: str, name: str) -> Callable[[str, str], float]:
    """One of ragas's offline collection metrics as ``(reference, answer) -> value``, built at its first use: ``import
    ragas`` takes seconds, and a sweep whose variants are all reused scores nothing."""
    metric: Any = None

    def value(reference: str, answer: str) -> float:
        nonlocal metric
        from workbench.scoring._ragas_bridge import run_sync

        if metric is None:
            from ragas.metrics import collections

            metric = getattr(collections, metric_class)(name=name)
        return float(run_sync(metric.ascore(reference=reference, response=answer)).value)

    return value


def _bleu_value(reference: str, answer: str) -> float:
    """sacrebleu's BLEU of the whole answer against the whole reference, as one segment, in [0, 1] (effective order:
    a short answer equal to its reference is 1). ragas's BleuScore splits both at ". " and pairs the pieces as a
    corpus, so it scored the answer's first sentence only (and an exact copy of a two-sentence reference 0). Chinese,
    Japanese and Thai count per character, as in token_f1: sacrebleu's tokenizer splits at spaces only, so a Chinese
    answer one character off its reference was one wrong word (BLEU 0)."""
    from sacrebleu import sentence_bleu

    spaced = lambda text: " ".join(words(text))  # noqa: E731
    return float(sentence_bleu(spaced(answer), [spaced(reference)]).score) / 100


def string_similarity(env: ScorerEnv) -> ScoreFn:
    """ragas non-LLM string similarity (1 - normalised Levenshtein distance) of answer and reference; answerable only."""
    return _answer_vs_reference(_collection_metric("NonLLMStringSimilarity", "string_similarity"))


def bleu(env: ScorerEnv) -> ScoreFn:
    """BLEU of answer against reference (sacrebleu, the whole answer as one segment, in [0, 1]); answerable only."""
    return _answer_vs_reference(_bleu_value)


def chrf(env: ScorerEnv) -> ScoreFn:
    """ragas chrF (sacrebleu character n-gram F-score, scaled to [0, 1]) of answer against reference; answerable only."""
    return _answer_vs_reference(_collection_metric("CHRFScore", "chrf"))


def _context_text_metric(which: str) -> ScoreFn:
    def score(ctx: ScoreContext) -> Score:
        from workbench.scoring._ragas_bridge import non_llm_context_scores

        why = _answerable_with_reference_and_contexts(ctx)
        if why is not None:
            return Score(None, why)
        value = non_llm_context_scores([nfc(c) for c in ctx.contexts], nfc(ctx.reference))[which]
        if not math.isfinite(value):
            return Score(None, "the reference answer has no sentences")
        return Score(min(1.0, max(0.0, _snapped(value))))

    return score


def non_llm_context_recall(env: ScorerEnv) -> ScoreFn:
    """ragas non-LLM context recall: share of the reference answer's sentences found (string similarity > 0.5) in a
    sentence of the retrieved chunks. Answerable items only."""
    return _context_text_metric("recall")


def non_llm_context_precision(env: ScorerEnv) -> ScoreFn:
    """ragas non-LLM context precision with reference: average precision over the ranked chunks, a chunk counting as
    relevant when one of its sentences matches a reference sentence (similarity >= 0.5). Answerable items only."""
    return _context_text_metric("precision")
