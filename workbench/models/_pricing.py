"""USD per 1M input/output tokens. Local models cost nothing; a spec's ``pricing`` overrides these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from workbench.models._types import Generation


@dataclass(frozen=True)
class Price:
    input_per_m: float
    output_per_m: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_m + output_tokens * self.output_per_m) / 1_000_000


FREE = Price(0.0, 0.0)


def cost_of(generation: Generation, price: Price | None) -> float | None:
    """What an answer cost, or None when the price is unknown or the provider reported no token counts (never 0)."""
    if price is None or not generation.usage_reported:
        return None
    return price.cost(generation.input_tokens, generation.output_tokens)

# List prices (USD / 1M tokens) of common hosted models as of late 2026; override in the spec when they change.
DEFAULT_PRICES: Mapping[str, Price] = {
    "openai:gpt-4o-mini": Price(0.15, 0.60),
    "openai:gpt-4o": Price(2.50, 10.00),
    "openai:gpt-4.1-mini": Price(0.40, 1.60),
    "openai:gpt-4.1": Price(2.00, 8.00),
    "anthropic:claude-3-5-haiku-latest": Price(0.80, 4.00),
    "anthropic:claude-sonnet-4-5": Price(3.00, 15.00),
}

_FREE_PROVIDERS = ("local", "llamacpp", "ollama", "testing")


def price_for(model_id: str, overrides: Mapping[str, Price] | None = None) -> Price | None:
    """The price of a model, or None when unknown (cost is then reported as missing, never as zero)."""
    if overrides and model_id in overrides:
        return overrides[model_id]
    if model_id.split(":", 1)[0] in _FREE_PROVIDERS:
        return FREE
    return DEFAULT_PRICES.get(model_id)
