"""Comparison plots (matplotlib, object API: no pyplot state, safe off the main thread, rendered by Agg).

Figures are returned for inline display; in IPython a PNG formatter for ``Figure`` is registered if none is, so a
figure shows as an image even when pyplot was never imported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench.comparison._render import confidence_text
from workbench.comparison._retrieval import retrieval_at_k
from workbench.comparison._tables import VariantTable
from workbench.comparison._values import recorded_higher_is_better
from workbench.errors import WorkbenchError
from workbench.metrics import Direction

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from workbench.comparison._view import ComparisonView

__all__ = ["all_figures", "metric_vs_cost_figure", "retrieval_curves", "retrieval_curves_figure"]

# Quality metrics plotted against cost by default, in order of preference (at most three panels).
_QUALITY = ("token_f1", "hit_at_k", "faithfulness", "semantic_similarity", "recall_at_k", "rouge_l", "answer_relevancy")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


def _inline_display() -> None:
    """Make a bare ``Figure`` render as PNG in IPython (matplotlib only registers that when pyplot loads)."""
    import sys

    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython
    from matplotlib.figure import Figure

    shell = get_ipython()
    if shell is None:
        return
    png = shell.display_formatter.formatters["image/png"]
    try:
        png.lookup_by_type(Figure)
    except KeyError:
        from IPython.core.pylabtools import print_figure

        png.for_type(Figure, lambda fig: print_figure(fig, "png", bbox_inches="tight"))


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    _inline_display()
    return Figure(figsize=(width, height), layout="constrained")


def _literal(text: str) -> str:
    """A name as a plot shows it (pure): matplotlib reads text between two ``$`` as math, so a model called
    ``openai:gpt$x^$`` (or a variant named ``cost $5 vs $10``) failed to draw every plot of its comparison, the sweep's
    too, and another showed italics; its dollars are escaped."""
    return text.replace("$", r"\$")


def _errors(estimate: float, low: float, high: float) -> list[list[float]]:
    below = 0.0 if math.isnan(low) else max(0.0, estimate - low)
    above = 0.0 if math.isnan(high) else max(0.0, high - estimate)
    return [[below], [above]]


def _cost_axis(report: ComparisonView) -> str | None:
    means = report.table.groupby("metric")["mean"].max()
    if "cost_usd" in means.index and means["cost_usd"] > 0:
        return "cost_usd"
    return next((m for m in ("latency_s", "output_tokens") if m in means.index and not math.isnan(means[m])), None)


def metric_vs_cost_figure(report: ComparisonView, metrics: Sequence[str] | None = None, cost: str | None = None) -> Figure:
    """One panel per quality metric: each variant's mean against its mean cost per question, with CI error bars.

    Args:
        report: a comparison.
        metrics: quality metrics for the y axes (default: up to three of token_f1, hit_at_k, faithfulness, ...).
        cost: the x axis (default: cost_usd when anything costs money, else latency_s, else output_tokens).

    Raises:
        WorkbenchError: the comparison has no quality metric or no cost measurement to plot.
    """
    quality = list(metrics) if metrics else [m for m in _QUALITY if m in report.metrics][:3]
    if not quality:
        quality = [m for m in report.metrics if _direction(report, m) == "higher"][:1]
    x_metric = cost or _cost_axis(report)
    missing = [m for m in (*quality, x_metric) if m is None or m not in report.metrics]
    if not quality or missing:
        raise WorkbenchError(f"cannot plot metric vs cost: '{missing[0] if missing else 'quality'}' is not in the comparison")
    assert x_metric is not None
    from matplotlib.ticker import MaxNLocator

    fig = _new_figure(4.8 * len(quality), 4.4)
    axes = fig.subplots(1, len(quality), squeeze=False)[0]
    names = list(dict.fromkeys(v.name for v in report.variants))
    labelled = _labelled(names, _means(report, quality[0]), higher=_direction(report, quality[0]) == "higher")
    xs = _means(report, x_metric)
    for panel, (ax, metric) in enumerate(zip(axes, quality)):
        ys = _means(report, metric)
        for i, name in enumerate(names):
            x, y = xs.get(name, _NAN), ys.get(name, _NAN)
            if math.isnan(x[0]) or math.isnan(y[0]):
                continue
            shown = labelled.index(name) if name in labelled else None
            if shown is None:  # one of many: a small grey point, no error bars, one legend entry for them all
                first_other = panel == 0 and not any(h.get_label() == _OTHERS for h in ax.get_lines())
                ax.plot(x[0], y[0], ".", color="0.6", markersize=5, zorder=1, label=_OTHERS if first_other else None)
                continue
            label = f"{'★ ' if i == 0 else ''}{_literal(name)}" if panel == 0 else None
            ax.errorbar(
                x[0], y[0], xerr=_errors(*x), yerr=_errors(*y), fmt=_MARKERS[shown % len(_MARKERS)],
                color=f"C{shown % 10}", ecolor=f"C{shown % 10}", capsize=3, markersize=9 if i == 0 else 7, label=label, zorder=2,
            )
        unit = " (USD per question)" if x_metric == "cost_usd" else (" (s per question)" if x_metric == "latency_s" else " per question")
        ax.set_xlabel(f"{x_metric}{unit} — {_direction(report, x_metric)} is better")
        ax.set_ylabel(f"{metric} — {_direction(report, metric)} is better")
        ax.set_title(f"{metric} vs {x_metric}")
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.grid(alpha=0.3)
    others = len(names) - len(labelled)
    best = f"; the best {len(labelled) - 1} on {quality[0]} named, {others} more in grey" if others else ""
    fig.suptitle(f"Quality vs cost, {confidence_text(report.confidence)} bootstrap intervals (★ baseline{best})", fontsize="medium")
    fig.legend(loc="outside lower center", fontsize="small", ncols=3 if others else (1 if len(labelled) > 4 else 2), frameon=False)
    return fig


_NAN = (float("nan"), float("nan"), float("nan"))
_OTHERS = "other variants"
# Variants named in the quality-vs-cost plot: a legend of 40 lines left its panels no height at all (matplotlib's
# "axes sizes collapsed to zero"), and ten markers and colours cannot tell more apart.
_MAX_NAMED = 10


def _direction(report: ComparisonView, metric: str) -> Direction:
    """Which way ``metric`` is better in the report's runs (a scorer they recorded as better low is, registered or not)."""
    return "higher" if recorded_higher_is_better(metric, report.variants) else "lower"


