"""Gates are pure functions over metrics and per-question tables: tested here without MLflow."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench.errors import SpecError
from workbench.promotion import Evidence, Holder, evaluate_gates, paired_values
from workbench.spec import (
    BeatsHolderGate,
    MaxCostGate,
    MaxFailedRateGate,
    MetricGate,
    MinQuestionsGate,
    PromotionSpec,
    load_experiment,
)


def evidence(metrics: dict[str, float], per_question: dict[str, dict[str, float | None]] | None = None, *,
             dataset: str = "d1", config: str = "c1", run_id: str = "run") -> Evidence:
    return Evidence(run_id, metrics, per_question or {}, dataset, config)


def scores(values: list[float | None], metric: str = "token_f1") -> dict[str, dict[str, float | None]]:
    return {metric: {f"q{i}": v for i, v in enumerate(values)}}


def test_metric_gate_checks_min_and_max_and_names_a_missing_metric() -> None:
    ev = evidence({"token_f1": 0.62, "latency_p95_s": 3.0})
    report = evaluate_gates([MetricGate(metric="token_f1", min=0.7), MetricGate(metric="latency_p95_s", max=5.0),
                             MetricGate(metric="faithfulness", min=0.7)], ev)
    assert [r.passed for r in report.results] == [False, True, False]
    assert "0.62 is below the minimum 0.7" in report.results[0].detail
    assert report.results[0].label == "token_f1 >= 0.7"
    assert "'faithfulness' was not logged" in report.results[2].detail
    assert report.results[2].value is None
    assert not report.passed and len(report.failed) == 2



@pytest.mark.parametrize("value", [0.2, 0.5, 0.7, 0.9, float("nan")])
def test_metric_gate_and_the_ci_gate_agree(value: float) -> None:
    """Promotion's metric gate and ``workbench gate`` apply the same rule (``workbench.comparison.check_metric``)."""
    import workbench as wb

    promoted = evaluate_gates([MetricGate(metric="token_f1", min=0.4, max=0.8)], evidence({"token_f1": value})).passed
    frames = {name: pd.DataFrame({"case_id": ["q1", "q2"], "token_f1": [v, v]}) for name, v in (("base", 0.5), ("v", value))}
    failures = wb.compare(frames, metrics=["token_f1"]).gate(["token_f1"], minimum=0.4, maximum=0.8)
    assert promoted == (not [f for f in failures if f.variant == "v"]) == (0.4 <= value <= 0.8)

def test_a_metric_gate_on_a_scorer_that_failed_on_every_row_says_so_not_to_add_it() -> None:
    """The judge was down for the whole sweep (the run logged faithfulness_errors alone), or every answer failed: the
    gate said "was not logged — add its scorer to the experiment", a scorer the experiment has."""
    gate = MetricGate(metric="faithfulness", min=0.7)
    judged = evaluate_gates([gate], evidence({"questions": 20.0, "token_f1": 0.6, "faithfulness_errors": 20.0})).results[0]
    assert not judged.passed and judged.value is None
    assert judged.detail == ("scorer 'faithfulness' failed on all 20 rows it scored in run run (faithfulness_errors), so it has no "
                             "value — fix what failed it (each row's error is on the run's traces in MLflow) and re-run")
    unanswered = evaluate_gates([MetricGate(metric="token_f1", min=0.5)], evidence({"questions": 4.0, "question_errors": 4.0, "hit_at_k": 1.0}))
    assert unanswered.results[0].detail == "every one of the 4 questions of run run failed, so nothing was scored — fix the model and re-run"
    assert "add its scorer" in evaluate_gates([gate], evidence({"questions": 20.0, "token_f1": 0.6})).results[0].detail
    # beats_holder said "no per-question 'faithfulness' — name a metric the experiment scores", with a holder or without
    down = {"questions": 3.0, "faithfulness_errors": 3.0}
    holder = Holder("1", evidence({"questions": 3.0}, scores([0.5, 0.6, 0.7], "faithfulness"), config="c0"))
    for held in (None, holder):
        (result,) = evaluate_gates([BeatsHolderGate(metric="faithfulness")], evidence(down), held).results
        assert not result.passed and result.detail.startswith("scorer 'faithfulness' failed on all 3 rows it scored in run run ")
    (result,) = evaluate_gates([BeatsHolderGate(metric="faithfulness")], evidence({}, scores([0.5, 0.6, 0.7], "faithfulness")),
                               Holder("1", evidence(down, run_id="held", config="c0"))).results
    assert result.detail.startswith("scorer 'faithfulness' failed on all 3 rows it scored in run held ")


