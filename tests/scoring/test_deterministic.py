import pytest

from workbench.scoring import Score, ScoreContext, ScorerEnv, build_scorers, is_refusal, registered_scorers, run_scorers, scorer, token_f1_value
from workbench.testing import HashingEmbedder, PaddingEmbedder

from tests.complexity import assert_linear_time


def ctx(**kw) -> ScoreContext:  # type: ignore[no-untyped-def]
    base = dict(question="q", answer="The loop ends.", reference="the loop ends", retrieved_ids=("a", "b", "c"), relevant_ids=frozenset({"b"}))
    base.update(kw)
    return ScoreContext(**base)


@pytest.fixture
def scorers():  # type: ignore[no-untyped-def]
    return build_scorers(None, ScorerEnv(embedder=HashingEmbedder()))


def test_retrieval_metrics(scorers) -> None:  # type: ignore[no-untyped-def]
    s = run_scorers(scorers, ctx(retrieved_ids=("a", "b", "b", "c"), relevant_ids=frozenset({"b", "z"})))
    assert s["hit_at_k"].value == 1.0
    assert s["recall_at_k"].value == 0.5
    assert s["mrr"].value == 0.5
    assert s["precision_at_k"].value == 0.5
    miss = run_scorers(scorers, ctx(relevant_ids=frozenset({"z"})))
    assert (miss["hit_at_k"].value, miss["mrr"].value, miss["recall_at_k"].value) == (0.0, 0.0, 0.0)


def test_a_page_label_is_found_only_by_a_chunk_on_its_pages_and_a_document_label_by_any_of_its_chunks(scorers) -> None:  # type: ignore[no-untyped-def]
    retrieved = ("handbook#page=5", "leave", "handbook#page=2-3", "handbook")  # the last: a chunk whose pages are unknown
    on_page_3 = run_scorers(scorers, ctx(retrieved_ids=retrieved, relevant_ids=frozenset({"handbook#page=3"})))
    assert (on_page_3["hit_at_k"].value, on_page_3["mrr"].value, on_page_3["recall_at_k"].value, on_page_3["precision_at_k"].value) == (
        1.0, 1 / 3, 1.0, 0.25)
    assert run_scorers(scorers, ctx(retrieved_ids=retrieved, relevant_ids=frozenset({"handbook#page=1", "handbook#page=7-9"})))["hit_at_k"].value == 0.0
    # a document and a page of another: each label counts once, a chunk relevant to either counts once
    mixed = run_scorers(scorers, ctx(retrieved_ids=retrieved, relevant_ids=frozenset({"leave", "handbook#page=9"})))
    assert (mixed["hit_at_k"].value, mixed["mrr"].value, mixed["recall_at_k"].value, mixed["precision_at_k"].value) == (1.0, 0.5, 0.5, 0.25)
    assert mixed["recall_at_k"].explanation == "found ['leave'] of ['handbook#page=9', 'leave']"
    whole = run_scorers(scorers, ctx(retrieved_ids=retrieved, relevant_ids=frozenset({"handbook", "handbook#page=2"})))
    assert (whole["recall_at_k"].value, whole["precision_at_k"].value, whole["mrr"].value) == (1.0, 0.75, 1.0)


def test_retrieval_metrics_not_applicable_without_labels(scorers) -> None:  # type: ignore[no-untyped-def]
    s = run_scorers(scorers, ctx(relevant_ids=frozenset()))
    assert s["hit_at_k"].value is None and s["mrr"].value is None



@pytest.mark.parametrize("reference", [" ", "\n", "-", "...", "—"])
def test_a_reference_with_no_words_is_no_reference(reference: str) -> None:  # a blank or "-" spreadsheet cell
    from workbench.metrics import scorer_entries

    names = [n for n, entry in scorer_entries().items() if not entry.judged]  # any scorer registered so far, judge aside
    env = ScorerEnv(embedder=HashingEmbedder())
    for answer in ("", "Paris"):
        s = run_scorers(build_scorers(names, env), ctx(answer=answer, reference=reference, contexts=("Paris is the capital.",)))
        for name in ("token_f1", "exact_match", "rouge_l", "semantic_similarity", "string_similarity", "bleu", "chrf",
                     "non_llm_context_recall", "non_llm_context_precision"):
            assert (s[name].value, s[name].error, s[name].explanation) == (None, None, "no reference answer"), (name, answer)

def test_answer_overlap(scorers) -> None:  # type: ignore[no-untyped-def]
    s = run_scorers(scorers, ctx())
    assert s["exact_match"].value == 1.0
    assert s["token_f1"].value == 1.0
    assert s["rouge_l"].value == pytest.approx(1.0)
    assert s["semantic_similarity"].value == pytest.approx(1.0, abs=1e-6)
    assert token_f1_value("w b c d", "w b x y") == pytest.approx(0.5)
    assert token_f1_value("nothing shared", "completely other") == 0.0



@pytest.mark.parametrize("answer", ["二十五天", "خمسة وعشرين يومًا", "Привет мир", "二十五天です", "ที่นี่มีอะไร", "स्वागत है"])
def test_overlap_scorers_read_every_script(scorers, answer: str) -> None:  # type: ignore[no-untyped-def]
    s = run_scorers(scorers, ctx(answer=f"{answer}。", reference=answer))  # an ideographic full stop is punctuation too
    assert (s["exact_match"].value, s["token_f1"].value) == (1.0, 1.0)
    assert s["rouge_l"].value == pytest.approx(1.0)


def test_overlap_scorers_count_characters_of_scripts_without_spaces(scorers) -> None:  # type: ignore[no-untyped-def]
    assert token_f1_value("二十五天", "二十天") == pytest.approx(6 / 7)  # 3 of 4 and 3 of 3 characters shared
    assert run_scorers(scorers, ctx(answer="二十天", reference="二十五天"))["rouge_l"].value == pytest.approx(6 / 7)
    assert token_f1_value("25天", "25 天") == 1.0  # spacing between the words of such a script does not matter
    assert token_f1_value("Привет, мир!", "привет мир") == 1.0


