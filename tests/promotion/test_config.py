"""The bundle config: MLflow template syntax, hashing, YAML round trip with line-numbered errors."""

from __future__ import annotations

import pytest

from workbench.promotion import BundleConfig, config_hash, to_mlflow_template
from workbench.promotion._config import CorpusInfo, DatasetInfo, PromptRef, SourceInfo
from workbench.prompts import PromptTemplate
from workbench.spec import ChunkerSpec, ModelParams, ModelSpec, RetrievalSpec


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
    edited = text.replace("max_tokens: 32", "max_tokens: 64")
    with pytest.raises(ValueError, match=r"config\.yaml:\d+: .*does not match the configuration"):
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
    for field in ("chunking_revision", "chunks", "servers"):
        data.pop(field)
    data["model"].pop("cache")
    data["config_hash"] = _hash_as_written_before_model_cache(data)
    old = BundleConfig.from_yaml(yaml.safe_dump(data, sort_keys=False))
    assert old.model.cache and old.config_hash == data["config_hash"]
    edited = {**data, "seed": 1}
    with pytest.raises(ValueError, match=r"does not match the configuration \(.*\) — the file was edited"):
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
