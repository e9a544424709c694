"""``wb.compare``: per metric, each variant's mean with a bootstrap interval, the paired difference to a baseline and a
verdict that says whether the difference is real; per-question diffs; gates for CI."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workbench.comparison._metrics import (
    COST_PER_SUCCESS,
    SUCCESS_METRIC,
    SUCCESS_THRESHOLD,
    direction,
    passes,
)
from workbench.comparison._stats import Interval, bootstrap_mean, bootstrap_ratio, paired_bootstrap, paired_bootstrap_ratio, verdict
from workbench.comparison._tables import Loaded, Skipped, Source, VariantTable, load_run, load_tables
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["ComparisonReport", "GateFailure", "compare", "diff_questions"]

# Per-question columns that are not measurements of the answer.
_META = frozenset({"case_id", "category", "question", "reference", "answer", "relevant_ids", "retrieved_ids", "contexts", "error"})
# Measurements compared by default, after the scores; ``input_tokens`` is comparable when asked for.
_MEASUREMENTS = ("latency_s", "output_tokens", "cost_usd")
_OPT_IN = ("input_tokens",)
# Measurements of a question that failed mean nothing (its latency is the time to fail).
_ERROR_MASKED = ("latency_s", "input_tokens", "output_tokens")

TABLE_COLUMNS = (
    "metric", "direction", "variant", "variant_id", "run_id", "is_baseline", "n", "mean", "mean_low", "mean_high",
    "diff", "diff_low", "diff_high", "n_paired", "verdict",
)

Change = Literal["gained", "lost", "unchanged", "not scored"]


@dataclass(frozen=True)
class GateFailure:
    """One reason a gate failed: which variant, which metric, what is wrong."""

    variant: str
    metric: str
    message: str

    def __str__(self) -> str:
        return f"FAIL {self.variant}: {self.metric} {self.message}" if self.metric else f"FAIL {self.variant}: {self.message}"


# -- per-question values ---------------------------------------------------------------------------------------------


def _frame(table: VariantTable) -> pd.DataFrame:
    return table.frame.drop_duplicates("case_id").set_index("case_id", drop=False)


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    import pandas as pd

    if column not in frame.columns:
        return pd.Series(float("nan"), index=frame.index, dtype=float)
    values = pd.to_numeric(frame[column], errors="coerce").astype(float)
    if column in _ERROR_MASKED and "error" in frame.columns:
        values = values.where(frame["error"].isna())
    return values


def _cost_known(frame: pd.DataFrame) -> bool:
    """Every question that was answered has a cost (a model with no price leaves it missing, never zero)."""
    if "cost_usd" not in frame.columns:
        return False
    costs = frame["cost_usd"][frame["error"].isna()] if "error" in frame.columns else frame["cost_usd"]
    return len(costs) > 0 and bool(costs.notna().all())


def _success_parts(frame: pd.DataFrame, success_metric: str, threshold: float) -> tuple[pd.Series, pd.Series]:
    """(cost, 1.0 if the answer succeeded else 0.0) per question; every cost NaN when costs are unknown."""
    cost = _numeric(frame, "cost_usd")
    if not _cost_known(frame):
        cost = cost * float("nan")
    quality = _numeric(frame, success_metric)
    success = (quality >= threshold).astype(float)
    return cost, success


def _score_columns(frame: pd.DataFrame) -> list[str]:
    import pandas as pd

    out = []
    for column in frame.columns:
        if column in _META or column in _MEASUREMENTS or column in _OPT_IN:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.notna().any() and (frame[column].isna() | values.notna()).all():
            out.append(str(column))
    return out


def _available(tables: Sequence[VariantTable]) -> list[str]:
    scores: list[str] = []
    for t in tables:
        scores.extend(c for c in _score_columns(t.frame) if c not in scores)
    measured = [m for m in _MEASUREMENTS if any(m in t.frame.columns and _numeric(t.frame, m).notna().any() for t in tables)]
    if "cost_usd" in measured and not any(_cost_known(t.frame) for t in tables):
        measured.remove("cost_usd")
    extra = [COST_PER_SUCCESS] if "cost_usd" in measured else []
    return scores + measured + extra


# -- the report --------------------------------------------------------------------------------------------------------


def _fmt(x: float, small: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.2e}" if (small or (x != 0 and abs(x) < 0.001)) else f"{x:.3f}"


def _interval_text(estimate: float, low: float, high: float) -> str:
    """``estimate [low, high]`` on one scale: scientific when every finite value is below 0.01 (costs)."""
    if estimate is None or (isinstance(estimate, float) and math.isnan(estimate)):
        return "—"
    finite = [abs(v) for v in (estimate, low, high) if v is not None and math.isfinite(v)]
    small = bool(finite) and 0 < max(finite) < 0.01
    return f"{_fmt(estimate, small)} [{_fmt(low, small)}, {_fmt(high, small)}]"


def _plain(value: Any) -> Any:
    """A JSON-safe scalar: NaN and infinities become None, numpy scalars plain Python."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True, eq=False)