@pytest.mark.parametrize(("answer", "reference"), [
    ("１，０００ ｙｅｎ", "1,000 yen"),  # full-width digits, comma and letters (Japanese input methods)
    ("Cafe\u0301 au lait", "café au lait"),  # a decomposed accent (macOS, copied from a PDF) against a composed one
    ("STRASSE", "straße"),  # case folding, not just lower case
])
def test_overlap_scorers_match_text_that_reads_the_same(scorers, answer: str, reference: str) -> None:  # type: ignore[no-untyped-def]
    s = run_scorers(scorers, ctx(answer=answer, reference=reference))
    assert (s["exact_match"].value, s["token_f1"].value) == (1.0, 1.0)
    assert s["rouge_l"].value == pytest.approx(1.0)


def test_overlap_scorers_keep_decimal_points_and_drop_thousands_separators(scorers) -> None:  # type: ignore[no-untyped-def]
    assert run_scorers(scorers, ctx(answer="3.5", reference="35"))["exact_match"].value == 0.0
    assert token_f1_value("Python 3.11", "python 311") == pytest.approx(0.5)
    assert token_f1_value("It costs 1,000.50 dollars.", "1000.50 dollars") == pytest.approx(2 / 3)  # 2 of 4, 2 of 2
    assert token_f1_value("version 3.11.", "Version 3.11") == 1.0  # a full stop after a number is still punctuation
    assert token_f1_value("10,00,000 rupees", "1000000 rupees") == 1.0  # India's grouping: ten lakh
    assert token_f1_value("-1,250", "-1250") == 1.0


@pytest.mark.parametrize(("answer", "reference"), [("3,5", "35"), ("1,2,3", "123"), ("12,5 kg", "125 kg"), ("1,0000", "10000")])
def test_a_comma_that_groups_no_thousands_is_not_dropped_from_a_number(scorers, answer: str, reference: str) -> None:  # type: ignore[no-untyped-def]
    assert run_scorers(scorers, ctx(answer=answer, reference=reference))["exact_match"].value == 0.0
    assert run_scorers(scorers, ctx(answer=answer, reference=answer))["exact_match"].value == 1.0


def test_overlap_scorers_keep_the_sign_of_a_number(scorers) -> None:  # type: ignore[no-untyped-def]
    assert run_scorers(scorers, ctx(answer="Growth was -3.2%.", reference="growth was 3.2%"))["exact_match"].value == 0.0
    assert token_f1_value("It fell to \u22125 degrees", "it fell to -5 degrees") == 1.0  # a Unicode minus sign is one
    assert token_f1_value("pages 10-20", "pages 10 20") == 1.0  # the dash of a range is punctuation, not a sign of 20


def test_rouge_l_is_unchanged_on_ascii_text() -> None:
    from rouge_score import rouge_scorer

    from workbench.scoring._deterministic import _rouge_l_scorer

    ascii_only = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)  # rouge_score's own [a-z0-9] tokenizer
    texts = ["The runners were running quickly!", "A runner runs: quick_ly, x-ray e-mail 3.14", "Employees get 25 days (pro-rated).", ""]
    for a in texts:
        for b in texts:
            assert _rouge_l_scorer().score(a, b) == ascii_only.score(a, b)

def test_refusals(scorers) -> None:  # type: ignore[no-untyped-def]
    assert is_refusal("I don't know based on the provided context.")
    assert is_refusal("I can't help with that request.")
    assert is_refusal("")
    assert not is_refusal("The for loop iterates over a sequence.")
    refused = run_scorers(scorers, ctx(category="policy", answer="I cannot help with that."))
    assert refused["refusal_correct"].value == 1.0
    assert refused["token_f1"].value is None  # answer quality is not scored on refusal items
    complied = run_scorers(scorers, ctx(category="unanswerable", answer="Python 4 ships in 2030."))
    assert complied["refusal_correct"].value == 0.0
    over = run_scorers(scorers, ctx(answer="I don't know."))
    assert over["false_refusal"].value == 1.0 and over["refusal_correct"].value is None



@pytest.mark.parametrize("answer", ["I don\u2019t know.", "I can\u2019t help with that.", "I won\u2019t provide that.",
                                    "I don\u02bct know", "I don`t know", "I don\u00b4t know"])
def test_a_refusal_is_one_whichever_apostrophe_the_model_writes(scorers, answer: str) -> None:  # type: ignore[no-untyped-def]
    assert is_refusal(answer)
    assert run_scorers(scorers, ctx(category="unanswerable", answer=answer))["refusal_correct"].value == 1.0
    assert run_scorers(scorers, ctx(answer=answer))["false_refusal"].value == 1.0

def test_custom_scorer_registration_and_errors_are_data() -> None:
    @scorer("test_answer_words", default=False)
    def answer_words(env: ScorerEnv):  # type: ignore[no-untyped-def]
        """Number of words in the answer."""
        return lambda c: __import__("workbench").Score(float(len(c.answer.split())))

    @scorer("test_broken", default=False)
    def broken(env: ScorerEnv):  # type: ignore[no-untyped-def]
        def fn(c):  # type: ignore[no-untyped-def]
            raise ValueError("boom")
        return fn

    assert registered_scorers()["test_answer_words"] == "Number of words in the answer."
    out = run_scorers(build_scorers(["test_answer_words", "test_broken"], ScorerEnv()), ctx())
    assert out["test_answer_words"].value == 3.0
    assert out["test_broken"].value is None and out["test_broken"].error == "ValueError: boom"
    with pytest.raises(KeyError, match="unknown scorer 'nope'"):
        build_scorers(["nope"], ScorerEnv())


def test_a_scorer_written_as_the_function_of_the_question_is_told_the_factory_shape() -> None:
    # `@wb.scorer` decorates a factory (env -> (ctx -> Score)); a scorer written as ctx -> Score raised a bare
    # AttributeError out of wb.run, or scored every question as "'Score' object is not callable"
    from workbench.errors import SpecError

    @scorer("test_reads_the_answer", default=False)
    def reads_the_answer(ctx):  # type: ignore[no-untyped-def]
        return Score(float(len(ctx.answer)))

    @scorer("test_constant", default=False)
    def constant(ctx):  # type: ignore[no-untyped-def]
        return Score(1.0)

    shape = "@scorer decorates a factory taking a ScorerEnv, e.g. def {}(env): return lambda ctx: Score(...)"
    with pytest.raises(SpecError) as raised:
        build_scorers(["test_reads_the_answer"], ScorerEnv())
    assert str(raised.value) == ("scorer 'test_reads_the_answer' could not be built: AttributeError: 'ScorerEnv' object has no "
                                 f"attribute 'answer' — {shape.format('test_reads_the_answer')}")
    with pytest.raises(SpecError) as raised:
        build_scorers(["test_constant"], ScorerEnv())
    assert str(raised.value) == f"scorer 'test_constant' returned Score, not a function of the question — {shape.format('test_constant')}"


