"""The sweep runner with deterministic fakes: shared indexes, sandbox limits, failure capture, stop."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench.grid import expand_grid
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.results import reused_metrics, sweep_totals
from workbench.runner import load_inputs
from workbench.runner._sweep import _Bars
from workbench.spec import ExperimentSpec
from workbench.testing import CountingIndexStore, HashingEmbedder, ScriptedModel
from workbench.tracking import MemoryTracker

# mlflow is imported where used (mlflow_client): the sweeps' worker processes import this module (1.1-1.5 s of CPU each)
from tests.conftest import mlflow_client

ROOT = Path(__file__).resolve().parents[1]


def make_spec(**overrides) -> ExperimentSpec:  # type: ignore[no-untyped-def]
    data = {
        "name": "unit",
        "dataset": {"path": "datasets/python_docs.jsonl", "limit": 4},
        "corpus": {"builtin": "python-reference"},
        "prompts": [
            {"name": "p1", "template": "Context: {context}\nQuestion: {question}\nAnswer:"},
            {"name": "p2", "template": "{context}\n\nQ: {question}\nA:"},
        ],
        "models": [{"id": GEMMA_ID, "params": {"max_tokens": 16}}],
        "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}, {"strategy": "sentence", "size": 300, "overlap": 0}],
        "retrieval": [{"k": 3}],
    }
    data.update(overrides)
    return ExperimentSpec.from_dict(data, base_dir=ROOT)



@pytest.mark.slow
def test_sweep_builds_each_shared_index_once_and_scores_every_variant(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    store, tracker = CountingIndexStore(), MemoryTracker()
    result = wb.run(make_spec(), models=fake_models, index_store=store, tracker=tracker, settings=wb_settings, progress=False)
    assert len(result.variants) == 4
    assert len(store.builds) == 2  # two chunkers; prompts share their chunker's index
    assert all(v.status == "FINISHED" for v in result.variants)
    board = result.leaderboard()
    assert list(board["questions"]) == [4, 4, 4, 4]
    assert board["hit_at_k"].between(0, 1).all()
    # lower is better for tokens, latency and cost: sorted by one, the leaderboard puts the cheapest variant first
    tokens = list(result.leaderboard(sort_by="input_tokens")["input_tokens"])
    assert tokens == sorted(tokens) and tokens[0] < tokens[-1]
    assert list(result.leaderboard(sort_by="input_tokens", ascending=False)["input_tokens"]) == sorted(tokens, reverse=True)
    assert list(result.leaderboard(sort_by="hit_at_k")["hit_at_k"]) == sorted(board["hit_at_k"], reverse=True)
    assert fake_models[GEMMA_ID].calls and len(fake_models[GEMMA_ID].calls) == 16
    # the echo model answers from the retrieved context, so answers differ between chunkers
    frame = result.variants[0].records_frame()
    assert {"question", "answer", "retrieved_ids", "token_f1", "hit_at_k"} <= set(frame.columns)
    children = tracker.children(result.parent_run_id)
    assert len(children) == 4 and {c.status for c in children} == {"FINISHED"}
    assert children[0].params["chunker.strategy"] in ("recursive", "sentence")


def test_a_sweep_digests_each_scorers_code_once_not_once_per_variant(wb_settings, fake_models, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The scorers' code is part of every variant's reuse key; digesting it for each variant cost ~0.1 s a variant
    (a minute on a 500-variant grid) before a warm sweep reused anything."""
    import workbench.runner._reuse as runner

    digested: list[object] = []
    real = runner.code_digest
    monkeypatch.setattr(runner, "code_digest", lambda fn: digested.append(fn) or real(fn))
    result = wb.run(make_spec(), models=fake_models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings,
                    progress=False, limit=1)
    assert len(result.variants) == 4 and digested
    assert len(digested) == len({id(fn) for fn in digested}), f"{len(digested)} digests of {len({id(fn) for fn in digested})} functions"


def test_index_is_reused_across_sweeps(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    store = CountingIndexStore()
    for _ in range(2):
        wb.run(make_spec(prompts=[{"name": "p", "template": "{context} {question}"}]), models=fake_models, index_store=store,
               tracker=MemoryTracker(), settings=wb_settings, progress=False, limit=1)
    assert len(store.builds) == 2  # second sweep opens the finished indexes


def flaky_first_prompt(prompt):  # type: ignore[no-untyped-def]
    """A scripted answer that fails for make_spec's first prompt (p1, the grid's first variant) and answers p2."""
    if prompt.text.startswith("Context:"):
        raise RuntimeError("model crashed")
    return "an answer"


def test_a_failing_variant_is_captured_and_the_sweep_goes_on(wb_settings) -> None:  # type: ignore[no-untyped-def]
    models = {GEMMA_ID: ScriptedModel(flaky_first_prompt, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])  # one variant per prompt is enough
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings, progress=False, limit=2)
    by_prompt = {v.variant.prompt.name: v for v in result.variants}
    failed = [v for v in result.variants if v.status == "FAILED"]
    assert {v.variant.prompt.name for v in failed} == {"p1"}
    assert "every question failed" in failed[0].outcome.error and "model crashed" in failed[0].outcome.error
    assert by_prompt["p2"].status == "FINISHED"
    assert all(r.error for r in failed[0].records)


def test_the_leaderboard_keeps_its_column_order_when_the_first_variant_failed(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # a failed first variant has no scores: its row came first and pandas put every metric after run_id and error
    models = {GEMMA_ID: ScriptedModel(flaky_first_prompt, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], execution={"isolation": "none"})
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings, progress=False, limit=2)
    assert result.variants[0].status == "FAILED"
    columns = list(result.leaderboard().columns)
    finished = list(wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings,
                           progress=False, limit=2).leaderboard().columns)
    assert columns == finished
    assert columns[-4:] == ["run_id", "reused_from", "stopped_early", "error"]
    assert columns.index("token_f1") < columns.index("latency_p50_s") < columns.index("input_tokens") < columns.index("run_id")


def test_the_leaderboard_shows_every_scorer_of_the_sweep_and_sorts_by_yours(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # a scorer of the user's (and bleu, chrf...) was scored and logged but left out of the leaderboard: sorting by it
    # said "no variant has it"
    @wb.scorer("test_leaderboard_words", default=False)
    def words(env):  # type: ignore[no-untyped-def]
        return lambda ctx: wb.Score(float(len(ctx.answer.split())))

    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], execution={"isolation": "none"},
                     scorers=["token_f1", "bleu", "test_leaderboard_words"])
    result = wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings, progress=False, limit=2)
    board = result.leaderboard(sort_by="test_leaderboard_words", ascending=True)
    assert list(board["test_leaderboard_words"]) == sorted(v.metrics["test_leaderboard_words"] for v in result.variants)
    columns = list(board.columns)
    assert columns.index("token_f1") < columns.index("bleu") < columns.index("test_leaderboard_words") < columns.index("latency_p50_s")


def test_a_sweep_in_a_daemonic_process_is_one_line_before_any_run(wb_settings, fake_models, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # wb.run in a multiprocessing.Pool's worker: Python refuses a daemonic process children, and every variant was
    # logged FAILED with "AssertionError: daemonic processes are not allowed to have children"
    import multiprocessing

    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)  # what a Pool's worker has
    tracker = MemoryTracker()
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    with pytest.raises(wb.WorkbenchError, match=r"runs in a daemonic process .* concurrent.futures.ProcessPoolExecutor .*isolation: none"):
        wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=tracker, settings=wb_settings, progress=False, limit=1)
    assert tracker.runs == {}
    # in the caller's process it needs no worker: the sweep runs
    inline = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], execution={"isolation": "none"})
    result = wb.run(inline, models=fake_models, index_store=MemoryIndexStore(), tracker=tracker, settings=wb_settings, progress=False, limit=1)
    assert {v.status for v in result.variants} == {"FINISHED"}


def test_token_budget_and_wall_time_fail_the_variant_only(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(limits={"max_tokens": 50}, chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    result = wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings, progress=False)
    assert {v.status for v in result.variants} == {"FAILED"}
    assert {v.outcome.error_kind for v in result.variants} == {"token_budget"}
    assert "token budget of 50 exceeded" in result.variants[0].outcome.error

    # 4 questions of 1.5 s do not fit in 4.5 s; the first does even when a loaded machine starts the worker slowly
    slow = ScriptedModel(lambda p: __import__("time").sleep(1.5) or "slow answer", model_id=GEMMA_ID)
    spec = make_spec(limits={"wall_time_s": 4.5}, chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], prompts=[{"name": "p", "template": "{context} {question}"}])
    result = wb.run(spec, models={GEMMA_ID: slow, MINILM_ID: fake_models[MINILM_ID]}, index_store=MemoryIndexStore(),
                    tracker=MemoryTracker(), settings=wb_settings, progress=False)
    (v,) = result.variants
    assert v.status == "FAILED" and v.outcome.error_kind == "timeout"
    assert 1 <= len(v.records) < 4, v.outcome  # partial results are kept


