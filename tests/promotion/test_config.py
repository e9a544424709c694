"""The bundle config: MLflow template syntax, hashing, YAML round trip with line-numbered errors."""

from __future__ import annotations

import pytest

from workbench.promotion import BundleConfig, config_hash, to_mlflow_template
from workbench.promotion._config import CorpusInfo, DatasetInfo, PromptRef, SourceInfo
from workbench.prompts import PromptTemplate
from workbench.spec import ChunkerSpec, EscalationSpec, ModelParams, ModelSpec, RetrievalSpec, RouterSpec


def test_template_converts_to_mlflow_double_braces_and_renders_the_same() -> None:
    from mlflow.entities.model_registry import PromptVersion

    text = "Context:\n{context}\nLiteral {{braces}} stay.\nQuestion: {question}\nAnswer:"
    converted = to_mlflow_template(text)
    assert converted == "Context:\n{{context}}\nLiteral {braces} stay.\nQuestion: {{question}}\nAnswer:"
    ours = PromptTemplate("p", text).render(question="What is pass?", context="pass does nothing").text
    theirs = PromptVersion("p", 1, converted).format(question="What is pass?", context="pass does nothing")
    assert theirs == ours


def make(**changes) -> BundleConfig:  # type: ignore[no-untyped-def]
    parts = dict(
        prompt_sha="p" * 64, model=ModelSpec(id="local:gemma3-270m", kind="completion", params=ModelParams(max_tokens=32)),
        seed=0, chunker=ChunkerSpec(strategy="recursive", size=500, overlap=50), retrieval=RetrievalSpec(k=3), corpus_hash="c" * 64,
    )
    parts.update(changes)
    digest = config_hash(parts["prompt_sha"], parts["model"], parts["seed"], parts["chunker"], parts["retrieval"], parts["corpus_hash"])
    return BundleConfig(
        name="assistant", config_hash=digest,
        prompt=PromptRef(name="grounded", file="prompts/grounded.txt", sha256=parts["prompt_sha"]),
        model=parts["model"], seed=parts["seed"], chunker=parts["chunker"], retrieval=parts["retrieval"],
        corpus=CorpusInfo(builtin="python-reference", hash=parts["corpus_hash"]),
        dataset=DatasetInfo(name="d", hash="d" * 64, cases=3),
        source=SourceInfo(run_id="r", experiment_id="1", variant_id="v", variant_name="n"),
    )


def test_config_hash_covers_what_changes_answers_only() -> None:
    base = make()
    assert make().config_hash == base.config_hash
    assert make(seed=1).config_hash != base.config_hash
    assert make(prompt_sha="q" * 64).config_hash != base.config_hash
    assert make(retrieval=RetrievalSpec(k=4)).config_hash != base.config_hash
    moved = base.model_copy(update={"dataset": DatasetInfo(name="other", hash="e" * 64, cases=9)})
    assert config_hash(moved.prompt.sha256, moved.model, moved.seed, moved.chunker, moved.retrieval, moved.corpus.hash) == base.config_hash


def test_yaml_round_trip_and_line_numbered_errors() -> None:
    config = make()
    text = config.to_yaml()
    assert text.startswith("# yaml-language-server: $schema=./config.schema.json")
    assert BundleConfig.from_yaml(text) == config
    edited = text.replace("max_tokens: 32", "max_tokens: 64")  # by hand, in the deployment repository
    line = next(i for i, l in enumerate(edited.splitlines(), start=1) if l.startswith("config_hash:"))
    # it said "config.yaml:3: spec: config_hash ... — the file was edited", at the first line, of an "experiment"
    with pytest.raises(ValueError, match=rf"^config\.yaml:{line}: config_hash \w{{12}} does not match the configuration \(\w{{12}}\): "
                                         r"what changes answers \(prompt, model, .*\) was edited after export — restore the file from "
                                         r"the bundle's commit; to deploy another configuration, evaluate it, promote it and export it$"):
        BundleConfig.from_yaml(edited)
    typo = text.replace("  k: 3", "  kk: 3")
    line = next(i for i, l in enumerate(typo.splitlines(), start=1) if l.startswith("  kk:"))
    with pytest.raises(ValueError, match=rf"config\.yaml:{line}: retrieval\.kk: unknown field"):
        BundleConfig.from_yaml(typo)
    twice = text.replace("  k: 3", "  k: 3\n  k: 5")
    with pytest.raises(ValueError, match=rf"config\.yaml:{line + 1}: 'k' is given twice in one mapping \(also on line {line}\)"):
        BundleConfig.from_yaml(twice)  # YAML would keep k: 5 silently


