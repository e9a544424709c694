"""The dataset files: JSON Lines and CSV (parsed strictly), and the records (a CSV file's rows, a DataFrame's) read
into cases."""

from __future__ import annotations

import ast
import contextlib
import csv
import difflib
import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.datasets._cases import (
    _FIELDS,
    _LIST_FIELDS,
    _Caps,
    _case,
    _check_unique,
    _default_id,
    _id_text,
    _meant_field,
    _missing,
    _name,
    _reference_text,
    _unknown_field_fix,
    map_fix,
)
from workbench.datasets._columns import check_all_read, mapped_names, mapped_record
from workbench.datasets._models import Dataset, in_order
from workbench.datasets._text import _one_line_break, read_text, utf8_lines
from workbench.errors import DataError


class _KeyTwice(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's fields, refusing a key given twice (``json`` would keep the last value)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _KeyTwice(key)
        out[key] = value
    return out


_TOO_DEEP = "lists or objects nested hundreds of levels deep — one JSON object per line, with text and lists of ids"


def json_lines(path: Path, what: str, columns: Mapping[str, str] | None = None, required: str = "") -> Iterator[tuple[dict[str, Any], str]]:
    """The objects of a JSON Lines file, one a line, read one line at a time, each with where it was read
    (``file:line``); blank lines skipped. ``what`` names its objects in the fixes ("case", "document"); ``columns``
    maps our fields to the file's names for them (see ``mapped_record``: ``required``, the field every line has).

    Raises:
        DataError: the file is empty or not UTF-8, a line is not one JSON object (one line naming it, and the fix), or
            ``columns`` names a field a line lacks (``required``'s) or no line has.
    """
    empty = True
    seen: set[str] = set()
    for lineno, line in utf8_lines(path, "save the file as UTF-8"):
        line = line.removesuffix("\n")
        if not line.strip():
            continue
        empty = False
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line, object_pairs_hook=_once_each)
        except json.JSONDecodeError as exc:  # only now the whole file: is it one JSON array, or pretty-printed?
            fix = _json_lines_fix(read_text(path, "save the file as UTF-8"), line, exc, what)
            raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}) — {fix}") from None
        except _KeyTwice as exc:  # json keeps the last value silently: which reference was meant?
            raise DataError(f"{where}: field '{_name(exc.key)}' is given twice in one object — keep one") from None
        except RecursionError:  # [[[[...]]]] a thousand levels deep: Python's JSON decoder recurses
            raise DataError(f"{where}: {_TOO_DEEP}") from None
        if not isinstance(row, dict):
            fix = f"the {what}s are a JSON array on one line: {_ONE_OBJECT_PER_LINE}" if _objects(row) else "one JSON object per line"
            raise DataError(f"{where}: expected a JSON object, got {type(row).__name__} — {fix}")
        if columns:
            seen.update(row)
            row = mapped_record(row, columns, where, required)
        yield row, where
    if empty:
        example = '{"question": "..."}' if what == "case" else '{"id": "travel", "text": "..."}'
        raise DataError(f"{path}: empty file — add one JSON object per line, e.g. {example}")
    if columns:
        check_all_read(seen, columns, str(path))


def _read_jsonl(path: Path, caps: _Caps, columns: Mapping[str, str] | None = None) -> Dataset:
    rows = []
    defaulted: set[str] = set()  # where the rows given no id were read
    for row, where in json_lines(path, "case", columns, "question"):
        orient = _frame_orient(row)
        if orient is not None:
            raise DataError(f"{where}: the file is one object holding the whole frame (pandas' df.to_json(path) writes it by {orient}), "
                            "not one case per line — save it with df.to_json(path, orient='records', lines=True, force_ascii=False)")
        row = {k: v for k, v in row.items() if v is not None}  # null is a field left out (pandas' to_json writes it so)
        if "id" in row:
            row["id"] = _id_text(row["id"])
        elif not any(_meant_field(str(k)) == "id" for k in row):  # a 'case_id', refused, is not told the file has an 'id' too
            row["id"] = _default_id(row)
            defaulted.add(where)
        for key in _LIST_FIELDS:  # [7, 12], as pandas' to_json writes a list of integer ids: '7' and '12', as in CSV
            if isinstance(row.get(key), list):
                row[key] = [_id_text(v) for v in row[key]]
        if "reference" in row:
            row["reference"] = _reference_text(row["reference"])
        rows.append((_case(row, where, caps), where))
    cases = _check_unique(rows, str(path), defaulted)
    return Dataset(name=path.stem, cases=cases, source=str(path), lines=tuple(where for _, where in rows))


_ONE_OBJECT_PER_LINE = "write one object per line, e.g. jq -c '.[]' in.json > out.jsonl"


