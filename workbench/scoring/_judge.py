"""Judge models: ask a model a question and get back JSON that conforms to a JSON schema.

llama.cpp judges (``local:gemma3-270m``, ``llamacpp:/path.gguf``) decode under the schema (a grammar built from it),
so every call that finishes yields parseable JSON; hosted judges (``openai:...``, ``ollama:...``) go through
LangChain's ``with_structured_output``. Every reply is checked against the schema here, whatever the backend: an
unusable output is a reply with ``error`` set and the raw text kept, never an exception and never a guess.
"""

from __future__ import annotations

import ctypes
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from workbench.errors import ModelError
from workbench.metrics import JudgeUsage
from workbench.models import Price, check_model_id, default_kind, price_for
from workbench.models._types import ModelKind

__all__ = [
    "Judge",
    "JudgeReply",
    "JudgeUsage",
    "LangChainJudge",
    "LlamaCppJudge",
    "check_reply",
    "load_judge",
]

# Where a base model running unconstrained tends to continue after its answer to a ragas-style prompt.
_UNCONSTRAINED_STOPS = ("\n-----", "\nNow perform", "\nExample", "\ninput:", "\nInput:")


@dataclass(frozen=True)
class JudgeReply:
    """One judge call.

    Attributes:
        value: the parsed JSON, conforming to the schema asked for; None when the output was unusable.
        raw: the model's text, as returned (kept for error rows).
        input_tokens: prompt tokens.
        output_tokens: generated tokens.
        latency_s: wall time of the call.
        error: why the output is unusable (not JSON, not matching the schema, cut off, timed out); None when fine.
        finish_reason: ``stop``, ``length`` (max_tokens reached), ``deadline`` (timeout) or the provider's reason.
        cost_usd: the call's cost, None when the judge's price is unknown.
    """

    value: Any
    raw: str
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    error: str | None = None
    finish_reason: str = "stop"
    cost_usd: float | None = 0.0

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


def _first_json(raw: str) -> Any:
    """The JSON value in ``raw``: the whole text, else the value starting at its first ``{`` (or ``[``) — a model
    may wrap JSON in prose or a code fence. Objects nested in a broken outer one are not tried. Raw control
    characters inside strings are accepted (llama-cpp-python's JSON grammar lets a model write a bare newline there)."""
    text = raw.strip()
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder(strict=False)
    starts = sorted(i for i in (text.find("{"), text.find("[")) if i >= 0)
    for start in starts:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        return value
    raise ValueError("no JSON value in the output")


@lru_cache(maxsize=64)
def _validator(schema_json: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(schema_json))


