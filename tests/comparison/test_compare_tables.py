"""wb.compare over per-question tables given as DataFrames: pairing, baselines, verdicts, reports, diffs, gates, plots."""

from __future__ import annotations

import html
import json
import math

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench.metrics import COST_PER_SUCCESS
from workbench.comparison._render import short_names
from workbench.errors import DataError, WorkbenchError


def table(n: int, f1: list[float], *, cost: float | None = 0.001, latency: float = 0.5, retrieved=None, relevant=None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    ids = [f"q{i:02d}" for i in range(n)]
    return pd.DataFrame({
        "case_id": ids,
        "category": ["answerable"] * n,
        "question": [f"question {i}?" for i in range(n)],
        "reference": [f"reference {i}" for i in range(n)],
        "answer": [f"answer {i} scoring {v:.2f}" for i, v in enumerate(f1)],
        "relevant_ids": relevant or [["doc-a"]] * n,
        "retrieved_ids": retrieved or [["doc-a", "doc-b"]] * n,
        "contexts": [[f"context {i}"] for i in range(n)],
        "latency_s": [latency + 0.01 * (i % 3) for i in range(n)],
        "input_tokens": [100] * n,
        "output_tokens": [20] * n,
        "cost_usd": [cost] * n,
        "error": [None] * n,
        "token_f1": f1,
        "hit_at_k": [1.0] * n,
    })


BASE_F1 = np.random.default_rng(5).uniform(0.3, 0.7, size=30).round(3).tolist()


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    return {
        "base": table(30, BASE_F1),
        "same": table(30, list(BASE_F1)),
        "better": table(30, [min(1.0, v + 0.2) for v in BASE_F1], latency=0.9),
        "worse": table(30, [max(0.0, v - 0.25) for v in BASE_F1], cost=0.002),
    }


def test_verdicts_per_metric_respect_direction(tables) -> None:  # type: ignore[no-untyped-def]
    report = wb.compare(tables)
    assert report.baseline == "base"
    assert report.verdict("same", "token_f1") == "no detectable difference"
    assert report.verdict("better", "token_f1") == "better"
    assert report.verdict("worse", "token_f1") == "worse"
    assert report.verdict("better", "latency_s") == "worse"  # slower is worse
    assert report.verdict("worse", "cost_usd") == "worse"  # dearer is worse
    assert report.verdict("better", "hit_at_k") == "no detectable difference"
    assert report.row("base", "token_f1")["verdict"] == "baseline"
    row = report.row("better", "token_f1")
    assert row["diff"] == pytest.approx(np.mean([min(1.0, v + 0.2) - v for v in BASE_F1]))
    assert row["diff_low"] > 0 and row["n_paired"] == 30
    assert row["mean_low"] <= row["mean"] <= row["mean_high"]
    assert set(report.table["variant"]) == set(tables)
    assert list(report.metrics[:2]) == ["token_f1", "hit_at_k"]
    assert {"latency_s", "output_tokens", "cost_usd", COST_PER_SUCCESS} <= set(report.metrics)


def test_cost_per_success_is_compared_when_costs_are_known(tables) -> None:  # type: ignore[no-untyped-def]
    report = wb.compare(tables, metrics=[COST_PER_SUCCESS])
    base = report.row("base", COST_PER_SUCCESS)
    successes = sum(1 for v in BASE_F1 if v >= 0.5)
    assert base["mean"] == pytest.approx(0.001 * 30 / successes)
    assert report.row("worse", COST_PER_SUCCESS)["mean"] == math.inf  # no answer reaches 0.5
    assert report.verdict("worse", COST_PER_SUCCESS) == "worse"
    logged = {r["variant"]: r for r in json.loads(json.dumps(report.to_dict(), allow_nan=False))["rows"]}
    assert logged["worse"]["mean"] == "Infinity" and float(logged["worse"]["mean"]) == math.inf  # was null: no value at all
    assert logged["base"]["diff"] is None and logged["base"]["mean"] == pytest.approx(base["mean"])  # the baseline has no diff
    stricter = wb.compare(tables, metrics=[COST_PER_SUCCESS], success_threshold=0.3)
    assert stricter.row("base", COST_PER_SUCCESS)["mean"] == pytest.approx(0.001)
    unpriced = {k: v.assign(cost_usd=None) for k, v in tables.items()}
    assert COST_PER_SUCCESS not in wb.compare(unpriced).metrics
    with pytest.raises(WorkbenchError, match="cost_per_success_usd"):
        wb.compare(unpriced, metrics=[COST_PER_SUCCESS])


def test_cost_per_success_is_left_out_by_default_when_no_variant_spent_anything(tables) -> None:  # type: ignore[no-untyped-def]
    # local models cost nothing: every cost per success was 0 or undefined (no success in a resample, 0/0), and the
    # report read "0.000 [-inf, inf]" against the baseline, a row of noise in every comparison of free models
    free = {k: v.assign(cost_usd=0.0) for k, v in tables.items()}
    report = wb.compare(free)
    assert "cost_usd" in report.metrics and COST_PER_SUCCESS not in report.metrics
    assert "-inf" not in str(report)
    assert COST_PER_SUCCESS in wb.compare(free, metrics=[COST_PER_SUCCESS]).metrics  # asked for, it is still given


def test_pairing_uses_only_questions_both_variants_scored(tables) -> None:  # type: ignore[no-untyped-def]
    partial = tables["better"].iloc[:20].copy()
    partial.loc[partial.index[:5], "token_f1"] = None  # five questions not scored
    report = wb.compare({"base": tables["base"], "partial": partial}, metrics=["token_f1"])
    row = report.row("partial", "token_f1")
    assert row["n"] == 15 and row["n_paired"] == 15
    expected = np.mean([min(1.0, v + 0.2) - v for v in BASE_F1[5:20]])
    assert row["diff"] == pytest.approx(expected)
    shuffled = tables["better"].sample(frac=1.0, random_state=1)  # row order does not matter: pairs are by case_id
    again = wb.compare({"base": tables["base"], "better": shuffled}, metrics=["token_f1"])
    assert again.row("better", "token_f1")["diff"] == pytest.approx(np.mean([min(1.0, v + 0.2) - v for v in BASE_F1]))


def test_a_case_id_pairs_two_answers_only_when_they_answer_the_same_question(tables) -> None:  # type: ignore[no-untyped-def]
    # another dataset: the same ids (numbered by line), its first ten questions in another order
    moved = tables["better"].copy()
    moved.loc[moved.index[:10], "question"] = moved["question"].iloc[:10].iloc[::-1].to_numpy()
    row = wb.compare({"base": tables["base"], "moved": moved}, metrics=["token_f1"]).row("moved", "token_f1")
    assert row["n"] == 30 and row["n_paired"] == 20
    assert row["diff"] == pytest.approx(np.mean([min(1.0, v + 0.2) - v for v in BASE_F1[10:]]))
    every = wb.diff_questions({"base": tables["base"], "moved": moved}, "base", "moved", only_flips=False)
    assert list(every["case_id"]) == [f"q{i:02d}" for i in range(10, 30)]  # unrelated answers are not shown as flips
    assert (every["question"] == moved["question"].iloc[10:].to_numpy()).all()


def test_a_question_pairs_only_with_the_same_reference_and_labelled_sources(tables) -> None:  # type: ignore[no-untyped-def]
    # a team fixed five references (set to what the variant answers) and relabelled two questions' sources, then compared
    # the new sweep with the old: the same variant read 'better' on token_f1, its differences scored against other answers
    fixed = tables["same"].copy()
    fixed.loc[fixed.index[:5], "reference"] = [f"answer {i} scoring {v:.2f}" for i, v in enumerate(BASE_F1[:5])]
    fixed.loc[fixed.index[:5], "token_f1"] = 1.0
    fixed["relevant_ids"] = [["doc-b"] if i in (5, 6) else ["doc-a"] for i in range(30)]
    report = wb.compare({"old": tables["base"], "fixed": fixed}, metrics=["token_f1"])
    row = report.row("fixed", "token_f1")
    assert row["n_paired"] == 23 and row["diff"] == pytest.approx(0.0)  # the 23 questions labelled alike
    assert ("fixed: asked 30 questions, the baseline 30, 23 of them the baseline's — means are over each one's own questions, "
            "differences over the 23 both asked") in report.summary().splitlines()
    listed = fixed.assign(relevant_ids=[list(reversed(ids)) + ids for ids in fixed["relevant_ids"]])  # order and repeats aside
    assert wb.compare({"fixed": fixed, "listed": listed}, metrics=["token_f1"]).row("listed", "token_f1")["n_paired"] == 30
    unanswerable = fixed.assign(reference=None)  # questions to refuse: no reference, None in memory and NaN read back
    read_back = unanswerable.assign(reference=float("nan"))
    assert wb.compare({"memory": unanswerable, "store": read_back}, metrics=["token_f1"]).row("store", "token_f1")["n_paired"] == 30


def test_runs_of_one_dataset_logged_before_its_default_ids_changed_pair_by_question(tables) -> None:  # type: ignore[no-untyped-def]
    # a dataset without ids got 'questions-1', 'questions-2'... from an older workbench, and 'case-1'... now: the
    # team's production run, given as the baseline, paired on no question ("not enough data", n=0)
    old = tables["base"].assign(case_id=[f"questions-{i + 1}" for i in range(30)])
    new = tables["better"].assign(case_id=[f"case-{i + 1}" for i in range(30)]).sample(frac=1.0, random_state=2)
    row = wb.compare({"old": old, "new": new}, metrics=["token_f1"]).row("new", "token_f1")
    assert row["n_paired"] == 30 and row["verdict"] == "better"
    assert row["diff"] == pytest.approx(np.mean([min(1.0, v + 0.2) - v for v in BASE_F1]))
    flips = wb.diff_questions({"old": old, "new": new}, "old", "new", only_flips=False)
    assert len(flips) == 30 and (flips["question"] == flips["case_id"].map(dict(zip(old["case_id"], old["question"])))).all()
    asked_twice = new.assign(question=new["question"].where(new["case_id"] != "case-2", "question 0?"))
    row = wb.compare({"old": old, "new": asked_twice}, metrics=["token_f1"]).row("new", "token_f1")
    assert row["n_paired"] == 28  # 'question 0?' twice is ambiguous, and 'question 1?' is no longer asked


def test_a_report_says_when_variants_asked_other_questions_than_the_baseline(tables) -> None:  # type: ignore[no-untyped-def]
    # a baseline from a sweep of 30 questions against variants of a sweep limited to 10: the means of 30 and of 10
    # questions sat side by side, and n_paired alone said the differences were over 10
    elsewhere = table(5, [0.0] * 5).assign(case_id=[f"other-{i}" for i in range(5)], question=[f"another question {i}?" for i in range(5)])
    report = wb.compare({"base": tables["base"], "short": tables["same"].head(10), "shorter": tables["worse"].head(10)}, metrics="token_f1")
    said = ("every other variant: asked 10 questions, the baseline 30, 10 of them the baseline's — means are over each one's own "
            "questions, differences over the 10 both asked")
    assert said in report.summary().splitlines() and html.escape(said) in report._repr_html_()
    mixed = wb.compare({"base": tables["base"], "same": tables["same"], "short": tables["same"].head(10), "elsewhere": elsewhere},
                       metrics="token_f1").summary().splitlines()
    assert mixed[-2:] == [
        "short: asked 10 questions, the baseline 30, 10 of them the baseline's — means are over each one's own questions, "
        "differences over the 10 both asked",
        "elsewhere: asked none of the baseline's 30 questions (5 others: another dataset?), so there is no difference to compute "
        "— compare against a baseline evaluated on the same questions",
    ]
    assert not any("asked" in line for line in wb.compare(tables, metrics="token_f1").summary().splitlines())  # the same questions


def test_a_report_of_many_variants_says_its_intervals_are_not_corrected_for_picking_the_best(tables) -> None:  # type: ignore[no-untyped-def]
    # 40 variants against one baseline at 95%: two "better" verdicts are expected by chance, and nothing said so
    many = wb.compare({"base": tables["base"], **{f"v{i}": tables["same"] for i in range(40)}}, metrics="token_f1")
    said = ("Each interval is 95% for one comparison, not corrected for 40 of them or for picking the best: were no variant truly "
            "different from the baseline, about 2 per metric would still read better or worse by chance — confirm a winner on "
            "fresh questions.")
    assert many.summary().splitlines()[2] == said
    assert said in many.to_markdown().splitlines() and html.escape(said) in many._repr_html_()
    few = wb.compare({"base": tables["base"], "same": tables["same"], "better": tables["better"]}, metrics="token_f1")
    assert "not corrected" not in few.summary() + few.to_markdown() + few._repr_html_()  # two comparisons: a plain reading


def test_a_grid_of_many_variants_reads_in_a_100_column_terminal(tables) -> None:  # type: ignore[no-untyped-def]
    # 40 variants of a prompt x k grid: every row repeated the model and chunker all of them share, in columns sized for
    # the widest cost, and a racing stop's whole interval: 150 columns and more
    from dataclasses import replace

    from workbench.results import EarlyStop

    names = [f"p{p}|gemma3-270m|recursive-800/80|k{k}-similarity" for p in range(10) for k in (1, 2, 3, 4)]
    report = wb.compare({name: tables["same" if i else "base"] for i, name in enumerate(names)}, metrics=["token_f1", "latency_s"])
    stop = EarlyStop("token_f1", 8, names[0], -0.25, -0.31, -0.2)
    report = replace(report, variants=tuple(replace(v, stopped_early=stop) if v.name == names[-1] else v for v in report.variants))
    report = replace(report, table=report.table.assign(stopped_early=[stop.label if v == names[-1] else None for v in report.table["variant"]]))
    lines = report.summary().splitlines()
    assert "Names below leave out what every variant shares: gemma3-270m|recursive-800/80" in lines
    rows = [line for line in lines if line.startswith("  ") and not line.startswith("  variant ")]
    assert len(rows) == 80 and max(len(line) for line in rows[:39]) <= 100  # costs and latencies in e-notation are wider
    assert rows[1].split()[:5] == ["p0|k2-similarity", *interval_text_parts(report.row(names[1], "token_f1"))]
    assert rows[39].endswith("  (stopped early after 8 questions)")
    assert lines[lines.index("token_f1 (higher is better)") + 1].split() == ["variant", "mean", "[95%", "CI]", "n", "vs", "baseline",
                                                                              "[95%", "CI]", "n", "verdict"]
    assert f"{names[-1]}: stopped early by racing {stop.label}" in lines  # the whole interval, once
    # names shorter than the header's 'variant' stay under it (the columns after them slid left of their headers)
    short = wb.compare({"a": tables["base"], "b": tables["same"]}, metrics="token_f1").summary().splitlines()
    header = short.index("token_f1 (higher is better)") + 1
    assert {line.index("0.") for line in short[header + 1:header + 3]} == {short[header].index("mean [")}
    # names of other shapes are kept whole; so are those that share nothing
    assert short_names(["a|b", "a|c|d"]) == ({"a|b": "a|b", "a|c|d": "a|c|d"}, "")
    assert short_names(["a|b", "c|d"]) == ({"a|b": "a|b", "c|d": "c|d"}, "")
    assert short_names(["base", "better"]) == ({"base": "base", "better": "better"}, "")
    assert short_names(["x|m|k1", "x|m|k2 (run 0fae6367)"]) == ({"x|m|k1": "k1", "x|m|k2 (run 0fae6367)": "k2 (run 0fae6367)"}, "x|m")
    # a baseline from another sweep keeps its label, which is not a part in which the names differ
    outside = "p0|g|r|k1 (models:/rag@production)"
    assert short_names(["p0|g|r|k1", "p1|g|r|k1", outside]) == ({"p0|g|r|k1": "p0", "p1|g|r|k1": "p1", outside: "p0 (models:/rag@production)"}, "g|r|k1")
    assert short_names(["p0|g|k1 (run 0fae6367)", "p0|g|k2"]) == ({"p0|g|k1 (run 0fae6367)": "k1 (run 0fae6367)", "p0|g|k2": "k2"}, "p0|g")


def interval_text_parts(row) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{row['mean']:.3f}", f"[{row['mean_low']:.3f},", f"{row['mean_high']:.3f}]", str(row["n"])]


def test_tables_pair_by_case_id_whatever_its_type_and_refuse_a_question_twice(tables) -> None:  # type: ignore[no-untyped-def]
    numbered = {name: t.assign(case_id=range(30)) for name, t in tables.items()}
    numbered["better"] = numbered["better"].assign(case_id=[str(i) for i in range(30)])  # 7 and "7" are one question
    row = wb.compare(numbered, metrics="token_f1").row("better", "token_f1")  # one name is one metric
    assert row["n_paired"] == 30 and row["verdict"] == "better"
    doubled = pd.concat([tables["worse"], tables["worse"].iloc[[3]]])
    with pytest.raises(DataError, match=r"table 'worse': case_id 'q03' is on 2 rows — one row per question"):
        wb.compare({"base": tables["base"], "worse": doubled})
    with pytest.raises(WorkbenchError, match="metrics is empty — name at least one, or leave it out for all: token_f1"):
        wb.compare(tables, metrics=[])


def test_baseline_choice_and_determinism(tables) -> None:  # type: ignore[no-untyped-def]
    report = wb.compare(tables, baseline="better", metrics=["token_f1"], seed=9)
    assert report.baseline == "better" and report.variants[0].name == "better"
    assert report.verdict("base", "token_f1") == "worse"
    again = wb.compare(tables, baseline="better", metrics=["token_f1"], seed=9)
    pd.testing.assert_frame_equal(report.table, again.table)
    other = wb.compare(tables, baseline="better", metrics=["token_f1"], seed=10)
    assert not report.table["mean_low"].equals(other.table["mean_low"])
    with pytest.raises(WorkbenchError, match="no variant 'nope'"):
        wb.compare(tables, baseline="nope")
    # the first variant by its position: a TypeError from str.startswith deep inside
    with pytest.raises(WorkbenchError, match=r"a variant is given by its name, id or run id, not by a int \(0\) — variants: base; "):
        wb.compare(tables, baseline=0)  # type: ignore[arg-type]
    with pytest.raises(WorkbenchError, match="metric 'faithfulness' is not in the results"):
        wb.compare(tables, metrics=["faithfulness"])
    with pytest.raises(WorkbenchError, match="cannot compare"):
        wb.compare(42)  # type: ignore[arg-type]


def test_summary_html_and_json_are_readable(tables) -> None:  # type: ignore[no-untyped-def]
    report = wb.compare(tables, metrics=["token_f1", "latency_s", COST_PER_SUCCESS])
    text = report.summary()
    assert "Baseline: base" in text and "token_f1 (higher is better)" in text and "latency_s (lower is better)" in text
    assert text.count("worse") >= 2 and "better" in text
    html = report._repr_html_()
    assert "<table>" in html and "no detectable difference" in html
    payload = report.to_dict()
    json.dumps(payload, allow_nan=False)  # NaN became null
    assert payload["baseline"] == "base" and len(payload["rows"]) == 3 * 4
    assert {r["verdict"] for r in payload["rows"] if r["variant"] == "base"} == {"baseline"}


@pytest.mark.parametrize(("confidence", "shown"), [(0.995, "99.5%"), (0.999, "99.9%"), (0.975, "97.5%"), (0.9, "90%")])
def test_the_report_states_the_confidence_it_used(tables, confidence: float, shown: str) -> None:  # type: ignore[no-untyped-def]
    report = wb.compare(tables, metrics="token_f1", confidence=confidence)
    assert f"{shown} bootstrap intervals" in report.summary()  # 0.995 read '100%': an interval claiming certainty
    assert f"{shown} bootstrap intervals" in report._repr_html_()


def test_question_diff_lists_flips_side_by_side(tables) -> None:  # type: ignore[no-untyped-def]
    flips = wb.diff_questions(tables, "base", "better", metric="token_f1", threshold=0.5)
    crossed = [i for i, v in enumerate(BASE_F1) if v < 0.5 <= min(1.0, v + 0.2)]
    assert list(flips["case_id"]) == [f"q{i:02d}" for i in crossed]
    assert set(flips["change"]) == {"gained"}
    assert {"answer_a", "answer_b", "retrieved_ids_a", "retrieved_ids_b", "contexts_a", "contexts_b", "token_f1_a", "token_f1_b"} <= set(flips.columns)
    assert (flips["token_f1_a"] < 0.5).all() and (flips["token_f1_b"] >= 0.5).all()
    assert flips.attrs["a"] == "base" and flips.attrs["b"] == "better"
    lost = wb.compare(tables).diff(None, "worse")
    assert set(lost["change"]) == {"lost"}
    everything = wb.diff_questions(tables, None, "same", only_flips=False)
    assert len(everything) == 30 and set(everything["change"]) == {"unchanged"}
    with pytest.raises(WorkbenchError, match="faithfulness"):
        wb.diff_questions(tables, "base", "better", metric="faithfulness")


def test_a_question_that_errored_in_one_variant_is_a_flip(tables) -> None:  # type: ignore[no-untyped-def]
    # a question answered well by base and failing with an error in the other variant was "not scored", so
    # only_flips left out the very questions a model broke on
    def erring(frame: pd.DataFrame, cases: list[int]) -> pd.DataFrame:
        error = frame["error"].astype(object).copy()
        error.iloc[cases] = "TimeoutError: the model did not answer in 60 s"
        return frame.assign(error=error, token_f1=frame["token_f1"].where(error.isna()))

    passed = [i for i, v in enumerate(BASE_F1) if v >= 0.5][:2]
    failed = [i for i, v in enumerate(BASE_F1) if v < 0.5][0]
    broken = erring(tables["same"], [*passed, failed])
    lost = wb.diff_questions({"base": tables["base"], "broken": broken}, "base", "broken", threshold=0.5)
    assert list(lost["case_id"]) == [f"q{i:02d}" for i in sorted(passed)] and set(lost["change"]) == {"lost"}
    gained = wb.diff_questions({"broken": broken, "base": tables["base"]}, "broken", "base", threshold=0.5)
    assert set(gained["change"]) == {"gained"} and len(gained) == 2
    both = wb.diff_questions({"broken": broken, "again": broken}, "broken", "again", threshold=0.5, only_flips=False)
    assert set(both.set_index("case_id").loc[[f"q{i:02d}" for i in passed], "change"]) == {"not scored"}


def test_gate_reports_every_failure(tables) -> None:  # type: ignore[no-untyped-def]
    report = wb.compare(tables, metrics=["token_f1", "latency_s"])
    assert report.gate(["token_f1"], minimum=0.0) == ()
    failures = report.gate(["token_f1"], minimum=0.45, no_worse=True)
    messages = [str(f) for f in failures]
    assert any(m.startswith("FAIL worse: token_f1 mean") and "below the minimum 0.45" in m for m in messages)
    assert any("worse: token_f1 is worse than baseline 'base'" in m for m in messages)
    assert not any(m.startswith("FAIL better") and "token_f1" in m for m in messages)
    slow = report.gate(["latency_s"], maximum=0.6)
    assert [f.variant for f in slow] == ["better"]
    assert report.gate("latency_s", maximum=0.6) == slow  # one name is one metric ('metric 'l' is not in the results')
    with pytest.raises(WorkbenchError, match="faithfulness"):
        report.gate(["faithfulness"], minimum=0.5)
    with pytest.raises(WorkbenchError, match="gate minimum nan is not a finite number"):
        report.gate(["token_f1"], minimum=float("nan"))  # NaN compares false both ways: it would pass every variant
    with pytest.raises(WorkbenchError, match="gate minimum 0.6 is above maximum 0.4: no variant could pass"):
        report.gate(["token_f1"], minimum=0.6, maximum=0.4)


def test_a_no_worse_gate_fails_a_variant_that_shares_no_question_with_the_baseline(tables) -> None:  # type: ignore[no-untyped-def]
    elsewhere = table(30, [0.0] * 30).assign(  # another dataset's questions
        case_id=[f"other-{i}" for i in range(30)], question=[f"another question {i}?" for i in range(30)]
    )
    report = wb.compare({"base": tables["base"], "same": tables["same"], "elsewhere": elsewhere}, metrics="token_f1")
    assert report.row("elsewhere", "token_f1")["n_paired"] == 0
    failures = report.gate("token_f1", no_worse=True)  # it passed: nothing said it was worse, since nothing was compared
    assert [str(f) for f in failures] == [
        "FAIL elsewhere: token_f1 shares no scored question with baseline 'base', so it cannot be compared — give a baseline "
        "evaluated on the same dataset"
    ]
    assert report.gate("token_f1", minimum=0.0) == ()  # a threshold alone needs no baseline



def test_a_no_worse_gate_fails_a_variant_sharing_too_few_questions_with_the_baseline_for_an_interval(tables) -> None:  # type: ignore[no-untyped-def]
    # 3 paired questions: the "interval" is only their range, the verdict "not enough data", and the gate passed it as no worse
    few = wb.compare({"base": tables["base"].head(3), "worse": tables["worse"].head(3)}, metrics="token_f1")
    assert few.verdict("worse", "token_f1") == "not enough data"
    assert [str(f) for f in few.gate("token_f1", no_worse=True)] == [
        "FAIL worse: token_f1 shares only 3 scored questions with baseline 'base', fewer than the 5 a 95% interval needs, so "
        "nothing says it is no worse — evaluate both on more questions"]
    assert few.gate("token_f1", minimum=0.0) == ()  # a threshold alone needs no interval
    enough = wb.compare({"base": tables["base"].head(5), "same": tables["same"].head(5)}, metrics="token_f1")
    assert enough.gate("token_f1", no_worse=True) == ()


def test_a_gate_fails_a_variant_whose_questions_failed_as_promotion_does(tables) -> None:  # type: ignore[no-untyped-def]
    # its mean leaves the failed questions out: a model that errors on the hard questions scored higher and passed
    # `workbench gate` in CI, while promotion refused the very same run ("every question answered")
    flaky = tables["base"].copy()
    hard = flaky["token_f1"].nsmallest(3).index
    flaky.loc[hard, "error"] = "APITimeoutError: timed out"
    flaky.loc[hard, "token_f1"] = None
    report = wb.compare({"base": tables["base"], "flaky": flaky}, metrics="token_f1")
    mean = sorted(BASE_F1)[3:]
    assert report.row("flaky", "token_f1")["mean"] == pytest.approx(sum(mean) / 27)
    assert report.row("flaky", "token_f1")["mean"] > report.row("base", "token_f1")["mean"]
    failures = [str(f) for f in report.gate("token_f1", minimum=0.0)]
    assert failures == ["FAIL flaky: 3 of 30 questions failed, so its scores leave them out — run the experiment again (only "
                        "those questions are retried)"]


def test_a_gate_fails_a_variant_racing_stopped_early_as_promotion_refuses_it(tables) -> None:  # type: ignore[no-untyped-def]
    # racing asked it 8 of 30 questions: a gate passed it on the mean of those 8, a hopeless variant included
    from dataclasses import replace

    from workbench.results import EarlyStop

    stop = EarlyStop("token_f1", 8, "base", -0.25, -0.31, -0.2)
    report = wb.compare({"base": tables["base"], "same": tables["same"], "stopped": tables["worse"].head(8)}, metrics="token_f1")
    assert report.gate("token_f1", minimum=0.0) == ()
    raced = replace(report, variants=tuple(replace(v, stopped_early=stop) if v.name == "stopped" else v for v in report.variants))
    failures = [str(f) for f in raced.gate("token_f1", minimum=0.0)]
    assert failures == [f"FAIL stopped: was stopped early by racing {stop.label}, so its scores rest on those questions alone — run "
                        "the experiment again without racing (only its missing questions are computed)"]
    assert failures[0] in [str(f) for f in raced.gate("token_f1", no_worse=True)]  # whatever the gate checks


def test_the_mean_cost_per_question_leaves_out_the_questions_that_failed(tables) -> None:  # type: ignore[no-untyped-def]
    # a router writes cost 0 for a question both of whose calls failed (a failed call is not billed), where one model's
    # failed question has no cost: the router's mean cost per question counted its failures as free answers, so a router
    # whose calls failed read cheaper than its model alone, unlike its run's cost_per_question_usd, which leaves them out
    routed = tables["base"].copy()
    routed.loc[:2, "error"] = "RuntimeError: both calls failed"
    routed.loc[:2, ["token_f1", "cost_usd"]] = [None, 0.0]
    report = wb.compare({"base": tables["base"], "routed": routed}, metrics=["cost_usd", COST_PER_SUCCESS])
    assert report.row("routed", "cost_usd")["mean"] == pytest.approx(0.001) and report.row("routed", "cost_usd")["n"] == 27
    assert report.row("routed", "cost_usd")["verdict"] == "no detectable difference"


def test_a_gate_on_retrieval_fails_a_variant_whose_every_answer_failed(tables) -> None:  # type: ignore[no-untyped-def]
    # its retrieval scores stand (the chunks were retrieved before the model failed): `workbench gate --metric hit_at_k`
    # passed a run whose model answered nothing, as it has no answered question to be counted among the failed ones
    dead = tables["base"].assign(error="APIConnectionError: connection refused", token_f1=None, answer=None)
    report = wb.compare({"base": tables["base"], "dead": dead}, metrics="hit_at_k")
    assert report.row("dead", "hit_at_k")["mean"] == 1.0
    assert [str(f) for f in report.gate("hit_at_k", minimum=0.5)] == [
        "FAIL dead: 30 of 30 questions failed, so its scores leave them out — run the experiment again (only those questions are retried)"]

def test_a_gate_says_what_to_fix_before_a_re_run_of_questions_that_would_fail_again(tables) -> None:  # type: ignore[no-untyped-def]
    # a prompt past the model's context window fails on every run: `workbench run` said so ("a re-run fails them the same
    # way: retrieve fewer or smaller chunks ..."), then `workbench gate` told the user to run the experiment again
    from workbench.models import CONTEXT_ADVICE

    long = tables["base"].copy()
    long.loc[:1, "error"] = (f"WindowExceeded: local:smollm2-135m-instruct: Requested tokens (7645) exceed context window of 2048 — "
                             f"raise the model's context_window (up to 8192 tokens, what it was trained for), or {CONTEXT_ADVICE}")
    long.loc[:1, "token_f1"] = None
    report = wb.compare({"base": tables["base"], "long": long}, metrics="token_f1")
    assert [str(f) for f in report.gate("token_f1", minimum=0.0)] == [
        f"FAIL long: 2 of 30 questions failed, so its scores leave them out — a re-run fails them the same way: {CONTEXT_ADVICE}, "
        "then run the experiment again (only those questions are retried)"]


def test_a_gate_bound_on_a_score_written_as_a_percentage_is_refused(tables) -> None:  # type: ignore[no-untyped-def]
    # workbench gate EXP --metric token_f1 --min 30: "FAIL ... mean 0.264 is below the minimum 30" for every variant
    report = wb.compare(tables, metrics=["token_f1", "latency_s"])
    with pytest.raises(WorkbenchError, match=r"^token_f1 lies between 0 and 1, so 30 reads as a percentage — write it as a fraction, 0.3$"):
        report.gate("token_f1", minimum=30)
    assert report.gate("latency_s", maximum=30) == ()


def test_check_metric_is_the_one_gate_rule() -> None:
    from workbench.comparison import Breach, check_metric

    assert check_metric(0.5, minimum=0.4, maximum=0.6) == ()
    assert check_metric(0.4, minimum=0.4) == ()  # bounds are inclusive
    assert check_metric(0.3, minimum=0.4) == (Breach("below", 0.3, 0.4),)
    assert check_metric(0.7, maximum=0.6, verdict="worse") == (Breach("above", 0.7, 0.6), Breach("worse", 0.7))
    assert check_metric(0.5, verdict="no detectable difference") == ()
    for missing in (None, float("nan")):
        (only,) = check_metric(missing, minimum=0.4, verdict="worse")
        assert only.kind == "unscored"

def test_plots_are_figures_and_save_as_png(tables, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from matplotlib.figure import Figure

    tables["other-chunker"] = table(30, BASE_F1, retrieved=[["doc-b", "doc-a"]] * 30)
    report = wb.compare(tables)
    fig = report.plot_metric_vs_cost()
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_xlabel().startswith("cost_usd")
    curves = report.retrieval_curves()
    # tables given as DataFrames carry no chunker, so each variant is its own retrieval setup
    by_setup = curves.set_index(["setup", "k"])
    assert by_setup.loc[("base", 1), "hit_at_k"] == 1.0 and by_setup.loc[("other-chunker", 1), "hit_at_k"] == 0.0
    assert by_setup.loc[("other-chunker", 2), "hit_at_k"] == 1.0
    paths = report.save_plots(tmp_path / "plots")
    assert sorted(p.name for p in paths) == ["metric_vs_cost.png", "retrieval_curves.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    free = wb.compare({k: v.assign(cost_usd=0.0) for k, v in tables.items()})
    assert free.plot_metric_vs_cost().axes[0].get_xlabel().startswith("latency_s")  # nothing costs money


def test_names_holding_dollars_are_drawn_as_written(tables, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # matplotlib reads text between two '$' as math: a model called 'openai:gpt$x^$' failed to draw every plot of the
    # comparison (and of its sweep, logged without plots), and 'cost $5 vs $10' showed '5 vs ' in italics
    odd = {"openai:gpt$x^$|k4": tables["base"], "cost $5 vs $10": tables["worse"].assign(retrieved_ids=[["doc-b", "doc-a"]] * 30)}
    report = wb.compare(odd)
    paths = report.save_plots(tmp_path / "plots")
    assert sorted(p.name for p in paths) == ["metric_vs_cost.png", "retrieval_curves.png"]
    fig = report.plot_metric_vs_cost()
    fig.canvas.draw()
    shown = [t.get_text() for t in fig.legends[0].get_texts()]
    assert shown == [r"★ openai:gpt\$x^\$|k4", r"cost \$5 vs \$10"]


def test_input_errors_are_one_line(tables) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(WorkbenchError, match="column 'case_id' is missing"):
        wb.compare({"x": tables["base"].drop(columns=["case_id"])})
    with pytest.raises(WorkbenchError, match="nothing to compare"):
        wb.compare({})
    assert math.isnan(wb.compare({"a": tables["base"]}).row("a", "token_f1")["diff"])
    for seed in (-1, 1.5, "7"):  # numpy's own error before, or a float seed taken silently
        with pytest.raises(WorkbenchError, match=rf"^seed must be a whole number >= 0, got {seed!r}$"):
            wb.compare(tables, seed=seed)  # type: ignore[arg-type]


@pytest.mark.parametrize(("column", "value"), [("token_f1", math.inf), ("latency_s", "-inf"), ("cost_usd", math.inf)])
def test_an_infinite_value_in_a_table_is_one_line_naming_it(tables, column: str, value: object) -> None:  # type: ignore[no-untyped-def]
    odd = tables["worse"].astype({column: object})
    odd.loc[4, column] = value  # e.g. a ratio metric with a zero denominator, from another tool
    # the mean was inf and the diff -inf with 'no detectable difference', whatever the other 29 questions said
    with pytest.raises(DataError, match=rf"^table 'worse': {column} is -?inf on case_id 'q04' — per-question values must be finite"):
        wb.compare({"base": tables["base"], "worse": odd}, metrics=[column, COST_PER_SUCCESS] if column == "cost_usd" else column)


def test_a_report_with_nothing_scored_says_why(tables) -> None:  # type: ignore[no-untyped-def]
    failed = {name: t.assign(error="RuntimeError: boom")[["case_id", "question", "error"]] for name, t in list(tables.items())[:2]}
    report = wb.compare(failed)
    assert report.table.empty
    expected = "Nothing to compare: no variant has a value for any metric: 60 of 60 answers failed (see the leaderboard's error column)"
    assert report.summary().endswith(expected)
    assert expected.replace("'", "&#x27;") in report._repr_html_()
    assert "Nothing to compare" not in wb.compare(tables).summary()


def test_a_gate_on_a_comparison_with_nothing_scored_fails_every_variant(tables) -> None:  # type: ignore[no-untyped-def]
    failed = {name: t.assign(error="APIConnectionError")[["case_id", "question", "error"]] for name, t in list(tables.items())[:2]}
    report = wb.compare(failed, metrics=["token_f1"])  # not "metric 'token_f1' is not in the results — available: " (none)
    assert report.summary().endswith("Nothing to compare: no variant has a value for token_f1: 60 of 60 answers failed "
                                      "(see the leaderboard's error column)")
    failures = report.gate(["token_f1"], minimum=0.3)
    assert [(f.variant, f.metric) for f in failures] == [("base", ""), ("same", ""), ("base", "token_f1"), ("same", "token_f1")]
    assert all("30 of 30 questions failed" in str(f) for f in failures[:2])
    assert all("has no scored question" in str(f) for f in failures[2:])
    every = wb.compare(failed).gate(["token_f1"], minimum=0.3)  # all metrics: none at all, and still no free pass
    assert [str(f).endswith("has no scored question (every answer failed)") for f in every] == [True, True]


def test_a_gate_on_an_answer_metric_when_every_answer_failed_fails_and_a_misspelt_metric_is_named(tables) -> None:  # type: ignore[no-untyped-def]
    # every answer failed, while the chunks were retrieved: a gate on token_f1 said "metric 'token_f1' is not in the
    # results" (a usage error, exit 2) instead of failing the variants; and "tokenf1" got no "did you mean"
    failed = {name: t.assign(error="APIConnectionError", answer=None)[["case_id", "question", "answer", "error", "hit_at_k"]]
              for name, t in list(tables.items())[:2]}
    report = wb.compare(failed)
    assert "hit_at_k" in report.metrics and "token_f1" not in report.metrics
    failures = report.gate(["token_f1"], minimum=0.3)
    assert [(f.variant, f.metric) for f in failures] == [("base", ""), ("same", ""), ("base", "token_f1"), ("same", "token_f1")]
    assert all(str(f).endswith("has no scored question (every answer failed)") for f in failures[2:])
    with pytest.raises(WorkbenchError, match="^metric 'no_such_metric' is not in the results — available: "):
        report.gate(["no_such_metric"], minimum=0.3)  # not a scorer: still a usage error
    named = wb.compare(failed, metrics=["token_f1"])  # as `workbench gate --metric token_f1` asks: not a usage error
    assert [f.metric for f in named.gate(["token_f1"], minimum=0.3)] == ["", "", "token_f1", "token_f1"]
    with pytest.raises(WorkbenchError, match=r"^metric 'tokenf1' is not in the results — did you mean 'token_f1'\? — available: "):
        wb.compare(tables).gate(["tokenf1"], minimum=0.3)


def test_a_custom_scorer_registered_lower_is_better_is_compared_that_way(tables) -> None:  # type: ignore[no-untyped-def]
    from workbench.metrics import direction

    @wb.scorer("test_made_up_claims", default=False, lower_is_better=True)
    def made_up_claims(env):  # type: ignore[no-untyped-def]
        return lambda ctx: wb.Score(0.0)

    fewer = {name: t.assign(test_made_up_claims=t["token_f1"]) for name, t in tables.items()}  # "worse" has the fewest
    report = wb.compare(fewer, metrics=["test_made_up_claims"])
    assert direction("test_made_up_claims") == "lower"
    assert report.row("worse", "test_made_up_claims")["verdict"] == "better"
    assert report.row("better", "test_made_up_claims")["verdict"] == "worse"
    assert report.gate(["test_made_up_claims"], maximum=0.6) and not report.gate(["test_made_up_claims"], maximum=0.9)

    @wb.scorer("test_made_up_claims", default=False)  # registered again without the flag: higher is better again
    def made_up_claims_again(env):  # type: ignore[no-untyped-def]
        return lambda ctx: wb.Score(0.0)

    assert direction("test_made_up_claims") == "higher"


def test_a_router_is_paired_with_a_model_alone_only_on_the_same_questions() -> None:
    from workbench.comparison import VariantTable
    from workbench.comparison._routing import routing_table

    def frame(questions: list[str], f1: list[float], cost: float) -> pd.DataFrame:
        return pd.DataFrame({"case_id": [str(i) for i in range(len(questions))], "question": questions, "cost_usd": [cost] * len(f1),
                             "token_f1": f1, "error": [None] * len(f1)})

    setup = {"prompt.name": "p", "chunker.size": "400"}
    router = VariantTable("router", "r", None, frame([f"q{i}" for i in range(12)], [0.9] * 12, 0.001),
                          params={**setup, "router.name": "rt", "router.cheap.id": "small", "router.strong.id": "big"})
    # the model alone ran on another dataset numbered by line: its ids 0-11 are other questions
    alone = VariantTable("alone", "m", None, frame([f"other {i}" for i in range(12)], [0.0] * 12, 0.001),
                         params={**setup, "model.id": "small"})
    row = routing_table([router, alone], success_metric="token_f1", success_threshold=0.5, n_resamples=200, confidence=0.95,
                        seed=0).iloc[0]
    assert row["n_paired"] == 0 and row["verdict"] == "not enough data"  # it was 12 pairs of unrelated answers, 'better'


def test_a_success_metric_that_is_not_scored_is_an_error_not_an_infinite_cost(tables) -> None:  # type: ignore[no-untyped-def]
    # every answer counted as failed: cost per success was inf for every variant, 'not enough data' everywhere
    with pytest.raises(WorkbenchError, match=r"^success_metric 'token_f1s' is not a score in the results — available: token_f1, hit_at_k$"):
        wb.compare(tables, success_metric="token_f1s")
    with pytest.raises(WorkbenchError, match="success_metric 'token_f1' is not a score"):
        wb.compare({k: t.drop(columns=["token_f1"]) for k, t in tables.items()}, metrics=[COST_PER_SUCCESS])
    unscored = wb.compare({k: t.drop(columns=["token_f1"]) for k, t in tables.items()})  # a sweep without token_f1
    assert COST_PER_SUCCESS not in unscored.metrics and "cost_usd" in unscored.metrics
    assert wb.compare(tables, success_metric="hit_at_k", success_threshold=1.0).row("base", COST_PER_SUCCESS)["mean"] == pytest.approx(0.001)


def test_a_lower_is_better_success_metric_counts_answers_at_or_below_the_threshold(tables) -> None:  # type: ignore[no-untyped-def]
    careful = tables["base"].assign(false_refusal=[0.0] * 15 + [1.0] * 15)
    refuses = tables["base"].assign(false_refusal=[1.0] * 30)
    report = wb.compare({"careful": careful, "refuses": refuses}, metrics=[COST_PER_SUCCESS], success_metric="false_refusal",
                        success_threshold=0.0)
    # success was false_refusal >= 0: every answer, so the variant refusing everything was as cheap per success
    assert report.row("careful", COST_PER_SUCCESS)["mean"] == pytest.approx(0.001 * 30 / 15)
    assert report.row("refuses", COST_PER_SUCCESS)["mean"] == math.inf
    assert report.verdict("refuses", COST_PER_SUCCESS) == "worse"
    assert "success = false_refusal <= 0)" in report.summary()


@pytest.mark.parametrize("metrics", [None, ["token_f1"], ["latency_s"]])
def test_a_note_in_a_score_column_is_one_line_naming_it(tables, metrics) -> None:  # type: ignore[no-untyped-def]
    noted = tables["worse"].astype({"token_f1": object, "latency_s": object})
    noted.loc[7, "token_f1"] = "judge failed"  # e.g. read from a spreadsheet
    noted.loc[9, "latency_s"] = "timeout"
    column, value, case = ("latency_s", "timeout", "q09") if metrics == ["latency_s"] else ("token_f1", "judge failed", "q07")
    # the column was no score at all: left out of the report unnoticed, or 'not in the results' when asked for
    with pytest.raises(DataError, match=rf"^table 'worse': {column} is '{value}' on case_id '{case}' — per-question values must be numbers"):
        wb.compare({"base": tables["base"], "worse": noted}, metrics=metrics)
    assert "token_f1" in wb.compare({"base": tables["base"], "worse": tables["worse"].astype({"token_f1": object})}).metrics


def test_a_difference_that_is_float_noise_reads_as_zero() -> None:
    """The same latencies in another order differ by 1.85e-17 on average: printed as such, a lead read a difference."""
    from workbench.comparison._render import interval_text, number_text

    a, b = np.array([0.1, 0.7, 0.3]), np.array([0.3, 0.1, 0.7])
    noise = float((a - b).mean())
    assert noise != 0.0 and number_text(noise) == "0.000"
    assert interval_text(noise, -0.2, 0.2) == "0.000 [-0.200, 0.200]"
    assert number_text(2e-7) == "2.00e-07" and interval_text(3e-6, 1e-6, 5e-6) == "3.00e-06 [1.00e-06, 5.00e-06]"  # costs


def test_a_router_is_paired_with_its_model_alone_whatever_either_is_named_or_its_time_limit() -> None:
    from workbench.comparison import VariantTable
    from workbench.comparison._routing import routing_table

    frame = pd.DataFrame({"case_id": ["0", "1"], "question": ["q0", "q1"], "cost_usd": [0.001] * 2, "token_f1": [0.9] * 2,
                          "error": [None] * 2})
    setup = {"prompt.name": "p", "chunker.size": "400"}
    router = VariantTable("router", "r", None, frame, params={
        **setup, "router.name": "rt", "router.cheap.id": "small", "router.cheap.params.temperature": "0.0",
        "router.strong.id": "big", "router.strong.name": "big-t0", "router.strong.params.temperature": "0.0",
        "router.strong.params.timeout_s": "120.0",  # given longer inside the router: the same answers
    })
    # the cheap model alone is named (next to it, say, the same model at another temperature): still the router's cheap one
    alone = [VariantTable("small", "m", None, frame, params={**setup, "model.id": "small", "model.params.temperature": "0.0", "model.name": "small-t0"}),
             VariantTable("big", "m", None, frame, params={**setup, "model.id": "big", "model.params.temperature": "0.0", "model.params.timeout_s": "60.0"}),
             VariantTable("small-hot", "m", None, frame, params={**setup, "model.id": "small", "model.params.temperature": "0.7", "model.name": "hot"})]
    table = routing_table([router, *alone], success_metric="token_f1", success_threshold=0.5, n_resamples=200, confidence=0.95, seed=0)
    assert dict(zip(table["role"], table["model"])) == {"cheap": "small", "strong": "big"}


def test_a_cost_known_for_only_some_answers_is_no_mean_cost(tables) -> None:  # type: ignore[no-untyped-def]
    """A router over a model without a price knows the cost of the questions its priced cheap model kept, not of those it
    escalated: its mean cost_usd was the cheap answers' alone (n=1 of 4, 'no detectable difference' from the cheap model)
    while cost per success said the cost was unknown."""
    routed = tables["worse"].copy()
    routed.loc[routed.index % 4 != 0, "cost_usd"] = None  # the escalated questions: the strong model has no price
    report = wb.compare({"base": tables["base"], "router": routed})
    row = report.row("router", "cost_usd")
    assert row["n"] == 0 and math.isnan(row["mean"]) and row["verdict"] == "not enough data"
    assert report.row("router", COST_PER_SUCCESS)["n"] == 0  # as cost per success already said
    assert report.row("base", "cost_usd")["mean"] == pytest.approx(0.001)


def test_a_routers_escalation_rate_counts_the_questions_it_routed_as_its_run_metric_does() -> None:
    from workbench.comparison import VariantTable
    from workbench.comparison._routing import routing_table

    # 4 questions routed (1 escalated), 1 failed at retrieval before any model was asked: the run's metric is 1/4,
    # compare said 1/5
    calls = [[{"role": "cheap"}], [{"role": "cheap"}, {"role": "strong"}], [{"role": "cheap"}], [{"role": "cheap"}], []]
    frame = pd.DataFrame({"case_id": [str(i) for i in range(5)], "question": [f"q{i}" for i in range(5)], "cost_usd": [0.001] * 5,
                          "token_f1": [0.9] * 4 + [None], "error": [None] * 4 + ["retrieval failed"],
                          "escalated": [False, True, False, False, False], "model_calls": calls})
    setup = {"prompt.name": "p", "chunker.size": "400"}
    router = VariantTable("router", "r", None, frame, params={**setup, "router.name": "rt", "router.cheap.id": "small", "router.strong.id": "big"})
    alone = VariantTable("small", "m", None, frame.drop(columns=["escalated", "model_calls"]), params={**setup, "model.id": "small"})
    table = routing_table([router, alone], success_metric="token_f1", success_threshold=0.5, n_resamples=200, confidence=0.95, seed=0)
    assert table["escalation_rate"].tolist() == [0.25]


def test_a_routers_escalation_rate_leaves_out_a_question_it_could_not_decide_as_its_run_metric_does() -> None:
    from workbench.comparison import VariantTable
    from workbench.comparison._routing import routing_table

    # 4 questions routed: 1 escalated, 2 not, 1 whose grounding embedding failed (the cheap model answered, the router
    # could not decide: the question failed, not escalated). The run's metric is 1/3; compare said 1/4
    calls = [[{"role": "cheap"}], [{"role": "cheap"}, {"role": "strong"}], [{"role": "cheap"}], [{"role": "cheap"}]]
    undecided = "grounding_below could not be measured: embedding the cheap answer with e failed (ConnectionError: reset)"
    frame = pd.DataFrame({"case_id": [str(i) for i in range(4)], "question": [f"q{i}" for i in range(4)], "cost_usd": [0.001] * 4,
                          "token_f1": [0.9] * 3 + [None], "error": [None] * 3 + [undecided],
                          "escalated": [False, True, False, False], "model_calls": calls})
    setup = {"prompt.name": "p", "chunker.size": "400"}
    router = VariantTable("router", "r", None, frame, params={**setup, "router.name": "rt", "router.cheap.id": "small", "router.strong.id": "big"})
    alone = VariantTable("small", "m", None, frame.drop(columns=["escalated", "model_calls"]), params={**setup, "model.id": "small"})
    table = routing_table([router, alone], success_metric="token_f1", success_threshold=0.5, n_resamples=200, confidence=0.95, seed=0)
    assert table["escalation_rate"].tolist() == [pytest.approx(1 / 3)]


def test_the_tokens_cut_from_a_prompt_are_not_compared_as_a_score(tables) -> None:  # type: ignore[no-untyped-def]
    """Every results table has ``prompt_tokens_cut``: compare listed it as a score, higher is better (a variant whose
    prompts were cut more was 'better')."""
    cut = {name: frame.assign(prompt_tokens_cut=[0] * len(frame), finish_reason=["stop"] * len(frame)) for name, frame in tables.items()}
    cut["worse"]["prompt_tokens_cut"] = 300
    report = wb.compare(cut, baseline="base")
    assert "prompt_tokens_cut" not in report.metrics and "finish_reason" not in report.metrics
    assert "token_f1" in report.metrics


def test_a_big_grid_is_bootstrapped_per_metric_not_per_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 40-variant sweep compared on 20 metrics took 1,600 bootstraps at the end of every sweep (warm ones too): the
    intervals of one metric are now computed together (one quantile call for every variant's means, one for the
    differences), and equal each variant's own interval (to the last bits of rounding: the resampled sums of many
    columns are one matrix product, which rounds a column's sums a little differently from a product of that column
    alone)."""
    from workbench.comparison import _stats

    rng = np.random.default_rng(9)
    many = {f"v{i:02d}": table(30, rng.uniform(0, 1, size=30).round(3).tolist()) for i in range(12)}
    many["v03"].loc[4:9, "token_f1"] = None  # fewer questions scored: another resample shape in the same batch
    calls = []
    real = _stats._quantiles
    monkeypatch.setattr(_stats, "_quantiles", lambda *a, **k: calls.append(a) or real(*a, **k))
    report = wb.compare(many, metrics=["token_f1", "latency_s"], baseline="v00")
    assert len(calls) == 4, f"{len(calls)} quantile calls for 2 metrics x 12 variants"  # a mean and a difference per metric
    monkeypatch.setattr(_stats, "_quantiles", real)
    for row in report.table.itertuples():
        values = many[row.variant].set_index("case_id")[row.metric]
        mean = wb.comparison.bootstrap_mean(values.tolist(), seed=report.seed)
        assert (row.mean, row.n) == (mean.estimate, mean.n)
        assert (row.mean_low, row.mean_high) == pytest.approx((mean.low, mean.high), rel=1e-12)
        if not row.is_baseline:
            diff = wb.comparison.paired_bootstrap(many["v00"].set_index("case_id")[row.metric].tolist(), values.tolist(), seed=report.seed)
            assert row.diff == diff.estimate and (row.diff_low, row.diff_high) == pytest.approx((diff.low, diff.high), rel=1e-12, abs=1e-15)


def test_the_quality_vs_cost_plot_of_a_big_grid_names_the_best_variants_and_keeps_its_panels(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A legend line per variant left a 40-variant plot's panels no height ("axes sizes collapsed to zero") and took
    seconds to draw: the baseline and the best nine are named, the others are grey points."""
    import warnings

    from workbench.comparison import metric_vs_cost_figure

    rng = np.random.default_rng(3)
    many = {f"v{i:02d}": table(30, rng.uniform(0, 0.5, size=30).round(3).tolist(), latency=0.1 * i) for i in range(40)}
    many["v27"] = table(30, [0.99] * 30, latency=2.7)  # clearly the best: named whatever its place in the grid
    report = wb.compare(many, metrics=["token_f1", "latency_s"])
    fig = metric_vs_cost_figure(report)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when the layout gives the panels no room
        fig.savefig(tmp_path / "plot.png", dpi=60)
    names = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(names) == 11 and names[0] == "other variants" and "★ v00" in names and "v27" in names
    assert all(ax.get_position().height > 0.3 for ax in fig.axes)
    small = wb.compare({k: many[k] for k in ("v00", "v01", "v02")}, metrics=["token_f1", "latency_s"])
    assert [t.get_text() for t in metric_vs_cost_figure(small).legends[0].get_texts()] == ["★ v00", "v01", "v02"]


def test_the_retrieval_curves_of_a_big_grid_name_the_best_setups_and_keep_their_panels(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A legend line per retrieval setup left a 40-setup plot's panels no height ("axes sizes collapsed to zero"),
    drawn under a legend of 40 lines whose colours and markers repeat past ten: the best ten are named, the others are
    thin grey lines."""
    import warnings

    from workbench.comparison import VariantTable, retrieval_curves_figure

    rng = np.random.default_rng(5)

    def setup(i: int, found: float) -> VariantTable:
        ranked = [[f"d{j % 10}" if rng.uniform() < found else "other" for _ in range(3)] for j in range(30)]
        frame = pd.DataFrame({"case_id": [f"q{j}" for j in range(30)], "retrieved_ids": ranked, "relevant_ids": [[f"d{j % 10}"] for j in range(30)]})
        return VariantTable(f"v{i:02d}", f"id{i}", None, frame, chunker=f"recursive-{200 + 10 * i}/20", embedding="local:all-minilm-l6-v2",
                            retrieval="k3-similarity")

    tables = [setup(i, 0.1) for i in range(40)]
    tables[27] = setup(27, 0.95)  # clearly the best: named whatever its place in the grid
    fig = retrieval_curves_figure(tables)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when the layout gives the panels no room
        fig.savefig(tmp_path / "curves.png", dpi=60)
    names = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(names) == 11 and "other setups" in names and "recursive-470/20 · all-minilm-l6-v2 · k3-similarity" in names
    assert all(ax.get_position().height > 0.3 for ax in fig.axes)
    assert "the best 10 of 40 setups on hit@k named, 30 more in grey" in fig._suptitle.get_text()
    few = retrieval_curves_figure(tables[:3])
    assert [t.get_text() for t in few.legends[0].get_texts()] == [f"recursive-{s}/20 · all-minilm-l6-v2 · k3-similarity" for s in (200, 210, 220)]


def test_retrieval_curves_read_a_setup_from_its_variant_that_asked_every_question() -> None:
    """Each setup's curve was read from its first variant: one that racing stopped after 4 questions drew the setup
    from those 4, though another variant of the same setup asked all 12."""
    from workbench.comparison import VariantTable, retrieval_curves

    def variant(name: str, questions: int) -> VariantTable:
        frame = pd.DataFrame({"case_id": [f"q{j}" for j in range(questions)], "retrieved_ids": [["a", "b"]] * questions,
                              "relevant_ids": [["b"] if j < 4 else ["a"] for j in range(questions)]})
        return VariantTable(name, name, None, frame, chunker="recursive-800/80", embedding="local:all-minilm-l6-v2", retrieval="k2-similarity")

    curves = retrieval_curves([variant("stopped-early", 4), variant("asked-all", 12), variant("also-all", 12)])
    assert list(curves["questions"]) == [12, 12]
    assert list(curves["hit_at_k"]) == [pytest.approx(8 / 12), 1.0]  # k=1: only the 8 questions labelled "a" hit


def test_the_default_baseline_is_the_first_variant_that_answered_every_question(tables) -> None:  # type: ignore[no-untyped-def]
    """The first variant that answered any question was the baseline: one whose model failed on half the questions
    paired every other variant over the other half."""
    errored = tables["base"].copy()
    errored.loc[:14, "error"] = "RuntimeError: rate limited"
    errored.loc[:14, "token_f1"] = None
    report = wb.compare({"errored": errored, "worse": tables["worse"], "base": tables["base"]}, metrics=["token_f1"])
    assert report.baseline == "worse"
    assert report.row("errored", "token_f1")["n_paired"] == 15 and report.row("base", "token_f1")["n_paired"] == 30
    failing = errored.assign(error="RuntimeError: down", token_f1=None)
    assert wb.compare({"failing": failing, "errored": errored}, metrics=["token_f1"]).baseline == "errored"  # none complete


def test_the_text_reports_columns_stay_in_line_under_chinese_and_emoji_variant_names(tables) -> None:  # type: ignore[no-untyped-def]
    # "基线" is 2 characters but 4 terminal columns: padded by its length, its interval stood 2 columns right of the others'
    import unicodedata

    def columns(text: str) -> int:
        return sum(0 if unicodedata.combining(c) or c in "\u200d\ufe0f" else 2 if unicodedata.east_asian_width(c) in "WF" else 1
                   for c in text)

    lines = wb.compare({"基线": tables["base"], "📊 rag": tables["better"], "plain-variant": tables["worse"]},
                       metrics="token_f1").summary().splitlines()
    header = lines.index("token_f1 (higher is better)") + 1
    starts = {columns(line[:line.index("0.")]) for line in lines[header + 1:header + 4]}
    assert starts == {columns(lines[header][:lines[header].index("mean [")])}
