"""Load datasets (JSONL, CSV, pandas) and corpora (folders of text, PDF, HTML and Word files, the built-in Python reference).

Every validation error is one line: ``file:line: field 'x': what is wrong — what to do``: encodings (the line and
byte offset), binary or empty files, CSV quoting (parsed strictly), wrong types, unknown categories, duplicate ids, and
questions or references over the length caps. Fields or columns of the dataset's own are kept as its cases' metadata.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import difflib
import hashlib
import io
import json
import math
import numbers
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workbench.datasets._formats import Extracted, TextCache, declared_charset, docx_text, extracted_once, file_format, html_text, pdf_text
from workbench.datasets._models import (
    CATEGORIES,
    SURROGATE,
    Corpus,
    Dataset,
    Document,
    EvalCase,
    asked_twice_fix,
    document_id,
    in_order,
    question_key,
)
from workbench.errors import DataError

PYTHON_REFERENCE = "python-reference"
MAX_QUESTION_CHARS = 4000
MAX_REFERENCE_CHARS = 20000
_FIELDS = ("id", "question", "reference", "source_ids", "category", "tags")
_LIST_FIELDS = ("source_ids", "tags")
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class _Caps:
    """The longest question and reference a dataset may hold (characters)."""

    question: int = MAX_QUESTION_CHARS
    reference: int = MAX_REFERENCE_CHARS
    in_memory: bool = False  # a DataFrame's caps are load_dataset's keywords: no experiment field reaches them


# -- reading bytes as text -----------------------------------------------------------------------------------------


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _is_utf16(data: bytes) -> bool:
    """Whether bytes are UTF-16 text: a byte-order mark, and they decode as UTF-16."""
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    try:
        data.decode("utf-16")
    except UnicodeDecodeError:
        return False
    return True


def read_text(path: Path, fix: str) -> str:
    """A text file's content: UTF-8 (an optional BOM is dropped), no NUL bytes.

    Args:
        path: the file.
        fix: what the user should do, ending every error message (e.g. ``save the file as UTF-8``).

    Raises:
        DataError: one line naming the file, the line and the byte offset of the first bad byte, or why the file
            cannot be read.
    """
    return _utf8_text(_read_bytes(path), path, fix)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc}) — check that it exists and is readable") from None


def _utf8_text(data: bytes, path: Path, fix: str) -> str:
    """``read_text`` of bytes already read."""
    if _is_utf16(data):  # Excel's "Unicode Text", PowerShell's '>' and Out-File: not binary, only another encoding
        raise DataError(f"{path}:1: UTF-16 text (byte-order mark 0x{data[0]:02x}{data[1]:02x}), not UTF-8 — {fix}")
    nul = data.find(b"\0")
    if nul >= 0:
        raise DataError(f"{path}:{_line_of(data, nul)}: binary data (NUL byte at offset {nul}), not UTF-8 text — {fix}")
    skip = len(_BOM) if data.startswith(_BOM) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = skip + exc.start
        raise DataError(f"{path}:{_line_of(data, offset)}: not UTF-8 (byte 0x{data[offset]:02x} at offset {offset}) — {fix}") from None


def _markup(data: bytes, path: Path, fix: str) -> str:
    """An HTML page's markup, from its bytes: in the encoding it declares (a page saved from a Windows-1252 site), else
    UTF-8."""
    charset = None if data.startswith(_BOM) else declared_charset(data)
    if charset is None:
        return _utf8_text(data, path, fix)
    try:
        return data.decode(charset)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}:{_line_of(data, exc.start)}: not {charset}, the encoding the page declares (byte "
                        f"0x{data[exc.start]:02x} at offset {exc.start}) — {fix}") from None


# -- one case --------------------------------------------------------------------------------------------------------


def _name(key: Any) -> str:
    """A field or column name as written, on one line, control and invisible characters escaped: a header's
    'question' + a zero-width space (pasted from a web page), or behind a second byte-order mark, read "column
    'question' is not known — call it 'question'"."""
    shown = json.dumps(str(key), ensure_ascii=False)[1:-1]
    return "".join(f"\\u{ord(ch):04x}" if unicodedata.category(ch) == "Cf" else ch for ch in shown)


# what other evaluation sets (ragas, Hugging Face datasets, spreadsheets) call the fields
_OTHER_NAMES = {
    "question": ("query", "input", "prompt", "user_input"),
    "reference": ("answer", "answers", "ground_truth", "expected", "expected_answer", "expected_output", "gold", "target"),
    "source_ids": ("sources", "source", "source_id", "doc_id", "doc_ids", "document_ids", "relevant_ids"),
    "id": ("case_id", "question_id", "qid"),
}


def _unknown_field_fix(name: str) -> str:
    """What to do about a field or column the dataset format does not have: the known one it most likely is, and
    the allowed names."""
    allowed = f"allowed: {', '.join(_FIELDS)}"
    meant = _meant_field(name)
    return f"call it '{meant}' ({allowed})" if meant else allowed


@lru_cache(maxsize=256)
def _meant_field(name: str) -> str | None:
    """The known field a field or column the format does not have most likely is (pure), or None; cached: every row's
    fields of their own ask it (difflib made loading 5,000 rows with 5 such columns 1.0 s instead of 0.3 s)."""
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    meant = key if key in _FIELDS else next((f for f, others in _OTHER_NAMES.items() if key in others), None)
    return meant if meant is not None else next(iter(difflib.get_close_matches(key, _FIELDS, n=1, cutoff=0.8)), None)


def _shown(value: Any) -> str:
    """A short description of a bad value: what it is and (briefly) what it says."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, numbers.Number):
        return f"{value} (a number)"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"{json.dumps(text, ensure_ascii=False)} (text)"
    kind = "a list" if isinstance(value, (list, tuple)) else "an object" if isinstance(value, dict) else type(value).__name__
    return kind


# the nested fields of an MLflow GenAI evaluation dataset's records (``mlflow.genai.datasets``, its ``to_df()``)
_MLFLOW_NESTED = ("inputs", "expectations")


def _mlflow_nested(name: Any, value: Any) -> bool:
    """Whether a field is one of an MLflow GenAI evaluation record's nested ones (pure)."""
    return name in _MLFLOW_NESTED and isinstance(value, Mapping)


def _first_error(error: ValidationError) -> Any:
    """The error to report of a row's: MLflow's nested record, whatever else is wrong with it; else a field not known
    that is most likely a missing one under another name ('user_input', 'Question': it was "field 'question' is
    missing — add it", of a row that holds its question); else the first."""
    errors = error.errors()
    extra = [e for e in errors if e["type"] == "extra_forbidden"]
    nested = next((e for e in extra if _mlflow_nested(e["loc"][0], e.get("input"))), None)
    if nested is not None:  # the record's shape, whatever MLflow's columns come first (dataset_record_id, tags: a dict)
        return nested
    missing = {e["loc"][0] for e in errors if e["type"] == "missing"}
    return next((e for e in extra if _meant_field(str(e["loc"][0])) in missing), errors[0])


