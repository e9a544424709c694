"""Tracking: the ``Tracker`` protocol, the MLflow implementation and an in-memory one for unit tests."""

from workbench.tracking._feedback import HUMAN_FEEDBACK, HumanFeedback, default_user, load_human_feedback, log_human_feedback
from workbench.tracking._links import evaluation_url, run_url, trace_url, ui_url
from workbench.tracking._memory import MemoryRun, MemoryTracker
from workbench.tracking._mlflow import EVAL_RUN_TYPE, MlflowTracker
from workbench.tracking._protocol import COMPARISON_FILE, PLOTS_DIR, SweepComparison, SweepHandle, Tracker
from workbench.tracking._read import RESULTS_TABLE, latest_sweep, load_variant_table, sweep_variants
from workbench.tracking._review import QuestionReview, RetrievedChunk, VariantAnswer, load_question_reviews

__all__ = [
    "COMPARISON_FILE",
    "EVAL_RUN_TYPE",
    "HUMAN_FEEDBACK",
    "PLOTS_DIR",
    "RESULTS_TABLE",
    "HumanFeedback",
    "MemoryRun",
    "MemoryTracker",
    "MlflowTracker",
    "QuestionReview",
    "RetrievedChunk",
    "SweepComparison",
    "SweepHandle",
    "Tracker",
    "VariantAnswer",
    "default_user",
    "evaluation_url",
    "latest_sweep",
    "load_human_feedback",
    "load_question_reviews",
    "load_variant_table",
    "log_human_feedback",
    "run_url",
    "sweep_variants",
    "trace_url",
    "ui_url",
]
