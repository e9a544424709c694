"""The routing decision (pure) and the router's call path over scripted models."""

from __future__ import annotations

import math

import pytest

from workbench.datasets import EvalCase
from workbench.models import Generation, Price
from workbench.pipeline import Chunk, Hit, QuestionRecord, Router, Signals, decide, decide_before_answer, grounding, route_answer, routing_metrics
from workbench.prompts import PromptTemplate
from workbench.spec import EscalationSpec, RouterSpec
from workbench.testing import HashingEmbedder, ScriptedModel

ALL = EscalationSpec(retrieval_score_below=0.3, refusal_or_empty=True, grounding_below=0.5)


# -- the decision ------------------------------------------------------------------------------------------------------


def test_nothing_fires_the_cheap_answer_stands() -> None:
    decision = decide(Signals(best_retrieval_score=0.8, refused_or_empty=False, grounding=0.9), ALL)
    assert not decision.escalate
    assert decision.fired == () and decision.reasons == () and decision.reason_text == ""


@pytest.mark.parametrize(
    ("signals", "fired"),
    [
        (Signals(best_retrieval_score=0.1, refused_or_empty=False, grounding=0.9), ("retrieval_score_below",)),
        (Signals(best_retrieval_score=0.8, refused_or_empty=True, grounding=0.9), ("refusal_or_empty",)),
        (Signals(best_retrieval_score=0.8, refused_or_empty=False, grounding=0.2), ("grounding_below",)),
        (Signals(best_retrieval_score=0.1, refused_or_empty=True, grounding=0.2), ("retrieval_score_below", "refusal_or_empty", "grounding_below")),
        (Signals(best_retrieval_score=None, refused_or_empty=False, grounding=0.9), ("retrieval_score_below",)),
        (Signals(best_retrieval_score=0.8, cheap_error="TimeoutError: slow"), ("cheap_failed",)),
    ],
)
def test_each_signal_that_fires_escalates_with_its_reason(signals: Signals, fired: tuple[str, ...]) -> None:
    decision = decide(signals, ALL)
    assert decision.escalate
    assert decision.fired == fired
    assert len(decision.reasons) == len(fired)
    assert all(r.startswith(f"{name}:") for r, name in zip(decision.reasons, fired))


def test_thresholds_are_strict_and_unset_signals_never_fire() -> None:
    at_threshold = Signals(best_retrieval_score=0.3, refused_or_empty=False, grounding=0.5)
    assert not decide(at_threshold, ALL).escalate
    only_refusal = EscalationSpec(refusal_or_empty=True)
    assert not decide(Signals(best_retrieval_score=0.0, refused_or_empty=False, grounding=0.0), only_refusal).escalate
    no_refusal = EscalationSpec(grounding_below=0.5)
    assert not decide(Signals(best_retrieval_score=0.9, refused_or_empty=True, grounding=0.9), no_refusal).escalate


def test_a_failed_cheap_calls_reason_quotes_its_errors_first_line_cut_short() -> None:
    """A proxy's HTML error page in the cheap call's error went whole into the reason: a 24,000-character
    workbench.escalation_reasons trace tag (4,096 on a team server) and a page of HTML as the inspector's 'why'."""
    page = "RuntimeError: 502 Bad Gateway <html>" + "proxy error " * 2000 + "</html>\nTraceback (most recent call last): ..."
    (reason,) = decide(Signals(best_retrieval_score=0.8, cheap_error=page), ALL).reasons
    assert reason.startswith("cheap_failed: RuntimeError: 502 Bad Gateway <html>proxy error") and len(reason) < 300
    assert "Traceback" not in reason and reason.endswith("characters in all)")
    assert decide(Signals(best_retrieval_score=0.8, cheap_error="TimeoutError: slow"), ALL).reasons == ("cheap_failed: TimeoutError: slow",)


def test_a_reason_never_shows_a_value_just_below_its_threshold_as_equal_to_it() -> None:
    """A best retrieval score of 0.34996 against 0.35 read "best retrieval score 0.350 < 0.35" in the trace."""
    rule = EscalationSpec(retrieval_score_below=0.35, grounding_below=0.5)
    fired = decide(Signals(best_retrieval_score=0.34996, grounding=0.4999999), rule)
    assert fired.reasons == ("retrieval_score_below: best retrieval score 0.34996 < 0.35",
                             "grounding_below: answer-to-context similarity 0.4999999 < 0.5")
    assert decide(Signals(best_retrieval_score=0.12, grounding=0.3), rule).reasons[1].endswith("similarity 0.300 < 0.5")
    assert decide(Signals(best_retrieval_score=0.35, grounding=0.5), rule).fired == ()  # equal: not below


