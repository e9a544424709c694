"""Indexes on a real Chroma server (``chroma run`` on loopback): built once under their content key, opened by any
other store object (another worker, another machine), never reused half-built. The spec's ``index_store`` (or
``WORKBENCH_CHROMA_URL``) selects the server."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import chromadb
import pytest
import yaml
from chromadb.config import Settings as ChromaSettings
from mlflow import MlflowClient

import workbench as wb
from tests.promotion.conftest import fake_models, write_project
from tests.team.conftest import IN_CI, ChromaServer, free_port, start_chroma, stop_server
from workbench.config import settings
from workbench.datasets import Document
from workbench.errors import WorkbenchError
from workbench.pipeline import (
    ChromaIndexStore,
    ChromaServerIndexStore,
    Chunk,
    IndexStore,
    Retriever,
    chunk_document,
    index_store_for,
)
from workbench.pipeline.chroma_server import chroma_server_address
from workbench.spec import ChunkerSpec, RetrievalSpec
from workbench.tracking import INDEX_SERVER_TAG
from workbench.testing import HashingEmbedder

pytestmark = [pytest.mark.integration]

TEXTS = {
    "loops": "The for statement iterates over the items of a sequence. The while loop repeats while true.",
    "classes": "A class definition creates a class object. Methods take self as first argument.",
    "errors": "The try statement specifies exception handlers. The raise statement raises an exception.",
}
EMBEDDER = HashingEmbedder(dim=64)
QUESTION = "how does the try statement handle an exception"


def small_corpus() -> tuple[list[Chunk], list[list[float]]]:
    spec = ChunkerSpec(strategy="sentence", size=100, overlap=0)
    chunks = [c for doc_id, text in TEXTS.items() for c in chunk_document(Document(doc_id, text), spec)]
    return chunks, EMBEDDER.embed([c.text for c in chunks])


def many_chunks(n: int) -> tuple[list[Chunk], list[list[float]]]:
    """More chunks than one add() batch (2000), so a build can die between two batches."""
    chunks = [Chunk(f"c{i}", f"d{i % 7}", f"chunk number {i} of the big corpus", 0, 10) for i in range(n)]
    return chunks, EMBEDDER.embed([c.text for c in chunks])


class DiesAfter(Sequence[Sequence[float]]):
    """Vectors that fail once the build asks for the ones from ``n`` on: a build killed half-way."""

    def __init__(self, vectors: list[list[float]], n: int) -> None:
        self._vectors, self._n = vectors, n

    def __len__(self) -> int:
        return len(self._vectors)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice) and (i.start or 0) >= self._n:
            raise RuntimeError("killed half-way through the build")
        return self._vectors[i]


def names(server: ChromaServer) -> set[str]:
    client = chromadb.HttpClient(host="127.0.0.1", port=int(server.url.rsplit(":", 1)[1]),
                                 settings=ChromaSettings(anonymized_telemetry=False))
    return {c.name for c in client.list_collections()}


def top_doc(store: IndexStore, key: str) -> tuple[str, int]:
    index = store.open(key)
    assert index is not None
    hits = Retriever(index, EMBEDDER, RetrievalSpec(k=2)).retrieve(QUESTION)
    return hits[0].chunk.doc_id, len(index)


def test_an_index_built_through_the_server_is_opened_by_another_store(chroma_server: ChromaServer) -> None:
    chunks, vectors = small_corpus()
    builder = ChromaServerIndexStore(chroma_server.url)
    assert builder.open("shared") is None
    built = builder.build("shared", chunks, vectors)
    assert len(built) == len(chunks)
    other_worker = ChromaServerIndexStore(chroma_server.url)  # another process or machine: a new client
    assert top_doc(other_worker, "shared") == ("errors", len(chunks)) == top_doc(builder, "shared")
    assert "wb-shared" in names(chroma_server)
    assert not [n for n in names(chroma_server) if n.startswith("wb-shared-building-")]


@pytest.mark.parametrize("where", ["server", "local"])
def test_a_half_built_index_is_never_reused(where: str, chroma_server: ChromaServer, tmp_path: Path) -> None:
    def store() -> IndexStore:
        return ChromaServerIndexStore(chroma_server.url) if where == "server" else ChromaIndexStore(tmp_path / "chroma")

    key = f"half-{where}"
    chunks, vectors = many_chunks(2100)
    with pytest.raises(RuntimeError, match="half-way"):
        store().build(key, chunks, DiesAfter(vectors, 2000))
    assert store().open(key) is None  # 2000 of 2100 chunks were added, under a name nobody opens
    index = store().build(key, chunks, vectors)
    assert len(index) == 2100 and len(store().open(key) or []) == 2100


@pytest.mark.parametrize("where", ["server", "local"])
def test_an_index_removed_while_a_sweep_reads_it_is_one_line_naming_it(where: str, chroma_server: ChromaServer, tmp_path: Path) -> None:
    """A teammate's `workbench cache clear --indexes` on the shared server while a sweep searched the index: each
    variant's error was Chroma's bare "NotFoundError: Collection [7f3c...] does not exist." """
    def store() -> IndexStore:
        return ChromaServerIndexStore(chroma_server.url) if where == "server" else ChromaIndexStore(tmp_path / "chroma")

    key = f"removed-{where}"
    store().build(key, *small_corpus())
    reader = store()
    index = reader.open(key)
    assert index is not None and len(index) == len(small_corpus()[0])
    assert [i.key for i in store().remove() if i.key == key] == [key]  # the teammate's clear
    retriever = Retriever(index, EMBEDDER, RetrievalSpec(k=2))
    with pytest.raises(WorkbenchError, match=rf"^the index was removed while searching index {key} \(`workbench cache clear --indexes`.*"
                                             r" — run the same command again: it builds the index again$"):
        retriever.retrieve(QUESTION)
    assert reader.open(key) is None  # the re-run builds it again


def test_an_index_half_built_in_place_by_an_older_version_is_rebuilt(chroma_server: ChromaServer) -> None:
    store = ChromaServerIndexStore(chroma_server.url)
    legacy = store._client.create_collection("wb-legacy", embedding_function=None, metadata={"workbench_complete": False})
    legacy.add(ids=["x"], embeddings=[[0.0] * 64], documents=["stale"], metadatas=[{"doc_id": "old"}])
    assert store.open("legacy") is None
    chunks, vectors = small_corpus()
    store.build("legacy", chunks, vectors)
    assert top_doc(ChromaServerIndexStore(chroma_server.url), "legacy") == ("errors", len(chunks))


def test_two_workers_building_one_key_publish_one_index(chroma_server: ChromaServer) -> None:
    chunks, vectors = many_chunks(600)
    go = threading.Barrier(2)
    lengths: list[int] = []

    def work() -> None:
        store = ChromaServerIndexStore(chroma_server.url)
        go.wait()
        lengths.append(len(store.build("race", chunks, vectors)))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert lengths == [600, 600]
    assert {n for n in names(chroma_server) if n.startswith("wb-race")} == {"wb-race"}


def test_a_build_left_by_a_dead_process_is_cleaned_up(chroma_server: ChromaServer) -> None:
    store = ChromaServerIndexStore(chroma_server.url)
    for name, age in (("wb-gc-building-dead", 7 * 3600), ("wb-gc-building-busy", 60)):
        store._client.create_collection(name, embedding_function=None, metadata={
            "workbench_complete": False, "workbench_key": "gc", "workbench_build_started": int(time.time()) - age})
    store.build("gc", *small_corpus())
    left = {n for n in names(chroma_server) if n.startswith("wb-gc")}
    assert left == {"wb-gc", "wb-gc-building-busy"}  # a build still running elsewhere is left alone


def test_the_spec_or_the_environment_selects_the_server(chroma_server: ChromaServer, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_CHROMA_URL", raising=False)
    spec = write_project(tmp_path)
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    local = index_store_for(spec, cfg)
    assert isinstance(local, ChromaIndexStore) and local.path == cfg.index_dir
    served = wb.ExperimentSpec.from_dict({**spec.model_dump(mode="json", exclude_defaults=True), "scorers": ["hit_at_k"],
                                          "index_store": {"url": chroma_server.url}}, base_dir=tmp_path)
    chosen = index_store_for(served, cfg)
    assert isinstance(chosen, ChromaServerIndexStore) and chosen.url == chroma_server.url
    monkeypatch.setenv("WORKBENCH_CHROMA_URL", chroma_server.url)
    from_env = index_store_for(spec, cfg)
    assert isinstance(from_env, ChromaServerIndexStore) and from_env.url == chroma_server.url

    # a sweep whose index lives on the server (runner.run picks its store with index_store_for)
    before = names(chroma_server)
    result = wb.run(served, settings=cfg, models=fake_models(), index_store=index_store_for(served, cfg), limit=2,
                    progress=False)
    assert [v.status for v in result.variants] == ["FINISHED", "FINISHED"], [v.outcome.error for v in result.variants]
    added = names(chroma_server) - before
    assert len(added) == 1 and "-building-" not in next(iter(added)), added  # one index: both variants share it
    sweep_tags = MlflowClient(cfg.tracking_uri).get_run(result.parent_run_id).data.tags
    assert sweep_tags[INDEX_SERVER_TAG] == chroma_server_address(chroma_server.url)

    # a server store handed to wb.run itself, for an experiment naming none: its sweep is tagged too, so that a
    # teammate's `cache clear --indexes` on that server sees it (it was not: only a spec's or $WORKBENCH_CHROMA_URL's was)
    monkeypatch.delenv("WORKBENCH_CHROMA_URL")
    unserved = wb.ExperimentSpec.from_dict({**spec.model_dump(mode="json", exclude_defaults=True), "scorers": ["hit_at_k"]}, base_dir=tmp_path)
    given = wb.run(unserved, settings=cfg, models=fake_models(),
                   index_store=ChromaServerIndexStore(chroma_server.url), limit=2, progress=False, fresh=True)
    tags = MlflowClient(cfg.tracking_uri).get_run(given.parent_run_id).data.tags
    assert tags.get(INDEX_SERVER_TAG) == chroma_server_address(chroma_server.url), tags
    # and a local store handed to it while the environment names a server is no sweep of that server
    monkeypatch.setenv("WORKBENCH_CHROMA_URL", chroma_server.url)
    local_run = wb.run(unserved, settings=cfg, models=fake_models(),
                       index_store=wb.MemoryIndexStore(), limit=2, progress=False, fresh=True)
    assert INDEX_SERVER_TAG not in MlflowClient(cfg.tracking_uri).get_run(local_run.parent_run_id).data.tags


def test_no_server_at_the_url_is_one_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(WorkbenchError, match=r"no Chroma server answers at http://127\.0\.0\.1:\d+ .*chroma run"):
        ChromaServerIndexStore(url)
    with pytest.raises(WorkbenchError, match="expected http://host:port"):
        ChromaServerIndexStore("chroma.example:8000")


def test_a_sweep_whose_server_does_not_answer_fails_once_in_one_line(tmp_path: Path) -> None:
    # every index group connected again and failed its variants with the same error: N failed child runs (and N
    # connection attempts) for one server that was not started
    import mlflow

    spec = write_project(tmp_path)
    served = wb.ExperimentSpec.from_dict({**spec.model_dump(mode="json", exclude_defaults=True),
                                          "index_store": {"url": f"http://127.0.0.1:{free_port()}"}}, base_dir=tmp_path)
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    with pytest.raises(WorkbenchError, match=r"^no Chroma server answers at http://127\.0\.0\.1:\d+ .*chroma run") as refused:
        wb.run(served, settings=cfg, models=fake_models(), limit=2, progress=False)
    assert "\n" not in str(refused.value)
    runs = mlflow.MlflowClient(cfg.tracking_uri).search_runs(
        [e.experiment_id for e in mlflow.MlflowClient(cfg.tracking_uri).search_experiments()])
    assert [(r.info.status, r.data.tags.get("mlflow.parentRunId")) for r in runs] == [("FAILED", None)]  # the sweep alone


def test_the_spec_field_checks_the_url_and_round_trips(tmp_path: Path) -> None:
    base = write_project(tmp_path).model_dump(mode="json", exclude_defaults=True)
    spec = wb.ExperimentSpec.from_dict({**base, "index_store": {"url": "http://chroma.team:8000"}}, base_dir=tmp_path)
    assert spec.index_store is not None and spec.index_store.url == "http://chroma.team:8000"
    assert "index_store:\n  url: http://chroma.team:8000" in spec.to_yaml()
    assert wb.ExperimentSpec.from_dict(yaml.safe_load(spec.to_yaml()), base_dir=tmp_path) == spec
    assert "index_store: null" not in write_project(tmp_path).to_yaml()  # the default stays out of experiment files
    with pytest.raises(wb.SpecError, match=r"index_store.url: 'chroma.team:8000' is not a Chroma server URL"):
        wb.ExperimentSpec.from_dict({**base, "index_store": {"url": "chroma.team:8000"}}, base_dir=tmp_path)
    # a server behind a proxy, as WORKBENCH_CHROMA_URL may name it, was refused in the experiment ("use http://host:port")
    proxied = wb.ExperimentSpec.from_dict({**base, "index_store": {"url": "https://proxy.team/chroma"}}, base_dir=tmp_path)
    assert proxied.index_store is not None and proxied.index_store.url == "https://proxy.team/chroma"
    assert wb.ExperimentSpec.from_dict(yaml.safe_load(proxied.to_yaml()), base_dir=tmp_path) == proxied


def test_a_password_in_the_server_url_is_never_shown(chroma_server: ChromaServer) -> None:
    url = f"http://bob:s3cret@127.0.0.1:{free_port()}"
    with pytest.raises(WorkbenchError, match=r"no Chroma server answers at http://bob:\*\*\*@127\.0\.0\.1") as refused:
        ChromaServerIndexStore(url)
    assert "s3cret" not in str(refused.value)
    store = ChromaServerIndexStore(chroma_server.url.replace("://", "://bob:s3cret@"))  # a login Chroma ignores
    assert store.open("absent") is None and "s3cret" not in store.url


def test_a_url_that_is_not_a_chroma_server_is_one_line(chroma_server: ChromaServer) -> None:
    import http.server

    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)  # 404 pages in HTML
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        with pytest.raises(WorkbenchError, match=r"127\.0\.0\.1:\d+ answers, but not as a Chroma server .*404") as refused:
            ChromaServerIndexStore(f"http://127.0.0.1:{web.server_address[1]}")
        assert "\n" not in str(refused.value) and "<" not in str(refused.value)
    finally:
        web.shutdown()
        web.server_close()
    # a path (a proxy serving Chroma under /chroma) is asked, not dropped: Chroma itself has nothing there
    with pytest.raises(WorkbenchError, match="answers, but not as a Chroma server"):
        ChromaServerIndexStore(f"{chroma_server.url}/chroma/")
    assert ChromaServerIndexStore(f"{chroma_server.url}/").open("absent") is None


def test_a_server_that_goes_away_fails_its_variants_in_one_line_and_the_rerun_resumes(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def start() -> Any:
        return start_chroma(tmp_path / "data", "127.0.0.1", port, tmp_path / "chroma.log")

    proc = start()
    try:
        spec = write_project(tmp_path / "project")
        cfg = settings(root=tmp_path / "project", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
        store = ChromaServerIndexStore(url)
        chunks, vectors = small_corpus()
        index = store.build("gone", chunks, vectors)
        stop_server(proc)
        gone = rf"the Chroma server at {url} did not answer while .* index \S+ .* start it again"
        with pytest.raises(WorkbenchError, match=gone):
            index.search(EMBEDDER.embed([QUESTION])[0], 2)
        failed = wb.run(spec, settings=cfg, models=fake_models(), index_store=store, limit=2, progress=False)
        assert [v.status for v in failed.variants] == ["FAILED", "FAILED"]
        assert all(re.search(gone, v.outcome.error or "") for v in failed.variants), [v.outcome.error for v in failed.variants]
        proc = start()  # the server is back, with its indexes: the same command logs every variant
        again = wb.run(spec, settings=cfg, models=fake_models(), index_store=store, limit=2, progress=False)
        assert [v.status for v in again.variants] == ["FINISHED", "FINISHED"], [v.outcome.error for v in again.variants]
    finally:
        stop_server(proc)


def test_cache_info_and_clear_indexes_reach_the_server_the_environment_names(
        chroma_server: ChromaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main

    # with the indexes on the team's server, `cache clear --indexes` said "removed 0 indexes" and left every one there
    ChromaServerIndexStore(chroma_server.url).build("cli-clear", *small_corpus())
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WORKBENCH_CHROMA_URL", chroma_server.url.replace("://", "://bob:s3cret@"))
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"indexes on the Chroma server http://bob:\*\*\*@127\.0\.0\.1:\d+ \(WORKBENCH_CHROMA_URL\): [1-9]\d* indexes", out), out
    assert main(["cache", "clear", "--indexes", "--older-than", "30d"]) == 0
    assert "removed 0 indexes older than 30d from the Chroma server" in capsys.readouterr().out
    assert "wb-cli-clear" in names(chroma_server)
    assert main(["cache", "clear", "--indexes"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"removed [1-9]\d* indexes from the Chroma server http://bob:\*\*\*@", out) and "s3cret" not in out, out
    assert not [n for n in names(chroma_server) if n.startswith("wb-") and "-building-" not in n]  # builds under way stay


def test_a_server_on_an_ipv6_address_is_reached(tmp_path: Path) -> None:
    import socket

    if not socket.has_ipv6:  # skipped outside CI only, as the team fixtures are
        if IN_CI:
            pytest.fail("no IPv6 on this machine")
        pytest.skip("no IPv6 on this machine")
    port = free_port()
    proc = start_chroma(tmp_path / "data", "::1", port, tmp_path / "chroma.log")
    try:
        store = ChromaServerIndexStore(f"http://[::1]:{port}/")  # the brackets were lost: "Invalid port: ':1:<port>'"
        assert len(store.build("v6", *small_corpus())) == len(small_corpus()[0])
    finally:
        stop_server(proc)


class SilentPort:
    """A port that takes connections and never answers, until ``answering`` forwards them to ``target`` (a stuck server,
    a tunnel or port-forward whose far end hangs). Connections are held open, as a stuck server holds them."""

    def __init__(self, target: tuple[str, int] | None = None) -> None:
        import socket

        self.target, self.answering, self._held = target, target is not None, []  # type: ignore[var-annotated]
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._held.append(conn)
            if self.target is not None:
                far = socket.create_connection(self.target)
                self._held.append(far)
                for a, b in ((conn, far), (far, conn)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: Any, dst: Any) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                return
            while not self.answering:  # stuck: what was sent is never passed on
                time.sleep(0.05)
            try:
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        for conn in [self._sock, *self._held]:
            conn.close()


def test_a_port_that_takes_the_connection_but_never_answers_is_one_line_not_a_hang() -> None:
    """A stuck server (or a tunnel whose far end hangs) took the connection and never answered: the sweep waited
    forever, before logging anything (chromadb's HTTP client has no timeout)."""
    silent = SilentPort()
    started = time.monotonic()
    try:
        with pytest.raises(WorkbenchError, match=rf"^the Chroma server at {re.escape(silent.url)} took the connection but did not "
                                                 r"answer within 0\.5 s .*restart it") as stuck:
            ChromaServerIndexStore(silent.url, timeout_s=0.5)
    finally:
        silent.close()
    assert "\n" not in str(stuck.value)
    assert time.monotonic() - started < 10


def test_a_server_that_stops_answering_mid_sweep_fails_the_request_in_one_line_not_a_hang(chroma_server: ChromaServer) -> None:
    """A server that hung after the sweep had opened it left each variant waiting forever in its search."""
    chunks, vectors = small_corpus()
    proxy = SilentPort(("127.0.0.1", int(chroma_server.url.rsplit(":", 1)[1])))
    try:
        store = ChromaServerIndexStore(proxy.url, timeout_s=1.0)
        index = store.build("hangs-later", chunks, vectors)
        proxy.answering = False
        started = time.monotonic()
        with pytest.raises(WorkbenchError, match=rf"^the Chroma server at {re.escape(proxy.url)} did not answer while .*index hangs-later .*"
                                                 r"Timeout.*start it again"):
            Retriever(index, EMBEDDER, RetrievalSpec(k=2)).retrieve(QUESTION)
        assert time.monotonic() - started < 10
    finally:
        proxy.answering = True
        proxy.close()


def test_each_store_keeps_its_own_timeout(chroma_server: ChromaServer) -> None:
    """``timeout_s`` is the store's: a store made later with a shorter one does not cut the requests of an earlier store
    on the same server short (chromadb gives each HttpClient a session of its own; one shared per server would have)."""
    chunks, vectors = small_corpus()
    proxy = SilentPort(("127.0.0.1", int(chroma_server.url.rsplit(":", 1)[1])))
    waited: list[object] = []
    try:
        patient = ChromaServerIndexStore(proxy.url, timeout_s=60)
        patient_index = patient.build("patient", chunks, vectors)
        hasty = ChromaServerIndexStore(proxy.url, timeout_s=0.5)
        hasty_index = hasty.build("hasty", chunks, vectors)
        proxy.answering = False
        searching = threading.Thread(target=lambda: waited.append(_retrieved_or_error(patient_index)), daemon=True)
        searching.start()
        started = time.monotonic()
        with pytest.raises(WorkbenchError, match=r"did not answer while .*Timeout"):
            Retriever(hasty_index, EMBEDDER, RetrievalSpec(k=2)).retrieve(QUESTION)
        assert time.monotonic() - started < 5
        searching.join(timeout=1.5)
        assert searching.is_alive(), f"the 60 s store gave up with the 0.5 s one: {waited}"
        proxy.answering = True
        searching.join(timeout=30)
        assert waited and not isinstance(waited[0], Exception), waited
    finally:
        proxy.answering = True
        proxy.close()


def _retrieved_or_error(index: Any) -> object:
    try:
        return Retriever(index, EMBEDDER, RetrievalSpec(k=2)).retrieve(QUESTION)
    except Exception as exc:  # noqa: BLE001 - the test reports what the search ended with
        return exc


def test_clear_indexes_on_the_server_is_refused_while_a_teammates_sweep_uses_it_unless_forced(
        chroma_server: ChromaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Ana's sweep (her machine, her WORKBENCH_HOME) reads its index on the team's Chroma server; Ben's `workbench cache
    clear --indexes`, no --force, looked for running sweeps on his own machine only, found none and removed the index
    under hers: each of her variants failed with IndexRemoved. The team's tracking store knows her sweep is running."""
    import threading

    from workbench.cli import main
    from workbench.models import MINILM_ID
    from workbench.testing import HashingEmbedder, ScriptedModel
    from tests.promotion.conftest import GEMMA_ID, scripted_answer

    uri = f"sqlite:///{tmp_path / 'shared' / 'mlflow.db'}"
    monkeypatch.setenv("WORKBENCH_CHROMA_URL", chroma_server.url.replace("://", "://ana:s3cret@"))  # her login, not Ben's
    ana = tmp_path / "ana"
    written = write_project(ana)
    spec = wb.ExperimentSpec.from_dict({**written.model_dump(mode="json", exclude_defaults=True), "scorers": ["hit_at_k"],
                                        "execution": {"isolation": "none"}}, base_dir=ana)  # the model waits on this test
    answering, go_on = threading.Event(), threading.Event()

    def answer(prompt: Any) -> str:
        answering.set()
        go_on.wait(30)
        return scripted_answer(prompt)

    models = {GEMMA_ID: ScriptedModel(answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    swept: list[wb.SweepResult] = []
    sweep = threading.Thread(target=lambda: swept.append(wb.run(spec, settings=settings(root=ana, tracking_uri=uri), models=models,
                                                                  limit=1, progress=False)))
    sweep.start()
    try:
        while not answering.wait(0.2):
            assert sweep.is_alive(), "the sweep ended before its first answer"
        before = {n for n in names(chroma_server) if "-building-" not in n}
        monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "ben-home"))  # Ben: his own machine's folders, the team's servers
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("WORKBENCH_CHROMA_URL", chroma_server.url)
        assert main(["cache", "clear", "--indexes"]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert re.search(rf"1 sweep is running on the Chroma server {re.escape(chroma_server.url)} \(run [0-9a-f]{{32}} of experiment "
                         r"'promo', by \S+ on \S+\).*--force", err), err
        assert "s3cret" not in err
        assert {n for n in names(chroma_server) if "-building-" not in n} == before  # nothing removed, not even locally
    finally:
        go_on.set()
        sweep.join(60)
    assert [v.status for v in swept[0].variants] == ["FINISHED", "FINISHED"], [v.outcome.error for v in swept[0].variants]
    from mlflow import MlflowClient

    from workbench.tracking import INDEX_SERVER_TAG

    assert MlflowClient(uri).get_run(swept[0].parent_run_id).data.tags[INDEX_SERVER_TAG] == chroma_server.url  # her login left out
    assert main(["cache", "clear", "--indexes"]) == 0  # her sweep ended: nothing uses them now
    assert re.search(r"removed [1-9]\d* indexes from the Chroma server", capsys.readouterr().out)


def test_clear_indexes_on_the_server_with_the_tracking_store_down_is_one_line_and_removes_nothing(
        chroma_server: ChromaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main

    ChromaServerIndexStore(chroma_server.url).build("kept-while-unknown", *small_corpus())
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WORKBENCH_CHROMA_URL", chroma_server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")  # the team's server, down
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    assert main(["cache", "clear", "--indexes"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "could not read the running sweeps of http://127.0.0.1:" in err, err
    assert f"which sweeps read the Chroma server {chroma_server.url} now" in err and "--force" in err, err
    assert "wb-kept-while-unknown" in names(chroma_server)
    assert main(["cache", "clear", "--indexes", "--force"]) == 0  # without checking, as asked
    assert "wb-kept-while-unknown" not in names(chroma_server)