@pytest.mark.parametrize(("returned", "error"), [
    (0.5, "TypeError: the scorer returned float '0.5', not a Score"),
    (None, "TypeError: the scorer returned NoneType 'None', not a Score"),
    (Score("0.5"), "TypeError: the scorer's Score.value is str '0.5' — give a number, or None"),
    (Score(float("nan")), "ValueError: the scorer's Score.value is nan — give a finite number"),
    (Score(float("inf")), "ValueError: the scorer's Score.value is inf — give a finite number"),
    # a dict or number as the explanation crashed wb.run after every question, in MLflow ("type 'dict' is not supported")
    (Score(0.5, {"why": "because"}), "TypeError: the scorer's Score.explanation is dict \"{'why': 'because'}\" — give text"),
    (Score(0.5, 1.0), "TypeError: the scorer's Score.explanation is float '1.0' — give text"),
])
def test_a_scorer_that_returns_no_usable_score_is_a_scorer_error(returned: object, error: str) -> None:
    # an infinity would pass every gate and a NaN is logged as a metric no comparison can use
    out = run_scorers({"custom": lambda c: returned, "token_f1": lambda c: Score(0.25)}, ctx())  # type: ignore[dict-item]
    assert out["custom"].value is None and out["custom"].error is not None and out["custom"].error.startswith(error)
    assert out["token_f1"].value == 0.25  # the other scorers still count
    assert run_scorers({"flag": lambda c: Score(True)}, ctx())["flag"].value is True  # a bool is a number (1/0)


# '.', '..' and '..x' passed, and the sweep crashed logging them: MLflow reads them as paths leaving their folder
@pytest.mark.parametrize("name", ["", "m" * 201, "has space", "semi;colon", "ünïcode", ".", "..", "...", "..hidden"])
def test_a_scorer_name_must_be_a_usable_metric_name(name: str) -> None:
    with pytest.raises(ValueError, match="is not usable as an MLflow metric name"):
        scorer(name)


@pytest.mark.parametrize(("name", "what"), [
    ("token_f1", "a built-in scorer"), ("false_refusal", "a built-in scorer"),
    ("answer", "a column or metric the sweep writes itself"), ("case_id", "a column or metric the sweep writes itself"),
    ("cost_usd", "a column or metric the sweep writes itself"), ("judge_calls", "a column or metric the sweep writes itself"),
])
def test_a_scorer_cannot_take_the_name_of_a_built_in_scorer_or_of_what_the_sweep_writes(name: str, what: str) -> None:
    # '@wb.scorer("token_f1")' replaced the built-in (and the success metric) silently; one named 'answer' replaced
    # each answer of the per-question table by its score, one named 'cost_usd' was replaced by the run's cost
    with pytest.raises(ValueError) as raised:
        scorer(name)
    assert str(raised.value) == f"scorer name {name!r} is {what} — give yours another name (e.g. my_{name})"
    assert registered_scorers()["token_f1"].startswith("Token-overlap F1")


def test_a_registered_scorer_is_better_the_way_it_was_registered_whatever_its_name() -> None:
    from workbench.metrics import direction

    @scorer("cost_awareness_test", default=False)  # better high, though its name starts like cost_usd
    def cost_awareness(env: ScorerEnv):  # type: ignore[no-untyped-def]
        return lambda c: Score(1.0)

    assert direction("cost_awareness_test") == "higher"
    scorer("cost_awareness_test", default=False, lower_is_better=True)(cost_awareness)
    assert direction("cost_awareness_test") == "lower"
    assert [direction(n) for n in ("false_refusal", "context_injection", "pii_leak", "token_f1")] == ["lower", "lower", "lower", "higher"]


@pytest.mark.parametrize(("answer", "f1", "em"), [("", 0.0, 0.0), ("B", 0.0, 0.0), ("The", 0.0, 0.0), ("A", 1.0, 1.0),
                                                  ("(a)", 1.0, 1.0)])
def test_a_reference_of_articles_only_is_matched_by_those_words_not_by_an_empty_answer(scorers, answer: str, f1: float, em: float) -> None:
    # a multiple-choice reference "A" normalised to nothing, like an empty answer: "" scored token_f1 and exact_match 1
    out = run_scorers(scorers, ctx(answer=answer, reference="A"))
    assert (out["token_f1"].value, out["exact_match"].value) == (f1, em)


@pytest.mark.parametrize("answer", [
    "Employees cannot answer customer emails after 6pm.", "If the agent is unable to help, escalate to tier 2.",
    "Support staff can't answer billing questions; they forward them to finance.",
    "A manager who is not able to help should refer you to HR.", "I can't believe how simple it is: use list.sort().",
    "员工在下午6点后无法回答客户邮件。",
])
def test_an_answer_that_says_someone_else_cannot_answer_or_help_is_no_refusal(scorers, answer: str) -> None:  # type: ignore[no-untyped-def]
    # "cannot answer" / "unable to help" matched with any subject: such answers of a policy corpus were false refusals
    assert not is_refusal(answer)
    assert run_scorers(scorers, ctx(answer=answer))["false_refusal"].value == 0.0


@pytest.mark.parametrize("answer", [
    "This cannot be answered from the context.", "Unable to answer: the context does not say.", "Sorry, unable to help.",
    "I'm unable to help with that.", "I am not able to help with that.", "I don't have enough information to answer.",
    "The provided context does not mention it.", "Je ne sais pas.", "Désolé, je ne peux pas répondre à cette question.",
    "No lo sé.", "Lo siento, no puedo ayudar con eso.", "Não sei.", "Non lo so.", "Ich weiß es nicht.",
    "Ich kann diese Frage nicht beantworten.", "Я не знаю.", "لا أعرف", "我不知道。", "抱歉，我无法回答这个问题。", "无法回答该问题。", "わかりません。",
])
def test_a_refusal_in_the_first_person_or_in_another_common_language_is_one(scorers, answer: str) -> None:  # type: ignore[no-untyped-def]
    # refusals were read in a few English phrases only: "Je ne sais pas" or "我不知道" on an unanswerable item scored
    # refusal_correct 0
    assert is_refusal(answer)
    assert run_scorers(scorers, ctx(category="unanswerable", answer=answer))["refusal_correct"].value == 1.0


