"""One evaluation case of a dataset's row: its fields checked (one line naming the field and what to do), its own
fields kept as metadata, the length caps, unique ids, and the values a row's cells hold (ids and references as text)."""

from __future__ import annotations

import datetime
import difflib
import hashlib
import json
import math
import numbers
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from workbench.datasets._models import CATEGORIES, SURROGATE, EvalCase, asked_again, asked_twice_fix, question_key
from workbench.errors import DataError

MAX_QUESTION_CHARS = 4000
MAX_REFERENCE_CHARS = 20000
_FIELDS = ("id", "question", "reference", "source_ids", "category", "tags")
_LIST_FIELDS = ("source_ids", "tags")
_DATASET = "dataset"  # the experiment's entry a dataset file's columns are mapped in (see map_fix)


@dataclass(frozen=True)
class _Caps:
    """The longest question and reference a dataset may hold (characters)."""

    question: int = MAX_QUESTION_CHARS
    reference: int = MAX_REFERENCE_CHARS
    in_memory: bool = False  # a DataFrame's caps are load_dataset's keywords: no experiment field reaches them


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


def other_names_columns(names: Iterable[Any], document: bool = False) -> dict[str, str]:
    """The ``columns:`` mapping reading each of a file's fields or columns (``names``) that is one of ours under another
    tool's name (``prompt``, ``expected_answer``; a document's ``body``, ``doc_id``) as ours, in the file's order (pure):
    our field -> its column. A field the file holds under our name too, or under two other names, is left out: which
    one holds it is the user's to say."""
    others = _DOCUMENT_OTHER_NAMES if document else _OTHER_NAMES
    ours = {field_key(str(n)) for n in names}
    found: dict[str, list[str]] = {}
    for name in names:
        field = next((f for f, known in others.items() if field_key(str(name)) in known), None)
        if field is not None and field not in ours:
            found.setdefault(field, []).append(str(name))
    return {field: columns[0] for field, columns in found.items() if len(columns) == 1}


def columns_entry(columns: Mapping[str, str]) -> str:
    """A ``columns:`` mapping as the experiment's YAML writes it on one line (pure): ``{question: prompt, reference: expected}``."""
    return "{" + ", ".join(f"{field}: {_name(column)}" for field, column in columns.items()) + "}"


def map_fix(kind: str, field: str, column: str | None = None, names: Iterable[Any] = ()) -> str:
    """The experiment's ``columns:`` entry reading our ``field`` from a file's ``column`` (pure), for the end of a fix:
    ``kind`` is 'dataset' or 'corpus'; without a column, the one holding it is the user's to name. ``names``: the
    file's fields or columns, each other one of ours under another tool's name mapped in the same entry (a file calling
    its question 'prompt' and its reference 'expected_answer' was told of the question's only, then of the next), and
    the question (a document's text) named the user's to map when the file has none."""
    names = [str(n) for n in names]
    also = {f: c for f, c in other_names_columns(names, document=kind == "corpus").items() if f != field}
    columns = {field: column if column else "<your column>", **also}
    required = "text" if kind == "corpus" else "question"  # the field every line has: a file without it is refused next
    if names and required not in columns and not any(field_key(n) == required for n in names):
        columns[required] = "<your column>"
    return f"or map {'them' if len(columns) > 1 else 'it'}: {kind}: {{path: ..., columns: {columns_entry(columns)}}}"


def named_otherwise(name: str, document: bool = False) -> bool:
    """Whether a file's field or column is one of ours under another tool's name (``prompt``, ``expected_answer``; a
    document's ``body``), which ``columns`` may map, rather than ours misspelt or in capitals (``refrence``, ``Question``),
    which is renamed (pure)."""
    others = _DOCUMENT_OTHER_NAMES if document else _OTHER_NAMES
    return any(field_key(name) in names for names in others.values())


def beside_ours(name: str, meant: str, names: Iterable[Any]) -> str | None:
    """What to do about a file's field or column ``name`` that is one of ours (``meant``) under another tool's name,
    when the file holds ``meant`` under our name too (pure): not to call it ``meant``, nor to map it (either reads one
    field from two columns), but to rename it; None when it does not."""
    if not any(str(n) != name and field_key(str(n)) == meant for n in names):
        return None
    return f"the file has a '{meant}' too: rename '{_name(name)}' to a name of its own (kept as metadata), or remove it"


def _unknown_field_fix(name: str, kind: str | None = None, names: Iterable[Any] = ()) -> str:
    """What to do about a field or column the dataset format does not have: the known one it most likely is (and, in a
    file, the ``columns`` entry reading it and the others of ``names``, the file's, it calls otherwise: ``kind``
    'dataset'), and the allowed names."""
    allowed = f"allowed: {', '.join(_FIELDS)}"
    meant = _meant_field(name)
    both = beside_ours(name, meant, names) if meant and named_otherwise(name) else None
    if both is not None:  # 'prompt' beside 'question': "call it 'question'", or map it as the question, was refused next
        return f"{both} ({allowed})"
    mapped = f", {map_fix(kind, meant, name, names)}" if kind and meant and named_otherwise(name) else ""
    return f"call it '{meant}'{mapped} ({allowed})" if meant else allowed


