"""The cache store: one embedded, process-safe key-value store (diskcache, on sqlite) under ``.workbench/cache/``.

Entries are grouped by kind (model answers, judge replies, embeddings) so that ``workbench cache info`` can count them;
hits and misses are counted per kind beside the entries (``counts/``, never evicted by the size cap), so every process
that shares the store adds to the same totals. A process counts its hits in memory and adds them to those totals every
few seconds, when it closes the store and when it ends (a read that wrote its count was a write per read); a miss, which
a model call follows, is written at once, so the misses count every call even of a process killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import shutil
import sqlite3
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from workbench.errors import WorkbenchError

__all__ = ["KINDS", "CacheInfo", "CacheReader", "CacheStore", "DiskCacheStore", "Kind", "MemoryCacheStore", "parse_age"]

# text: a corpus's PDF, HTML and Word files' extracted texts (``ExtractedTexts``)
Kind = Literal["generation", "judge", "embedding", "text"]
KINDS: tuple[Kind, ...] = ("generation", "judge", "embedding", "text")
_STATS = "stats"  # the prefix of the counters that caches made before ``counts/`` kept them inside the entries
# the rows of diskcache's Cache table that are entries: text keys '<kind>:<key>' stored as they are
_ENTRY_KEYS = "raw AND typeof(key) = 'text' AND instr(key, ':') > 0"
_CLEAR_BATCH = 1000  # entries removed per transaction by clear: short enough that other processes are not held up
DEFAULT_SIZE_LIMIT_MB = 4096
_COUNTS_WRITTEN_EVERY_S = 5.0  # how long another process's `cache info` may lag behind a running sweep's reads


@dataclass(frozen=True)
class CacheInfo:
    """What a cache holds: entries per kind, its size on disk, and hits/misses per kind since it was created."""

    directory: str
    entries: dict[str, int]
    size_bytes: int
    size_limit_bytes: int
    hits: dict[str, int]
    misses: dict[str, int]

    def summary(self) -> str:
        lines = [f"cache {self.directory}: {self.size_bytes / 2**20:.1f} MiB of {self.size_limit_bytes / 2**20:.0f} MiB"]
        for kind in KINDS:
            lines.append(f"  {kind:10s} {self.entries.get(kind, 0):8d} entries   {self.hits.get(kind, 0):8d} hits   {self.misses.get(kind, 0):8d} misses")
        return "\n".join(lines)


@runtime_checkable
class CacheStore(Protocol):
    """Where cached results live. Values are plain data (dicts, lists, numbers, strings) with a ``created`` time."""

    def get(self, kind: Kind, key: str) -> dict[str, Any] | None:
        """The entry, or None (a miss). Counts the hit or miss."""
        ...

    def put(self, kind: Kind, key: str, value: dict[str, Any]) -> None:
        """Store an entry (``created`` is added)."""
        ...

    def info(self) -> CacheInfo: ...

    def clear(self, older_than_s: float | None = None) -> int:
        """Remove every entry (or those neither stored nor read in the last ``older_than_s`` seconds); returns how
        many."""
        ...


class MemoryCacheStore:
    """A cache store in a dict (for unit tests; nothing is shared between processes: a worker's writes are sent back)."""

    persistent = False
    claims_dir: str | None = None  # nothing else answers into it: no claims
    slots_dir: str | None = None  # nor calls through it: each sweep limits its own calls in flight

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], dict[str, Any]] = {}
        self._used: dict[tuple[str, str], float] = {}  # when each entry was last stored or read
        self._hits: dict[str, int] = {}
        self._misses: dict[str, int] = {}

    def get(self, kind: Kind, key: str) -> dict[str, Any] | None:
        value = self._entries.get((kind, key))
        if value is not None:
            self._used[(kind, key)] = time.time()
        counter = self._hits if value is not None else self._misses
        counter[kind] = counter.get(kind, 0) + 1
        return value

    def put(self, kind: Kind, key: str, value: dict[str, Any]) -> None:
        self._entries[(kind, key)] = {**value, "created": time.time()}
        self._used[(kind, key)] = time.time()

    def info(self) -> CacheInfo:
        entries: dict[str, int] = {}
        for kind, _ in self._entries:
            entries[kind] = entries.get(kind, 0) + 1
        return CacheInfo("memory", entries, 0, 0, dict(self._hits), dict(self._misses))

    def clear(self, older_than_s: float | None = None) -> int:
        cutoff = time.time() - older_than_s if older_than_s is not None else None
        doomed = [k for k in self._entries if cutoff is None or self._used[k] < cutoff]
        for k in doomed:
            del self._entries[k], self._used[k]
        return len(doomed)


