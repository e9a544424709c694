"""Sweeps that never compute the same thing twice, on a real sqlite MLflow store with deterministic fakes: finished
variants are reused, answers come from the cache, a stopped or crashed sweep is finished by running it again."""

from __future__ import annotations

import collections
import functools
import json
import os
import shutil
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import workbench as wb
from workbench.cache import DiskCacheStore
from workbench.config import Settings
from workbench.grid import Variant, expand_grid
from workbench.models import GEMMA_ID, MINILM_ID, SMOLLM2_ID
from workbench.spec import ExperimentSpec
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import MlflowTracker

from tests.conftest import mlflow_client

if TYPE_CHECKING:
    from mlflow import MlflowClient

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = 4
P1 = {"name": "p1", "template": "Context: {context}\nQuestion: {question}\nAnswer:"}
P2 = {"name": "p2", "template": "{context}\n\nQ: {question}\nA:"}
P3 = {"name": "p3", "template": "Answer from the context.\n{context}\nQuestion: {question}\nAnswer:"}
# for the tests whose subject is not the grid's shape (what a changed key, cache: false or a failed judge call computes
# again): each variant is the same there on either chunker, and each logged variant run costs its sweep about a second
ONE_CHUNKER = [{"strategy": "recursive", "size": 800, "overlap": 80}]


def make_spec(prompts: list[dict[str, str]] | None = None, **overrides: object) -> ExperimentSpec:
    data: dict[str, object] = {
        "name": "incremental",
        "dataset": {"path": "datasets/python_docs.jsonl", "limit": QUESTIONS},
        "corpus": {"builtin": "python-reference"},
        "prompts": prompts or [P1, P2],
        "models": [{"id": GEMMA_ID, "params": {"max_tokens": 16}}],
        "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}, {"strategy": "sentence", "size": 300, "overlap": 0}],
        "retrieval": [{"k": 3}],
        # what is computed, reused and cached does not depend on where variants run (tests/integration/test_resume.py
        # covers worker processes with the real model); the default scorers would only add scoring time here
        "scorers": ["token_f1", "hit_at_k", "mrr"],
        "execution": {"isolation": "none"},
    }
    data.update(overrides)
    return ExperimentSpec.from_dict(data, base_dir=ROOT)


def answer(prompt: object) -> str:
    text = prompt.text  # type: ignore[attr-defined]
    return text.split("Question:")[-1].split("Q:")[-1].strip()[:40]  # depends on the prompt: a cached answer is visible


class Models:
    """The same fake model across sweeps (as the real one would be: same identity, so its answers are cached)."""

    def __init__(self) -> None:
        self.generator = ScriptedModel(answer, model_id=GEMMA_ID, identity="scripted:incremental")
        self.embedder = HashingEmbedder(model_id=MINILM_ID)

    def as_dict(self) -> dict[str, object]:
        return {self.generator.model_id: self.generator, MINILM_ID: self.embedder}

    @property
    def calls(self) -> int:
        return len(self.generator.calls)


@pytest.fixture
def models() -> Models:
    return Models()


@pytest.fixture
def wb_settings(indexed_settings: Settings) -> Settings:
    """No test here is about building indexes (tests/test_runner.py and tests/pipeline are): the sweeps open built ones
    (a test whose chunkers cut otherwise still builds its own)."""
    return indexed_settings


def sweep(spec: ExperimentSpec, cfg: Settings, models: Models, **options: object) -> wb.SweepResult:
    return wb.run(spec, settings=cfg, models=models.as_dict(), progress=False, **options)  # type: ignore[arg-type]


def children(cfg: Settings, result: wb.SweepResult) -> list:  # type: ignore[type-arg]
    client = mlflow_client(cfg.tracking_uri)
    return client.search_runs([result.experiment_id], f"tags.`mlflow.parentRunId` = '{result.parent_run_id}'")


def test_an_unchanged_sweep_reuses_every_variant_and_calls_no_model(wb_settings: Settings, models: Models) -> None:
    cold = sweep(make_spec(), wb_settings, models)
    assert models.calls == 4 * QUESTIONS and not any(v.reused_from for v in cold.variants)
    assert {v.metrics["generation_calls"] for v in cold.variants} == {QUESTIONS} and {v.metrics["cache_hits"] for v in cold.variants} == {0}
    warm = sweep(make_spec(), wb_settings, models)
    assert models.calls == 4 * QUESTIONS  # nothing computed again
    by_id = {v.variant.id: v for v in cold.variants}
    for v in warm.variants:
        before = by_id[v.variant.id]
        assert v.reused_from == before.run_id and v.run_id != before.run_id
        assert v.metrics["generation_calls"] == 0 and v.metrics["cache_hits"] == QUESTIONS
        for name in ("token_f1", "hit_at_k", "mrr", "output_tokens", "latency_p50_s"):
            assert v.metrics[name] == pytest.approx(before.metrics[name]), name
        assert [r.answer for r in v.records] == [r.answer for r in before.records]
    logged = children(wb_settings, warm)
    assert len(logged) == 4 and all(r.info.status == "FINISHED" for r in logged)
    assert {r.data.tags["workbench.reused_from"] for r in logged} == {v.run_id for v in cold.variants}
    for r in logged:  # the run page's description says where its results come from
        origin = r.data.tags["workbench.reused_from"]  # linked: the run page renders the description as markdown
        assert r.data.tags["mlflow.note.content"].startswith(f"Reused from run [{origin}](#/experiments/{warm.experiment_id}/runs/{origin}) ")
    traces = mlflow_client(wb_settings.tracking_uri).search_traces(locations=[warm.experiment_id], run_id=warm.variants[0].run_id)
    assert len(traces) == QUESTIONS  # the reused run shows the original traces
    board = warm.leaderboard()
    assert board["reused_from"].notna().all()
    report = wb.compare(warm)
    assert set(report.table["variant"]) == {v.variant.name for v in warm.variants}
    assert mlflow_client(wb_settings.tracking_uri).get_run(warm.parent_run_id).data.metrics["variants_reused"] == 4
    note = mlflow_client(wb_settings.tracking_uri).get_run(warm.parent_run_id).data.tags["mlflow.note.content"]
    assert note.startswith("FINISHED: 4 of 4 variants finished (4 reused from earlier sweeps).")  # the sweep's run page
    for v in warm.variants:  # each row links to the variant's run and to the run it was reused from
        assert f"(#/experiments/{warm.experiment_id}/runs/{v.run_id}) | FINISHED |" in note
        assert f"| reused from [an earlier run](#/experiments/{warm.experiment_id}/runs/{v.reused_from}) |" in note