def _describe(error: ValidationError) -> str:
    first = _first_error(error)
    loc = first["loc"]
    where = _name(loc[0]) if loc else "row"
    kind = first["type"]
    value = first.get("input")
    if kind == "missing":
        return f"field '{where}' is missing — add it"
    if kind == "extra_forbidden" and _mlflow_nested(loc[0], value):
        return (f"field '{where}' is not known: an MLflow evaluation dataset's nested record — write each case flat, "
                "{\"question\": its inputs' question, \"reference\": its expectations' expected_response}")
    if kind == "extra_forbidden":
        return f"field '{where}' is not known — {_unknown_field_fix(str(loc[0]))}"
    if kind == "string_unicode" and isinstance(value, str) and (found := SURROGATE.search(value)):
        # JSON's "\ud83d" escape: a tool that cut text at a length in UTF-16 units halved an emoji
        item = f" item {loc[1]}" if len(loc) > 1 else ""
        return (f"field '{where}'{item}: not valid Unicode ({found.group()!r} at character {found.start()}, a lone surrogate: half "
                "of an emoji cut in two, or a byte kept by errors='surrogateescape') — remove it, or write the whole character")
    if kind == "nul_character":
        item = f" item {loc[1]}" if len(loc) > 1 else ""
        return f"field '{where}'{item}: {_holds_nul(first['ctx']['at'])}"
    if kind == "invisible_character":
        item = f" item {loc[1]}" if len(loc) > 1 else ""
        code = first["ctx"]["code"]
        return (f"field '{where}'{item}: '{_name(value)}' holds an invisible character (U+{code} {unicodedata.name(chr(int(code, 16)), '')}), "
                "pasted with it from a web page or a document — remove it")
    if where in _LIST_FIELDS:
        if len(loc) > 1:  # one item of the list is not a string
            return f"field '{where}': item {loc[1]} is {_shown(value)}, not text — give a list of strings, e.g. [\"travel\"]"
        return f"field '{where}': expected a list of strings, got {_shown(value)} — give a list, e.g. [\"travel\"]"
    if kind == "literal_error":
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (str, int, float)) else _shown(value)
        # a spreadsheet's "Unanswerable" or "policy " was told only the list it is in
        meant = next((c for c in CATEGORIES if isinstance(value, str) and c == value.strip().casefold()), None)
        fix = f"write '{meant}'" if meant else f"use one of: {', '.join(CATEGORIES)}"
        return f"field '{where}': {shown} is not a category — {fix}"
    if kind == "string_type" and where == "reference" and isinstance(value, (list, tuple)):
        # 'write it as a string' made '["25 days", "twenty-five"]' one reference, scored against as written
        items = f"{len(value)} item{'' if len(value) == 1 else 's'}"
        return f"field 'reference': a list ({items}), and a question has one reference answer, as text — keep the one to score against"
    if kind == "string_type":
        return f"field '{where}': expected text, got {_shown(value)} — write it as a string, in quotes"
    if kind == "string_too_short" or (kind == "value_error" and where in ("question", "id")):
        what = "the question" if where == "question" else "a value, or leave the field out"
        return f"field '{where}' is empty — give {what}"
    return f"field '{where}': {first['msg']}"


def _check_unicode(text: str, where: str, field: str) -> None:
    """Refuse a document's text holding a lone surrogate, which a file read as UTF-8 never does but text decoded in a
    notebook with ``errors='surrogateescape'`` may: the corpus hash, the index and MLflow cannot encode it (a bare
    UnicodeEncodeError from the sweep), or a NUL character. A case's text is refused so by its pydantic model."""
    found = SURROGATE.search(text)
    if found:
        raise DataError(f"{where}: field '{field}': not valid Unicode ({found.group()!r} at character {found.start()}, an undecodable "
                        "byte kept by errors='surrogateescape') — decode the text as UTF-8, or with errors='replace'")
    if "\0" in text:  # as a corpus file's NUL byte is refused (read_text), and a case's (its pydantic model)
        raise DataError(f"{where}: field '{field}': {_holds_nul(text.find(chr(0)))}")


def _holds_nul(at: int) -> str:
    """What is wrong with a text holding a NUL character at ``at``, and what to do (pure)."""
    return f"holds a NUL character (\\u0000 at character {at}), which a database cannot store and a model reads as the end of the text — remove it"


def _own_field(key: Any, value: Any) -> bool:
    """Whether a row's field is the dataset's own (kept as the case's metadata): not a known field, nor one under
    another name or misspelt ('answer', 'refrence', 'Question'), which stays an error to catch the typo, nor an MLflow
    evaluation record's nested one (pure)."""
    return key not in _FIELDS and _meant_field(str(key)) is None and not _mlflow_nested(key, value)


def _metadata_value(value: Any, where: str, key: str) -> Any:
    """A metadata value as a case keeps it: text, a number or true/false as given (a NumPy scalar as Python's), a list
    or an object as its JSON text, anything else (a date) as its text."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:  # a DataFrame's int64, float64, bool_
        value = value.item()
    if not isinstance(value, (str, bool, int, float)):
        value = (json.dumps(value, ensure_ascii=False, default=_json_default) if isinstance(value, (Mapping, list, tuple))
                 or hasattr(value, "tolist") else str(value))
    if isinstance(value, str):  # MLflow's tables and a PostgreSQL store cannot hold these
        _check_unicode(value, where, key)
    return value


def _json_default(value: Any) -> Any:
    """A value ``json`` cannot write, in a nested metadata value: a NumPy array or scalar as its list or number, else its text."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def _metadata(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A row's metadata: its fields of its own, and the keys of its field 'metadata' when that is an object (what
    ``EvalCase.model_dump`` writes), empty values left out.

    Raises:
        DataError: a key given both beside 'metadata' and in it, or a value MLflow cannot store.
    """
    given = row.get("metadata")
    nested = given if isinstance(given, Mapping) else {}
    own = {k: v for k, v in row.items() if _own_field(k, v) and not (k == "metadata" and isinstance(v, Mapping))}
    twice = next((k for k in own if k in nested), None)
    if twice is not None:
        raise DataError(f"{where}: field '{_name(twice)}' is given twice, beside 'metadata' and in it — keep one")
    return {str(k): _metadata_value(v, where, _name(k)) for k, v in {**own, **nested}.items() if not _missing(v)}


def _case(row: Mapping[str, Any], where: str, caps: _Caps) -> EvalCase:
    fields = {k: v for k, v in row.items() if not _own_field(k, v)}
    metadata = _metadata(row, where)
    try:
        case = EvalCase.model_validate({**fields, "metadata": metadata} if metadata else fields)
    except ValidationError as exc:
        raise DataError(f"{where}: {_describe(exc)}") from None
    for name, cap in (("question", caps.question), ("reference", caps.reference)):
        size = len(getattr(case, name))
        if size > cap:
            raise_cap = (f"with wb.load_dataset(df, max_{name}_chars={size}) and pass that dataset to wb.run" if caps.in_memory
                         else f"in the experiment: 'dataset: {{max_{name}_chars: {size}}}'")
            raise DataError(f"{where}: field '{name}' is {size:,} characters long, over the cap of {cap:,} — shorten it, or raise the cap "
                            f"{raise_cap}")
    return case


def _check_unique(cases: Iterable[tuple[EvalCase, str]], source: str, defaulted: Collection[str] = ()) -> tuple[EvalCase, ...]:
    """The cases, each id once; ``defaulted``: where the rows given no id were read (named after their question)."""
    seen: dict[str, tuple[EvalCase, str]] = {}
    out = []
    for case, where in cases:
        if case.id in seen:
            first, at = seen[case.id]
            if where in defaulted and at in defaulted:  # no ids, and one question asked twice: they share its id
                raise DataError(f"{where}: field 'question': the same question as {at} — {asked_twice_fix(first, case)}")
            raise DataError(f"{where}: field 'id': {_duplicate(case.id, where, at, defaulted)}")
        seen[case.id] = (case, where)
        out.append(case)
    if not out:
        raise DataError(f"{source}: dataset has no rows — add at least one case")
    return tuple(out)


def _duplicate(case_id: str, where: str, first: str, defaulted: Collection[str]) -> str:
    """Why an id read at ``where`` is refused as ``first``'s too (pure): a row given no id is named after its question,
    which another row's id may be: 'first at d.csv:2' named a line without an id."""
    if where in defaulted:
        return f"this row has no id, and the one it gets from its question, '{case_id}', is the id of {first} — give this row an id of its own"
    if first in defaulted:
        return f"duplicate id '{case_id}', which {first} gets from its question, having no id — give that row an id, or rename this one"
    return f"duplicate id '{case_id}' (first at {first}) — ids must be unique: rename one"


