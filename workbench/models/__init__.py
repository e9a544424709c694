"""Models: generation and embedding behind small protocols, resolved from ``provider:model`` strings."""

from workbench.models._local import COMPLETION_STOPS, GEMMA_ID, MINILM_ID, SMOLLM2_ID, file_sha256, llama_threads
from workbench.models._pricing import DEFAULT_PRICES, Price, cost_of, price_for
from workbench.models._retry import RetriesExhausted
from workbench.models._registry import (
    PROVIDERS,
    check_kind,
    check_model_id,
    default_kind,
    embedder_input_tokens,
    embedding_packages,
    embeds_queries_apart,
    embedder_unknown_share,
    endpoint_variables,
    hosted_server,
    llama_crash_advice,
    load_embedder,
    load_generator,
    names_a_folder,
    portable_model_id,
    runs_locally,
)
from workbench.models._types import CONTEXT_ADVICE, Embedder, Generation, GenerationParams, Generator, ModelKind
from workbench.models._versions import COMPUTING_PACKAGES, LLAMA_CPP_PACKAGES, without_versions

__all__ = [
    "COMPLETION_STOPS",
    "COMPUTING_PACKAGES",
    "CONTEXT_ADVICE",
    "DEFAULT_PRICES",
    "GEMMA_ID",
    "LLAMA_CPP_PACKAGES",
    "MINILM_ID",
    "PROVIDERS",
    "SMOLLM2_ID",
    "Embedder",
    "Generation",
    "GenerationParams",
    "Generator",
    "ModelKind",
    "Price",
    "RetriesExhausted",
    "check_kind",
    "check_model_id",
    "cost_of",
    "default_kind",
    "embedder_input_tokens",
    "embedder_unknown_share",
    "embedding_packages",
    "embeds_queries_apart",
    "endpoint_variables",
    "file_sha256",
    "hosted_server",
    "llama_crash_advice",
    "llama_threads",
    "load_embedder",
    "load_generator",
    "names_a_folder",
    "portable_model_id",
    "price_for",
    "runs_locally",
    "without_versions",
]
