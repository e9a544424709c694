"""Comparison plots (matplotlib, object API: no pyplot state, safe off the main thread, rendered by Agg).

Figures are returned for inline display; in IPython a PNG formatter for ``Figure`` is registered if none is, so a
figure shows as an image even when pyplot was never imported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench.comparison._metrics import direction, retrieval_at_k
from workbench.comparison._render import confidence_text
from workbench.comparison._tables import VariantTable
from workbench.errors import WorkbenchError

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
        quality = [m for m in report.metrics if direction(m) == "higher"][:1]
    x_metric = cost or _cost_axis(report)
    missing = [m for m in (*quality, x_metric) if m is None or m not in report.metrics]
    if not quality or missing:
        raise WorkbenchError(f"cannot plot metric vs cost: '{missing[0] if missing else 'quality'}' is not in the comparison")
    assert x_metric is not None
    from matplotlib.ticker import MaxNLocator

    fig = _new_figure(4.8 * len(quality), 4.4)
    axes = fig.subplots(1, len(quality), squeeze=False)[0]
    names = [v.name for v in report.variants]
    colours = [f"C{i % 10}" for i in range(len(names))]
    for panel, (ax, metric) in enumerate(zip(axes, quality)):
        for i, name in enumerate(names):
            x, y = report.row(name, x_metric), report.row(name, metric)
            if math.isnan(x["mean"]) or math.isnan(y["mean"]):
                continue
            label = f"{'★ ' if i == 0 else ''}{_literal(name)}" if panel == 0 else None
            ax.errorbar(
                x["mean"], y["mean"], xerr=_errors(x["mean"], x["mean_low"], x["mean_high"]),
                yerr=_errors(y["mean"], y["mean_low"], y["mean_high"]), fmt=_MARKERS[i % len(_MARKERS)],
                color=colours[i], ecolor=colours[i], capsize=3, markersize=9 if i == 0 else 7, label=label,
            )
        unit = " (USD per question)" if x_metric == "cost_usd" else (" (s per question)" if x_metric == "latency_s" else " per question")
        ax.set_xlabel(f"{x_metric}{unit} — {direction(x_metric)} is better")
        ax.set_ylabel(f"{metric} — {direction(metric)} is better")
        ax.set_title(f"{metric} vs {x_metric}")
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.grid(alpha=0.3)
    fig.suptitle(f"Quality vs cost, {confidence_text(report.confidence)} bootstrap intervals (★ baseline)", fontsize="medium")
    fig.legend(loc="outside lower center", fontsize="small", ncols=1 if len(names) > 4 else 2, frameon=False)
    return fig


def retrieval_curves(tables: Sequence[VariantTable], max_k: int | None = None) -> pd.DataFrame:
    """hit@k and recall@k for k = 1..K, one curve per retrieval setup, from each variant's logged ranking.

    Variants that share chunker, embedding and retrieval settings retrieve the same chunks, so each setup is read
    from its first variant. Tables without ``retrieved_ids``/``relevant_ids`` columns are skipped.

    Returns:
        Tidy frame: setup, k, hit_at_k, recall_at_k, questions.
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for table in tables:
        frame = table.frame
        setup = table.retrieval_setup
        if setup in seen or not {"retrieved_ids", "relevant_ids"} <= set(frame.columns):
            continue
        seen.add(setup)
        ranked = [list(r) if isinstance(r, (list, tuple)) else [] for r in frame["retrieved_ids"]]
        relevant = [list(r) if isinstance(r, (list, tuple)) else [] for r in frame["relevant_ids"]]
        for k, hit, recall, n in retrieval_at_k(ranked, relevant, max_k):
            rows.append({"setup": setup, "k": k, "hit_at_k": hit, "recall_at_k": recall, "questions": n})
    return pd.DataFrame(rows, columns=["setup", "k", "hit_at_k", "recall_at_k", "questions"])


def retrieval_curves_figure(tables: Sequence[VariantTable], max_k: int | None = None) -> Figure:
    """Two panels, hit@k and recall@k over k, one line per retrieval setup.

    Raises:
        WorkbenchError: no variant has labelled sources and rankings to draw.
    """
    curves = retrieval_curves(tables, max_k)
    if curves.empty or curves["questions"].max() == 0:
        raise WorkbenchError("cannot plot retrieval curves: no question has labelled source ids (relevant_ids)")
    fig = _new_figure(9.6, 4.4)
    axes = fig.subplots(1, 2)
    for i, (setup, curve) in enumerate(curves.groupby("setup", sort=False)):
        for ax, metric in zip(axes, ("hit_at_k", "recall_at_k")):
            ax.plot(curve["k"], curve[metric], marker=_MARKERS[i % len(_MARKERS)], color=f"C{i % 10}", label=_literal(str(setup)) if metric == "hit_at_k" else None)
    top = int(curves["k"].max())
    for ax, title in zip(axes, ("hit@k", "recall@k")):
        ax.set_xlabel("k (chunks retrieved)")
        ax.set_ylabel(title)
        ax.set_title(title)
        ax.set_xticks(range(1, top + 1))
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    fig.suptitle(f"Retrieval over k per setup ({int(curves['questions'].max())} questions with labelled sources)", fontsize="medium")
    fig.legend(loc="outside lower center", fontsize="small", ncols=1, frameon=False)
    return fig


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
