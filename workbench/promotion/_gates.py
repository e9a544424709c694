"""Promotion gates: pure functions over a run's metrics and per-question scores.

A gate never raises on missing evidence: a metric that was not logged is a failed gate whose message says what to
add. ``evaluate_gates`` returns every gate's result, so a blocked promotion can list all of them at once.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from workbench.comparison import Interval, check_metric, paired_bootstrap, rerun_advice, verdict
from workbench.metrics import (
    COST_PER_SUCCESS, METADATA_PREFIX, SUCCESS_METRIC, SUCCESS_THRESHOLD, dataset_column_problem, higher_is_better, scorer_entries,
)
from workbench.spec import (
    BeatsHolderGate,
    GateSpec,
    MaxCostGate,
    MaxFailedRateGate,
    MetricGate,
    MinQuestionsGate,
    is_run_metric,
    run_metric_names,
)

# Per-question columns of eval_results.json that are not scores.
_NOT_SCORES = frozenset({"case_id", "category", "tags", "question", "reference", "answer", "relevant_ids", "retrieved_ids", "contexts", "error"})


@dataclass(frozen=True)
class Evidence:
    """What gates look at for one run.

    Attributes:
        run_id: the variant run.
        metrics: its aggregate metrics (as logged).
        per_question: metric -> case id -> value (None when the scorer did not apply or failed).
        dataset_hash: hash of the evaluation dataset (paired comparisons need the same one).
        config_hash: hash of the deployable configuration.
        lower_is_better: the scorers its run recorded as better low (tag ``workbench.lower_is_better``: a scorer
            registered so in the process that ran it, perhaps not in this one).
        first_error: the error of its first question that failed ("" when none did, or its table was not read), by
            which "every question answered" says whether running again would fail them the same way.
    """

    run_id: str
    metrics: Mapping[str, float]
    per_question: Mapping[str, Mapping[str, float | None]]
    dataset_hash: str
    config_hash: str
    lower_is_better: frozenset[str] = frozenset()
    first_error: str = ""

    @classmethod
    def from_table(
        cls, run_id: str, metrics: Mapping[str, float], table: Any, *, dataset_hash: str, config_hash: str,
        lower_is_better: frozenset[str] = frozenset(),
    ) -> Evidence:
        """Build evidence from a per-question DataFrame (``workbench.tracking.load_variant_table``); ``table`` may be None."""
        per_question: dict[str, dict[str, float | None]] = {}
        if table is not None and "case_id" in getattr(table, "columns", ()):
            ids = [str(c) for c in table["case_id"]]
            for column in table.columns:
                if column in _NOT_SCORES or str(column).startswith(METADATA_PREFIX):  # the dataset's own columns: no scores
                    continue
                values = [_number(v) for v in table[column]]
                if any(v is not None for v in values) and all(v is not None or _blank(raw) for v, raw in zip(values, table[column])):
                    per_question[str(column)] = dict(zip(ids, values))
        errors = table["error"] if table is not None and "error" in getattr(table, "columns", ()) else ()
        first_error = next((str(e) for e in errors if isinstance(e, str) and e), "")
        return cls(run_id, dict(metrics), per_question, dataset_hash, config_hash, lower_is_better, first_error)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, numbers.Real) and math.isnan(float(value)))


def _number(value: Any) -> float | None:
    """A finite per-question value as float (numpy scalars included), else None."""
    if isinstance(value, numbers.Real) and not math.isnan(float(value)):
        return float(value)
    return None


@dataclass(frozen=True)
class Holder:
    """The version that currently holds the alias, with the evidence of the run it was promoted from; ``note`` is said
    with the gate's outcome (e.g. that run is in MLflow's trash)."""

    version: str
    evidence: Evidence
    note: str = ""


@dataclass(frozen=True)
class GateResult:
    """One gate's outcome. ``label`` reads like the rule (``token_f1 >= 0.7``); ``detail`` explains the outcome."""

    label: str
    kind: str
    passed: bool
    value: float | None
    detail: str
    interval: Interval | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"gate": self.label, "kind": self.kind, "passed": self.passed, "value": self.value, "detail": self.detail}
        if self.interval is not None:
            i = self.interval
            out["interval"] = {"estimate": i.estimate, "low": i.low, "high": i.high, "n": i.n, "confidence": i.confidence}
        return out

    def __str__(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.label}: {self.detail}"


