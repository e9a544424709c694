"""A model of the grid: its generation settings (``ModelParams``, the sampler settings of llama.cpp and the providers,
what each refuses and why) and the entry itself (``ModelSpec``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from workbench.errors import ModelError
from workbench.models import (
    DEFAULT_CONTEXT_WINDOW,
    SAMPLER_SETTINGS,
    GenerationParams,
    ModelKind,
    check_context_window,
    default_kind,
    runs_locally,
    sampler_refusal,
)
from workbench.spec._base import _GENERATOR_PATTERN, _known_model, _NamedSpec, _servable_as, _Spec
from workbench.spec._names import Name

# settings of llama.cpp's and the providers' samplers that a model's params do not take, and what to do instead
_NOT_PASSED = ("workbench passes a model temperature, max_tokens, stop, timeout_s and the sampler settings "
               f"{', '.join(SAMPLER_SETTINGS)} only — remove it")
_CONTEXT_SET = (f"a llama.cpp model's context window ({DEFAULT_CONTEXT_WINDOW} tokens unless set), or an Ollama model's num_ctx, "
                "is the model's context_window, beside its id and params — write it there (context_window: 8192)")
_OTHER_SETTINGS = {
    **dict.fromkeys(("mirostat", "mirostat_mode", "tfs_z", "logit_bias"), _NOT_PASSED),
    "repetition_penalty": "llama.cpp and Ollama call it repeat_penalty — write repeat_penalty",
    **dict.fromkeys(("n_ctx", "num_ctx", "context_length", "context_window"), _CONTEXT_SET),
    "seed": "the experiment's seed samples every model's answers — write it once at the top of the file (seed: 3), not "
            "under params",
}


def _unset(value: Any) -> bool:
    return value is None


def context_window_field(whose: str) -> Any:
    """The ``context_window`` field of a model entry or the judge: left out of the dump unset, so one without it keeps
    its variant id and reuse keys."""
    return Field(
        default=None, ge=256, exclude_if=_unset,
        description=f"{whose} context window in tokens, for prompt and answer together (default {DEFAULT_CONTEXT_WINDOW}; "
        "at most what the model was trained for: Gemma 3 270M 32768, SmolLM2 8192); an Ollama model's is sent as its num_ctx "
        "(unset: its server's, 2048 or 4096 tokens, which drops a longer prompt's start); another hosted model's is its server's",
    )


def checked_window(value: int | None, info: ValidationInfo) -> int | None:
    """A ``context_window`` field's check against the entry's ``id`` (checked before it), as a field's error."""
    if "id" in info.data:
        try:
            check_context_window(info.data["id"], value)
        except ModelError as exc:
            raise ValueError(str(exc)) from None
    return value


# a model entry's or the judge's context_window, checked against the entry's id
ContextWindow = Annotated[int | None, AfterValidator(checked_window)]


def window_of(model_id: str, context_window: int | None) -> int | None:
    """A model's ``context_window``, None where that is llama.cpp's default one (written out, it answers as unset)."""
    return None if context_window == DEFAULT_CONTEXT_WINDOW and runs_locally(model_id) else context_window


class ModelParams(_Spec):
    """How a model answers: temperature, the longest answer, stop texts, the time limit of a call and sampler settings."""

    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0: the most likely answer; above it, sampled with the experiment's seed")
    max_tokens: int = Field(default=128, ge=1, le=8192, description="the longest answer, in tokens (one cut there has finish_reason length)")
    stop: tuple[str, ...] = Field(default=(), description="texts that end an answer where the model writes them")
    timeout_s: float | None = Field(default=60.0, gt=0, description="time limit of one call to a hosted model, in seconds (null: none)")
    # the sampler settings (SAMPLER_SETTINGS): left out of the dump unset, so a model without them keeps its variant id,
    # answer cache keys and reuse keys; unset, the model's backend samples as it does by default
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, exclude_if=_unset,
                                description="sample from the likeliest tokens whose probabilities add up to this (llama.cpp's default 0.95)")
    top_k: int | None = Field(default=None, ge=0, exclude_if=_unset,
                              description="sample from this many likeliest tokens (0: all; llama.cpp's default 40)")
    min_p: float | None = Field(default=None, ge=0.0, le=1.0, exclude_if=_unset,
                                description="leave out tokens less likely than this share of the likeliest one's probability (llama.cpp's default 0.05)")
    typical_p: float | None = Field(default=None, gt=0.0, le=1.0, exclude_if=_unset,
                                    description="locally typical sampling (1: off, llama.cpp's default)")
    repeat_penalty: float | None = Field(default=None, gt=0.0, le=10.0, exclude_if=_unset,
                                         description="divide the scores of tokens of the last 64 by this (1: off, llama.cpp's default; 1.1 stops most loops)")
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0, exclude_if=_unset,
                                           description="lower the score of every token already written by this (0: off)")
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0, exclude_if=_unset,
                                            description="lower a token's score by this times how often it was written (0: off)")

    @model_validator(mode="before")
    @classmethod
    def _no_other_settings(cls, data: Any) -> Any:
        # refused as unknown fields, they read as misspellings: "did you mean 'stop'?" for mirostat
        other = next((key for key in data if key in _OTHER_SETTINGS), None) if isinstance(data, dict) else None
        if other is not None:
            raise ValueError(f"{other}: {_OTHER_SETTINGS[other]}")
        return data

    def sampler(self) -> tuple[tuple[str, float], ...]:
        """The sampler settings set, as ``(name, value)`` in ``SAMPLER_SETTINGS``' order (``GenerationParams.sampler``)."""
        return tuple((name, getattr(self, name)) for name in SAMPLER_SETTINGS if getattr(self, name) is not None)

    def generation(self, seed: int, retries: int) -> GenerationParams:
        """How a model of these params is called with the experiment's ``seed`` and a hosted call's ``retries``."""
        return GenerationParams(temperature=self.temperature, max_tokens=self.max_tokens, stop=self.stop, seed=seed,
                                timeout_s=self.timeout_s, retries=retries, sampler=self.sampler())

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # an empty string is found at the start of any answer: llama.cpp stopped every answer before its first word
        empty = next((i for i, s in enumerate(value) if s == ""), None)
        if empty is not None:
            raise ValueError(f"stop[{empty}] is empty: the model would stop before its first word, so every answer would be '' "
                             "— remove it")
        return value