def _hash_as_written_before_model_cache(data: dict) -> str:  # type: ignore[type-arg]
    """config_hash as a workbench of 2026-11 computed it: the model's dump had no ``cache`` field."""
    import hashlib
    import json

    payload = {"prompt": data["prompt"]["sha256"], "model": {k: v for k, v in data["model"].items() if k != "cache"},
               "seed": data["seed"], "chunker": data["chunker"], "retrieval": data["retrieval"], "corpus": data["corpus"]["hash"]}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def test_a_config_written_before_models_had_cache_is_read_not_called_edited() -> None:
    # a bundle or registered version of a workbench before 2026-12-02 holds the hash of a model dump without 'cache':
    # load_bundle and workbench export refused it as 'config_hash ... does not match the configuration — the file was edited'
    import yaml

    data = yaml.safe_load(make().to_yaml())
    for field in ("chunking_revision", "chunks", "servers", "workbench", "embedder"):
        data.pop(field)
    data["schema_version"] = 1
    data["model"].pop("cache")
    data["config_hash"] = _hash_as_written_before_model_cache(data)
    old = BundleConfig.from_yaml(yaml.safe_dump(data, sort_keys=False))
    assert old.model.cache and old.config_hash == data["config_hash"]
    edited = {**data, "seed": 1}
    with pytest.raises(ValueError, match=r"does not match the configuration \(.*\): what changes answers .* was edited after export"):
        BundleConfig.from_yaml(yaml.safe_dump(edited, sort_keys=False))
    uncached = {**data, "model": {**data["model"], "cache": False}}  # no workbench of then could write it
    with pytest.raises(ValueError, match="does not match the configuration"):
        BundleConfig.from_yaml(yaml.safe_dump(uncached, sort_keys=False))


@pytest.mark.parametrize("text", ["43457e157336", "1e5", "+2E-3", ".5e3"])
def test_text_shaped_like_a_number_with_an_exponent_round_trips(text: str) -> None:
    # one variant id in about 300 (12 hex digits: digits around one 'e') was written bare, which YAML 1.1 reads as text
    # and workbench's YAML 1.2 reading as a number: promotion registered a config.yaml that workbench export and
    # load_bundle refused ("source.variant_id: expected text, got a number"); editors read it as a number too
    import yaml

    config = make().model_copy(update={"source": SourceInfo(run_id="r", experiment_id="1", variant_id=text, variant_name=text)})
    written = config.to_yaml()
    assert f"variant_id: '{text}'" in written
    assert BundleConfig.from_yaml(written) == config
    bare = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)  # as a workbench before the fix wrote it
    assert f"variant_id: {text}\n" in bare
    assert BundleConfig.from_yaml(bare) == config


def test_config_hash_leaves_out_what_cannot_change_an_answer() -> None:
    # a hosted call's timeout was hashed: a configuration staged with timeout_s 60 and evaluated again with 30 was
    # another configuration, and its promotion to production asked for staging again
    base = make()
    model = base.model
    for same in (model.model_copy(update={"params": model.params.model_copy(update={"timeout_s": 5.0})}),
                 model.model_copy(update={"params": model.params.model_copy(update={"timeout_s": None})}),
                 model.model_copy(update={"cache": False}), model.model_copy(update={"name": "gemma"})):
        assert make(model=same).config_hash == base.config_hash
    for other in (model.model_copy(update={"params": model.params.model_copy(update={"temperature": 0.7})}),
                  model.model_copy(update={"params": model.params.model_copy(update={"stop": ("###",)})}),
                  model.model_copy(update={"id": "openai:gpt-4o-mini", "kind": None})):
        assert make(model=other).config_hash != base.config_hash


def _fields(schema: dict, node: dict | None = None, prefix: str = "") -> set[str]:  # type: ignore[type-arg]
    """The field paths of a JSON schema (``model.params.timeout_s``), through references, unions and dicts."""
    node = schema if node is None else node
    if "$ref" in node:
        return _fields(schema, schema["$defs"][node["$ref"].rsplit("/", 1)[1]], prefix)
    found: set[str] = set()
    for branch in node.get("anyOf", []) + node.get("oneOf", []) + node.get("allOf", []):
        found |= _fields(schema, branch, prefix)
    for name, sub in node.get("properties", {}).items():
        found |= {f"{prefix}{name}"} | _fields(schema, sub, f"{prefix}{name}.")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            found |= _fields(schema, node[key], prefix)
    return found


