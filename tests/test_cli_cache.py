"""The CLI's cache commands, ``run --fresh``, the reuse summary line and Ctrl+C during a run.

Real sqlite MLflow store and real ``DiskCacheStore`` under ``tmp_path``; the CLI cannot take injected models, so the
run tests wrap the public ``workbench.run`` to hand it the fakes from ``workbench.testing``.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import sys
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench.cache import DiskCacheStore
from workbench.cli import build_parser, main
from workbench.errors import WorkbenchError
from workbench.models import CONTEXT_ADVICE, GEMMA_ID, MINILM_ID, SMOLLM2_ID
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import TrackingUnavailable, default_user, experiment_sweeps

from tests.conftest import damaged_index, mlflow_client

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = 3

SPEC = f"""\
name: cli-cache
dataset: {{path: {ROOT / 'datasets' / 'python_docs.jsonl'}, limit: {QUESTIONS}}}
corpus: {{builtin: python-reference}}
prompts:
  - name: a
    template: "Context: {{context}} Question: {{question}} Answer:"
  - name: b
    template: "{{context}}\\n\\nQ: {{question}}\\nA:"
models:
  - id: {GEMMA_ID}
    params: {{max_tokens: 16}}
chunkers:
  - strategy: recursive
    size: 800
    overlap: 80
