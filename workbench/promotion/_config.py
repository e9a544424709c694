"""What gets registered and exported: the bundle config (``config.yaml``), the audit record and the manifest.

All are pydantic models (they are written to disk and to MLflow). ``BundleConfig`` is everything needed to rebuild
the pipeline without MLflow; its ``config_hash`` covers exactly the parts that change answers (prompt, model and
params, seed, chunker, retrieval, corpus), so the same configuration has the same hash in staging and production.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from importlib import metadata
from datetime import datetime
from pathlib import PurePosixPath
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workbench.grid import flat_params
from workbench.models import Price, portable_model_id, price_for
from workbench.prompts import PromptTemplate
from workbench.spec import (
    NAME_PATTERN,
    ChunkerSpec,
    EscalationSpec,
    ModelSpec,
    PriceSpec,
    RetrievalSpec,
    RouterSpec,
    check_yaml_shape,
    describe_validation_error,
    dump_yaml,
    read_yaml,
)

# Raised whenever config.yaml (or a spec model it holds: ModelSpec, ChunkerSpec, RetrievalSpec) gains a field: a
# workbench reads the bundles of its own schema and older ones, and refuses a newer one in one line naming the workbench
# that wrote it (tests/promotion/test_config.py holds the fields of each schema). 2 (2026-12-06): ``workbench``,
# ``embedder``, and a config_hash leaving out what cannot change an answer (a hosted call's timeout, cache, name).
# 3 (2026-12-06): ``generator`` (the llama-cpp-python running a GGUF model); hashed as schema 2. 4 (2026-12-06):
# ``router`` (a router's two models and when it escalates), and a config_hash holding a ``llamacpp:`` file and a
# ``huggingface:`` folder by name and content, not where they lay. 5 (2026-12-07): ``corpus.exclude`` (the files of a
# corpus folder its glob picks that are no documents), without which the folder is read as another corpus,
# ``corpus.columns`` (a corpus file's own column names for a document's id and text), without which it is refused, and
# ``prices`` (what the answering models cost in the evaluated run, the experiment's ``pricing`` among them), and a
# model's sampler settings (``params.top_p``...) and ``context_window``, each written only when set; all before 0.3.0,
# the first release writing schema 5, was released.
SCHEMA_VERSION: Literal[5] = 5
SchemaVersion = Literal[1, 2, 3, 4, 5]
# the first workbench release writing each schema: from 4 on a new schema comes with a new release, so that an older
# workbench's refusal ("written by workbench 0.2.0, upgrade to 0.2.0 or newer") names one it can upgrade to
SCHEMA_RELEASES = {1: "0.1.0", 2: "0.1.0", 3: "0.1.0", 4: "0.2.0", 5: "0.3.0"}
MANIFEST_SCHEMA_VERSION: Literal[1] = 1
CONFIG_FILE = "config.yaml"
CONFIG_SCHEMA_FILE = "config.schema.json"
MANIFEST_FILE = "manifest.json"
REPORT_FILE = "EVALUATION.md"
GITATTRIBUTES_FILE = ".gitattributes"  # written by an export beside EVALUATION.md: never among a registered model's files
CORPUS_FILE = "corpus.jsonl"  # the documents of a corpus given in memory (wb.run(corpus=...)), in the bundle
# of a corpus read from disk: each document's hash as evaluated (the sweep's corpus_documents.json), so that load_bundle
# names the documents changed since, as promote and export do; a bundle without it (exported before) counts them
CORPUS_DOCUMENTS_FILE = "corpus_documents.json"

Environment = Literal["staging", "production"]
ENVIRONMENTS: tuple[Environment, ...] = ("staging", "production")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptRef(_Model):
    """The prompt: files in the bundle (Python ``{question}``/``{context}`` syntax) and its registry version."""

    name: str
    file: str = Field(description="template file, relative to the bundle folder")
    system_file: str | None = Field(default=None, description="system message file, when the prompt has one")
    sha256: str = Field(description="hash of system + template (workbench.prompts.PromptTemplate.hash)")
    registry_name: str | None = Field(default=None, description="MLflow Prompt Registry name")
    registry_version: int | None = None

    @field_validator("file", "system_file")
    @classmethod
    def _inside_the_bundle(cls, value: str | None) -> str | None:
        """A prompt file is one of the bundle's: ``/etc/passwd`` or ``../../.docker/config.json`` was read by
        ``load_bundle``, and a check of the template quoted its braces in the error."""
        if value is not None and (PurePosixPath(value).is_absolute() or ".." in PurePosixPath(value).parts):
            raise ValueError(f"'{value}' is not a file of the bundle — give a path relative to the bundle folder, e.g. prompts/<name>.txt")
        return value


class CorpusInfo(_Model):
    """The retrieval corpus: the built-in one, a folder, or the documents themselves in a bundle file (a corpus given
    in memory), and the hash the loaded corpus must match."""

    builtin: Literal["python-reference"] | None = None
    path: str | None = None
    file: str | None = Field(default=None, description="the documents (JSONL: id, text, metadata), relative to the bundle folder")
    glob: str = "**/*.md"
    exclude: tuple[str, ...] = Field(default=(), description="the files of the folder its glob picks that are no documents (patterns like glob's)")
    # written only when set: a bundle of a corpus file using our names is what it was
    columns: dict[str, str] = Field(default={}, exclude_if=lambda value: not value,
                                    description="the corpus file's own column names: our field (id, text) -> the file's column")
    hash: str
    documents: int | None = None

    @field_validator("file")
    @classmethod
    def _inside_the_bundle(cls, value: str | None) -> str | None:
        if value is not None and (PurePosixPath(value).is_absolute() or ".." in PurePosixPath(value).parts):
            raise ValueError(f"'{value}' is not a file of the bundle — give a path relative to the bundle folder, e.g. {CORPUS_FILE}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> CorpusInfo:
        if sum(source is not None for source in (self.builtin, self.path, self.file)) != 1:
            raise ValueError("give exactly one of 'builtin', 'path' or 'file'")
        return self


class ChunksInfo(_Model):
    """The chunks the evaluated run retrieved from: how many, and the sha256 of their ids and texts in order."""

    count: int = Field(ge=0, description="how many chunks the chunker cut the corpus into")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the chunks' ids and texts, in order "
                        "(workbench.pipeline.chunks_digest)")


class EmbedderInfo(_Model):
    """The embedding model the configuration was evaluated with, beyond its model string: its implementation and the
    installed packages that compute its vectors (another version may embed otherwise, and retrieve other chunks)."""

    identity: str = Field(description="what decides its vectors besides the text (workbench.models.Embedder.identity); a "
                          "huggingface: model folder's is the sha256 of its files (huggingface-folder:<sha256>), which the "
                          "folder a bundle is loaded with (load_bundle(..., embedding_path=)) must have")
    packages: dict[str, str] = Field(default_factory=dict, description="package -> the version installed when the run "
                                     "was evaluated, of the packages computing a local model's vectors; {} for a hosted one")


class GeneratorInfo(_Model):
    """The installed packages that ran the model answering the configuration when it was evaluated: a GGUF model's
    (``local:``, ``llamacpp:``) llama-cpp-python, whose releases vendor another llama.cpp (kernels, sampler) and other
    chat templates, so another version may answer otherwise."""

    packages: dict[str, str] = Field(default_factory=dict, description="package -> the version installed when the run was "
                                     "evaluated, of the packages running a GGUF model; {} for a hosted one (its server runs it)")


class DatasetInfo(_Model):
    """The dataset the configuration was evaluated on (evidence, not configuration)."""

    name: str
    path: str = ""
    hash: str
    cases: int


class SourceInfo(_Model):
    """Where the configuration came from in MLflow."""

    run_id: str
    experiment_id: str
    parent_run_id: str | None = None
    variant_id: str
    variant_name: str


class BundleConfig(_Model):
    """``config.yaml``: the deployable configuration, validated on load."""

    schema_version: SchemaVersion = Field(default=SCHEMA_VERSION, description="the layout of this file: a workbench "
                                          "refuses a newer one than it reads, naming the workbench that wrote it")
    workbench: str | None = Field(default=None, description="the version of workbench that wrote this file (null: one "
                                  "of schema 1, which did not record it)")
    name: str = Field(min_length=1, pattern=NAME_PATTERN, description="registered model name")
    config_hash: str = Field(description="sha256 of what changes answers (workbench.promotion.config_hash): the same "
                             "configuration has the same hash in staging and production")
    prompt: PromptRef
    model: ModelSpec = Field(description="the model that answers (a router's cheap model, which answers first)")
    router: RouterSpec | None = Field(
        default=None, description="a router's cheap and strong models and the signals that escalate a question to the strong "
        "one (model is then its cheap model); null for one model",
    )
    servers: dict[str, str] | None = Field(
        default=None, description="model id -> the server it was evaluated on, for a hosted model that the "
        "environment sent to another server than its provider's default (OPENAI_BASE_URL, OLLAMA_HOST...): the "
        "deployment must send it there too; {} when every model used its default, null when not recorded (a run "
        "logged before workbench recorded it)",
    )
    weights: dict[str, str] | None = Field(
        default=None, description="model id -> the sha256 of the GGUF file a llama.cpp model (local:, llamacpp:) was "
        "evaluated with: the bundle refuses to load another file (a llamacpp: path holding other weights, another "
        "workbench's local model); {} when no model of the bundle is a GGUF file, null when not recorded (a run logged "
        "before workbench recorded its models)",
    )
    generator: GeneratorInfo | None = Field(
        default=None, description="the packages that ran the model when evaluated (a GGUF model's llama-cpp-python): a "
        "bundle refuses to load where they differ, unless told to (load_bundle(..., allow_other_generator=True)); null "
        "when not recorded (a bundle exported before workbench recorded them, schema 2 or older)",
    )
    prices: dict[str, PriceSpec] | None = Field(
        default=None, description="model id -> its price (USD per 1M tokens) in the evaluated run's cost, for each "
        "answering model with a known one (the experiment's pricing, else the built-in table): the loaded bundle prices "
        "its answers with them (cost_usd); null when not recorded (a bundle exported before workbench recorded them), "
        "whose answers' cost is then unknown",
    )
    seed: int = 0
    chunker: ChunkerSpec
    chunking_revision: int | None = Field(
        default=None, description="how the chunkers cut text when the configuration was evaluated (workbench.grid."
        "CHUNKING_REVISION): a workbench of another revision cuts the corpus again and loads the bundle when it cuts "
        "the same chunks (see chunks), and refuses it otherwise; null when not recorded (a bundle exported before "
        "workbench recorded it)",
    )
    chunks: ChunksInfo | None = Field(
        default=None, description="the chunks the evaluated run retrieved from, which a workbench of another "
        "chunking_revision must cut again to load the bundle; null when not recorded (a run logged before workbench "
        "recorded them): such a bundle is refused by a workbench of another chunking_revision",
    )
    retrieval: RetrievalSpec
    embedder: EmbedderInfo | None = Field(
        default=None, description="the embedding model's implementation and packages when evaluated: a bundle refuses "
        "to load where they differ, unless told to (load_bundle(..., allow_other_embedder=True)); null when not "
        "recorded (a run logged before workbench recorded its models)",
    )
    corpus: CorpusInfo
    dataset: DatasetInfo
    source: SourceInfo

    @model_validator(mode="after")
    def _cheap_model_answers_first(self) -> BundleConfig:
        if self.router is not None and self.model != self.router.cheap:
            raise ValueError(f"model: {self.model.id} is not the router's cheap model ({self.router.cheap.id}) — model holds "
                             "a router's cheap model, which answers first: restore the file from the bundle's commit")
        return self

    @model_validator(mode="after")
    def _hash_matches(self) -> BundleConfig:
        # a file holds the hash as the workbench that wrote it computed it: schema 1 and 2-3 as earlier ones, 4 as this
        # one (a router's always: no earlier workbench wrote one)
        accepted = ((self.answering_hash(),) if self.schema_version >= 4 or self.router is not None
                    else self._hashes_of_schema(self.schema_version))
        if self.config_hash not in accepted:
            raise ValueError(f"config_hash {self.config_hash[:12]} does not match the configuration ({accepted[0][:12]}): what "
                             "changes answers (prompt, model, router, seed, chunker, retrieval, corpus, servers) was edited after export "
                             "— restore the file from the bundle's commit; to deploy another configuration, evaluate it, "
                             "promote it and export it")
        return self

    def _hash_parts(self) -> tuple[Any, ...]:
        return (self.prompt.sha256, self.model, self.seed, self.chunker, self.retrieval, self.corpus.hash, self.servers)

    def answering_hash(self) -> str:
        """The configuration's hash as this workbench computes it (``config_hash``)."""
        contents = model_contents([m.id for m in self.answering_models.values()], self.retrieval.embedding, self.weights, self.embedder)
        return config_hash(*self._hash_parts(), router=self.router, contents=contents)

    @property
    def answering_models(self) -> dict[str, ModelSpec]:
        """The models that answer, by their role in a run's ``workbench.models`` tag (``answering_models``)."""
        return answering_models(self.model, self.router)

    def price(self, model_id: str) -> Price | None:
        """The price the evaluated run's cost gave ``model_id`` (None: unknown, or not recorded in this bundle)."""
        found = (self.prices or {}).get(model_id)
        return None if found is None else found.price

    @property
    def model_label(self) -> str:
        """The answering model(s) as a report or a registry description names them."""
        def one(m: ModelSpec) -> str:
            return f"{m.id} ({m.settings_text})"

        if self.router is None:
            return one(self.model)
        return (f"router {self.router.name}: {one(self.router.cheap)} escalating to {one(self.router.strong)} when "
                f"{escalation_text(self.router.escalate_when)}")

    def earlier_hashes(self) -> tuple[str, ...]:
        """The hashes earlier workbenches gave this configuration, which registry versions and bundles of theirs hold:
        over the whole model (schema 1), and with the paths of its ``llamacpp:`` file and ``huggingface:`` folder
        (schemas 2 and 3; the same as this workbench's for any other configuration)."""
        if self.router is not None:  # no earlier workbench promoted a router: its hashes were of the cheap model alone
            return ()
        return tuple(dict.fromkeys((*self._hashes_of_schema(1), *self._hashes_of_schema(2))))

    def _hashes_of_schema(self, version: int) -> tuple[str, ...]:
        """The hashes a workbench writing schema ``version`` gave this configuration: schema 1's over the whole model,
        its hosted call's ``timeout_s`` too, and before models had ``cache`` (2026-12-02) without it (none could say
        cache: false); schema 2's and 3's with where its model file and embedding folder lay."""
        parts = self._hash_parts()
        if version >= 2:
            return (config_hash(*parts, schema_version=2),)
        whole = config_hash(*parts, schema_version=1)
        return (whole, config_hash(*parts, schema_version=1, model_fields_before=("cache",))) if self.model.cache else (whole,)

    def is_configuration(self, digest: str) -> bool:
        """Whether ``digest`` (a registry version's tag, an audit record's) is this configuration's hash, as this
        workbench or an earlier one computed it."""
        return digest == self.answering_hash() or digest in self.earlier_hashes()

    def current_schema(self, workbench: str | None) -> BundleConfig:
        """This config as this workbench writes it (its schema version and hash), written by ``workbench``."""
        data = {**self.model_dump(mode="json"), "schema_version": SCHEMA_VERSION, "workbench": workbench,
                "config_hash": self.answering_hash()}
        return BundleConfig.model_validate(data)

    def to_yaml(self) -> str:
        header = f"# yaml-language-server: $schema=./{CONFIG_SCHEMA_FILE}\n# Deployable RAG configuration exported by workbench.\n"
        return header + dump_yaml(self.model_dump(mode="json"))

    @classmethod
    def from_yaml(cls, text: str, *, source: str = CONFIG_FILE) -> BundleConfig:
        """Parse and validate; errors name the file, line and field.

        Raises:
            ValueError: one line, ``config.yaml:12: model.params.max_tokens: ...``.
        """
        try:
            # as PyYAML wrote it: a workbench before 2026-12-06 left text such as the variant id 43457e157336 bare
            node, data = read_yaml(text, yaml_1_1=True)
        except yaml.YAMLError as exc:
            raise ValueError(f"{source}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{source}:1: expected a mapping")
        check_yaml_shape(node, source)  # a SpecError is a ValueError
        newer = newer_schema(data, SCHEMA_VERSION, source)
        if newer is not None:
            raise ValueError(newer)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            if not err["loc"] and isinstance(err.get("ctx", {}).get("error"), ValueError):  # the file as a whole: its hash
                line = next((n for n, row in enumerate(text.splitlines(), start=1) if row.startswith("config_hash:")), 1)
                raise ValueError(f"{source}:{line}: {err['ctx']['error']}") from None
            raise ValueError(describe_validation_error(exc, source, node, cls)) from None

    def template(self, text: str, system: str = "") -> PromptTemplate:
        return PromptTemplate(self.prompt.name, text, system)

    def params(self) -> dict[str, str]:
        """Flat parameters (as shown on the registered model in MLflow)."""
        flat: dict[str, str] = {"prompt": self.prompt.name, "seed": str(self.seed), "corpus_hash": self.corpus.hash,
                                "dataset_hash": self.dataset.hash, "config_hash": self.config_hash}
        if self.prompt.registry_name:
            flat["prompt.registry"] = f"{self.prompt.registry_name}/{self.prompt.registry_version}"
        # as a variant run's params are (Variant.params)
        answering = ({"model": {"id": self.router.id}, "router": self.router.model_dump(mode="json")} if self.router is not None
                     else {"model": self.model.model_dump(mode="json")})
        flat.update(flat_params({**answering, **{part: getattr(self, part).model_dump(mode="json") for part in ("chunker", "retrieval")}}))
        return flat