class _Tally:
    """Hits and misses counted in memory and added to the counters (``counts/``) in one transaction, at most every
    ``_COUNTS_WRITTEN_EVERY_S`` and when ``write`` is called. A forked child counts its own reads only (those counted
    before the fork are its parent's to write)."""

    def __init__(self, counters: Any) -> None:
        self._counters = counters
        self._pending: Counter[str] = Counter()
        self._lock = threading.Lock()  # a sweep's question threads read at once
        self._written = time.monotonic()
        self._pid = os.getpid()

    def add(self, key: str, *, at_once: bool = False) -> None:
        """Count a read; ``at_once`` writes it (and what is pending) now rather than within the next few seconds."""
        with self._lock:
            if os.getpid() != self._pid:
                self._pending, self._pid = Counter(), os.getpid()
            self._pending[key] += 1
        if at_once or time.monotonic() - self._written >= _COUNTS_WRITTEN_EVERY_S:
            self.write()

    def write(self) -> None:
        import diskcache

        with self._lock:
            pending, self._pending, self._written = self._pending, Counter(), time.monotonic()
        if not pending or os.getpid() != self._pid:
            return
        try:
            with self._counters.transact(retry=True):
                for key, n in pending.items():
                    self._counters.incr(key, n, retry=True)
        except (sqlite3.Error, diskcache.Timeout):  # counts only, kept for the next write: never a read's error
            with self._lock:
                self._pending.update(pending)


def _closing_cache_class() -> type:
    """diskcache's ``Cache`` whose ``close`` closes the connection of every thread that used it, not only the calling
    thread's (diskcache keeps one per thread, and closes only the caller's).

    A sweep reads and writes its cache from its question threads: each left a connection to ``cache.db`` and one to
    ``counts/cache.db`` (two to four files each) behind when the sweep closed the store, freed only when the garbage
    collector next reached them (a sqlite connection refers to itself): a kernel sweeping project after project held
    9 more files for each. Connections are opened as diskcache opens them, usable from the thread that closes them;
    a thread whose connection was closed by another opens a new one if it uses the cache again."""
    import diskcache
    from diskcache.core import DBNAME

    class _ClosingCache(diskcache.Cache):  # type: ignore[misc]
        def __init__(self, directory: str, **settings: Any) -> None:
            self._opened: list[tuple[int, sqlite3.Connection]] = []  # (pid, connection) of every thread's connection
            self._opened_lock = threading.Lock()
            self._era = 0  # raised by each close: a thread's connection of an earlier era was closed
            super().__init__(directory, **settings)

        @property
        def _con(self) -> sqlite3.Connection:
            local, pid = self._local, os.getpid()
            if getattr(local, "pid", None) != pid or getattr(local, "era", None) != self._era:
                # a forked child (its parent's connection is not used here) or a connection closed by close()
                local.__dict__.pop("con", None)
                local.pid, local.era = pid, self._era
            con: sqlite3.Connection | None = getattr(local, "con", None)
            if con is None:
                con = local.con = sqlite3.connect(
                    os.path.join(self._directory, DBNAME), timeout=self._timeout, isolation_level=None, check_same_thread=False
                )
                with self._opened_lock:
                    self._opened.append((pid, con))
                try:  # as diskcache does: its per-connection pragmas, from its Settings table (not there yet in a new cache)
                    settings = con.execute("SELECT key, value FROM Settings").fetchall()
                except sqlite3.OperationalError:
                    pass
                else:
                    for key, value in settings:
                        if key.startswith("sqlite_"):
                            self.reset(key, value, update=False)
            return con

        def close(self) -> None:
            with self._opened_lock:
                opened, self._opened = self._opened, []
                self._era += 1
            self._local.__dict__.pop("con", None)
            for pid, con in opened:
                if pid == os.getpid():  # a parent's connections, copied into a forked child, are its parent's to close
                    con.close()

    return _ClosingCache


