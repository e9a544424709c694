"""A judged sweep end to end with fakes: judge scorers on via the spec, judge accounting apart, MLflow, calibrate CLI."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench import cli
from workbench.models import GEMMA_ID, Price
from workbench.scoring import judged_scorers
from workbench.spec import ExperimentSpec
from workbench.testing import ScriptedJudge
from workbench.tracking import load_variant_table

ROOT = Path(__file__).resolve().parents[2]


def spec(**extra: Any) -> ExperimentSpec:
    data = {
        "name": "judged",
        "dataset": {"path": "datasets/python_docs.jsonl", "limit": 5},
        "corpus": {"builtin": "python-reference"},
        "prompts": [{"name": "p", "template": "Context: {context}\nQuestion: {question}\nAnswer:"}],
        "models": [{"id": GEMMA_ID, "params": {"max_tokens": 16}}],
        "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
        "retrieval": [{"k": 2}],
        "judge": {"id": GEMMA_ID, "n": 2},
        "pricing": {GEMMA_ID: {"input": 1.0, "output": 2.0}},
    }
    data.update(extra)
    return ExperimentSpec.from_dict(data, base_dir=ROOT)


def answers(prompt: str, schema: Mapping[str, Any]) -> str:
    props = schema["properties"]
    if "classifications" in props:
        return json.dumps({"classifications": [{"statement": "s", "reason": "r", "attributed": 1}]})
    if "question" in props:
        return json.dumps({"question": "What is it?", "noncommittal": 0})
    if "verdict" in props:
        return json.dumps({"reason": "useful", "verdict": 1})
    if props["statements"]["items"]["type"] == "string":
        return json.dumps({"statements": ["A statement."]})
    return "not json at all"  # every faithfulness verdict call fails: error rows, never NaN


def test_a_judged_sweep_scores_every_item_and_accounts_for_the_judge_apart(wb_settings, fake_models, capsys) -> None:  # type: ignore[no-untyped-def]
    judge = ScriptedJudge(answers, price=Price(input_per_m=1.0, output_per_m=2.0))
    result = wb.run(spec(), models=fake_models, judge=judge, settings=wb_settings, progress=False)
    variant = result.variants[0]
    assert variant.status == "FINISHED", variant.outcome.error
    m = variant.metrics
    for name in ("context_recall", "context_precision", "answer_relevancy"):
        assert 0.0 <= m[name] <= 1.0
        assert f"{name}_std" in m  # two repeats per item
    assert "faithfulness" not in m and m["faithfulness_errors"] >= 1  # failures are counted, not averaged
    assert m["judge_calls"] == len(judge.calls) and m["judge_errors"] >= m["faithfulness_errors"]
    assert m["judge_input_tokens"] == sum(len(p.split()) for p, _, _ in judge.calls)
    # the answering model's tokens and cost do not include the judge's
    gen_in = sum(r.generation.input_tokens for r in variant.records if r.generation)
    assert m["input_tokens"] == gen_in
    judge_in, judge_out = m["judge_input_tokens"], m["judge_output_tokens"]
    assert m["judge_cost_usd"] == pytest.approx((judge_in * 1.0 + judge_out * 2.0) / 1e6)
    assert m["cost_usd"] == pytest.approx(sum(r.cost_usd for r in variant.records))
    # what the sweep spent, the judge's calls included, as workbench run and the RunPanel say it
    spent, judged = m["spent_usd"], m["judge_spent_usd"]
    assert spent == m["cost_usd"] > 0 and judged == m["judge_cost_usd"] > 0
    assert result.spent_line == f"spent now: answers ${spent:.4g}, judge ${judged:.4g} (${spent + judged:.4g} in all)"
    for record in variant.records:
        for name in judged_scorers():
            score = record.scores[name]
            assert score.error is not None or score.value is None or 0.0 <= score.value <= 1.0

    # calibrate the logged run against labels taken from its own table: perfect agreement on context_recall
    table = load_variant_table(variant.run_id, tracking_uri=wb_settings.tracking_uri)
    scored = table.dropna(subset=["context_recall"])
    labels = wb_settings.root / "labels.csv"
    rows = [f"{c},context_recall,{1 if v >= 0.5 else 0}" for c, v in zip(scored["case_id"], scored["context_recall"])]
    labels.write_text("case_id,metric,label\n" + "\n".join(rows + [f"{scored['case_id'].iloc[0]},faithfulness,1"]) + "\n")
    code = cli.main(["--tracking-uri", wb_settings.tracking_uri, "calibrate", result.parent_run_id, "--labels", str(labels)])
    out = capsys.readouterr().out
    assert code == 0
    assert "context_recall" in out and variant.variant.name in out
    report = wb.calibrate(variant.run_id, labels, tracking_uri=wb_settings.tracking_uri)
    recall = report.agreement("context_recall")
    assert recall.n == len(scored) and recall.accuracy == 1.0
    assert report.agreement("faithfulness").missing == 1  # the judge failed there: no verdict to compare


def test_without_a_judge_no_judge_metrics_appear(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    data = spec().model_dump(mode="json", exclude_defaults=True)
    data.pop("judge")
    result = wb.run(ExperimentSpec.from_dict(data, base_dir=ROOT), models=fake_models, settings=wb_settings, progress=False)
    m = result.variants[0].metrics
    assert not any(k.startswith("judge_") for k in m) and "faithfulness" not in m
    assert {"string_similarity", "chrf", "non_llm_context_recall", "pii_leak"} <= set(m)


def test_calibrate_cli_names_a_missing_run(wb_settings, capsys) -> None:  # type: ignore[no-untyped-def]
    labels = wb_settings.root / "l.csv"
    labels.parent.mkdir(parents=True, exist_ok=True)
    labels.write_text("case_id,metric,label\na,faithfulness,1\n")
    from mlflow import MlflowClient

    Path(wb_settings.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    MlflowClient(wb_settings.tracking_uri).search_experiments()  # a real store, without that run
    code = cli.main(["--tracking-uri", wb_settings.tracking_uri, "calibrate", "0123456789abcdef", "--labels", str(labels)])
    assert code == 2 and "no run '0123456789abcdef'" in capsys.readouterr().err


def test_the_leaderboard_of_a_judged_sweep_shows_and_sorts_by_the_judged_scores(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    """They were left out: ``leaderboard(sort_by="faithfulness")`` said no variant had it, and the Leaderboard widget
    offered no judged column to sort by."""
    judge = ScriptedJudge(answers, price=Price(input_per_m=1.0, output_per_m=2.0))
    two_prompts = [{"name": "p", "template": "Context: {context}\nQuestion: {question}\nAnswer:"},
                   {"name": "q", "template": "Question: {question}\nContext: {context}\nAnswer:"}]
    result = wb.run(spec(dataset={"path": "datasets/python_docs.jsonl", "limit": 2}, judge={"id": GEMMA_ID}, prompts=two_prompts),
                    models=fake_models, judge=judge, settings=wb_settings, progress=False)
    board = result.leaderboard(sort_by="context_recall")
    assert {"context_recall", "context_precision", "answer_relevancy", "judge_cost_usd"} <= set(board.columns)
    assert list(board["context_recall"]) == sorted(v.metrics["context_recall"] for v in result.variants)[::-1]
    assert "faithfulness" not in board.columns  # every faithfulness verdict failed: no mean, no column


def test_calibrating_a_sweep_skips_a_variant_that_failed_and_calibrates_the_others(wb_settings, fake_models, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A variant that failed before answering has no per-question table: calibrating its sweep ended with 'no
    per-question results table — pass a variant run id', though the other variants had judge scores."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    models = [{"id": GEMMA_ID, "params": {"max_tokens": 16}}, {"id": "openai:gpt-4o-mini"}]
    result = wb.run(spec(dataset={"path": "datasets/python_docs.jsonl", "limit": 2}, judge={"id": GEMMA_ID}, models=models),
                    models=fake_models, judge=ScriptedJudge(answers), settings=wb_settings, progress=False)
    failed, judged = sorted(result.variants, key=lambda v: v.status)
    assert (failed.status, judged.status) == ("FAILED", "FINISHED")
    labels = wb_settings.root / "labels.csv"
    labels.write_text("case_id,metric,label\npy-001,context_recall,1\npy-002,context_recall,0\n")
    code = cli.main(["--tracking-uri", wb_settings.tracking_uri, "calibrate", result.parent_run_id, "--labels", str(labels)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"{failed.variant.name}  (run {failed.run_id})\n    skipped: the variant FAILED, so it has no judge scores (ModelError: " in out
    assert f"{judged.variant.name}  (run {judged.run_id})\n        metric  n" in out and "context_recall  2" in out
    # the judge passed both, the humans one: kappa 0, which the note must not call NaN
    assert "0.500  0.000" in out and "kappa is NaN when judge and humans gave one and the same verdict throughout" in out


def test_calibrate_shows_terminal_escapes_in_run_names_and_labels_as_text(wb_settings, fake_models, capsys) -> None:  # type: ignore[no-untyped-def]
    """Run names are the store's (anyone on a shared server can rename a run in the MLflow UI) and metric names come
    from the annotators' labels file: ``workbench calibrate`` sent their escapes to the terminal (clear the screen,
    write the clipboard), as ``list`` and ``gate`` no longer do."""
    from mlflow import MlflowClient

    result = wb.run(spec(dataset={"path": "datasets/python_docs.jsonl", "limit": 2}, judge={"id": GEMMA_ID}),
                    models=fake_models, judge=ScriptedJudge(answers), settings=wb_settings, progress=False)
    hostile = "\x1b[2J\x1b]52;c;ZWNobyBwd25lZA==\x07"
    MlflowClient(wb_settings.tracking_uri).set_tag(result.variants[0].run_id, "mlflow.runName", f"good{hostile}")
    labels = wb_settings.root / "labels.csv"
    labels.write_text(f"case_id,metric,label\npy-001,context_recall,1\npy-002,recall{hostile},0\n")
    code = cli.main(["--tracking-uri", wb_settings.tracking_uri, "calibrate", result.parent_run_id, "--labels", str(labels)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "\x1b" not in out and "\x07" not in out, out
    assert "good\\x1b[2J\\x1b]52;c;ZWNobyBwd25lZA==\\x07  (run " in out and "recall\\x1b[2J" in out, out


def test_a_hosted_judge_judges_as_many_answers_at_once_as_its_provider_allows(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # the answers of a hosted model came `concurrency` at a time, but its judge's calls one after another: 300 answers
    # x 7 judge calls of a second outlasted the variant's wall time after every answer had come
    from workbench.testing import CallLog

    spans = CallLog()  # (start, end) of each judge call, wherever the variant ran

    def slow(prompt: str, schema: Mapping[str, Any]) -> str:
        import time

        start = time.monotonic()
        time.sleep(0.15)
        spans.record((start, time.monotonic()))
        return answers(prompt, schema)

    judge = ScriptedJudge(slow, model_id="openai:gpt-4o-mini")
    hosted = spec(judge={"id": "openai:gpt-4o-mini"}, scorers=["token_f1", "context_recall"], execution={"concurrency": {"openai": 3}},
                  pricing={})
    result = wb.run(hosted, models=fake_models, judge=judge, settings=wb_settings, progress=False)
    (variant,) = result.variants
    assert variant.status == "FINISHED", variant.outcome.error
    assert list(variant.records[0].scores) == ["token_f1", "context_recall"]  # the columns keep their order
    judged = [r for r in variant.records if r.scores["context_recall"].value is not None]  # a refusal item is not judged
    assert all(r.scores["context_recall"].error is None for r in variant.records) and len(judged) >= 4
    calls = spans.entries()
    assert len(calls) == len(judged)
    in_flight = max(sum(1 for s, e in calls if s <= t < e) for t, _ in calls)
    assert 1 < in_flight <= 3, calls
    # a local judge (one model in this process) still judges one answer after another
    spans2 = CallLog()

    def timed(prompt: str, schema: Mapping[str, Any]) -> str:
        import time

        start = time.monotonic()
        time.sleep(0.05)
        spans2.record((start, time.monotonic()))
        return answers(prompt, schema)

    local = spec(judge={"id": GEMMA_ID}, scorers=["context_recall"], execution={"concurrency": {"openai": 3}})
    wb.run(local, models=fake_models, judge=ScriptedJudge(timed), settings=wb_settings, progress=False)
    calls = spans2.entries()
    assert max(sum(1 for s, e in calls if s <= t < e) for t, _ in calls) == 1


def test_a_variant_whose_judging_outlasts_its_wall_time_says_scoring_ran_out(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # its answers had all come; the error said only "wall-time limit of 2s exceeded: worker process killed", which reads
    # as a slow model, not as the judge's calls (scoring has a wall time of its own)
    def slow(prompt: str, schema: Mapping[str, Any]) -> str:
        __import__("time").sleep(2.0)
        return answers(prompt, schema)

    judged = spec(judge={"id": GEMMA_ID}, scorers=["context_recall"], limits={"wall_time_s": 2})
    result = wb.run(judged, models=fake_models, judge=ScriptedJudge(slow), settings=wb_settings, progress=False)
    (variant,) = result.variants
    assert variant.status == "FAILED" and variant.outcome.error_kind == "timeout", variant.outcome
    assert variant.outcome.error == ("wall-time limit of 2s exceeded while scoring its answers (scoring has a wall time of its own: the "
                                     "judge's calls): worker process killed — raise limits.wall_time_s")