def test_a_gate_on_a_dataset_column_says_it_is_no_metric() -> None:
    # metric: metadata.year failed "was not logged for run run — add its scorer to the experiment and re-run": no
    # scorer logs a dataset's column (a gates file passed to `workbench promote --gates` is not checked at load)
    ev = evidence({"questions": 20.0, "token_f1": 0.6}, scores([0.5, 0.5]))
    for gate in (MetricGate(metric="metadata.year", min=2020), BeatsHolderGate(metric="metadata.year")):
        result = evaluate_gates([gate], ev, Holder("3", evidence({}, scores([0.4, 0.4]), config="c0"))).results[0]
        assert not result.passed and result.detail.startswith(
            "'metadata.year' is a column of the dataset, not a metric — a gate checks a metric the run logs, e.g. token_f1"), result.detail
        assert "scorer" not in result.detail


def test_metric_gate_needs_a_bound() -> None:
    with pytest.raises(ValueError, match="needs 'min' or 'max'"):
        MetricGate(metric="token_f1")


def test_min_questions_counts_only_answered_questions() -> None:
    gate = MinQuestionsGate(n=20)
    assert evaluate_gates([gate], evidence({"questions": 20.0})).passed
    failed = evaluate_gates([gate], evidence({"questions": 20.0, "question_errors": 2.0})).results[0]
    assert not failed.passed and failed.value == 18 and "only 18 questions" in failed.detail


def test_cost_gate_fails_when_the_cost_is_unknown() -> None:
    gate = MaxCostGate(usd=0.01)
    assert evaluate_gates([gate], evidence({"cost_per_question_usd": 0.002})).passed
    assert not evaluate_gates([gate], evidence({"cost_per_question_usd": 0.02})).passed
    unknown = evaluate_gates([gate], evidence({"questions": 5.0})).results[0]
    assert not unknown.passed and "pricing" in unknown.detail


def test_failed_judge_rate_reads_the_errors_metric() -> None:
    gate = MaxFailedRateGate(scorer="faithfulness", rate=0.1)
    over = evaluate_gates([gate], evidence({"questions": 10.0, "faithfulness": 0.8, "faithfulness_errors": 2.0})).results[0]
    assert not over.passed and over.value == pytest.approx(0.2) and "2 of 10 rows failed" in over.detail
    # <scorer>_errors is only logged when rows failed: the scorer's own metric means zero failures
    assert evaluate_gates([gate], evidence({"questions": 10.0, "faithfulness": 0.8})).passed
    # the gate accepts the metric name too
    assert evaluate_gates([MaxFailedRateGate(scorer="faithfulness_errors", rate=0.25)],
                          evidence({"questions": 10.0, "faithfulness_errors": 2.0})).passed


def test_failed_judge_rate_fails_when_the_judge_never_ran() -> None:
    result = evaluate_gates([MaxFailedRateGate(scorer="faithfulness", rate=0.1)], evidence({"questions": 10.0})).results[0]
    assert not result.passed
    assert "scorer 'faithfulness' has no results" in result.detail


def test_no_gates_is_a_failure_not_a_free_pass() -> None:
    report = evaluate_gates([], evidence({"token_f1": 1.0}))
    assert not report.passed
    assert "no gates are configured" in report.summary()
    # `workbench promote` has no gates=... to pass: it was told to, and had to find --gates in the help
    assert "workbench promote --gates FILE" in report.summary()


def test_beats_holder_passes_without_a_holder_and_for_the_holders_own_config() -> None:
    gate = BeatsHolderGate(metric="token_f1")
    cand = evidence({}, scores([0.5, 0.5]))
    assert evaluate_gates([gate], cand).results[0].detail == "the alias has no holder yet"
    same = Holder("3", evidence({}, scores([0.9, 0.9]), config="c1"))
    assert evaluate_gates([gate], cand, same).passed


def test_beats_holder_with_a_misspelt_metric_fails_before_the_alias_has_a_holder() -> None:
    result = evaluate_gates([BeatsHolderGate(metric="tokn_f1")], evidence({}, scores([0.5, 0.5]))).results[0]
    assert not result.passed
    assert "no per-question 'tokn_f1'" in result.detail