@functools.cache
def _cache_class() -> type:
    return _closing_cache_class()


class DiskCacheStore:
    """The persistent store: a ``diskcache.Cache`` directory, safe to share between processes (sqlite transactions).

    Args:
        directory: the cache folder (created when missing).
        size_limit_mb: the size cap; past it the entries read or stored least recently are evicted (not the oldest
            stored: the answers every sweep reads went first, and were paid for again, before last week's one-off ones).
            A read records its time (a write, about 0.2 ms).
    """

    persistent = True  # shared by every process that opens the directory

    def __init__(self, directory: str | Path, *, size_limit_mb: int = DEFAULT_SIZE_LIMIT_MB) -> None:
        self.size_limit_mb = size_limit_mb
        self.directory = Path(directory).absolute()
        if self.directory.exists() and not self.directory.is_dir():  # e.g. WORKBENCH_CACHE_DIR set to the cache.db file
            folder = f"the folder that holds it, {self.directory.parent}" if self.directory.name == "cache.db" else "a folder"
            raise WorkbenchError(f"{self.directory} is a file, not a cache folder — point WORKBENCH_CACHE_DIR at {folder}")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._cache = _cache_class()(
                str(self.directory), size_limit=size_limit_mb * 2**20, eviction_policy="least-recently-used", timeout=60
            )
            self._counts = self._open_counts()
        except sqlite3.OperationalError as exc:  # a read-only folder or disk, a locked database: the cache is not damaged
            raise self._unwritable(exc) from None
        except sqlite3.DatabaseError as exc:  # a truncated or overwritten cache.db
            raise self._unreadable(exc) from None
        except OSError as exc:  # the folder cannot be made (a read-only file system, no permission)
            raise self._unwritable(exc) from None
        self._tally = _Tally(self._counts)
        weakref.finalize(self, self._tally.write)  # a store dropped unclosed, or open as its process ends, counts its reads

    @property
    def claims_dir(self) -> str:
        """Where the answers being computed into this cache are claimed (``workbench.cache.claimed``): beside it, so
        every sweep using it (two CI jobs, two notebooks, a CLI run beside a RunPanel) waits for an answer another is
        computing instead of paying for it too."""
        return str(self.directory / "claims")

    @property
    def slots_dir(self) -> str:
        """Where the hosted calls in flight of every sweep using this cache hold their provider's slots
        (``concurrency:``): beside it, so two sweeps at once (two CI jobs, two notebooks) keep to one limit together
        instead of each sending that many calls."""
        return str(self.directory / "slots")

    def _open_counts(self) -> Any:
        """The hit and miss counters, apart from the entries (the size cap evicts the entries used least recently, and
        would take them). Damaged (a sync tool, a full disk), they are made again: they hold only counts, and the
        advice to delete the cache, naming cache.db, threw its good answers away with them."""
        folder = self.directory / "counts"
        try:
            return _cache_class()(str(folder), eviction_policy="none", timeout=60)
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError:
            shutil.rmtree(folder)
            return _cache_class()(str(folder), eviction_policy="none", timeout=60)

    def _unwritable(self, exc: Exception) -> WorkbenchError:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        if _disk_full(exc):  # it was told to make a folder it could write to writable
            return self._full(reason)
        return WorkbenchError(
            f"{self.directory}: the answer cache cannot be opened ({reason}) — it needs a folder this user can write to: "
            "make it writable, or point WORKBENCH_CACHE_DIR at another folder"
        )

    def _full(self, reason: object) -> WorkbenchError:
        return WorkbenchError(
            f"{self.directory}: the answer cache cannot be written, its disk is full ({reason}) — free some space on it, or "
            "point WORKBENCH_CACHE_DIR at a folder on another disk"
        )

    def _unreadable(self, exc: sqlite3.DatabaseError) -> WorkbenchError:
        return _unreadable(self.directory, exc)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """A page of cache.db damaged after the store was opened surfaces only when a query reaches it: say so, naming
        the cache, instead of a bare sqlite error (which reads as a broken index or tracking store). A locked or
        unwritable database (``OperationalError``) is not damage and passes through, a full disk named as such."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if _disk_full(exc):  # a bare sqlite error naming no folder, for an answer computed (maybe paid for) just now
                raise self._full(exc) from None
            raise
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(exc) from None

    def get(self, kind: Kind, key: str) -> dict[str, Any] | None:
        with self._reading():
            value = self._cache.get(f"{kind}:{key}", default=None, retry=True)
        # a miss comes before a model call (seconds, money), so it is written at once: the misses count every call,
        # also those of a sweep killed with SIGKILL; a warm sweep's thousands of hits wait for the next write
        self._tally.add(f"{kind}:{'hits' if value is not None else 'misses'}", at_once=value is None)
        return value if isinstance(value, dict) else None

    def put(self, kind: Kind, key: str, value: dict[str, Any]) -> None:
        with self._reading():
            self._cache.set(f"{kind}:{key}", {**value, "created": time.time()}, retry=True)

    def _query(self, query: str, *args: Any) -> list[Any]:
        """The rows of one query on cache.db's entries (diskcache's ``Cache`` table): walking the keys, 100 at a time,
        took 15 s on 100,000 entries."""
        with contextlib.closing(sqlite3.connect(self.directory / "cache.db", timeout=60)) as connection:
            return connection.execute(query, args).fetchall()

    def _keys(self, unused_since: float | None = None) -> list[str]:
        """The entries' keys (those neither stored nor read since ``unused_since``, a time, when given: the cache
        records a read's time for its least-recently-used eviction)."""
        query = f"SELECT key FROM Cache WHERE {_ENTRY_KEYS}"
        unused = " AND max(store_time, coalesce(access_time, 0)) < ?"
        rows = self._query(query + unused, unused_since) if unused_since is not None else self._query(query)
        return [key for (key,) in rows if not key.startswith(_STATS + ":")]

    def _entries(self) -> dict[str, int]:
        """Entries per kind, counted by one query."""
        query = f"SELECT substr(key, 1, instr(key, ':') - 1), count(*) FROM Cache WHERE {_ENTRY_KEYS} GROUP BY 1"
        return {kind: n for kind, n in self._query(query) if kind != _STATS}

    def info(self) -> CacheInfo:
        self._tally.write()  # this process's reads too
        with self._reading():
            entries = self._entries()
            hits = {k: self._count(k, "hits") for k in KINDS}
            misses = {k: self._count(k, "misses") for k in KINDS}
            return CacheInfo(str(self.directory), entries, int(self._cache.volume()), int(self._cache.size_limit), hits, misses)

    def _count(self, kind: str, outcome: str) -> int:
        return int(self._counts.get(f"{kind}:{outcome}", 0)) + int(self._cache.get(f"{_STATS}:{kind}:{outcome}", 0))

    def clear(self, older_than_s: float | None = None) -> int:
        cutoff = time.time() - older_than_s if older_than_s is not None else None
        removed = 0
        with self._reading():
            # the hit and miss counters stay: they count since the cache was created; with an age, only the entries
            # unused since then are read (22 s to find none older on 100,000 entries, reading every one), and one stored
            # or read every week stays however long ago it was first computed (clearing it would pay for it again)
            keys = self._keys(cutoff)
            # a transaction per batch, not per entry: clearing 100,000 entries took 18 s one commit each, 1.8 s so
            for batch in range(0, len(keys), _CLEAR_BATCH):
                with self._cache.transact(retry=True):
                    for key in keys[batch : batch + _CLEAR_BATCH]:
                        if cutoff is not None:
                            value = self._cache.get(key, default=None, retry=True)
                            if isinstance(value, dict) and value.get("created", 0.0) >= cutoff:
                                continue
                        if self._cache.delete(key, retry=True):
                            removed += 1
        return removed

    def close(self) -> None:
        self._tally.write()
        self._cache.close()
        self._counts.close()

    def __reduce__(self) -> tuple[Any, ...]:  # another process (a worker, a Ray task) opens the same directory
        return (_reopen, (str(self.directory), self.size_limit_mb))