def escalation_text(rule: EscalationSpec) -> str:
    """The signals a router escalates on, as a report reads them: ``retrieval_score_below 0.35, refusal_or_empty``."""
    return ", ".join(signal if value is True else f"{signal} {value:g}" for signal, value in rule.model_dump(exclude_defaults=True).items())


def answering_models(model: ModelSpec, router: RouterSpec | None) -> dict[str, ModelSpec]:
    """The models answering a configuration by their role in its run's ``workbench.models`` tag: ``generator``, or a
    router's ``cheap`` and ``strong`` (``model`` is then the cheap one)."""
    return {"generator": model} if router is None else {"cheap": router.cheap, "strong": router.strong}


def evaluated_prices(pricing: Mapping[str, PriceSpec], models: Iterable[ModelSpec]) -> dict[str, PriceSpec]:
    """The prices of ``models`` in their run's cost (pure): its experiment's ``pricing``, else the built-in table, as
    ``ExperimentSpec.price`` gives them; a model without a known price is left out."""
    found = {m.id: price_for(m.id, {k: v.price for k, v in pricing.items()}) for m in models}
    return {model_id: PriceSpec.of(price) for model_id, price in found.items() if price is not None}


def newer_schema(data: Mapping[str, Any], known: int, source: str) -> str | None:
    """Why a file of ``data`` cannot be read by this workbench, which reads its kind of file up to schema ``known``, or
    None: a newer workbench wrote it, with fields this one does not know (pydantic said "Extra inputs are not
    permitted" of the first one)."""
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version <= known:
        return None
    writer = data.get("workbench")
    by = f"workbench {writer}" if isinstance(writer, str) and writer else "a newer workbench"
    return (f"{source}: schema_version {version}, written by {by}, but this workbench ({installed_workbench() or 'not installed'}) "
            f"reads schema {known} or older — upgrade workbench where the bundle is loaded (pip install -U workbench, to "
            f"{writer if isinstance(writer, str) and writer else 'the version that exported it'} or newer), or export the "
            "bundle with this workbench")


