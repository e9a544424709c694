"""``wb.compare``: per metric, each variant's mean with a bootstrap interval, the paired difference to a baseline and a
verdict that says whether the difference is real.

The pieces live beside it: per-question values in ``_values``, the text and HTML in ``_render``, gates in ``_gates``,
per-question diffs in ``_diff``, the tables (and the runs they are read from) in ``_tables``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.comparison._diff import diff_questions, question_diff
from workbench.comparison._gates import GateFailure, gate_failures
from workbench.comparison._render import markdown_text, report_html, report_notes, summary_text
from workbench.comparison._routing import routing_table
from workbench.comparison._stats import (
    Interval, bootstrap_means, bootstrap_ratio, check_options, paired_bootstrap_ratio, paired_bootstraps, verdict,
)
from workbench.comparison._tables import (
    Loaded, Skipped, Source, VariantTable, default_seed, find_table, load_run, load_tables, retrieval_only_note,
)
from workbench.comparison._values import (
    MEASUREMENTS, OPT_IN, available_metrics, by_case, failed, finite, keyed_like, known_costs, numeric, paired_cases, recorded_higher_is_better,
    refuse_metadata, success_parts, text_in, unanswered_scorers, unknown_metric,
)
from workbench.errors import DataError, WorkbenchError
from workbench.metrics import COST_PER_SUCCESS, SUCCESS_METRIC, SUCCESS_THRESHOLD, scorer_entries
from workbench.results import SweepResult
from workbench.tracking import RegisteredRun, is_model_uri, registered_run, shown_uri, store_released

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["ComparisonReport", "GateFailure", "compare", "diff_questions"]

TABLE_COLUMNS = (
    "metric", "direction", "variant", "variant_id", "run_id", "is_baseline", "n", "mean", "mean_low", "mean_high",
    "diff", "diff_low", "diff_high", "n_paired", "verdict", "stopped_early",
)


# -- the report --------------------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-safe scalar: NaN (no value) becomes None, an infinity the string "Infinity" or "-Infinity" (as protobuf's
    JSON mapping writes it; ``float()`` reads it back), numpy scalars plain Python. An infinite cost per success (no
    answer succeeded) written as null read like a variant with no value at all."""
    import numpy as np

    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


