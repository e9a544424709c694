"""The RAG pipeline: chunk -> embed -> index (Chroma, local or a server) -> retrieve -> generate."""

from workbench.pipeline.chunk import (
    Chunk,
    ChunkStats,
    LengthBin,
    Segment,
    chunk_corpus,
    chunk_document,
    chunk_segments,
    chunk_stats,
    length_histogram,
)
from workbench.pipeline.generate import QuestionRecord, answer_question, format_context, retrieve_question
from workbench.pipeline.index import ChromaIndexStore, ChromaServerIndexStore, Hit, IndexStore, MemoryIndexStore, VectorIndex
from workbench.pipeline.retrieve import Retriever
from workbench.pipeline.stores import index_store_for

__all__ = [
    "ChromaIndexStore",
    "ChromaServerIndexStore",
    "Chunk",
    "ChunkStats",
    "Hit",
    "IndexStore",
    "LengthBin",
    "MemoryIndexStore",
    "QuestionRecord",
    "Retriever",
    "Segment",
    "VectorIndex",
    "answer_question",
    "chunk_corpus",
    "chunk_document",
    "chunk_segments",
    "chunk_stats",
    "format_context",
    "index_store_for",
    "length_histogram",
    "retrieve_question",
]
