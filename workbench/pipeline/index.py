"""Vector indexes behind one interface: Chroma (persistent local, the default, or a Chroma server) and an in-memory
one for unit tests.

An index is content-addressed by its key (corpus + chunker + embedding model), built once and then only read.
A half-built Chroma collection (interrupted build) is never reused: it is published under its key only after the
last add. A build for another version of the corpus takes the vectors the last build of the same chunker and
embedding model computed for the chunks that did not change (``embed_chunks_reusing``; a local store keeps them, as
embedded, beside its indexes), so a corpus edit embeds only what changed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import re
import shutil
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from workbench.config import shown_uri
from workbench.errors import WorkbenchError
from workbench.metrics import cosine
from workbench.models import Embedder
from workbench.pipeline.chunk import Chunk, ChunkStats

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "EMBED_BATCH", "ChromaIndexStore", "ChromaServerIndexStore", "Hit", "IndexInfo", "IndexRemoved", "IndexStore", "MemoryIndexStore",
    "ReusableVectors", "VectorIndex", "check_local_chroma_usable", "chroma_server_address", "embed_chunks", "embed_chunks_reusing",
    "embed_within",
]

_COMPLETE, _KEY, _STARTED = "workbench_complete", "workbench_key", "workbench_build_started"
_BUILT = "workbench_built"  # when the index was published, in seconds since the epoch
_LINEAGE = "workbench_lineage"  # what made its vectors but the corpus (chunker, chunking revision, embedder identity)
_STATS = "workbench_chunk_stats"  # the chunk statistics of the build, as JSON
_BUILDING = "-building-"
_DATABASE = "chroma.sqlite3"  # the database of a local Chroma folder
_STALE_BUILD_S = 6 * 3600  # a build's collection older than this belongs to a build that died
_READ_ONLY = "attempt to write a readonly database"  # sqlite's SQLITE_READONLY: a read-only folder, disk or file


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


EMBED_BATCH = 256  # chunks embedded in one call while an index is built


Unfinished = Callable[[Sequence[str], "np.ndarray"], None]
"""Told what an index build embedded before its embedding failed: the texts, and their vectors (a float32 row each)."""


def embed_chunks(
    embedder: Embedder, chunks: Sequence[Chunk], stopping: Callable[[], bool] = lambda: False, *, timeout_s: float | None = None,
    unfinished: Unfinished | None = None,
) -> np.ndarray | None:
    """The chunks' vectors for an index, one float32 row per chunk, ``EMBED_BATCH`` at a time; None when ``stopping``
    turned true (the RunPanel's Stop is seen within one batch, not after the whole corpus). A sweep's index and a
    bundle's rebuild of it are embedded in the same batches: a local model pads a batch to its longest text, which
    moves the vectors in their last bits, so a bundle that embedded its corpus in one call could order near-tied chunks
    otherwise.

    Each batch goes into one float32 array as it comes (what Chroma keeps of a vector anyway): held as lists of Python
    floats, 384 dimensions took 15 KB a chunk, so a 100 MB corpus's 125,000 chunks held 1.9 GB before the index was
    written, and a 200 MB one cut in token chunks ran out of memory.

    ``unfinished`` is told the batches embedded before one failed or ``stopping`` turned true (nothing when none
    was); the failure is raised all the same.

    Raises:
        TimeoutError: a batch took longer than ``timeout_s`` (see ``embed_within``).
        ValueError: the model returned another number of vectors than it was given texts, or vectors of unequal length.
    """
    import numpy as np

    texts = [c.text for c in chunks]
    vectors: np.ndarray | None = None
    start = 0  # the first text of the batch being embedded: those before it are
    try:
        for start in range(0, len(texts), EMBED_BATCH):
            part = texts[start:start + EMBED_BATCH]
            batch = embed_within(embedder, part, timeout_s, stopping)
            if batch is None:
                if unfinished is not None and vectors is not None:
                    unfinished(texts[:start], vectors[:start])
                return None
            if len(batch) != len(part):
                raise ValueError(f"the embedding model {embedder.model_id} returned {len(batch)} vectors for {len(part)} texts — "
                                 "check the model or its server")
            try:
                rows = np.asarray(batch, dtype=np.float32)
            except ValueError:  # vectors of unequal lengths
                rows = np.empty(0)
            if rows.ndim != 2 or not rows.shape[1]:
                raise ValueError(f"the embedding model {embedder.model_id} returned vectors of unequal lengths, or empty ones, for "
                                 f"{len(part)} texts — check the model or its server")
            if vectors is None:
                vectors = np.empty((len(texts), rows.shape[1]), dtype=np.float32)
            elif rows.shape[1] != vectors.shape[1]:
                raise ValueError(f"the embedding model {embedder.model_id} returned vectors of {rows.shape[1]} dimensions after "
                                 f"{vectors.shape[1]} — check the model or its server")
            vectors[start:start + len(part)] = rows
    except BaseException:  # Ctrl+C too
        if unfinished is not None and vectors is not None:
            unfinished(texts[:start], vectors[:start])
        raise
    if vectors is None:
        return np.empty((0, 0), dtype=np.float32)
    _same_text_same_vector(texts, vectors)
    return vectors


def _same_text_same_vector(texts: Sequence[str], vectors: np.ndarray) -> None:
    """Give each chunk whose text an earlier chunk has (a page a wiki export holds twice, a shared disclaimer) that
    chunk's vector, in place. A local model pads a batch to its longest text, so two copies embedded in different
    batches differed in their last bits: their similarities were no longer tied, and which copy ranked first depended on
    the batches (a Chroma index, searching in float32, tied them again and ranked them by id, the in-memory one did
    not). The batches are left as they were, so every other chunk keeps the vector it had."""
    first: dict[str, int] = {}
    for i, text in enumerate(texts):
        earlier = first.setdefault(text, i)
        if earlier != i:
            vectors[i] = vectors[earlier]


@dataclass(frozen=True)
class ReusableVectors:
    """The chunk texts of an earlier build of an index of the same lineage (another version of the corpus), in the order
    they were embedded, with their vectors (one float32 row each)."""

    key: str
    texts: tuple[str, ...]
    vectors: np.ndarray


def embed_chunks_reusing(
    embedder: Embedder, chunks: Sequence[Chunk], earlier: ReusableVectors | None, *, by_text: bool,
    stopping: Callable[[], bool] = lambda: False, timeout_s: float | None = None, unfinished: Unfinished | None = None,
) -> tuple[np.ndarray, int] | None:
    """``embed_chunks``, taking from ``earlier`` the vectors a cold build would compute again, bit for bit; with the
    number of chunks embedded now (None when ``stopping`` turned true). An edited corpus embedded every chunk again:
    one word fixed in one document of 10,000 paid a hosted model for all of them.

    ``by_text``: the model's vector of a text does not depend on what it is batched with (a provider's), so each chunk
    whose text the earlier build embedded takes its vector and only new texts are embedded. Otherwise (a local model
    pads a batch to its longest text, which moves its vectors in their last bits) a batch of ``EMBED_BATCH`` chunks
    takes the earlier vectors only when the earlier build embedded exactly the same texts in one batch.

    ``unfinished`` (``by_text`` only): told, when a batch fails or the build is stopped, the texts whose vectors it
    holds by then (taken and embedded), so that the next build, given them as ``earlier``, embeds only the rest: a provider failing in batch
    37 of 80 (an outage past the retries) had the next sweep embed, and pay for, all 80 again.

    Raises:
        TimeoutError, ValueError: as ``embed_chunks``.
    """
    import numpy as np

    if earlier is None or not chunks or not earlier.texts:
        vectors = embed_chunks(embedder, chunks, stopping, timeout_s=timeout_s, unfinished=unfinished if by_text else None)
        return None if vectors is None else (vectors, len(chunks))
    texts = [c.text for c in chunks]
    taken = _taken_by_text(texts, earlier) if by_text else _taken_by_batch(texts, earlier)
    missing = [i for i in range(len(chunks)) if i not in taken]
    # by text, each missing text once, in one call (its copies take its vector below); by batch, whole batches
    todo = [i for i, first in zip(missing, _firsts([texts[i] for i in missing])) if first] if by_text else missing
    vectors = np.empty((len(chunks), earlier.vectors.shape[1]), dtype=np.float32)
    for i, row in taken.items():
        vectors[i] = earlier.vectors[row]
    held = list(taken)

    def keep_held(done: Sequence[str], rows: np.ndarray) -> None:
        if unfinished is not None and rows.shape[1] == vectors.shape[1]:
            unfinished([texts[i] for i in held] + list(done), np.concatenate([vectors[held], rows]))

    for batch in [todo] if by_text else [todo[s:s + EMBED_BATCH] for s in range(0, len(todo), EMBED_BATCH)]:
        fresh = embed_chunks(embedder, [chunks[i] for i in batch], stopping, timeout_s=timeout_s,
                             unfinished=keep_held if by_text else None) if batch else vectors[:0]
        if fresh is None:
            return None
        if fresh.shape[1] != vectors.shape[1]:  # not this model's vectors after all: embedded as a cold build is
            return embed_chunks_reusing(embedder, chunks, None, by_text=by_text, stopping=stopping, timeout_s=timeout_s)
        vectors[batch] = fresh
    _same_text_same_vector(texts, vectors)  # the copies of a text take the vector of its first chunk, as in a cold build
    return vectors, len(todo)


def _firsts(texts: Sequence[str]) -> list[bool]:
    """Whether each text is the first of its copies."""
    seen: set[str] = set()
    out = []
    for text in texts:
        out.append(text not in seen)
        seen.add(text)
    return out


def _taken_by_text(texts: Sequence[str], earlier: ReusableVectors) -> dict[int, int]:
    """The chunks whose text the earlier build embedded, to the earlier row holding its vector."""
    rows = {text: row for row, text in reversed(list(enumerate(earlier.texts)))}
    return {i: rows[t] for i, t in enumerate(texts) if t in rows}


def _taken_by_batch(texts: Sequence[str], earlier: ReusableVectors) -> dict[int, int]:
    """The chunks of each batch whose texts the earlier build embedded as one batch, to the earlier rows. A row of the
    earlier build that holds the vector of an earlier copy of its text (see ``_same_text_same_vector``) is taken only
    where this build also gives that row an earlier copy's vector."""
    old_first, new_first = _firsts(earlier.texts), _firsts(texts)
    batches = {tuple(earlier.texts[s:s + EMBED_BATCH]): s for s in range(0, len(earlier.texts), EMBED_BATCH)}
    taken: dict[int, int] = {}
    for start in range(0, len(texts), EMBED_BATCH):
        at = batches.get(tuple(texts[start:start + EMBED_BATCH]))
        if at is None:
            continue
        pairs = [(start + j, at + j) for j in range(min(EMBED_BATCH, len(texts) - start))]
        if all(old_first[row] or not new_first[i] for i, row in pairs):
            taken.update(pairs)
    return taken


