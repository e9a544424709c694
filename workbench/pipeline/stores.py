"""Which index store a sweep uses: a Chroma server when the spec or the environment names one, else local Chroma."""

from __future__ import annotations

import os

from workbench.config import Settings
from workbench.pipeline.chroma_local import ChromaIndexStore, check_local_chroma_usable
from workbench.pipeline.chroma_server import ChromaServerIndexStore, chroma_server_address
from workbench.spec import ExperimentSpec

__all__ = ["CHROMA_URL_ENV", "check_index_store_for", "existing_index_store", "index_server_address", "index_store_for"]

CHROMA_URL_ENV = "WORKBENCH_CHROMA_URL"


def index_store_for(spec: ExperimentSpec, settings: Settings) -> ChromaIndexStore | ChromaServerIndexStore:
    """The index store for a sweep of ``spec``; ``close()`` it when done with it.

    The spec's ``index_store.url`` wins, then ``WORKBENCH_CHROMA_URL``; both select a Chroma server (shared by every
    worker and machine). Without either, indexes are kept in a persistent local Chroma under ``settings.index_dir``.

    Raises:
        WorkbenchError: a server is named but no Chroma server answers there.
    """
    url = _server_url(spec)
    return ChromaServerIndexStore(url) if url else ChromaIndexStore(settings.index_dir)


def existing_index_store(spec: ExperimentSpec, settings: Settings) -> ChromaIndexStore | ChromaServerIndexStore | None:
    """The index store ``index_store_for`` would open, to be read (a dry run looks its indexes up): the Chroma server,
    or the local one when an index was ever built under ``settings.index_dir`` (else None: none is made just to be
    read). ``close()`` it when done with it.

    Raises:
        WorkbenchError: a server is named but no Chroma server answers there.
    """
    url = _server_url(spec)
    return ChromaServerIndexStore(url) if url else ChromaIndexStore.existing(settings.index_dir)


def check_index_store_for(spec: ExperimentSpec) -> None:
    """Refuse now, before anything is logged, the index store ``index_store_for`` would open later when this process
    cannot use it (a local Chroma in a child forked from a process that had opened one).

    Raises:
        WorkbenchError: the store cannot be used in this process.
    """
    if not _server_url(spec):
        check_local_chroma_usable()


def index_server_address(spec: ExperimentSpec) -> str | None:
    """The address of the Chroma server ``index_store_for`` would open for ``spec`` (``chroma_server_address``: no
    login), or None when its indexes are kept locally (or the URL is not one a store could open)."""
    url = _server_url(spec)
    return chroma_server_address(url) if url else None


def _server_url(spec: ExperimentSpec) -> str:
    return spec.index_store.url if spec.index_store is not None else os.environ.get(CHROMA_URL_ENV, "").strip()
