"""Human feedback and question reviews read back from MLflow traces (fakes for models, real sqlite MLflow)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import workbench as wb
from workbench.config import settings
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import (
    HUMAN_FEEDBACK,
    QuestionReviews,
    load_human_feedback,
    load_question_reviews,
    log_human_feedback,
)
from workbench.tracking._feedback import latest_human_feedback

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> wb.SweepResult:
    root = tmp_path_factory.mktemp("feedback")
    cfg = settings(root=root, tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")
    spec = wb.ExperimentSpec.from_dict(
        {
            "name": "feedback",
            "dataset": {"path": "datasets/handbook.jsonl", "limit": 3},
            "corpus": {"path": "datasets/handbook", "glob": "*.md"},
            "prompts": [{"name": "a", "template": "{context}\nQ: {question}\nA:"}, {"name": "b", "template": "Q: {question}\nA:"}],
            "models": [{"id": GEMMA_ID}],
            "chunkers": [{"strategy": "markdown", "size": 600, "overlap": 0}],
            "retrieval": [{"k": 2}],
            "scorers": ["hit_at_k", "token_f1"],
        },
        base_dir=ROOT,
    )
    answers = iter(["first", "second", "third", "fourth", "fifth", "sixth"])
    models = {GEMMA_ID: ScriptedModel(lambda _p: next(answers), model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    return wb.run(spec, settings=cfg, models=models, index_store=MemoryIndexStore(), progress=False)


def test_reviews_hold_every_question_with_each_variants_answer_chunks_and_scores(sweep: wb.SweepResult) -> None:
    reviews = load_question_reviews(sweep.parent_run_id, tracking_uri=sweep.tracking_uri)
    assert [q.case_id for q in reviews] == [c.id for c in sweep.dataset.cases]
    first = reviews[0]
    case = sweep.dataset.cases[0]
    assert (first.question, first.reference, first.relevant_ids) == (case.question, case.reference, case.source_ids)
    assert [a.variant for a in first.answers] == [v.variant.name for v in sweep.variants]
    for answer, variant in zip(first.answers, sweep.variants):
        record = variant.records[0]
        assert answer.answer == record.answer and answer.run_id == variant.run_id
        assert [c.source_id for c in answer.chunks] == list(record.retrieved_ids)
        assert [c.score for c in answer.chunks] == [round(h.score, 4) for h in record.hits]
        assert answer.scores["hit_at_k"].value == record.scores["hit_at_k"].value
        assert answer.feedback is None
    assert first.answer(sweep.variants[1].variant.id) is first.answers[1]


def test_feedback_lands_on_the_questions_trace_as_a_human_assessment_and_reads_back(sweep: wb.SweepResult) -> None:
    uri = sweep.tracking_uri
    answer = load_question_reviews(sweep.parent_run_id, tracking_uri=uri)[1].answers[0]
    log_human_feedback(answer.trace_id, thumbs_up=False, comment="wrong policy", user="ana", run_id=answer.run_id, tracking_uri=uri)
    saved = log_human_feedback(answer.trace_id, thumbs_up=True, comment="  fine after all ", user="ana", run_id=answer.run_id, tracking_uri=uri)
    assert (saved.thumbs_up, saved.comment, saved.user) == (True, "fine after all", "ana")
    assert load_human_feedback(answer.trace_id, tracking_uri=uri) == saved  # the latest verdict wins

    from mlflow import MlflowClient

    trace = MlflowClient(uri).get_trace(answer.trace_id)
    assert trace.info.tags["workbench.case_id"] == sweep.dataset.cases[1].id
    human = [a for a in trace.info.assessments if a.name == HUMAN_FEEDBACK]
    assert {str(a.source.source_type) for a in human} == {"HUMAN"} and len(human) == 2
    assert all(a.metadata.get("mlflow.assessment.sourceRunId") == answer.run_id for a in human)

    again = load_question_reviews(sweep.parent_run_id, tracking_uri=uri)[1]
    assert again.answers[0].feedback == saved
    assert again.answers[1].feedback is None


def test_a_user_rating_an_answer_again_replaces_their_verdict_and_keeps_other_users(sweep: wb.SweepResult) -> None:
    """Re-running a notebook's feedback cell (or changing one's mind) left two valid verdicts of one user on the trace:
    MLflow's views showed and counted both."""
    uri = sweep.tracking_uri
    answer = load_question_reviews(sweep.parent_run_id, tracking_uri=uri)[0].answers[1]
    first = log_human_feedback(answer.trace_id, thumbs_up=True, user="ana", run_id=answer.run_id, tracking_uri=uri)
    log_human_feedback(answer.trace_id, thumbs_up=False, user="bo", run_id=answer.run_id, tracking_uri=uri)
    log_human_feedback(answer.trace_id, thumbs_up=False, comment="on second thought", user="ana", run_id=answer.run_id, tracking_uri=uri)

    from mlflow import MlflowClient

    human = [a for a in MlflowClient(uri).get_trace(answer.trace_id).info.assessments if a.name == HUMAN_FEEDBACK]
    valid = sorted((a.source.source_id, a.value, a.rationale) for a in human if a.valid is not False)
    assert valid == [("ana", False, "on second thought"), ("bo", False, None)]
    (replaced,) = [a for a in human if a.valid is False]
    assert replaced.source.source_id == "ana" and replaced.value is True and replaced.create_time_ms == first.created_ms


