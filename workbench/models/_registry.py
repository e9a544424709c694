"""Resolve model strings: ``local:<name>`` for the embedded models, ``llamacpp:<path.gguf>`` for any GGUF file,
``<provider>:<model>`` for LangChain providers (loaded lazily, with an install/key hint when something is missing).
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from workbench.config import settings as _settings
from workbench.errors import ModelError
from workbench.models._local import (
    GEMMA_ID,
    MINILM_ID,
    MINILM_INPUT_TOKENS,
    SMOLLM2_ID,
    LlamaCppGenerator,
    MiniLMEmbedder,
    folder_sha256,
    gemma_path,
    gemma_sha256,
    smollm2_path,
)
from workbench.models._gguf import GgufError, read_gguf, serving_problem
from workbench.models._types import DEFAULT_CONTEXT_WINDOW, TOKEN_FILTERS, Embedder, Generator, ModelKind
from workbench.models._versions import HUGGINGFACE_PACKAGES, MINILM_PACKAGES, with_versions
from workbench.redaction import without_credentials

# provider -> (LangChain integration package (pip name, import name), API key variable or None)
PROVIDERS: Mapping[str, tuple[str, str, str | None]] = {
    "openai": ("langchain-openai", "langchain_openai", "OPENAI_API_KEY"),
    "azure_openai": ("langchain-openai", "langchain_openai", "AZURE_OPENAI_API_KEY"),
    "anthropic": ("langchain-anthropic", "langchain_anthropic", "ANTHROPIC_API_KEY"),
    "ollama": ("langchain-ollama", "langchain_ollama", None),
    "google_genai": ("langchain-google-genai", "langchain_google_genai", "GOOGLE_API_KEY"),
    "mistralai": ("langchain-mistralai", "langchain_mistralai", "MISTRAL_API_KEY"),
    "groq": ("langchain-groq", "langchain_groq", "GROQ_API_KEY"),
    "fireworks": ("langchain-fireworks", "langchain_fireworks", "FIREWORKS_API_KEY"),
    "together": ("langchain-together", "langchain_together", "TOGETHER_API_KEY"),
    "deepseek": ("langchain-deepseek", "langchain_deepseek", "DEEPSEEK_API_KEY"),
    "bedrock_converse": ("langchain-aws", "langchain_aws", None),
    "huggingface": ("langchain-huggingface", "langchain_huggingface", None),
}

# provider -> every variable its client takes the credential from, in the order it reads them, where PROVIDERS' one is
# not the only one: AzureChatOpenAI reads OPENAI_API_KEY too, or a Microsoft Entra ID token instead of a key
KEY_VARIABLES: Mapping[str, tuple[str, ...]] = {
    "azure_openai": ("AZURE_OPENAI_API_KEY", "OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN"),
}

# provider -> the settings its client cannot be built without besides the key: (the environment variables, any one of
# which will do; what to set), checked with the key, before anything runs
REQUIRED_SETTINGS: Mapping[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "azure_openai": (
        # AzureChatOpenAI reads no OPENAI_API_BASE: with it alone, every call failed for want of an endpoint
        (("AZURE_OPENAI_ENDPOINT",), "your Azure OpenAI resource's endpoint, e.g. https://NAME.openai.azure.com"),
        (("OPENAI_API_VERSION",), "the API version to call, e.g. 2024-10-21"),
    ),
}

# provider -> the environment variables that point its client at another server, in the order the client reads them
# (langchain-openai prefers OPENAI_API_BASE to the openai client's OPENAI_BASE_URL)
ENDPOINT_VARIABLES: Mapping[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_BASE", "OPENAI_BASE_URL"),
    "azure_openai": ("AZURE_OPENAI_ENDPOINT",),
    "anthropic": ("ANTHROPIC_API_URL", "ANTHROPIC_BASE_URL"),
    "ollama": ("OLLAMA_HOST",),
}

# what the variables that point a client at another server look like (the openai ones end in the API's /v1)
_BASE_URL_EXAMPLES: Mapping[str, str] = {
    "OLLAMA_HOST": "http://localhost:11434",
    "AZURE_OPENAI_ENDPOINT": "https://NAME.openai.azure.com",
    "ANTHROPIC_API_URL": "http://localhost:4000 (the client adds /v1/messages)",
    "ANTHROPIC_BASE_URL": "http://localhost:4000 (the client adds /v1/messages)",
}

# provider -> the sampler settings (SAMPLER_SETTINGS) workbench passes its LangChain chat class, which takes each under
# that name; Anthropic's API has no penalties, OpenAI's no top_k, Ollama's class no min_p or penalties but its repeat one.
# Checked in langchain-ai's sources: ChatTogether and ChatDeepSeek are BaseChatOpenAI (langchain-together
# libs/together/langchain_together/chat_models.py, langchain libs/partners/deepseek/langchain_deepseek/chat_models.py),
# with its top_p and penalty fields; ChatBedrockConverse has a top_p field, sent as inferenceConfig.topP (langchain-aws
# libs/aws/langchain_aws/chat_models/bedrock_converse.py; top_k goes in additional_model_request_fields under a name
# each model family spells its own way, so it is not passed); ChatGroq and ChatFireworks take them in
# model_kwargs (workbench.models._hosted).
SAMPLER_PROVIDERS: Mapping[str, tuple[str, ...]] = {
    "openai": ("top_p", "presence_penalty", "frequency_penalty"),
    "azure_openai": ("top_p", "presence_penalty", "frequency_penalty"),
    "anthropic": ("top_p", "top_k"),
    "ollama": ("top_p", "top_k", "repeat_penalty"),
    "google_genai": ("top_p", "top_k"),
    "mistralai": ("top_p",),
    "together": ("top_p", "presence_penalty", "frequency_penalty"),
    "deepseek": ("top_p", "presence_penalty", "frequency_penalty"),
    "bedrock_converse": ("top_p",),
    # groq's client's chat.completions.create takes these three (groq-python src/groq/resources/chat/completions.py)
    "groq": ("top_p", "presence_penalty", "frequency_penalty"),
    # LangChain's ChatFireworks page sets top_p; Fireworks' API takes top_k and the penalties too, but whether the typed
    # create() of the fireworks-ai 1.x SDK that langchain-fireworks 1.x calls takes them could not be checked
    "fireworks": ("top_p",),
}

# provider -> options of its LangChain embeddings class: langchain-openai counts tokens with tiktoken (whose encoding
# is downloaded from the internet at first use) and then sends token ids, which OpenAI-compatible servers refuse;
# chunks are far below the models' input limit, so the texts are sent as they are
# (their client's own retries are off: every retry is ours, with Retry-After honoured, as for chat models)
EMBEDDING_OPTIONS: Mapping[str, Mapping[str, object]] = {
    "openai": {"check_embedding_ctx_length": False, "max_retries": 0},
    "azure_openai": {"check_embedding_ctx_length": False, "max_retries": 0},
}


# providers whose LangChain embeddings embed a search query otherwise than a document (embed_query against
# embed_documents): Google's asks for the RETRIEVAL_QUERY task, not RETRIEVAL_DOCUMENT. Their questions are embedded
# as queries; the others' as documents, all in one request (their embed_query is embed_documents of one text).
QUERY_EMBEDDING_PROVIDERS = frozenset({"google_genai"})


def embeds_queries_apart(model_id: str) -> bool:
    """Whether an embedding model embeds a search query otherwise than a document (``QUERY_EMBEDDING_PROVIDERS``), so
    that its questions need an embedder of their own; any other model's index embedder embeds them (pure)."""
    return model_id.partition(":")[0] in QUERY_EMBEDDING_PROVIDERS


