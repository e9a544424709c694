"""Vector indexes behind one interface: what a variant searches (``VectorIndex``), what builds and opens them by key
(``IndexStore``), and the in-memory store for unit tests. The stores that persist them are Chroma's (``chroma_local``,
the default, and ``chroma_server``).

An index is content-addressed by its key (corpus + chunker + embedding model), built once and then only read.
A half-built Chroma collection (interrupted build) is never reused: it is published under its key only after the
last add. A build for another version of the corpus takes the vectors the last build of the same chunker and
embedding model computed for the chunks that did not change (``embed.embed_chunks_reusing``; a local store keeps them,
as embedded, beside its indexes), so a corpus edit embeds only what changed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from workbench.metrics import cosine
from workbench.pipeline.chunk import Chunk, ChunkStats
from workbench.pipeline.embed import ReusableVectors, unfinished_key

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Hit", "IndexInfo", "IndexStore", "MemoryIndexStore", "VectorIndex"]


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its similarity (cosine, higher is closer) and, when asked, its vector."""

    chunk: Chunk
    score: float
    vector: tuple[float, ...] | None = None


@dataclass(frozen=True)
class IndexInfo:
    """A published index: its key, its chunks (None: it cannot be read, damaged) and when it was built (None: by a
    workbench that did not record it)."""

    key: str
    chunks: int | None
    built_at: float | None


def ranked(hits: Sequence[Hit], k: int) -> list[Hit]:
    """The ``k`` closest of ``hits``, closest first; chunks at the same similarity (the same text in two documents, a
    duplicated document) in the order of their ids, so that every build of an index returns the same chunks in the same
    order whatever order its chunks were added in (Chroma returns ties in the order of its graph, which differs between
    builds)."""
    return sorted(hits, key=lambda h: (-h.score, h.chunk.id))[:k]

class VectorIndex(Protocol):
    """A read-only view of a built index (what a variant receives: it cannot write to it)."""

    key: str
    # the statistics of the chunks it was built from (None: built before they were kept), so that a sweep opening it
    # need not chunk the corpus again to report them
    stats: ChunkStats | None

    def __len__(self) -> int: ...

    def search(self, vector: Sequence[float], k: int, *, with_vectors: bool = False) -> list[Hit]: ...


@runtime_checkable
class IndexStore(Protocol):
    """Builds and opens indexes by key."""

    def open(self, key: str) -> VectorIndex | None:
        """The complete index with this key, or None (also when it is damaged: building it again replaces it)."""
        ...

    def build(self, key: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], *, stats: ChunkStats | None = None) -> VectorIndex:
        """Build and publish the index of ``chunks``, keeping their ``stats`` with it."""
        ...


# -- in memory ---------------------------------------------------------------------------------------------------


class _MemoryIndex:
    """Its chunks' vectors in one matrix with their norms, so a search is one product: it was a Python cosine per chunk,
    which made a sweep of a few hundred chunks spend most of its time searching."""

    def __init__(self, key: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], stats: ChunkStats | None) -> None:
        import numpy as np

        self.key = key
        self.stats = stats
        self._chunks = list(chunks)
        self._vectors = [tuple(map(float, v)) for v in vectors]
        self._matrix = np.array(self._vectors, dtype=np.float64).reshape(len(self._vectors), -1)
        self._norms = np.sqrt(np.einsum("ij,ij->i", self._matrix, self._matrix))

    def __len__(self) -> int:
        return len(self._chunks)

    def search(self, vector: Sequence[float], k: int, *, with_vectors: bool = False) -> list[Hit]:
        import numpy as np

        query = np.asarray(vector, dtype=np.float64)
        if not self._chunks or query.shape != self._matrix.shape[1:]:
            # no chunks; or a query of another length (another embedding model), which cosine paired up to the shorter
            return ranked([Hit(c, cosine(vector, v), v if with_vectors else None) for c, v in zip(self._chunks, self._vectors)], k)
        norms = self._norms * math.sqrt(float(query @ query))
        dots = self._matrix @ query
        scores = np.divide(dots, norms, out=np.zeros_like(dots), where=norms != 0).tolist()  # cosine: 0 for a zero vector
        return ranked([Hit(c, s, v if with_vectors else None) for c, s, v in zip(self._chunks, scores, self._vectors)], k)



class MemoryIndexStore:
    """Indexes kept in a dict, for unit tests and throwaway sweeps."""

    def __init__(self) -> None:
        self._indexes: dict[str, _MemoryIndex] = {}
        self._lineages: dict[str, str] = {}
        self._unfinished: dict[str, ReusableVectors] = {}  # by lineage: what a build that failed had embedded

    def open(self, key: str) -> VectorIndex | None:
        return self._indexes.get(key)

    def build(self, key: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], *, stats: ChunkStats | None = None,
              lineage: str | None = None) -> VectorIndex:
        index = _MemoryIndex(key, chunks, vectors, stats)
        self._indexes[key] = index
        self._lineages.pop(key, None)
        if lineage is not None:
            self._lineages[key] = lineage
            self._unfinished.pop(lineage, None)
        return index

    def keep_unfinished(self, lineage: str, key: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Keep what a build of index ``key`` embedded before it failed as the last vectors of ``lineage`` (see
        ``ChromaIndexStore``)."""
        import numpy as np

        self._unfinished[lineage] = ReusableVectors(unfinished_key(key), tuple(texts), np.array(vectors, dtype=np.float32))

    def reusable_vectors(self, lineage: str, key: str) -> ReusableVectors | None:
        """The chunks and vectors of the index of ``lineage`` built last, other than ``key``, or what its last build
        embedded before it failed (see ``ChromaIndexStore``)."""
        import numpy as np

        if lineage in self._unfinished:
            return self._unfinished[lineage]
        built = [k for k, found in self._lineages.items() if found == lineage and k != key]
        if not built:
            return None
        index = self._indexes[built[-1]]
        return ReusableVectors(index.key, tuple(c.text for c in index._chunks), np.asarray(index._vectors, dtype=np.float32))
