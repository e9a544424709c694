"""What every layer agrees on about scores and metrics (pure, a leaf): the ``Score`` type, the scorer catalogue, the
metrics a variant's run logs beside its scores, which way each metric is better, the success metric, the leaderboard's
columns, what counts as a refusal, and two small statistics.

Scoring produces ``Score`` values, the runner aggregates them, the leaderboard and the comparison rank them: all of
them import this module, and it imports nothing else of workbench, so no layer has to reach up to another for a
definition.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

__all__ = [
    "ANSWER_METRICS",
    "ARABIC_SPELLINGS",
    "COST_METRICS",
    "COST_PER_SUCCESS",
    "JUDGE_METRICS",
    "LEADERBOARD_METRICS",
    "OPTIONAL_MARKS",
    "QUESTION_MEASUREMENTS",
    "RESERVED_NAMES",
    "RETRIEVAL_METRICS",
    "ROUTER_METRICS",
    "ROUTER_METRIC_PREFIXES",
    "RUN_METRICS",
    "SUCCESS_METRIC",
    "SUCCESS_THRESHOLD",
    "Direction",
    "METADATA_PREFIX",
    "JudgeUsage",
    "Score",
    "ScorerEntry",
    "cosine",
    "cost_per_success",
    "dataset_column_problem",
    "direction",
    "fraction_bound_problem",
    "higher_is_better",
    "is_count",
    "is_empty_answer",
    "is_refusal",
    "mean",
    "passes",
    "percentile",
    "reading_form",
    "scorer",
    "scorer_entries",
]


# -- scores ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeUsage:
    """What judging one item cost: calls, unusable outputs, tokens, time and money (None: price unknown); of those
    calls, ``cache_hits`` were read from the cache and ``spent_usd`` is what the others cost now; of the unusable
    outputs, ``call_errors`` are calls that failed (a rate limit, the network) or were cut off by the judge's time
    limit (a busy machine): nothing was cached, so asking again may answer them. ``retries``: attempts of hosted
    calls retried (rate limits, server errors, timeouts). ``input_tokens`` and ``output_tokens`` are None (unknown)
    when the judge's server sent no token counts with any of the replies summed: a part of them is no total."""

    calls: int = 0
    failures: int = 0
    input_tokens: int | None = 0
    output_tokens: int | None = 0
    latency_s: float = 0.0
    cost_usd: float | None = 0.0
    cache_hits: int = 0
    spent_usd: float | None = 0.0
    call_errors: int = 0
    retries: int = 0

    @classmethod
    def of(cls, replies: Iterable[Any], *, extra_failures: int = 0) -> JudgeUsage:
        """Sum the accounting of judge replies (anything with ``ok``, token counts, ``latency_s`` and ``cost_usd``);
        ``extra_failures`` counts results rejected after parsing (out of range)."""
        usage = cls(failures=extra_failures)
        for r in replies:
            spent = 0.0 if r.cached else r.cost_usd
            failed_call = int(not r.ok and r.finish_reason in ("error", "deadline"))
            usage = usage + cls(1, 0 if r.ok else 1, r.input_tokens, r.output_tokens, r.latency_s, r.cost_usd, int(r.cached), spent, failed_call,
                                r.retries)
        return usage

    def __add__(self, other: JudgeUsage) -> JudgeUsage:
        def total(a: float | None, b: float | None) -> float | None:
            return None if (a is None or b is None) else a + b

        def count(a: int | None, b: int | None) -> int | None:
            return None if (a is None or b is None) else a + b

        return JudgeUsage(
            self.calls + other.calls,
            self.failures + other.failures,
            count(self.input_tokens, other.input_tokens),
            count(self.output_tokens, other.output_tokens),
            self.latency_s + other.latency_s,
            total(self.cost_usd, other.cost_usd),
            self.cache_hits + other.cache_hits,
            total(self.spent_usd, other.spent_usd),
            self.call_errors + other.call_errors,
            self.retries + other.retries,
        )


@dataclass(frozen=True)
class Score:
    """A scorer's verdict. ``value`` None means not applicable (skipped in means); ``error`` means the scorer failed.

    LLM-judged scorers also fill ``spread`` (standard deviation over the judge's repeats, when there are several) and
    ``judge`` (calls, unusable outputs, tokens and cost of judging this item; accounted apart from the answering model).
    """

    value: float | None
    explanation: str = ""
    error: str | None = None
    spread: float | None = None
    judge: JudgeUsage | None = None


