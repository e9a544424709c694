"""workbench: compare prompts, models and RAG chunking/retrieval strategies on your own data, tracked in MLflow.

    import workbench as wb
    exp = wb.load_experiment("experiments/quickstart.yaml")
    result = wb.run(exp)
    result.leaderboard()

Read it from the leaves up (the layers of the import contract in pyproject.toml: each imports only those listed before
it; each package's docstring says where its parts live):

    errors, metrics, prompts,     one-line errors; scores, the scorer catalogue and the metrics a run logs; prompt
    config, redaction             templates; where things are kept; secrets kept out of every line written
    models, datasets              ``provider:model`` strings resolved to generators and embedders; eval cases, corpora
    spec                          the experiment file: YAML in, pydantic model, YAML out, its JSON schema
    grid                          the spec expanded into variants (pure)
    pipeline, sandbox, cache      chunk, embed, index, retrieve, generate, route; a variant's limits; the cached answers
    scoring                       scorers, judges and their calibration, a variant's metrics from its scores
    results                       what a sweep returns: its variants' results and the leaderboard
    tracking                      the ``Tracker`` protocol, MLflow and in-memory trackers, readers of the store
    comparison, execution         intervals, verdicts and gates; where variants run (processes, threads, Ray)
    runner                        ``run``: one engine for every kind of sweep
    promotion                     gates, registry aliases, the export and the bundle loader
    cli, widgets, testing         the command, the notebook's views, the deterministic fakes for tests
"""

from workbench import _imports, _telemetry  # noqa: F401  (both act on import, before any library we use is imported)
from workbench.comparison import ComparisonReport, compare, diff_questions
from workbench.config import Settings, settings
from workbench.datasets import Corpus, Dataset, Document, EvalCase, load_corpus, load_dataset
from workbench.errors import BudgetExceeded, DataError, ModelError, SpecError, WorkbenchError
from workbench.grid import SweepPlan, Variant, expand_grid
from workbench.models import Embedder, Generator
from workbench.pipeline import IndexStore, MemoryIndexStore
from workbench.promotion import BundleError, ExportError, GateFailed, PromotionError, export, load_bundle, promote, rollback
from workbench.prompts import PromptTemplate
from workbench.results import SweepResult, VariantResult
from workbench.runner import ProgressEvent, plan_sweep, run
from workbench.scoring import CalibrationReport, Judge, JudgeReply, Score, ScoreContext, ScorerEnv, load_judge, scorer
from workbench.spec import ExperimentSpec, experiment_json_schema, load_experiment
from workbench.tracking import calibrate_run as calibrate
from workbench.tracking import MemoryTracker, MlflowTracker, Tracker

from workbench import redaction as _redaction

_redaction.install_log_redaction()  # no log line of the workbench, or of the HTTP clients it calls through, carries a secret

__version__ = "0.3.0"  # raised with every bundle schema (promotion SCHEMA_RELEASES)

__all__ = [
    "BudgetExceeded",
    "BundleError",
    "CalibrationReport",
    "ComparisonReport",
    "Corpus",
    "DataError",
    "Dataset",
    "Document",
    "Embedder",
    "EvalCase",
    "ExperimentSpec",
    "ExportError",
    "GateFailed",
    "Generator",
    "IndexStore",
    "Judge",
    "JudgeReply",
    "MemoryIndexStore",
    "MemoryTracker",
    "MlflowTracker",
    "ModelError",
    "ProgressEvent",
    "PromotionError",
    "PromptTemplate",
    "Score",
    "ScoreContext",
    "ScorerEnv",
    "Settings",
    "SpecError",
    "SweepPlan",
    "SweepResult",
    "Tracker",
    "Variant",
    "VariantResult",
    "WorkbenchError",
    "calibrate",
    "compare",
    "diff_questions",
    "expand_grid",
    "experiment_json_schema",
    "export",
    "load_bundle",
    "load_corpus",
    "load_dataset",
    "load_experiment",
    "load_judge",
    "plan_sweep",
    "promote",
    "rollback",
    "run",
    "scorer",
    "settings",
]
