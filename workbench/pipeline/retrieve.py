"""Retrieval: similarity search or maximal marginal relevance over a read-only index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from workbench.models import Embedder
from workbench.pipeline.index import Hit, VectorIndex
from workbench.spec import RetrievalSpec

__all__ = ["Retriever"]


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