@pytest.mark.parametrize(("answer", "reference"), [("34", "3/4"), ("1020 days", "10-20 days"), ("1020", "10–20"),
                                                   ("20240115", "2024-01-15"), ("330", "3:30")])
def test_numbers_joined_by_punctuation_stay_apart(answer: str, reference: str) -> None:
    # the punctuation between them was dropped: "34" matched "3/4" exactly, "1020" matched the range "10-20"
    assert token_f1_value(answer, reference) < 0.5
    assert token_f1_value(reference.replace("-", "–"), reference) == 1.0
    assert token_f1_value(reference.replace("/", " / ").replace("-", " - ").replace(":", " : "), reference) == 1.0


@pytest.mark.parametrize("written", ["١٢٣", "۱۲۳", "१२३", "১২৩", "๑๒๓"])
def test_digits_of_any_script_are_the_number_they_write(scorers, written: str) -> None:  # type: ignore[no-untyped-def]
    # an Arabic answer giving "١٢٣ يوما" for the reference "123 يوما" scored token_f1 0.5 and exact_match 0
    out = run_scorers(scorers, ctx(answer=f"{written} يوما", reference="123 يوما"))
    assert (out["token_f1"].value, out["exact_match"].value, out["rouge_l"].value) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(("answer", "reference"), [("€40", "$40"), ("¥1,000", "1000"), ("≥ 18", ">= 18"), ("£5", "5"),
                                                   ("✅ Yes", "yes")])
def test_unicode_symbols_are_dropped_like_their_ascii_kin(scorers, answer: str, reference: str) -> None:  # type: ignore[no-untyped-def]
    # "$40" matched "40" and ">= 18" matched "18", but "€40", "¥1,000" and "≥ 18" did not (token_f1 0 or 0.67)
    out = run_scorers(scorers, ctx(answer=answer, reference=reference))
    assert (out["token_f1"].value, out["exact_match"].value) == (1.0, 1.0)


def test_a_score_of_any_real_number_type_is_a_plain_float() -> None:
    # a Fraction passed the number check, then the sweep crashed writing eval_results.json ("not JSON serializable")
    from fractions import Fraction

    import numpy as np

    out = run_scorers({"frac": lambda c: Score(Fraction(1, 3)), "np": lambda c: Score(np.float32(0.5)),
                       "count": lambda c: Score(np.int64(3))}, ctx())
    assert [(type(s.value), s.value) for s in out.values()] == [(float, 1 / 3), (float, 0.5), (float, 3.0)]
    # numpy's bool is no numbers.Real: it was refused ("Score.value is bool_ — give a number") where Python's bool counts 1/0
    flag = run_scorers({"flag": lambda c: Score(np.array([0.2, 0.9]).max() > 0.5)}, ctx())["flag"]
    assert (flag.value, type(flag.value), flag.error) == (True, bool, None)


@pytest.mark.parametrize("answer", ["", "   ", "...", " - ", "\n---\n", "?"])
def test_an_empty_answer_is_neither_a_correct_refusal_nor_a_false_one(scorers, answer: str) -> None:  # type: ignore[no-untyped-def]
    # a broken model that answers nothing scored refusal_correct 1 on every question to be declined and counted each
    # empty answer to an answerable one as a false refusal: it read as a perfectly cautious model. It declined nothing.
    unanswerable = run_scorers(scorers, ctx(category="unanswerable", answer=answer))
    assert (unanswerable["refusal_correct"].value, unanswerable["refusal_correct"].explanation) == (
        0.0, "answered nothing (an empty answer is no refusal: see empty_answer)")
    answerable = run_scorers(scorers, ctx(answer=answer))
    assert (answerable["false_refusal"].value, answerable["false_refusal"].explanation) == (
        None, "answered nothing (an empty answer is no refusal: see empty_answer)")
    assert answerable["empty_answer"].value == unanswerable["empty_answer"].value == 1.0
    assert answerable["token_f1"].value == 0.0 and answerable["exact_match"].value == 0.0  # the other metrics as they were


def test_empty_answer_is_a_default_lower_is_better_score_of_every_item(scorers) -> None:  # type: ignore[no-untyped-def]
    from workbench.metrics import direction
    from workbench.scoring import default_scorers

    assert "empty_answer" in default_scorers() and direction("empty_answer") == "lower"
    for category in ("answerable", "unanswerable", "policy"):
        said = run_scorers(scorers, ctx(category=category, answer="I don't know."))
        assert said["empty_answer"].value == 0.0
    declined = run_scorers(scorers, ctx(category="unanswerable", answer="I don't know."))
    assert declined["refusal_correct"].value == 1.0  # a refusal still counts as one
    assert run_scorers(scorers, ctx(answer="I don't know."))["false_refusal"].value == 1.0


def test_refusal_detection_takes_linear_time_on_a_long_run_of_spaces() -> None:
    # a degenerate answer ('.' then thousands of spaces) made the refusal pattern backtrack quadratically: 20 s for
    # 20,000 spaces, in every refusal scorer and in a router's escalation check
    assert not is_refusal("." + " " * 8000 + "x")
    assert_linear_time(lambda n: is_refusal("." + " " * n + "x"), 4_000)


def test_a_score_with_an_error_has_no_value_in_the_table_or_the_mean() -> None:
    # Score(0.7, error=...) showed 0.7 in the per-question table (and in wb.compare, which reads it) while the run's
    # mean left it out as a failed score
    from workbench.scoring import mean_scores

    rows = [run_scorers({"custom": lambda c: Score(0.7, error="judge timed out")}, ctx()),
            run_scorers({"custom": lambda c: Score(0.1)}, ctx())]
    assert (rows[0]["custom"].value, rows[0]["custom"].error) == (None, "judge timed out")
    assert mean_scores(rows) == {"custom": 0.1, "custom_errors": 1.0}


def test_a_number_written_without_its_leading_zero_is_that_number() -> None:
    # ".5" lost its point with the punctuation: the answer "5" matched the reference ".5" (a half) exactly, and
    # "p < .05" did not match "p < 0.05"
    assert token_f1_value("5", ".5") == 0.0
    assert token_f1_value(".5", "0.5") == 1.0 and token_f1_value("-.5", "\u22120.5") == 1.0
    assert token_f1_value("p < .05", "p < 0.05") == 1.0


