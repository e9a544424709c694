"""Judge models: ask a model a question and get back JSON that conforms to a JSON schema.

A judge is any ``Generator`` asked for JSON (``generate(..., json_schema=...)``): the model owns the decoding
(llama.cpp models decode under a grammar built from the schema, so every call that finishes yields parseable JSON;
hosted models use their provider's structured output). Every reply is checked against the schema here, whatever the
backend: an unusable output is a reply with ``error`` set and the raw text kept, never an exception and never a guess.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from workbench.errors import ModelError, shortened
from workbench.metrics import JudgeUsage
from workbench.models import (
    CONTEXT_ADVICE,
    DEFAULT_CONTEXT_WINDOW,
    GenerationParams,
    Generator,
    ModelKind,
    Price,
    RetriesExhausted,
    WindowExceeded,
    load_generator,
    price_for,
    runs_locally,
    trained_context,
    window_advice,
)
from workbench.prompts import RenderedPrompt

__all__ = [
    "Judge",
    "JudgeReply",
    "JudgeUsage",
    "ModelJudge",
    "check_reply",
    "load_judge",
]

# Where a base model running unconstrained tends to continue after its answer to a ragas-style prompt.
_UNCONSTRAINED_STOPS = ("\n-----", "\nNow perform", "\nExample", "\ninput:", "\nInput:")
_OPENERS = re.compile(r"[{[]")
_NON_FINITE = re.compile(r"(?<![\w\"])-?(?:NaN|Infinity)(?![\w\"])")


def _not_a_number(name: str) -> Any:
    """Python's json reads NaN and Infinity, which JSON has not: a {"score": NaN} passed every range check of a schema
    (NaN compares false with any bound) and reached the scorer as a number."""
    raise ValueError(f"{name} is not a JSON number")


@dataclass(frozen=True)
class JudgeReply:
    """One judge call.

    Attributes:
        value: the parsed JSON, conforming to the schema asked for; None when the output was unusable.
        raw: the model's text, as returned (kept for error rows).
        input_tokens: prompt tokens; None when the judge's server sent no token counts (unknown, not 0).
        output_tokens: generated tokens; None likewise.
        latency_s: wall time of the call.
        error: why the output is unusable (not JSON, not matching the schema, cut off, timed out); None when fine.
        finish_reason: ``stop``, ``length`` (max_tokens reached), ``context_window`` (a llama.cpp judge's answer ended
            where its context window did, before max_tokens, or its prompt did not fit the window), ``deadline`` (timeout) or the provider's reason.
        cost_usd: the call's cost, None when the judge's price is unknown.
        cached: the reply was read from the cache (nothing was spent on it now).
        retries: failed attempts of a hosted call retried before this reply (rate limits, server errors, timeouts),
            those of a call that failed in the end included.
    """

    value: Any
    raw: str
    input_tokens: int | None = 0
    output_tokens: int | None = 0
    latency_s: float = 0.0
    error: str | None = None
    finish_reason: str = "stop"
    cost_usd: float | None = 0.0
    cached: bool = False
    retries: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@runtime_checkable
class Judge(Protocol):
    """A model that answers a prompt with JSON conforming to ``schema``.

    ``ask`` never raises for a bad model output: it returns a reply with ``error`` set and the raw text.
    ``repeat`` is the index of a repeated judgement of the same item: a sampling judge varies its seed with it, so
    repeats differ and stay reproducible.
    """

    model_id: str

    def ask(self, prompt: str, schema: Mapping[str, Any], *, repeat: int = 0) -> JudgeReply:
        """Ask ``prompt``; the answer must be JSON conforming to the JSON schema ``schema``."""
        ...


# -- checking replies (pure) -----------------------------------------------------------------------------------------


def _json_values(raw: str) -> Iterator[Any]:
    """The JSON values in ``raw``, in order: the whole text, else every value starting at a ``{`` or ``[`` that is
    not inside one found before — a model may wrap JSON in prose or a code fence, or write a ``[1]`` before it.
    Raw control characters inside strings are accepted (llama-cpp-python's JSON grammar lets a model write a bare
    newline there); NaN and Infinity are not (no JSON value holds them)."""
    text = raw.strip()
    try:
        yield json.loads(text, strict=False, parse_constant=_not_a_number)
        return
    # json.JSONDecodeError, NaN / Infinity, or brackets nested deeper than the decoder follows ('[[[[...' a judge wrote,
    # told to by a planted instruction, raised RecursionError out of the scorer: a reply that is no JSON is an error reply)
    except (ValueError, RecursionError):
        pass
    decoder = json.JSONDecoder(strict=False, parse_constant=_not_a_number)
    end = 0
    for opener in _OPENERS.finditer(text):
        if opener.start() < end:
            continue
        try:
            value, end = decoder.raw_decode(text, opener.start())
        except (ValueError, RecursionError):
            continue
        yield value


@lru_cache(maxsize=64)
def _validator(schema_json: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(schema_json))


def check_reply(raw: str, schema: Mapping[str, Any], *, finish_reason: str = "stop", context_advice: str = CONTEXT_ADVICE) -> tuple[Any, str | None]:
    """Parse a judge's text and check it against ``schema``; ``context_advice``: what to do about a reply cut where the
    judge's context window ended (a llama.cpp judge's names judge.context_window when its model reads more).

    Returns:
        ``(value, None)`` for a conforming output, else ``(None, reason)`` with a one-line reason.
    """
    if finish_reason in ("refusal", "content_filter"):
        said = " ".join(raw.split())[:200]
        return None, f"judge declined ({finish_reason}){f': {said}' if said else ''}"
    value, error = _conforming(raw, schema)
    cut = {"length": "cut off at max_tokens — raise judge.max_tokens", "deadline": "cut off by the timeout — raise judge.timeout_s",
           "context_window": f"cut off where the judge's context window ended, before its max_tokens — {context_advice}"}
    if error is not None and finish_reason in cut and not _parses(raw):
        return None, f"judge output is incomplete JSON ({cut[finish_reason]})"
    return value, error


def _parses(raw: str) -> bool:
    try:
        json.loads(raw, strict=False)
    except (json.JSONDecodeError, RecursionError):
        return False
    return True


def _conforming(raw: str, schema: Mapping[str, Any]) -> tuple[Any, str | None]:
    """The first JSON value in ``raw`` that conforms to ``schema`` (an object nested in a cut-off one has another
    shape), else why none does: the mismatch of the first value of the schema's type, or that there is no JSON."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    mismatches = []  # (whether the value is of another type altogether, why it does not conform)
    for value in _json_values(raw):
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if not errors:
            return value, None
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        other_type = err.validator == "type" and not err.absolute_path
        mismatches.append((other_type, f"judge output does not match the schema at {where}: {err.message[:200]}"))
    if not mismatches:
        constant = _NON_FINITE.search(raw)
        return None, "judge output is not JSON" + (f" ({constant.group()} is not a JSON number)" if constant else "")
    return None, min(mismatches, key=lambda m: m[0])[1]


def _reply(raw: str, schema: Mapping[str, Any], *, input_tokens: int | None, output_tokens: int | None, latency_s: float,
           finish_reason: str, price: Price | None, cached: bool = False, retries: int = 0, cached_input_tokens: int = 0,
           context_advice: str = CONTEXT_ADVICE) -> JudgeReply:
    value, error = check_reply(raw, schema, finish_reason=finish_reason, context_advice=context_advice)
    cost = price.cost(input_tokens, output_tokens, cached_input_tokens) if price is not None and input_tokens is not None and output_tokens is not None else None
    return JudgeReply(value, raw, input_tokens, output_tokens, latency_s, error, finish_reason, cost, cached, retries)


# -- any generator as a judge -----------------------------------------------------------------------------------------


class ModelJudge:
    """Any generator as a judge: the prompt goes to ``generate(..., json_schema=schema)`` and the text that comes
    back is checked against the schema (``check_reply``). A bad output or a provider error is a reply with ``error``
    set, never an exception.

    Args:
        generator: the model (``workbench.models.load_generator``, or any ``Generator``).
        max_tokens: bound on each judge answer.
        timeout_s: time limit of one call, counted from when it is made (a llama.cpp model stops decoding at the
            deadline; a hosted call times out).
        temperature: sampling temperature (0: deterministic; repeats then agree).
        seed: base seed; repeat ``i`` of a judgement runs with ``seed + i``, so sampled repeats differ and stay
            reproducible.
        constrained: ask for JSON under the schema. False lets the model answer freely, stopped where a base model
            runs on past its answer, and takes the JSON from its text (only to measure what constraining buys).
        price: overrides the price list (cost is None when the price is unknown).
        retries: retries of a hosted call on a rate limit, server error or timeout, within ``timeout_s`` (the
            sweep's ``execution.retries``, as for the answering model).
        context_window: a llama.cpp judge's window, as its generator was loaded with (None: the default one), which
            the advice on a prompt longer than it names (an Ollama judge's num_ctx is its generator's).
    """

    def __init__(
        self,
        generator: Generator,
        *,
        max_tokens: int = 256,
        timeout_s: float | None = 60.0,
        temperature: float = 0.0,
        seed: int = 0,
        constrained: bool = True,
        price: Price | None = None,
        retries: int = 0,
        context_window: int | None = None,
    ) -> None:
        self.generator = generator
        self.context_window = context_window
        self.model_id = generator.model_id
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.temperature = temperature
        self.seed = seed
        self.constrained = constrained
        self.price = price if price is not None else price_for(generator.model_id)
        self.retries = retries

    def ask(self, prompt: str, schema: Mapping[str, Any], *, repeat: int = 0) -> JudgeReply:
        params = GenerationParams(
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            stop=() if self.constrained else _UNCONSTRAINED_STOPS,
            seed=self.seed + repeat,
            timeout_s=self.timeout_s,
            retries=self.retries,
        )
        rendered = RenderedPrompt(text=prompt, messages=(("human", prompt),))
        start = time.perf_counter()
        deadline = time.monotonic() + self.timeout_s if self.timeout_s else None
        try:
            out = self.generator.generate(rendered, params, deadline=deadline, json_schema=schema if self.constrained else None)
        except AssertionError:
            raise  # a test fake out of script (ScriptExhausted) stays loud
        except Exception as exc:  # noqa: BLE001 - a provider error (network, rate limit, refusal) is an error reply at this edge
            # a prompt past the judge's window (llama.cpp's chat refusal, a provider's context_length_exceeded) fails the
            # same way every time: no call error to ask again
            too_long = isinstance(exc, ModelError) and CONTEXT_ADVICE in str(exc)
            # llama.cpp's refusal names the setting to raise as an answering model's: here it is the judge's
            said = exc.advised("judge.context_window") if isinstance(exc, WindowExceeded) else str(exc)
            return JudgeReply(None, "", latency_s=time.perf_counter() - start,
                              error=shortened(f"judge prompt is longer than the judge's context window: {said}" if too_long
                                              else f"judge call failed: {_failure(exc)}"),
                              finish_reason="context_window" if too_long else "error", cost_usd=0.0 if self.price is not None else None,
                              retries=exc.retries if isinstance(exc, RetriesExhausted) else 0)
        # llama.cpp ends an answer where the context window ends, as 'length': raising max_tokens would not mend it
        window_ended = out.finish_reason == "length" and runs_locally(self.model_id) and out.output_tokens < self.max_tokens
        reply = _reply(
            # no counts from its server: its tokens unknown, not 0 (the fewest of any judge's), as an answer's are
            out.text, schema, input_tokens=out.input_tokens if out.usage_reported else None,
            output_tokens=out.output_tokens if out.usage_reported else None, latency_s=out.latency_s,
            finish_reason="context_window" if window_ended else out.finish_reason, price=self.price if out.usage_reported else None, cached=out.cached,  # no counts: cost unknown
            retries=out.retries, cached_input_tokens=out.cached_input_tokens,
            context_advice=self._window_advice() if window_ended else CONTEXT_ADVICE,
        )
        if out.prompt_tokens_cut:  # a completion judge kept the prompt's end: its verdict, of the right shape, answered no instruction
            return dataclasses.replace(reply, value=None, error=(
                f"judge prompt is longer than {self.model_id}'s context window: its first {out.prompt_tokens_cut} tokens, the "
                f"instructions among them, were never read — {self._window_advice()}, or use a judge with a larger context window"))
        return reply

    def _window_advice(self) -> str:
        """What to do about a prompt longer than this llama.cpp judge's window: judge.context_window first, when the
        model was trained for a longer one."""
        return window_advice(self.context_window or DEFAULT_CONTEXT_WINDOW, trained_context(self.model_id), "judge.context_window")


def _failure(exc: Exception) -> str:
    """A failed judge call's error: its type and text, the last failure's for a call retried in vain (whose text begins
    with that failure's type: "RetriesExhausted: APITimeoutError: ..." named a wrapper, for a call never retried)."""
    return str(exc) if isinstance(exc, RetriesExhausted) else f"{type(exc).__name__}: {exc}"


def load_judge(
    model_id: str,
    *,
    kind: ModelKind | None = None,
    max_tokens: int = 256,
    timeout_s: float | None = 60.0,
    temperature: float = 0.0,
    seed: int = 0,
    constrained: bool = True,
    price: Price | None = None,
    retries: int = 0,
    context_window: int | None = None,
) -> Judge:
    """Build the judge for a model string (``local:gemma3-270m``, ``llamacpp:/m.gguf``, ``openai:gpt-4o-mini``...).

    Args:
        model_id: a ``provider:model`` string, as for generators.
        kind: ``completion`` or ``chat`` (default: completion for llama.cpp models, chat for the rest).
        max_tokens: bound on each judge answer.
        timeout_s: per-call time limit (a llama.cpp call is cut off; a hosted call times out).
        temperature: sampling temperature (0: deterministic; repeats then agree).
        seed: base seed; repeat ``i`` uses ``seed + i``.
        constrained: ask the model for JSON under the schema (turn off only to measure what it buys).
        price: overrides the price list (cost is None when the price is unknown).
        retries: retries of a hosted call on a rate limit, server error or timeout.
        context_window: a llama.cpp judge's context window in tokens (None: 2048), for ragas's long prompts; an Ollama
            judge's, sent as its num_ctx (None: its server's).

    Raises:
        ModelError: the model string is malformed, the GGUF file is missing, or a provider package or API key is.
    """
    generator = load_generator(model_id, kind=kind, context_window=context_window)
    return ModelJudge(
        generator, max_tokens=max_tokens, timeout_s=timeout_s, temperature=temperature, seed=seed, constrained=constrained, price=price,
        retries=retries, context_window=context_window,
    )