"""


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Everything workbench keeps (cache, indexes, sandboxes) under ``tmp_path``."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    return tmp_path / "home" / "cache"


@pytest.fixture
def indexes_built(cache_dir: Path, python_reference_indexes: Path) -> None:
    """The indexes of the runs below (SPEC's chunker, embedded by the fake) already built in the home, for the tests
    that are not about building them (each cold build cost its test about 0.7 s of CPU)."""
    import shutil

    shutil.copytree(python_reference_indexes, cache_dir.parent / "indexes")


def fill(directory: Path) -> None:
    store = DiskCacheStore(directory)
    store.put("generation", "a", {"text": "x"})
    store.put("generation", "b", {"text": "y"})
    store.put("embedding", "c", {"vector": [1.0]})
    store.close()


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# -- cache info / clear --------------------------------------------------------------------------------------------


def test_cache_info_prints_the_stores_summary(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(cache_dir)
    store = DiskCacheStore(cache_dir)
    store.get("generation", "a")  # a hit
    store.get("generation", "nope")  # a miss
    expected = store.info().summary()
    store.close()

    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert out == expected + "\n"
    assert re.search(r"generation\s+2 entries\s+1 hits\s+1 misses", out)
    assert re.search(r"embedding\s+1 entries", out)


def test_cache_info_counts_the_indexes_and_clear_indexes_removes_old_ones(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # indexes of older chunkings and corpora stayed under .workbench/indexes forever, unseen by `cache info`
    from workbench.pipeline import ChromaIndexStore, Chunk

    index_dir = cache_dir.parent / "indexes"
    assert main(["cache", "info"]) == 0 and main(["cache", "clear", "--indexes"]) == 0
    assert "removed 0 indexes" in capsys.readouterr().out and not index_dir.exists()  # nothing created to say so
    fill(cache_dir)
    store = ChromaIndexStore(index_dir)
    chunks = [Chunk(id=f"c{i}", doc_id="d", text=f"text {i}", start=0, end=6) for i in range(3)]
    for key in ("old", "new"):
        store.build(key, chunks, [[1.0, float(i), 0.5] for i in range(3)])
    old = store._client.get_collection("wb-old")
    old.modify(metadata={**old.metadata, "workbench_built": int(time.time()) - 40 * 86400})  # built 40 days ago

    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"indexes {re.escape(str(index_dir))}: 2 indexes, [0-9.]+ MiB on disk, the oldest built 40 days ago", out)
    assert main(["cache", "clear", "--indexes", "--older-than", "30d"]) == 0
    assert f"removed 1 indexes older than 30d from {index_dir}" in capsys.readouterr().out
    assert ChromaIndexStore(index_dir).open("old") is None and len(ChromaIndexStore(index_dir).open("new")) == 3
    assert main(["cache", "clear", "--indexes"]) == 0
    assert "removed 1 indexes from" in capsys.readouterr().out and ChromaIndexStore(index_dir).indexes() == []
    kept = DiskCacheStore(cache_dir)
    assert (kept.get("generation", "a") or {}).get("text") == "x"  # the answer cache is left alone
    kept.close()


def test_cache_info_counts_the_indexes_an_older_workbench_built_and_clear_indexes_removes_them(
        cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a workbench of 2026-11 published an index as wb-<key> marked complete but recorded no key: after an upgrade (whose
    # keys differ, so no sweep opens them again) `cache info` did not count them and `cache clear --indexes` said
    # 'removed 0 indexes', leaving their space on disk for good
    from workbench.pipeline import ChromaIndexStore, Chunk

    index_dir = cache_dir.parent / "indexes"
    store = ChromaIndexStore(index_dir)
    chunks = [Chunk(id=f"c{i}", doc_id="d", text=f"text {i}", start=0, end=6) for i in range(3)]
    store.build("new", chunks, [[1.0, float(i), 0.5] for i in range(3)])
    old = store._client.create_collection("wb-0123456789abcdef", embedding_function=None, metadata={"workbench_complete": False})
    old.add(ids=["c0", "c1"], embeddings=[[1.0, 0.0, 0.5], [1.0, 1.0, 0.5]], documents=["a", "b"])
    old.modify(metadata={"workbench_complete": True})  # as that workbench published it, in place
    store._client.create_collection("notes", metadata={"workbench_complete": True})  # another tool's: not an index

    assert [(i.key, i.chunks, i.built_at) for i in ChromaIndexStore(index_dir).indexes()][0] == ("0123456789abcdef", 2, None)
    assert main(["cache", "info"]) == 0
    assert re.search(r": 2 indexes, [0-9.]+ MiB on disk", capsys.readouterr().out)
    assert main(["cache", "clear", "--indexes", "--older-than", "30d"]) == 0  # of unknown age: older than any
    assert f"removed 1 indexes older than 30d from {index_dir}" in capsys.readouterr().out
    left = ChromaIndexStore(index_dir)
    assert sorted(c.name for c in left._client.list_collections()) == ["notes", "wb-new"] and len(left.open("new")) == 3


def test_cache_info_counts_a_damaged_index_and_clear_indexes_removes_it(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # an index whose files a full disk or a sync tool cut short made both commands 'internal error: InternalError:
    # Error executing plan: ... Error deserializing pickle file', the one that removes it included
    from workbench.pipeline import ChromaIndexStore

    index_dir = cache_dir.parent / "indexes"
    damaged_index(index_dir, "metadata cut short")
    assert main(["cache", "info"]) == 0
    assert re.search(r": 1 indexes, [0-9.]+ MiB on disk, the oldest built 0 hours ago, 1 of them damaged \(a sweep", capsys.readouterr().out)
    assert main(["cache", "clear", "--indexes"]) == 0
    assert "removed 1 indexes from" in capsys.readouterr().out and ChromaIndexStore(index_dir).indexes() == []


def test_clear_indexes_removes_what_interrupted_builds_left_and_not_a_build_under_way(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a build stopped by Ctrl+C left its half-built collection, removed only by a later build of the same key: never,
    # for a chunking given up, and `cache clear --indexes` did not see it either
    from workbench.pipeline import ChromaIndexStore

    store = ChromaIndexStore(cache_dir.parent / "indexes")
    for name, started in (("wb-k1-building-dead", time.time() - 7 * 3600), ("wb-k2-building-live", time.time())):
        store._client.create_collection(name, metadata={"workbench_complete": False, "workbench_key": name[3:5], "workbench_build_started": int(started)})
    assert main(["cache", "clear", "--indexes"]) == 0
    assert "removed 0 indexes" in capsys.readouterr().out
    assert [c.name for c in ChromaIndexStore(cache_dir.parent / "indexes")._client.list_collections()] == ["wb-k2-building-live"]


def test_cache_info_counts_kept_sandboxes_and_clear_sandboxes_removes_them(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the sandbox folders of failed variants (and of every variant, before finished ones were removed) piled up unseen
    sandboxes = cache_dir.parent / "sandboxes"
    for sweep, variant, age_days in (("s1", "v1", 40), ("s1", "v2", 1), ("s2", "v1", 40)):
        (sandboxes / sweep / variant).mkdir(parents=True)
        (sandboxes / sweep / variant / "prompt.txt").write_text("{context} {question}")
        stamp = time.time() - age_days * 86400
        os.utime(sandboxes / sweep / variant, (stamp, stamp))
    assert main(["cache", "info"]) == 0
    assert f"sandboxes {sandboxes}: 3 folders kept of variants that did not finish, 0.0 MiB" in capsys.readouterr().out
    assert main(["cache", "clear", "--sandboxes", "--older-than", "30d"]) == 0
    assert f"removed 2 sandbox folders older than 30d from {sandboxes}" in capsys.readouterr().out
    assert sorted(p.relative_to(sandboxes).as_posix() for p in sandboxes.rglob("*")) == ["s1", "s1/v2", "s1/v2/prompt.txt"]
    assert main(["cache", "clear", "--sandboxes"]) == 0 and list(sandboxes.iterdir()) == []
    assert "removed 1 sandbox folders from" in capsys.readouterr().out
    assert main(["cache", "info"]) == 0 and f"sandboxes {sandboxes}" not in capsys.readouterr().out
    assert main(["cache", "clear", "--sandboxes", "--indexes"]) == 2  # one kind at a time, never the first silently


def test_clear_sandboxes_never_follows_a_link_out_of_the_sandboxes_folder(cache_dir: Path, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # a link under sandboxes/ to a folder elsewhere was taken for a sweep's folder: every folder in it was removed
    # as a variant's kept sandbox, and every file in it counted as one
    elsewhere = tmp_path / "my-home"
    (elsewhere / "project").mkdir(parents=True)
    (elsewhere / "project" / "notes.md").write_text("mine")
    (elsewhere / "top.txt").write_text("mine")
    sandboxes = cache_dir.parent / "sandboxes"
    (sandboxes / "s1" / "v1").mkdir(parents=True)
    (sandboxes / "linked").symlink_to(elsewhere, target_is_directory=True)
    (sandboxes / "s1" / "v2").symlink_to(elsewhere / "project", target_is_directory=True)
    assert main(["cache", "info"]) == 0
    assert f"sandboxes {sandboxes}: 1 folders kept of variants that did not finish" in capsys.readouterr().out
    assert main(["cache", "clear", "--sandboxes"]) == 0
    assert "removed 1 sandbox folders from" in capsys.readouterr().out
    assert (elsewhere / "project" / "notes.md").read_text() == "mine" and (elsewhere / "top.txt").exists()
    assert not (sandboxes / "s1" / "v1").exists()


def test_sandbox_commands_leave_a_running_sweeps_folders_alone(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a teammate's `workbench cache clear --sandboxes` removed the folder of a variant still running (a variant between
    # making it and writing its prompt there failed), and `cache info` counted it as kept of a variant that did not finish
    from workbench.cache import MemoryCacheStore
    from workbench.pipeline import MemoryIndexStore
    from workbench.spec import ExperimentSpec
    from workbench.tracking import MemoryTracker

    answering, cleared = threading.Event(), threading.Event()

    def answer(prompt: object) -> str:
        answering.set()
        assert cleared.wait(60)
        return "an answer"

    spec = ExperimentSpec.from_dict({
        "name": "live", "dataset": {"path": str(ROOT / "datasets" / "python_docs.jsonl"), "limit": 1}, "corpus": {"builtin": "python-reference"},
        "prompts": [{"name": "a", "template": "{context} {question}"}], "models": [{"id": GEMMA_ID}], "chunkers": [{"strategy": "recursive"}], "scorers": ["token_f1"],
        "execution": {"isolation": "none"},
    })
    models = {GEMMA_ID: ScriptedModel(answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    found: list[wb.SweepResult] = []
    sweep = threading.Thread(target=lambda: found.append(wb.run(spec, models=models, tracker=MemoryTracker(), index_store=MemoryIndexStore(),
                                                                cache=MemoryCacheStore(), progress=False)))
    sweep.start()
    try:
        assert answering.wait(60)
        sandboxes = cache_dir.parent / "sandboxes"
        (live,) = [p for p in sandboxes.glob("*/*")]
        assert main(["cache", "info"]) == 0 and "sandboxes" not in capsys.readouterr().out
        assert main(["cache", "clear", "--sandboxes"]) == 0
        assert "removed 0 sandbox folders" in capsys.readouterr().out and (live / "prompt.txt").is_file()
    finally:
        cleared.set()
        sweep.join(60)
    assert [v.status for v in found[0].variants] == ["FINISHED"] and list(sandboxes.iterdir()) == []
    (sandboxes / "killed" / "v1").mkdir(parents=True)  # a sweep killed with its folder marked: nothing holds the mark
    (sandboxes / "killed.running").touch()
    assert main(["cache", "clear", "--sandboxes"]) == 0 and list(sandboxes.iterdir()) == []


def assert_unreadable_in_one_line(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`cache info` and `cache clear` each say in one line that the cache file cannot be read and to delete the folder."""
    for command in (["cache", "info"], ["cache", "clear"]):
        assert main(command) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {cache_dir / 'cache.db'}: the answer cache cannot be read") and "tracking store" not in err
        assert f"delete the folder {cache_dir}" in err and "\n" not in err


def test_a_cache_that_is_not_a_database_is_named_not_blamed_on_the_tracking_store(
    cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache_dir.mkdir(parents=True)
    (cache_dir / "cache.db").write_bytes(bytes(range(256)) * 20)
    assert_unreadable_in_one_line(cache_dir, capsys)


def test_damaged_hit_and_miss_counters_are_made_again_not_the_cache_deleted(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # counts/cache.db damaged was reported as cache.db, with the advice to delete the whole cache and its answers
    fill(cache_dir)
    (cache_dir / "counts" / "cache.db").write_bytes(bytes(range(256)) * 20)
    assert main(["cache", "info"]) == 0
    assert re.search(r"generation +2 entries +0 hits +0 misses", capsys.readouterr().out)
    store = DiskCacheStore(cache_dir)
    assert (store.get("generation", "a") or {}).get("text") == "x" and store.info().hits == {"generation": 1, "judge": 0, "embedding": 0, "text": 0}
    store.close()


def test_a_cache_with_damaged_entries_is_named_not_blamed_on_the_tracking_store(
    cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = DiskCacheStore(cache_dir)
    for i in range(200):
        store.put("generation", f"k{i}", {"text": f"answer {i} " * 20})
    store.close()
    db = cache_dir / "cache.db"
    with closing(sqlite3.connect(db)) as connection:  # the entries' pages, not the root or the settings read on opening
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        roots = {n for (n,) in connection.execute("SELECT rootpage FROM sqlite_schema")}
        pages = [n for (n,) in connection.execute("SELECT pageno FROM dbstat WHERE name LIKE 'Cache%'") if n not in roots]
        size = connection.execute("PRAGMA page_size").fetchone()[0]
    assert pages
    with db.open("r+b") as f:
        for n in pages:
            f.seek((n - 1) * size)
            f.write(b"\xff" * size)
    assert_unreadable_in_one_line(cache_dir, capsys)


def test_a_cache_folder_that_is_a_file_is_one_line_not_an_empty_cache(
    cache_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(cache_dir)
    for path, hint in ((cache_dir / "cache.db", f"the folder that holds it, {cache_dir}"), (cache_dir.parent / "notes.txt", "a folder")):
        path.touch()
        monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(path))  # the file instead of its folder
        for command in (["cache", "info"], ["cache", "clear"]):
            assert main(command) == 2
            captured = capsys.readouterr()
            assert captured.err.strip() == f"error: {path} is a file, not a cache folder — point WORKBENCH_CACHE_DIR at {hint}"
            assert captured.out == ""
    assert DiskCacheStore(cache_dir).info().entries["generation"] == 2  # nothing cleared


def test_a_cache_that_cannot_be_written_is_not_called_damaged(
    cache_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only folder (a shared cache mounted read-only, another user's folder) stops sqlite opening cache.db, as a
    folder in its place does (root writes anywhere): nothing is damaged, so the user is not told to delete it."""
    (cache_dir / "cache.db").mkdir(parents=True)
    blocked = cache_dir.parent / "notes.txt"
    blocked.touch()
    for folder in (cache_dir, blocked / "cache"):  # the second cannot even be made
        monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(folder))
        with pytest.raises(WorkbenchError, match="the answer cache cannot be opened") as caught:
            DiskCacheStore(folder)
        assert str(caught.value).startswith(f"{folder}:") and "WORKBENCH_CACHE_DIR at another folder" in str(caught.value)
        assert "delete" not in str(caught.value)
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(cache_dir))
    assert main(["cache", "clear"]) == 2
    assert capsys.readouterr().err.strip().startswith(f"error: {cache_dir}: the answer cache cannot be opened")


def test_a_full_disk_is_named_not_called_unwritable(cache_dir: Path) -> None:
    # sqlite's 'database or disk is full' came as 'it needs a folder this user can write to: make it writable' when
    # the cache was opened, and as a bare OperationalError naming no folder when an answer was stored mid-sweep
    fill(cache_dir)
    store = DiskCacheStore(cache_dir)
    pages = store._cache._sql("PRAGMA page_count").fetchone()[0]
    store._cache._sql(f"PRAGMA max_page_count = {pages}")  # no page more: the disk is full
    with pytest.raises(WorkbenchError) as caught:
        for n in range(100):
            store.put("generation", f"new-{n}", {"text": "an answer " * 300})
    assert str(caught.value) == (f"{cache_dir}: the answer cache cannot be written, its disk is full (database or disk is full) — "
                                 "free some space on it, or point WORKBENCH_CACHE_DIR at a folder on another disk")
    store.close()
    full = OSError(errno.ENOSPC, "No space left on device")
    assert "its disk is full (No space left on device) — free some space" in str(DiskCacheStore(cache_dir)._unwritable(full))


def test_cache_info_and_clear_do_not_create_a_missing_cache(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "info"]) == 0
    assert main(["cache", "clear"]) == 0
    out = capsys.readouterr().out
    assert "empty" in out and "removed 0 cache entries" in out
    assert not cache_dir.exists()


def test_cache_clear_removes_every_entry(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(cache_dir)
    assert main(["cache", "clear"]) == 0
    assert lines(capsys.readouterr().out) == [f"removed 3 cache entries from {cache_dir}"]
    store = DiskCacheStore(cache_dir)
    assert sum(store.info().entries.values()) == 0
    store.close()


def test_cache_clear_counts_entries_not_counters(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(cache_dir)
    store = DiskCacheStore(cache_dir)
    store.get("generation", "a")
    store.get("generation", "nope")
    store.close()
    assert main(["cache", "clear"]) == 0
    assert lines(capsys.readouterr().out) == [f"removed 3 cache entries from {cache_dir}"]


def test_cache_clear_older_than_keeps_newer_entries(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(cache_dir)
    assert main(["cache", "clear", "--older-than", "1h"]) == 0
    assert lines(capsys.readouterr().out) == [f"removed 0 cache entries unused for 1h from {cache_dir}"]
    time.sleep(0.05)
    assert main(["cache", "clear", "--older-than", "0s"]) == 0
    assert lines(capsys.readouterr().out) == [f"removed 3 cache entries unused for 0s from {cache_dir}"]


@pytest.mark.parametrize("age", ["30x", "d", "-1d", "soon", "nand", "infd", "1e400d"])
def test_a_bad_age_is_one_line_and_exit_2(cache_dir: Path, capsys: pytest.CaptureFixture[str], age: str) -> None:
    fill(cache_dir)
    assert main(["cache", "clear", f"--older-than={age}"]) == 2
    captured = capsys.readouterr()
    err = lines(captured.err)
    assert len(err) == 1 and err[0].startswith("error: --older-than: "), err
    assert captured.out == ""
    store = DiskCacheStore(cache_dir)
    assert sum(store.info().entries.values()) == 3  # nothing removed
    store.close()


@pytest.mark.parametrize("size", ["abc", "-1", "0", "1.5", "100000000000000"])  # the last: 'no limit', past sqlite's integers
def test_a_bad_cache_size_is_one_line_and_exit_2(cache_dir: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch, size: str) -> None:
    fill(cache_dir)
    monkeypatch.setenv("WORKBENCH_CACHE_SIZE_MB", size)
    for action in ("info", "clear"):
        assert main(["cache", action]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and lines(captured.err) == [
            f"error: WORKBENCH_CACHE_SIZE_MB={size!r}: the cache's size cap must be a whole number of MiB, at least 1 and at most "
            "8796093022207 — fix it, or unset it for the default 4096"
        ], captured.err
    store = DiskCacheStore(cache_dir)
    assert sum(store.info().entries.values()) == 3  # nothing removed
    store.close()


def test_the_cache_size_comes_from_the_environment(cache_dir: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    fill(cache_dir)
    for size, shown in (("64", 64), ("", 4096)):  # empty: the default
        monkeypatch.setenv("WORKBENCH_CACHE_SIZE_MB", size)
        assert main(["cache", "info"]) == 0
        assert lines(capsys.readouterr().out)[0].endswith(f" of {shown} MiB")


@pytest.mark.parametrize("variable", ["WORKBENCH_CACHE_DIR", "WORKBENCH_HOME"])
def test_a_cache_folder_given_with_a_tilde_is_under_the_home_folder(
    variable: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "me"))  # as %env in a notebook or a quoted value in a .env file passes it
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    monkeypatch.setenv(variable, "~/wb")
    monkeypatch.chdir(tmp_path)
    expected = tmp_path / "me" / "wb" / ("cache" if variable == "WORKBENCH_HOME" else "")
    fill(expected)
    assert main(["cache", "info"]) == 0
    assert lines(capsys.readouterr().out)[0].startswith(f"cache {expected.absolute()}: ")
    assert not (tmp_path / "~").exists()


# -- run --------------------------------------------------------------------------------------------------------------


def test_fresh_is_a_run_option() -> None:
    parser = build_parser()
    assert parser.parse_args(["run", "x.yaml", "--fresh"]).fresh is True
    assert parser.parse_args(["run", "x.yaml"]).fresh is False


class Models:
    """The fakes every CLI run in a test gets (the same objects, as one real model would be across runs)."""

    def __init__(self, interrupt_on_call: int | None = None, signum: int = signal.SIGINT) -> None:
        self.interrupt_on_call = interrupt_on_call
        self.signum = signum
        self.terminal = os.getpid()  # the process a Ctrl+C in the terminal interrupts (workers ignore it)
        self.generator = ScriptedModel(self.answer, model_id=GEMMA_ID)
        self.embedder = HashingEmbedder(model_id=MINILM_ID)

    def answer(self, prompt: Any) -> str:
        if self.interrupt_on_call is not None and len(self.generator.calls) == self.interrupt_on_call:
            self.interrupt_on_call = None  # Ctrl+C once
            os.kill(self.terminal, self.signum)
            time.sleep(1)  # the interrupted sweep ends its worker processes without waiting for this answer
        return prompt.text.split("Question:")[-1].split("Q:")[-1].strip()[:40]


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def cli_runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spec_file: Path, models: Models, *,
               no_progress: bool = True, judge: ScriptedModel | None = None) -> Callable[..., int]:
    real_run = wb.run
    judges = {} if judge is None else {judge.model_id: judge}

    def run_with_fakes(experiment: Any, **options: Any) -> wb.SweepResult:
        return real_run(experiment, models={GEMMA_ID: models.generator, MINILM_ID: models.embedder, **judges}, **options)

    monkeypatch.setattr(wb, "run", run_with_fakes)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    flags = ["--no-progress"] if no_progress else []
    return lambda *extra: main(["--tracking-uri", uri, "run", str(spec_file), *flags, *extra])


def test_run_into_a_pipe_draws_no_progress_bars(
    cache_dir: Path, tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``workbench run exp.yaml 2>&1 | tee run.log`` (or a CI log): stderr is no terminal, so no bar is drawn in it;
    each index and each finished variant is one plain line instead, so a long sweep does not look hung."""
    assert not sys.stderr.isatty()
    run = cli_runner(monkeypatch, tmp_path, spec_file, Models(), no_progress=False)
    assert run() == 0
    out, err = capsys.readouterr()
    assert "\r" not in err and "variant/s" not in err, err
    assert reuse_line(out).startswith("reused 0 of 2 variants")
    lines = err.splitlines()
    assert [line.split(": ")[0] for line in lines if line.startswith("variant ")] == ["variant 1/2", "variant 2/2"], err
    assert all(line.split(": ", 1)[1].startswith("FINISHED ") for line in lines if line.startswith("variant ")), err
    assert any(line.startswith("index 1/") for line in lines), err
    assert any(line.startswith("  ready: ") and line.endswith(" chunks") for line in lines), err  # a cold build: no note
    assert run("--no-progress") == 0  # no bars and no lines: the reused variants print nothing either
    assert not [line for line in capsys.readouterr().err.splitlines() if line.startswith(("variant ", "index "))]
    assert run("--fresh") == 0  # answers computed again, from the index the first run built: it says it opened it
    ready = [line for line in capsys.readouterr().err.splitlines() if line.startswith("  ready: ")]
    assert ready and all(line.endswith(" chunks; opened (built by an earlier sweep)") for line in ready), ready


def test_a_ci_log_says_the_reused_variants_in_one_line_not_one_finished_line_each(
    cache_dir: Path, tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pull request editing one prompt of a large grid: every reused variant printed 'variant k/N: FINISHED name', as
    if computed again, one line each."""
    run = cli_runner(monkeypatch, tmp_path, spec_file, Models(), no_progress=False)
    assert run() == 0
    capsys.readouterr()
    assert run() == 0
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith(("variant", "index"))] == [
        "variants 1-2/2: 2 reused (finished runs of the same configuration)"], err
    spec_file.write_text(SPEC.replace("Answer:", "Reply:"), encoding="utf-8")  # prompt a edited: b is reused
    assert run() == 0
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if line.startswith(("variant", "index"))]
    assert said[0] == "variant 1/2: reused b|gemma3-270m|recursive-800/80|k4-similarity", err
    assert said[1].startswith("index 1/1: ") and said[-1] == "variant 2/2: FINISHED a|gemma3-270m|recursive-800/80|k4-similarity", err


@pytest.mark.usefixtures("indexes_built")
def test_run_format_json_prints_the_sweep_and_its_leaderboard_alone_on_stdout(
    cache_dir: Path, tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CI job took the sweep's id for `gate --sweep` out of the leaderboard's headline with sed."""
    import json

    run = cli_runner(monkeypatch, tmp_path, spec_file, Models())
    assert run("--format", "json") == 0
    out, err = capsys.readouterr()
    found = json.loads(out)  # nothing else on stdout
    (sweep,) = experiment_sweeps("cli-cache", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert (found["experiment"], found["sweep"], found["questions"]) == ("cli-cache", sweep.run.run_id, QUESTIONS)
    assert sorted(v["run_id"] for v in found["variants"]) == sorted(v.run_id for v in sweep.variants)
    assert {v["status"] for v in found["variants"]} == {"FINISHED"} and all(v["reused_from"] is None for v in found["variants"])
    assert reuse_line(err).startswith("reused 0 of 2 variants") and "Tracking store: " in err
    assert run("--format", "json") == 0
    again = json.loads(capsys.readouterr().out)
    assert sorted(v["reused_from"] for v in again["variants"]) == sorted(v.run_id for v in sweep.variants)


@pytest.mark.parametrize(("ci", "bars"), [(None, True), ("", True), ("false", True), ("0", True), ("true", False), ("1", False),
                                           ("yes", False)])
def test_a_terminal_in_a_ci_job_gets_plain_lines_not_bars(monkeypatch: pytest.MonkeyPatch, ci: str | None, bars: bool) -> None:
    """`docker run -t` in a CI step gives the sweep a terminal the CI service records: every bar redraw was a line."""
    import io

    from workbench.cli._run import _shows_progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    assert _shows_progress(no_progress=False) is bars
    assert _shows_progress(no_progress=True) is False


def test_a_long_variant_says_its_questions_at_most_once_a_minute_of_silence() -> None:
    """A variant of a few hundred questions on a local model left a CI log silent for many minutes (CircleCI ends a job
    after 10), then printed its one line."""
    from types import SimpleNamespace

    from workbench.cli._run import _PlainProgress

    now = [0.0]
    written: list[str] = []
    progress = _PlainProgress(written.append, clock=lambda: now[0], every_s=60.0)
    variant = SimpleNamespace(name="a|m")
    for done in range(1, 301):
        now[0] = done * 1.5  # a question every 1.5 s
        progress(SimpleNamespace(kind="question_done", done=done, total=300, variant=variant, result=None, message=""))
    now[0] += 70
    progress(SimpleNamespace(kind="question_scored", done=300, total=300, variant=variant, result=None, message=""))
    now[0] += 30
    progress(SimpleNamespace(kind="question_logged", done=150, total=300, variant=variant, result=None, message=""))
    now[0] += 40
    progress(SimpleNamespace(kind="question_logged", done=250, total=300, variant=variant, result=None, message=""))
    assert written == [f"  a|m: {n}/300 questions answered" for n in (40, 80, 120, 160, 200, 240, 280)] + [
        "  a|m: 300/300 questions scored", "  a|m: 250/300 traces logged to MLflow"]


@pytest.mark.usefixtures("indexes_built")
def test_a_sweep_whose_progress_reader_went_away_finishes_and_is_logged(
    cache_dir: Path, tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``workbench run exp.yaml 2>&1 | grep -m1 FINISHED``: the reader went away after the first line, and the next
    progress line ended the sweep FAILED after its first variant; the sweep is the work, its lines are not."""
    read, write = os.pipe()
    os.close(read)
    run = cli_runner(monkeypatch, tmp_path, spec_file, Models(), no_progress=False)
    with open(write, "w", buffering=1) as closed, monkeypatch.context() as mp:  # line buffered: each line meets the pipe
        mp.setattr(sys, "stderr", closed)
        assert run() == 0
    assert reuse_line(capsys.readouterr().out).startswith("reused 0 of 2 variants")
    client = mlflow_client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("cli-cache").experiment_id])
    assert sorted(r.info.status for r in runs) == ["FINISHED"] * 3


class OneGoodPrompt(Models):
    """Prompt "a" answers each question with its reference answer, prompt "b" with a word in none of them."""

    def __init__(self) -> None:
        super().__init__()
        rows = [json.loads(line) for line in (ROOT / "datasets" / "python_docs.jsonl").read_text(encoding="utf-8").splitlines()]
        self.references = {row["question"]: row["reference"] for row in rows}

    def answer(self, prompt: Any) -> str:
        if "Question:" not in prompt.text:  # prompt "b"
            return "banana"
        return self.references[prompt.text.split("Question:")[-1].split("Answer:")[0].strip()]


@pytest.mark.usefixtures("indexes_built")
def test_run_says_whether_the_variants_behind_the_leader_are_detectably_behind(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make demo` printed means alone, sorted: a lead of 0.07 on 8 questions read as a winner. The leaderboard's metric
    is now compared against its leader question by question, as `workbench compare` would with it as the baseline."""
    spec = tmp_path / "exp.yaml"
    spec.write_text(SPEC.replace(f"limit: {QUESTIONS}", "limit: 8"), encoding="utf-8")
    assert cli_runner(monkeypatch, tmp_path, spec, OneGoodPrompt())() == 0
    out = capsys.readouterr().out
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (sweep,) = experiment_sweeps("cli-cache", tracking_uri=uri)
    good, bad = sorted(sweep.variants, key=lambda v: v.metrics["token_f1"], reverse=True)
    assert (good.metrics["token_f1"], bad.metrics["token_f1"]) == (1.0, 0.0)
    block = out[out.index("token_f1 against the leader"):]
    assert block.splitlines()[0] == f"token_f1 against the leader, question by question (every metric: workbench compare {sweep.run.run_id}):"
    logged = wb.compare(sweep.run.run_id, baseline=good.run_id, metrics=["token_f1"], tracking_uri=uri)
    assert logged.verdict(bad.run_id, "token_f1") == "worse"
    assert logged.summary() in block  # the same intervals and verdicts as the store's runs give


@pytest.mark.usefixtures("indexes_built")
def test_run_compares_nothing_against_the_leader_of_one_variant(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "exp.yaml"
    prompt_b = SPEC[SPEC.index("  - name: b"):SPEC.index("models:")]
    spec.write_text(SPEC.replace(prompt_b, ""), encoding="utf-8")
    assert cli_runner(monkeypatch, tmp_path, spec, Models())() == 0
    out = capsys.readouterr().out
    assert "1 variant on" in out and "against the leader" not in out


@pytest.mark.usefixtures("indexes_built")
def test_run_tells_how_to_open_the_store_it_wrote(
    cache_dir: Path, tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sweep logged to --tracking-uri: plain ``workbench ui`` would open the project's default store, not this one."""
    assert cli_runner(monkeypatch, tmp_path, spec_file, Models())() == 0
    hint = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("Open the runs in the MLflow UI:"))
    assert f"workbench --tracking-uri sqlite:///{tmp_path / 'mlflow.db'} ui" in hint, hint


def test_the_ui_hint_of_a_tracking_server_shows_no_password() -> None:
    from workbench.results import ui_hint

    hint = ui_hint("https://alice:hunter2-secret@mlflow.example.com", given=True)
    assert hint == "browse https://alice:***@mlflow.example.com"


def reuse_line(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("reused "))


@pytest.mark.usefixtures("indexes_built")
def test_run_prints_what_was_reused_and_fresh_recomputes(
    cache_dir: Path, tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    models = Models()
    run = cli_runner(monkeypatch, tmp_path, spec_file, models)
    n = 2 * QUESTIONS

    assert run() == 0
    assert reuse_line(capsys.readouterr().out) == f"reused 0 of 2 variants; {n} model calls, 0 answers from the cache"
    assert run() == 0
    assert reuse_line(capsys.readouterr().out) == f"reused 2 of 2 variants; 0 model calls, {n} answers from the cache"
    assert len(models.generator.calls) == n
    assert run("--fresh") == 0
    assert reuse_line(capsys.readouterr().out) == f"reused 0 of 2 variants; {n} model calls, 0 answers from the cache"
    assert len(models.generator.calls) == 2 * n


@pytest.mark.usefixtures("indexes_built")
def test_run_says_what_the_sweep_spent_and_its_parent_run_logs_the_totals(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The team lead's question, what did this sweep cost us: nothing said it, and the parent run in MLflow held no
    total (each child's spent_usd had to be summed by hand). A reused sweep spends nothing."""
    priced = tmp_path / "priced.yaml"
    priced.write_text(SPEC + f"pricing: {{{GEMMA_ID}: {{input: 1000, output: 2000}}}}\n", encoding="utf-8")
    run = cli_runner(monkeypatch, tmp_path, priced, Models())
    assert run() == 0
    spent = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("spent "))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (first,) = experiment_sweeps("cli-cache", tracking_uri=uri)
    total = sum(v.metrics["spent_usd"] for v in first.variants)
    assert total > 0 and spent == f"spent now: answers ${total:.4g}"
    assert first.run.metrics["spent_usd"] == pytest.approx(total) and first.run.metrics["generation_calls"] == 2 * QUESTIONS
    assert run() == 0
    assert not [line for line in capsys.readouterr().out.splitlines() if line.startswith("spent ")]
    second, _ = experiment_sweeps("cli-cache", tracking_uri=uri)  # newest first
    assert second.run.metrics["spent_usd"] == 0 and second.run.metrics["cache_hits"] == 2 * QUESTIONS
    assert main(["--tracking-uri", uri, "list", "cli-cache"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if " run=" in line and not line.startswith(" ")]
    by = f"by={default_user()}"  # whose sweep, last
    # the reused sweep spent nothing
    assert [line.split("  ")[-2:] for line in listed] == [["variants=2", by], [f"spent_usd=${total:.4g}", by]]


@pytest.mark.usefixtures("indexes_built")
def test_ctrl_c_says_the_sweep_is_killed_and_how_to_resume(
    cache_dir: Path, tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    models = Models(interrupt_on_call=QUESTIONS + 2)  # during the second variant's second question
    run = cli_runner(monkeypatch, tmp_path, spec_file, models)

    assert run() == 130
    captured = capsys.readouterr()
    assert "reused" not in captured.out
    stopped = [line for line in lines(captured.err) if "stopped" in line]
    assert stopped == [
        "stopped: the sweep is logged as KILLED; run the same command again to resume it "
        "(finished variants are reused, cached answers are not recomputed)"
    ]
    sweeps = experiment_sweeps("cli-cache", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert [s.run.status for s in sweeps] == ["KILLED"]

    # the same command again: the finished variant is reused and the stopped one's answers come from the cache, the
    # one being answered at Ctrl+C too (its call was let finish, within the grace period, not cut off)
    assert run() == 0
    line = reuse_line(capsys.readouterr().out)
    assert line == f"reused 1 of 2 variants; {QUESTIONS - 2} model call, {QUESTIONS + 2} answers from the cache"


@pytest.mark.usefixtures("indexes_built")
@pytest.mark.parametrize("no_progress", [True, False], ids=["no-progress", "plain-lines"])
def test_ctrl_c_says_at_once_that_the_sweep_finishes_its_calls_in_flight_and_how_to_stop_now(
    cache_dir: Path, tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_progress: bool,
) -> None:
    # after the first Ctrl+C nothing was printed while the variants finished their calls in flight (up to 5 s): users
    # pressed again, losing the answer being paid for, or thought the sweep hung
    run = cli_runner(monkeypatch, tmp_path, spec_file, Models(interrupt_on_call=QUESTIONS + 2), no_progress=no_progress)
    assert run() == 130
    said = lines(capsys.readouterr().err)
    stopping = [i for i, line in enumerate(said) if line.startswith("stopping: ")]
    assert [said[i] for i in stopping] == ["stopping: finishing the calls in flight (up to 5 s) so their answers are kept; "
                                           "Ctrl+C again to stop now"], said
    assert stopping[0] < next(i for i, line in enumerate(said) if line.startswith("stopped: "))


@pytest.fixture
def default_sigterm() -> Iterator[None]:
    """SIGTERM as a fresh `workbench run` process has it (the default: end the process), whatever a library loaded earlier
    in this pytest worker left (ray.init leaves a sys.exit handler)."""
    found = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, found)


@pytest.mark.usefixtures("indexes_built")
def test_sigterm_exits_143_not_ctrl_cs_130(
    cache_dir: Path, tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    default_sigterm: None,
) -> None:
    # systemd, Kubernetes and CI tell a termination (128 + 15) from a Ctrl+C (128 + 2) by the exit code
    run = cli_runner(monkeypatch, tmp_path, spec_file, Models(interrupt_on_call=QUESTIONS + 2, signum=signal.SIGTERM))
    assert run() == 143
    assert any(line.startswith("stopped: the sweep is logged as KILLED") for line in lines(capsys.readouterr().err))
    sweeps = experiment_sweeps("cli-cache", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert [s.run.status for s in sweeps] == ["KILLED"]


@pytest.mark.parametrize(
    ("started", "fresh", "expected"),
    [
        (False, False, "stopped before the sweep started: nothing was logged"),
        (True, True, "stopped: the sweep is logged as KILLED; run the same command again without --fresh to resume it "
                     "(finished variants are reused, cached answers are not recomputed)"),
    ],
)
def test_ctrl_c_message_before_the_sweep_and_with_fresh(
    cache_dir: Path, tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    started: bool, fresh: bool, expected: str,
) -> None:
    def interrupted(experiment: Any, *, on_event: Callable[[wb.ProgressEvent], None], **options: Any) -> wb.SweepResult:
        assert options["fresh"] is fresh
        if started:
            on_event(wb.ProgressEvent("sweep_started", 0, 2))
        raise KeyboardInterrupt

    monkeypatch.setattr(wb, "run", interrupted)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["--tracking-uri", uri, "run", str(spec_file), "--no-progress", *(["--fresh"] if fresh else [])]) == 130
    captured = capsys.readouterr()
    assert lines(captured.err) == [expected] and captured.out == ""


def test_ctrl_c_that_cut_the_sweeps_end_says_its_parent_run_stays_running_and_exits_130(
    cache_dir: Path, tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # a second Ctrl+C against a server holding writes cut the sweep's end: the command said "logged as KILLED" of a
    # parent run left RUNNING (or, cut as the sweep ended, exited 2 with the tracking error, not 130 as for Ctrl+C)
    def cut_at_its_end(experiment: Any, *, on_event: Callable[[wb.ProgressEvent], None], **options: Any) -> wb.SweepResult:
        on_event(wb.ProgressEvent("sweep_started", 0, 2))
        held = TrackingUnavailable("http://mlflow:5000", "ending the sweep", "it took writes and answered none", unended_run="abc123")
        raise KeyboardInterrupt from held

    monkeypatch.setattr(wb, "run", cut_at_its_end)
    assert main(["--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "run", str(spec_file), "--no-progress"]) == 130
    assert lines(capsys.readouterr().err) == [
        "stopped: the tracking server did not take the sweep's end, so its parent run abc123 stays RUNNING (the next sweep of "
        "this experiment from this machine ends it as KILLED); once the server answers, run the same command again to resume "
        "it (finished variants are reused, cached answers are not recomputed)"]


class FailingModels(Models):
    def answer(self, prompt: Any) -> str:
        raise RuntimeError("502 Bad Gateway: " + "<p>an nginx error page</p>\n" * 5000)


@pytest.mark.usefixtures("indexes_built")
def test_a_variant_failing_with_a_huge_error_page_is_one_short_line(
    cache_dir: Path, tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a proxy's HTML error page quoted in every failed variant's line: 140 KB of markup per line on the terminal
    run = cli_runner(monkeypatch, tmp_path, spec_file, FailingModels())
    assert run() == 1
    failed = [line for line in capsys.readouterr().err.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 2 and all(len(line) < 700 for line in failed), [len(line) for line in failed]
    assert all("RuntimeError: 502 Bad Gateway: <p>an nginx error page</p>" in line and line.endswith(" characters in all)") for line in failed)


class OneQuestionFails(Models):
    def answer(self, prompt: Any) -> str:
        if "iterator in a for loop" in prompt.text:
            raise RuntimeError("503 Service Unavailable: " + "<p>upstream connect error</p>" * 200)
        return super().answer(prompt)


@pytest.mark.usefixtures("indexes_built")
def test_a_failed_question_quotes_its_error_cut_short_and_says_so(
    cache_dir: Path, tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli_runner(monkeypatch, tmp_path, spec_file, OneQuestionFails())
    assert run() == 0
    failed = [line for line in capsys.readouterr().err.splitlines() if " questions failed (first: " in line]
    assert len(failed) == 2 and all(line.startswith(("a", "b")) and f"1 of {QUESTIONS} questions failed" in line for line in failed)
    assert all("RuntimeError: 503 Service Unavailable: <p>upstream" in line and " characters in all)) — their scores are missing"
               in line and len(line) < 400 for line in failed), failed


def refused(model_id: str, status: int) -> Exception:
    """The error a hosted model's call fails with when its server refuses the key or the model for good, in the
    generator's own words."""
    import functools

    from workbench.models._hosted import _refused
    from workbench.models._registry import refusal_advice

    class NotFoundError(Exception):
        status_code = status

    error = _refused(NotFoundError(f"Error code: {status}"), model_id, functools.partial(refusal_advice, model_id, environ={}))
    assert error is not None
    return error


class RefusedModels(Models):
    def answer(self, prompt: Any) -> str:
        if "iterator in a for loop" in prompt.text:
            raise refused("openai:gpt-4o-mini", 404)
        return super().answer(prompt)


@pytest.mark.usefixtures("indexes_built")
def test_scores_a_rerun_cannot_mend_are_not_said_to_be_retried_by_running_again(
    cache_dir: Path, tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a judge (or a model) whose server knows no such model, or refused the key: each run again failed them the same way
    spec_file.write_text(SPEC + f"judge: {{id: {SMOLLM2_ID}}}\nscorers: [token_f1, context_precision]\n", encoding="utf-8")

    def no_such_judge(prompt: Any) -> str:
        raise refused("openai:gpt-judge", 404)

    judge = ScriptedModel(no_such_judge, model_id=SMOLLM2_ID, kind="chat")
    run = cli_runner(monkeypatch, tmp_path, spec_file, RefusedModels(), judge=judge)
    assert run() == 0
    err = capsys.readouterr().err.splitlines()
    questions = [line for line in err if " questions failed (first: " in line]
    judged = [line for line in err if " judge calls failed (first: judge call failed: " in line]
    assert len(questions) == 2 and len(judged) == 2, err
    assert all("knows no model 'gpt-4o-mini'" in line and line.endswith(
        "— their scores are missing; a re-run fails them the same way: check the model name after 'openai:', then run again to "
        "retry only them") for line in questions), questions
    assert all("knows no model 'gpt-judge'" in line and line.endswith(
        "— those scores are missing; a re-run fails them the same way: check the model name after 'openai:', then run again "
        "to retry only them") for line in judged), judged


@pytest.mark.parametrize(("error", "advice"), [
    ("RuntimeError: 503 Service Unavailable", "run again to retry only them"),
    ("judge call failed: APITimeoutError: Request timed out. (after 4 retries)", "run again to retry only them"),
    (f"judge call failed: ModelError: {refused('openai:gpt-x', 401)}",
     "a re-run fails them the same way: check that OPENAI_API_KEY holds a key of that server, then run again to retry only them"),
    (f"ModelError: {refused('openai:gpt-x', 403)} (not sent: the server refused an earlier call the same way)",
     "a re-run fails them the same way: check that the key in OPENAI_API_KEY may use it, then run again to retry only them"),
    ("RateLimitError: Error code: 429 - {'error': {'code': 'insufficient_quota'}}",
     "a re-run fails them the same way: top up the account's quota or credit, then run again to retry only them"),
    (f"ModelError: local:x: the prompt is longer than the model's context window (9000 tokens) — {CONTEXT_ADVICE}",
     f"a re-run fails them the same way: {CONTEXT_ADVICE}, then run again to retry only them"),
    ("judge call failed: ModelError: openai:gpt-x: openai's server knows no model 'gpt-x' (NotFoundError: " + "x" * 600,
     "a re-run fails them the same way: check the model name and the server's address, then run again to retry only them"),
])
def test_the_advice_on_missing_scores_fits_their_first_error(error: str, advice: str) -> None:
    from workbench.cli._run_report import _retry_advice

    assert _retry_advice(error) == advice


class EscapingModels(Models):
    """A provider (or a proxy in front of it) whose errors carry terminal escapes: clear the screen, retitle the
    window, write the clipboard (OSC 52), move the cursor back over the line."""

    HOSTILE = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZWNobyBwd25lZA==\x07\r\x1b[1A"

    def answer(self, prompt: Any) -> str:
        if prompt.text.startswith("Context:") or "iterator in a for loop" in prompt.text:  # prompt a always, b once
            raise RuntimeError(f"502 Bad Gateway {self.HOSTILE}from the proxy")
        return super().answer(prompt)


@pytest.mark.usefixtures("indexes_built")
def test_terminal_escapes_in_errors_are_shown_not_obeyed(
    cache_dir: Path, tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli_runner(monkeypatch, tmp_path, spec_file, EscapingModels())
    assert run() == 1
    captured = capsys.readouterr()
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", captured.err), captured.err
    shown = r"502 Bad Gateway \x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZWNobyBwd25lZA==\x07"
    failed = [line for line in captured.err.splitlines() if line.startswith("FAILED a")]
    assert len(failed) == 1 and shown in failed[0], failed
    assert any(line.startswith("b|") and "1 of 3 questions failed" in line and shown in line for line in captured.err.splitlines()), captured.err


def test_clear_indexes_is_refused_while_a_sweep_runs_in_another_process_unless_forced(
    cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `cache clear --indexes` beside a running sweep removed the indexes under it: its variants reading them failed
    import subprocess

    from workbench.pipeline import ChromaIndexStore, Chunk

    index_dir = cache_dir.parent / "indexes"
    ChromaIndexStore(index_dir).build("k1", [Chunk(id="c1", doc_id="d", text="a", start=0, end=1)], [[1.0, 0.5]])
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from workbench.sandbox import SweepSandboxes\n"
         "marks = SweepSandboxes(Path(sys.argv[1]), 'sweep1'); marks.hold(); print('held', flush=True); time.sleep(120)", str(cache_dir.parent / "sandboxes")],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert main(["cache", "clear", "--indexes"]) == 2
        err = capsys.readouterr().err
        assert "1 sweep is running on this machine" in err and "--force" in err, err
        assert len(err.strip().splitlines()) == 1, err
        assert [i.key for i in ChromaIndexStore(index_dir).indexes()] == ["k1"]
        assert main(["cache", "clear", "--indexes", "--force"]) == 0
        assert "removed 1 indexes" in capsys.readouterr().out and ChromaIndexStore(index_dir).indexes() == []
    finally:
        holder.kill()
        holder.wait()
    assert main(["cache", "clear", "--indexes"]) == 0  # its process died: the mark is let go
    assert "removed 0 indexes" in capsys.readouterr().out