# -- formats ---------------------------------------------------------------------------------------------------------


def _default_id(row: Mapping[str, Any]) -> str:
    """The id of a case given none: ``case-`` and 12 hex digits of its question (spaces aside, in NFC, as questions are
    told apart), never its position, nor the file's name or line number. Renaming, moving or re-spacing the file, or
    inserting, deleting or reordering questions, leaves every other question its id (numbered by position, one question
    inserted at the top renamed all those after it: a comparison with an earlier sweep paired none of them, and labels
    or feedback given by id went to another question)."""
    question = row.get("question")
    text = question_key(question) if isinstance(question, str) else ""  # no text: refused when the row is read
    return f"case-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


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


def _read_jsonl(path: Path, caps: _Caps) -> Dataset:
    text = read_text(path, "save the file as UTF-8")
    if not text.strip():
        raise DataError(f"{path}: empty file — add one JSON object per line, e.g. {{\"question\": \"...\"}}")
    rows = []
    defaulted: set[str] = set()  # where the rows given no id were read
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line, object_pairs_hook=_once_each)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}) — {_json_lines_fix(text, line, exc)}") from None
        except _KeyTwice as exc:  # json keeps the last value silently: which reference was meant?
            raise DataError(f"{where}: field '{_name(exc.key)}' is given twice in one object — keep one") from None
        except RecursionError:  # [[[[...]]]] a thousand levels deep: Python's JSON decoder recurses
            raise DataError(f"{where}: {_TOO_DEEP}") from None
        if not isinstance(row, dict):
            fix = f"the cases are a JSON array on one line: {_ONE_OBJECT_PER_LINE}" if _objects(row) else "one JSON object per line"
            raise DataError(f"{where}: expected a JSON object, got {type(row).__name__} — {fix}")
        row = {k: v for k, v in row.items() if v is not None}  # null is a field left out (pandas' to_json writes it so)
        if "id" in row:
            row["id"] = _id_text(row["id"])
        else:
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


def _objects(value: Any) -> bool:
    """Whether a JSON value is a non-empty list of objects (pure)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _json_lines_fix(text: str, line: str, exc: json.JSONDecodeError) -> str:
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
            return "the file is one JSON object spread over several lines: write each case's object on one line"
    if line.strip() in ("[", "{"):  # pretty-printed objects (jq '.' of a JSONL file), or an array with an error further on
        return "write each case's object on one line (JSON Lines), not pretty-printed over several (jq -c, json.dumps without indent)"
    return "one JSON object per line"


def _id_text(value: Any) -> Any:
    """A whole-number id as text: 7, and 7.0 (pandas makes an id column float when one id is missing), are '7', as in
    a CSV file. Any other value is returned as it is (a JSONL string, or a value validation refuses)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def _reference_text(value: Any) -> Any:
    """A number given as the reference answer, as text: 42 is '42', 2.5 '2.5', and 25.0 '25' (pandas makes a column of
    whole numbers float when a cell is empty; a CSV cell is '25' too). Any other value is returned as it is."""
    if isinstance(value, float) and math.isfinite(value) and not value.is_integer():
        return str(value)
    return _id_text(value)


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


def _missing(value: Any) -> bool:
    """Whether a cell holds no value: None, or NaN (pandas' empty cell)."""
    return value is None or (isinstance(value, float) and value != value)


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