@dataclass(frozen=True)
class LocalGenerator:
    """An embedded GGUF model: how it is served and where its file is (found, or written, on first load), given where
    its sha256 is kept and whether it may be written there (``file_sha256``'s ``home`` and ``record``), the context
    length it was trained for (its header's, known without the file), and its sha256 when known without the file
    (None: read from the file)."""

    kind: ModelKind
    path: Callable[[Path | None, bool], Path]
    trained_context: int
    sha256: Callable[[], str] | None = None


LOCAL_GENERATORS: Mapping[str, LocalGenerator] = {
    # a base model without a chat template: completion prompts answer, chat calls echo the context
    GEMMA_ID: LocalGenerator("completion", lambda home, record: gemma_path(_settings().model_dir, home, record=record), 32768, gemma_sha256),
    # an instruction-tuned chat model, served through the GGUF's own chat template
    SMOLLM2_ID: LocalGenerator("chat", lambda home, record: smollm2_path(), 8192),
}
LOCAL_EMBEDDERS: Mapping[str, Callable[[], Embedder]] = {MINILM_ID: MiniLMEmbedder}
# embedding model -> the tokens of a text it reads (the rest is cut off unseen); only where that is known and small
EMBEDDER_INPUT_TOKENS: Mapping[str, int] = {MINILM_ID: MINILM_INPUT_TOKENS}