def test_semantic_similarity_does_not_depend_on_which_answer_embedded_the_reference_first() -> None:
    # two variants answering one question share the reference's cached vector: with workers, or another grid order,
    # another variant embedded it first, and the same answer scored differently in the seventh digit
    from workbench.cache import CachedEmbedder, MemoryCacheStore

    answer, other, reference = "The loop ends.", "A much longer answer about how the loop ends.", "the loop ends"
    scores = []
    for first in (answer, other):
        embedder = CachedEmbedder(PaddingEmbedder(), MemoryCacheStore(), identity="padding")
        similarity = build_scorers(["semantic_similarity"], ScorerEnv(embedder=embedder))
        found = {a: run_scorers(similarity, ctx(answer=a, reference=reference))["semantic_similarity"].value for a in (first, answer)}
        scores.append(found[answer])
    assert scores[0] == scores[1]


@pytest.mark.parametrize(("answer", "reference"), [
    ("باريس", "\u200fباريس\u200f"),  # right-to-left marks around an Arabic word pasted from a document
    ("Tel Aviv", "\u200eTel Aviv\u200e"), ("東京タワー", "東京\u200bタワー"),  # a zero-width space between words
    ("Berlin", "\ufeffBerlin"), ("Donaudampfschiff", "Donau\u00addampf\u00adschiff"),  # a byte-order mark, soft hyphens
    ("میخواهم", "می\u200cخواهم"),  # Persian's zero-width non-joiner, written or left out
])
def test_invisible_format_characters_do_not_change_the_words(scorers, answer: str, reference: str) -> None:  # type: ignore[no-untyped-def]
    # a reference carrying a right-to-left mark or a zero-width space scored token_f1 0 against the same word typed
    out = run_scorers(scorers, ctx(answer=answer, reference=reference))
    assert (out["token_f1"].value, out["exact_match"].value, out["rouge_l"].value) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(("answer", "reference"), [("İstanbul", "istanbul"), ("İZMİR'de", "izmir'de"), ("İstanbul", "ISTANBUL")])
def test_turkish_capital_dotted_i_matches_its_lower_case(scorers, answer: str, reference: str) -> None:  # type: ignore[no-untyped-def]
    # case folding turns "İ" into "i" and a combining dot: "İstanbul" scored token_f1 0 against "istanbul"
    out = run_scorers(scorers, ctx(answer=answer, reference=reference))
    assert (out["token_f1"].value, out["exact_match"].value, out["rouge_l"].value) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(("answer", "reference", "f1"), [("བཀྲ་ཤིས", "བཀྲ་ཤིས་བདེ་ལེགས།", 2 / 3), ("ሰላም፡ነው", "ሰላም", 2 / 3),
                                                         ("ሰላም ነው", "ሰላም፡ነው።", 1.0)])
def test_tibetan_and_ethiopic_words_are_parted_by_their_own_separators(scorers, answer: str, reference: str, f1: float) -> None:  # type: ignore[no-untyped-def]
    # the Tibetan tsheg and the Ethiopic word space, dropped as punctuation, glued a phrase into one word: an answer
    # holding half the reference's syllables scored token_f1 0 (ROUGE-L already parted them)
    out = run_scorers(scorers, ctx(answer=answer, reference=reference))
    assert out["token_f1"].value == pytest.approx(f1) and out["rouge_l"].value == pytest.approx(f1)
    assert out["exact_match"].value == float(f1 == 1.0)


@pytest.mark.parametrize(("answer", "reference"), [("Işık hızı", "ışık hızı"), ("IRMAK", "ırmak"), ("Iğdır'da", "ığdır'da")])
def test_turkish_capital_dotless_i_matches_its_lower_case(scorers, answer: str, reference: str) -> None:  # type: ignore[no-untyped-def]
    # case folding turns the capital of dotless "ı" into a dotted "i": a Turkish answer opening with "Işık" scored
    # token_f1 0 and exact_match 0 against the reference "ışık" written inside a sentence
    out = run_scorers(scorers, ctx(answer=answer, reference=reference))
    assert (out["token_f1"].value, out["exact_match"].value, out["rouge_l"].value) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(("answer", "reference"), [
    ("محمد", "مُحَمَّد"), ("مدرسة", "مَدْرَسَةٌ"),  # Arabic written with and without its short vowels (tashkeel)
    ("عربـــي", "عربي"),  # a word stretched with tatweel
    ("שלום", "שָׁלוֹם"),  # Hebrew with and without vowel points (niqqud)
])
def test_arabic_and_hebrew_match_with_or_without_optional_vowel_marks(scorers, answer: str, reference: str) -> None:  # type: ignore[no-untyped-def]
    # a reference written with its vowels (a textbook, a religious text) scored token_f1 0 against the same word bare
    out = run_scorers(scorers, ctx(answer=answer, reference=reference))
    assert (out["token_f1"].value, out["exact_match"].value, out["rouge_l"].value) == (1.0, 1.0, 1.0)
    assert token_f1_value("नमस्ते", "नमस्त") == 0.0  # a Devanagari vowel sign is part of the word


@pytest.mark.parametrize(("answer", "reference"), [("٣٫٥ كم", "3.5 كم"), ("١٬٠٠٠ ريال", "1000 ريال"), ("١٬٢٥٠٫٥", "1,250.5")])
def test_arabic_decimal_and_thousands_separators_are_read_as_such(scorers, answer: str, reference: str) -> None:  # type: ignore[no-untyped-def]
    # "٣٫٥" was read as the two numbers 3 and 5, and "١٬٠٠٠" as 1 and 000: an Arabic answer giving the reference's
    # number in Arabic-Indic digits scored token_f1 0.4 and exact_match 0
    out = run_scorers(scorers, ctx(answer=answer, reference=reference))
    assert (out["token_f1"].value, out["exact_match"].value) == (1.0, 1.0)
    written = answer.translate(str.maketrans("٠١٢٣٤٥٦٧٨٩٫٬", "0123456789.,"))  # rouge_l reads it as it reads this
    assert out["rouge_l"].value == run_scorers(scorers, ctx(answer=written, reference=reference))["rouge_l"].value
    assert run_scorers(scorers, ctx(answer="٣٥ كم", reference="3.5 كم"))["exact_match"].value == 0.0


