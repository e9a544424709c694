"""The same experiment in another clone of the project, at another path, is the same experiment: a team sharing one
tracking store and one cache/index home reuses each other's runs and indexes and registers one configuration."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from tests.conftest import copy_store
from tests.promotion.conftest import CASES, DOCS, GOOD, scripted_answer
from workbench.config import Settings, settings
from workbench.promotion import build_bundle
from workbench.testing import ScriptedModel

EASY = [{"kind": "min_questions", "n": 1}]
EXPERIMENT = """\
name: portable
dataset: {path: data/cases.jsonl}
corpus: {path: docs}
prompts: [{name: good, file: prompts/good.txt}]
models: [{id: llamacpp:models/m.gguf, params: {max_tokens: 16}}]
chunkers: [{strategy: recursive, size: 200, overlap: 20}]
retrieval: [{k: 2, embedding: "huggingface:models/emb"}]
scorers: [token_f1, hit_at_k]
execution: {isolation: none}
"""


def _project(folder: Path, sentence_transformers_folder: Callable[[Path, bytes], Path]) -> Path:
    """A project folder: its experiment file, with every path in it relative to the file."""
    (folder / "docs").mkdir(parents=True)
    for doc_id, text in DOCS.items():
        (folder / "docs" / f"{doc_id}.md").write_text(text, encoding="utf-8")
    (folder / "data").mkdir()
    (folder / "data" / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CASES), encoding="utf-8")
    (folder / "prompts").mkdir()
    (folder / "prompts" / "good.txt").write_text(GOOD, encoding="utf-8")
    (folder / "models").mkdir()
    (folder / "models" / "m.gguf").write_bytes(b"GGUF weights v1")
    sentence_transformers_folder(folder / "models" / "emb", b"embedding weights v1")
    (folder / "experiment.yaml").write_text(EXPERIMENT, encoding="utf-8")
    return folder


class Clone:
    """A sweep of a clone's experiment file, with its GGUF model faked (its identity: the file's sha256, as llama.cpp's)."""

    def __init__(self, folder: Path, cfg: Settings) -> None:
        self.folder, self.cfg = folder, cfg
        gguf = folder / "models" / "m.gguf"
        digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
        self.model = ScriptedModel(scripted_answer, model_id=f"llamacpp:{gguf}", identity=f"gguf:{digest}:ctx2048")
        self.events: list[str] = []

    def run(self, *, fresh: bool = False) -> wb.SweepResult:
        self.events.clear()
        result = wb.run(self.folder / "experiment.yaml", settings=self.cfg, models={self.model.model_id: self.model}, progress=False,
                        on_event=lambda e: self.events.append(e.kind), fresh=fresh)
        assert [v.status for v in result.variants] == ["FINISHED"], [v.outcome.error for v in result.variants]
        return result

    def promote(self, result: wb.SweepResult | str, name: str) -> Any:
        run_id = result if isinstance(result, str) else result.variants[0].run_id
        wb.promote(run_id, name=name, alias="staging", gates=EASY, settings=self.cfg)
        _, config, _, _ = build_bundle(name, "staging", settings=self.cfg)
        return config


