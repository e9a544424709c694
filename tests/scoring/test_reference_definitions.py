"""The deterministic scores against independent reference computations: the official SQuAD evaluation script's
normalisation and F1, the textbook retrieval metrics and numpy's percentile (pure: no model, no MLflow)."""

from __future__ import annotations

import collections
import fractions
import random
import re
import string

import numpy as np
import pytest

from workbench.comparison import retrieval_at_k
from workbench.metrics import passes, percentile
from workbench.scoring import ScoreContext, ScorerEnv, build_scorers, run_scorers, token_f1_value


# -- SQuAD v1.1 / v2.0 evaluate script, as published (normalize_answer, f1_score, exact_match_score) ----------------------


def squad_normalize(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def squad_f1(prediction: str, truth: str) -> float:
    pred, gold = squad_normalize(prediction).split(), squad_normalize(truth).split()
    if not pred or not gold:  # SQuAD v2: no answer against no answer is 1
        return float(pred == gold)
    common = sum((collections.Counter(pred) & collections.Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def squad_em(prediction: str, truth: str) -> float:
    return float(squad_normalize(prediction) == squad_normalize(truth))


# ASCII words, punctuation around and inside them, articles in any case, whole numbers with and without thousands
# separators; not what the README lists as our deliberate differences (decimal points and signs, punctuation between
# two numbers, texts of articles only)
_PIECES = ["the", "The", "a", "A", "an", "AN", "cat", "Cat's", "dog,", "U.S.", "e-mail", "co-op", "(x)", '"quoted"',
           "it's", "--", "...", "x/y", "Hello,", "world!", "#tag", "@me", "50%", "~", "snake_case", "`code`", "[ref]",
           "{b}", "an-", "-the", "i.e.", "e.g.", "a-b", "theater", "another", "1,000", "1000", "42", "2024", "$40", "40",
           "Paris.", "paris", "PARIS", "tab\tsep", "new\nline"]


def _texts(seed: int, count: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    while len(pairs) < count:
        pred = " ".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 5)))
        gold = " ".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 5)))
        # a text of articles only keeps them here (README): SQuAD reads it as no answer at all
        if any(not squad_normalize(t) and any(ch.isalnum() for ch in t) for t in (pred, gold)):
            continue
        if not any(ch.isalnum() for ch in gold):  # a reference with no letter or digit is none: nothing is scored
            continue
        pairs.append((pred, gold))
    return pairs


def _scorers():  # type: ignore[no-untyped-def]
    return build_scorers(["token_f1", "exact_match", "hit_at_k", "recall_at_k", "mrr", "precision_at_k"], ScorerEnv())


def test_token_f1_and_exact_match_are_squads_on_english_text() -> None:
    scorers = _scorers()
    for pred, gold in _texts(seed=1, count=3000):
        assert token_f1_value(pred, gold) == pytest.approx(squad_f1(pred, gold)), (pred, gold)
        out = run_scorers(scorers, ScoreContext(question="q", answer=pred, reference=gold))
        assert out["token_f1"].value == pytest.approx(squad_f1(pred, gold)), (pred, gold)
        assert out["exact_match"].value == squad_em(pred, gold), (pred, gold)


@pytest.mark.parametrize(("answer", "reference", "ours", "squad"), [
    ("3.5", "35", 0.0, 1.0),       # a decimal point stays
    ("-5", "5", 0.0, 1.0),         # so does a minus sign
    ("10-20", "1020", 0.0, 1.0),   # punctuation between two numbers parts them
    ("3,5", "35", 0.0, 1.0),       # a comma that groups no thousands too
    ("", "A", 0.0, 1.0),           # a reference of articles only keeps them: an empty answer does not match "A"
    ("👍 yes", "yes", 1.0, 2 / 3),  # a symbol of any script is dropped as ASCII punctuation is
])
def test_where_token_f1_deliberately_differs_from_squad_as_the_readme_says(answer: str, reference: str, ours: float, squad: float) -> None:
    assert squad_f1(answer, reference) == pytest.approx(squad)
    assert token_f1_value(answer, reference) == pytest.approx(ours)


