"""Hosted chat models through LangChain, with stub chat models: decoding settings, plain text and structured output."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from workbench.models import GenerationParams, load_generator
from workbench.models._hosted import LangChainChatGenerator, chat_model
from workbench.prompts import PromptTemplate

PROMPT = PromptTemplate("p", "Context: {context}\nQuestion: {question}", system="Be brief.").render(question="Why?", context="Because.")
SCHEMA = {"type": "object", "properties": {"verdict": {"type": "integer", "enum": [0, 1]}}, "required": ["verdict"]}


def message(content: str = "", *, tool_args: dict[str, Any] | None = None, finish_reason: str = "stop") -> Any:
    from langchain_core.messages import AIMessage

    calls = [{"name": "f", "args": tool_args, "id": "1"}] if tool_args is not None else []
    return AIMessage(content=content, tool_calls=calls, response_metadata={"finish_reason": finish_reason},
                     usage_metadata={"input_tokens": 30, "output_tokens": 7, "total_tokens": 37})


class StubChat:
    """A LangChain-shaped chat model: ``bind(stop=...)``, ``invoke`` and ``with_structured_output(schema, include_raw=True)``."""

    def __init__(self, reply: Any = None, structured: Any = None) -> None:
        self.reply = reply
        self.structured = structured
        self.invocations: list[tuple[Any, dict[str, Any]]] = []
        self.stops: list[list[str]] = []
        self.schemas: list[dict[str, Any]] = []

    def bind(self, *, stop: list[str]) -> StubChat:
        self.stops.append(stop)
        return self

    def with_structured_output(self, schema: dict[str, Any], include_raw: bool = False) -> Any:
        assert include_raw, "the generator needs the raw message for tokens and finish reason"
        self.schemas.append(schema)
        chat = self

        class Structured:
            def invoke(self, messages: Any, config: dict[str, Any] | None = None) -> Any:
                chat.invocations.append((messages, {}))
                if isinstance(chat.structured, Exception):
                    raise chat.structured
                return chat.structured

        return Structured()

    def invoke(self, messages: Any, config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        self.invocations.append((messages, kwargs))
        return self.reply


class Factory:
    """Records the settings each chat model is built with."""

    def __init__(self, chat: StubChat) -> None:
        self.chat = chat
        self.built: list[dict[str, Any]] = []

    def __call__(self, *, temperature: float, max_tokens: int, timeout_s: float | None, seed: int) -> StubChat:
        self.built.append({"temperature": temperature, "max_tokens": max_tokens, "timeout_s": timeout_s, "seed": seed})
        return self.chat


def test_json_schema_goes_through_structured_output() -> None:
    chat = StubChat(structured={"raw": message(finish_reason="stop"), "parsed": {"verdict": 1}, "parsing_error": None})
    gen = LangChainChatGenerator("openai:gpt-4o-mini", Factory(chat))
    out = gen.generate(PROMPT, GenerationParams(max_tokens=64, stop=("\n",)), json_schema=SCHEMA)
    assert chat.schemas == [{"title": "output", **SCHEMA}]  # LangChain names the provider's function after the title
    assert json.loads(out.text) == {"verdict": 1}
    assert (out.input_tokens, out.output_tokens, out.finish_reason) == (30, 7, "stop")
    assert chat.invocations[0][0] == [("system", "Be brief."), ("human", "Context: Because.\nQuestion: Why?")]
    assert chat.stops == []  # stop strings would cut JSON short; they do not apply


def test_unparsed_structured_output_keeps_what_the_provider_said() -> None:
    chat = StubChat(structured={"raw": message(tool_args={"verdict": 7}, finish_reason="length"), "parsed": None, "parsing_error": "bad"})
    out = LangChainChatGenerator("openai:gpt-4o-mini", Factory(chat)).generate(PROMPT, GenerationParams(), json_schema=SCHEMA)
    assert json.loads(out.text) == {"verdict": 7} and out.finish_reason == "length"
    chat = StubChat(structured={"raw": message("I cannot answer in JSON."), "parsed": None, "parsing_error": "bad"})
    out = LangChainChatGenerator("openai:gpt-4o-mini", Factory(chat)).generate(PROMPT, GenerationParams(), json_schema=SCHEMA)
    assert out.text == "I cannot answer in JSON."


def test_a_provider_error_propagates_to_the_caller() -> None:
    chat = StubChat(structured=ConnectionError("refused"))
    with pytest.raises(ConnectionError):
        LangChainChatGenerator("ollama:llama3.2", Factory(chat)).generate(PROMPT, GenerationParams(), json_schema=SCHEMA)


def test_plain_text_applies_stop_strings_and_the_tighter_time_limit() -> None:
    chat = StubChat(reply=message("  It is so.  ", finish_reason="length"))
    gen = LangChainChatGenerator("openai:gpt-4o-mini", Factory(chat))
    out = gen.generate(PROMPT, GenerationParams(stop=("\n",), timeout_s=30.0), deadline=time.monotonic() + 2.0)
    assert out.text == "It is so." and out.finish_reason == "length" and (out.input_tokens, out.output_tokens) == (30, 7)
    assert chat.stops == [["\n"]] and chat.schemas == []
    assert 0 < chat.invocations[0][1]["timeout"] <= 2.0


def test_decoding_settings_build_one_chat_model_each() -> None:
    chat = StubChat(reply=message("ok"))
    factory = Factory(chat)
    gen = LangChainChatGenerator("openai:gpt-4o-mini", factory)
    for params in (GenerationParams(temperature=0.7, max_tokens=50, seed=1), GenerationParams(temperature=0.7, max_tokens=50, seed=1),
                   GenerationParams(temperature=0.7, max_tokens=50, seed=2), GenerationParams(temperature=0.9, max_tokens=50, timeout_s=5.0)):
        gen.generate(PROMPT, params)
    assert factory.built == [  # the seed samples too: a judge's repeats (seed + i) are built apart and each reproducible
        {"temperature": 0.7, "max_tokens": 50, "timeout_s": None, "seed": 1}, {"temperature": 0.7, "max_tokens": 50, "timeout_s": None, "seed": 2},
        {"temperature": 0.9, "max_tokens": 50, "timeout_s": 5.0, "seed": 0},
    ]


def test_a_real_provider_model_is_built_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    model = chat_model("openai:gpt-4o-mini", temperature=0.7, max_tokens=77, timeout_s=12.0, seed=42)
    # the experiment's seed reaches the provider: it was dropped, so sampled answers changed from run to run
    assert (model.temperature, model.max_tokens, model.request_timeout, model.seed) == (0.7, 77, 12.0, 42)
    assert isinstance(load_generator("openai:gpt-4o-mini"), LangChainChatGenerator)


@pytest.mark.parametrize(("provider", "no_retry"), [
    ("openai", 0), ("azure_openai", 0), ("anthropic", 0), ("mistralai", 0), ("groq", 0), ("deepseek", 0),
    ("google_genai", 1),  # the Google SDK reads 0 as "its default": 6 retries of its own, uncounted, past any deadline
])
def test_every_providers_own_client_retries_are_turned_off_in_its_own_words(provider: str, no_retry: int) -> None:
    from workbench.models._hosted import chat_options

    options = chat_options(provider, max_tokens=64, timeout_s=5.0, seed=3)
    assert options["max_retries"] == no_retry
    assert (options["max_tokens"], options["timeout"]) == (64, 5.0)


@pytest.mark.parametrize(("metadata", "reason"), [
    ({"stop_reason": "max_tokens"}, "length"),  # Anthropic
    ({"done_reason": "length"}, "length"),  # Ollama
    ({"finish_reason": "MAX_TOKENS"}, "length"),  # Gemini
    ({"stop_reason": "end_turn"}, "stop"),
    ({"finish_reason": "SAFETY"}, "content_filter"),
    ({}, "stop"),
])
def test_every_providers_word_for_why_an_answer_ended_is_read(metadata: dict[str, Any], reason: str) -> None:
    from langchain_core.messages import AIMessage

    chat = StubChat(reply=AIMessage(content="{\"verdict\": 1", response_metadata=metadata))
    out = LangChainChatGenerator("anthropic:claude-sonnet-4-5", Factory(chat)).generate(PROMPT, GenerationParams())
    assert out.finish_reason == reason


def test_a_judge_cut_off_by_a_non_openai_provider_is_told_to_raise_max_tokens() -> None:
    from langchain_core.messages import AIMessage

    from workbench.scoring import ModelJudge

    raw = AIMessage(content="{\"verdict\": 1", response_metadata={"stop_reason": "max_tokens"})
    chat = StubChat(structured={"raw": raw, "parsed": None, "parsing_error": "bad"})
    reply = ModelJudge(LangChainChatGenerator("anthropic:claude-sonnet-4-5", Factory(chat))).ask("Judge.", SCHEMA)
    assert reply.error == "judge output is incomplete JSON (cut off at max_tokens — raise judge.max_tokens)"


def test_a_judges_tool_call_whose_arguments_are_no_json_keeps_them_for_the_error_row() -> None:
    # LangChain puts arguments it cannot parse in invalid_tool_calls: the reply's raw text was '' and the error row
    # said "the judge said: ''", hiding what the judge had written
    from langchain_core.messages import AIMessage

    from workbench.scoring import ModelJudge

    said = '{"verdict": 1, "reason": "the context says'
    raw = AIMessage(content="", invalid_tool_calls=[{"type": "invalid_tool_call", "name": "output", "args": said, "id": "1", "error": None}],
                    response_metadata={"stop_reason": "tool_use"})
    chat = StubChat(structured={"raw": raw, "parsed": None, "parsing_error": "bad"})
    reply = ModelJudge(LangChainChatGenerator("anthropic:claude-sonnet-4-5", Factory(chat))).ask("Judge.", SCHEMA)
    assert reply.raw == said and reply.value is None and reply.error == "judge output is not JSON"


def test_a_refusal_is_the_answer_and_a_refusing_judge_says_it_declined() -> None:
    from langchain_core.messages import AIMessage

    from workbench.scoring import ModelJudge

    refused = AIMessage(content="", additional_kwargs={"refusal": "I can't help with that."}, response_metadata={"finish_reason": "stop"})
    out = LangChainChatGenerator("openai:gpt-4o-mini", Factory(StubChat(reply=refused))).generate(PROMPT, GenerationParams())
    assert (out.text, out.finish_reason) == ("I can't help with that.", "refusal")
    chat = StubChat(structured={"raw": refused, "parsed": None, "parsing_error": "OpenAIRefusalError"})
    reply = ModelJudge(LangChainChatGenerator("openai:gpt-4o-mini", Factory(chat))).ask("Judge.", SCHEMA)
    assert reply.error == "judge declined (refusal): I can't help with that."
    blocks = AIMessage(content=[{"type": "refusal", "refusal": "No."}])  # the Responses API's content blocks
    assert LangChainChatGenerator("openai:gpt-4o-mini", Factory(StubChat(reply=blocks))).generate(PROMPT, GenerationParams()).text == "No."


def test_an_answer_without_token_counts_has_an_unknown_cost() -> None:
    from langchain_core.messages import AIMessage

    from workbench.models import Price, cost_of
    from workbench.scoring import ModelJudge

    uncounted = AIMessage(content="It is so.", response_metadata={"finish_reason": "stop"})  # no usage_metadata
    out = LangChainChatGenerator("openai:gpt-4o-mini", Factory(StubChat(reply=uncounted))).generate(PROMPT, GenerationParams())
    assert (out.text, out.usage_reported) == ("It is so.", False)
    assert cost_of(out, Price(0.15, 0.6)) is None
    counted = LangChainChatGenerator("openai:gpt-4o-mini", Factory(StubChat(reply=message("ok")))).generate(PROMPT, GenerationParams())
    assert counted.usage_reported and cost_of(counted, Price(0.15, 0.6)) == (30 * 0.15 + 7 * 0.6) / 1e6
    chat = StubChat(structured={"raw": AIMessage(content=""), "parsed": {"verdict": 1}, "parsing_error": None})
    reply = ModelJudge(LangChainChatGenerator("openai:gpt-4o-mini", Factory(chat)), price=Price(0.15, 0.6)).ask("Judge.", SCHEMA)
    assert reply.value == {"verdict": 1} and reply.cost_usd is None


def test_input_tokens_read_from_the_prompt_cache_are_priced_at_the_cached_input_price(tmp_path: Any) -> None:
    # LangChain counts them in input_tokens and says how many in input_token_details: priced as input tokens, a RAG
    # prompt whose instructions OpenAI cached cost twice (gpt-4o-mini) what the provider billed
    from langchain_core.messages import AIMessage

    from workbench.cache import CachedGenerator, DiskCacheStore
    from workbench.models import DEFAULT_PRICES, Price, cost_of
    from workbench.scoring import ModelJudge

    usage = {"input_tokens": 2000, "output_tokens": 100, "total_tokens": 2100, "input_token_details": {"cache_read": 1536},
             "output_token_details": {"reasoning": 60}}  # reasoning tokens are part of output_tokens
    reply = AIMessage(content="It is so.", response_metadata={"finish_reason": "stop"}, usage_metadata=usage)
    generator = LangChainChatGenerator("openai:gpt-4o-mini", Factory(StubChat(reply=reply)))
    out = generator.generate(PROMPT, GenerationParams())
    assert (out.input_tokens, out.output_tokens, out.cached_input_tokens) == (2000, 100, 1536)
    billed = (464 * 0.15 + 1536 * 0.075 + 100 * 0.60) / 1e6
    assert cost_of(out, DEFAULT_PRICES["openai:gpt-4o-mini"]) == pytest.approx(billed)
    assert cost_of(out, Price(0.15, 0.60)) == pytest.approx((2000 * 0.15 + 100 * 0.60) / 1e6)  # no cached price: the input price
    again = CachedGenerator(generator, DiskCacheStore(tmp_path / "cache"), identity="gpt")
    assert cost_of(again.generate(PROMPT, GenerationParams()), DEFAULT_PRICES["openai:gpt-4o-mini"]) == pytest.approx(billed)
    assert cost_of(again.generate(PROMPT, GenerationParams()), DEFAULT_PRICES["openai:gpt-4o-mini"]) == pytest.approx(billed)  # a hit
    judged = AIMessage(content="", usage_metadata=usage)
    chat = StubChat(structured={"raw": judged, "parsed": {"verdict": 1}, "parsing_error": None})
    judge = ModelJudge(LangChainChatGenerator("openai:gpt-4o-mini", Factory(chat)), price=DEFAULT_PRICES["openai:gpt-4o-mini"])
    assert judge.ask("Judge.", SCHEMA).cost_usd == pytest.approx(billed)


@pytest.mark.parametrize(("body", "client_error"), [
    (b'{"choices": []}', "IndexError"),  # no choice at all
    (b"<html><body>Bad gateway</body></html>", "JSONDecodeError"),  # a proxy's page with status 200
    (b'{"id": "x"}', "TypeError"),  # JSON, but not a chat completion
    (b'{"choices": [{"index": 0}]}', "AttributeError"),  # a choice without a message
])
def test_a_reply_the_client_cannot_read_is_one_error_naming_the_server(
    monkeypatch: pytest.MonkeyPatch, body: bytes, client_error: str
) -> None:
    """The real openai provider against a loopback server that answers 200 with something that is not a completion."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from workbench.errors import ModelError

    class NotACompletion(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return None

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotACompletion)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OPENAI_API_KEY", "stub-key")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
    try:
        generator = load_generator("openai:gpt-4o-mini")
        for schema in (None, {**SCHEMA, "title": "verdict"}):
            with pytest.raises(ModelError) as info:
                generator.generate(PROMPT, GenerationParams(max_tokens=8, retries=0), json_schema=schema)
            text = str(info.value)
            assert text.startswith(f"openai:gpt-4o-mini: the provider's reply could not be read ({client_error}: "), text
            assert text.endswith("check that the server it calls (its base URL) speaks this provider's API") and "\n" not in text
    finally:
        server.shutdown()