def embedder_input_tokens(model_id: str) -> int | None:
    """How many tokens of a text the embedding model reads (None when unknown or large), counted as the token
    chunker counts them."""
    return EMBEDDER_INPUT_TOKENS.get(model_id)


def embedder_unknown_share(model_id: str, texts: Sequence[str]) -> float | None:
    """The share of the tokens of ``texts`` that the embedding model does not know (its tokenizer reads them as one
    unknown token, so texts differing only in those words embed alike); None when not known (a hosted model)."""
    return MiniLMEmbedder().tokenizer.unknown_share(texts) if model_id == MINILM_ID else None


# names users write for a provider that LangChain spells otherwise (no close match by spelling)
PROVIDER_ALIASES: Mapping[str, str] = {
    "azure": "azure_openai", "bedrock": "bedrock_converse", "gemini": "google_genai", "google": "google_genai",
    "claude": "anthropic", "mistral": "mistralai",
}


def meant_provider(provider: str) -> str | None:
    """The known provider (or ``local``, ``llamacpp``) a misspelt one most likely means (pure): the same name in
    another case (``OpenAI``), a close spelling (``opnai``, ``antropic``), or a common other name (``gemini``,
    ``bedrock``); None when nothing is close."""
    known = ["local", "llamacpp", *sorted(PROVIDERS)]
    folded = provider.casefold().replace("-", "_")
    if folded in known:
        return folded
    if folded in PROVIDER_ALIASES:
        return PROVIDER_ALIASES[folded]
    return next(iter(difflib.get_close_matches(folded, known, n=1, cutoff=0.8)), None)


def _split(model_id: str, role: str | None = None) -> tuple[str, str]:
    provider, sep, name = model_id.partition(":")
    if not sep or not provider or not name:
        raise ModelError(f"model '{model_id}' is not a 'provider:model' string — {_provider_model_fix(model_id, role)}")
    return provider, name


# the embedded models as the Hugging Face hub names them (and without the organisation), by role: a hub id written for
# one is its local: id, which runs offline
_LOCAL_HUB_NAMES = {
    "generator": {"huggingfacetb/smollm2-135m-instruct": SMOLLM2_ID, "smollm2-135m-instruct": SMOLLM2_ID,
                  "google/gemma-3-270m": GEMMA_ID, "gemma-3-270m": GEMMA_ID},
    "embedder": {"sentence-transformers/all-minilm-l6-v2": MINILM_ID, "all-minilm-l6-v2": MINILM_ID},
}
# how the hosted APIs' own model names start, for a name written without its provider
_API_NAME_STARTS = (("gpt-", "openai"), ("chatgpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4-", "openai"),
                    ("text-embedding-", "openai"), ("claude-", "anthropic"), ("gemini-", "google_genai"))


def _provider_model_fix(model_id: str, role: str | None = None) -> str:
    """What to write for a model string without its ``provider:`` (pure): LiteLLM's and OpenRouter's ``openai/gpt-4o``
    with a colon, when what comes before the slash is a provider; an embedded model's hub name as its ``local:`` id; a
    hosted API's model name with its provider; else examples."""
    local = _LOCAL_HUB_NAMES.get(role or "", {}).get(model_id.casefold())
    ours = LOCAL_EMBEDDERS if role == "embedder" else LOCAL_GENERATORS
    if local is None and f"local:{model_id.casefold()}" in ours:  # the id the README's model table gives, without its local:
        local = f"local:{model_id.casefold()}"
    if local is not None:
        return f"did you mean '{local}'?"
    provider, slash, name = model_id.partition("/")
    meant = meant_provider(provider) if slash and name and ":" not in model_id else None
    written_as_provider = provider.casefold().replace("-", "_") in (meant, *(a for a, p in PROVIDER_ALIASES.items() if p == meant))
    if meant == "huggingface" and not written_as_provider:  # a hub organisation (HuggingFaceTB): part of the hub id
        return f"did you mean 'huggingface:{model_id}'?"
    if meant is not None and meant not in ("local", "llamacpp"):
        return f"did you mean '{meant}:{name}'?"
    api = next((p for start, p in _API_NAME_STARTS if model_id.casefold().startswith(start)), None) if not slash else None
    if api is not None:
        return f"did you mean '{api}:{model_id}'?"
    return f"e.g. '{MINILM_ID}' or 'openai:text-embedding-3-small'" if role == "embedder" else f"e.g. '{GEMMA_ID}' or 'openai:gpt-4o-mini'"


