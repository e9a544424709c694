"""pandas DataFrames as datasets and corpora read them: a column given twice, ids in the index, and how to make a
DataFrame of a table that is none."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from workbench.datasets._cases import _OTHER_NAMES, _name
from workbench.errors import DataError


def _check_columns(frame: Any, label: str) -> None:
    """Refuse a DataFrame with a column name given twice (a join's two 'id' columns): pandas keeps the last one's
    values for each row, silently, as a CSV header's repeated column would be."""
    seen: set[Any] = set()
    for column in frame.columns:
        if column in seen:
            raise DataError(f"{label}: column '{_name(column)}' appears twice — keep one (e.g. df.loc[:, ~df.columns.duplicated()])")
        seen.add(column)


def _index_holds_ids(frame: Any, label: str, others: Collection[str] = _OTHER_NAMES["id"], what: str = "case") -> bool:
    """Whether a DataFrame's ids are its index: one named 'id' (``df.set_index("id")``, ``read_csv(index_col="id")``),
    which ``to_dict`` leaves out, in a frame with no 'id' column: its cases (or documents) were named case-1, case-2...
    (doc-1...) silently.

    Raises:
        DataError: the index is named as the id is elsewhere (``others``: 'case_id', 'qid'...).
    """
    name = frame.index.name
    if not isinstance(name, str) or "id" in frame.columns:
        return False
    if name.strip().lower().replace(" ", "_") in others:
        raise DataError(f"{label}: the index '{_name(name)}' holds the {what} ids, which are read from an index or column named 'id' — "
                        "name it so: df.rename_axis('id')")
    return name == "id"


def _frame_fix(source: Any) -> str:
    """How to make a DataFrame of a table that is none (pure): a Hugging Face ``Dataset``, a pyarrow ``Table`` or a polars
    frame has ``to_pandas()``; a ``DatasetDict`` (what ``datasets.load_dataset`` returns) holds one per split; a list of
    dicts is the rows of one."""
    if hasattr(source, "to_pandas"):
        return ": its to_pandas() is one (dataset=table.to_pandas())"
    splits = [str(k) for k, v in source.items() if hasattr(v, "to_pandas")] if isinstance(source, Mapping) else []
    if splits:
        return f": pick a split and take its to_pandas(), e.g. ds[{splits[0]!r}].to_pandas() (splits: {', '.join(splits)})"
    if isinstance(source, (list, tuple)) and source and all(isinstance(item, Mapping) for item in source):
        return ": a list of cases (dicts) makes one, dataset=pd.DataFrame(cases)"
    return ""