def test_an_azure_model_without_its_endpoint_or_api_version_is_refused_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # AzureChatOpenAI cannot be built without them: every question of the variant failed with a multi-line pydantic
    # ValidationError, after its index was built
    from workbench.errors import ModelError

    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "not-a-real-azure-key-0123456789")
    for name in ("AZURE_OPENAI_ENDPOINT", "OPENAI_API_BASE", "OPENAI_API_VERSION"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ModelError, match=r"^model 'azure_openai:gpt-4o' needs the environment variable AZURE_OPENAI_ENDPOINT — set it to"):
        load_generator("azure_openai:gpt-4o")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://example-resource.openai.azure.com")
    with pytest.raises(ModelError, match=r"needs the environment variable OPENAI_API_VERSION — set it to the API version"):
        load_generator("azure_openai:gpt-4o")
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-10-21")
    out = load_generator("azure_openai:gpt-4o")
    assert out.identity == "azure_openai:gpt-4o@https://example-resource.openai.azure.com"
    # AzureChatOpenAI does not read OPENAI_API_BASE: with it alone the check passed and every question then failed
    # ("Must provide one of the `base_url` or `azure_endpoint` arguments")
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT")
    monkeypatch.setenv("OPENAI_API_BASE", "https://example-resource.openai.azure.com")
    with pytest.raises(ModelError, match=r"^model 'azure_openai:gpt-4o' needs the environment variable AZURE_OPENAI_ENDPOINT — set it to"):
        load_generator("azure_openai:gpt-4o")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://example-resource.openai.azure.com")
    # AzureChatOpenAI also takes its key from OPENAI_API_KEY, or a Microsoft Entra ID token instead: both were refused
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelError, match=r"^model 'azure_openai:gpt-4o' needs the environment variable AZURE_OPENAI_API_KEY — set it"):
        load_generator("azure_openai:gpt-4o")
    for variable in ("OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN"):
        with monkeypatch.context() as only:
            only.setenv(variable, "not-a-real-credential-0123456789")
            assert load_generator("azure_openai:gpt-4o").identity == "azure_openai:gpt-4o@https://example-resource.openai.azure.com"


