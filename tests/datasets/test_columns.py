"""A team's own column names (``columns=``): a dataset or corpus file calling our fields otherwise is read as the same
cases or documents, with the same hash, as one using our names; a mapping that cannot be right is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from workbench.datasets import load_corpus, load_dataset
from workbench.errors import DataError

CASES = [{"id": "q1", "question": "How many days ahead?", "reference": "fourteen", "source_ids": ["travel"], "difficulty": "easy"},
         {"id": "q2", "question": "When are receipts due?", "reference": "thirty days", "source_ids": ["expenses", "travel"]}]
DOCS = [{"id": "travel", "text": "Book flights fourteen days ahead.", "url": "kb/travel"},
        {"id": "expenses", "text": "Submit receipts within thirty days.", "url": "kb/expenses"}]
DATASET_MAP = {"question": "prompt", "reference": "expected_answer", "source_ids": "doc_ids"}
CORPUS_MAP = {"id": "doc_id", "text": "body"}


def renamed(rows: list[dict], mapping: dict[str, str]) -> list[dict]:
    return [{mapping.get(k, k): v for k, v in row.items()} for row in rows]


def write(path: Path, rows: list[dict]) -> Path:
    suffix = path.suffix
    if suffix in (".jsonl", ".ndjson"):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif suffix == ".csv":
        frame = pd.DataFrame([{k: "|".join(v) if isinstance(v, list) else v for k, v in r.items()} for r in rows])
        frame.to_csv(path, index=False)
    else:
        pd.DataFrame(rows).to_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_dataset_file_with_its_own_column_names_is_the_same_dataset(tmp_path: Path, suffix: str) -> None:
    ours = load_dataset(write(tmp_path / f"ours{suffix}", CASES))
    theirs = load_dataset(write(tmp_path / f"theirs{suffix}", renamed(CASES, DATASET_MAP)), columns=DATASET_MAP)
    assert theirs.cases == ours.cases  # the mapped columns are no metadata; 'difficulty', the file's own, is
    assert theirs.cases[0].metadata == {"difficulty": "easy"} and theirs.cases[1].source_ids == ("expenses", "travel")
    assert theirs.hash == ours.hash


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".csv", ".parquet"])
def test_a_file_of_documents_with_its_own_column_names_is_the_same_corpus(tmp_path: Path, suffix: str) -> None:
    ours = load_corpus(write(tmp_path / f"ours{suffix}", DOCS))
    theirs = load_corpus(write(tmp_path / f"theirs{suffix}", renamed(DOCS, CORPUS_MAP)), columns=CORPUS_MAP)
    assert [(d.id, d.text, d.metadata) for d in theirs.documents] == [(d.id, d.text, d.metadata) for d in ours.documents]
    assert theirs.hash == ours.hash


def test_fields_may_be_read_from_each_others_names(tmp_path: Path) -> None:
    # the file's 'question' holds the reference and its 'reference' the question: read as mapped, not as named
    path = write(tmp_path / "swapped.csv", renamed(CASES, {"question": "reference", "reference": "question"}))
    swapped = load_dataset(path, columns={"question": "reference", "reference": "question"})
    assert swapped.cases == load_dataset(write(tmp_path / "ours.csv", CASES)).cases


@pytest.mark.parametrize("suffix, where", [(".csv", "d.csv:1"), (".parquet", "d.parquet")])
def test_a_mapped_column_the_file_lacks_names_the_closest_one_it_has(tmp_path: Path, suffix: str, where: str) -> None:
    path = write(tmp_path / f"d{suffix}", renamed(DOCS, CORPUS_MAP))
    with pytest.raises(DataError) as info:
        load_corpus(path, columns={"id": "doc_id", "text": "bodies"})
    assert str(info.value) == (f"{tmp_path}/{where}: no column 'bodies', which columns reads as the text — did you mean 'body'? "
                               "Its columns: (doc_id, body, url)")


def test_a_mapped_field_no_line_of_a_jsonl_file_has_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", renamed(CASES, DATASET_MAP))
    # the question, which every line has: at the first line lacking it
    with pytest.raises(DataError, match=r"d.jsonl:1: field 'prompts', which columns reads as the question, is missing — did you mean "
                                        r"'prompt'\? Its fields: \(id, prompt, expected_answer, doc_ids, difficulty\)$"):
        load_dataset(path, columns={**DATASET_MAP, "question": "prompts"})
    # a field a line may leave out: refused when no line has it (a misspelt name read no reference, silently: the file's
    # column was kept as the cases' metadata)
    path = write(tmp_path / "d.jsonl", renamed(CASES, {**DATASET_MAP, "reference": "model_answer"}))
    with pytest.raises(DataError, match=r"d.jsonl: no line has the field 'model_answers', which columns reads as the reference — did "
                                        r"you mean 'model_answer'\? Its fields: \(difficulty, doc_ids, id, model_answer, prompt\)$"):
        load_dataset(path, columns={**DATASET_MAP, "reference": "model_answers"})


@pytest.mark.parametrize("suffix, where, kind", [(".csv", "d.csv:1", "column"), (".jsonl", "d.jsonl:1", "field")])
def test_a_file_with_our_name_beside_the_column_mapped_to_it_is_refused(tmp_path: Path, suffix: str, where: str, kind: str) -> None:
    # which of 'question' and 'prompt' holds the question is not for us to guess; the other would be dropped or metadata
    rows = [{**row, "prompt": row["question"] + " (short)"} for row in CASES]
    with pytest.raises(DataError) as info:
        load_dataset(write(tmp_path / f"d{suffix}", rows), columns={"question": "prompt"})
    assert str(info.value) == (f"{tmp_path}/{where}: {kind} 'question' is the file's own, and columns reads the question from 'prompt' — "
                               "rename or remove the file's 'question', or leave question out of columns to read it")


@pytest.mark.parametrize("columns, message", [
    ({"questoin": "prompt"}, "columns: 'questoin' is not a field — did you mean 'question'? (allowed: id, question, reference, "
                             "source_ids, category, tags; each maps to the file's column)"),
    ({"answer": "expected"}, "columns: 'answer' is not a field — did you mean 'reference'?"),
    ({"question": "prompt", "reference": "prompt"}, "columns: 'question' and 'reference' both read the column 'prompt' — a column "
                                                    "holds one field: map one of them to another column"),
    ({"question": " "}, "columns: question: give the name of the file's column holding it"),
])
def test_a_bad_mapping_is_one_line(tmp_path: Path, columns: dict[str, str], message: str) -> None:
    path = write(tmp_path / "d.csv", CASES)
    with pytest.raises(DataError) as info:
        load_dataset(path, columns=columns)
    assert str(info.value).startswith(message)


def test_columns_beside_documents_that_are_no_file_of_them_are_refused(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "a.md").write_text("a", encoding="utf-8")
    for source, message in ((tmp_path / "kb", r"columns: it names the columns of a .jsonl, .ndjson, .csv or .parquet file of documents, "
                                              r"and .*kb is a folder of files, each one document — remove columns"),
                            ("python-reference", r"columns: it names a file's columns, and the built-in 'python-reference' corpus has none"),
                            (renamed(DOCS, CORPUS_MAP), r"columns: it names a file's \(or a DataFrame's\) columns, and the documents are "
                                                        r"given in memory as a list — name their fields 'id' and 'text' there")):
        with pytest.raises(DataError, match=message):
            load_corpus(source, columns=CORPUS_MAP)


def test_a_dataframe_with_the_files_column_names_is_read_with_columns_as_the_file_is(tmp_path: Path) -> None:
    """``pd.read_csv`` of a file with a team's own names, loaded with its ``columns``: the file's cases and hash."""
    path = write(tmp_path / "d.jsonl", renamed(CASES, DATASET_MAP))
    from_file = load_dataset(path, columns=DATASET_MAP)
    frame = load_dataset(pd.DataFrame(renamed(CASES, DATASET_MAP)), columns=DATASET_MAP, name="d")
    assert (frame.cases, frame.hash) == (from_file.cases, from_file.hash)
    assert load_dataset(pd.DataFrame(CASES), columns=DATASET_MAP, name="d").hash == from_file.hash  # renamed already
    docs = load_corpus(write(tmp_path / "docs.jsonl", renamed(DOCS, CORPUS_MAP)), columns=CORPUS_MAP)
    in_memory = load_corpus(pd.DataFrame(renamed(DOCS, CORPUS_MAP)), columns=CORPUS_MAP)
    assert (in_memory.documents, in_memory.hash) == (docs.documents, docs.hash)
    with pytest.raises(DataError, match=r"^documents: no column 'doc_id', which columns reads as the id — did you mean 'docid'\?"):
        load_corpus(pd.DataFrame(DOCS).rename(columns={"id": "docid"}), columns=CORPUS_MAP)


_OWN = "<your column>"


@pytest.mark.parametrize(("name", "row", "kind", "field", "column"), [
    ("d.csv", {"id": "q1", "prompt": "Why?"}, "dataset", "question", "prompt"),
    ("d.jsonl", {"id": "q1", "prompt": "Why?"}, "dataset", "question", "prompt"),
    ("d.csv", {"id": "q1", "question": "Why?", "expected": "Because."}, "dataset", "reference", "expected"),
    ("d.jsonl", {"case_id": "q1", "question": "Why?"}, "dataset", "id", "case_id"),
    ("d.csv", {"id": "q1", "q": "Why?"}, "dataset", "question", _OWN),
    ("d.jsonl", {"id": "q1", "q": "Why?"}, "dataset", "question", _OWN),
    ("docs.jsonl", {"id": "a", "body": "Text."}, "corpus", "text", "body"),
    ("docs.csv", {"id": "a", "body": "Text."}, "corpus", "text", "body"),
    ("docs.parquet", {"id": "a", "body": "Text."}, "corpus", "text", "body"),
    ("docs.parquet", {"doc_id": "a", "text": "Text."}, "corpus", "id", "doc_id"),
    ("docs.csv", {"id": "a", "zzz": "Text."}, "corpus", "text", _OWN),
    ("docs.parquet", {"id": "a", "zzz": "Text."}, "corpus", "text", _OWN),
    ("docs.jsonl", {"id": "a", "zzz": "Text."}, "corpus", "text", _OWN),
])
def test_a_file_calling_a_field_otherwise_is_told_the_columns_entry_reading_it(
        tmp_path: Path, name: str, row: dict, kind: str, field: str, column: str) -> None:
    """Besides 'call it ...', the one line names the experiment's ``columns:`` entry that reads the file as it is; with
    it (and the column named), the file is read."""
    path = write(tmp_path / name, [row])
    load = load_dataset if kind == "dataset" else load_corpus
    with pytest.raises(DataError) as info:
        load(path)
    message = str(info.value)
    assert f"or map it: {kind}: {{path: ..., columns: {{{field}: {column}}}}}" in message, message
    assert "\n" not in message
    if column != _OWN:
        load(path, columns={field: column})


def test_documents_or_cases_in_memory_are_not_told_of_a_files_columns() -> None:
    for load, frame in ((load_dataset, pd.DataFrame([{"id": "q1", "prompt": "Why?"}])), (load_corpus, pd.DataFrame([{"id": "a", "body": "T."}])),
                        (load_corpus, [{"id": "a", "body": "T."}])):
        with pytest.raises(DataError, match="call it") as info:
            load(frame)
        assert "map it" not in str(info.value)


@pytest.mark.parametrize(("name", "kind", "mapping"), [
    ("d.csv", "dataset", DATASET_MAP),
    ("d.jsonl", "dataset", DATASET_MAP),
    ("docs.csv", "corpus", CORPUS_MAP),
    ("docs.jsonl", "corpus", CORPUS_MAP),
    ("docs.parquet", "corpus", {"id": "doc_id", "text": "page_content"}),
])
def test_a_file_calling_several_fields_otherwise_is_told_one_entry_mapping_them_all(
        tmp_path: Path, name: str, kind: str, mapping: dict[str, str]) -> None:
    """A file calling its question 'prompt' and its reference 'expected_answer' was told the entry mapping the question
    only, then, mapped, the reference's: one line names every field to map, and with that entry the file is read."""
    path = write(tmp_path / name, renamed(CASES if kind == "dataset" else DOCS, mapping))
    load = load_dataset if kind == "dataset" else load_corpus
    with pytest.raises(DataError) as info:
        load(path)
    message = str(info.value)
    entry = ", ".join(f"{field}: {column}" for field, column in mapping.items())
    assert f"or map them: {kind}: {{path: ..., columns: {{{entry}}}}}" in message, message
    assert "\n" not in message
    expected = load(write(tmp_path / f"ours{path.suffix}", CASES if kind == "dataset" else DOCS))
    assert load(path, columns=mapping).hash == expected.hash


