"""A sweep in a child forked from a process that ran one (``os.fork``, a fork-context ProcessPoolExecutor or
multiprocessing.Process, a prefork server's worker): it runs, or is refused in one line; it never hangs."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import workbench as wb
from workbench.models import GEMMA_ID
from workbench.pipeline import MemoryIndexStore
from workbench.testing import ScriptedModel
from workbench.tracking import MemoryTracker

from tests.test_runner import make_spec

CHILD_TIMEOUT_S = 60.0


def in_forked_child(body: Callable[[], Any]) -> Any:
    """``body()``'s answer (or ``{"error": ...}``) in a child forked from this process; a child that does not answer
    within CHILD_TIMEOUT_S (hung) is killed and fails the test instead of hanging the suite."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer on the pipe, never return into pytest
        os.close(read)
        try:
            answer: Any = body()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        with os.fdopen(write, "w") as out:
            out.write(json.dumps(answer))
        os._exit(0)
    os.close(write)
    try:
        poller = select.poll()  # not select.select: after many sweeps in one pytest worker, the pipe's fd may be past 1024
        poller.register(read, select.POLLIN)
        ready = poller.poll(CHILD_TIMEOUT_S * 1000)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"the forked child hung: no answer within {CHILD_TIMEOUT_S:.0f} s")
        with os.fdopen(read) as answer_in:
            text = answer_in.read()
    finally:
        deadline = time.monotonic() + 10
        while os.waitpid(pid, os.WNOHANG) == (0, 0) and time.monotonic() < deadline:
            time.sleep(0.05)
    return json.loads(text)


def _statuses(spec: Any, models: Any, settings: Any) -> dict[str, Any]:
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=settings, progress=False, limit=1)
    return {"status": [v.status for v in result.variants], "error": [v.outcome.error for v in result.variants]}


def test_a_sweep_in_a_child_forked_after_a_sweep_runs_its_own_workers(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # the child inherited the parent's forkserver (its pid is no child of the child's): every variant of the child's
    # sweep FAILED on "ChildProcessError: [Errno 10] No child processes". One light scorer: the default ones have each
    # forkserver (the parent's, then the child's own) import ragas first
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], prompts=[{"name": "p", "template": "{context} {question}"}],
                     scorers=["token_f1"])
    assert _statuses(spec, fake_models, wb_settings)["status"] == ["FINISHED"]  # the parent's sweep starts the forkserver
    assert in_forked_child(lambda: _statuses(spec, fake_models, wb_settings)) == {"status": ["FINISHED"], "error": [None]}
    assert _statuses(spec, fake_models, wb_settings)["status"] == ["FINISHED"]  # and the parent's forkserver still serves it


def _default_store_statuses(spec: Any, models: Any, settings: Any) -> dict[str, Any]:
    tracker = MemoryTracker()
    try:
        result = wb.run(spec, models=models, tracker=tracker, settings=settings, progress=False, limit=1)
    except wb.WorkbenchError as exc:
        return {"error": str(exc), "runs": len(tracker.runs)}
    return {"status": [v.status for v in result.variants]}


def test_a_sweep_on_local_chroma_in_a_child_forked_after_one_is_one_line_not_a_hang(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # the child inherited Chroma's Rust library without its threads: its sweep hung for good opening the index store
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], prompts=[{"name": "p", "template": "{context} {question}"}],
                     execution={"isolation": "none"})
    assert _default_store_statuses(spec, fake_models, wb_settings) == {"status": ["FINISHED"]}  # opens the local Chroma store
    answer = in_forked_child(lambda: _default_store_statuses(spec, fake_models, wb_settings))
    assert answer["runs"] == 0, answer  # refused before anything was logged
    assert re.fullmatch(r"this process \(pid \d+\) was forked from one that had opened a local Chroma index store, .*'spawn' context.*"
                        r"get_context\('spawn'\).*WORKBENCH_CHROMA_URL\)", answer["error"]), answer
    assert _default_store_statuses(spec, fake_models, wb_settings) == {"status": ["FINISHED"]}  # the parent goes on as before
    # a store of the caller's own (here in memory) is the caller's to choose: it runs in the child
    assert in_forked_child(lambda: _statuses(spec, fake_models, wb_settings)) == {"status": ["FINISHED"], "error": [None]}


def test_a_child_forked_while_a_sweep_runs_in_another_thread_runs_its_own(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # a RunPanel's sweep runs in a thread; a fork meanwhile left the child holding the one-sweep-at-a-time lock of a
    # thread it does not have: its sweep said "another sweep is running" and waited forever
    release, answering = threading.Event(), threading.Event()

    def held(prompt):  # type: ignore[no-untyped-def]
        answering.set()
        release.wait(30)
        return "an answer"

    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], prompts=[{"name": "p", "template": "{context} {question}"}],
                     execution={"isolation": "none"})
    background = threading.Thread(target=_statuses, args=(spec, {**fake_models, GEMMA_ID: ScriptedModel(held, model_id=GEMMA_ID)}, wb_settings))
    background.start()
    try:
        assert answering.wait(30)
        assert in_forked_child(lambda: _statuses(spec, fake_models, wb_settings)) == {"status": ["FINISHED"], "error": [None]}
    finally:
        release.set()
        background.join(30)


@pytest.mark.integration
def test_minilm_embeds_in_a_child_forked_after_it_embedded_here() -> None:
    # torch's OpenMP pool, started by MiniLM in the parent, is inherited without its threads: the child's first
    # embedding (its sweep's questions, or its index) hung for good
    from workbench.models._local import MiniLMEmbedder

    texts = [f"word{i} " * 120 for i in range(16)]
    embedder = MiniLMEmbedder()
    parent = embedder.embed(texts)
    child = in_forked_child(lambda: embedder.embed(texts))
    assert len(child) == len(texts)
    assert max(abs(a - b) for u, v in zip(child, parent) for a, b in zip(u, v)) < 1e-4  # the same vectors, on one thread