def test_a_run_reused_from_an_older_workbench_gets_the_params_it_did_not_log(
    wb_settings: Settings, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs logged before ``prompt.hash`` was a param are reused as they were: their copies get it, so the warm
    sweep's runs line up with the ones it computes in the MLflow UI's columns and parallel-coordinates chart."""
    new_params = Variant.params
    monkeypatch.setattr(Variant, "params", lambda self: {k: v for k, v in new_params(self).items() if k != "prompt.hash"})
    cold = sweep(make_spec(), wb_settings, models)
    assert all("prompt.hash" not in r.data.params for r in children(wb_settings, cold))
    monkeypatch.setattr(Variant, "params", new_params)
    warm = sweep(make_spec(), wb_settings, models)
    logged = children(wb_settings, warm)
    assert logged and all(r.data.tags.get("workbench.reused_from") for r in logged)
    for r in logged:
        assert r.data.params["prompt.hash"] == r.data.tags["workbench.prompt_hash"]


class Counting:
    """An MlflowClient that counts the calls made through it, by method."""

    def __init__(self, client: object) -> None:
        self.inner, self.calls, self.found = client, collections.Counter[str](), collections.Counter[str]()

    def __getattr__(self, name: str) -> object:
        method = getattr(self.inner, name)
        if not callable(method):
            return method

        def counted(*args: object, **kwargs: object) -> object:
            self.calls[name] += 1
            answer = method(*args, **kwargs)
            if name.startswith("search_"):
                self.found[name] += len(answer)  # what MLflow built: a trace with each of its assessments
            return answer

        return counted


class CountingReads(MlflowTracker):
    """A tracker that counts the artifact files it downloads, by run."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.client = self.counting = Counting(self.client)  # type: ignore[assignment]
        self.downloads = collections.Counter[str]()

    def _artifacts(self, run: object) -> object:
        repo, downloads, run_id = super()._artifacts(run), self.downloads, run.info.run_id  # type: ignore[attr-defined]

        class Repo:
            def __getattr__(self, name: str) -> object:
                return getattr(repo, name)

            def download_artifacts(self, path: str, dst: str | None = None) -> str:
                downloads[f"{run_id}/{path}"] += 1
                return repo.download_artifacts(path, dst)  # type: ignore[no-any-return]

        return Repo()


def _artifact_folder(client: MlflowClient, run_id: str) -> Path:
    return Path(client.get_run(run_id).info.artifact_uri.removeprefix("file://"))


@pytest.mark.parametrize("recorded", [True, False])
def test_a_warm_sweep_looks_up_one_trace_of_each_reusable_run_that_recorded_its_trace_ids(
    wb_settings: Settings, models: Models, recorded: bool
) -> None:
    """The reuse check listed every trace of every candidate run for its scores (MLflow builds each trace's assessments:
    2.5 s for 800 traces on sqlite, 5-6 s for 240 on a tracking server), and the copies linked them. A run records its
    trace ids (trace_ids.json): the check looks up its first trace by id, and the copy links the recorded ids. A run
    logged before they were recorded has its traces listed as before; either way a run deleted and restored, whose
    traces lost their scores, is computed again."""
    spec = make_spec([P1, P2, P3])
    cold = sweep(spec, wb_settings, models)
    client = mlflow_client(wb_settings.tracking_uri)
    for v in cold.variants:
        ids = json.loads((_artifact_folder(client, v.run_id or "") / "trace_ids.json").read_text())
        assert sorted(ids) == sorted(t.info.trace_id for t in client.search_traces(locations=[cold.experiment_id], run_id=v.run_id))
        if not recorded:  # as a run logged by an older workbench
            (_artifact_folder(client, v.run_id or "") / "trace_ids.json").unlink()
    lost = cold.variants[0].run_id or ""
    client.delete_run(lost)
    client.restore_run(lost)
    tracker = CountingReads(wb_settings.tracking_uri, artifact_root=wb_settings.artifact_root)
    warm = sweep(spec, wb_settings, models, tracker=tracker)
    origins = {v.variant.id: v for v in cold.variants}
    assert {v.variant.id: v.reused_from for v in warm.variants} == {i: None if v.run_id == lost else v.run_id for i, v in origins.items()}
    assert tracker.counting.calls["search_traces"] == 1
    assert tracker.counting.found["search_traces"] == (6 if recorded else 6 * QUESTIONS)
    for copy in warm.variants:
        origin = origins[copy.variant.id]
        linked = client.search_traces(locations=[cold.experiment_id], run_id=copy.run_id)
        assert len(linked) == QUESTIONS and all({a.name for a in t.info.assessments} >= {"token_f1", "hit_at_k"} for t in linked)
        if copy.reused_from:
            assert {t.info.trace_id for t in linked} == {t.info.trace_id for t in client.search_traces(
                locations=[cold.experiment_id], run_id=origin.run_id)}


def test_a_cold_sweep_reads_its_parent_run_once_whatever_the_number_of_variants(wb_settings: Settings, models: Models) -> None:
    """Logging each computed variant looked the sweep's parent run up again (for the tags and seed its variant runs
    repeat): a round trip per variant on a tracking server."""
    counted = {}
    for name, prompts in (("two", [P1]), ("six", [P1, P2, P3])):
        tracker = CountingReads(wb_settings.tracking_uri, artifact_root=wb_settings.artifact_root)
        cold = sweep(make_spec(prompts, name=name), wb_settings, models, tracker=tracker)
        assert not any(v.reused_from for v in cold.variants) and len(cold.variants) == 2 * len(prompts)
        counted[len(cold.variants)] = tracker.counting.calls
    assert counted[6]["get_run"] == counted[2]["get_run"] == 1, counted
    client = mlflow_client(wb_settings.tracking_uri)
    for v in cold.variants:  # what the variant runs repeat of their parent's is still there
        tags = client.get_run(v.run_id or "").data.tags
        assert tags["workbench.spec_hash"] == make_spec([P1, P2, P3], name="six").hash and "workbench.seed" in tags


def test_a_warm_sweep_makes_its_searches_once_per_sweep_and_reads_each_artifact_once(wb_settings: Settings, models: Models) -> None:
    """A warm re-run searched MLflow for each variant's reusable run and for its traces, looked the run up again, and
    read its table twice (to check it, then to copy it): 0.3-0.5 s a reused variant on sqlite, a 200-variant grid over a
    minute to compute nothing, and a round trip each on a tracking server. A reused variant now costs its copy's writes
    only (create, one log_batch, its artifacts, its traces linked, its dataset, its end)."""
    cold = sweep(make_spec([P1, P2, P3]), wb_settings, models)
    trackers = {}
    for prompts in ([P1], [P1], [P1, P2, P3]):  # each of the last two copies the comparison of the one before: once a sweep
        tracker = CountingReads(wb_settings.tracking_uri, artifact_root=wb_settings.artifact_root)
        warm = sweep(make_spec(prompts), wb_settings, models, tracker=tracker)
        assert all(v.reused_from for v in warm.variants) and len(warm.variants) == 2 * len(prompts)
        trackers[len(warm.variants)] = tracker
    counted = {n: t.counting.calls for n, t in trackers.items()}
    per_variant = {name: (counted[6][name] - counted[2][name]) / 4 for name in counted[6]}
    per_variant = {name: n for name, n in per_variant.items() if n}
    assert per_variant == {"create_run": 1, "log_batch": 1, "log_artifacts": 1, "link_traces_to_run": 1, "log_inputs": 1,
                           "set_terminated": 1}, per_variant
    assert counted[6]["search_traces"] == 1 and counted[6]["get_run"] == counted[2]["get_run"]
    client = mlflow_client(wb_settings.tracking_uri)
    read = {f"{v.run_id}/{f.path}": 1 for v in cold.variants for f in client.list_artifacts(v.run_id or "")}
    assert trackers[6].downloads == read  # each file of each reused run once (not checked, then copied again)
    assert models.calls == 6 * QUESTIONS and {v.variant.id for v in warm.variants} == {v.variant.id for v in cold.variants}
    traces = mlflow_client(wb_settings.tracking_uri).search_traces(locations=[warm.experiment_id], run_id=warm.variants[-1].run_id)
    assert len(traces) == QUESTIONS  # every trace linked to the copy


def test_a_warm_sweep_reads_the_reused_runs_artifacts_without_searching_logged_models(wb_settings: Settings, models: Models) -> None:
    # each artifact listed or read through MlflowClient looked its run up again and searched the experiment's logged
    # models for one named like the file (57 ms a file against 3 ms): three searches for every variant a sweep reused
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    cold = sweep(make_spec(), wb_settings, models)
    searched: list[str] = []

    def record(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if "logged_models" in statement:
            searched.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        warm = sweep(make_spec(), wb_settings, models)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert [v.reused_from for v in warm.variants] == [v.run_id for v in cold.variants]
    assert all(len(v.records) == QUESTIONS for v in warm.variants)
    assert searched == []


def test_one_more_prompt_computes_only_the_new_variants(wb_settings: Settings, models: Models) -> None:
    sweep(make_spec(), wb_settings, models)
    calls = models.calls
    more = sweep(make_spec([P1, P2, P3]), wb_settings, models)
    assert models.calls - calls == 2 * QUESTIONS  # p3 on two chunkers
    assert len(more.variants) == 6 and sum(1 for v in more.variants if v.reused_from) == 4
    assert len(children(wb_settings, more)) == 6


def test_a_changed_prompt_or_parameter_is_computed_again_and_fresh_recomputes(wb_settings: Settings, models: Models) -> None:
    sweep(make_spec(chunkers=ONE_CHUNKER), wb_settings, models)
    calls = models.calls
    edited = {**P2, "template": P2["template"] + " "}
    sweep(make_spec([P1, edited], chunkers=ONE_CHUNKER), wb_settings, models)
    assert models.calls - calls == QUESTIONS  # the edited prompt renders differently: new keys
    calls = models.calls
    longer = make_spec([P1, P2], models=[{"id": GEMMA_ID, "params": {"max_tokens": 32}}], chunkers=ONE_CHUNKER)
    sweep(longer, wb_settings, models)
    assert models.calls - calls == 2 * QUESTIONS
    calls = models.calls
    again = sweep(longer, wb_settings, models, fresh=True)
    assert models.calls - calls == 2 * QUESTIONS and not any(v.reused_from for v in again.variants)
    unfresh = sweep(longer, wb_settings, models)
    assert models.calls - calls == 2 * QUESTIONS and all(v.reused_from for v in unfresh.variants)


def test_a_question_inserted_at_the_top_of_a_dataset_without_ids_is_the_only_one_computed_and_the_rest_pair_with_the_last_sweep(
    wb_settings: Settings, models: Models, tmp_path: Path,
) -> None:
    # ids numbered by position: the inserted question renamed every question after it, and comparing the sweeps before
    # and after paired none of them ('not enough data', n_paired 0)
    rows = [json.loads(line) for line in (ROOT / "datasets" / "python_docs.jsonl").read_text(encoding="utf-8").splitlines()[:QUESTIONS + 1]]
    for row in rows:
        del row["id"]
    data = tmp_path / "no_ids.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows[1:]), encoding="utf-8")
    spec = make_spec([P1], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], dataset={"path": str(data)})
    before = sweep(spec, wb_settings, models)
    calls = models.calls
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    after = sweep(spec, wb_settings, models)
    assert models.calls - calls == 1  # the new question, on the one variant
    ids = {r.case.question: r.case.id for r in before.variants[0].records}
    assert {r.case.question: r.case.id for r in after.variants[0].records[1:]} == ids
    report = wb.compare([before.variants[0].run_id, after.variants[0].run_id], tracking_uri=wb_settings.tracking_uri)
    table = report.table.set_index(["metric", "is_baseline"])
    assert table.loc[("output_tokens", False), "n_paired"] == QUESTIONS  # every question of the sweep before
    assert table.loc[("token_f1", False), "n_paired"] == table.loc[("token_f1", True), "n"] > 0
    assert table.loc[("token_f1", False), "diff"] == 0  # the same answers, paired with themselves


def test_cache_false_on_a_model_always_calls_it(wb_settings: Settings, models: Models) -> None:
    spec = make_spec(models=[{"id": GEMMA_ID, "params": {"max_tokens": 16}, "cache": False}], chunkers=ONE_CHUNKER)
    sweep(spec, wb_settings, models)
    again = sweep(spec, wb_settings, models)
    assert models.calls == 4 * QUESTIONS and not any(v.reused_from for v in again.variants)
    assert {v.metrics["cache_hits"] for v in again.variants} == {0}


def test_cache_false_on_the_judge_always_calls_it(wb_settings: Settings, models: Models) -> None:
    verdicts = ScriptedModel(lambda _: '{"reason": "r", "verdict": 1}', model_id=SMOLLM2_ID, kind="chat")
    spec = make_spec(judge={"id": SMOLLM2_ID, "cache": False}, scorers=["token_f1", "context_precision"], chunkers=ONE_CHUNKER)
    with_judge = {**models.as_dict(), SMOLLM2_ID: verdicts}
    wb.run(spec, settings=wb_settings, models=with_judge, progress=False)  # type: ignore[arg-type]
    judged = len(verdicts.calls)
    again = wb.run(spec, settings=wb_settings, models=with_judge, progress=False)  # type: ignore[arg-type]
    assert judged > 0 and len(verdicts.calls) == 2 * judged  # every answer judged again, none reused from the first sweep
    assert not any(v.reused_from for v in again.variants) and {v.metrics["judge_calls"] for v in again.variants} == {judged / 2}
    assert models.calls == 2 * QUESTIONS  # the answers themselves still come from the cache


def test_a_judge_whose_reply_checking_changed_scores_again_from_its_cached_replies(wb_settings: Settings, models: Models, monkeypatch: pytest.MonkeyPatch) -> None:
    # a new workbench that reads judge replies differently (what JSON it accepts, which values are numbers) reused the
    # runs an older one had judged: one comparison mixed both versions' faithfulness
    import re

    from workbench.scoring import _judge

    verdicts = ScriptedModel(lambda _: '{"reason": "r", "verdict": 1}', model_id=SMOLLM2_ID, kind="chat")
    spec = make_spec([P1], judge={"id": SMOLLM2_ID}, scorers=["token_f1", "context_precision"])
    with_judge = {**models.as_dict(), SMOLLM2_ID: verdicts}
    wb.run(spec, settings=wb_settings, models=with_judge, progress=False)  # type: ignore[arg-type]
    judged = len(verdicts.calls)
    assert all(v.reused_from for v in wb.run(spec, settings=wb_settings, models=with_judge, progress=False).variants)  # type: ignore[arg-type]
    monkeypatch.setattr(_judge, "_NON_FINITE", re.compile(r"(?<![\w\"])-?(?:NaN|Infinity|inf)(?![\w\"])"))
    changed = wb.run(spec, settings=wb_settings, models=with_judge, progress=False)  # type: ignore[arg-type]
    assert not any(v.reused_from for v in changed.variants)
    assert len(verdicts.calls) == judged  # judged again from the cached replies


def test_judge_calls_that_failed_are_asked_again_by_the_next_sweep_and_only_they(wb_settings: Settings, models: Models) -> None:
    """A rate limit or a network error while judging left scores missing, and the run was reused as it was by every
    later sweep: running again never judged those answers."""
    asked: list[object] = []

    def rate_limited_at_first(prompt: object) -> str:
        asked.append(prompt)
        if len(asked) <= 3:
            raise RuntimeError("Error code: 429 - rate limit reached")
        return '{"reason": "r", "verdict": 1}'

    verdicts = ScriptedModel(rate_limited_at_first, model_id=SMOLLM2_ID, kind="chat")
    spec = make_spec(judge={"id": SMOLLM2_ID}, scorers=["token_f1", "context_precision"], execution={"isolation": "none"}, chunkers=ONE_CHUNKER)
    with_judge = {**models.as_dict(), SMOLLM2_ID: verdicts}
    first = wb.run(spec, settings=wb_settings, models=with_judge, progress=False)  # type: ignore[arg-type]
    assert sum(v.metrics["judge_call_errors"] for v in first.variants) == 3
    judged = len(asked)
    again = wb.run(spec, settings=wb_settings, models=with_judge, progress=False)  # type: ignore[arg-type]
    # only the failed calls are asked again (or read from the cache, when another variant judged the same answer since)
    assert len(asked) - judged <= 3 and sum(v.metrics["judge_call_errors"] for v in again.variants) == 0
    failed_before = {v.variant.id for v in first.variants if v.metrics["judge_call_errors"]}
    assert 0 < len(failed_before) < len(first.variants)  # some variants judged every answer at first
    assert {v.variant.id for v in again.variants if not v.reused_from} == failed_before  # the others were complete
    asked_again = len(asked)
    third = wb.run(spec, settings=wb_settings, models=with_judge, progress=False)  # type: ignore[arg-type]
    assert len(asked) == asked_again and all(v.reused_from for v in third.variants)
    assert models.calls == 2 * QUESTIONS


def test_a_finished_run_whose_artifacts_were_deleted_is_computed_again_from_the_cache(wb_settings: Settings, models: Models) -> None:
    cold = sweep(make_spec(), wb_settings, models)
    lost = cold.variants[0]
    client = mlflow_client(wb_settings.tracking_uri)
    shutil.rmtree(client.get_run(lost.run_id).info.artifact_uri.removeprefix("file://"))  # disk cleaned up by hand
    warm = sweep(make_spec(), wb_settings, models)
    by_id = {v.variant.id: v for v in warm.variants}
    again = by_id[lost.variant.id]
    assert again.reused_from is None and len(again.records) == QUESTIONS  # not metrics without questions
    assert again.metrics["generation_calls"] == 0 and again.metrics["cache_hits"] == QUESTIONS and models.calls == 4 * QUESTIONS
    assert sum(1 for v in warm.variants if v.reused_from) == 3
    report = wb.compare(warm)
    assert set(report.table["variant"]) == {v.variant.name for v in warm.variants}
    later = sweep(make_spec(), wb_settings, models)
    assert all(v.reused_from for v in later.variants) and models.calls == 4 * QUESTIONS  # the new run is reused from now on


@pytest.mark.parametrize("artifact", ["eval_results.json", "chunk_stats.json"])
def test_a_finished_run_whose_table_was_cut_short_is_computed_again_not_a_failed_sweep(
    wb_settings: Settings, models: Models, artifact: str
) -> None:
    spec = make_spec([P1], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    cold = sweep(spec, wb_settings, models)
    table = Path(mlflow_client(wb_settings.tracking_uri).get_run(cold.variants[0].run_id).info.artifact_uri.removeprefix("file://"))
    table /= artifact
    table.write_text(table.read_text(encoding="utf-8")[:100], encoding="utf-8")  # a full disk, a sync killed mid-copy
    if artifact == "eval_results.json":  # compare and gate ended in 'internal error: JSONDecodeError'
        with pytest.raises(wb.WorkbenchError, match=rf"^run {cold.variants[0].run_id}: its eval_results.json cannot be read "
                                                    r"\(JSONDecodeError: .*\) — it was cut short or overwritten .*: run its experiment again"):
            wb.compare(spec.name, tracking_uri=wb_settings.tracking_uri)
        with pytest.raises(wb.WorkbenchError, match=rf"^run {cold.variants[0].run_id}: its eval_results.json cannot be read "
                                                    r"\(JSONDecodeError: .*\) — it was cut short"):  # so did workbench calibrate
            wb.tracking.load_judge_scores(cold.variants[0].run_id or "", tracking_uri=wb_settings.tracking_uri)
    warm = sweep(spec, wb_settings, models)  # raised JSONDecodeError: every later sweep failed on the damaged run
    assert warm.status == "FINISHED" and warm.variants[0].reused_from is None and len(warm.variants[0].records) == QUESTIONS
    assert warm.variants[0].metrics["generation_calls"] == 0 and models.calls == QUESTIONS  # from the cache
    assert sweep(spec, wb_settings, models).variants[0].reused_from == warm.variants[0].run_id


def test_a_stopped_sweep_is_killed_and_running_it_again_finishes_without_repeating_a_question(
    wb_settings: Settings, models: Models, tmp_path: Path
) -> None:
    stop = threading.Event()

    def stop_mid_second_variant(event: wb.ProgressEvent) -> None:
        if event.kind == "question_done" and models.calls >= QUESTIONS + 1:
            stop.set()  # the worker stops after the question it is answering when it hears of it

    resumed = tmp_path / "resumed"
    models.generator = ScriptedModel(slowly(answer, until=resumed), model_id=GEMMA_ID, identity="scripted:incremental")
    in_workers = make_spec(execution={"isolation": "process"})  # the stop reaches a worker process between two answers
    first = sweep(in_workers, wb_settings, models, stop=stop, on_event=stop_mid_second_variant)
    client = mlflow_client(wb_settings.tracking_uri)
    assert client.get_run(first.parent_run_id).info.status == "KILLED"
    assert [v.status for v in first.variants] == ["FINISHED", "STOPPED"]
    answered = len(first.variants[1].records)
    assert 1 <= answered < QUESTIONS and not any(r.error for r in first.variants[1].records)
    assert models.calls == QUESTIONS + answered
    # every answer the model produced is in the cache (a repeat below is then the resumed sweep's, not a lost write)
    assert DiskCacheStore(wb_settings.cache_dir).info().entries["generation"] == models.calls
    resumed.touch()
    second = sweep(in_workers, wb_settings, models)
    asked = [prompt.text for prompt in models.generator.calls]
    # the stopped variant's answers came from the cache: no question twice (and the failure names the one that was)
    assert models.calls == 4 * QUESTIONS and len(set(asked)) == len(asked), [t[-200:] for t in set(asked) if asked.count(t) > 1]
    assert [v.status for v in second.variants] == ["FINISHED"] * 4
    stopped = next(v for v in second.variants if v.variant.id == first.variants[1].variant.id)
    assert stopped.reused_from is None and stopped.metrics["cache_hits"] == answered
    assert stopped.metrics["generation_calls"] == QUESTIONS - answered
    assert len(children(wb_settings, second)) == 4


def slowly(script, until: Path):  # type: ignore[no-untyped-def]
    """A script that takes a moment per answer, as a real model does (so a stop lands between two answers), until the
    file ``until`` exists: the sweep resuming a stopped one need not wait (its workers read the file, not a variable)."""

    def answer_slowly(prompt):  # type: ignore[no-untyped-def]
        if not until.exists():
            __import__("time").sleep(0.3)
        return script(prompt)

    return answer_slowly


class SlowWritingCache(DiskCacheStore):
    """A cache on a slow disk: its first write of ``slow`` (an answer, or a judge's reply) says when it starts (a file,
    holding the key), then takes ``hold_s``."""

    def __init__(self, directory: str | Path, started: Path, hold_s: float, slow: str = "generation") -> None:
        super().__init__(directory)
        self.started, self.hold_s, self.slow = started, hold_s, slow

    def put(self, kind, key, value):  # type: ignore[no-untyped-def]
        if kind == self.slow and not self.started.exists():
            self.started.write_text(key, encoding="utf-8")
            time.sleep(self.hold_s)
        super().put(kind, key, value)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (SlowWritingCache, (str(self.directory), self.started, self.hold_s, self.slow))


def ctrl_c_once(started: Path) -> threading.Thread:
    """A thread that presses Ctrl+C (SIGINT to this process) once ``started`` exists."""

    def press() -> None:
        deadline = time.monotonic() + 300
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), __import__("signal").SIGINT)

    pressing = threading.Thread(target=press, daemon=True)
    pressing.start()
    return pressing