def embed_within(
    embedder: Embedder, texts: Sequence[str], timeout_s: float | None, stopping: Callable[[], bool] = lambda: False,
) -> list[list[float]] | None:
    """``embedder.embed(texts)``, given up after ``timeout_s`` seconds (None: no limit), or None once ``stopping``
    turns true: a hosted embeddings endpoint that takes the request and never answers (the provider's client may have
    no timeout at all) held an index build, in the sweep's own process where no sandbox limit reaches, forever. The
    call runs in a daemon thread, left behind when it is given up.

    Raises:
        TimeoutError: no answer within ``timeout_s``.
    """
    if stopping():
        return None
    if timeout_s is None:
        return embedder.embed(texts)
    answer: list[list[list[float]]] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def call() -> None:
        try:
            answer.append(embedder.embed(texts))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which raises it
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=call, name="workbench-embed", daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while not done.wait(min(0.5, max(deadline - time.monotonic(), 0.0))):
        if stopping():
            return None
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the embedding model {embedder.model_id} did not answer {len(texts)} texts within {timeout_s:g} s "
                               "(limits.wall_time_s) — check that its server answers, or raise limits.wall_time_s")
    if failure:
        raise failure[0]
    return answer[0]


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


def unfinished_key(key: str) -> str:
    """The name the vectors of an unfinished build of index ``key`` are kept under (pure): never ``key`` itself, whose
    next build would pass them over as its own."""
    return f"{key}, unfinished"


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


