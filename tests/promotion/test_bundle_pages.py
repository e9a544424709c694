"""A bundle over a PDF corpus answers with the pages its sources lie on, as the run it was promoted from logged them."""

from __future__ import annotations

import json
from pathlib import Path

import workbench as wb
from tests.datasets._pdfs import pdf_bytes
from tests.promotion.conftest import git
from workbench.config import settings
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import load_variant_table

PAGES = ("Travel policy. Book flights fourteen days ahead of the trip, in economy class.",
         "Expenses policy. Submit receipts within thirty days; scanned copies are fine.")
CASES = [{"id": "q1", "question": "How many days ahead are flights booked?", "reference": "fourteen", "source_ids": ["handbook#page=1"]},
         {"id": "q2", "question": "When are receipts submitted?", "reference": "within thirty days", "source_ids": ["handbook#page=2"]}]


def models() -> dict[str, object]:
    return {GEMMA_ID: ScriptedModel(lambda prompt: "fourteen", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}


def test_a_pdf_bundles_answers_name_the_pages_of_their_sources(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "handbook.pdf").write_bytes(pdf_bytes(*PAGES))
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CASES), encoding="utf-8")
    spec = wb.ExperimentSpec.from_dict({
        "name": "paged-bundle", "dataset": {"path": "cases.jsonl"}, "corpus": {"path": "kb", "glob": "*.pdf"},
        "prompts": [{"name": "p", "template": "{context}\nQuestion: {question}"}], "models": [{"id": GEMMA_ID}],
        "chunkers": [{"strategy": "recursive", "size": 100, "overlap": 0}], "retrieval": [{"k": 1}]}, base_dir=tmp_path)
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    (variant,) = wb.run(spec, settings=cfg, models=models(), progress=False).variants
    wb.promote(variant.run_id, name="paged", alias="staging", gates=[{"kind": "min_questions", "n": 1}], settings=cfg)
    repo = tmp_path / "deploy"
    repo.mkdir()
    git(repo, "init", "-q")
    exported = wb.export("paged", "staging", repo=repo, settings=cfg, checkout=True)
    bundle = wb.load_bundle(exported.path, corpus_path=tmp_path / "kb", index_dir=tmp_path / "index", models=models())
    table = load_variant_table(variant.run_id, tracking_uri=cfg.tracking_uri).set_index("case_id")
    answers = [bundle.answer(case["question"]).source_ids for case in CASES]
    assert answers == [("handbook#page=1",), ("handbook#page=2",)]
    assert [list(table.loc[case["id"], "retrieved_ids"]) for case in CASES] == [list(a) for a in answers]