def test_a_dollar_budget_fails_the_variant_past_it_and_needs_every_price(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # a team on a hosted model could cap tokens but not dollars: a price change or a router escalating every question
    # spent without a bound; a budget over a model of unknown price could never be reached
    chunkers = [{"strategy": "recursive", "size": 800, "overlap": 80}]
    pricey = {GEMMA_ID: {"input": 100.0, "output": 100.0}}  # USD per 1M tokens: a few cents an answer
    one = [{"name": "p", "template": "{context} {question}"}]
    spec = make_spec(limits={"max_cost_usd": 0.05}, pricing=pricey, chunkers=chunkers, prompts=one)
    tracker = MemoryTracker()
    result = wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=tracker, settings=wb_settings, progress=False)
    (v,) = result.variants
    assert v.status == "FAILED" and v.outcome.error_kind == "cost_budget", v.outcome
    assert "cost budget of $0.05 exceeded" in v.outcome.error and "raise limits.max_cost_usd" in v.outcome.error
    assert 1 <= len(v.records) < 4 and v.metrics["cost_usd"] > 0.05, (len(v.records), v.metrics)  # the answers it has, and their cost
    # a budget the variant stays within changes nothing
    roomy = make_spec(limits={"max_cost_usd": 100.0}, pricing=pricey, chunkers=chunkers, prompts=one)
    assert {v.status for v in wb.run(roomy, models=fake_models, index_store=MemoryIndexStore(), tracker=MemoryTracker(),
                                      settings=wb_settings, progress=False).variants} == {"FINISHED"}
    with pytest.raises(ValueError, match=r"limits.max_cost_usd needs the price of every answering model, and 'openai:gpt-9-unpriced' has none"):
        make_spec(limits={"max_cost_usd": 1.0}, models=[{"id": "openai:gpt-9-unpriced"}])


def test_an_answer_of_unknown_cost_fails_a_dollar_budget_and_counts_nothing_without_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from workbench.errors import BudgetExceeded
    from workbench.sandbox import Sandbox

    capped = Sandbox(tmp_path / "a", wall_time_s=60, max_tokens=None, max_cost_usd=1.0)
    capped.charge(10, 0.4)
    with pytest.raises(BudgetExceeded, match=r"limits.max_cost_usd cannot be kept: an answer of m came without token counts"):
        capped.charge(10, None, unpriced="an answer of m came without token counts")
    free = Sandbox(tmp_path / "b", wall_time_s=60, max_tokens=None)
    free.charge(10, None)
    assert free.tokens_used == 10 and free.cost_used == 0.0


def test_variants_get_private_sandboxes_kept_only_when_they_did_not_finish(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # every sweep left a folder per variant under .workbench/sandboxes, read by nothing: thousands after months
    def fails_on_b(prompt):  # type: ignore[no-untyped-def]
        if prompt.text.startswith("B:"):
            raise RuntimeError("boom")
        return "an answer"

    models = {**fake_models, GEMMA_ID: ScriptedModel(fails_on_b, model_id=GEMMA_ID)}
    spec = make_spec(prompts=[{"name": "a", "template": "A: {context} {question}"}, {"name": "b", "template": "B: {context} {question}"}])
    tracker = MemoryTracker()
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), tracker=tracker, settings=wb_settings, progress=False, limit=1)
    failed = [v for v in result.variants if v.status == "FAILED"]
    assert len(failed) == 2 and len({v.workdir for v in failed}) == 2
    for v in failed:  # kept to look into
        assert Path(v.workdir).is_dir() and str(wb_settings.sandbox_dir) in v.workdir
        assert (Path(v.workdir) / "prompt.txt").read_text() == v.variant.prompt.template
    assert all(v.workdir == "" for v in result.variants if v.status == "FINISHED")
    assert sorted(wb_settings.sandbox_dir.rglob("*")) == sorted({Path(v.workdir).parent for v in failed} | {Path(v.workdir) for v in failed}
                                                             | {Path(v.workdir) / "prompt.txt" for v in failed})
    wb.run(make_spec(prompts=[{"name": "c", "template": "{context} {question}"}]), models=fake_models, index_store=MemoryIndexStore(),
           tracker=tracker, settings=wb_settings, progress=False, limit=1)
    assert len(list(wb_settings.sandbox_dir.iterdir())) == 1  # a sweep whose variants all finished leaves no folder


def test_stop_event_ends_cleanly_and_keeps_finished_variants(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    stop = threading.Event()

    def on_event(event: wb.ProgressEvent) -> None:
        if event.kind == "variant_done":
            stop.set()

    result = wb.run(make_spec(), models=fake_models, index_store=MemoryIndexStore(), tracker=MemoryTracker(),
                    settings=wb_settings, progress=False, stop=stop, on_event=on_event)
    assert len(result.variants) == 1 and result.variants[0].status == "FINISHED"


def test_stop_during_an_index_build_is_seen_within_one_batch_and_keeps_no_index(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    """The RunPanel's Stop during the build of a large corpus's index waited for the whole corpus to be embedded."""
    from workbench.pipeline import EMBED_BATCH

    stop = threading.Event()
    batches: list[int] = []

    class StoppedWhileEmbedding(HashingEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            batches.append(len(texts))
            stop.set()  # the user presses Stop while the first batch is embedded
            return super().embed(texts)

    store, tracker = CountingIndexStore(), MemoryTracker()
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 200, "overlap": 0}], execution={"isolation": "none"})
    result = wb.run(spec, models={**fake_models, MINILM_ID: StoppedWhileEmbedding(model_id=MINILM_ID)}, index_store=store,
                    tracker=tracker, settings=wb_settings, progress=False, stop=stop)
    assert batches == [EMBED_BATCH]  # the corpus has more chunks than one batch; no second batch was embedded
    assert store.builds == [] and result.variants == ()
    (sweep,) = [r for r in tracker.runs.values() if r.parent_id is None]
    assert sweep.status == "KILLED"


def test_an_embedding_model_that_never_answers_fails_its_index_at_the_wall_time_limit(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    """A hosted embeddings endpoint that took the request and never answered held the index build, in the sweep's own
    process where no sandbox limit reaches, forever; a Stop pressed meanwhile was never seen either."""
    class Hung(HashingEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            time.sleep(20)  # the call left behind ends in its daemon thread
            return super().embed(texts)

    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], limits={"wall_time_s": 0.5})
    models = {**fake_models, MINILM_ID: Hung(model_id=MINILM_ID)}
    start = time.monotonic()
    result = wb.run(spec, models=models, index_store=CountingIndexStore(), tracker=MemoryTracker(), settings=wb_settings, progress=False)
    assert time.monotonic() - start < 60  # without a limit: 20 s for each of its batches
    assert [v.status for v in result.variants] == ["FAILED", "FAILED"]
    assert result.variants[0].outcome.error == (f"index build failed: TimeoutError: the embedding model {MINILM_ID} did not answer 256 texts "
                                               "within 0.5 s (limits.wall_time_s) — check that its server answers, or raise limits.wall_time_s")
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    start = time.monotonic()
    stopped = wb.run(spec.model_copy(update={"limits": spec.limits.model_copy(update={"wall_time_s": 600.0})}), models=models,
                     index_store=CountingIndexStore(), tracker=MemoryTracker(), settings=wb_settings, progress=False, stop=stop)
    assert time.monotonic() - start < 15 and stopped.variants == ()