def _read_csv(path: Path, caps: _Caps) -> Dataset:
    # a line break in a quoted cell as Python's text files read it: Windows' '\r\n' (Excel's rows, a clone with git's
    # autocrlf) was kept in the question, another text, prompt and dataset hash than the same file's on Linux; and the
    # Excel format that is UTF-8: its 'CSV (Comma delimited)' is Windows-1252, its 'Unicode Text' UTF-16
    text = _one_line_break(read_text(path, "save the file as UTF-8 (in Excel: 'CSV UTF-8 (Comma delimited)')"))
    if not text.strip():
        raise DataError(f"{path}: empty file — add a header line (e.g. id,question,reference,source_ids) and one row per case")
    quoting = 'close the quoted field, and write a quote inside a quoted field as ""'
    # skipinitialspace: in `q1, "What, exactly?"` the quote after ", " opens a quoted field, as the writer meant
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, skipinitialspace=True)
    try:
        header = csv_header(reader, path)
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: CSV quoting in the header: {exc} — {quoting}") from None
    for column in header:
        if column and column not in _FIELDS:
            separator = other_separator(column)
            if separator:  # Excel saves "CSV" with ';' where the decimal mark is a comma; a TSV renamed .csv has tabs
                raise DataError(f"{path}:1: the columns are separated by {separator}, not commas — save the file as "
                                "comma-separated CSV (in Excel: 'CSV UTF-8 (Comma delimited)')")
            if _meant_field(column):  # any other column is the dataset's own, kept as its cases' metadata
                raise DataError(f"{path}:1: column '{_name(column)}' is not known — {_unknown_field_fix(column)}")
        if column and header.count(column) > 1:
            raise DataError(f"{path}:1: column '{column}' appears twice — keep one")
    if "question" not in header:
        raise DataError(f"{path}:1: no 'question' column in the header — the first line names the columns, e.g. id,question,reference")
    records = []
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise DataError(
                    f"{path}:{start}: a field is longer than {csv.field_size_limit():,} characters, the most a CSV field may "
                    f"hold — shorten it (questions are capped at {caps.question:,} characters, references at {caps.reference:,})"
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
            raise DataError(f"{where}: the header line again (files joined with their headers?), not a case — remove it")
        unnamed = next((i for i, (k, v) in enumerate(zip(header, row)) if not k and v.strip()), None)
        if unnamed is not None:  # a header ending in ',' has room for the tail of an unquoted "a, b": it was dropped
            raise DataError(
                f"{where}: field {unnamed + 1}, {json.dumps(row[unnamed].strip()[:40], ensure_ascii=False)}, is under a column with no name in the header — quote "
                f"a field that contains a comma (\"a, b\"), or name the column"
            )
        records.append(({k: (v if v != "" else None) for k, v in zip(header, row) if k}, where))
        start = end + 1
    if not records:
        raise DataError(f"{path}: no rows under the header — add one row per case")
    return _from_records(records, path.stem, str(path), caps)


def _one_line_break(text: str) -> str:
    r"""``text`` with each line break ``\n`` (pure): ``\r\n`` and a lone ``\r`` count as one line, as they do in
    a CSV file's rows, so line numbers stay as they were."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


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
    frame has ``to_pandas()``; a ``DatasetDict`` (what ``datasets.load_dataset`` returns) holds one per split."""
    if hasattr(source, "to_pandas"):
        return ": its to_pandas() is one (dataset=table.to_pandas())"
    splits = [str(k) for k, v in source.items() if hasattr(v, "to_pandas")] if isinstance(source, Mapping) else []
    if splits:
        return f": pick a split and take its to_pandas(), e.g. ds[{splits[0]!r}].to_pandas() (splits: {', '.join(splits)})"
    return ""


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

    Args:
        source: a ``.jsonl``/``.csv`` path or a DataFrame.
        name: the dataset's name (default: the file's stem).
        limit: keep only the first ``limit`` cases, at least 1 (every row is still checked); None keeps every case.
        max_question_chars: a longer question is refused (the experiment's ``dataset.max_question_chars``).
        max_reference_chars: a longer reference answer is refused (``dataset.max_reference_chars``).

    Raises:
        DataError: one line naming the file, line and field of the first bad row, and what to do.
    """
    check_limit(limit)
    caps = _Caps(max_question_chars, max_reference_chars)
    if not isinstance(source, (str, Path)):
        import pandas as pd

        if not isinstance(source, pd.DataFrame):
            raise DataError(f"cannot load a dataset from {type(source).__name__} — give a .jsonl/.csv path or a DataFrame{_frame_fix(source)}")
        label = name or "dataframe"
        caps = _Caps(max_question_chars, max_reference_chars, in_memory=True)
        _check_columns(source, label)
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
        dataset = _read_jsonl(path, caps)
    elif suffix == ".csv":
        dataset = _read_csv(path, caps)
    else:
        raise DataError(f"{path}: unsupported dataset format '{suffix}' — use .jsonl, .csv or a pandas DataFrame{_format_fix(suffix)}")
    if name:
        dataset = Dataset(name, dataset.cases, dataset.source, dataset.lines)
    return dataset.head(limit)


# the files pandas reads that a dataset entry does not: read them in a notebook and hand the DataFrame to wb.run
_PANDAS_READERS = {".parquet": "read_parquet", ".xlsx": "read_excel", ".xls": "read_excel", ".tsv": "read_csv(path, sep='\\t')"}


def _format_fix(suffix: str) -> str:
    """How to use a dataset file of a format ``load_dataset`` does not read (pure): '' when there is no more to say."""
    if suffix == ".json":
        return f" (a .json file of a list of objects: {_ONE_OBJECT_PER_LINE})"
    reader = _PANDAS_READERS.get(suffix)
    if reader is None:
        return ""
    call = reader if "(" in reader else f"{reader}(path)"
    return f" (wb.run(exp, dataset=pd.{call}), or save it as .csv)"


def python_reference_corpus() -> Corpus:
    """The Python language reference topics that ship with CPython (``pydoc_data.topics``), one document per topic."""
    from pydoc_data.topics import topics

    docs = tuple(Document(id=key, text=topics[key], metadata={"source": "pydoc_data.topics"}) for key in sorted(topics))
    return Corpus(name=PYTHON_REFERENCE, documents=docs, source="pydoc_data.topics")


def on_disk(path: Path) -> Path:
    """``path`` as the file system spells it: a name typed in one Unicode form (an editor writes "é" composed, NFC)
    finds the file or folder that macOS or a zip archive wrote in the other (e + a combining accent), as document ids
    and corpus globs already do. ``path`` itself when it exists, or when no name of its folder reads the same."""
    if path.exists():
        return path
    found = Path(path.anchor) if path.anchor else Path()
    for part in path.parts[1:] if path.anchor else path.parts:
        step = found / part
        if not step.exists() and found.is_dir():
            wanted = document_id(part)
            with contextlib.suppress(OSError):  # a folder it may not list: the path stays as typed
                step = next((entry for entry in found.iterdir() if document_id(entry.name) == wanted), step)
        found = step
    return found if found.exists() else path


def missing_path_fix(path: str | Path, fix: str) -> str:
    """What to do about a path that does not exist: ``fix``, unless the path holds what was meant as an environment
    variable (``$DATA_DIR``, ``${HOME}``): paths are taken as written, so say that instead; or Windows' separators
    (``data\\eval.jsonl``, written on Windows), where the path with ``/`` exists: ``\\`` is part of a name elsewhere."""
    var = re.search(r"\$\{?[A-Za-z_]\w*\}?", str(path))
    if var:
        return f"write the path out: '{var.group()}' is not expanded (paths are taken as written, relative to the experiment file)"
    forward = Path(str(path).replace("\\", "/"))
    if "\\" in str(path) and on_disk(forward).exists():
        return f"write '/' between folders, not '\\' (which is part of a file name here): {forward} exists, and Windows reads '/' too"
    return fix


def pattern_inside_folder(glob: str) -> bool:
    """Whether a corpus glob picks files inside its folder: not empty, not absolute, no ``..``."""
    return bool(glob.strip()) and not Path(glob).is_absolute() and ".." not in Path(glob).parts


# folders of the project's own runs: a corpus at the project's root (path: .) read MLflow's artifacts (each run's
# prompt_template.txt, variant.yaml...) as documents, and its hash changed with every sweep, rebuilding every index;
# and of installed or compiled code: node_modules' READMEs were documents under '**/*.md', and __pycache__'s .pyc
# files refused a whole '**/*' corpus as binary, with no glob that leaves them out
_NOT_DOCUMENTS = frozenset({"mlruns", "__pycache__", "node_modules"})
# how Office's owner files start: '~$handbook.docx' (162 bytes naming who has the document open) lies beside each
# document open in Word, Excel or PowerPoint, hidden by Windows; a shared folder of Word documents being edited was
# refused as a corpus for holding them
_OWNER_FILE = "~$"


def _set_aside(part: str) -> bool:
    return part.startswith(".") and part not in (".", "..") or part.startswith(_OWNER_FILE) or part in _NOT_DOCUMENTS


def _hidden(relative: Path, glob: str) -> bool:
    """Whether a file lies in a hidden file or folder (``.git/``, ``.ipynb_checkpoints/``), is an Office owner file
    (``~$handbook.docx``), or lies in ``mlruns/`` (MLflow's store and artifacts), ``__pycache__/`` or ``node_modules/``,
    that the glob does not name.

    Like a shell's glob, ``*`` and ``**`` do not match a leading dot: Jupyter's checkpoint copies and version control
    files are not documents, nor are the runs a sweep logs next to the corpus. A pattern that spells such a name out
    (``.notes/*.md``, ``mlruns/**/*.txt``) still picks it.
    """
    return _hidden_parts(relative.parts, glob)


def _hidden_parts(parts: Sequence[str], glob: str) -> bool:
    """``_hidden`` of a relative path given as its parts (a corpus walk names thousands of files: no Path for each)."""
    named = _named_aside(glob)
    return any(_set_aside(part) and not any(fnmatchcase(part, n) for n in named) for part in parts)


@lru_cache(maxsize=64)
def _named_aside(glob: str) -> tuple[str, ...]:
    """The hidden names (see ``_set_aside``) a glob spells out (pure)."""
    return tuple(part for part in Path(glob).parts if _set_aside(part))


def _glob_parts_match(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Whether a relative path's parts match a glob's: ``*`` within one name, ``**`` any number of folders."""
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_glob_parts_match(parts[i:], rest) for i in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], head) and _glob_parts_match(parts[1:], rest)


