"""Models behind the cache: a generator and an embedder that answer from the store when they can.

A key holds everything that determines the result, so a changed prompt, retrieved context, decoding parameter, seed,
JSON schema or model file is a different key (a miss), and the same inputs are never computed twice — across variants,
sweeps, processes and crashes. A cached answer keeps the latency and token counts of the call that computed it, so
the metrics of a re-run equal those of the run that paid for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workbench.cache._claims import claimed
from workbench.cache._store import CacheStore, Kind
from workbench.models import Embedder, Generation, GenerationParams, Generator, ModelKind
from workbench.prompts import RenderedPrompt

__all__ = ["CachedEmbedder", "CachedGenerator", "embedding_key", "generation_key"]

# Answers cut short by the caller's time limit are not what the model would answer; they are never cached.
_UNCACHEABLE = frozenset({"deadline", "error"})


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def generation_key(
    identity: str, kind: ModelKind, prompt: RenderedPrompt, params: GenerationParams, json_schema: Mapping[str, Any] | None = None
) -> str:
    """The content address of one model call (pure).

    Args:
        identity: what the model is (provider string, or a GGUF file's sha256 and context size).
        kind: completion (the prompt text is the input) or chat (the messages are).
        prompt: the exact rendered input (for a completion model, with its template's turn stops).
        params: temperature, max_tokens, stop strings, seed and the sampler settings set (a judge's repeat index is folded into its seed, so
            repeats are distinct keys). The timeout is not part of the key: it decides only whether a call finishes.
        json_schema: the output schema asked for (judge calls), or None.
    """
    return _digest({
        "model": identity,
        "kind": kind,
        "input": prompt.text if kind == "completion" else [list(m) for m in prompt.messages],
        # where a completion answer that runs on into a next turn of its template ends (only when the template has one,
        # so the keys of the answers it does not change stay as they were)
        **({"turn_stops": list(prompt.stops)} if prompt.stops and kind == "completion" else {}),
        # the sampler settings set (top_p...) beside them: a call that sets none has the key it had before they were passed
        "params": {"temperature": params.temperature, "max_tokens": params.max_tokens, "stop": list(params.stop), "seed": params.seed,
                   **dict(params.sampler)},
        "schema": json_schema,
    })


def embedding_key(identity: str, text: str) -> str:
    """The content address of one text's embedding under one embedding model (pure)."""
    return _digest({"model": identity, "text": text})


class CachedGenerator:
    """A ``Generator`` that answers from the cache and stores what it computes.

    Model answers and judge replies (calls with a ``json_schema``) are kept apart. ``Generation.cached`` says which
    answers came from the store; ``calls`` counts the calls that reached the model.

    Args:
        inner: the real generator.
        store: the cache store.
        identity: the model's identity (``Generator.identity``).
        read: False to recompute (``--fresh``) while still storing the new answers.
        claims: a folder shared by every process answering into ``store`` (``store.claims_dir``: every sweep using
            the cache): a missed key is claimed there (a file lock) while it is computed, so another variant or sweep
            asking the same question meanwhile waits and reads the answer instead of computing it too. None: no claims.
    """

    def __init__(self, inner: Generator, store: CacheStore, *, identity: str, read: bool = True, claims: str | None = None) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.kind: ModelKind = inner.kind
        self.identity = identity
        self._store = store
        self._read = read
        self._claims = claims
        self.calls = 0

    def generate(
        self,
        prompt: RenderedPrompt,
        params: GenerationParams,
        *,
        deadline: float | None = None,
        json_schema: Mapping[str, Any] | None = None,
    ) -> Generation:
        kind: Kind = "judge" if json_schema is not None else "generation"
        key = generation_key(self.identity, self.kind, prompt, params, json_schema)
        if self._claims is None or not self._read:
            hit = self._hit(kind, key)
            return hit if hit is not None else self._compute(kind, key, prompt, params, deadline, json_schema)
        # read once, under the claim (a second read after a first miss counted each computed answer as two misses)
        with claimed(Path(self._claims) / f"{kind}-{key}.claim", deadline):
            hit = self._hit(kind, key)  # maybe computed meanwhile by the worker that held the claim
            return hit if hit is not None else self._compute(kind, key, prompt, params, deadline, json_schema)

    def _hit(self, kind: Kind, key: str) -> Generation | None:
        hit = self._store.get(kind, key) if self._read else None
        if hit is None:
            return None
        return Generation(
            text=hit["text"], input_tokens=int(hit["input_tokens"]), output_tokens=int(hit["output_tokens"]),
            latency_s=float(hit["latency_s"]), finish_reason=str(hit["finish_reason"]), cached=True,
            usage_reported=bool(hit.get("usage_reported", True)), prompt_tokens_cut=int(hit.get("prompt_tokens_cut", 0)),
            cached_input_tokens=int(hit.get("cached_input_tokens", 0)),
        )

    def _compute(
        self, kind: Kind, key: str, prompt: RenderedPrompt, params: GenerationParams, deadline: float | None,
        json_schema: Mapping[str, Any] | None,
    ) -> Generation:
        self.calls += 1
        generation = self.inner.generate(prompt, params, deadline=deadline, json_schema=json_schema)
        if generation.finish_reason not in _UNCACHEABLE:
            value = asdict(generation)
            value.pop("cached", None)
            self._store.put(kind, key, value)
        return generation


class CachedEmbedder:
    """An ``Embedder`` that embeds each distinct text once per model, ever: vectors are read from the store first.

    Args:
        inner: the real embedder (loaded only when a text is not in the store).
        store: the cache store.
        identity: the embedding model's identity (model id and implementation, so a fake never shares real vectors).
        read: False to recompute while still storing.
    """

    def __init__(self, inner: Embedder, store: CacheStore, *, identity: str, read: bool = True) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.identity = identity
        self._store = store
        self._read = read
        self._memo: dict[str, list[float]] = {}
        self.computed = 0

    @property
    def tokenizer(self) -> Any:
        return self.inner.tokenizer

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        missing = []
        for text in dict.fromkeys(texts):
            if text in self._memo:
                continue
            hit = self._store.get("embedding", embedding_key(self.identity, text)) if self._read else None
            if hit is not None:
                self._memo[text] = list(hit["vector"])
            else:
                missing.append(text)
        if missing:
            vectors = self.inner.embed(missing)
            self.computed += len(missing)
            for text, vector in zip(missing, vectors):
                self._memo[text] = list(vector)
                self._store.put("embedding", embedding_key(self.identity, text), {"vector": list(vector)})
        return [self._memo[t] for t in texts]