def test_feedback_on_an_unknown_trace_is_a_one_line_error(sweep: wb.SweepResult) -> None:
    with pytest.raises(wb.WorkbenchError, match="tr-nope: cannot record feedback"):
        log_human_feedback("tr-nope", thumbs_up=True, tracking_uri=sweep.tracking_uri)
    with pytest.raises(wb.WorkbenchError, match="not found"):
        load_question_reviews("0" * 32, tracking_uri=sweep.tracking_uri)


def test_latest_human_feedback_ignores_code_scores_overridden_and_non_boolean_values() -> None:
    def item(name: str, value: object, source: str, t: int, valid: bool = True) -> SimpleNamespace:
        return SimpleNamespace(name=name, value=value, source=SimpleNamespace(source_type=source, source_id="u"),
                               rationale=None, create_time_ms=t, valid=valid)

    items = [item(HUMAN_FEEDBACK, True, "HUMAN", 1), item(HUMAN_FEEDBACK, False, "CODE", 5), item("token_f1", 0.5, "HUMAN", 6),
             item(HUMAN_FEEDBACK, "yes", "HUMAN", 7), item(HUMAN_FEEDBACK, False, "HUMAN", 9, valid=False)]
    found = latest_human_feedback("tr-1", items)
    assert found is not None and (found.thumbs_up, found.created_ms, found.comment) == (True, 1, "")
    assert latest_human_feedback("tr-1", []) is None


def test_questions_are_listed_from_the_traces_info_and_read_when_asked_for(tmp_path: Path) -> None:
    # the question inspector lists a sweep's questions from the traces' request previews, which MLflow cuts at 1,000
    # characters: a long question was listed as '{"question": "Über ...' (the preview's JSON, cut short)
    long = "Über die Urlaubstage: " + "wie viele Tage gibt es\n" * 60 + "?"
    cases = [{"id": "long", "question": long, "reference": "25", "source_ids": []}, {"id": "short", "question": "How many days?", "reference": "25", "source_ids": []}]
    (tmp_path / "q.jsonl").write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n", encoding="utf-8")
    spec = wb.ExperimentSpec.from_dict(
        {"name": "listed", "dataset": {"path": str(tmp_path / "q.jsonl")}, "corpus": {"path": "datasets/handbook", "glob": "*.md"},
         "prompts": [{"name": "a", "template": "{context}\nQ: {question}\nA:"}], "models": [{"id": GEMMA_ID}],
         "chunkers": [{"strategy": "markdown", "size": 600, "overlap": 0}], "scorers": ["token_f1"]},
        base_dir=ROOT,
    )
    models = {GEMMA_ID: ScriptedModel(lambda _p: "25 days", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    result = wb.run(spec, settings=settings(root=tmp_path), models=models, index_store=MemoryIndexStore(), progress=False)
    listed = QuestionReviews(result.parent_run_id, tracking_uri=result.tracking_uri)
    assert listed.case_ids == ("long", "short") and listed.questions[1] == "How many days?"
    assert long.startswith(listed.questions[0]) and len(listed.questions[0]) > 900
    assert list(listed) == load_question_reviews(result.parent_run_id, tracking_uri=result.tracking_uri)
    assert listed[0].question == long
