"""Hosted and external models through LangChain provider strings (``openai:gpt-4o-mini``, ``ollama:llama3.2``)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from workbench.errors import ModelError
from workbench.models._retry import RetriesExhausted, call_with_retries, http_status, unreachable
from workbench.models._types import CONTEXT_ADVICE, Generation, GenerationParams, ModelKind
from workbench.prompts import RenderedPrompt
from workbench.redaction import redact


# how long a generator sends no call after the server refused one (401, 403, 404): a sweep's remaining questions
# fail at once, and a long-lived process (a deployed bundle, a notebook kernel) asks again after it
REFUSAL_HOLD_S = 300.0

# What a server meant by refusing a call for good (its HTTP status): what it refused and what to check, or None for any
# other status; the registry builds it from the provider's key and address variables (``refusal_advice``).
RefusalAdvice = Callable[[int | None], "tuple[str, str] | None"]


class ChatModelFactory(Protocol):
    """Builds a LangChain chat model for one set of decoding settings."""

    def __call__(self, *, temperature: float, max_tokens: int, timeout_s: float | None, seed: int, **sampler: float) -> Any:
        """``sampler``: the sampler settings set (``GenerationParams.sampler``), under the names the class takes them by."""
        ...


# Providers whose LangChain class takes ``max_retries``: their client's own retries are turned off, so every retry is
# ours (counted, deadline-aware, Retry-After honoured). The value that means "no retry" where it is not 0: the Google
# SDK reads 0 as "its default" (6 retries, each waiting up to a minute, uncounted and past any deadline), 1 as one try.
_CLIENT_RETRIES: Mapping[str, int] = {
    "openai": 0, "azure_openai": 0, "anthropic": 0, "mistralai": 0, "groq": 0, "fireworks": 0, "together": 0,
    "deepseek": 0, "google_genai": 1,
}
# Providers whose LangChain class sends a sampling ``seed`` (OpenAI's and Ollama's APIs take one; Anthropic's does not).
_SEEDED = frozenset({"openai", "azure_openai", "ollama"})
# Providers whose LangChain class has no field for the sampler settings it is passed (``SAMPLER_PROVIDERS``) but sends
# its ``model_kwargs`` in each request body (ChatGroq's and ChatFireworks' ``_default_params``, in langchain's
# libs/partners/groq and libs/partners/fireworks chat_models.py): given as options of their own, each was moved there
# with a "WARNING! top_p is not default parameter" printed.
_MODEL_KWARGS = frozenset({"groq", "fireworks"})


def chat_options(provider: str, *, max_tokens: int, timeout_s: float | None, seed: int, context_window: int | None = None,
                 **sampler: float) -> dict[str, Any]:
    """The options of a provider's LangChain chat class for these settings (pure): the answer's length and the time
    limit in the words the class reads, the client's own retries off, the seed where its API takes one, an Ollama
    model's ``context_window`` as its ``num_ctx`` (the experiment refuses one for another provider), and the sampler
    settings set (the experiment refuses one the class does not take: ``SAMPLER_PROVIDERS``)."""
    if provider == "ollama":
        options: dict[str, Any] = {"num_predict": max_tokens, "client_kwargs": {"timeout": timeout_s}}
        if context_window is not None:
            options["num_ctx"] = context_window
    else:
        options = {"max_tokens": max_tokens, "timeout": timeout_s}
    if provider in _CLIENT_RETRIES:
        options["max_retries"] = _CLIENT_RETRIES[provider]
    if provider in _SEEDED:
        options["seed"] = seed
    if provider in _MODEL_KWARGS:
        return {**options, **({"model_kwargs": dict(sampler)} if sampler else {})}
    return {**options, **sampler}


def chat_model(model_id: str, *, temperature: float, max_tokens: int, timeout_s: float | None, seed: int = 0,
               context_window: int | None = None, **sampler: float) -> Any:
    """A LangChain chat model for ``provider:model`` with these settings (the provider package must be installed);
    ``seed`` goes to the providers whose API samples with one, ``context_window`` to an Ollama model as its num_ctx."""
    from langchain.chat_models import init_chat_model

    options = chat_options(model_id.partition(":")[0], max_tokens=max_tokens, timeout_s=timeout_s, seed=seed,
                           context_window=context_window, **sampler)
    return init_chat_model(model_id, temperature=temperature, **options)


class LangChainChatGenerator:
    """Any LangChain chat model; tokens come from the response's ``usage_metadata``.

    ``chat_model`` builds the model for a call's temperature, max_tokens, timeout, seed and sampler settings (one model
    per setting, kept).
    Asked for JSON, the model answers through ``with_structured_output(schema, include_raw=True)``; the JSON it
    parsed (else the raw tool-call arguments or text) is the answer's text. There the time limit is
    ``params.timeout_s``, set when the model is built: LangChain passes no per-call timeout through structured output.
    A secret in the answer (a proxy or server echoing the request's key or Authorization header) is redacted here,
    where the provider's key is in the environment (a Ray worker's, which the caller does not know), before the answer
    is cached on disk or sent back.
    A rate limit, server error or timeout is retried up to ``params.retries`` times (``Generation.retries`` counts them);
    once a call found the server unreachable after its retries, the next calls are asked once, unretried, until one is
    answered: a server that is down failed each of a sweep's questions only after its whole backoff. Once the server
    refused the key or the model (401, 403, 404), no more calls are sent for ``REFUSAL_HOLD_S`` seconds: each fails with
    that refusal (a sweep's next questions), and the first call after that is sent again (a deployed bundle or a kernel
    outlives a key rotated or a gateway's passing 403).
    """

    kind: ModelKind = "chat"

    def __init__(self, model_id: str, chat_model: ChatModelFactory, *, identity: str | None = None,
                 refusal: RefusalAdvice | None = None) -> None:
        self.model_id = model_id
        self.identity = identity or model_id  # the provider's model name (and server, when not the default) answers
        self._refusal = refusal
        self._factory = chat_model
        self._models: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()
        self._down = False  # the last call that ended found no server to connect to (after its retries)
        self._refused_call: ModelError | None = None  # the server refused the key, its access or the model
        self._refused_at = 0.0  # when (time.monotonic())

    def _model(self, params: GenerationParams) -> Any:
        key = (params.temperature, params.max_tokens, params.timeout_s, params.seed, params.sampler)
        with self._lock:
            if key not in self._models:
                self._models[key] = self._factory(
                    temperature=params.temperature, max_tokens=params.max_tokens, timeout_s=params.timeout_s, seed=params.seed,
                    **dict(params.sampler),
                )
            return self._models[key]

    def generate(
        self,
        prompt: RenderedPrompt,
        params: GenerationParams,
        *,
        deadline: float | None = None,
        json_schema: Mapping[str, Any] | None = None,
    ) -> Generation:
        model = self._model(params)
        if json_schema is not None:
            return self._structured(model, prompt, json_schema, params, deadline)
        bound = model.bind(stop=list(params.stop)) if params.stop else model

        def call() -> Any:
            timeout = params.timeout_s
            if deadline is not None:
                remaining = max(deadline - time.monotonic(), 0.001)
                timeout = min(timeout, remaining) if timeout else remaining
            return self._invoke(bound, prompt, timeout=timeout)

        start = time.perf_counter()
        message, retries = self._retried(call, params, deadline)
        latency = time.perf_counter() - start
        return _generation(message, redact(_message_text(message).strip()), latency, retries)

    def _retried(self, call: Callable[[], Any], params: GenerationParams, deadline: float | None) -> tuple[Any, int]:
        """``call_with_retries(call)`` with the call's retries, or none while the server was found unreachable; not
        sent at all within ``REFUSAL_HOLD_S`` seconds of the server refusing the key or the model (401, 403, 404): retrying
        does not mend that, and a sweep sent each of its questions to a server that had refused the first."""
        if self._refused_call is not None and time.monotonic() - self._refused_at < REFUSAL_HOLD_S:
            raise ModelError(f"{self._refused_call} (not sent: the server refused an earlier call the same way)")
        down = self._down
        try:
            result = call_with_retries(call, retries=0 if down else params.retries, deadline=deadline)
        except Exception as exc:
            self._down = unreachable(exc)
            if down and self._down and params.retries:
                raise RetriesExhausted(exc, 0, stopped="not retried: the server could not be reached by an earlier call "
                                       f"after {params.retries} retries either") from exc
            raise
        self._down = False
        return result

    def _invoke(self, runnable: Any, prompt: RenderedPrompt, **options: Any) -> Any:
        """``runnable.invoke`` on the prompt's messages; a reply the provider's client could not read (not JSON, no
        ``choices``, an empty choice: a proxy's page, a server that is not this provider's API) is one ModelError
        saying so, instead of the client's bare IndexError or JSONDecodeError; so is a refused key or an unknown model
        (``_refused``), and a prompt longer than the model's context window (``_overflowed``)."""
        try:
            return runnable.invoke(list(prompt.messages), config={"callbacks": []}, **options)
        except (json.JSONDecodeError, LookupError, TypeError, AttributeError) as exc:
            raise ModelError(f"{self.model_id}: the provider's reply could not be read ({type(exc).__name__}: {exc}) — "
                             "check that the server it calls (its base URL) speaks this provider's API") from exc
        except Exception as exc:
            if _overflowed(exc):
                raise ModelError(f"{self.model_id}: the prompt is longer than the model's context window "
                                 f"({type(exc).__name__}: {exc}) — {CONTEXT_ADVICE}") from exc
            refused = _refused(exc, self.model_id, self._refusal)
            if refused is None:
                raise
            self._refused_call, self._refused_at = refused, time.monotonic()
            raise refused from exc

    def _structured(
        self, model: Any, prompt: RenderedPrompt, json_schema: Mapping[str, Any], params: GenerationParams, deadline: float | None
    ) -> Generation:
        # LangChain names the provider's function or response format after the schema's title, and refuses a schema
        # without one: a custom scorer's hand-written schema failed every hosted judge call (a llama.cpp judge took it)
        structured = model.with_structured_output({"title": "output", **json_schema}, include_raw=True)
        start = time.perf_counter()
        try:
            out, retries = self._retried(lambda: self._invoke(structured, prompt), params, deadline)
        except Exception as exc:
            early = _ended_early(exc)
            if early is None:
                raise
            out, retries = early, exc.retries if isinstance(exc, RetriesExhausted) else 0
        latency = time.perf_counter() - start
        message = out.get("raw")
        return _generation(message, redact(_structured_text(message, out.get("parsed"))), latency, retries)


def _generation(message: Any, text: str, latency: float, retries: int) -> Generation:
    """The Generation of a provider's reply ``message`` whose answer is ``text``: its token counts (reported or counted),
    cached input tokens and finish reason."""
    input_tokens, output_tokens, reported = _token_counts(message, text)
    return Generation(
        text=text,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        latency_s=latency,
        finish_reason=_finish_reason(message),
        retries=retries,
        usage_reported=reported,
        cached_input_tokens=_cache_reads(message),
    )


def _structured_text(message: Any, parsed: Any) -> str:
    """The text of a structured answer, as the provider sent it (pure): its tool call's arguments (parsed strictly by
    LangChain, or as sent when they are no JSON), else its content, else what LangChain parsed. LangChain's JSON parser completes JSON that was cut
    short (``{"score": 0.`` read as ``{"score": 0}``), so a judge reply a proxy or server truncated, with no
    ``length`` reason, scored 0 instead of being an error reply; the judge checks the text itself (``check_reply``)."""
    calls = getattr(message, "tool_calls", None) or []
    if calls:
        return json.dumps(calls[0].get("args", {}))
    invalid = getattr(message, "invalid_tool_calls", None) or []
    if invalid and isinstance(invalid[0].get("args"), str):  # arguments that are no JSON, as sent: for the error row
        return str(invalid[0]["args"])
    said = _message_text(message)
    if said or parsed is None:
        return said
    return json.dumps(parsed)


def _token_counts(message: Any, text: str) -> tuple[int, int, bool]:
    """The reply's input and output tokens, and whether the provider counted them: not without usage, nor with counts
    that cannot be true, no input token for a prompt or no output token for a text (LangChain reads the null or
    missing count of a server or proxy that did not count as 0, which priced such answers at $0)."""
    usage = getattr(message, "usage_metadata", None) or {}
    input_tokens, output_tokens = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    return input_tokens, output_tokens, bool(usage) and input_tokens > 0 and (output_tokens > 0 or not text)


def _cache_reads(message: Any) -> int:
    """Of the reply's input tokens, those the provider read from its prompt cache (``input_token_details.cache_read``
    in LangChain's usage: OpenAI's cached tokens, Anthropic's cache reads), billed at the cheaper cached-input price;
    priced as input tokens, they made a RAG prompt's shared instructions cost up to ten times what was billed."""
    usage = getattr(message, "usage_metadata", None) or {}
    details = usage.get("input_token_details") or {}
    # langchain-openai names them flex_cache_read or priority_cache_read for a call in those service tiers
    return sum(int(n or 0) for k, n in details.items() if k == "cache_read" or k.endswith("_cache_read"))


def _refused(exc: Exception, model_id: str, refusal: RefusalAdvice | None) -> ModelError | None:
    """A call's failure as one ModelError naming the server and what to check when the server refused the key, the
    model or the path for good (401, 403, 404: ``refusal``); None for any other failure."""
    advice = refusal(http_status(exc)) if refusal is not None else None
    if advice is None:
        return None
    what, fix = advice
    return ModelError(f"{model_id}: {what} ({type(exc).__name__}: {exc}) — {fix}")


# how OpenAI-compatible servers and other providers word a prompt longer than the context window in a 400 reply: vLLM
# "maximum context length is 4096 tokens", llama.cpp's server exceed_context_size_error, Anthropic "prompt is too long"
_OVERFLOW_WORDS = re.compile(r"context[ _](length|window|size)|maximum context|prompt is too long", re.IGNORECASE)


def _overflowed(exc: BaseException) -> bool:
    """Whether a call failed because its prompt is longer than the model's context window (pure): LangChain's
    ``ContextOverflowError`` (langchain-openai's for OpenAI's ``context_length_exceeded``), or a 400 or 413 reply
    saying so in the server's own words. The client's text ("BadRequestError: Error code: 400 - {...}") said
    nothing of what to change."""
    from langchain_core.exceptions import ContextOverflowError

    if isinstance(exc, ContextOverflowError):
        return True
    return http_status(exc) in (400, 413) and bool(_OVERFLOW_WORDS.search(str(exc)))


def _ended_early(exc: BaseException) -> dict[str, Any] | None:
    """What an OpenAI structured call answered when its client refused to parse the answer because it ended early (cut
    at max_tokens, or stopped by the content filter), shaped as ``with_structured_output`` returns an unparsed answer;
    None for any other failure. The client raises for both, so a judge cut off at max_tokens was a failed call: its
    tokens uncounted, never cached, asked and paid for again in every sweep, and never told to raise max_tokens."""
    try:
        from openai import ContentFilterFinishReasonError, LengthFinishReasonError
    except ImportError:  # another provider's package
        return None
    from langchain_core.messages import AIMessage

    found = exc.__cause__ if isinstance(exc, RetriesExhausted) else exc
    if isinstance(found, ContentFilterFinishReasonError):
        return {"raw": AIMessage(content="", response_metadata={"finish_reason": "content_filter"}), "parsed": None}
    if not isinstance(found, LengthFinishReasonError):
        return None
    completion = found.completion
    text = (completion.choices[0].message.content or "") if completion.choices else ""
    usage = completion.usage
    cached = getattr(usage.prompt_tokens_details, "cached_tokens", None) if usage is not None else None  # as langchain-openai reads it
    counts = None if usage is None else {
        "input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens, "total_tokens": usage.total_tokens,
        "input_token_details": {"cache_read": cached or 0},
    }
    return {"raw": AIMessage(content=text, usage_metadata=counts, response_metadata={"finish_reason": "length"}), "parsed": None}


def _block_text(block: Any) -> str:
    if not isinstance(block, dict):
        return str(block)
    return str(block.get("refusal", "")) if block.get("type") == "refusal" else str(block.get("text", ""))


def _refusal(message: Any) -> str:
    """What the provider said when it declined (OpenAI's ``refusal``), or ""."""
    return str((getattr(message, "additional_kwargs", None) or {}).get("refusal") or "")


def _message_text(message: Any) -> str:
    """The answer's text; a refusal (OpenAI puts it beside an empty content) is what the model said."""
    if message is None:
        return ""
    content = getattr(message, "content", "")
    text = content if isinstance(content, str) else "".join(_block_text(b) for b in content)
    return text or _refusal(message)


# the providers' words for why an answer ended, in the workbench's (length: cut off at max_tokens)
_REASONS = {
    "stop": "stop", "end_turn": "stop", "stop_sequence": "stop", "eos": "stop",
    "length": "length", "max_tokens": "length",
    "refusal": "refusal", "content_filter": "content_filter", "safety": "content_filter",
}


def _finish_reason(message: Any) -> str:
    """Why the answer ended, whichever provider answered: OpenAI's ``finish_reason``, Anthropic's ``stop_reason``,
    Ollama's ``done_reason``, Gemini's upper-case reasons; ``refusal`` when the provider declined."""
    if _refusal(message):
        return "refusal"
    meta = getattr(message, "response_metadata", None) or {}
    reason = str(next((meta[k] for k in ("finish_reason", "stop_reason", "done_reason") if meta.get(k)), "stop")).lower()
    return _REASONS.get(reason, reason)


class LangChainEmbedder:
    """Any LangChain embeddings model. Token counts (for the token chunker) use the local MiniLM tokenizer. A rate
    limit, server error or timeout is retried up to ``retries`` times. With ``queries`` it embeds search queries,
    each through the model's ``embed_query`` (Google's RETRIEVAL_QUERY task), and its identity says so: their vectors
    are not a document's."""

    def __init__(self, model_id: str, embeddings: Any, *, identity: str | None = None, retries: int = 0,
                 refusal: RefusalAdvice | None = None, queries: bool = False) -> None:
        self.model_id = model_id
        self.identity = (identity or model_id) + ("|query" if queries else "")
        self._refusal = refusal
        self.retries = retries
        self._embeddings = embeddings
        self._queries = queries

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        def call() -> list[list[float]]:
            try:
                if self._queries:
                    return [self._embeddings.embed_query(text) for text in texts]
                return self._embeddings.embed_documents(list(texts))  # type: ignore[no-any-return]
            except Exception as exc:
                if _overflowed(exc):  # the texts are sent whole (EMBEDDING_OPTIONS): a chunk the model cannot read is refused
                    raise ModelError(f"{self.model_id}: a text is longer than the embedding model reads ({type(exc).__name__}: {exc}) "
                                     "— use a smaller chunk size (or shorten the question)") from exc
                refused = _refused(exc, self.model_id, self._refusal)
                if refused is None:
                    raise
                raise refused from exc

        vectors, _ = call_with_retries(call, retries=self.retries)
        return vectors

    @property
    def tokenizer(self) -> Any:
        from workbench.models._local import MiniLMEmbedder

        return MiniLMEmbedder().tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))