# -- chroma ------------------------------------------------------------------------------------------------------


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


class _ChromaStore:
    """Chroma collections behind a client, one per index key (``wb-<key>``); shared by the local and server stores.

    A build fills a collection of its own (``wb-<key>-building-<id>``) and publishes it by renaming it to ``wb-<key>``
    with ``workbench_complete`` set, in one request. So a reader (another worker, another machine) never sees a
    half-built index, two builders of one key cannot mix their chunks (the first to publish wins; the other's copy is
    dropped), and a build that dies leaves only its own building collection, removed by a later build of that key once
    it is older than ``_STALE_BUILD_S``. We always hand Chroma our own vectors: its default embedding function would
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
            if building and collection.name.startswith(self._name("")) and now - float(started) > _STALE_BUILD_S:
                self._delete(collection.name)


_HNSW_HEADER = struct.Struct("<i6QiI3QdQ")  # hnswlib's header.bin as Chroma writes it (persistence version 1)


def _hnsw_files_whole(folder: Path) -> bool:
    """Whether an hnswlib index folder's element files hold as many elements as its ``header.bin`` counts (an index
    never written yet keeps room for more)."""
    header = folder / "header.bin"
    if not header.exists():
        return True
    data = header.read_bytes()
    if len(data) != _HNSW_HEADER.size:
        return False
    version, _, _, count, element_size, *_ = _HNSW_HEADER.unpack(data)
    if version != 1:  # a layout this check does not know
        return True
    needed = {"data_level0.bin": count * element_size, "length.bin": count * 4}
    return all((folder / name).exists() and (folder / name).stat().st_size >= size for name, size in needed.items())


_VECTORS = "workbench-vectors"  # the vectors of the last index of each lineage, as embedded (a local store's folder)


def _keep_vectors(folder: Path, lineage: str, key: str, texts: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
    """Keep ``vectors`` (float32) and ``texts`` of index ``key`` as the last of ``lineage``: in a file of their own
    (``<lineage>-<id>.npz``), then named by ``<lineage>.json``, so a reader never pairs one build's texts with another's
    vectors, and two processes keeping vectors of one lineage at once never delete each other's file (the one kept
    before goes, and files no build named within ``_STALE_BUILD_S``). Nothing is kept where it cannot be written: it
    only saves embedding."""
    import numpy as np

    pointer, data = folder / f"{lineage}.json", folder / f"{lineage}-{uuid.uuid4().hex[:12]}.npz"
    staged = [data.with_name(f".{data.name}"), data.with_name(f".{data.stem}.json")]
    try:
        folder.mkdir(exist_ok=True)
        before = _kept_file(pointer)
        with open(staged[0], "wb") as out:
            np.savez(out, vectors=np.asarray(vectors, dtype=np.float32), texts=np.frombuffer(json.dumps(list(texts)).encode(), dtype=np.uint8))
        os.replace(staged[0], data)
        staged[1].write_text(json.dumps({"key": key, "file": data.name}))
        os.replace(staged[1], pointer)
    except (OSError, ValueError):  # a full disk, a read-only folder: what this build wrote goes, the last one kept stays
        for partial in (*staged, data):
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
        return
    now = time.time()
    for old in folder.glob(f"{lineage}-*.npz"):
        with contextlib.suppress(OSError):
            if old.name == before or (old != data and now - old.stat().st_mtime > _STALE_BUILD_S and old.name != _kept_file(pointer)):
                old.unlink(missing_ok=True)


def _kept_file(pointer: Path) -> str | None:
    """The name of the file ``pointer`` names (None: none, or unreadable)."""
    try:
        return str(json.loads(pointer.read_text())["file"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _kept_vectors(folder: Path, lineage: str, key: str) -> ReusableVectors | None:
    """What ``_keep_vectors`` kept for ``lineage`` unless it is index ``key``'s; None when nothing whole is kept."""
    import zipfile

    import numpy as np

    try:
        kept = json.loads((folder / f"{lineage}.json").read_text())
        with np.load(folder / str(kept["file"]), allow_pickle=False) as data:
            vectors, texts = data["vectors"], tuple(json.loads(data["texts"].tobytes()))
        whole = vectors.dtype == np.float32 and vectors.ndim == 2 and len(vectors) == len(texts) and all(isinstance(t, str) for t in texts)
        return ReusableVectors(str(kept["key"]), texts, vectors) if whole and kept["key"] != key else None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):  # none kept, cut short, removed while read
        return None