# the fields of config.yaml and manifest.json at each schema version: an older workbench refuses a file with a field it
# does not know, so a new field must come with a new schema version, which it refuses in one line naming the writer
CONFIG_FIELDS_OF_SCHEMA_4 = {  # 4: the router's, and a config_hash of model files by name and content
    "schema_version", "workbench", "name", "config_hash", "servers", "weights", "generator", "generator.packages", "seed",
    "chunking_revision",
    "chunks", "chunks.count", "chunks.sha256",
    "prompt", "prompt.name", "prompt.file", "prompt.system_file", "prompt.sha256", "prompt.registry_name", "prompt.registry_version",
    "model", "model.id", "model.kind", "model.cache", "model.name",
    "model.params", "model.params.temperature", "model.params.max_tokens", "model.params.stop", "model.params.timeout_s",
    "chunker", "chunker.strategy", "chunker.size", "chunker.overlap",
    "retrieval", "retrieval.name", "retrieval.embedding", "retrieval.k", "retrieval.search", "retrieval.fetch_k", "retrieval.mmr_lambda",
    "embedder", "embedder.identity", "embedder.packages",
    "corpus", "corpus.builtin", "corpus.path", "corpus.file", "corpus.glob", "corpus.hash", "corpus.documents",
    "dataset", "dataset.name", "dataset.path", "dataset.hash", "dataset.cases",
    "source", "source.run_id", "source.experiment_id", "source.parent_run_id", "source.variant_id", "source.variant_name",
    # schema 4: a router's two models and when it escalates
    "router", "router.name", "router.escalate_when", "router.escalate_when.retrieval_score_below",
    "router.escalate_when.refusal_or_empty", "router.escalate_when.grounding_below",
    *(f"router.{role}{field}" for role in ("cheap", "strong") for field in (
        "", ".id", ".kind", ".cache", ".name", ".params", ".params.temperature", ".params.max_tokens", ".params.stop",
        ".params.timeout_s")),
}
# 5: the files a corpus folder's glob picks that are left out, a corpus file's own column names, the answering models'
# prices, sampler settings and context window (all before 0.3.0, the first release writing schema 5, was released: no released workbench reads a schema 5
# bundle without them)
_SAMPLER = ("top_p", "top_k", "min_p", "typical_p", "repeat_penalty", "presence_penalty", "frequency_penalty")
CONFIG_FIELDS_OF_SCHEMA_5 = CONFIG_FIELDS_OF_SCHEMA_4 | {"corpus.exclude", "corpus.columns", "prices", "prices.input", "prices.output", "prices.cached_input"} | {
    f"{model}{field}" for model in ("model", "router.cheap", "router.strong")
    for field in (".context_window", *(f".params.{setting}" for setting in _SAMPLER))}
MANIFEST_FIELDS_OF_SCHEMA_1 = {"schema_version", "name", "alias", "config_hash", "exported_at", "exported_by", "mlflow", "metrics",
                               "gates", "audit", "files"}


def test_a_field_added_to_a_bundle_comes_with_a_new_schema_version() -> None:
    from workbench.promotion import Manifest
    from workbench.promotion._config import MANIFEST_SCHEMA_VERSION, SCHEMA_VERSION

    # the model's, chunker's and retrieval's fields are the experiment's own: one added there is one of config.yaml's too
    assert (SCHEMA_VERSION, _fields(BundleConfig.model_json_schema())) == (5, CONFIG_FIELDS_OF_SCHEMA_5), (
        "config.yaml's fields changed: raise SCHEMA_VERSION and record its fields here")
    top = {f for f in _fields(Manifest.model_json_schema()) if "." not in f}
    assert (MANIFEST_SCHEMA_VERSION, top) == (1, MANIFEST_FIELDS_OF_SCHEMA_1), "manifest.json's fields changed: raise its schema version"


