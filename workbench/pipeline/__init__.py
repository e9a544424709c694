"""The RAG pipeline: chunk -> embed -> index (Chroma, local or a server) -> retrieve -> generate (one model, or a router
that escalates from a cheap model to a strong one)."""

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
from workbench.pipeline.generate import QuestionRecord, answer_question, format_context, generate_answer, retrieve_question
from workbench.pipeline.index import (
    EMBED_BATCH,
    ChromaIndexStore,
    ChromaServerIndexStore,
    Hit,
    IndexInfo,
    IndexStore,
    MemoryIndexStore,
    ReusableVectors,
    VectorIndex,
    embed_chunks,
    embed_chunks_reusing,
    embed_within,
)
from workbench.pipeline.retrieve import Retriever
from workbench.pipeline.route import Escalation, ModelCall, Signals, decide, decide_before_answer, grounding
from workbench.pipeline.router import RoutedModel, Router, route_answer, routing_metrics
from workbench.pipeline.stores import check_index_store_for, index_store_for

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
    "format_context",
    "generate_answer",
    "grounding",
    "index_store_for",
    "length_histogram",
    "retrieve_question",
    "route_answer",
    "routing_metrics",
]
