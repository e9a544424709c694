"""A team's own column names: which column of a dataset or corpus file holds each of our fields (``columns:`` of the
experiment's dataset and corpus, ``columns=`` of ``load_dataset`` and ``load_corpus``), checked, and applied as the
file's header or each of its lines is read. The cases and documents read are the same as those of a file already using
our names: the same hash, the mapped columns no metadata."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from workbench.datasets._cases import _FIELDS, _meant_document_field, _meant_field, _name
from workbench.errors import DataError

DATASET_COLUMNS = _FIELDS  # a dataset file's columns that may be mapped: a case's fields
DOCUMENT_COLUMNS = ("id", "text")  # a corpus file's: a document's id and text (its other columns are its metadata)


def column_map_problem(columns: Mapping[Any, Any], fields: Sequence[str]) -> str | None:
    """What is wrong with a mapping of our ``fields`` to a file's column names (pure), or None: a key that is not one
    of them (the one meant, and those allowed), a column that is no name, or one column read as two fields."""
    allowed = f"allowed: {', '.join(fields)}"
    meant_as = _meant_document_field if fields == DOCUMENT_COLUMNS else _meant_field
    for key, column in columns.items():
        if key not in fields:
            meant = meant_as(str(key)) or next(iter(difflib.get_close_matches(str(key), fields, n=1, cutoff=0.6)), None)
            return f"'{_name(key)}' is not a field — {f'did you mean {meant!r}? ' if meant in fields else ''}({allowed}; each maps to the file's column)"
        if not isinstance(column, str) or not column.strip():
            return f"{key}: give the name of the file's column holding it, e.g. {key}: my_{key}"
    read: dict[str, str] = {}
    for key, column in columns.items():
        if column in read:
            return (f"'{read[column]}' and '{key}' both read the column '{_name(column)}' — a column holds one field: "
                    f"map one of them to another column")
        read[column] = key
    return None


def check_column_map(columns: Mapping[Any, Any], fields: Sequence[str]) -> dict[str, str]:
    """``columns`` as a dict, checked (see ``column_map_problem``).

    Raises:
        DataError: one line saying what is wrong.
    """
    if not isinstance(columns, Mapping):
        raise DataError(f"columns={columns!r}: give a dict of our field -> the file's column, e.g. {{'{fields[1]}': 'my_{fields[1]}'}}")
    problem = column_map_problem(columns, fields)
    if problem is not None:
        raise DataError(f"columns: {problem}")
    return {str(k): str(v) for k, v in columns.items()}


def _closest(column: str, names: Iterable[str], kind: str = "columns") -> str:
    """The end of a line saying a mapped column is absent (pure): the name present most like it, and all of them."""
    present = [n for n in names if n]
    close = difflib.get_close_matches(column, present, n=1, cutoff=0.6)
    listed = f"({', '.join(_name(n) for n in present[:12])}{', ...' if len(present) > 12 else ''})"
    return f"did you mean '{_name(close[0])}'? Its {kind}: {listed}" if close else f"give one it has {listed}"


def _clash(field: str, columns: Mapping[str, str], where: str, kind: str) -> DataError:
    """Refusing a file that has a column named as our ``field`` beside the column ``columns`` reads as it (pure): which
    one holds the field is not for us to guess, and the other would be read as metadata, or silently not at all."""
    return DataError(f"{where}: {kind} '{field}' is the file's own, and columns reads the {field} from '{_name(columns[field])}' — rename or "
                     f"remove the file's '{field}', or leave {field} out of columns to read it")


def _clashing(names: Iterable[str], columns: Mapping[str, str]) -> str | None:
    """The first of ``names`` that is one of our fields read from another column, and no mapped column itself (pure)."""
    values = set(columns.values())
    return next((n for n in names if n in columns and columns[n] != n and n not in values), None)


def mapped_names(names: Sequence[str], columns: Mapping[str, str], where: str) -> list[str]:
    """A table's column names (a CSV header, a Parquet schema) as our fields: each column ``columns`` maps read as its
    field, the others as they are.

    Raises:
        DataError: a mapped column is not among them (the closest one that is named), or the table has a column named
            as a field read from another one.
    """
    for field, column in columns.items():
        if column not in names:
            raise DataError(f"{where}: no column '{_name(column)}', which columns reads as the {field} — {_closest(column, names)}")
    clash = _clashing(names, columns)
    if clash is not None:
        raise _clash(clash, columns, where, "column")
    read_as = {column: field for field, column in columns.items()}
    return [read_as.get(n, n) for n in names]


def mapped_frame(frame: Any, columns: Mapping[str, str], label: str) -> Any:
    """A DataFrame with our fields' names (a new one; pure): each column ``columns`` maps that it has renamed as its
    field. A field whose column it lacks but that it holds under our name (a frame renamed already) is read as it is:
    the same cases or documents, and hash, as those of the file ``columns`` was written for.

    Raises:
        DataError: a mapped column is absent and so is the field's own name (the closest column named), or the frame
            has a column named as a field beside the column mapped to it.
    """
    names = list(frame.columns)
    for field, column in columns.items():
        if column not in names and field not in names:
            raise DataError(f"{label}: no column '{_name(column)}', which columns reads as the {field} — "
                            f"{_closest(column, [str(n) for n in names])}")
    present = {field: column for field, column in columns.items() if column in names}
    clash = _clashing(names, present)
    if clash is not None:
        raise _clash(clash, present, label, "column")
    return frame.rename(columns={column: field for field, column in present.items()})


def mapped_record(row: Mapping[str, Any], columns: Mapping[str, str], where: str, required: str) -> dict[str, Any]:
    """A JSON line's object with our fields' names: each field ``columns`` maps read from its column.

    Raises:
        DataError: the line has a field named as one of ours read from another, or lacks the column ``required`` (the
            field every line has: a case's question, a document's text) is read from.
    """
    clash = _clashing(row, columns)
    if clash is not None:
        raise _clash(clash, columns, where, "field")
    column = columns.get(required)
    if column is not None and column not in row:
        raise DataError(f"{where}: field '{_name(column)}', which columns reads as the {required}, is missing — "
                        f"{_closest(column, row, 'fields')}")
    read_as = {c: field for field, c in columns.items()}
    return {read_as.get(k, k): v for k, v in row.items()}


def check_all_read(seen: Iterable[str], columns: Mapping[str, str], source: str) -> None:
    """Refuse a mapping naming a field no line of a JSON Lines file had: a misspelt column read nothing, silently
    (``seen``: every field of every line).

    Raises:
        DataError: naming the column, and the field most like it.
    """
    fields = set(seen)
    for field, column in columns.items():
        if column not in fields:
            raise DataError(f"{source}: no line has the field '{_name(column)}', which columns reads as the {field} — "
                            f"{_closest(column, sorted(fields), 'fields')}")
