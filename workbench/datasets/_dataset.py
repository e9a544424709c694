"""``load_dataset``: evaluation cases from a JSONL or CSV file or a pandas DataFrame.

Every validation error is one line: ``file:line: field 'x': what is wrong — what to do``: encodings (the line and
byte offset), binary or empty files, CSV quoting (parsed strictly), wrong types, unknown categories, duplicate ids, and
questions or references over the length caps. Fields or columns of the dataset's own are kept as its cases' metadata.
"""

from __future__ import annotations

import itertools
import json
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.datasets._cases import MAX_QUESTION_CHARS, MAX_REFERENCE_CHARS, _Caps
from workbench.datasets._columns import DATASET_COLUMNS, check_column_map, mapped_frame
from workbench.datasets._dataset_files import _ONE_OBJECT_PER_LINE, _from_records, _read_csv, _read_jsonl
from workbench.datasets._frames import _check_columns, _frame_fix, _index_holds_ids
from workbench.datasets._models import Dataset
from workbench.datasets._paths import missing_path_fix, on_disk
from workbench.errors import DataError


def check_limit(limit: int | None) -> int | None:
    """``limit``, a number of cases to keep: a whole number, at least 1, or None for every case.

    Raises:
        DataError: any other value.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1):
        # limit=0 kept no case and limit=-1 every case but the last, as a slice does; neither is what was meant
        raise DataError(f"limit={limit!r}: give a whole number of cases, at least 1 — or None for every case")
    return limit


def load_dataset(
    source: str | Path | Any,
    *,
    name: str | None = None,
    limit: int | None = None,
    max_question_chars: int = MAX_QUESTION_CHARS,
    max_reference_chars: int = MAX_REFERENCE_CHARS,
    columns: Mapping[str, str] | None = None,
) -> Dataset:
    """Load evaluation cases from a ``.jsonl``/``.csv`` file or a pandas DataFrame.

    Columns/fields: ``question`` (required), ``id`` (default: ``case-`` and 12 hex digits of the question, whatever its
    position; a DataFrame's may be its index, named ``id``), ``reference`` (a
    number is its text: 42 is '42', and 25.0 from a column pandas made float is '25'),
    ``source_ids`` (list; in CSV ``a|b``, or a JSON or Python list as text), ``category`` (answerable | unanswerable | policy | injection), ``tags`` (list;
    in CSV ``a|b`` or ``a, b``). Any other column (``difficulty``, ``notes``...) is kept as the case's ``metadata``
    (a CSV cell as text, a nested JSON list or object as its JSON text), outside the dataset's hash; one that is a known
    field misspelt or under another name (``refrence``, ``answer``, ``Question``) is refused. Files are UTF-8; CSV is
    parsed strictly (an unbalanced quote is an error, not a silently different row). A row whose every cell is empty (a spreadsheet's emptied row) is skipped like a blank line.
    A file calling the fields otherwise is read with ``columns``: ``{"question": "prompt", "reference": "expected"}``
    reads the same cases, and the same hash, as a file calling them ``question`` and ``reference``.

    Args:
        source: a ``.jsonl``/``.csv`` path or a DataFrame.
        name: the dataset's name (default: the file's stem).
        limit: keep only the first ``limit`` cases, at least 1 (every row is still checked); None keeps every case.
        max_question_chars: a longer question is refused (the experiment's ``dataset.max_question_chars``).
        max_reference_chars: a longer reference answer is refused (``dataset.max_reference_chars``).
        columns: a file's (or a DataFrame's) columns or JSON fields holding a case's fields, when they are named
            otherwise: our field -> the file's column (the experiment's ``dataset.columns``). A DataFrame holding a
            field under our name instead of its mapped column (renamed already) is read as it is.

    Raises:
        DataError: one line naming the file, line and field of the first bad row, and what to do.
    """
    check_limit(limit)
    caps = _Caps(max_question_chars, max_reference_chars)
    mapped = check_column_map(columns, DATASET_COLUMNS) if columns else {}
    if not isinstance(source, (str, Path)):
        import pandas as pd

        if not isinstance(source, pd.DataFrame):
            raise DataError(f"cannot load a dataset from {type(source).__name__} — give a .jsonl/.csv path or a DataFrame{_frame_fix(source)}")
        label = name or "dataframe"
        caps = _Caps(max_question_chars, max_reference_chars, in_memory=True)
        _check_columns(source, label)
        if mapped:  # a frame of the file columns was written for (pd.read_csv of it): the same cases as the file's
            source = mapped_frame(source, mapped, label)
        # the row's index label, which df.loc finds: a filtered frame's second row may be row 5; with its position too
        # when the label repeats (pd.concat of two frames has two rows 0), where df.loc finds several rows
        unique, ids = source.index.is_unique, _index_holds_ids(source, label)
        records = [({**row, "id": index} if ids else row, f"{label}: row {index!r}" if unique else f"{label}: row {index!r} (position {n})")
                   for n, (index, row) in enumerate(zip(source.index.tolist(), source.to_dict(orient="records")))]
        return _from_records(records, label, label, caps).head(limit)
    path = on_disk(Path(source))
    if path.is_dir():
        found = sorted(p.name for p in path.iterdir() if p.suffix.lower() in (".jsonl", ".ndjson", ".csv"))[:3]
        hint = f" (it holds {', '.join(found)})" if found else ""
        raise DataError(f"{path}: the dataset is a folder, not a file — give the .jsonl or .csv file{hint}")
    if not path.is_file():
        fix = missing_path_fix(path, "check the path (relative paths are from the experiment file)")
        raise DataError(f"{path}: dataset file not found — {fix}")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        dataset = _read_jsonl(path, caps, mapped)
    elif suffix == ".csv":
        dataset = _read_csv(path, caps, mapped)
    else:
        raise DataError(f"{path}: unsupported dataset format '{suffix}' — use .jsonl, .csv or a pandas DataFrame{_format_fix(path)}")
    if name:
        dataset = Dataset(name, dataset.cases, dataset.source, dataset.lines)
    return dataset.head(limit)


# the files pandas reads that a dataset entry does not: read them in a notebook and hand the DataFrame to wb.run
def _json_lines(path: Path) -> bool:
    """Whether a file's first lines (up to three, blank ones aside) are each a JSON object: JSON Lines."""
    try:
        with path.open(encoding="utf-8") as f:
            lines = list(itertools.islice((raw for raw in f if raw.strip()), 3))
        return bool(lines) and all(isinstance(json.loads(line), dict) for line in lines)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False


_PANDAS_READERS = {".parquet": "read_parquet", ".xlsx": "read_excel", ".xls": "read_excel", ".tsv": "read_csv(path, sep='\\t')"}


def _format_fix(path: Path) -> str:
    """How to use a dataset file of a format ``load_dataset`` does not read: '' when there is no more to say. A ``.json``
    file is read: one holding an object per line already (pandas' ``to_json(..., lines=True)`` under that name) is only
    misnamed."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        if _json_lines(path):
            return f" (it holds one JSON object per line already: rename it {path.stem}.jsonl)"
        return f" (a .json file of a list of objects: {_ONE_OBJECT_PER_LINE})"
    reader = _PANDAS_READERS.get(suffix)
    if reader is None:
        return ""
    call = reader if "(" in reader else f"{reader}(path)"
    return f" (wb.run(exp, dataset=pd.{call}), or save it as .csv)"