def check_model_id(model_id: str, *, role: str = "generator") -> None:
    """Validate a model string without loading anything (used when a spec is read).

    Raises:
        ModelError: one line naming the model and the accepted forms.
    """
    provider, name = _split(model_id, role)
    local = LOCAL_GENERATORS if role == "generator" else LOCAL_EMBEDDERS
    if provider == "local":
        if model_id not in local:
            raise ModelError(f"unknown local {role} '{model_id}' — local models are: {', '.join(sorted(local))}")
        return
    if provider == "llamacpp" and role == "generator":
        if not name.endswith(".gguf"):
            raise ModelError(f"model '{model_id}': llamacpp models are paths to a .gguf file, e.g. 'llamacpp:/models/x.gguf'")
        return
    if provider not in PROVIDERS:
        meant = meant_provider(provider)
        if meant is not None:
            raise ModelError(f"unknown model provider '{provider}' in '{model_id}' — did you mean '{meant}:{name}'?")
        known = ", ".join(["local", "llamacpp", *sorted(PROVIDERS)])
        raise ModelError(f"unknown model provider '{provider}' in '{model_id}' — use one of: {known}")


def check_kind(model_id: str, kind: ModelKind | None) -> None:
    """Check that a (valid) generator string can be served as ``kind`` without loading anything: an embedded model
    only as what it is, a hosted one only as a chat model, any GGUF file either way.

    Raises:
        ModelError: one line naming the model, its kind and the fix.
    """
    if kind is None:
        return
    local = LOCAL_GENERATORS.get(model_id)
    if local is not None and kind != local.kind:
        raise ModelError(f"model '{model_id}' is a {local.kind} model; it cannot be run as '{kind}' — set kind: {local.kind} or leave kind out")
    if kind == "completion" and not runs_locally(model_id):
        raise ModelError(f"model '{model_id}': hosted providers are served as chat models; set kind: chat or leave kind out")


def embedding_packages(model_id: str) -> tuple[str, ...]:
    """The packages whose installed versions decide an embedding model's vectors, for one computed on this machine
    (MiniLM, a ``huggingface:`` model); () for a provider's model, whose server computes them (pure)."""
    if model_id in LOCAL_EMBEDDERS:
        return MINILM_PACKAGES
    return HUGGINGFACE_PACKAGES if model_id.partition(":")[0] == "huggingface" else ()


# how a huggingface: string written as a path starts (a name on the hub, org/model, starts with neither)
_PATH_STARTS = ("/", "~", "./", "../")


def names_a_folder(model_id: str) -> bool:
    """Whether a ``huggingface:`` model string is written as a path (``/``, ``~``, ``./``, ``../``), there or not,
    rather than as a name on the Hugging Face hub (pure)."""
    provider, _, name = model_id.partition(":")
    return provider == "huggingface" and name.startswith(_PATH_STARTS)


def portable_model_id(model_id: str) -> str:
    """A model string without where its file or folder lies (pure): a ``llamacpp:`` GGUF file and a ``huggingface:``
    folder given as a path by their own name (``llamacpp:m.gguf``, ``huggingface:my-embedder``), any other model as it
    is. The keys built on it are the same in every clone of a project; what the file or folder holds is in the model's
    identity (its sha256), which they are built on too."""
    provider, _, name = model_id.partition(":")
    if provider == "llamacpp" or (provider == "huggingface" and (names_a_folder(model_id) or Path(name).is_absolute())):
        return f"{provider}:{Path(name).name}"
    return model_id


def local_model_folder(model_id: str) -> Path | None:
    """The folder on this machine a ``huggingface:`` model string names (a model saved with ``model.save(folder)``),
    as sentence-transformers finds it; None for a name on the Hugging Face hub or any other model."""
    provider, _, name = model_id.partition(":")
    path = Path(name).expanduser()
    return path if provider == "huggingface" and name and path.is_dir() else None


