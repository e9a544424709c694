"""The judge interface: reply checking against a schema, usage accounting, a generator as a judge, model resolution errors."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from workbench.errors import ModelError
from workbench.models import Generation, GenerationParams, ModelKind, Price, WindowExceeded
from workbench.models._hosted import LangChainChatGenerator
from workbench.prompts import RenderedPrompt
from workbench.scoring import JudgeReply, JudgeUsage, ModelJudge, check_reply, load_judge
from workbench.scoring._ragas_bridge import strict_schema
from workbench.testing import ScriptedJudge, ScriptedModel, ScriptExhausted

SCHEMA = {
    "type": "object",
    "properties": {"reason": {"type": "string"}, "verdict": {"type": "integer", "enum": [0, 1]}},
    "required": ["reason", "verdict"],
    "additionalProperties": False,
}


def test_a_conforming_reply_parses() -> None:
    value, error = check_reply('{"reason": "in the context", "verdict": 1}', SCHEMA)
    assert error is None and value == {"reason": "in the context", "verdict": 1}


def test_json_wrapped_in_prose_or_a_code_fence_is_found() -> None:
    value, error = check_reply('Sure! ```json\n{"reason": "r", "verdict": 0}\n``` hope that helps', SCHEMA)
    assert error is None and value["verdict"] == 0



@pytest.mark.parametrize("raw", [
    'Based on [1] and [2]: {"reason": "r", "verdict": 1}',  # a citation before the answer
    '[Verdict] {"reason": "r", "verdict": 1}',  # a bracketed heading that is not JSON
    '{"step": "think first"} then {"reason": "r", "verdict": 1}',  # a value of another shape before the answer
])
def test_the_conforming_json_is_found_after_other_brackets_in_the_prose(raw: str) -> None:
    value, error = check_reply(raw, SCHEMA)
    assert error is None and value == {"reason": "r", "verdict": 1}


def test_when_no_value_conforms_the_mismatch_of_the_first_of_the_right_type_is_reported() -> None:
    value, error = check_reply('See [1]. {"reason": "r", "verdict": 7}', SCHEMA)
    assert value is None and error == "judge output does not match the schema at verdict: 7 is not one of [0, 1]"
    value, error = check_reply('See [1].', SCHEMA)
    assert value is None and error == "judge output does not match the schema at (root): [1] is not of type 'object'"

@pytest.mark.parametrize("finish_reason", ["stop", "length"])
def test_brackets_nested_deeper_than_json_can_follow_are_an_error_reply(finish_reason: str) -> None:
    # a judge told by an instruction planted in the corpus to write '[[[[...' (or a sampling judge running away) made
    # check_reply raise RecursionError, and the reply, with its tokens and cost, was lost to a scorer exception
    for raw in ("[" * 3000, 'Verdict: ' + '{"reason": ' * 3000):
        value, error = check_reply(raw, SCHEMA, finish_reason=finish_reason)
        assert value is None and error is not None and error.startswith("judge output"), error
    # the verdict after them is still read, as any JSON after prose is
    assert check_reply("[" * 3000 + ' {"reason": "r", "verdict": 1}', SCHEMA) == ({"reason": "r", "verdict": 1}, None)


def test_a_bare_newline_inside_a_string_is_tolerated() -> None:
    # llama-cpp-python's JSON grammar allows raw control characters in strings; the content is still unambiguous
    value, error = check_reply('{"reason": "useful for the\n" ,"verdict": 0}', SCHEMA)
    assert error is None and value == {"reason": "useful for the\n", "verdict": 0}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("The context is useful, verdict one.", "not JSON"),
        ('{"reason": "r", "verdict": 7}', "does not match the schema at verdict"),
        ('{"reason": "r"}', "does not match the schema"),
        ('{"reason": "r", "verdict": 1, "score": 1e15}', "does not match the schema"),
    ],
)
def test_unusable_replies_are_errors_not_guesses(raw: str, fragment: str) -> None:
    value, error = check_reply(raw, SCHEMA)
    assert value is None
    assert error is not None and fragment in error


@pytest.mark.parametrize("raw", ['{"score": NaN}', '{"score": -Infinity}', 'Score: {"score": NaN}.'])
def test_nan_or_infinity_from_the_judge_is_an_error_not_a_number_that_passes_every_bound(raw: str) -> None:
    """Python's json reads NaN, which compares false with any bound: a {"score": NaN} conformed to 0 <= score <= 1."""
    scored = {"type": "object", "properties": {"score": {"type": "number", "minimum": 0, "maximum": 1}}, "required": ["score"]}
    value, error = check_reply(raw, scored)
    assert value is None and error is not None and error.startswith("judge output is not JSON (") and "is not a JSON number)" in error
    assert check_reply('{"score": 0.5, "why": "not NaN"}', {**scored, "properties": {**scored["properties"], "why": {"type": "string"}}})[1] is None


