"""Aggregate per-question scores and measurements into a variant's metrics (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from workbench.metrics import JudgeUsage, Score, mean


def mean_scores(rows: Iterable[Mapping[str, Score]]) -> dict[str, float]:
    """Mean of each scorer over the rows where it applied (``workbench.metrics.mean``: correctly rounded);
    ``<name>_errors`` counts failed scorer calls."""
    values: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    for row in rows:
        for name, score in row.items():
            values.setdefault(name, [])
            errors.setdefault(name, 0)
            if score.error is not None:
                errors[name] += 1
            elif score.value is not None:
                values[name].append(score.value)
    out: dict[str, float] = {}
    for name, xs in values.items():
        if xs:
            out[name] = mean(xs)
        if errors[name]:
            out[f"{name}_errors"] = float(errors[name])
    return out


def judge_metrics(rows: Iterable[Mapping[str, Score]]) -> dict[str, float]:
    """The judge's accounting over a variant, apart from the answering model's: ``judge_calls``, ``judge_errors``
    (unusable judge outputs), ``judge_call_errors`` (of those, calls that failed or ran out of time), ``judge_input_tokens``, ``judge_output_tokens``
    (left out when the judge's server sent no token counts with some reply), ``judge_latency_s``,
    ``judge_cost_usd`` (left out when the judge's price is unknown), ``judge_cache_hits`` (replies read from the cache)
    and ``judge_spent_usd`` (what the other calls cost now), ``judge_retries`` (hosted calls retried), and ``<scorer>_std``: the mean over items of the
    standard deviation of the judge's repeats (only with repeats). Empty when no scorer used a judge."""
    usage: JudgeUsage | None = None
    spreads: dict[str, list[float]] = {}
    for row in rows:
        for name, score in row.items():
            if score.judge is not None:
                usage = score.judge if usage is None else usage + score.judge
            if score.spread is not None:
                spreads.setdefault(name, []).append(score.spread)
    if usage is None:
        return {}
    out = {
        "judge_calls": float(usage.calls),
        "judge_errors": float(usage.failures),
        "judge_call_errors": float(usage.call_errors),
        "judge_latency_s": usage.latency_s,
        "judge_cache_hits": float(usage.cache_hits),
        "judge_retries": float(usage.retries),
    }
    # left out, never 0 or a part, when the judge's server sent no token counts with some reply (as the answers' are)
    if usage.input_tokens is not None and usage.output_tokens is not None:
        out["judge_input_tokens"] = float(usage.input_tokens)
        out["judge_output_tokens"] = float(usage.output_tokens)
    if usage.cost_usd is not None:
        out["judge_cost_usd"] = usage.cost_usd
    if usage.spent_usd is not None:
        out["judge_spent_usd"] = usage.spent_usd
    for name, xs in spreads.items():
        out[f"{name}_std"] = sum(xs) / len(xs)
    return out
