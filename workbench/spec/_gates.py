"""Promotion gates, evaluated by workbench.promotion and defined here because they are part of the experiment file:
each gate by its ``kind`` (``GateSpec``) and the ``promotion:`` section (``PromotionSpec``)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from workbench.metrics import (
    ANSWER_METRICS,
    COST_METRICS,
    JUDGE_METRICS,
    QUESTION_MEASUREMENTS,
    ROUTER_METRIC_PREFIXES,
    ROUTER_METRICS,
    RUN_METRICS,
    dataset_column_problem,
    fraction_bound_problem,
    scorer_entries,
)
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


_JUDGE_EXAMPLE = "add e.g. 'judge: local:gemma3-270m'"


@dataclass(frozen=True)
class LoggedMetrics:
    """What the runs of an experiment log, as its gates are checked against it (pure data).

    Attributes:
        scores: the scorers its answering (or, without models, retrieving) variants are scored on.
        named_scorers: whether the experiment lists its ``scorers:`` (else the default ones are scored).
        answers: whether it has models (else its variants only retrieve).
        judge: whether it has a judge; ``repeats``: whether the judge is asked more than once (``<scorer>_std``).
        unpriced: an answering model without a price (its runs log no cost), or None.
        router: whether a router is among its models.
    """

    scores: tuple[str, ...]
    named_scorers: bool
    answers: bool
    judge: bool
    repeats: bool
    unpriced: str | None
    router: bool

    def names(self) -> tuple[str, ...]:
        """Every metric name a run logs (those a router names per model aside), for a did-you-mean and the list shown."""
        judged = any(scorer_entries()[s].judged for s in self.scores if s in scorer_entries())
        return (*self.scores, *RUN_METRICS, *(ANSWER_METRICS if self.answers else ()),
                *(COST_METRICS if self.answers and self.unpriced is None else ()), *(JUDGE_METRICS if judged else ()),
                *(ROUTER_METRICS if self.router else ()))

    def problem(self, metric: str, *, per_question: bool = False) -> str | None:
        """Why a gate on ``metric`` could never pass a run of the experiment, and what to do; None when it could.
        ``per_question``: the gate pairs questions' values (``beats_holder``), so a run's aggregate is none."""
        entries = scorer_entries()
        column = dataset_column_problem(metric)
        if column is not None:  # was "unknown metric 'metadata.year'", as if misspelt
            return f"{column} — a gate checks a metric the runs log (this experiment logs: {self._shown()})"
        if per_question:
            if metric in self.scores or (self.answers and metric in QUESTION_MEASUREMENTS and (metric != "cost_usd" or self.unpriced is None)):
                return None
            if metric in self.names():
                return (f"'{metric}' is a run's aggregate, and beats_holder pairs each question's values — gate on a score "
                        f"({', '.join(self.scores)}) or {', '.join(QUESTION_MEASUREMENTS[:3])}")
        elif metric in self.names():
            return None
        base = next((metric.removesuffix(s) for s in ("_errors", "_std") if metric.endswith(s) and metric.removesuffix(s) in entries), metric)
        if base in entries:
            return self._scorer_problem(metric, base)
        if metric in ANSWER_METRICS + COST_METRICS + QUESTION_MEASUREMENTS and not self.answers:
            return f"'{metric}' is logged only by variants that answer, and this experiment has no models (it only retrieves) — gate on one of: {self._shown()}"
        if metric in COST_METRICS:
            return (f"'{metric}' is logged only when every answering model has a price, and '{self.unpriced}' has none — give it "
                    f"under 'pricing:', e.g. pricing: {{{self.unpriced}: {{input: 0.5, output: 1.5}}}} (USD per 1M tokens)")
        if metric in JUDGE_METRICS:
            fix = "add a judged scorer (faithfulness) to 'scorers:'" if self.judge else _JUDGE_EXAMPLE
            return f"'{metric}' is logged only when a judge scores the answers — {fix}"
        if metric in ROUTER_METRICS or (metric.startswith(ROUTER_METRIC_PREFIXES) and not per_question):
            return None if self.router else f"'{metric}' is logged only by a router's variants, and this experiment has no router (models: [{{router: ...}}])"
        meant = difflib.get_close_matches(metric, [*self.names(), *entries], n=1, cutoff=0.6)
        return f"unknown metric '{metric}' — " + (f"did you mean '{meant[0]}'? " if meant else "") + f"(this experiment logs: {self._shown()})"

    def _scorer_problem(self, metric: str, scorer: str) -> str | None:
        """Why ``metric``, the scorer ``scorer``'s value (or its ``_errors`` or ``_std``), is never logged, or None."""
        entry = scorer_entries()[scorer]
        if scorer in self.scores:
            if metric.endswith("_std") and metric != scorer:
                if not entry.judged:
                    return f"'{metric}' is logged only for a judged scorer's repeats, and {scorer} has no judge — gate on {scorer}"
                return None if self.repeats else f"'{metric}' is logged only when the judge is asked more than once — set judge.n to 3, say"
            return None
        if not self.answers and not entry.retrieval:
            return f"'{scorer}' scores answers, and this experiment has no models (it only retrieves) — gate on one of: {self._shown()}"
        if entry.judged and not self.judge:
            return f"'{scorer}' is scored by a judge model, and this experiment has none — {_JUDGE_EXAMPLE}, or gate on another metric"
        why = "is not among the experiment's scorers" if self.named_scorers else "is not scored by default"
        return f"'{scorer}' {why} — add it to 'scorers:', or gate on one it scores ({', '.join(self.scores)})"

    def _shown(self) -> str:
        return ", ".join(self.names())


