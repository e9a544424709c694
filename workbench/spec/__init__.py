"""The experiment spec: dataset, corpus and the grid axes (prompts x models x chunkers x retrieval).

YAML in, pydantic model, YAML out; ``experiment_json_schema()`` gives editors a schema. A bad field is reported as
one line with the file, line and field: ``experiments/x.yaml:14: models[0].id: unknown model provider 'foo' — ...``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from workbench.datasets import missing_path_fix, on_disk, pattern_inside_folder
from workbench.errors import ModelError, SpecError
from workbench.metrics import scorer_entries
from workbench.models import (
    DEFAULT_CONTEXT_WINDOW, MINILM_ID, PROVIDERS, SAMPLER_SETTINGS, GenerationParams, ModelKind, Price, check_context_window, check_kind,
    check_model_id, default_kind, embedder_input_tokens, names_a_folder, price_for, runs_locally, sampler_refusal,
)
from workbench.prompts import PromptTemplate, check_system, check_template, problem_line

__all__ = [
    "NAME_PATTERN",
    "BeatsHolderGate",
    "ChunkerSpec",
    "CorpusRef",
    "DatasetRef",
    "EscalationSpec",
    "ExecutionSpec",
    "ExperimentSpec",
    "GateSpec",
    "IndexStoreSpec",
    "JudgeSpec",
    "Limits",
    "MaxCostGate",
    "MaxFailedRateGate",
    "MetricGate",
    "MinQuestionsGate",
    "ModelEntry",
    "ModelParams",
    "ModelSpec",
    "Name",
    "PathText",
    "PriceSpec",
    "PromotionSpec",
    "PromptSpec",
    "RacingSpec",
    "RetrievalSpec",
    "RouterEntry",
    "RouterSpec",
    "check_yaml_shape",
    "describe_validation_error",
    "dump_yaml",
    "experiment_json_schema",
    "file_name_problem",
    "load_experiment",
    "not_a_number",
    "out_of_range",
    "yaml_error_text",
]


def _known_model(value: str, role: str) -> str:
    """Validate a model string for a spec field (pydantic turns the ValueError into a located error)."""
    try:
        check_model_id(value, role=role)
    except ModelError as exc:
        raise ValueError(str(exc)) from None
    return value


def _servable_as(model_id: str, kind: ModelKind | None) -> None:
    """Check a spec entry's ``kind`` against its model (pydantic turns the ValueError into a located error)."""
    try:
        check_kind(model_id, kind)
    except ModelError as exc:
        raise ValueError(str(exc)) from None


# what an editor can check of a model string (the loader checks the rest): its provider, the part before ':'
_GENERATOR_PATTERN = f"^({'|'.join(['local', 'llamacpp', *sorted(PROVIDERS)])}):.+$"
_EMBEDDER_PATTERN = f"^({'|'.join(['local', *sorted(PROVIDERS)])}):.+$"


# the names Windows keeps for devices, whatever follows a dot (con.txt) and in any case: no file or folder has them
_WINDOWS_DEVICES = frozenset({"CON", "PRN", "AUX", "NUL", *(f"{port}{i}" for port in ("COM", "LPT") for i in range(10))})


def file_name_problem(name: str) -> str | None:
    """Why a file or folder named ``name`` could not be checked out on Windows (pure): a device's name, or a name
    ending in a dot; None when it can."""
    if name.split(".")[0].upper() in _WINDOWS_DEVICES:
        return (f"'{name}' names a device on Windows (as CON, PRN, AUX, NUL, COM0-9 and LPT0-9 do, with any extension, in any "
                "case): no file or folder can have it there — rename it")
    if name.endswith("."):
        return f"'{name}' ends in a dot, which Windows drops from a file or folder name, so it names another one there — rename it"
    return None


def _a_file_name(value: str) -> str:
    """A name that can name a file or folder on every system a project is checked out on: an experiment's name is its
    artifact folder, a prompt's its bundle's file (``prompts/<name>.txt``), a registered model's its bundle's folder in
    a deployment repository. Refused rather than mapped to another file name: the name is also in run names, variant
    ids and the bundle's config, where a file named otherwise would have to be looked up."""
    if set(value) == {"."}:
        raise ValueError(f"'{value}' is not a usable name (it is a path to another folder) — use letters or digits too")
    problem = file_name_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# An experiment's name is also its artifact folder's name, a prompt's is a bundle's file name and part of every
# variant's run name (PostgreSQL-backed stores keep run names in 250 characters)
def _path_text(value: Any) -> Any:
    value = os.fspath(value) if isinstance(value, os.PathLike) else value
    if isinstance(value, str) and not value.strip():  # "" would resolve to the experiment's own folder
        raise ValueError("the path is empty — give a file or folder (relative paths are from the experiment file)")
    return value


# a file or folder: written as text in YAML, given as a pathlib.Path as often as a string from Python
PathText = Annotated[str, BeforeValidator(_path_text)]

NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
Name = Annotated[
    str,
    Field(min_length=1, max_length=100, pattern=NAME_PATTERN, description="letters, digits, '_', '-' and '.'"),
    AfterValidator(_a_file_name),
]


def _is_number_field(annotation: Any) -> bool:
    """Whether a field holds a number (``int``, ``float``, optionally None), not a yes/no value."""
    kinds = set(get_args(annotation)) if get_origin(annotation) in (Union, UnionType) else {annotation}
    return bool(kinds & {int, float}) and bool not in kinds


class _Spec(BaseModel):
    # no spec number may be NaN or infinite: a NaN threshold compares false both ways and would pass every gate
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_yes_no_numbers(cls, data: Any) -> Any:
        # pydantic reads YAML's `k: yes`, `limit: true` or `temperature: no` as 1 or 0: a typo run as a real setting
        if isinstance(data, dict):
            for key, value in data.items():
                field = cls.model_fields.get(key) if isinstance(key, str) else None
                if isinstance(value, bool) and field is not None and _is_number_field(field.annotation):
                    raise ValueError(f"{key}: {str(value).lower()} is a yes/no value — give a number")
        return data


class _NamedSpec(_Spec):
    """An axis entry with an optional ``name:`` for variant names (models, retrieval settings)."""

    @model_serializer(mode="wrap")
    def _no_default_name(self, handler: SerializerFunctionWrapHandler) -> Any:
        # left out when not given, so an entry's dump (and every variant id built from it) is what it was before names
        data = handler(self)
        if isinstance(data, dict) and data.get("name") is None:
            data.pop("name", None)
        return data


class DatasetRef(_Spec):
    """Where the evaluation cases come from; ``path`` is relative to the experiment file."""

    path: PathText = Field(description="a .jsonl or .csv file of cases (question, reference, source_ids, category), relative to the experiment file")
    limit: int | None = Field(default=None, ge=1, description="use only the first N cases")
    max_question_chars: int = Field(default=4000, ge=1, description="a longer question is refused (one line naming it)")
    max_reference_chars: int = Field(default=20000, ge=1, description="a longer reference answer is refused")


def _pattern_in_corpus(value: str, example: str) -> str:
    """``value`` when it is a pattern inside the corpus folder (see ``pattern_inside_folder``)."""
    if not pattern_inside_folder(value):
        raise ValueError(f"'{value}' is not a pattern inside the corpus folder — give one relative to it, e.g. {example}")
    return value


ExcludePattern = Annotated[str, AfterValidator(lambda value: _pattern_in_corpus(value, "'drafts/**' or 'faq/empty.md'"))]


class CorpusRef(_Spec):
    """The documents to retrieve from: ``builtin: python-reference`` or a ``path`` to a folder of text, PDF, HTML and Word files."""

    builtin: Literal["python-reference"] | None = Field(default=None, description="a corpus that ships with the workbench (give it or path)")
    path: PathText | None = Field(default=None, description="a folder of documents, relative to the experiment file (give it or builtin)")
    glob: str = Field(default="**/*.md", description="which files of the folder are documents, relative to it (no '..'); hidden files and folders only when it names them")
    # left out of the spec's dump when empty: an experiment without it keeps its hash and its logged experiment.yaml
    exclude: tuple[ExcludePattern, ...] = Field(
        default=(), exclude_if=lambda value: not value,
        description="files the glob picks that are no documents, as patterns relative to the folder like glob's (e.g. 'faq/empty.md', "
                    "'**/*.png', 'drafts/**'); never read")

    @field_validator("glob")
    @classmethod
    def _relative_glob(cls, value: str) -> str:
        return _pattern_in_corpus(value, "'**/*.md' or 'docs/*.txt'")

    @model_validator(mode="after")
    def _one_source(self) -> CorpusRef:
        if (self.builtin is None) == (self.path is None):
            raise ValueError("give exactly one of 'builtin' or 'path'")
        if self.builtin is not None and self.glob != type(self).model_fields["glob"].default:  # it was ignored: every topic was read
            raise ValueError(f"glob picks files of a corpus folder; the built-in '{self.builtin}' corpus has none — remove glob")
        if self.builtin is not None and self.exclude:
            raise ValueError(f"exclude leaves files of a corpus folder out; the built-in '{self.builtin}' corpus has none — remove exclude")
        return self


class PromptSpec(_Spec):
    """A prompt template, inline (``template``) or from a file (``file``, relative to the experiment file), and an
    optional ``system`` message, sent as written (placeholders are filled in the template only)."""

    name: Name
    template: str | None = Field(default=None, description="the prompt, with {question} and usually {context} (give it or file)")
    file: PathText | None = Field(default=None, description="a text file holding the template, relative to the experiment file (give it or template)")
    system: str = Field(default="", description="a system message, sent as written (its placeholders are not filled in)")

    @field_validator("template", "system")
    @classmethod
    def _as_a_file_reads(cls, value: str | None) -> str | None:
        # as a prompt file and a YAML string are read: a template given with Windows (\r\n) or old Mac (\r) line ends
        # from Python had another hash than the same template read from a file, and its bundle's prompt file, read
        # back with \n, no longer matched the promoted prompt's sha256, so the bundle could not be loaded; a file's
        # byte-order mark (open(path).read() of a Notepad file) reached the model as an invisible first character
        return _as_a_file_reads(value) if value is not None else None

    @field_validator("template")
    @classmethod
    def _renders(cls, value: str | None) -> str | None:
        # a field's check, so its error names prompts[i].template, not the whole entry
        if value is not None:
            check_template(value)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> PromptSpec:
        if (self.template is None) == (self.file is None):
            raise ValueError("give exactly one of 'template' or 'file'")
        check_system(self.system)  # sent as written: a placeholder in it reached the model as the text '{context}'
        return self

    def as_template(self) -> PromptTemplate:
        """The template its variants render (a ``file``'s text is read into ``template`` as the experiment loads)."""
        return PromptTemplate(self.name, self.template or "", self.system)


def _as_a_file_reads(text: str) -> str:
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


# settings of llama.cpp's and the providers' samplers that a model's params do not take, and what to do instead
_NOT_PASSED = ("workbench passes a model temperature, max_tokens, stop, timeout_s and the sampler settings "
               f"{', '.join(SAMPLER_SETTINGS)} only — remove it")
_CONTEXT_SET = (f"a llama.cpp model's context window ({DEFAULT_CONTEXT_WINDOW} tokens unless set) is the model's "
                "context_window, beside its id and params — write it there (context_window: 8192)")
_OTHER_SETTINGS = {
    **dict.fromkeys(("mirostat", "mirostat_mode", "tfs_z", "logit_bias"), _NOT_PASSED),
    "repetition_penalty": "llama.cpp and Ollama call it repeat_penalty — write repeat_penalty",
    **dict.fromkeys(("n_ctx", "num_ctx", "context_length", "context_window"), _CONTEXT_SET),
    "seed": "the experiment's seed samples every model's answers — write it once at the top of the file (seed: 3), not "
            "under params",
}