def test_no_answer_against_no_reference_words_is_one_as_in_squad_v2() -> None:
    assert token_f1_value("", "") == squad_f1("", "") == 1.0
    assert token_f1_value("...", "!") == squad_f1("...", "!") == 1.0
    assert token_f1_value("", "Paris") == squad_f1("", "Paris") == 0.0
    assert token_f1_value("Paris", "") == squad_f1("Paris", "") == 0.0


# -- retrieval: textbook definitions over documents, with several chunks of one document ------------------------------


def _textbook(ranked: list[str], relevant: set[str]) -> dict[str, float]:
    first = next((rank for rank, doc in enumerate(ranked, start=1) if doc in relevant), None)
    return {
        "hit_at_k": float(first is not None),
        "recall_at_k": len(relevant & set(ranked)) / len(relevant),
        "mrr": 0.0 if first is None else 1.0 / first,
        "precision_at_k": sum(doc in relevant for doc in ranked) / len(ranked) if ranked else 0.0,
    }


def _rankings(seed: int, count: int) -> list[tuple[list[str], list[str]]]:
    rng = random.Random(seed)
    docs = [f"doc-{i}" for i in range(6)]
    return [([rng.choice(docs) for _ in range(rng.randint(0, 6))],  # repeats: several chunks of one document
             [rng.choice(docs) for _ in range(rng.randint(0, 3))])  # repeats in the label too; none: unanswerable
            for _ in range(count)]


def test_retrieval_scores_are_the_textbook_metrics_over_documents() -> None:
    scorers = _scorers()
    for ranked, labelled in _rankings(seed=2, count=500):
        out = run_scorers(scorers, ScoreContext(question="q", answer="", retrieved_ids=tuple(ranked),
                                                relevant_ids=frozenset(labelled)))
        if not labelled:  # nothing labelled relevant: left out of the means, neither 0 nor 1
            assert all(out[m].value is None for m in ("hit_at_k", "recall_at_k", "mrr", "precision_at_k")), ranked
            continue
        expected = _textbook(ranked, set(labelled))
        assert {m: out[m].value for m in expected} == pytest.approx(expected), (ranked, labelled)


def test_retrieval_curves_at_each_k_are_the_textbook_metrics_of_the_top_k_chunks() -> None:
    pairs = _rankings(seed=3, count=200)
    rows = retrieval_at_k([r for r, _ in pairs], [g for _, g in pairs], max_k=8)
    labelled = [(r, set(g)) for r, g in pairs if g]
    for k, hit, recall, n in rows:
        assert n == len(labelled)
        assert hit == pytest.approx(np.mean([_textbook(r[:k], g)["hit_at_k"] for r, g in labelled]))
        assert recall == pytest.approx(np.mean([_textbook(r[:k], g)["recall_at_k"] for r, g in labelled]))


# -- latency percentiles: linear interpolation, numpy's default ----------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 101])
def test_latency_percentiles_are_numpys_linear_percentiles(n: int) -> None:
    values = np.random.default_rng(n).lognormal(0, 1, n).tolist()
    for p in (0, 5, 50, 90, 95, 99, 100):
        assert percentile(values, p) == pytest.approx(float(np.percentile(values, p, method="linear")))


# -- token F1 as an exact fraction: 2 * common / (answer words + reference words) ------------------------------------


@pytest.mark.parametrize(("answer_words", "reference_words", "common"), [
    (11, 13, 6),  # 12 / 24 = 0.5, the default success threshold: it read 0.4999999999999999, no success
    (8, 20, 7),   # 14 / 28 = 0.5
    (3, 5, 3),    # 6 / 8 = 0.75
    (4, 20, 3),   # 6 / 24 = 0.25
    (1, 9, 1),    # 2 / 10 = 0.2
])
def test_a_token_f1_on_a_threshold_reaches_it(answer_words: int, reference_words: int, common: int) -> None:
    shared = [f"w{i}" for i in range(common)]
    answer = " ".join(shared + [f"x{i}" for i in range(answer_words - common)])
    reference = " ".join(shared + [f"y{i}" for i in range(reference_words - common)])
    exact = fractions.Fraction(2 * common, answer_words + reference_words)
    assert token_f1_value(answer, reference) == float(exact)
    assert passes(token_f1_value(answer, reference), "token_f1", float(exact))


