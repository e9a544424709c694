"""The experiment spec: dataset, corpus and the grid axes (prompts x models x chunkers x retrieval).

YAML in, pydantic model, YAML out; ``experiment_json_schema()`` gives editors a schema. A bad field is reported as
one line with the file, line and field: ``experiments/x.yaml:14: models[0].id: unknown model provider 'foo' — ...``.

Where each part lives (each module imports only those above it):

    _names          names (a file name on every system) and paths as a spec holds them
    _base           _Spec, the base of every section; axis entries' names; model string checks
    _data           DatasetRef, CorpusRef: where the cases and the documents come from
    _prompts        PromptSpec
    _models         ModelParams (generation and sampler settings), ModelSpec
    _router         EscalationSpec, RouterSpec, RouterEntry, ModelEntry (a model or a router)
    _retrieval      ChunkerSpec, RetrievalSpec, IndexStoreSpec
    _execution      Limits, RacingSpec, ExecutionSpec
    _judge          PriceSpec, JudgeSpec
    _gates          the promotion gates and PromotionSpec
    _yaml           read_yaml, read_yaml_at, dump_yaml, check_yaml_shape, yaml_error_text; the line of a field
    _validation     describe_validation_error: pydantic's errors as one line
    _prompt_files   UTF-8 files, prompt files read into templates
    _model_paths    model strings naming a path, made relative to the experiment's folder
    _secrets        literal keys and URL logins refused
    _experiment     ExperimentSpec, experiment_json_schema
    _loading        load_experiment
"""

from workbench.spec._data import CorpusRef, DatasetRef
from workbench.spec._execution import ExecutionSpec, Limits, RacingSpec
from workbench.spec._experiment import ExperimentSpec, experiment_json_schema
from workbench.spec._gates import (
    BeatsHolderGate,
    GateSpec,
    MaxCostGate,
    MaxFailedRateGate,
    MetricGate,
    MinQuestionsGate,
    PromotionSpec,
    is_run_metric,
    run_metric_names,
)
from workbench.spec._judge import JudgeSpec, PriceSpec
from workbench.spec._loading import load_experiment
from workbench.spec._models import ModelParams, ModelSpec
from workbench.spec._names import NAME_PATTERN, Name, PathText, file_name_problem
from workbench.spec._prompts import PromptSpec
from workbench.spec._retrieval import ChunkerSpec, IndexStoreSpec, RetrievalSpec
from workbench.spec._router import EscalationSpec, ModelEntry, RouterEntry, RouterSpec
from workbench.spec._validation import describe_validation_error, not_a_number, out_of_range
from workbench.spec._yaml import check_yaml_shape, dump_yaml, read_yaml, read_yaml_at, yaml_error_text

__all__ = [
    "NAME_PATTERN",
    "BeatsHolderGate",
    "ChunkerSpec",
    "CorpusRef",
    "DatasetRef",
    "EscalationSpec",
    "ExecutionSpec",
    "ExperimentSpec",
    "GateSpec",
    "IndexStoreSpec",
    "JudgeSpec",
    "Limits",
    "MaxCostGate",
    "MaxFailedRateGate",
    "MetricGate",
    "MinQuestionsGate",
    "ModelEntry",
    "ModelParams",
    "ModelSpec",
    "Name",
    "PathText",
    "PriceSpec",
    "PromotionSpec",
    "PromptSpec",
    "RacingSpec",
    "RetrievalSpec",
    "RouterEntry",
    "RouterSpec",
    "check_yaml_shape",
    "describe_validation_error",
    "dump_yaml",
    "experiment_json_schema",
    "file_name_problem",
    "is_run_metric",
    "load_experiment",
    "not_a_number",
    "out_of_range",
    "read_yaml",
    "read_yaml_at",
    "run_metric_names",
    "yaml_error_text",
]
