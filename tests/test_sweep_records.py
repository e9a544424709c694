"""``SweepResult.records_frame()``: every variant's per-question rows in one frame, as ragas's ``to_pandas()`` and a
promptfoo results table give them, so a sweep's scores slice by the dataset's own columns in one groupby."""

from pathlib import Path

import pandas as pd
import pytest

import workbench as wb
from workbench.config import settings
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.spec import ExperimentSpec
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import MemoryTracker

DOCS = pd.DataFrame({"id": ["leases", "notice/de"], "text": ["A lease over three years is made by deed.", "Die Frist beträgt drei Monate."]})
CASES = pd.DataFrame({
    "id": ["q 1/α", "q2"], "question": ["When is a lease made by deed?", "Wie lang ist die Frist?"],
    "reference": ["over three years", "drei Monate"], "source_ids": [["leases"], ["notice/de"]], "language": ["en", "de"],
})


def test_one_frame_holds_every_variants_questions_with_its_name(tmp_path: Path) -> None:
    spec = ExperimentSpec.from_dict({
        "name": "law", "prompts": [{"name": "good", "template": "{context}\nQ: {question}"}, {"name": "bad", "template": "Q: {question}"}],
        "models": [{"id": GEMMA_ID}], "chunkers": [{"strategy": "recursive", "size": 200, "overlap": 0}],
        "scorers": ["token_f1", "hit_at_k"], "execution": {"isolation": "none"},
    }, base_dir=tmp_path)
    model = ScriptedModel(lambda p: "over three years" if "deed" in p.text and "lease" in p.text.split("Q:")[0] else "?", model_id=GEMMA_ID)
    result = wb.run(spec, settings=settings(root=tmp_path), tracker=MemoryTracker(), index_store=wb.MemoryIndexStore(), progress=False, dataset=CASES, corpus=DOCS,
                    models={GEMMA_ID: model, MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    frame = result.records_frame()
    assert list(frame.columns[:2]) == ["variant", "variant_id"] and len(frame) == 4
    for v in result.variants:
        rows = frame[frame["variant"] == v.variant.name].drop(columns=["variant", "variant_id"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(rows, v.records_frame())
        assert set(frame.loc[frame["variant"] == v.variant.name, "variant_id"]) == {v.variant.id}
    by_language = frame.groupby(["variant", "metadata.language"])["token_f1"].mean()
    good = next(v.variant.name for v in result.variants if v.variant.prompt.name == "good")
    assert by_language[(good, "en")] == 1.0 and by_language[(good, "de")] == 0.0


def test_each_questions_tags_are_a_column_to_slice_by(tmp_path: Path) -> None:
    # tags were "free labels used to slice results", yet no per-question table held them
    spec = ExperimentSpec.from_dict({"name": "law", "chunkers": [{"strategy": "recursive", "size": 200, "overlap": 0}],
                                     "scorers": ["hit_at_k"], "execution": {"isolation": "none"}}, base_dir=tmp_path)
    tagged = CASES.assign(tags=[["lease", "property"], []])
    result = wb.run(spec, settings=settings(root=tmp_path), tracker=MemoryTracker(), index_store=wb.MemoryIndexStore(), progress=False,
                    dataset=tagged, corpus=DOCS, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    frame = result.records_frame()
    assert frame["tags"].tolist() == [["lease", "property"], []]
    assert frame.explode("tags").groupby("tags")["hit_at_k"].count().to_dict() == {"lease": 1, "property": 1}


def test_a_scorer_cannot_be_named_tags() -> None:
    with pytest.raises(ValueError, match="scorer name .tags. is a column or metric the sweep writes itself"):
        wb.scorer("tags")(lambda env: lambda ctx: wb.Score(1.0))
