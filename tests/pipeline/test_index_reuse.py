"""An index built for an edited corpus takes the vectors of the earlier index of the same chunker and embedding model
for the chunks that did not change, and embeds only the others: bit for bit the vectors of a cold build."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import workbench as wb
from workbench.models import MINILM_ID
from workbench.datasets import Document, python_reference_corpus
from workbench.pipeline import ChromaIndexStore, MemoryIndexStore, ReusableVectors, chunk_document, embed_chunks, embed_chunks_reusing
from workbench.pipeline.embed import EMBED_BATCH
from workbench.spec import ChunkerSpec
from workbench.testing import HashingEmbedder, PaddingEmbedder

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = ChunkerSpec(strategy="sentence", size=300, overlap=0)
HOSTED = "openai:text-embedding-3-small"  # a provider's model: a text's vector does not depend on its batch


class Counting(HashingEmbedder):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts += texts
        return super().embed(texts)


class CountingPadding(PaddingEmbedder, Counting):
    pass


def chunked(docs: Sequence[Document]) -> list:  # type: ignore[type-arg]
    return [c for d in docs for c in chunk_document(d, SENTENCES)]


def edited(docs: Sequence[Document], at: int) -> list[Document]:
    """``docs`` with one word of document ``at`` changed."""
    doc = docs[at]
    assert " the " in doc.text
    return [*docs[:at], dataclasses.replace(doc, text=doc.text.replace(" the ", " teh ", 1)), *docs[at + 1:]]


def earlier_build(embedder: HashingEmbedder, docs: Sequence[Document]) -> ReusableVectors:
    chunks = chunked(docs)
    return ReusableVectors("old", tuple(c.text for c in chunks), embed_chunks(embedder, chunks))


def test_an_edited_corpus_embeds_only_the_chunk_texts_that_changed() -> None:
    docs = python_reference_corpus().documents
    old, new = chunked(docs), chunked(edited(docs, 40))
    changed = list(dict.fromkeys(c.text for c in new if c.text not in {o.text for o in old}))
    assert 0 < len(changed) < 5 < len(new)
    embedder = Counting()
    vectors, fresh = embed_chunks_reusing(embedder, new, earlier_build(HashingEmbedder(), docs), by_text=True)  # type: ignore[misc]
    assert embedder.texts == changed and fresh == len(changed)
    assert np.array_equal(vectors, embed_chunks(HashingEmbedder(), new))  # bit for bit a cold build's


@pytest.mark.parametrize("by_text", [True, False])
def test_earlier_vectors_of_another_length_are_not_taken_and_the_build_embeds_everything(by_text: bool) -> None:
    docs = python_reference_corpus().documents[:5]
    earlier = earlier_build(HashingEmbedder(dim=8), docs)
    new = chunked(edited(docs, 2))
    embedder = Counting()
    vectors, fresh = embed_chunks_reusing(embedder, new, earlier, by_text=by_text)  # type: ignore[misc]
    assert np.array_equal(vectors, embed_chunks(HashingEmbedder(), new)) and fresh == len(new)


@pytest.mark.parametrize("change", ["one word near the end", "a document added first", "a copy's first chunk removed"])
def test_a_model_whose_vectors_move_with_their_batch_gets_a_cold_builds_vectors_bit_for_bit(change: str) -> None:
    # a local model pads a batch to its longest text: a chunk embedded with other neighbours than in a cold build had
    # other last bits, so only batches the earlier build embedded exactly alike are taken
    docs = python_reference_corpus().documents
    if change == "a copy's first chunk removed":  # the earlier build's later copy held the vector of its first one
        # one chunk a document: the first batch ends with a long page, the second holds a copy of a page of the first
        docs = [Document(f"p{n:04}", f"Page {n} of the notes.") for n in range(4 * EMBED_BATCH + 10)]
        docs[EMBED_BATCH - 1] = Document(f"p{EMBED_BATCH - 1:04}", "A long page " * 20)
        docs[EMBED_BATCH + 5] = Document(f"p{EMBED_BATCH + 5:04}", docs[5].text)
        new_docs = [*docs[:5], Document("p0005", "Page five, edited."), *docs[6:]]  # the copy is now the first
    else:
        new_docs = edited(docs, len(docs) - 2) if change == "one word near the end" else [Document("aa-new", "A new page."), *docs]
    new = chunked(new_docs)
    assert len(new) > 4 * EMBED_BATCH
    embedder = CountingPadding()
    vectors, fresh = embed_chunks_reusing(embedder, new, earlier_build(PaddingEmbedder(), docs), by_text=False)  # type: ignore[misc]
    assert np.array_equal(vectors, embed_chunks(PaddingEmbedder(), new))
    assert fresh == len(embedder.texts)
    if change == "one word near the end":
        assert fresh <= 2 * EMBED_BATCH < len(new)


def test_a_chroma_store_lends_the_vectors_of_the_last_index_of_the_same_lineage_only(tmp_path: Path) -> None:
    store, embedder = ChromaIndexStore(tmp_path / "chroma"), HashingEmbedder()
    chunks = chunked(python_reference_corpus().documents[:10])
    vectors = embed_chunks(embedder, chunks)
    store.build("old", chunks, vectors, lineage="minilm-sentences")
    store.build("other", chunks[:3], vectors[:3], lineage="minilm-tokens")
    store.build("unmarked", chunks[:2], vectors[:2])
    lent = store.reusable_vectors("minilm-sentences", "new")
    assert lent is not None and lent.key == "old"
    assert lent.texts == tuple(c.text for c in chunks) and np.array_equal(lent.vectors, vectors)  # in the order embedded
    assert store.reusable_vectors("minilm-sentences", "old") is None  # never itself
    assert store.reusable_vectors("minilm-recursive", "new") is None
    memory = MemoryIndexStore()
    memory.build("old", chunks, vectors, lineage="minilm-sentences")
    lent = memory.reusable_vectors("minilm-sentences", "new")
    assert lent is not None and np.array_equal(lent.vectors, vectors) and memory.reusable_vectors("minilm-tokens", "new") is None


@pytest.mark.parametrize("damage", ["file cut short", "file deleted", "pointer cut short", "texts and vectors of unequal count"])
def test_vectors_kept_cut_short_or_mismatched_are_passed_over_and_removed_with_their_index(damage: str, tmp_path: Path) -> None:
    store, embedder = ChromaIndexStore(tmp_path / "chroma"), HashingEmbedder()
    chunks = chunked(python_reference_corpus().documents[:3])
    store.build("old", chunks, embed_chunks(embedder, chunks), lineage="L")
    kept = tmp_path / "chroma" / "workbench-vectors"
    (data,) = kept.glob("L-*.npz")
    pointer = kept / "L.json"
    if damage == "file cut short":
        os.truncate(data, data.stat().st_size // 2)
    elif damage == "file deleted":
        data.unlink()
    elif damage == "pointer cut short":
        pointer.write_text(pointer.read_text()[:10])
    else:
        np.savez(data, vectors=np.zeros((3, 4), dtype=np.float32), texts=np.frombuffer(b'["one"]', dtype=np.uint8))
    assert store.reusable_vectors("L", "new") is None
    store.build("old2", chunks[:2], embed_chunks(embedder, chunks[:2]), lineage="L")  # a build after it keeps its own
    lent = store.reusable_vectors("L", "new")
    assert lent is not None and lent.key == "old2" and len(lent.texts) == 2
    assert len(list(kept.glob("L-*.npz"))) == (2 if damage == "pointer cut short" else 1)  # one no pointer names: once stale
    assert [i.key for i in store.remove()] and not kept.exists()


def test_a_build_keeping_its_vectors_leaves_those_of_a_build_under_way_and_drops_the_last_ones_kept(tmp_path: Path) -> None:
    # two processes building indexes of one lineage at once: each deleted every other file of the lineage, the one the
    # other was about to name too, so the next build found nothing to reuse
    store, embedder = ChromaIndexStore(tmp_path / "chroma"), HashingEmbedder()
    chunks = chunked(python_reference_corpus().documents[:2])
    vectors = embed_chunks(embedder, chunks)
    store.build("a", chunks, vectors, lineage="L")
    kept = tmp_path / "chroma" / "workbench-vectors"
    (first,) = kept.glob("L-*.npz")
    under_way, stale = kept / "L-underway.npz", kept / "L-died.npz"
    under_way.write_bytes(first.read_bytes())
    stale.write_bytes(first.read_bytes())
    os.utime(stale, (0, 0))  # a build that died long ago
    store.build("b", chunks, vectors, lineage="L")
    assert under_way.exists() and not first.exists() and not stale.exists()
    lent = store.reusable_vectors("L", "new")
    assert lent is not None and lent.key == "b" and np.array_equal(lent.vectors, vectors)


def sweep(wb_settings, store, docs: Sequence[Document], embedder: Counting, events: list | None = None) -> wb.SweepResult:  # type: ignore[no-untyped-def,type-arg]
    import pandas as pd

    spec = wb.ExperimentSpec.from_dict({
        "name": "edits", "prompts": [{"name": "p", "template": "{context} {question}"}], "models": [{"id": "local:gemma3-270m"}],
        "chunkers": [{"strategy": "sentence", "size": 300, "overlap": 0}], "retrieval": [{"k": 4, "embedding": embedder.model_id}],
        "execution": {"isolation": "none"},
    }, base_dir=ROOT)
    frame = pd.DataFrame({"id": range(len(QUESTIONS)), "question": QUESTIONS})
    return wb.run(spec, dataset=frame, corpus=[{"id": d.id, "text": d.text} for d in docs], generate=False, index_store=store,
                  models={embedder.model_id: embedder}, settings=wb_settings, progress=False, fresh=True,
                  on_event=events.append if events is not None else None)


QUESTIONS = ["How do I catch an exception?", "What does a for loop iterate over?", "How are classes defined?",
             "What is a dictionary?", "How do I open a file?"]


@pytest.mark.parametrize("embedding", [HOSTED, MINILM_ID])
def test_a_sweep_over_an_edited_corpus_embeds_only_what_changed_and_retrieves_as_a_cold_build(embedding: str, wb_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # the local model's vectors move with their batch (a padding fake): its one batch is embedded again, whole
    make = (lambda: Counting(model_id=HOSTED)) if embedding == HOSTED else (lambda: CountingPadding(model_id=MINILM_ID))
    docs = python_reference_corpus().documents[:30]
    store = ChromaIndexStore(tmp_path / "indexes")
    sweep(wb_settings, store, docs, make())
    new_docs, embedder, events = edited(docs, 20), make(), []
    warm = sweep(wb_settings, store, new_docs, embedder, events)
    count = warm.variants[0].chunk_stats.count
    changed = {c.text for c in chunked(new_docs)} - {c.text for c in chunked(docs)}
    embedded = [t for t in embedder.texts if t not in QUESTIONS]
    if embedding == HOSTED:
        assert sorted(embedded) == sorted(changed) and changed
    else:
        texts = [c.text for c in chunked(new_docs)]
        start = texts.index(embedded[0])
        assert start % EMBED_BATCH == 0 and embedded == texts[start:start + len(embedded)] and changed <= set(embedded)
        assert len(embedded) < count
    (built,) = [e.message for e in events if e.kind == "index_built"]
    assert f"embedded {len(embedded)} of {count:,}, the others' vectors from index " in built, built
    cold = sweep(wb_settings, ChromaIndexStore(tmp_path / "cold"), new_docs, make())
    hits = [[(h.chunk.id, h.score) for h in r.hits] for r in warm.variants[0].records]
    assert hits == [[(h.chunk.id, h.score) for h in r.hits] for r in cold.variants[0].records] and all(hits)


def test_the_build_note_names_other_vectors_only_when_some_were_taken() -> None:
    from workbench.runner._sweep import reuse_note

    assert reuse_note(3, 1204, "abc") == "; embedded 3 of 1,204, the others' vectors from index abc"
    # every chunk embedded again (a corpus rewritten, or cut otherwise): there are no others to name
    assert reuse_note(85, 85, "abc") == "; embedded all 85 chunks (none could take its vector from index abc)"


class FailingAfter(Counting):
    """A provider's model that answers ``calls`` embedding calls, then fails every call (an outage past the retries)."""

    def __init__(self, calls: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.calls = calls

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self.calls <= 0:
            raise ConnectionError("the provider is down")
        self.calls -= 1
        return super().embed(texts)


@pytest.mark.parametrize("store_kind", ["chroma", "memory"])
def test_a_hosted_build_that_failed_part_way_resumes_from_the_batches_it_embedded(store_kind: str, wb_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An index build whose provider failed in batch 37 of 80 kept nothing: the next sweep embedded (paid for) all 80
    batches again. The batches embedded before the failure are kept as the lineage's vectors, so it embeds the rest."""
    docs = python_reference_corpus().documents
    stores = {"chroma": lambda name: ChromaIndexStore(tmp_path / name), "memory": lambda name: MemoryIndexStore()}
    store = stores[store_kind]("indexes")
    failed = sweep(wb_settings, store, docs, FailingAfter(1, model_id=HOSTED))
    (variant,) = failed.variants
    assert variant.status == "FAILED" and "the provider is down" in (variant.outcome.error or "")
    texts = [c.text for c in chunked(docs)]
    assert len(texts) > 2 * EMBED_BATCH
    embedder, events = Counting(model_id=HOSTED), []
    resumed = sweep(wb_settings, store, docs, embedder, events)
    embedded = [t for t in embedder.texts if t not in QUESTIONS]
    assert sorted(embedded) == sorted(set(texts) - set(texts[:EMBED_BATCH]))  # the first batch is not asked again
    (built,) = [e.message for e in events if e.kind == "index_built"]
    assert f"embedded {len(embedded):,} of {len(texts):,}, the others' vectors from index " in built and "unfinished" in built, built
    cold = sweep(wb_settings, stores[store_kind]("cold"), docs, Counting(model_id=HOSTED))
    hits = [[(h.chunk.id, h.score) for h in r.hits] for r in resumed.variants[0].records]
    assert hits == [[(h.chunk.id, h.score) for h in r.hits] for r in cold.variants[0].records] and all(hits)


def test_a_hosted_build_stopped_part_way_keeps_the_batches_it_embedded() -> None:
    """The RunPanel's Stop in batch 37 of 80 dropped what the build had embedded, as a failure did."""
    chunks = chunked(python_reference_corpus().documents)
    assert len(chunks) > 2 * EMBED_BATCH
    embedder, kept = Counting(model_id=HOSTED), []
    stop_after_first = lambda: len(embedder.texts) >= EMBED_BATCH  # noqa: E731
    assert embed_chunks_reusing(embedder, chunks, None, by_text=True, stopping=stop_after_first,
                                unfinished=lambda texts, vectors: kept.append((list(texts), vectors))) is None
    ((texts, vectors),) = kept
    assert texts == [c.text for c in chunks[:EMBED_BATCH]] and np.array_equal(vectors, embed_chunks(Counting(model_id=HOSTED), chunks[:EMBED_BATCH]))