def test_output_cut_off_by_max_tokens_says_so_and_nested_objects_are_not_taken() -> None:
    schema = strict_schema_of_classifications()
    raw = '{"classifications": [{"statement": "s", "reason": "r", "attributed": 1}, {"statement": "t", "rea'
    value, error = check_reply(raw, schema, finish_reason="length")
    assert value is None and error is not None and "max_tokens" in error
    # without the finish reason, the inner complete object must still not pass as the answer
    value, error = check_reply(raw, schema)
    assert value is None and error is not None


def strict_schema_of_classifications() -> dict:  # type: ignore[type-arg]
    from ragas.metrics.collections.context_recall.util import ContextRecallOutput

    return strict_schema(ContextRecallOutput)


def test_strict_schema_pins_binary_verdicts_and_forbids_empty_lists() -> None:
    schema = strict_schema_of_classifications()
    text = json.dumps(schema)
    assert "$ref" not in text and "$defs" not in text
    items = schema["properties"]["classifications"]
    assert items["minItems"] == 1
    assert items["items"]["properties"]["attributed"]["enum"] == [0, 1]
    assert items["items"]["additionalProperties"] is False
    _, error = check_reply(json.dumps({"classifications": [{"statement": "s", "reason": "r", "attributed": 2}]}), schema)
    assert error is not None


def test_usage_adds_up_and_unknown_cost_stays_unknown() -> None:
    ok = JudgeReply({"a": 1}, "{}", input_tokens=10, output_tokens=2, latency_s=0.5, cost_usd=0.001)
    bad = JudgeReply(None, "junk", input_tokens=5, output_tokens=1, latency_s=0.25, error="not JSON", cost_usd=0.002)
    usage = JudgeUsage.of([ok, bad], extra_failures=1)
    assert (usage.calls, usage.failures, usage.input_tokens, usage.output_tokens) == (2, 2, 15, 3)
    assert usage.latency_s == pytest.approx(0.75) and usage.cost_usd == pytest.approx(0.003)
    unknown = usage + JudgeUsage.of([JudgeReply({}, "{}", cost_usd=None)])
    assert unknown.cost_usd is None and unknown.calls == 3


def test_scripted_judge_checks_replies_and_is_loud_when_its_script_runs_out() -> None:
    judge = ScriptedJudge(['{"reason": "r", "verdict": 1}', "garbage"])
    assert judge.ask("p", SCHEMA).value == {"reason": "r", "verdict": 1}
    second = judge.ask("p", SCHEMA, repeat=1)
    assert second.error is not None and second.raw == "garbage"
    assert judge.calls[1][2] == 1
    with pytest.raises(ScriptExhausted):
        judge.ask("p", SCHEMA)