def _frame_orient(row: dict[str, Any]) -> str | None:
    """How pandas' ``to_json`` laid out a whole frame read as one line's object (pure): ``columns`` (its default: a
    column name -> {row: value}) or ``index`` (row -> {column: value}); None for a case's object."""
    if not row or not all(isinstance(v, dict) for v in row.values()):
        return None
    if "question" in row:
        return "columns"
    return "index" if all("question" in v for v in row.values()) else None


def _objects(value: Any) -> bool:
    """Whether a JSON value is a non-empty list of objects (pure)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _json_lines_fix(text: str, line: str, exc: json.JSONDecodeError, what: str = "case") -> str:
    """What to do about a JSONL line that is not JSON (pure): the file is one JSON array, or an object spread over
    several lines (``json.dump(..., indent=2)``), or the line ends in the comma of a list's items; else the rule."""
    if line.startswith("\ufeff"):  # the byte-order mark of a second file joined to the first (cat a.jsonl b.jsonl)
        return "remove the byte-order mark (U+FEFF) starting the line: files saved with one and joined?"
    if exc.msg == "Extra data" and line[exc.pos:].strip() == ",":
        return "remove the ',' after the object: JSON Lines has one object per line, with nothing between them"
    with contextlib.suppress(ValueError, RecursionError):
        whole = json.loads(text)
        if _objects(whole):
            return f"the file is one JSON array, not JSON Lines: {_ONE_OBJECT_PER_LINE}"
        if isinstance(whole, dict):
            return f"the file is one JSON object spread over several lines: write each {what}'s object on one line"
    if line.strip() in ("[", "{"):  # pretty-printed objects (jq '.' of a JSONL file), or an array with an error further on
        return f"write each {what}'s object on one line (JSON Lines), not pretty-printed over several (jq -c, json.dumps without indent)"
    return "one JSON object per line"


def _split_list(value: str, *, commas: bool = False) -> list[str]:
    """A list written in one text cell: a JSON list, or items separated by ``|`` or ``;`` (and ``,`` when ``commas``)."""
    value = value.strip()
    if not value:
        return []
    if value.startswith("["):
        try:
            # whole numbers are ids as text, as in a JSONL list; null, a nested list or 2.5 is left for validation to
            # refuse, naming the item: str() made them the ids 'None', "['a']" and '2.5'
            return [_id_text(v) for v in json.loads(value)]
        except json.JSONDecodeError:
            return _python_list(value)
    return [part.strip() for part in re.split(r"[|;,]" if commas else r"[|;]", value) if part.strip()]


def _python_list(value: str) -> list[str]:
    """A list of strings written as Python writes it, ``['a', 'b']``: what pandas' ``to_csv`` makes of a list column,
    read back by ``read_csv`` as text.

    Raises:
        ValueError: the text is no such list.
    """
    try:
        items = ast.literal_eval(value)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise ValueError(value) from None
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise ValueError(value)
    return items


def _from_records(records: Iterable[tuple[dict[str, Any], str]], name: str, source: str, caps: _Caps) -> Dataset:
    cases = []
    defaulted: set[str] = set()  # where the rows given no id were read
    for record, where in records:
        row = {k: v for k, v in record.items() if not _missing(v)}
        if not row:  # a row of empty cells: a spreadsheet's emptied row, which pd.read_csv reads as NaN in every column
            continue
        for key in _LIST_FIELDS:
            if isinstance(row.get(key), str):
                try:
                    # tags are labels, written 'travel, leave' as often as 'travel|leave'; a document id may hold a comma
                    row[key] = _split_list(row[key], commas=key == "tags")
                except ValueError:  # json's JSONDecodeError too
                    raise DataError(f"{where}: field '{key}': not a list — use 'a|b' or a JSON list") from None
            elif isinstance(_id_text(row.get(key)), str):  # one whole-number id, from an integer column: '7', as in CSV
                row[key] = [_id_text(row[key])]
            elif isinstance(row.get(key), Iterable) and not isinstance(row[key], Mapping):  # a list, tuple, numpy array
                # whole-number ids are text, as written in a CSV cell or as a case's id: [7, 12] is ['7', '12']
                row[key] = [_id_text(v) for v in in_order(row[key])]
        if "id" in row:
            row["id"] = str(_id_text(row["id"]))
        else:
            row["id"] = _default_id(row)
            defaulted.add(where)
        if "reference" in row:  # answers read by pd.read_csv or read_excel: 42, or 42.0 in a column with an empty cell
            row["reference"] = _reference_text(row["reference"])
        cases.append((_case(row, where, caps), where))
    return Dataset(name=name, cases=_check_unique(cases, source, defaulted), source=source, lines=tuple(where for _, where in cases))