def check_reply(raw: str, schema: Mapping[str, Any], *, finish_reason: str = "stop") -> tuple[Any, str | None]:
    """Parse a judge's text and check it against ``schema``.

    Returns:
        ``(value, None)`` for a conforming output, else ``(None, reason)`` with a one-line reason.
    """
    cut = {"length": "cut off at max_tokens — raise judge.max_tokens", "deadline": "cut off by the timeout — raise judge.timeout_s"}
    if finish_reason in cut:
        try:
            json.loads(raw, strict=False)
        except json.JSONDecodeError:
            return None, f"judge output is incomplete JSON ({cut[finish_reason]})"
    try:
        value = _first_json(raw)
    except ValueError:
        return None, "judge output is not JSON"
    errors = sorted(_validator(json.dumps(schema, sort_keys=True)).iter_errors(value), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        return None, f"judge output does not match the schema at {where}: {err.message[:200]}"
    return value, None


def _reply(raw: str, schema: Mapping[str, Any], *, input_tokens: int, output_tokens: int, latency_s: float,
           finish_reason: str, price: Price | None) -> JudgeReply:
    value, error = check_reply(raw, schema, finish_reason=finish_reason)
    cost = price.cost(input_tokens, output_tokens) if price is not None else None
    return JudgeReply(value, raw, input_tokens, output_tokens, latency_s, error, finish_reason, cost)


# -- llama.cpp ---------------------------------------------------------------------------------------------------------


def bounded_schema(schema: Mapping[str, Any], *, max_items: int, max_length: int) -> dict[str, Any]:
    """``schema`` with every array capped at ``max_items`` and every string at ``max_length`` characters (unless it
    sets its own caps). A small model decoding under a grammar repeats list items until the grammar lets it stop;
    the caps make a complete answer fit in max_tokens."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            if node.get("type") == "array":
                out.setdefault("maxItems", max_items)
            elif node.get("type") == "string" and "enum" not in node:
                out.setdefault("maxLength", max_length)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(dict(schema))  # type: ignore[no-any-return]


@lru_cache(maxsize=32)
def _grammar(schema_json: str) -> Any:
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema_json, verbose=False)


class _GrammarFilter:
    """A logits processor that constrains decoding to a llama.cpp grammar, checking the model's favourite token first.

    llama-cpp-python's own ``grammar=`` runs the grammar over the whole vocabulary at every step (262k tokens for
    Gemma 3), which made constrained decoding 2-4x slower per token here. Like llama.cpp's common sampler, this
    checks the greedy (or sampled) choice alone, then the top ``top`` candidates, and only then the whole vocabulary;
    the chosen token is the same as with the full check (the best-scoring token the grammar allows).
    """

    def __init__(self, llama: Any, grammar: Any, *, temperature: float = 0.0, seed: int = 0, top: int = 64) -> None:
        import llama_cpp
        import numpy as np

        self._lib = llama_cpp
        self._np = np
        self._vocab = llama._model.vocab
        self._sampler = llama_cpp.llama_sampler_init_grammar(self._vocab, grammar._grammar.encode(), grammar._root.encode())
        self._dtype = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)
        self._all = np.arange(llama.n_vocab(), dtype=np.intc)
        self._top = top
        self._temperature = temperature
        self._rng = np.random.default_rng(seed)

    def close(self) -> None:
        if self._sampler is not None:
            self._lib.llama_sampler_free(self._sampler)
            self._sampler = None

    def _allowed(self, ids: Any, logits: Any) -> Any:
        """The logits of ``ids`` with the tokens the grammar forbids at this point set to -inf."""
        arr = self._np.zeros(len(ids), dtype=self._dtype)
        arr["id"] = ids
        arr["logit"] = logits
        cur = self._lib.llama_token_data_array(data=arr.ctypes.data_as(self._lib.llama_token_data_p), size=len(ids), selected=-1, sorted=False)
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(cur))
        return arr["logit"]

    def _pick(self, logits: Any) -> int:
        """Greedy at temperature 0, else a draw among the 40 best tokens (llama.cpp's default top-k)."""
        np = self._np
        if self._temperature <= 0:
            return int(np.argmax(logits))
        finite = int(np.isfinite(logits).sum())
        if finite <= 1:
            return int(np.argmax(logits))
        top = np.argpartition(logits, -min(40, finite))[-min(40, finite) :]
        z = logits[top] / self._temperature
        probs = np.exp(z - z.max())
        return int(top[self._rng.choice(len(top), p=probs / probs.sum())])

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        np = self._np
        token = self._pick(scores)
        if not np.isfinite(self._allowed(np.array([token], dtype=np.intc), scores[[token]])[0]):
            candidates = np.argpartition(scores, -self._top)[-self._top :].astype(np.intc)
            allowed = self._allowed(candidates, scores[candidates])
            if np.isfinite(allowed).any():
                token = int(candidates[self._pick(allowed)])
            else:
                token = self._pick(self._allowed(self._all, scores))
        if not self._lib.llama_vocab_is_eog(self._vocab, token):
            self._lib.llama_sampler_accept(self._sampler, token)
        out = np.full_like(scores, -np.inf)
        out[token] = scores[token]
        return out


class LlamaCppJudge:
    """A GGUF model run by llama.cpp as a judge.

    With ``constrained`` (the default) decoding follows a grammar built from the schema, so the output is JSON of
    the right shape unless ``max_tokens`` or the timeout cuts it off. The ``Llama`` object and its lock are the ones
    the generator uses (same file, ``n_ctx`` and seed), so a judge and a generator never run on it at once. The
    grammar caps lists at ``max_items`` and strings at ``max_length`` characters so that an answer fits max_tokens;
    replies are checked against the schema as asked.
    """

    def __init__(
        self,
        model_id: str,
        path: Path,
        *,
        kind: ModelKind = "completion",
        n_ctx: int = 2048,
        max_tokens: int = 256,
        timeout_s: float | None = 60.0,
        temperature: float = 0.0,
        seed: int = 0,
        constrained: bool = True,
        price: Price | None = None,
        max_items: int = 4,
        max_length: int = 160,
    ) -> None:
        self.model_id = model_id
        self.path = path
        self.kind: ModelKind = kind
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.temperature = temperature
        self.seed = seed
        self.constrained = constrained
        self.price = price if price is not None else price_for(model_id)
        self.max_items = max_items
        self.max_length = max_length

    def ask(self, prompt: str, schema: Mapping[str, Any], *, repeat: int = 0) -> JudgeReply:
        from llama_cpp import LogitsProcessorList, StoppingCriteriaList

        from workbench.models._local import _fit, _llama

        llama, lock = _llama(str(self.path), self.n_ctx, self.seed)
        schema_json = json.dumps(bounded_schema(schema, max_items=self.max_items, max_length=self.max_length), sort_keys=True)
        hit_deadline = False
        deadline = None

        def past_deadline(_ids: Any, _logits: Any) -> bool:
            nonlocal hit_deadline
            hit_deadline = deadline is not None and time.monotonic() > deadline
            return hit_deadline

        common: dict[str, Any] = dict(
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            seed=self.seed + repeat,
            stopping_criteria=StoppingCriteriaList([past_deadline]),
        )
        with lock:
            deadline = time.monotonic() + self.timeout_s if self.timeout_s else None
            start = time.perf_counter()
            grammar = _GrammarFilter(llama, _grammar(schema_json), temperature=self.temperature, seed=self.seed + repeat) if self.constrained else None
            if grammar is not None:
                common["logits_processor"] = LogitsProcessorList([grammar])
            try:
                if self.kind == "completion":
                    text_in = _fit(llama, prompt, self.n_ctx - self.max_tokens)
                    stop = None if self.constrained else list(_UNCONSTRAINED_STOPS)
                    out = llama.create_completion(text_in, stop=stop, **common)
                    text = out["choices"][0]["text"]
                else:
                    out = llama.create_chat_completion([{"role": "user", "content": prompt}], **common)
                    text = out["choices"][0]["message"]["content"] or ""
            finally:
                if grammar is not None:
                    grammar.close()
            latency = time.perf_counter() - start
        usage = out.get("usage") or {}
        reason = "deadline" if hit_deadline else (out["choices"][0].get("finish_reason") or "stop")
        return _reply(
            text, schema, input_tokens=int(usage.get("prompt_tokens", 0)), output_tokens=int(usage.get("completion_tokens", 0)),
            latency_s=latency, finish_reason=reason, price=self.price,
        )


# -- LangChain (hosted providers, ollama) ------------------------------------------------------------------------------


class LangChainJudge:
    """Any LangChain chat model as a judge, through ``with_structured_output(schema, include_raw=True)``."""

    kind: ModelKind = "chat"

    def __init__(self, model_id: str, chat_model: Any, *, price: Price | None = None) -> None:
        self.model_id = model_id
        self._model = chat_model
        self.price = price if price is not None else price_for(model_id)

    def ask(self, prompt: str, schema: Mapping[str, Any], *, repeat: int = 0) -> JudgeReply:
        structured = self._model.with_structured_output(dict(schema), include_raw=True)
        start = time.perf_counter()
        try:
            out = structured.invoke(prompt, config={"callbacks": []})
        except Exception as exc:  # noqa: BLE001 - a provider error (network, rate limit, refusal) is an error reply at this edge
            return JudgeReply(None, "", latency_s=time.perf_counter() - start, error=f"judge call failed: {type(exc).__name__}: {exc}"[:500],
                              finish_reason="error", cost_usd=0.0 if self.price is not None else None)
        latency = time.perf_counter() - start
        message = out.get("raw")
        usage = getattr(message, "usage_metadata", None) or {}
        parsed = out.get("parsed")
        raw = json.dumps(parsed) if parsed is not None else _message_text(message)
        reason = str((getattr(message, "response_metadata", None) or {}).get("finish_reason", "stop"))
        return _reply(
            raw, schema, input_tokens=int(usage.get("input_tokens", 0)), output_tokens=int(usage.get("output_tokens", 0)),
            latency_s=latency, finish_reason=reason, price=self.price,
        )


def _message_text(message: Any) -> str:
    if message is None:
        return ""
    calls = getattr(message, "tool_calls", None) or []
    if calls:
        return json.dumps(calls[0].get("args", {}))
    content = getattr(message, "content", "")
    return content if isinstance(content, str) else "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)


def _chat_model(model_id: str, *, max_tokens: int, timeout_s: float | None, temperature: float) -> Any:
    from workbench.models._registry import _require_provider

    provider = _require_provider(model_id)  # ModelError naming the missing package or key
    from langchain.chat_models import init_chat_model

    if provider == "ollama":
        options: dict[str, Any] = {"num_predict": max_tokens, "client_kwargs": {"timeout": timeout_s}}
    else:
        options = {"max_tokens": max_tokens, "timeout": timeout_s}
    return init_chat_model(model_id, temperature=temperature, **options)


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
) -> Judge:
    """Build the judge for a model string (``local:gemma3-270m``, ``llamacpp:/m.gguf``, ``openai:gpt-4o-mini``...).

    Args:
        model_id: a ``provider:model`` string, as for generators.
        kind: ``completion`` or ``chat`` (default: completion for llama.cpp models, chat for the rest).
        max_tokens: bound on each judge answer.
        timeout_s: per-call time limit (a llama.cpp call is cut off; a hosted call times out).
        temperature: sampling temperature (0: deterministic; repeats then agree).
        seed: base seed; a llama.cpp judge shares the generator's model object when this equals the spec's seed.
        constrained: llama.cpp only: decode under the schema (turn off only to measure what it buys).
        price: overrides the price list (cost is None when the price is unknown).

    Raises:
        ModelError: the model string is malformed, the GGUF file is missing, or a provider package or API key is.
    """
    check_model_id(model_id)
    provider, _, name = model_id.partition(":")
    price = price if price is not None else price_for(model_id)
    resolved: ModelKind = kind or default_kind(model_id)
    if provider in ("local", "llamacpp"):
        from workbench.models import load_generator
        from workbench.models._local import LlamaCppGenerator

        generator = load_generator(model_id, kind=resolved)
        if not isinstance(generator, LlamaCppGenerator):
            raise ModelError(f"judge '{model_id}' is not a llama.cpp model")
        return LlamaCppJudge(
            model_id, generator.path, kind=resolved, n_ctx=generator.n_ctx, max_tokens=max_tokens, timeout_s=timeout_s,
            temperature=temperature, seed=seed, constrained=constrained, price=price,
        )
    if resolved == "completion":
        raise ModelError(f"judge '{model_id}': hosted providers are served as chat models; set kind: chat")
    return LangChainJudge(model_id, _chat_model(model_id, max_tokens=max_tokens, timeout_s=timeout_s, temperature=temperature), price=price)