def test_a_hosted_embedding_model_that_never_answers_the_questions_fails_its_variants(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # the questions of a hosted embedding model are embedded in one request, after its index is built: it hung the same way
    hosted = "openai:text-embedding-3-small"
    questions = {c.question for c in load_inputs(make_spec())[0].cases}

    class HungOnQuestions(HashingEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            if questions & set(texts):
                time.sleep(20)  # the call left behind ends in its daemon thread
            return super().embed(texts)

    spec = make_spec(chunkers=[{"strategy": "sentence", "size": 300, "overlap": 0}], retrieval=[{"k": 3, "embedding": hosted}],
                     limits={"wall_time_s": 0.5})
    start = time.monotonic()
    result = wb.run(spec, generate=False, models={hosted: HungOnQuestions(model_id=hosted)}, index_store=CountingIndexStore(),
                    tracker=MemoryTracker(), settings=wb_settings, progress=False)
    assert time.monotonic() - start < 15
    (variant,) = result.variants
    assert variant.status == "FAILED" and variant.outcome.error == (
        f"index build failed: TimeoutError: the embedding model {hosted} did not answer 4 texts within 0.5 s (limits.wall_time_s) — "
        "check that its server answers, or raise limits.wall_time_s")


def test_unknown_source_id_in_dataset_is_a_clear_error(tmp_path: Path, wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "d.jsonl").write_text('{"id": "x1", "question": "q?", "source_ids": ["not-a-topic"]}\n')
    spec = make_spec(dataset={"path": str(tmp_path / "d.jsonl")})
    with pytest.raises(wb.DataError, match=r"case 'x1': field 'source_ids': 'not-a-topic' is not a document of corpus 'python-reference'"):
        wb.run(spec, models=fake_models, tracker=MemoryTracker(), settings=wb_settings, progress=False)


def test_hosted_model_without_package_fails_its_variant_with_a_hint(wb_settings, fake_models, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import importlib.util

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    model = "anthropic:claude-3-5-haiku-latest"
    # whichever is missing first: the integration package, else the key (never both messages accepted at once)
    expected = (f"model '{model}' needs the package langchain-anthropic — pip install langchain-anthropic"
                if importlib.util.find_spec("langchain_anthropic") is None
                else f"model '{model}' needs the environment variable ANTHROPIC_API_KEY — set it (it is never logged)")
    spec = make_spec(models=[{"id": GEMMA_ID}, {"id": "anthropic:claude-3-5-haiku-latest"}], prompts=[{"name": "p", "template": "{context} {question}"}],
                     chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    result = wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings, progress=False, limit=1)
    status = {v.variant.model.id: v for v in result.variants}
    assert status[GEMMA_ID].status == "FINISHED"
    hosted = status["anthropic:claude-3-5-haiku-latest"]
    assert hosted.status == "FAILED"
    assert expected in (hosted.outcome.error or ""), hosted.outcome.error


def test_a_grid_none_of_whose_models_can_be_served_is_one_error_before_any_run(wb_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    spec = make_spec(models=[{"id": "openai:gpt-4o-mini"}, {"id": "anthropic:claude-3-5-haiku-latest"}])
    store, tracker = CountingIndexStore(), MemoryTracker()
    with pytest.raises(wb.ModelError, match=r"^model 'openai:gpt-4o-mini' needs the (package|environment variable)"):
        wb.run(spec, models={MINILM_ID: HashingEmbedder()}, index_store=store, tracker=tracker, settings=wb_settings, progress=False, limit=1)
    assert tracker.runs == {} and store.builds == []


@pytest.mark.slow
def test_two_sweeps_started_at_once_in_one_process_run_one_after_the_other(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # two RunPanels, or two threads: concurrent sweeps in one process built the same Chroma index and logged the same
    # MLflow dataset at once (both libraries fail at that), leaving runs RUNNING
    spec = make_spec(prompts=[{"name": "p1", "template": "{context} {question}"}], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    events: list[list[str]] = [[], []]
    results: list[Any] = [None, None]
    errors: list[BaseException] = []
    started = threading.Barrier(2)

    def sweep(i: int) -> None:
        try:
            started.wait()
            results[i] = wb.run(spec, models=fake_models, settings=wb_settings, progress=False, fresh=True,
                                on_event=lambda e: events[i].append(e.kind))
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=sweep, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(r.variants[0].status == "FINISHED" for r in results)
    waited = [e for e in events if e[0] == "sweep_waiting"]
    assert len(waited) == 1 and waited[0][1] == "sweep_started"  # the second one waited, then ran
    first = events[0] if events[1] is waited[0] else events[1]
    assert first[0] == "sweep_started" and first[-1] == "sweep_done"
    client = mlflow_client(wb_settings.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("unit").experiment_id])
    assert len(runs) == 4 and {r.info.status for r in runs} == {"FINISHED"}


def test_a_sweep_stopped_while_it_waits_for_another_never_starts(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # the RunPanel's Stop used to wait for the other sweep to end, then start this one only to end it KILLED
    release, answering = threading.Event(), threading.Event()

    def slow(prompt):  # type: ignore[no-untyped-def]
        answering.set()
        assert release.wait(60)
        return "an answer"

    models = {GEMMA_ID: ScriptedModel(slow, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    one = {"prompts": [{"name": "p1", "template": "{context} {question}"}], "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
           "execution": {"isolation": "none"}, "dataset": {"path": "datasets/python_docs.jsonl", "limit": 1}}
    first: list[Any] = []
    runner = threading.Thread(target=lambda: first.append(wb.run(make_spec(**one), models=models, index_store=MemoryIndexStore(),
                                                                 tracker=MemoryTracker(), settings=wb_settings, progress=False)))
    runner.start()
    try:
        assert answering.wait(60)
        stop, events = threading.Event(), []

        def on_event(e):  # type: ignore[no-untyped-def]
            events.append(e.kind)
            if e.kind == "sweep_waiting":
                stop.set()  # Stop pressed while it waits

        tracker = MemoryTracker()
        with pytest.raises(wb.WorkbenchError, match=r"^'other' was stopped while it waited for another sweep in this process; "
                                                    r"nothing was logged$"):
            wb.run(make_spec(**one, name="other"), models=models, index_store=MemoryIndexStore(), tracker=tracker,
                   settings=wb_settings, progress=False, stop=stop, on_event=on_event)
        assert events == ["sweep_waiting"] and not tracker.runs
        assert runner.is_alive()  # it did not wait for the first sweep to end
    finally:
        release.set()
        runner.join(60)
    assert first[0].variants[0].status == "FINISHED"


def test_leaderboard_refuses_an_unknown_sort_column_and_redacts_errors(wb_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    secret = "corp-secret-value-0123456789abcdef"
    monkeypatch.setenv("MYCORP_API_KEY", secret)

    def crash(prompt):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"401 Unauthorized: key {secret} is not valid")

    models = {GEMMA_ID: ScriptedModel(crash, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec(prompts=[{"name": "p", "template": "{context} {question}"}], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings, progress=False, limit=2)
    board = result.leaderboard()
    # a notebook's output is saved with it: the provider's error must not carry the key there either
    assert "401 Unauthorized" in board["error"][0] and secret not in board["error"][0]
    errors = result.variants[0].records_frame()["error"]
    assert all("401 Unauthorized" in e and secret not in e for e in errors)
    with pytest.raises(wb.WorkbenchError, match=r"cannot sort the leaderboard by 'token_f1': no variant has it \(every variant failed\) — columns: variant, "):
        result.leaderboard(sort_by="token_f1")  # board["run_id"][0] would otherwise be a failed run
    with pytest.raises(wb.WorkbenchError, match="cannot sort the leaderboard by 'token-f1'"):
        result.leaderboard(sort_by="token-f1")


@pytest.mark.parametrize("threads", ["abc", "0", "-2", "1.5", "999"])
def test_a_bad_llama_thread_count_is_one_error_before_any_run(wb_settings, fake_models, monkeypatch, threads: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WORKBENCH_LLAMA_THREADS", threads)
    tracker = MemoryTracker()
    with pytest.raises(wb.ModelError, match=rf"WORKBENCH_LLAMA_THREADS='{threads}': llama.cpp threads must be a whole number from 1 to 256"):
        wb.run(make_spec(), models=fake_models, tracker=tracker, settings=wb_settings, progress=False)
    assert tracker.runs == {}  # not a failed variant per model load: nothing was started


class FakeBar:
    """Records what ``_Bars`` tells a tqdm bar."""

    made: list[FakeBar] = []

    def __init__(self, total: int | None = None, desc: str = "", **_: Any) -> None:
        self.total, self.desc, self.n, self.postfix, self.closed = total, desc, 0, "", False
        FakeBar.made.append(self)

    def update(self, n: int = 1) -> None:
        self.n += n

    def reset(self, total: int | None = None) -> None:
        self.n, self.total = 0, total

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def close(self) -> None:
        self.closed = True


def drive_bars(events: list[wb.ProgressEvent], variants: int) -> list[tuple[int, int | None, str]]:
    """Feed ``events`` to the CLI's bars; after each question, what the open questions bar shows (done, total, variant)."""
    FakeBar.made = []
    bars = _Bars(True, variants, make_bar=FakeBar)
    outer = FakeBar.made[0]
    shown = []
    for event in events:
        bars.update(event)
        if event.kind == "question_done":
            inner = [b for b in FakeBar.made if b.desc == "questions" and not b.closed]
            assert len(inner) == 1
            shown.append((inner[0].n, inner[0].total, outer.postfix))
    bars.close()
    assert all(b.closed for b in FakeBar.made)
    return shown


def test_the_questions_bar_follows_each_racing_variant_and_never_runs_past_its_total() -> None:
    a, b, c = expand_grid(make_spec())[:3]
    events = []
    for first in (0, 2):  # two batches of two questions out of four; c stops after the first batch
        for v in ((a, b, c) if first == 0 else (a, b)):
            if first == 0:
                events.append(wb.ProgressEvent("variant_started", 0, 4, v))
            events += [wb.ProgressEvent("question_done", first + i, 4, v) for i in (1, 2)]
            events += [wb.ProgressEvent("question_scored", first + i, 4, v) for i in (1, 2)]
        if first == 0:
            events.append(wb.ProgressEvent("variant_done", 1, 4, c))
    events += [wb.ProgressEvent("variant_done", 2, 4, a), wb.ProgressEvent("variant_done", 3, 4, b)]
    expected = [(first + i, 4, v.name) for first in (0, 2) for v in ((a, b, c) if first == 0 else (a, b)) for i in (1, 2)]
    assert drive_bars(events, 4) == expected


def test_the_questions_bar_of_a_plain_sweep_counts_each_variant_in_turn() -> None:
    variants = expand_grid(make_spec())
    events = []
    for n, v in enumerate(variants):
        events += [wb.ProgressEvent("variant_started", n, len(variants), v)]
        events += [wb.ProgressEvent("question_done", i, 3, v) for i in (1, 2, 3)]
        events += [wb.ProgressEvent("variant_done", n + 1, len(variants), v)]
    assert drive_bars(events, len(variants)) == [(i, 3, v.name) for v in variants for i in (1, 2, 3)]
    assert len([b for b in FakeBar.made if b.desc == "questions"]) == len(variants)  # one bar per variant, as ever
    assert FakeBar.made[0].n == len(variants)


@pytest.mark.parametrize("limit", [0, -1, 2.5, True])
def test_a_limit_that_is_not_a_positive_whole_number_is_one_error_before_any_run(wb_settings, fake_models, limit: Any) -> None:  # type: ignore[no-untyped-def]
    # limit=0 evaluated every question (it read as "no limit") and limit=-1 all but the last (a slice)
    tracker = MemoryTracker()
    with pytest.raises(wb.DataError, match=rf"^limit={limit!r}: give a whole number of cases, at least 1 — or None for every case$"):
        wb.run(make_spec(), models=fake_models, index_store=MemoryIndexStore(), tracker=tracker, settings=wb_settings, progress=False, limit=limit)
    assert not tracker.runs
    with pytest.raises(wb.DataError, match=r"^limit="):
        wb.load_dataset(ROOT / "datasets" / "python_docs.jsonl", limit=limit)
    assert len(wb.load_dataset(ROOT / "datasets" / "python_docs.jsonl", limit=2)) == 2


@pytest.mark.parametrize(
    "written, fix",
    [
        ("travel.md", "did you mean 'travel'? (a file's document id is its path in the corpus folder, without the suffix)"),
        ("policies\\Leave.txt", "did you mean 'policies/leave'? (a file's document id is its path in the corpus folder, without the suffix)"),
        # written from the project's root, or with the corpus folder's name: it was "use the document ids of that corpus"
        ("docs/policies/leave.md", "did you mean 'policies/leave'? (a file's document id is its path in the corpus folder, without the suffix)"),
        ("project\\docs\\travel", "did you mean 'travel'? (a file's document id is its path in the corpus folder, without the suffix)"),
        ("leave.md", "did you mean 'policies/leave'? (a file's document id is its path in the corpus folder, without the suffix)"),
        ("Travel", "did you mean 'travel'?"),
        ("travle", "did you mean 'travel'?"),
        # '|' was advised, which a JSON list keeps in its item: 'travel|policies/leave' was then "use the document ids"
        ("travel, policies/leave", 'give each id as its own item of the list: ["travel", "policies/leave"]'),
        ("travel|policies/leave", 'give each id as its own item of the list: ["travel", "policies/leave"]'),
        ("travel policies/leave", 'give each id as its own item of the list: ["travel", "policies/leave"]'),
        ("expenses", "use the document ids of that corpus"),
        # Excel read the id 007 as the number 7: it was "use the document ids of that corpus"
        ("7", "did you mean '007'? (a spreadsheet drops a number's leading zeros: format the column as text)"),
        # a file the corpus glob leaves out: it was "did you mean 'travel'?", another document, whose label would score
        # retrieval against the wrong text
        ("travel-2025", "its file travel-2025.txt is not read with the corpus glob '**/*.md': widen the glob, or drop the label"),
        # "widen the glob" of a file no glob can make a document, or one left out for being hidden, which it already matched
        ("diagram", "its file diagram.png is binary (an image, a spreadsheet), which no corpus reads: drop the label"),
        ("old", "its file old.txt is not UTF-8 text: save it as UTF-8 and widen the corpus glob '**/*.md' to read it, or drop the label"),
        (".drafts/faq", "its file .drafts/faq.md is left out as hidden (under '.drafts'), which the corpus reads only when its glob names "
                        "it: move it out of '.drafts', or drop the label"),
        (".faq", "its file .faq.md is left out as hidden (its name starts with '.'), which the corpus reads only when its glob names it: "
                 "rename it, or drop the label"),
    ],
)
def test_a_source_id_the_corpus_lacks_names_the_document_it_likely_means(tmp_path: Path, wb_settings, written: str, fix: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "docs" / "policies").mkdir(parents=True)
    (tmp_path / "docs" / "travel.md").write_text("# Travel\n\nBook flights 14 days ahead.\n", encoding="utf-8")
    (tmp_path / "docs" / "policies" / "leave.md").write_text("# Leave\n\n27 days.\n", encoding="utf-8")
    (tmp_path / "docs" / "travel-2025.txt").write_text("Book trains.\n", encoding="utf-8")
    (tmp_path / "docs" / "007.md").write_text("# Licence to kill\n", encoding="utf-8")
    (tmp_path / "docs" / "diagram.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    (tmp_path / "docs" / "old.txt").write_bytes("Caf\u00e9 rules".encode("cp1252"))
    (tmp_path / "docs" / ".drafts").mkdir()
    (tmp_path / "docs" / ".drafts" / "faq.md").write_text("# FAQ\n", encoding="utf-8")
    (tmp_path / "docs" / ".faq.md").write_text("# FAQ\n", encoding="utf-8")
    (tmp_path / "d.jsonl").write_text(json.dumps({"id": "q1", "question": "When?", "source_ids": [written]}) + "\n", encoding="utf-8")
    spec = make_spec(dataset={"path": str(tmp_path / "d.jsonl")}, corpus={"path": str(tmp_path / "docs")})
    tracker = MemoryTracker()
    with pytest.raises(wb.DataError) as info:
        wb.run(spec, tracker=tracker, settings=wb_settings, progress=False)
    assert str(info.value) == f"{tmp_path / 'd.jsonl'}:1: case 'q1': field 'source_ids': '{written}' is not a document of corpus 'docs' — {fix}"
    assert not tracker.runs


@pytest.mark.parametrize("cell", ["travel, policies/leave", "travel policies/leave", '["travel policies/leave"]'])
def test_source_ids_joined_in_a_csv_cell_are_told_to_be_separated_with_a_bar(tmp_path: Path, wb_settings, cell: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "docs" / "policies").mkdir(parents=True)
    (tmp_path / "docs" / "travel.md").write_text("# Travel\n\nBook flights 14 days ahead.\n", encoding="utf-8")
    (tmp_path / "docs" / "policies" / "leave.md").write_text("# Leave\n\n27 days.\n", encoding="utf-8")
    (tmp_path / "d.csv").write_text('id,question,source_ids\nq1,When?,"' + cell.replace('"', '""') + '"\n', encoding="utf-8")
    spec = make_spec(dataset={"path": str(tmp_path / "d.csv")}, corpus={"path": str(tmp_path / "docs")})
    with pytest.raises(wb.DataError, match=r"d.csv:2: case 'q1': field 'source_ids': .* — separate several ids with '\|' "
                                           r"\(travel\|policies/leave\) or give a JSON list$"):
        wb.run(spec, tracker=MemoryTracker(), settings=wb_settings, progress=False)


def test_a_source_id_the_corpus_lacks_is_named_with_its_line(tmp_path: Path, wb_settings) -> None:  # type: ignore[no-untyped-def]
    # it named the file and the case only: a case of a CSV without ids is named after its question, here on line 4
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "travel.md").write_text("# Travel\n\nBook flights 14 days ahead.\n", encoding="utf-8")
    (tmp_path / "d.csv").write_text('question,source_ids\n"When, and\nhow?",travel\nHow long?,leave\n', encoding="utf-8")
    spec = make_spec(dataset={"path": str(tmp_path / "d.csv")}, corpus={"path": str(tmp_path / "docs")})
    with pytest.raises(wb.DataError, match=rf"^{re.escape(str(tmp_path / 'd.csv'))}:4: case 'case-[0-9a-f]{{12}}': field 'source_ids': 'leave' is not a document"):
        wb.run(spec, tracker=MemoryTracker(), settings=wb_settings, progress=False)


def test_a_dataset_labelled_in_another_scheme_is_told_how_many_source_ids_the_corpus_lacks(tmp_path: Path) -> None:
    # a labelling tool's file names ('travel.md'): the first was refused, fixed, and the next refused, one run each
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "travel.md").write_text("# Travel\n\nBook flights 14 days ahead.\n", encoding="utf-8")
    (tmp_path / "docs" / "leave.md").write_text("# Leave\n\n27 days.\n", encoding="utf-8")
    (tmp_path / "d.csv").write_text("question,source_ids\nWhen?,travel.md\nHow long?,leave.md|travel\nWho?,faq.md\n"
                                    "Where?,hr.md\nWhy?,x.md\n", encoding="utf-8")
    spec = make_spec(dataset={"path": str(tmp_path / "d.csv")}, corpus={"path": str(tmp_path / "docs")})
    with pytest.raises(wb.DataError) as info:
        load_inputs(spec)
    first = wb.load_dataset(tmp_path / "d.csv").cases[0].id
    assert str(info.value) == (f"{tmp_path / 'd.csv'}:2: case '{first}': field 'source_ids': 'travel.md' is not a document of corpus 'docs' — "
                               "did you mean 'travel'? (a file's document id is its path in the corpus folder, without the suffix) "
                               "(and 4 more source ids the corpus lacks: 'leave.md', 'faq.md', 'hr.md', ...)")
    (tmp_path / "d.csv").write_text("question,source_ids\nWhen?,travel\nHow long?,leave.md\n", encoding="utf-8")
    with pytest.raises(wb.DataError, match=r"'leave.md' is not a document of corpus 'docs' — did you mean 'leave'\? \(a file's [^(]*\)$"):
        load_inputs(spec)


def test_a_source_id_a_documents_metadata_holds_names_that_document() -> None:
    # LangChain's loaders keep the file in metadata['source'] and give no id: handed over in memory the documents are
    # doc-1, doc-2..., and a dataset labelled with their files was told to "use the document ids of that corpus"
    import pandas as pd
    from langchain_core.documents import Document as LangChainDocument

    docs = [LangChainDocument(page_content="Book flights 14 days ahead.", metadata={"source": "handbook/travel.md"}),
            LangChainDocument(page_content="27 days of leave.", metadata={"source": "handbook/leave.md"})]
    frame = pd.DataFrame([{"question": "When?", "source_ids": ["handbook/leave.md"]}])
    spec = ExperimentSpec.from_dict({"name": "lc", "chunkers": [{"strategy": "recursive"}]})
    with pytest.raises(wb.DataError) as info:
        load_inputs(spec, dataset=frame, corpus=docs)
    assert str(info.value) == (f"dataframe: row 0: case '{wb.load_dataset(frame).cases[0].id}': field 'source_ids': 'handbook/leave.md' is not a document of corpus "
                               "'documents' — did you mean 'doc-2'? (its metadata 'source' is 'handbook/leave.md': a document given "
                               "without an id is named by its position) or give each document its id, e.g. LangChain's Document(id=...)")


def test_a_source_id_missing_from_documents_made_by_hand_with_numbers_in_their_metadata_is_one_line() -> None:
    import pandas as pd

    docs = [wb.Document("leave", "27 days of leave.", metadata={"page": 3})]  # type: ignore[dict-item]
    frame = pd.DataFrame([{"question": "When?", "source_ids": ["travel"]}])
    spec = ExperimentSpec.from_dict({"name": "hand", "chunkers": [{"strategy": "recursive"}]})
    with pytest.raises(wb.DataError, match=r"^dataframe: row 0: case 'case-[0-9a-f]{12}': field 'source_ids': 'travel' is not a document"):
        load_inputs(spec, dataset=frame, corpus=docs)


def test_a_source_id_many_questions_label_is_counted_once(tmp_path: Path) -> None:
    # four questions labelled 'faq.md' and one 'hr.md' read '(and 4 more source ids the corpus lacks: 'faq.md', 'hr.md')':
    # the first id again, and four where one more was to fix
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "travel.md").write_text("# Travel\n\nBook flights 14 days ahead.\n", encoding="utf-8")
    (tmp_path / "d.csv").write_text("question,source_ids\nA?,faq.md\nB?,faq.md\nC?,faq.md|hr.md\nD?,hr.md\n", encoding="utf-8")
    spec = make_spec(dataset={"path": str(tmp_path / "d.csv")}, corpus={"path": str(tmp_path / "docs")})
    with pytest.raises(wb.DataError, match=r"'faq.md' is not a document of corpus 'docs' — .* \(and 1 more source id the corpus lacks: 'hr.md'\)$"):
        load_inputs(spec)
    (tmp_path / "d.csv").write_text("question,source_ids\nA?,faq.md\nB?,faq.md\n", encoding="utf-8")
    with pytest.raises(wb.DataError, match=r"'faq.md' is not a document of corpus 'docs' — use the document ids of that corpus$"):
        load_inputs(spec)


def test_chunks_longer_than_the_embedding_model_reads_are_counted_and_named(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    """MiniLM reads 254 tokens: the rest of a longer chunk is never embedded, so retrieval cannot find it. Character
    chunkers cannot be checked when the spec is read; the sweep counts such chunks and `workbench run` names them."""
    from workbench.models import embedder_input_tokens
    from workbench.pipeline import chunk_corpus

    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 4000, "overlap": 0}, {"strategy": "recursive", "size": 300, "overlap": 0}])
    result = wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings,
                    progress=False, generate=False)
    embedder, limit = fake_models[MINILM_ID], embedder_input_tokens(MINILM_ID)
    by_size = {v.variant.chunker.size: v.chunk_stats for v in result.variants}
    long_chunks = chunk_corpus(result.corpus, result.variants[0].variant.chunker.model_copy(update={"size": 4000}))
    expected = sum(1 for c in long_chunks if embedder.count_tokens(c.text) > limit)
    assert expected > 0 and by_size[4000].truncated == expected
    assert by_size[300].truncated == 0
    (line,) = result.truncation_notes
    assert line.startswith(f"recursive-4000/0 / {MINILM_ID}: {expected} of {by_size[4000].count} chunks are longer than the {limit} tokens")
    assert wb.pipeline.ChunkStats.from_dict(by_size[4000].as_dict()) == by_size[4000]
    assert result.spent_line is None  # a retrieval-only sweep calls no model: no 'answers unknown'


def test_a_run_answered_before_its_templates_turn_stops_applied_is_not_reused() -> None:
    # a completion model asked with 'Q: {question}' now stops at a next 'Q:' line: its finished runs, which ran on to
    # max_tokens, are answered again; the runs the stops do not change (a chat model, a 'Question:' template) keep their keys
    from workbench.runner._reuse import _turn_stops

    spec = make_spec(prompts=[{"name": "qa", "template": "{context}\n\nQ: {question}\nA:"}, make_spec().prompts[0].model_dump()],
                     models=[{"id": GEMMA_ID}, {"id": "local:smollm2-135m-instruct"}], chunkers=[{"strategy": "recursive"}])
    found = {(v.prompt.name, v.model.resolved_kind): _turn_stops(v) for v in expand_grid(spec)}
    assert found == {("qa", "completion"): {"turn_stops": ["\nQ:"]}, ("qa", "chat"): {}, ("p1", "completion"): {}, ("p1", "chat"): {}}


class WindowedModel(ScriptedModel):
    """The scripted model with a context window of 300 words: a longer prompt loses its start, as llama.cpp's does."""

    def generate(self, prompt, params, **options):  # type: ignore[no-untyped-def]
        out = super().generate(prompt, params, **options)
        return dataclasses.replace(out, prompt_tokens_cut=max(len(prompt.text.split()) - 300, 0))


def test_prompts_longer_than_the_context_window_are_named_with_what_to_change(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # a completion prompt cut at its start lost the instruction and the best-ranked chunks; the variant finished and
    # workbench run said nothing, so turning k up made answers worse for no reason anyone was told
    models = {**fake_models, GEMMA_ID: WindowedModel(lambda prompt: "an answer", model_id=GEMMA_ID)}
    spec = make_spec(prompts=[make_spec().prompts[0].model_dump()], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 0}],
                     retrieval=[{"k": 1}, {"k": 8}])
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings, progress=False)
    short, long = sorted(result.variants, key=lambda v: v.variant.retrieval.k)
    cut = [r.generation.prompt_tokens_cut for r in long.records if r.generation]
    assert not any(r.generation and r.generation.prompt_tokens_cut for r in short.records) and sum(map(bool, cut)) > 0
    assert result.context_notes == (
        f"{long.variant.name}: {sum(map(bool, cut))} of 4 prompts are longer than the model's context window (2048 tokens), so their "
        f"first tokens (up to {max(cut)}), the instruction and the best-ranked chunks among them, were never read — raise the model's "
        "context_window (up to 32768 tokens, what it was trained for), or retrieve fewer or smaller chunks (the retrieval's k, the "
        "chunker's size) or shorten the prompt",)
    assert result.context_notes[0] in result.notes


def test_answers_cut_where_the_context_window_ended_are_named_not_read_as_max_tokens(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # SmolLM2 given a 2040-token prompt in its 2048 window answered 'The capital of region 7 is the' (8 tokens of its
    # max_tokens 64) with finish_reason 'length', which reads as max_tokens: raising it mended nothing
    class WindowEnded(ScriptedModel):
        def generate(self, prompt, params, **options):  # type: ignore[no-untyped-def]
            out = super().generate(prompt, params, **options)
            return dataclasses.replace(out, finish_reason="length", output_tokens=3 if "Q1" in prompt.text else params.max_tokens)

    models = {**fake_models, GEMMA_ID: WindowEnded(lambda prompt: "The capital of", model_id=GEMMA_ID)}
    spec = make_spec(prompts=[{"name": "short", "template": "Q1 {context} {question}"}, {"name": "long", "template": "Q2 {context} {question}"}],
                     chunkers=[{"strategy": "recursive", "size": 800, "overlap": 0}])
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings, progress=False)
    ended = next(v for v in result.variants if v.variant.prompt.name == "short")
    assert result.context_notes == (f"{ended.variant.name}: 4 of 4 answers were cut where the model's context window (2048 tokens) "
                                    "ended, after as few as 3 tokens, before their max_tokens — raise the model's context_window (up "
                                    "to 32768 tokens, what it was trained for), or retrieve fewer or smaller chunks (the retrieval's "
                                    "k, the chunker's size) or shorten the prompt",)  # those cut at max_tokens are not named


def test_a_sweep_over_an_index_of_an_older_workbench_still_records_its_chunks(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # an index built before workbench kept the chunks' digest with it was opened with its statistics alone: every
    # sweep over it logged no digest, and a bundle of its runs was refused by the next chunking revision
    from dataclasses import replace

    from workbench.pipeline import chunk_corpus, chunks_digest

    spec, store = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}]), MemoryIndexStore()
    first = wb.run(spec, models=fake_models, index_store=store, tracker=MemoryTracker(), settings=wb_settings, progress=False, generate=False)
    expected = chunks_digest(chunk_corpus(first.corpus, first.variants[0].variant.chunker))
    assert first.variants[0].chunk_stats.sha256 == expected
    for index in store._indexes.values():  # as an older workbench kept them
        index.stats = replace(index.stats, sha256=None)
    again = wb.run(spec, models=fake_models, index_store=store, tracker=MemoryTracker(), settings=wb_settings, progress=False, generate=False)
    assert [v.chunk_stats.sha256 for v in again.variants] == [expected]


def test_a_model_whose_price_is_unknown_is_named_with_how_to_price_it(wb_settings, fake_models, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """cost_usd and spent_usd of a hosted model missing from the price table are missing, with no word about why."""
    monkeypatch.setenv("OPENAI_API_KEY", "not-a-real-key-0123456789")
    models = {**fake_models, **{m: ScriptedModel(lambda prompt: "42", model_id=m) for m in ("openai:gpt-made-up", "openai:gpt-4o-mini")}}
    spec = make_spec(models=[{"id": GEMMA_ID}, {"id": "openai:gpt-made-up"}, {"id": "openai:gpt-4o-mini"}],
                     prompts=[{"name": "p1", "template": "{context}\nQ: {question}\nA:"}], chunkers=[{"strategy": "recursive"}],
                     dataset={"path": "datasets/python_docs.jsonl", "limit": 1})
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings, progress=False)
    (note,) = result.price_notes  # the local model is free, gpt-4o-mini is in the table
    assert note.startswith("openai:gpt-made-up: no price known, so what it cost is missing (cost_usd, spent_usd) — give its price under 'pricing:'")
    assert note in result.notes
    assert "spent_usd" not in sweep_totals(result.variants)  # a sweep total missing a model's spending is no total
    assert result.spent_line == "spent now: answers unknown"
    again = wb.run(spec, models=models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings, progress=False)
    assert sweep_totals(again.variants)["spent_usd"] == 0 and again.spent_line is None  # every answer from the cache: nothing spent
    # nor when an earlier sweep's run of it is reused
    unpriced = next(v.metrics for v in result.variants if "gpt-made-up" in v.variant.name)
    assert "spent_usd" not in unpriced and reused_metrics(unpriced)["spent_usd"] == 0.0
    priced = make_spec(**{**spec.model_dump(mode="json", include={"models", "prompts", "chunkers", "dataset"}),
                          "pricing": {"openai:gpt-made-up": {"input": 1.0, "output": 2.0}}})
    result = wb.run(priced, models=models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings, progress=False)
    assert result.price_notes == ()
    assert sweep_totals(result.variants)["spent_usd"] == 0  # known now, and every answer came from the cache


def test_a_variant_whose_every_call_failed_spent_nothing_and_leaves_the_sweeps_total_known(wb_settings, fake_models, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # it logs no spent_usd (no answer, no cost to sum), which made the whole sweep's spending unknown: workbench run
    # said nothing of the money the other variants spent, and the parent run held no total
    monkeypatch.setenv("OPENAI_API_KEY", "not-a-real-key-0123456789")

    def not_found(prompt: object) -> str:
        raise RuntimeError("The model `gpt-4o-mni` does not exist")

    models = {**fake_models, "openai:gpt-4o-mini": ScriptedModel(not_found, model_id="openai:gpt-4o-mini")}
    spec = make_spec(models=[{"id": GEMMA_ID}, {"id": "openai:gpt-4o-mini"}], prompts=[make_spec().prompts[0].model_dump()],
                     chunkers=[{"strategy": "recursive"}], dataset={"path": "datasets/python_docs.jsonl", "limit": 2},
                     pricing={GEMMA_ID: {"input": 1000.0, "output": 2000.0}})
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings, progress=False)
    answered, failed = sorted(result.variants, key=lambda v: v.status, reverse=True)
    assert failed.status == "FAILED" and "spent_usd" not in failed.metrics and answered.metrics["spent_usd"] > 0
    assert sweep_totals(result.variants)["spent_usd"] == answered.metrics["spent_usd"]
    assert result.spent_line == f"spent now: answers ${answered.metrics['spent_usd']:.4g}"


def test_every_column_and_metric_a_sweep_writes_beside_the_scores_is_a_reserved_scorer_name(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # a scorer's values are written under its name: metrics.RESERVED_NAMES must hold every other name, or a scorer of
    # that name overwrites it (or is overwritten)
    from workbench.metrics import RESERVED_NAMES

    spec = make_spec(dataset={"path": "datasets/python_docs.jsonl", "limit": 2}, prompts=[make_spec().prompts[0].model_dump()],
                     chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}],
                     pricing={GEMMA_ID: {"input": 1.0, "output": 2.0}})
    result = wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings,
                    progress=False)
    variant = result.variants[0]
    scorers = set(variant.records[0].scores)
    # and the leaderboard's own columns: a scorer named 'status' or 'chunks' made two such columns, the variant's
    # status showing the scorer's mean, and 'chunks' (the index's count) replaced by it
    written = (set(variant.records_frame().columns) | set(variant.metrics) | set(result.leaderboard().columns)) - scorers
    assert written - {f"{s}_errors" for s in scorers} <= RESERVED_NAMES
    assert {"answer", "case_id", "cost_usd", "latency_p50_s", "cost_per_question_usd", "status", "chunks", "run_id"} <= written


