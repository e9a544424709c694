"""An experiment whose corpus is one file of documents (``corpus: {path: kb/docs.jsonl}``): planned, swept, reused by a
sweep of the same documents given as a DataFrame, promoted and exported to a bundle that names the file and rebuilds its
pipeline from it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import workbench as wb
from tests.promotion.conftest import git
from workbench.config import Settings, settings
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.promotion import BundleError
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import load_variant_table

DOCS = [{"id": "travel", "text": "Travel policy. Book flights fourteen days ahead of the trip, in economy class.", "url": "kb/travel"},
        {"id": "expenses", "text": "Expenses policy. Submit receipts within thirty days; scanned copies are fine.", "url": "kb/expenses"}]
CASES = [{"id": "q1", "question": "How many days ahead are flights booked?", "reference": "fourteen", "source_ids": ["travel"]},
         {"id": "q2", "question": "When are receipts submitted?", "reference": "within thirty days", "source_ids": ["expenses"]}]


def models() -> dict[str, object]:
    return {GEMMA_ID: ScriptedModel(lambda prompt: "fourteen", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}


def project(tmp_path: Path) -> tuple[Path, Settings]:
    """An experiment file over kb/docs.jsonl, and settings with a sqlite store in ``tmp_path``."""
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CASES), encoding="utf-8")
    (tmp_path / "exp.yaml").write_text(
        "name: kb-file\ndataset: {path: cases.jsonl}\ncorpus: {path: kb/docs.jsonl}\n"
        "prompts:\n  - {name: p, template: \"{context}\\nQuestion: {question}\"}\nmodels:\n  - {id: " + GEMMA_ID + "}\n"
        "chunkers:\n  - {strategy: recursive, size: 100, overlap: 0}\nretrieval:\n  - {k: 1}\n", encoding="utf-8")
    return tmp_path / "exp.yaml", settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")


def test_a_sweep_over_a_file_of_documents_is_planned_run_and_reused_from_its_dataframe(tmp_path: Path) -> None:
    # was refused: "an experiment's corpus is a folder or 'python-reference'", with a python -c recipe
    experiment, cfg = project(tmp_path)
    spec = wb.load_experiment(experiment)
    embedder = {MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    plan = wb.plan_sweep(spec, settings=cfg, models=models())
    assert (plan.calls, plan.reused) == (len(CASES), 0)
    (variant,) = wb.run(spec, settings=cfg, models=embedder, generate=False, progress=False).variants
    table = load_variant_table(variant.run_id, tracking_uri=cfg.tracking_uri).set_index("case_id")
    assert [list(table.loc[c["id"], "retrieved_ids"]) for c in CASES] == [["travel"], ["expenses"]]
    # the same documents handed over as a DataFrame are the same corpus: the run is reused, not computed again
    (again,) = wb.run(spec, settings=cfg, models=embedder, generate=False, progress=False, corpus=pd.DataFrame(DOCS)).variants
    assert again.reused_from == variant.run_id
    assert wb.plan_sweep(spec, settings=cfg, models=embedder, generate=False).reused == 1


def published(tmp_path: Path, cfg: Settings, run_id: str) -> Path:
    wb.promote(run_id, name="kb", alias="staging", gates=[{"kind": "min_questions", "n": 1}], settings=cfg)
    repo = tmp_path / "deploy"
    repo.mkdir()
    git(repo, "init", "-q")
    return wb.export("kb", "staging", repo=repo, settings=cfg, checkout=True).path


def test_a_bundle_of_a_file_of_documents_names_it_and_rebuilds_its_pipeline_from_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    experiment, cfg = project(tmp_path)
    (variant,) = wb.run(wb.load_experiment(experiment), settings=cfg, models=models(), progress=False).variants
    folder = published(tmp_path, cfg, variant.run_id)
    monkeypatch.chdir(tmp_path)  # the experiment's path, relative to its file, is found from the project's folder
    bundle = wb.load_bundle(folder, index_dir=tmp_path / "index", models=models())
    assert bundle.config.corpus.path == "kb/docs.jsonl" and bundle.config.corpus.documents == 2
    assert [bundle.answer(c["question"]).source_ids for c in CASES] == [("travel",), ("expenses",)]
    moved = tmp_path / "elsewhere.jsonl"
    shutil.move(tmp_path / "kb" / "docs.jsonl", moved)
    with pytest.raises(BundleError, match=r"corpus file 'kb/docs.jsonl' \(the experiment's path, relative to its file\) is neither in "):
        wb.load_bundle(folder, index_dir=tmp_path / "index", models=models())
    with pytest.raises(BundleError, match=r"corpus_path=.*kb: no such file — give the file of the corpus the bundle was evaluated on"):
        wb.load_bundle(folder, corpus_path=tmp_path / "kb", index_dir=tmp_path / "index", models=models())
    bundle = wb.load_bundle(folder, corpus_path=moved, index_dir=tmp_path / "index", models=models())
    assert bundle.answer(CASES[0]["question"]).source_ids == ("travel",)


def test_a_bundle_of_files_with_their_own_column_names_carries_them_and_rebuilds_from_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a team's export (doc_id, body) and question sheet (prompt, expected_answer): a bundle read the file without its
    # columns would refuse it, or index other documents than the ones evaluated
    experiment, cfg = project(tmp_path)
    renamed = [{"doc_id": d["id"], "body": d["text"], "url": d["url"]} for d in DOCS]
    (tmp_path / "kb" / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in renamed), encoding="utf-8")
    asked = [{"id": c["id"], "prompt": c["question"], "expected_answer": c["reference"], "source_ids": c["source_ids"]} for c in CASES]
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in asked), encoding="utf-8")
    experiment.write_text(experiment.read_text().replace(
        "dataset: {path: cases.jsonl}\ncorpus: {path: kb/docs.jsonl}",
        "dataset: {path: cases.jsonl, columns: {question: prompt, reference: expected_answer}}\n"
        "corpus: {path: kb/docs.jsonl, columns: {id: doc_id, text: body}}"), encoding="utf-8")
    fakes = models()
    (variant,) = wb.run(wb.load_experiment(experiment), settings=cfg, models=fakes, progress=False).variants
    # the same documents as a DataFrame using our names: the same corpus, the run reused
    (again,) = wb.run(wb.load_experiment(experiment), settings=cfg, models=fakes, progress=False, corpus=pd.DataFrame(DOCS)).variants
    assert again.reused_from == variant.run_id
    folder = published(tmp_path, cfg, variant.run_id)
    assert "columns:\n    id: doc_id\n    text: body\n" in (folder / "config.yaml").read_text(encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    bundle = wb.load_bundle(folder, index_dir=tmp_path / "index", models=models())
    assert dict(bundle.config.corpus.columns) == {"id": "doc_id", "text": "body"}
    assert [bundle.answer(c["question"]).source_ids for c in CASES] == [("travel",), ("expenses",)]
