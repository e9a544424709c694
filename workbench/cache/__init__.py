"""Caches: model answers, judge replies, embeddings and corpora's extracted texts, content-addressed in one process-safe store (diskcache).

    store = DiskCacheStore(settings().cache_dir)
    model = CachedGenerator(load_generator("local:gemma3-270m"), store, identity=...)

The runner wraps every model of a sweep this way (unless ``cache: false`` on a model or ``run(..., fresh=True)``).
"""

from workbench.cache._claims import claimed, locks_work
from workbench.cache._models import CachedEmbedder, CachedGenerator, embedding_key, generation_key
from workbench.cache._store import KINDS, CacheInfo, CacheReader, CacheStore, DiskCacheStore, Kind, MemoryCacheStore, parse_age
from workbench.cache._texts import ExtractedTexts

__all__ = [
    "KINDS",
    "CacheInfo",
    "CacheReader",
    "CacheStore",
    "CachedEmbedder",
    "CachedGenerator",
    "DiskCacheStore",
    "ExtractedTexts",
    "Kind",
    "MemoryCacheStore",
    "claimed",
    "embedding_key",
    "generation_key",
    "locks_work",
    "parse_age",
]
