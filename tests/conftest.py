"""Shared fixtures. Network access is blocked for every test (loopback stays open for local servers)."""

from __future__ import annotations

import os
import signal
import socket
import sys
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    # several pytest workers share the cores: one thread each for llama.cpp and torch, instead of each oversubscribing
    # them (llama.cpp on a busy core is several times slower); answers do not depend on the thread count
    os.environ.setdefault("WORKBENCH_LLAMA_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
# a sweep's comparison plots (matplotlib: about half of a small sweep's time) are logged by the tests that check them
# (they set WORKBENCH_PLOTS=1); `WORKBENCH_PLOTS=1 make test` logs them in every sweep
os.environ.setdefault("WORKBENCH_PLOTS", "0")
# the MLflow servers tests start (`workbench server`, the browser test's UI) run no job runner: 8 processes and 25 s of
# CPU at each start, for jobs no test launches
os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")

import workbench  # noqa: F401  (telemetry off before anything else is imported)
from workbench.config import Settings, settings
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.testing import HashingEmbedder, ScriptedModel

from ._answers import echo_context_answer

ROOT = Path(__file__).resolve().parents[1]

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("127."):
        raise OSError(f"network access blocked in tests: {address!r}")
    return _real_connect(self, address)  # type: ignore[arg-type]


_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# pytest's own, and what libraries set when first imported (scikit-learn the KMP_ pair, torch's compiler its cache
# folder, ray RAY_CLIENT_MODE): the first test to import them is not to blame
_NOT_THE_TESTS = frozenset({"PYTEST_CURRENT_TEST", "KMP_DUPLICATE_LIB_OK", "KMP_INIT_AT_FORK", "TORCHINDUCTOR_CACHE_DIR", "RAY_CLIENT_MODE"})


def _environment() -> dict[bytes, bytes]:
    """os.environ as its bytes, without pytest's own variable: copied and compared without decoding every variable
    (30 us a test, not 150)."""
    env = dict(os.environ._data)  # type: ignore[attr-defined]
    env.pop(b"PYTEST_CURRENT_TEST", None)
    return env


@pytest.fixture(autouse=True)
def _leaves_the_process_as_found() -> Iterator[None]:
    """Fail a test that leaves a SIGTERM/SIGINT handler, an environment variable or the working directory changed: the
    next test file in the same pytest worker (which files share one changes from run to run) starts from it. Set up
    before ``monkeypatch`` (``_block_network`` asks for it first), so it checks after monkeypatch has undone its changes."""
    handlers, env, cwd = [signal.getsignal(s) for s in _SIGNALS], _environment(), os.getcwd()
    yield
    left = [f"{signal.Signals(s).name} handler {h!r}" for s, h, was in zip(_SIGNALS, map(signal.getsignal, _SIGNALS), handlers) if h != was]
    if _environment() != env:
        was = {os.fsdecode(k): os.fsdecode(v) for k, v in env.items()}
        left += [f"${k}={os.environ.get(k, '<unset>')!r} (was {was.get(k, '<unset>')!r})" for k in sorted(set(was) | set(os.environ))
                 if k not in _NOT_THE_TESTS and was.get(k) != os.environ.get(k)]
    if os.getcwd() != cwd:
        left.append(f"cwd {os.getcwd()} (was {cwd})")
    if left:
        pytest.fail("the test left the process changed (restore it: monkeypatch, or a fixture that puts it back): " + "; ".join(left))


@pytest.fixture(autouse=True)
def _block_network(_leaves_the_process_as_found: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


_TEMP = f"sqlite:///{os.path.realpath(tempfile.gettempdir())}{os.sep}"
_ENGINE_MAPS = ("mlflow.store.tracking.sqlalchemy_store", "mlflow.store.model_registry.sqlalchemy_store")


@pytest.fixture(autouse=True)
def _releases_test_stores() -> Iterator[None]:
    """After each test, close the idle connections MLflow's engines keep to sqlite stores in the temp folder (the
    tests' stores): the workbench lets go of those it used, but a test's own MlflowClient reads kept 3 to 5 files of
    each store open, and a pytest worker running a few hundred such tests passed its limit of 1024 open files. The
    engines stay (a session fixture's store just opens a connection again)."""
    yield
    for name in _ENGINE_MAPS:
        module = sys.modules.get(name)
        if module is None:
            continue
        for uri, engine in list(module.SqlAlchemyStore._engine_map.items()):
            idle = getattr(engine.pool, "checkedin", None)  # a QueuePool's idle connections (first: the cheap test)
            if idle is not None and idle() and uri.startswith("sqlite:///") and f"sqlite:///{os.path.realpath(uri[10:])}".startswith(_TEMP):
                engine.dispose()


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new MLflow sqlite store, made once by MLflow itself; tests get copies (``copy_store``). Creating a store runs
    MLflow's migrations, 1-3 s each time; a copy takes milliseconds. Tests about creating a store make their own."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    where = tmp_path_factory.mktemp("empty-store")
    store = SqlAlchemyStore(f"sqlite:///{where / 'mlflow.db'}", str(where / "artifacts"))
    store.engine.dispose()
    return where / "mlflow.db"


def copy_store(empty: Path, root: Path) -> str:
    """A copy of ``empty`` at ``root/mlruns/mlflow.db`` (where ``settings(root=root)`` keeps its store); its URI."""
    db = root / "mlruns" / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(empty)) as source, closing(sqlite3.connect(db)) as copy:
        source.backup(copy)
    return f"sqlite:///{db}"


def mlflow_client(tracking_uri: str) -> Any:
    """An ``MlflowClient``. Test modules import mlflow through this rather than at their top: a sweep's worker process
    (a forkserver child, a Ray worker) imports the test module whose function or class its fake model answers with,
    and mlflow cost each such worker 1.1-1.5 s of CPU."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri)


def run_together(scripts_args: list[list[str]], go: Path, env: dict[str, str]) -> list[str]:
    """Start one ``python -c`` process per argument list (a script that waits for the file ``go`` once it has imported
    everything), let them go at the same moment, and return the last line each printed; a failed one fails the test."""
    import subprocess
    import sys
    import time

    procs = [subprocess.Popen([sys.executable, "-c", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for args in scripts_args]
    time.sleep(0.5)
    go.touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, f"process failed ({p.returncode}):\n{err[-3000:]}"
    return [out.strip().splitlines()[-1] for out, _ in outputs]


@contextmanager
def global_tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's process-global tracking URI set to ``uri`` for a block, then put back as it was. ``set_tracking_uri``
    also writes MLFLOW_TRACKING_URI, which ``workbench.settings()`` reads as the user's store: left behind, it sent a
    later test's sweep (in the same pytest worker) into this test's store."""
    import mlflow
    from mlflow.tracking._tracking_service import utils

    previous, env = utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  (None: back to MLflow's default)
        if env is not None:
            os.environ["MLFLOW_TRACKING_URI"] = env


@pytest.fixture
def wb_settings(tmp_path: Path, empty_store: Path) -> Settings:
    """Settings rooted in a temp dir: sqlite MLflow store, Chroma indexes and sandboxes all under ``tmp_path``."""
    return settings(root=tmp_path, tracking_uri=copy_store(empty_store, tmp_path))


@pytest.fixture(scope="session")
def python_reference_indexes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of built Chroma indexes (``Settings.index_dir``) of the python-reference corpus cut by ``recursive``
    800/80 and ``sentence`` 300/0 and embedded by ``HashingEmbedder(model_id=MINILM_ID)``, built once by a sweep logged
    nowhere. Test files whose sweeps are not about building indexes get a copy in each test's home
    (``indexed_settings``): building them again took a sixth of such a file's time."""
    import workbench as wb
    from workbench.spec import ExperimentSpec
    from workbench.tracking import MemoryTracker

    root = tmp_path_factory.mktemp("python-reference-indexes")
    spec = ExperimentSpec.from_dict({
        "name": "indexes", "dataset": {"path": "datasets/python_docs.jsonl", "limit": 1}, "corpus": {"builtin": "python-reference"},
        "prompts": [{"name": "p", "template": "{context} {question}"}], "models": [{"id": GEMMA_ID}],
        "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}, {"strategy": "sentence", "size": 300, "overlap": 0}],
        "scorers": ["hit_at_k"], "execution": {"isolation": "none"},
    }, base_dir=ROOT)
    cfg = settings(root=root, tracking_uri=f"sqlite:///{root / 'unused.db'}")
    models = {GEMMA_ID: ScriptedModel(lambda _: "-", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    wb.run(spec, settings=cfg, models=models, tracker=MemoryTracker(), progress=False, generate=False)
    return cfg.index_dir


@pytest.fixture
def indexed_settings(tmp_path: Path, empty_store: Path, python_reference_indexes: Path) -> Settings:
    """Settings as ``wb_settings`` gives them (a fresh MLflow store, an empty cache, under ``tmp_path``) whose index
    folder holds a copy of ``python_reference_indexes``: a sweep over those chunkers opens them instead of building them."""
    import shutil

    cfg = settings(root=tmp_path, tracking_uri=copy_store(empty_store, tmp_path))
    shutil.copytree(python_reference_indexes, cfg.index_dir)
    return cfg


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index/sandbox home for the whole session, so integration tests build each real index once. Under
    pytest-xdist every worker process uses the same home, as two notebooks on one machine would."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        home = tmp_path_factory.getbasetemp().parent / "workbench-home"
        home.mkdir(exist_ok=True)
        return home
    return tmp_path_factory.mktemp("workbench-home")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove the fakes' call logs left in the temp folder by processes that no longer run: a pytest worker killed by a
    timeout or a crash (with pytest-xdist, the controller ends after its workers) never removes its own."""
    from workbench.testing import CallLog

    CallLog.remove_orphans()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files of slow tests only first, then files with some slow tests (each group in its usual order), so that the
    workers of ``pytest -n 2 --dist loadfile`` start on the long files together instead of one of them finishing the
    suite alone."""
    slow: dict[Path, list[bool]] = {}
    for item in items:
        slow.setdefault(item.path, []).append(item.get_closest_marker("slow") is not None)
    items.sort(key=lambda item: 0 if all(slow[item.path]) else 1 if any(slow[item.path]) else 2)


@pytest.fixture
def real_settings(tmp_path: Path, shared_home: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for integration tests: a fresh sqlite store per test, indexes shared across the session."""
    monkeypatch.setenv("WORKBENCH_HOME", str(shared_home))
    return settings(root=tmp_path, tracking_uri=copy_store(empty_store, tmp_path))


def open_files_under(folder: Path) -> list[str]:
    """The files this process holds open under ``folder`` (what only waits for the garbage collector included)."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since it was listed (the listing's own descriptor)
            continue
        if target.startswith(f"{folder}{os.sep}"):
            held.append(target)
    return sorted(held)


def damaged_index(folder: Path, damage: str) -> tuple[list[Any], list[list[float]]]:
    """A Chroma index store at ``folder`` holding index ``k`` of 1200 chunks (more than Chroma keeps in its log, so
    they are in its vector folder's files), damaged as a full disk, a sync tool or a hand would: ``vector folder
    deleted``, or ``vectors``, ``header`` or ``metadata cut short``. Its chunks and their vectors (HashingEmbedder)."""
    import shutil

    from workbench.pipeline import Chunk, ChromaIndexStore

    chunks = [Chunk(f"c{i}", f"d{i % 40}", f"note {i}: the number {i * 7919 % 1000}, the word {'abcdefghij'[i % 10]}", 0, 1)
              for i in range(1200)]
    vectors = HashingEmbedder().embed([c.text for c in chunks])
    built = folder.with_name(folder.name + "-built")  # another folder: Chroma keeps what it built in this process
    ChromaIndexStore(built).build("k", chunks, vectors)
    shutil.copytree(built, folder)
    (vector_folder,) = [p for p in folder.iterdir() if p.is_dir()]
    if damage == "vector folder deleted":
        shutil.rmtree(vector_folder)
    else:
        name = {"vectors cut short": "data_level0.bin", "header cut short": "header.bin", "metadata cut short": "index_metadata.pickle"}[damage]
        os.truncate(vector_folder / name, (vector_folder / name).stat().st_size // 2)
    return chunks, vectors


@pytest.fixture
def fake_models() -> dict[str, object]:
    """The embedded default model ids mapped to deterministic fakes."""
    return {GEMMA_ID: ScriptedModel(echo_context_answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}


_GOOGLE_EMBEDDINGS = """
from langchain_core.embeddings import Embeddings
from workbench.testing import HashingEmbedder

ASKED = []  # (method, text): what the model was asked to embed, and how


class GoogleGenerativeAIEmbeddings(Embeddings):
    def __init__(self, model, **kwargs):
        self.hashing = HashingEmbedder(dim=64)

    def embed_documents(self, texts):
        ASKED.extend(("embed_documents", t) for t in texts)
        return self.hashing.embed(texts)

    def embed_query(self, text):
        ASKED.append(("embed_query", text))
        return self.hashing.embed([text])[0]
"""


@pytest.fixture
def google_embeddings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A stand-in for langchain-google-genai's embeddings, importable as the package is (``google_genai:`` embedding
    models load it): it embeds a query (``embed_query``) as it embeds a document, and records in ``ASKED`` which of the
    two it was asked for each text."""
    import importlib
    import sys

    (tmp_path / "fake-packages" / "langchain_google_genai").mkdir(parents=True)
    (tmp_path / "fake-packages" / "langchain_google_genai" / "__init__.py").write_text(_GOOGLE_EMBEDDINGS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "fake-packages"))
    monkeypatch.setenv("GOOGLE_API_KEY", "test-key")
    from langchain.embeddings.base import _get_embeddings_class_creator

    # LangChain keeps each provider's class once imported: another test's stand-in (and its ASKED) would answer
    _get_embeddings_class_creator.cache_clear()
    sys.modules.pop("langchain_google_genai", None)
    yield importlib.import_module("langchain_google_genai")
    sys.modules.pop("langchain_google_genai", None)
    _get_embeddings_class_creator.cache_clear()


_HUGGINGFACE_EMBEDDINGS = '''
class HuggingFaceEmbeddings:
    def __init__(self, model_name, **kwargs):
        self.model_name = model_name

    def embed_documents(self, texts):
        return [[float(len(t)), 1.0] for t in texts]

    def embed_query(self, text):
        return self.embed_documents([text])[0]
'''


@pytest.fixture
def huggingface_embeddings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A stand-in for langchain-huggingface (not installed), importable as the package is (``huggingface:`` embedding
    models load it through LangChain's ``init_embeddings``)."""
    import importlib

    from langchain.embeddings.base import _get_embeddings_class_creator

    package = tmp_path / "fake-packages" / "langchain_huggingface"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(_HUGGINGFACE_EMBEDDINGS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "fake-packages"))
    importlib.invalidate_caches()
    _get_embeddings_class_creator.cache_clear()
    sys.modules.pop("langchain_huggingface", None)
    yield
    sys.modules.pop("langchain_huggingface", None)
    _get_embeddings_class_creator.cache_clear()


def _saved_sentence_transformers(folder: Path, weights: bytes) -> Path:
    """A folder laid out as ``SentenceTransformer.save`` lays one out, its weights file holding ``weights``."""
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "modules.json").write_text("[]")
    (folder / "tokenizer.json").write_text('{"model": {}}')
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    (folder / "model.safetensors").write_bytes(weights)
    return folder


@pytest.fixture
def sentence_transformers_folder() -> Callable[[Path, bytes], Path]:
    """Makes a folder a sentence-transformers model was saved in: ``make(folder, weights)``."""
    return _saved_sentence_transformers
