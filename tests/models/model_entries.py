"""Experiments of one model entry, for the tests of a model's settings: written as a file (its errors name the line) or
given as data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workbench.errors import SpecError
from workbench.spec import ExperimentSpec, load_experiment

# the model entry's second line (params:, context_window:) is the file's line 7
EXPERIMENT = """\
name: t
dataset: {path: d.jsonl}
corpus: {builtin: python-reference}
prompts: [{name: a, template: "Context: {context}\\nQuestion: {question}\\nAnswer:"}]
models:
  - id: %s
%s
chunkers: [{strategy: recursive, size: 400, overlap: 40}]
"""


def written(tmp_path: Path, model_id: str, settings: str) -> Path:
    """The experiment of one model entry, ``settings`` its lines after the id, in ``tmp_path/exp.yaml``."""
    path = tmp_path / "exp.yaml"
    path.write_text(EXPERIMENT % (model_id, settings), encoding="utf-8")
    return path


def refusal(tmp_path: Path, model_id: str, settings: str) -> str:
    """The one line loading that experiment is refused with, after the file's path."""
    path = written(tmp_path, model_id, settings)
    with pytest.raises(SpecError) as caught:
        load_experiment(path)
    return str(caught.value).removeprefix(f"{path}:")


def spec_of(*models: dict[str, Any]) -> ExperimentSpec:
    """An experiment of these models' entries, as data."""
    return ExperimentSpec.from_dict({"name": "t", "dataset": {"path": "d.jsonl"}, "corpus": {"builtin": "python-reference"},
                                     "prompts": [{"name": "a", "template": "{context}\nQ: {question}\nA:"}], "models": list(models),
                                     "chunkers": [{"strategy": "recursive", "size": 400, "overlap": 40}]})