def test_a_server_that_cannot_be_reached_says_why_after_the_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # the openai client says only "Connection error.": the refused connection (or unknown host) was its __cause__
    import socket

    from workbench.models import RetriesExhausted

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    with pytest.raises(RetriesExhausted, match=r"^APIConnectionError: Connection error\. \(ConnectError: .*refused\) \(after 1 retry\)$") as caught:
        load_generator("openai:gpt-4o-mini").generate(PROMPT, GenerationParams(max_tokens=8, timeout_s=5, retries=1))
    assert caught.value.retries == 1


@pytest.mark.parametrize("value", ["   ", "\n"])
def test_a_blank_api_key_is_a_missing_one(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from workbench.errors import ModelError

    monkeypatch.setenv("OPENAI_API_KEY", value)
    with pytest.raises(ModelError, match=r"^model 'openai:gpt-4o-mini' needs the environment variable OPENAI_API_KEY — set it"):
        load_generator("openai:gpt-4o-mini")


def test_an_api_key_with_a_line_end_or_spaces_around_it_is_refused_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # read from a .env file or `export KEY="$(cat key.txt)\n"`: every call failed with a 401 or an invalid header
    from workbench.errors import ModelError

    monkeypatch.setenv("OPENAI_API_KEY", "not-a-real-key-0123456789\n")
    with pytest.raises(ModelError, match=r"OPENAI_API_KEY has spaces or a line end around its value — set it without them$") as info:
        load_generator("openai:gpt-4o-mini")
    assert "0123456789" not in str(info.value)


@pytest.mark.parametrize("usage", [{"input_tokens": -1, "output_tokens": 7}, {"input_tokens": 30, "output_tokens": -5}])
def test_negative_token_counts_are_no_counts_and_make_no_negative_cost(usage: dict[str, int]) -> None:
    # a proxy that reports -1 for a count it does not know: the answer was priced at a negative cost (cost_usd < 0)
    from langchain_core.messages import AIMessage

    from workbench.models import Price, cost_of

    reply = AIMessage(content="It is so.", usage_metadata={**usage, "total_tokens": sum(usage.values())})  # type: ignore[typeddict-item]
    out = LangChainChatGenerator("openai:gpt-4o-mini", Factory(StubChat(reply=reply))).generate(PROMPT, GenerationParams())
    assert (out.input_tokens, out.output_tokens, out.usage_reported) == (0, 0, False)
    assert cost_of(out, Price(0.15, 0.6)) is None


@pytest.mark.parametrize(("status", "says"), [
    (401, "refused the API key (AuthenticationError: Error code: 401 - {'error': {'message': 'stub status 401'"),
    (403, "refused access to 'my-model' (PermissionDeniedError: "),
    (404, "knows no model 'my-model' (or no such API path) (NotFoundError: "),
])
def test_a_refused_key_or_an_unknown_model_names_the_server_and_what_to_check(monkeypatch: pytest.MonkeyPatch, status: int, says: str) -> None:
    # the client said only "AuthenticationError: Error code: 401 - ..." or "NotFoundError: 404 page not found", naming
    # neither the variable to fix nor the server (a vLLM address without /v1 is a 404 on every question)
    from workbench.errors import ModelError
    from workbench.models import load_embedder
    from workbench.testing.openai_stub import OpenAIStub

    fixes = {401: "check that OPENAI_API_KEY holds a key of that server", 403: "check that the key in OPENAI_API_KEY may use it",
             404: "check the model name after 'openai:', and that OPENAI_BASE_URL is the server's API base URL, e.g. http://localhost:8000/v1"}
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    with OpenAIStub(script=lambda n: (status, {}, 0.0)) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        with pytest.raises(ModelError) as answering:
            load_generator("openai:my-model").generate(PROMPT, GenerationParams(max_tokens=8, timeout_s=5, retries=2))
        with pytest.raises(ModelError) as embedding:
            load_embedder("openai:my-model", retries=2).embed(["a text"])
    assert stub.statuses == [status, status]  # asked once each: no retry mends it
    for info in (answering, embedding):
        text = str(info.value)
        assert text.startswith(f"openai:my-model: the server at {stub.base_url} {says}"), text
        assert text.endswith(f" — {fixes[status]}") and "\n" not in text


@pytest.mark.parametrize("status", [401, 403, 404])
def test_after_the_server_refused_the_key_or_the_model_no_more_questions_are_sent(monkeypatch: pytest.MonkeyPatch, status: int) -> None:
    # a wrong key failed every question of every variant with the same 401, each a request of its own: a 40-variant
    # grid of 55 questions sent 2,200 requests a server had refused already
    from workbench.errors import ModelError
    from workbench.testing.openai_stub import OpenAIStub

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    with OpenAIStub(script=lambda n: (status, {}, 0.0)) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        generator = load_generator("openai:my-model")
        errors = []
        for max_tokens in (8, 8, 16):  # other parameters: the same key, the same model
            with pytest.raises(ModelError) as info:
                generator.generate(PROMPT, GenerationParams(max_tokens=max_tokens, timeout_s=5))
            errors.append(str(info.value))
    assert stub.statuses == [status]
    assert errors[1] == errors[2] == f"{errors[0]} (not sent: the server refused an earlier call the same way)"


def test_a_refusal_holds_calls_back_for_a_while_not_for_the_life_of_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # a deployed bundle (or a kernel) that met one 403 from a gateway, or a key rotated under it, failed every later
    # answer until it was restarted: the refusal held for the generator's whole life
    import time

    from workbench.errors import ModelError
    from workbench.models import _hosted
    from workbench.testing.openai_stub import OpenAIStub

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.setattr(_hosted, "REFUSAL_HOLD_S", 0.5)
    with OpenAIStub(script=lambda n: (403, {}, 0.0) if n == 0 else (200, {}, 0.0)) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        generator = load_generator("openai:my-model")
        params = GenerationParams(max_tokens=8, timeout_s=5)
        with pytest.raises(ModelError):
            generator.generate(PROMPT, params)
        with pytest.raises(ModelError, match="not sent"):  # within the hold: not sent
            generator.generate(PROMPT, params)
        time.sleep(0.6)
        answer = generator.generate(PROMPT, params)  # after it: sent again, and answered
    assert stub.statuses == [403, 200]
    assert answer.text


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": None, "completion_tokens": None, "total_tokens": None},  # a server that did not count
    {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},  # a proxy's zeros for 'unknown'
    {"prompt_tokens": 12, "total_tokens": 12},  # the prompt counted, the answer not
])
def test_token_counts_a_server_did_not_give_leave_the_cost_unknown_not_zero(monkeypatch: pytest.MonkeyPatch, usage: dict[str, Any]) -> None:
    # LangChain reads a null or missing count as 0: each answer was priced at $0 (or its prompt alone), shown as real
    from workbench.models import Price, cost_of
    from workbench.scoring import ModelJudge
    from workbench.testing.openai_stub import OpenAIStub

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    with OpenAIStub(usage=usage) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        generator = load_generator("openai:my-model")
        out = generator.generate(PROMPT, GenerationParams(max_tokens=8, timeout_s=5))
        reply = ModelJudge(generator, price=Price(0.15, 0.6)).ask("Judge.", SCHEMA)
    assert out.text and not out.usage_reported and cost_of(out, Price(0.15, 0.6)) is None
    assert reply.cost_usd is None


