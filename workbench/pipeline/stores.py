"""Which index store a sweep uses: a Chroma server when the spec or the environment names one, else local Chroma."""

from __future__ import annotations

import os

from workbench.config import Settings
from workbench.pipeline.index import ChromaIndexStore, ChromaServerIndexStore, IndexStore
from workbench.spec import ExperimentSpec

__all__ = ["CHROMA_URL_ENV", "index_store_for"]

CHROMA_URL_ENV = "WORKBENCH_CHROMA_URL"


def index_store_for(spec: ExperimentSpec, settings: Settings) -> IndexStore:
    """The index store for a sweep of ``spec``.

    The spec's ``index_store.url`` wins, then ``WORKBENCH_CHROMA_URL``; both select a Chroma server (shared by every
    worker and machine). Without either, indexes are kept in a persistent local Chroma under ``settings.index_dir``.

    Raises:
        WorkbenchError: a server is named but no Chroma server answers there.
    """
    url = spec.index_store.url if spec.index_store is not None else os.environ.get(CHROMA_URL_ENV, "").strip()
    return ChromaServerIndexStore(url) if url else ChromaIndexStore(settings.index_dir)