def _unset(value: Any) -> bool:
    return value is None


class ModelParams(_Spec):
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
    # left out of the dump unset: a model without it keeps its variant id and reuse keys
    context_window: int | None = Field(
        default=None, ge=256, exclude_if=_unset,
        description=f"a llama.cpp model's context window in tokens, for prompt and answer together (default {DEFAULT_CONTEXT_WINDOW}; "
        "at most what the model was trained for: Gemma 3 270M 32768, SmolLM2 8192); a hosted model's is its server's",
    )

    @field_validator("id")
    @classmethod
    def _known(cls, value: str) -> str:
        return _known_model(value, "generator")

    @field_validator("context_window")
    @classmethod
    def _window_fits(cls, value: int | None, info: ValidationInfo) -> int | None:
        if "id" in info.data:
            try:
                check_context_window(info.data["id"], value)
            except ModelError as exc:
                raise ValueError(str(exc)) from None
        return value

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
        return None if self.context_window == DEFAULT_CONTEXT_WINDOW and runs_locally(self.id) else self.context_window

    @property
    def short_name(self) -> str:
        if self.name is not None:
            return self.name
        provider, _, name = self.id.partition(":")
        if provider == "llamacpp":
            return Path(name).stem
        # a model folder (made absolute when read) by its own name, a hub model by its whole one (org/model)
        return Path(name).name if provider == "huggingface" and Path(name).is_absolute() else name


class EscalationSpec(_Spec):
    """When a router hands a question to its strong model: any signal that is set and fires escalates it."""

    retrieval_score_below: float | None = Field(
        default=None, ge=-1.0, le=1.0,
        description="escalate when the best retrieval score (cosine similarity) is below this; known before answering, "
        "so the cheap model is not called",
    )
    refusal_or_empty: bool = Field(default=False, description="escalate when the cheap answer is empty or a refusal")
    grounding_below: float | None = Field(
        default=None, ge=-1.0, le=1.0,
        description="escalate when the cheap answer's largest embedding similarity to a retrieved chunk is below this "
        "(embedded with the variant's retrieval embedding model)",
    )

    @model_validator(mode="after")
    def _some_signal(self) -> EscalationSpec:
        if self.retrieval_score_below is None and not self.refusal_or_empty and self.grounding_below is None:
            raise ValueError(
                "no escalation signal is set — set retrieval_score_below, refusal_or_empty: true or grounding_below"
            )
        return self


class RouterSpec(_Spec):
    """A cost-aware router: answers with ``cheap`` and escalates a question to ``strong`` when a signal fires."""

    name: Annotated[Name, Field(description="the router's name (its variants' model name)")]
    cheap: ModelSpec = Field(description="the model that answers first")
    strong: ModelSpec = Field(description="the model that answers the escalated questions")
    escalate_when: EscalationSpec = Field(description="the signals that hand a question to strong (at least one)")

    @model_validator(mode="before")
    @classmethod
    def _no_nested_router(cls, data: Any) -> Any:
        # a router as cheap or strong was refused as "cheap.id: required field is missing — add it"
        for role in ("cheap", "strong"):
            if isinstance(data, dict) and isinstance(data.get(role), dict) and "router" in data[role]:
                raise ValueError(f"{role} is a router — routers do not nest: give {role} a model ({{id: ..., params: ...}}), "
                                 "and put a second router beside this one in models: if you want both")
        return data

    @model_validator(mode="after")
    def _two_models(self) -> RouterSpec:
        # what decides an answer: a name, the cache flag, a kind left to its default or a time limit do not, so two
        # entries differing only in those would answer every escalated question with the cheap answer again
        def answering(m: ModelSpec) -> tuple[Any, ...]:
            return (m.id, m.resolved_kind, m.params.temperature, m.params.max_tokens, m.params.stop, m.params.sampler(), m.window)

        if answering(self.cheap) == answering(self.strong):
            raise ValueError(f"cheap and strong are the same model ({self.cheap.id}) — route between two different models")
        return self

    @property
    def id(self) -> str:
        """``router:<name>``: what the leaderboard's model column shows."""
        return f"router:{self.name}"

    @property
    def short_name(self) -> str:
        return self.name

    @property
    def models(self) -> tuple[ModelSpec, ModelSpec]:
        """(cheap, strong)."""
        return (self.cheap, self.strong)

    def as_answering(self) -> RouterSpec:
        """This router with its models' settings that cannot change an answer at their defaults (``ModelSpec.as_answering``)."""
        return self.model_copy(update={"cheap": self.cheap.as_answering(), "strong": self.strong.as_answering()})


class RouterEntry(_Spec):
    """A models-axis entry ``router: {name, cheap, strong, escalate_when}``: a router is a variant like any model."""

    router: RouterSpec = Field(description="a cheap model, a strong one and when to escalate")


def _entry_kind(value: Any) -> str:
    is_router = isinstance(value, RouterEntry) or (isinstance(value, dict) and "router" in value)
    return _ROUTER_TAG if is_router else _MODEL_TAG


# union tags pydantic puts in error locations; they are not YAML keys (dropped from the located error)
_MODEL_TAG, _ROUTER_TAG = "model-entry", "router-entry"

ModelEntry = Annotated[
    Annotated[ModelSpec, Tag(_MODEL_TAG)] | Annotated[RouterEntry, Tag(_ROUTER_TAG)], Discriminator(_entry_kind)
]


class ChunkerSpec(_Spec):
    """How documents are cut. ``size``/``overlap`` are characters (default 800/80), except for ``token``: tokens of the
    embedding model (default 200/20, within the 254 MiniLM reads)."""

    strategy: Literal["recursive", "token", "markdown", "sentence"] = Field(
        description="recursive: at paragraphs, then lines, then words; token: the same, counted in the embedding model's tokens; markdown: a section per # to ### header, longer ones cut as recursive; sentence: whole sentences up to size"
    )
    size: int = Field(default=800, ge=16, le=100_000, description="largest chunk: characters (default 800), tokens for token (default 200)")
    overlap: int = Field(default=80, ge=0, description="shared with the next chunk, smaller than size: characters (default 80), tokens for token (default 20)")

    @model_validator(mode="before")
    @classmethod
    def _token_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # tokens: 800 would leave two thirds of each chunk unread; and with its size given, the overlap was the
        # characters' 80 (80 tokens of a 100-token chunk repeated in the next one)
        defaults = {"size": 200, "overlap": 20} if data.get("strategy") == "token" else {}
        size, overlap = data.get("size"), defaults.get("overlap", cls.model_fields["overlap"].default)
        if "overlap" not in data and isinstance(size, int) and not isinstance(size, bool) and size <= overlap:
            raise ValueError(f"overlap {overlap} (the default) must be smaller than size {size} — give an overlap, e.g. "
                             f"overlap: {size // 10}")
        return {**defaults, **data}

    @model_serializer(mode="wrap")
    def _token_sizes_written(self, handler: SerializerFunctionWrapHandler) -> Any:
        # a token chunker's defaults are not the fields' (800/80): left out as defaults, a saved 800/80 read back as 200/20
        data = handler(self)
        if isinstance(data, dict) and self.strategy == "token":
            return {"strategy": self.strategy, "size": self.size, "overlap": self.overlap, **data}
        return data

    @model_validator(mode="after")
    def _overlap_fits(self) -> ChunkerSpec:
        if self.overlap >= self.size:
            raise ValueError(f"overlap {self.overlap} must be smaller than size {self.size} — lower the overlap")
        return self

    @property
    def label(self) -> str:
        return f"{self.strategy}-{self.size}/{self.overlap}"


def _fetch_k_error(entry: RetrievalSpec) -> str:
    given = "" if "fetch_k" in entry.model_fields_set else " (the default)"
    return (f"fetch_k {entry.fetch_k}{given} must be more than k {entry.k} for mmr: MMR picks k of the fetch_k closest chunks, so "
            f"with no more of them than k it keeps them all, the chunks a similarity search finds — give fetch_k: {entry.advised_fetch_k}")


def _mmr_chooses(entry: RetrievalSpec) -> RetrievalSpec:
    """Refuse an experiment's MMR entry with no more candidates than it keeps (pure). fetch_k == k (k: 20 with the
    default fetch_k) was accepted: MMR kept every candidate, the chunks a similarity search finds, only reordered, and
    the variant named mmr was no more diverse than similarity. Checked in an experiment, not in ``RetrievalSpec``: a
    variant stored or a bundle exported by an older workbench still reads as it ran."""
    if entry.search == "mmr" and entry.fetch_k <= entry.k:
        raise ValueError(_fetch_k_error(entry))
    return entry


class RetrievalSpec(_NamedSpec):
    """How chunks are found: embedding model, top ``k``, plain similarity or maximal marginal relevance."""

    embedding: str = Field(default=MINILM_ID, description="the embedding model (provider:model) the index is built with, e.g. "
                           "huggingface:models/my-embedder (a sentence-transformers folder, relative to the experiment file)",
                           json_schema_extra={"pattern": _EMBEDDER_PATTERN})
    k: int = Field(default=4, ge=1, le=100, description="chunks retrieved for each question")
    search: Literal["similarity", "mmr"] = Field(default="similarity", description="similarity: the k closest chunks; mmr: close but unlike each other")
    fetch_k: int = Field(default=20, ge=1, le=1000, description="candidates considered by MMR")
    mmr_lambda: float = Field(default=0.5, ge=0.0, le=1.0, description="MMR's balance: 1 the closest chunks, 0 the most diverse")
    name: Name | None = Field(
        default=None, description="its name in variant names (default: k and search, e.g. k4-similarity); needed when two "
        "entries would share one, e.g. two embedding models at one k",
    )

    @field_validator("embedding")
    @classmethod
    def _known(cls, value: str) -> str:
        return _known_model(value, "embedder")

    @property
    def advised_fetch_k(self) -> int:
        """The ``fetch_k`` an MMR entry is advised when its own is not more than its ``k``: four times ``k``."""
        return 4 * self.k

    @model_validator(mode="after")
    def _fetch_k(self) -> RetrievalSpec:
        if self.search == "mmr" and self.fetch_k < self.k:
            raise ValueError(_fetch_k_error(self))
        return self

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"k{self.k}-{self.search}"

    def as_retrieving(self) -> RetrievalSpec:
        """This entry with the MMR settings at their defaults when it searches by similarity, which reads neither
        ``fetch_k`` nor ``mmr_lambda``: two entries equal in this form retrieve the same chunks."""
        if self.search == "mmr":
            return self
        return self.model_copy(update={f: type(self).model_fields[f].default for f in ("fetch_k", "mmr_lambda")})


class IndexStoreSpec(_Spec):
    """Where the sweep's vector indexes live: a Chroma server (``chroma run``) that every worker and machine shares.

    Without this section (or ``WORKBENCH_CHROMA_URL``) indexes are kept in a local Chroma under ``.workbench/indexes``.
    """

    url: str = Field(description="the Chroma server, e.g. http://127.0.0.1:8000 (https://proxy.example/chroma behind a proxy)")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        try:
            # a path is the server's place behind a proxy (``https://proxy/chroma``), which the store asks
            valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port is None or parts.port > 0)
        except ValueError:  # a port that is not a number
            valid = False
        if not valid:
            raise ValueError(f"'{value}' is not a Chroma server URL — use http://host:port, e.g. http://127.0.0.1:8000 (or "
                             "https://proxy/path for one behind a proxy)")
        return value


