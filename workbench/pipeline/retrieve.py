"""Retrieval: similarity search or maximal marginal relevance over a read-only index."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from workbench.models import Embedder
from workbench.pipeline.chunk import ChunkStats
from workbench.pipeline.index import Hit, VectorIndex
from workbench.spec import RetrievalSpec

__all__ = ["Retriever", "SharedSearch", "retrievers_sharing_search"]


def _mmr(query: list[float], hits: list[Hit], k: int, lambda_mult: float) -> list[Hit]:
    import numpy as np
    from langchain_core.vectorstores.utils import maximal_marginal_relevance

    if not hits:
        return []
    if not any(query):  # nothing to be relevant to (the fake embedder has no words for "東京"): the similarity order, as search gives
        return [Hit(h.chunk, h.score) for h in hits[:k]]
    picked = maximal_marginal_relevance(
        np.array(query), [list(h.vector or ()) for h in hits], lambda_mult=lambda_mult, k=min(k, len(hits))
    )
    return [Hit(hits[i].chunk, hits[i].score) for i in picked]


@dataclass(frozen=True)
class Retriever:
    """Finds the chunks for a question. Holds a read-only index: a variant cannot change what others retrieve.

    ``pages``: where the pages of the corpus's paged documents start (``Corpus.page_starts``), so that each chunk
    retrieved from one says its pages, whichever index keeps it (one built before chunks knew their pages too), and each
    one of a document without pages says none.
    """

    index: VectorIndex
    embedder: Embedder
    spec: RetrievalSpec
    pages: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def embed_query(self, question: str) -> list[float]:
        return self.embedder.embed([question])[0]

    def retrieve(self, question: str) -> list[Hit]:
        vector = self.embed_query(question)
        if self.spec.search == "mmr":
            candidates = self.index.search(vector, self.spec.fetch_k, with_vectors=True)
            hits = _mmr(vector, candidates, self.spec.k, self.spec.mmr_lambda)
        else:
            hits = self.index.search(vector, self.spec.k)
        # always: an index is keyed by its corpus's text, so one an in-process store built for a PDF (its chunks holding
        # their pages) serves the same text given without pages, or with them elsewhere
        paged = ((h, h.chunk.on_pages(self.pages.get(h.chunk.doc_id))) for h in hits)
        return [h if chunk is h.chunk else replace(h, chunk=chunk) for h, chunk in paged]


class SharedSearch:
    """An index whose retrieval settings share each search: a question's vector is searched once, as wide as the widest
    of ``settings`` asks (the largest ``k``, or ``fetch_k`` of an MMR setting, with the chunks' vectors when one is
    MMR), and each setting takes the closest chunks it asks for from that search. A search finds the closest chunks of
    the whole index in the order ``ranked`` gives (ties by chunk id), so its first ``k`` are what a search for ``k``
    finds. A search of Chroma is a pass over every chunk of the index (``_ef_search``): each setting searching for
    itself made a sweep of 500 questions with a similarity and an MMR setting pass over 40,000 chunks 1,000 times.

    It keeps the last vector's search only, so the settings should retrieve one question after another.
    """

    def __init__(self, index: VectorIndex, settings: Iterable[RetrievalSpec]) -> None:
        settings = list(settings)
        self.key = index.key
        self.stats: ChunkStats | None = index.stats
        self._index = index
        self._width = max((s.fetch_k if s.search == "mmr" else s.k for s in settings), default=1)
        self._vectors = any(s.search == "mmr" for s in settings)
        self._last: tuple[tuple[float, ...], list[Hit]] | None = None

    def __len__(self) -> int:
        return len(self._index)

    def search(self, vector: Sequence[float], k: int, *, with_vectors: bool = False) -> list[Hit]:
        if k > self._width or (with_vectors and not self._vectors):  # a setting it was not made for: a search of its own
            return self._index.search(vector, k, with_vectors=with_vectors)
        query = tuple(vector)
        if self._last is None or self._last[0] != query:
            self._last = (query, self._index.search(vector, self._width, with_vectors=self._vectors))
        hits = self._last[1][:k]
        return hits if with_vectors or not self._vectors else [replace(h, vector=None) for h in hits]


def retrievers_sharing_search(index: VectorIndex, embedder: Embedder, settings: Iterable[RetrievalSpec],
                              pages: Mapping[str, tuple[int, ...]]) -> dict[str, Retriever]:
    """A retriever for each distinct setting of ``settings`` (keyed by its JSON), all of them sharing each search of
    ``index`` (``SharedSearch``): let them retrieve a question after another."""
    specs = {s.model_dump_json(): s for s in settings}
    shared = SharedSearch(index, specs.values())
    return {key: Retriever(index=shared, embedder=embedder, spec=spec, pages=pages) for key, spec in specs.items()}
