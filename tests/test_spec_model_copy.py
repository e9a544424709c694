"""A spec edited in a notebook with pydantic's ``model_copy(update=...)`` (notebook 02 swaps its chunkers and retrieval
settings so) is validated again by the sweep, its dry run and the grid: pydantic validates nothing it is given there."""

from pathlib import Path

import pandas as pd
import pytest

import workbench as wb
from workbench.config import settings
from workbench.errors import SpecError
from workbench.spec import ChunkerSpec, ExperimentSpec, RetrievalSpec

DOCS = pd.DataFrame({"id": ["leases", "notice"], "text": ["A lease over three years is made by deed.", "Notice is two weeks."]})
CASES = pd.DataFrame({"question": ["When is a deed needed?"], "reference": ["over three years"], "source_ids": [["leases"]]})


def _spec(tmp_path: Path) -> ExperimentSpec:
    return ExperimentSpec.from_dict({
        "name": "law",
        "prompts": [{"name": "p", "template": "{context}\n{question}"}],
        "models": [{"id": "local:gemma3-270m"}],
        "chunkers": [{"strategy": "recursive", "size": 200, "overlap": 20}],
    }, base_dir=tmp_path)


@pytest.mark.parametrize("call", [wb.run, wb.plan_sweep], ids=["run", "plan_sweep"])
def test_a_value_the_spec_refuses_is_refused_when_set_with_model_copy(tmp_path: Path, call) -> None:
    overlapping = ChunkerSpec(strategy="recursive", size=100, overlap=10).model_copy(update={"overlap": 200})
    edited = _spec(tmp_path).model_copy(update={"chunkers": [overlapping]})
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    with pytest.raises(SpecError, match=r"chunkers\[0\]: overlap 200 must be smaller than size 100"):
        call(edited, settings=cfg, dataset=CASES, corpus=DOCS)
    assert not (tmp_path / "mlflow.db").exists()  # refused before the store was made


def test_a_name_the_spec_refuses_is_refused_when_set_with_model_copy(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="name: 'law kb' may hold only"):
        wb.expand_grid(_spec(tmp_path).model_copy(update={"name": "law kb"}))


def test_axis_entries_given_as_dicts_with_model_copy_are_read_as_entries(tmp_path: Path) -> None:
    # a traceback before: AttributeError: 'dict' object has no attribute 'embedding'
    edited = _spec(tmp_path).model_copy(update={"retrieval": [{"k": 3}], "chunkers": [{"strategy": "sentence", "size": 300, "overlap": 0}]})
    variants = wb.expand_grid(edited)
    assert [(v.chunker.label, v.retrieval.k) for v in variants] == [("sentence-300/0", 3)]


def test_a_valid_spec_is_the_same_spec_after_validating_again(tmp_path: Path) -> None:
    spec = _spec(tmp_path).model_copy(update={"retrieval": (RetrievalSpec(k=4),)})
    assert spec.validated() is spec
    assert spec.validated().base_dir == tmp_path.resolve()
    mixed = spec.model_copy(update={"retrieval": [{"k": 4}]})
    again = mixed.validated()
    assert again == spec and again.base_dir == spec.base_dir


def test_the_grid_builder_starts_from_a_spec_edited_with_model_copy(tmp_path: Path) -> None:
    from workbench.widgets import GridBuilder

    # AttributeError: 'dict' object has no attribute 'strategy' before
    builder = GridBuilder(_spec(tmp_path).model_copy(update={"chunkers": [{"strategy": "sentence", "size": 300, "overlap": 0}]}), dataset=CASES)
    assert builder.variant_count() == 1 and builder.spec().chunkers[0].label == "sentence-300/0"
    overlapping = ChunkerSpec(strategy="recursive", size=100, overlap=10).model_copy(update={"overlap": 200})
    with pytest.raises(SpecError, match=r"chunkers\[0\]: overlap 200 must be smaller than size 100"):
        GridBuilder(_spec(tmp_path).model_copy(update={"chunkers": [overlapping]}))