class Limits(_Spec):
    """Per-variant sandbox limits, enforced from outside the variant's worker process (``isolation: process``)."""

    wall_time_s: float = Field(default=1800.0, gt=0, description="wall-time limit of one variant (its process is killed past it)")
    max_tokens: int | None = Field(default=None, ge=1, description="token budget (input + output) of one variant's answering model calls, the judge's not counted")
    max_cost_usd: float | None = Field(
        default=None, gt=0, description="dollar budget of one variant's answering model calls, priced as cost_usd (answers read from the cache count too), the judge's not counted"
    )
    # at most 2**40 MB (an exbibyte): a larger cap overflowed setrlimit in the worker, a FAILED run instead of a spec line
    memory_mb: int | None = Field(default=None, ge=64, le=2**40, description="memory one variant may allocate in its worker process, beyond what the worker held at its start (data segment)")


def _fraction_not_percent(value: Any) -> Any:
    """An interval's coverage written as a percentage (``confidence: 95``) is refused saying so; "less than 1" did not."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 50 < value < 100:
        raise ValueError(f"{value:g} reads as a percentage — write it as a fraction, e.g. {value / 100:g}")
    return value


class RacingSpec(_Spec):
    """Racing: stop paying for variants that are already clearly worse than the leader.

    Every live variant answers the next ``batch`` questions (the same ones, in the same order, so differences are
    paired); once a variant has ``min_questions`` scored answers, it stops when the paired bootstrap interval (at
    ``confidence``) of its ``metric`` minus the current leader's lies entirely on the worse side of zero, or, with a
    ``tolerance``, when it rules out that the variant beats the leader by ``tolerance`` or more.
    """

    metric: str = Field(default="token_f1", description="the per-question score variants race on (a scorer the sweep computes)")
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0, description="coverage of the paired interval that stops a variant")
    min_questions: int = Field(default=8, ge=2, le=10_000, description="scored answers a variant gives before it can be stopped")
    batch: int = Field(default=4, ge=1, le=10_000, description="questions every live variant answers at a time (a decision after each batch; on a large set, once a 16th more questions were answered)")
    tolerance: float = Field(
        default=0.0, ge=0.0, description="smallest difference in metric that matters to you: a variant that cannot beat the leader by this much stops too (0: stop only the ones that are worse)"
    )

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        known = scorer_entries()
        if value not in known:
            raise ValueError(f"unknown metric '{value}' — racing compares a per-question score: {', '.join(sorted(known))}")
        return value

    @field_validator("confidence", mode="before")
    @classmethod
    def _confidence_is_a_fraction(cls, value: Any) -> Any:
        return _fraction_not_percent(value)


# calls in flight per provider: a worker process keeps one lock file open per slot, within the usual 1,024 open files
_MAX_CONCURRENCY = 512


class ExecutionSpec(_Spec):
    """How the variants run: where (worker processes, or the caller's process), how many at once, on which engine."""

    isolation: Literal["process", "none"] = Field(
        default="process", description="process: each variant in its own worker process; none: in the caller's process (debugging)"
    )
    workers: int = Field(default=1, ge=1, le=256, description="variants run at once (hosted ones: enough to fill the calls in flight); also hosted calls in flight per provider")
    backend: Literal["local", "ray"] = Field(default="local", description="local processes, or tasks on a Ray cluster")
    address: str | None = Field(default=None, description="Ray address: auto, ray://host:10001 (default: a local Ray instance)")
    concurrency: dict[str, int] = Field(
        default={}, description="hosted calls in flight per provider across the sweep, e.g. {openai: 16} (default: workers)",
        json_schema_extra={"propertyNames": {"enum": sorted(PROVIDERS)},
                           "additionalProperties": {"type": "integer", "minimum": 1, "maximum": _MAX_CONCURRENCY}},
    )
    retries: int = Field(default=4, ge=0, le=20, description="retries of a hosted call on 429, 5xx and timeouts (exponential backoff)")
    racing: RacingSpec | None = Field(
        default=None, description="answer in batches and stop variants clearly worse than the leader (paired bootstrap)"
    )

    @field_validator("address")
    @classmethod
    def _ray_address(cls, value: str | None) -> str | None:
        if value is not None:
            _ray_endpoint(value)
        return value

    @field_validator("concurrency", mode="before")
    @classmethod
    def _no_yes_no_limits(cls, value: Any) -> Any:
        # `openai: yes` was read as 1 call in flight (the number fields of a section refuse yes/no; this is a mapping)
        for provider, n in value.items() if isinstance(value, dict) else ():
            if isinstance(n, bool):
                raise ValueError(f"{provider}: {str(n).lower()} is a yes/no value — give a number of calls in flight")
        return value

    @field_validator("concurrency")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        for provider, n in value.items():
            if provider not in PROVIDERS:  # its limit would apply to nothing: the provider meant would run unlimited
                meant = difflib.get_close_matches(provider.lower(), sorted(PROVIDERS), n=1, cutoff=0.6)
                hint = f"did you mean '{meant[0]}'? — " if meant else ""
                raise ValueError(f"'{provider}' is not a hosted model provider; {hint}limits are per provider, the part before "
                                 f"':' in a model string: {', '.join(sorted(PROVIDERS))}")
            if n < 1:
                raise ValueError(f"concurrency for '{provider}' must be at least 1")
            if n > _MAX_CONCURRENCY:  # a lock file per slot, held open by each worker: 10**20 would never finish naming them
                raise ValueError(f"concurrency for '{provider}' is {n}, over {_MAX_CONCURRENCY} — each call in flight holds "
                                 f"one of that many lock files, kept open by every worker process: give at most {_MAX_CONCURRENCY}")
        return value

    @model_validator(mode="after")
    def _address_needs_ray(self) -> ExecutionSpec:
        if self.address is not None and self.backend != "ray":
            raise ValueError("address is a Ray address — set backend: ray, or remove address")
        if self.backend == "ray" and self.isolation == "none":
            raise ValueError("backend ray runs variants in Ray's worker processes — use isolation: process")
        return self

    def provider_limit(self, provider: str) -> int:
        """Hosted calls of one provider in flight at once, across the sweep."""
        return self.concurrency.get(provider, self.workers)

    def ray_endpoint(self) -> tuple[str, int] | None:
        """The host and port ``address`` connects to; None for a local instance or ``auto`` (found by Ray itself)."""
        return None if self.address is None else _ray_endpoint(self.address)


def _ray_endpoint(address: str) -> tuple[str, int] | None:
    """``ray://host:port`` or ``host:port`` -> (host, port); ``auto``, ``local`` -> None. ValueError on anything else."""
    if address in ("auto", "local"):
        return None
    where = address.removeprefix("ray://")
    host, _, port = where.rpartition(":")
    if "/" in where or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"'{address}' is not a Ray address — use auto (on a cluster node), host:6379 (the head's GCS port) "
                         "or ray://host:10001 (Ray Client)")
    return host.strip("[]"), int(port)


class PriceSpec(_Spec):
    input: float = Field(ge=0, description="USD per 1M input tokens")
    output: float = Field(ge=0, description="USD per 1M output tokens")
    cached_input: float | None = Field(
        default=None, ge=0, description="USD per 1M input tokens read from the provider's prompt cache (default: the input price)"
    )

    @property
    def price(self) -> Price:
        """This entry as ``cost_of`` takes it."""
        return Price(self.input, self.output, self.cached_input)

    @classmethod
    def of(cls, price: Price) -> PriceSpec:
        """The entry of ``price``, as a spec's ``pricing`` or a bundle's ``prices`` writes it."""
        return cls(input=price.input_per_m, output=price.output_per_m, cached_input=price.cached_input_per_m)


class JudgeSpec(_Spec):
    """The judge model of the LLM-judged scorers (ragas faithfulness, answer relevancy, context precision/recall).

    ``judge: local:gemma3-270m`` is short for ``judge: {id: local:gemma3-270m}``. llama.cpp judges decode under the
    output schema; every score is checked to lie in [0, 1]. Judge tokens and cost are reported apart (judge_*).
    """

    id: str = Field(description="provider:model of the judge, e.g. local:gemma3-270m or openai:gpt-4o-mini",
                    json_schema_extra={"pattern": _GENERATOR_PATTERN})
    kind: ModelKind | None = Field(default=None, description="completion or chat (default: what the model is)")
    n: int = Field(default=1, ge=1, le=20, description="judge repeats per item; their spread is reported as <scorer>_std")
    max_tokens: int = Field(default=256, ge=16, le=8192, description="bound on each judge answer")
    timeout_s: float = Field(default=60.0, gt=0, description="time limit of one judge call")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0: deterministic (repeats then agree)")
    cache: bool = Field(default=True, description="reuse cached judge replies and finished runs; false: always call the judge")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"id": data} if isinstance(data, str) else data

    @field_validator("id")
    @classmethod
    def _known(cls, value: str) -> str:
        return _known_model(value, "generator")

    @model_validator(mode="after")
    def _kind_fits(self) -> JudgeSpec:
        _servable_as(self.id, self.kind)
        return self


# -- promotion gates (evaluated by workbench.promotion; defined here because they are part of the experiment file) --


def _kind_required(schema: dict[str, Any]) -> None:
    """A gate's ``kind`` is required in YAML (the loader picks the gate by it), though Python callers may leave it out:
    the schema let editors pass ``{metric: token_f1, min: 0.3}``, which the loader then refused."""
    schema["required"] = ["kind", *(f for f in schema.get("required", []) if f != "kind")]


class _Gate(_Spec):
    model_config = ConfigDict(json_schema_extra=_kind_required)

    @model_serializer(mode="wrap")
    def _keep_kind(self, handler: SerializerFunctionWrapHandler) -> Any:
        # ``kind`` has a default (for Python callers) but is the YAML discriminator: never drop it from the output
        data = handler(self)
        return {"kind": getattr(self, "kind"), **data} if isinstance(data, dict) else data


class MetricGate(_Gate):
    """Passes when an aggregate metric of the run lies within ``min``/``max`` (either bound may be left out)."""

    kind: Literal["metric"] = Field(default="metric", description="a bound on one of the run's metrics")
    metric: str = Field(min_length=1, description="an aggregate metric of the run, e.g. token_f1, hit_at_k, latency_p95_s")
    min: float | None = Field(default=None, description="the lowest value that passes")
    max: float | None = Field(default=None, description="the highest value that passes")

    @model_validator(mode="after")
    def _bounds(self) -> MetricGate:
        if self.min is None and self.max is None:
            raise ValueError(f"gate on '{self.metric}' needs 'min' or 'max'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"gate on '{self.metric}': min {self.min} is above max {self.max}")
        return self


class MinQuestionsGate(_Gate):
    """Passes when the run evaluated at least ``n`` questions."""

    kind: Literal["min_questions"] = Field(default="min_questions", description="enough questions evaluated")
    n: int = Field(ge=1, description="the fewest questions that pass")


class MaxCostGate(_Gate):
    """Passes when the mean cost per answer (USD) is at most ``usd``; an unknown cost fails."""

    kind: Literal["max_cost_per_answer"] = Field(default="max_cost_per_answer", description="a bound on the mean cost of an answer")
    usd: float = Field(ge=0, description="the highest mean cost per answer that passes, in USD")


class MaxFailedRateGate(_Gate):
    """Passes when the share of questions whose ``scorer`` (a judge) failed is at most ``rate``."""

    kind: Literal["max_failed_rate"] = Field(default="max_failed_rate", description="a bound on a judge's failures")
    scorer: str = Field(min_length=1, description="scorer name, e.g. faithfulness (its failures are <scorer>_errors)")
    rate: float = Field(ge=0.0, le=1.0, description="the highest share of questions whose scorer failed that passes (0 to 1)")


class BeatsHolderGate(_Gate):
    """Passes when the paired bootstrap interval of (candidate - current alias holder) on ``metric`` lies above zero,
    or above ``-margin`` when a non-inferiority margin is given. Passes when the alias has no holder yet."""

    kind: Literal["beats_holder"] = Field(default="beats_holder", description="better than the version the alias points at now")
    metric: str = Field(min_length=1, description="the per-question score compared, e.g. token_f1")
    margin: float = Field(default=0.0, ge=0.0, description="non-inferiority margin (0: must be better)")
    higher_is_better: bool | None = Field(default=None, description="default: from the metric's name (latency, cost: lower)")
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0, description="coverage of the paired interval")

    @field_validator("confidence", mode="before")
    @classmethod
    def _confidence_is_a_fraction(cls, value: Any) -> Any:
        return _fraction_not_percent(value)


