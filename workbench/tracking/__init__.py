"""Tracking: the ``Tracker`` protocol, the MLflow implementation and an in-memory one for unit tests; readers of the
store (experiments, sweeps, runs, per-question tables) and the calibration of a logged run's judge.

Where each part lives:

    _protocol         the ``Tracker`` protocol: where sweeps and variant runs are recorded
    _memory           ``MemoryTracker``: records what would be logged, talks to nothing (unit tests)
    _mlflow           ``MlflowTracker``: a parent run per sweep, a child run per variant
    _redact           the one door to MLflow: every argument of every call redacted on its way out
    _run_tags         what every run records of where it ran (git commit, source tags, package versions)
    _run_notes        a run's description on its MLflow page: why it ended as it did
    _summary          a sweep's parent run description (pure)
    _traces           a variant's traces, built in memory and written in bulk
    _question_trace   one question's trace from what the pipeline recorded
    _links            links into the MLflow UI
    _process          which process owns a sweep, so one left RUNNING by a dead process can be told
    _index_server     which running sweeps read their indexes from a Chroma server
    _sqlite           the default store, a sqlite file in WAL mode
    _engines          letting go of MLflow's pooled connections to a store once a sweep or command is done
    _store_check      whether a store is usable, checked before anything is computed or written
    _store_lock       what two processes must not do at once on a sqlite store
    _unreachable      a server that stops answering mid-sweep: one clear line
    _catalog          what a store holds: experiments, their sweeps, variant runs, what a name or run id means
    _read             logged sweeps read back: a sweep's variant runs and their per-question tables
    _review           question-by-question review of a logged sweep, from its traces
    _reuse_reads      finding the earlier runs a sweep can reuse, and what it reads of each
    _reuse            a finished variant read back as a result, to be reused (pure)
    _registry         which run a registered model version was promoted from
    _feedback         human feedback on answers, logged as assessments
    _calibrate        a logged run's judge calibrated against human labels
"""

from workbench.tracking._calibrate import calibrate_run
from workbench.tracking._catalog import (
    ExperimentSummary,
    LoggedRun,
    LoggedSweep,
    ResolvedRuns,
    RunKind,
    calibration_runs,
    experiment_sweeps,
    find_run,
    list_experiments,
    require_active,
    resolve_runs,
    run_kind,
)
from workbench.tracking._feedback import HUMAN_FEEDBACK, HumanFeedback, default_user, load_human_feedback, log_human_feedback
from workbench.tracking._links import evaluation_url, run_url, trace_url, ui_url
from workbench.tracking._memory import MemoryRun, MemoryTracker
from workbench.tracking._mlflow import EVAL_RUN_TYPE, MlflowTracker
from workbench.tracking._index_server import INDEX_SERVER_TAG, ServerSweep, sweeps_using_index_server
from workbench.tracking._process import process_alive
from workbench.tracking._protocol import (
    CHUNKS_SHA256_TAG, CHUNKS_TAG, COMPARISON_FILE, COMPARISON_KEY_TAG, COMPARISON_TEXT, CORPUS_ARTIFACT, CORPUS_DOCUMENTS_ARTIFACT, CORPUS_RUN_TAG, MODELS_TAG, PLOTS_DIR,
    LoggedComparison, SweepComparison, SweepHandle, Tracker,
)
from workbench.tracking._redact import redacting
from workbench.tracking._registry import (
    RUN_ID_TAG, RegisteredRun, audit_tag, found, is_model_uri, promoted_run_id, registered_run,
)
from workbench.tracking._unreachable import TrackingUnavailable, shown_uri
from workbench.tracking._read import (
    RESULTS_TABLE,
    artifact_bytes,
    artifacts_elsewhere,
    find_variant_table,
    latest_sweep,
    load_judge_scores,
    load_variant_table,
    missing_artifacts,
    out_of_reach,
    reading_artifacts,
    sweep_variants,
)
from workbench.tracking._engines import release_store, store_released
from workbench.tracking._store_check import STORE_HINT, check_store, half_made, sqlite_path
from workbench.tracking._store_lock import interrupts_deferred, interrupts_held, registry_changes_serialised
from workbench.tracking._review import QuestionReview, QuestionReviews, RetrievedChunk, VariantAnswer, load_question_reviews
from workbench.tracking._reuse import REUSED_FROM_TAG, early_stop_from_tags, lower_is_better_from_tags

__all__ = [
    "CHUNKS_SHA256_TAG",
    "CHUNKS_TAG",
    "COMPARISON_FILE",
    "COMPARISON_KEY_TAG",
    "COMPARISON_TEXT",
    "CORPUS_ARTIFACT",
    "CORPUS_DOCUMENTS_ARTIFACT",
    "CORPUS_RUN_TAG",
    "EVAL_RUN_TYPE",
    "ExperimentSummary",
    "HUMAN_FEEDBACK",
    "HumanFeedback",
    "INDEX_SERVER_TAG",
    "LoggedComparison",
    "LoggedRun",
    "LoggedSweep",
    "MODELS_TAG",
    "MemoryRun",
    "MemoryTracker",
    "MlflowTracker",
    "PLOTS_DIR",
    "QuestionReview",
    "QuestionReviews",
    "RESULTS_TABLE",
    "RUN_ID_TAG",
    "REUSED_FROM_TAG",
    "RegisteredRun",
    "ResolvedRuns",
    "RetrievedChunk",
    "RunKind",
    "STORE_HINT",
    "SweepComparison",
    "ServerSweep",
    "SweepHandle",
    "Tracker",
    "TrackingUnavailable",
    "VariantAnswer",
    "artifact_bytes",
    "artifacts_elsewhere",
    "audit_tag",
    "calibrate_run",
    "calibration_runs",
    "check_store",
    "default_user",
    "early_stop_from_tags",
    "evaluation_url",
    "experiment_sweeps",
    "find_run",
    "find_variant_table",
    "found",
    "half_made",
    "interrupts_deferred",
    "interrupts_held",
    "is_model_uri",
    "latest_sweep",
    "list_experiments",
    "load_human_feedback",
    "load_judge_scores",
    "load_question_reviews",
    "load_variant_table",
    "log_human_feedback",
    "lower_is_better_from_tags",
    "missing_artifacts",
    "process_alive",
    "out_of_reach",
    "promoted_run_id",
    "reading_artifacts",
    "redacting",
    "registered_run",
    "registry_changes_serialised",
    "release_store",
    "require_active",
    "resolve_runs",
    "run_kind",
    "run_url",
    "shown_uri",
    "sqlite_path",
    "store_released",
    "sweep_variants",
    "sweeps_using_index_server",
    "trace_url",
    "ui_url",
]
