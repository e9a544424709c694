"""Models: generation and embedding behind small protocols, resolved from ``provider:model`` strings.

Where each part lives:

    _types      what the pipeline needs of a model: ``Generator``, ``Embedder``, ``Generation``, their parameters
    _registry   model strings resolved: ``local:``, ``llamacpp:``, ``huggingface:`` and the hosted providers
    _local      the embedded default models (Gemma 3 270M, SmolLM2-135M-Instruct, MiniLM) and llama.cpp's settings
    _gguf       what a GGUF file says of itself, read without llama.cpp
    _grammar    JSON-schema-constrained decoding for llama.cpp (a judge's replies)
    _hosted     hosted and external models through LangChain provider strings
    _retry      which failures of a hosted call are retried, and after how long
    _pricing    USD per 1M input and output tokens
    _versions   the installed packages that compute a model's output
"""

from workbench.models._local import GEMMA_ID, MINILM_ID, SMOLLM2_ID, file_sha256, llama_threads, prompt_budget
from workbench.models._pricing import DEFAULT_PRICES, Price, cost_of, price_for
from workbench.models._retry import RetriesExhausted
from workbench.models._registry import (
    OLLAMA_DEFAULT_WINDOW,
    PROVIDERS,
    check_context_window,
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
    sampler_refusal,
    sends_window,
    trained_context,
)
from workbench.models._types import (
    CONTEXT_ADVICE, DEFAULT_CONTEXT_WINDOW, SAMPLER_SETTINGS, Embedder, Generation, GenerationParams, Generator, ModelKind, WindowExceeded,
    window_advice,
)
from workbench.models._versions import COMPUTING_PACKAGES, LLAMA_CPP_PACKAGES, without_versions

__all__ = [
    "COMPUTING_PACKAGES",
    "CONTEXT_ADVICE",
    "DEFAULT_CONTEXT_WINDOW",
    "DEFAULT_PRICES",
    "GEMMA_ID",
    "LLAMA_CPP_PACKAGES",
    "MINILM_ID",
    "OLLAMA_DEFAULT_WINDOW",
    "PROVIDERS",
    "SAMPLER_SETTINGS",
    "SMOLLM2_ID",
    "Embedder",
    "Generation",
    "GenerationParams",
    "Generator",
    "ModelKind",
    "Price",
    "RetriesExhausted",
    "WindowExceeded",
    "check_context_window",
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
    "prompt_budget",
    "runs_locally",
    "sampler_refusal",
    "sends_window",
    "trained_context",
    "window_advice",
    "without_versions",
]