GateSpec = Annotated[
    MetricGate | MinQuestionsGate | MaxCostGate | MaxFailedRateGate | BeatsHolderGate, Field(discriminator="kind")
]

# each gate class by its ``kind``, the tag pydantic picks it by (and puts in its error locations: gates[0].metric.min)
_GATE_KINDS: dict[str, type[_Gate]] = {
    cls.model_fields["kind"].default: cls for cls in (MetricGate, MinQuestionsGate, MaxCostGate, MaxFailedRateGate, BeatsHolderGate)
}


class PromotionSpec(_Spec):
    """The ``promotion:`` section: the gates a variant of this experiment must pass to be promoted."""

    gates: tuple[GateSpec, ...] = Field(default=(), description="each {kind: ..., ...}: metric, min_questions, max_cost_per_answer, max_failed_rate, beats_holder")
    require_staging: bool = Field(default=True, description="production needs the same config promoted to staging first")


def _judge_shorthand_schema(schema: dict[str, Any]) -> None:
    """Let the JSON schema take ``judge: local:gemma3-270m`` (short for ``{id: ...}``): editors flagged the README's own
    example as invalid."""
    schema["anyOf"].insert(0, {"type": "string", "pattern": _GENERATOR_PATTERN, "description": "a model string, short for {id: <it>}"})


def _same_twice(entries: Sequence[Any]) -> tuple[int, int] | None:
    """The positions of the first two ``entries`` of an axis (each as what decides its results) that differ only in their
    ``name`` (pure): entries written alike are one variant; ones named apart would be two variants of the same results."""
    first: dict[Any, int] = {}
    for j, entry in enumerate(entries):
        i = first.setdefault(entry.model_copy(update={"name": None}), j)
        if entries[i] != entry:
            return i, j
    return None


def _model_ids(models: Sequence[ModelEntry], judge: JudgeSpec | None) -> set[str]:
    """Every model string an experiment calls: its models, both models of each router, and its judge."""
    ids = {m.id for entry in models for m in (entry.router.models if isinstance(entry, RouterEntry) else (entry,))}
    return ids | ({judge.id} if judge is not None else set())


# top-level keys an experiment file may hold for itself, as Docker Compose and OpenAPI files do: a place to define
# YAML anchors that entries merge (``x-defaults: &gemma {...}``, then ``- <<: *gemma``); they are not read
_EXTENSION_PREFIX = "x-"


def _extension_keys_allowed(schema: dict[str, Any]) -> None:
    """Let editors pass the ``x-`` keys the loader leaves out."""
    schema["patternProperties"] = {f"^{_EXTENSION_PREFIX}": {"description": "not read: a place for YAML anchors (x-defaults: &name ...)"}}


