"""The whole experiment (``ExperimentSpec``): what to evaluate on and the grid of variants to compare, its checks
across sections, its YAML round trip, and its JSON schema (``experiment_json_schema``)."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from workbench.errors import ModelError, SpecError
from workbench.metrics import scorer_entries
from workbench.models import Price, check_model_id, embedder_input_tokens, price_for
from workbench.spec._base import _GENERATOR_PATTERN, _Spec
from workbench.spec._data import CorpusRef, DatasetRef
from workbench.spec._execution import ExecutionSpec, Limits
from workbench.spec._gates import LoggedMetrics, PromotionSpec, gate_problems
from workbench.spec._judge import JudgeSpec, PriceSpec
from workbench.spec._model_paths import _absolute_model_paths, _map_model_strings, _relative_model_path
from workbench.spec._models import ModelSpec
from workbench.spec._names import Name
from workbench.spec._prompt_files import _read_prompt_files, _text_of
from workbench.spec._prompts import PromptSpec
from workbench.spec._retrieval import ChunkerSpec, IndexStoreSpec, RetrievalSpec, _mmr_chooses
from workbench.spec._router import ModelEntry, RouterEntry
from workbench.spec._secrets import _refuse_literal_keys
from workbench.spec._validation import _meant_scorer, describe_validation_error
from workbench.spec._yaml import dump_yaml


def _logged_metrics(data: dict[str, Any]) -> LoggedMetrics:
    """What the runs of the experiment whose validated fields are ``data`` log, for its gates (pure); the scorers as the
    sweep picks them (workbench.runner): those named, else the default ones and, with a judge, the judged ones; a sweep
    without models scores retrieval only."""
    entries = scorer_entries()
    models, judge, named = data["models"], data["judge"], data["scorers"]
    if not models:
        scores = [s for s in named or () if entries[s].retrieval] or [n for n, e in entries.items() if e.retrieval]
    else:
        scores = list(named) if named is not None else [n for n, e in entries.items() if e.default or (judge is not None and e.judged)]
    prices = {k: v.price for k, v in data["pricing"].items()}
    unpriced = sorted(m for m in _model_ids(models, None) if price_for(m, prices) is None)
    return LoggedMetrics(scores=tuple(scores), named_scorers=named is not None, answers=bool(models), judge=judge is not None,
                         repeats=judge is not None and judge.n > 1, unpriced=unpriced[0] if unpriced else None,
                         router=any(isinstance(m, RouterEntry) for m in models))


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

    @field_validator("promotion")
    @classmethod
    def _gates_on_logged_metrics(cls, value: PromotionSpec | None, info: ValidationInfo) -> PromotionSpec | None:
        # a gate no run could pass (token_f11, faithfulness without a judge) was found at promotion, after the sweep
        if value is None or any(k not in info.data for k in ("models", "judge", "scorers", "pricing")):
            return value  # a section that failed is the error reported
        problems = gate_problems(value.gates, _logged_metrics(info.data))
        if problems:
            where, why = problems[0]
            raise ValidationError.from_exception_data("PromotionSpec", [InitErrorDetails(
                type=PydanticCustomError("value_error", "{why}", {"why": why}), loc=("gates", *where), input=value.gates[where[0]])])
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
            tmp.write_text(modeline + dump_yaml(data, editable=True), encoding="utf-8")
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

    def validated(self) -> ExperimentSpec:
        """This spec validated again, as ``from_dict`` validates one, keeping its folder, file and prompt files: itself
        when nothing changes. pydantic's ``model_copy(update=...)``, the notebooks' way to swap an axis, validates
        nothing it is given, so a sweep of such a copy ran a value the experiment refuses (an overlap over its chunk
        size, a name that is no file name) and an entry given as a dict (``{"k": 3}``) failed with a traceback.

        Raises:
            SpecError: one line naming the field and what to do.
        """
        try:
            # warnings=False: a dict in place of an entry is dumped as it is, which is what is validated
            again = type(self).model_validate(self.model_dump(warnings=False))
        except ValidationError as exc:
            raise SpecError(describe_validation_error(exc, self._file or "<spec>", model=type(self))) from None
        if all(getattr(again, f) == getattr(self, f) and type(getattr(again, f)) is type(getattr(self, f)) for f in type(self).model_fields):
            return self
        again.__pydantic_private__ = dict(self.__pydantic_private__ or {})
        return again

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


def experiment_json_schema() -> dict[str, Any]:
    """JSON schema of the experiment file, for editor validation (``# yaml-language-server: $schema=...``)."""
    return ExperimentSpec.model_json_schema()
