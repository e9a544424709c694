"""The pools of hosted calls in flight, shared by a sweep's workers and by every sweep using one cache: lock files, one
held per call."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import copy_store, run_together
from workbench.execution._slots import CallSlots, SlotPool
from workbench.testing.openai_stub import OpenAIStub
from workbench.tracking import MemoryTracker

ROOT = Path(__file__).resolve().parents[2]


class InFlight:
    """Counts the calls in flight across threads, and the most there were at once (``peak``)."""

    def __init__(self) -> None:
        self._lock, self._now, self.peak = threading.Lock(), 0, 0

    @contextlib.contextmanager
    def one(self):  # type: ignore[no-untyped-def]
        with self._lock:
            self._now += 1
            self.peak = max(self.peak, self._now)
        try:
            yield
        finally:
            with self._lock:
                self._now -= 1


def test_no_more_calls_than_slots_are_in_flight_and_every_waiter_gets_one(tmp_path: Path) -> None:
    pool = SlotPool(str(tmp_path), "openai", 2)
    lock = threading.Lock()
    in_flight, peak, held = 0, 0, []

    def call() -> None:
        nonlocal in_flight, peak
        with pool.slot(poll_s=0.001) as number:
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
                held.append(number)
            time.sleep(0.02)
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert peak == 2
    assert len(held) == 8 and set(held) == {0, 1}


def test_a_slot_is_free_again_after_its_block_even_when_the_block_raises(tmp_path: Path) -> None:
    pool = SlotPool(str(tmp_path), "openai", 1)
    try:
        with pool.slot():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    done = threading.Event()

    def take() -> None:
        with pool.slot():
            done.set()

    t = threading.Thread(target=take, daemon=True)
    t.start()
    assert done.wait(timeout=5)


def test_calls_of_one_process_share_the_pools_files(tmp_path: Path) -> None:
    """Each call opened every file of the pool for itself: 8 calls in flight in a worker with a provider limit of 200
    held 1,600 files, past the usual limit of 1,024 open files ('Too many open files' on every hosted call)."""
    pool = SlotPool(str(tmp_path), "openai", 200)
    lock, started, peak = threading.Lock(), threading.Barrier(8), 0

    def pool_files() -> int:
        """The process's open files in the pool's folder (not all its files: another thread of this pytest worker may
        open or close one meanwhile)."""
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # an fd closed since the listing
                count += os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path))
        return count

    def call() -> None:
        nonlocal peak
        with pool.slot(poll_s=0.001):
            started.wait(timeout=10)  # all 8 in flight at once
            with lock:
                peak = max(peak, pool_files())

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert 200 <= peak <= 210, peak
    assert pool_files() == 0  # closed when the last call ends: a sweep's pool leaves no file open


def test_a_pool_with_a_smaller_limit_finds_a_slot_while_a_larger_one_in_its_folder_has_free_ones(tmp_path: Path) -> None:
    """Both took the first free file: a sweep with a limit of 4 and two calls in flight held files 0 and 1, so a
    second sweep with a limit of 2, sharing the folder, waited although only two of the four calls were in flight."""
    larger, smaller = SlotPool(str(tmp_path), "openai", 4), SlotPool(str(tmp_path), "openai", 2)
    with larger.slot(), larger.slot():
        got = threading.Event()

        def take() -> None:
            with smaller.slot():
                got.set()

        threading.Thread(target=take, daemon=True).start()
        assert got.wait(timeout=2)


def test_pools_of_different_limits_in_one_folder_keep_to_the_larger_together_and_each_to_its_own(tmp_path: Path) -> None:
    pools = {"large": SlotPool(str(tmp_path), "openai", 3), "small": SlotPool(str(tmp_path), "openai", 1)}
    lock = threading.Lock()
    in_flight = {"large": 0, "small": 0}
    peak = {"large": 0, "small": 0, "both": 0}

    def call(name: str) -> None:
        with pools[name].slot(poll_s=0.001):
            with lock:
                in_flight[name] += 1
                peak[name] = max(peak[name], in_flight[name])
                peak["both"] = max(peak["both"], sum(in_flight.values()))
            time.sleep(0.02)
            with lock:
                in_flight[name] -= 1

    threads = [threading.Thread(target=call, args=(name,)) for name in ("large", "small") * 6]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert peak["both"] <= 3 and peak["small"] == 1 and peak["large"] <= 3


def test_a_call_holds_a_slot_of_its_tasks_share_and_of_the_shared_pool(tmp_path: Path) -> None:
    """Two Ray tasks with a share of one call each, on one machine, under a shared limit of one: one call at a time."""
    shared = SlotPool(str(tmp_path / "shared"), "openai", 1)
    tasks = [CallSlots((SlotPool(str(tmp_path / f"task{i}"), "openai", 1), shared)) for i in range(2)]
    calls = InFlight()

    def call(slots: CallSlots) -> None:
        with slots.slot(), calls.one():
            time.sleep(0.02)

    threads = [threading.Thread(target=call, args=(slots,)) for slots in tasks * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert calls.peak == 1


# A sweep of its own (a CI job, a notebook): its prompts are its own, so no answer is shared with the other sweep
# through the cache and every call reaches the provider.
SWEEP = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    import workbench as wb
    from tests.execution.test_hosted import ROOT, spec_of, sweep
    from workbench.config import settings

    root, go, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    spec = spec_of(questions=6, prompts=2, execution={"workers": 4, "isolation": "none", "concurrency": {"openai": 2}})
    spec = spec.model_copy(update={"prompts": tuple(p.model_copy(update={"name": f"{name}-{p.name}", "template": f"{name}. {p.template}"})
                                                    for p in spec.prompts)})
    while not go.exists():  # everything is imported: start both sweeps at the same moment
        time.sleep(0.005)
    result = sweep(spec, settings(root=root))
    assert all(v.status == "FINISHED" for v in result.variants), [v.outcome.error for v in result.variants]
    print(sum(len(v.records) for v in result.variants))
    """
)