def test_the_retrieval_signal_is_decided_before_any_answer() -> None:
    early = decide_before_answer(0.12, ALL)
    assert early is not None and early.escalate and early.fired == ("retrieval_score_below",)
    assert "0.120 < 0.3" in early.reasons[0]
    assert decide_before_answer(0.9, ALL) is None
    assert decide_before_answer(0.0, EscalationSpec(refusal_or_empty=True)) is None  # no retrieval threshold


def test_grounding_is_the_closest_chunk() -> None:
    assert grounding([1.0, 0.0], [[0.0, 1.0], [1.0, 0.0]]) == pytest.approx(1.0)
    assert grounding([1.0, 0.0], [[0.0, 1.0]]) == pytest.approx(0.0)
    assert grounding([1.0, 0.0], []) == 0.0


# -- the call path -----------------------------------------------------------------------------------------------------

CONTEXT = "The for statement iterates over the items of any sequence in the order they appear."
TEMPLATE = PromptTemplate("t", "Context: {context}\nQuestion: {question}\nAnswer:")
CHEAP_PRICE, STRONG_PRICE = Price(1.0, 2.0), Price(10.0, 20.0)


def _found(question: str, score: float) -> QuestionRecord:
    chunk = Chunk(id="c1", doc_id="doc", text=CONTEXT, start=0, end=len(CONTEXT))
    case = EvalCase(id=question[:8], question=question, reference="it iterates")
    return QuestionRecord(case=case, hits=(Hit(chunk, score),), prompt="", generation=None, started_ns=0, retrieved_ns=5, ended_ns=5)


def _router(cheap_answer: str, rule: EscalationSpec = ALL, *, one_model: bool = False,
            embedder: HashingEmbedder | None = None) -> tuple[Router, ScriptedModel, ScriptedModel]:
    """A router between SmolLM2 and Gemma, or (``one_model``) between SmolLM2 and itself with a longer answer budget."""
    smol, gemma = "local:smollm2-135m-instruct", "local:gemma3-270m"
    spec = RouterSpec.model_validate({
        "name": "r", "cheap": {"id": smol},
        "strong": {"id": smol, "params": {"max_tokens": 256}} if one_model else {"id": gemma},
        "escalate_when": rule.model_dump(),
    })
    cheap = ScriptedModel(lambda p: cheap_answer, model_id=smol, kind="chat")
    strong = ScriptedModel(lambda p: "The for statement iterates over the items of a sequence.", model_id=spec.strong.id,
                           kind="chat" if one_model else "completion")
    prices = {smol: CHEAP_PRICE, gemma: STRONG_PRICE}
    from workbench.models import GenerationParams

    router = Router.from_spec(
        spec, generator=lambda m: cheap if m is spec.cheap else strong,
        params=lambda m: GenerationParams(max_tokens=m.params.max_tokens), price=prices.get, embedder=embedder or HashingEmbedder(),
    )
    return router, cheap, strong


def _spec(router: Router) -> RouterSpec:
    return RouterSpec(name=router.name, cheap=router.cheap.spec, strong=router.strong.spec, escalate_when=router.rule)


def test_a_grounded_cheap_answer_stands_and_only_the_cheap_model_is_called_and_paid() -> None:
    router, cheap, strong = _router("The for statement iterates over the items of any sequence.")
    record = route_answer(_found("What does the for statement do?", 0.9), template=TEMPLATE, router=router)
    assert record.escalation is not None and not record.escalated
    assert len(cheap.calls) == 1 and strong.calls == []
    assert record.answered_by == "local:smollm2-135m-instruct"
    assert [c.role for c in record.calls] == ["cheap"]
    assert record.escalation.signals.grounding is not None and record.escalation.signals.grounding > 0.5
    call = record.calls[0]
    assert call.cost_usd == pytest.approx(CHEAP_PRICE.cost(call.input_tokens, call.output_tokens))
    assert record.cost_usd == pytest.approx(call.cost_usd)
    assert record.prompt.startswith("[human]")  # the chat model's view of the prompt


