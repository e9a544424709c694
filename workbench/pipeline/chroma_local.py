"""The default index store: persistent Chroma collections in a folder of this machine, with what a folder needs
that a server does not: its vector files measured before Chroma reads them, the vectors of each lineage's last build
kept beside it, one process at a time opening it, and no use in a process forked from one that had opened one."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError
from workbench.pipeline._chroma import STALE_BUILD_S, ChromaStore
from workbench.pipeline.chunk import Chunk, ChunkStats
from workbench.pipeline.embed import ReusableVectors, unfinished_key
from workbench.pipeline.index import IndexInfo, VectorIndex

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ChromaIndexStore", "check_local_chroma_usable"]

_DATABASE = "chroma.sqlite3"  # the database of a local Chroma folder
_READ_ONLY = "attempt to write a readonly database"  # sqlite's SQLITE_READONLY: a read-only folder, disk or file


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
    before goes, and files no build named within ``STALE_BUILD_S``). Nothing is kept where it cannot be written: it
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
            if old.name == before or (old != data and now - old.stat().st_mtime > STALE_BUILD_S and old.name != _kept_file(pointer)):
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


class ChromaIndexStore(ChromaStore):
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
