"""Datasets saved with pandas' ``to_json`` as it writes by default: by columns (``df.to_json(path)``), or as JSON Lines
under a ``.json`` name (``df.to_json("eval.json", orient="records", lines=True)``)."""

from pathlib import Path

import pandas as pd
import pytest

import workbench as wb

FRAME = pd.DataFrame({"id": ["q1", "q2"], "question": ["When is a deed needed?", "How long is notice?"], "reference": ["over three years", "two weeks"]})
RECORDS = "df.to_json(path, orient='records', lines=True, force_ascii=False)"


@pytest.mark.parametrize("orient", ["columns", "index"])
def test_a_frame_written_by_columns_or_index_says_how_to_write_json_lines(tmp_path: Path, orient: str) -> None:
    # it said: field 'id': expected text, got an object — write it as a string, in quotes
    path = tmp_path / "eval.jsonl"
    FRAME.to_json(path, orient=orient)
    with pytest.raises(wb.DataError) as info:
        wb.load_dataset(path)
    assert str(info.value) == (f"{path}:1: the file is one object holding the whole frame (pandas' df.to_json(path) writes it "
                               f"by {orient}), not one case per line — save it with {RECORDS}")


def test_json_lines_under_a_json_name_say_to_rename_the_file(tmp_path: Path) -> None:
    path = tmp_path / "eval.json"
    FRAME.to_json(path, orient="records", lines=True)
    with pytest.raises(wb.DataError) as info:
        wb.load_dataset(path)
    assert str(info.value) == (f"{path}: unsupported dataset format '.json' — use .jsonl, .csv or a pandas DataFrame (it holds "
                               "one JSON object per line already: rename it eval.jsonl)")
    path.rename(tmp_path / "eval.jsonl")
    assert [c.id for c in wb.load_dataset(tmp_path / "eval.jsonl").cases] == ["q1", "q2"]