@pytest.mark.parametrize("hosted", [False, True], ids=["one-question-at-a-time", "questions-at-once"])
def test_ctrl_c_while_a_worker_stores_an_answer_keeps_the_answer_and_the_resumed_sweep_does_not_ask_it_again(
    wb_settings: Settings, models: Models, tmp_path: Path, hosted: bool
) -> None:
    # Ctrl+C (or SIGTERM, a cancelled CI job) ends the worker processes at once: one that was storing an answer the
    # model had just produced died in the middle of the write, and the resumed sweep asked (paid for) that question
    # again; a hosted model's questions are answered at once, and stored from threads other than the main one
    from workbench.execution._process import KILL_GRACE_S

    started = tmp_path / "storing"
    cache = SlowWritingCache(wb_settings.cache_dir, started, hold_s=KILL_GRACE_S - 0.5)  # ended within the grace period
    execution: dict[str, object] = {"isolation": "process"}
    model: dict[str, object] = {"id": GEMMA_ID, "params": {"max_tokens": 16}}
    if hosted:
        models.generator = ScriptedModel(answer, model_id="ollama:scripted", kind="chat", identity="scripted:hosted")
        execution["concurrency"] = {"ollama": 2}
        model = {"id": "ollama:scripted", "params": {"max_tokens": 16}}
    spec = make_spec([P1], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], execution=execution, models=[model])

    pressing = ctrl_c_once(started)
    with pytest.raises(KeyboardInterrupt):
        sweep(spec, wb_settings, models, cache=cache)
    pressing.join()
    asked = models.calls
    assert asked == 1 or hosted
    assert DiskCacheStore(wb_settings.cache_dir).get("generation", started.read_text(encoding="utf-8")) is not None
    again = sweep(spec, wb_settings, models)
    assert again.variants[0].status == "FINISHED" and again.variants[0].metrics["cache_hits"] == asked
    assert models.calls == QUESTIONS  # the answers stored as the sweep was interrupted are not asked again