class ExperimentSpec(_Spec):
    """A whole experiment: what to evaluate on and the grid of variants to compare."""

    model_config = ConfigDict(json_schema_extra=_extension_keys_allowed)

    name: Name
    description: str = Field(default="", description="what the experiment compares (the MLflow experiment's description when it is created)")
    dataset: DatasetRef | None = Field(default=None, description="the evaluation cases; none: pass them to wb.run(dataset=...)")
    corpus: CorpusRef | None = Field(default=None, description="the documents; none: pass them to wb.run(corpus=...)")
    prompts: tuple[PromptSpec, ...] = Field(default=(), description="prompt templates (needed when models are set)")
    models: tuple[ModelEntry, ...] = Field(
        default=(), description="answering models and routers (router: {...}); none: a retrieval-only sweep"
    )
    chunkers: tuple[ChunkerSpec, ...] = Field(min_length=1, description="how documents are cut (at least one)")
    retrieval: tuple[Annotated[RetrievalSpec, AfterValidator(_mmr_chooses)], ...] = Field(
        default=(RetrievalSpec(),), min_length=1, validate_default=True,  # the default embedder reads token chunks too
        description="retrieval settings (default: one, with the defaults)",
    )
    judge: JudgeSpec | None = Field(
        default=None, description="judge model; when set, the LLM-judged scorers are on by default",
        json_schema_extra=_judge_shorthand_schema,
    )
    scorers: tuple[str, ...] | None = Field(default=None, description="scorer names; default: all deterministic ones")
    limits: Limits = Field(default=Limits(), description="per-variant limits: wall time, token budget, memory")
    execution: ExecutionSpec = Field(default=ExecutionSpec(), description="worker processes, workers, Ray; how, not what, is run")
    index_store: IndexStoreSpec | None = Field(default=None, description="a Chroma server for the indexes (default: local Chroma)")
    pricing: dict[str, PriceSpec] = Field(default={}, description="USD per 1M tokens by model string; overrides the built-in table (local models cost 0)")
    # llama.cpp takes the seed as a 32-bit number and samples at random with 0xFFFFFFFF (what -1 becomes), and the
    # judge's repeat i uses seed + i: a seed outside 0..2**31-1 gave other answers on every call, under a cache key
    # that reuses them as the seed's
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="samples llama.cpp's answers and goes to the providers that take one")
    promotion: PromotionSpec | None = Field(default=None, description="gates for workbench promote")

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    # the ``llamacpp:`` models and ``huggingface:`` folders (made absolute when read) that were written relative to the
    # experiment's folder
    _relative_models: frozenset[str] = PrivateAttr(default_factory=frozenset)
    _file: str | None = PrivateAttr(default=None)
    # the prompt files read as the experiment was loaded: a template's text -> the file (absolute) that held it
    _prompt_files: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _extension_keys_left_out(cls, data: Any) -> Any:
        # an anchor's home (x-defaults: &gemma {...}) was refused as an "unknown field — check its spelling"
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith(_EXTENSION_PREFIX))}

    @model_validator(mode="before")
    @classmethod
    def _prompt_files_read(cls, data: Any) -> Any:
        # built in Python (ExperimentSpec(...), model_validate) a prompt's file was never read: the sweep built its
        # indexes and then ended in "internal error: missing variable {question}"; read from the working directory,
        # which is where relative paths of such a spec are resolved from
        if not isinstance(data, dict):
            return data
        cwd = Path.cwd()
        return _read_prompt_files(data, cwd, "<spec>", relative_to=f"the working directory {cwd}: build the spec with "
                                  "ExperimentSpec.from_dict(data, base_dir=<the folder they are relative to>)")

    @field_validator("prompts")
    @classmethod
    def _unique_prompt_names(cls, value: tuple[PromptSpec, ...]) -> tuple[PromptSpec, ...]:
        names = [p.name for p in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"prompt name '{dupes[0]}' is used twice — names must be unique")
        first_of: dict[str, str] = {}
        for name in names:
            first = first_of.setdefault(name.casefold(), name)
            if first != name:  # one of them would be the other's on a case-insensitive file system
                raise ValueError(f"prompt names '{first}' and '{name}' differ only in case: their files (prompts/<name>.txt in a "
                                 "bundle) are one file on macOS and Windows — rename one")
        twice = _same_twice([p.model_copy(update={"file": None}) for p in value])
        if twice is not None:
            i, j = twice
            raise ValueError(f"prompts[{i}] and prompts[{j}] ('{value[i].name}' and '{value[j].name}') are the same template and system "
                             "message under two names: their variants would get the same answers — remove one, or change its text")
        return value

    @field_validator("models")
    @classmethod
    def _models_need_prompts(cls, value: tuple[ModelSpec | RouterEntry, ...], info: ValidationInfo) -> tuple[ModelSpec | RouterEntry, ...]:
        if value and not info.data.get("prompts"):
            raise ValueError("models need at least one prompt — add a 'prompts:' list, or drop 'models:' for a retrieval-only sweep")
        names = [m.router.name for m in value if isinstance(m, RouterEntry)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"router name '{dupes[0]}' is used twice — router names must be unique")
        named: dict[str, tuple[int, Any]] = {}
        for i, entry in enumerate(value):
            short = entry.router.short_name if isinstance(entry, RouterEntry) else entry.short_name
            answering = entry.router.as_answering() if isinstance(entry, RouterEntry) else entry.as_answering()
            if short in named and named[short][1] != answering:  # entries that answer alike are one variant; others need two names
                raise ValueError(f"models[{named[short][0]}] and models[{i}] would both be named '{short}' in variant names — "
                                 f"give one of them a name: (e.g. name: {short}-2)")
            named.setdefault(short, (i, answering))
        twice = _same_twice([(e.router if isinstance(e, RouterEntry) else e).as_answering() for e in value])
        if twice is not None:  # named apart, one model with one set of settings: two variants of the same answers
            i, j = twice
            what = "router" if isinstance(value[i], RouterEntry) else "model"
            raise ValueError(f"models[{i}] and models[{j}] are the same {what} with the same settings under two names: their variants "
                             "would give the same answers — remove one, or change what it should differ in "
                             f"({'its models, escalate_when' if what == 'router' else 'params, kind'})")
        return value

    @field_validator("retrieval")
    @classmethod
    def _unique_retrieval_names(cls, value: tuple[RetrievalSpec, ...]) -> tuple[RetrievalSpec, ...]:
        # two embedding models (or two mmr_lambda) at one k were two variants of one name: the leaderboard, the
        # RunPanel and the chunk explorer showed them alike, and the sweep's retrieval curves drew only the first
        named: dict[str, tuple[int, RetrievalSpec]] = {}
        for i, entry in enumerate(value):
            if entry.label in named and named[entry.label][1] != entry.as_retrieving():  # entries that retrieve alike are one variant
                raise ValueError(f"retrieval[{named[entry.label][0]}] and retrieval[{i}] would both be named '{entry.label}' in "
                                 f"variant names — give one of them a name: (e.g. name: {entry.label}-2)")
            named.setdefault(entry.label, (i, entry.as_retrieving()))
        twice = _same_twice([entry.as_retrieving() for entry in value])
        if twice is not None:
            i, j = twice
            raise ValueError(f"retrieval[{i}] and retrieval[{j}] are the same retrieval setting under two names: their variants "
                             "would retrieve the same chunks — remove one, or change what it should differ in (k, search, embedding)")
        return value

    @field_validator("retrieval")
    @classmethod
    def _token_chunks_fit_the_embedder(cls, value: tuple[RetrievalSpec, ...], info: ValidationInfo) -> tuple[RetrievalSpec, ...]:
        # every chunker is paired with every embedding model: a token chunk longer than a model reads would be
        # embedded (and found) by its first tokens only, the rest of its text never retrieved
        for i, chunker in enumerate(info.data.get("chunkers", ())):
            for j, retrieval in enumerate(value):
                limit = embedder_input_tokens(retrieval.embedding)
                if chunker.strategy == "token" and limit is not None and chunker.size > limit:
                    raise ValueError(
                        f"chunkers[{i}] cuts chunks of up to {chunker.size} tokens, but retrieval[{j}]'s embedding model "
                        f"{retrieval.embedding} reads only the first {limit} tokens of a chunk (the rest would never be "
                        f"retrieved) — set that chunker's size to {limit} or less"
                    )
        return value

    @field_validator("pricing")
    @classmethod
    def _priced_models_are_model_strings(cls, value: dict[str, PriceSpec], info: ValidationInfo) -> dict[str, PriceSpec]:
        for model_id in value:
            try:
                check_model_id(model_id, role="generator")
            except ModelError as exc:  # a typo here would leave the model's cost unknown, silently
                raise ValueError(f"'{model_id}' is not a model string: {exc}") from None
        used = _model_ids(info.data.get("models", ()), info.data.get("judge"))
        for model_id in value.keys() - used:
            # a key for a model not in the grid is kept (a shared price table, a model switched off in the GridBuilder);
            # one that misspells a model of the grid priced nowhere else would leave that model at the built-in price;
            # so would one that differs from it only in case (openai:GPT-4o-mini), which difflib's ratio misses
            unpriced = sorted(used - value.keys())
            meant = [m for m in unpriced if m.casefold() == model_id.casefold()] or difflib.get_close_matches(model_id, unpriced, n=1, cutoff=0.9)
            if meant:
                raise ValueError(f"'{model_id}' prices no model of this experiment; did you mean '{meant[0]}'? — "
                                 "write the model string exactly as in 'models:' or 'judge:'")
        return value

    @model_validator(mode="after")
    def _cost_budget_has_prices(self) -> ExperimentSpec:
        # a dollar budget over a model of unknown price could never be reached: the sweep would spend without a cap
        if self.limits.max_cost_usd is None:
            return self
        unpriced = sorted(i for i in _model_ids(self.models, None) if self.price(i) is None)
        if unpriced:
            raise ValueError(f"limits.max_cost_usd needs the price of every answering model, and '{unpriced[0]}' has none — "
                             f"give it under 'pricing:', e.g. pricing: {{{unpriced[0]}: {{input: 0.5, output: 1.5}}}} (USD per 1M tokens)")
        return self

    @field_validator("scorers")
    @classmethod
    def _scorers_known_and_judged(cls, value: tuple[str, ...] | None, info: ValidationInfo) -> tuple[str, ...] | None:
        known = scorer_entries()
        unknown = [s for s in value or () if s not in known]
        if unknown:
            raise ValueError(f"unknown scorer '{unknown[0]}' — {_meant_scorer(unknown[0], sorted(known))}")
        needy = [s for s in value or () if known[s].judged]
        if needy and info.data.get("judge") is None:
            raise ValueError(f"scorer '{needy[0]}' needs a judge model — add e.g. 'judge: local:gemma3-270m'")
        return value

    @field_validator("execution")
    @classmethod
    def _racing_metric_is_computed(cls, value: ExecutionSpec, info: ValidationInfo) -> ExecutionSpec:
        racing = value.racing
        if racing is None:
            return value
        entry = scorer_entries()[racing.metric]
        chosen = info.data.get("scorers")
        if chosen is not None and racing.metric not in chosen:
            raise ValueError(f"racing.metric '{racing.metric}' is not among the experiment's scorers — add it to 'scorers:'")
        if chosen is None and not (entry.default or (entry.judged and info.data.get("judge") is not None)):
            raise ValueError(f"racing.metric '{racing.metric}' is not computed by default — add it to 'scorers:'")
        if not info.data.get("models") and not entry.retrieval:
            raise ValueError(
                f"racing.metric '{racing.metric}' needs answers, and this sweep only retrieves (it retrieves every question before "
                "scoring any, so racing would save nothing) — leave execution.racing out"
            )
        return value

    @property
    def base_dir(self) -> Path:
        """The folder relative paths are resolved from (the experiment file's folder)."""
        return self._base_dir

    def with_base_dir(self, base_dir: Path) -> ExperimentSpec:
        spec = self.model_copy()
        spec._base_dir = Path(base_dir).resolve()
        return spec

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self._base_dir / p

    def price(self, model_id: str) -> Price | None:
        """The price of a model: the spec's ``pricing`` entry, else the built-in table (None when unknown)."""
        return price_for(model_id, {k: v.price for k, v in self.pricing.items()})

    @property
    def hash(self) -> str:
        """What the experiment computes (how it is executed is not part of it), the same in every clone of the project."""
        payload = json.dumps(self.as_written(self.model_dump(mode="json", exclude={"execution"})), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def to_yaml(self) -> str:
        """The experiment as its file holds it (each sweep logs it as ``experiment.yaml``): a ``llamacpp:`` model (or
        ``huggingface:`` folder) the file writes relative to its folder is written so, not as the absolute path of this
        clone (``/home/alice/...``)."""
        return dump_yaml(self.to_dict(exclude_defaults=True))

    def to_dict(self, folder: str | Path | None = None, *, exclude_defaults: bool = False) -> dict[str, Any]:
        """The experiment's fields as its file in ``folder`` (default: ``base_dir``) holds them.

        The dataset and corpus paths, and the ``llamacpp:`` models and ``huggingface:`` folders written relative to the
        experiment's folder, are written relative to ``folder``, so ``from_dict(spec.to_dict(folder), base_dir=folder)``
        names the same files, in any clone of the project.
        """
        where = Path(folder).resolve() if folder is not None else self._base_dir
        return _map_model_strings(self._rebased(where).model_dump(mode="json", exclude_defaults=exclude_defaults),
                                  lambda model: self._written(model, where))

    def as_written(self, data: Any) -> Any:
        """``data`` (a model string, or a dump holding some) with each ``llamacpp:`` model the experiment file writes
        relative to its folder written so again (``llamacpp:models/m.gguf``), the same in every clone of the project.

        A variant's id and reuse key hold this form, not where this clone is: two colleagues running one experiment
        from their own clones against a shared tracking server reuse each other's runs of the same file (whose
        content is in the model's identity, its sha256).
        """
        return _map_model_strings(data, lambda model: self._written(model, self._base_dir))

    def _written(self, model: str, folder: Path) -> str:
        provider, _, path = model.partition(":")
        if model in self._relative_models:
            return f"{provider}:{Path(os.path.relpath(path, folder)).as_posix()}"
        if folder != self._base_dir and _relative_model_path(model, self._base_dir):
            # built in Python (ExperimentSpec(...), from_dict without base_dir): relative to base_dir, the working
            # directory, like the spec's dataset path, which is rebased too; saved as written, it named another file
            return f"{provider}:{Path(os.path.relpath(self._base_dir / path, folder)).as_posix()}"
        return model

    def save(self, path: str | Path) -> Path:
        """Write the spec as YAML (atomically) and return the path.

        Relative dataset, corpus, ``llamacpp:`` model and ``huggingface:`` folder paths are written relative to the new
        file's folder, which is what they are read from when it is loaded, so a copy saved into another folder (or a
        colleague's clone) names the same files. In a project with the experiment schema (``experiments/experiment.schema.json``) the file
        starts with the ``# yaml-language-server: $schema=...`` line that has editors validate it.
        """
        target = Path(path)
        if not str(path).strip() or target.is_dir():
            where = f"{target}: is a folder, not a file" if str(path).strip() else "no file name given"
            raise SpecError(f"{where} — give the path of the experiment file to write, e.g. {target / f'{self.name}.yaml'}")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        try:
            data = self._prompt_files_named(self.to_dict(target.parent, exclude_defaults=True), target.parent.resolve())
            schema = _schema_near(target.parent.resolve())
            # saved from a notebook (the GridBuilder), the file lost the line the shipped experiments start with, and
            # with it the editor's checks
            modeline = f"# yaml-language-server: $schema={schema}\n" if schema else ""
            tmp.write_text(modeline + dump_yaml(data), encoding="utf-8")
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)  # no half-written file left beside the experiment
            raise
        return target

    def _prompt_files_named(self, data: dict[str, Any], folder: Path) -> dict[str, Any]:
        """``data`` with each prompt read from a file that still holds its text written as ``file:`` (relative to
        ``folder``) again, as it was in the experiment file. A prompt edited since (in a notebook) is written inline,
        its file left as it is: the file may be another experiment's prompt too, and a save changed it unseen."""
        def named(prompt: dict[str, Any]) -> dict[str, Any]:
            path = self._prompt_files.get(prompt.get("template", ""))
            if path is None or _text_of(Path(path)) != prompt["template"]:
                return prompt
            try:
                written = Path(os.path.relpath(path, folder)).as_posix()
            except ValueError:  # on another Windows drive
                written = Path(path).as_posix()
            return {("file" if k == "template" else k): (written if k == "template" else v) for k, v in prompt.items()}

        if not self._prompt_files:
            return data
        return {**data, "prompts": [named(p) for p in data.get("prompts", [])]}

    def with_prompt_files_of(self, other: ExperimentSpec) -> ExperimentSpec:
        """This spec, saving each prompt ``other`` read from a file whose text it still has as that ``file:`` (an
        experiment rebuilt from an edited copy of ``other``'s fields, as the GridBuilder does)."""
        spec = self.model_copy()
        spec._prompt_files = {**other._prompt_files, **self._prompt_files}
        return spec

    def _with_prompt_files(self, read: dict[int, Path]) -> ExperimentSpec:
        """This spec knowing which prompts were read from which files (``read``: a prompt's index -> its file)."""
        spec = self.model_copy()
        spec._prompt_files = {self.prompts[i].template or "": os.path.abspath(path) for i, path in read.items()}
        return spec

    def _rebased(self, folder: Path) -> ExperimentSpec:
        """This spec read from ``folder``: its relative dataset and corpus paths rewritten to name the same files."""

        def rebase(path: str) -> str:
            if Path(path).expanduser().is_absolute():
                return path
            return Path(os.path.relpath(self.resolve(path), folder)).as_posix()

        corpus = self.corpus if self.corpus is None or self.corpus.path is None else self.corpus.model_copy(update={"path": rebase(self.corpus.path)})
        dataset = self.dataset if self.dataset is None else self.dataset.model_copy(update={"path": rebase(self.dataset.path)})
        moved = self.model_copy(update={"dataset": dataset, "corpus": corpus})
        return moved.with_base_dir(folder)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, base_dir: Path | None = None, source: str = "<spec>") -> ExperimentSpec:
        """The experiment of ``data``, its fields as an experiment file holds them (``yaml.safe_load`` of one); relative
        dataset, corpus, prompt, ``llamacpp:`` and ``huggingface:`` folder paths are relative to ``base_dir`` (default:
        the working directory).

        Raises:
            SpecError: one line naming the field and what to do.
        """
        if isinstance(data, (str, os.PathLike)):  # "spec: expected a mapping ... write its fields as 'key: value' lines"
            raise SpecError(f"{source}: from_dict takes the experiment's fields as a dict, not the path {os.fspath(data)!r} — read "
                            "a file with wb.load_experiment(path)")
        _refuse_literal_keys(data, None, source)  # the error would otherwise quote the key (a model id, a field's value)
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        relative: frozenset[str] = frozenset()
        read: dict[int, Path] = {}
        if isinstance(data, dict):
            if base_dir is not None:  # like the dataset, corpus and prompt paths: it was read from the working directory
                data, relative = _absolute_model_paths(data, base.resolve())
            # a dict read from experiments/x.yaml and given without its folder: its prompt files were looked for here
            said = None if base_dir is not None else f"the working directory {base}: pass base_dir=<the folder they are relative to>"
            data = _read_prompt_files(data, base, source, relative_to=said, files_read=read)
        try:
            spec = cls.model_validate(data)
        except ValidationError as exc:
            raise SpecError(describe_validation_error(exc, source, model=cls)) from None
        return spec.with_base_dir(base)._with_relative_models(relative)._with_prompt_files(read)

    def _with_relative_models(self, models: frozenset[str]) -> ExperimentSpec:
        spec = self.model_copy()
        spec._relative_models = models
        return spec

    @property
    def source_file(self) -> str | None:
        """The experiment file this spec was read from (``load_experiment``), for errors found later; None when it was
        built in code."""
        return self._file

    def _read_from(self, path: Path) -> ExperimentSpec:
        spec = self.model_copy()
        spec._file = str(path)
        return spec


