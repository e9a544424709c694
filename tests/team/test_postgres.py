"""A team's MLflow: ``workbench server`` on a real PostgreSQL 15 with served artifacts, used through
``MLFLOW_TRACKING_URI=http://...``. Sweep, traces with assessments, human feedback, compare, promote, export and
rollback all go through the server; no test touches a local store. Fakes answer (tests/promotion/conftest.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

import workbench as wb
from tests.promotion.conftest import CASES, deploy_repo, fake_models, git, write_project  # noqa: F401 (fixture)
from tests.team.conftest import MlflowServer, Postgres, start_mlflow_server
from workbench.config import Settings, settings
from workbench.pipeline import MemoryIndexStore
from workbench.tracking import HUMAN_FEEDBACK, load_human_feedback, load_question_reviews, log_human_feedback

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# each trace, span batch and assessment is a request to the server: a few questions and scorers are enough here
SCORERS = ("token_f1", "hit_at_k")
QUESTIONS = 5  # a verdict needs 5 paired questions at 95% (4 give the range of their differences)
CASE_IDS = [c["id"] for c in CASES[:QUESTIONS]]
EASY = [{"kind": "min_questions", "n": 1}, {"kind": "metric", "metric": "hit_at_k", "min": 0.0}]


@pytest.fixture(scope="module")
def server(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """``workbench server`` on a new PostgreSQL database, artifacts served from a temp folder."""
    where = tmp_path_factory.mktemp("mlflow-server")
    store = postgres.create_database("mlflow")
    yield from start_mlflow_server(store, where / "artifacts", where / "server.log")


@dataclass(frozen=True)
class Team:
    server: MlflowServer
    settings: Settings
    result: wb.SweepResult

    def run_id(self, prompt: str) -> str:
        return next(v.run_id for v in self.result.variants if v.variant.prompt.name == prompt)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def team(server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """One fake sweep (a good and a bad prompt) logged to the server the way a user points at it: the env variable."""
    root = tmp_path_factory.mktemp("team-project")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", server.url)
        mp.setenv("WORKBENCH_USER", "alice")
        cfg = settings(root=root)
        assert cfg.tracking_uri == server.url
        started = time.monotonic()
        spec = write_project(root).model_copy(update={"scorers": SCORERS})
        result = wb.run(spec, settings=cfg, models=fake_models(), index_store=MemoryIndexStore(),
                        limit=QUESTIONS, progress=False)
        print(f"server started in {server.seconds_to_start:.1f} s; sweep took {time.monotonic() - started:.1f} s")
        yield Team(server, cfg, result)


def test_sweep_runs_and_artifacts_live_on_the_server(team: Team) -> None:
    assert [v.status for v in team.result.variants] == ["FINISHED", "FINISHED"], [v.outcome.error for v in team.result.variants]
    client = MlflowClient(team.server.url)
    parent = client.get_run(team.result.parent_run_id)
    assert parent.info.status == "FINISHED"
    children = client.search_runs([team.result.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert {r.info.run_id for r in children} == {v.run_id for v in team.result.variants}
    for run in children:
        assert run.info.status == "FINISHED" and run.data.metrics["hit_at_k"] >= 0
        assert run.data.params["chunker.size"] == "200"
        # served artifacts: the client only sees mlflow-artifacts: URIs; the files are in the server's destination
        assert run.info.artifact_uri.startswith("mlflow-artifacts:"), run.info.artifact_uri
        listed = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert listed, run.info.run_id
        stored = {p.name for p in team.server.artifacts.rglob("*") if p.is_file() and run.info.run_id in p.parts}
        assert {Path(name).name for name in listed if "." in name} <= stored, (listed, stored)
    good = next(r for r in children if r.info.run_id == team.run_id("good"))
    assert good.data.metrics["token_f1"] == pytest.approx(1.0)
    # nothing was written beside the project: there is no local store
    assert not (team.settings.root / "mlruns").exists()


def test_traces_carry_their_assessments(team: Team) -> None:
    client = MlflowClient(team.server.url)
    run_id = team.run_id("good")
    traces = client.search_traces(locations=[team.result.experiment_id], run_id=run_id)
    assert len(traces) == QUESTIONS
    for trace in traces:
        names = {a.name for a in trace.info.assessments}
        assert {"token_f1", "hit_at_k"} <= names, names
        assert trace.info.tags["workbench.case_id"] in CASE_IDS


def test_human_feedback_is_stored_on_the_servers_trace(team: Team) -> None:
    uri = team.server.url
    reviews = load_question_reviews(team.result.parent_run_id, tracking_uri=uri)
    # every question is there (their order follows trace timestamps, which fakes make equal: see the report)
    assert sorted(q.case_id for q in reviews) == CASE_IDS
    review = next(q for q in reviews if q.case_id == "q1")
    answer = review.answers[0]
    saved = log_human_feedback(answer.trace_id, thumbs_up=False, comment="too vague", user="bob", run_id=answer.run_id, tracking_uri=uri)
    assert load_human_feedback(answer.trace_id, tracking_uri=uri) == saved
    human = [a for a in MlflowClient(uri).get_trace(answer.trace_id).info.assessments if a.name == HUMAN_FEEDBACK]
    assert len(human) == 1 and str(human[0].source.source_type) == "HUMAN"
    again = next(q for q in load_question_reviews(team.result.parent_run_id, tracking_uri=uri) if q.case_id == "q1")
    assert next(a for a in again.answers if a.run_id == answer.run_id).feedback == saved


def test_compare_reads_the_sweep_back_from_the_server(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.store.tracking.rest_store import RestStore

    # each variant's table was read through MlflowClient's artifact calls: two more lookups of its run and a search of
    # the experiment's logged models, round trips to the server for every run compared; its mlflow-artifacts:/ folder
    # is read directly now
    calls: list[str] = []
    for name in ("get_run", "search_logged_models"):
        real = getattr(RestStore, name)
        monkeypatch.setattr(RestStore, name, lambda self, *a, _real=real, _name=name, **k: calls.append(_name) or _real(self, *a, **k))
    report = wb.compare(team.result.parent_run_id, baseline=team.run_id("bad"), metrics=["token_f1"], n_resamples=200,
                        tracking_uri=team.server.url)
    good = next(v.variant.name for v in team.result.variants if v.variant.prompt.name == "good")  # type: ignore[union-attr]
    assert report.verdict(good, "token_f1") == "better", report.summary()
    assert set(calls) == {"get_run"} and len(calls) <= 2, calls  # the sweep's run, none per variant


def test_promote_export_and_rollback_through_the_server(team: Team, deploy_repo: Path, capfd: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    cfg = team.settings
    capfd.readouterr()
    first = wb.promote(team.run_id("good"), name="team-assist", alias="staging", gates=EASY, settings=cfg)
    assert first.version == "1" and first.report.passed
    # the server's registry logged "Waiting up to 300 seconds for prompt version to finish creation" (and model version)
    assert "Waiting up to" not in capfd.readouterr().err
    second = wb.promote(team.run_id("bad"), name="team-assist", alias="staging", gates=EASY, settings=cfg)
    assert second.version == "2" and second.previous_version == "1"
    client = MlflowClient(team.server.url, registry_uri=team.server.url)
    assert str(client.get_model_version_by_alias("team-assist", "staging").version) == "2"
    audit = json.loads(client.get_model_version("team-assist", "2").tags["workbench.audit.staging"])
    assert audit["user"] == "alice" and audit["run_id"] == team.run_id("bad")

    exported = wb.export("team-assist", "staging", repo=deploy_repo, settings=cfg)
    listed = git(deploy_repo, "ls-tree", "-r", "--name-only", exported.branch).split()
    assert {"team-assist/staging/config.yaml", "team-assist/staging/manifest.json", "team-assist/staging/prompts/bad.txt"} <= set(listed)

    back = wb.rollback("team-assist", alias="staging", reason="the bad prompt slipped through", settings=cfg)
    assert (back.replaced_version, back.version) == ("2", "1")
    assert str(client.get_model_version_by_alias("team-assist", "staging").version) == "1"


def test_an_alias_history_of_many_promotions_fits_the_servers_registry_tag(team: Team) -> None:
    """PostgreSQL keeps a registered model tag in 5000 characters (MLflow's validation allows 100,000): once an alias had
    some 46 promotions and rollbacks, every promotion failed after moving the alias ("value too long for type character
    varying(5000)"). The latest events that fit are kept."""
    from workbench.promotion import alias_history

    cfg, client = team.settings, MlflowClient(team.server.url, registry_uri=team.server.url)
    first = wb.promote(team.run_id("good"), name="team-history", alias="staging", gates=EASY, settings=cfg)
    event = {"action": "promote", "version": first.version, "user": "alice", "at": "2026-12-01T00:00:00+00:00"}
    old = [event] * 54  # 4,914 characters: the next event does not fit
    client.set_registered_model_tag("team-history", "workbench.alias_history.staging", json.dumps(old))
    second = wb.promote(team.run_id("bad"), name="team-history", alias="staging", gates=EASY, settings=cfg)
    history = alias_history(client, "team-history", "staging")
    assert history[-1].version == second.version and history[-2].version == first.version and len(history) > 40
    assert str(client.get_model_version_by_alias("team-history", "staging").version) == second.version


@pytest.fixture(scope="module")
def long_named(server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[wb.SweepResult, wb.SweepResult]]:
    """A sweep whose names are as long as a spec allows (variant names of some 320 characters), run twice on the server."""
    root = tmp_path_factory.mktemp("long-names")
    data = write_project(root).model_dump(mode="json", exclude_none=True)
    data.update(name="long-names", scorers=list(SCORERS))
    for prompt, first in zip(data["prompts"], "gb"):
        prompt["name"] = first + "x" * 99
    data["models"][0]["name"] = "m" * 100
    data["retrieval"][0]["name"] = "r" * 100
    spec = wb.ExperimentSpec.from_dict(data, base_dir=root)
    models = fake_models()  # one script for both sweeps: its answers are reused, not computed again
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", server.url)
        cfg = settings(root=root)
        sweeps = [wb.run(spec, settings=cfg, models=models, index_store=MemoryIndexStore(), limit=2, progress=False) for _ in range(2)]
        yield sweeps[0], sweeps[1]


def test_variant_names_longer_than_a_run_name_holds_are_logged_shortened(long_named: tuple[wb.SweepResult, wb.SweepResult]) -> None:
    # PostgreSQL keeps a run name in 250 characters: the sweep ended with "value too long for type character varying(250)"
    first, again = long_named
    assert [v.status for v in first.variants] == ["FINISHED", "FINISHED"], [v.outcome.error for v in first.variants]
    assert all(len(v.variant.name) > 250 for v in first.variants)
    client = MlflowClient(first.tracking_uri)
    names = [client.get_run(v.run_id).info.run_name for v in first.variants]
    assert len(set(names)) == 2 and all(len(n) <= 250 for n in names), names
    assert [client.get_run(v.run_id).info.run_name for v in again.variants] == names
    assert [v.reused_from for v in again.variants] == [v.run_id for v in first.variants]


def test_no_message_shows_the_store_password(team: Team, postgres: Postgres, deploy_repo: Path) -> None:  # noqa: F811
    """The CLI masked the password of a store URI, but the Python API's errors quoted the URI whole: a notebook printed
    ``postgresql://user:password@host/db`` into its saved output. (The throwaway cluster trusts any password.)"""
    from workbench.errors import WorkbenchError

    uri = postgres.uri("mlflow").replace(f"//{postgres.user}@", f"//{postgres.user}:hunter2-secret@")
    cfg = settings(root=team.settings.root, tracking_uri=uri)
    calls = {
        "compare": lambda: wb.compare("no-such-experiment", tracking_uri=uri),
        "reviews": lambda: load_question_reviews("0" * 32, tracking_uri=uri),
        "rollback": lambda: wb.rollback("nobody", alias="production", settings=cfg),
        "export": lambda: wb.export("nobody", "production", repo=deploy_repo, settings=cfg),
    }
    for what, call in calls.items():
        with pytest.raises(WorkbenchError) as raised:
            call()
        assert "hunter2-secret" not in str(raised.value) and f"{postgres.user}:***@" in str(raised.value), (what, str(raised.value))
