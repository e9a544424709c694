"""A bundle over a PDF corpus answers with the pages its sources lie on, as the run it was promoted from logged them,
and refuses the PDF once its pages moved (a blank cover page added: the same text, every page one on)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

import workbench as wb
from tests.datasets._pdfs import pdf_bytes
from tests.promotion.conftest import git
from workbench.config import Settings, settings
from workbench.datasets import Corpus, load_corpus
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.promotion import BundleError
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import load_variant_table

PAGES = ("Travel policy. Book flights fourteen days ahead of the trip, in economy class.",
         "Expenses policy. Submit receipts within thirty days; scanned copies are fine.")
CASES = [{"id": "q1", "question": "How many days ahead are flights booked?", "reference": "fourteen", "source_ids": ["handbook#page=1"]},
         {"id": "q2", "question": "When are receipts submitted?", "reference": "within thirty days", "source_ids": ["handbook#page=2"]}]


def models() -> dict[str, object]:
    return {GEMMA_ID: ScriptedModel(lambda prompt: "fourteen", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}


def swept(tmp_path: Path, corpus: Any = None) -> tuple[Settings, str]:
    """A sweep of the PDF corpus folder kb/ (or of ``corpus`` given in memory): the settings and the run's id."""
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "handbook.pdf").write_bytes(pdf_bytes(*PAGES))
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CASES), encoding="utf-8")
    spec = wb.ExperimentSpec.from_dict({
        "name": "paged-bundle", "dataset": {"path": "cases.jsonl"}, **({} if corpus is not None else {"corpus": {"path": "kb", "glob": "*.pdf"}}),
        "prompts": [{"name": "p", "template": "{context}\nQuestion: {question}"}], "models": [{"id": GEMMA_ID}],
        "chunkers": [{"strategy": "recursive", "size": 100, "overlap": 0}], "retrieval": [{"k": 1}]}, base_dir=tmp_path)
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    (variant,) = wb.run(spec, settings=cfg, models=models(), progress=False, **({} if corpus is None else {"corpus": corpus})).variants
    return cfg, variant.run_id


def published(tmp_path: Path, cfg: Settings, run_id: str) -> Path:
    """The run promoted and exported: the bundle's folder."""
    wb.promote(run_id, name="paged", alias="staging", gates=[{"kind": "min_questions", "n": 1}], settings=cfg)
    repo = tmp_path / "deploy"
    repo.mkdir()
    git(repo, "init", "-q")
    return wb.export("paged", "staging", repo=repo, settings=cfg, checkout=True).path


def exported(tmp_path: Path) -> tuple[Path, Settings, str]:
    """A sweep of the PDF corpus folder kb/, promoted and exported: the bundle's folder, the settings and the run's id."""
    cfg, run_id = swept(tmp_path)
    return published(tmp_path, cfg, run_id), cfg, run_id


def _text_only_hash(corpus: Corpus) -> str:
    """A corpus's hash as every workbench computed it before the hash covered pages: its ids and texts, in order."""
    h = hashlib.sha256()
    for doc in corpus.documents:
        h.update(f"{doc.id}\0{doc.text}\0".encode())
    return h.hexdigest()


def test_a_pdf_bundles_answers_name_the_pages_of_their_sources(tmp_path: Path) -> None:
    folder, cfg, run_id = exported(tmp_path)
    bundle = wb.load_bundle(folder, corpus_path=tmp_path / "kb", index_dir=tmp_path / "index", models=models())
    table = load_variant_table(run_id, tracking_uri=cfg.tracking_uri).set_index("case_id")
    answers = [bundle.answer(case["question"]).source_ids for case in CASES]
    assert answers == [("handbook#page=1",), ("handbook#page=2",)]
    assert [list(table.loc[case["id"], "retrieved_ids"]) for case in CASES] == [list(a) for a in answers]


def test_a_pdf_bundle_refuses_its_pdf_once_a_blank_cover_page_moved_its_pages(tmp_path: Path) -> None:
    # the same text, so the same hash: the bundle loaded, and its answers named pages one on from those its
    # EVALUATION.md scored
    folder, _, _ = exported(tmp_path)
    evaluated = yaml.safe_load((folder / "config.yaml").read_text())["corpus"]["hash"]
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "kb", moved)
    (moved / "handbook.pdf").write_bytes(pdf_bytes(None, *PAGES))
    now = load_corpus(moved, glob="*.pdf").hash
    with pytest.raises(BundleError, match=rf"^corpus {re.escape(str(moved))} has hash {now[:12]} but the bundle was evaluated on "
                                          rf"{evaluated[:12]}: 1 changed \(handbook\) since \(a text, or where a PDF's or deck's pages start\) "
                                          rf"— use the same corpus \(the answers would differ\) .*, or promote a "
                                          r"configuration evaluated on this one$"):
        wb.load_bundle(folder, corpus_path=moved, index_dir=tmp_path / "index", models=models())


def test_a_pdf_bundle_exported_before_hashes_covered_pages_loads_with_its_own_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # its config.yaml (and its run's corpus_hash tag) hold the hash of the PDF's text alone
    with monkeypatch.context() as before:
        before.setattr(Corpus, "hash", property(_text_only_hash))
        folder, _, _ = exported(tmp_path)
    corpus = load_corpus(tmp_path / "kb", glob="*.pdf")
    assert yaml.safe_load((folder / "config.yaml").read_text())["corpus"]["hash"] == _text_only_hash(corpus) != corpus.hash
    bundle = wb.load_bundle(folder, corpus_path=tmp_path / "kb", index_dir=tmp_path / "index", models=models())
    assert [bundle.answer(case["question"]).source_ids for case in CASES] == [("handbook#page=1",), ("handbook#page=2",)]


def test_a_run_of_pdf_documents_given_in_memory_logged_before_hashes_covered_pages_is_promoted_and_loads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the documents it logged hash with their pages now, not as its corpus_hash tag: promotion refused them as redacted
    documents = [{"id": "handbook", "text": "\n\n".join(PAGES), "metadata": {"page_starts": f"0 {len(PAGES[0]) + 2}"}}]
    with monkeypatch.context() as before:
        before.setattr(Corpus, "hash", property(_text_only_hash))
        cfg, run_id = swept(tmp_path, corpus=documents)
    folder = published(tmp_path, cfg, run_id)  # by this workbench
    assert yaml.safe_load((folder / "config.yaml").read_text())["corpus"]["hash"] == _text_only_hash(load_corpus(documents))
    bundle = wb.load_bundle(folder, index_dir=tmp_path / "index", models=models())
    assert [bundle.answer(case["question"]).source_ids for case in CASES] == [("handbook#page=1",), ("handbook#page=2",)]