# -- the scorer catalogue ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScorerEntry:
    """One named scorer: where its factory is, whether it is on by default, whether it needs a judge model.

    ``factory`` is the factory itself (scorers registered with ``@scorer``) or a ``"module:function"`` reference
    (the built-in ones, imported only when a sweep builds them, so the spec can check names without loading scoring).
    ``retrieval`` marks a scorer that looks only at the retrieved chunks (it needs no answer).
    """

    name: str
    factory: Callable[[Any], Any] | str
    default: bool = True
    judged: bool = False
    retrieval: bool = False
    lower_is_better: bool = False


def _builtin(module: str, names: str, **flags: bool) -> dict[str, ScorerEntry]:
    return {n: ScorerEntry(n, f"workbench.scoring.{module}:{n}", **flags) for n in names.split()}


_REGISTRY: dict[str, ScorerEntry] = {
    **_builtin("_deterministic", "hit_at_k recall_at_k mrr precision_at_k", retrieval=True),
    **_builtin("_safety", "context_injection", retrieval=True, lower_is_better=True),
    **_builtin("_deterministic", "token_f1 exact_match rouge_l semantic_similarity refusal_correct"),
    **_builtin("_deterministic", "false_refusal empty_answer", lower_is_better=True),
    **_builtin("_safety", "pii_leak", lower_is_better=True),
    **_builtin("_safety", "policy_refusal"),
    **_builtin("_safety", "injection_resisted"),
    **_builtin("_ragas", "string_similarity bleu chrf non_llm_context_recall non_llm_context_precision"),
    **_builtin("_ragas", "faithfulness answer_relevancy context_precision context_recall", default=False, judged=True),
}


# MLflow caps metric names at 250 characters; the sweep logs derived ones such as <scorer>_errors and <scorer>_spread
_SCORER_NAME_MAX = 200
_SCORER_NAME = re.compile(rf"[A-Za-z0-9_.-]{{1,{_SCORER_NAME_MAX}}}")
_BUILTIN_SCORERS = frozenset(_REGISTRY)

# -- what a variant's run logs -----------------------------------------------------------------------------------------

# The metrics a variant's run logs beside its scores (``workbench.execution.variant_metrics``, with the judge's
# ``workbench.scoring.judge_metrics`` and a router's ``workbench.pipeline.routing_metrics``), by what it takes to log
# them: every run; a run that answers; a run whose answering models all have a price; one with a judged scorer; a
# router. The gates check a metric against these (``workbench.spec.LoggedMetrics``); tests/execution/test_run_metrics.py
# fails when a run logs a metric not listed here, or one listed here that no run logs.
RUN_METRICS = ("latency_p50_s", "latency_p95_s", "questions")
ANSWER_METRICS = ("question_errors", "input_tokens", "output_tokens", "generation_calls", "cache_hits", "retries")
COST_METRICS = ("cost_usd", "spent_usd", "cost_per_question_usd", "cost_per_success_usd")
JUDGE_METRICS = ("judge_calls", "judge_errors", "judge_call_errors", "judge_input_tokens", "judge_output_tokens",
                 "judge_latency_s", "judge_cache_hits", "judge_retries", "judge_cost_usd", "judge_spent_usd")
ROUTER_METRICS = ("escalation_rate",)
ROUTER_METRIC_PREFIXES = ("tokens_", "calls_", "cost_usd_")  # per model of a router: tokens_<model>, ...
# what a question's row holds beside its scores, which a gate pairing questions (beats_holder) can pair as it pairs a score
QUESTION_MEASUREMENTS = ("latency_s", "input_tokens", "output_tokens", "cost_usd")

# What a sweep writes beside the scores, under names a scorer cannot take: the columns of the per-question table
# (``results.question_row``), a variant's run metrics (above) and the leaderboard's columns. A scorer's values are
# written under its name too, so one named ``answer`` replaced every answer of eval_results.json by its score, one
# named ``cost_usd`` was replaced by the run's cost, and one named ``status`` made the leaderboard two status columns,
# both the scorer's mean.
RESERVED_NAMES = frozenset({
    "variant", "variant_id", "prompt", "model", "chunker", "retrieval", "status", "chunks", "mean_chunk_chars", "run_id",
    "reused_from", "stopped_early",
    "case_id", "category", "tags", "question", "reference", "answer", "finish_reason", "prompt_tokens_cut", "error", "relevant_ids", "retrieved_ids",
    "chunk_ids", "retrieval_scores", "contexts", "latency_s", "answered_by", "escalated", "escalation_reasons",
    "model_calls",
    *RUN_METRICS, *ANSWER_METRICS, *COST_METRICS, *JUDGE_METRICS, *ROUTER_METRICS,
})