def other_separator(column: str, fields: Collection[str] = _FIELDS, required: str = "question") -> str | None:
    """How a CSV header read as one column is really separated ("';'", "tabs"), when that splits it into known
    ``fields`` among them ``required`` (a dataset's by default)."""
    for separator, name in ((";", "';'"), ("\t", "tabs"), ("|", "'|'")):
        parts = [p.strip() for p in column.split(separator)]
        if len(parts) > 1 and required in parts and all(p in fields for p in parts if p):
            return name
    return None


def csv_header(rows: Iterator[list[str]], path: Path) -> list[str]:
    """The column names of a CSV file read by ``rows`` (a ``csv.reader``): its first line, or its second after the
    ``sep=,`` line Excel writes first in a file saved "for Excel".

    Raises:
        DataError: the ``sep=`` line says the columns are separated by another character than commas.
    """
    header = [h.strip() for h in next(rows, [])]
    if ",".join(header).startswith("sep="):  # Excel's separator hint, the first line of a file saved "for Excel"
        if ",".join(header) != "sep=,":
            raise DataError(f"{path}:1: '{_name(','.join(header))}' says the columns are separated by another character, not "
                            "commas — save the file as comma-separated CSV (in Excel: 'CSV UTF-8 (Comma delimited)')")
        header = [h.strip() for h in next(rows, [])]
    return header


@dataclass(frozen=True)
class TableColumns:
    """What a CSV file's rows are: cases or documents, the columns known, the one required, and what to say of a column
    that is a known one misnamed, given the header's names (None for a column of the file's own, kept as metadata)."""

    row: str  # "case", "document"
    fields: tuple[str, ...]
    required: str
    header: str  # an example header line
    misnamed: Callable[[str, Sequence[str]], str | None]
    longest: str = ""  # what the fields' own caps are, said when a field is over csv's limit


def _case_column_fix(column: str, names: Sequence[str]) -> str | None:
    return _unknown_field_fix(column, "dataset", names) if _meant_field(column) else None


def _read_csv(path: Path, caps: _Caps, columns: Mapping[str, str] | None = None) -> Dataset:
    table = TableColumns("case", _FIELDS, "question", "id,question,reference,source_ids", _case_column_fix,
                         f" (questions are capped at {caps.question:,} characters, references at {caps.reference:,})")
    return _from_records(csv_records(path, table, columns), path.stem, str(path), caps)


def _broken_lines(lines: Iterator[tuple[int, str]]) -> Iterator[str]:
    r"""The lines of ``utf8_lines`` with each line break ``\n`` (``_one_line_break``): a line break in a quoted cell
    as Python's text files read it, Windows' '\r\n' (Excel's rows, a clone with git's autocrlf) kept in a question
    was another text, prompt and dataset hash than the same file's on Linux."""
    for _, line in lines:
        parts = _one_line_break(line).split("\n")
        yield from (part + "\n" for part in parts[:-1])
        if parts[-1]:
            yield parts[-1]