def test_a_refusal_escalates_and_both_calls_are_paid() -> None:
    router, cheap, strong = _router("I don't know.")
    record = route_answer(_found("What does the for statement do?", 0.9), template=TEMPLATE, router=router)
    assert record.escalated and "refusal_or_empty" in record.escalation.fired  # type: ignore[union-attr]
    assert len(cheap.calls) == 1 and len(strong.calls) == 1
    assert record.answered_by == "local:gemma3-270m" and record.answer.startswith("The for statement")
    assert [c.role for c in record.calls] == ["cheap", "strong"]
    assert record.cost_usd == pytest.approx(sum(c.cost_usd for c in record.calls))  # type: ignore[misc]
    assert record.tokens == sum(c.input_tokens + c.output_tokens for c in record.calls)


@pytest.mark.parametrize("answer", ["", "  ", "..."])
def test_an_empty_cheap_answer_escalates(answer: str) -> None:
    # the refusal scorers no longer count an empty answer as declining; the router's refusal_or_empty still escalates it
    router, cheap, strong = _router(answer, EscalationSpec(refusal_or_empty=True))
    record = route_answer(_found("What does the for statement do?", 0.9), template=TEMPLATE, router=router)
    assert record.escalated and record.escalation.fired == ("refusal_or_empty",)  # type: ignore[union-attr]
    assert len(strong.calls) == 1