def test_ctrl_c_while_a_worker_stores_a_hosted_judges_reply_keeps_it_and_the_resumed_sweep_does_not_ask_it_again(
    wb_settings: Settings, models: Models, tmp_path: Path
) -> None:
    # a local model's answers judged by a hosted judge: its replies come several at once, from threads, and one being
    # stored as Ctrl+C (or SIGTERM) ended the worker was lost, so the resumed sweep asked (paid for) that reply again
    from workbench.execution._process import KILL_GRACE_S

    started = tmp_path / "storing"
    cache = SlowWritingCache(wb_settings.cache_dir, started, hold_s=KILL_GRACE_S - 0.5, slow="judge")
    verdicts = ScriptedModel(lambda _: '{"reason": "r", "verdict": 1}', model_id="ollama:judge", kind="chat", identity="scripted:judge")
    spec = make_spec([P1], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], judge={"id": "ollama:judge"},
                     scorers=["token_f1", "context_precision"], execution={"isolation": "process", "concurrency": {"ollama": 2}})
    with_judge = {**models.as_dict(), "ollama:judge": verdicts}
    pressing = ctrl_c_once(started)
    with pytest.raises(KeyboardInterrupt):
        wb.run(spec, settings=wb_settings, models=with_judge, progress=False, cache=cache)  # type: ignore[arg-type]
    pressing.join()
    assert DiskCacheStore(wb_settings.cache_dir).get("judge", started.read_text(encoding="utf-8")) is not None
    again = wb.run(spec, settings=wb_settings, models=with_judge, progress=False)  # type: ignore[arg-type]
    assert again.variants[0].status == "FINISHED" and models.calls == QUESTIONS
    asked = [prompt.text for prompt in verdicts.calls]
    assert len(asked) == len(set(asked))  # no reply the interrupted sweep stored was asked again


def answering_slowly_after_the_first(first: Path, started: Path, hold_s: float):  # type: ignore[no-untyped-def]
    """A script whose every answer after the first takes ``hold_s``; the second says when it starts (``started``).
    Once ``resumed(first)`` exists, it answers at once: the sweep resuming a stopped one need not wait."""

    def respond(prompt):  # type: ignore[no-untyped-def]
        if resumed(first).exists():
            pass
        elif first.exists():
            started.touch()
            __import__("time").sleep(hold_s)
        else:
            first.touch()
        return answer(prompt)

    return respond


def resumed(first: Path) -> Path:
    return first.with_name(f"{first.name}-resumed")


@pytest.mark.parametrize(("isolation", "signum"), [("process", "SIGINT"), ("process", "SIGTERM"), ("none", "SIGINT")])
def test_ctrl_c_or_sigterm_mid_answer_lets_the_call_finish_logs_its_answers_and_the_resumed_sweep_asks_nothing_twice(
    wb_settings: Settings, models: Models, tmp_path: Path, isolation: str, signum: str
) -> None:
    # Ctrl+C (or SIGTERM: a cancelled CI job) ended the worker processes at once: the answer the model was producing
    # (paid for) was lost and asked again by the resumed sweep, and the variant's run was logged without the answers
    # it had (they were in the cache only; with isolation: none too, though its threads finished their questions)
    import signal

    started = tmp_path / "second-call"
    models.generator = ScriptedModel(answering_slowly_after_the_first(tmp_path / "first-call", started, 1.0), model_id=GEMMA_ID,
                                     identity="scripted:incremental")
    spec = make_spec([P1], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], execution={"isolation": isolation})

    def press() -> None:
        while not started.exists():
            time.sleep(0.02)
        os.kill(os.getpid(), getattr(signal, signum))

    pressing = threading.Thread(target=press, daemon=True)
    pressing.start()
    with pytest.raises(KeyboardInterrupt):
        sweep(spec, wb_settings, models)
    pressing.join()
    assert models.calls == 2
    assert DiskCacheStore(wb_settings.cache_dir).info().entries["generation"] == 2  # the call in flight finished and was stored
    [killed] = mlflow_client(wb_settings.tracking_uri).search_runs(
        [mlflow_client(wb_settings.tracking_uri).get_experiment_by_name("incremental").experiment_id], "tags.`workbench.kind` = 'variant'")
    assert killed.data.metrics["questions"] == 2  # the stopped variant's run holds the answers it had
    resumed(tmp_path / "first-call").touch()
    again = sweep(spec, wb_settings, models)
    assert again.variants[0].status == "FINISHED" and again.variants[0].metrics["cache_hits"] == 2
    assert models.calls == QUESTIONS  # nothing asked twice


def test_a_second_ctrl_c_ends_the_workers_without_waiting_for_the_call_in_flight(wb_settings: Settings, models: Models, tmp_path: Path) -> None:
    import signal

    started = tmp_path / "second-call"
    models.generator = ScriptedModel(answering_slowly_after_the_first(tmp_path / "first-call", started, 3.0), model_id=GEMMA_ID,
                                     identity="scripted:incremental")
    spec = make_spec([P1], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], execution={"isolation": "process"})

    def press_twice() -> None:
        while not started.exists():
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.3)  # well within the model's 3 s answer
        os.kill(os.getpid(), signal.SIGINT)

    pressing = threading.Thread(target=press_twice, daemon=True)
    pressing.start()
    with pytest.raises(KeyboardInterrupt):
        sweep(spec, wb_settings, models)
    pressing.join()
    assert models.calls == 2 and DiskCacheStore(wb_settings.cache_dir).info().entries["generation"] == 1  # not waited for
    resumed(tmp_path / "first-call").touch()
    sweep(spec, wb_settings, models)
    assert models.calls == QUESTIONS + 1  # the call ended in flight is the only one asked again


def test_the_first_ctrl_c_says_at_once_that_the_calls_in_flight_are_being_finished(wb_settings: Settings, models: Models, tmp_path: Path) -> None:
    # after a Ctrl+C the sweep waited up to 5 s for the calls in flight with nothing said: users pressed again (losing
    # the answer being paid for) or thought it hung. It says so once, before the stopped variant is logged
    import signal

    started = tmp_path / "second-call"
    models.generator = ScriptedModel(answering_slowly_after_the_first(tmp_path / "first-call", started, 1.0), model_id=GEMMA_ID,
                                     identity="scripted:incremental")
    spec = make_spec([P1], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], execution={"isolation": "process"})
    events: list[wb.ProgressEvent] = []

    def press() -> None:
        while not started.exists():
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    pressing = threading.Thread(target=press, daemon=True)
    pressing.start()
    with pytest.raises(KeyboardInterrupt):
        sweep(spec, wb_settings, models, on_event=events.append)
    pressing.join()
    kinds = [e.kind for e in events]
    assert kinds.count("sweep_stopping") == 1
    assert kinds.index("sweep_stopping") < kinds.index("variant_done")  # said before the wait, not after it
    [stopping] = [e for e in events if e.kind == "sweep_stopping"]
    assert "Ctrl+C again" in stopping.message and "5 s" in stopping.message