def _pattern_parts(glob: str) -> tuple[str, ...]:
    """A corpus pattern's parts as names are compared, in NFC (pure); one ending in '/' (``drafts/``) names a folder:
    everything under it."""
    parts = tuple(document_id(part) for part in Path(glob).parts)
    return (*parts, "**") if glob.endswith("/") and parts[-1:] != ("**",) else parts


def _excluded_by(relative: str, exclude: Sequence[str]) -> str | None:
    """The first of a corpus's ``exclude`` patterns that leaves out the file at ``relative`` (posix, to the folder)."""
    parts = tuple(document_id(part) for part in Path(relative).parts)
    return next((p for p in exclude if _glob_parts_match(parts, _pattern_parts(p))), None)


def _leave_out(pattern: str) -> str:
    """The end of a message refusing a corpus folder's file: how to leave it out (pure). ``pattern``: its path relative
    to the folder, or a pattern picking it."""
    return "leave it out: corpus exclude: ['" + pattern.replace("'", "''") + "']"  # as YAML quotes it


def _exact(relative: Path) -> str:
    """An exclude pattern picking only the file at ``relative`` (pure): its glob characters escaped, a name that is not
    UTF-8 with '?' for each undecodable byte, which no one can type."""
    posix = re.sub(r"([*?\[])", r"[\1]", relative.as_posix())
    return re.sub("[\udc80-\udcff]", "?", posix)


def corpus_files(folder: Path, glob: str, *, exclude: Sequence[str] = (), hidden: bool = False, by_case: list[Path] | None = None) -> list[Path]:
    """The files (and broken links) under ``folder`` that ``glob`` picks and no ``exclude`` pattern leaves out, sorted,
    entering linked folders; ``by_case``, when given, receives those it would pick but for the case of their names
    (``README.MD`` under ``**/*.md``).

    An excluded file is never opened, and a folder whose every file an ``exclude`` pattern leaves out (``drafts/**``)
    never walked: a broken link, a binary or an empty file left out so is no error.

    Sorted by their names in Unicode NFC, as their document ids are: a copy of the corpus whose names macOS or a zip
    archive wrote decomposed (``e`` + U+0301 sorts before ``f``, ``é`` after it) holds its documents in the same order,
    so it has the same hash, chunks and indexes, and a bundle evaluated on the one loads on the other.

    Python's own ``**`` (before 3.13) does not enter a linked folder, while ``*/`` does: a corpus with a shared folder
    linked into it lost those documents silently. A linked folder is entered once: one that leads back to a folder
    already walked (a loop, or a second link to it) is not walked again. Hidden files and folders (see ``_hidden``) are
    left out, and never walked, unless ``hidden``: a corpus at a project's root walked every file of its ``.venv`` and
    ``.git`` (87,000 files, 6 s) to keep none of them.
    """
    # names compared in NFC, as document ids are: 'Ünïcødé/*.md' typed in an experiment picks the folder macOS or a zip
    # archive wrote decomposed
    pattern = tuple(document_id(part) for part in Path(glob).parts)
    depth = None if "**" in pattern else len(pattern) - 1  # how deep a pattern without '**' can reach
    left_out = [_pattern_parts(p) for p in exclude]
    # an exclude pattern ending in '**' that matches a folder matches everything under it: that folder is not walked
    whole_folders = [p for p in left_out if p[-1:] == ("**",)]
    any_case = tuple(part.casefold() for part in pattern)
    seen: set[str] = set()
    found: list[Path] = []
    for top, dirs, names in os.walk(folder, followlinks=True):
        here = Path(top)
        seen.add(os.path.realpath(top))
        inside = here.relative_to(folder).parts  # once per folder, not per file (pathlib took most of a 10,000-file walk)
        named = tuple(map(document_id, inside))
        dirs[:] = [] if depth is not None and len(inside) >= depth else [
            d for d in sorted(dirs) if os.path.realpath(here / d) not in seen and (hidden or not _hidden_parts((*inside, d), glob))
            and not any(_glob_parts_match((*named, document_id(d)), p) for p in whole_folders)]
        if left_out:
            names = [n for n in names if not any(_glob_parts_match((*named, document_id(n)), p) for p in left_out)]
        picked = [n for n in names if _glob_parts_match((*named, document_id(n)), pattern)]
        found += [here / n for n in picked if hidden or not _hidden_parts((*inside, n), glob)]
        if by_case is not None and len(picked) < len(names):  # only the names left out are matched again, case aside
            folded, left = tuple(part.casefold() for part in named), set(names).difference(picked)
            by_case += [here / n for n in sorted(left) if _glob_parts_match((*folded, document_id(n).casefold()), any_case)
                        and (hidden or not _hidden_parts((*inside, n), glob))]
    return sorted(found, key=lambda p: [document_id(part) for part in p.parts])


def left_out_fix(folder: Path, glob: str, relative: str, exclude: Sequence[str] = ()) -> str:
    """What to do about a labelled source whose file (``relative`` to the corpus folder) the corpus does not read: take
    it out of the exclude pattern leaving it out, widen the glob, save it as UTF-8, move it out of the hidden folder
    holding it, or, for a binary file (an image, a PDF), drop the label."""
    excluded = _excluded_by(relative, exclude)
    if excluded is not None:
        return f"its file {relative} is left out by the corpus exclude '{excluded}': remove that pattern, or drop the label"
    try:
        if file_format(relative) is None:  # a PDF's or a page's text is read whatever its bytes
            read_text(folder / relative, "")
    except DataError:  # not UTF-8 text, or not readable at all
        with contextlib.suppress(OSError):
            data = (folder / relative).read_bytes()
            if b"\0" in data and not _is_utf16(data):
                return f"its file {relative} is binary (an image, a spreadsheet), which no corpus reads: drop the label"
        return f"its file {relative} is not UTF-8 text: save it as UTF-8 and widen the corpus glob '{glob}' to read it, or drop the label"
    hidden = next((part for part in Path(relative).parts if _set_aside(part)), None)
    if hidden is not None and any(p.relative_to(folder).as_posix() == relative for p in corpus_files(folder, glob, hidden=True)):
        start = _OWNER_FILE if hidden.startswith(_OWNER_FILE) else "."
        where, fix = (f"its name starts with '{start}'", "rename it") if hidden == Path(relative).name else (f"under '{hidden}'", f"move it out of '{hidden}'")
        return f"its file {relative} is left out as hidden ({where}), which the corpus reads only when its glob names it: {fix}, or drop the label"
    return f"its file {relative} is not read with the corpus glob '{glob}': widen the glob, or drop the label"