def test_token_f1_is_the_correctly_rounded_exact_fraction_for_every_length() -> None:
    for answer_words in range(1, 25):
        for reference_words in range(1, 25):
            for common in range(1, min(answer_words, reference_words) + 1):
                pred = " ".join(f"w{i}" for i in range(answer_words))
                gold = " ".join([f"w{i}" for i in range(common)] + [f"y{i}" for i in range(reference_words - common)])
                assert token_f1_value(pred, gold) == float(fractions.Fraction(2 * common, answer_words + reference_words))


# -- average precision (context precision, judged and not): the textbook mean of precision at each relevant rank ---------


def _textbook_average_precision(verdicts: list[int]) -> fractions.Fraction:
    ranks = [rank for rank, v in enumerate(verdicts, start=1) if v]
    if not ranks:
        return fractions.Fraction(0)
    return sum((fractions.Fraction(hits, rank) for hits, rank in enumerate(ranks, start=1)), fractions.Fraction(0)) / len(ranks)


def test_context_precision_is_the_exact_average_precision_of_the_judges_verdicts() -> None:
    import json
    import itertools

    from workbench.testing import HashingEmbedder, ScriptedJudge

    chunks = tuple(f"Chunk number {i} about loops." for i in range(4))
    for verdicts in itertools.product([0, 1], repeat=4):
        def verdict(prompt: str, schema: object, verdicts: tuple[int, ...] = verdicts) -> str:  # by the chunk it is asked about
            return json.dumps({"reason": "r", "verdict": next(v for c, v in zip(chunks, verdicts) if c in prompt)})

        judge = ScriptedJudge(verdict)
        scorers = build_scorers(["context_precision"], ScorerEnv(embedder=HashingEmbedder(), judge=judge))
        ctx = ScoreContext(question="q", answer="a", reference="The loop ends.", contexts=chunks)
        # ragas divides by the number of relevant chunks plus 1e-10: the relevant chunk at rank 2 scored 0.49999999995
        assert run_scorers(scorers, ctx)["context_precision"].value == float(_textbook_average_precision(list(verdicts))), verdicts


def test_non_llm_context_precision_is_the_exact_average_precision() -> None:
    hit = "When the iterator is exhausted, the else clause is executed and the loop terminates."
    miss = "Functions created with lambda expressions cannot contain statements or annotations."
    scorers = build_scorers(["non_llm_context_precision"], ScorerEnv())
    for ranked in ((hit, miss), (miss, hit), (miss, hit, miss, hit), (miss, miss, hit)):
        ctx = ScoreContext(question="q", answer="a", reference=hit, contexts=ranked)
        expected = _textbook_average_precision([int(c == hit) for c in ranked])
        assert run_scorers(scorers, ctx)["non_llm_context_precision"].value == float(expected), ranked


@pytest.mark.parametrize(("answer_words", "reference_words", "common"), [(11, 13, 6), (3, 5, 3), (4, 20, 3)])
def test_a_rouge_l_on_a_threshold_reaches_it(answer_words: int, reference_words: int, common: int) -> None:
    # ROUGE-L F = 2 * LCS / (answer tokens + reference tokens); the shared words come first, in order: LCS = common
    shared = [f"w{i}" for i in range(common)]
    answer = " ".join(shared + [f"x{i}" for i in range(answer_words - common)])
    reference = " ".join(shared + [f"y{i}" for i in range(reference_words - common)])
    out = run_scorers(build_scorers(["rouge_l"], ScorerEnv()), ScoreContext(question="q", answer=answer, reference=reference))
    assert out["rouge_l"].value == float(fractions.Fraction(2 * common, answer_words + reference_words))