def test_a_stop_says_once_that_the_sweep_is_stopping_as_a_ctrl_c_does(wb_settings: Settings, models: Models) -> None:
    # a Stop (the RunPanel's, a notebook's threading.Event) said nothing: on_progress consumers saw the stop only by
    # the sweep ending KILLED, where a Ctrl+C announced itself
    stop = threading.Event()
    events: list[wb.ProgressEvent] = []

    def stop_at_the_first_answer(event: wb.ProgressEvent) -> None:
        events.append(event)
        if event.kind == "question_done":
            stop.set()

    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    stopped = sweep(spec, wb_settings, models, stop=stop, on_event=stop_at_the_first_answer)
    assert stopped.status == "KILLED"
    kinds = [e.kind for e in events]
    assert kinds.count("sweep_stopping") == 1 and kinds.index("sweep_stopping") < kinds.index("variant_done")
    [stopping] = [e for e in events if e.kind == "sweep_stopping"]
    assert stopping.message.startswith("stopping: finishing the calls in flight") and "Ctrl+C" not in stopping.message


def p3_slow_after_its_first(models: Models, tmp_path: Path, hold_s: float) -> Path:
    """p3's variant answers slowly (``hold_s``) after its first answer; the file returned says its second call started."""
    started = tmp_path / "second-call"
    slowly = answering_slowly_after_the_first(tmp_path / "first-call", started, hold_s)
    models.generator = ScriptedModel(lambda prompt: slowly(prompt) if prompt.text.startswith("Answer from the context.") else answer(prompt),
                                     model_id=GEMMA_ID, identity="scripted:incremental")
    return started


def p1_and_p3_in_workers() -> ExperimentSpec:
    return make_spec([P1, P3], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], execution={"isolation": "process", "workers": 2})


def test_a_ctrl_c_while_a_result_is_logged_lets_the_other_variants_finish_their_calls_in_flight(
    wb_settings: Settings, models: Models, tmp_path: Path
) -> None:
    # a Ctrl+C that landed while the runner logged one variant (not while it waited for the workers) ended the other
    # workers at once: their answers in flight were lost and their runs logged nothing of what they had answered
    import signal

    started = p3_slow_after_its_first(models, tmp_path, hold_s=1.0)

    class InterruptedWhileLogging(MlflowTracker):
        pressed = False

        def log_variant(self, sweep, result, dataset, **options):  # type: ignore[no-untyped-def]
            if not self.pressed:
                self.pressed = True
                while not started.exists():  # p3's variant has an answer and a call in flight
                    time.sleep(0.02)
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(2.0)  # the Ctrl+C lands here
            return super().log_variant(sweep, result, dataset, **options)

    with pytest.raises(KeyboardInterrupt):
        sweep(p1_and_p3_in_workers(), wb_settings, models, tracker=InterruptedWhileLogging(wb_settings.tracking_uri))
    client = mlflow_client(wb_settings.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("incremental").experiment_id], "tags.`workbench.kind` = 'variant'")
    [slow] = [r for r in runs if "p3" in r.info.run_name]
    assert slow.data.metrics["questions"] == 2  # the answer it had and the one in flight are logged
    assert DiskCacheStore(wb_settings.cache_dir).info().entries["generation"] == QUESTIONS + 2


def test_ctrl_c_twice_while_a_result_is_logged_ends_the_other_variants_workers_without_waiting(
    wb_settings: Settings, models: Models, tmp_path: Path
) -> None:
    # the second Ctrl+C is the user's "stop now": the other variants' workers are not waited for
    import signal

    started = p3_slow_after_its_first(models, tmp_path, hold_s=3.0)

    class InterruptedTwiceWhileLogging(MlflowTracker):
        def log_variant(self, sweep, result, dataset, **options):  # type: ignore[no-untyped-def]
            while not started.exists():  # p3's variant has an answer and a call in flight
                time.sleep(0.02)
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
            return super().log_variant(sweep, result, dataset, **options)

    with pytest.raises(KeyboardInterrupt):
        sweep(p1_and_p3_in_workers(), wb_settings, models, tracker=InterruptedTwiceWhileLogging(wb_settings.tracking_uri))
    assert DiskCacheStore(wb_settings.cache_dir).info().entries["generation"] == QUESTIONS + 1  # p3's call in flight given up


def interrupted_while_logging(presses: int):  # type: ignore[no-untyped-def]
    """An ``on_event`` pressing Ctrl+C ``presses`` times in the middle of the first variant's logging: as its traces are
    stored, before they are linked to its run and the run is ended."""
    import signal

    def on_event(event: wb.ProgressEvent) -> None:
        on_event.kinds.append(event.kind)  # type: ignore[attr-defined]
        if event.kind == "question_logged" and on_event.kinds.count("question_logged") == 1:  # type: ignore[attr-defined]
            for _ in range(presses):
                signal.raise_signal(signal.SIGINT)

    on_event.kinds = []  # type: ignore[attr-defined]
    return on_event


def test_a_ctrl_c_while_a_finished_variant_is_logged_waits_for_its_run_to_be_complete_then_stops(
    wb_settings: Settings, models: Models
) -> None:
    # the variant being logged as Ctrl+C landed was cut in two: its run ended KILLED without its traces linked, its
    # dataset or the list of its traces, and the next sweep computed it again
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])  # two variants, one after the other
    pressing = interrupted_while_logging(presses=1)
    with pytest.raises(KeyboardInterrupt):
        sweep(spec, wb_settings, models, on_event=pressing)
    assert pressing.kinds.count("sweep_stopping") == 1  # type: ignore[attr-defined]
    client = mlflow_client(wb_settings.tracking_uri)
    experiment_id = client.get_experiment_by_name("incremental").experiment_id
    [parent] = client.search_runs([experiment_id], "tags.`workbench.kind` = 'sweep'")
    assert (parent.info.status, parent.data.tags["workbench.end_reason"]) == ("KILLED", "interrupted (KeyboardInterrupt)")
    [logged] = client.search_runs([experiment_id], "tags.`workbench.kind` = 'variant'")  # the second never started
    assert logged.info.status == "FINISHED" and logged.data.metrics["questions"] == QUESTIONS
    assert len(client.search_traces(locations=[experiment_id], run_id=logged.info.run_id)) == QUESTIONS
    again = sweep(spec, wb_settings, models)
    assert [v.reused_from for v in again.variants] == [logged.info.run_id, None]  # whole: reused, not computed again