def test_load_judge_errors_are_one_line_model_errors(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match="unknown model provider"):
        load_judge("nosuch:model")
    with pytest.raises(ModelError, match="no such file"):
        load_judge(f"llamacpp:{tmp_path / 'missing.gguf'}")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelError, match="langchain-openai|OPENAI_API_KEY"):
        load_judge("openai:gpt-4o-mini")
    with pytest.raises(ModelError, match="chat"):
        load_judge("ollama:llama3.2", kind="completion")


class StubChat:
    """A LangChain-shaped chat model: ``with_structured_output(schema, include_raw=True).invoke(...)``."""

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome
        self.schemas: list[dict[str, Any]] = []

    def with_structured_output(self, schema: dict[str, Any], include_raw: bool = False) -> StubChat:
        assert include_raw
        self.schemas.append(schema)
        return self

    def invoke(self, prompt: Any, config: dict[str, Any] | None = None) -> dict[str, Any]:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def message(content: str = "", tool_args: dict[str, Any] | None = None) -> Any:
    from langchain_core.messages import AIMessage

    calls = [{"name": "f", "args": tool_args, "id": "1"}] if tool_args is not None else []
    return AIMessage(content=content, tool_calls=calls, usage_metadata={"input_tokens": 100, "output_tokens": 20, "total_tokens": 120})


def hosted_judge(model_id: str, chat: StubChat) -> ModelJudge:
    return ModelJudge(LangChainChatGenerator(model_id, lambda **settings: chat))


def test_a_hosted_judge_reply_is_checked_and_priced() -> None:
    chat = StubChat({"raw": message(), "parsed": {"reason": "r", "verdict": 1}, "parsing_error": None})
    reply = hosted_judge("openai:gpt-4o-mini", chat).ask("prompt", SCHEMA)
    assert chat.schemas == [{"title": "output", **SCHEMA}]  # the judge's schema reached the provider's structured output
    assert reply.ok and reply.value == {"reason": "r", "verdict": 1}
    assert (reply.input_tokens, reply.output_tokens) == (100, 20)
    assert reply.cost_usd == pytest.approx(Price(0.15, 0.60).cost(100, 20))  # the list price of gpt-4o-mini
    bad = hosted_judge("openai:gpt-4o-mini", StubChat({"raw": message(tool_args={"verdict": 3}), "parsed": None, "parsing_error": "x"}))
    reply = bad.ask("prompt", SCHEMA)
    assert not reply.ok and '"verdict": 3' in reply.raw
    down = hosted_judge("ollama:llama3.2", StubChat(ConnectionError("refused")))
    reply = down.ask("prompt", SCHEMA)
    assert not reply.ok and "ConnectionError" in (reply.error or "") and reply.cost_usd == 0.0
    assert reply.finish_reason == "error" and reply.raw == ""


def test_a_hosted_judge_takes_a_schema_without_a_title(monkeypatch: pytest.MonkeyPatch) -> None:
    """A custom scorer's hand-written schema has no title: LangChain refused it, so every hosted judge call failed."""
    from workbench.testing.openai_stub import OpenAIStub

    with OpenAIStub() as stub:  # it answers with the first line after "Context:"
        monkeypatch.setenv("OPENAI_API_KEY", "stub-key")
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        reply = load_judge("openai:gpt-4o-mini").ask('Context: {"reason": "blue", "verdict": 1}', SCHEMA)
    assert "title" not in SCHEMA
    assert reply.error is None and reply.value == {"reason": "blue", "verdict": 1}
    assert stub.requests == 1


