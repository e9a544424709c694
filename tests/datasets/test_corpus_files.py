"""A corpus that is one file of documents (JSON Lines, CSV, Parquet), as a team's knowledge base export is: read as
the same documents as the DataFrame of that file (the same corpus hash), and every bad row refused in one line naming
the file and its line or row."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.complexity import assert_linear_time
from workbench.datasets import load_corpus
from workbench.errors import DataError
from workbench.spec import CorpusRef

ROWS = [{"id": "travel", "text": "Book flights fourteen days ahead.", "url": "https://kb/travel"},
        {"id": "expenses", "text": "Submit receipts within thirty days.\nScans are fine.", "team": "finance"}]


def write(path: Path, rows: list[dict[str, object]]) -> Path:
    if path.suffix == ".parquet":
        pd.DataFrame(rows).to_parquet(path)
    elif path.suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["docs.jsonl", "docs.ndjson", "docs.csv", "docs.parquet"])
def test_a_file_of_documents_is_the_corpus_a_dataframe_of_it_is(tmp_path: Path, name: str) -> None:
    # was refused with a python -c recipe reading it into a DataFrame: an experiment's YAML could not name it
    corpus = load_corpus(write(tmp_path / name, ROWS))
    from_frame = load_corpus(pd.DataFrame(ROWS))
    assert [(d.id, d.text, d.metadata) for d in corpus.documents] == [
        ("travel", "Book flights fourteen days ahead.", {"url": "https://kb/travel"}),
        ("expenses", "Submit receipts within thirty days.\nScans are fine.", {"team": "finance"})]
    assert corpus.hash == from_frame.hash  # runs over either are reused by the other
    assert (corpus.name, corpus.source) == ("docs", str(tmp_path / name))


def test_documents_without_ids_are_named_by_position_as_a_dataframes_are(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text('{"text": "one"}\n\n{"text": "two", "id": null}\n', encoding="utf-8")
    corpus = load_corpus(path)
    assert [d.id for d in corpus.documents] == ["doc-1", "doc-2"]
    assert corpus.hash == load_corpus(pd.read_json(path, lines=True)).hash


@pytest.mark.parametrize("name, content, message", [
    ("d.jsonl", '{"id": "a", "text": "x"}\n{"id": "b", text}\n', "d.jsonl:2: not valid JSON (Expecting property name enclosed in double "
                                                                  "quotes at column 13) — one JSON object per line"),
    ("d.jsonl", '[{"id": "a", "text": "x"}]\n', "d.jsonl:1: expected a JSON object, got list — the documents are a JSON array on one "
                                                "line: write one object per line, e.g. jq -c '.[]' in.json > out.jsonl"),
    ("d.jsonl", '{"id": "a", "content": "x"}\n', "d.jsonl:1: field 'content' is not known — call it 'text', or map it: corpus: {path: "
                                                 "..., columns: {text: content}} (a field of the document's own is kept as its metadata)"),
    ("d.jsonl", '{"id": "a", "txet": "x"}\n', "d.jsonl:1: field 'text' is missing — did you mean 'txet'? Call it 'text', e.g. "
                                              '{"id": "travel", "text": "..."}'),
    ("d.jsonl", '{"id": "a", "text": "x"}\n\n{"id": "a", "text": "y"}\n', "d.jsonl:3: duplicate id 'a' (first at line 1) — ids must be "
                                                                          "unique: rename one"),
    ("d.jsonl", '{"id": "a", "text": " "}\n', "d.jsonl:1: empty document ('a') — add its text, or leave it out"),
    ("d.jsonl", '{"id": 1.5, "text": "x"}\n', "d.jsonl:1: field 'id': expected text, got 1.5 (a number) — give each document a non-empty id"),
    ("d.jsonl", '{"id": ["a"], "text": "x"}\n', "d.jsonl:1: field 'id': expected text, got a list — give each document a non-empty id"),
    ("d.jsonl", "", "d.jsonl: empty file — add one JSON object per line, e.g. {\"id\": \"travel\", \"text\": \"...\"}"),
    ("d.csv", "id,texts\na,x\n", "d.csv:1: no 'text' column — did you mean 'texts'? Name the column holding each "
                                 "document's text 'text' (columns: id, texts)"),
    ("d.csv", "id,title\na,x\n", "d.csv:1: no 'text' column — name the column holding each document's text 'text', or map it: "
                                 "corpus: {path: ..., columns: {text: <your column>}} (columns: id, title)"),
    ("d.csv", "id,body\na,x\n", "d.csv:1: column 'body' is not known — call it 'text', or map it: corpus: {path: ..., columns: "
                                "{text: body}} (a column of the file's own is kept as its documents' metadata)"),
    ("d.csv", "id,text\na,x\nb,\n", "d.csv:3: empty document ('b') — add its text, or leave it out"),
    ("d.csv", 'id,text\na,x\n\na,"two\nlines"\n', "d.csv:4: duplicate id 'a' (first at line 2) — ids must be unique: rename one"),
    ("d.csv", 'id,text\na,"x\n', 'd.csv:2: CSV quoting: unexpected end of data (in the row starting on line 2) — close the quoted '
                                 'field, and write a quote inside a quoted field as ""'),
    ("d.json", '[{"id": "a", "text": "x"}]', "d.json: the corpus is a .json file, which a corpus does not read — save its documents as "
                                             ".jsonl, .csv or .parquet with a 'text' column (a JSON array of objects: jq -c '.[]' d.json > d.jsonl)"),
    ("d.parquet", "not parquet", "d.parquet: not a Parquet file (Parquet magic bytes not found in footer. Either the file is corrupted or "
                                 "this is not a parquet file.) — save the documents with df.to_parquet(), or as .jsonl or .csv"),
])
def test_a_bad_file_of_documents_is_one_line_naming_its_line(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_corpus(tmp_path / name)
    assert str(info.value) == f"{tmp_path}/{message}"


def test_a_bad_parquet_row_or_column_is_named(tmp_path: Path) -> None:
    for rows, message in (([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}], "p.parquet: row 1: duplicate id 'a' (first at row 0) — "
                                                                                   "ids must be unique: rename one"),
                          ([{"id": "a", "page_content": "x"}], "p.parquet: column 'page_content' is not known — call it 'text', or map it: "
                                                               "corpus: {path: ..., columns: {text: page_content}} (a column of the "
                                                               "file's own is kept as its documents' metadata)"),
                          ([{"id": "a", "tex": "x"}], "p.parquet: no 'text' column — did you mean 'tex'? Name the column holding each "
                                                      "document's text 'text' (columns: id, tex)")):
        with pytest.raises(DataError) as info:
            load_corpus(write(tmp_path / "p.parquet", rows))
        assert str(info.value) == f"{tmp_path}/{message}"


def test_a_bad_byte_is_named_by_its_line_and_offset_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"id": "a", "text": "x"}\n{"id": "b", "text": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"d.jsonl:2: not UTF-8 \(byte 0xe9 at offset 49\) — save the file as UTF-8$"):
        load_corpus(path)


def test_a_glob_or_exclude_beside_a_file_of_documents_is_refused(tmp_path: Path) -> None:
    # a glob picks a folder's files; beside a file it was silently ignored
    with pytest.raises(ValueError, match="glob picks files of a corpus folder; 'kb/docs.jsonl' is a file of documents"):
        CorpusRef(path="kb/docs.jsonl", glob="*.md")
    with pytest.raises(ValueError, match="exclude leaves files of a corpus folder out; 'kb/docs.csv' is a file of documents"):
        CorpusRef(path="kb/docs.csv", exclude=("drafts/**",))
    with pytest.raises(DataError, match="a file of documents, not a folder — leave out glob"):
        load_corpus(write(tmp_path / "docs.jsonl", ROWS), glob="*.txt")


def test_a_large_file_of_documents_is_read_in_linear_time(tmp_path: Path) -> None:
    def work(n: int) -> object:
        path = tmp_path / f"big{n}.jsonl"
        path.write_text("".join(json.dumps({"id": f"d{i}", "text": f"document {i} " * 5}) + "\n" for i in range(n)), encoding="utf-8")
        return load_corpus(path)

    assert_linear_time(work, 3000)


def test_a_missing_file_of_documents_is_named_as_a_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"kb/docs.jsonl: corpus file not found — "):
        load_corpus(tmp_path / "kb" / "docs.jsonl")


def test_workbench_run_over_a_bad_file_of_documents_is_one_line_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.datasets.test_bad_inputs import GOOD, run_cli

    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "docs.jsonl").write_text('{"id": "travel-and-expenses", "text": "Book ahead."}\n{"id": "x", "content": "y"}\n',
                                                encoding="utf-8")
    (tmp_path / "d.jsonl").write_text(GOOD, encoding="utf-8")
    spec = tmp_path / "e.yaml"
    spec.write_text("name: e\ndataset: {path: d.jsonl}\ncorpus: {path: kb/docs.jsonl}\nprompts:\n  - {name: p, template: '{context} {question}'}\n"
                    "models:\n  - {id: local:gemma3-270m}\nchunkers:\n  - {strategy: recursive}\n", encoding="utf-8")
    assert run_cli(tmp_path, spec, capsys, monkeypatch) == (
        f"error: {tmp_path / 'kb' / 'docs.jsonl'}:2: field 'content' is not known — call it 'text', or map it: corpus: {{path: ..., "
        "columns: {text: content}} (a field of the document's own is kept as its metadata)")


@pytest.mark.parametrize("name", ["docs.jsonl", "docs.csv"])
def test_a_file_of_documents_is_never_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    # a 2 GB export held whole as bytes, then as text, then as lines, beside its documents: read a line at a time
    path = write(tmp_path / name, ROWS)

    def whole(self: Path, *args: object, **kwargs: object) -> object:
        raise AssertionError(f"{self} read whole")

    monkeypatch.setattr(Path, "read_bytes", whole)
    monkeypatch.setattr(Path, "read_text", whole)
    assert len(load_corpus(path)) == 2


def test_a_file_of_documents_given_to_a_sweep_of_a_folder_corpus_is_read_without_the_folders_glob(tmp_path: Path) -> None:
    # the folder's glob ('*.md') went with the path given in its place, and a file of documents was refused for it
    from workbench.runner import load_inputs
    from workbench.spec import ExperimentSpec

    (tmp_path / "d.jsonl").write_text('{"id": "q1", "question": "How far ahead?", "source_ids": ["travel"]}\n', encoding="utf-8")
    spec = ExperimentSpec.from_dict({"name": "x", "dataset": {"path": "d.jsonl"}, "corpus": {"path": "kb", "glob": "*.md"},
                                     "prompts": [{"name": "p", "template": "{context} {question}"}], "models": [{"id": "local:gemma3-270m"}],
                                     "chunkers": [{"strategy": "recursive"}]}, base_dir=tmp_path)
    _, corpus = load_inputs(spec, corpus=write(tmp_path / "docs.csv", ROWS))
    assert [d.id for d in corpus.documents] == ["travel", "expenses"]


def test_a_parquet_file_is_never_taken_for_a_dataset_by_its_first_bytes(tmp_path: Path) -> None:
    # its first bytes are its values, not its columns: ones reading "question" made it "a dataset file"
    path = tmp_path / "faq.parquet"
    path.write_bytes(b'PAR1 Which question should I ask?\n')
    with pytest.raises(DataError, match=r"faq.parquet: not a Parquet file \("):
        load_corpus(path)


def _spaced(at: str, doc_id: str) -> str:
    return f"{at}: field 'id': '{doc_id}' has spaces around it, so a label '{doc_id.strip()}' does not name it — trim them: '{doc_id.strip()}'"


@pytest.mark.parametrize("doc_id", ["a ", " a", "a\t"])
def test_a_document_id_with_spaces_around_it_is_refused_in_a_file_or_in_memory(tmp_path: Path, doc_id: str) -> None:
    """A case's id is trimmed ('q1 ' in a spreadsheet is 'q1'), a document's was kept as given: 'a ' and 'a' were two
    documents, and the label 'a' matched no document 'a '. Refused, naming the document (trimming would change the
    corpus's hash)."""
    from langchain_core.documents import Document as LangChainDocument

    from workbench.datasets import Document

    (tmp_path / "d.jsonl").write_text(json.dumps({"id": "b", "text": "y"}) + "\n" + json.dumps({"id": doc_id, "text": "x"}) + "\n",
                                      encoding="utf-8")
    (tmp_path / "d.csv").write_text(f'id,text\nb,y\n"{doc_id}",x\n', encoding="utf-8")
    for source, at in ((tmp_path / "d.jsonl", f"{tmp_path / 'd.jsonl'}:2"), (tmp_path / "d.csv", f"{tmp_path / 'd.csv'}:3"),
                       (write(tmp_path / "d.parquet", [{"id": "b", "text": "y"}, {"id": doc_id, "text": "x"}]), f"{tmp_path / 'd.parquet'}: row 1"),
                       ([{"id": "b", "text": "y"}, {"id": doc_id, "text": "x"}], "documents: document 1"),
                       (pd.DataFrame({"id": ["b", doc_id], "text": ["y", "x"]}), "documents: document 1"),
                       ([LangChainDocument(page_content="y", id="b"), LangChainDocument(page_content="x", id=doc_id)], "documents: document 1"),
                       ([Document("b", "y"), Document(doc_id, "x")], "documents: document 1")):
        with pytest.raises(DataError) as info:
            load_corpus(source)
        assert str(info.value) == _spaced(at, doc_id), source


@pytest.mark.parametrize(("name", "doc_id"), [("a .md", "a "), (" notes/b.md", " notes/b"), ("c\t.md", "c\t")])
def test_a_files_document_id_with_spaces_around_it_is_refused_as_an_in_memory_one_is(tmp_path: Path, name: str, doc_id: str) -> None:
    """A file 'a .md' was the document 'a ', which a label cannot name: a label with spaces around it is refused, and
    'a' names another document. Refused as the same id given in memory is, naming the file."""
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "d.md").write_text("The d.\n", encoding="utf-8")
    (tmp_path / "kb" / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "kb" / name).write_text("Its text.\n", encoding="utf-8")
    with pytest.raises(DataError) as raised:
        load_corpus(tmp_path / "kb")
    assert str(raised.value) == (f"{tmp_path / 'kb' / name}: its document id '{doc_id}' has spaces around it, so a label "
                                 f"'{doc_id.strip()}' does not name it — rename the file, e.g. '{doc_id.strip()}.md', or leave it "
                                 f"out: corpus exclude: ['{name}']")


def test_a_corpus_built_in_memory_refuses_a_document_id_with_spaces_around_it() -> None:
    from workbench.datasets import Corpus, Document

    with pytest.raises(DataError) as raised:
        Corpus("docs", (Document("b", "y"), Document("a ", "x")))
    assert str(raised.value) == _spaced("corpus 'docs': document 1", "a ")