def test_an_unknown_model_names_the_address_form_of_the_providers_own_variable() -> None:
    # an Ollama user was told to check that OLLAMA_HOST looks like http://localhost:8000/v1, the OpenAI form
    from workbench.models._registry import refusal_advice

    assert refusal_advice("ollama:llama3.3", 404, {"OLLAMA_HOST": "gpu-box:11434"}) == (
        "the server at http://gpu-box:11434 knows no model 'llama3.3' (or no such API path)",
        "check the model name after 'ollama:', and that OLLAMA_HOST is the server's API base URL, e.g. http://localhost:11434",
    )
    assert refusal_advice("ollama:llama3.3", 401, {}) == ("ollama's server refused the API key", "check the server's access settings")
    assert refusal_advice("ollama:llama3.3", 500, {}) is None


def test_the_real_openai_client_reports_the_prompt_tokens_its_server_read_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # the chain the answers take: the server's prompt_tokens_details.cached_tokens, read by langchain-openai into
    # usage_metadata, priced at gpt-4o-mini's cached-input price (they were priced as input tokens, at twice that)
    from workbench.models import DEFAULT_PRICES, cost_of
    from workbench.testing.openai_stub import OpenAIStub

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    usage = {"prompt_tokens": 2000, "completion_tokens": 10, "total_tokens": 2010, "prompt_tokens_details": {"cached_tokens": 1536},
             "completion_tokens_details": {"reasoning_tokens": 4}}
    with OpenAIStub(usage=usage) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        out = load_generator("openai:gpt-4o-mini").generate(PROMPT, GenerationParams(max_tokens=8, timeout_s=5))
    assert (out.input_tokens, out.cached_input_tokens, out.output_tokens) == (2000, 1536, 10)  # reasoning is in the output
    assert cost_of(out, DEFAULT_PRICES["openai:gpt-4o-mini"]) == pytest.approx((464 * 0.15 + 1536 * 0.075 + 10 * 0.60) / 1e6)


