"""What a sweep returns: one ``VariantResult`` per variant and a ``SweepResult`` with the leaderboard.

Its modules: ``_variant`` (a variant's result, why racing stopped it, a reused run's metrics, a sweep's totals),
``_report`` (a failed variant's line, where to open a run in MLflow, text fit for a terminal, lines as HTML), ``_rows`` (the rows of a per-question table), ``_leaderboard`` (the leaderboard of any variants), ``_corpus_notes``
(what a dataset and corpus will not say, known before a sweep runs) and ``_sweep`` (a finished sweep and the notes on
what its numbers do not say by themselves)."""

from workbench.results._corpus_notes import corpus_notes
from workbench.results._leaderboard import RANKING_METRICS, leaderboard_frame, ranking_metric
from workbench.results._report import counted, one_line, printable, ui_hint, without_secrets
from workbench.results._rows import ROUTING_COLUMNS, metadata_columns, question_row, routing_columns
from workbench.results._sweep import SweepResult
from workbench.results._variant import EarlyStop, VariantResult, reused_metrics, sweep_totals

__all__ = [
    "RANKING_METRICS", "ROUTING_COLUMNS", "EarlyStop", "SweepResult", "VariantResult", "corpus_notes", "counted", "leaderboard_frame",
    "metadata_columns", "one_line", "printable", "question_row", "ranking_metric", "reused_metrics", "routing_columns", "sweep_totals",
    "ui_hint", "without_secrets",
]