def run_metric_names() -> tuple[str, ...]:
    """Every metric name a workbench run may log, whatever its experiment (pure): the scorers registered in this process,
    the runner's, the judge's and a router's metrics, and a question's measurements (a router's per-model metrics,
    ``tokens_<model>``..., and a scorer's ``<scorer>_errors`` and ``<scorer>_std`` aside)."""
    return (*scorer_entries(), *RUN_METRICS, *ANSWER_METRICS, *COST_METRICS, *JUDGE_METRICS, *ROUTER_METRICS,
            *QUESTION_MEASUREMENTS)


def is_run_metric(metric: str) -> bool:
    """Whether some workbench run could log ``metric`` (``run_metric_names``, a router's per-model metrics, a known
    scorer's ``_errors`` and ``_std``) (pure): a name none could log is misspelt, or a scorer not registered here."""
    entries = scorer_entries()
    base = next((metric.removesuffix(s) for s in ("_errors", "_std") if metric.endswith(s)), metric)
    return metric in run_metric_names() or base in entries or metric.startswith(ROUTER_METRIC_PREFIXES)


def gate_problems(gates: Sequence[Any], logged: LoggedMetrics) -> list[tuple[tuple[Any, ...], str]]:
    """Each gate of ``gates`` that no run of the experiment could pass, as (its location under ``gates``, why and what to
    do) (pure): a misspelt metric (``token_f11``), a judge's score without a judge, a cost without prices, a router's
    metric without a router were found only when a variant was promoted, after the sweep was paid for."""
    found: list[tuple[tuple[Any, ...], str]] = []
    for i, gate in enumerate(gates):
        problem, field = None, ""
        if isinstance(gate, (MetricGate, BeatsHolderGate)):
            problem, field = logged.problem(gate.metric, per_question=isinstance(gate, BeatsHolderGate)), "metric"
        elif isinstance(gate, MaxFailedRateGate):
            problem, field = _failed_rate_problem(gate.scorer.removesuffix("_errors"), logged), "scorer"
        elif isinstance(gate, MaxCostGate) and logged.answers and logged.unpriced is not None:
            problem, field = (f"the cost of an answer is logged only when every answering model has a price, and '{logged.unpriced}' "
                              f"has none — give it under 'pricing:', e.g. pricing: {{{logged.unpriced}: {{input: 0.5, output: 1.5}}}} "
                              "(USD per 1M tokens)"), "usd"
        elif isinstance(gate, MaxCostGate) and not logged.answers:
            problem, field = "the cost of an answer is logged only by variants that answer, and this experiment has no models", "usd"
        if problem is not None:  # located as pydantic locates a gate's field: under its kind, which the line finder drops
            found.append(((i, gate.kind, field), problem))
    return found


def _failed_rate_problem(scorer: str, logged: LoggedMetrics) -> str | None:
    """Why ``max_failed_rate`` on ``scorer`` could never be checked, or None: it counts that scorer's failed rows."""
    if scorer in logged.scores:
        return None
    if scorer in scorer_entries():
        return logged.problem(scorer)
    meant = difflib.get_close_matches(scorer, logged.scores, n=1, cutoff=0.6)
    return (f"unknown scorer '{scorer}' — " + (f"did you mean '{meant[0]}'? " if meant else "")
            + f"(this experiment scores: {', '.join(logged.scores)})")