_SCHEMA_FILE = "experiment.schema.json"


def _schema_near(folder: Path) -> str | None:
    """The experiment schema of the project ``folder`` is in, relative to it (``./experiment.schema.json``,
    ``../experiments/experiment.schema.json``): beside it, or in an ``experiments/`` folder of it or of a folder above,
    up to the project's root (the folder holding ``.git``); None when there is none."""
    for up in (folder, *folder.parents):
        for candidate in (up / _SCHEMA_FILE, up / "experiments" / _SCHEMA_FILE):
            if candidate.is_file():
                relative = Path(os.path.relpath(candidate, folder)).as_posix()
                return relative if relative.startswith("../") else f"./{relative}"
        if (up / ".git").exists():
            return None
    return None


def _loc_text(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "spec"


def _kind_of(value: Any) -> str:
    """What a YAML value is, in the words of the file: nothing, text, a number, a mapping..."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "a yes/no value"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return f"the text {value!r}" if len(value) <= 40 else "a text"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a mapping (key: value)" if isinstance(value, dict) else type(value).__name__


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's annotation can hold (through Optional, unions, lists, tuples and dict values)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _models_beside(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[type[BaseModel]]:
    """The models whose fields are allowed where ``loc``'s last part was written (a list index or a dict key is walked
    through)."""
    models = [model] if model is not None else []
    for part in loc[:-1]:
        inner = [m for current in models if isinstance(part, str) and part in current.model_fields
                 for m in _models_in(current.model_fields[part].annotation)]
        if inner or isinstance(part, str) and not any(part in m.model_fields for m in models):
            models = inner or models  # a key of a mapping (pricing: {model: ...}) keeps the models of its values
    return models


def _fields_beside(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> set[str]:
    """The field names allowed where ``loc``'s last part was written (a list index or a dict key is walked through)."""
    return {name for m in _models_beside(model, loc) for name in m.model_fields}


def _is_list(annotation: Any) -> bool:
    """Whether a field holds a list of entries (``tuple[X, ...]``, optionally None)."""
    return any(get_origin(a) in (tuple, list) for a in (annotation, *get_args(annotation)))


def _home(model: type[BaseModel], name: str, seen: frozenset[type[BaseModel]] = frozenset()) -> tuple[tuple[str, bool], ...] | None:
    """The shallowest path of fields (each with whether it holds a list) below ``model`` to a model that has a field
    ``name``: ``(("execution", False),)`` for ``workers``; None when none has (mappings such as ``pricing`` are not
    walked into: their keys are the user's)."""
    found: list[tuple[tuple[str, bool], ...]] = []
    for field, info in model.model_fields.items():
        if get_origin(info.annotation) is dict:
            continue
        for inner in _models_in(info.annotation):
            if inner in seen:
                continue
            step = ((field, _is_list(info.annotation)),)
            below = () if name in inner.model_fields else _home(inner, name, seen | {model})
            if below is not None:
                found.append(step + below)
    return min(found, key=len) if found else None


def _all_models(model: type[BaseModel]) -> set[type[BaseModel]]:
    """``model`` and every model its fields can hold, however deep."""
    found = {model}
    for info in model.model_fields.values():
        for inner in _models_in(info.annotation):
            if inner not in found:
                found |= _all_models(inner)
    return found


def _moved_field_fix(root: type[BaseModel], models: list[type[BaseModel]], name: str, value: Any) -> str | None:
    """Where a field that is no field here belongs, written as it would be (pure): ``temperature`` of a model entry
    under its ``params``, ``workers`` of the experiment under ``execution``, or from the top for a field only one part
    of the file has (``k`` of a chunker under ``retrieval``); None when it belongs nowhere, or in several places."""
    path = next((h for m in models if (h := _home(m, name)) is not None), None)
    if path is None and sum(name in m.model_fields for m in _all_models(root)) == 1:
        path = _home(root, name)
    if path is None:
        return None
    shown = yaml.safe_dump(value, default_flow_style=True, width=2**16).removesuffix("\n...\n").strip()
    text = f"{{{name}: {shown}}}"
    for field, is_list in reversed(path):
        text = f"{{{field}: [{text}]}}" if is_list else f"{{{field}: {text}}}"
    return f"'{name}' is no field here: it goes under {'.'.join(f for f, _ in path)}, e.g. {text[1:-1]}"


def _reported_error(exc: ValidationError) -> Any:
    """The error a line reports: the first, except that a misspelt field (``idd`` for ``id``) is both a required field
    missing and an unknown one beside it, and the unknown one is what the user wrote and must fix."""
    errors = exc.errors()
    first = errors[0]
    if first["type"] != "missing":
        return first
    parent = _yaml_loc(first)[:-1]
    return next((e for e in errors if e["type"] == "extra_forbidden" and _yaml_loc(e)[:-1] == parent), first)


def _yaml_loc(err: Any) -> tuple[Any, ...]:
    """Where an error is in the YAML: its location without pydantic's validator names and union tags (a gate's kind:
    ``gates[0].metric.min`` is the ``min`` of ``gates[0]``), and at the ``kind:`` key when that names no gate."""
    parts = [p for p in err["loc"] if not _is_internal(p)]
    loc = tuple(p for i, p in enumerate(parts)
                if not (i >= 2 and p in _GATE_KINDS and isinstance(parts[i - 1], int) and parts[i - 2] == "gates"))
    return (*loc, "kind") if err["type"] == "union_tag_invalid" else loc


def _gate_kind_fix(err: Any) -> str:
    """What to write for a gate whose ``kind`` is missing or names no gate (pure)."""
    kinds = ", ".join(_GATE_KINDS)
    given = err.get("input") if isinstance(err.get("input"), dict) else {}
    if err["type"] == "union_tag_invalid":
        meant = difflib.get_close_matches(str(err.get("ctx", {}).get("tag")), list(_GATE_KINDS), n=1, cutoff=0.6)
        fix = f"did you mean '{meant[0]}'? (the kinds: {kinds})" if meant else f"use one of: {kinds}"
        return f"{str(given.get('kind'))!r} is not a gate kind — {fix}"
    # the kind whose fields are the ones given: {metric: token_f1, min: 0.3} is a metric gate
    keys = set(given) - {"kind"}
    fits = [kind for kind, cls in _GATE_KINDS.items()
            if keys <= set(cls.model_fields) and {f for f, info in cls.model_fields.items() if info.is_required()} <= keys]
    return f"'kind' is missing — add kind: {fits[0]}" if len(fits) == 1 else f"'kind' is missing — add kind: one of {kinds}"


def _first_error(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    err = _reported_error(exc)
    loc = _yaml_loc(err)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] in ("union_tag_not_found", "union_tag_invalid"):
        msg = _gate_kind_fix(err)
    elif err["type"] == "invalid_key":
        key = err.get("input")
        # YAML 1.1 reads the keys on, off, yes and no as yes/no values, 1 as a number: pydantic said "Keys should be strings"
        words = "YAML reads on, off, yes and no as yes/no values" if isinstance(key, bool) else "a field's name is text"
        loc = loc[:-1]  # ``yes: 3`` was located at [1], a list's second entry
        msg = f"a key here is {_kind_of(key)}, not a field's name — {words}: write the key in quotes, or remove it"
    elif err["type"] == "missing":
        msg = "required field is missing — add it"
    elif err["type"] == "extra_forbidden":
        # spelt right but written a level too high (a model's temperature beside its id, workers at the top): "did you
        # mean 'scorers'?" for workers, "check its spelling" for temperature
        moved = _moved_field_fix(model, _models_beside(model, loc), str(loc[-1]), err.get("input")) if loc and model else None
        meant = difflib.get_close_matches(str(loc[-1]), sorted(_fields_beside(model, loc)), n=1, cutoff=0.6) if loc else []
        if moved is not None:
            msg = f"unknown field — {moved}"
        else:
            msg = (f"unknown field — did you mean '{meant[0]}'?" if meant else "unknown field — check its spelling") + \
                " (see the JSON schema: workbench schema)"
    elif err["type"] in ("tuple_type", "list_type"):
        msg = f"expected a list, got {_kind_of(err.get('input'))} — write one '- item' per line, or [a, b] (even for one item)"
    elif err["type"] in ("dict_type", "model_type", "model_attributes_type"):
        value, fields = err.get("input"), _fields_beside(model, (*loc, "id"))
        # models: [local:gemma3-270m], retrieval: [local:all-minilm-l6-v2], chunkers: [recursive], dataset: d.jsonl,
        # corpus: python-reference: the text is the value of the entry's main field
        mains = ("builtin",) if value == "python-reference" else ("id", "embedding", "strategy", "path")
        main = next((f for f in mains if f in fields), None) if isinstance(value, str) else None
        if main is not None:
            msg = f"expected a mapping, got the text {value!r} — write it as {{{main}: {value}}}"
        else:
            msg = f"expected a mapping, got {_kind_of(value)} — write its fields as 'key: value' lines under it"
    elif err["type"] == "string_type":
        msg = f"expected text, got {_kind_of(err.get('input'))} — write it as one string, in quotes"
    elif err["type"] == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == NAME_PATTERN:
        value = str(err.get("input"))
        # accents dropped, not the letters that carry them: 'ünïcode' is 'unicode', not '-n-code'
        ascii_value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
        usable = re.sub(r"[^A-Za-z0-9_.-]+", "-", ascii_value).strip("-") or "my-name"
        msg = f"{value!r} may hold only the letters A-Z and a-z, digits, '_', '-' and '.' — e.g. {usable!r}"
    elif err["type"] == "literal_error":  # "Input should be 'recursive', 'token', ..." for `strategy: Recursive`
        options = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        value = err.get("input")
        meant = [o for o in options if isinstance(value, str) and o.casefold() == value.strip().casefold()] or \
            difflib.get_close_matches(str(value), options, n=1, cutoff=0.75)  # not 'sentence' for 'semantic'
        allowed = f"one of {err.get('ctx', {}).get('expected')}" if len(options) > 1 else err.get("ctx", {}).get("expected")
        msg = f"{value!r} is not {allowed} — " + (f"did you mean '{meant[0]}'?" if meant else "use one of them" if len(options) > 1 else "use it")
    elif err["type"] == "too_short" and isinstance(err.get("input"), (list, tuple)):
        msg = "the list is empty, so the grid would have no variants — give at least one entry"
    elif err["type"] in ("float_parsing", "int_parsing") and isinstance(err.get("input"), str):
        msg = not_a_number(err["input"], whole=err["type"] == "int_parsing")
    else:
        msg = out_of_range(err) or msg
    return f"{_loc_text(loc)}: {msg}"