def scorer(
    name: str, *, default: bool = True, judged: bool = False, lower_is_better: bool = False
) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register a scorer factory under ``name`` (a factory takes a ``ScorerEnv`` and returns ``ScoreContext -> Score``).

    ``judged`` marks a scorer that needs a judge model: it is on by default exactly when a judge is configured.
    ``name`` cannot be a built-in scorer's nor one of ``RESERVED_NAMES`` (the sweep's own columns and metrics).
    ``lower_is_better`` marks a score where less is better (a hallucination rate, a toxicity): comparisons, gates
    and racing then call the lower variant better. It holds in the process that registered the scorer, so a
    ``workbench compare`` in another process needs the scorer's module imported first (or the metric named so
    that ``direction`` knows it: ``*_errors``, ``*_leak``, ``latency*``, ``cost*``...).

    Example:
        >>> @scorer("answer_length", default=False)
        ... def answer_length(env):
        ...     return lambda ctx: Score(float(len(ctx.answer.split())))
    """

    # MLflow refuses a name that reads as a path leaving its folder ('.', '..', '..x'): the sweep crashed logging it
    if not isinstance(name, str) or not _SCORER_NAME.fullmatch(name) or name == "." or name.startswith(".."):
        raise ValueError(f"scorer name {str(name)[:60]!r} is not usable as an MLflow metric name — use 1 to {_SCORER_NAME_MAX} "
                         "letters, digits, '_', '-' or '.', not '.' alone nor starting with '..' (e.g. answer_length)")
    if name in _BUILTIN_SCORERS or name in RESERVED_NAMES:
        what = "a built-in scorer" if name in _BUILTIN_SCORERS else "a column or metric the sweep writes itself"
        raise ValueError(f"scorer name {name!r} is {what} — give yours another name (e.g. my_{name})")

    def register(factory: Callable[[Any], Any]) -> Callable[[Any], Any]:
        _REGISTRY[name] = ScorerEntry(name, factory, default, judged, lower_is_better=lower_is_better)
        return factory

    return register


def fraction_bound_problem(metric: str, bound: float) -> str | None:
    """Why a gate's bound on ``metric`` cannot be what was meant, or None (pure): every built-in scorer's value lies
    between 0 and 1, so a bound written as a percentage (``min: 30`` for 30%) is one no run could pass, or every run
    would. A bound just above 1 (1.1, 2) is left alone: it reads as "fail every variant" (a CI dry run's, a test's)."""
    if metric not in _BUILTIN_SCORERS or bound <= 2:
        return None
    fix = f"write it as a fraction, {bound / 100:g}" if bound <= 100 else "give a bound between 0 and 1"
    return f"{metric} lies between 0 and 1, so {bound:g} reads as a percentage — {fix}"


def scorer_entries() -> Mapping[str, ScorerEntry]:
    """Every known scorer by name (built-in and registered), in registration order."""
    return dict(_REGISTRY)


RETRIEVAL_METRICS = tuple(n for n, e in _REGISTRY.items() if e.retrieval)

# -- metric directions and success ---------------------------------------------------------------------------------

Direction = Literal["higher", "lower"]

SUCCESS_METRIC = "token_f1"
SUCCESS_THRESHOLD = 0.5
COST_PER_SUCCESS = "cost_per_success_usd"

# Leaderboard columns, in order, when present (the judged scores and the judge's cost only in a sweep with a judge).
LEADERBOARD_METRICS = (
    *RETRIEVAL_METRICS, "token_f1", "rouge_l", "semantic_similarity", "exact_match", "refusal_correct", "false_refusal",
    "empty_answer",
    *(n for n, e in _REGISTRY.items() if e.judged), "latency_p50_s", "latency_p95_s", "input_tokens", "output_tokens", "cost_usd",
    "judge_cost_usd", "escalation_rate", "generation_calls", "cache_hits",
)

# The one place that says which metrics are better low. Everything else (scores in [0, 1]) is better high.
_LOWER_EXACT = frozenset({"false_refusal", "tokens", "context_injection", "escalation_rate", "spent_usd", "retries",
                          "generation_calls", "judge_calls", "judge_retries"})
_LOWER_PREFIXES = ("latency", "cost", "judge_cost", "tokens_", "calls_")
_LOWER_SUFFIXES = ("_tokens", "_errors", "_cost_usd", "_spent_usd", "_latency_s", "_leak", "_leaks", "_std")


def direction(metric: str) -> Direction:
    """Whether a larger value of ``metric`` is better ("higher") or worse ("lower").

    Lower is better for latency, cost and money spent, token and call counts, retries, error counts, false refusals,
    leaks and injected context, the spread of a judge's repeats (``<scorer>_std``), a router's escalation rate and
    its per-model ``tokens_<model>`` and ``calls_<model>``; higher for the rest. A registered scorer is better the
    way it was registered (``lower_is_better``), whatever its name says.
    """
    entry = _REGISTRY.get(metric)
    if entry is not None:  # a scorer says which way it is better: "cost_awareness" or "latency_score" may be better high
        return "lower" if entry.lower_is_better else "higher"
    name = metric.lower()
    lower = name in _LOWER_EXACT or name.startswith(_LOWER_PREFIXES) or name.endswith(_LOWER_SUFFIXES)
    return "lower" if lower else "higher"


def is_count(metric: str) -> bool:
    """Whether a metric or table column counts things (questions, tokens, calls, errors, cache hits, retries): shown as
    a whole number."""
    name = metric.lower()
    return (name in ("questions", "n", "retries", "cache_hits", "tokens", "judge_retries", "judge_cache_hits")
            or name.endswith(("_tokens", "_calls", "_errors"))
            or name.startswith(("tokens_", "calls_")))


def higher_is_better(metric: str) -> bool:
    """``direction(metric) == "higher"``."""
    return direction(metric) == "higher"


def passes(value: float, metric: str, threshold: float) -> bool:
    """Whether one question's ``value`` clears ``threshold`` in the metric's good direction (>= or <=)."""
    return value >= threshold if higher_is_better(metric) else value <= threshold


def cost_per_success(
    costs: Sequence[float | None],
    quality: Sequence[float | None],
    *,
    threshold: float = SUCCESS_THRESHOLD,
) -> float | None:
    """Total cost divided by the number of answers whose quality reaches ``threshold``.

    Args:
        costs: cost of each answered question (USD); one None makes the cost unknown.
        quality: the success metric of the same questions (e.g. token_f1); None (not scored) is not a success.
        threshold: the quality an answer needs to count as a success.

    Returns:
        The cost per successful answer; ``math.inf`` when something was spent and nothing succeeded; None when the
        cost is unknown, there are no questions, or nothing was spent and nothing succeeded (undefined).
    """
    if len(costs) != len(quality):
        raise ValueError(f"costs and quality need equal lengths, got {len(costs)} and {len(quality)}")
    if not costs or any(c is None or math.isnan(c) for c in costs):
        return None
    total = float(sum(c for c in costs if c is not None))
    successes = sum(1 for q in quality if q is not None and not math.isnan(q) and q >= threshold)
    if successes == 0:
        return math.inf if total > 0 else None
    return total / successes


# -- a dataset's own columns ------------------------------------------------------------------------------------------

# the prefix of the per-question columns holding a dataset's own fields: what questions are sliced by, never a score
METADATA_PREFIX = "metadata."


def dataset_column_problem(name: str) -> str | None:
    """The start of one line when ``name`` is a dataset's own column (``metadata.year``), which no scorer logs, so no
    gate or comparison can check it as a metric; None for any other name (pure). Each caller adds what to do there."""
    return f"'{name}' is a column of the dataset, not a metric" if name.startswith(METADATA_PREFIX) else None


# -- refusals ---------------------------------------------------------------------------------------------------------

# Marks a reader may leave out without changing the word: Arabic short vowels, tanween, shadda, sukun and dagger alef
# (tashkeel) and the tatweel that stretches a word; Hebrew vowel points and cantillation (niqqud)
OPTIONAL_MARKS = re.compile("[\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7\u0640\u064b-\u065f\u0670]")


# Letters of one Arabic-script word that writers and keyboards use one for the other, in one spelling (as Lucene's Arabic
# and Persian normalizers fold them for search): alef with hamza or madda as a bare alef ("انا" for "أنا", as most write
# informally), alef maksura as yeh (Egyptian "فى" for "في"), teh marbuta as heh ("مدرسه" for "مدرسة"), and the Persian
# yeh and keheh as the Arabic ones (a Persian text typed on an Arabic keyboard)
ARABIC_SPELLINGS = str.maketrans({"\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627", "\u0649": "\u064a",
                                  "\u06cc": "\u064a", "\u06a9": "\u0643", "\u0629": "\u0647", "\u06c0": "\u0647"})


def reading_form(text: str) -> str:
    """``text`` with what a reader of Arabic, Persian or Hebrew takes for the same word in one form: no optional marks
    (``OPTIONAL_MARKS``: "مُحَمَّد" is "محمد", "שָׁלוֹם" is "שלום") and one spelling of letters written one for the other
    (``ARABIC_SPELLINGS``: "لا اعرف" is "لا أعرف"). Expects NFKC text (composed letters). Other scripts are left as
    they are."""
    return OPTIONAL_MARKS.sub("", text).translate(ARABIC_SPELLINGS)


# Phrases in which the answerer declines. "cannot answer", "unable to help" and "not able to help" need the answerer
# as their subject (I, we, or none at the start of a sentence): "Employees cannot answer emails after 6pm" and "if the
# agent is unable to help, escalate" are answers.
_REFUSAL_PATTERNS = re.compile(
    r"(\bi\s+(do\s+not|don'?t)\s+know|\bi\s+(cannot|can'?t|won'?t|will\s+not)\s+(help|assist|answer|provide|do\s+that)"
    r"|\bi\s+(do\s+not|don'?t)\s+have\s+(enough\s+)?information"
    r"|not\s+(in|covered\s+by|mentioned\s+in)\s+the\s+(provided\s+)?context|no\s+information\s+(about|on)"
    r"|context\s+(does\s+not|doesn'?t)\s+(contain|mention|provide|say)"
    r"|\b(this|that|it|question)\s+(cannot|can'?t)\s+be\s+answered|\bwe\s+(cannot|can'?t)\s+(help|answer)"
    r"|(\bi\s+am\s+|\bi'?m\s+|\bwe\s+are\s+|^\W*|[.!?,;:]\s*)(unable|not\s+able)\s+to\s+(answer|help)|\bi\s+refuse)",
    re.IGNORECASE,
)
# The same in the languages a model most often answers in: "I don't know", "I cannot answer / help".
_OTHER_LANGUAGE_REFUSALS = re.compile(  # written as they are spelled, compiled in the reading form answers are read in
    r"(je\s+ne\s+(le\s+)?sais\s+pas|je\s+n'en\s+sais\s+rien|je\s+ne\s+peux\s+pas\s+(vous\s+)?(aider|répondre)"  # French
    r"|le\s+contexte\s+ne\s+(mentionne|contient|précise|fournit|dit)\s+pas|je\s+ne\s+dispose\s+pas\s+(\w+\s+){0,2}(d'|de\s+l')?informations?"
    r"|je\s+n'ai\s+pas\s+(\w+\s+){0,2}(d'|l')?informations?|je\s+ne\s+(trouve|vois)\s+pas\s+(\w+\s+){0,2}informations?"
    r"|le\s+contexte\s+(\w+\s+){1,2}ne\s+(mentionne|contient|précise|fournit|dit)\s+pas"  # "le contexte fourni ne ..."
    r"|\bno\s+(lo\s+)?sé\b|no\s+puedo\s+(ayudar|responder)|el\s+contexto\s+no\s+(menciona|contiene|especifica|proporciona|dice)"  # Spanish
    r"|no\s+tengo\s+(\w+\s+){0,2}información|no\s+(dispongo\s+de|encuentro|cuento\s+con)\s+(\w+\s+){0,2}información"
    r"|el\s+contexto\s+(\w+\s+){1,2}no\s+(menciona|contiene|especifica|proporciona|dice)"
    r"|não\s+sei\b|não\s+(posso|consigo)\s+(ajudar|responder)|não\s+tenho\s+(\w+\s+){0,2}informaç"  # Portuguese
    r"|o\s+contexto\s+(\w+\s+){0,2}não\s+(menciona|contém|especifica|fornece|diz)|não\s+encontrei\s+(\w+\s+){0,2}informaç"
    r"|non\s+lo\s+so\b|non\s+(posso|sono\s+in\s+grado\s+di)\s+(aiutare|rispondere)"  # Italian
    r"|non\s+(ho|dispongo\s+di|trovo)\s+(\w+\s+){0,2}informazion|il\s+contesto\s+(\w+\s+){0,2}non\s+(menziona|contiene|specifica|fornisce|dice)"
    # German (ß read as ss), the verb second when the sentence opens with another word: "Leider kann ich Ihnen nicht
    # helfen", "Das weiß ich nicht", "Dazu liegen mir keine Informationen vor"
    r"|\bich\s+weiss\s+(\w+\s+){0,2}nicht\b|\b(das|dies)\s+weiss\s+ich\s+(\w+\s+){0,2}nicht\b"
    r"|\b(ich\s+kann|kann\s+ich)\s+(\w+\s+){0,4}(nicht\s+(weiter)?(helfen|beantworten)|keine\s+(antwort|auskunft|angaben))"
    r"|\b(ich\s+habe|habe\s+ich|mir\s+liegen|liegen\s+mir)\s+(\w+\s+){0,2}keine\s+informationen"
    r"|\b(im|in\s+dem)\s+(\w+\s+)?kontext\s+(\w+\s+){0,2}nicht\s+(enthalten|erwähnt|angegeben|genannt)"
    r"|\bkontext\s+(enthält|nennt|erwähnt)\s+(\w+\s+){0,2}keine"
    r"|я\s+не\s+знаю|не\s+могу\s+(ответить|помочь)"  # Russian
    r"|у\s+меня\s+нет\s+(\w+\s+){0,2}информации|в\s+(\w+\s+)?контексте\s+(\w+\s+){0,2}нет\s+(\w+\s+){0,2}(информации|сведений|данных)"
    r"|контекст\s+не\s+(содержит|упоминает)"
    r"|не\s+можу\s+(відповісти|допомогти)|у\s+мене\s+немає\s+(\w+\s+){0,2}інформації|контекст\s+не\s+містить"  # Ukrainian ("я не знаю" as Russian)
    r"|لا\s+(أعرف|أعلم)|لا\s+(أستطيع|يمكنني)\s+(الإجابة|المساعدة)"  # Arabic
    r"|السياق\s+لا\s+(يذكر|يحتوي|يتضمن)|ليس\s+لدي\s+(أي\s+)?معلومات|لا\s+(تتوفر|تتوافر)\s+لدي\s+(أي\s+)?معلومات|لا\s+أملك\s+(أي\s+)?معلومات"
    r"|我不知道|我不(太)?清楚|我(无法|無法|不能)(回答|提供帮助|提供幫助)"  # Chinese, simplified and traditional
    r"|(无法|無法|不能)回答(这个|這個|该|該|此|您的|你的)?(问题|問題)"
    r"|(上下文|所?提供的(信息|資訊|资料|資料))中?(并|並)?(没有|沒有|未)(提到|提及|包含|涉及|提供|说明|說明|(相关|相關)的?(信息|資訊))"
    r"|我(无法|無法|不能)提供(这方面|這方面|相关|相關)|我(没有|沒有)[^。，,]{0,20}?的?(相关|相關)?(信息|資訊|资料|資料)"
    r"|わかりません|分かりません|知りません|(わ|分)かりかねます|答えられません"  # Japanese
    r"|(お答え|回答)(すること[がは])?できません|(お答え|回答)(いた)?しかねます"
    r"|(文脈|コンテキスト|提供された(文書|資料|情報|テキスト))(に|の中に|内に)は?[^。]{0,20}?(記載|言及|含まれて|書かれて|情報)[がは]?"
    r"(ありません|いません|されていません)"
    r"|모르겠|(답변|대답)(을|해)?\s*(드릴|할|해\s*드릴)\s*수\s*(가\s*)?없|도와\s*드릴\s*수\s*(가\s*)?없"  # Korean
    r"|(문맥|컨텍스트|맥락|제공된\s*(문서|자료|정보|내용))(에는|에서는|에)\s*[^.]{0,20}?(정보|내용|언급)(이|가|은|는)?\s*없"
    r"|मुझे\s+(नहीं\s+पता|पता\s+नहीं)|मैं\s+नहीं\s+जानत|मैं\s+(\S+\s+){0,3}(उत्तर|जवाब)\s+नहीं\s+दे\s+सकत"  # Hindi
    r"|मुझे\s+(\S+\s+){0,2}जानकारी\s+नहीं|मेरे\s+पास\s+(\S+\s+){0,2}जानकारी\s+नहीं"
    r"|\bbilmiyorum\b|\b(cevap|yan[ıi]t)\s+veremem|yardımcı\s+olamam"  # Turkish
    r"|\bbilgim\s+yok\b|\bbilgiye\s+sahip\s+değilim|bağlamda\s+(\w+\s+){0,3}(bilgi\s+)?(yok|bulunmuyor|yer\s+almıyor)"
    r"|אני\s+לא\s+יודע|אינני\s+יודע|איני\s+יודע|אני\s+לא\s+יכול(ה)?\s+(לענות|לעזור)|אין\s+לי\s+(\S+\s+)?מידע"  # Hebrew
    # Dutch, Polish, Hungarian, Czech, Swedish, Danish and Norwegian, Greek, Vietnamese, Indonesian and Malay, Thai, Persian
    r"|\bik\s+weet\s+(het\s+)?niet\b|\bdat\s+weet\s+ik\s+(\w+\s+)?niet\b|\bik\s+kan\s+(\w+\s+){0,3}niet\s+(beantwoorden|helpen)"
    r"|\bik\s+heb\s+(\w+\s+){0,2}geen\s+informatie|\bde\s+context\s+(bevat|vermeldt|noemt)\s+(\w+\s+){0,2}geen"
    r"|\bnie\s+wiem\b|\bnie\s+mogę\s+(\w+\s+)?(odpowiedzieć|pomóc)|\bnie\s+mam\s+(\w+\s+){0,2}informacji|\bkontekst\s+nie\s+(zawiera|wspomina)"
    r"|\bnem\s+tudom\b|\bnem\s+tudok\s+(\w+\s+)?(válaszolni|segíteni)"
    r"|\bnevím\b|\b(nemohu|nemůžu)\s+(\w+\s+)?(odpovědět|pomoci)|\bnemám\s+(\w+\s+){0,2}informace"
    r"|\bjag\s+vet\s+(det\s+)?inte\b|\bjag\s+kan\s+(\w+\s+)?inte\s+(svara|hjälpa)|\bjag\s+har\s+(\w+\s+)?ingen\s+information"
    r"|\bjeg\s+(ved|vet)\s+(det\s+)?ikke\b|\bjeg\s+kan\s+(\w+\s+)?ikke\s+(svare|hjælpe|hjelpe)|\bjeg\s+har\s+(\w+\s+)?ingen\s+(information|informasjon)"
    r"|\bδεν\s+(το\s+)?(γνωρίζω|ξέρω)|\bδεν\s+μπορώ\s+να\s+(απαντήσω|βοηθήσω)|\bδεν\s+έχω\s+(\w+\s+)?πληροφορίες"
    r"|\btôi\s+không\s+(biết|rõ)\b|\btôi\s+không\s+thể\s+(trả\s+lời|giúp)|\btôi\s+không\s+có\s+(\w+\s+){0,2}thông\s+tin"
    r"|\bsaya\s+tidak\s+tahu\b|\bsaya\s+tidak\s+(dapat|bisa|boleh)\s+(menjawab|membantu)|\bsaya\s+tidak\s+(memiliki|mempunyai)\s+(\w+\s+)?maklumat"
    r"|\bsaya\s+tidak\s+(memiliki|mempunyai|punya)\s+(\w+\s+)?informasi|\bkonteks\s+(\w+\s+)?tidak\s+(menyebutkan|memuat|berisi|mengandung)"
    r"|(ฉัน|ผม|ดิฉัน)\s*(ไม่ทราบ|ไม่รู้|ไม่สามารถ(ตอบ|ช่วย|ให้ข้อมูล))|ขออภัย\s*(ครับ|ค่ะ|คะ)?\s*ไม่สามารถ(ตอบ|ให้ข้อมูล)|(ฉัน|ผม|ดิฉัน)\s*ไม่มีข้อมูล"
    r"|نمی[\u200c\s]?دانم|نمی[\u200c\s]?توانم\s+(\S+\s+){0,4}(پاسخ|جواب|کمک)|اطلاعاتی\s+(در\s+این\s+(مورد|باره)\s+)?ندارم"
    # Urdu, Bengali, Tamil, Swahili
    r"|مجھے\s+(نہیں\s+معلوم|معلوم\s+نہیں)|میں\s+(\S+\s+){0,3}جواب\s+نہیں\s+دے\s+سکت|میرے\s+پاس\s+(\S+\s+){0,2}معلومات\s+نہیں"
    r"|আমি\s+জানি\s+না|আমি\s+(\S+\s+){0,3}উত্তর\s+দিতে\s+(পারব|পারছি|পারি)\s+না|আমার\s+কাছে\s+(\S+\s+){0,2}তথ্য\s+নেই"
    r"|எனக்குத்?\s*தெரியாது|\bsijui\b|\bsiwezi\s+(kujibu|kusaidia)|\bsina\s+(\w+\s+)?taarifa)"
    .translate(ARABIC_SPELLINGS),
    re.IGNORECASE,
)


# Apostrophes a model writes instead of ': typographic (don’t), modifier letter (donʼt), grave and acute accents
_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc\u0060\u00b4\u2032", "'"))


def is_empty_answer(answer: str) -> bool:
    """Whether an answer says nothing: no letter or digit ("", spaces, "...", "-"). The refusal scorers do not count it
    as declining, ``empty_answer`` counts it, and a router's ``refusal_or_empty`` escalates it (pure)."""
    return not any(ch.isalnum() for ch in answer)


