"""Comparing variants: bootstrap intervals over questions and verdicts that say whether a difference is real; the
gates, racing decisions, per-question diffs and plots that rest on them.

Where each part lives:

    _stats      bootstrap intervals, paired differences and verdicts (pure, deterministic given a seed)
    _retrieval  retrieval at each k (which way a metric is better and cost per success live in ``workbench.metrics``)
    _tables     the per-question tables compared: from a SweepResult, VariantResults, DataFrames or logged runs
    _values     a table's per-question values: which columns are scores, measurements masked by errors
    _compare    ``compare`` and ``ComparisonReport``: per metric, each variant against a baseline
    _view       what the text, HTML, gates and plots read of a comparison (a protocol ``ComparisonReport`` meets)
    _render     how a comparison reads: numbers, intervals, the plain-text summary, the notebook's HTML table
    _gates      ``check_metric``: a variant's metric against a minimum, a maximum and the baseline (CI and promotion)
    _routing    a router next to each of its models alone: cost per success and the paired difference
    _diff       ``diff_questions``: the questions that flipped between two variants, both answers side by side
    _retry      ``rerun_advice``: whether failed questions would fail again on a re-run, and what mends them first
    _racing     which variants stop early, already clearly worse than the leader (pure)
    _plots      metric-versus-cost and retrieval-at-k figures (matplotlib's object API)
    _sweep      the comparison every sweep carries, which the tracker logs on the sweep's parent run
"""

from workbench.comparison._compare import ComparisonReport, compare
from workbench.comparison._diff import diff_questions
from workbench.comparison._gates import Breach, GateFailure, check_metric
from workbench.comparison._plots import metric_vs_cost_figure, retrieval_curves, retrieval_curves_figure
from workbench.comparison._stats import (
    Interval,
    Verdict,
    bootstrap_mean,
    bootstrap_ratio,
    fewest_questions,
    paired_bootstrap,
    paired_bootstrap_ratio,
    verdict,
)
from workbench.comparison._racing import early_stops, race_leader
from workbench.comparison._render import number_text, padded, text_columns
from workbench.comparison._retrieval import retrieval_at_k
from workbench.comparison._retry import rerun_advice
from workbench.comparison._sweep import comparison_key, sweep_comparison
from workbench.comparison._tables import Skipped, VariantTable, load_tables

__all__ = [
    "Breach",
    "ComparisonReport",
    "GateFailure",
    "Interval",
    "Skipped",
    "VariantTable",
    "Verdict",
    "bootstrap_mean",
    "bootstrap_ratio",
    "check_metric",
    "compare",
    "comparison_key",
    "diff_questions",
    "early_stops",
    "fewest_questions",
    "load_tables",
    "metric_vs_cost_figure",
    "number_text",
    "padded",
    "paired_bootstrap",
    "paired_bootstrap_ratio",
    "race_leader",
    "rerun_advice",
    "retrieval_at_k",
    "retrieval_curves",
    "retrieval_curves_figure",
    "sweep_comparison",
    "text_columns",
    "verdict",
]
