"""The texts of corpora's PDF, HTML and Word files, kept in the cache store (kind ``text``) for ``load_corpus(texts=...)``.

Extraction depends only on a file's bytes and the extracting package's version (``workbench.datasets._formats``), so
``run(fresh=True)`` and ``cache: false``, which are about model calls, read the texts kept all the same.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from workbench.cache._store import DEFAULT_SIZE_LIMIT_MB, CacheReader, CacheStore, DiskCacheStore
from workbench.config import Settings
from workbench.datasets import Extracted
from workbench.errors import WorkbenchError

__all__ = ["ExtractedTexts"]

log = logging.getLogger(__name__)


class ExtractedTexts:
    """A ``TextCache`` over a cache store; over a ``CacheReader`` (a dry run) it reads and keeps nothing new.

    Args:
        store: the cache store, or None for one opened in ``directory`` when a PDF, HTML or Word file first needs it (a
            corpus of markdown never opens it).
        directory: see ``in_folder``.
    """

    def __init__(self, store: CacheStore | CacheReader | None, *, directory: Path | None = None, size_limit_mb: int = DEFAULT_SIZE_LIMIT_MB) -> None:
        self._store: Any = store
        self._directory = directory
        self._size_limit_mb = size_limit_mb
        self._owned = False  # whether this opened the store (and closes it)

    @classmethod
    def in_folder(cls, directory: str | Path, *, size_limit_mb: int = DEFAULT_SIZE_LIMIT_MB) -> ExtractedTexts:
        """The texts kept in the cache folder ``directory`` (``Settings.cache_dir``), opened when first needed; a
        folder that cannot be opened costs only the extraction (what opens it for model calls says why)."""
        return cls(None, directory=Path(directory), size_limit_mb=size_limit_mb)

    @classmethod
    def of_project(cls, settings: Settings) -> ExtractedTexts:
        """The texts kept in the project's cache (``settings.cache_dir``, with its size cap), opened when first needed."""
        return cls.in_folder(settings.cache_dir, size_limit_mb=settings.cache_size_mb)

    def _opened(self) -> Any:
        if self._store is None and self._directory is not None:
            try:
                self._store = DiskCacheStore(self._directory, size_limit_mb=self._size_limit_mb)
                self._owned = True
            except WorkbenchError as exc:
                log.debug("extracted texts are not kept: %s", exc)
            self._directory = None  # tried once
        return self._store

    def get(self, key: str) -> Extracted | None:
        entry = self._call("get", key)
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            return None
        return Extracted(entry["text"], dict(entry.get("metadata") or {}))

    def put(self, key: str, extracted: Extracted) -> None:
        self._call("put", key, {"text": extracted.text, "metadata": dict(extracted.metadata)})

    def _call(self, method: str, *args: Any) -> Any:
        """The store's ``get`` or ``put`` of a text; nothing once it failed (a cache.db damaged or locked past its
        timeout: the corpus is extracted instead, and a sweep's model calls, which need the cache, say what is wrong)."""
        store = self._opened()
        if store is None or (method == "put" and isinstance(store, CacheReader)):  # a dry run keeps nothing
            return None
        try:
            return getattr(store, method)("text", *args)
        except (WorkbenchError, sqlite3.Error) as exc:
            log.debug("extracted texts are not kept: %s", exc)
            self.close()
            self._store = None
            return None

    def __enter__(self) -> ExtractedTexts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store this opened (one handed in is its owner's to close)."""
        if self._owned:
            self._store.close()
            self._store, self._owned = None, False