def test_a_new_bundle_schema_comes_with_a_new_workbench_release() -> None:
    # schemas 2, 3 and 4 were all written by "workbench 0.1.0": a 0.1.0 workbench that reads schema 3 refused a schema 4
    # bundle with "written by workbench 0.1.0, but this workbench (0.1.0) ... upgrade workbench to 0.1.0 or newer"
    import tomllib
    from pathlib import Path

    from packaging.version import Version

    import workbench
    from workbench.promotion._config import SCHEMA_RELEASES, SCHEMA_VERSION

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" in project.get("dynamic", []), "pyproject.toml reads the version from workbench.__version__ (one place)"
    assert sorted(SCHEMA_RELEASES) == list(range(1, SCHEMA_VERSION + 1)), "name the release that first writes each schema"
    assert Version(workbench.__version__) >= Version(SCHEMA_RELEASES[SCHEMA_VERSION])
    # from schema 4 on, each new schema is written first by a later release than the schema before it
    for schema in range(4, SCHEMA_VERSION + 1):
        assert Version(SCHEMA_RELEASES[schema]) > Version(SCHEMA_RELEASES[schema - 1]), (
            f"schema {schema}: raise workbench.__version__ and record it in SCHEMA_RELEASES")


def test_a_config_of_a_newer_schema_says_which_workbench_reads_it() -> None:
    # an older workbench given a newer bundle said "config.yaml:14: chunks: unknown field" (or "schema_version: Input
    # should be 1"), which reads as a damaged file rather than as "upgrade"
    import yaml

    data = {**yaml.safe_load(make().to_yaml()), "schema_version": 6, "workbench": "0.9.0", "reranker": {"id": "local:bge"}}
    with pytest.raises(ValueError, match=r"^config\.yaml: schema_version 6, written by workbench 0\.9\.0, but this workbench \(.+\) "
                                         r"reads schema 5 or older — upgrade workbench where the bundle is loaded \(pip install -U "
                                         r"workbench, to 0\.9\.0 or newer\), or export the bundle with this workbench$"):
        BundleConfig.from_yaml(yaml.safe_dump(data, sort_keys=False))
    del data["workbench"]
    with pytest.raises(ValueError, match=r"written by a newer workbench, .* to the version that exported it or newer\)"):
        BundleConfig.from_yaml(yaml.safe_dump(data, sort_keys=False))


# config.yaml as a workbench of 2026-12-05 wrote it (schema 1): no workbench nor embedder, and a config_hash over the
# whole model entry, its timeout_s too (PROMPT, CORPUS, CHUNKS and HASH filled in)
SCHEMA_1 = """\
# yaml-language-server: $schema=./config.schema.json
# Deployable RAG configuration exported by workbench.
schema_version: 1
name: assistant
config_hash: HASH
prompt:
  name: grounded
  file: prompts/grounded.txt
  system_file: null
  sha256: PROMPT
  registry_name: assistant-prompt
  registry_version: 1
model:
  id: local:gemma3-270m
  kind: completion
  params:
    temperature: 0.0
    max_tokens: 32
    stop: []
    timeout_s: 60.0
  cache: true
  name: null
servers: {}
weights: {}
seed: 0
chunker:
  strategy: recursive
  size: 500
  overlap: 50
chunking_revision: 7
chunks:
  count: 12
  sha256: CHUNKS
retrieval:
  k: 3
corpus:
  builtin: python-reference
  path: null
  file: null
  glob: '**/*.md'
  hash: CORPUS
  documents: 40
dataset:
  name: d
  path: ''
  hash: DATASET
  cases: 3
source:
  run_id: r
  experiment_id: '1'
  parent_run_id: null
  variant_id: v
  variant_name: n
"""


def _schema_1(*, timeout_s: str = "60.0") -> str:
    import hashlib
    import json

    import yaml

    text = (SCHEMA_1.replace("PROMPT", "p" * 64).replace("CORPUS", "c" * 64).replace("CHUNKS", "a" * 64)
            .replace("DATASET", "d" * 64).replace("timeout_s: 60.0", f"timeout_s: {timeout_s}"))
    data = yaml.safe_load(text.replace("HASH", "x"))
    model = ModelSpec.model_validate(data["model"]).model_dump(mode="json")  # the spec's defaults filled in, as hashed then
    chunker, retrieval = (spec.model_validate(data[part]).model_dump(mode="json")
                          for spec, part in ((ChunkerSpec, "chunker"), (RetrievalSpec, "retrieval")))
    payload = {"prompt": "p" * 64, "model": {**model, "kind": "completion"}, "seed": 0, "chunker": chunker, "retrieval": retrieval,
               "corpus": "c" * 64}
    return text.replace("HASH", hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest())


