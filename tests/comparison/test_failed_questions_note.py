"""A variant with questions that failed: its means rest on other questions than the baseline's, and the report says so."""

from __future__ import annotations

import numpy as np
import pandas as pd

import workbench as wb

N = 10


def _table(errors: int) -> pd.DataFrame:
    ids = [f"q{i}" for i in range(N)]
    frame = pd.DataFrame({"case_id": ids, "question": ids, "token_f1": np.linspace(0.0, 1.0, N), "error": [None] * N})
    frame.loc[: errors - 1, "error"] = "model timed out"
    frame.loc[: errors - 1, "token_f1"] = np.nan
    return frame


def test_a_variant_whose_hardest_questions_failed_is_said_to_rest_on_fewer_questions() -> None:
    report = wb.compare({"base": _table(0), "erring": _table(2)})
    # the same answers: the variant that failed on the two hardest questions reads 0.611 against 0.500, unpaired
    assert report.row("erring", "token_f1")["mean"] > report.row("base", "token_f1")["mean"]
    assert report.verdict("erring", "token_f1") == "no detectable difference"
    note = "erring: 2 of 10 questions failed — its means leave them out"
    assert note in report.summary() and note in report._repr_html_()
    assert "base:" not in report.summary()
