"""Load datasets (JSONL, CSV, pandas) and corpora (folders of .md/.txt, the built-in Python reference).

Every validation error is one line: ``file:line: field 'x': what is wrong — what to do``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workbench.datasets._models import Corpus, Dataset, Document, EvalCase
from workbench.errors import DataError

PYTHON_REFERENCE = "python-reference"
_LIST_FIELDS = ("source_ids", "tags")


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "row"
    kind = first["type"]
    if kind == "missing":
        return f"field '{where}' is missing — add it"
    if kind == "extra_forbidden":
        return f"field '{where}' is not known — allowed: id, question, reference, source_ids, category, tags"
    return f"field '{where}': {first['msg']}"


def _case(row: Mapping[str, Any], where: str) -> EvalCase:
    try:
        return EvalCase.model_validate(dict(row))
    except ValidationError as exc:
        raise DataError(f"{where}: {_describe(exc)}") from None


def _check_unique(cases: Iterable[tuple[EvalCase, str]]) -> tuple[EvalCase, ...]:
    seen: dict[str, str] = {}
    out = []
    for case, where in cases:
        if case.id in seen:
            raise DataError(f"{where}: field 'id': duplicate id '{case.id}' (first at {seen[case.id]}) — ids must be unique")
        seen[case.id] = where
        out.append(case)
    if not out:
        raise DataError("dataset has no rows — add at least one case")
    return tuple(out)


def _read_jsonl(path: Path) -> Dataset:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}) — one JSON object per line") from None
            if not isinstance(row, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
            if "id" not in row:
                row = {"id": f"{path.stem}-{lineno}", **row}
            rows.append((_case(row, where), where))
    try:
        cases = _check_unique(rows)
    except DataError as exc:
        raise DataError(str(exc) if rows else f"{path}: {exc}") from None
    return Dataset(name=path.stem, cases=cases, source=str(path))


def _split_list(value: str) -> list[str]:
    value = value.strip()
    if not value:
        return []
    if value.startswith("["):
        return [str(v) for v in json.loads(value)]
    return [part.strip() for part in value.replace(";", "|").split("|") if part.strip()]


def _from_records(records: Iterable[tuple[dict[str, Any], str]], name: str, source: str) -> Dataset:
    cases = []
    for n, (record, where) in enumerate(records, start=1):
        row = {k: v for k, v in record.items() if v is not None and not (isinstance(v, float) and v != v)}
        for key in _LIST_FIELDS:
            if isinstance(row.get(key), str):
                try:
                    row[key] = _split_list(row[key])
                except json.JSONDecodeError:
                    raise DataError(f"{where}: field '{key}': not a list — use 'a|b' or a JSON list") from None
        row.setdefault("id", f"{name}-{n}")
        row["id"] = str(row["id"])
        cases.append((_case(row, where), where))
    try:
        return Dataset(name=name, cases=_check_unique(cases), source=source)
    except DataError as exc:
        raise DataError(str(exc) if cases else f"{source}: {exc}") from None


def _read_csv(path: Path) -> Dataset:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        # line numbers: header is line 1, first record line 2 (records with embedded newlines shift this)
        records = [({k: (v if v != "" else None) for k, v in row.items() if k}, f"{path}:{reader.line_num}") for row in reader]
    return _from_records(records, path.stem, str(path))


def load_dataset(source: str | Path | Any, *, name: str | None = None, limit: int | None = None) -> Dataset:
    """Load evaluation cases from a ``.jsonl``/``.csv`` file or a pandas DataFrame.

    Columns/fields: ``question`` (required), ``id``, ``reference``, ``source_ids`` (list; in CSV ``a|b``),
    ``category`` (answerable | unanswerable | policy), ``tags``.

    Raises:
        DataError: naming the file, line and field of the first bad row.
    """
    if not isinstance(source, (str, Path)):
        import pandas as pd

        if not isinstance(source, pd.DataFrame):
            raise DataError(f"cannot load a dataset from {type(source).__name__} — give a .jsonl/.csv path or a DataFrame")
        label = name or "dataframe"
        records = [(row, f"{label}: row {i}") for i, row in enumerate(source.to_dict(orient="records"))]
        return _from_records(records, label, label).head(limit)
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{path}: dataset file not found — check the path (relative paths are from the experiment file)")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        dataset = _read_jsonl(path)
    elif suffix == ".csv":
        dataset = _read_csv(path)
    else:
        raise DataError(f"{path}: unsupported dataset format '{suffix}' — use .jsonl, .csv or a pandas DataFrame")
    if name:
        dataset = Dataset(name, dataset.cases, dataset.source)
    return dataset.head(limit)


def python_reference_corpus() -> Corpus:
    """The Python language reference topics that ship with CPython (``pydoc_data.topics``), one document per topic."""
    from pydoc_data.topics import topics

    docs = tuple(Document(id=key, text=topics[key], metadata={"source": "pydoc_data.topics"}) for key in sorted(topics))
    return Corpus(name=PYTHON_REFERENCE, documents=docs, source="pydoc_data.topics")


def load_corpus(source: str | Path, *, glob: str = "**/*.md") -> Corpus:
    """Load a corpus: the built-in ``python-reference``, or a folder of text/markdown files.

    A file's document id is its path relative to the folder, without the suffix (``policies/travel``).
    """
    if str(source) == PYTHON_REFERENCE:
        return python_reference_corpus()
    folder = Path(source)
    if not folder.is_dir():
        raise DataError(f"{folder}: corpus folder not found — give a folder of .md/.txt files or '{PYTHON_REFERENCE}'")
    docs = []
    for path in sorted(folder.glob(glob)):
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text — convert it or exclude it with 'glob'") from None
        doc_id = path.relative_to(folder).with_suffix("").as_posix()
        docs.append(Document(id=doc_id, text=text, metadata={"path": str(path.relative_to(folder))}))
    if not docs:
        raise DataError(f"{folder}: no files match '{glob}' — check the folder or the corpus 'glob'")
    return Corpus(name=folder.name, documents=tuple(docs), source=str(folder))