def embedder_identity(model_id: str, environ: Mapping[str, str], home: Path | None = None, *, record: bool = True) -> str:
    """What computes a LangChain embedding model's vectors: a model in a local folder by its files' digest (new weights
    saved into the folder are another model; copies of it elsewhere the same; ``home``, ``record``: where the digests
    are kept and whether they are written there, as for ``folder_sha256``), a hosted one by ``hosted_identity``; with the versions of the packages computing them here
    (a ``huggingface:`` model's)."""
    folder = local_model_folder(model_id)
    found = f"huggingface-folder:{folder_sha256(folder, home, record=record)}" if folder is not None else hosted_identity(model_id, environ)
    return with_versions(found, embedding_packages(model_id))


def sampler_refusal(model_id: str, setting: str, temperature: float) -> str | None:
    """Why a model's params cannot set the sampler ``setting`` (one of ``SAMPLER_SETTINGS``) and what to do, or None
    when they can (pure): a provider whose chat class workbench does not pass it to (``SAMPLER_PROVIDERS``), or a
    llama.cpp model at temperature 0, which answers with the likeliest token whatever the setting that filters tokens."""
    if runs_locally(model_id):
        if temperature == 0 and setting in TOKEN_FILTERS:
            return (f"at temperature 0 llama.cpp answers with the likeliest token, so {setting} changes no answer — set a "
                    "temperature above 0, or remove it")
        return None
    provider = model_id.partition(":")[0]
    passed = SAMPLER_PROVIDERS.get(provider, ())
    if setting in passed:
        return None
    others = f"it passes {', '.join(passed)}" if passed else "it passes none of these settings"
    return (f"workbench does not pass {setting} to {provider} models ({others}) — remove it, or compare {setting} on a "
            "llama.cpp model (local: or llamacpp:)")


def check_context_window(model_id: str, window: int | None) -> None:
    """Check a model's ``context_window`` without reading any file (used when a spec is read): an Ollama model's is sent
    as its num_ctx (``sends_window``), another hosted model's window is its server's, and an embedded model's cannot pass
    what it was trained for; a ``llamacpp:`` file's is checked against its header as it is loaded (``load_generator``).

    Raises:
        ModelError: one line saying what to do.
    """
    if window is None or sends_window(model_id):
        return
    if not runs_locally(model_id):
        raise ModelError("a hosted model's context window is its server's — remove it (workbench sends one to Ollama models "
                         "only, as their num_ctx)")
    past = _past_training(model_id, window, LOCAL_GENERATORS[model_id].trained_context) if model_id in LOCAL_GENERATORS else None
    if past is not None:
        raise ModelError(past)


# the context window an Ollama server runs a model with unless a call's num_ctx says otherwise: 2048 tokens (4096 in
# later versions, or its OLLAMA_CONTEXT_LENGTH); it drops the start of a longer prompt without a word
OLLAMA_DEFAULT_WINDOW = 2048


def sends_window(model_id: str) -> bool:
    """Whether a hosted model's ``context_window`` is sent with each call (pure): an Ollama model's, as its ``num_ctx``.
    Unset, its server reads ``OLLAMA_DEFAULT_WINDOW`` tokens of a prompt and drops the start of a longer one without a
    word: a RAG prompt lost its instructions and best-ranked chunks."""
    return model_id.partition(":")[0] == "ollama"


def trained_context(model_id: str) -> int | None:
    """The context length a llama.cpp model was trained for (an embedded one's known, a ``llamacpp:`` file's from its
    header); None for a hosted model or a file that does not say (or is not there)."""
    if model_id in LOCAL_GENERATORS:
        return LOCAL_GENERATORS[model_id].trained_context
    provider, _, name = model_id.partition(":")
    if provider != "llamacpp":
        return None
    try:
        return read_gguf(Path(name).expanduser()).trained_context
    except (OSError, GgufError):
        return None


def _past_training(model_id: str, window: int, trained: int | None) -> str | None:
    """Why a context window longer than the model was trained for is refused, or None (pure): llama.cpp runs it, and
    the model reads the positions past its training as noise."""
    if trained is None or window <= trained:
        return None
    return f"context_window {window} is more than the {trained} tokens {model_id} was trained for — set {trained} or less"


def runs_locally(model_id: str) -> bool:
    """A model served by llama.cpp on this machine's cores (``local:`` and ``llamacpp:``), not by a provider."""
    return model_id.partition(":")[0] in ("local", "llamacpp")


def default_kind(model_id: str) -> ModelKind:
    """Embedded models are served as what they are (Gemma 3 270M completion, SmolLM2 chat); other GGUF files are
    completion models by default; LangChain providers are chat models."""
    if model_id in LOCAL_GENERATORS:
        return LOCAL_GENERATORS[model_id].kind
    return "completion" if runs_locally(model_id) else "chat"