class CacheReader:
    """A cache folder read without writing to it (``workbench run --dry-run``): no hit or miss is counted, no read
    time recorded, and nothing is made where there is no cache (a missing folder reads as an empty cache). A
    ``CacheStore`` whose ``put`` and ``clear`` refuse, so a ``CachedEmbedder`` over it reads vectors and computes none
    unnoticed.
    """

    persistent = True
    claims_dir: str | None = None

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).absolute()

    def _rows(self, query: str, *args: Any) -> list[Any]:
        """The rows of one read-only query on cache.db (none when there is no cache.db). A cache no process has open
        has no write-ahead log: it is read as an immutable file, as a read-only connection to a WAL database leaves
        its -wal and -shm files behind; one in use (its log there) is read through the log, with what was just written."""
        db = self.directory / "cache.db"
        if not db.is_file():
            return []
        modes = ("mode=ro",) if db.with_name("cache.db-wal").exists() else ("immutable=1", "mode=ro")
        for i, mode in enumerate(modes):
            try:
                with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?{mode}", uri=True, timeout=60)) as connection:
                    return connection.execute(query, args).fetchall()
            except sqlite3.OperationalError:  # locked past the timeout, or not readable by this user: said as such
                raise
            except sqlite3.DatabaseError as exc:
                if i == len(modes) - 1:  # read as immutable while a sweep began writing it: read through its log
                    raise _unreadable(self.directory, exc) from None
        return []

    def cached(self, kind: Kind, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` the cache holds an entry of ``kind`` for (one query per 500 keys)."""
        wanted = [f"{kind}:{k}" for k in dict.fromkeys(keys)]
        found: set[str] = set()
        for i in range(0, len(wanted), 500):
            batch = wanted[i : i + 500]
            rows = self._rows(f"SELECT key FROM Cache WHERE {_ENTRY_KEYS} AND key IN ({','.join('?' * len(batch))})", *batch)
            found.update(key.split(":", 1)[1] for (key,) in rows)
        return found

    def get(self, kind: Kind, key: str) -> dict[str, Any] | None:
        import diskcache

        rows = self._rows(f"SELECT mode, filename, value FROM Cache WHERE {_ENTRY_KEYS} AND key = ?", f"{kind}:{key}")
        if not rows:
            return None
        mode, filename, value = rows[0]
        found = diskcache.Disk(str(self.directory)).fetch(mode, filename, value, False)
        return found if isinstance(found, dict) else None

    def put(self, kind: Kind, key: str, value: dict[str, Any]) -> None:
        raise WorkbenchError(f"{self.directory}: the cache is read here, not written (a dry run computes nothing)")

    def info(self) -> CacheInfo:
        entries = {kind: n for kind, n in self._rows(
            f"SELECT substr(key, 1, instr(key, ':') - 1), count(*) FROM Cache WHERE {_ENTRY_KEYS} GROUP BY 1") if kind != _STATS}
        return CacheInfo(str(self.directory), entries, 0, 0, {}, {})

    def clear(self, older_than_s: float | None = None) -> int:
        raise WorkbenchError(f"{self.directory}: the cache is read here, not cleared")


def _unreadable(directory: Path, exc: sqlite3.DatabaseError) -> WorkbenchError:
    return WorkbenchError(
        f"{directory / 'cache.db'}: the answer cache cannot be read ({exc}) — delete the folder {directory} "
        "(it holds only cached answers, judge calls, embeddings and extracted texts; the next sweep computes them again)"
    )


def _disk_full(exc: Exception) -> bool:
    """Whether an error says the disk is full: sqlite's SQLITE_FULL, or the file system's ENOSPC."""
    return (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "database or disk is full" in str(exc)


def _reopen(directory: str, size_limit_mb: int) -> DiskCacheStore:
    return DiskCacheStore(directory, size_limit_mb=size_limit_mb)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` -> seconds.

    Raises:
        ValueError: one line saying what form is expected.
    """
    if text.endswith("M"):  # months or minutes? clearing a cache on a guess could remove months of answers
        raise ValueError(f"'{text}' is ambiguous — 'm' means minutes; for months give days (e.g. 180d)")
    value, unit = text[:-1], text[-1:].lower()
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if unit not in _UNITS or not (math.isfinite(number) and number >= 0):  # float() also reads nan and inf
        raise ValueError(f"'{text}' is not an age — use a number and a unit: 30d, 12h, 90m, 45s or 2w")
    return number * _UNITS[unit]
