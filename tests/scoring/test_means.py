"""A variant's means are the exact mean of its values, correctly rounded: equal values average to that value, so a gate
at that value passes (pure)."""

from __future__ import annotations

import fractions
import random

import pandas as pd
import pytest

import workbench as wb
from workbench.metrics import Score
from workbench.scoring import mean_scores


def _exact_mean(values: list[float]) -> float:
    return float(sum(map(fractions.Fraction, values), fractions.Fraction(0)) / len(values))


@pytest.mark.parametrize("values", [[0.7] * 3, [0.1] * 10, [0.3] * 7, [0.9] * 6, [1 / 3] * 5 + [2 / 3] * 5])
def test_a_variant_scoring_one_value_on_every_question_averages_that_value(values: list[float]) -> None:
    # summed in floating point, three answers scoring 0.7 averaged 0.6999999999999998: "mean 0.700 is below the minimum 0.7"
    assert mean_scores({"judge_score": Score(v)} for v in values)["judge_score"] == _exact_mean(values)
    ids = [f"q{i}" for i in range(len(values))]
    report = wb.compare({"a": pd.DataFrame({"case_id": ids, "judge_score": values})})
    assert report.row("a", "judge_score")["mean"] == _exact_mean(values)
    assert report.gate("judge_score", minimum=_exact_mean(values)) == ()


def test_means_are_the_correctly_rounded_exact_mean() -> None:
    rng = random.Random(0)
    for _ in range(300):
        values = [rng.choice([rng.random(), rng.randint(0, 10) / 10, 1 / rng.randint(1, 9)]) for _ in range(rng.randint(1, 40))]
        assert mean_scores([{"s": Score(v)} for v in values])["s"] == _exact_mean(values), values


@pytest.mark.parametrize("values", [[0.7] * 3, [0.7] * 30, [0.1] * 10, [0.3] * 7])
def test_the_interval_of_a_mean_holds_the_mean(values: list[float]) -> None:
    from workbench.comparison import bootstrap_mean

    interval = bootstrap_mean(values)
    assert interval.low <= interval.estimate == _exact_mean(values) <= interval.high