def test_a_scorer_registered_lower_is_better_is_compared_so_from_the_store_where_it_is_not_registered(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # `workbench compare` and `gate` import no scorer module: they read such a scorer higher-is-better and called the
    # variant with more made-up claims "better" (and gate --baseline failed the other one)
    from workbench.metrics import direction

    @wb.scorer("test_claims_made", default=False, lower_is_better=True)
    def claims(env):  # type: ignore[no-untyped-def]
        return lambda ctx: wb.Score(float(len(ctx.answer.split())))

    terse = ScriptedModel(lambda p: "yes" if "Q:" in p.text else "yes and many more words", model_id=GEMMA_ID)
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], scorers=["token_f1", "test_claims_made"],
                     dataset={"path": "datasets/python_docs.jsonl", "limit": 6})
    result = wb.run(spec, models={GEMMA_ID: terse, MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}, index_store=MemoryIndexStore(),
                    settings=wb_settings, progress=False)

    @wb.scorer("test_claims_made", default=False)  # another process: not registered better low
    def claims_elsewhere(env):  # type: ignore[no-untyped-def]
        return lambda ctx: wb.Score(0.0)

    assert direction("test_claims_made") == "higher"
    report = wb.compare(result.parent_run_id, metrics=["test_claims_made"], baseline=result.variants[0].variant.name,
                        tracking_uri=wb_settings.tracking_uri)
    wordy = next(v.variant.name for v in result.variants if v.variant.prompt.name == "p1")
    terse_name = next(v.variant.name for v in result.variants if v.variant.prompt.name == "p2")
    other = wordy if report.baseline == terse_name else terse_name
    assert report.row(other, "test_claims_made")["direction"] == "lower"
    assert report.row(other, "test_claims_made")["verdict"] == ("worse" if other == wordy else "better")