@dataclass(frozen=True)
class GateReport:
    """Every gate's result. ``passed`` only when there is at least one gate and all passed."""

    results: tuple[GateResult, ...]

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def failed(self) -> tuple[GateResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    def summary(self) -> str:
        """One line per gate (PASS/FAIL, rule, explanation)."""
        return "\n".join(str(r) for r in self.results)

    def as_records(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.results]


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _dataset_column_gate(gate: MetricGate | BeatsHolderGate, ev: Evidence) -> GateResult:
    """A gate naming a dataset's column (``metadata.year``): it failed as "not logged — add its scorer", and no scorer
    logs one."""
    example = next((m for m in ev.metrics if m in scorer_entries()), "token_f1")
    column = gate.metric.removeprefix(METADATA_PREFIX)
    return GateResult(gate.metric, gate.kind, False, None, f"{dataset_column_problem(gate.metric)} — a gate checks a metric the "
                      f"run logs, e.g. {example}; to see the variants on the questions of one {column}, slice a sweep's "
                      f"records_frame() by '{gate.metric}' in a notebook")


def _metric_gate(gate: MetricGate, ev: Evidence) -> GateResult:
    parts = []
    if gate.min is not None:
        parts.append(f">= {_fmt(gate.min)}")
    if gate.max is not None:
        parts.append(f"<= {_fmt(gate.max)}")
    label = f"{gate.metric} {' and '.join(parts)}"
    value = ev.metrics.get(gate.metric)
    breaches = check_metric(value, minimum=gate.min, maximum=gate.max)
    if value is None and gate.metric == COST_PER_SUCCESS and ev.metrics.get("cost_usd", 0.0) > 0:  # logged only when finite
        return GateResult(label, gate.kind, False, None, f"no answer of run {ev.run_id} reached {SUCCESS_METRIC} >= "
                          f"{SUCCESS_THRESHOLD:g}, so its cost per successful answer is infinite")
    if value is None or any(b.kind == "unscored" for b in breaches):
        # a name close to a logged metric is most likely misspelt (token_f2): named, as `workbench gate` names it
        meant = difflib.get_close_matches(gate.metric, list(ev.metrics), n=1, cutoff=0.8)
        fix = (f"did you mean '{meant[0]}'? (a metric of another scorer: add it to the experiment and re-run)" if meant
               else "add its scorer to the experiment and re-run")
        return GateResult(label, gate.kind, False, None, _unscored(
            gate.metric, ev, f"metric '{gate.metric}' was not logged for run {ev.run_id} — {fix}"))
    if not breaches:
        return GateResult(label, gate.kind, True, value, _fmt(value))
    where = "below the minimum" if breaches[0].kind == "below" else "above the maximum"
    return GateResult(label, gate.kind, False, value, f"{_fmt(value)} is {where} {_fmt(breaches[0].bound)}")


def _unscored(metric: str, ev: Evidence, otherwise: str) -> str:
    """Why a run has no value of ``metric``: its scorer failed on every row it scored (it logged only
    ``<metric>_errors``: a judge that was down), every question failed, or else ``otherwise`` (the experiment does not
    score it)."""
    failed, questions = ev.metrics.get(f"{metric}_errors"), ev.metrics.get("questions")
    if failed:
        return (f"scorer '{metric}' failed on all {int(failed)} rows it scored in run {ev.run_id} ({metric}_errors), so it has no "
                "value — fix what failed it (each row's error is on the run's traces in MLflow) and re-run")
    if questions and ev.metrics.get("question_errors", 0.0) >= questions:
        return f"every one of the {int(questions)} questions of run {ev.run_id} failed, so nothing was scored — fix the model and re-run"
    return otherwise


def evaluated_questions(metrics: Mapping[str, float]) -> int | None:
    """Questions that got an answer: ``questions - question_errors`` (None when not logged)."""
    total = metrics.get("questions")
    if total is None:
        return None
    return int(total - metrics.get("question_errors", 0.0))


def _min_questions(gate: MinQuestionsGate, ev: Evidence) -> GateResult:
    label = f"questions evaluated >= {gate.n}"
    n = evaluated_questions(ev.metrics)
    if n is None:
        return GateResult(label, gate.kind, False, None, f"metric 'questions' was not logged for run {ev.run_id}")
    if n < gate.n:
        return GateResult(label, gate.kind, False, float(n), f"only {n} questions were evaluated — evaluate at least {gate.n} (dataset limit)")
    return GateResult(label, gate.kind, True, float(n), f"{n} questions")


def _max_cost(gate: MaxCostGate, ev: Evidence) -> GateResult:
    label = f"cost per answer <= ${gate.usd:g}"
    value = ev.metrics.get("cost_per_question_usd")
    if value is None:
        return GateResult(label, gate.kind, False, None,
                          "cost per answer is unknown (the model has no price) — add it under 'pricing:' in the experiment and re-run")
    if value > gate.usd:
        return GateResult(label, gate.kind, False, value, f"${_fmt(value)} per answer is above ${gate.usd:g}")
    return GateResult(label, gate.kind, True, value, f"${_fmt(value)} per answer")


def _max_failed_rate(gate: MaxFailedRateGate, ev: Evidence) -> GateResult:
    scorer = gate.scorer.removesuffix("_errors")
    label = f"{scorer} failed rows <= {gate.rate:.1%}"
    errors = ev.metrics.get(f"{scorer}_errors")
    if errors is None and scorer in ev.metrics:
        errors = 0.0  # <scorer>_errors is logged only when some rows failed
    questions = ev.metrics.get("questions")
    if errors is None:
        return GateResult(label, gate.kind, False, None,
                          f"scorer '{scorer}' has no results for run {ev.run_id} (neither '{scorer}' nor '{scorer}_errors' was logged) "
                          "— add it to the experiment's scorers and re-run")
    if not questions:
        return GateResult(label, gate.kind, False, None, f"metric 'questions' was not logged for run {ev.run_id}")
    rate = errors / questions
    if rate > gate.rate:
        return GateResult(label, gate.kind, False, rate, f"{int(errors)} of {int(questions)} rows failed ({rate:.1%})")
    return GateResult(label, gate.kind, True, rate, f"{int(errors)} of {int(questions)} rows failed ({rate:.1%})")


def paired_values(
    holder: Evidence, candidate: Evidence, metric: str
) -> tuple[list[float], list[float]]:
    """Per-question values of ``metric`` for the questions both runs scored, paired by case id (holder, candidate)."""
    a = holder.per_question.get(metric, {})
    b = candidate.per_question.get(metric, {})
    common = [cid for cid in b if cid in a and a[cid] is not None and b[cid] is not None]
    return [float(a[c]) for c in common], [float(b[c]) for c in common]  # type: ignore[arg-type]


def _beats_holder(gate: BeatsHolderGate, ev: Evidence, holder: Holder | None, seed: int) -> GateResult:
    margin = f", margin {_fmt(gate.margin)}" if gate.margin else ""
    if holder is None:
        label = f"{gate.metric} beats the current holder{margin}"
        if gate.metric not in ev.per_question:  # a misspelt metric would pass unnoticed until the alias has a holder
            return GateResult(label, gate.kind, False, None, _unscored(
                gate.metric, ev, f"no per-question '{gate.metric}' for run {ev.run_id} — name a metric the experiment scores"))
        return GateResult(label, gate.kind, True, None, "the alias has no holder yet")
    label = f"{gate.metric} beats holder v{holder.version}{margin}"
    if holder.evidence.config_hash == ev.config_hash:
        return GateResult(label, gate.kind, True, None, "the candidate is the holder's configuration")
    if holder.evidence.dataset_hash != ev.dataset_hash:
        return GateResult(
            label, gate.kind, False, None,
            f"the holder was evaluated on a different dataset ({holder.evidence.dataset_hash[:12]} vs {ev.dataset_hash[:12]}) "
            "— evaluate both configurations on the same dataset",
        )
    if gate.metric not in ev.per_question:
        return GateResult(label, gate.kind, False, None, _unscored(gate.metric, ev, f"no per-question '{gate.metric}' for run {ev.run_id}"))
    if gate.metric not in holder.evidence.per_question:
        return GateResult(label, gate.kind, False, None, _unscored(
            gate.metric, holder.evidence, f"no per-question '{gate.metric}' for the holder's run {holder.evidence.run_id}"))
    base, cand = paired_values(holder.evidence, ev, gate.metric)
    diff = paired_bootstrap(base, cand, confidence=gate.confidence, seed=seed)
    if not diff.conclusive:
        return GateResult(label, gate.kind, False, None, f"only {diff.n} questions scored by both runs — not enough to compare "
                          f"at {gate.confidence:g} confidence")
    # as wb.compare reads it: a scorer either run recorded as better low is, though this process never registered it
    recorded_lower = gate.metric in ev.lower_is_better | holder.evidence.lower_is_better
    higher = gate.higher_is_better if gate.higher_is_better is not None else higher_is_better(gate.metric) and not recorded_lower
    reading = verdict(diff, higher_is_better=higher)
    # lower bound of the improvement, in the metric's "better" direction
    low = diff.low if higher else -diff.high
    passed = reading == "better" if gate.margin == 0 else low > -gate.margin
    need = "above 0" if gate.margin == 0 else f"above -{_fmt(gate.margin)}"
    detail = f"difference {diff} over {diff.n} paired questions ({reading}); the interval must lie {need}"
    return GateResult(label, gate.kind, passed, diff.estimate, detail, diff)


def unknown_gate_metrics(gates: Sequence[GateSpec], candidate: Evidence) -> list[tuple[int, str, str]]:
    """The gates naming a metric (or a ``max_failed_rate`` scorer) that neither ``candidate``'s run logged nor any run
    could log (``workbench.spec.is_run_metric``), as (the gate's index, its field, what is wrong and what to do) (pure).
    Such a name is misspelt: as a failed gate, ``--reason`` overrode it, and the variant was promoted on a gate nobody
    could check. A known name the run did not log (a judge's score, a cost without prices) is the gate's to fail."""
    logged = [*candidate.metrics, *(m for m in candidate.per_question if m not in candidate.metrics)]
    found = []
    for i, gate in enumerate(gates):
        if isinstance(gate, (MetricGate, BeatsHolderGate)):
            name, field, what = gate.metric, "metric", "metric"
        elif isinstance(gate, MaxFailedRateGate):
            name, field, what = gate.scorer.removesuffix("_errors"), "scorer", "scorer"
        else:
            continue
        if name in logged or is_run_metric(name) or dataset_column_problem(name) is not None:
            continue
        meant = (difflib.get_close_matches(name, logged, n=1, cutoff=0.6)
                 or difflib.get_close_matches(name, run_metric_names(), n=1, cutoff=0.6))
        found.append((i, field, f"unknown {what} '{name}' — " + (f"did you mean '{meant[0]}'? " if meant else "")
                      + f"(run {candidate.run_id} logs: {', '.join(logged)})"))
    return found


def evaluate_gates(gates: Sequence[GateSpec], candidate: Evidence, holder: Holder | None = None, *, seed: int = 0) -> GateReport:
    """Evaluate every gate. No gates at all is itself a failure: a promotion must rest on some evidence. A run with
    questions that failed (``question_errors``) fails one more gate, "every question answered", whatever the gates.

    Args:
        gates: the gates, from the experiment's ``promotion:`` section or the call.
        candidate: the run being promoted.
        holder: the current holder of the alias (for ``beats_holder``), or None.
        seed: bootstrap seed (results are deterministic given it).
    """
    if not gates:
        return GateReport((GateResult("gates configured", "configured", False, None,
                                      "no gates are configured — add 'promotion: gates:' to the experiment or pass gates=... "
                                      "(workbench promote --gates FILE)"),))
    results: list[GateResult] = []
    for gate in gates:
        if isinstance(gate, (MetricGate, BeatsHolderGate)) and dataset_column_problem(gate.metric) is not None:
            results.append(_dataset_column_gate(gate, candidate))
        elif isinstance(gate, MetricGate):
            results.append(_metric_gate(gate, candidate))
        elif isinstance(gate, MinQuestionsGate):
            results.append(_min_questions(gate, candidate))
        elif isinstance(gate, MaxCostGate):
            results.append(_max_cost(gate, candidate))
        elif isinstance(gate, MaxFailedRateGate):
            results.append(_max_failed_rate(gate, candidate))
        else:
            result = _beats_holder(gate, candidate, holder, seed)
            results.append(replace(result, detail=f"{result.detail} ({holder.note})") if holder and holder.note else result)
    errors = candidate.metrics.get("question_errors", 0.0)
    if errors:  # always checked: the run's scores leave its failed questions out
        total = candidate.metrics.get("questions", 0.0)
        results.append(GateResult("every question answered", "answered", False, errors,
                                  f"{int(errors)} of {int(total)} questions failed, so its scores leave them out — "
                                  f"{rerun_advice(candidate.first_error)}run the experiment again (only those questions are "
                                  "retried) and promote the new run"))
    return GateReport(tuple(results))