def test_a_second_ctrl_c_while_a_variant_is_logged_stops_at_once_and_ends_its_run_killed(wb_settings: Settings, models: Models) -> None:
    # logging that hangs (a tracking server that does not answer) can still be stopped; the run is not left RUNNING
    spec = make_spec([P1], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    with pytest.raises(KeyboardInterrupt):
        sweep(spec, wb_settings, models, on_event=interrupted_while_logging(presses=2))
    client = mlflow_client(wb_settings.tracking_uri)
    experiment_id = client.get_experiment_by_name("incremental").experiment_id
    statuses = {r.data.tags["workbench.kind"]: r.info.status for r in client.search_runs([experiment_id])}
    assert statuses == {"sweep": "KILLED", "variant": "KILLED"}
    assert sweep(spec, wb_settings, models).variants[0].reused_from is None  # a run cut short is computed again


def test_a_crash_inside_the_runner_fails_the_sweep_with_the_error(wb_settings: Settings, models: Models) -> None:
    class Exploding(MlflowTracker):
        def log_variant(self, sweep, result, dataset, *, reuse_key=None, models=None, on_logged=None):  # type: ignore[no-untyped-def]
            raise OSError("disk full while logging")

    tracker = Exploding(wb_settings.tracking_uri)
    with pytest.raises(OSError, match="disk full"):
        sweep(make_spec(), wb_settings, models, tracker=tracker)
    client = mlflow_client(wb_settings.tracking_uri)
    experiment = client.get_experiment_by_name("incremental")
    (parent,) = client.search_runs([experiment.experiment_id], "tags.`workbench.kind` = 'sweep'")
    assert parent.info.status == "FAILED"
    assert parent.data.tags["workbench.end_reason"] == "OSError: disk full while logging"
    assert parent.data.tags["mlflow.note.content"] == "FAILED: OSError: disk full while logging"  # the run page's description


def test_sweeps_left_running_by_a_dead_process_are_ended_killed(wb_settings: Settings, models: Models) -> None:
    client = mlflow_client(wb_settings.tracking_uri)
    done = sweep(make_spec(), wb_settings, models)
    here = socket.gethostname()

    def orphan(host: str, pid: int, **more: str) -> str:
        tags = {"workbench.kind": "sweep", "workbench.host": host, "workbench.pid": str(pid), **more}
        return str(client.create_run(done.experiment_id, tags=tags).info.run_id)

    dead = orphan(here, 2**22 + 12345)  # above pid_max: no such process
    alive = orphan(here, os.getpid())
    elsewhere = orphan("another-machine", 1)
    namespace = os.readlink("/proc/self/ns/pid")
    dead_here = orphan(here, 2**22 + 12346, **{"workbench.pid_ns": namespace})
    # another container sharing this machine's host name (Docker's --network host): its pids are not this one's
    in_a_container = orphan(here, 2**22 + 12347, **{"workbench.pid_ns": "pid:[4026532999]"})
    sweep(make_spec(), wb_settings, models)
    assert client.get_run(dead).info.status == "KILLED"
    assert client.get_run(dead_here).info.status == "KILLED"
    assert client.get_run(in_a_container).info.status == "RUNNING"  # cannot be decided from here
    assert "ended without closing the sweep" in client.get_run(dead).data.tags["workbench.end_reason"]
    assert client.get_run(dead).data.tags["mlflow.note.content"] == f"KILLED: {client.get_run(dead).data.tags['workbench.end_reason']}"
    assert client.get_run(alive).info.status == "RUNNING"  # its process lives: never touched
    assert client.get_run(elsewhere).info.status == "RUNNING"  # cannot be decided from here


def test_a_sweep_another_machine_left_running_is_ended_by_hand_with_its_variant_runs(
    wb_settings: Settings, models: Models, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CI runner removed mid-sweep left it RUNNING for good: no later sweep may decide that another machine's process
    is gone, and MLflow has no way to end a run. ``workbench end RUN_ID --reason`` does, never a sweep alive here."""
    from workbench.cli import main

    client = mlflow_client(wb_settings.tracking_uri)
    done = sweep(make_spec(), wb_settings, models)
    stale = str(client.create_run(done.experiment_id, tags={"workbench.kind": "sweep", "workbench.host": "ci-runner-7",
                                                             "workbench.pid": "41"}).info.run_id)
    variant = str(client.create_run(done.experiment_id, tags={"workbench.kind": "variant", "mlflow.parentRunId": stale}).info.run_id)
    live = str(client.create_run(done.experiment_id, tags={"workbench.kind": "sweep", "workbench.host": socket.gethostname(),
                                                            "workbench.pid": str(os.getpid())}).info.run_id)
    monkeypatch.setenv("WORKBENCH_USER", "lead")
    uri = ["--tracking-uri", wb_settings.tracking_uri]
    assert main([*uri, "end", stale, "--reason", "CI runner removed"]) == 0
    assert capsys.readouterr().out == (f"ended sweep {stale} KILLED and 1 variant run(s) it left running: CI runner removed — run "
                                       "the experiment again to finish its work\n")
    assert client.get_run(stale).info.status == client.get_run(variant).info.status == "KILLED"
    assert client.get_run(stale).data.tags["workbench.end_reason"] == "ended by hand by lead: CI runner removed"
    assert client.get_run(variant).data.tags["workbench.end_reason"] == f"its sweep {stale} was ended by hand by lead: CI runner removed"
    refused = {
        live: f"sweep {live} is running: its process (pid {os.getpid()}) is alive on this machine — stop it (Ctrl+C where it runs, "
              f"or kill {os.getpid()}), and it ends itself",
        stale: f"sweep {stale} is not running: it ended KILLED — nothing to end",
        done.variants[0].run_id: f"run {done.variants[0].run_id} ('{done.variants[0].variant.name}') is not a sweep",
        "nosuch": "no run 'nosuch' in ",
    }
    for run_id, expected in refused.items():
        assert main([*uri, "end", str(run_id), "--reason", "x"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {expected}") and err.count("\n") == 1, err
    assert client.get_run(live).info.status == "RUNNING"


def running_run(client: MlflowClient, experiment_id: str, kind: str, **tags: str) -> str:
    """A RUNNING run of ``kind`` (sweep, variant) with ``tags``, as a sweep's process leaves it: its id."""
    return str(client.create_run(experiment_id, tags={"workbench.kind": kind, **tags}).info.run_id)


def test_variant_runs_of_a_killed_sweep_deleted_in_the_ui_are_ended_killed(wb_settings: Settings, models: Models) -> None:
    # the sweep was killed, then its parent run deleted in the MLflow UI while still RUNNING: the next sweep searches
    # only runs not deleted, so the parent stayed RUNNING, and its variant runs, read as under a running sweep, too
    client = mlflow_client(wb_settings.tracking_uri)
    done = sweep(make_spec(), wb_settings, models)
    here = socket.gethostname()
    running = functools.partial(running_run, client, done.experiment_id)
    killed = running("sweep", **{"workbench.host": here, "workbench.pid": str(2**22 + 12345)})  # above pid_max: no such process
    orphaned = running("variant", **{"mlflow.parentRunId": killed})
    live = running("sweep", **{"workbench.host": here, "workbench.pid": str(os.getpid())})
    logging = running("variant", **{"mlflow.parentRunId": live})
    client.delete_run(killed)
    client.delete_run(live)  # deleted while its (live) process still logs: left alone
    sweep(make_spec(), wb_settings, models)
    assert client.get_run(orphaned).info.status == "KILLED"
    assert f"its sweep {killed} ended while this run was being logged" in client.get_run(orphaned).data.tags["workbench.end_reason"]
    assert client.get_run(logging).info.status == "RUNNING"


class EndsAfterTheSearch:
    """A tracking client on which the runs of another sweep end (and its process exits) right after each search for
    RUNNING runs of a kind: ``ending`` maps ``'sweep'`` / ``'variant'`` to the run ids ended then, in that order."""

    def __init__(self, client: object, ending: dict[str, list[str]]) -> None:
        self._client, self._ending = client, ending

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)

    def search_runs(self, *args: object, **kwargs: object) -> object:
        found = self._client.search_runs(*args, **kwargs)  # type: ignore[attr-defined]
        for kind, runs in self._ending.items():
            if f"'{kind}'" in str(args[1] if len(args) > 1 else kwargs.get("filter_string", "")):
                for run_id in runs:
                    self._client.set_terminated(run_id, status="FINISHED")  # type: ignore[attr-defined]
        return found


def test_a_sweep_that_ends_as_abandoned_runs_are_searched_is_not_ended_killed(wb_settings: Settings, models: Models) -> None:
    # the next sweep ended as KILLED the runs it had read RUNNING: a teammate's sweep that finished (and whose process
    # exited) a moment after that read was marked KILLED over FINISHED, and so was a variant run logged in full meanwhile
    client = mlflow_client(wb_settings.tracking_uri)
    done = sweep(make_spec(), wb_settings, models)
    here = socket.gethostname()
    running = functools.partial(running_run, client, done.experiment_id)
    finishing = running("sweep", **{"workbench.host": here, "workbench.pid": str(2**22 + 12345)})  # exits once finished
    live = running("sweep", **{"workbench.host": here, "workbench.pid": str(os.getpid())})
    logged = running("variant", **{"mlflow.parentRunId": live})
    tracker = MlflowTracker(wb_settings.tracking_uri)
    tracker.client = EndsAfterTheSearch(tracker.client, {"sweep": [finishing], "variant": [logged, live]})
    assert tracker.close_abandoned(make_spec()) == []
    assert [client.get_run(r).info.status for r in (finishing, logged, live)] == ["FINISHED"] * 3


class OneRunAPage:
    """A tracking client whose run searches return one run a page, as a store holding more than a page (1,000 runs)
    returns the rest after the first."""

    def __init__(self, client: object) -> None:
        self._client = client

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)

    def search_runs(self, *args: object, **kwargs: object) -> object:
        return self._client.search_runs(*args, **{**kwargs, "max_results": 1})  # type: ignore[attr-defined]


def test_abandoned_runs_past_the_first_page_of_the_search_are_ended(wb_settings: Settings, models: Models) -> None:
    # the abandoned sweeps and orphaned variant runs were read with one search: past its first page (1,000 runs) they
    # stayed RUNNING forever
    client = mlflow_client(wb_settings.tracking_uri)
    done = sweep(make_spec(), wb_settings, models)
    running = functools.partial(running_run, client, done.experiment_id)
    dead = {"workbench.host": socket.gethostname(), "workbench.pid": str(2**22 + 12345)}  # above pid_max: no such process
    killed = [running("sweep", **dead) for _ in range(3)]
    orphaned = [running("variant", **{"mlflow.parentRunId": killed[0]}) for _ in range(3)]
    tracker = MlflowTracker(wb_settings.tracking_uri)
    tracker.client = OneRunAPage(tracker.client)
    assert sorted(tracker.close_abandoned(make_spec())) == sorted(killed + orphaned)
    assert {client.get_run(r).info.status for r in killed + orphaned} == {"KILLED"}


def parent_files(cfg: Settings, run_id: str) -> dict[str, bytes]:
    """The comparison files and plots logged on a sweep's parent run, by artifact path."""
    client = mlflow_client(cfg.tracking_uri)
    paths = [f.path for f in client.list_artifacts(run_id) if f.path.startswith("comparison.")]
    paths += [f.path for f in client.list_artifacts(run_id, "plots")]
    return {p: Path(client.download_artifacts(run_id, p)).read_bytes() for p in paths}