def test_a_scorer_that_failed_on_some_questions_is_named_in_the_notes(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # its mean left the failed questions out and workbench run said nothing: a scorer that failed on 3 of 4 questions
    # showed the mean of the fourth as the variant's score
    @wb.scorer("test_fails_on_long_answers", default=False)
    def fails_on_long_answers(env):  # type: ignore[no-untyped-def]
        def score(ctx):  # type: ignore[no-untyped-def]
            if ctx.question != first_question:
                raise RuntimeError("no verdict\nsecond line")
            return wb.Score(1.0)
        return score

    spec = make_spec(prompts=[make_spec().prompts[0].model_dump()], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}],
                     scorers=["token_f1", "test_fails_on_long_answers"])
    first_question = wb.load_dataset(ROOT / "datasets/python_docs.jsonl").cases[0].question
    result = wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings,
                    progress=False)
    (variant,) = result.variants
    assert variant.metrics["test_fails_on_long_answers"] == 1.0 and variant.metrics["test_fails_on_long_answers_errors"] == 3
    assert result.scorer_notes == (f"{variant.variant.name}: test_fails_on_long_answers failed on 3 of 4 questions "
                                   "(first: RuntimeError: no verdict) — its mean leaves them out",)
    assert result.scorer_notes[0] in result.notes


