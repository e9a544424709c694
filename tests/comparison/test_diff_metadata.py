"""The dataset's own columns (``metadata.<name>``) of the questions that flipped, to slice the flips by."""

import pandas as pd

import workbench as wb


def _table(f1: list[float]) -> pd.DataFrame:
    return pd.DataFrame({
        "case_id": ["q1", "q2", "q3"], "category": ["answerable"] * 3, "question": ["a?", "b?", "c?"], "reference": ["a", "b", "c"],
        "metadata.area": ["contracts", "torts", "contracts"], "metadata.language": ["en", "de", None],
        "answer": ["x", "y", "z"], "token_f1": f1, "error": [None] * 3,
    })


def test_the_flips_hold_each_questions_metadata_columns() -> None:
    flips = wb.diff_questions({"base": _table([0.0, 1.0, 0.0]), "new": _table([1.0, 0.0, 0.0])}, "base", "new", threshold=0.5)
    assert list(flips["case_id"]) == ["q1", "q2"]
    assert list(flips["metadata.area"]) == ["contracts", "torts"] and list(flips["metadata.language"]) == ["en", "de"]
    assert list(flips.columns).index("metadata.area") == list(flips.columns).index("reference") + 1
    assert flips.groupby("metadata.area")["change"].apply(list).to_dict() == {"contracts": ["gained"], "torts": ["lost"]}


def test_a_diff_without_metadata_has_no_metadata_columns() -> None:
    plain = _table([0.0, 1.0, 0.0]).drop(columns=["metadata.area", "metadata.language"])
    flips = wb.diff_questions({"base": plain, "new": plain.assign(token_f1=[1.0, 1.0, 0.0])}, "base", "new", threshold=0.5)
    assert list(flips["case_id"]) == ["q1"] and not [c for c in flips.columns if c.startswith("metadata.")]
