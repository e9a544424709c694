"""A process cuts a corpus once per chunker: notebook users re-run sweeps in one kernel all day."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench import grid
from workbench.datasets import Corpus, Document
from workbench.models import GEMMA_ID
from workbench.pipeline import MemoryIndexStore, chunk_corpus, chunk_stats
from workbench.pipeline import chunk as chunk_module
from workbench.spec import ChunkerSpec, ExperimentSpec
from workbench.testing import HashingEmbedder
from workbench.tracking import MemoryTracker

ROOT = Path(__file__).resolve().parents[2]


def _corpus(topic: str) -> Corpus:
    """A corpus no other test cuts (the cut corpora are kept for the whole process)."""
    return Corpus(topic, tuple(Document(f"{topic}-{i}", " ".join(f"The {topic} note {i}.{j} says how {topic} works." for j in range(40)))
                               for i in range(3)))


@pytest.fixture
def cuts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the documents cut from now on."""
    cut: list[str] = []
    real = chunk_module.chunk_document

    def counting(doc: Document, spec: ChunkerSpec, tokenizer: Any = None) -> list[chunk_module.Chunk]:
        cut.append(doc.id)
        return real(doc, spec, tokenizer)

    monkeypatch.setattr(chunk_module, "chunk_document", counting)
    return cut


def test_an_equal_corpus_and_chunker_are_cut_once_and_give_the_same_chunks(cuts: list[str]) -> None:
    spec = ChunkerSpec(strategy="sentence", size=200, overlap=40)
    first = chunk_corpus(_corpus("ferries"), spec)
    first.clear()  # a caller's list is its own: emptying it empties no later answer
    again = chunk_corpus(_corpus("ferries"), ChunkerSpec(strategy="sentence", size=200, overlap=40))  # equal, not the same objects
    assert cuts == ["ferries-0", "ferries-1", "ferries-2"]
    assert again == [c for doc in _corpus("ferries").documents for c in chunk_module.chunk_document(doc, spec)]
    assert chunk_stats(again) == chunk_stats(chunk_corpus(_corpus("ferries"), spec))


def test_another_text_chunker_tokenizer_or_chunking_revision_is_cut_again(cuts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ChunkerSpec(strategy="recursive", size=120, overlap=0)
    chunk_corpus(_corpus("trams"), spec)
    edited = Corpus("trams", (*_corpus("trams").documents[:2], Document("trams-2", "Trams run every ten minutes.")))
    assert [c.text for c in chunk_corpus(edited, spec) if c.doc_id == "trams-2"] == ["Trams run every ten minutes."]
    chunk_corpus(_corpus("trams"), spec.model_copy(update={"size": 160}))
    token = ChunkerSpec(strategy="token", size=20, overlap=0)
    chunk_corpus(_corpus("trams"), token, HashingEmbedder().tokenizer)
    chunk_corpus(_corpus("trams"), token, HashingEmbedder().tokenizer)  # another tokenizer may count otherwise
    chunk_corpus(_corpus("trams"), spec, HashingEmbedder().tokenizer)  # a character chunker reads no tokenizer: kept
    monkeypatch.setattr(grid, "CHUNKING_REVISION", grid.CHUNKING_REVISION + 1)  # a newer workbench's chunkers
    chunk_corpus(_corpus("trams"), spec)
    assert len(cuts) == 3 * 6


def test_a_corpus_longer_than_the_process_keeps_is_cut_every_time(cuts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunk_module, "_KEPT_CHARS", 100)
    spec = ChunkerSpec(strategy="recursive", size=120, overlap=0)
    assert chunk_corpus(_corpus("buses"), spec) == chunk_corpus(_corpus("buses"), spec)
    assert len(cuts) == 2 * 3


def test_a_second_sweep_in_the_process_cuts_the_corpus_no_more(wb_settings: Any, fake_models: Any, cuts: list[str]) -> None:
    # each sweep builds its indexes anew (a fresh index store, as every test's): 15% of a small sweep was cutting the
    # corpus the sweep before had cut into the same chunks
    spec = ExperimentSpec.from_dict({
        "name": "unit", "dataset": {"path": "datasets/python_docs.jsonl", "limit": 2}, "corpus": {"builtin": "python-reference"},
        "prompts": [{"name": "p", "template": "{context}\nQ: {question}\nA:"}], "models": [{"id": GEMMA_ID, "params": {"max_tokens": 8}}],
        "chunkers": [{"strategy": "recursive", "size": 700, "overlap": 70}, {"strategy": "sentence", "size": 350, "overlap": 0}],
        "retrieval": [{"k": 2}],
    }, base_dir=ROOT)

    def sweep() -> dict[str, Any]:
        result = wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings,
                        progress=False, fresh=True, generate=False)
        return {v.variant.chunker.label: v.chunk_stats for v in result.variants}

    first = sweep()
    cut_first = len(cuts)
    assert sweep() == first and all(stats.count and stats.sha256 for stats in first.values())
    assert len(cuts) == cut_first


def test_a_chunker_put_in_place_of_another_cuts_again(cuts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # a bundle checks the chunks this workbench cuts against the evaluated ones: they must come from its chunkers
    spec = ChunkerSpec(strategy="recursive", size=120, overlap=0)
    kept = chunk_corpus(_corpus("cable cars"), spec)
    monkeypatch.setitem(chunk_module._STRATEGIES, "recursive", lambda spec, tokenizer: lambda text: [text])
    assert [c.text for c in chunk_corpus(_corpus("cable cars"), spec)] == [d.text for d in _corpus("cable cars").documents] != [c.text for c in kept]


def test_the_chunks_kept_for_a_pdf_are_not_handed_out_once_its_pages_moved() -> None:
    # kept by the corpus's hash, which covers where its pages start: a blank cover page added (the same text) cuts
    # chunks one page on, not the chunks kept with the old pages
    text = "Travel policy. Book flights early.\n\nExpenses policy. Submit receipts in time."
    second = text.index("Expenses")
    spec = ChunkerSpec(strategy="recursive", size=40, overlap=0)
    before = chunk_corpus(Corpus("paged", (Document("handbook", text, {"page_starts": f"0 {second}"}),)), spec)
    after = chunk_corpus(Corpus("paged", (Document("handbook", text, {"page_starts": f"0 0 {second}"}),)), spec)
    assert [c.text for c in after] == [c.text for c in before]
    assert [c.pages for c in before][::len(before) - 1] == [(1, 1), (2, 2)]
    assert [c.pages for c in after] == [(first + 1, last + 1) for first, last in (c.pages for c in before if c.pages)]