def test_a_long_scorer_error_is_quoted_cut_between_words() -> None:
    # a provider's long reply quoted in a judge's error was cut mid-word ("'stub )") and without saying so
    from workbench.redaction import quoted_error

    error = "JudgeError: the judge said: " + "statement " * 40 + "\nsecond line"
    quoted = quoted_error(error)
    assert quoted.startswith("JudgeError: the judge said: statement") and quoted.endswith("… (cut: 428 characters in all)"), quoted
    assert quoted.split("…")[0].endswith("statement") and len(quoted) < 240


SCORER_MODULE = """
text = {text!r}
WEIGHTS = {{word: 1.0 for word in {{"alpha", "beta", "gamma", "delta", "epsilon"}}}}


def score(ctx):
    return sum(WEIGHTS.get(w, 0.0) for w in ctx.text.split())
"""


def test_a_scorers_code_digest_is_the_same_in_every_process_and_ignores_attribute_names(tmp_path: Path) -> None:
    """A later sweep (after a kernel restart) reuses runs only if the digest is the same in its process: a dict built
    from a set has another order under another hash seed. ``ctx.text`` reads no global ``text``."""
    import os
    import subprocess
    import sys

    def digest(text: str, seed: str) -> str:
        (tmp_path / "my_scorer.py").write_text(SCORER_MODULE.format(text=text), encoding="utf-8")
        code = "import my_scorer; from workbench.scoring import code_digest; print(code_digest(my_scorer.score))"
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert digest("a", "1") == digest("a", "2") == digest("b", "3")