@pytest.mark.parametrize("code", ["context_length_exceeded", "exceed_context_size_error"])  # OpenAI's; llama.cpp's server's
def test_a_prompt_longer_than_the_context_window_is_one_error_saying_what_to_change(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    # the client said only "OpenAIContextOverflowError: Error code: 400 - {...}": nothing of k or the chunk size
    from workbench.errors import ModelError
    from workbench.testing.openai_stub import OpenAIStub

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    with OpenAIStub(script=lambda n: (400, {}, 0.0), error_code=code) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        with pytest.raises(ModelError) as info:
            load_generator("openai:my-model").generate(PROMPT, GenerationParams(max_tokens=8, timeout_s=5, retries=4))
    assert stub.statuses == [400]  # asked once: a retry sends the same prompt
    text = str(info.value)
    assert text.startswith("openai:my-model: the prompt is longer than the model's context window (") and code in text, text
    assert text.endswith(" — retrieve fewer or smaller chunks (the retrieval's k, the chunker's size) or shorten the prompt")
    assert "\n" not in text


def test_a_text_longer_than_a_hosted_embedding_model_reads_is_one_error_saying_what_to_change(monkeypatch: pytest.MonkeyPatch) -> None:
    # chunks are sent whole: a 40,000-character chunk failed the index build with the client's bare 400
    from workbench.errors import ModelError
    from workbench.models import load_embedder
    from workbench.testing.openai_stub import OpenAIStub

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    with OpenAIStub(script=lambda n: (400, {}, 0.0), error_code="context_length_exceeded") as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        with pytest.raises(ModelError) as info:
            load_embedder("openai:my-embedder", retries=2).embed(["a very long chunk"])
    assert stub.statuses == [400]
    text = str(info.value)
    assert text.startswith("openai:my-embedder: a text is longer than the embedding model reads (") and "\n" not in text
    assert text.endswith(" — use a smaller chunk size (or shorten the question)")



@pytest.mark.parametrize(("model_id", "meant"), [
    ("opnai:gpt-4o-mini", "openai:gpt-4o-mini"),
    ("OpenAI:gpt-4o-mini", "openai:gpt-4o-mini"),
    ("antropic:claude-3-5-haiku-latest", "anthropic:claude-3-5-haiku-latest"),
    ("google-genai:gemini-2.0-flash", "google_genai:gemini-2.0-flash"),
    ("gemini:gemini-2.0-flash", "google_genai:gemini-2.0-flash"),
    ("bedrock:anthropic.claude-3-haiku", "bedrock_converse:anthropic.claude-3-haiku"),
    ("Local:gemma3-270m", "local:gemma3-270m"),
])
def test_a_misspelt_provider_suggests_the_model_string_meant(model_id: str, meant: str) -> None:
    # the error listed all fourteen providers and left the reader to spot which one "opnai" was meant to be
    from workbench.errors import ModelError
    from workbench.models import check_model_id

    with pytest.raises(ModelError) as caught:
        check_model_id(model_id)
    assert str(caught.value) == f"unknown model provider '{model_id.partition(':')[0]}' in '{model_id}' — did you mean '{meant}'?"


def test_a_provider_close_to_none_lists_the_known_ones() -> None:
    from workbench.errors import ModelError
    from workbench.models import check_model_id

    with pytest.raises(ModelError, match=r"unknown model provider 'cohere' in 'cohere:command-r' — use one of: local, llamacpp, anthropic"):
        check_model_id("cohere:command-r")


class RateLimited(Exception):
    """A 429 shaped as the provider clients raise it: a status and the reply's headers."""

    status_code = 429

    def __init__(self, retry_after: str) -> None:
        super().__init__("Error code: 429")
        self.response = type("Reply", (), {"status_code": 429, "headers": {"retry-after": retry_after}})()


def test_a_retry_after_past_the_deadline_says_why_the_call_was_not_retried() -> None:
    # the bare "RateLimitError: Error code: 429" came back at once, with no retry and no word of why, though 429s are
    # documented to be retried: the server had asked for a wait longer than the variant had left
    from workbench.models import RetriesExhausted
    from workbench.models._retry import call_with_retries

    def fail() -> None:
        raise RateLimited("100")

    slept: list[float] = []
    with pytest.raises(RetriesExhausted) as caught:
        call_with_retries(fail, retries=4, deadline=time.monotonic() + 10, sleep=slept.append)
    assert slept == [] and caught.value.retries == 0
    message = str(caught.value)
    assert message.startswith("RateLimited: Error code: 429 — not retried: Retry-After asked 100 s, past the call's deadline ")
    assert message.endswith(" s away (limits.wall_time_s; a judge's timeout_s)")
    assert "(after" not in message


def test_a_retry_after_longer_than_five_minutes_is_not_waited_for_even_without_a_deadline() -> None:
    # a call with no deadline (Bundle.answer, a variant without limits.wall_time_s) waited out whatever the server asked
    # (an hour for a quota of the hour), once per retry: a deployment's request or a sweep hung for hours
    from workbench.models import RetriesExhausted
    from workbench.models._retry import call_with_retries

    def fail() -> None:
        raise RateLimited("3600")

    slept: list[float] = []
    with pytest.raises(RetriesExhausted) as caught:
        call_with_retries(fail, retries=4, sleep=slept.append)
    assert slept == [] and caught.value.retries == 0
    assert str(caught.value) == ("RateLimited: Error code: 429 — not retried: Retry-After asked 3600 s, more than the 300 s a "
                                 "call waits (a quota or an outage: try again later)")
    calls: list[int] = []

    def then_answers() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RateLimited("120")
        return "answered"

    assert call_with_retries(then_answers, retries=4, sleep=slept.append) == ("answered", 1) and slept == [120.0]


def test_a_wait_within_the_deadline_is_retried_and_exhausted_retries_say_only_their_count() -> None:
    from workbench.models import RetriesExhausted
    from workbench.models._retry import call_with_retries

    def fail() -> None:
        raise RateLimited("1")

    slept: list[float] = []
    with pytest.raises(RetriesExhausted) as caught:
        call_with_retries(fail, retries=2, deadline=time.monotonic() + 60, sleep=slept.append)
    assert slept == [1.0, 1.0]
    assert str(caught.value) == "RateLimited: Error code: 429 (after 2 retries)"


def test_the_backoff_checked_against_the_deadline_is_the_one_slept(monkeypatch: pytest.MonkeyPatch) -> None:
    # the deadline check and the sleep each drew their own jittered backoff: a retry let through for a 0.1 s wait could
    # sleep 5 s, past a judge's timeout_s, and its next try then ran a whole timeout past the deadline
    from workbench.models import RetriesExhausted
    from workbench.models._retry import call_with_retries

    draws = iter([5.0, 0.1, 6.0, 0.2, 7.0, 0.3])
    monkeypatch.setattr("workbench.models._retry.random.uniform", lambda low, high: next(draws))

    def fail() -> None:
        raise TimeoutError("read timed out")

    slept: list[float] = []
    with pytest.raises(RetriesExhausted) as caught:
        call_with_retries(fail, retries=2, deadline=time.monotonic() + 2, sleep=slept.append)
    assert slept == []  # the 5 s wait drawn is past the deadline 2 s away: not slept, the call fails saying so
    assert "not retried: the next try was 5.0 s away, past the call's deadline" in str(caught.value)


class ConnectError(Exception):
    """No connection could be made (httpx's name for it)."""


class ScriptedChat(StubChat):
    """Raises or answers in turn, one outcome a call."""

    def __init__(self, outcomes: list[Any]) -> None:
        super().__init__()
        self.outcomes = outcomes

    def invoke(self, messages: Any, config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_after_a_call_found_the_server_down_the_next_are_asked_once_until_one_is_answered() -> None:
    from workbench.models import RetriesExhausted

    down = ConnectError("[Errno 111] Connection refused")
    chat = ScriptedChat([down, down, down, down, message("back"), down, message("again")])
    gen = LangChainChatGenerator("openai:m", Factory(chat))
    params = GenerationParams(retries=2)
    with pytest.raises(RetriesExhausted, match=r"\(after 2 retries\)$"):
        gen.generate(PROMPT, params)  # tried three times
    with pytest.raises(RetriesExhausted) as caught:
        gen.generate(PROMPT, params)  # once: the server was down a moment ago
    assert str(caught.value) == ("ConnectError: [Errno 111] Connection refused — not retried: the server could not be reached by an "
                                 "earlier call after 2 retries either")
    assert gen.generate(PROMPT, params).text == "back"  # once, and answered: the server is up
    again = gen.generate(PROMPT, params)  # retried as before
    assert (again.text, again.retries) == ("again", 1)
    assert chat.outcomes == []


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:99999/v1?api-key=QSECRET-0123456789",  # a port out of range
    "http://[::1/v1?token=QSECRET-0123456789",  # not a URL at all
    "ftp://proxy.internal/v1#key=QSECRET-0123456789",  # not http(s)
    "http://alice:QSECRET-0123456789@[::1/v1",
])
def test_a_bad_server_address_is_refused_without_showing_a_key_in_its_query_or_credentials(url: str) -> None:
    # the query string was shown as it was: the exception, raised into a notebook, kept the key in its saved output
    from workbench.errors import ModelError
    from workbench.models._registry import check_endpoint

    with pytest.raises(ModelError) as caught:
        check_endpoint("openai", {"OPENAI_BASE_URL": url})
    assert str(caught.value).startswith("OPENAI_BASE_URL=") and "QSECRET" not in str(caught.value)