@pytest.fixture
def shared(tmp_path: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """One tracking store and one index/cache home for the whole team."""
    monkeypatch.setenv("WORKBENCH_USER", "alice")
    home = tmp_path / "team"
    return settings(root=home, tracking_uri=copy_store(empty_store, home))


@pytest.fixture
def clones(tmp_path: Path, shared: Settings, sentence_transformers_folder: Callable[[Path, bytes], Path]) -> tuple[Clone, Clone]:
    """Alice's clone of the project and Bob's, at other paths, sharing the team's store and home."""
    return (Clone(_project(tmp_path / "home" / "alice" / "proj", sentence_transformers_folder), shared),
            Clone(_project(tmp_path / "srv" / "bob" / "work" / "proj", sentence_transformers_folder), shared))


@pytest.mark.usefixtures("huggingface_embeddings")
def test_a_clone_at_another_path_reuses_every_run_and_index_and_registers_the_same_configuration(
    clones: tuple[Clone, Clone],
) -> None:
    alice, bob = clones
    first = alice.run()
    assert alice.model.calls and "index_started" in alice.events
    second = bob.run()
    assert second.variants[0].variant.id == first.variants[0].variant.id
    assert second.variants[0].reused_from == first.variants[0].run_id
    assert not bob.model.calls and "index_started" not in bob.events
    assert alice.promote(first, "portable-a").config_hash == bob.promote(second, "portable-b").config_hash


@pytest.mark.usefixtures("huggingface_embeddings")
def test_a_configuration_computed_in_two_clones_has_one_config_hash(
    shared: Settings, clones: tuple[Clone, Clone],
) -> None:
    """config_hash held the absolute path of the llamacpp: file and huggingface: folder: bob's run of the configuration
    alice registered, computed in his clone (fresh, or a CI runner's temp folder), was registered as another one."""
    alice, bob = clones
    first, second = alice.run(), bob.run(fresh=True)
    assert second.variants[0].reused_from is None
    theirs, his = alice.promote(first, "portable-a"), bob.promote(second, "portable-b")
    assert his.model.id != theirs.model.id and his.config_hash == theirs.config_hash
    # other weights in a file of the same name are another configuration
    (bob.folder / "models" / "m.gguf").write_bytes(b"GGUF weights v2")
    other = Clone(bob.folder, shared)
    assert other.promote(other.run(), "portable-c").config_hash != theirs.config_hash


@pytest.mark.usefixtures("huggingface_embeddings")
def test_a_renamed_project_folder_reuses_every_run_and_index(
    tmp_path: Path, shared: Settings, sentence_transformers_folder: Callable[[Path, bytes], Path],
) -> None:
    before = Clone(_project(tmp_path / "proj", sentence_transformers_folder), shared)
    first = before.run()
    after = Clone(before.folder.rename(tmp_path / "proj-renamed"), shared)
    again = after.run()
    assert again.variants[0].reused_from == first.variants[0].run_id
    assert not after.model.calls and "index_started" not in after.events


@pytest.mark.usefixtures("huggingface_embeddings")
def test_a_run_whose_index_key_holds_its_folder_path_is_still_promoted(
    tmp_path: Path, shared: Settings, sentence_transformers_folder: Callable[[Path, bytes], Path],
) -> None:
    """A run logged before index keys left out where a huggingface: folder lies holds the folder's path in its
    workbench.index_key tag: it was cut by this chunking revision, not stale."""
    from mlflow import MlflowClient

    from workbench.grid import index_key

    clone = Clone(_project(tmp_path / "proj", sentence_transformers_folder), shared)
    variant = clone.run().variants[0]
    older = index_key(variant.variant.chunker, variant.variant.retrieval.embedding, portable=False)
    assert older != variant.variant.index_key
    MlflowClient(shared.tracking_uri).set_tag(variant.run_id, "workbench.index_key", older)
    assert variant.run_id is not None and clone.promote(variant.run_id, "portable-old").source.run_id == variant.run_id


def _config_at(where: str, *, schema_version: int = 4, weights: str = "a" * 64, folder: str = "b" * 64) -> Any:
    """A bundle config of a GGUF file and an embedding folder in a project at ``where``, hashed as ``schema_version``
    wrote it (2 and 3: with their paths)."""
    from workbench.promotion._config import BundleConfig, config_hash, model_contents
    from workbench.spec import ChunkerSpec, ModelSpec, RetrievalSpec

    model = ModelSpec(id=f"llamacpp:{where}/models/m.gguf", kind="completion")
    retrieval = RetrievalSpec(k=2, embedding=f"huggingface:{where}/models/emb")
    embedder = {"identity": f"huggingface-folder:{folder}|torch==2.5.0", "packages": {}}
    contents = model_contents([model.id], retrieval.embedding, {model.id: weights}, None)
    contents["huggingface:emb"] = folder
    chunker = ChunkerSpec(strategy="recursive", size=200, overlap=20)
    digest = config_hash("p" * 64, model, 0, chunker, retrieval, "c" * 64, contents=contents, schema_version=schema_version)
    return BundleConfig.model_validate({
        "schema_version": schema_version, "name": "portable", "config_hash": digest, "weights": {model.id: weights},
        "embedder": embedder, "prompt": {"name": "good", "file": "prompts/good.txt", "sha256": "p" * 64},
        "model": model.model_dump(mode="json"), "chunker": chunker.model_dump(mode="json"), "retrieval": retrieval.model_dump(mode="json"),
        "corpus": {"path": "docs", "hash": "c" * 64}, "dataset": {"name": "d", "hash": "d" * 64, "cases": 5},
        "source": {"run_id": "r", "experiment_id": "1", "variant_id": "v", "variant_name": "n"},
    })


def test_config_hash_names_model_files_by_name_and_content_and_still_knows_the_hashes_with_their_paths() -> None:
    alice, bob = _config_at("/home/alice/proj"), _config_at("/srv/bob/work/proj")
    assert alice.config_hash == bob.config_hash
    assert _config_at("/srv/bob/work/proj", weights="e" * 64).config_hash != alice.config_hash
    assert _config_at("/srv/bob/work/proj", folder="f" * 64).config_hash != alice.config_hash
    # a bundle or registry version of an earlier workbench holds the hash with the paths: still this configuration
    for schema in (2, 3):
        old = _config_at("/home/alice/proj", schema_version=schema)
        assert old.config_hash != alice.config_hash and alice.is_configuration(old.config_hash) and old.config_hash in alice.earlier_hashes()
        assert old.current_schema("9.9.9").config_hash == alice.config_hash
    assert not bob.is_configuration(_config_at("/home/alice/proj", schema_version=3, weights="e" * 64).config_hash)


@pytest.mark.usefixtures("huggingface_embeddings")
def test_a_version_an_earlier_workbench_staged_with_its_paths_in_its_hash_goes_to_production(
    tmp_path: Path, shared: Settings, sentence_transformers_folder: Callable[[Path, bytes], Path],
) -> None:
    from mlflow import MlflowClient

    clone = Clone(_project(tmp_path / "proj", sentence_transformers_folder), shared)
    run_id = clone.run().variants[0].run_id
    assert run_id is not None
    config = clone.promote(run_id, "portable-up")
    (with_paths,) = config._hashes_of_schema(3)
    assert with_paths != config.config_hash
    MlflowClient(shared.tracking_uri).set_model_version_tag("portable-up", "1", "workbench.config_hash", with_paths)  # as it registered it
    promoted = wb.promote(run_id, name="portable-up", alias="production", gates=EASY, settings=shared)
    assert promoted.version == "1"


@pytest.mark.usefixtures("huggingface_embeddings")
def test_a_bundle_exported_from_one_clone_loads_in_another(
    tmp_path: Path, shared: Settings, clones: tuple[Clone, Clone],
) -> None:
    alice, bob = clones
    alice.promote(alice.run(), "portable-x")
    files, config, _, _ = build_bundle("portable-x", "staging", settings=shared)
    for rel, data in files.items():
        (tmp_path / "bundle" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "bundle" / rel).write_bytes(data)
    shutil.rmtree(alice.folder)  # alice's machine: not this one
    bundle = wb.load_bundle(tmp_path / "bundle", corpus_path=bob.folder / "docs", model_path=bob.folder / "models" / "m.gguf",
                            embedding_path=bob.folder / "models" / "emb", index_dir=tmp_path / "index", models={config.model.id: bob.model})
    assert bundle.answer(CASES[0]["question"]).answer == CASES[0]["reference"]


@pytest.mark.usefixtures("huggingface_embeddings")
def test_a_sweep_in_a_fresh_checkout_logs_its_commit_clean(
    tmp_path: Path, shared: Settings, sentence_transformers_folder: Callable[[Path, bytes], Path],
) -> None:
    """The sha256 of each file of a huggingface: model folder is kept beside it (<file>.sha256.json): written into the
    project's models/ folder by the sweep, it made a CI runner's fresh checkout a changed one, its runs tagged -dirty."""
    import subprocess

    from mlflow import MlflowClient

    clone = Clone(_project(tmp_path / "proj", sentence_transformers_folder), shared)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "project"]):
        subprocess.run(["git", *args], cwd=clone.folder, check=True)
    result = clone.run()
    commit = MlflowClient(shared.tracking_uri).get_run(result.parent_run_id).data.tags["workbench.git_commit"]
    assert not commit.endswith("-dirty") and commit != "unknown", commit
    assert subprocess.run(["git", "status", "--porcelain"], cwd=clone.folder, capture_output=True, text=True).stdout == ""