@pytest.mark.parametrize(("name", "row", "entry"), [
    ("d.jsonl", {"id": "q1", "ask": "Why?", "expected_answer": "Because."}, "dataset: {path: ..., columns: {question: <your column>, reference: expected_answer}}"),
    ("d.csv", {"id": "q1", "ask": "Why?", "expected_answer": "Because."}, "dataset: {path: ..., columns: {reference: expected_answer, question: <your column>}}"),
    ("docs.csv", {"doc_id": "a", "words": "Some text."}, "corpus: {path: ..., columns: {id: doc_id, text: <your column>}}"),
    ("docs.jsonl", {"doc_id": "a", "words": "Some text."}, "corpus: {path: ..., columns: {id: doc_id, text: <your column>}}"),
])
def test_the_entry_maps_the_question_or_text_a_file_lacks_with_the_other_fields(tmp_path: Path, name: str, row: dict, entry: str) -> None:
    """A file without a question (a document's text) under any name known was told to map the other fields only, then
    that it has no question: the entry names it too, the user's column to fill in."""
    path = write(tmp_path / name, [row])
    with pytest.raises(DataError) as info:
        (load_corpus if name.startswith("docs") else load_dataset)(path)
    assert f"or map them: {entry}" in str(info.value), str(info.value)


@pytest.mark.parametrize(("name", "row", "column", "ours"), [
    ("d.csv", {"question": "Why?", "prompt": "Answer briefly.", "expected_answer": "Because."}, "prompt", "question"),
    ("d.jsonl", {"question": "Why?", "prompt": "Answer briefly.", "expected_answer": "Because."}, "prompt", "question"),
    ("docs.csv", {"text": "Some text.", "body": "<p>Some text.</p>"}, "body", "text"),
    ("docs.jsonl", {"text": "Some text.", "body": "<p>Some text.</p>"}, "body", "text"),
    ("docs.parquet", {"text": "Some text.", "body": "<p>Some text.</p>"}, "body", "text"),
])
def test_a_field_under_another_name_beside_ours_is_to_be_renamed_not_mapped(
        tmp_path: Path, name: str, row: dict, column: str, ours: str) -> None:
    """Beside 'question', a 'prompt' column was told "call it 'question', or map it: {question: prompt}": either read
    the question from two columns, refused next. It is told to rename it (then kept as metadata)."""
    path = write(tmp_path / name, [row])
    with pytest.raises(DataError) as info:
        (load_corpus if name.startswith("docs") else load_dataset)(path)
    message = str(info.value)
    assert f"'{column}' is not known — the file has a '{ours}' too: rename '{column}' to a name of its own (kept as metadata), or remove it" in message, message
    assert "map it" not in message and "map them" not in message
