"""USD per 1M input/output tokens. Local models cost nothing; a spec's ``pricing`` overrides these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from workbench.models._types import Generation


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens. ``cached_input_per_m``: the price of input tokens the provider read from its prompt cache
    (OpenAI's and Anthropic's cache reads; None: the input price)."""

    input_per_m: float
    output_per_m: float
    cached_input_per_m: float | None = None

    def cost(self, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> float:
        """What a call cost; ``cached_input_tokens`` are part of ``input_tokens``, priced at the cached-input price."""
        cached = min(cached_input_tokens, input_tokens)
        cached_per_m = self.input_per_m if self.cached_input_per_m is None else self.cached_input_per_m
        return ((input_tokens - cached) * self.input_per_m + cached * cached_per_m + output_tokens * self.output_per_m) / 1_000_000


FREE = Price(0.0, 0.0)


def cost_of(generation: Generation, price: Price | None) -> float | None:
    """What an answer cost, or None when the price is unknown or the provider reported no token counts (never 0)."""
    if price is None or not generation.usage_reported:
        return None
    return price.cost(generation.input_tokens, generation.output_tokens, generation.cached_input_tokens)

# List prices (USD / 1M tokens: input, output, cached input) of common hosted models as of late 2026; override in the
# spec when they change. OpenAI caches long prompts' shared beginnings by itself (a RAG prompt's instructions), and a
# cached token costs a fraction of an input token
DEFAULT_PRICES: Mapping[str, Price] = {
    "openai:gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "openai:gpt-4o": Price(2.50, 10.00, 1.25),
    "openai:gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "openai:gpt-4.1": Price(2.00, 8.00, 0.50),
    "anthropic:claude-3-5-haiku-latest": Price(0.80, 4.00, 0.08),
    "anthropic:claude-sonnet-4-5": Price(3.00, 15.00, 0.30),
}

_FREE_PROVIDERS = ("local", "llamacpp", "ollama", "testing")


def price_for(model_id: str, overrides: Mapping[str, Price] | None = None) -> Price | None:
    """The price of a model, or None when unknown (cost is then reported as missing, never as zero)."""
    if overrides and model_id in overrides:
        return overrides[model_id]
    if model_id.split(":", 1)[0] in _FREE_PROVIDERS:
        return FREE
    return DEFAULT_PRICES.get(model_id)