def csv_records(path: Path, columns: TableColumns, names: Mapping[str, str] | None = None) -> Iterator[tuple[dict[str, Any], str]]:
    """The rows of a CSV file, parsed strictly and read one line at a time, as records (an empty cell None) with where
    each was read (``file:line``, the line it starts on); rows of empty cells skipped. ``names`` maps our fields to the
    file's columns for them (see ``check_columns``).

    Raises:
        DataError: the file is empty or not UTF-8 (the Excel format that is UTF-8: its 'CSV (Comma delimited)' is
            Windows-1252, its 'Unicode Text' UTF-16), a quote is unbalanced, the header is bad (another separator, a
            column twice, a known column misnamed or missing), a row has another number of fields, or no row follows.
    """
    lines = _broken_lines(utf8_lines(path, "save the file as UTF-8 (in Excel: 'CSV UTF-8 (Comma delimited)')"))
    quoting = 'close the quoted field, and write a quote inside a quoted field as ""'
    # skipinitialspace: in `q1, "What, exactly?"` the quote after ", " opens a quoted field, as the writer meant
    reader = csv.reader(lines, strict=True, skipinitialspace=True)
    try:
        header = csv_header(reader, path)
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: CSV quoting in the header: {exc} — {quoting}") from None
    if not any(header) and not any(line.strip() for _, line in utf8_lines(path, "")):  # read again, a line at a time
        raise DataError(f"{path}: empty file — add a header line (e.g. {columns.header}) and one row per {columns.row}")
    for column in header:
        separator = other_separator(column, columns.fields, columns.required) if column not in columns.fields else None
        if separator:  # Excel saves "CSV" with ';' where the decimal mark is a comma; a TSV renamed .csv has tabs
            raise DataError(f"{path}:1: the columns are separated by {separator}, not commas — save the file as "
                            "comma-separated CSV (in Excel: 'CSV UTF-8 (Comma delimited)')")
    keys = check_columns(header, columns, f"{path}:1", names)
    start, rows = reader.line_num + 1, 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise DataError(
                    f"{path}:{start}: a field is longer than {csv.field_size_limit():,} characters, the most a CSV field may "
                    f"hold — shorten it{columns.longest}"
                ) from None
            # strict parsing: an unbalanced quote is an error, not a different row (non-strict csv reads on silently)
            raise DataError(f"{path}:{start}: CSV quoting: {exc} (in the row starting on line {start}) — {quoting}") from None
        end, where = reader.line_num, f"{path}:{start}"
        if not any(field.strip() for field in row):  # a blank line, or spaces and bare commas: a spreadsheet's emptied row
            start = end + 1
            continue
        if len(row) != len(header):
            if end > start:
                raise DataError(
                    f"{where}: unbalanced quote: the quoted field opened on line {start} runs on to line {end} and swallows "
                    f"the rows between ({len(row)} fields, the header has {len(header)}) — {quoting}"
                )
            raise DataError(
                f"{where}: {len(row)} fields, the header has {len(header)} — quote a field that contains a comma "
                f"(\"a, b\"), and keep one field per column (empty is fine: a,,c)"
            )
        if [field.replace("\ufeff", "").strip() for field in row] == header:  # two exports joined (cat a.csv b.csv, a paste)
            raise DataError(f"{where}: the header line again (files joined with their headers?), not a {columns.row} — remove it")
        unnamed = next((i for i, (k, v) in enumerate(zip(header, row)) if not k and v.strip()), None)
        if unnamed == 0:  # pandas' df.to_csv(path) writes the frame's index first, under no name
            raise DataError(f"{where}: the first column has no name in the header, as when pandas writes a DataFrame's index "
                            "(df.to_csv(path)) — save it with df.to_csv(path, index=False), or name the column")
        if unnamed is not None:  # a header ending in ',' has room for the tail of an unquoted "a, b": it was dropped
            raise DataError(
                f"{where}: field {unnamed + 1}, {json.dumps(row[unnamed].strip()[:40], ensure_ascii=False)}, is under a column with no name in the header — quote "
                f"a field that contains a comma (\"a, b\"), or name the column"
            )
        rows += 1
        yield {k: (v if v != "" else None) for k, v in zip(keys, row) if k}, where
        start = end + 1
    if not rows:
        raise DataError(f"{path}: no rows under the header — add one row per {columns.row}")


def check_columns(names: Sequence[str], columns: TableColumns, where: str, mapped: Mapping[str, str] | None = None) -> list[str]:
    """A table's column names (a CSV file's header, a Parquet file's schema) as our fields, ``mapped`` ones (our field
    -> the file's column) read as theirs (``mapped_names``), checked as ``columns``' rows: no column given twice, no
    known one misnamed, the required one there; ``where`` names the table (``docs.csv:1``). An empty name (a CSV
    header's unnamed column) is left for the rows to refuse.

    Raises:
        DataError: one line naming ``where`` and the column, and what to do.
    """
    twice = next((c for c in names if c and names.count(c) > 1), None)
    if twice is not None:
        raise DataError(f"{where}: column '{_name(twice)}' appears twice — keep one")
    names = mapped_names(names, mapped, where) if mapped else list(names)
    for column in names:
        fix = columns.misnamed(column, names) if column and column not in columns.fields else None
        if fix is not None:  # any other column is the file's own, kept as its rows' metadata
            raise DataError(f"{where}: column '{_name(column)}' is not known — {fix}")
    if columns.required not in names:
        raise DataError(f"{where}: no '{columns.required}' column — {_required_column_fix(names, columns)}")
    return names


def _required_column_fix(header: Sequence[str], columns: TableColumns) -> str:
    """What to do about a CSV header without the required column (pure): the column most likely meant, else the rule."""
    kind = "dataset" if columns.row == "case" else "corpus"
    if columns.row == "case":
        return f"the first line names the columns, e.g. id,question,reference, {map_fix(kind, columns.required, names=header)}"
    close = difflib.get_close_matches(columns.required, [h for h in header if h], n=1, cutoff=0.6)
    named = f" (columns: {', '.join(_name(h) for h in header if h)})" if any(header) else ""
    name_it = f"name the column holding each {columns.row}'s {columns.required} '{columns.required}'"
    if close:  # misspelt: renamed
        return f"did you mean '{_name(close[0])}'? {name_it[0].upper()}{name_it[1:]}{named}"
    return f"{name_it}, {map_fix(kind, columns.required, names=header)}{named}"
