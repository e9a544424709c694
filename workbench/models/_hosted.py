"""Hosted and external models through LangChain provider strings (``openai:gpt-4o-mini``, ``ollama:llama3.2``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from workbench.models._types import Generation, GenerationParams, ModelKind
from workbench.prompts import RenderedPrompt


class LangChainChatGenerator:
    """Any LangChain chat model; tokens come from the response's ``usage_metadata``."""

    kind: ModelKind = "chat"

    def __init__(self, model_id: str, chat_model: Any) -> None:
        self.model_id = model_id
        self._model = chat_model

    def generate(self, prompt: RenderedPrompt, params: GenerationParams, *, deadline: float | None = None) -> Generation:
        timeout = params.timeout_s
        if deadline is not None:
            remaining = max(deadline - time.monotonic(), 0.001)
            timeout = min(timeout, remaining) if timeout else remaining
        bound = self._model.bind(stop=list(params.stop)) if params.stop else self._model
        start = time.perf_counter()
        message = bound.invoke(list(prompt.messages), config={"callbacks": []}, timeout=timeout)
        latency = time.perf_counter() - start
        usage = getattr(message, "usage_metadata", None) or {}
        content = message.content if isinstance(message.content, str) else _text_of(message.content)
        return Generation(
            text=content.strip(),
            input_tokens=int(usage.get("input_tokens", 0)),
            output_tokens=int(usage.get("output_tokens", 0)),
            latency_s=latency,
            finish_reason=str((getattr(message, "response_metadata", None) or {}).get("finish_reason", "stop")),
        )


def _text_of(blocks: list[Any]) -> str:
    return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in blocks)


class LangChainEmbedder:
    """Any LangChain embeddings model. Token counts (for the token chunker) use the local MiniLM tokenizer."""

    def __init__(self, model_id: str, embeddings: Any) -> None:
        self.model_id = model_id
        self._embeddings = embeddings

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self._embeddings.embed_documents(list(texts)) if texts else []

    @property
    def tokenizer(self) -> Any:
        from workbench.models._local import MiniLMEmbedder

        return MiniLMEmbedder().tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))