@pytest.mark.parametrize("answer", ["", "...", " - "])
def test_an_answer_of_nothing_is_not_grounded(answer: str) -> None:
    # "" had grounding 0, but "..." was embedded: a real embedding model gives punctuation a direction, which can lie
    # close to a chunk's, and the empty answer stood under grounding_below
    class SameVector(HashingEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            return [[1.0, 0.0] for _ in texts]

    router, cheap, strong = _router(answer, EscalationSpec(grounding_below=0.5), embedder=SameVector())
    record = route_answer(_found("What does the for statement do?", 0.9), template=TEMPLATE, router=router)
    assert record.escalation is not None and record.escalation.signals.grounding == 0.0
    assert record.escalated and len(strong.calls) == 1


def test_low_retrieval_goes_straight_to_the_strong_model() -> None:
    router, cheap, strong = _router("The for statement iterates over the items of any sequence.")
    record = route_answer(_found("What does the for statement do?", 0.05), template=TEMPLATE, router=router)
    assert record.escalated and record.escalation.fired == ("retrieval_score_below",)  # type: ignore[union-attr]
    assert cheap.calls == [] and len(strong.calls) == 1
    assert [c.role for c in record.calls] == ["strong"]


def test_an_ungrounded_answer_escalates() -> None:
    router, _, strong = _router("Bananas are yellow fruit grown in warm countries.")
    record = route_answer(_found("What does the for statement do?", 0.9), template=TEMPLATE, router=router)
    assert record.escalation is not None and record.escalation.fired == ("grounding_below",)
    assert len(strong.calls) == 1


def test_a_failing_cheap_model_escalates_and_the_record_has_no_error() -> None:
    router, _, strong = _router("unused")

    def boom(prompt: object) -> str:
        raise TimeoutError("cheap model timed out")

    router = Router(router.name, type(router.cheap)(router.cheap.spec, ScriptedModel(boom, kind="chat"), router.cheap.params, CHEAP_PRICE),
                    router.strong, router.rule, router.embedder)
    record = route_answer(_found("What does the for statement do?", 0.9), template=TEMPLATE, router=router)
    assert record.error is None and record.escalation.fired == ("cheap_failed",)  # type: ignore[union-attr]
    assert record.calls[0].error is not None and record.calls[0].cost_usd == 0.0
    assert len(strong.calls) == 1


def test_a_grounding_embedding_that_fails_is_the_questions_error_not_the_variants() -> None:
    """A hosted embedding model that failed once while the router measured grounding raised out of the question, and the
    whole router variant FAILED with 'ConnectionError: ...', saying nothing of the grounding signal."""

    class Down(HashingEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            raise ConnectionError("embedding server reset the connection")

    router, cheap, strong = _router("The for statement iterates over the items of any sequence.")
    router = Router(router.name, router.cheap, router.strong, router.rule, Down(model_id="openai:text-embedding-3-small"))
    record = route_answer(_found("What does the for statement do?", 0.9), template=TEMPLATE, router=router)
    assert record.error is not None and record.generation is None and strong.calls == []
    assert record.error.startswith("grounding_below could not be measured: embedding the cheap answer with "
                                   "openai:text-embedding-3-small failed (ConnectionError: embedding server reset the connection)")
    assert record.answered_by == "" and not record.escalated
    assert [c.role for c in record.calls] == ["cheap"] and len(cheap.calls) == 1  # the cheap call is paid and counted
    assert record.cost_usd == pytest.approx(record.calls[0].cost_usd)


def test_an_unknown_price_makes_the_cost_unknown() -> None:
    router, _, _ = _router("I don't know.")
    router = Router(router.name, router.cheap, type(router.strong)(router.strong.spec, router.strong.generator, router.strong.params, None),
                    router.rule, router.embedder)
    record = route_answer(_found("What does the for statement do?", 0.9), template=TEMPLATE, router=router)
    assert record.cost_usd is None


def test_routing_metrics_per_model() -> None:
    records = []
    for answer, score in (("The for statement iterates over the items of any sequence.", 0.9), ("I don't know.", 0.9), ("x", 0.01)):
        router, _, _ = _router(answer)
        records.append(route_answer(_found("What does the for statement do?", score), template=TEMPLATE, router=router))
    m = routing_metrics(records, _spec(router))
    assert m["escalation_rate"] == pytest.approx(2 / 3)
    assert m["calls_smollm2-135m-instruct"] == 2 and m["calls_gemma3-270m"] == 2
    cheap_calls = [c for r in records for c in r.calls if c.role == "cheap"]
    assert m["tokens_smollm2-135m-instruct"] == sum(c.input_tokens + c.output_tokens for c in cheap_calls)
    assert m["cost_usd"] == pytest.approx(sum(r.cost_usd for r in records))  # type: ignore[misc]
    assert m["cost_usd"] == pytest.approx(m["cost_usd_smollm2-135m-instruct"] + m["cost_usd_gemma3-270m"])
    assert m["generation_calls"] == 4 and m["cache_hits"] == 0
    assert m["input_tokens"] + m["output_tokens"] == sum(r.tokens for r in records)
    assert routing_metrics([_found("q", 0.5)], _spec(router)) == {}


def test_routing_metrics_leave_out_tokens_a_server_did_not_count() -> None:
    # a strong model whose server sent no token counts: its calls counted 0 tokens, so the router's input_tokens and
    # tokens_<strong> were an undercount, and a variant's left-out tokens came back through them
    from dataclasses import replace

    router, _, _ = _router("I don't know.")
    record = route_answer(_found("What does the for statement do?", 0.9), template=TEMPLATE, router=router)
    uncounted = tuple(replace(c, generation=replace(c.generation, input_tokens=0, output_tokens=0, usage_reported=False))
                      if c.role == "strong" and c.generation else c for c in record.calls)
    m = routing_metrics([replace(record, calls=uncounted)], _spec(router))
    assert not {"input_tokens", "output_tokens", "tokens_gemma3-270m"} & set(m)
    assert m["tokens_smollm2-135m-instruct"] > 0 and m["calls_gemma3-270m"] == 1


def _undecided(cheap_answer: str) -> QuestionRecord:
    """A question whose grounding could not be measured: the cheap model answered, the embedding call failed."""

    class Down(HashingEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            raise ConnectionError("embedding server reset the connection")

    router, _, _ = _router(cheap_answer)
    router = Router(router.name, router.cheap, router.strong, router.rule, Down())
    return route_answer(_found("What does the for statement do?", 0.9), template=TEMPLATE, router=router)


def test_the_escalation_rate_leaves_out_a_question_the_router_could_not_decide() -> None:
    """A question whose grounding embedding failed (the question failed) counted as routed and not escalated: 1 of 3
    escalated, where the router escalated 1 of the 2 it decided. Its cheap call is still counted and paid."""
    records = []
    for answer in ("The for statement iterates over the items of any sequence.", "I don't know."):
        router, _, _ = _router(answer)
        records.append(route_answer(_found("What does the for statement do?", 0.9), template=TEMPLATE, router=router))
    undecided = _undecided("The for statement iterates over the items of any sequence.")
    m = routing_metrics([*records, undecided], _spec(router))
    assert m["escalation_rate"] == pytest.approx(1 / 2)
    assert m["calls_smollm2-135m-instruct"] == 3 and m["cost_usd"] == pytest.approx(sum(r.cost_usd for r in [*records, undecided]))  # type: ignore[misc]
    alone = routing_metrics([undecided], _spec(router))
    assert "escalation_rate" not in alone and alone["calls_smollm2-135m-instruct"] == 1  # no question decided: no rate


def test_a_router_whose_answers_came_from_the_cache_spent_nothing_priced_or_not() -> None:
    # spent_usd was left out when a call's price was unknown, cached calls included: a warm re-run of a router over a
    # model without a price said 'spent now: answers unknown' for a sweep that made no call
    import dataclasses

    records = []
    for answer, score in (("The for statement iterates over the items of any sequence.", 0.9), ("I don't know.", 0.9)):
        router, _, _ = _router(answer)
        record = route_answer(_found("What does the for statement do?", score), template=TEMPLATE, router=router)
        calls = tuple(dataclasses.replace(c, cost_usd=None, generation=dataclasses.replace(c.generation, cached=True)) for c in record.calls)
        records.append(dataclasses.replace(record, calls=calls))
    m = routing_metrics(records, _spec(router))
    assert "cost_usd" not in m and m["spent_usd"] == 0 and m["generation_calls"] == 0


def test_routing_metrics_keep_the_same_model_in_two_roles_apart() -> None:
    # a router between one model at two settings (say a short and a long answer budget) has one short name twice
    records = []
    for answer, score in (("I don't know.", 0.9), ("The for statement iterates over the items of any sequence.", 0.9)):
        router, _, _ = _router(answer, one_model=True)
        records.append(route_answer(_found("What does the for statement do?", score), template=TEMPLATE, router=router))
    m = routing_metrics(records, _spec(router))
    smol = "smollm2-135m-instruct"
    assert m[f"calls_{smol}_cheap"] == 2 and m[f"calls_{smol}_strong"] == 1 and f"calls_{smol}" not in m
    strong = [c for r in records for c in r.calls if c.role == "strong"]
    assert m[f"tokens_{smol}_strong"] == sum(c.input_tokens + c.output_tokens for c in strong)
    assert m["cost_usd"] == pytest.approx(m[f"cost_usd_{smol}_cheap"] + m[f"cost_usd_{smol}_strong"])


@pytest.mark.parametrize("one_model", [False, True])
def test_routing_metrics_have_the_same_names_when_one_model_was_never_called(one_model: bool) -> None:
    # a sweep in which nothing escalated (or everything went straight to the strong model) is compared with the
    # sweeps in which both models answered: the same metrics, named the same way
    names: list[set[str]] = []
    for answer, score in (("The for statement iterates over the items of any sequence.", 0.9), ("I don't know.", 0.9), ("x", 0.01)):
        router, _, _ = _router(answer, one_model=one_model)
        record = route_answer(_found("What does the for statement do?", score), template=TEMPLATE, router=router)
        m = routing_metrics([record], _spec(router))
        names.append(set(m) - {"cost_usd", "spent_usd"})
        for role in ("cheap", "strong"):
            mine = [c for c in record.calls if c.role == role]
            model = router.cheap.spec if role == "cheap" else router.strong.spec
            suffix = model.short_name + (f"_{role}" if one_model else "")
            assert m[f"calls_{suffix}"] == len(mine) and m[f"cost_usd_{suffix}"] == pytest.approx(sum(c.cost_usd or 0.0 for c in mine))
    assert names[0] == names[1] == names[2]


def test_a_cheap_answer_cut_off_by_the_deadline_is_not_escalated() -> None:
    router, _, strong = _router("")

    class Slow(ScriptedModel):
        def generate(self, prompt, params, *, deadline=None, json_schema=None):  # type: ignore[no-untyped-def]
            return Generation("", 3, 0, 0.0, finish_reason="deadline")

    router = Router(router.name, type(router.cheap)(router.cheap.spec, Slow(["x"], kind="chat"), router.cheap.params, CHEAP_PRICE),
                    router.strong, router.rule, router.embedder)
    record = route_answer(_found("What does the for statement do?", 0.9), template=TEMPLATE, router=router)
    assert not record.escalated and strong.calls == []
    assert record.generation is not None and record.generation.finish_reason == "deadline"
    assert math.isclose(record.cost_usd or 0.0, CHEAP_PRICE.cost(3, 0))


def test_a_routed_question_counts_the_retries_of_every_call() -> None:
    from dataclasses import replace

    from workbench.pipeline import ModelCall

    record = _found("How does the for statement work?", 0.9)
    cheap = ModelCall("local:smollm2-135m-instruct", "smollm2", "cheap", None, error="RetriesExhausted: ...", failed_retries=2)
    strong = ModelCall("local:gemma3-270m", "gemma3", "strong", Generation("it iterates", 5, 2, 0.1, retries=1))
    assert replace(record, generation=strong.generation, calls=(cheap, strong)).retries == 3  # the escalated cheap call's too
    assert replace(record, failed_retries=4).retries == 4  # a question that failed in the end
