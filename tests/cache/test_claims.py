"""Claims shared by every sweep using one cache: an answer one sweep is computing is never computed by another.

Two sweeps at once on one machine (two CI jobs, two notebooks, a CLI run beside a RunPanel) each claimed the answers
they computed in a folder of their own, so each computed (with a hosted model: paid for) every new answer the other was
computing. The claims now live beside the cache store.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import copy_store, run_together
from tests.promotion.conftest import CASES
from workbench.cache import CachedGenerator, DiskCacheStore, MemoryCacheStore, _claims, claimed
from workbench.models import GenerationParams
from workbench.prompts import RenderedPrompt
from workbench.testing import ScriptedModel

ROOT = Path(__file__).resolve().parents[2]

SWEEP = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    import workbench as wb
    from tests.promotion.conftest import fake_models, scripted_answer, write_project
    from workbench.config import settings
    from workbench.models import GEMMA_ID
    from workbench.pipeline import MemoryIndexStore
    from workbench.testing import ScriptedModel

    def slow_answer(prompt):
        time.sleep(0.2)  # a hosted call: long enough for the other sweep to ask the same question meanwhile
        return scripted_answer(prompt)

    root, go, isolation = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    spec = write_project(root).model_copy(update={"scorers": ("token_f1", "hit_at_k")})
    spec = spec.model_copy(update={"execution": spec.execution.model_copy(update={"isolation": isolation})})
    model = ScriptedModel(slow_answer, model_id=GEMMA_ID, identity="scripted:claims")  # one model: its answers are shared
    models = {**fake_models(), GEMMA_ID: model}
    while not go.exists():  # everything is imported: start both sweeps at the same moment
        time.sleep(0.005)
    result = wb.run(spec, settings=settings(root=root), models=models, index_store=MemoryIndexStore(), progress=False)
    assert [v.status for v in result.variants] == ["FINISHED", "FINISHED"], [v.outcome.error for v in result.variants]
    print(len(model.calls))
    """
)


@pytest.mark.parametrize("isolation", ["none", "process"])
def test_two_sweeps_at_once_on_one_cache_compute_each_answer_once(tmp_path: Path, empty_store: Path, isolation: str) -> None:
    """Variants in the sweep's process (sharing the caller's models, which claimed nothing) and in worker processes
    (which claimed in a folder of their sweep's own)."""
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_DISABLE_TELEMETRY": "true", "WORKBENCH_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("MLFLOW_TRACKING_URI", None)
    sweeps = []
    for name in ("ana", "ben"):
        root = tmp_path / name  # each notebook its own folder and MLflow store; one cache
        copy_store(empty_store, root)  # where settings(root=root) keeps it (a new store runs MLflow's migrations: seconds)
        sweeps.append([SWEEP, str(root), str(go), isolation])
    calls = [int(last) for last in run_together(sweeps, go, env)]
    assert sum(calls) == 2 * len(CASES), calls  # 2 prompts x the questions, each computed by one of the sweeps
    assert not list((tmp_path / "cache" / "claims").iterdir())  # a claim's file goes with it


def test_a_store_on_disk_has_a_claims_folder_beside_it_and_one_in_memory_none(tmp_path: Path) -> None:
    store = DiskCacheStore(tmp_path / "cache")
    assert store.claims_dir == str(tmp_path / "cache" / "claims")
    assert MemoryCacheStore().claims_dir is None  # nothing else answers into it


def test_a_claim_held_elsewhere_is_waited_for_and_then_taken(tmp_path: Path) -> None:
    path = tmp_path / "claims" / "generation-k.claim"
    order: list[str] = []
    with claimed(path, None):
        waiter = threading.Thread(target=lambda: _claim_and_note(path, order))
        waiter.start()
        time.sleep(0.3)
        order.append("first done")
    waiter.join(5)
    assert order == ["first done", "second"]
    assert not path.exists()


def _claim_and_note(path: Path, order: list[str]) -> None:
    with claimed(path, None):
        order.append("second")


def test_a_waiter_past_its_deadline_goes_on_without_the_claim(tmp_path: Path) -> None:
    path = tmp_path / "claims" / "generation-k.claim"
    with claimed(path, None):
        start = time.monotonic()
        with claimed(path, time.monotonic() + 0.2):
            waited = time.monotonic() - start
    assert 0.15 < waited < 2


def test_the_claim_of_a_killed_process_is_taken_by_the_next_asker(tmp_path: Path) -> None:
    path = tmp_path / "claims" / "generation-k.claim"
    held = tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pathlib import Path
        from workbench.cache import claimed
        with claimed(Path({str(path)!r}), None):
            Path({str(held)!r}).touch()
            time.sleep(60)
    """)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 30
        while not held.exists():
            assert time.monotonic() < deadline and holder.poll() is None, "the holder never took the claim"
            time.sleep(0.01)
        os.kill(holder.pid, signal.SIGKILL)  # no finally runs: the kernel lets go of the lock, the file stays
        holder.wait(10)
        start = time.monotonic()
        with claimed(path, time.monotonic() + 10):
            assert time.monotonic() - start < 8  # taken at once, not after waiting out its 10 s
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_a_claim_let_go_between_an_askers_open_and_its_lock_is_not_held_by_two(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder removes the file as it lets go: an asker that opened the old file must take the claim at the path
    (here already held by a third asker), not the removed file nobody else can see (two holders of one claim would
    compute one answer twice)."""
    path = tmp_path / "claims" / "generation-k.claim"
    first, third = contextlib.ExitStack(), contextlib.ExitStack()
    first.enter_context(claimed(path, None))
    letting_go = [first]
    real_open = os.open

    def open_then_let_go(*args: object) -> int:
        fd = real_open(*args)  # type: ignore[arg-type]
        if letting_go:  # once: the first holder lets go, a third asker claims anew
            letting_go.pop().close()
            third.enter_context(claimed(path, None))
        return fd

    monkeypatch.setattr(_claims.os, "open", open_then_let_go)
    try:
        assert _claims._take(path, time.monotonic() + 0.3, 0.01) is None  # held by the third: waited, then went on
    finally:
        monkeypatch.undo()
        third.close()
    assert not path.exists()


@pytest.mark.parametrize("code", [errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP])
def test_a_cache_on_a_file_system_without_locks_answers_without_claims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """A cache folder on a mount without flock (some NFS, FUSE and CI-cache mounts): every answer failed on an
    OSError from the lock of its claim; it is computed without one (a claim only saves a second computation)."""

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(_claims, "fcntl", SimpleNamespace(flock=no_locks, LOCK_EX=fcntl.LOCK_EX, LOCK_NB=fcntl.LOCK_NB))
    store = DiskCacheStore(tmp_path / "cache")
    model = CachedGenerator(ScriptedModel(lambda p: "an answer"), store, identity="scripted:nolocks", claims=store.claims_dir)
    prompt = RenderedPrompt(text="Q?", messages=(("user", "Q?"),))
    assert model.generate(prompt, GenerationParams()).text == "an answer"
    assert model.generate(prompt, GenerationParams()).cached and model.calls == 1
    assert not list(Path(store.claims_dir).iterdir())