# how a hosted model's identity ends when a context window is sent with its calls (``sends_window``)
_WINDOW_MARK = " num_ctx="


def hosted_identity(model_id: str, environ: Mapping[str, str], context_window: int | None = None) -> str:
    """What answers a hosted model string (pure): the string itself, and the server it is sent to when the
    environment points the provider's client away from its default (``OPENAI_BASE_URL``, ``OLLAMA_HOST``...), and the
    context window sent with its calls when set (an Ollama model's ``num_ctx``: ``ollama:llama3.2 num_ctx=8192``).

    Two servers serving one model name (a proxy, vLLM, a second Ollama machine) answer differently, so their answers
    are cached, and their runs reused, apart; so do two windows of one model (the shorter one drops a long prompt's
    start). The address keeps no credentials or query string (it is logged).
    """
    window = f"{_WINDOW_MARK}{context_window}" if context_window is not None else ""
    found = _endpoint(model_id.partition(":")[0], environ)
    if found is None:
        return model_id + window
    url = found[1]
    return f"{model_id}@{without_credentials(url if '://' in url else f'http://{url}').rstrip('/')}{window}"


def hosted_server(model_id: str, identity: str) -> str | None:
    """The server named in a model's identity (``hosted_identity`` adds it after ``@`` when the environment points
    the provider's client at one); None for the provider's default server, a local model or a fake."""
    prefix = f"{model_id}@"
    return identity[len(prefix):].partition(_WINDOW_MARK)[0] if identity.startswith(prefix) else None


