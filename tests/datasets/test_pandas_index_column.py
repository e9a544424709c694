"""A dataset saved with pandas' ``df.to_csv(path)`` (its default ``index=True``) opens with the frame's index under a
column with no name: the error said to quote a field holding a comma, which is not what happened."""

from pathlib import Path

import pandas as pd
import pytest

import workbench as wb

FRAME = pd.DataFrame({"question": ["When is a deed needed?", "How long is notice?"], "reference": ["over three years", "two weeks"]})


def test_a_csv_holding_pandas_index_says_to_save_it_without_the_index(tmp_path: Path) -> None:
    path = tmp_path / "eval.csv"
    FRAME.to_csv(path)
    with pytest.raises(wb.DataError) as info:
        wb.load_dataset(path)
    assert str(info.value) == (f"{path}:2: the first column has no name in the header, as when pandas writes a DataFrame's index "
                               "(df.to_csv(path)) — save it with df.to_csv(path, index=False), or name the column")
    FRAME.to_csv(path, index=False)
    assert [c.reference for c in wb.load_dataset(path).cases] == ["over three years", "two weeks"]


def test_a_field_under_an_unnamed_last_column_still_says_to_quote_a_comma(tmp_path: Path) -> None:
    path = tmp_path / "eval.csv"
    path.write_text("question,reference,\nWhen is a deed needed?,over three years, or more\n", encoding="utf-8")
    with pytest.raises(wb.DataError, match=r'field 3, "or more", is under a column with no name in the header — quote'):
        wb.load_dataset(path)
