"""ragas metrics through the scorer interface, driven by a scripted judge; the offline ragas metrics."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import BaseModel

from workbench.errors import SpecError
from workbench.scoring import ModelJudge, ScoreContext, ScorerEnv, build_scorers, default_scorers, judge_metrics, judged_scorers, run_scorers
from workbench.scoring._ragas import _judged
from workbench.testing import HashingEmbedder, ScriptedJudge, ScriptedModel

CTX = ScoreContext(
    question="What happens when the iterator of a for loop is exhausted?",
    answer="The else clause runs. Then the loop terminates.",
    reference="When the iterator is exhausted, the suite in the else clause, if present, is executed, and the loop terminates.",
    contexts=(
        "This repeats for each item. When the iterator is exhausted, the suite in the else clause, if present, is executed, and the loop terminates.",
        "The pass statement is a null operation.",
    ),
)


def kind_of(schema: Mapping[str, Any]) -> str:
    """Which ragas prompt a schema belongs to (the scripted judge answers by output model)."""
    props = schema["properties"]
    if "classifications" in props:
        return "recall"
    if "question" in props:
        return "relevancy"
    if "verdict" in props:
        return "precision"
    return "statements" if props["statements"]["items"]["type"] == "string" else "nli"


GOOD = {
    "statements": {"statements": ["The else clause runs.", "The loop terminates."]},
    "nli": {"statements": [{"statement": "The else clause runs.", "reason": "stated", "verdict": 1},
                           {"statement": "The loop terminates.", "reason": "stated", "verdict": 0}]},
    "recall": {"classifications": [{"statement": "s1", "reason": "r", "attributed": 1}, {"statement": "s2", "reason": "r", "attributed": 1},
                                   {"statement": "s3", "reason": "r", "attributed": 0}, {"statement": "s4", "reason": "r", "attributed": 1}]},
    "relevancy": {"question": CTX.question, "noncommittal": 0},
    "precision": {"reason": "useful", "verdict": 1},
}


def good_judge(prompt: str, schema: Mapping[str, Any]) -> str:
    return json.dumps(GOOD[kind_of(schema)])


def scorers(judge: Any, names: list[str], repeats: int = 1) -> dict[str, Any]:
    return build_scorers(names, ScorerEnv(embedder=HashingEmbedder(), judge=judge, judge_repeats=repeats))


def test_valid_judge_json_gives_ragas_scores_in_range() -> None:
    judge = ScriptedJudge(good_judge)
    out = run_scorers(scorers(judge, list(judged_scorers())), CTX)
    assert out["faithfulness"].value == pytest.approx(0.5)  # 1 of 2 statements supported
    assert out["context_recall"].value == pytest.approx(0.75)  # 3 of 4 reference statements attributed
    assert out["context_precision"].value == 1.0  # both chunks judged useful: exactly 1, which a gate of >= 1 passes
    assert out["answer_relevancy"].value == pytest.approx(1.0)  # the generated question is the asked one
    for name, score in out.items():
        assert score.error is None, (name, score.error)
        assert 0.0 <= score.value <= 1.0
        assert score.judge is not None and score.judge.calls >= 1 and score.judge.failures == 0
    # one judge call per retrieved chunk for context precision, two steps for faithfulness
    assert out["context_precision"].judge.calls == len(CTX.contexts)
    assert out["faithfulness"].judge.calls == 2
    # the ragas prompt carries the data to judge
    assert any(CTX.contexts[1] in prompt for prompt, _, _ in judge.calls)


def test_a_model_judge_asks_its_model_for_the_ragas_schema_and_scores_its_json() -> None:
    model = ScriptedModel([json.dumps(GOOD["recall"]), "no JSON here"], model_id="testing:judge-model")
    score = run_scorers(scorers(ModelJudge(model, seed=3), ["context_recall"], repeats=2), CTX)["context_recall"]
    assert score.value == pytest.approx(0.75) and score.error is None
    assert score.judge is not None and (score.judge.calls, score.judge.failures) == (2, 1)
    (first, schema), (second, _) = model.requests
    assert kind_of(schema) == "recall" and schema["properties"]["classifications"]["items"]["properties"]["attributed"]["enum"] == [0, 1]
    assert (first.seed, second.seed) == (3, 4)  # the repeat index is folded into the seed
    assert CTX.contexts[0] in model.calls[0].text


def test_garbage_from_the_judge_is_an_error_score_with_the_raw_text() -> None:
    judge = ScriptedJudge(lambda prompt, schema: "I think the answer is quite faithful, maybe 0.8?")
    out = run_scorers(scorers(judge, ["faithfulness", "context_recall"]), CTX)
    for score in out.values():
        assert score.value is None
        assert score.error is not None and "not JSON" in score.error
        assert "quite faithful, maybe 0.8" in score.explanation
        assert score.judge is not None and score.judge.failures == score.judge.calls == 1


@pytest.mark.parametrize("verdicts", [
    [{"statement": "The else clause runs.", "reason": "stated", "verdict": 1}],  # the second statement left unjudged
    [{"statement": "The else clause runs.", "reason": "stated", "verdict": 1}] * 3,  # one verdict repeated
])
def test_faithfulness_needs_one_verdict_per_statement(verdicts: list[dict[str, Any]]) -> None:
    # ragas divides by the verdicts, not the statements: both replies scored 1.0 for an answer with an unjudged claim
    def judge(prompt: str, schema: Mapping[str, Any]) -> str:
        return json.dumps({"statements": verdicts} if kind_of(schema) == "nli" else GOOD[kind_of(schema)])

    score = run_scorers(scorers(ScriptedJudge(judge), ["faithfulness"]), CTX)["faithfulness"]
    assert score.value is None
    assert score.error is not None and f"{len(verdicts)} verdicts for the answer's 2 statements" in score.error
    assert score.judge is not None and (score.judge.calls, score.judge.failures) == (2, 1)


@pytest.mark.parametrize(("scorer", "kind", "reply", "where"), [
    ("answer_relevancy", "relevancy", {"question": "", "noncommittal": 0}, "question"),  # ragas: relevancy 0
    ("answer_relevancy", "relevancy", {"question": " \n", "noncommittal": 0}, "question"),
    ("faithfulness", "statements", {"statements": ["The else clause runs.", " "]}, "statements/1"),  # a blank claim
    ("context_recall", "recall", {"classifications": [{"statement": "", "reason": "", "attributed": 1}]}, "classifications/0/statement"),
])
def test_a_blank_claim_or_generated_question_is_an_error_reply_not_a_score(scorer: str, kind: str, reply: Any, where: str) -> None:
    def judge(prompt: str, schema: Mapping[str, Any]) -> str:
        return json.dumps(reply if kind_of(schema) == kind else GOOD[kind_of(schema)])

    score = run_scorers(scorers(ScriptedJudge(judge), [scorer]), CTX)[scorer]
    assert score.value is None
    assert score.error is not None and f"empty {where} " in score.error
    assert score.judge is not None and score.judge.failures == 1


def test_out_of_range_verdicts_are_rejected_not_averaged() -> None:
    # the nonsense seen with a forced schema on a small model: a verdict of 1e15 would give context precision 1e15
    judge = ScriptedJudge(lambda prompt, schema: json.dumps({"reason": "r", "verdict": 1e15}))
    score = run_scorers(scorers(judge, ["context_precision"]), CTX)["context_precision"]
    assert score.value is None and score.error is not None and "schema" in score.error
    assert '"verdict": 1000000000000000' in score.explanation


class ValueOut(BaseModel):
    value: float


class ValueMetric:
    """A ragas-collections-shaped metric whose value is whatever the judge says (to exercise the range guard)."""

    def __init__(self, llm: Any) -> None:
        from ragas.metrics.collections.base import BaseMetric

        self._range = BaseMetric(name="value_metric")
        self.llm = llm

    async def ascore(self, question: str) -> Any:
        from ragas.metrics.result import MetricResult

        out = await self.llm.agenerate(question, ValueOut)
        return MetricResult(value=out.value)

    def validate_result_value(self, value: float) -> str | None:
        return self._range.validate_result_value(value)


@pytest.mark.parametrize(("said", "ok"), [(0.4, True), (1.7, False), (-0.3, False), (float("nan"), False)])
def test_every_value_is_checked_against_its_range(said: float, ok: bool) -> None:
    judge = ScriptedJudge(lambda prompt, schema: json.dumps({"value": said}).replace("NaN", "NaN"))
    fn = _judged(ScorerEnv(judge=judge), "value_metric", ValueMetric, lambda ctx: {"question": ctx.question}, lambda ctx: None)
    score = fn(CTX)
    if ok:
        assert score.value == pytest.approx(said) and score.error is None
    else:
        assert score.value is None and score.error is not None
        assert score.judge is not None and score.judge.failures >= 1
        assert not (score.value is not None and math.isnan(score.value))


def test_repeats_report_their_spread() -> None:
    recall = lambda *bits: json.dumps({"classifications": [{"statement": f"s{i}", "reason": "r", "attributed": b} for i, b in enumerate(bits)]})  # noqa: E731
    judge = ScriptedJudge([recall(1, 1), recall(1, 0), recall(0, 0)])
    score = run_scorers(scorers(judge, ["context_recall"], repeats=3), CTX)["context_recall"]
    assert score.value == pytest.approx(0.5)
    assert score.spread == pytest.approx(0.5)  # sample standard deviation of 1.0, 0.5, 0.0
    assert [r for _, _, r in judge.calls] == [0, 1, 2]
    metrics = judge_metrics([{"context_recall": score}])
    assert metrics["context_recall_std"] == pytest.approx(0.5)
    assert metrics["judge_calls"] == 3 and metrics["judge_errors"] == 0


@pytest.mark.parametrize(("flags", "expected"), [((1, 0, 0), 1.0), ((0, 1, 1), 1.0), ((1, 1, 1), 0.0), ((1,), 0.0), ((0,), 1.0)])
def test_answer_relevancy_repeats_are_ragas_s_questions_zeroed_only_when_all_are_noncommittal(
    flags: tuple[int, ...], expected: float,
) -> None:
    # ragas (strictness n) averages the questions' cosines and zeroes the score only when every question was
    # noncommittal: one noncommittal repeat of three scored 0.667 for an answer whose questions all match
    judge = ScriptedJudge([json.dumps({"question": CTX.question, "noncommittal": f}) for f in flags])
    score = run_scorers(scorers(judge, ["answer_relevancy"], repeats=len(flags)), CTX)["answer_relevancy"]
    assert score.error is None and score.value == pytest.approx(expected)
    assert score.spread == (pytest.approx(0.0) if len(flags) > 1 else None)


def test_a_failed_repeat_is_counted_and_the_others_still_score() -> None:
    judge = ScriptedJudge([json.dumps(GOOD["recall"]), "garbage"])
    score = run_scorers(scorers(judge, ["context_recall"], repeats=2), CTX)["context_recall"]
    assert score.value == pytest.approx(0.75) and score.error is None and score.spread is None
    assert score.judge is not None and (score.judge.calls, score.judge.failures) == (2, 1)
    assert "1 failed" in score.explanation


def test_judge_accounting_is_apart_from_the_answering_model() -> None:
    judge = ScriptedJudge(good_judge)
    rows = [run_scorers(scorers(judge, ["faithfulness", "context_recall", "token_f1"]), CTX) for _ in range(2)]
    metrics = judge_metrics(rows)
    assert metrics["judge_calls"] == 6  # (2 faithfulness + 1 recall) x 2 items
    assert metrics["judge_input_tokens"] == sum(len(p.split()) for p, _, _ in judge.calls)
    assert metrics["judge_output_tokens"] > 0 and metrics["judge_cost_usd"] == 0.0
    assert "input_tokens" not in metrics and "cost_usd" not in metrics
    assert judge_metrics([run_scorers(scorers(None, ["token_f1"]), CTX)]) == {}


def test_not_applicable_items_do_not_call_the_judge() -> None:
    judge = ScriptedJudge([])  # any call would raise ScriptExhausted
    refusal = ScoreContext(question="Python 4 release date?", answer="I don't know based on the provided context.",
                           contexts=("x",), category="unanswerable")
    no_contexts = ScoreContext(question="q", answer="An answer.", reference="ref")
    for ctx, names in ((refusal, judged_scorers()), (no_contexts, ["faithfulness", "context_precision", "context_recall"])):
        for name, score in run_scorers(scorers(judge, list(names)), ctx).items():
            assert score.value is None and score.error is None and score.explanation, (name, score)
    assert judge.calls == []


def test_judged_scorers_are_on_only_with_a_judge() -> None:
    assert not set(judged_scorers()) & set(default_scorers())
    assert set(judged_scorers()) <= set(default_scorers(with_judge=True))
    assert "faithfulness" not in build_scorers(None, ScorerEnv(embedder=HashingEmbedder()))
    assert "faithfulness" in build_scorers(None, ScorerEnv(embedder=HashingEmbedder(), judge=ScriptedJudge([])))
    with pytest.raises(SpecError, match="needs a judge"):
        build_scorers(["faithfulness"], ScorerEnv(embedder=HashingEmbedder()))


# -- offline ragas metrics ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def offline() -> dict[str, Any]:
    return build_scorers(["string_similarity", "bleu", "chrf", "non_llm_context_recall", "non_llm_context_precision"], ScorerEnv())


def test_answer_metrics_rank_a_copy_above_an_unrelated_answer(offline) -> None:  # type: ignore[no-untyped-def]
    same = run_scorers(offline, ScoreContext("q", answer=CTX.reference, reference=CTX.reference))
    other = run_scorers(offline, ScoreContext("q", answer="Lambdas cannot contain statements.", reference=CTX.reference))
    for name in ("string_similarity", "bleu", "chrf"):
        assert same[name].value == pytest.approx(1.0, abs=1e-6), name
        assert 0.0 <= other[name].value < 0.5, name
    refusal = run_scorers(offline, ScoreContext("q", answer="No.", reference="x", category="policy"))
    assert all(s.value is None for s in refusal.values())




def test_bleu_scores_the_whole_answer_not_its_first_sentence(offline) -> None:  # type: ignore[no-untyped-def]
    two = "The loop ends. Then the else clause runs."
    bleu = lambda answer, reference: run_scorers(offline, ScoreContext("q", answer=answer, reference=reference))["bleu"].value  # noqa: E731
    assert bleu(two, two) == pytest.approx(1.0)  # an exact copy of a two-sentence reference
    assert bleu("Ends.", "Ends.") == pytest.approx(1.0)  # shorter than a 4-gram
    # the first sentence alone against the two: its 4 unigrams ... its one 4-gram all match,
    # so BLEU is the brevity penalty exp(1 - 10/4): 4 tokens ("The loop ends .") against 10
    assert bleu("The loop ends.", two) == pytest.approx(math.exp(1 - 10 / 4))
    assert bleu(two, "Nothing alike here at all.") < 0.1

def test_a_one_character_reference_is_scored_by_the_non_llm_context_metrics(offline) -> None:  # type: ignore[no-untyped-def]
    for reference in ("5", "是"):
        out = run_scorers(offline, ScoreContext("q", answer="a", reference=reference, contexts=(f"Answer: {reference}", "Other text.")))
        for name in ("non_llm_context_recall", "non_llm_context_precision"):
            assert out[name].error is None and out[name].value == pytest.approx(1.0, abs=1e-6), (reference, name, out[name])

def test_non_llm_context_metrics_find_the_reference_sentences(offline) -> None:  # type: ignore[no-untyped-def]
    hit = CTX.contexts[0]
    miss = "Functions created with lambda expressions cannot contain statements or annotations."
    first = run_scorers(offline, ScoreContext("q", answer="a", reference=CTX.reference, contexts=(hit, miss)))
    second = run_scorers(offline, ScoreContext("q", answer="a", reference=CTX.reference, contexts=(miss, hit)))
    none = run_scorers(offline, ScoreContext("q", answer="a", reference=CTX.reference, contexts=(miss,)))
    assert first["non_llm_context_recall"].value == 1.0 and none["non_llm_context_recall"].value == 0.0
    assert first["non_llm_context_precision"].value == 1.0
    assert second["non_llm_context_precision"].value == pytest.approx(0.5, abs=1e-6)  # the relevant chunk at rank 2
    assert none["non_llm_context_precision"].value == pytest.approx(0.0)
    two_sentences = "pass is a null operation; when it is executed, nothing happens."
    half = run_scorers(offline, ScoreContext("q", answer="a", reference=two_sentences, contexts=("pass is a null operation.",)))
    assert half["non_llm_context_recall"].value == pytest.approx(0.5)


@pytest.mark.parametrize(("chunk", "reference"), [
    ("员工每年有25天带薪假。未使用的假期在3月31日失效，除非经理批准最多结转五天。", "员工每年有25天带薪假。"),
    ("従業員は年間25日の有給休暇を取得できます。未使用の日数は3月31日に失効しますが、上司が承認すれば最大5日まで繰り越せます。",
     "従業員は年間25日の有給休暇を取得できます。"),
])
def test_non_llm_context_metrics_split_chinese_and_japanese_sentences(offline, chunk: str, reference: str) -> None:  # type: ignore[no-untyped-def]
    # "。" has no space after it, so a chunk was one sentence: a reference sentence copied from it scored recall and
    # precision 0 (1 in English)
    out = run_scorers(offline, ScoreContext("q", answer="a", reference=reference, contexts=(chunk,)))
    assert out["non_llm_context_recall"].value == 1.0 and out["non_llm_context_precision"].value == 1.0


def test_bleu_counts_chinese_and_japanese_per_character(offline) -> None:  # type: ignore[no-untyped-def]
    # sacrebleu split only at spaces: an answer one character off its Chinese reference was one wrong word, BLEU 0
    bleu = lambda answer, reference: run_scorers(offline, ScoreContext("q", answer=answer, reference=reference))["bleu"].value  # noqa: E731
    assert bleu("员工每年有25天的带薪假。", "员工每年有25天带薪假。") > 0.5
    assert bleu("年間25日の有給休暇です。", "年間25日の有給休暇があります。") > 0.3
    assert bleu("员工每年有25天带薪假。", "员工每年有25天带薪假。") == pytest.approx(1.0)
    assert bleu("The loop ends. Then it runs!", "The loop ends. Then it runs.") == pytest.approx(0.8408964, abs=1e-6)  # as before


def test_offline_metrics_read_a_decomposed_accent_as_the_composed_one(offline) -> None:  # type: ignore[no-untyped-def]
    # a reference or chunk pasted from macOS or a PDF writes its accents decomposed (e + U+0301): BLEU scored a
    # German sentence 0.12 against itself, chrF 0.59, and a Vietnamese chunk no longer held the reference's sentence
    import unicodedata

    german = "Die Straße führt über die Brücke nach Köln."
    same = run_scorers(offline, ScoreContext("q", answer=german, reference=unicodedata.normalize("NFD", german)))
    for name in ("string_similarity", "bleu", "chrf"):
        assert same[name].value == pytest.approx(1.0, abs=1e-6), name
    chunk = unicodedata.normalize("NFD", "Nhân viên được nghỉ phép 25 ngày mỗi năm.")  # the chunk holds the reference
    out = run_scorers(offline, ScoreContext("q", answer="a", reference="Nhân viên được nghỉ 25 ngày.", contexts=(chunk,)))
    assert out["non_llm_context_recall"].value == 1.0 and out["non_llm_context_precision"].value == pytest.approx(1.0)


@pytest.mark.parametrize("answer", ["", "...", " - "])
def test_an_answer_of_nothing_is_not_judged_and_not_read_as_declining(answer: str) -> None:
    # "" was not judged ("empty answer") but "..." was: the judge was asked how relevant "..." is; and faithfulness
    # explained an answer of nothing as one that declines
    from dataclasses import replace

    judge = ScriptedJudge(good_judge)
    out = run_scorers(scorers(judge, ["faithfulness", "answer_relevancy"]), replace(CTX, answer=answer))
    assert [(s.value, s.explanation) for s in out.values()] == [(None, "empty answer: no claims to check"), (None, "empty answer")]
    assert judge.calls == []