def _no_match_fix(folder: Path, glob: str, exclude: Sequence[str] = ()) -> str:
    """What to do when a corpus glob picks no file (or exclude leaves out all it picks): the pattern that would, or the
    general advice."""
    if exclude and corpus_files(folder, glob):
        return f"the corpus exclude {list(exclude)} leaves out every file the glob picks: remove a pattern from exclude"
    if "{" in glob and "}" in glob:
        return "'{a,b}' is not glob syntax here — give one pattern, e.g. '**/*.md', or '**/*' for every file"
    slashed = glob.replace("\\", "/")
    if slashed != glob and pattern_inside_folder(slashed) and any(p.is_file() for p in corpus_files(folder, slashed)):
        return f"a glob separates folders with '/', as on every system (Windows too) — use glob: '{slashed}'"
    deeper = f"**/{glob}"
    if not glob.startswith("**") and any(p.is_file() for p in corpus_files(folder, deeper)):
        return f"'{glob}' looks only at the top of the folder; its files are in subfolders — use glob: '{deeper}'"
    if any(p.is_file() for p in corpus_files(folder, glob, hidden=True)):
        return ("every matching file is hidden (its name or a folder's starts with '.', its name with '~$', or it is under mlruns/, "
                "__pycache__/ or node_modules/) — name that folder in the glob")
    files = [p for p in corpus_files(folder, "**/*") if p.is_file() and p.suffix]
    suffixes = Counter(p.suffix.lower() for p in files)
    if suffixes:  # e.g. a folder of .txt files under the default '**/*.md'
        suffix = min(suffixes, key=lambda s: (-suffixes[s], s))  # the most common; a tie goes to the first by name
        ending = _suffix_pattern(suffix, {p.suffix for p in files})
        return f"its files are mostly {suffix if '[' in ending else ending} — use glob: '**/*{ending}'"
    return "check the folder or the corpus 'glob'"


def _suffix_pattern(suffix: str, spellings: Collection[str]) -> str:
    """A glob ending that matches ``suffix`` as the files spell it (pure): ``.MD`` for files all named ``.MD``, and
    ``.[mM][dD]`` for a mix (globs are case-sensitive: '**/*.md' picks no ``A.MD``)."""
    spelt = {s for s in spellings if s.lower() == suffix}
    if len(spelt) == 1:
        return next(iter(spelt))
    return "." + _any_case(suffix[1:])


