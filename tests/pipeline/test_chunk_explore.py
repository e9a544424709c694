"""What the chunk explorer shows: length histograms and where chunk boundaries fall in a document (pure)."""

from __future__ import annotations

import pytest

from workbench.datasets import Document
from workbench.pipeline import Chunk, chunk_document, chunk_segments, length_histogram
from workbench.spec import ChunkerSpec

PROSE = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(60))


def _chunk(start: int, end: int, text: str) -> Chunk:
    return Chunk(id=f"d#{start}", doc_id="d", text=text[start:end], start=start, end=end)


def test_histogram_counts_every_chunk_once_in_equal_width_bars() -> None:
    text = "x" * 1000
    chunks = [_chunk(0, n, text) for n in (10, 12, 19, 30, 55, 100)]
    bars = length_histogram(chunks, bins=9)
    assert sum(b.count for b in bars) == 6
    widths = {b.end - b.start for b in bars}
    assert widths == {11}  # ceil((100 - 10 + 1) / 9)
    assert bars[0].start == 10 and bars[0].count == 3  # 10, 12 and 19 fall in [10, 21)
    assert bars[-1].start <= 100 < bars[-1].end and bars[-1].count == 1
    assert all(b.count for b in (bars[0], bars[-1]))


def test_histogram_edge_cases() -> None:
    assert length_histogram([]) == []
    same = [_chunk(0, 5, "abcdefgh"), _chunk(1, 6, "abcdefgh")]
    assert [(b.start, b.end, b.count) for b in length_histogram(same, bins=4)] == [(5, 6, 2)]
    with pytest.raises(ValueError):
        length_histogram(same, bins=0)


def test_segments_cover_the_document_and_mark_overlaps_and_gaps() -> None:
    text = "0123456789abcdefghij"
    chunks = [_chunk(2, 10, text), _chunk(7, 15, text)]
    segs = chunk_segments(text, chunks)
    assert [(s.start, s.end, s.chunks) for s in segs] == [(0, 2, ()), (2, 7, (0,)), (7, 10, (0, 1)), (10, 15, (1,)), (15, 20, ())]
    assert "".join(text[s.start : s.end] for s in segs) == text


def test_segments_of_a_real_chunker_follow_its_overlap() -> None:
    doc = Document("d", PROSE)
    with_overlap = chunk_document(doc, ChunkerSpec(strategy="sentence", size=200, overlap=60))
    segs = chunk_segments(doc.text, with_overlap)
    assert any(len(s.chunks) == 2 for s in segs)
    assert segs[0].start == 0 and segs[-1].end == len(doc.text)
    without = chunk_document(doc, ChunkerSpec(strategy="sentence", size=200, overlap=0))
    assert all(len(s.chunks) <= 1 for s in chunk_segments(doc.text, without))
    unlocated = [Chunk("d#x", "d", "zz", -1, -1)]
    assert [(s.start, s.end, s.chunks) for s in chunk_segments("abc", unlocated)] == [(0, 3, ())]


def test_segments_mark_every_chunk_over_them_whatever_the_spans() -> None:
    """Nested, identical, touching, empty and unordered spans: each segment lists exactly the chunks that contain it."""
    import random

    rng = random.Random(7)
    text = "x" * 60
    for _ in range(200):
        spans = [sorted(rng.sample(range(61), 2)) for _ in range(rng.randint(0, 8))]
        spans += [[s, s] for s, _ in spans[:1]]  # an empty span covers nothing
        chunks = [_chunk(s, e, text) for s, e in spans]
        segs = chunk_segments(text, chunks)
        assert "".join(text[s.start : s.end] for s in segs) == text
        for seg in segs:
            assert seg.chunks == tuple(i for i, c in enumerate(chunks) if c.start <= seg.start and seg.end <= c.end and c.start < c.end)