def _plain(value: Any) -> Any:
    """A whole float as the whole number it is (pure): a bound of 0.0 or 1.0 reads 0 or 1, as the field is written."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# pydantic's bound errors, each as what is wrong with the value and what to give instead
_BOUNDS = {
    "greater_than_equal": ("ge", "is below {bound}, the least it may be — give {bound} or more"),
    "greater_than": ("gt", "must be more than {bound} — give a number above {bound}"),
    "less_than_equal": ("le", "is over {bound}, the most it may be — give {bound} or less"),
    "less_than": ("lt", "must be less than {bound} — give a number below {bound}"),
}


def _meant_scorer(name: str, known: list[str]) -> str:
    """What to write for a scorer name that is none (pure): the one it most likely is, a close spelling ('blue') or the
    one name holding it ('f1', 'rouge'), then the known names; a list of 23 names was all that 'blue' was told."""
    close = difflib.get_close_matches(name.strip().lower(), known, n=1, cutoff=0.75)
    holding = [k for k in known if name.strip().lower() in k.split("_")]
    meant = close or (holding if len(holding) == 1 else [])
    names = f"known scorers: {', '.join(known)}"
    return f"did you mean '{meant[0]}'? ({names})" if meant else names


def out_of_range(err: Any) -> str | None:
    """What is wrong with a value outside a field's bounds, or an empty text, and what to give instead (pure), for one of
    pydantic's errors; None for another error. Pydantic's own "Input should be greater than or equal to 1" said neither
    what was written nor what to do (``k: 0``, ``limit: 0``, ``seed: -1``, ``name: ''``)."""
    bound = _BOUNDS.get(err["type"])
    if bound is not None:
        key, text = bound
        return f"{_plain(err.get('input'))} {text.format(bound=_plain(err.get('ctx', {}).get(key)))}"
    if err["type"] == "string_too_short" and isinstance(err.get("input"), str) and not err["input"].strip():
        return "empty text — write a value"
    if err["type"] == "string_too_long" and isinstance(err.get("input"), str):
        text = err["input"]
        return f"'{text if len(text) <= 40 else text[:39] + '…'}' is {len(text)} characters, over the {err.get('ctx', {}).get('max_length')} it may hold — shorten it"
    return None


def not_a_number(text: str, *, whole: bool) -> str:
    """What is wrong with ``text`` given for a number field, and what to write instead (pure): a share written as a
    percentage ('5%' for a gate's rate or min) was "unable to parse string as a number"."""
    percent = re.fullmatch(r"\s*([-+]?\d+(?:\.\d*)?|[-+]?\.\d+)\s*%\s*", text)
    if percent is not None and not whole:
        return f"{text!r} is a percentage — write it as a fraction, {float(percent.group(1)) / 100:g}"
    kind = "a whole number" if whole else "a number"
    return f"{text!r} is text, not {kind} — write {kind} without quotes or units"


def describe_validation_error(
    exc: ValidationError, source: str, node: yaml.Node | None = None, model: type[BaseModel] | None = None,
) -> str:
    """One line for the first error of a validation: ``source:line: field: what is wrong — what to do``.

    Args:
        exc: the pydantic error.
        source: the file (or other source) that was validated.
        node: the YAML document (``yaml.compose``) the data came from, to find the line; without it no line is given.
        model: the model that was validated, to suggest the field a misspelt one means.
    """
    if node is None:
        return f"{source}: {_first_error(exc, model)}"
    return f"{source}:{_line_of(node, _yaml_loc(_reported_error(exc)))}: {_first_error(exc, model)}"


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (or of its deepest existing ancestor)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if _names(k, part)), None)
            key = next((k for k, _ in node.value if _names(k, part)), None)
            if found is None:
                return line
            line, node = (key.start_mark.line + 1 if key is not None else found.start_mark.line + 1), found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _names(key: yaml.Node, part: Any) -> bool:
    """Whether the YAML key ``key`` is the location part ``part``: its text, or for a key YAML reads as another kind of
    value (``on:``, ``1:``, ``~:``), that value."""
    if not isinstance(key, yaml.ScalarNode):
        return False
    if isinstance(part, str) or key.tag == "tag:yaml.org,2002:str":
        return key.value == part
    return bool(yaml.load(key.value, Loader=_Loader) == part)


def _text_of(path: Path) -> str | None:
    """A prompt file's text as a template read from it holds it; None when it cannot be read (gone, not UTF-8)."""
    try:
        return _as_a_file_reads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError):
        return None


def _read_utf8(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # a byte-order mark is not part of the text (nor of a prompt)
    except UnicodeDecodeError as exc:
        if exc.object[:2] in (b"\xff\xfe", b"\xfe\xff"):  # PowerShell's '>' and Out-File write UTF-16
            raise SpecError(f"{path}:1: {what} is UTF-16 text (byte-order mark 0x{exc.object[:2].hex()}), not UTF-8 — save it as UTF-8") from None
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise SpecError(f"{path}:{line}: {what} is not UTF-8 text (byte {exc.object[exc.start]:#04x}) — save it as UTF-8") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None


# an experiment file is a page of YAML: PyYAML reads about half a megabyte a second, so a file of 100 MB (a dataset
# saved under the experiment's name, a file from someone else's branch) held the command for minutes before any error
_MAX_EXPERIMENT_BYTES = 2**20


_DATASET_SUFFIXES = (".jsonl", ".ndjson", ".csv")


def load_experiment(path: str | Path) -> ExperimentSpec:
    """Read an experiment YAML file; prompt ``file`` entries are read into ``template``.

    Raises:
        SpecError: one line naming file, line and field.
    """
    if not isinstance(path, (str, os.PathLike)):  # a dict spec, an already loaded one: Path() said only "expected str"
        raise SpecError(f"an experiment is read from the path of its YAML file, not from a {type(path).__name__} — "
                        "for a dict, use wb.ExperimentSpec.from_dict(data, base_dir=...)")
    path = Path(path)
    if path.is_dir():  # worded as workbench run's check of the same path
        raise SpecError(f"{path}: is a folder, not a file — give the path of the experiment file")
    if not path.is_file():
        raise SpecError(f"{path}: experiment file not found — {missing_path_fix(path, 'check the path')}")
    if path.suffix.lower() in _DATASET_SUFFIXES:  # read as YAML, a JSONL file was told to quote a value starting with '{'
        raise SpecError(f"{path}: a dataset file ({path.suffix}), not an experiment — name it in an experiment file, "
                        f"dataset: {{path: {path.name}}}, and give that file (see experiments/quickstart.yaml)")
    size = path.stat().st_size
    if size > _MAX_EXPERIMENT_BYTES:
        raise SpecError(f"{path}: {size / 2**20:,.1f} MB, too large for an experiment file (at most 1 MB) — an experiment names its "
                        "dataset, corpus and prompt files (dataset: {path: ...}) rather than holding them")
    text = _read_utf8(path, "experiment file")
    try:
        node, data = read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise SpecError(f"{where}: {yaml_error_text(exc)}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}:1: an experiment file must be a YAML mapping with name, dataset, corpus, prompts, models, chunkers")
    check_yaml_shape(node, str(path))
    _refuse_literal_keys(data, node, str(path))
    base = path.parent.resolve()
    data, relative = _absolute_model_paths(data, base)
    read: dict[int, Path] = {}
    data = _read_prompt_files(data, base, str(path), node, files_read=read)
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(describe_validation_error(exc, str(path), node, ExperimentSpec)) from None
    return spec.with_base_dir(base)._with_relative_models(relative)._with_prompt_files(read)._read_from(path)


# what to do about PyYAML's commonest complaints, by a piece of its problem text: a prompt written unquoted was
# "not valid YAML (mapping values are not allowed here)", with nothing to say that its "Question: " was the cause
_YAML_FIXES = (
    ("'\\t'", "indent with spaces, not tabs"),
    ("another document", "an experiment file holds one YAML document: remove this '---' line and what follows it, or split the file"),
    ("mapping values are not allowed", "a ': ' inside a value starts a mapping: put the value in quotes (template: \"Context: "
     "{context} ...\"), or write it on the lines under 'key: |'"),
    ("but found '{'", "a value starting with '{' is a YAML mapping: put the value in quotes (template: \"{context} ...\")"),
    ("but found '['", "a value starting with '[' is a YAML list: put the value in quotes"),
    ("undefined alias", "define the anchor (&name) before its first use (*name), or quote a value that starts with '*'"),
    ("cannot start any token", "a value starting with '@', '`' or '%' must be in quotes"),
    ("could not determine a constructor", "experiment files use no YAML tags (!name): remove it, or quote a value that starts with '!'"),
    ("end of stream", "a quote or bracket is not closed"),
    ("<stream end>", "a quote or bracket is not closed"),
)


def yaml_error_text(exc: yaml.YAMLError) -> str:
    """``not valid YAML (<PyYAML's problem>) — <what to do>`` (pure): the fix for the commonest problems, else to check
    the syntax on that line."""
    problem = str(getattr(exc, "problem", None) or exc)
    if " — " in problem:  # says what to do already (read_yaml's own errors)
        return f"not valid YAML ({problem})"
    fix = next((f for piece, f in _YAML_FIXES if piece in problem), "check the syntax at that line (indentation, quotes, ': ')")
    return f"not valid YAML ({problem}) — {fix}"


def _read_prompt_files(
    data: dict[str, Any], base: Path, source: str, node: yaml.Node | None = None, *, relative_to: str | None = None,
    files_read: dict[int, Path] | None = None,
) -> dict[str, Any]:
    """``data`` with each prompt's ``file`` (relative to ``base``) read into its ``template``; ``relative_to`` says what
    ``base`` is in the error for a file not found (default: ``base`` itself). ``files_read``, when given, is filled with the
    index of each prompt read from a file and that file."""
    prompts = data.get("prompts")
    if not isinstance(prompts, (list, tuple)):
        return data
    read = []
    for i, prompt in enumerate(prompts):
        if isinstance(prompt, PromptSpec) and prompt.template is None:
            prompt = prompt.model_dump(exclude_defaults=True)
        # `template:` left empty beside `file:` is no template (YAML reads it as null): the file is the prompt
        if isinstance(prompt, dict) and isinstance(prompt.get("file"), (str, os.PathLike)) and prompt["file"] and prompt.get("template") is None:
            prompt_path = on_disk(base / Path(prompt["file"]).expanduser())  # like the dataset and corpus paths
            if not prompt_path.is_file():
                where = f"{source}:{_line_of(node, ('prompts', i, 'file'))}" if node is not None else source
                raise SpecError(f"{where}: prompts[{i}].file: {prompt['file']} {_not_a_prompt_file(prompt_path, relative_to or str(base))}")
            secret = _secret_place(prompt_path, base)
            if secret is not None:
                where = f"{source}:{_line_of(node, ('prompts', i, 'file'))}" if node is not None else source
                raise SpecError(f"{where}: prompts[{i}].file: {prompt['file']} is {secret} — copy the template into the project")
            template = _read_utf8(prompt_path, f"prompts[{i}].file")
            saved = _saved_prompt(prompt_path, template)
            if saved:
                raise SpecError(f"{prompt_path}: prompts[{i}].file: holds {saved}, not a template's text, and the model would read all of it "
                                f"— give its template as template:, or a text file holding only the template")
            try:
                check_template(template)
            except ValueError as exc:  # named where it is written: in the prompt file, at its line
                line = problem_line(template)
                raise SpecError(f"{prompt_path}{f':{line}' if line else ''}: prompts[{i}].file: {exc}") from None
            prompt = {k: v for k, v in prompt.items() if k not in ("file", "template")} | {"template": template}
            if files_read is not None:
                files_read[i] = prompt_path
        if isinstance(prompt, dict) and _names_a_file(prompt.get("system"), base):
            where = f"{source}:{_line_of(node, ('prompts', i, 'system'))}" if node is not None else source
            raise SpecError(f"{where}: prompts[{i}].system: {prompt['system']} is a file, but a system message is sent as written, so the "
                            "model would read its path — write the message itself (system: |, then its lines indented below)")
        read.append(prompt)
    return {**data, "prompts": read}


# the machine's kernel and runtime state: /proc/self/environ holds the process's keys, /run/secrets a container's
_SYSTEM_FOLDERS = frozenset({"proc", "sys", "dev", "run"})


def _secret_place(path: Path, base: Path) -> str | None:
    """Where a prompt file lies, when it is no place for one: a hidden folder or file outside the experiment's folder
    (``~/.docker/config.json``, ``~/.aws/credentials``), or a system folder, named or reached through a link. An
    experiment from someone else's branch can name one: its text was quoted in the error, or sent to the model and
    logged. None for any other file, a hidden one of the project's own too."""
    target, root = Path(os.path.realpath(path)), os.path.realpath(base)
    link = f"a link to {target}, " if str(target) != os.path.abspath(path) else ""
    if target.parts[1:2] and target.parts[1] in _SYSTEM_FOLDERS:
        return f"{link}in the system folder /{target.parts[1]}, which holds no prompt"
    if target.is_relative_to(root):
        return None
    beyond = target.relative_to(os.path.commonpath([target, root]))
    if any(part.startswith(".") for part in beyond.parts):
        return f"{link}in a hidden folder or file outside the experiment's folder (keys and settings live there)"
    return None


def _saved_prompt(path: Path, text: str) -> str:
    """What a ``.json`` or ``.yaml`` prompt file holds when it is a saved prompt rather than a template's text (a LangChain
    prompt's ``save()``, a promptfoo or OpenAI list of chat messages): '' when it is text. One without braces of its own
    (a YAML ``template: |`` over {context} and {question}) was sent whole, keys and all, as every prompt."""
    if path.suffix.lower() not in (".json", ".yaml", ".yml"):
        return ""
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):  # text with a brace or colon of its own, not JSON or YAML
        return ""
    if isinstance(data, dict) and {"_type", "template", "messages"} & set(data):
        return f"a saved prompt (a mapping with '{next(k for k in ('template', 'messages', '_type') if k in data)}')"
    if isinstance(data, list) and data and all(isinstance(m, dict) and {"role", "content"} & set(m) for m in data):
        return "a list of chat messages"
    return ""  # text that reads as YAML too ("Context: {context}" is a mapping)


