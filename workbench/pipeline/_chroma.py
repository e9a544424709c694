"""Indexes as Chroma collections, one per key, shared by the local store (``chroma_local``) and the server's
(``chroma_server``): builds published by renaming a collection of their own, exhaustive searches, listing and removing."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from workbench.errors import WorkbenchError
from workbench.pipeline.chunk import Chunk, ChunkStats
from workbench.pipeline.index import Hit, IndexInfo, VectorIndex, ranked

__all__ = ["STALE_BUILD_S", "ChromaStore", "IndexRemoved"]

_COMPLETE, _KEY, _STARTED = "workbench_complete", "workbench_key", "workbench_build_started"
_BUILT = "workbench_built"  # when the index was published, in seconds since the epoch
_LINEAGE = "workbench_lineage"  # what made its vectors but the corpus (chunker, chunking revision, embedder identity)
_STATS = "workbench_chunk_stats"  # the chunk statistics of the build, as JSON
_BUILDING = "-building-"
STALE_BUILD_S = 6 * 3600  # a build's collection older than this belongs to a build that died


class IndexRemoved(WorkbenchError):
    """A Chroma index was removed while it was read (its class name opens a variant's error: ``IndexRemoved: ...``)."""


class _ChromaIndex:
    def __init__(self, key: str, collection: Any, reaching: Callable[[str], contextlib.AbstractContextManager[None]]) -> None:
        self.key = key
        self._collection = collection
        self._reaching = reaching  # the requests of a search, named when the server cannot be reached
        self._count: int | None = None
        kept = (collection.metadata or {}).get(_STATS)
        self.stats = ChunkStats.from_dict(json.loads(kept)) if isinstance(kept, str) else None

    def __len__(self) -> int:
        if self._count is None:  # a published index never changes: count it once (one request to a server)
            with self._reading(f"counting the chunks of index {self.key}"):
                self._count = int(self._collection.count())
        return self._count

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """Around the requests of ``what``: an index removed while it was read (``workbench cache clear --indexes`` in
        another terminal, or a teammate's on a shared Chroma server) was Chroma's bare "NotFoundError: Collection
        [7f3c...] does not exist." in each of its variants' errors, naming neither the index nor what to do."""
        from chromadb.errors import NotFoundError

        with self._reaching(what):
            try:
                yield
            except NotFoundError:
                raise IndexRemoved(
                    f"the index was removed while {what} (`workbench cache clear --indexes`, in another terminal or "
                    "on another machine sharing the index store) — run the same command again: it builds the index again"
                ) from None

    def readable(self) -> bool:
        """Whether every chunk can be read back. An index whose files were cut short or deleted (a full disk, a sync
        tool, by hand) lost chunks, which Chroma left out of a search without a word (a deleted vector folder: 248 of
        2247 chunks retrieved) or failed on; asking for all of them, from the vector of the first, finds that out."""
        from chromadb.errors import ChromaError

        try:
            if len(self) == 0:
                return True
            first = self._collection.get(limit=1, include=["embeddings"])["embeddings"][0]
            self._collection.query(query_embeddings=[list(first)], n_results=len(self), include=[])
        except (ChromaError, IndexRemoved):  # removed since it was opened: built again
            return False
        return True

    def search(self, vector: Sequence[float], k: int, *, with_vectors: bool = False) -> list[Hit]:
        # one more than asked shows whether chunks tied with the k-th lie beyond it: fetch until none can, then rank
        fetch = k + 1
        while True:
            hits = self._query(vector, min(fetch, len(self)), with_vectors)
            if len(hits) <= k or fetch >= len(self) or hits[-1].score < ranked(hits, k)[-1].score:
                return ranked(hits, k)
            fetch *= 2

    def _query(self, vector: Sequence[float], n: int, with_vectors: bool) -> list[Hit]:
        include = ["documents", "metadatas", "distances"] + (["embeddings"] if with_vectors else [])
        with self._reading(f"searching index {self.key}"):
            res = self._collection.query(query_embeddings=[list(vector)], n_results=n, include=include)
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


def _space(configuration: Any) -> str | None:
    """The distance a Chroma collection measures, as its configuration names it (``hnsw``, or ``spann`` on a distributed
    Chroma); None when it names none (a Chroma that does not report it). Every index is built to measure cosine."""
    if not isinstance(configuration, Mapping):
        return None
    for section in ("hnsw", "spann"):
        found = configuration.get(section)
        if isinstance(found, Mapping) and found.get("space") is not None:
            return str(found["space"])
    return None


def _ef_search(chunks: int) -> int:
    """How many candidates Chroma's HNSW graph keeps while it searches an index of ``chunks``: all of them, so that a
    search is exhaustive and finds the true closest chunks. With Chroma's default (100) it finds most of them, but the
    graph differs between two builds of one index, so two builds retrieved other chunks for a few questions in twenty
    (1929 chunks); a search then costs a pass over the index (40 ms for 30,000 chunks of 384 numbers). An
    index built before keeps Chroma's default: it answers the same every time, but a build of its key today may not."""
    return max(100, chunks)


class ChromaStore:
    """Chroma collections behind a client, one per index key (``wb-<key>``); shared by the local and server stores.

    A build fills a collection of its own (``wb-<key>-building-<id>``) and publishes it by renaming it to ``wb-<key>``
    with ``workbench_complete`` set, in one request. So a reader (another worker, another machine) never sees a
    half-built index, two builders of one key cannot mix their chunks (the first to publish wins; the other's copy is
    dropped), and a build that dies leaves only its own building collection, removed by a later build of that key once
    it is older than ``STALE_BUILD_S``. We always hand Chroma our own vectors: its default embedding function would
    try to download a model.
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    def close(self) -> None:
        """Let go of the client (idempotent). A local store's Chroma system, kept by Chroma for the life of the process,
        is stopped once no other client of its folder is open: each folder a process had opened kept 7 files and 6
        threads of Chroma's Rust library open until the kernel ended."""
        self._client.close()

    @staticmethod
    def _name(key: str) -> str:
        return f"wb-{key}"

    def open(self, key: str) -> VectorIndex | None:
        with self._reaching(f"opening index {key}"):
            return self._open(key)

    def _open(self, key: str) -> VectorIndex | None:
        from chromadb.errors import NotFoundError

        try:
            collection = self._client.get_collection(self._name(key), embedding_function=None)
        except NotFoundError:
            return None
        if not (collection.metadata or {}).get(_COMPLETE):
            return None  # half-built by an older workbench that built in place
        if _space(collection.configuration) not in (None, "cosine"):
            return None  # measures another distance, whose 1 - distance is no similarity: a build of its key replaces it
        if not self._files_whole(collection):
            return None  # damaged: a build of its key replaces it
        index = _ChromaIndex(key, collection, self._reaching)
        return index if index.readable() else None

    def build(self, key: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], *, stats: ChunkStats | None = None,
              lineage: str | None = None) -> VectorIndex:
        """Build and publish the index of ``chunks``; ``lineage`` names what made its vectors but the corpus, so that a
        build of another version of the corpus can take them (``reusable_vectors``)."""
        if len(chunks) != len(vectors):
            raise ValueError(f"index {key}: {len(chunks)} chunks but {len(vectors)} vectors")
        with self._reaching(f"building index {key}"):
            return self._build(key, chunks, vectors, stats, lineage)

    def _build(self, key: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], stats: ChunkStats | None,
               lineage: str | None) -> VectorIndex:
        import numpy as np
        from chromadb.errors import ChromaError

        self._drop_stale_builds(key)
        staging = self._client.create_collection(
            f"{self._name(key)}{_BUILDING}{uuid.uuid4().hex[:12]}",
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine", "ef_search": _ef_search(len(chunks))}},
            metadata={_COMPLETE: False, _KEY: key, _STARTED: int(time.time())},
        )
        batch = max(1, min(self._client.get_max_batch_size(), 2000))
        for i in range(0, len(chunks), batch):
            part = chunks[i : i + batch]
            staging.add(
                ids=[c.id for c in part],
                embeddings=np.asarray(vectors[i : i + batch], dtype=np.float32),
                documents=[c.text for c in part],
                metadatas=[{"doc_id": c.doc_id, "start": c.start, "end": c.end, "header": c.header} for c in part],
            )
        for _ in range(3):
            try:
                kept = {_STATS: json.dumps(stats.as_dict())} if stats is not None else {}
                kept |= {_LINEAGE: lineage} if lineage is not None else {}
                staging.modify(name=self._name(key), metadata={_COMPLETE: True, _KEY: key, _BUILT: int(time.time()), **kept})
                return _ChromaIndex(key, staging, self._reaching)
            except ChromaError:  # the name is taken: another builder published first, or an old half-built index
                published = self._open(key)
                if published is not None:
                    self._delete(staging.name)
                    return published
                self._delete(self._name(key))
        raise RuntimeError(f"index {key}: could not publish {staging.name} as {self._name(key)}")

    def indexes(self) -> list[IndexInfo]:
        """The published indexes, oldest first (those of unknown age before them); builds under way are left out."""
        from chromadb.errors import ChromaError

        found = []
        with self._reaching("listing the indexes"):
            for collection in self._client.list_collections():
                meta = collection.metadata or {}
                key = self._published_key(collection.name, meta)
                if key is not None:
                    built = meta.get(_BUILT)
                    try:
                        chunks: int | None = int(collection.count()) if self._files_whole(collection) else None
                    except ChromaError:  # its files were damaged: it is listed, and removed, all the same
                        chunks = None
                    found.append(IndexInfo(key, chunks, float(built) if built is not None else None))
        return sorted(found, key=lambda i: (i.built_at is not None, i.built_at or 0.0))

    @classmethod
    def _published_key(cls, name: str, meta: Mapping[str, Any]) -> str | None:
        """The key of a published index's collection (``wb-<key>``, complete), or None: a build under way or that died,
        another tool's collection. An index published by a workbench of 2026-11, which recorded no key, has it in its
        name."""
        key = str(meta.get(_KEY, name.removeprefix(cls._name(""))))
        return key if meta.get(_COMPLETE) and _BUILDING not in name and name == cls._name(key) else None

    def remove(self, older_than_s: float | None = None) -> list[IndexInfo]:
        """Delete the indexes (through Chroma, as another process may have it open) built more than ``older_than_s``
        seconds ago, or all of them; one of unknown age was built by an older workbench and counts as older than any.
        Builds that died (Ctrl+C while an index was built) go too; builds under way are left alone. A later sweep that needs one builds it again. Returns what was removed."""
        now = time.time()
        gone = [i for i in self.indexes() if older_than_s is None or i.built_at is None or now - i.built_at > older_than_s]
        with self._reaching("removing indexes"):
            for info in gone:
                self._delete(self._name(info.key))
            self._drop_stale_builds()  # and what interrupted builds left, of keys no later sweep may build again
        return gone

    def _files_whole(self, collection: Any) -> bool:
        """Whether the files of a collection's vectors are whole, as far as this store can see them (a server's: yes)."""
        return True

    def _reaching(self, what: str) -> contextlib.AbstractContextManager[None]:
        """Around the requests of ``what`` (a local Chroma's need no naming; a server's store names the server)."""
        return contextlib.nullcontext()

    def _delete(self, name: str) -> None:
        from chromadb.errors import NotFoundError

        try:
            self._client.delete_collection(name)
        except NotFoundError:
            pass

    def _drop_stale_builds(self, key: str | None = None) -> None:
        """Delete the building collections of ``key`` (of every key when None) whose build died."""
        now = time.time()
        for collection in self._client.list_collections():
            started = (collection.metadata or {}).get(_STARTED, 0)
            building = collection.name.startswith(self._name(key) + _BUILDING) if key else _BUILDING in collection.name
            if building and collection.name.startswith(self._name("")) and now - float(started) > STALE_BUILD_S:
                self._delete(collection.name)