def _means(report: ComparisonView, metric: str) -> dict[str, tuple[float, float, float]]:
    """Each variant's (mean, low, high) on ``metric``, by name (one pass over the table, not one per variant)."""
    rows = report.table[report.table["metric"] == metric].drop_duplicates("variant")
    return {str(r.variant): (float(r.mean), float(r.mean_low), float(r.mean_high)) for r in rows.itertuples()}


def _labelled(names: Sequence[str], means: dict[str, tuple[float, float, float]], *, higher: bool) -> list[str]:
    """The variants the plot names (pure): all of them when they fit, else the baseline (the first) and the best of
    the rest on ``means`` (ties and unscored ones in their order)."""
    if len(names) <= _MAX_NAMED:
        return list(names)
    def key(name: str) -> float:
        mean = means.get(name, _NAN)[0]
        return math.inf if math.isnan(mean) else (-mean if higher else mean)
    best = sorted(names[1:], key=key)[: _MAX_NAMED - 1]
    return [names[0], *(n for n in names[1:] if n in best)]


def retrieval_curves(tables: Sequence[VariantTable], max_k: int | None = None) -> pd.DataFrame:
    """hit@k and recall@k for k = 1..K, one curve per retrieval setup, from each variant's logged ranking.

    Variants that share chunker, embedding and retrieval settings retrieve the same chunks, so each setup is read
    from its variant that asked the most questions (the first of those): one that racing stopped early, or that
    failed part way, holds only some of them. Tables without ``retrieved_ids``/``relevant_ids`` columns are skipped.

    Returns:
        Tidy frame: setup, k, hit_at_k, recall_at_k, questions.
    """
    import pandas as pd

    fullest: dict[str, VariantTable] = {}  # setups in the order they first appear
    for table in tables:
        setup = table.retrieval_setup
        if {"retrieved_ids", "relevant_ids"} <= set(table.frame.columns) and (
                setup not in fullest or len(table.frame) > len(fullest[setup].frame)):
            fullest[setup] = table
    rows: list[dict[str, Any]] = []
    for setup, table in fullest.items():
        frame = table.frame
        ranked = [list(r) if isinstance(r, (list, tuple)) else [] for r in frame["retrieved_ids"]]
        relevant = [list(r) if isinstance(r, (list, tuple)) else [] for r in frame["relevant_ids"]]
        for k, hit, recall, n in retrieval_at_k(ranked, relevant, max_k):
            rows.append({"setup": setup, "k": k, "hit_at_k": hit, "recall_at_k": recall, "questions": n})
    return pd.DataFrame(rows, columns=["setup", "k", "hit_at_k", "recall_at_k", "questions"])