@pytest.mark.parametrize("bound", [float("nan"), float("inf"), float("-inf")])
def test_a_gate_threshold_must_be_a_finite_number(bound: float) -> None:
    # NaN compares false both ways, so a NaN minimum would pass every run
    for kwargs in ({"min": bound}, {"max": bound}):
        with pytest.raises(ValueError, match="finite number"):
            MetricGate(metric="token_f1", **kwargs)
    with pytest.raises(ValueError, match="finite number"):
        BeatsHolderGate(metric="token_f1", margin=bound)


def test_beats_holder_needs_the_interval_above_zero() -> None:
    gate = BeatsHolderGate(metric="token_f1")
    holder = Holder("1", evidence({}, scores([0.2, 0.3, 0.25, 0.2, 0.3, 0.1]), config="old"))
    better = evaluate_gates([gate], evidence({}, scores([0.8, 0.9, 0.85, 0.7, 0.9, 0.8])), holder).results[0]
    assert better.passed and better.interval is not None and better.interval.low > 0
    assert better.label == "token_f1 beats holder v1"
    same = evaluate_gates([gate], evidence({}, scores([0.2, 0.3, 0.25, 0.2, 0.3, 0.1])), holder).results[0]
    assert not same.passed and "no detectable difference" in same.detail


def test_beats_holder_with_a_non_inferiority_margin() -> None:
    holder = Holder("1", evidence({}, scores([0.5, 0.6, 0.5, 0.6, 0.5, 0.6]), config="old"))
    slightly_worse = evidence({}, scores([0.49, 0.59, 0.49, 0.59, 0.5, 0.59]))
    assert evaluate_gates([BeatsHolderGate(metric="token_f1", margin=0.05)], slightly_worse, holder).passed
    assert not evaluate_gates([BeatsHolderGate(metric="token_f1")], slightly_worse, holder).passed
    much_worse = evidence({}, scores([0.1, 0.2, 0.1, 0.2, 0.1, 0.2]))
    assert not evaluate_gates([BeatsHolderGate(metric="token_f1", margin=0.05)], much_worse, holder).passed


def test_beats_holder_respects_lower_is_better_metrics() -> None:
    holder = Holder("1", evidence({}, scores([2.0, 2.2, 2.1, 2.0, 2.1], "latency_s"), config="old"))
    faster = evidence({}, scores([1.0, 1.1, 1.0, 1.2, 1.1], "latency_s"))
    assert evaluate_gates([BeatsHolderGate(metric="latency_s")], faster, holder).passed
    assert not evaluate_gates([BeatsHolderGate(metric="latency_s", higher_is_better=True)], faster, holder).passed


def test_beats_holder_refuses_a_different_dataset() -> None:
    holder = Holder("1", evidence({}, scores([0.1, 0.1, 0.1]), dataset="other", config="old"))
    result = evaluate_gates([BeatsHolderGate(metric="token_f1")], evidence({}, scores([0.9, 0.9, 0.9])), holder).results[0]
    assert not result.passed and "different dataset" in result.detail


def test_pairs_by_case_id_not_by_position() -> None:
    holder = evidence({}, {"m": {"a": 0.1, "b": 0.2, "c": 0.3, "x": 0.9}})
    cand = evidence({}, {"m": {"c": 0.6, "a": 0.4, "b": None}})
    base, new = paired_values(holder, cand, "m")
    assert list(zip(base, new)) == [(0.3, 0.6), (0.1, 0.4)]


def test_evidence_from_a_variant_table_keeps_numeric_score_columns() -> None:
    table = pd.DataFrame({
        "case_id": ["q1", "q2"], "question": ["a", "b"], "answer": ["x", "y"], "retrieved_ids": [["d"], ["e"]],
        "token_f1": [0.5, float("nan")], "hit_at_k": [1.0, 0.0], "error": [None, None],
    })
    ev = Evidence.from_table("r", {"token_f1": 0.5}, table, dataset_hash="d", config_hash="c")
    assert ev.per_question["token_f1"] == {"q1": 0.5, "q2": None}
    assert ev.per_question["hit_at_k"] == {"q1": 1.0, "q2": 0.0}
    assert "answer" not in ev.per_question and "question" not in ev.per_question


def test_report_lists_every_failed_gate() -> None:
    report = evaluate_gates([MetricGate(metric="token_f1", min=0.9), MinQuestionsGate(n=50), MetricGate(metric="hit_at_k", min=0.1)],
                            evidence({"token_f1": 0.5, "hit_at_k": 0.8, "questions": 10.0}))
    lines = report.summary().splitlines()
    assert [line.split()[0] for line in lines] == ["FAIL", "FAIL", "PASS"]
    assert [r["gate"] for r in report.as_records() if not r["passed"]] == ["token_f1 >= 0.9", "questions evaluated >= 50"]


