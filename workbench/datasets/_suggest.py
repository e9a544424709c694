"""The ``columns:`` mapping a dataset or corpus file needs, read from its column names alone (a CSV header, a JSON Lines
file's first object, a Parquet schema): each field it calls as another tool does (``prompt``, ``expected_answer``; a
document's ``body``, ``doc_id``) read as ours, what a form offers as soon as the file is picked."""

from __future__ import annotations

import contextlib
import csv
import json
from pathlib import Path
from typing import Any, Literal

import yaml

from workbench.datasets._cases import _name, other_names_columns
from workbench.datasets._dataset_files import _broken_lines, csv_header
from workbench.datasets._folders import is_documents_file
from workbench.datasets._text import utf8_lines
from workbench.errors import DataError


def _column_names(path: Path) -> list[str]:
    """A CSV, JSON Lines or Parquet file's column names, as far as its first line (or schema) tells; none when it
    cannot be read so (loading it says why)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        except Exception:  # noqa: BLE001 - not Parquet, or no pyarrow: loading it says which, in its own words
            return []
    # closed as soon as the first line is read: a form checking file after file leaves none of them open
    with contextlib.suppress(DataError, csv.Error, ValueError, RecursionError), contextlib.closing(utf8_lines(path, "")) as lines:
        if suffix == ".csv":
            return csv_header(csv.reader(_broken_lines(lines), strict=True, skipinitialspace=True), path)
        for _, line in lines:
            if line.strip():
                first = json.loads(line)
                return [str(k) for k in first] if isinstance(first, dict) else []
    return []


def suggested_columns(path: str | Path, kind: Literal["dataset", "corpus"]) -> dict[str, str]:
    """The ``columns:`` entry reading a dataset or corpus file's fields named as another tool names them as ours, the
    one loading the file without it suggests (our field -> the file's column; empty when none is, or the file is no
    CSV, JSON Lines or Parquet file, or cannot be read: loading it says why). Only the file's first line, or a Parquet
    schema, is read.

    Args:
        path: the file.
        kind: "dataset" (a case's fields) or "corpus" (a document's id and text).
    """
    path = Path(path)
    if not is_documents_file(path) or not path.is_file() or (kind == "dataset" and path.suffix.lower() == ".parquet"):
        return {}
    return other_names_columns(_column_names(path), document=kind == "corpus")


def columns_text(columns: dict[str, str]) -> str:
    """A ``columns:`` mapping on one line, as the experiment's YAML writes it: ``{question: prompt, reference: expected}``
    (empty for none; pure). ``columns_from_text`` reads it back."""
    if not columns:
        return ""
    return yaml.safe_dump(dict(columns), default_flow_style=True, sort_keys=False, allow_unicode=True, width=10**6).strip()


def columns_from_text(text: str) -> dict[str, str]:
    """A ``columns:`` mapping typed on one line, with or without its braces (``question: prompt, reference: expected``),
    every name read as written (``id: 1`` names the column '1'); empty text, no mapping. What it maps is checked where it
    is used (``column_map_problem``).

    Raises:
        DataError: the text is no mapping (one line quoting it, and an example).
    """
    text = text.strip()
    if not text:
        return {}
    example = "e.g. question: prompt, reference: expected_answer"
    try:
        read: Any = yaml.load(text if text.startswith("{") else "{" + text + "}", Loader=yaml.BaseLoader)  # noqa: S506 - strings only
    except yaml.YAMLError:
        read = None
    if not isinstance(read, dict) or not all(isinstance(v, str) for v in read.values()):
        raise DataError(f"columns: '{_name(text)}' is not our field: the file's column, comma-separated — {example}")
    return {str(k): v for k, v in read.items()}