def retrieval_curves_figure(tables: Sequence[VariantTable], max_k: int | None = None) -> Figure:
    """Two panels, hit@k and recall@k over k, one line per retrieval setup; on a grid of more than ten setups the best
    ten (on hit@k at their largest k, then recall@k) are named and the others drawn as thin grey lines.

    Raises:
        WorkbenchError: no variant has labelled sources and rankings to draw.
    """
    curves = retrieval_curves(tables, max_k)
    if curves.empty or curves["questions"].max() == 0:
        raise WorkbenchError("cannot plot retrieval curves: no question has labelled source ids (relevant_ids)")
    groups = [(str(setup), curve) for setup, curve in curves.groupby("setup", sort=False)]
    named = _named_setups([setup for setup, _ in groups], {setup: _final(curve) for setup, curve in groups})
    others = len(groups) - len(named)
    entries = len(named) + (1 if others else 0)
    ncols = 1 if entries <= 5 else 2
    fig = _new_figure(9.6, 3.6 + 0.22 * math.ceil(entries / ncols))
    axes = fig.subplots(1, 2)
    for setup, curve in groups:
        shown = named.index(setup) if setup in named else None
        for ax, metric in zip(axes, ("hit_at_k", "recall_at_k")):
            if shown is None:  # one of many: a thin grey line, one legend entry for them all
                first_other = metric == "hit_at_k" and not any(h.get_label() == _OTHER_SETUPS for h in ax.get_lines())
                ax.plot(curve["k"], curve[metric], color="0.7", linewidth=0.8, zorder=1, label=_OTHER_SETUPS if first_other else None)
                continue
            ax.plot(curve["k"], curve[metric], marker=_MARKERS[shown % len(_MARKERS)], color=f"C{shown % 10}", zorder=2,
                    label=_literal(setup) if metric == "hit_at_k" else None)
    top = int(curves["k"].max())
    for ax, title in zip(axes, ("hit@k", "recall@k")):
        ax.set_xlabel("k (chunks retrieved)")
        ax.set_ylabel(title)
        ax.set_title(title)
        ax.set_xticks(range(1, top + 1))
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    best = f"; the best {len(named)} of {len(groups)} setups on hit@k named, {others} more in grey" if others else ""
    fig.suptitle(f"Retrieval over k per setup ({int(curves['questions'].max())} questions with labelled sources{best})", fontsize="medium")
    fig.legend(loc="outside lower center", fontsize="small", ncols=ncols, frameon=False)
    return fig


_OTHER_SETUPS = "other setups"


def _final(curve: pd.DataFrame) -> tuple[float, float]:
    """A setup's hit@k and recall@k at its largest k (NaN: no question scored there)."""
    last = curve.iloc[-1]
    return float(last["hit_at_k"]), float(last["recall_at_k"])


def _named_setups(setups: Sequence[str], finals: dict[str, tuple[float, float]]) -> list[str]:
    """The retrieval setups the plot names (pure), in their order: all of them when they fit, else the best
    ``_MAX_NAMED`` on hit@k at their largest k, then recall@k (ties in their order, unscored ones last). A legend line
    per setup left a 40-setup plot's panels no height, and past ten the colours and markers repeat."""
    if len(setups) <= _MAX_NAMED:
        return list(setups)
    def key(setup: str) -> tuple[float, float]:
        hit, recall = finals.get(setup, (math.nan, math.nan))
        return (math.inf if math.isnan(hit) else -hit, math.inf if math.isnan(recall) else -recall)
    best = set(sorted(setups, key=key)[:_MAX_NAMED])
    return [s for s in setups if s in best]


def all_figures(report: ComparisonView) -> dict[str, Figure]:
    """Every plot that the comparison's data supports (a plot without data is left out, not raised)."""
    figures: dict[str, Figure] = {}
    try:
        figures["metric_vs_cost"] = metric_vs_cost_figure(report)
    except WorkbenchError:
        pass
    try:
        figures["retrieval_curves"] = retrieval_curves_figure(report.variants)
    except WorkbenchError:
        pass
    return figures
