"""A PDF corpus (and a PowerPoint deck, a slide a page) labelled by page: chunks know their pages, retrieval is scored
by them, and labels naming pages a document lacks are refused in one line."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from mlflow import MlflowClient

import workbench as wb
from workbench.datasets import load_corpus
from workbench.errors import DataError
from workbench.models import MINILM_ID
from workbench.pipeline import MemoryIndexStore, Retriever, chunk_corpus
from workbench.runner import load_inputs
from workbench.spec import ChunkerSpec, RetrievalSpec
from workbench.testing import HashingEmbedder
from workbench.widgets import QuestionInspector

from tests.datasets._pdfs import pdf_bytes
from tests.datasets._pptx import add_slide, pptx_bytes

PAGES = ("Travel policy. Book flights fourteen days ahead of the trip, in economy class.",
         "Expenses policy. Submit receipts within thirty days; scanned copies are fine.",
         "Meals policy. Meals are refunded up to forty euros a day on business trips.")
CHUNKER = {"strategy": "recursive", "size": 100, "overlap": 0}  # one chunk a page: two pages are longer


def project(tmp_path: Path, *cases: tuple[str, list[str]], chunker: dict[str, object] = CHUNKER) -> wb.ExperimentSpec:
    (tmp_path / "kb").mkdir(exist_ok=True)
    (tmp_path / "kb" / "handbook.pdf").write_bytes(pdf_bytes(*PAGES))
    (tmp_path / "kb" / "leave.md").write_text("# Leave\n\nTwenty-seven days of leave a year.\n", encoding="utf-8")
    lines = [json.dumps({"id": f"q{n}", "question": q, "reference": "x", "source_ids": ids}) + "\n" for n, (q, ids) in enumerate(cases, 1)]
    (tmp_path / "cases.jsonl").write_text("".join(lines), encoding="utf-8")
    return wb.ExperimentSpec.from_dict({
        "name": "paged", "dataset": {"path": "cases.jsonl"}, "corpus": {"path": "kb", "glob": "*"},
        "chunkers": [chunker], "retrieval": [{"k": 1}]}, base_dir=tmp_path)


def test_a_pdfs_chunks_know_their_pages_and_other_documents_chunks_none(tmp_path: Path) -> None:
    project(tmp_path)
    chunks = chunk_corpus(load_corpus(tmp_path / "kb", glob="*"), ChunkerSpec(strategy="recursive", size=180, overlap=0))
    assert [(c.source, c.pages) for c in chunks] == [
        ("handbook#page=1-2", (1, 2)), ("handbook#page=3", (3, 3)), ("leave", None)]


def test_chunks_from_an_index_that_kept_no_pages_are_retrieved_with_their_pages(tmp_path: Path) -> None:
    project(tmp_path)
    corpus = load_corpus(tmp_path / "kb", glob="*")
    chunks = [replace(c, pages=None) for c in chunk_corpus(corpus, ChunkerSpec.model_validate(CHUNKER))]  # built by an older workbench
    embedder = HashingEmbedder(model_id=MINILM_ID)
    index = MemoryIndexStore().build("k", chunks, embedder.embed([c.text for c in chunks]))
    hits = Retriever(index, embedder, RetrievalSpec(k=4), pages=corpus.page_starts).retrieve("meals refunded")
    assert sorted(h.chunk.source for h in hits) == ["handbook#page=1", "handbook#page=2", "handbook#page=3", "leave"]


def test_a_sweep_scores_retrieval_by_the_pages_labelled_and_shows_the_pages_retrieved(tmp_path: Path, wb_settings) -> None:  # type: ignore[no-untyped-def]
    spec = project(tmp_path, ("How many days ahead are flights booked?", ["handbook#page=1"]),
                   ("When are receipts submitted?", ["handbook#page=3"]),  # labelled with the wrong page: retrieval finds page 2
                   ("How much are meals refunded a day?", ["handbook"]),
                   ("How many days of leave a year?", ["leave"]))
    def run() -> wb.SweepResult:
        return wb.run(spec, generate=False, settings=wb_settings, index_store=MemoryIndexStore(), progress=False,
                      models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})

    result = run()
    (variant,) = result.variants
    shown = [("handbook#page=1",), ("handbook#page=2",), ("handbook#page=3",), ("leave",)]
    assert [r.retrieved_ids for r in variant.records] == shown
    assert [r.scores["hit_at_k"].value for r in variant.records] == [1.0, 0.0, 1.0, 1.0]
    traces = MlflowClient(wb_settings.tracking_uri).search_traces(locations=[result.experiment_id], run_id=variant.run_id)
    retrieved = {t.info.tags["workbench.case_id"]: next(s for s in t.data.spans if s.name == "retrieve") for t in traces}
    assert [tuple(h["metadata"]["doc_uri"] for h in retrieved[f"q{n}"].outputs) for n in range(1, 5)] == shown
    inspector = QuestionInspector(result)
    marked = []
    for n in range(1, 5):
        inspector.show(f"q{n}")
        marked.append(inspector.cards.children[0].body.value.count("· labelled source"))
    assert marked == [1, 0, 1, 1]  # the chunk of page 3 is one of the labelled document 'handbook'
    (again,) = run().variants  # reused: its records read back from the run's table
    assert again.reused_from == variant.run_id and [r.retrieved_ids for r in again.records] == shown
    assert [r.hits[0].chunk.pages for r in again.records] == [(1, 1), (2, 2), (3, 3), None]


@pytest.mark.parametrize(("label", "message"), [
    ("handbook#page=0", "'handbook#page=0': document 'handbook' has pages 1 to 3 — name pages among them (pages count from 1)"),
    ("handbook#page=2-4", "'handbook#page=2-4': document 'handbook' has pages 1 to 3 — name pages among them (pages count from 1)"),
    ("leave#page=1", "'leave#page=1': document 'leave' has no pages (only the text of a PDF or a PowerPoint deck keeps where its "
                     "pages start) — label the document ('leave')"),
    ("handbook.pdf#page=2", "'handbook.pdf#page=2' is not a document of corpus 'kb' — did you mean 'handbook#page=2'? (a file's "
                            "document id is its path in the corpus folder, without the suffix)"),
    *((label, f"'{label}' is not a document of corpus 'kb' — did you mean 'handbook#page=2'? (a page label is written "
              "'handbook#page=N' or 'handbook#page=N-M')") for label in ("handbook#PAGE=2", "handbook#page= 2", "handbook#page=2-")),
    ("handbook#Page=2-3", "'handbook#Page=2-3' is not a document of corpus 'kb' — did you mean 'handbook#page=2-3'? (a page label "
                          "is written 'handbook#page=N' or 'handbook#page=N-M')"),
    ("handbook#p2", "'handbook#p2' is not a document of corpus 'kb' — a page label is written 'handbook#page=N' or "
                    "'handbook#page=N-M', a document label 'handbook'"),
    ("handbook#page=2, leave", "'handbook#page=2, leave' is not a document of corpus 'kb' — give each id as its own item of "
                               "the list: [\"handbook#page=2\", \"leave\"]"),
    ("leave handbook#page=2-3", "'leave handbook#page=2-3' is not a document of corpus 'kb' — give each id as its own item of "
                                "the list: [\"leave\", \"handbook#page=2-3\"]"),
])
def test_a_label_naming_pages_its_document_lacks_is_one_line_naming_the_dataset_line(tmp_path: Path, label: str, message: str) -> None:
    spec = project(tmp_path, ("How many days ahead are flights booked?", ["handbook#page=1"]), ("When are receipts submitted?", [label]))
    with pytest.raises(DataError) as raised:
        load_inputs(spec)
    assert str(raised.value) == f"{tmp_path}/cases.jsonl:2: case 'q2': field 'source_ids': {message}"


def test_a_label_naming_only_pages_without_text_is_one_line_naming_the_dataset_line(tmp_path: Path) -> None:
    spec = project(tmp_path, ("How many days ahead are flights booked?", ["scanned#page=1-2"]), ("What is on the scan?", ["scanned#page=2"]))
    (tmp_path / "kb" / "scanned.pdf").write_bytes(pdf_bytes(PAGES[0], None))  # its last page a scan: no text layer
    with pytest.raises(DataError) as raised:
        load_inputs(spec)
    assert str(raised.value) == (
        f"{tmp_path}/cases.jsonl:2: case 'q2': field 'source_ids': 'scanned#page=2': page 2 of document 'scanned' has no "
        "text (a scan or a blank page), so no chunk lies on it — label the pages holding the answer, or OCR the PDF "
        "(ocrmypdf in.pdf out.pdf)")


class _CountedBuilds(MemoryIndexStore):
    def __init__(self) -> None:
        super().__init__()
        self.builds = 0

    def build(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.builds += 1
        return super().build(*args, **kwargs)


def test_a_run_is_not_reused_once_a_pdfs_pages_moved_under_the_same_text(tmp_path: Path, wb_settings) -> None:  # type: ignore[no-untyped-def]
    spec = project(tmp_path, ("When are receipts submitted?", ["handbook#page=2"]))
    store = _CountedBuilds()
    def retrieved() -> tuple[str | None, tuple[str, ...], float, str]:
        result = wb.run(spec, generate=False, settings=wb_settings, index_store=store, progress=False,
                        models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
        (variant,) = result.variants
        (record,) = variant.records
        tag = MlflowClient(wb_settings.tracking_uri).get_run(variant.run_id).data.tags["workbench.corpus_hash"]
        return variant.reused_from, record.retrieved_ids, record.scores["hit_at_k"].value, tag

    first = retrieved()
    assert first[:3] == (None, ("handbook#page=2",), 1.0) and first[3] == load_corpus(tmp_path / "kb", glob="*").hash
    (tmp_path / "kb" / "handbook.pdf").write_bytes(pdf_bytes(None, *PAGES))  # a cover without text: the same text, pages one on
    moved = retrieved()
    assert moved[:3] == (None, ("handbook#page=3",), 0.0)
    assert moved[3] != first[3]  # MLflow tells the two corpora apart (comparisons, promotion evidence)
    assert store.builds == 1  # the vectors come from the text: the index built for the first is searched for the second


def test_chunks_an_index_kept_with_pages_are_retrieved_without_them_for_a_corpus_whose_document_has_none(tmp_path: Path) -> None:
    # an index is keyed by the corpus's text: one built in this process for the PDF (its chunks holding their pages) is
    # the index of the same text given without pages, whose sources then read pages it does not have
    project(tmp_path)
    corpus = load_corpus(tmp_path / "kb", glob="*")
    chunks = chunk_corpus(corpus, ChunkerSpec.model_validate(CHUNKER))
    embedder = HashingEmbedder(model_id=MINILM_ID)
    index = MemoryIndexStore().build("k", chunks, embedder.embed([c.text for c in chunks]))
    unpaged = wb.Corpus("kb", tuple(wb.Document(d.id, d.text) for d in corpus.documents))
    assert unpaged.text_hash == corpus.text_hash and not unpaged.page_starts
    hits = Retriever(index, embedder, RetrievalSpec(k=4), pages=unpaged.page_starts).retrieve("meals refunded")
    assert sorted(h.chunk.source for h in hits) == ["handbook", "handbook", "handbook", "leave"]


def deck_project(tmp_path: Path, *cases: tuple[str, list[str]]) -> wb.ExperimentSpec:
    """The handbook's pages as a deck's slides, its second slide hidden: slide 3 is still page 3."""
    def deck(deck):  # type: ignore[no-untyped-def]
        add_slide(deck, "Travel", [PAGES[0]])
        add_slide(deck, "Draft", ["Meals are refunded up to thirty-five euros a day."], hidden=True)
        add_slide(deck, "Expenses", [PAGES[1]], notes="Scanned receipts are fine since May.")
        add_slide(deck, "Meals", [PAGES[2]])

    spec = project(tmp_path, *cases, chunker={"strategy": "markdown", "size": 500, "overlap": 0})  # a chunk a slide
    (tmp_path / "kb" / "handbook.pdf").unlink()
    (tmp_path / "kb" / "handbook.pptx").write_bytes(pptx_bytes(deck))
    return spec


def test_a_sweep_scores_retrieval_by_the_slides_labelled_in_a_deck(tmp_path: Path, wb_settings) -> None:  # type: ignore[no-untyped-def]
    spec = deck_project(tmp_path, ("How many days ahead are flights booked?", ["handbook#page=1"]),
                        ("When are receipts submitted?", ["handbook#page=3"]),
                        ("How much are meals refunded a day?", ["handbook#page=3"]),  # the wrong slide: retrieval finds slide 4
                        ("How many days of leave a year?", ["leave"]))
    (variant,) = wb.run(spec, generate=False, settings=wb_settings, index_store=MemoryIndexStore(), progress=False,
                        models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}).variants
    assert [r.retrieved_ids for r in variant.records] == [("handbook#page=1",), ("handbook#page=3",), ("handbook#page=4",), ("leave",)]
    assert [r.scores["hit_at_k"].value for r in variant.records] == [1.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize(("label", "message"), [
    ("handbook#page=2", "page 2 of deck 'handbook' is a hidden slide or one without text (a picture without alt text), so no chunk "
                        "lies on it — label the slides holding the answer (page=N is the deck's slide N, hidden ones counted)"),
    ("handbook#page=5", "deck 'handbook' has slides 1 to 4 — name slides among them (page=N is the deck's slide N, counted from 1)"),
    ("leave#page=1", "document 'leave' has no pages (only the text of a PDF or a PowerPoint deck keeps where its pages start) — "
                     "label the document ('leave')"),
])
def test_a_label_naming_a_slide_the_deck_does_not_show_is_one_line_naming_the_dataset_line(tmp_path: Path, label: str, message: str) -> None:
    spec = deck_project(tmp_path, ("How many days ahead are flights booked?", ["handbook#page=1"]), ("What was the draft?", [label]))
    with pytest.raises(DataError) as raised:
        load_inputs(spec)
    assert str(raised.value) == f"{tmp_path}/cases.jsonl:2: case 'q2': field 'source_ids': '{label}': {message}"
