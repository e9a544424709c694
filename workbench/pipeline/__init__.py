"""The RAG pipeline: chunk -> embed -> index (Chroma, local or a server) -> retrieve -> generate (one model, or a router
that escalates from a cheap model to a strong one).

Its modules, in that order: ``chunk`` (chunkers, chunk statistics), ``embed`` (a corpus's chunks embedded in batches,
reusing an earlier build's vectors), ``index`` (the index interfaces, the in-memory store), ``_chroma`` (indexes as
Chroma collections), ``chroma_local`` (the default store, a folder on this machine), ``chroma_server`` (a team's Chroma
server), ``stores`` (which store a sweep uses), ``retrieve`` (top-k search), ``generate`` (an answer from the
retrieved context), ``route`` and ``router`` (when and how a cheap model's answer escalates to a strong one)."""

from workbench.pipeline.chroma_local import ChromaIndexStore
from workbench.pipeline.chroma_server import ChromaServerIndexStore
from workbench.pipeline.chunk import (
    Chunk,
    ChunkStats,
    LengthBin,
    Segment,
    chunk_corpus,
    chunk_document,
    chunk_segments,
    chunk_stats,
    chunks_digest,
    count_truncated,
    length_histogram,
)
from workbench.pipeline.embed import EMBED_BATCH, ReusableVectors, embed_chunks, embed_chunks_reusing, embed_within
from workbench.pipeline.generate import QuestionRecord, answer_question, format_context, generate_answer, retrieve_question
from workbench.pipeline.index import Hit, IndexInfo, IndexStore, MemoryIndexStore, VectorIndex
from workbench.pipeline.retrieve import Retriever, SharedSearch, retrievers_sharing_search
from workbench.pipeline.route import Escalation, ModelCall, Signals, decide, decide_before_answer, grounding
from workbench.pipeline.router import RoutedModel, Router, route_answer, routing_metrics
from workbench.pipeline.stores import check_index_store_for, existing_index_store, index_server_address, index_store_for

__all__ = [
    "EMBED_BATCH",
    "ChromaIndexStore",
    "ChromaServerIndexStore",
    "Chunk",
    "ChunkStats",
    "Escalation",
    "Hit",
    "IndexInfo",
    "IndexStore",
    "LengthBin",
    "MemoryIndexStore",
    "ModelCall",
    "QuestionRecord",
    "Retriever",
    "ReusableVectors",
    "RoutedModel",
    "Router",
    "Segment",
    "SharedSearch",
    "Signals",
    "VectorIndex",
    "answer_question",
    "check_index_store_for",
    "chunk_corpus",
    "chunk_document",
    "chunk_segments",
    "chunk_stats",
    "chunks_digest",
    "count_truncated",
    "decide",
    "decide_before_answer",
    "embed_chunks",
    "embed_chunks_reusing",
    "embed_within",
    "existing_index_store",
    "format_context",
    "generate_answer",
    "grounding",
    "index_server_address",
    "index_store_for",
    "length_histogram",
    "retrieve_question",
    "retrievers_sharing_search",
    "route_answer",
    "routing_metrics",
]