def test_a_key_a_server_echoes_in_its_answer_is_redacted_before_it_is_cached_on_disk(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A proxy or server that echoes the request's Authorization header in its answer had the key stored, whole, in
    the answer cache on disk (shared by a team's machines on a cluster); MLflow got it redacted."""
    from workbench.cache import CachedGenerator, DiskCacheStore

    key = "corp-proxy-key-abcdefghijklmnop"  # no known key shape: only its variable says it is a secret
    monkeypatch.setenv("OPENAI_API_KEY", key)
    plain = StubChat(reply=message(f"you sent Authorization: Bearer {key}"))
    structured = StubChat(structured={"raw": message(), "parsed": {"verdict": 1, "note": key}, "parsing_error": None})
    store = DiskCacheStore(tmp_path / "cache")
    for chat, schema in ((plain, None), (structured, SCHEMA)):
        gen = CachedGenerator(LangChainChatGenerator("openai:gpt-4o-mini", Factory(chat)), store, identity="openai:gpt-4o-mini")
        out = gen.generate(PROMPT, GenerationParams(max_tokens=64), json_schema=schema)
        assert key not in out.text and "[REDACTED:OPENAI_API_KEY]" in out.text
    del store
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert key.encode() not in on_disk


@pytest.mark.parametrize("header", ["soon", "Mon, 99 Foo 2020", "nan", "  "])
def test_a_retry_after_that_is_neither_seconds_nor_a_date_is_retried_with_backoff(header: str) -> None:
    # "Retry-After: soon" (a proxy's or gateway's own) raised ValueError inside the retry loop: the call failed at once
    # with "Invalid date value or format" in place of the provider's 429
    from workbench.models._retry import call_with_retries, retry_after_s

    assert retry_after_s(RateLimited(header)) is None
    calls: list[int] = []

    def then_answers() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RateLimited(header)
        return "answered"

    slept: list[float] = []
    assert call_with_retries(then_answers, retries=2, initial_s=0.01, sleep=slept.append) == ("answered", 1)
    assert len(slept) == 1 and 0 <= slept[0] <= 0.01