def test_a_hosted_judge_cut_off_at_max_tokens_is_an_incomplete_reply_counted_and_priced(monkeypatch: pytest.MonkeyPatch) -> None:
    """The openai client raises on a structured answer that ended at max_tokens: the judge saw a failed call (asked and
    paid again in every sweep, its tokens uncounted) instead of an answer cut off, with the hint to raise max_tokens."""
    from workbench.testing.openai_stub import OpenAIStub

    monkeypatch.setenv("OPENAI_API_KEY", "stub-key")
    with OpenAIStub(finish_reason="length") as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        reply = load_judge("openai:gpt-4o-mini").ask('Context: {"reason": "the sky is', SCHEMA)
    assert reply.error == "judge output is incomplete JSON (cut off at max_tokens — raise judge.max_tokens)"
    assert reply.raw == '{"reason": "the sky is' and reply.finish_reason == "length"
    assert reply.input_tokens > 0 and reply.output_tokens > 0 and reply.cost_usd is not None and reply.cost_usd > 0
    assert JudgeUsage.of([reply]).call_errors == 0  # not a call to ask again: the same limit cuts it again
    usage = {"prompt_tokens": 2000, "completion_tokens": 10, "total_tokens": 2010, "prompt_tokens_details": {"cached_tokens": 1536}}
    with OpenAIStub(finish_reason="length", usage=usage) as stub:  # its cached prompt tokens at the cached-input price
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        reply = load_judge("openai:gpt-4o-mini").ask('Context: {"reason": "the sky is', SCHEMA)
    assert reply.cost_usd == pytest.approx((464 * 0.15 + 1536 * 0.075 + 10 * 0.60) / 1e6)
    with OpenAIStub(finish_reason="content_filter") as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        reply = load_judge("openai:gpt-4o-mini").ask("Context: anything", SCHEMA)
    assert reply.error == "judge declined (content_filter)" and JudgeUsage.of([reply]).call_errors == 0


