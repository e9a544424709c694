"""``load_experiment``: an experiment file read, checked and validated, every error one line naming the file, line
and field."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from workbench.datasets import missing_path_fix
from workbench.errors import SpecError
from workbench.spec._experiment import ExperimentSpec
from workbench.spec._model_paths import _absolute_model_paths
from workbench.spec._prompt_files import _read_prompt_files, _read_utf8
from workbench.spec._secrets import _refuse_literal_keys
from workbench.spec._validation import describe_validation_error
from workbench.spec._yaml import check_yaml_shape, read_yaml_at

# an experiment file is a page of YAML: PyYAML reads about half a megabyte a second, so a file of 100 MB (a dataset
# saved under the experiment's name, a file from someone else's branch) held the command for minutes before any error
_MAX_EXPERIMENT_BYTES = 2**20
_DATASET_SUFFIXES = (".jsonl", ".ndjson", ".csv")


def load_experiment(path: str | Path) -> ExperimentSpec:
    """Read an experiment YAML file; prompt ``file`` entries are read into ``template``.

    Raises:
        SpecError: one line naming file, line and field.
    """
    if not isinstance(path, (str, os.PathLike)):  # a dict spec, an already loaded one: Path() said only "expected str"
        raise SpecError(f"an experiment is read from the path of its YAML file, not from a {type(path).__name__} — "
                        "for a dict, use wb.ExperimentSpec.from_dict(data, base_dir=...)")
    path = Path(path)
    if path.is_dir():  # worded as workbench run's check of the same path
        raise SpecError(f"{path}: is a folder, not a file — give the path of the experiment file")
    if not path.is_file():
        raise SpecError(f"{path}: experiment file not found — {missing_path_fix(path, 'check the path')}")
    if path.suffix.lower() in _DATASET_SUFFIXES:  # read as YAML, a JSONL file was told to quote a value starting with '{'
        raise SpecError(f"{path}: a dataset file ({path.suffix}), not an experiment — name it in an experiment file, "
                        f"dataset: {{path: {path.name}}}, and give that file (see experiments/quickstart.yaml)")
    size = path.stat().st_size
    if size > _MAX_EXPERIMENT_BYTES:
        raise SpecError(f"{path}: {size / 2**20:,.1f} MB, too large for an experiment file (at most 1 MB) — an experiment names its "
                        "dataset, corpus and prompt files (dataset: {path: ...}) rather than holding them")
    text = _read_utf8(path, "experiment file")
    node, data = read_yaml_at(text, str(path))
    if not isinstance(data, dict):
        raise SpecError(f"{path}:1: an experiment file must be a YAML mapping with name, dataset, corpus, prompts, models, chunkers")
    check_yaml_shape(node, str(path))
    _refuse_literal_keys(data, node, str(path))
    base = path.parent.resolve()
    data, relative = _absolute_model_paths(data, base)
    read: dict[int, Path] = {}
    data = _read_prompt_files(data, base, str(path), node, files_read=read)
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(describe_validation_error(exc, str(path), node, ExperimentSpec)) from None
    return spec.with_base_dir(base)._with_relative_models(relative)._with_prompt_files(read)._read_from(path)