def installed_version(package: str) -> str | None:
    """The installed version of ``package``, None when it is not installed."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def installed_workbench() -> str | None:
    """The installed version of workbench (None when it runs from a source tree that was never installed)."""
    return installed_version("workbench")


# what a model entry holds that cannot change an answer: a hosted call's time limit (a timed-out call is an error, not
# another answer), whether answers are cached, its name in variant names
_NOT_ANSWERING = {"params": {"timeout_s"}, "cache": True, "name": True}


def config_hash(
    prompt_sha256: str, model: ModelSpec, seed: int, chunker: ChunkerSpec, retrieval: RetrievalSpec, corpus_hash: str,
    servers: Mapping[str, str] | None = None, *, contents: Mapping[str, str] | None = None, schema_version: int = SCHEMA_VERSION,
    model_fields_before: tuple[str, ...] = (), router: RouterSpec | None = None,
) -> str:
    """Hash of what changes answers. The same configuration has the same hash whatever run or alias it came from;
    one evaluated on another server than its models' default ones (``servers``) is another configuration. A model's
    timeout, cache setting and name change no answer, so no hash: a configuration promoted to staging with another
    timeout is the one staged.

    A ``llamacpp:`` file and a ``huggingface:`` model folder count by their names and what they hold (``contents``:
    ``model_contents``), not where they lie: the configuration evaluated in a colleague's clone of the project, a CI
    runner's temp folder or a renamed project folder is the same configuration.

    ``schema_version=1`` hashes it as workbenches before 2026-12-06 did (the whole model entry, timeout and name too);
    ``model_fields_before`` then leaves those fields of the model out, as a workbench before them hashed it. Schemas 2
    and 3 hashed a model file's and folder's paths (``contents`` is then not read).

    A router's (``model`` its cheap model) covers its strong model and its escalation thresholds too, not its name; a
    single model's has no router part, so its hash is what it was before routers could be promoted."""
    def answering(m: ModelSpec) -> dict[str, Any]:
        dumped = (m.model_dump(mode="json", exclude=set(model_fields_before)) if schema_version == 1
                  else m.model_dump(mode="json", exclude=_NOT_ANSWERING))
        if schema_version >= 4:
            dumped["id"] = portable_model_id(m.id)
        return {**dumped, "kind": m.resolved_kind}

    retrieving = retrieval.model_dump(mode="json")
    if schema_version >= 4:
        retrieving["embedding"] = portable_model_id(retrieval.embedding)
    payload: dict[str, Any] = {
        "prompt": prompt_sha256,
        "model": answering(model),
        "seed": seed,
        "chunker": chunker.model_dump(mode="json"),
        "retrieval": retrieving,
        "corpus": corpus_hash,
    }
    if servers:  # left out when empty, so the hash of every configuration on default servers is what it was
        payload["servers"] = dict(servers)
    if contents and schema_version >= 4:  # left out as servers are: no other configuration's hash changes
        payload["contents"] = dict(contents)
    if router is not None:
        payload["router"] = {"cheap": answering(router.cheap), "strong": answering(router.strong),
                             "escalate_when": router.escalate_when.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def model_contents(model_ids: Sequence[str], embedding: str, weights: Mapping[str, str] | None, embedder: EmbedderInfo | None) -> dict[str, str]:
    """What a configuration's ``llamacpp:`` files (a router's two models may both be one) and ``huggingface:`` model
    folder hold, by their names (pure): ``portable_model_id`` -> the sha256 of the GGUF file (``weights``) or of the
    folder's files (``embedder``), for those recorded; {} for a configuration of neither.

    Two files of one name in different folders (``v1/model.gguf``, ``v2/model.gguf``) with different contents share a
    name: its value is then every file's sha256 in the order of ``model_ids`` (a router's cheap, then strong model), so
    neither file's content, nor which of them answers first, is left out of the hash."""
    found: dict[str, list[str]] = {}
    for model_id in model_ids:
        if model_id.startswith("llamacpp:") and model_id in (weights or {}):
            found.setdefault(portable_model_id(model_id), []).append((weights or {})[model_id])
    out = {name: shas[0] if len(set(shas)) == 1 else ",".join(shas) for name, shas in found.items()}
    folder = folder_sha256_of(embedder.identity) if embedder is not None and portable_model_id(embedding) != embedding else None
    if folder is not None:
        out[portable_model_id(embedding)] = folder
    return out


_GGUF_IDENTITY = re.compile(r"gguf:([0-9a-f]{64}):")


def gguf_sha256(identity: str) -> str | None:
    """The sha256 of the GGUF file named in a llama.cpp model's identity (``gguf:<sha256>:ctx2048:...``); None for any
    other model (a hosted one, a fake)."""
    found = _GGUF_IDENTITY.match(identity)
    return found.group(1) if found else None


_FOLDER_IDENTITY = re.compile(r"huggingface-folder:([0-9a-f]{64})(?:\||$)")


def folder_sha256_of(identity: str) -> str | None:
    """The sha256 of the model folder named in a ``huggingface:`` folder model's identity (``huggingface-folder:<sha256>
    |torch==...``, workbench.models.folder_sha256); None for any other model (one on the hub, a hosted one, a fake)."""
    found = _FOLDER_IDENTITY.match(identity)
    return found.group(1) if found else None


def to_mlflow_template(text: str) -> str:
    """Convert a workbench template (``{question}``, literal ``{{``) to MLflow's double-brace syntax (``{{question}}``)."""
    out = []
    for literal, field, _, _ in string.Formatter().parse(text):
        out.append(literal)
        if field is not None:
            out.append("{{" + field + "}}")
    return "".join(out)


# what MLflow's Prompt Registry reads as its own syntax in a prompt's text: a {{variable}}, and a Jinja2 tag
_REGISTRY_SYNTAX = ("{{", "{%")
_REGISTRY_MARK = re.compile(r"\{[{%]")


def _literals(text: str, fields: bool) -> list[tuple[str, str | None]]:
    """``text``'s literal parts as sent, each with the field after it (None at the end): the parser cuts a literal at
    each escaped brace (``{{`` is two parts, ``{`` and ``{``), so those are joined again."""
    if not fields:
        return [(text, None)]
    parts: list[tuple[str, str | None]] = []
    for literal, field, _, _ in string.Formatter().parse(text):
        if parts and parts[-1][1] is None:
            literal = parts.pop()[0] + literal
        parts.append((literal, field))
    return parts


def reads_as_registry_syntax(text: str, *, fields: bool = True) -> bool:
    """Whether ``text`` sends braces MLflow's Prompt Registry would read as its own: a literal ``{{name}}`` (a variable
    the registered prompt would ask for) or ``{% ... %}`` (a Jinja2 template). ``fields``: a template whose ``{question}``
    and ``{context}`` are filled in; else sent as written (a system message)."""
    return any(mark in literal for literal, _ in _literals(text, fields) for mark in _REGISTRY_SYNTAX)


def to_jinja_template(text: str, *, fields: bool = True) -> str:
    """``text`` as a Jinja2 template that MLflow's Prompt Registry renders to what workbench sends (pure): its literal
    parts in raw blocks (each ``{%`` and ``{{`` in them an expression of itself, so neither ends a block nor is listed
    among the prompt's variables), its fields ``{{ question }}``. For a prompt whose
    literal braces MLflow's own syntax would misread (``reads_as_registry_syntax``), which has no escape for them."""
    out = []
    for literal, field in _literals(text, fields):
        if literal:
            escaped = _REGISTRY_MARK.sub(lambda m: "{% endraw %}{{ '" + m.group(0) + "' }}{% raw %}", literal)
            out.append("{% raw %}" + escaped + "{% endraw %}")
        if field is not None:
            out.append("{{ " + field + " }}")
    return "".join(out)


def prompt_files(template: PromptTemplate) -> dict[str, str]:
    """The prompt's files in a bundle: ``prompts/<name>.txt`` and, when there is one, ``prompts/<name>.system.txt``."""
    files = {f"prompts/{template.name}.txt": template.text}
    if template.system:
        files[f"prompts/{template.name}.system.txt"] = template.system
    return files


def config_files(config: BundleConfig, template: PromptTemplate, documents: str | None = None) -> dict[str, bytes]:
    """``config.yaml``, its JSON schema, the prompt files and, for a corpus given in memory, its ``documents`` (JSONL):
    what is registered as the model's artifacts."""
    files = {name: text.encode() for name, text in prompt_files(template).items()}
    if config.corpus.file is not None and documents is not None:
        files[config.corpus.file] = documents.encode()
    files[CONFIG_FILE] = config.to_yaml().encode()
    files[CONFIG_SCHEMA_FILE] = (json.dumps(BundleConfig.model_json_schema(), indent=2) + "\n").encode()
    return files


# -- audit and manifest ------------------------------------------------------------------------------------------


class IntervalRecord(_Model):
    estimate: float | None
    low: float | None
    high: float | None
    n: int
    confidence: float = 0.95


class GateRecord(_Model):
    gate: str
    kind: str
    passed: bool
    value: float | None = None
    detail: str = ""
    interval: IntervalRecord | None = None


class AuditRecord(_Model):
    """Who promoted what, when, on which evidence; stored as a tag on the registry version and in every export."""

    action: Literal["promote"] = "promote"
    name: str
    alias: Environment
    version: str
    run_id: str
    config_hash: str
    user: str
    at: datetime = Field(description="UTC time of the promotion")
    gates_passed: bool
    gates: tuple[GateRecord, ...]
    override_reason: str | None = None
    require_staging: bool = True
    previous_version: str | None = Field(default=None, description="the alias holder this promotion replaced")

    def to_json(self) -> str:
        return self.model_dump_json()


class MetricRecord(_Model):
    """A metric of the promoted run; ``interval`` is a bootstrap interval over questions when available."""

    value: float | None
    interval: IntervalRecord | None = None


class RegistryRecord(_Model):
    tracking_uri: str = Field(description="the MLflow tracking URI, with any credentials removed")
    experiment_id: str
    run_id: str
    parent_run_id: str | None = None
    registered_model: str
    version: str
    logged_model_id: str | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None


class Manifest(_Model):
    """``manifest.json``: sha256 of every other file of the bundle, where it came from, its evidence and audit."""

    schema_version: Literal[1] = MANIFEST_SCHEMA_VERSION
    name: str
    alias: Environment
    config_hash: str
    exported_at: datetime
    exported_by: str
    mlflow: RegistryRecord
    metrics: dict[str, MetricRecord]
    gates: tuple[GateRecord, ...]
    audit: AuditRecord | None
    files: dict[str, str] = Field(description="path relative to the bundle folder -> sha256")

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=False) + "\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def gate_records(records: list[dict[str, Any]]) -> tuple[GateRecord, ...]:
    return tuple(GateRecord.model_validate(r) for r in records)
