"""A router next to each of its models alone: cost per successful answer with intervals, and the paired difference.

A router variant (params ``router.cheap.*`` / ``router.strong.*``) is matched with the variants of the same sweep that
run its cheap or its strong model alone (params ``model.*`` equal to the router's model, its ``name`` and time limit
aside, and the same prompt, chunker and retrieval setting). For each such pair: the router's cost per success and the
model's, each with a bootstrap interval over questions, and the paired bootstrap interval of router minus model (lower
is better).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench.comparison._stats import bootstrap_ratio, paired_bootstrap_ratio, verdict
from workbench.comparison._tables import VariantTable
from workbench.comparison._values import by_case, failed, numeric, paired_cases, recorded_higher_is_better, success_parts

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ROUTING_TABLE_COLUMNS", "routing_pairs", "routing_table"]

ROUTING_TABLE_COLUMNS = (
    "router", "role", "model", "n_paired", "escalation_rate", "router_cost_per_success", "router_low", "router_high",
    "model_cost_per_success", "model_low", "model_high", "diff", "diff_low", "diff_high", "verdict",
)
_ANSWERING = ("model.", "router.")


def _setup(params: Mapping[str, str]) -> dict[str, str]:
    """What decides a variant's answers besides its model: prompt, chunker, retrieval."""
    return {k: v for k, v in params.items() if not k.startswith(_ANSWERING)}


_NOT_ANSWERING = ("name", "params.timeout_s")


def _model(params: Mapping[str, str], prefix: str) -> dict[str, str]:
    """A model's params under ``prefix``, without what does not change an answer (as ``RouterSpec`` and the answer
    cache see it): its ``name`` only labels variants (the model alone often needs one, e.g. next to the same model at
    another temperature), and a time limit (a strong model given longer inside the router) only bounds the wait."""
    fields = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
    return {k: v for k, v in fields.items() if k not in _NOT_ANSWERING}


def routing_pairs(tables: Sequence[VariantTable]) -> list[tuple[VariantTable, str, VariantTable]]:
    """(router, role, the variant running that role's model alone) for every router that has such a variant."""
    pairs = []
    for router in tables:
        if "router.name" not in router.params:
            continue
        for role in ("cheap", "strong"):
            wanted = _model(router.params, f"router.{role}.")
            alone = next(
                (t for t in tables if "model.id" in t.params and "router.name" not in t.params and _model(t.params, "model.") == wanted
                 and _setup(t.params) == _setup(router.params)),
                None,
            )
            if alone is not None:
                pairs.append((router, role, alone))
    return pairs


def escalation_rate(frame: pd.DataFrame) -> float:
    """The share of a router's questions that escalated, over the questions it decided, as the run's
    ``escalation_rate`` metric counts them: left out are one that failed before any model was asked (no model calls,
    e.g. at retrieval) and one the router could not decide (its grounding embedding failed: not escalated, yet the
    question failed; any other question not escalated has the cheap answer). NaN when the table says nothing of
    escalations, or the router decided no question."""
    escalated = numeric(frame, "escalated")
    asked = (frame["model_calls"].map(lambda calls: isinstance(calls, (list, tuple)) and len(calls) > 0)
             if "model_calls" in frame.columns else escalated.notna())
    undecided = (escalated != 1) & failed(frame)
    decided = escalated[asked & ~undecided]
    return float(decided.mean()) if decided.notna().any() else float("nan")


def routing_table(
    tables: Sequence[VariantTable],
    *,
    success_metric: str,
    success_threshold: float,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> pd.DataFrame:
    """One row per (router, its cheap or strong model alone): both costs per success with intervals, the paired
    difference router minus model with its interval and verdict (lower cost is better), and the router's escalation
    rate. Empty when no router has a model-alone variant to compare with."""
    import pandas as pd

    opts: dict[str, Any] = {"n_resamples": n_resamples, "confidence": confidence, "seed": seed}
    rows = []
    higher = recorded_higher_is_better(success_metric, tables)
    for router, role, alone in routing_pairs(tables):
        r_frame, m_frame = by_case(router), by_case(alone)
        r_cost, r_ok = success_parts(r_frame, success_metric, success_threshold, higher=higher)
        m_cost, m_ok = success_parts(m_frame, success_metric, success_threshold, higher=higher)
        common = paired_cases(r_frame, m_frame)
        r_mean = bootstrap_ratio(r_cost.tolist(), r_ok.tolist(), **opts)
        m_mean = bootstrap_ratio(m_cost.tolist(), m_ok.tolist(), **opts)
        diff = paired_bootstrap_ratio(
            (m_cost[common].tolist(), m_ok[common].tolist()), (r_cost[common].tolist(), r_ok[common].tolist()), **opts
        )
        rows.append({
            "router": router.name, "role": role, "model": alone.name, "n_paired": diff.n,
            "escalation_rate": escalation_rate(r_frame),
            "router_cost_per_success": r_mean.estimate, "router_low": r_mean.low, "router_high": r_mean.high,
            "model_cost_per_success": m_mean.estimate, "model_low": m_mean.low, "model_high": m_mean.high,
            "diff": diff.estimate, "diff_low": diff.low, "diff_high": diff.high,
            "verdict": verdict(diff, higher_is_better=False),
        })
    return pd.DataFrame(rows, columns=list(ROUTING_TABLE_COLUMNS))