def refusal_advice(model_id: str, status: int | None, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """What a hosted model's server said by refusing a call for good, and what to check (pure): 401 the API key, 403
    the key's access to the model, 404 the model name or the server's address; None for any other status.

    The client's own text ("Error code: 401", "404 page not found") named neither the variable to fix nor the server
    that refused it.
    """
    if status not in (401, 403, 404):
        return None
    provider, name = _split(model_id)
    key = next((v for v in KEY_VARIABLES.get(provider, ()) if environ.get(v, "").strip()), PROVIDERS.get(provider, ("", "", None))[2])
    found = _endpoint(provider, environ)
    server = f"the server at {hosted_server(model_id, hosted_identity(model_id, environ))}" if found else f"{provider}'s server"
    if status == 401:
        return f"{server} refused the API key", f"check that {key} holds a key of that server" if key else "check the server's access settings"
    if status == 403:
        return f"{server} refused access to '{name}'", f"check that the key in {key} may use it" if key else "check the server's access settings"
    where = f", and that {found[0]} is the server's API base URL, e.g. {_BASE_URL_EXAMPLES.get(found[0], 'http://localhost:8000/v1')}" if found else ""
    return f"{server} knows no model '{name}' (or no such API path)", f"check the model name after '{provider}:'{where}"


def endpoint_variables(model_id: str) -> tuple[str, ...]:
    """The environment variables that point a hosted model's client at another server (none for local models)."""
    return tuple(ENDPOINT_VARIABLES.get(model_id.partition(":")[0], ()))


def _endpoint(provider: str, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The variable that points the provider's client at another server, and its value (None when none is set)."""
    return next(((v, environ[v].strip()) for v in ENDPOINT_VARIABLES.get(provider, ()) if environ.get(v, "").strip()), None)


def check_endpoint(provider: str, environ: Mapping[str, str]) -> None:
    """Check the server address the environment gives a provider's client (pure): a URL that does not parse, or one
    without ``http://`` or ``https://`` where the client needs a URL (all but ``OLLAMA_HOST``, which may be
    ``host:port``), failed every call with the client's bare "Connection error." (or crashed the sweep). One with a
    query string (``?api-key=...``) sent every call to the base path with the key mangled (the clients append the
    API's path after the query), and a 401 or 404 came back.

    Raises:
        ModelError: one line naming the variable and the fix.
    """
    found = _endpoint(provider, environ)
    if found is None:
        return
    name, url = found
    # no credentials in the message: neither a user and password nor a query string (?api-key=..., ?token=...)
    shown = without_credentials(url, marked=True)
    try:
        parts = urlsplit(url if "://" in url or name != "OLLAMA_HOST" else f"http://{url}")
        parts.port  # noqa: B018 - reading it checks the port
    except ValueError as exc:
        raise ModelError(f"{name}={shown!r} is not a valid URL ({exc}) — fix it or unset it") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ModelError(f"{name}={shown!r} is not an http(s) URL — write the server's address with its scheme, "
                         f"e.g. http://localhost:8000/v1")
    if parts.query:
        key = PROVIDERS.get(provider, ("", "", None))[2]
        raise ModelError(f"{name}={shown!r} has a query string, which the client sends with the API's path appended after "
                         "it (…/v1?…/chat/completions): no call would reach the API — give the address without it"
                         f"{f', and the key in {key} (sent as a header)' if key else ''}")


def _require_provider(model_id: str) -> str:
    provider, _ = _split(model_id)
    pip_name, module, key = PROVIDERS[provider]
    if importlib.util.find_spec(module) is None:
        raise ModelError(f"model '{model_id}' needs the package {pip_name} — pip install {pip_name}")
    given = next((name for name in KEY_VARIABLES.get(provider, (key,)) if name and os.environ.get(name, "").strip()), None)
    if key and given is None:
        raise ModelError(f"model '{model_id}' needs the environment variable {key} — set it (it is never logged)")
    if given and os.environ[given] != os.environ[given].strip():  # sent as it is: a key the provider refuses, or a bad header
        raise ModelError(f"model '{model_id}': the environment variable {given} has spaces or a line end around its value "
                         "— set it without them")
    for variables, what in REQUIRED_SETTINGS.get(provider, ()):
        if not any(os.environ.get(v, "").strip() for v in variables):
            raise ModelError(f"model '{model_id}' needs the environment variable {variables[0]} — set it to {what}")
    check_endpoint(provider, os.environ)
    return provider


def load_generator(model_id: str, *, kind: ModelKind | None = None, home: Path | None = None, record_sha256: bool = True,
                   context_window: int | None = None) -> Generator:
    """Build the generator for a model string (loading happens lazily: local models on first use, hosted chat models
    on the first call with given decoding settings). ``home``: where a GGUF file's sha256 is kept (a sweep's settings'
    home; None: the default settings'); without ``record_sha256`` one computed here is not written there, nor the
    embedded Gemma's file (a dry run: it is known by its package's sha256, and answers nothing). ``context_window``: a
    llama.cpp model's, in tokens (None: ``DEFAULT_CONTEXT_WINDOW``), or an Ollama model's, sent as its num_ctx (None:
    its server's).

    Raises:
        ModelError: the model string is malformed, the GGUF file is missing, the kind does not fit the model, the
            context window does not, or a provider package or API key is missing.
    """
    check_model_id(model_id)
    check_kind(model_id, kind)
    check_context_window(model_id, context_window)
    provider, name = _split(model_id)
    n_ctx = context_window or DEFAULT_CONTEXT_WINDOW
    if provider == "local":
        local = LOCAL_GENERATORS[model_id]
        return LlamaCppGenerator(model_id, local.path(home, record_sha256), kind=local.kind, n_ctx=n_ctx, trained_context=local.trained_context,
                                 home=home, record_sha256=record_sha256, sha256=local.sha256() if local.sha256 is not None else None)
    if provider == "llamacpp":
        path = Path(name).expanduser()
        trained = _check_gguf(model_id, path, kind or "completion", context_window)
        return LlamaCppGenerator(model_id, path, kind=kind or "completion", n_ctx=n_ctx, trained_context=trained, home=home,
                                 record_sha256=record_sha256)
    _require_provider(model_id)
    from workbench.models._hosted import LangChainChatGenerator, chat_model

    return LangChainChatGenerator(model_id, functools.partial(chat_model, model_id, context_window=context_window),
                                  identity=hosted_identity(model_id, os.environ, context_window),
                                  refusal=functools.partial(refusal_advice, model_id, environ=os.environ))


def _check_gguf(model_id: str, path: Path, kind: ModelKind, context_window: int | None = None) -> int | None:
    """Refuse a path that is no whole GGUF model able to answer as ``kind`` (a download that failed or stopped early,
    an HTML page, another format, an adapter, a base model asked to chat), or with a ``context_window`` longer than it
    was trained for, reading its header only: llama.cpp said only "Failed to load model from file" on every question,
    after the indexes were built, or answered with nothing. Returns the context length it was trained for, if said.
    """
    if not path.is_file():
        raise ModelError(f"model '{model_id}': {_not_a_file(path)}")
    try:
        info = read_gguf(path)
    except GgufError as exc:
        raise ModelError(f"model '{model_id}': {path} {exc}") from None
    except OSError as exc:
        raise ModelError(f"model '{model_id}': cannot read {path}: {exc.strerror or exc}") from None
    problem = serving_problem(info, kind)
    if problem is not None:
        raise ModelError(f"model '{model_id}': {path} {problem}")
    past = _past_training(model_id, context_window, info.trained_context) if context_window is not None else None
    if past is not None:
        raise ModelError(f"model '{model_id}': {past}")
    return info.trained_context


def llama_crash_advice(models: Sequence[tuple[str, ModelKind]]) -> str | None:
    """What to do when a process answering with these (model string, kind) pairs died by a signal: the first
    ``llamacpp:`` GGUF file among them, checked again (a file replaced or cut short as the sweep ran is named with what
    is wrong with it), or else named as what llama.cpp was running when it crashed; None without one."""
    model_id, kind = next(((m, k) for m, k in models if m.startswith("llamacpp:")), ("", "completion"))
    if not model_id:
        return None
    path = Path(_split(model_id)[1]).expanduser()
    try:
        _check_gguf(model_id, path, kind)
    except ModelError as exc:
        return str(exc)
    return (f"llama.cpp was running {path} in it: if it crashes on that file, download it again, try another "
            "quantisation of the model or a newer llama-cpp-python")


def _not_a_file(path: Path) -> str:
    """What lies at a model path that is no file, and what to do."""
    if path.is_dir():
        return f"{path} is a folder — give the path of the .gguf file in it"
    if path.is_symlink():
        return f"{path} is a link to {os.readlink(path)}, which does not exist — link it to the .gguf file, or give that file's path"
    where = " (a \\ is part of a file name here: write the path with /)" if "\\" in str(path) else ""
    return f"no such file {path}{where}"


def load_embedder(model_id: str, *, retries: int = 2, queries: bool = False, home: Path | None = None,
                  record_sha256: bool = True) -> Embedder:
    """Build the embedder for a model string; a hosted one retries a call ``retries`` times on a rate limit, server
    error or timeout (a sweep's ``execution.retries``; 2, the openai client's own default, elsewhere). With ``queries``,
    the embedder of the questions retrieval searches with: a provider that embeds a query otherwise than a document
    (``QUERY_EMBEDDING_PROVIDERS``) embeds them as queries, under an identity of their own. ``home``: where a local
    model folder's digests are kept, and ``record_sha256``, as for ``load_generator``."""
    check_model_id(model_id, role="embedder")
    if model_id in LOCAL_EMBEDDERS:
        return LOCAL_EMBEDDERS[model_id]()
    if names_a_folder(model_id) and local_model_folder(model_id) is None:
        # sentence-transformers took it for a hub name ("Repo id must be in the form 'repo_name' or ...")
        raise ModelError(f"model '{model_id}': no such folder {Path(_split(model_id)[1]).expanduser().absolute()} — give the folder a "
                         "sentence-transformers model was saved in (model.save(folder)); a relative one is read from the "
                         "experiment file's folder")
    provider = _require_provider(model_id)
    if provider == "huggingface" and importlib.util.find_spec("sentence_transformers") is None:  # found before it is built
        raise ModelError(f"model '{model_id}' needs the package sentence-transformers — pip install sentence-transformers")
    from langchain.embeddings import init_embeddings

    from workbench.models._hosted import LangChainEmbedder

    build = functools.partial(init_embeddings, model_id, **EMBEDDING_OPTIONS.get(provider, {}))
    # a huggingface: client loads its model (torch, seconds) as it is built: a dry run, or a sweep whose every variant
    # is reused, needs only its identity (the folder's digest, the versions), and vectors it finds in the cache
    client = _OnFirstCall(build) if provider == "huggingface" else build()
    return LangChainEmbedder(model_id, client, identity=embedder_identity(model_id, os.environ, home, record=record_sha256),
                             retries=retries, refusal=functools.partial(refusal_advice, model_id, environ=os.environ),
                             queries=queries and embeds_queries_apart(model_id))


class _OnFirstCall:
    """A LangChain embeddings client built when it is first asked to embed."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build

    @functools.cached_property
    def _client(self) -> Any:
        return self._build()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._client.embed_documents(texts)  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self._client.embed_query(text)  # type: ignore[no-any-return]
