"""The summary and the markdown of a comparison read its table once, whatever the number of metrics: a sweep logs the
summary twice (the run's description and comparison.txt), and filtering the table and walking the rows three times per
metric was most of the summary's time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench.comparison._render import interval_text


def _frames() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(11)
    frames = {}
    for name in ("p0|m|k2", "p1|m|k2", "p2|m|k2"):
        f1 = rng.uniform(0, 1, 12)
        f1[3] = np.nan  # a question not scored: n and n_paired differ from the question count
        frames[name] = pd.DataFrame({"case_id": [f"q{i}" for i in range(12)], "token_f1": f1, "hit_at_k": rng.integers(0, 2, 12) * 1.0,
                                     "latency_s": rng.uniform(0.1, 2, 12), "cost_usd": rng.uniform(1e-6, 1e-5, 12)})
    return frames


@pytest.fixture
def report() -> wb.ComparisonReport:
    return wb.compare(_frames(), seed=4, n_resamples=200)


@pytest.mark.parametrize("render", ["summary", "to_markdown"])
def test_a_report_reads_its_table_once_not_once_per_metric(report, render: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    walked = []
    itertuples = pd.DataFrame.itertuples

    def counting(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if "verdict" in self.columns:  # the comparison table, or rows cut from it
            walked.append(len(self))
        return itertuples(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "itertuples", counting)
    getattr(report, render)()
    assert len(report.metrics) > 3
    assert walked == [len(report.table)]


def test_each_metric_block_of_the_summary_lists_the_tables_rows_in_order(report) -> None:  # type: ignore[no-untyped-def]
    lines = report.summary().splitlines()
    for metric in report.metrics:
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{metric} ("))
        rows = report.table[report.table["metric"] == metric].to_dict("records")
        assert lines[at].startswith(f"{metric} ({rows[0]['direction']} is better")
        for line, row in zip(lines[at + 2 : at + 2 + len(rows)], rows):
            words = line.split()
            assert words[0] == row["variant"].split("|")[0]  # the part the names differ in
            assert " ".join(words[1:4]) == interval_text(row["mean"], row["mean_low"], row["mean_high"])
            assert int(words[4]) == row["n"]
            assert line.endswith(row["verdict"])
            if not row["is_baseline"]:
                assert " ".join(words[5:8]) == interval_text(row["diff"], row["diff_low"], row["diff_high"])
                assert int(words[8]) == row["n_paired"]