def test_a_sweep_result_shows_a_summary_not_its_corpus_and_records(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # the default repr held the whole corpus, every prompt and chunk: a notebook cell ending in wb.run(...) showed pages
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], execution={"isolation": "none"})
    result = wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings,
                    progress=False, limit=2)
    assert repr(result) == (f"SweepResult(experiment='unit', status='FINISHED', variants=2 (2 FINISHED), questions=2, "
                            f"parent_run_id='{result.parent_run_id}', tracking_uri={result.tracking_uri!r})")
    first = result.variants[0]
    assert repr(first) == f"VariantResult(variant='{first.variant.name}', status='FINISHED', questions=2, run_id='{first.run_id}')"


def test_a_sweep_results_summary_never_shows_the_tracking_servers_password(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # a team server's URI with credentials in it (http://user:pass@host) was shown whole by a cell ending in wb.run(...)
    # and saved with the notebook
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], execution={"isolation": "none"})
    result = wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=MemoryTracker(), settings=wb_settings,
                    progress=False, limit=1)
    served = dataclasses.replace(result, tracking_uri="http://alice:S3cret-pa55@mlflow.example.internal:5000")
    assert "S3cret-pa55" not in repr(served)
    assert "tracking_uri='http://alice:***@mlflow.example.internal:5000'" in repr(served)  # as workbench run names it
    assert served.tracking_uri == "http://alice:S3cret-pa55@mlflow.example.internal:5000"  # still what later calls use