@pytest.mark.usefixtures("huggingface_embeddings")
def test_two_embedding_folders_of_one_name_are_two_indexes(
    tmp_path: Path, shared: Settings, sentence_transformers_folder: Callable[[Path, bytes], Path],
) -> None:
    """Index keys name a folder by its name: models/a/emb and models/b/emb of one experiment still retrieve each from
    the index its own weights built."""
    clone = Clone(_project(tmp_path / "proj", sentence_transformers_folder), shared)
    for kind in ("base", "tuned"):
        sentence_transformers_folder(clone.folder / "models" / kind / "emb", f"{kind} weights".encode())
    (clone.folder / "experiment.yaml").write_text(EXPERIMENT.replace(
        'retrieval: [{k: 2, embedding: "huggingface:models/emb"}]',
        'retrieval: [{k: 2, embedding: "huggingface:models/base/emb", name: base}, {k: 2, embedding: "huggingface:models/tuned/emb", name: tuned}]',
    ), encoding="utf-8")
    result = wb.run(clone.folder / "experiment.yaml", settings=shared, models={clone.model.model_id: clone.model}, progress=False,
                    on_event=lambda e: clone.events.append(e.kind))
    assert [v.status for v in result.variants] == ["FINISHED"] * 2
    assert clone.events.count("index_started") == 2


