"""A dataset asking many questions twice (a scraped or concatenated eval set) names how many, and where, in the one
line that refuses the first: one was refused per run."""

import pandas as pd
import pytest

import workbench as wb

QUESTIONS = ["What is a lease?", "What is a deed?", "What is a lease? ", "What is notice?", "What is a deed?", "What is notice?"]


def test_a_frame_without_ids_counts_every_question_asked_again() -> None:
    with pytest.raises(wb.DataError) as info:
        wb.load_dataset(pd.DataFrame({"question": QUESTIONS}))
    assert str(info.value).startswith("dataframe: row 2: field 'question': the same question as dataframe: row 0 — keep one")
    assert str(info.value).endswith(" (and 2 more questions asked again: dataframe: row 4, dataframe: row 5)")


def test_a_frame_with_ids_counts_them_too() -> None:
    with pytest.raises(wb.DataError, match=r"the same question as dataframe: row 0 — .* \(and 2 more questions asked again: "
                                           r"dataframe: row 4, dataframe: row 5\)$"):
        wb.load_dataset(pd.DataFrame({"id": [f"q{i}" for i in range(6)], "question": QUESTIONS}))


def test_one_question_asked_twice_says_nothing_more() -> None:
    with pytest.raises(wb.DataError) as info:
        wb.load_dataset(pd.DataFrame({"question": QUESTIONS[:3]}))
    assert str(info.value).endswith("keep one (a question asked twice counts twice in every mean and interval)")
