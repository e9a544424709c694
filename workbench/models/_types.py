"""What the pipeline needs from a model: generation and embeddings behind small protocols."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from workbench.errors import ModelError
from workbench.prompts import RenderedPrompt
from workbench.redaction import valid_unicode

ModelKind = Literal["completion", "chat"]

# What to change when a prompt is longer than a model's context window (the retrieved chunks are most of it)
CONTEXT_ADVICE = "retrieve fewer or smaller chunks (the retrieval's k, the chunker's size) or shorten the prompt"
# The context window llama.cpp runs a GGUF model with, in tokens, unless the model's context_window says otherwise
DEFAULT_CONTEXT_WINDOW = 2048


def window_advice(window: int, trained: int | None, setting: str = "the model's context_window") -> str:
    """What to do about prompts longer than a llama.cpp model's context ``window`` (pure): its context_window first
    (``setting``, as the experiment names it), when it was ``trained`` for a longer one (Gemma 3 270M for 32768 tokens, run
    with 2048 unless told)."""
    larger = f"raise {setting} (up to {trained} tokens, what it was trained for), or " if trained and trained > window else ""
    return larger + CONTEXT_ADVICE


class WindowExceeded(ModelError):
    """A prompt longer than a llama.cpp model's context ``window``, which it refused (``said``: its words); the message
    says what to do, its context_window first when it was ``trained`` for a longer one (``window_advice``). ``advised``
    says it naming the setting of the role the model was asked in: one loaded model answers and judges alike."""

    def __init__(self, model_id: str, said: str, window: int, trained: int | None) -> None:
        self.model_id, self.said, self.window, self.trained = model_id, said, window, trained
        super().__init__(self.advised("the model's context_window"))

    def advised(self, setting: str) -> str:
        """The message, with ``setting`` (``judge.context_window``) as what to raise."""
        return f"{self.model_id}: {self.said} — {window_advice(self.window, self.trained, setting)}"

    def __reduce__(self) -> tuple[Any, ...]:  # sent between processes whole, not as its message alone
        return type(self), (self.model_id, self.said, self.window, self.trained)


# The sampler settings a model's params may set besides its temperature, each in the words of llama-cpp-python's
# create_completion and create_chat_completion (and of the LangChain classes of the providers that take it)
SAMPLER_SETTINGS = ("top_p", "top_k", "min_p", "typical_p", "repeat_penalty", "presence_penalty", "frequency_penalty")
# those that only pick among the likeliest tokens: at temperature 0 llama.cpp takes the likeliest, and they change nothing
TOKEN_FILTERS = ("top_p", "top_k", "min_p", "typical_p")


@dataclass(frozen=True)
class GenerationParams:
    """Decoding parameters handed to a generator."""

    temperature: float = 0.0
    max_tokens: int = 128
    stop: tuple[str, ...] = ()
    seed: int = 0
    timeout_s: float | None = None
    retries: int = 0  # hosted calls: retries on 429, 5xx and timeouts (not part of what decides the answer)
    # the SAMPLER_SETTINGS set, as (name, value) in that order; those left out sample as the model's backend does by default
    sampler: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Generation:
    """One model answer with its accounting. ``cached``: read from the cache (its tokens and latency are those of the
    call that computed it; no model was called for it now, and ``retries`` is 0). ``text`` is always valid Unicode:
    lone surrogates in what the model returned become U+FFFD, so one odd answer never stops a variant being logged.
    ``usage_reported``: False when the provider's response carried no token counts (some OpenAI-compatible servers and
    proxies), counts that are none (a negative number, from a broken proxy or server) or counts that cannot be true (no
    input token, or no output token for a text: a server's null or 0 for what it did not count): its cost is unknown.
    ``prompt_tokens_cut``: a completion prompt longer than the model's context window loses its start (the question
    sits at the end); this many of its tokens were never read by the model. ``cached_input_tokens``: of
    ``input_tokens``, those the provider read from its prompt cache (LangChain's ``input_token_details.cache_read``),
    which it bills at its cached-input price."""

    text: str
    input_tokens: int
    output_tokens: int
    latency_s: float
    finish_reason: str = "stop"
    cached: bool = False
    retries: int = 0  # failed attempts retried before this answer (rate limits, server errors, timeouts)
    usage_reported: bool = True  # False: the provider sent no token counts (the tokens are 0 and the cost is unknown)
    prompt_tokens_cut: int = 0  # tokens cut from the start of a completion prompt longer than the context window
    cached_input_tokens: int = 0  # of input_tokens, those read from the provider's prompt cache (a cheaper price)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", valid_unicode(self.text))
        if self.input_tokens < 0 or self.output_tokens < 0:  # priced as they are, they made a negative cost
            for name, value in (("input_tokens", 0), ("output_tokens", 0), ("usage_reported", False)):
                object.__setattr__(self, name, value)
        object.__setattr__(self, "cached_input_tokens", min(max(self.cached_input_tokens, 0), self.input_tokens))


@runtime_checkable
class Generator(Protocol):
    """Turns a rendered prompt into text. ``kind`` says whether it reads ``prompt.text`` or ``prompt.messages``.

    ``identity`` names what decides its answers besides the input and the decoding parameters (a provider string; for
    a GGUF file its sha256 and context size): two generators with one identity answer alike, so answers are cached
    under it.
    """

    model_id: str
    kind: ModelKind

    @property
    def identity(self) -> str: ...

    def generate(
        self,
        prompt: RenderedPrompt,
        params: GenerationParams,
        *,
        deadline: float | None = None,
        json_schema: Mapping[str, Any] | None = None,
    ) -> Generation:
        """Generate an answer.

        Args:
            prompt: the rendered prompt (``text`` or ``messages``, by ``kind``).
            params: decoding parameters.
            deadline: stop early (``finish_reason='deadline'``) once ``time.monotonic()`` passes it.
            json_schema: ask for JSON conforming to this JSON schema, returned as ``text``. The model enforces it as
                far as its backend can (llama.cpp decodes under a grammar built from it; hosted models use the
                provider's structured output); stop strings do not apply. The text is not checked here: an answer cut
                off (``finish_reason`` ``length`` or ``deadline``) may not conform; ``workbench.scoring.check_reply``
                checks it.

        A provider's error (network, rate limit, refusal) is raised, not returned; callers turn it into an error row.
        """
        ...


@runtime_checkable
class Embedder(Protocol):
    """Embeds texts; ``count_tokens`` uses the model's own tokenizer (used by the token chunker).

    ``identity`` names the model and implementation: vectors are cached under it.
    """

    model_id: str

    @property
    def identity(self) -> str: ...

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer (the token chunker counts with it)."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def count_tokens(self, text: str) -> int: ...
