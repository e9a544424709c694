"""The ``columns:`` mapping a dataset or corpus file needs, read from its first line or schema (what the GridBuilder
offers as soon as a file is picked), and a mapping written on one line and read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.datasets import columns_from_text, columns_text, load_corpus, load_dataset, suggested_columns
from workbench.errors import DataError

from tests.conftest import open_files_under
from tests.datasets.test_columns import CASES, CORPUS_MAP, DATASET_MAP, DOCS, renamed, write


@pytest.mark.parametrize(("name", "kind", "mapping"), [
    ("d.csv", "dataset", DATASET_MAP),
    ("d.jsonl", "dataset", DATASET_MAP),
    ("docs.csv", "corpus", CORPUS_MAP),
    ("docs.jsonl", "corpus", CORPUS_MAP),
    ("docs.parquet", "corpus", CORPUS_MAP),
])
def test_the_mapping_suggested_is_the_one_that_reads_the_file(tmp_path: Path, name: str, kind: str, mapping: dict[str, str]) -> None:
    path = write(tmp_path / name, renamed(CASES if kind == "dataset" else DOCS, mapping))
    suggested = suggested_columns(path, kind)  # type: ignore[arg-type]
    assert suggested == mapping
    (load_dataset if kind == "dataset" else load_corpus)(path, columns=suggested)
    assert open_files_under(tmp_path) == []  # the first line read, the file closed


@pytest.mark.parametrize(("name", "kind"), [("ours.csv", "dataset"), ("ours.jsonl", "corpus"), ("missing.csv", "dataset"),
                                            ("notes.md", "corpus"), ("d.parquet", "dataset")])
def test_nothing_is_suggested_for_a_file_using_our_names_or_no_file_of_rows(tmp_path: Path, name: str, kind: str) -> None:
    if name != "missing.csv":
        if name.endswith(".md"):
            (tmp_path / name).write_text("# Notes\n", encoding="utf-8")
        else:
            write(tmp_path / name, renamed(CASES, {"question": "prompt"}) if name == "d.parquet" else CASES if kind == "dataset" else DOCS)
    assert suggested_columns(tmp_path / name, kind) == {}  # type: ignore[arg-type]


def test_a_file_not_utf8_or_not_json_gets_no_suggestion(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_bytes("prompt,réponse\n".encode("latin-1"))
    (tmp_path / "d.jsonl").write_text("prompt: why\n", encoding="utf-8")
    assert suggested_columns(tmp_path / "d.csv", "dataset") == {} and suggested_columns(tmp_path / "d.jsonl", "dataset") == {}


@pytest.mark.parametrize("columns", [{}, DATASET_MAP, {"id": "1", "text": "yes"}, {"text": "body, in full", "id": "doc: id"}])
def test_a_mapping_on_one_line_reads_back_the_same(columns: dict[str, str]) -> None:
    text = columns_text(columns)
    assert "\n" not in text and columns_from_text(text) == columns


def test_a_mapping_is_typed_with_or_without_braces() -> None:
    assert columns_from_text(" question: prompt, reference: expected_answer ") == {"question": "prompt", "reference": "expected_answer"}
    assert columns_from_text("{id: 7}") == {"id": "7"}  # every name as written: the column '7'


@pytest.mark.parametrize("text", ["question: [prompt]", "{question: prompt", "question: {a: b}"])
def test_a_mapping_that_is_no_mapping_is_one_line(text: str) -> None:
    with pytest.raises(DataError, match=r"^columns: .* is not our field: the file's column, comma-separated — e\.g\. question: prompt") as info:
        columns_from_text(text)
    assert "\n" not in str(info.value)