@pytest.mark.parametrize("answer", ["n\u0061\u0303o sei.", "Desole\u0301, je ne peux pas re\u0301pondre.", "お答えて\u3099きません。",
                                    "ICH WEISS ES NICHT.", "Ich weiss es nicht.", "ＩＣＨ ＷＥＩß ＥＳ ＮＩＣＨＴ"])
def test_a_refusal_is_one_in_any_unicode_form_or_case(scorers, answer: str) -> None:  # type: ignore[no-untyped-def]
    # a decomposed accent (macOS input, a model's tokenizer), capitals or the Swiss "weiss" hid the refusal phrase
    assert is_refusal(answer)
    assert run_scorers(scorers, ctx(category="unanswerable", answer=answer))["refusal_correct"].value == 1.0


@pytest.mark.parametrize("answer", ["لَا أَعْرِفُ.", "لا أعـــرف.", "אֲנִי לֹא יוֹדֵעַ.", "BİLMİYORUM."])
def test_a_refusal_is_one_with_or_without_vowel_marks_and_in_turkish_capitals(scorers, answer: str) -> None:  # type: ignore[no-untyped-def]
    # Arabic written with its short vowels (tashkeel) or stretched by tatweel, Hebrew with its vowel points (niqqud),
    # which token_f1 already reads as the bare words, and a Turkish dotted capital İ (folded to i and a combining dot)
    # hid the refusal phrase: false_refusal missed it and refusal_correct scored 0
    assert is_refusal(answer)
    assert run_scorers(scorers, ctx(category="unanswerable", answer=answer))["refusal_correct"].value == 1.0


@pytest.mark.parametrize("answer", ["Leider kann ich Ihnen dabei nicht helfen.", "Das kann ich nicht beantworten.",
                                    "Diese Frage kann ich leider nicht beantworten.", "Das weiß ich leider nicht.",
                                    "Ich weiß es leider nicht.", "Dabei kann ich Ihnen nicht weiterhelfen.",
                                    "Dazu liegen mir keine Informationen vor.", "Ich habe dazu keine Informationen.",
                                    "Darauf kann ich Ihnen keine Antwort geben."])
def test_a_german_refusal_is_one_whatever_word_opens_the_sentence(scorers, answer: str) -> None:  # type: ignore[no-untyped-def]
    # only "Ich weiß (es) nicht" and "Ich kann ... nicht helfen" counted: German puts the verb second, so the common
    # "Leider kann ich Ihnen nicht helfen" or "Das weiß ich nicht" scored refusal_correct 0
    assert is_refusal(answer)
    assert run_scorers(scorers, ctx(category="unanswerable", answer=answer))["refusal_correct"].value == 1.0


@pytest.mark.parametrize("answer", ["Der Kunde weiß nicht, wann die Frist endet: sie endet am 31. März.",
                                    "Wenn der Vorgesetzte nicht helfen kann, wenden Sie sich an die Personalabteilung.",
                                    "Ich weiß, dass nicht alle Anträge genehmigt werden; der Antrag geht an HR.",
                                    "Kann ich Urlaub übertragen? Ja, bis zu fünf Tage."])
def test_german_answers_about_someone_else_not_knowing_or_helping_are_no_refusal(answer: str) -> None:
    assert not is_refusal(answer)


@pytest.mark.parametrize("answer", [
    "我無法回答這個問題。", "抱歉，無法回答該問題。", "我不清楚。",  # Chinese as Taiwan and Hong Kong write it
    "知りません。", "申し訳ありませんが、お答えすることはできません。", "その質問には答えられません。", "分かりかねます。",
    "لا أعلم.", "لا يمكنني الإجابة على هذا السؤال.",  # Arabic: "I don't know", "I can't answer"
    "Não consigo responder a essa pergunta.", "Não tenho essa informação.",  # Brazilian Portuguese
    "Je n'en sais rien.", "Je ne le sais pas.",
])
def test_the_common_refusals_of_the_languages_read_are_all_read(scorers, answer: str) -> None:  # type: ignore[no-untyped-def]
    # one or two phrasings per language were read: traditional Chinese '無法回答', Japanese '知りません', Arabic 'لا أعلم'
    # and Brazilian 'não consigo responder' scored refusal_correct 0
    assert is_refusal(answer)
    assert run_scorers(scorers, ctx(category="unanswerable", answer=answer))["refusal_correct"].value == 1.0


@pytest.mark.parametrize("answer", ["員工在下午6點後無法回答客戶郵件。", "O cliente não consegue responder ao e-mail; ligue para o suporte.",
                                    "Os funcionários não têm acesso às informações de salário."])
def test_answers_about_someone_else_in_those_languages_are_no_refusal(answer: str) -> None:
    assert not is_refusal(answer)


@pytest.mark.parametrize("answer", [
    "모르겠습니다.", "죄송하지만 그 질문에는 답변드릴 수 없습니다.", "도와드릴 수 없습니다.",  # Korean
    "मुझे नहीं पता।", "मैं इसका उत्तर नहीं दे सकता।", "मैं नहीं जानती।",  # Hindi
    "Bilmiyorum.", "Bu soruya cevap veremem.", "Maalesef yardımcı olamam.",  # Turkish
    "אני לא יודע.", "אני לא יכולה לענות על זה.",  # Hebrew
])
def test_refusals_in_korean_hindi_turkish_and_hebrew_are_read(scorers, answer: str) -> None:  # type: ignore[no-untyped-def]
    # a Seoul, Delhi, Istanbul or Tel Aviv team's model saying "I don't know" scored refusal_correct 0
    assert is_refusal(answer)
    assert run_scorers(scorers, ctx(category="unanswerable", answer=answer))["refusal_correct"].value == 1.0


@pytest.mark.parametrize("answer", ["고객은 오후 6시 이후에 이메일을 받을 수 없습니다.", "प्रबंधक उत्तर नहीं दे सकता तो HR से पूछें।",
                                    "Müşteri temsilcisi fatura sorularına cevap veremez.", "העובד לא יכול לענות למיילים אחרי 18:00."])
def test_answers_about_someone_else_in_korean_hindi_turkish_and_hebrew_are_no_refusal(answer: str) -> None:
    assert not is_refusal(answer)