def _names_a_file(text: Any, base: Path) -> bool:
    """Whether a one-line ``text`` is the path of a file (relative to ``base``): a system message given as the file
    holding it, as a template's ``file:`` is, which was sent to the model as the path."""
    if not isinstance(text, str) or not text.strip() or "\n" in text:
        return False
    try:
        return (base / Path(text.strip()).expanduser()).is_file()
    except (OSError, ValueError):  # a message too long for a file name, or holding a NUL
        return False


def _not_a_prompt_file(path: Path, relative_to: str) -> str:
    """Why ``path`` (no regular file) cannot be read as a prompt, and what to do: a folder was said to be "not found"."""
    if path.is_dir():
        found = sorted(p.name for p in path.iterdir() if p.is_file() and not p.name.startswith("."))[:3]
        holds = f" (it holds {', '.join(found)})" if found else ""
        return f"is a folder, not a file — give the template's file{holds}"
    if path.exists():  # /dev/stdin, a pipe: reading it would wait forever
        return "is not a regular file — give a text file holding the template"
    return f"not found — {missing_path_fix(path, f'check the path (relative paths are from {relative_to})')}"


# providers whose model strings may name a path on this machine: a GGUF file, a (sentence-transformers) model folder
_PATH_PROVIDERS = ("llamacpp", "huggingface")


def _relative_model_path(model: str, base: Path) -> bool:
    """Whether a model string names a path relative to ``base``: a ``llamacpp:`` file written relative, or a
    ``huggingface:`` folder written as a path (``./models/m``) or that is one under ``base`` (any other
    ``huggingface:`` name is a model on the hub)."""
    provider, _, path = model.partition(":")
    if Path(path).expanduser().is_absolute():
        return False
    return provider == "llamacpp" or names_a_folder(model) or (base / path).is_dir()


def _map_model_strings(data: Any, change: Callable[[str], str]) -> Any:
    """``data`` with ``change`` applied to every ``llamacpp:<path>`` and ``huggingface:<name>`` model string in it (a
    value, or a ``pricing:`` key)."""
    if isinstance(data, str):
        return change(data) if data.partition(":")[0] in _PATH_PROVIDERS and data.partition(":")[2] else data
    if isinstance(data, dict):
        return {(_map_model_strings(k, change) if isinstance(k, str) else k): _map_model_strings(v, change) for k, v in data.items()}
    if isinstance(data, list):
        return [_map_model_strings(v, change) for v in data]
    return data


def _absolute_model_paths(data: Any, base: Path) -> tuple[Any, frozenset[str]]:
    """``data`` with every relative ``llamacpp:<path>`` model string, and every ``huggingface:<folder>`` one naming a
    folder there (a value, or a ``pricing:`` key), made relative to the experiment file's folder, like its dataset,
    corpus and prompt paths, rather than to the working directory; and the absolute forms of those models (written
    relative again on save)."""
    relative: set[str] = set()

    def absolute(model: str) -> str:
        provider, _, path = model.partition(":")
        if path.startswith(("/", "~")) or not _relative_model_path(model, base):
            return model
        relative.add(made := f"{provider}:{os.path.normpath(base / path)}")
        return made

    return _map_model_strings(data, absolute), frozenset(relative)


_MAX_YAML_VALUES = 100_000


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading a number with an exponent (``2e5``, ``1E-7``) as a number, as YAML 1.2 and editors
    do: YAML 1.1 wants a dot and a signed exponent (``2.0e+5``), so ``max_tokens: 2e5``, which the editor's schema check
    passed, was the text '2e5' ("unable to parse string as an integer")."""


# a number with an exponent and no dot, which YAML 1.1 reads as text
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, quoting a text that ``_Loader`` reads as a number: a variant id such as ``43457e157336``
    was written bare (YAML 1.1 reads it as text) and read back as a float (infinity)."""


_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))


def dump_yaml(data: Any) -> str:
    """``data`` as block YAML in the order given, Unicode as written, that ``read_yaml`` reads back as ``data``."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def _decimal_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """An integer with leading zeros (``seed: 0123``) is decimal, as YAML 1.2 and editors read it: YAML 1.1 read it as
    octal (83), a silently other seed or size than the one written and shown."""
    digits = str(loader.construct_scalar(node)).replace("_", "")
    if len(digits.lstrip("+-")) > 1 and digits.lstrip("+-")[0] == "0" and digits.lstrip("+-")[1].isdigit():
        return int(digits, 10)
    return int(yaml.SafeLoader.construct_yaml_int(loader, node))


_Loader.add_constructor("tag:yaml.org,2002:int", _decimal_int)


def read_yaml(text: str, *, yaml_1_1: bool = False) -> tuple[yaml.Node | None, Any]:
    """The YAML document ``text`` as nodes (for lines) and as data; safe tags only, numbers read as YAML 1.2 reads them
    (``yaml_1_1``: as PyYAML's safe loader reads them, for a file PyYAML wrote, which left ``1e5``-like text bare).

    Raises:
        yaml.YAMLError: not YAML, or nested deeper than the parser can follow (``[[[[...]]]]`` a few hundred levels
            deep made PyYAML's recursive composer raise RecursionError, reported as an internal error of workbench).
    """
    try:
        loader = yaml.SafeLoader if yaml_1_1 else _Loader
        return yaml.compose(text, Loader=loader), yaml.load(text, Loader=loader)
    except RecursionError:
        raise yaml.YAMLError("lists or mappings nested hundreds of levels deep — write the values out flatter") from None


def check_yaml_shape(node: yaml.Node, source: str) -> None:
    """Refuse a key given twice in one mapping (YAML keeps the last one silently: ``name:`` twice logged the sweep under
    the second name) and aliases that expand to more than ``_MAX_YAML_VALUES`` values (ten nested lists of ten aliases
    are a billion values, which any walk over the data would take forever on).

    Raises:
        SpecError: ``file:line: ...`` for the duplicate key, or for the first alias that makes the file too large.
    """
    sizes: dict[int, int] = {}

    def size(n: yaml.Node) -> int:  # values once every alias is expanded; each node is counted once
        if id(n) not in sizes:
            sizes[id(n)] = 0  # a recursive alias counts as nothing more than itself
            if isinstance(n, yaml.MappingNode):
                seen: dict[str, int] = {}
                for key, value in n.value:
                    if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                        if key.value in seen:
                            raise SpecError(f"{source}:{key.start_mark.line + 1}: '{key.value}' is given twice in one mapping "
                                            f"(also on line {seen[key.value]}) — keep one")
                        seen[key.value] = key.start_mark.line + 1
                total = 1 + sum(size(k) + size(v) for k, v in n.value)
            elif isinstance(n, yaml.SequenceNode):
                total = 1 + sum(size(v) for v in n.value)
            else:
                total = 1
            if total > _MAX_YAML_VALUES:
                raise SpecError(f"{source}:{n.start_mark.line + 1}: this value expands to more than {_MAX_YAML_VALUES} values "
                                "through YAML aliases (*name) — write the values out, or use fewer nested aliases")
            sizes[id(n)] = total
        return sizes[id(n)]

    size(node)


def _refuse_literal_keys(data: Any, node: yaml.Node | None, source: str) -> None:
    """Refuse an experiment whose YAML holds a literal key: a string value that detect-secrets recognises as a key
    (also as the value of a secret-named field, ``api_key: sk-...``) or that equals a secret environment variable.

    Raises:
        SpecError: ``<file>:<line>: <field>: looks like a literal API key — put it in an environment variable
            (e.g. OPENAI_API_KEY) instead`` (the variable it equals, when it is one).
    """
    from workbench.redaction import redactor

    red = redactor()
    for loc, value in _string_values(data, ()):
        name = next((p for p in reversed(loc) if isinstance(p, str)), "")
        found = red.find(value) or [  # a secret-named field's value: detect-secrets' keyword detector on `name: "value"`
            f for f in red.find(f'{name}: "{value}"') if not _names_a_variable(value)
        ]
        if found:
            var = next((f.kind for f in found if f.from_env), "OPENAI_API_KEY")
            line = _line_of(node, loc)
            where = f"{source}{f':{line}' if line is not None else ''}: {_loc_text(loc)}"
            if _url_password(value):  # a Chroma server's login: "e.g. OPENAI_API_KEY" named no variable that takes it
                raise SpecError(f"{where}: the URL holds a password (user:password@host) — {_login_fix(loc)}")
            raise SpecError(f"{where}: looks like a literal API key — put it in an environment variable (e.g. {var}) instead")


# the variable that takes a URL field's value, login included, in place of the experiment file
_URL_VARIABLES = {("index_store", "url"): ("index_store", "WORKBENCH_CHROMA_URL")}


def _url_password(value: str) -> bool:
    """Whether ``value`` is a URL with a login in it (``http://user:password@host``) (pure), read as
    ``without_credentials`` reads it: a password written without percent-encoding its '/' or '#', which URL parsers cut
    there (and found no password), was told to go in OPENAI_API_KEY."""
    from workbench.redaction import without_credentials

    return "://" in value and without_credentials(value.strip(), marked=True).partition("://")[2].startswith("…@")


def _login_fix(loc: tuple[Any, ...]) -> str:
    """What to do with a login found in the URL at ``loc`` (pure)."""
    if tuple(loc) in _URL_VARIABLES:
        section, variable = _URL_VARIABLES[tuple(loc)]
        return f"leave {section} out of the experiment and set {variable} to the URL with its login instead"
    return "keep the login out of the experiment file (in an environment variable) instead"


def _names_a_variable(value: str) -> bool:
    """``OPENAI_API_KEY``: the name of an environment variable, which is what a spec should hold."""
    return value.isupper() and value.replace("_", "").isalnum() and not value[0].isdigit()


def _string_values(data: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(data, str):
        yield loc, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _string_values(value, (*loc, key))
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            yield from _string_values(value, (*loc, i))


def _is_internal(part: Any) -> bool:
    """Pydantic adds validator names (``function-after[...]``) and union tags to error locations; they are not YAML keys."""
    return isinstance(part, str) and ("[" in part or part.startswith(("function-", "tagged-union")) or part in (_MODEL_TAG, _ROUTER_TAG))


def experiment_json_schema() -> dict[str, Any]:
    """JSON schema of the experiment file, for editor validation (``# yaml-language-server: $schema=...``)."""
    return ExperimentSpec.model_json_schema()