def test_a_config_of_schema_1_is_read_and_written_as_this_workbench_writes_it() -> None:
    old = BundleConfig.from_yaml(_schema_1())
    assert (old.schema_version, old.workbench, old.embedder, old.model.params.timeout_s) == (1, None, None, 60.0)
    assert old.config_hash in old.earlier_hashes() and old.is_configuration(old.answering_hash())
    # its configuration evaluated again with another timeout is the same configuration
    assert BundleConfig.from_yaml(_schema_1(timeout_s="5.0")).answering_hash() == old.answering_hash()
    now = old.current_schema("9.9.9")
    assert (now.schema_version, now.workbench, now.config_hash) == (5, "9.9.9", old.answering_hash())
    assert BundleConfig.from_yaml(now.to_yaml()) == now
    with pytest.raises(ValueError, match=r"config\.yaml:\d+: config_hash .*does not match the configuration .* was edited after export"):
        BundleConfig.from_yaml(_schema_1().replace("max_tokens: 32", "max_tokens: 64"))
    with pytest.raises(ValueError, match="does not match the configuration"):  # schema 2 hashes otherwise
        BundleConfig.from_yaml(_schema_1().replace("schema_version: 1", "schema_version: 2"))


def test_a_config_of_schema_2_is_read_and_a_workbench_of_schema_2_says_to_upgrade_for_one_pinning_its_generator() -> None:
    # config.yaml gained generator: (the llama-cpp-python running a GGUF model); a workbench reading schema 2 refuses
    # fields it does not know ("Extra inputs are not permitted"), so it is schema 3, which such a workbench names
    import yaml

    from workbench.promotion._config import GeneratorInfo, newer_schema

    pinned = make().model_copy(update={"generator": GeneratorInfo(packages={"llama-cpp-python": "0.3.16"})})
    written = yaml.safe_load(pinned.to_yaml())
    assert written["generator"] == {"packages": {"llama-cpp-python": "0.3.16"}}
    assert newer_schema(written, 2, "config.yaml") is not None and "schema_version 5" in newer_schema(written, 2, "config.yaml")
    # as the previous workbench wrote it: schema 2, no generator, hashed as this one hashes
    before = {k: v for k, v in written.items() if k != "generator"} | {"schema_version": 2}
    old = BundleConfig.from_yaml(yaml.safe_dump(before, sort_keys=False))
    assert (old.schema_version, old.generator, old.config_hash) == (2, None, pinned.config_hash)
    assert old.current_schema("9.9.9").schema_version == 5


ROUTER = RouterSpec(
    name="smol-then-gemma", cheap=ModelSpec(id="local:smollm2-135m-instruct", kind="chat", params=ModelParams(max_tokens=32)),
    strong=ModelSpec(id="local:gemma3-270m", kind="completion", params=ModelParams(max_tokens=32)),
    escalate_when=EscalationSpec(retrieval_score_below=0.35, refusal_or_empty=True, grounding_below=0.5),
)


def routed(router: RouterSpec = ROUTER) -> BundleConfig:
    """A router's config: its cheap model answers first (``model``), the router says the rest."""
    base = make(model=router.cheap)
    digest = config_hash(base.prompt.sha256, router.cheap, base.seed, base.chunker, base.retrieval, base.corpus.hash, router=router)
    return base.model_copy(update={"router": router, "config_hash": digest})


def test_a_routers_config_hash_covers_both_models_and_its_policy_and_round_trips() -> None:
    base = routed()
    assert BundleConfig.from_yaml(base.to_yaml()) == base
    assert base.config_hash != make(model=ROUTER.cheap).config_hash  # the cheap model alone is another configuration
    rule = ROUTER.escalate_when
    for other in (ROUTER.model_copy(update={"escalate_when": rule.model_copy(update={"grounding_below": 0.4})}),
                  ROUTER.model_copy(update={"escalate_when": rule.model_copy(update={"refusal_or_empty": False})}),
                  ROUTER.model_copy(update={"strong": ROUTER.strong.model_copy(update={"params": ModelParams(max_tokens=64)})}),
                  ROUTER.model_copy(update={"strong": ROUTER.strong.model_copy(update={"id": "openai:gpt-4o-mini", "kind": None})})):
        assert routed(other).config_hash != base.config_hash
    # its name and a model's timeout change no answer
    same = ROUTER.model_copy(update={"name": "renamed", "strong": ROUTER.strong.model_copy(update={"params": ModelParams(max_tokens=32, timeout_s=5)})})
    assert routed(same).config_hash == base.config_hash
    edited = base.to_yaml().replace("grounding_below: 0.5", "grounding_below: 0.1")
    with pytest.raises(ValueError, match=r"config\.yaml:\d+: config_hash .* does not match the configuration"):
        BundleConfig.from_yaml(edited)
    with pytest.raises(ValueError, match=r"model: .* a router's cheap model"):
        BundleConfig.model_validate({**base.model_dump(), "model": ROUTER.strong.model_dump()})


