"""Promotion gates, evaluated by workbench.promotion and defined here because they are part of the experiment file:
each gate by its ``kind`` (``GateSpec``) and the ``promotion:`` section (``PromotionSpec``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from workbench.metrics import fraction_bound_problem
from workbench.spec._base import _fraction_not_percent, _Spec


def _kind_required(schema: dict[str, Any]) -> None:
    """A gate's ``kind`` is required in YAML (the loader picks the gate by it), though Python callers may leave it out:
    the schema let editors pass ``{metric: token_f1, min: 0.3}``, which the loader then refused."""
    schema["required"] = ["kind", *(f for f in schema.get("required", []) if f != "kind")]


class _Gate(_Spec):
    model_config = ConfigDict(json_schema_extra=_kind_required)

    @model_serializer(mode="wrap")
    def _keep_kind(self, handler: SerializerFunctionWrapHandler) -> Any:
        # ``kind`` has a default (for Python callers) but is the YAML discriminator: never drop it from the output
        data = handler(self)
        return {"kind": getattr(self, "kind"), **data} if isinstance(data, dict) else data


class MetricGate(_Gate):
    """Passes when an aggregate metric of the run lies within ``min``/``max`` (either bound may be left out)."""

    kind: Literal["metric"] = Field(default="metric", description="a bound on one of the run's metrics")
    metric: str = Field(min_length=1, description="an aggregate metric of the run, e.g. token_f1, hit_at_k, latency_p95_s")
    min: float | None = Field(default=None, description="the lowest value that passes")
    max: float | None = Field(default=None, description="the highest value that passes")

    @model_validator(mode="after")
    def _bounds(self) -> MetricGate:
        if self.min is None and self.max is None:
            raise ValueError(f"gate on '{self.metric}' needs 'min' or 'max'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"gate on '{self.metric}': min {self.min} is above max {self.max}")
        problem = next(filter(None, (fraction_bound_problem(self.metric, b) for b in (self.min, self.max) if b is not None)), None)
        if problem is not None:
            raise ValueError(problem)
        return self


class MinQuestionsGate(_Gate):
    """Passes when the run evaluated at least ``n`` questions."""

    kind: Literal["min_questions"] = Field(default="min_questions", description="enough questions evaluated")
    n: int = Field(ge=1, description="the fewest questions that pass")


class MaxCostGate(_Gate):
    """Passes when the mean cost per answer (USD) is at most ``usd``; an unknown cost fails."""

    kind: Literal["max_cost_per_answer"] = Field(default="max_cost_per_answer", description="a bound on the mean cost of an answer")
    usd: float = Field(ge=0, description="the highest mean cost per answer that passes, in USD")


class MaxFailedRateGate(_Gate):
    """Passes when the share of questions whose ``scorer`` (a judge) failed is at most ``rate``."""

    kind: Literal["max_failed_rate"] = Field(default="max_failed_rate", description="a bound on a judge's failures")
    scorer: str = Field(min_length=1, description="scorer name, e.g. faithfulness (its failures are <scorer>_errors)")
    rate: float = Field(ge=0.0, le=1.0, description="the highest share of questions whose scorer failed that passes (0 to 1)")


class BeatsHolderGate(_Gate):
    """Passes when the paired bootstrap interval of (candidate - current alias holder) on ``metric`` lies above zero,
    or above ``-margin`` when a non-inferiority margin is given. Passes when the alias has no holder yet."""

    kind: Literal["beats_holder"] = Field(default="beats_holder", description="better than the version the alias points at now")
    metric: str = Field(min_length=1, description="the per-question score compared, e.g. token_f1")
    margin: float = Field(default=0.0, ge=0.0, description="non-inferiority margin (0: must be better)")
    higher_is_better: bool | None = Field(default=None, description="default: from the metric's name (latency, cost: lower)")
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0, description="coverage of the paired interval")

    @field_validator("confidence", mode="before")
    @classmethod
    def _confidence_is_a_fraction(cls, value: Any) -> Any:
        return _fraction_not_percent(value)


GateSpec = Annotated[
    MetricGate | MinQuestionsGate | MaxCostGate | MaxFailedRateGate | BeatsHolderGate, Field(discriminator="kind")
]


# each gate class by its ``kind``, the tag pydantic picks it by (and puts in its error locations: gates[0].metric.min)
_GATE_KINDS: dict[str, type[_Gate]] = {
    cls.model_fields["kind"].default: cls for cls in (MetricGate, MinQuestionsGate, MaxCostGate, MaxFailedRateGate, BeatsHolderGate)
}


class PromotionSpec(_Spec):
    """The ``promotion:`` section: the gates a variant of this experiment must pass to be promoted."""

    gates: tuple[GateSpec, ...] = Field(default=(), description="each {kind: ..., ...}: metric, min_questions, max_cost_per_answer, max_failed_rate, beats_holder")
    require_staging: bool = Field(default=True, description="production needs the same config promoted to staging first")
