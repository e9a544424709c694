"""The judge model that scores answers (``JudgeSpec``), and the prices of models the registry does not know
(``PriceSpec``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from workbench.models import ModelKind, Price
from workbench.spec._base import _GENERATOR_PATTERN, _known_model, _servable_as, _Spec
from workbench.spec._models import ContextWindow, context_window_field, window_of


class PriceSpec(_Spec):
    """What a model costs, in USD per million tokens: input, output and (when the provider caches prompts) cached input."""

    input: float = Field(ge=0, description="USD per 1M input tokens")
    output: float = Field(ge=0, description="USD per 1M output tokens")
    cached_input: float | None = Field(
        default=None, ge=0, description="USD per 1M input tokens read from the provider's prompt cache (default: the input price)"
    )

    @property
    def price(self) -> Price:
        """This entry as ``cost_of`` takes it."""
        return Price(self.input, self.output, self.cached_input)

    @classmethod
    def of(cls, price: Price) -> PriceSpec:
        """The entry of ``price``, as a spec's ``pricing`` or a bundle's ``prices`` writes it."""
        return cls(input=price.input_per_m, output=price.output_per_m, cached_input=price.cached_input_per_m)


class JudgeSpec(_Spec):
    """The judge model of the LLM-judged scorers (ragas faithfulness, answer relevancy, context precision/recall).

    ``judge: local:gemma3-270m`` is short for ``judge: {id: local:gemma3-270m}``. llama.cpp judges decode under the
    output schema; every score is checked to lie in [0, 1]. Judge tokens and cost are reported apart (judge_*).
    """

    id: str = Field(description="provider:model of the judge, e.g. local:gemma3-270m or openai:gpt-4o-mini",
                    json_schema_extra={"pattern": _GENERATOR_PATTERN})
    kind: ModelKind | None = Field(default=None, description="completion or chat (default: what the model is)")
    n: int = Field(default=1, ge=1, le=20, description="judge repeats per item; their spread is reported as <scorer>_std")
    max_tokens: int = Field(default=256, ge=16, le=8192, description="bound on each judge answer")
    timeout_s: float = Field(default=60.0, gt=0, description="time limit of one judge call")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0: deterministic (repeats then agree)")
    cache: bool = Field(default=True, description="reuse cached judge replies and finished runs; false: always call the judge")
    # ragas's prompts hold the question, the retrieved chunks and the answer: context recall's, with three chunks of
    # 1000 characters, is about 2000 tokens, past what the default window leaves beside the judge's reply
    context_window: ContextWindow = context_window_field("a llama.cpp judge's")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"id": data} if isinstance(data, str) else data

    @field_validator("id")
    @classmethod
    def _known(cls, value: str) -> str:
        return _known_model(value, "generator")

    @model_validator(mode="after")
    def _kind_fits(self) -> JudgeSpec:
        _servable_as(self.id, self.kind)
        return self

    @property
    def canonical(self) -> JudgeSpec:
        """This judge with its default window written out read as unset: two judges equal in this form judge alike."""
        return self.model_copy(update={"context_window": self.window})

    @property
    def window(self) -> int | None:
        """Its ``context_window``, None where that is llama.cpp's default one (written out, it judges as unset)."""
        return window_of(self.id, self.context_window)
