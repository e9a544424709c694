"""A dataset's own columns (``metadata.<name>``) are what questions are sliced by, not scores: a number column of them
(a year, a weight, a page) was compared as a metric, with intervals and a verdict, in every report and comparison.json."""

import pandas as pd
import pytest

import workbench as wb
from workbench.errors import WorkbenchError


def _table(f1: list[float]) -> pd.DataFrame:
    n = len(f1)
    return pd.DataFrame({
        "case_id": [f"q{i}" for i in range(n)], "category": ["answerable"] * n, "question": [f"{i}?" for i in range(n)],
        "reference": ["r"] * n, "answer": ["a"] * n, "error": [None] * n, "token_f1": f1,
        "metadata.year": [2000 + i for i in range(n)], "metadata.weight": [0.5] * n, "metadata.area": ["law"] * n,
    })


TABLES = {"base": _table([0.2, 0.4, 0.6, 0.8, 1.0, 0.0]), "other": _table([0.3, 0.5, 0.6, 0.9, 1.0, 0.1])}


def test_numeric_metadata_columns_are_not_compared_as_metrics() -> None:
    report = wb.compare(TABLES)
    assert set(report.table["metric"]) == {"token_f1"}
    assert "metadata" not in report.summary()


@pytest.mark.parametrize("column", ["metadata.year", "metadata.area"])
def test_a_metadata_column_named_as_a_metric_is_refused_saying_to_slice_by_it(column: str) -> None:
    with pytest.raises(WorkbenchError, match=rf"'{column}' is a column of the dataset, not a score — slice the questions by it"):
        wb.compare(TABLES, metrics=["token_f1", column])
    with pytest.raises(WorkbenchError, match=rf"'{column}' is a column of the dataset"):
        wb.diff_questions(TABLES, "base", "other", metric=column)


def test_the_promotion_gates_read_no_metadata_column_as_a_score() -> None:
    from workbench.promotion._gates import Evidence

    evidence = Evidence.from_table("r", {"token_f1": 0.5}, TABLES["base"], dataset_hash="d", config_hash="c")
    assert set(evidence.per_question) == {"token_f1"}