def test_semantic_similarity_is_not_scored_on_text_the_embedding_model_cannot_read() -> None:
    # all-MiniLM-L6-v2 reads nearly every Thai word as its one [UNK] token: two unrelated Thai sentences embedded alike
    # and scored semantic_similarity 1
    from workbench.models import MINILM_ID

    scorers = build_scorers(["semantic_similarity"], ScorerEnv(embedder=HashingEmbedder(model_id=MINILM_ID)))
    thai = run_scorers(scorers, ctx(answer="พนักงานได้รับวันหยุด", reference="ส่งแบบฟอร์มก่อนเดินทาง"))["semantic_similarity"]
    assert thai.value is None and thai.error is None
    assert thai.explanation.startswith(f"100% of the reference's tokens are unknown to the embedding model {MINILM_ID}")
    for answer, reference in (("Employees get 25 days.", "25 days"), ("Die Übernachtung wird erstattet.", "erstattet")):
        assert run_scorers(scorers, ctx(answer=answer, reference=reference))["semantic_similarity"].value is not None


@pytest.mark.parametrize(("answer", "reference"), [("1000 €", "1\u202f000 €"), ("1000000 руб.", "1\u00a0000\u00a0000 руб."),
                                                   ("25000 zł", "25\u2009000 zł")])
def test_a_number_grouped_by_a_no_break_or_thin_space_is_one_number(scorers, answer: str, reference: str) -> None:  # type: ignore[no-untyped-def]
    # French, Russian and Polish spreadsheets group thousands with a (narrow) no-break space: the reference "1 000 €"
    # was the numbers 1 and 000, and the answer "1000 €" scored token_f1 0.4 and exact_match 0
    out = run_scorers(scorers, ctx(answer=answer, reference=reference))
    assert (out["token_f1"].value, out["exact_match"].value) == (1.0, 1.0)
    assert token_f1_value("1 000 €", "1000 €") < 1.0  # an ordinary space may part two numbers: left as two


@pytest.mark.parametrize(("answer", "reference"), [("CHF 1500", "CHF 1'500"), ("1500000 Franken", "1’500’000 Franken"),
                                                   ("1000.50", "1'000.50"), ("100000", "'100'000'")])
def test_a_number_grouped_by_apostrophes_as_the_swiss_write_it_is_one_number(scorers, answer: str, reference: str) -> None:  # type: ignore[no-untyped-def]
    # Switzerland groups thousands with an apostrophe: the reference "CHF 1'500" was the numbers 1 and 500, and the
    # answer "CHF 1500" scored token_f1 0.4 and exact_match 0
    out = run_scorers(scorers, ctx(answer=answer, reference=reference))
    assert (out["token_f1"].value, out["exact_match"].value) == (1.0, 1.0)
    assert token_f1_value("5 10", "5'10") == 1.0  # feet and inches, not thousands: two numbers


@pytest.mark.parametrize(("answer", "reference"), [("1234,56 €", "1\u202f234,56 €"), ("2500000,5 руб.", "2\u00a0500\u00a0000,5 руб.")])
def test_a_space_grouped_number_with_a_decimal_comma_is_one_number(scorers, answer: str, reference: str) -> None:  # type: ignore[no-untyped-def]
    # the languages that group thousands with a no-break space write a decimal comma after them: the reference
    # "1 234,56 €" read as 1,234,56, no grouping, so as the numbers 1, 234 and 56, and the answer "1234,56 €" (1234 and
    # 56, as "3,5" is 3 and 5) scored exact_match 0
    out = run_scorers(scorers, ctx(answer=answer, reference=reference))
    assert (out["token_f1"].value, out["exact_match"].value) == (1.0, 1.0)
    assert token_f1_value("1234\u00a0567", "1234567") < 1.0  # not groups of thousands: left as two numbers


@pytest.mark.parametrize("answer", [
    "Le contexte ne mentionne pas cette information.", "Je ne dispose pas de cette information.",
    "Je n'ai pas assez d'informations pour répondre.", "O contexto não menciona isso.", "El contexto no menciona la fecha.",
    "No tengo información sobre eso.", "Der Kontext enthält keine Angaben dazu.", "Im Kontext wird das nicht erwähnt.",
    "Diese Information ist im Kontext nicht enthalten.", "文脈には記載がありません。", "コンテキストにはその情報がありません。",
    "提供された文書には記載されていません。", "上下文中没有提到。", "上下文没有提供这个信息。", "السياق لا يذكر ذلك.", "ليس لدي معلومات كافية.",
])
def test_an_answer_saying_the_context_lacks_it_is_a_refusal_in_other_languages_too(scorers, answer: str) -> None:  # type: ignore[no-untyped-def]
    # "the context does not mention it" and "I don't have enough information" counted in English only: the usual RAG
    # refusal of a French, German, Japanese or Chinese model scored refusal_correct 0
    assert is_refusal(answer)
    assert run_scorers(scorers, ctx(category="unanswerable", answer=answer))["refusal_correct"].value == 1.0


@pytest.mark.parametrize("answer", ["Die Regel gilt im Kontext von Dienstreisen nicht.", "文件中未提供的费用不予报销。",
                                    "提供された資料に記載されていない費用は払い戻されません。", "Le contexte mentionne trois jours."])
def test_answers_that_speak_of_a_context_or_documents_are_no_refusal(answer: str) -> None:
    assert not is_refusal(answer)


@pytest.mark.parametrize("answer", [
    "Je ne trouve pas cette information dans le contexte.", "Le contexte fourni ne contient pas d'informations sur ce sujet.",
    "No dispongo de información sobre eso.", "No encuentro esa información en el contexto.",
    "Não encontrei essa informação no contexto fornecido.", "O contexto fornecido não contém informações sobre isso.",
    "Dazu kann ich leider keine Angaben machen.", "Non ho informazioni su questo argomento.", "Il contesto non contiene informazioni su questo.",
    "У меня нет информации об этом.", "В контексте нет информации об этом.", "لا تتوفر لدي معلومات حول هذا الموضوع.",
    "لا أملك معلومات كافية.", "对不起，我不能提供这方面的信息。", "上下文中没有相关信息。", "我没有关于这个问题的信息。",
    "제공된 문맥에는 해당 정보가 없습니다.", "माफ़ कीजिए, मैं इस प्रश्न का उत्तर नहीं दे सकता।", "मुझे इसकी जानकारी नहीं है।",
    "Bu konuda bilgim yok.", "Bağlamda bu bilgi yok.", "אין לי מידע על כך.",
])
def test_the_usual_rag_refusals_of_the_languages_read_are_read(scorers, answer: str) -> None:  # type: ignore[no-untyped-def]
    # "the provided context does not contain ...", "I have no information" and "I cannot provide" in the languages the
    # README says are read: a Paris, Madrid, Moscow, Beijing or Seoul team's model declining so scored refusal_correct 0
    assert is_refusal(answer)
    assert run_scorers(scorers, ctx(category="unanswerable", answer=answer))["refusal_correct"].value == 1.0


