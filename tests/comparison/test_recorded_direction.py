"""A scorer its runs recorded as better low (tag ``workbench.lower_is_better``) but not registered in this process, as
``workbench compare`` in a fresh process sees it: every part of a comparison reads it lower-is-better (pure: tables
built by hand)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import workbench as wb
from workbench.comparison import VariantTable
from workbench.comparison._tables import Loaded
from workbench.metrics import direction

CLAIMS = "recorded_made_up_claims"  # registered in the process that logged the runs, never in this one
N = 30


def _frame(claims: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"case_id": [f"q{i}" for i in range(N)], "question": [f"question {i}" for i in range(N)],
                         CLAIMS: claims, "cost_usd": [0.001] * N, "error": [None] * N})


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[VariantTable]:
    tables = [VariantTable("careful", "c", "run-c", _frame([0.0] * 20 + [1.0] * 10), lower_is_better=frozenset({CLAIMS})),
              VariantTable("fabulist", "f", "run-f", _frame([1.0] * N), lower_is_better=frozenset({CLAIMS}))]
    loaded = Loaded(tuple(tables), (), None, None, seed=0)
    monkeypatch.setattr("workbench.comparison._compare.load_tables", lambda source, tracking_uri=None: loaded)
    monkeypatch.setattr("workbench.comparison._diff.load_tables", lambda source, tracking_uri=None: loaded)
    return tables


def test_a_recorded_lower_is_better_success_metric_counts_answers_at_or_below_the_threshold(recorded) -> None:  # type: ignore[no-untyped-def]
    assert direction(CLAIMS) == "higher"  # this process does not know the scorer
    report = wb.compare("logged-sweep", metrics=[CLAIMS, "cost_per_success_usd"], success_metric=CLAIMS, success_threshold=0.0)
    assert report.verdict("fabulist", CLAIMS) == "worse"
    # success was "claims >= 0": every answer, so the variant making up claims in every answer was as cheap per success
    assert report.row("careful", "cost_per_success_usd")["mean"] == pytest.approx(0.001 * N / 20)
    assert report.row("fabulist", "cost_per_success_usd")["mean"] == math.inf
    assert report.verdict("fabulist", "cost_per_success_usd") == "worse"
    assert f"success = {CLAIMS} <= 0)" in report.summary()


def test_a_recorded_lower_is_better_metric_flips_questions_the_right_way(recorded) -> None:  # type: ignore[no-untyped-def]
    flips = wb.diff_questions("logged-sweep", "careful", "fabulist", metric=CLAIMS, threshold=0.0)
    # 20 questions without made-up claims in "careful" have some in "fabulist": lost, not gained
    assert set(flips["change"]) == {"lost"} and len(flips) == 20


def test_a_recorded_lower_is_better_metric_is_plotted_as_better_low(recorded) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    figure = wb.compare("logged-sweep", metrics=[CLAIMS, "cost_usd"]).plot_metric_vs_cost([CLAIMS])
    assert figure.axes[0].get_ylabel() == f"{CLAIMS} — lower is better"
