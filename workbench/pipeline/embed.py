"""Embedding a corpus's chunks for an index: in batches of ``EMBED_BATCH``, within a time limit, stoppable, and taking
from an earlier build of the same chunker and embedding model the vectors of the chunks that did not change."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.models import Embedder
from workbench.pipeline.chunk import Chunk

if TYPE_CHECKING:
    import numpy as np

__all__ = ["EMBED_BATCH", "ReusableVectors", "embed_chunks", "embed_chunks_reusing", "embed_within"]

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


def unfinished_key(key: str) -> str:
    """The name the vectors of an unfinished build of index ``key`` are kept under (pure): never ``key`` itself, whose
    next build would pass them over as its own."""
    return f"{key}, unfinished"


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