def test_a_promoted_routers_logged_model_has_the_model_id_param_every_configuration_has() -> None:
    """The MLflow UI's Models tab lines logged models up by param, as its run table does runs: a router's had no
    ``model.id`` (only ``router.*``), so a lead sorting promoted configurations by model lost the router among them."""
    params = routed().params()
    assert params["model.id"] == "router:smol-then-gemma" and params["model.id"] == routed().router.id  # type: ignore[union-attr]
    assert params["router.cheap.id"] == "local:smollm2-135m-instruct" and params["router.strong.id"] == "local:gemma3-270m"
    assert make(model=ROUTER.cheap).params()["model.id"] == "local:smollm2-135m-instruct"


def test_a_router_bundle_is_schema_4_which_a_workbench_of_schema_3_refuses_in_one_line() -> None:
    import yaml

    from workbench.promotion._config import newer_schema

    written = yaml.safe_load(routed().to_yaml())
    assert written["schema_version"] == 5 and written["router"]["escalate_when"]["grounding_below"] == 0.5
    refusal = newer_schema(written, 3, "config.yaml")
    assert refusal is not None and "schema_version 5" in refusal and "\n" not in refusal


def _registered_renders(template: PromptTemplate) -> tuple[object, object]:
    """What MLflow's Prompt Registry gives for the prompt workbench registers (``PromptVersion.format``), and what the
    evaluated template sent: the registry's text, or its two chat messages as dicts."""
    from mlflow.entities.model_registry import PromptVersion

    from workbench.promotion._registry import _registry_content

    question, context = "What is {x}?", "Docs say {{ y }} and {% z %}."
    theirs = PromptVersion("p", 1, _registry_content(template)).format(question=question, context=context)
    sent = template.render(question=question, context=context)
    ours: object = sent.text if not template.system else [
        {"role": "system", "content": template.system}, {"role": "user", "content": sent.messages[-1][1]}]
    return theirs, ours


@pytest.mark.parametrize(("text", "system"), [
    ("Fill the slot {{{{name}}}} from:\n{context}\nQ: {question}\nA:", ""),  # a literal {{name}}: a variable to MLflow
    ("Django tags such as {{% if user %}} and {{{{ user.name }}}}:\n{context}\nQ: {question}\nA:\n", ""),  # Jinja to MLflow
    ("{context}\nQ: {question}\nA:", "Answer about Django templates: {% for x in items %}{{ x.title }}{% endfor %}"),
    ("{context}\nQ: {question}\nA:", "Never write {{placeholders}}; a literal {{{ stays."),
], ids=["double-braces", "jinja-tags", "system-jinja", "system-double-braces"])
def test_the_registered_prompt_renders_what_the_evaluated_template_sent(text: str, system: str) -> None:
    # a template or system message holding braces MLflow reads as its own syntax (a literal {{name}} a variable, a
    # {% ... %} a Jinja2 template) was registered as written: the Prompt Registry's prompt asked for variables the
    # template never had ("Missing variables: {'name'}") or rendered the Jinja2 tags, not the evaluated text
    theirs, ours = _registered_renders(PromptTemplate("p", text, system))
    assert theirs == ours


def test_an_ordinary_template_is_registered_in_mlflows_own_syntax() -> None:
    from workbench.promotion._registry import _registry_content

    template = PromptTemplate("p", "Context: {context} (JSON like {{\"k\": 1}})\nQ: {question}\nA:", "Be brief {ok}.")
    assert _registry_content(template) == [{"role": "system", "content": "Be brief {ok}."},
                                           {"role": "user", "content": "Context: {{context}} (JSON like {\"k\": 1})\nQ: {{question}}\nA:"}]
    theirs, ours = _registered_renders(template)
    assert theirs == ours


def test_a_prompt_registered_as_jinja_lists_only_the_templates_own_variables() -> None:
    from mlflow.entities.model_registry import PromptVersion

    from workbench.promotion._registry import _registry_content

    template = PromptTemplate("p", "Slot {{{{name}}}} {{% if x %}}\n{context}\nQ: {question}\nA:", "See {{ user.name }}.")
    assert PromptVersion("p", 1, _registry_content(template)).variables == {"context", "question"}