def is_refusal(answer: str) -> bool:
    """Whether an answer declines (says it does not know or cannot help), whichever apostrophe it writes ("I don’t
    know"), in English or in the common phrases of French, Spanish, Portuguese, Italian, German, Russian, Arabic,
    Chinese, Japanese, Korean, Hindi, Turkish and Hebrew ("Je ne sais pas", "我不知道", "모르겠습니다", "the context does not
    contain it", "I have no information"), and "I don't know" and "I cannot answer" in Dutch, Polish, Czech, Hungarian,
    Swedish, Danish, Norwegian, Greek, Ukrainian, Vietnamese, Indonesian, Malay, Thai, Persian, Urdu, Bengali, Tamil and
    Swahili. Refusals in another
    language, or phrased otherwise, are read as answers. Empty answers
    count as refusals, and so does an answer with no letter or digit ("...", "-"): it says nothing. The answer is read
    in one Unicode form, case folded (NFKC and ``casefold``): decomposed accents ("não" as a + combining tilde),
    full-width letters, "ICH WEISS" and the Swiss "ich weiss" for "ich weiß", Turkish capitals ("BİLMİYORUM"), and Arabic
    and Hebrew with or without their vowel marks, in any of the spellings their writers use (``reading_form``: "لَا
    أَعْرِفُ" and "لا اعرف" are "لا أعرف").

    Used by a router deciding to escalate a question (``refusal_or_empty``) and by the refusal scorers, which read an
    answer of nothing apart: it declines nothing (``refusal_correct`` 0), and ``empty_answer`` counts it.
    """
    text = unicodedata.normalize("NFKC", answer.translate(_APOSTROPHES)).casefold().replace("i\u0307", "i")
    text = reading_form(text)
    return is_empty_answer(answer) or bool(_REFUSAL_PATTERNS.search(text) or _OTHER_LANGUAGE_REFUSALS.search(text))


# -- small statistics --------------------------------------------------------------------------------------------------


def mean(values: Iterable[float]) -> float:
    """The mean of ``values``, correctly rounded (the double nearest their exact mean); NaN for none. Summed and divided in
    floating point, three answers scoring 0.7 averaged 0.6999999999999998 and failed a gate of >= 0.7 ("mean 0.700 is
    below the minimum 0.7"); here equal values average to themselves. Linear time: ``math.fsum`` and what its rounding
    left out give the sum as two doubles, whose exact sum over n is rounded once."""
    xs = [float(v) for v in values]
    if not xs:
        return math.nan
    total = math.fsum(xs)
    if not math.isfinite(total):
        return total / len(xs)
    left_out = math.fsum([*xs, -total])
    return float((Fraction(total) + Fraction(left_out)) / len(xs))


def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (``p`` in [0, 100]); NaN for no values."""
    xs = sorted(values)
    if not xs:
        return math.nan
    pos = (len(xs) - 1) * p / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors; 0.0 when either is all zeros."""
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
