"""Metric gates: does a variant's metric pass a minimum, a maximum, and (optionally) no worse than the baseline.

``check_metric`` is the one rule; ``ComparisonReport.gate`` (``workbench gate`` in CI) applies it to every variant
of a comparison, and promotion's metric gates apply it to the run being promoted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from workbench.comparison._render import confidence_text, interval_text, number_text
from workbench.comparison._retry import rerun_advice
from workbench.comparison._stats import fewest_questions
from workbench.comparison._tables import retrieval_only_note
from workbench.comparison._values import failed, unanswered_scorers, unknown_metric
from workbench.errors import WorkbenchError
from workbench.metrics import fraction_bound_problem

if TYPE_CHECKING:
    import pandas as pd

    from workbench.comparison._view import ComparisonView

__all__ = ["Breach", "BreachKind", "GateFailure", "check_metric", "gate_failures"]

BreachKind = Literal["unscored", "below", "above", "worse"]


@dataclass(frozen=True)
class Breach:
    """Why a metric fails its gate.

    Attributes:
        kind: "unscored" (no value), "below" the minimum, "above" the maximum, or "worse" than the baseline.
        value: the metric's value (NaN when unscored).
        bound: the minimum or maximum it broke (NaN for "unscored" and "worse").
    """

    kind: BreachKind
    value: float
    bound: float = math.nan


def check_metric(
    value: float | None, *, minimum: float | None = None, maximum: float | None = None, verdict: str | None = None
) -> tuple[Breach, ...]:
    """Every way ``value`` fails the gate; empty when it passes.

    Args:
        value: the metric's value (a mean or a logged aggregate); None or NaN fails as "unscored", alone.
        minimum: the value must be at least this.
        maximum: the value must be at most this.
        verdict: the verdict of the variant against a baseline (``verdict``); "worse" fails. None: not checked.
    """
    if value is None or math.isnan(value):
        return (Breach("unscored", math.nan),)
    breaches = []
    if minimum is not None and value < minimum:
        breaches.append(Breach("below", value, minimum))
    if maximum is not None and value > maximum:
        breaches.append(Breach("above", value, maximum))
    if verdict == "worse":
        breaches.append(Breach("worse", value))
    return tuple(breaches)


@dataclass(frozen=True)
class GateFailure:
    """One reason a gate failed: which variant, which metric, what is wrong."""

    variant: str
    metric: str
    message: str

    def __str__(self) -> str:
        return f"FAIL {self.variant}: {self.metric} {self.message}" if self.metric else f"FAIL {self.variant}: {self.message}"


def gate_failures(
    report: ComparisonView,
    metrics: Sequence[str],
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    no_worse: bool = False,
) -> tuple[GateFailure, ...]:
    """``check_metric`` on every variant's mean of each metric; a variant without results fails too, so does one with
    questions that failed (its means leave them out), one racing stopped early (its means rest on its first questions),
    one that did not finish (FAILED on a budget, KILLED part way: its means rest on the questions it answered),
    and with ``no_worse`` one that shares no scored question with the baseline, or too few for an interval (see
    ``ComparisonReport.gate``)."""
    for name, bound in (("minimum", minimum), ("maximum", maximum)):
        if bound is not None and not math.isfinite(bound):
            raise WorkbenchError(f"gate {name} {bound} is not a finite number — give a number such as 0.5")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise WorkbenchError(f"gate minimum {minimum:g} is above maximum {maximum:g}: no variant could pass — swap them, or drop one")
    problem = next(filter(None, (fraction_bound_problem(m, b) for m in metrics for b in (minimum, maximum) if b is not None)), None)
    if problem is not None:
        raise WorkbenchError(problem)
    failures = [GateFailure(s.name, "", f"no results ({s.reason})") for s in report.skipped]
    # a baseline run of another sweep (what is in production) is compared against, not gated: a production run below
    # the floor failed every pull request's gate, which no pull request could mend
    gated = [v for v in report.variants if not v.outside]
    if report.table.empty:  # every answer of every variant failed: nothing meets any threshold
        return (*failures, *(GateFailure(v.name, m, "has no scored question (every answer failed)") for v in gated for m in metrics))
    # as promotion's "every question answered", also for a variant whose every answer failed: its retrieval scores stand
    # (the chunks were retrieved before the model failed), so a gate on hit_at_k alone passed it
    failures += [GateFailure(v.name, "", f"{errors} of {len(v.frame)} questions failed, so its scores leave them out — "
                             f"{_rerun_advice(v.frame)}run the experiment again (only those questions are retried)")
                 for v in gated if (errors := int(failed(v.frame).sum()))]
    # as promotion refuses such a run: racing asked it only the questions before its stop, so a mean over them says
    # nothing of the rest, and a variant stopped as clearly worse passed a threshold on its first few questions
    failures += [GateFailure(v.name, "", f"was stopped early by racing {v.stopped_early.label}, so its scores rest on those "
                             "questions alone — run the experiment again without racing (only its missing questions are computed)")
                 for v in gated if v.stopped_early is not None]
    # as promotion refuses it: a variant FAILED past its token or cost budget, or KILLED part way (Ctrl+C, a cancelled
    # job), holds the answers it had, none of them failed, so its means over them passed the gate
    failures += [GateFailure(v.name, "", f"ended {v.ended}; its scores rest on the {len(v.frame)} questions it answered before, "
                             "so it is not gated on them — run the experiment again to finish it (answers come from the cache)")
                 for v in gated if v.ended]
    unknown = [m for m in metrics if m not in report.metrics]
    if unknown and unanswered_scorers(unknown, report.variants):
        # a scorer of answers, none of which there is: a failed gate (exit 1), not a usage error naming the wrong cause
        failures += [GateFailure(v.name, m, "has no scored question (every answer failed)") for v in gated for m in unknown]
        metrics = [m for m in metrics if m not in unknown]
    elif unknown:
        raise unknown_metric(unknown[0], report.metrics, retrieval_only_note(report.variants))
    fewest = fewest_questions(report.confidence)
    names = {v.name for v in gated}
    for metric in metrics:
        rows = report.table[report.table["metric"] == metric]
        base_scored = bool((rows["is_baseline"] & (rows["n"] > 0)).any())
        for r in rows.itertuples():
            if r.variant not in names:
                continue
            if no_worse and base_scored and not r.is_baseline and r.n > 0 and r.n_paired == 0:
                # no question scored by both (another dataset's baseline): "no worse" was never checked
                failures.append(GateFailure(r.variant, metric, f"shares no scored question with baseline '{report.baseline}', so it "
                                            "cannot be compared — give a baseline evaluated on the same dataset"))
            elif no_worse and base_scored and not r.is_baseline and 0 < r.n_paired < fewest:
                # an interval over so few is only the range of the differences: "not enough data" passed as "no worse", as
                # promotion's beats_holder gate refuses to judge on so few
                failures.append(GateFailure(r.variant, metric, f"shares only {r.n_paired} scored questions with baseline "
                                            f"'{report.baseline}', fewer than the {fewest} a {confidence_text(report.confidence)} interval "
                                            "needs, so nothing says it is no worse — evaluate both on more questions"))
            for breach in check_metric(r.mean, minimum=minimum, maximum=maximum, verdict=r.verdict if no_worse else None):
                if breach.kind == "unscored":
                    message = "has no scored question"
                elif breach.kind == "below":
                    message = f"mean {number_text(r.mean)} is below the minimum {breach.bound:g}"
                elif breach.kind == "above":
                    message = f"mean {number_text(r.mean)} is above the maximum {breach.bound:g}"
                else:
                    message = f"is worse than baseline '{report.baseline}': diff {interval_text(r.diff, r.diff_low, r.diff_high)}"
                failures.append(GateFailure(r.variant, metric, message))
    return tuple(failures)


def _rerun_advice(frame: pd.DataFrame) -> str:
    """What to fix first when the variant's first failed question would fail again on a re-run (a prompt past the
    model's context window, a refused key), as ``workbench run`` says it; else nothing (pure)."""
    return rerun_advice(next((str(e) for e in frame.loc[failed(frame), "error"]), ""))