def test_a_hosted_judge_s_retries_are_counted_apart_from_the_answering_model_s(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README says judge calls are retried on 429 too; their retries reached no metric (the run's ``retries`` counts
    the answers' only), so a judge throttled all sweep looked like one that was never refused."""
    from workbench.metrics import Score
    from workbench.scoring._aggregate import judge_metrics
    from workbench.testing.openai_stub import OpenAIStub

    monkeypatch.setenv("OPENAI_API_KEY", "stub-key")
    throttled_once = lambda n: (429, {"Retry-After": "0"}, 0.0) if n in (0, 2, 3) else (200, {}, 0.0)  # noqa: E731
    with OpenAIStub(script=throttled_once) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        judge = load_judge("openai:gpt-4o-mini", retries=1)
        answered = judge.ask('Context: {"reason": "r", "verdict": 1}', SCHEMA)  # 429, then the answer
        failed = judge.ask('Context: {"reason": "r", "verdict": 1}', SCHEMA)  # 429, 429: out of retries
    assert stub.statuses == [429, 200, 429, 429]
    assert answered.ok and answered.retries == 1
    assert not failed.ok and failed.retries == 1 and "(after 1 retry)" in (failed.error or "")
    assert JudgeUsage.of([answered, failed]).retries == 2
    assert judge_metrics([{"faithfulness": Score(1.0, judge=JudgeUsage.of([answered, failed]))}])["judge_retries"] == 2.0



def test_a_reply_that_does_not_fit_ragas_s_model_keeps_its_accounting() -> None:
    """Rebuilt as an error reply, it lost ``cached``: a cached reply counted as money spent now, not a cache hit."""
    from pydantic import BaseModel

    from workbench.scoring._ragas_bridge import JudgeLLM, UnusableOutput

    class Other(BaseModel):
        other: int

    class CachedJudge:
        model_id = "testing:cached"

        def ask(self, prompt: str, schema: Any, *, repeat: int = 0) -> JudgeReply:
            return JudgeReply({"verdict": 1}, '{"verdict": 1}', 10, 2, cost_usd=0.5, cached=True, retries=3)

    llm = JudgeLLM(CachedJudge())
    with pytest.raises(UnusableOutput, match="does not fit Other"):
        llm.generate("p", Other)
    usage = JudgeUsage.of(llm.replies)
    assert (usage.failures, usage.cache_hits, usage.spent_usd, usage.retries) == (1, 1, 0.0, 3)


# -- a generator as a judge --------------------------------------------------------------------------------------------


def test_a_model_judge_asks_its_generator_for_json_with_the_repeat_in_the_seed() -> None:
    model = ScriptedModel(['{"reason": "r", "verdict": 1}', '{"reason": "s", "verdict": 0}'], model_id="testing:judge-model")
    judge = ModelJudge(model, max_tokens=99, timeout_s=5.0, temperature=0.7, seed=10, price=Price(1.0, 2.0))
    first = judge.ask("Is it supported?", SCHEMA)
    second = judge.ask("Is it supported?", SCHEMA, repeat=2)
    assert first.value == {"reason": "r", "verdict": 1} and second.value == {"reason": "s", "verdict": 0}
    assert judge.model_id == "testing:judge-model"
    (p0, s0), (p2, s2) = model.requests
    assert s0 == s2 == SCHEMA
    assert (p0.seed, p2.seed) == (10, 12)
    assert (p0.max_tokens, p0.temperature, p0.timeout_s, p0.stop) == (99, 0.7, 5.0, ())
    assert model.calls[0].text == "Is it supported?" and model.calls[0].messages == (("human", "Is it supported?"),)
    # tokens are the generator's; the cost is the judge's price applied to them
    assert (first.input_tokens, first.output_tokens) == (3, 4)
    assert first.cost_usd == pytest.approx(Price(1.0, 2.0).cost(3, 4))


def test_an_unconstrained_model_judge_asks_for_text_with_its_stop_strings() -> None:
    model = ScriptedModel(['Verdict follows: {"reason": "r", "verdict": 1}'])
    reply = ModelJudge(model, constrained=False).ask("p", SCHEMA)
    params, schema = model.requests[0]
    assert schema is None
    assert "\nNow perform" in params.stop and "\n-----" in params.stop
    assert reply.ok and reply.value == {"reason": "r", "verdict": 1}  # JSON taken from the text


class Replying:
    """A generator returning one fixed generation (or raising), whatever it is asked."""

    model_id = "openai:gpt-4o-mini"
    kind: ModelKind = "chat"

    def __init__(self, outcome: Generation | Exception) -> None:
        self.outcome = outcome

    def generate(self, prompt: RenderedPrompt, params: GenerationParams, *, deadline: float | None = None,
                 json_schema: Any = None) -> Generation:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@pytest.mark.parametrize(("reason", "hint"), [("length", "max_tokens"), ("deadline", "timeout_s")])
def test_a_cut_off_answer_is_an_error_reply_that_says_why(reason: str, hint: str) -> None:
    cut = Generation('{"reason": "the context sa', input_tokens=50, output_tokens=8, latency_s=1.5, finish_reason=reason)
    reply = ModelJudge(Replying(cut)).ask("p", SCHEMA)
    assert not reply.ok and hint in (reply.error or "") and "incomplete JSON" in (reply.error or "")
    assert reply.raw == cut.text and reply.finish_reason == reason
    assert (reply.input_tokens, reply.output_tokens, reply.latency_s) == (50, 8, 1.5)
    assert reply.cost_usd == pytest.approx(Price(0.15, 0.60).cost(50, 8))  # a failed call still costs



@pytest.mark.parametrize("reason", ["length", "deadline"])
def test_a_complete_verdict_before_prose_cut_off_is_taken(reason: str) -> None:
    raw = '{"reason": "stated in the context", "verdict": 1}\nExplanation: the second chunk says that the loop'
    assert check_reply(raw, SCHEMA, finish_reason=reason) == ({"reason": "stated in the context", "verdict": 1}, None)
    value, error = check_reply('{"reason": "r", "verdict": 7}', SCHEMA, finish_reason=reason)  # complete but wrong
    assert value is None and error == "judge output does not match the schema at verdict: 7 is not one of [0, 1]"

def test_a_provider_error_is_an_error_reply_and_an_unknown_price_stays_unknown() -> None:
    class Unpriced(Replying):
        model_id = "openai:some-new-model"

    reply = ModelJudge(Unpriced(TimeoutError("took too long"))).ask("p", SCHEMA)
    assert not reply.ok and reply.error == "judge call failed: TimeoutError: took too long"
    assert reply.cost_usd is None and reply.finish_reason == "error"


def test_a_long_provider_error_is_cut_between_words_so_no_key_is_cut_in_half() -> None:
    key = "sk-proj-" + "Q7x" * 16
    said = "judge call failed: ValueError: " + "invalid request " * 28 + f"key={key} " + "more " * 100
    assert said.index(key) < 500 < said.index(key) + len(key)  # the key spans the 500th character
    error = ModelJudge(Replying(ValueError(said.split(": ", 2)[2]))).ask("p", SCHEMA).error or ""
    assert "sk-proj" not in error and error.endswith(f"(cut: {len(said)} characters in all)")


def test_a_scripted_model_out_of_script_stays_loud_inside_a_judge() -> None:
    with pytest.raises(ScriptExhausted):
        ModelJudge(ScriptedModel([])).ask("p", SCHEMA)


def test_a_judge_reply_cut_off_by_its_time_limit_is_a_call_error_asked_again() -> None:
    # such a reply is not cached (a busy machine may answer in time next sweep), but it counted as an unusable output
    # only: the run was complete, so every later sweep reused it with those scores missing for good
    late = JudgeReply(None, '{"statements": [', error="judge output is incomplete JSON (cut off by the timeout)", finish_reason="deadline")
    in_time = JudgeReply({"verdict": 1}, '{"verdict": 1} and th', finish_reason="deadline")  # its verdict came before the cut
    cut_at_length = JudgeReply(None, '{"a": ', error="cut off at max_tokens", finish_reason="length")
    usage = JudgeUsage.of([late, in_time, cut_at_length])
    assert (usage.calls, usage.failures, usage.call_errors) == (3, 2, 1)


def test_a_judge_prompt_cut_to_the_context_window_is_an_error_reply_not_a_verdict() -> None:
    # a completion judge keeps the end of a prompt longer than its window: the ragas instructions and examples at the
    # start were cut, and the grammar still gave a verdict of the right shape, scored as if the judge had read them
    class Completion(Replying):
        model_id = "local:gemma3-270m"
        kind: ModelKind = "completion"

    cut = Generation('{"reason": "r", "verdict": 1}', input_tokens=1024, output_tokens=9, latency_s=2.0, prompt_tokens_cut=3100)
    reply = ModelJudge(Completion(cut)).ask("p", SCHEMA)
    assert not reply.ok and reply.value is None and reply.raw == cut.text
    assert reply.error == ("judge prompt is longer than local:gemma3-270m's context window: its first 3100 tokens, the instructions "
                           "among them, were never read — raise judge.context_window (up to 32768 tokens, what it was trained for), "
                           "or retrieve fewer or smaller chunks (the retrieval's k, the chunker's size) or shorten the prompt, or use a "
                           "judge with a larger context window")
    at_most = ModelJudge(Completion(cut), context_window=32768).ask("p", SCHEMA).error or ""
    assert "judge.context_window" not in at_most and "were never read — retrieve fewer" in at_most  # no larger window to give
    assert (reply.input_tokens, reply.output_tokens, reply.cost_usd) == (1024, 9, 0.0)  # what it read still counts
    assert ModelJudge(Completion(dataclasses.replace(cut, prompt_tokens_cut=0))).ask("p", SCHEMA).value == {"reason": "r", "verdict": 1}


def test_a_local_judge_cut_where_its_context_window_ended_is_not_told_to_raise_max_tokens() -> None:
    # a judge prompt that fits the 2048-token window leaves the reply only the rest of it: llama.cpp ends the reply
    # there with 'length', and the error said 'raise judge.max_tokens', which mends nothing
    class Local(Replying):
        model_id = "local:smollm2-135m-instruct"

    cut = Generation('{"reason": "the context sa', input_tokens=2040, output_tokens=8, latency_s=1.0, finish_reason="length")
    reply = ModelJudge(Local(cut), max_tokens=256).ask("p", SCHEMA)
    assert reply.finish_reason == "context_window" and reply.error == (
        "judge output is incomplete JSON (cut off where the judge's context window ended, before its max_tokens — raise "
        "judge.context_window (up to 8192 tokens, what it was trained for), or retrieve fewer or smaller chunks (the retrieval's k, "
        "the chunker's size) or shorten the prompt)")
    at_most = ModelJudge(Local(cut), max_tokens=256, context_window=8192).ask("p", SCHEMA).error or ""
    assert "judge.context_window" not in at_most and "before its max_tokens — retrieve fewer" in at_most  # no larger window to give
    at_max = ModelJudge(Local(dataclasses.replace(cut, output_tokens=256)), max_tokens=256).ask("p", SCHEMA)
    hosted = ModelJudge(Replying(cut), max_tokens=256).ask("p", SCHEMA)  # a provider's 'length' is its max_tokens
    assert "raise judge.max_tokens" in (at_max.error or "") and "raise judge.max_tokens" in (hosted.error or "")


def test_a_prompt_past_the_judge_s_window_is_an_error_reply_not_a_call_to_ask_again() -> None:
    # llama.cpp refuses a chat prompt longer than its window: that was a failed call (judge_call_errors), so the run
    # was never reused and every sweep said "run again to retry only them", to fail the same way again
    class Local(Replying):
        model_id = "local:smollm2-135m-instruct"

    refused = ModelError("local:smollm2-135m-instruct: Requested tokens (12053) exceed context window of 2048 — retrieve fewer "
                         "or smaller chunks (the retrieval's k, the chunker's size) or shorten the prompt")
    reply = ModelJudge(Local(refused)).ask("p", SCHEMA)
    assert not reply.ok and reply.finish_reason == "context_window"
    assert reply.error is not None and reply.error.startswith("judge prompt is longer than the judge's context window: ")
    assert "exceed context window of 2048" in reply.error and "shorten the prompt" in reply.error
    assert (JudgeUsage.of([reply]).failures, JudgeUsage.of([reply]).call_errors) == (1, 0)
    hosted = ModelJudge(Replying(ModelError("openai:gpt-4o-mini: the prompt is longer than the model's context window "
                                            "(ContextOverflowError: ...) — retrieve fewer or smaller chunks (the retrieval's k, "
                                            "the chunker's size) or shorten the prompt"))).ask("p", SCHEMA)
    assert hosted.finish_reason == "context_window" and JudgeUsage.of([hosted]).call_errors == 0
    # llama.cpp's refusal, as its chat path raises it, says what to raise in the judge's words, not an answering model's
    refused_here = WindowExceeded("local:smollm2-135m-instruct", "Requested tokens (12053) exceed context window of 2048", 2048, 8192)
    assert "raise the model's context_window (up to 8192" in str(refused_here)
    told = ModelJudge(Local(refused_here)).ask("p", SCHEMA)
    assert told.finish_reason == "context_window" and told.error == (
        "judge prompt is longer than the judge's context window: local:smollm2-135m-instruct: Requested tokens (12053) exceed "
        "context window of 2048 — raise judge.context_window (up to 8192 tokens, what it was trained for), or retrieve fewer or "
        "smaller chunks (the retrieval's k, the chunker's size) or shorten the prompt")
    down = ModelJudge(Local(ModelError("local:smollm2-135m-instruct: llama.cpp crashed"))).ask("p", SCHEMA)
    assert down.finish_reason == "error" and JudgeUsage.of([down]).call_errors == 1  # another failure is still asked again


@pytest.mark.parametrize("said", ['{"score": 0.', '{"score": 0.93', '{"reason": "fine", "score": 1'])
def test_a_hosted_judge_reply_cut_short_with_no_length_reason_is_an_error_not_a_completed_score(
    monkeypatch: pytest.MonkeyPatch, said: str) -> None:
    """LangChain's JSON parser completes JSON cut short: a reply a proxy truncated ('{"score": 0.') came back parsed as
    {"score": 0}, a verdict of 0 that dragged the mean, instead of an error reply."""
    from workbench.testing.openai_stub import OpenAIStub

    schema = {"type": "object", "properties": {"reason": {"type": "string"}, "score": {"type": "number", "minimum": 0, "maximum": 1}},
              "required": ["score"]}
    monkeypatch.setenv("OPENAI_API_KEY", "stub-key")
    with OpenAIStub() as stub:  # answers a structured call with the JSON line after "Context:" as it is, with finish_reason stop
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        reply = load_judge("openai:gpt-4o-mini").ask(f"Context: {said}", schema)
    assert reply.value is None and reply.error == "judge output is not JSON"
    assert reply.raw == said


def test_a_hosted_judge_call_that_timed_out_says_its_time_limit_is_used_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """A timed-out judge call said 'judge call failed: RetriesExhausted: APITimeoutError: Request timed out. — not
    retried: the next try was 0.4 s away, past the call's deadline 0.0 s away': a wrapper's name, for a call never
    retried, and two distances for a time limit that was used up."""
    from workbench.testing.openai_stub import OpenAIStub

    monkeypatch.setenv("OPENAI_API_KEY", "stub-key")
    with OpenAIStub(delay_s=3.0) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        reply = load_judge("openai:gpt-4o-mini", timeout_s=0.5, retries=2).ask('Context: {"reason": "r", "verdict": 1}', SCHEMA)
    assert reply.error == ("judge call failed: APITimeoutError: Request timed out. — not retried: the call's time limit is "
                           "used up (limits.wall_time_s; a judge's timeout_s)")
    assert JudgeUsage.of([reply]).call_errors == 1


def test_a_judge_whose_server_sends_no_token_counts_has_unknown_tokens_not_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its replies counted 0 tokens, so its judge_input_tokens and judge_output_tokens were the fewest of any sweep's, as
    the answering model's were before they were left unknown; one such reply among counted ones leaves the sum unknown
    too (a part of it is no total)."""
    from workbench.metrics import Score
    from workbench.scoring._aggregate import judge_metrics
    from workbench.testing.openai_stub import OpenAIStub

    monkeypatch.setenv("OPENAI_API_KEY", "stub-key")
    with OpenAIStub(usage=False) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        uncounted = load_judge("openai:gpt-4o-mini").ask('Context: {"reason": "r", "verdict": 1}', SCHEMA)
    with OpenAIStub() as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        counted = load_judge("openai:gpt-4o-mini").ask('Context: {"reason": "r", "verdict": 1}', SCHEMA)
    assert uncounted.ok and (uncounted.input_tokens, uncounted.output_tokens, uncounted.cost_usd) == (None, None, None)
    assert counted.input_tokens and counted.output_tokens
    for replies in ([uncounted], [counted, uncounted], [uncounted, counted]):
        usage = JudgeUsage.of(replies)
        assert (usage.input_tokens, usage.output_tokens, usage.calls) == (None, None, len(replies))
        metrics = judge_metrics([{"faithfulness": Score(1.0, judge=usage)}])
        assert "judge_input_tokens" not in metrics and "judge_output_tokens" not in metrics and metrics["judge_calls"] == len(replies)
    metrics = judge_metrics([{"faithfulness": Score(1.0, judge=JudgeUsage.of([counted]))}, {"faithfulness": Score(1.0, judge=JudgeUsage.of([uncounted]))}])
    assert "judge_input_tokens" not in metrics
    assert judge_metrics([{"faithfulness": Score(1.0, judge=JudgeUsage.of([counted, counted]))}])["judge_input_tokens"] == 2 * counted.input_tokens