class ModelSpec(_NamedSpec):
    """A model by provider string; ``kind`` says whether it is served as a completion or chat model."""

    id: str = Field(description="provider:model, e.g. local:gemma3-270m, llamacpp:models/x.gguf (relative to the experiment file), openai:gpt-4o-mini",
                    json_schema_extra={"pattern": _GENERATOR_PATTERN})
    kind: ModelKind | None = Field(default=None, description="completion or chat (default: what the model is; a GGUF file: completion; a hosted one: chat)")
    params: ModelParams = Field(default=ModelParams(), description="how it answers: temperature, max_tokens, stop, timeout_s, "
                                 "and the sampler settings its backend takes (top_p, top_k, min_p, typical_p, repeat_penalty, "
                                 "presence_penalty, frequency_penalty)")
    cache: bool = Field(default=True, description="reuse cached answers and finished runs; false: always call the model")
    name: Name | None = Field(
        default=None, description="its name in variant names (default: from the model string); needed when two entries "
        "would share one, e.g. one model at two temperatures",
    )
    context_window: ContextWindow = context_window_field("a llama.cpp model's")

    @field_validator("id")
    @classmethod
    def _known(cls, value: str) -> str:
        return _known_model(value, "generator")

    @field_validator("params")
    @classmethod
    def _sampler_served(cls, value: ModelParams, info: ValidationInfo) -> ModelParams:
        # a field's check (its error names models[i].params), after id's: a setting the model's backend would not use
        # is refused as the experiment loads, not found as a failed variant
        model_id = info.data.get("id")
        for name, _ in value.sampler() if model_id is not None else ():
            refusal = sampler_refusal(model_id, name, value.temperature)
            if refusal is not None:
                raise ValueError(f"{name}: {refusal}")
        return value

    @model_validator(mode="after")
    def _kind_fits(self) -> ModelSpec:
        _servable_as(self.id, self.kind)
        return self

    @property
    def resolved_kind(self) -> ModelKind:
        return self.kind or default_kind(self.id)

    def as_answering(self) -> ModelSpec:
        """This entry with the settings that cannot change an answer as their defaults would write them: ``kind`` written
        out as what the model is anyway (``kind: completion`` for Gemma), the hosted call's ``timeout_s``. Two entries
        equal in this form give the same answers (one variant id, one reuse key)."""
        kind = None if self.kind == default_kind(self.id) else self.kind
        params = self.params.model_copy(update={"timeout_s": ModelParams.model_fields["timeout_s"].default})
        return self.model_copy(update={"kind": kind, "params": params, "context_window": self.window})

    @property
    def window(self) -> int | None:
        """Its ``context_window``, None where that is llama.cpp's default one (written out, it answers as unset)."""
        return window_of(self.id, self.context_window)

    @property
    def settings_text(self) -> str:
        """``temperature 0.7, max_tokens 64, top_k 20, context_window 8192``: how it answers as a report names it, the
        sampler settings and context window only where set (pure)."""
        window = (("context_window", self.window),) if self.window is not None else ()
        said = (("temperature", self.params.temperature), ("max_tokens", self.params.max_tokens), *self.params.sampler(), *window)
        return ", ".join(f"{name} {value}" for name, value in said)

    @property
    def short_name(self) -> str:
        if self.name is not None:
            return self.name
        provider, _, name = self.id.partition(":")
        if provider == "llamacpp":
            return Path(name).stem
        # a model folder (made absolute when read) by its own name, a hub model by its whole one (org/model)
        return Path(name).name if provider == "huggingface" and Path(name).is_absolute() else name
