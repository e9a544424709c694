import pytest

from workbench.datasets import Corpus, Document
from workbench.pipeline import chunk_corpus, chunk_document, chunk_stats
from workbench.pipeline.chunk import split_sentences
from workbench.spec import ChunkerSpec
from workbench.testing import HashingEmbedder

PROSE = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(60))
MARKDOWN = "# Handbook\nIntro line.\n\n## Travel\nBook trains early. Keep receipts.\n\n### Hotels\nMax 150 EUR per night.\n\n## Leave\n25 days per year.\n"


@pytest.mark.parametrize("strategy", ["recursive", "sentence", "markdown", "token"])
def test_chunks_cover_the_text_with_locatable_offsets(strategy: str) -> None:
    doc = Document("d", PROSE)
    size = 40 if strategy == "token" else 300
    chunks = chunk_document(doc, ChunkerSpec(strategy=strategy, size=size, overlap=size // 10), HashingEmbedder().tokenizer)
    assert len(chunks) > 1
    for c in chunks:
        assert c.start >= 0 and doc.text[c.start : c.end] == c.text
        if strategy != "token":
            assert len(c.text) <= 300
    assert len({c.id for c in chunks}) == len(chunks)
    assert chunks == chunk_document(doc, ChunkerSpec(strategy=strategy, size=size, overlap=size // 10), HashingEmbedder().tokenizer)


def test_overlap_repeats_text_between_neighbours() -> None:
    chunks = chunk_document(Document("d", PROSE), ChunkerSpec(strategy="sentence", size=200, overlap=60))
    assert any(a.end > b.start for a, b in zip(chunks, chunks[1:]))
    no_overlap = chunk_document(Document("d", PROSE), ChunkerSpec(strategy="sentence", size=200, overlap=0))
    assert all(a.end <= b.start for a, b in zip(no_overlap, no_overlap[1:]))


def test_markdown_chunks_follow_headers() -> None:
    chunks = chunk_document(Document("hb", MARKDOWN), ChunkerSpec(strategy="markdown", size=500, overlap=0))
    assert [c.text.splitlines()[0] for c in chunks] == ["# Handbook", "## Travel", "### Hotels", "## Leave"]
    assert [c.header for c in chunks] == ["Handbook", "Travel", "Hotels", "Leave"]


def test_token_chunker_counts_with_the_embedding_tokenizer() -> None:
    from workbench.models import MINILM_ID, load_embedder

    embedder = load_embedder(MINILM_ID)
    chunks = chunk_document(Document("d", PROSE), ChunkerSpec(strategy="token", size=64, overlap=8), embedder.tokenizer)
    assert max(embedder.count_tokens(c.text) for c in chunks) <= 64
    assert len(chunks) >= 7


def test_sentence_splitter_and_stats() -> None:
    assert split_sentences("One. Two! Three?\n\nFour") == ["One.", "Two!", "Three?", "Four"]
    chunks = chunk_corpus(Corpus("c", (Document("a", PROSE), Document("b", MARKDOWN))), ChunkerSpec(strategy="recursive", size=200, overlap=0))
    stats = chunk_stats(chunks)
    assert stats.count == len(chunks) and stats.documents == 2
    assert stats.min_chars <= stats.median_chars <= stats.max_chars <= 200