def _forget_vectors(folder: Path, keys: set[str], *, everything: bool) -> None:
    """Delete the vectors kept for the indexes ``keys`` (all of them when ``everything``)."""
    if everything:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for pointer in folder.glob("*.json") if folder.is_dir() else []:
        try:
            named = json.loads(pointer.read_text())
            if named.get("key") in keys:
                pointer.unlink(missing_ok=True)
                (folder / str(named.get("file", ""))).unlink(missing_ok=True)
        except (OSError, ValueError, AttributeError):
            continue


def _forget_chroma_client(path: Path) -> None:
    """Drop the Chroma system this process keeps for ``path``, so the next client opens the folder afresh. Chroma keeps
    one per folder for the life of the process, and keeps it after the folder is deleted (serving the deleted database,
    read-only) or after it failed to start (every later client then fails with an AttributeError)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(path), None)


_opened_in_this_process = False  # a local Chroma client was opened here: its Rust library's threads and locks live
_opened_before_fork = False  # this process was forked from one that had: Chroma's Rust library cannot run here


def _note_fork_in_child() -> None:
    global _opened_in_this_process, _opened_before_fork
    _opened_before_fork = _opened_before_fork or _opened_in_this_process
    _opened_in_this_process = False


os.register_at_fork(after_in_child=_note_fork_in_child)


def _mark_opened() -> None:
    global _opened_in_this_process
    _opened_in_this_process = True


def check_local_chroma_usable() -> None:
    """Refuse, in one line, a local Chroma store in a process forked from one that had opened one.

    A child forked (``os.fork``, a fork-context ``ProcessPoolExecutor`` or ``multiprocessing.Process``, a prefork
    server's worker) after its parent ran a sweep on local Chroma inherits Chroma's Rust library without its threads,
    with its locks as they were at the fork: the child's sweep hung for good opening or counting an index. Nothing
    the workbench can reset: such a child is refused, before anything is logged.

    Raises:
        WorkbenchError: this process was forked from one that had opened a local Chroma store.
    """
    if _opened_before_fork:
        raise WorkbenchError(
            f"this process (pid {os.getpid()}) was forked from one that had opened a local Chroma index store, whose Rust "
            "library does not survive a fork (the sweep would hang) — start it with the 'spawn' context instead "
            "(concurrent.futures.ProcessPoolExecutor(mp_context=multiprocessing.get_context('spawn')), or "
            "multiprocessing.get_context('spawn').Process), or use a Chroma server (WORKBENCH_CHROMA_URL)"
        )


_OPEN_WAIT_S = 600.0  # making Chroma's tables takes a second; upgrading a large store's schema may take minutes
# one request to a Chroma server: a batch of 2000 chunks is added in seconds; a server silent this long is stuck
_SERVER_TIMEOUT_S = 120.0


@contextlib.contextmanager
def _opening(path: Path) -> Iterator[None]:
    """Hold ``<path>.lock`` while this process opens the Chroma database under ``path``: Chroma makes its tables and
    runs its migrations as a client opens, and two processes opening a new store at once (two terminals, two notebooks,
    a CI job's two workers) both found it empty, both made the tables, and one failed every variant with "table
    collections already exists" or "database is locked". Where the lock cannot be made (a read-only parent), the store
    is opened without it."""
    from filelock import FileLock, Timeout

    lock = FileLock(f"{path}.lock", timeout=_OPEN_WAIT_S)
    try:
        lock.acquire()
    except Timeout:
        raise WorkbenchError(f"waited {_OPEN_WAIT_S:.0f} s for another process to open the index store {path} (lock {lock.lock_file}) "
                             "— is a process stuck on it?") from None
    except OSError:
        yield
        return
    try:
        yield
    finally:
        lock.release()


class ChromaIndexStore(_ChromaStore):
    """Persistent Chroma collections under ``path`` (the default: one machine), telemetry off.

    Raises:
        WorkbenchError: the folder holds a Chroma database that cannot be opened (corrupted, or not Chroma's).
    """

    def __init__(self, path: str | Path) -> None:
        import chromadb
        from chromadb.config import Settings
        from chromadb.errors import ChromaError

        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():  # mkdir's 'File exists' read as a folder to make writable
            raise WorkbenchError(f"the index store {self.path} is a file, not a folder — move it away, or point WORKBENCH_HOME at "
                                 "another folder")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a read-only file system, no permission
            raise self._unwritable(exc.strerror or exc) from None
        check_local_chroma_usable()
        if not (self.path / _DATABASE).exists():  # deleted since this process opened it, or never opened
            _forget_chroma_client(self.path)
        try:
            with _opening(self.path):
                _mark_opened()
                client = chromadb.PersistentClient(path=str(self.path), settings=Settings(anonymized_telemetry=False, allow_reset=False))
        except (ChromaError, ValueError) as exc:
            _forget_chroma_client(self.path)
            reason = f"{type(exc).__name__}: {exc}"
            if _READ_ONLY in str(exc) or not os.access(self.path, os.W_OK):  # Chroma writes as it opens: nothing is damaged
                raise self._unwritable(reason) from None
            raise WorkbenchError(
                f"the index store {self.path} cannot be opened ({reason}) — it holds only indexes, which are built again: "
                "delete that folder and run again"
            ) from None
        super().__init__(client)

    def _unwritable(self, reason: object) -> WorkbenchError:
        return WorkbenchError(
            f"the index store {self.path} cannot be opened ({reason}) — it needs a folder this user can write to: make it "
            "writable, or point WORKBENCH_HOME at another folder"
        )

    def _files_whole(self, collection: Any) -> bool:
        """Whether the files of the collection's vector folder are as long as their header says. Chroma reads them with
        hnswlib, which read past the end of one cut short (a full disk, a sync tool) and crashed the process (a
        segmentation fault: a notebook's kernel, the sweep) or searched garbage, so they are measured before Chroma
        opens them. A folder without a header holds nothing yet (the chunks are in Chroma's log) or was deleted,
        which ``readable`` finds out."""
        import sqlite3

        try:
            with contextlib.closing(sqlite3.connect(f"{(self.path / _DATABASE).resolve().as_uri()}?mode=ro", uri=True)) as db:
                rows = db.execute("SELECT id FROM segments WHERE collection = ? AND scope = 'VECTOR'", (str(collection.id),)).fetchall()
        except sqlite3.Error:  # another layout of Chroma's database: nothing to measure by
            return True
        return all(_hnsw_files_whole(self.path / str(segment)) for (segment,) in rows)

    def build(self, key: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], *, stats: ChunkStats | None = None,
              lineage: str | None = None) -> VectorIndex:
        index = super().build(key, chunks, vectors, stats=stats, lineage=lineage)
        if lineage is not None:
            _keep_vectors(self.path / _VECTORS, lineage, key, [c.text for c in chunks], vectors)
        return index

    def keep_unfinished(self, lineage: str, key: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Keep what a build of index ``key`` embedded before it failed (a provider down past the retries in batch 37
        of 80) as the last vectors of ``lineage``, named ``unfinished_key(key)``: the next build takes them and embeds
        only the rest."""
        _keep_vectors(self.path / _VECTORS, lineage, unfinished_key(key), texts, vectors)

    def reusable_vectors(self, lineage: str, key: str) -> ReusableVectors | None:
        """The chunk texts and vectors (as embedded) of the last index of ``lineage`` built here, other than ``key``, or
        what the last build embedded before it failed; None when there is none or it cannot be read. Chroma gives back the vectors it keeps, normalised for the cosine
        space, which moved them in their last bits: an index built from them retrieved otherwise than a cold build."""
        return _kept_vectors(self.path / _VECTORS, lineage, key)

    def remove(self, older_than_s: float | None = None) -> list[IndexInfo]:
        gone = super().remove(older_than_s)
        _forget_vectors(self.path / _VECTORS, {i.key for i in gone}, everything=older_than_s is None)
        return gone

    @classmethod
    def existing(cls, path: str | Path) -> ChromaIndexStore | None:
        """The store under ``path`` when an index was ever built there, else None (none is made just to be read)."""
        return cls(path) if (Path(path) / _DATABASE).exists() else None


def _server_base(url: str) -> str:
    """``scheme://host:port/path`` of a Chroma server's URL (pure): no login, the default port written out."""
    parts = urlsplit(url.strip())
    port = parts.port
    where = parts.netloc.rpartition("@")[2].lower() + ("" if port else f":{443 if parts.scheme == 'https' else 8000}")  # [::1] keeps its brackets
    return f"{parts.scheme}://{where}{parts.path.rstrip('/')}"


def chroma_server_address(url: str) -> str | None:
    """The address of the Chroma server ``url`` names, the same whichever way a machine writes it (pure): no login,
    the host in lower case, the default port written out (``http://chroma.internal:8000``). None for a URL that is not
    an http(s) URL of a host. The sweeps using a server are tagged with it, so that a teammate's ``workbench cache
    clear --indexes`` can see them."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        return None
    return _server_base(url)


class ChromaServerIndexStore(_ChromaStore):
    """Collections on a Chroma server (``chroma run``), shared by every worker and machine of a team.

    Args:
        url: the server, e.g. ``http://127.0.0.1:8000`` (``https://`` for TLS; the port defaults to 8000, 443 with TLS).
        timeout_s: how long one request waits for the server to connect or answer before it fails.

    Raises:
        WorkbenchError: the URL is not an http(s) URL, or no Chroma server answers there (or none within ``timeout_s``).
    """

    def __init__(self, url: str, *, timeout_s: float = _SERVER_TIMEOUT_S) -> None:
        import chromadb
        import httpx
        from chromadb.config import Settings

        parts = urlsplit(url)
        self.url = shown_uri(url)  # for messages: a password in the URL is never printed nor logged
        try:
            port = parts.port
        except ValueError:  # a port that is not a number
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise WorkbenchError(f"index store url {self.url!r}: expected http://host:port or https://host:port")
        tls = parts.scheme == "https"
        # the path too (a proxy serving Chroma under /chroma): the host alone asked the proxy's root for another server
        base = _server_base(url)
        self.address = base  # which server, as every machine names it: no login, the default port written out
        login = {"Authorization": "Basic " + base64.b64encode(f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()).decode()}
        headers = login if parts.username or parts.password else None
        self._check_answers(f"{base}/api/v2/heartbeat", headers, timeout_s)
        try:
            client = chromadb.HttpClient(host=base, port=port or (443 if tls else 8000), ssl=tls, headers=headers,
                                         settings=Settings(anonymized_telemetry=False))
        except ValueError as exc:
            raise self._unreachable(exc) from None
        # chromadb's HTTP client waits for an answer without end (httpx timeout=None): a server that hung mid-sweep left
        # every variant waiting in its search for good. The session is this store's own (chromadb gives each HttpClient a
        # system of its own), so is the timeout: another store with another timeout_s does not change it.
        client._server._session.timeout = httpx.Timeout(timeout_s)
        super().__init__(client)

    def _check_answers(self, heartbeat: str, headers: dict[str, str] | None, timeout_s: float) -> None:
        """One line for a port that takes the connection but never answers (a stuck server, a tunnel or port-forward
        whose far end hangs): chromadb's first request waited for it without end, before the sweep had logged anything.
        Any other failure is left to chromadb's own first request, which ``_unreachable`` words."""
        import httpx

        try:
            httpx.get(heartbeat, headers=headers, timeout=timeout_s)
        except httpx.TimeoutException as exc:
            raise WorkbenchError(
                f"the Chroma server at {self.url} took the connection but did not answer within {timeout_s:g} s "
                f"({type(exc).__name__}) — restart it if it is stuck, or check that a Chroma server is what listens there"
            ) from None
        except httpx.HTTPError:
            return

    @contextlib.contextmanager
    def _reaching(self, what: str) -> Iterator[None]:
        """A server that went away (stopped, restarted, the network) while ``what`` was a bare ``ConnectError:
        [Errno 111] Connection refused`` in each variant's error, naming neither the server nor what to do."""
        import httpx

        try:
            yield
        except httpx.TransportError as exc:
            raise WorkbenchError(
                f"the Chroma server at {self.url} did not answer while {what} ({type(exc).__name__}: {exc}) — start it again "
                "(or check the network) and re-run the same command: the variants logged before are reused"
            ) from None

    def _unreachable(self, exc: Exception) -> WorkbenchError:
        """One line for a server that cannot be reached (chromadb's "Could not connect to a Chroma server") or that
        answers as something else (a web server's 404 page, a proxy's login page: the whole page was the message)."""
        reason = " ".join(re.sub(r"<[^>]*>", " ", str(exc)).split())  # a page's text, without its markup
        if reason.startswith("Could not connect"):
            return WorkbenchError(
                f"no Chroma server answers at {self.url} ({reason}) — start one with `chroma run --path DIR --host HOST --port PORT`, "
                "or drop index_store / WORKBENCH_CHROMA_URL to use the local index store"
            )
        shown = reason if len(reason) <= 120 else reason[:117] + "..."
        return WorkbenchError(
            f"{self.url} answers, but not as a Chroma server this workbench can use ({type(exc).__name__}: {shown}) — check the "
            "URL's host, port and path (a Chroma server's /api/v2/heartbeat answers), or drop index_store / WORKBENCH_CHROMA_URL "
            "to use the local index store"
        )