def field_key(name: str) -> str:
    """A field's or column's name as it is matched with the fields known (pure): in lower case, spaces and hyphens as
    underscores, none leading or trailing (promptfoo's test files name the expected answer '__expected', its other
    special columns '__description'...)."""
    return name.strip().lower().replace(" ", "_").replace("-", "_").strip("_")


_DOCUMENT_FIELDS = ("id", "text", "metadata")
# what other tools call a document's id and text (LangChain's page_content, a search index's content or body)
_DOCUMENT_OTHER_NAMES = {"id": ("doc_id", "document_id", "source_id", "docid", "ids"),
                         "text": ("content", "contents", "page_content", "body", "passage", "document", "txt")}


def _meant_document_field(name: str) -> str | None:
    """The document field (``id``, ``text``) a field it does not have most likely is: the same name in another case, or
    under another tool's name (pure); None for a field of the document's own, kept as its metadata."""
    key = field_key(name)
    return next((f for f in ("id", "text") if key == f or key in _DOCUMENT_OTHER_NAMES[f]), None)


@lru_cache(maxsize=256)
def _meant_field(name: str) -> str | None:
    """The known field a field or column the format does not have most likely is (pure), or None; cached: every row's
    fields of their own ask it (difflib made loading 5,000 rows with 5 such columns 1.0 s instead of 0.3 s)."""
    key = field_key(name)
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


def _langsmith_example(row: Mapping[str, Any]) -> bool:
    """Whether a row is a LangSmith dataset's example (``inputs`` and ``outputs`` objects), not MLflow's record (pure)."""
    return isinstance(row.get("inputs"), Mapping) and isinstance(row.get("outputs"), Mapping) and "expectations" not in row


def _describe(error: ValidationError, row: Mapping[str, Any], in_file: bool = False) -> str:
    first = _first_error(error)
    loc = first["loc"]
    where = _name(loc[0]) if loc else "row"
    kind = first["type"]
    value = first.get("input")
    if kind == "missing":
        # a line holding fields of its own may hold the question under its file's name for it; one without has none
        own = in_file and any(k not in _FIELDS for k in row)
        return f"field '{where}' is missing — add it{f', {map_fix(_DATASET, where, names=row)}' if own else ''}"
    if kind == "extra_forbidden" and _mlflow_nested(loc[0], value) and _langsmith_example(row):
        return (f"field '{where}' is not known: a LangSmith example's nested record — write each case flat, "
                "{\"question\": its inputs' question, \"reference\": its outputs' answer}")
    if kind == "extra_forbidden" and _mlflow_nested(loc[0], value):
        return (f"field '{where}' is not known: an MLflow evaluation dataset's nested record — write each case flat, "
                "{\"question\": its inputs' question, \"reference\": its expectations' expected_response}")
    if kind == "extra_forbidden":
        return f"field '{where}' is not known — {_unknown_field_fix(str(loc[0]), _DATASET if in_file else None, row)}"
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
    if kind == "spaces_around":
        return (f"field '{where}' item {loc[1]}: '{_name(value)}' has spaces around it, so it names no document — trim them: "
                f"'{_name(value.strip())}'")
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
        raise DataError(f"{where}: {_describe(exc, row, not caps.in_memory)}") from None
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
    cases = list(cases)
    for i, (case, where) in enumerate(cases):
        if case.id in seen:
            first, at = seen[case.id]
            if where in defaulted and at in defaulted:  # no ids, and one question asked twice: they share its id
                more = asked_again([c.question for c, _ in cases], lambda j: cases[j][1], i)
                raise DataError(f"{where}: field 'question': the same question as {at} — {asked_twice_fix(first, case)}{more}")
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


def _default_id(row: Mapping[str, Any]) -> str:
    """The id of a case given none: ``case-`` and 12 hex digits of its question (spaces aside, in NFC, as questions are
    told apart), never its position, nor the file's name or line number. Renaming, moving or re-spacing the file, or
    inserting, deleting or reordering questions, leaves every other question its id (numbered by position, one question
    inserted at the top renamed all those after it: a comparison with an earlier sweep paired none of them, and labels
    or feedback given by id went to another question)."""
    question = row.get("question")
    text = question_key(question) if isinstance(question, str) else ""  # no text: refused when the row is read
    return f"case-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


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


def _missing(value: Any) -> bool:
    """Whether a cell holds no value: None, NaN (pandas' empty cell), or NaT (an empty cell of a date column, a
    ``datetime`` unequal to itself as NaN is)."""
    return value is None or (isinstance(value, (float, datetime.date)) and value != value)