def test_a_sweep_reusing_every_variant_copies_the_earlier_comparison_and_plots(
    wb_settings: Settings, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a warm re-run computed the comparison of runs it had not changed (a bootstrap of every metric of every variant:
    # minutes over thousands of questions) and drew its plots again (~0.6 s)
    import workbench.runner._sweep as runner

    monkeypatch.setenv("WORKBENCH_PLOTS", "1")
    computed: list[int] = []
    real = runner.sweep_comparison
    monkeypatch.setattr(runner, "sweep_comparison", lambda results, seed: computed.append(seed) or real(results, seed=seed))
    cold = sweep(make_spec(), wb_settings, models)
    warm = sweep(make_spec(), wb_settings, models)
    assert computed == [0] and all(v.reused_from for v in warm.variants)
    before, after = parent_files(wb_settings, cold.parent_run_id), parent_files(wb_settings, warm.parent_run_id)
    assert sorted(after) == sorted(before) and {"comparison.json", "comparison.txt"} < set(after) and len(after) >= 3
    assert {p: b for p, b in after.items() if p.startswith("plots/")} == {p: b for p, b in before.items() if p.startswith("plots/")}
    # the same comparison as computing it, naming the warm sweep's runs
    # (the cold sweep's numbers: a comparison computed from the logged tables reads scores rounded to 10 decimals)
    copied, computed_now = json.loads(after["comparison.json"]), real(list(warm.variants), seed=0).to_dict()
    assert copied.keys() == computed_now.keys() and len(copied["rows"]) == len(computed_now["rows"])
    for got, want in zip(copied["rows"], computed_now["rows"]):
        assert got == {k: pytest.approx(v, abs=1e-9) if isinstance(v, float) else v for k, v in want.items()}
    assert {row["run_id"] for row in copied["rows"]} == {v.run_id for v in warm.variants}
    assert after["comparison.txt"].decode() == real(list(warm.variants), seed=0).summary() == before["comparison.txt"].decode()
    client = mlflow_client(wb_settings.tracking_uri)
    keys = [client.get_run(r.parent_run_id).data.tags.get("workbench.comparison_key") for r in (cold, warm)]
    assert keys[0] and keys[0] == keys[1]
    sweep(make_spec(seed=7), wb_settings, models)  # another seed: other intervals, computed
    sweep(make_spec([P1]), wb_settings, models)  # other variants (all reused): computed
    assert computed == [0, 7, 0]


def test_question_embeddings_are_cached_across_sweeps(wb_settings: Settings, models: Models) -> None:
    sweep(make_spec(), wb_settings, models)
    store = DiskCacheStore(wb_settings.cache_dir)
    entries = store.info().entries
    assert entries["generation"] == 4 * QUESTIONS and entries["embedding"] >= QUESTIONS


class SlowModel(ScriptedModel):
    """A scripted model that takes 50 ms per answer and reports it, as a real model reports its latency."""

    def generate(self, prompt, params, *, deadline=None, json_schema=None):  # type: ignore[no-untyped-def]
        time.sleep(0.05)
        return replace(super().generate(prompt, params, deadline=deadline, json_schema=json_schema), latency_s=0.05)


def test_answers_from_the_cache_keep_the_latency_of_the_calls_that_computed_them(wb_settings: Settings, tmp_path: Path) -> None:
    slow = {GEMMA_ID: SlowModel(answer, model_id=GEMMA_ID, identity="scripted:slow"), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec([P1], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    cold = wb.run(spec, settings=wb_settings, models=slow, progress=False)  # type: ignore[arg-type]
    other_store = replace(wb_settings, tracking_uri=f"sqlite:///{tmp_path / 'other' / 'mlflow.db'}")  # nothing to reuse there
    again = wb.run(spec, settings=other_store, models=slow, progress=False)  # type: ignore[arg-type]
    before = {v.variant.id: v.metrics for v in cold.variants}
    for v in again.variants:
        assert not v.reused_from and v.metrics["generation_calls"] == 0 and v.metrics["cache_hits"] == QUESTIONS
        assert v.metrics["latency_p50_s"] >= 0.05  # not the cache read's few milliseconds
        assert v.metrics["latency_p50_s"] == pytest.approx(before[v.variant.id]["latency_p50_s"], abs=0.03)


class RetriedModel(ScriptedModel):
    """A scripted model whose every answer came after two retries (a rate-limited provider)."""

    def generate(self, prompt, params, *, deadline=None, json_schema=None):  # type: ignore[no-untyped-def]
        return replace(super().generate(prompt, params, deadline=deadline, json_schema=json_schema), retries=2)


def test_a_reused_run_made_no_retries_now_as_one_computed_from_the_cache(wb_settings: Settings, tmp_path: Path) -> None:
    retried = {GEMMA_ID: RetriedModel(answer, model_id=GEMMA_ID, identity="scripted:retried"), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec([P1], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    cold = wb.run(spec, settings=wb_settings, models=retried, progress=False)  # type: ignore[arg-type]
    assert cold.variants[0].metrics["retries"] == 2 * QUESTIONS
    other_store = replace(wb_settings, tracking_uri=f"sqlite:///{tmp_path / 'other' / 'mlflow.db'}")
    from_cache = wb.run(spec, settings=other_store, models=retried, progress=False)  # type: ignore[arg-type]
    reused = wb.run(spec, settings=wb_settings, models=retried, progress=False)  # type: ignore[arg-type]
    assert not from_cache.variants[0].reused_from and reused.variants[0].reused_from
    assert from_cache.variants[0].metrics["retries"] == reused.variants[0].metrics["retries"] == 0
    logged = children(wb_settings, reused)[0].data.metrics
    assert logged["retries"] == 0 and logged["generation_calls"] == 0


def test_a_custom_scorer_fixed_after_a_sweep_scores_it_again_from_the_cached_answers(wb_settings: Settings, models: Models) -> None:
    @wb.scorer("test_answer_chars", default=False)
    def buggy(env):  # type: ignore[no-untyped-def]
        return lambda ctx: wb.Score(0.0)

    spec = make_spec([P1], scorers=["token_f1", "test_answer_chars"])
    first = sweep(spec, wb_settings, models)
    assert {v.metrics["test_answer_chars"] for v in first.variants} == {0.0}
    calls = models.calls

    @wb.scorer("test_answer_chars", default=False)
    def fixed(env):  # type: ignore[no-untyped-def]  # the notebook cell, edited and run again
        return lambda ctx: wb.Score(float(len(ctx.answer)))

    second = sweep(spec, wb_settings, models)
    assert models.calls == calls and not any(v.reused_from for v in second.variants)  # scored again, no answer again
    for v in second.variants:
        chars = sum(len(r.answer) for r in v.records) / len(v.records)
        assert chars > 0 and v.metrics["test_answer_chars"] == pytest.approx(chars)
    third = sweep(spec, wb_settings, models)  # the same code again: reused
    assert all(v.reused_from for v in third.variants)


def test_a_custom_scorer_whose_helper_or_constant_is_edited_scores_again(wb_settings: Settings, models: Models) -> None:
    weight = 0.0

    def chars(ctx):  # type: ignore[no-untyped-def]  # a helper in its own notebook cell
        return wb.Score(weight * len(ctx.answer))

    @wb.scorer("test_helper_chars", default=False)
    def factory(env):  # type: ignore[no-untyped-def]  # never edited: the helper and the constant are
        return chars

    spec = make_spec([P1], scorers=["token_f1", "test_helper_chars"])
    assert {v.metrics["test_helper_chars"] for v in sweep(spec, wb_settings, models).variants} == {0.0}
    weight = 1.0  # the constant's cell, edited and run again
    second = sweep(spec, wb_settings, models)
    assert not any(v.reused_from for v in second.variants) and min(v.metrics["test_helper_chars"] for v in second.variants) > 0

    def chars(ctx):  # type: ignore[no-redef,no-untyped-def]  # noqa: F811 - the helper's cell, edited and run again
        return wb.Score(-1.0)

    third = sweep(spec, wb_settings, models)
    assert not any(v.reused_from for v in third.variants) and {v.metrics["test_helper_chars"] for v in third.variants} == {-1.0}
    assert all(v.reused_from for v in sweep(spec, wb_settings, models).variants)  # nothing edited: reused


def test_a_built_in_scorer_whose_rules_changed_scores_again(wb_settings: Settings, models: Models, monkeypatch: pytest.MonkeyPatch) -> None:
    # a new workbench that reads answers differently (refusal phrases, number rules) reused the runs an older one had
    # scored: one comparison mixed both versions' token_f1. Here a normalisation constant stands for such a change.
    import re

    from workbench.scoring import _deterministic

    spec = make_spec([P1], scorers=["token_f1"])
    first = sweep(spec, wb_settings, models)
    assert all(v.reused_from for v in sweep(spec, wb_settings, models).variants)
    monkeypatch.setattr(_deterministic, "_ARTICLES", re.compile(r"\b(a|an|the|of)\b"))
    changed = sweep(spec, wb_settings, models)
    assert not any(v.reused_from for v in changed.variants)
    assert sum(v.metrics["generation_calls"] for v in changed.variants) == 0  # scored again from the cached answers
    assert [v.variant.id for v in changed.variants] == [v.variant.id for v in first.variants]


def test_a_built_in_scorer_whose_helper_in_another_module_changed_scores_again(
    wb_settings: Settings, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the refusal scorers read answers through workbench.metrics.is_refusal, the judge scorers through _judge's reply
    # parsing: a new workbench that changed only such a helper of another module reused the runs the older one scored
    import re

    from workbench import metrics

    spec = make_spec([P1], scorers=["token_f1", "false_refusal"])
    sweep(spec, wb_settings, models)
    assert all(v.reused_from for v in sweep(spec, wb_settings, models).variants)
    monkeypatch.setattr(metrics, "_REFUSAL_PATTERNS", re.compile(r"\bno idea\b"))
    changed = sweep(spec, wb_settings, models)
    assert not any(v.reused_from for v in changed.variants)
    assert sum(v.metrics["generation_calls"] for v in changed.variants) == 0  # scored again from the cached answers


def test_a_run_made_before_the_chunkers_cut_text_differently_is_computed_again(
    wb_settings: Settings, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a new workbench whose chunkers cut text into other chunks (a raised CHUNKING_REVISION) builds a new index, but
    # reused the runs the older one had made: their retrieval scores and answers came from the old chunks
    from workbench import grid

    spec = make_spec([P1])
    first = sweep(spec, wb_settings, models)
    assert all(v.reused_from for v in sweep(spec, wb_settings, models).variants)
    monkeypatch.setattr(grid, "CHUNKING_REVISION", grid.CHUNKING_REVISION + 1)
    upgraded = sweep(spec, wb_settings, models)
    assert not any(v.reused_from for v in upgraded.variants)
    assert [v.variant.id for v in upgraded.variants] == [v.variant.id for v in first.variants]
    assert all(v.reused_from for v in sweep(spec, wb_settings, models).variants)  # nothing changed since: reused


def test_a_run_reused_from_a_run_deleted_since_is_computed_again_with_its_scores_on_its_traces(
    wb_settings: Settings, models: Models
) -> None:
    """A lead who deleted an old sweep's runs in the MLflow UI deleted their traces' scores with them (MLflow removes a
    run's assessments): a later copy of such a run linked traces with no scores and named a deleted run as its origin."""
    spec = make_spec([P1], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    cold = sweep(spec, wb_settings, models)
    warm = sweep(spec, wb_settings, models)
    client = mlflow_client(wb_settings.tracking_uri)
    client.delete_run(cold.variants[0].run_id)  # the first sweep's runs, cleaned up in the UI
    client.delete_run(cold.parent_run_id)
    third = sweep(spec, wb_settings, models)
    again = third.variants[0]
    assert again.reused_from is None and len(again.records) == QUESTIONS
    assert again.metrics["cache_hits"] == QUESTIONS and models.calls == QUESTIONS  # computed again from the cache
    traces = client.search_traces(locations=[third.experiment_id], run_id=again.run_id)
    assert len(traces) == QUESTIONS
    assert all({a.name for a in t.info.assessments} >= {"token_f1", "hit_at_k"} for t in traces)
    assert sweep(spec, wb_settings, models).variants[0].reused_from == again.run_id
    assert warm.variants[0].reused_from == cold.variants[0].run_id


@pytest.mark.parametrize("restored", ["run", "experiment"])
def test_a_run_deleted_and_restored_is_computed_again_with_its_scores_on_its_traces(
    wb_settings: Settings, models: Models, restored: str
) -> None:
    """MLflow deletes the scores on a run's traces when the run is deleted (alone in the UI, or with its experiment) and
    does not bring them back when it is restored (by hand, or by the next sweep of a deleted experiment): the run was
    reused, and the new sweep's variant linked traces without a single score."""
    spec = make_spec([P1], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    cold = sweep(spec, wb_settings, models)
    client = mlflow_client(wb_settings.tracking_uri)
    if restored == "run":
        client.delete_run(cold.variants[0].run_id)
        client.restore_run(cold.variants[0].run_id)
    else:
        client.delete_experiment(cold.experiment_id)  # the next sweep restores it, with its runs
    again = sweep(spec, wb_settings, models).variants[0]
    assert again.reused_from is None and again.metrics["cache_hits"] == QUESTIONS  # computed again from the cache
    traces = client.search_traces(locations=[cold.experiment_id], run_id=again.run_id)
    assert len(traces) == QUESTIONS and all({a.name for a in t.info.assessments} >= {"token_f1", "hit_at_k"} for t in traces)
    assert sweep(spec, wb_settings, models).variants[0].reused_from == again.run_id


def test_two_clones_of_a_project_reuse_each_others_runs_of_a_gguf_model(wb_settings: Settings, tmp_path: Path) -> None:
    """A ``llamacpp:`` model (and judge) is written relative to the experiment file, which makes it absolute: the
    variant id and reuse key held /home/alice/project/models/m.gguf, so bob's clone of the project, run against the
    same tracking server, never reused alice's finished runs of the same file."""
    text = f"""\
name: clones
dataset: {{path: {ROOT / 'datasets' / 'python_docs.jsonl'}, limit: 2}}
corpus: {{builtin: python-reference}}
prompts: [{{name: p1, template: "Context: {{context}}\\nQuestion: {{question}}\\nAnswer:"}}]
models: [{{id: llamacpp:models/m.gguf, params: {{max_tokens: 16}}}}]
chunkers: [{{strategy: recursive, size: 800, overlap: 80}}]
judge: {{id: llamacpp:models/judge.gguf, kind: chat}}
scorers: [token_f1, context_precision]
execution: {{isolation: none}}
"""
    results, calls = [], []
    for clone in (tmp_path / "alice" / "project", tmp_path / "bob" / "project"):
        clone.mkdir(parents=True)
        (clone / "exp.yaml").write_text(text, encoding="utf-8")
        spec = wb.load_experiment(clone / "exp.yaml")
        # the same GGUF files in both clones: the same identities (their sha256)
        generator = ScriptedModel(answer, model_id=f"llamacpp:{clone / 'models' / 'm.gguf'}", identity="gguf:m")
        judge = ScriptedModel(lambda _: '{"reason": "r", "verdict": 1}', model_id=f"llamacpp:{clone / 'models' / 'judge.gguf'}",
                              kind="chat", identity="gguf:judge")
        models = {generator.model_id: generator, judge.model_id: judge, MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
        results.append(wb.run(spec, settings=wb_settings, models=models, progress=False))  # type: ignore[arg-type]
        calls.append(len(generator.calls) + len(judge.calls))
    alice, bob = results
    assert [v.status for v in alice.variants + bob.variants] == ["FINISHED"] * 2
    assert bob.variants[0].variant.id == alice.variants[0].variant.id
    assert bob.variants[0].reused_from == alice.variants[0].run_id and calls[0] > 0 and calls[1] == 0
    # another file is another variant, and a model given by its absolute path keeps the id it had
    other = wb.load_experiment(_written(tmp_path / "bob" / "project" / "other.yaml", text.replace("models/m.gguf", "models/m2.gguf")))
    assert expand_grid(other)[0].id != alice.variants[0].variant.id
    absolute = text.replace("llamacpp:models/m.gguf", f"llamacpp:{tmp_path / 'alice' / 'project' / 'models' / 'm.gguf'}")
    spec = wb.load_experiment(_written(tmp_path / "abs.yaml", absolute))
    assert expand_grid(spec)[0].id == Variant(*_axes(expand_grid(spec)[0])).id


def _written(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _axes(v: Variant) -> tuple:  # type: ignore[type-arg]
    return (v.prompt, v.model, v.chunker, v.retrieval)


def test_the_reuse_check_reads_no_more_runs_after_a_long_history_than_after_a_short_one(wb_settings: Settings, models: Models) -> None:
    """The reuse check listed every run ever computed on the same dataset and corpus, each read whole (8 ms a run
    through a tracking server): after 100 sweeps of a 40-variant grid whose prompts changed, 4,000 runs read to reuse
    40. It reads the newest runs, twice as many as the grid has keys, and looks each key not among them up by itself."""
    spec = make_spec([P1], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    cold = sweep(spec, wb_settings, models)
    client = mlflow_client(wb_settings.tracking_uri)
    kept = client.get_run(cold.variants[0].run_id or "").data.tags
    same_data = {tag: kept[tag] for tag in ("workbench.dataset_hash", "workbench.corpus_hash", "workbench.status")}
    made = 0

    def history(runs: int) -> None:  # runs of other configurations computed on the same data since
        nonlocal made
        for _ in range(runs):
            made += 1
            run = client.create_run(cold.experiment_id, tags={**same_data, "workbench.reuse_key": f"other-{made}"})
            client.set_terminated(run.info.run_id)

    read = []
    for runs in (20, 60):
        history(runs)
        tracker = CountingReads(wb_settings.tracking_uri, artifact_root=wb_settings.artifact_root)
        warm = sweep(spec, wb_settings, models, tracker=tracker)
        assert [v.reused_from for v in warm.variants] == [cold.variants[0].run_id]
        read.append((tracker.counting.calls["search_runs"], tracker.counting.found["search_runs"]))
    assert read[0] == read[1], read
    assert models.calls == QUESTIONS


def test_a_run_is_reused_only_when_it_stayed_within_the_limits_the_sweep_runs_under_now(wb_settings: Settings, models: Models) -> None:
    """A run that spent 0.30 is reused under max_cost_usd 0.50, not under 0.20, where a fresh run would have stopped: it
    is computed again from the cache (no model call) and stopped by the budget, as the dry run says beforehand."""
    priced: dict[str, object] = {"pricing": {GEMMA_ID: {"input": 1000, "output": 1000}}}
    cold = sweep(make_spec(**priced), wb_settings, models)
    spent = {v.variant.id: v.metrics["cost_usd"] for v in cold.variants}
    used = {v.variant.id: v.metrics["input_tokens"] + v.metrics["output_tokens"] for v in cold.variants}
    assert len(set(spent.values())) > 1 and len(set(used.values())) > 1, (spent, used)
    calls = models.calls
    roomy = make_spec(**priced, limits={"max_cost_usd": 2 * max(spent.values()), "max_tokens": int(2 * max(used.values()))})
    assert all(p.reused_from for p in wb.plan_sweep(roomy, settings=wb_settings, models=models.as_dict()).variants)
    assert all(v.reused_from for v in sweep(roomy, wb_settings, models).variants) and models.calls == calls
    for limits, measured in (({"max_cost_usd": (min(spent.values()) + max(spent.values())) / 2}, spent),
                             ({"max_tokens": int((min(used.values()) + max(used.values())) / 2)}, used)):
        tight = make_spec(**priced, limits=limits)
        (budget,) = limits.values()
        over = {vid for vid, x in measured.items() if x > budget}
        assert over and len(over) < len(measured)
        plan = wb.plan_sweep(tight, settings=wb_settings, models=models.as_dict())
        assert {p.variant.id for p in plan.variants if not p.reused_from} == over
        assert {p.variant.id for p in plan.variants if p.budgets_passed} == over  # and says they would stop there
        result = sweep(tight, wb_settings, models)
        assert models.calls == calls  # computed again from the cache
        assert {v.variant.id for v in result.variants if not v.reused_from} == over
        assert {v.variant.id for v in result.variants if v.status == "FAILED"} == over  # stopped by the budget, as a fresh run is