def test_experiment_file_takes_a_promotion_section(tmp_path: Path) -> None:
    text = """name: x
dataset: {path: d.jsonl}
corpus: {builtin: python-reference}
prompts: [{name: p, template: "{context} {question}"}]
models: [{id: "local:gemma3-270m"}]
chunkers: [{strategy: recursive}]
promotion:
  require_staging: false
  gates:
    - {kind: metric, metric: token_f1, min: 0.3}
    - {kind: beats_holder, metric: token_f1, margin: 0.02}
"""
    (tmp_path / "x.yaml").write_text(text)
    spec = load_experiment(tmp_path / "x.yaml")
    assert spec.promotion == PromotionSpec(require_staging=False, gates=(MetricGate(metric="token_f1", min=0.3),
                                                                         BeatsHolderGate(metric="token_f1", margin=0.02)))
    (tmp_path / "bad.yaml").write_text(text.replace("kind: metric, metric: token_f1, min: 0.3", "kind: metric, metric: token_f1"))
    with pytest.raises(SpecError, match=r"bad\.yaml:\d+: .*needs 'min' or 'max'"):
        load_experiment(tmp_path / "bad.yaml")
    (tmp_path / "bad2.yaml").write_text(text.replace("kind: metric,", "kind: metrik,"))
    with pytest.raises(SpecError, match=r"bad2\.yaml:\d+: promotion\.gates\[0\]"):
        load_experiment(tmp_path / "bad2.yaml")


def test_gate_details_show_costs_too_small_for_three_decimals() -> None:
    holder = Holder("1", evidence({}, scores([3.1e-4, 3.0e-4, 3.2e-4, 3.0e-4, 3.1e-4], "cost_usd"), config="old"))
    cheaper = evaluate_gates([BeatsHolderGate(metric="cost_usd")], evidence({}, scores([2.1e-4, 2.0e-4, 2.2e-4, 2.0e-4, 2.1e-4], "cost_usd")),
                             holder).results[0]
    assert cheaper.passed and "difference -1.00e-04 [-1.00e-04, -1.00e-04] over 5" in cheaper.detail  # was -0.000 [-0.000, -0.000]
    assert "0.000" not in cheaper.detail
    tiny = evaluate_gates([MaxCostGate(usd=1e-9)], evidence({"cost_per_question_usd": 3e-8})).results[0]
    assert not tiny.passed and tiny.detail == "$3e-08 per answer is above $1e-09"  # was $0.000000 per answer
    assert evaluate_gates([MaxCostGate(usd=0.01)], evidence({"cost_per_question_usd": 0.002})).results[0].detail == "$0.002 per answer"


def test_beats_holder_on_three_questions_is_not_enough_even_with_a_margin() -> None:
    holder = Holder("1", evidence({}, scores([0.2, 0.3, 0.25]), config="old"))
    for gate in (BeatsHolderGate(metric="token_f1"), BeatsHolderGate(metric="token_f1", margin=0.05)):
        result = evaluate_gates([gate], evidence({}, scores([0.8, 0.9, 0.85])), holder).results[0]
        assert not result.passed and result.detail == "only 3 questions scored by both runs — not enough to compare at 0.95 confidence"


def test_a_cost_per_success_gate_on_a_run_where_nothing_succeeded_says_so() -> None:
    gate = MetricGate(metric="cost_per_success_usd", max=0.01)
    # the sweep logs cost_per_success_usd only when it is finite: the gate asked to add a scorer the run already has
    nothing = evaluate_gates([gate], evidence({"questions": 8.0, "cost_usd": 0.004, "token_f1": 0.1})).results[0]
    assert not nothing.passed and nothing.detail == "no answer of run run reached token_f1 >= 0.5, so its cost per successful answer is infinite"
    unpriced = evaluate_gates([gate], evidence({"questions": 8.0, "token_f1": 0.1})).results[0]
    assert not unpriced.passed and "was not logged" in unpriced.detail