def test_a_model_handed_over_under_a_misspelt_id_is_refused_not_replaced_by_the_real_one(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # the override was never used: the real Gemma was loaded and answered (a hosted model would have been paid for)
    tracker = MemoryTracker()
    models = {"local:gemma3-270M": ScriptedModel(lambda p: "an answer", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    with pytest.raises(wb.SpecError, match=re.escape("models: 'local:gemma3-270M' is not a model of experiment 'unit', so it would "
                                                      f"never be called and '{GEMMA_ID}' would answer instead — did you mean '{GEMMA_ID}'? (or leave 'local:gemma3-270M' out of models=)")):
        wb.run(make_spec(), models=models, tracker=tracker, settings=wb_settings, progress=False)
    assert tracker.runs == {}
    # a dict of every model of a notebook, some of them not in this experiment, is fine
    spare = {"openai:gpt-4o-mini": ScriptedModel(lambda p: "unused", model_id="openai:gpt-4o-mini")}
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], execution={"isolation": "none"})
    result = wb.run(spec, models={GEMMA_ID: models["local:gemma3-270M"], MINILM_ID: models[MINILM_ID], **spare}, index_store=MemoryIndexStore(),
                    tracker=MemoryTracker(), settings=wb_settings, progress=False, limit=1)
    assert {v.status for v in result.variants} == {"FINISHED"}


def test_models_none_of_whose_keys_is_a_model_of_the_experiment_are_refused(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # models={"gemma": fake}: no near miss of 'local:gemma3-270m' by spelling, so nothing was said, the fake was never
    # called and the real models loaded and answered (a hosted one at its price)
    tracker = MemoryTracker()
    with pytest.raises(wb.SpecError) as info:
        wb.run(make_spec(), models={"gemma": ScriptedModel(lambda p: "an answer", model_id=GEMMA_ID)}, tracker=tracker,
               settings=wb_settings, progress=False)
    assert str(info.value) == (f"models: none of its keys ('gemma') is a model of experiment 'unit', so none of them would be called "
                               f"and the experiment's own would answer — key each by the model string it replaces: {MINILM_ID}, {GEMMA_ID}")
    assert tracker.runs == {}


def in_memory_spec(**overrides) -> ExperimentSpec:  # type: ignore[no-untyped-def]
    """make_spec's grid cut to one variant, run in this process, with no dataset or corpus of its own."""
    data = make_spec(prompts=make_spec().prompts[:1], chunkers=make_spec().chunkers[:1], execution={"isolation": "none"}, **overrides)
    return data.model_copy(update={"dataset": None, "corpus": None})


HANDBOOK = [{"id": "travel", "text": "Book economy class for flights under six hours."},
            {"id": "leave", "text": "Managers approve leave requests. Leave is 25 days a year."}]


def test_a_dataframe_and_documents_in_memory_are_swept_tracked_and_reused_by_content(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    frame = pd.DataFrame({"id": [1, 2], "question": ["Which class do I book?", "Who approves leave?"],
                          "reference": ["Economy.", None], "source_ids": [["travel"], ["leave"]]})
    result = wb.run(in_memory_spec(), dataset=frame, corpus=HANDBOOK, models=fake_models, settings=wb_settings, progress=False)
    assert [v.status for v in result.variants] == ["FINISHED"] and len(result.dataset) == 2
    assert result.leaderboard()["hit_at_k"].iloc[0] == 1.0
    client = mlflow_client(wb_settings.tracking_uri)
    parent = client.get_run(result.parent_run_id)
    assert parent.data.params["dataset"] == "dataframe (in memory)" and parent.data.params["corpus"] == "documents (in memory)"
    inputs = {i.tags[0].value: i.dataset for i in parent.inputs.dataset_inputs}
    assert inputs["evaluation"].digest == result.dataset.hash[:20] and inputs["corpus"].digest == result.corpus.hash[:20]
    again = wb.run(in_memory_spec(), dataset=frame.copy(), corpus=list(HANDBOOK), models=fake_models, settings=wb_settings, progress=False)
    assert again.variants[0].reused_from == result.variants[0].run_id  # the same content: the same dataset and corpus
    changed = frame.copy()
    changed.loc[1, "reference"] = "Your manager."
    third = wb.run(in_memory_spec(), dataset=changed, corpus=HANDBOOK, models=fake_models, settings=wb_settings, progress=False)
    assert third.variants[0].reused_from is None and third.dataset.hash != result.dataset.hash


def test_data_given_in_memory_replaces_the_specs_own_in_the_logged_experiment(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    dataset = wb.load_dataset(ROOT / "datasets/python_docs.jsonl", limit=2)
    spec = make_spec(prompts=make_spec().prompts[:1], chunkers=make_spec().chunkers[:1], execution={"isolation": "none"})
    tracker = MemoryTracker()
    result = wb.run(spec, dataset=dataset, models=fake_models, tracker=tracker, settings=wb_settings, progress=False, limit=1)
    assert len(result.dataset) == 1 and result.dataset.cases[0] == dataset.cases[0]
    assert result.spec.dataset is None and result.spec.corpus == spec.corpus  # the file it did not read is not named


@pytest.mark.parametrize(("given", "expected"), [
    ({"corpus": HANDBOOK}, "experiment 'unit' names no dataset — add dataset: {path: ...}, or pass the cases: wb.run(exp, dataset=df)"),
    ({"dataset": "frame"}, "experiment 'unit' names no corpus — add corpus:"),
    ({"dataset": "frame", "corpus": HANDBOOK, "limit": 0}, "limit=0: give a whole number of cases, at least 1"),
])
def test_a_spec_without_data_and_none_given_is_one_line_before_any_run(wb_settings, fake_models, given, expected) -> None:  # type: ignore[no-untyped-def]
    if given.get("dataset") == "frame":
        given = {**given, "dataset": wb.load_dataset(ROOT / "datasets/python_docs.jsonl", limit=2)}
    tracker = MemoryTracker()
    with pytest.raises(wb.WorkbenchError) as err:
        wb.run(in_memory_spec(), models=fake_models, tracker=tracker, settings=wb_settings, progress=False, **given)
    assert str(err.value).startswith(expected) and not tracker.runs


def test_an_experiment_file_without_a_dataset_or_corpus_names_the_file_as_before(tmp_path, wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # the fields became optional for data given in memory; the file's error lost its file (and workbench run can give none)
    path = tmp_path / "exp.yaml"
    in_memory_spec().save(path)
    tracker = MemoryTracker()
    with pytest.raises(wb.SpecError, match=rf"^{re.escape(str(path))}:1: dataset: required field is missing — add dataset: \{{path: \.\.\.\}}$"):
        wb.run(path, models=fake_models, tracker=tracker, settings=wb_settings, progress=False)
    with pytest.raises(wb.SpecError, match=rf"^{re.escape(str(path))}:1: corpus: required field is missing"):
        wb.run(path, dataset=wb.load_dataset(ROOT / "datasets/python_docs.jsonl", limit=1), models=fake_models, tracker=tracker,
               settings=wb_settings, progress=False)
    assert not tracker.runs


def test_a_dataframe_named_like_a_folder_is_not_logged_as_read_from_that_folder(tmp_path, wb_settings, fake_models, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    (tmp_path / "handbook").mkdir()  # the notebook's folder holds a folder of the dataset's name: MLflow's source was it
    monkeypatch.chdir(tmp_path)
    dataset = wb.load_dataset(pd.DataFrame({"question": ["Who approves leave?"], "source_ids": [["leave"]]}), name="handbook")
    result = wb.run(in_memory_spec(), dataset=dataset, corpus=HANDBOOK, models=fake_models, settings=wb_settings, progress=False)
    logged = mlflow_client(wb_settings.tracking_uri).get_run(result.parent_run_id).inputs.dataset_inputs[0].dataset
    assert logged.name == "handbook" and "handbook" not in logged.source and logged.source_type != "local"


def test_a_question_is_retrieved_for_as_a_bundle_retrieves_for_it_whatever_questions_came_before(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # the questions were embedded as one batch, which moves a real model's vectors in their last bits with the longest
    # question: a sweep of 4 questions, the same sweep after one of 2 (their vectors cached), and a bundle asking each
    # question alone got different similarities, so near-ties could retrieve other chunks
    from workbench.pipeline import Retriever
    from workbench.testing import PaddingEmbedder

    embedder = PaddingEmbedder(model_id=MINILM_ID)
    store = CountingIndexStore()
    spec = make_spec(prompts=[{"name": "p1", "template": "Context: {context}\nQuestion: {question}\nAnswer:"}],
                     chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    result = wb.run(spec, models={**fake_models, MINILM_ID: embedder}, index_store=store, settings=wb_settings, progress=False)
    (variant,) = result.variants
    (index_key,) = store.builds
    index = store.open(index_key)
    assert index is not None
    alone = Retriever(index, embedder, spec.retrieval[0])
    for record in variant.records:
        assert [h.score for h in record.hits] == [h.score for h in alone.retrieve(record.case.question)], record.case.id


def test_a_question_whose_answer_failed_keeps_its_retrieval_scores(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # retrieval ran before the model failed: its chunks are known, so hit@k, recall@k and MRR score them. They were
    # dropped with the answer's scores, so two variants retrieving alike showed different MRR in the leaderboard
    import pandas as pd

    corpus = [{"id": "travel", "text": "Book economy class for flights."}, {"id": "leave", "text": "Managers approve leave."},
              {"id": "pay", "text": "Salaries are paid monthly."}]
    frame = pd.DataFrame({"id": ["q1", "q2", "q3"], "question": ["Which class do I book?", "Who approves leave?", "When is pay?"],
                          "reference": ["economy", "managers", "monthly"], "source_ids": [["travel"], ["leave"], ["pay"]]})

    def fails_on_leave(prompt):  # type: ignore[no-untyped-def]
        if "Who approves leave?" in prompt.text:
            raise RuntimeError("model crashed")
        return "economy"

    spec = in_memory_spec(retrieval=[{"k": 2}])
    models = {GEMMA_ID: ScriptedModel(fails_on_leave, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    (failing,) = wb.run(spec, dataset=frame, corpus=corpus, models=models, settings=wb_settings, progress=False).variants
    answering = {GEMMA_ID: ScriptedModel(lambda p: "economy", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    (answered,) = wb.run(spec, dataset=frame, corpus=corpus, models=answering, settings=wb_settings, progress=False).variants
    assert failing.question_errors == 1 and not answered.question_errors
    rows = failing.records_frame().set_index("case_id")
    assert rows.loc["q2", "error"] and pd.isna(rows.loc["q2", "token_f1"])  # no answer: no answer score
    # MRR from the logged ranking, by its textbook definition: 1/rank of the first relevant chunk, 0 when none
    ranks = [next((1 / i for i, d in enumerate(r.retrieved_ids, 1) if d in r.case.source_ids), 0.0) for r in failing.records]
    assert rows["mrr"].tolist() == ranks
    for metric in ("hit_at_k", "recall_at_k", "precision_at_k", "mrr"):
        assert failing.metrics[metric] == answered.metrics[metric], metric
    assert failing.metrics["mrr"] == pytest.approx(sum(ranks) / 3)


def _corpus_folder(folder: Path) -> Path:
    """A folder of handbook pages the handbook questions label, with a draft and a note a corpus glob may leave out."""
    folder.mkdir()
    for doc in HANDBOOK:
        (folder / f"{doc['id']}.txt").write_text(doc["text"], encoding="utf-8")
    (folder / "draft.txt").write_text("Unfinished.", encoding="utf-8")
    (folder / "notes.md").write_text("# Notes\nNot a policy.", encoding="utf-8")
    return folder


def test_a_folder_given_as_the_corpus_is_read_with_the_experiments_glob_and_exclude(tmp_path, wb_settings, fake_models, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # wb.run(exp, corpus="kb") read kb/**/*.md whatever the experiment's corpus said: its .txt pages were no documents
    import pandas as pd

    monkeypatch.chdir(tmp_path)
    _corpus_folder(tmp_path / "kb")
    frame = pd.DataFrame({"question": ["Which class do I book?"], "source_ids": [["travel"]]})
    spec = make_spec(prompts=make_spec().prompts[:1], chunkers=make_spec().chunkers[:1], execution={"isolation": "none"},
                     corpus={"path": "handbook", "glob": "*.txt", "exclude": ["draft.txt"]})
    result = wb.run(spec, dataset=frame, corpus="kb", models=fake_models, tracker=MemoryTracker(), settings=wb_settings, progress=False)
    assert sorted(result.corpus.ids) == ["leave", "travel"]
    assert result.spec.corpus is None  # the experiment's folder was not read: its logged experiment does not name it


def test_a_folder_given_as_the_corpus_of_an_experiment_without_a_folder_is_read_with_the_default_glob(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    unlabelled = pd.DataFrame({"question": ["Who approves leave?"]})
    _corpus_folder(tmp_path / "kb")
    assert load_inputs(make_spec(), dataset=unlabelled, corpus=tmp_path / "kb")[1].ids == {"notes"}  # the built-in corpus has no glob
    assert load_inputs(make_spec(corpus=None), dataset=unlabelled, corpus=str(tmp_path / "kb"))[1].ids == {"notes"}


def test_a_source_id_the_glob_leaves_out_of_a_folder_given_as_the_corpus_names_its_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    _corpus_folder(tmp_path / "kb")
    spec = make_spec(corpus={"path": "elsewhere", "glob": "*.txt", "exclude": ["draft.txt"]})
    with pytest.raises(wb.DataError) as info:
        load_inputs(spec, dataset=pd.DataFrame({"question": ["Draft?"], "source_ids": [["draft"]]}), corpus=tmp_path / "kb")
    assert "its file draft.txt is left out by the corpus exclude 'draft.txt'" in str(info.value)


def test_a_dataframe_given_to_wb_run_takes_the_experiments_dataset_limit(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # load_inputs applied it, but wb.run dropped the experiment's dataset before loading the frame: every row was run
    import pandas as pd

    frame = pd.DataFrame({"question": ["Which class do I book?", "Who approves leave?", "How many days?"]})
    spec = make_spec(prompts=make_spec().prompts[:1], chunkers=make_spec().chunkers[:1], execution={"isolation": "none"},
                     dataset={"path": "datasets/python_docs.jsonl", "limit": 2})
    result = wb.run(spec, dataset=frame, corpus=HANDBOOK, models=fake_models, tracker=MemoryTracker(), settings=wb_settings, progress=False)
    assert [c.question for c in result.dataset.cases] == ["Which class do I book?", "Who approves leave?"]
    assert result.spec.dataset is None