class ComparisonReport:
    """What ``wb.compare`` returns: a tidy table of intervals and verdicts, plus the tables it was computed from.

    Attributes:
        table: one row per (metric, variant): ``mean`` with ``mean_low``/``mean_high`` (bootstrap interval over the
            variant's scored questions), ``diff`` with ``diff_low``/``diff_high`` (paired bootstrap interval of
            variant minus baseline over questions both scored, ``n_paired`` of them) and ``verdict``: better / worse
            / no detectable difference / not enough data (``baseline`` on the baseline's own rows). ``direction``
            says whether higher or lower is better.
        baseline: the baseline variant's name.
        metrics: the metrics compared, in table order.
        variants: the per-question tables, baseline first.
        skipped: variants left out because they have no per-question results (failed runs).
    """

    table: pd.DataFrame
    baseline: str
    metrics: tuple[str, ...]
    variants: tuple[VariantTable, ...] = field(repr=False)
    skipped: tuple[Skipped, ...] = ()
    confidence: float = 0.95
    n_resamples: int = 2000
    seed: int = 0
    success_metric: str = SUCCESS_METRIC
    success_threshold: float = SUCCESS_THRESHOLD
    parent_run_id: str | None = None

    # -- reading ---------------------------------------------------------------------------------------------------

    def row(self, variant: str, metric: str) -> Mapping[str, Any]:
        """The table row of one variant (name, id or run id) and metric."""
        name = _find(self.variants, variant).name
        rows = self.table[(self.table["variant"] == name) & (self.table["metric"] == metric)]
        if rows.empty:
            raise KeyError(f"metric '{metric}' is not in this comparison (metrics: {', '.join(self.metrics)})")
        return rows.iloc[0].to_dict()  # type: ignore[no-any-return]

    def verdict(self, variant: str, metric: str) -> str:
        """The verdict of ``variant`` against the baseline on ``metric``."""
        return str(self.row(variant, metric)["verdict"])

    def summary(self) -> str:
        """Plain-text report: one block per metric, one line per variant with its interval, difference and verdict."""
        pct = f"{self.confidence:.0%}"
        lines = [
            f"Baseline: {self.baseline}",
            f"{pct} bootstrap intervals over questions ({self.n_resamples} resamples, seed {self.seed}); differences "
            "are paired by question (variant minus baseline).",
        ]
        width = max(len(v.name) for v in self.variants)
        for metric in self.metrics:
            rows = self.table[self.table["metric"] == metric]
            if rows.empty:
                continue
            note = f", success = {self.success_metric} >= {self.success_threshold:g}" if metric == COST_PER_SUCCESS else ""
            lines.append("")
            lines.append(f"{metric} ({rows.iloc[0]['direction']} is better{note})")
            for r in rows.itertuples():
                mean = _interval_text(r.mean, r.mean_low, r.mean_high)
                if r.is_baseline:
                    lines.append(f"  {r.variant:<{width}}  {mean:<30} n={r.n:<4} baseline")
                else:
                    diff = _interval_text(r.diff, r.diff_low, r.diff_high)
                    lines.append(f"  {r.variant:<{width}}  {mean:<30} n={r.n:<4} diff {diff:<30} n={r.n_paired:<4} {r.verdict}")
        for s in self.skipped:
            lines.append(f"skipped {s.name}: {s.reason}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        colours = {"better": "#1a7f37", "worse": "#cf222e", "baseline": "#57606a"}
        head = "".join(f"<th>{h}</th>" for h in ("metric", "variant", "mean [CI]", "n", "Δ vs baseline [CI]", "paired n", "verdict"))
        body = []
        for r in self.table.itertuples():
            colour = colours.get(r.verdict, "inherit")
            diff = "" if r.is_baseline else _interval_text(r.diff, r.diff_low, r.diff_high)
            cells = (
                f"{html.escape(r.metric)} <small>({r.direction} better)</small>", html.escape(r.variant),
                _interval_text(r.mean, r.mean_low, r.mean_high), str(r.n), diff, "" if r.is_baseline else str(r.n_paired),
                f'<b style="color:{colour}">{html.escape(r.verdict)}</b>',
            )
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        skipped = "".join(f"<p>skipped {html.escape(s.name)}: {html.escape(s.reason)}</p>" for s in self.skipped)
        return (
            f"<div><p>Baseline: <b>{html.escape(self.baseline)}</b> — {self.confidence:.0%} bootstrap intervals over "
            f"questions ({self.n_resamples} resamples, seed {self.seed}), differences paired by question.</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{skipped}</div>"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (logged as ``comparison.json`` on a sweep's parent run); NaN and infinities become null."""
        rows = [{k: _plain(v) for k, v in row.items()} for row in self.table.to_dict(orient="records")]
        return {
            "baseline": self.baseline,
            "confidence": self.confidence,
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "success": {"metric": self.success_metric, "threshold": self.success_threshold},
            "metrics": list(self.metrics),
            "skipped": [{"variant": s.name, "reason": s.reason} for s in self.skipped],
            "rows": rows,
        }

    # -- gates -----------------------------------------------------------------------------------------------------

    def gate(
        self,
        metrics: Sequence[str],
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        no_worse: bool = False,
    ) -> tuple[GateFailure, ...]:
        """Check every variant against thresholds; an empty result means the gate passes.

        A variant fails when its mean on a metric is below ``minimum`` or above ``maximum``, when it has no scored
        question for the metric, when (with ``no_worse``) its verdict against the baseline is "worse", or when it
        has no results at all (a failed run).

        Raises:
            WorkbenchError: a metric is not part of this comparison.
        """
        unknown = [m for m in metrics if m not in self.metrics]
        if unknown:
            raise WorkbenchError(f"metric '{unknown[0]}' is not in the results — available: {', '.join(self.metrics)}")
        failures = [GateFailure(s.name, "", f"no results ({s.reason})") for s in self.skipped]
        for metric in metrics:
            for r in self.table[self.table["metric"] == metric].itertuples():
                if math.isnan(r.mean):
                    failures.append(GateFailure(r.variant, metric, "has no scored question"))
                    continue
                if minimum is not None and r.mean < minimum:
                    failures.append(GateFailure(r.variant, metric, f"mean {_fmt(r.mean)} is below the minimum {minimum:g}"))
                if maximum is not None and r.mean > maximum:
                    failures.append(GateFailure(r.variant, metric, f"mean {_fmt(r.mean)} is above the maximum {maximum:g}"))
                if no_worse and r.verdict == "worse":
                    failures.append(GateFailure(
                        r.variant, metric,
                        f"is worse than baseline '{self.baseline}': diff {_interval_text(r.diff, r.diff_low, r.diff_high)}",
                    ))
        return tuple(failures)

    # -- per question, retrieval, plots ----------------------------------------------------------------------------

    def diff(
        self,
        a: str | None,
        b: str,
        *,
        metric: str = SUCCESS_METRIC,
        threshold: float = SUCCESS_THRESHOLD,
        only_flips: bool = True,
    ) -> pd.DataFrame:
        """Per-question diff of variants ``a`` (None: the baseline) and ``b``; see ``diff_questions``."""
        first = self.variants[0] if a is None else _find(self.variants, a)
        return _question_diff(first, _find(self.variants, b), metric, threshold, only_flips)

    def retrieval_curves(self, max_k: int | None = None) -> pd.DataFrame:
        """Hit rate and recall at each k = 1..K per retrieval setup, from the logged rankings (no re-run)."""
        from workbench.comparison._plots import retrieval_curves

        return retrieval_curves(self.variants, max_k)

    def plot_metric_vs_cost(self, metrics: Sequence[str] | None = None, cost: str | None = None) -> Figure:
        """Quality against cost (or latency when nothing costs money), with interval error bars on both axes."""
        from workbench.comparison._plots import metric_vs_cost_figure

        return metric_vs_cost_figure(self, metrics, cost)

    def plot_retrieval_curves(self, max_k: int | None = None) -> Figure:
        """hit@k and recall@k over k, one line per retrieval setup (chunker, embedding, retrieval)."""
        from workbench.comparison._plots import retrieval_curves_figure

        return retrieval_curves_figure(self.variants, max_k)

    def plots(self) -> dict[str, Figure]:
        """Every plot this comparison can draw, by name (``metric_vs_cost``, ``retrieval_curves``)."""
        from workbench.comparison._plots import all_figures

        return all_figures(self)

    def save_plots(self, folder: str | Path) -> list[Path]:
        """Write every plot as ``<folder>/<name>.png``; returns the paths."""
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, fig in self.plots().items():
            path = target / f"{name}.png"
            fig.savefig(path, dpi=120)
            paths.append(path)
        return paths


# -- building it -------------------------------------------------------------------------------------------------------


def _find(tables: Sequence[VariantTable], key: str) -> VariantTable:
    exact = [t for t in tables if t.matches(key)]
    if exact:
        return exact[0]
    prefixed = [t for t in tables if (t.run_id or "").startswith(key) or t.variant_id.startswith(key)]
    if len(prefixed) == 1:
        return prefixed[0]
    names = "; ".join(t.name for t in tables)
    raise WorkbenchError(f"no variant '{key}' to compare (a variant id, name or run id) — variants: {names}")


def _with_baseline(loaded: Loaded, baseline: str | None) -> tuple[VariantTable, ...]:
    tables = loaded.variants
    if baseline is None:
        return tables
    try:
        base = _find(tables, baseline)
    except WorkbenchError:
        uri = loaded.tracking_uri
        outside = load_run(baseline, tracking_uri=uri) if uri and not uri.startswith("memory:") else None
        if outside is None:
            raise
        # A run from another sweep (e.g. what is in production) compared against this sweep's variants.
        label = f"{outside.name} (run {baseline[:8]})" if any(t.name == outside.name for t in tables) else outside.name
        return (VariantTable(label, outside.variant_id, outside.run_id, outside.frame, outside.chunker, outside.embedding, outside.retrieval), *tables)
    return (base, *(t for t in tables if t is not base))


def _metric_rows(
    metric: str,
    tables: Sequence[VariantTable],
    frames: Sequence[pd.DataFrame],
    *,
    success_metric: str,
    success_threshold: float,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> list[dict[str, Any]]:
    opts = {"n_resamples": n_resamples, "confidence": confidence, "seed": seed}
    better_high = direction(metric) == "higher"
    base_frame = frames[0]
    rows = []
    for table, frame in zip(tables, frames):
        is_base = table is tables[0]
        common = base_frame.index.intersection(frame.index, sort=False)
        if metric == COST_PER_SUCCESS:
            cost, ok = _success_parts(frame, success_metric, success_threshold)
            mean = bootstrap_ratio(cost.tolist(), ok.tolist(), **opts)
            b_cost, b_ok = _success_parts(base_frame, success_metric, success_threshold)
            diff = paired_bootstrap_ratio(
                (b_cost[common].tolist(), b_ok[common].tolist()), (cost[common].tolist(), ok[common].tolist()), **opts
            )
        else:
            values = _numeric(frame, metric)
            base_values = _numeric(base_frame, metric)
            mean = bootstrap_mean(values.tolist(), **opts)
            diff = paired_bootstrap(base_values[common].tolist(), values[common].tolist(), **opts)
        if is_base:
            diff = Interval(float("nan"), float("nan"), float("nan"), diff.n, confidence)
        rows.append({
            "metric": metric, "direction": direction(metric), "variant": table.name, "variant_id": table.variant_id,
            "run_id": table.run_id, "is_baseline": is_base, "n": mean.n, "mean": mean.estimate, "mean_low": mean.low,
            "mean_high": mean.high, "diff": diff.estimate, "diff_low": diff.low, "diff_high": diff.high,
            "n_paired": diff.n, "verdict": "baseline" if is_base else verdict(diff, higher_is_better=better_high),
        })
    return rows


def compare(
    runs_or_result: Source,
    baseline: str | None = None,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    n_resamples: int = 2000,
    *,
    confidence: float = 0.95,
    success_metric: str = SUCCESS_METRIC,
    success_threshold: float = SUCCESS_THRESHOLD,
    tracking_uri: str | None = None,
) -> ComparisonReport:
    """Compare variants question by question and say which differences are real.

    For each metric: each variant's mean with a bootstrap confidence interval over its scored questions, and the
    paired difference to the baseline (resampling the questions both scored, paired by ``case_id``) with its
    interval. An interval that excludes zero in the metric's good direction is "better" (or "worse"); one that
    straddles zero is "no detectable difference". Lower is better for latency, cost, tokens and false refusals.
    ``cost_per_success_usd`` (total cost / answers with ``success_metric >= success_threshold``) is compared when
    costs are known. Deterministic given ``seed``.

    Args:
        runs_or_result: a ``SweepResult`` (from ``wb.run``); an MLflow experiment name (its latest sweep); a sweep's
            parent run id; variant run ids; or a mapping of variant name to per-question DataFrame.
        baseline: the variant to compare against — a variant id, name or run id (a run outside the sweep works
            too, e.g. the production variant); default: the first variant.
        metrics: metrics to compare (default: every score present, then latency_s, output_tokens, cost_usd and
            cost_per_success_usd when costs are known).
        seed: seed of the bootstrap resampling.
        n_resamples: bootstrap resamples per interval.
        confidence: the intervals' coverage.
        success_metric: what makes an answer successful for ``cost_per_success_usd``.
        success_threshold: the value ``success_metric`` must reach.
        tracking_uri: the MLflow store to read runs from (default: the project's store, or the sweep's).

    Returns:
        A ``ComparisonReport``: ``.table`` (tidy DataFrame), ``.summary()``, rich display in notebooks, ``.diff()``,
        ``.gate()`` and plots.

    Raises:
        WorkbenchError: unknown experiment, run, baseline or metric, or nothing to compare.
    """
    import pandas as pd

    if n_resamples < 1:
        raise WorkbenchError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0 < confidence < 1:
        raise WorkbenchError(f"confidence must be between 0 and 1, got {confidence}")
    loaded = load_tables(runs_or_result, tracking_uri=tracking_uri)
    tables = _with_baseline(loaded, baseline)
    available = _available(tables)
    if metrics is None:
        chosen = available
    else:
        chosen = list(dict.fromkeys(metrics))
        unknown = [m for m in chosen if m not in available and m not in _OPT_IN]
        if unknown:
            raise WorkbenchError(f"metric '{unknown[0]}' is not in the results — available: {', '.join(available)}")
    frames = [_frame(t) for t in tables]
    rows: list[dict[str, Any]] = []
    for metric in chosen:
        rows.extend(_metric_rows(
            metric, tables, frames, success_metric=success_metric, success_threshold=success_threshold,
            n_resamples=n_resamples, confidence=confidence, seed=seed,
        ))
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    return ComparisonReport(
        table=table, baseline=tables[0].name, metrics=tuple(chosen), variants=tables, skipped=loaded.skipped,
        confidence=confidence, n_resamples=n_resamples, seed=seed, success_metric=success_metric,
        success_threshold=success_threshold, parent_run_id=loaded.parent_run_id,
    )


# -- per-question diff -------------------------------------------------------------------------------------------------


def _question_diff(a: VariantTable, b: VariantTable, metric: str, threshold: float, only_flips: bool) -> pd.DataFrame:
    import pandas as pd

    fa, fb = _frame(a), _frame(b)
    if metric not in fa.columns and metric not in fb.columns:
        raise WorkbenchError(f"metric '{metric}' is in neither '{a.name}' nor '{b.name}' — available: {', '.join(_available([a, b]))}")
    common = fa.index.intersection(fb.index, sort=False)
    va, vb = _numeric(fa, metric)[common], _numeric(fb, metric)[common]
    rows = []
    for case_id in common:
        x, y = va[case_id], vb[case_id]
        change: Change
        if math.isnan(x) or math.isnan(y):
            change = "not scored"
        else:
            pa, pb = passes(x, metric, threshold), passes(y, metric, threshold)
            change = "gained" if (pb and not pa) else ("lost" if (pa and not pb) else "unchanged")
        if only_flips and change not in ("gained", "lost"):
            continue
        ra, rb = fa.loc[case_id], fb.loc[case_id]
        rows.append({
            "case_id": case_id, "category": ra.get("category"), "question": ra.get("question"), "reference": ra.get("reference"),
            "change": change, f"{metric}_a": x, f"{metric}_b": y,
            "answer_a": ra.get("answer"), "answer_b": rb.get("answer"),
            "retrieved_ids_a": ra.get("retrieved_ids"), "retrieved_ids_b": rb.get("retrieved_ids"),
            "relevant_ids": ra.get("relevant_ids"),
            "contexts_a": ra.get("contexts"), "contexts_b": rb.get("contexts"),
        })
    columns = [
        "case_id", "category", "question", "reference", "change", f"{metric}_a", f"{metric}_b", "answer_a", "answer_b",
        "retrieved_ids_a", "retrieved_ids_b", "relevant_ids", "contexts_a", "contexts_b",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame.attrs.update({"a": a.name, "b": b.name, "metric": metric, "threshold": threshold})
    return frame


def diff_questions(
    runs_or_result: Source,
    a: str | None,
    b: str,
    *,
    metric: str = SUCCESS_METRIC,
    threshold: float = SUCCESS_THRESHOLD,
    only_flips: bool = True,
    tracking_uri: str | None = None,
) -> pd.DataFrame:
    """Which questions flipped between two variants on a metric, with both answers and contexts side by side.

    A question passes when its value clears ``threshold`` in the metric's good direction (``>=`` for scores,
    ``<=`` for lower-is-better metrics such as false_refusal). "gained": ``b`` passes where ``a`` did not; "lost":
    the reverse. Only questions both variants answered are compared.

    Args:
        runs_or_result: anything ``wb.compare`` accepts.
        a: the reference variant (id, name or run id); None for the first variant.
        b: the variant to diff against ``a``.
        metric: the per-question metric to threshold (e.g. ``token_f1``, ``hit_at_k``).
        threshold: the pass mark.
        only_flips: keep only gained/lost questions; False keeps every common question with its ``change``
            (gained, lost, unchanged, not scored).
        tracking_uri: the MLflow store to read runs from.

    Returns:
        One row per question: case_id, category, question, reference, change, ``<metric>_a``, ``<metric>_b``,
        answers, retrieved ids, relevant ids and contexts of both (``frame.attrs`` names ``a`` and ``b``).
    """
    loaded = load_tables(runs_or_result, tracking_uri=tracking_uri)
    first = loaded.variants[0] if a is None else _find(loaded.variants, a)
    return _question_diff(first, _find(loaded.variants, b), metric, threshold, only_flips)