def test_a_metric_gate_on_a_misspelt_metric_names_the_logged_one_it_resembles() -> None:
    # gates.yaml's 'token_f2' failed as "was not logged for run X — add its scorer to the experiment and re-run",
    # a scorer no experiment has; `workbench gate --metric token_f2` says "did you mean 'token_f1'?"
    ev = evidence({"token_f1": 0.9, "hit_at_k": 1.0, "questions": 8.0})
    typo, judged = evaluate_gates([MetricGate(metric="token_f2", min=0.5), MetricGate(metric="faithfulness", min=0.5)], ev).results
    assert not typo.passed and typo.detail == ("metric 'token_f2' was not logged for run run — did you mean 'token_f1'? (a metric "
                                               "of another scorer: add it to the experiment and re-run)")
    assert not judged.passed and judged.detail == "metric 'faithfulness' was not logged for run run — add its scorer to the experiment and re-run"


def test_a_gate_on_a_metric_no_run_logs_is_found_before_any_gate_is_judged() -> None:
    # a gates file's 'token_f11' was a failed gate that --reason overrode, where the same typo in an experiment's
    # promotion.gates is refused as it loads: named here, with what it most likely means
    from workbench.promotion import unknown_gate_metrics

    ev = evidence({"token_f1": 0.9, "questions": 8.0, "my_score": 0.5}, scores([1.0, 0.5], "token_f1"))
    gates = [MinQuestionsGate(n=1), MetricGate(metric="token_f11", min=0.3), BeatsHolderGate(metric="tokn_f1"),
             MaxFailedRateGate(scorer="faithfullness", rate=0.1), MetricGate(metric="my_scor", min=0.1)]
    found = unknown_gate_metrics(gates, ev)
    assert [(i, field) for i, field, _ in found] == [(1, "metric"), (2, "metric"), (3, "scorer"), (4, "metric")]
    assert found[0][2].startswith("unknown metric 'token_f11' — did you mean 'token_f1'? (run run logs: ")
    assert "did you mean 'faithfulness'?" in found[2][2] and "did you mean 'my_score'?" in found[3][2]
    # known names the run did not log are the gates' to fail (add the scorer, a price); the run's own scorers pass
    known = [MetricGate(metric="faithfulness", min=0.5), MetricGate(metric="cost_usd", max=1.0), MetricGate(metric="my_score", min=0.1),
             MetricGate(metric="token_f1_errors", max=0.0), MetricGate(metric="tokens_gemma", max=9.0), MetricGate(metric="metadata.year", min=1),
             BeatsHolderGate(metric="latency_s"), MaxFailedRateGate(scorer="token_f1_errors", rate=0.1)]
    assert unknown_gate_metrics(known, ev) == []


def test_the_refusal_of_a_gate_on_an_unknown_metric_keeps_its_place_when_pickled() -> None:
    import pickle

    from workbench.promotion import GateMetricUnknown

    again = pickle.loads(pickle.dumps(GateMetricUnknown(1, "metric", "unknown metric 'token_f11'")))
    assert (str(again), again.gate, again.field) == ("gates[1].metric: unknown metric 'token_f11'", 1, "metric")


def test_every_question_answered_says_what_to_fix_before_a_re_run_that_would_fail_again() -> None:
    # questions past the model's context window fail on every run: the gate said only "run the experiment again"
    from workbench.models import CONTEXT_ADVICE
    from workbench.spec import MinQuestionsGate

    table = pd.DataFrame({"case_id": ["q0", "q1", "q2"], "token_f1": [0.5, None, 0.7],
                          "error": [None, f"WindowExceeded: local:smollm2-135m-instruct: Requested tokens (7645) exceed context window "
                                          f"of 2048 — raise the model's context_window, or {CONTEXT_ADVICE}", None]})
    candidate = Evidence.from_table("run", {"questions": 3.0, "question_errors": 1.0, "token_f1": 0.6}, table, dataset_hash="d1",
                                    config_hash="c1")
    answered = evaluate_gates([MinQuestionsGate(n=1)], candidate).results[-1]
    assert (answered.label, answered.passed) == ("every question answered", False)
    assert answered.detail == (f"1 of 3 questions failed, so its scores leave them out — a re-run fails them the same way: {CONTEXT_ADVICE}, "
                               "then run the experiment again (only those questions are retried) and promote the new run")
    timed_out = Evidence.from_table("run", {"questions": 3.0, "question_errors": 1.0, "token_f1": 0.6},
                                    table.assign(error=[None, "TimeoutError: the model timed out", None]), dataset_hash="d1", config_hash="c1")
    assert evaluate_gates([MinQuestionsGate(n=1)], timed_out).results[-1].detail == (
        "1 of 3 questions failed, so its scores leave them out — run the experiment again (only those questions are retried) and "
        "promote the new run")
