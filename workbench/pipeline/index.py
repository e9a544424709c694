"""Vector indexes behind one interface: Chroma (persistent, the default) and an in-memory one for unit tests.

An index is content-addressed by its key (corpus + chunker + embedding model), built once and then only read.
A half-built Chroma collection (interrupted build) is never reused: it is marked complete only after the last add.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from workbench.metrics import cosine
from workbench.pipeline.chunk import Chunk

__all__ = ["ChromaIndexStore", "Hit", "IndexStore", "MemoryIndexStore", "VectorIndex"]


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its similarity (cosine, higher is closer) and, when asked, its vector."""

    chunk: Chunk
    score: float
    vector: tuple[float, ...] | None = None


class VectorIndex(Protocol):
    """A read-only view of a built index (what a variant receives: it cannot write to it)."""

    key: str

    def __len__(self) -> int: ...

    def search(self, vector: Sequence[float], k: int, *, with_vectors: bool = False) -> list[Hit]: ...


class IndexStore(Protocol):
    """Builds and opens indexes by key."""

    def open(self, key: str) -> VectorIndex | None:
        """The complete index with this key, or None."""
        ...

    def build(self, key: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> VectorIndex: ...


# -- in memory ---------------------------------------------------------------------------------------------------


class _MemoryIndex:
    def __init__(self, key: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        self.key = key
        self._items = list(zip(chunks, [tuple(v) for v in vectors]))

    def __len__(self) -> int:
        return len(self._items)

    def search(self, vector: Sequence[float], k: int, *, with_vectors: bool = False) -> list[Hit]:
        scored = sorted(((cosine(vector, v), i) for i, (_, v) in enumerate(self._items)), key=lambda t: (-t[0], t[1]))
        return [
            Hit(self._items[i][0], score, self._items[i][1] if with_vectors else None) for score, i in scored[:k]
        ]


class MemoryIndexStore:
    """Indexes kept in a dict, for unit tests and throwaway sweeps."""

    def __init__(self) -> None:
        self._indexes: dict[str, _MemoryIndex] = {}

    def open(self, key: str) -> VectorIndex | None:
        return self._indexes.get(key)

    def build(self, key: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> VectorIndex:
        index = _MemoryIndex(key, chunks, vectors)
        self._indexes[key] = index
        return index


# -- chroma ------------------------------------------------------------------------------------------------------


class _ChromaIndex:
    def __init__(self, key: str, collection: object) -> None:
        self.key = key
        self._collection = collection

    def __len__(self) -> int:
        return int(self._collection.count())  # type: ignore[attr-defined]

    def search(self, vector: Sequence[float], k: int, *, with_vectors: bool = False) -> list[Hit]:
        include = ["documents", "metadatas", "distances"] + (["embeddings"] if with_vectors else [])
        res = self._collection.query(  # type: ignore[attr-defined]
            query_embeddings=[list(vector)], n_results=min(k, len(self)), include=include
        )
        hits = []
        for j, chunk_id in enumerate(res["ids"][0]):
            meta = res["metadatas"][0][j] or {}
            chunk = Chunk(
                id=chunk_id,
                doc_id=str(meta.get("doc_id", "")),
                text=res["documents"][0][j],
                start=int(meta.get("start", -1)),
                end=int(meta.get("end", -1)),
                header=str(meta.get("header", "")),
            )
            vec = tuple(float(x) for x in res["embeddings"][0][j]) if with_vectors else None
            hits.append(Hit(chunk, 1.0 - float(res["distances"][0][j]), vec))
        return hits


class ChromaIndexStore:
    """Persistent Chroma collections under ``path``, one per index key (``wb-<key>``), telemetry off.

    We always hand Chroma our own vectors: its default embedding function would try to download a model.
    """

    def __init__(self, path: str | Path) -> None:
        import chromadb
        from chromadb.config import Settings

        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._client = chromadb.PersistentClient(
            path=str(self.path), settings=Settings(anonymized_telemetry=False, allow_reset=False)
        )

    @staticmethod
    def _name(key: str) -> str:
        return f"wb-{key}"

    def open(self, key: str) -> VectorIndex | None:
        try:
            collection = self._client.get_collection(self._name(key), embedding_function=None)
        except Exception:  # chromadb raises NotFoundError/ValueError depending on version  # noqa: BLE001
            return None
        if not (collection.metadata or {}).get("workbench_complete"):
            return None
        return _ChromaIndex(key, collection)

    def build(self, key: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> VectorIndex:
        name = self._name(key)
        try:
            self._client.delete_collection(name)
        except Exception:  # noqa: BLE001 - absent collection
            pass
        collection = self._client.create_collection(
            name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}, metadata={"workbench_complete": False}
        )
        batch = max(1, min(self._client.get_max_batch_size(), 2000))
        for i in range(0, len(chunks), batch):
            part = chunks[i : i + batch]
            collection.add(
                ids=[c.id for c in part],
                embeddings=[list(v) for v in vectors[i : i + batch]],
                documents=[c.text for c in part],
                metadatas=[{"doc_id": c.doc_id, "start": c.start, "end": c.end, "header": c.header} for c in part],
            )
        collection.modify(metadata={"workbench_complete": True})
        return _ChromaIndex(key, collection)