def _any_case(text: str) -> str:
    """A glob piece matching ``text`` in any case of its letters (pure): 'md' is '[mM][dD]'."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.lower() != c.upper() else c for c in text)


def _check_utf8_name(relative: Path, folder: Path) -> None:
    """Refuse a file whose name (or a folder's) is not UTF-8, e.g. Latin-1 names from an old zip archive: Python reads
    each such byte as a lone surrogate, and the corpus's hash, its index and MLflow cannot encode the document id."""
    name = str(relative)
    bad = next((ch for ch in name if "\udc80" <= ch <= "\udcff"), None)
    if bad is not None:
        shown = os.fsencode(folder / relative).decode("utf-8", "backslashreplace")
        raise DataError(f"{shown}: the file name is not UTF-8 (byte 0x{ord(bad) - 0xDC00:02x}) — rename it in UTF-8 "
                        f"(e.g. convmv -f latin1 -t utf8), or {_leave_out(_exact(relative))}")


def check_corpus_folder(folder: Path, glob: str, *, exclude: Sequence[str] = (), by_case: list[Path] | None = None) -> list[Path]:
    """The files of a corpus folder that ``glob`` picks and ``exclude`` does not leave out, without reading them (a form
    checks a corpus as it is typed); ``by_case``, when given, receives those it would pick but for the case of their names.

    Raises:
        DataError: the folder is a file or missing, the glob or an exclude pattern leaves it, or no file is picked.
    """
    folder = on_disk(folder)
    if folder.is_file():
        raise DataError(f"{folder}: the corpus is {_corpus_file_fix(folder)}")
    if not folder.is_dir():
        fix = missing_path_fix(folder, f"give a folder of documents (.md, .txt, .pdf, .html, .docx...) or '{PYTHON_REFERENCE}'")
        raise DataError(f"{folder}: corpus folder not found — {fix}")
    if not pattern_inside_folder(glob):
        raise DataError(f"corpus glob '{glob}': give a pattern relative to the corpus folder {folder}, e.g. '**/*.md' (no '..')")
    if isinstance(exclude, str):  # read as a list of its characters: '*.png' left out every file, '*' being one
        raise DataError(f"corpus exclude '{exclude}': give a list of patterns, e.g. exclude=['{exclude}']")
    outside = next((i for i, pattern in enumerate(exclude) if not pattern_inside_folder(pattern)), None)
    if outside is not None:
        raise DataError(f"corpus exclude[{outside}] '{exclude[outside]}': give a pattern relative to the corpus folder {folder}, "
                        "e.g. 'drafts/**' (no '..')")
    found = corpus_files(folder, glob, exclude=exclude, by_case=by_case)
    if not found:
        raise DataError(f"{folder}: no files match '{glob}' — {_no_match_fix(folder, glob, exclude)}")
    return found


_ARCHIVES = {".zip": "unzip {name} -d {stem}", ".tar": "tar -xf {name}", ".tgz": "tar -xzf {name}", ".tar.gz": "tar -xzf {name}",
             ".tar.bz2": "tar -xjf {name}", ".tar.xz": "tar -xJf {name}", ".7z": "7z x {name}", ".rar": "unrar x {name}"}


def _corpus_file_fix(path: Path) -> str:
    """What a corpus path that is a file is, and what to do: an archive (a wiki's zipped export) is unpacked, and a
    binary file (an image, a spreadsheet) exported as text, since a glob picking either reads one binary document,
    refused; a text file, a PDF, an HTML page or a Word document is picked by a glob in its folder."""
    suffix = next((s for s in _ARCHIVES if path.name.lower().endswith(s)), None)
    if suffix is not None:
        unpack = _ARCHIVES[suffix].format(name=path.name, stem=path.name[: -len(suffix)])
        return f"an archive, not a folder — unpack it ({unpack}) and give the folder of its files"
    kind = file_format(path.name)
    if kind is None:
        with contextlib.suppress(OSError), path.open("rb") as file:
            if b"\0" in file.read(8192):
                return ("a binary file (an image, a spreadsheet), not a folder — export its text as .md or .txt files "
                        "into a folder, and give that folder")
    what = {"pdf": "a PDF", "html": "an HTML page", "docx": "a Word document", None: "a file"}[kind]
    return f"{what}, not a folder — give its folder, with glob: '{_exact(Path(path.name))}' to use only it"


def _document(item: Any, n: int, label: str) -> Document:
    """The ``n``-th (1-based) in-memory document: a string, a dict with ``text`` (and ``id``, string ``metadata``), a
    ``Document``, or a LangChain ``Document`` (its ``id``, else its position; its metadata as text)."""
    from langchain_core.documents import Document as LangChainDocument

    where = f"{label}: document {n - 1}"
    if isinstance(item, Document):
        return item
    if isinstance(item, str):
        doc_id, text, metadata = _default_document_id(n), item, {}
    elif isinstance(item, LangChainDocument):
        doc_id, text, metadata = item.id or _default_document_id(n), item.page_content, item.metadata
    elif isinstance(item, Mapping):
        unknown = sorted(str(k) for k in item if k not in ("id", "text", "metadata"))
        if unknown:
            raise DataError(f"{where}: field '{_name(unknown[0])}' is not known — allowed: id, text, metadata")
        if "text" not in item:
            raise DataError(f"{where}: field 'text' is missing — give each document its text, e.g. {{\"id\": \"travel\", \"text\": \"...\"}}")
        doc_id, text, metadata = item.get("id"), item["text"], item.get("metadata") or {}
        doc_id = _default_document_id(n) if _missing(doc_id) else _id_text(doc_id)
        text = "" if _missing(text) else text  # an empty cell of a DataFrame's text column (NaN): an empty document
    else:
        raise DataError(f"{where}: a {type(item).__name__} is not a document — give text, a dict with 'text' (and 'id'), or a LangChain Document")
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise DataError(f"{where}: field 'id': expected text, got {_shown(doc_id)} — give each document a non-empty id")
    if not isinstance(text, str):
        raise DataError(f"{where}: field 'text': expected text, got {_shown(text)} — give the document's text as a string")
    if not text.strip():
        raise DataError(f"{where}: empty document ('{doc_id}') — add its text, or leave it out")
    if not isinstance(metadata, Mapping):
        raise DataError(f"{where}: field 'metadata': expected an object, got {_shown(metadata)} — give a dict, or leave it out")
    for field_name, value in (("id", doc_id), ("text", text), *(("metadata", str(v)) for v in metadata.values())):
        _check_unicode(value, where, field_name)
    return Document(id=document_id(doc_id), text=text, metadata={str(k): str(v) for k, v in metadata.items()})


def _default_document_id(n: int) -> str:
    """The id of the ``n``-th document (1-based) given without one: its position, like a case's."""
    return f"doc-{n}"


def _corpus_from_documents(source: Any, name: str) -> Corpus:
    """A corpus of in-memory documents: a list (see ``_document``), or a DataFrame with a ``text`` (and ``id``) column."""
    import pandas as pd

    if isinstance(source, Mapping):  # one document, or {id: text}: which one is not for us to guess
        raise DataError("cannot load a corpus from a dict — give a list: [{'id': ..., 'text': ...}] for one document, "
                        "[{'id': k, 'text': v} for k, v in docs.items()] for a dict of id -> text")
    if isinstance(source, pd.DataFrame):
        _check_columns(source, name)
        # a row of empty cells (a spreadsheet's emptied row, NaN in every column) is no document; the others keep their
        # positions, which errors and default ids name
        ids = _index_holds_ids(source, name, ("doc_id", "document_id", "source_id"), "document")
        items: list[tuple[int, Any]] = [(n, {**row, "id": index} if ids else row)
                                        for n, (index, row) in enumerate(zip(source.index.tolist(), source.to_dict(orient="records")), start=1)
                                        if not all(_missing(v) for v in row.values())]
    elif isinstance(source, (set, frozenset)):  # named by position in the order of its strings' hashes, new in each process
        raise DataError(f"{name}: a set of documents has no order, and documents without ids are named by their position (doc-1, "
                        "doc-2...) — give a list, e.g. sorted(docs)")
    elif isinstance(source, Iterable) and not isinstance(source, (str, bytes, Mapping)):
        items = list(enumerate(source, start=1))
    else:
        raise DataError(f"cannot load a corpus from {type(source).__name__} — give a folder, '{PYTHON_REFERENCE}', a list of "
                        "documents (text, dicts with 'text' and 'id', LangChain Documents) or a DataFrame with a 'text' column")
    docs = [(n - 1, _document(item, n, name)) for n, item in items]
    if not docs:
        raise DataError(f"{name}: the corpus has no documents — give at least one")
    first: dict[str, int] = {}
    for i, doc in docs:
        if doc.id in first:  # labelled source ids (and retrieval metrics) could not tell them apart
            raise DataError(f"{name}: document {i}: duplicate id '{doc.id}' (first at document {first[doc.id]}) — ids must be "
                            "unique: rename one")
        first[doc.id] = i
    return Corpus(name=name, documents=tuple(doc for _, doc in docs), source=name)


def load_corpus(source: str | Path | Any, *, glob: str = "**/*.md", exclude: Sequence[str] = (), name: str | None = None,
                texts: TextCache | None = None) -> Corpus:
    """Load a corpus: the built-in ``python-reference``, a folder of files, or documents in memory.

    A folder's ``.pdf`` files are read as their text layer (pypdf), their pages apart by a blank line (``pages`` in the
    document's metadata); ``.html`` and ``.htm`` files as their visible text (BeautifulSoup), a block per line, their
    ``<title>`` first unless the text opens with it (and in the metadata); ``.docx`` files as their body (python-docx),
    headings as markdown's ``#``, list items as ``- ``, table rows as ``a | b``, their title first unless their first
    heading is it (and in the metadata), footnotes as markdown's ``[^1]``, tracked changes accepted, page headers,
    footers and comments left out (a ``.doc``, a ``.docm`` and a template are refused: save them as ``.docx``); any
    other file as UTF-8 text.
    A file's document id is its path relative to the folder, without the suffix (``policies/travel``), in Unicode NFC.
    Hidden files and folders (``.ipynb_checkpoints/``, ``.git/``), ``mlruns/``, ``__pycache__/`` and ``node_modules/`` are
    left out unless the glob names them; linked
    files and folders are followed (see ``corpus_files``).

    In memory, ``source`` is a list of strings (ids ``doc-1``, ``doc-2``... by position), of dicts with ``text`` and
    optionally ``id`` and ``metadata``, of ``Document``s or of LangChain ``Document``s (their ``id``, else their
    position), or a DataFrame with a ``text`` column (and optionally ``id`` and ``metadata``).

    Args:
        source: the built-in corpus's name, a folder, or the documents.
        glob: which files of a folder are documents.
        exclude: patterns like ``glob``'s of files it picks that are not documents (never read), e.g. ``drafts/**``.
        name: the corpus's name (default: the folder's; ``documents`` for documents in memory).
        texts: where the texts of PDF, HTML and Word files extracted before are kept, and those extracted now are put (e.g.
            ``workbench.cache.ExtractedTexts.in_folder(wb.settings().cache_dir)``, what ``run`` and the widgets use);
            by default every one is extracted again.

    Raises:
        DataError: one line naming the folder's file, or the in-memory document by position, and what to do.
    """
    if not isinstance(source, (str, Path)):
        return _corpus_from_documents(source, name or "documents")
    if str(source) == PYTHON_REFERENCE:
        return python_reference_corpus()
    folder = on_disk(Path(source))
    docs: list[Document] = []
    files: dict[str, Path] = {}
    refused: list[tuple[Path, DataError]] = []
    root = os.path.realpath(folder)
    by_case: list[Path] = []
    for path in check_corpus_folder(folder, glob, exclude=exclude, by_case=by_case):
        try:
            doc = _folder_document(path, folder, glob, root, texts)
        except DataError as exc:  # read on: an export with many such files is named at once, not one file per run
            refused.append((path, exc))
            continue
        if doc is None:
            continue
        if doc.id in files:  # a.md and a.txt: labelled source ids (and retrieval metrics) could not tell them apart
            raise DataError(f"{path}: its document id '{doc.id}' is also {files[doc.id].name}'s — rename one, or "
                            f"{_leave_out(_exact(path.relative_to(folder)))}")
        files[doc.id] = path
        docs.append(doc)
    if refused:
        raise DataError(f"{refused[0][1]}{_others_refused([p.relative_to(folder) for p, _ in refused[1:]])}")
    if not docs:
        raise DataError(f"{folder}: no files match '{glob}' — {_no_match_fix(folder, glob, exclude)}")
    return Corpus(name=name or folder.name, documents=tuple(docs), source=str(folder), notes=_case_notes(folder, glob, by_case, name or folder.name))


def _case_notes(folder: Path, glob: str, by_case: Sequence[Path], name: str) -> tuple[str, ...]:
    """One line when a corpus glob leaves out files only by the case of their names (pure): ``README.MD`` or ``NOTES.TXT``
    beside ``.md`` and ``.txt`` files (a Windows or a scanner's export) were no documents, without a word, since the glob
    picked the others."""
    if not by_case:
        return ()
    shown = ", ".join(f"'{p.relative_to(folder).as_posix()}'" for p in by_case[:3]) + (", ..." if len(by_case) > 3 else "")
    files = f"{len(by_case)} file{'' if len(by_case) == 1 else 's'}"
    return (f"corpus '{name}': {files} ({shown}) left out only by the case of {'its name' if len(by_case) == 1 else 'their names'}, which the glob "
            f"'{glob}' matches as written — {_any_case_fix(glob)}",)


def _any_case_fix(glob: str) -> str:
    """How to pick files whatever the case of their suffix (pure): the glob with its suffix in both cases, when it ends in one."""
    head, dot, suffix = glob.rpartition(".")
    if not dot or not suffix.isalnum() or "/" in suffix:
        return "write the glob as the files' names are cased, or rename them"
    return f"use glob: '{head}.{_any_case(suffix)}' to read them, or rename them"


# the machine's kernel and runtime state, which no link in a corpus may lead to: /proc/self/environ holds the process's
# keys, /run/secrets a container's, /var/run (a link to /run) a Kubernetes service account's token
_SYSTEM_FOLDERS = frozenset({"proc", "sys", "dev", "run"})


def _forbidden_target(path: Path, folder: Path, glob: str, root: str | None = None) -> str | None:
    """Why a corpus file that is a link, or lies in a linked folder, must not be read (None when it may be): where it
    leads is hidden (``~/.ssh/id_rsa``, ``~/.aws/credentials``, a ``.git/config`` holding a token), which the corpus
    would not read as a file of its own, or a system folder. A corpus cloned or unzipped from someone else can hold
    such a link, which nobody sees in a listing of its files; its text would be indexed, sent to the model and logged
    in every trace that retrieves it. Links to shared folders and files elsewhere are followed. ``root``: the folder's
    real path, when already known (a corpus's thousands of files share it)."""
    target, root = os.path.realpath(path), root or os.path.realpath(folder)
    if target == os.path.join(root, os.path.relpath(path, folder)):
        return None  # no link on the way: the corpus's own file, checked as such
    parts = Path(target).parts
    if len(parts) > 1 and parts[0] == os.sep and parts[1] in _SYSTEM_FOLDERS:
        return f"{path}: a link to {target}, in the system folder /{parts[1]}, which holds no documents — remove the link"
    beyond = Path(os.path.relpath(target, os.path.commonpath([target, root])))
    if _hidden(beyond, glob):
        return (f"{path}: a link to {target}, a hidden file or folder (keys and settings live there), which a corpus does not "
                "read — copy the file into the corpus if it is a document, or remove the link")
    return None


def _folder_document(path: Path, folder: Path, glob: str, root: str | None = None, texts: TextCache | None = None) -> Document | None:
    """The document a corpus folder's file holds (None for a pipe or a socket, never a document).

    Raises:
        DataError: a broken link, a link to a hidden or system file (see ``_forbidden_target``), a name that is not
            UTF-8, a file that is not UTF-8 text, a PDF, HTML page or Word document whose text cannot be extracted (see
            ``workbench.datasets._formats``), or an empty one.
    """
    if not path.exists():
        raise DataError(f"{path}: a broken link (to {os.readlink(path)}) — point it at the file, remove it, or "
                        f"{_leave_out(_exact(path.relative_to(folder)))}")
    forbidden = _forbidden_target(path, folder, glob, root)
    if forbidden is not None:
        raise DataError(forbidden)
    if not path.is_file():
        return None
    relative = path.relative_to(folder)
    _check_utf8_name(relative, folder)
    extracted = _file_text(path, relative, texts)
    # one line break, as Python's text files and LangChain's TextLoader read it: a checkout with git's autocrlf (CRLF)
    # is the same corpus, the same hash and the same chunks as the repository it came from
    text = _one_line_break(extracted.text)
    if not text.strip():
        raise DataError(f"{path}: empty document — add its text, or {_leave_out(_exact(relative))}")
    doc_id = document_id(relative.with_suffix("").as_posix())
    return Document(id=doc_id, text=text, metadata={"path": str(relative), **extracted.metadata})


# the formats read from the file's bytes, whatever they are (an HTML page is decoded first)
_BINARY_FORMATS = {"pdf": pdf_text, "docx": docx_text}


def _file_text(path: Path, relative: Path, texts: TextCache | None = None) -> Extracted:
    """A corpus file's text by its format (see ``workbench.datasets._formats``): a PDF's text layer, an HTML page's
    visible text or a Word document's body (from ``texts`` when extracted before), or any other file read as UTF-8 text."""
    leave_out = _leave_out(_exact(relative))
    kind = file_format(path.name)
    if kind is None:
        return Extracted(read_text(path, f"save it as UTF-8 text, or {leave_out}"))
    data = _read_bytes(path)
    if kind == "html":
        return extracted_once(kind, data, lambda: html_text(_markup(data, path, f"save it as UTF-8, or {leave_out}")), texts)
    extract = _BINARY_FORMATS[kind]
    return extracted_once(kind, data, lambda: extract(data, str(path), leave_out), texts)


def _others_refused(others: list[Path]) -> str:
    """The end of the line refusing a corpus's first unreadable file: how many more there are, and the first few (pure)."""
    if not others:
        return ""
    shown = ", ".join(os.fsencode(p).decode("utf-8", "backslashreplace") for p in others[:5])
    return f" (and {len(others)} more file{'' if len(others) == 1 else 's'} refused: {shown}{', ...' if len(others) > 5 else ''})"