def test_two_sweeps_at_once_on_one_cache_keep_to_one_provider_limit_together(tmp_path: Path, empty_store: Path) -> None:
    """Each sweep's pools were in a folder of its own: two CI jobs with ``concurrency: {openai: 2}`` sent up to four
    calls at once, past the provider's rate limit."""
    go = tmp_path / "go"
    with OpenAIStub(delay_s=0.3) as stub:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_DISABLE_TELEMETRY": "true", "WORKBENCH_CACHE_DIR": str(tmp_path / "cache"),
               "OPENAI_API_KEY": "stub-key", "OPENAI_BASE_URL": stub.base_url}
        env.pop("MLFLOW_TRACKING_URI", None)
        sweeps = []
        for name in ("ana", "ben"):
            copy_store(empty_store, tmp_path / name)
            sweeps.append([SWEEP, str(tmp_path / name), str(go), name])
        answered = run_together(sweeps, go, env)
    assert answered == ["12", "12"] and stub.requests == 24  # every call reached the provider
    assert stub.max_in_flight == 2


def test_a_cache_on_a_mount_without_locks_keeps_each_sweeps_limit_in_a_folder_of_its_own(
    wb_settings, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """The shared pool's first lock failed (ENOLCK on some NFS, FUSE and CI-cache mounts), failing every hosted call."""
    from tests.execution.test_hosted import spec_of

    cache = str(wb_settings.cache_dir)
    real_flock = fcntl.flock

    def flock(fd: int, operation: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(cache):
            raise OSError(errno.ENOLCK, "No locks available")
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    spec = spec_of(questions=4, prompts=2, execution={"workers": 4, "isolation": "none", "concurrency": {"openai": 2}})
    stub = swept_against_stub(spec, wb_settings, monkeypatch)
    assert stub.requests == 8 and stub.max_in_flight == 2


def swept_against_stub(spec, wb_settings, monkeypatch: pytest.MonkeyPatch) -> OpenAIStub:  # type: ignore[no-untyped-def]
    """The stub ``spec``'s sweep called (every variant FINISHED), to read its requests and most in flight."""
    from tests.execution.test_hosted import sweep

    with OpenAIStub(delay_s=0.1) as stub:
        monkeypatch.setenv("OPENAI_API_KEY", "stub-key")
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        result = sweep(spec, wb_settings)
    assert all(v.status == "FINISHED" for v in result.variants), [v.outcome.error for v in result.variants]
    return stub


@pytest.mark.parametrize("workers", [2, 1])
def test_a_routed_question_holds_the_strong_providers_slot_only_while_it_calls_it(workers: int, wb_settings) -> None:  # type: ignore[no-untyped-def]
    """A routed question held a slot of both its providers from its start to its end: under {anthropic: 1} a router
    whose strong model is Anthropic's answered one question at a time across the sweep, its cheap OpenAI calls included,
    though no question escalated. And a router answered as many questions at once as the smaller of its providers'
    limits: one at a time with one worker, though its cheap model's provider took two calls at once."""
    import workbench as wb
    from tests.execution.test_hosted import spec_of
    from workbench.models import MINILM_ID
    from workbench.pipeline import MemoryIndexStore
    from workbench.testing import HashingEmbedder, ScriptedModel

    calls = InFlight()

    def cheap_answer(prompt) -> str:  # type: ignore[no-untyped-def]
        with calls.one():
            time.sleep(0.2)
        return "A grounded answer."

    cheap, strong = {"id": "openai:cheap", "kind": "chat"}, {"id": "anthropic:strong", "kind": "chat"}
    spec = spec_of(questions=3, prompts=2, execution={"workers": workers, "isolation": "none", "concurrency": {"openai": 2, "anthropic": 1}})
    spec = spec.model_copy(update={"models": wb.ExperimentSpec.from_dict({**spec.model_dump(mode="json", exclude_none=True), "models": [
        {"router": {"name": "r", "cheap": cheap, "strong": strong, "escalate_when": {"refusal_or_empty": True}}}]}).models})
    models = {"openai:cheap": ScriptedModel(cheap_answer, model_id="openai:cheap", kind="chat"),
              "anthropic:strong": ScriptedModel(lambda p: "never asked", model_id="anthropic:strong", kind="chat"),
              MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, tracker=MemoryTracker())
    assert [v.status for v in result.variants] == ["FINISHED", "FINISHED"], [v.outcome.error for v in result.variants]
    assert all(v.metrics["escalation_rate"] == 0 for v in result.variants)
    assert calls.peak == 2


def test_a_cache_whose_slots_folder_cannot_be_made_keeps_each_sweeps_limit_in_a_folder_of_its_own(wb_settings, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A cache folder where ``slots`` cannot be made (a file of that name, a folder this user may not write) failed the
    whole sweep before its first call, though the slots only share a limit with other sweeps."""
    from tests.execution.test_hosted import spec_of

    wb_settings.cache_dir.mkdir(parents=True, exist_ok=True)
    (wb_settings.cache_dir / "slots").write_text("not a folder")
    spec = spec_of(questions=2, prompts=2, execution={"workers": 2, "isolation": "none", "concurrency": {"openai": 1}})
    stub = swept_against_stub(spec, wb_settings, monkeypatch)
    assert stub.requests == 4 and stub.max_in_flight == 1


def test_a_routers_grounding_embeddings_keep_to_their_providers_limit(wb_settings, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The grounding signal embeds each cheap answer with the variant's embedding model from the question's thread,
    holding no slot: two routers under {openai: 2} sent four embedding calls at once to OpenAI."""
    import workbench as wb
    from tests.execution.test_hosted import spec_of
    from workbench.models import MINILM_ID
    from workbench.pipeline import MemoryIndexStore
    from workbench.testing import HashingEmbedder, ScriptedModel

    cheap, strong = {"id": "anthropic:cheap", "kind": "chat"}, {"id": "anthropic:strong", "kind": "chat"}
    spec = spec_of(questions=4, prompts=2, execution={"workers": 2, "isolation": "none", "concurrency": {"openai": 2, "anthropic": 8}},
                   retrieval=[{"embedding": "openai:text-embedding-3-small", "k": 2}])
    spec = spec.model_copy(update={"models": wb.ExperimentSpec.from_dict({**spec.model_dump(mode="json", exclude_none=True), "models": [
        {"router": {"name": "r", "cheap": cheap, "strong": strong, "escalate_when": {"grounding_below": 0.0}}}]}).models})
    models = {"anthropic:cheap": ScriptedModel(lambda p: p.text.splitlines()[-1], model_id="anthropic:cheap", kind="chat"),
              "anthropic:strong": ScriptedModel(lambda p: "never asked", model_id="anthropic:strong", kind="chat"),
              MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    with OpenAIStub(delay_s=0.3) as stub:
        monkeypatch.setenv("OPENAI_API_KEY", "stub-key")
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, tracker=MemoryTracker())
    assert [v.status for v in result.variants] == ["FINISHED", "FINISHED"], [v.outcome.error for v in result.variants]
    assert stub.requests > 8  # the index, the questions, then a grounding call per answer
    assert stub.max_in_flight == 2