def test_a_routers_two_model_files_of_one_name_both_count_in_its_config_hash() -> None:
    # v1/model.gguf and v2/model.gguf are both "llamacpp:model.gguf" without their folders: only the last file's sha256
    # was hashed, so a router staged with another cheap model, or its two models swapped, had the same config_hash
    from workbench.promotion._config import config_hash, model_contents
    from workbench.spec import ChunkerSpec, EscalationSpec, ModelSpec, RetrievalSpec, RouterSpec

    cheap, strong = (ModelSpec(id=f"llamacpp:/models/{v}/model.gguf", kind="completion") for v in ("v1", "v2"))
    retrieval, chunker = RetrievalSpec(k=2), ChunkerSpec(strategy="recursive", size=200, overlap=20)

    def digest(weights: dict[str, str], *, swapped: bool = False) -> str:
        first, second = (strong, cheap) if swapped else (cheap, strong)
        router = RouterSpec(name="r", cheap=first, strong=second, escalate_when=EscalationSpec(retrieval_score_below=0.3))
        contents = model_contents([first.id, second.id], retrieval.embedding, weights, None)
        return config_hash("p" * 64, first, 0, chunker, retrieval, "c" * 64, contents=contents, router=router)

    evaluated = digest({cheap.id: "a" * 64, strong.id: "b" * 64})
    assert evaluated != digest({cheap.id: "a" * 64, strong.id: "e" * 64})  # the strong model's file changed
    assert evaluated != digest({cheap.id: "e" * 64, strong.id: "b" * 64})  # the cheap one's
    assert evaluated != digest({cheap.id: "a" * 64, strong.id: "b" * 64}, swapped=True)  # the two models swapped
    one_file = {cheap.id: "a" * 64, strong.id: "a" * 64}  # the same file in both folders: its name and content, once
    assert model_contents([cheap.id, strong.id], retrieval.embedding, one_file, None) == {"llamacpp:model.gguf": "a" * 64}