@dataclass(frozen=True, eq=False)
class ComparisonReport:
    """What ``wb.compare`` returns: a tidy table of intervals and verdicts, plus the tables it was computed from.

    Attributes:
        table: one row per (metric, variant): ``mean`` with ``mean_low``/``mean_high`` (bootstrap interval over the
            variant's scored questions), ``diff`` with ``diff_low``/``diff_high`` (paired bootstrap interval of
            variant minus baseline over questions both scored, ``n_paired`` of them) and ``verdict``: better / worse
            / no detectable difference / not enough data (``baseline`` on the baseline's own rows). ``direction``
            says whether higher or lower is better. ``stopped_early`` says why a racing sweep stopped a variant before
            the last question (None for one that answered them all): its mean rests on fewer questions.
        baseline: the baseline variant's name.
        metrics: the metrics compared, in table order.
        variants: the per-question tables, baseline first.
        skipped: variants left out because they have no per-question results (failed runs).
        routing: one row per router and each of its models run alone in the same sweep (same prompt, chunker and
            retrieval): both costs per successful answer with intervals, the paired difference router minus model
            with its interval and verdict, and the router's escalation rate; None when the sweep has no such pair or
            costs are unknown.
        seed_note: why ``seed`` is 0 when no seed was given and the variants come from sweeps of different seeds
            (whose comparison.json each used its own); "" otherwise.
        routers_without_cost: the routers paired with a model alone whose cost per success is unknown (a model
            without a price): why ``routing`` is None, which the summary says.
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
    routing: pd.DataFrame | None = None
    seed_note: str = ""
    routers_without_cost: tuple[str, ...] = ()

    # -- reading ---------------------------------------------------------------------------------------------------

    def row(self, variant: str, metric: str) -> Mapping[str, Any]:
        """The table row of one variant (name, id or run id) and metric."""
        name = find_table(self.variants, variant).name
        rows = self.table[(self.table["variant"] == name) & (self.table["metric"] == metric)]
        if rows.empty:
            raise KeyError(f"metric '{metric}' is not in this comparison (metrics: {', '.join(self.metrics)})")
        return rows.iloc[0].to_dict()  # type: ignore[no-any-return]

    def verdict(self, variant: str, metric: str) -> str:
        """The verdict of ``variant`` against the baseline on ``metric``."""
        return str(self.row(variant, metric)["verdict"])

    def summary(self) -> str:
        """Plain-text report: one block per metric, one line per variant with its interval, difference and verdict."""
        return summary_text(self)

    def notes(self) -> list[str]:
        """The caveats the summary states besides its tables, one line each: the seed, many comparisons, racing stops,
        questions that failed, other questions than the baseline's, skipped variants."""
        return report_notes(self)

    def to_markdown(self) -> str:
        """GitHub-flavoured markdown (for a pull request): one table per metric, the report's notes beneath."""
        return markdown_text(self)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return report_html(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (logged as ``comparison.json`` on a sweep's parent run); NaN (no value) becomes null and an
        infinity (a cost per success with no successful answer) the string "Infinity" or "-Infinity"."""
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
            **({"routing": [{k: _plain(v) for k, v in row.items()} for row in self.routing.to_dict(orient="records")]}
               if self.routing is not None else {}),
        }

    # -- gates -----------------------------------------------------------------------------------------------------

    def gate(
        self,
        metrics: str | Sequence[str],
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        no_worse: bool = False,
    ) -> tuple[GateFailure, ...]:
        """Check every variant against thresholds; an empty result means the gate passes.

        A variant fails when its mean on a metric is below ``minimum`` or above ``maximum``, when it has no scored
        question for the metric, when (with ``no_worse``) its verdict against the baseline is "worse", when some of its
        questions failed (its means leave them out, as promotion's "every question answered" says), when racing stopped
        it early (its means rest on the questions before the stop; promotion refuses it too), when it ended FAILED or
        KILLED holding some answers (past its token or cost budget, stopped part way), or when it has no results at all
        (a failed run). With ``no_worse`` a variant that shares no scored question with the
        baseline (a baseline run evaluated on another dataset), or fewer than an interval needs (5 at 95%), fails
        too: nothing says it is no worse.

        Args:
            metrics: the metrics to check; one name is one metric.

        Raises:
            WorkbenchError: a metric is not part of this comparison.
        """
        named = [metrics] if isinstance(metrics, str) else list(dict.fromkeys(metrics))  # not its letters; each once
        return gate_failures(self, named, minimum=minimum, maximum=maximum, no_worse=no_worse)

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
        first = self.variants[0] if a is None else find_table(self.variants, a)
        return question_diff(first, find_table(self.variants, b), metric, threshold, only_flips)

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


def _default_baseline(tables: Sequence[VariantTable]) -> VariantTable:
    """The baseline when none is named (pure): the first variant that answered every question it asked, that racing
    did not stop early and that finished (not FAILED on a budget or KILLED part way), else the first that answered a question, else the first. Every difference is paired over the
    questions the baseline answered: a racing sweep whose first variant was stopped after a batch compared every other
    variant on that batch alone (10 of 2,000 questions), and against one whose every question failed no verdict is
    possible."""
    complete = (t for t in tables if t.answered and t.stopped_early is None and not t.ended and not failed(t.frame).any())
    return next(complete, None) or next((t for t in tables if t.answered), tables[0])


def _registered(baseline: str, loaded: Loaded) -> RegisteredRun | None:
    """The registered model version a ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` baseline names, read from the
    store the variants come from; None for a variant's name, id or run id.

    Raises:
        WorkbenchError: no store to read it from (tables given in memory), or no such model, alias or version.
    """
    if not is_model_uri(baseline):
        return None
    uri = loaded.tracking_uri
    if not uri or uri.startswith("memory:"):
        raise WorkbenchError(f"baseline '{baseline}' is read from the model registry of an MLflow store, and these variants come "
                             "from none — pass tracking_uri= (the store the model was promoted in), or the baseline's run id")
    return registered_run(baseline, tracking_uri=uri)


def _with_baseline(loaded: Loaded, baseline: str | None) -> tuple[VariantTable, ...]:
    tables = loaded.variants
    if baseline is None:
        first = _default_baseline(tables)
        return (first, *(t for t in tables if t is not first))
    registered = _registered(baseline, loaded)
    key = registered.run_id if registered is not None else baseline
    named = f"{baseline} ({registered.label}, run {key})" if registered is not None else key
    also_named = (baseline,) if registered is not None else ()
    try:
        found = find_table(tables, key)
    except WorkbenchError:
        left_out = next((s for s in loaded.skipped if s.matches(key)), None)
        if left_out is not None:  # not "no variant '<its run id>'": it is there, with nothing to compare against
            raise WorkbenchError(f"baseline '{left_out.name}' has no per-question results to compare ({left_out.reason.splitlines()[0]}) "
                                 "— pick a variant that answered questions") from None
        uri = loaded.tracking_uri
        outside = load_run(key, tracking_uri=uri) if uri and not uri.startswith("memory:") else None
        if outside is None and registered is not None:
            raise WorkbenchError(f"baseline {named}: the run is no longer in {shown_uri(uri or '')} (deleted for good) — promote a "
                                 "run that is, or give a run id as the baseline") from None
        if outside is None:
            raise
        if isinstance(outside, Skipped):  # it exists: "no variant" would send the user looking for a typo
            raise WorkbenchError(f"baseline run {named} ('{outside.name}') has no per-question results to compare against "
                                 f"({outside.reason}) — give a variant run that answered questions") from None
        # A run from another sweep (e.g. what is in production) compared against this sweep's variants.
        if registered is not None:
            label = f"{outside.name} ({registered.label})"
        else:
            label = f"{outside.name} (run {key[:8]})" if any(t.name == outside.name for t in tables) else outside.name
        return (VariantTable(label, outside.variant_id, outside.run_id, outside.frame, outside.chunker, outside.embedding,
                             outside.retrieval, outside.params, outside.stopped_early, outside.lower_is_better, outside=True,
                             also_named=also_named, ended=outside.ended), *tables)
    return (replace(found, also_named=also_named), *(t for t in tables if t is not found))


def _metric_rows(
    metric: str, tables: Sequence[VariantTable], intervals: Sequence[tuple[Interval, Interval]], *, confidence: float,
) -> list[dict[str, Any]]:
    """One row per variant: its mean and its paired difference to the baseline, with their ``intervals`` (as
    ``_intervals`` gives them). A metric the runs recorded as better low is so here too, registered or not."""
    better_high = recorded_higher_is_better(metric, tables)
    rows = []
    for table, (mean, diff) in zip(tables, intervals):
        is_base = table is tables[0]
        if is_base:
            diff = Interval(float("nan"), float("nan"), float("nan"), diff.n, confidence)
        rows.append({
            "metric": metric, "direction": "higher" if better_high else "lower", "variant": table.name, "variant_id": table.variant_id,
            "run_id": table.run_id, "is_baseline": is_base, "n": mean.n, "mean": mean.estimate, "mean_low": mean.low,
            "mean_high": mean.high, "diff": diff.estimate, "diff_low": diff.low, "diff_high": diff.high,
            "n_paired": diff.n, "verdict": "baseline" if is_base else verdict(diff, higher_is_better=better_high),
            "stopped_early": table.stopped_early.label if table.stopped_early is not None else None,
        })
    return rows


def _intervals(
    metric: str,
    tables: Sequence[VariantTable],
    frames: Sequence[pd.DataFrame],
    commons: Sequence[pd.Index],
    *,
    success_metric: str,
    success_threshold: float,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> list[tuple[Interval, Interval]]:
    """Per variant, the interval of its mean and of its paired difference to the baseline (the first frame); a mean
    metric's intervals are bootstrapped for every variant at once."""
    opts = {"n_resamples": n_resamples, "confidence": confidence, "seed": seed}
    base_frame = frames[0]
    if metric == COST_PER_SUCCESS:
        out = []
        higher = recorded_higher_is_better(success_metric, tables)
        b_cost, b_ok = success_parts(base_frame, success_metric, success_threshold, higher=higher)
        for table, frame, common in zip(tables, frames, commons):
            cost, ok = success_parts(frame, success_metric, success_threshold, higher=higher)
            cost = finite(cost, table.name, "cost_usd")
            mean = bootstrap_ratio(cost.tolist(), ok.tolist(), **opts)
            diff = paired_bootstrap_ratio(
                (b_cost[common].tolist(), b_ok[common].tolist()), (cost[common].tolist(), ok[common].tolist()), **opts
            )
            out.append((mean, diff))
        return out
    def measured(frame: pd.DataFrame) -> pd.Series:  # a cost known for only some answers is no mean cost (a router's)
        return known_costs(frame) if metric == "cost_usd" else numeric(frame, metric)

    values = [finite(measured(frame), table.name, metric) for table, frame in zip(tables, frames)]
    base_values = values[0]  # the baseline's (the first frame's), checked on its own row
    means = bootstrap_means([v.tolist() for v in values], **opts)
    diffs = paired_bootstraps([(base_values[common].tolist(), v[common].tolist()) for v, common in zip(values, commons)], **opts)
    return list(zip(means, diffs))


def _chosen_metrics(metrics: str | Sequence[str] | None, available: list[str], success_metric: str, note: str = "", *,
                    tables: Sequence[VariantTable] = ()) -> list[str]:
    """The metrics to compare: ``metrics`` (one name is one metric), or every available one. A scorer's metric that no
    value has because every question of ``tables`` failed is compared as one with nothing scored.

    Raises:
        WorkbenchError: no metric named, a metric not in the results, or a success metric that is not a score while
            cost per success is asked for (every answer would count as failed: infinite for every variant).
    """
    if metrics is None:
        # free models (local ones) cost 0 whatever they answer: each cost per success is 0, or 0/0 in a resample with no
        # success, which read "0.000 [-inf, inf]" against the baseline in every comparison of free models
        spent = any(bool((known_costs(t.frame) > 0).any()) for t in tables)
        chosen = [m for m in available if m != COST_PER_SUCCESS or spent]
    else:
        chosen = list(dict.fromkeys([metrics] if isinstance(metrics, str) else metrics))
        if not chosen:
            raise WorkbenchError(f"metrics is empty — name at least one, or leave it out for all: {', '.join(available)}")
        unknown = [m for m in chosen if m not in available and m not in OPT_IN]
        # with nothing scored at all, or nothing answered for a scorer, the report says so (and a gate on it fails)
        if unknown and available and not unanswered_scorers(unknown, tables):
            raise unknown_metric(unknown[0], available, note)
    if COST_PER_SUCCESS in chosen and available and success_metric not in available:
        if metrics is None and success_metric == SUCCESS_METRIC:  # a sweep that does not score token_f1: left out
            return [m for m in chosen if m != COST_PER_SUCCESS]
        scores = [m for m in available if m not in (COST_PER_SUCCESS, *MEASUREMENTS)]
        raise WorkbenchError(f"success_metric '{success_metric}' is not a score in the results — available: {', '.join(scores)}")
    return chosen


def compare(
    runs_or_result: Source,
    baseline: str | None = None,
    metrics: str | Sequence[str] | None = None,
    seed: int | None = None,
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
    ``cost_per_success_usd`` (total cost / answers with ``success_metric >= success_threshold``, ``<=`` for a
    lower-is-better one) is compared when costs are known. A router variant is also put next to each of its models
    run alone in the same sweep: both costs per successful answer with intervals and the paired difference
    (``report.routing``). Deterministic given ``seed``.

    Args:
        runs_or_result: a ``SweepResult`` (from ``wb.run``); an MLflow experiment name (its latest sweep); a sweep's
            parent run id; variant run ids; or a mapping of variant name to per-question DataFrame.
        baseline: the variant to compare against — a variant id, name or run id, or its name shortened as the report
            shows it (``good|k2-similarity``) when no other variant has those parts; a run outside the sweep works too,
            e.g. what is in production: ``models:/NAME@ALIAS`` (the run promoted to the alias) or ``models:/NAME/VERSION``
            (the run the version was registered from), read from the variants' store; default: the first variant that answered every question it asked and
            that racing did not stop early (differences are paired over the baseline's questions), else the first
            that answered a question (against one whose every question failed, every verdict would read "not enough
            data").
        metrics: metrics to compare (default: every score present, then latency_s, output_tokens, cost_usd and
            cost_per_success_usd when costs are known).
        seed: seed of the bootstrap resampling (default: the seed of the sweep the variants come from — a sweep, its
            variant runs or its VariantResults — the one its ``comparison.json`` used, so both give the same intervals;
            else 0, which ``report.seed_note`` explains for variants of sweeps of different seeds).
        n_resamples: bootstrap resamples per interval.
        confidence: the intervals' coverage.
        success_metric: what makes an answer successful for ``cost_per_success_usd``.
        success_threshold: the value ``success_metric`` must reach.
        tracking_uri: the MLflow store to read runs from (default: the project's store, or the sweep's).

    Returns:
        A ``ComparisonReport``: ``.table`` (tidy DataFrame), ``.summary()``, rich display in notebooks, ``.diff()``,
        ``.gate()`` and plots.

    Raises:
        WorkbenchError: unknown experiment, run, baseline or metric, nothing to compare, or the store could not be read.
    """
    import pandas as pd

    try:
        check_options(confidence=confidence, n_resamples=n_resamples, seed=0 if seed is None else seed)
    except ValueError as exc:
        raise WorkbenchError(str(exc)) from None
    # what the comparison reads from the store, read now; the store's connections let go of once read (a kernel compares
    # in project after project)
    from workbench.config import settings

    read = tracking_uri or (runs_or_result.tracking_uri if isinstance(runs_or_result, SweepResult) else settings().tracking_uri)
    with store_released(read):
        loaded = load_tables(runs_or_result, tracking_uri=tracking_uri)
        seed, seed_note = default_seed(runs_or_result, loaded) if seed is None else (seed, "")
    tables = _with_baseline(loaded, baseline)
    named = [metrics] if isinstance(metrics, str) else list(metrics or (*scorer_entries(), *MEASUREMENTS, *OPT_IN))
    refuse_metadata(named)
    where = text_in(tables, named)
    if where:
        raise DataError(f"{where} — per-question values must be numbers (None or NaN for a question that was not scored)")
    chosen = _chosen_metrics(metrics, available_metrics(tables), success_metric, retrieval_only_note(tables), tables=tables)
    frames = [by_case(t) for t in tables]
    frames = [frames[0], *(keyed_like(frames[0], f) for f in frames[1:])]
    commons = [paired_cases(frames[0], f) for f in frames]
    rows: list[dict[str, Any]] = []
    for metric in chosen:
        intervals = _intervals(metric, tables, frames, commons, success_metric=success_metric,
                               success_threshold=success_threshold, n_resamples=n_resamples, confidence=confidence, seed=seed)
        rows.extend(_metric_rows(metric, tables, intervals, confidence=confidence))
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    routing = routing_table(
        tables, success_metric=success_metric, success_threshold=success_threshold, n_resamples=n_resamples,
        confidence=confidence, seed=seed,
    )
    return ComparisonReport(
        table=table, baseline=tables[0].name, metrics=tuple(chosen), variants=tables, skipped=loaded.skipped,
        confidence=confidence, n_resamples=n_resamples, seed=seed, success_metric=success_metric,
        success_threshold=success_threshold, parent_run_id=loaded.parent_run_id, seed_note=seed_note,
        routing=routing if len(routing) and routing["router_cost_per_success"].notna().any() else None,
        routers_without_cost=tuple(dict.fromkeys(routing["router"])) if len(routing) and routing["router_cost_per_success"].isna().all() else (),
    )