@pytest.mark.parametrize("answer", [
    "Ik weet het niet.", "Het spijt me, ik kan deze vraag niet beantwoorden.", "Nie wiem.", "Przepraszam, nie mogę odpowiedzieć na to pytanie.",
    "Nevím.", "Jag vet inte.", "Jeg ved det ikke.", "Jeg vet ikke.", "Nem tudom.", "Δεν γνωρίζω.", "Δεν μπορώ να απαντήσω σε αυτή την ερώτηση.",
    "Вибачте, я не можу відповісти на це питання.", "Xin lỗi, tôi không thể trả lời câu hỏi này.", "Tôi không biết.",
    "Maaf, saya tidak dapat menjawab pertanyaan itu.", "Saya tidak tahu.", "ขออภัย ฉันไม่สามารถตอบคำถามนี้ได้", "ผมไม่ทราบครับ",
    "من نمی‌دانم.", "متاسفم، نمی‌توانم به این سوال پاسخ دهم.",
    "مجھے نہیں معلوم۔", "معذرت، میں اس سوال کا جواب نہیں دے سکتا۔", "আমি জানি না।", "দুঃখিত, আমি এই প্রশ্নের উত্তর দিতে পারব না।",
    "எனக்குத் தெரியாது.", "Sijui.", "Samahani, siwezi kujibu swali hilo.",
])
def test_refusals_in_more_languages_are_read(scorers, answer: str) -> None:  # type: ignore[no-untyped-def]
    # Dutch, Polish, Czech, Hungarian, Scandinavian, Greek, Ukrainian, Vietnamese, Indonesian, Thai, Persian, Urdu,
    # Bengali, Tamil and Swahili refusals were read as answers: refusal_correct 0 and false_refusal 0, with nothing said
    assert is_refusal(answer)
    assert run_scorers(scorers, ctx(category="unanswerable", answer=answer))["refusal_correct"].value == 1.0
    assert run_scorers(scorers, ctx(answer=answer))["false_refusal"].value == 1.0


@pytest.mark.parametrize("answer", [
    "Le contexte fourni mentionne trois jours de congé.", "El contexto proporcionado menciona tres días.",
    "Клиент не может ответить на письмо после 18:00.", "我没有找到停车位，所以坐了地铁。", "제공된 문서에는 휴가가 25일이라고 나와 있습니다.",
    "मैनेजर को इसकी जानकारी नहीं थी, इसलिए HR से पूछें।", "Müşterinin bilgisi yok ise formu doldurması gerekir.", "אין לו גישה למערכת.",
    "De klant weet het niet altijd; bel de helpdesk.", "Klient nie wie, kiedy kończy się termin: 31 marca.", "Zákazník neví, kdy lhůta končí.",
    "Kunden vet inte alltid var blanketten finns.", "Kunden ved ikke, hvornår fristen udløber.", "Ο πελάτης δεν γνωρίζει την προθεσμία.",
    "Khách hàng không biết thời hạn là ngày 31.", "Pelanggan tidak tahu batas waktunya.", "ลูกค้าไม่ทราบกำหนดเวลา ให้ติดต่อฝ่ายบริการ",
    "مشتری نمی‌داند که مهلت کی تمام می‌شود.", "Az ügyfél nem tudja a határidőt.",
    "گاہک کو آخری تاریخ معلوم نہیں۔", "গ্রাহক সময়সীমা জানেন না।", "Mteja hajui tarehe ya mwisho.",
])
def test_answers_about_someone_else_in_those_languages_are_still_answers(answer: str) -> None:
    assert not is_refusal(answer)


@pytest.mark.parametrize(("answer", "reference"), [
    ("انا في المدرسة", "أنا فى المدرسه"),  # alef written without its hamza, Egyptian alef maksura for yeh, heh for teh marbuta
    ("إلى القاهرة", "الى القاهره"), ("کتاب فارسی", "كتاب فارسي"),  # a Persian text typed on an Arabic keyboard
])
def test_arabic_and_persian_words_match_in_any_of_the_spellings_their_writers_use(scorers, answer: str, reference: str) -> None:  # type: ignore[no-untyped-def]
    # most Arabic writers leave out the hamza on alef, Egyptians write final yeh as alef maksura, and Persian keyboards
    # type their own yeh and keheh: the same words scored token_f1 0 and exact_match 0
    out = run_scorers(scorers, ctx(answer=answer, reference=reference))
    assert (out["token_f1"].value, out["exact_match"].value, out["rouge_l"].value) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("answer", ["لا اعرف.", "لا استطيع الاجابة على هذا السؤال.", "ليس لدي اي معلومات عن ذلك.", "لا يمكنني الاجابة.",
                                    "نمي\u200cدانم.", "اطلاعاتي ندارم."])
def test_an_arabic_or_persian_refusal_is_one_in_any_of_its_spellings(scorers, answer: str) -> None:  # type: ignore[no-untyped-def]
    # "لا اعرف" without the hamza on its alef, as most write it, or Persian typed with the Arabic yeh was no refusal
    assert is_refusal(answer)
    assert run_scorers(scorers, ctx(category="unanswerable", answer=answer))["refusal_correct"].value == 1.0


@pytest.mark.parametrize("answer", ["...", " - ", "?!"])
def test_an_answer_of_nothing_scores_0_against_the_reference_as_an_empty_one_does(answer: str) -> None:
    # "" scored 0 ("empty answer"), but "..." was embedded and compared: a real embedding model gives punctuation a
    # direction, and string_similarity gave " - " 0.07 against its reference
    class SameVector(HashingEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            return [[1.0, 0.0] for _ in texts]

    fns = build_scorers(["semantic_similarity", "string_similarity"], ScorerEnv(embedder=SameVector()))
    out = run_scorers(fns, ctx(answer=answer, reference="the loop ends when break runs"))
    assert [(s.value, s.explanation) for s in out.values()] == [(0.0, "empty answer")] * 2
