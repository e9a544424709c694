"""Every bad dataset or corpus is one line: ``workbench run`` prints ``error: <file>:<line>: ...`` and exits 2, with no
traceback, before any model is loaded and before anything is written to the tracking store."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from typing import Any
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workbench.cli import main
from workbench.datasets import load_corpus, load_dataset
from workbench.errors import DataError, SpecError
from workbench.runner import load_inputs
from workbench.spec import DatasetRef, ExperimentSpec

ROOT = Path(__file__).resolve().parents[2]
HANDBOOK = ROOT / "datasets" / "handbook"
QUOTING = 'close the quoted field, and write a quote inside a quoted field as ""'
GOOD = '{"id": "a", "question": "How far in advance should flights be booked?", "source_ids": ["travel-and-expenses"]}\n'


def experiment(tmp_path: Path, dataset: str, *, corpus: Path = HANDBOOK, **dataset_fields: object) -> Path:
    """A small experiment YAML (the real local model, which a bad input must stop before it is loaded)."""
    spec = {
        "name": "bad-inputs",
        "dataset": {"path": dataset, **dataset_fields},
        "corpus": {"path": str(corpus), "glob": "*.md"},
        "prompts": [{"name": "p", "template": "{context}\n{question}"}],
        "models": [{"id": "local:gemma3-270m"}],
        "chunkers": [{"strategy": "markdown", "size": 600, "overlap": 0}],
    }
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def files_under(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def assert_no_run(uri: str, db: Path) -> None:
    if not db.exists():
        return
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiments = client.search_experiments()
    assert not client.search_runs([e.experiment_id for e in experiments]) if experiments else True


def run_cli(tmp_path: Path, spec: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    """Run ``workbench run`` on ``spec``; assert exit 2, one line on stderr, nothing written; return that line."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    before = files_under(tmp_path)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    code = main(["--tracking-uri", uri, "run", "--no-progress", str(spec)])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert "Traceback" not in err and out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert files_under(tmp_path) == before  # no store, no index, no cache: nothing written
    assert_no_run(uri, tmp_path / "mlflow.db")
    return err.rstrip("\n")


# -- through the CLI: each class of bad input, the whole line ------------------------------------------------------------


def _not_utf8(d: Path) -> tuple[str, str]:
    head = GOOD + '{"id": "b", "question": "What is the mileage rate?"}\n'
    data = head.encode() + b'{"id": "c", "question": "Caf\xe9 opening hours?"}\n'
    (d / "latin1.jsonl").write_bytes(data)
    offset = data.index(b"\xe9")
    return "latin1.jsonl", f"{d / 'latin1.jsonl'}:3: not UTF-8 (byte 0xe9 at offset {offset}) — save the file as UTF-8"


def _csv_unterminated_quote(d: Path) -> tuple[str, str]:
    (d / "q.csv").write_text('id,question,reference\n1,"What is the mileage rate?,45p\n2,How long is probation?,6 months\n', encoding="utf-8")
    return "q.csv", f"{d / 'q.csv'}:2: CSV quoting: unexpected end of data (in the row starting on line 2) — {QUOTING}"


def _csv_quote_swallows_a_row(d: Path) -> tuple[str, str]:
    # non-strict csv reads rows 2-3 as ONE row whose question is 'What?,45p\n2,How long is probation?,' and runs on
    (d / "q.csv").write_text('id,question,reference\n1,"What?,45p\n2,How long is probation?,"\n3,Why?,Because\n', encoding="utf-8")
    return "q.csv", (
        f"{d / 'q.csv'}:2: unbalanced quote: the quoted field opened on line 2 runs on to line 3 and swallows the rows "
        f"between (2 fields, the header has 3) — {QUOTING}"
    )


def _csv_text_after_closing_quote(d: Path) -> tuple[str, str]:
    (d / "q.csv").write_text('id,question\n1,"What" is the rate?\n', encoding="utf-8")
    return "q.csv", f"{d / 'q.csv'}:2: CSV quoting: ',' expected after '\"' (in the row starting on line 2) — {QUOTING}"


def _csv_too_many_fields(d: Path) -> tuple[str, str]:
    (d / "q.csv").write_text("id,question,reference\n1,What is the rate?,45p, or 25p after 10000 miles\n", encoding="utf-8")
    return "q.csv", (f"{d / 'q.csv'}:2: 4 fields, the header has 3 — quote a field that contains a comma (\"a, b\"), "
                     "and keep one field per column (empty is fine: a,,c)")


def _oversized_question(d: Path) -> tuple[str, str]:
    huge = "Why? " * 600_000  # 3 MB
    (d / "big.jsonl").write_text(GOOD + json.dumps({"id": "b", "question": huge}) + "\n", encoding="utf-8")
    return "big.jsonl", (f"{d / 'big.jsonl'}:2: field 'question' is 3,000,000 characters long, over the cap of 4,000 — "
                         "shorten it, or raise the cap in the experiment: 'dataset: {max_question_chars: 3000000}'")


def _oversized_reference(d: Path) -> tuple[str, str]:
    (d / "big.csv").write_text(f"question,reference\nWhat?,{'x' * 20_001}\n", encoding="utf-8")
    return "big.csv", (f"{d / 'big.csv'}:2: field 'reference' is 20,001 characters long, over the cap of 20,000 — "
                       "shorten it, or raise the cap in the experiment: 'dataset: {max_reference_chars: 20001}'")


def _binary_file(d: Path) -> tuple[str, str]:
    (d / "image.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    return "image.jsonl", f"{d / 'image.jsonl'}:3: binary data (NUL byte at offset 8), not UTF-8 text — save the file as UTF-8"


def _utf16_file(d: Path) -> tuple[str, str]:
    (d / "wide.csv").write_bytes("question\nWhat?\n".encode("utf-16"))
    return "wide.csv", (f"{d / 'wide.csv'}:1: UTF-16 text (byte-order mark 0xfffe), not UTF-8 — save the file as UTF-8 (in Excel: "
                        "'CSV UTF-8 (Comma delimited)')")


def _empty_file(d: Path) -> tuple[str, str]:
    (d / "empty.jsonl").write_text("\n  \n", encoding="utf-8")
    return "empty.jsonl", f"{d / 'empty.jsonl'}: empty file — add one JSON object per line, e.g. {{\"question\": \"...\"}}"


def _empty_csv(d: Path) -> tuple[str, str]:
    (d / "empty.csv").write_text("id,question,reference\n", encoding="utf-8")
    return "empty.csv", f"{d / 'empty.csv'}: no rows under the header — add one row per case"


def _question_is_a_number(d: Path) -> tuple[str, str]:
    (d / "t.jsonl").write_text(GOOD + '{"id": "b", "question": 42}\n', encoding="utf-8")
    return "t.jsonl", f"{d / 't.jsonl'}:2: field 'question': expected text, got 42 (a number) — write it as a string, in quotes"


def _source_ids_not_a_list(d: Path) -> tuple[str, str]:
    (d / "t.jsonl").write_text('{"id": "a", "question": "Q?", "source_ids": "travel-and-expenses"}\n', encoding="utf-8")
    return "t.jsonl", (f"{d / 't.jsonl'}:1: field 'source_ids': expected a list of strings, got \"travel-and-expenses\" (text) "
                       "— give a list, e.g. [\"travel\"]")


def _source_ids_not_strings(d: Path) -> tuple[str, str]:
    (d / "t.jsonl").write_text('{"id": "a", "question": "Q?", "source_ids": ["benefits", 7.5]}\n', encoding="utf-8")
    return "t.jsonl", f"{d / 't.jsonl'}:1: field 'source_ids': item 1 is 7.5 (a number), not text — give a list of strings, e.g. [\"travel\"]"


def _unknown_category(d: Path) -> tuple[str, str]:
    (d / "t.jsonl").write_text('{"id": "a", "question": "Q?", "category": "trick"}\n', encoding="utf-8")
    return "t.jsonl", (f"{d / 't.jsonl'}:1: field 'category': \"trick\" is not a category — use one of: answerable, "
                       "unanswerable, policy, injection")


def _category_in_capitals(d: Path) -> tuple[str, str]:
    # a spreadsheet's "Unanswerable " was told only the list it is in
    (d / "t.csv").write_text("id,question,category\na,Q?,Unanswerable \n", encoding="utf-8")
    return "t.csv", f"{d / 't.csv'}:2: field 'category': \"Unanswerable \" is not a category — write 'unanswerable'"


def _duplicate_ids(d: Path) -> tuple[str, str]:
    (d / "t.csv").write_text("id,question\nq1,What?\nq2,Why?\nq1,How?\n", encoding="utf-8")
    return "t.csv", f"{d / 't.csv'}:4: field 'id': duplicate id 'q1' (first at {d / 't.csv'}:2) — ids must be unique: rename one"


def _nested_too_deep(d: Path) -> tuple[str, str]:
    # Python's JSON decoder recursed until RecursionError: 'internal error ... report it'
    (d / "deep.jsonl").write_text(GOOD + '{"id": "b", "question": "Q?", "source_ids": ' + "[" * 100_000 + "]" * 100_000 + "}\n", encoding="utf-8")
    return "deep.jsonl", (f"{d / 'deep.jsonl'}:2: lists or objects nested hundreds of levels deep — one JSON object per line, with "
                          "text and lists of ids")


@pytest.mark.parametrize("make", [
    _nested_too_deep, _not_utf8, _csv_unterminated_quote, _csv_quote_swallows_a_row, _csv_text_after_closing_quote, _csv_too_many_fields,
    _oversized_question, _oversized_reference, _binary_file, _utf16_file, _empty_file, _empty_csv, _question_is_a_number,
    _source_ids_not_a_list, _source_ids_not_strings, _unknown_category, _category_in_capitals, _duplicate_ids,
])
def test_bad_dataset_is_one_line_exit_2_and_no_run(
    make: Callable[[Path], tuple[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    name, message = make(data)
    spec = experiment(tmp_path, f"data/{name}")
    assert run_cli(tmp_path, spec, capsys, monkeypatch) == f"error: {message}"


@pytest.mark.parametrize(("content", "expected"), [
    (b"# Notes\n\nCaf\xe9 hours.\n", "{p}:3: not UTF-8 (byte 0xe9 at offset 12) — save it as UTF-8 text, or leave it out: corpus exclude: ['b-bad.md']"),
    (b"# Notes\x00\x01", "{p}:1: binary data (NUL byte at offset 7), not UTF-8 text — save it as UTF-8 text, or leave it out: corpus exclude: ['b-bad.md']"),
    (b"  \n", "{p}: empty document — add its text, or leave it out: corpus exclude: ['b-bad.md']"),
])
def test_bad_corpus_document_is_one_line_exit_2_and_no_run(
    content: bytes, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a-good.md").write_text("# Travel\nBook flights 14 days ahead.\n", encoding="utf-8")
    (corpus / "b-bad.md").write_bytes(content)
    (tmp_path / "d.jsonl").write_text('{"id": "a", "question": "When to book?", "source_ids": ["a-good"]}\n', encoding="utf-8")
    spec = experiment(tmp_path, "d.jsonl", corpus=corpus)
    assert run_cli(tmp_path, spec, capsys, monkeypatch) == "error: " + expected.format(p=corpus / "b-bad.md")
    # the dry run reads the corpus as the sweep does: with the exclude the message gives, it plans the sweep
    spec.write_text(spec.read_text(encoding="utf-8").replace("glob: '*.md'", "glob: '*.md'\n  exclude: [b-bad.md]"), encoding="utf-8")
    code = main(["--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db", "run", "--dry-run", str(spec)])
    assert code == 0 and "1 question" in capsys.readouterr().out


# -- the loaders directly --------------------------------------------------------------------------------------------


def test_length_caps_are_configurable(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"id": "a", "question": "q" * 50, "reference": "r" * 80}) + "\n", encoding="utf-8")
    assert len(load_dataset(p, max_question_chars=50, max_reference_chars=80)) == 1
    with pytest.raises(DataError) as info:
        load_dataset(p, max_question_chars=49)
    assert str(info.value) == (f"{p}:1: field 'question' is 50 characters long, over the cap of 49 — shorten it, or raise the cap in "
                               "the experiment: 'dataset: {max_question_chars: 50}'")
    with pytest.raises(DataError, match=r"d.jsonl:1: field 'reference' is 80 characters long, over the cap of 79 — "):
        load_dataset(p, max_reference_chars=79)


def test_caps_in_the_spec_default_to_the_loaders_defaults_and_are_validated() -> None:
    params = inspect.signature(load_dataset).parameters
    ref = DatasetRef(path="d.jsonl")
    assert ref.max_question_chars == params["max_question_chars"].default == 4000
    assert ref.max_reference_chars == params["max_reference_chars"].default == 20000
    with pytest.raises(ValueError, match="max_question_chars"):
        DatasetRef(path="d.jsonl", max_question_chars=0)


def test_the_spec_caps_reach_the_loader(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text(json.dumps({"id": "a", "question": "q" * 5000}) + "\n", encoding="utf-8")
    spec = ExperimentSpec.from_dict(yaml.safe_load(experiment(tmp_path, "d.jsonl", max_question_chars=5000).read_text()), base_dir=tmp_path)
    dataset, _ = load_inputs(spec)
    assert len(dataset.cases[0].question) == 5000


def test_a_csv_field_over_the_csv_modules_limit_is_one_line(tmp_path: Path) -> None:
    p = tmp_path / "big.csv"
    p.write_text(f"id,question\n1,What?\n2,{'x' * 200_000}\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(p)
    assert str(info.value) == (f"{p}:3: a field is longer than 131,072 characters, the most a CSV field may hold — shorten it "
                               "(questions are capped at 4,000 characters, references at 20,000)")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    p = tmp_path / "excel.csv"
    p.write_bytes(b"\xef\xbb\xbfid,question\n1,What?\n")
    assert load_dataset(p).cases[0].id == "1"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xef\xbb\xbfid,question\n1,Wh\xffat?\n")
    with pytest.raises(DataError, match=r"bad.csv:2: not UTF-8 \(byte 0xff at offset 19\)"):
        load_dataset(bad)


def test_a_spreadsheets_emptied_rows_are_skipped_like_blank_lines(tmp_path: Path) -> None:
    # Excel and Google Sheets save rows that were cleared as bare commas (and a stray space as a field of spaces): the
    # dataset was refused at the first one with "field 'question' is missing", as if a question had been lost
    p = tmp_path / "export.csv"
    p.write_bytes(b"\xef\xbb\xbfid,question,reference,,\r\nq1,How many days?,25,,\r\n,,,,\r\n  , ,,,\r\nq2,Who approves?,HR,,\r\n,,,,\r\n,,\r\n")
    ds = load_dataset(p)
    assert [c.id for c in ds.cases] == ["q1", "q2"] and ds.lines == (f"{p}:2", f"{p}:5")
    p.write_text("id,question,reference\nq1,How many days?,25\nq2,,HR\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"export.csv:3: field 'question' is missing"):  # a row with data still needs its question
        load_dataset(p)
    p.write_text("id,question,reference\n,,\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"export.csv: no rows under the header"):
        load_dataset(p)


def test_a_spreadsheets_emptied_rows_read_by_pandas_are_skipped_as_in_the_file(tmp_path: Path) -> None:
    import pandas as pd

    # pd.read_csv keeps a row of bare commas as NaN in every column: 'dataframe: row 1: field 'question' is missing'
    p = tmp_path / "export.csv"
    p.write_text("id,question,reference,source_ids\n,,,\nq1,How many days?,25,leave\n,,,\nq2,Who approves?,HR,\n,,,\n", encoding="utf-8")
    frame = pd.read_csv(p)
    ds = load_dataset(frame)
    assert [c.id for c in ds.cases] == ["q1", "q2"] and ds.lines == ("dataframe: row 1", "dataframe: row 3")
    assert ds.hash == load_dataset(p).hash
    no_ids = load_dataset(frame.drop(columns="id"))  # default ids name the questions, whatever the emptied rows
    frame.drop(columns="id").to_csv(p, index=False)
    (tmp_path / "plain.csv").write_text("question\nHow many days?\nWho approves?\n", encoding="utf-8")
    as_written = load_dataset(tmp_path / "plain.csv")
    assert [c.id for c in no_ids.cases] == [c.id for c in as_written.cases] and no_ids.hash == load_dataset(p).hash
    with pytest.raises(DataError, match=r"^dataframe: no rows|dataset has no rows"):
        load_dataset(frame.iloc[[0, 2]])


def test_multi_line_quoted_fields_stay_legal(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text('id,question,reference\n1,"What is\nthe rate?","45p, then 25p"\n2,Why?,\n', encoding="utf-8")
    ds = load_dataset(p)
    assert [c.question for c in ds.cases] == ["What is\nthe rate?", "Why?"] and ds.cases[0].reference == "45p, then 25p"


@pytest.mark.parametrize(("header", "expected"), [
    # a column of the dataset's own ('colour') is its cases' metadata; a misspelt known one is refused
    ("id,question,refrence", "d.csv:1: column 'refrence' is not known — call it 'reference' (allowed: id, question, reference, "
                             "source_ids, category, tags)"),
    ("id,reference", "d.csv:1: no 'question' column — the first line names the columns, e.g. id,question,reference, or map it: "
                     "dataset: {path: ..., columns: {question: <your column>}}"),
    ("id,question,question", "d.csv:1: column 'question' appears twice — keep one"),
    # Excel's "CSV" where the decimal mark is a comma, and a TSV renamed .csv: was "column 'id;question' is not known"
    ("id;question;reference", "d.csv:1: the columns are separated by ';', not commas — save the file as comma-separated CSV "
                              "(in Excel: 'CSV UTF-8 (Comma delimited)')"),
    ("question\treference", "d.csv:1: the columns are separated by tabs, not commas — save the file as comma-separated CSV "
                            "(in Excel: 'CSV UTF-8 (Comma delimited)')"),
    ("id;colour", "d.csv:1: no 'question' column — the first line names the columns, e.g. id,question,reference, or map it: "
                  "dataset: {path: ..., columns: {question: <your column>}}"),
])
def test_bad_csv_header_is_one_line(tmp_path: Path, header: str, expected: str) -> None:
    p = tmp_path / "d.csv"
    p.write_text(f"{header}\n1,a,b\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(p)
    assert str(info.value) == f"{tmp_path}/{expected}"


def test_excels_separator_hint_on_the_first_line_is_read_as_such(tmp_path: Path) -> None:
    # a CSV saved "for Excel" begins with 'sep=,' (or 'sep=;'): it was "column 'sep=' is not known — allowed: ..."
    p = tmp_path / "d.csv"
    p.write_text("sep=,\r\nid,question,reference\r\nq1,How many days?,25\r\nq2,Who,\r\n", encoding="utf-8")
    ds = load_dataset(p)
    assert [c.reference for c in ds.cases] == ["25", ""] and ds.lines == (f"{p}:3", f"{p}:4")
    p.write_text("sep=;\nid;question;reference\nq1;How many days?;25\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(p)
    assert str(info.value) == (f"{p}:1: 'sep=;' says the columns are separated by another character, not commas — save the file as "
                               "comma-separated CSV (in Excel: 'CSV UTF-8 (Comma delimited)')")


def test_a_value_under_a_column_with_no_name_is_refused_not_dropped(tmp_path: Path) -> None:
    # a header ending in ',' (an empty column Excel kept) left room for the tail of an unquoted comma: the reference
    # was read as "27 days" and ", with approval" was dropped silently
    p = tmp_path / "d.csv"
    p.write_text("id,question,reference,\nq1,How many days?,27 days, with approval\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(p)
    assert str(info.value) == (f"{p}:2: field 4, \"with approval\", is under a column with no name in the header — quote a field "
                               "that contains a comma (\"a, b\"), or name the column")
    p.write_text("id,question,reference,\nq1,How many days?,\"27 days, with approval\",\n", encoding="utf-8")
    assert load_dataset(p).cases[0].reference == "27 days, with approval"


def test_dataframe_wrong_type_and_cap_name_the_row() -> None:
    import pandas as pd

    with pytest.raises(DataError) as info:
        load_dataset(pd.DataFrame([{"question": "ok?"}, {"question": 3.5}]), name="frame")
    assert str(info.value) == "frame: row 1: field 'question': expected text, got 3.5 (a number) — write it as a string, in quotes"
    with pytest.raises(DataError, match=r"^frame: row 0: field 'question' is 11 characters long, over the cap of 10 — "):
        load_dataset(pd.DataFrame([{"question": "q" * 11}]), name="frame", max_question_chars=10)
    # a filtered frame's rows keep their index labels, which df.loc finds: this one was "row 1", df.loc[1] another row
    frame = pd.DataFrame([{"question": "ok?"}, {"question": "skip"}, {"question": None, "reference": "25"}])
    with pytest.raises(DataError, match=r"^frame: row 2: field 'question' is missing"):
        load_dataset(frame[frame["question"] != "skip"], name="frame")
    with pytest.raises(DataError, match=r"^frame: row 'q2': field 'question' is missing"):
        load_dataset(frame.set_index(pd.Index(["q0", "q1", "q2"])), name="frame")


def test_a_question_over_the_cap_in_a_dataframe_is_told_the_cap_it_can_raise(tmp_path: Path) -> None:
    import pandas as pd

    # "raise the cap in the experiment: 'dataset: {max_question_chars: 4500}'": wb.run(exp, dataset=df) reads no cap
    # from the experiment (whose dataset the frame replaces), so the question could not be evaluated at all
    frame = pd.DataFrame({"question": ["Why? " * 900], "source_ids": [["travel-and-expenses"]]})
    spec = ExperimentSpec.from_dict({"name": "caps", "corpus": {"path": str(HANDBOOK), "glob": "*.md"},
                                     "chunkers": [{"strategy": "markdown", "size": 600, "overlap": 0}]})
    with pytest.raises(DataError) as info:
        load_inputs(spec, dataset=frame)
    assert str(info.value) == ("dataframe: row 0: field 'question' is 4,500 characters long, over the cap of 4,000 — shorten it, or "
                               "raise the cap with wb.load_dataset(df, max_question_chars=4500) and pass that dataset to wb.run")
    dataset, _ = load_inputs(spec, dataset=load_dataset(frame, max_question_chars=4500))
    assert len(dataset.cases[0].question) == 4500


def test_a_dataframe_given_to_an_experiment_with_a_dataset_file_takes_its_limit_and_caps(tmp_path: Path) -> None:
    # wb.run(exp, dataset=df) over an experiment saying dataset: {limit: 2, max_question_chars: 5000} evaluated every row
    # of the frame (hosted models billed for each) and refused a 4,500-character question the experiment allowed
    import pandas as pd

    frame = pd.DataFrame({"question": ["Why? " * 900, "Who approves leave?", "How far ahead?"]})
    spec = ExperimentSpec.from_dict({"name": "caps", "dataset": {"path": "eval.jsonl", "limit": 2, "max_question_chars": 5000},
                                     "corpus": {"path": str(HANDBOOK), "glob": "*.md"}, "chunkers": [{"strategy": "markdown"}]})
    assert [len(c.question) for c in load_inputs(spec, dataset=frame)[0].cases] == [4500, 19]
    assert len(load_inputs(spec, 3, dataset=frame)[0]) == 3  # run(limit=) wins, as over the file
    assert len(load_inputs(spec, dataset=load_dataset(frame, max_question_chars=4500))[0]) == 2


def test_a_dataframe_whose_index_repeats_names_the_rows_position_too() -> None:
    # pd.concat of two frames has two rows 1: "row 1" sent the user to df.loc[1], two rows, the good one first
    import pandas as pd

    frame = pd.concat([pd.DataFrame({"question": ["a?", "b?"]}), pd.DataFrame({"question": ["c?", ""]})])
    with pytest.raises(DataError) as info:
        load_dataset(frame, name="frame")
    assert str(info.value).startswith("frame: row 1 (position 3): field 'question' is empty")


def test_corpus_errors_are_data_errors_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "doc.md").write_bytes(b"\xff\xfe# Notes")
    with pytest.raises(DataError, match=r"doc.md:1: not UTF-8 \(byte 0xff at offset 0\)"):
        load_corpus(tmp_path)
    (tmp_path / "ok.txt").write_text("fine", encoding="utf-8")
    assert [d.id for d in load_corpus(tmp_path, glob="*.txt").documents] == ["ok"]


def test_a_corpus_with_many_unreadable_files_names_them_all_at_once(tmp_path: Path) -> None:
    # a wiki export's empty pages and cp1252 files were refused one per run: fix one, run again, meet the next
    (tmp_path / "Team Space").mkdir()
    (tmp_path / "Team Space" / "a.md").write_text("# Leave\n\n25 days.", encoding="utf-8")
    (tmp_path / "Team Space" / "b empty.md").write_bytes(b"")
    (tmp_path / "Team Space" / "c.md").write_bytes("Caf\u00e9 \u201cpolicy\u201d".encode("cp1252"))
    for n in range(6):
        (tmp_path / f"z{n}.md").write_bytes(b"  \r\n")
    with pytest.raises(DataError) as info:
        load_corpus(tmp_path, glob="**/*.md")
    assert str(info.value) == (f"{tmp_path}/Team Space/b empty.md: empty document — add its text, or leave it out: corpus exclude: ['Team Space/b empty.md'] "
                               "(and 7 more files refused: Team Space/c.md, z0.md, z1.md, z2.md, z3.md, ...)")
    for n in range(6):
        (tmp_path / f"z{n}.md").unlink()
    (tmp_path / "Team Space" / "b empty.md").unlink()
    with pytest.raises(DataError) as info:
        load_corpus(tmp_path, glob="**/*.md")
    assert str(info.value) == (f"{tmp_path}/Team Space/c.md:1: not UTF-8 (byte 0xe9 at offset 3) — save it as UTF-8 text, or leave it "
                               "out: corpus exclude: ['Team Space/c.md']")


def test_a_file_name_that_is_not_utf8_is_one_line_naming_it(tmp_path: Path) -> None:
    # a Latin-1 name from an old zip archive: the corpus loaded, then the sweep ended in "internal error:
    # UnicodeEncodeError: ... surrogates not allowed" when it hashed the document ids
    import os

    try:
        (Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.md"))).write_text("# Menu\n", encoding="utf-8")
    except OSError:
        pytest.skip("the file system refuses a name that is not UTF-8")
    (tmp_path / "ok.md").write_text("# Fine\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_corpus(tmp_path)
    assert str(info.value) == (f"{tmp_path}/caf\\xe9.md: the file name is not UTF-8 (byte 0xe9) — rename it in UTF-8 "
                               "(e.g. convmv -f latin1 -t utf8), or leave it out: corpus exclude: ['caf?.md']")
    assert [d.id for d in load_corpus(tmp_path, glob="ok.md").documents] == ["ok"]
    assert [d.id for d in load_corpus(tmp_path, exclude=["caf?.md"]).documents] == ["ok"]  # the pattern the message gives


def test_two_files_with_one_document_id_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("markdown notes", encoding="utf-8")
    (tmp_path / "a.txt").write_text("text notes", encoding="utf-8")
    with pytest.raises(DataError, match=r"a.txt: its document id 'a' is also a.md's — rename one, or leave it out: corpus exclude: \['a.txt'\]"):
        load_corpus(tmp_path, glob="*")
    assert [d.id for d in load_corpus(tmp_path, glob="*.md").documents] == ["a"]
    assert [d.id for d in load_corpus(tmp_path, glob="*", exclude=["a.txt"]).documents] == ["a"]


def _kb_with_files_that_are_no_documents(folder: Path) -> Path:
    """A wiki export read with '**/*': two documents, and an empty file, an image and a folder of drafts (one a broken
    link), each of which refuses the whole corpus when read."""
    (folder / "faq").mkdir(parents=True)
    (folder / "faq" / "leave.md").write_text("# Leave\n\n25 days.\n", encoding="utf-8")
    (folder / "faq" / "empty.md").write_bytes(b"")
    (folder / "travel.txt").write_text("Book flights 14 days ahead.\n", encoding="utf-8")
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (folder / "drafts").mkdir()
    (folder / "drafts" / "next.md").write_text("# Next\n", encoding="utf-8")
    (folder / "drafts" / "gone.md").symlink_to(folder / "nowhere.md")
    return folder


def _kb_spec(base: Path, corpus: dict[str, Any]) -> ExperimentSpec:
    return ExperimentSpec.from_dict({"name": "x", "dataset": {"path": "d.jsonl"}, "corpus": {"path": "kb", **corpus},
                                     "chunkers": [{"strategy": "markdown"}]}, base_dir=base)


@pytest.mark.parametrize("exclude", [
    ["faq/empty.md", "logo.png", "drafts/next.md", "drafts/gone.md"],  # each file by its path
    ["**/empty.md", "*.png", "drafts/**"],  # by patterns, as a glob is written
    ["faq/empty.md", "**/*.png", "drafts/"],  # a folder named with its '/'
])
def test_files_left_out_with_exclude_are_never_read(tmp_path: Path, exclude: list[str]) -> None:
    # a glob cannot leave out one file: an empty file, an image or a broken link among '**/*' refused the whole corpus,
    # whose message said to "leave it out with the corpus 'glob'"
    kb = _kb_with_files_that_are_no_documents(tmp_path / "kb")
    with pytest.raises(DataError, match=r"drafts/gone.md: a broken link .* — point it at the file, remove it, or leave it out: corpus exclude: "
                                        r"\['drafts/gone.md'\] \(and 2 more files refused: faq/empty.md, logo.png\)$"):
        load_corpus(kb, glob="**/*")
    corpus = load_corpus(kb, glob="**/*", exclude=exclude)
    assert [d.id for d in corpus.documents] == ["faq/leave", "travel"]
    spec = _kb_spec(tmp_path, {"glob": "**/*", "exclude": exclude})
    assert load_inputs(spec, dataset=pd.DataFrame([{"question": "Q?", "source_ids": ["travel"]}]))[1].hash == corpus.hash


def test_an_exclude_that_leaves_out_nothing_keeps_the_corpus_and_its_hash(tmp_path: Path) -> None:
    kb = _kb_with_files_that_are_no_documents(tmp_path / "kb")
    assert load_corpus(kb, glob="*.txt", exclude=["**/*.png", "old/**", "."]).hash == load_corpus(kb, glob="*.txt").hash
    # an experiment written before exclude existed keeps the hash its runs were logged with
    assert _kb_spec(tmp_path, {"glob": "*.txt", "exclude": []}).hash == _kb_spec(tmp_path, {"glob": "*.txt"}).hash
    assert "exclude" not in _kb_spec(tmp_path, {"glob": "*.txt"}).to_yaml()


def test_exclude_matches_names_as_the_glob_does(tmp_path: Path) -> None:
    # names compared in NFC, as the glob's: a folder a Mac zipped ('e' + a combining accent) is left out as typed
    (tmp_path / "Re\u0301sume\u0301s").mkdir()
    (tmp_path / "Re\u0301sume\u0301s" / "old.md").write_bytes(b"")
    (tmp_path / "a.md").write_text("# A\n", encoding="utf-8")
    assert [d.id for d in load_corpus(tmp_path, exclude=["R\u00e9sum\u00e9s/*"]).documents] == ["a"]


def test_an_exclude_that_leaves_out_every_file_says_so(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_corpus(tmp_path, exclude=["*.md"])
    assert str(info.value) == f"{tmp_path}: no files match '**/*.md' — the corpus exclude ['*.md'] leaves out every file the glob picks: remove a pattern from exclude"


def test_a_labelled_source_left_out_with_exclude_names_the_pattern(tmp_path: Path) -> None:
    _kb_with_files_that_are_no_documents(tmp_path / "kb")
    spec = _kb_spec(tmp_path, {"glob": "**/*", "exclude": ["drafts/**", "faq/empty.md", "*.png"]})
    with pytest.raises(DataError, match=r"'drafts/next' is not a document of corpus 'kb' — its file drafts/next.md is left out by the "
                                        r"corpus exclude 'drafts/\*\*': remove that pattern, or drop the label$"):
        load_inputs(spec, dataset=pd.DataFrame([{"question": "Q?", "source_ids": ["drafts/next"]}]))


def test_an_exclude_given_as_one_string_is_refused(tmp_path: Path) -> None:
    # each of its characters was a pattern: the '*' of '*.png' left out every file of the folder
    (tmp_path / "a.md").write_text("notes", encoding="utf-8")
    with pytest.raises(DataError, match=r"^corpus exclude '\*.png': give a list of patterns, e.g. exclude=\['\*.png'\]$"):
        load_corpus(tmp_path, exclude="*.png")  # type: ignore[arg-type]


@pytest.mark.parametrize("pattern", ["", "   ", "/etc/*.md", "../*.md", "docs/../../*.md"])
def test_an_exclude_pattern_outside_the_folder_is_refused_naming_it(tmp_path: Path, pattern: str) -> None:
    (tmp_path / "a.md").write_text("notes", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^corpus exclude\[1\] '{re.escape(pattern)}': give a pattern relative to the corpus folder .* \(no '..'\)$"):
        load_corpus(tmp_path, exclude=["old/**", pattern])
    with pytest.raises(ValueError, match=r"^<spec>: corpus.exclude\[1\]: .* is not a pattern inside the corpus folder — give one relative to it, e.g. 'drafts/\*\*'"):
        ExperimentSpec.from_dict({"name": "x", "dataset": {"path": "d.jsonl"}, "corpus": {"path": "c", "exclude": ["old/**", pattern]}})


@pytest.mark.parametrize("glob", ["", "   ", "/etc/*.md", "../*.md", "docs/../../*.md"])
def test_a_corpus_glob_outside_the_folder_is_refused(tmp_path: Path, glob: str) -> None:
    (tmp_path / "a.md").write_text("notes", encoding="utf-8")
    with pytest.raises(DataError, match="give a pattern relative to the corpus folder"):
        load_corpus(tmp_path, glob=glob)  # '' and absolute patterns were internal errors, '../' gave ids like '../corp/a'
    with pytest.raises(ValueError, match="is not a pattern inside the corpus folder"):
        ExperimentSpec.from_dict({"name": "x", "dataset": {"path": "d.jsonl"}, "corpus": {"path": "c", "glob": glob}})


def test_injection_category_is_answered_not_refused(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"id": "a", "question": "Q?", "reference": "R", "source_ids": ["x"], "category": "injection"}\n', encoding="utf-8")
    case = load_dataset(p).cases[0]
    assert case.category == "injection" and not case.expects_refusal


def test_a_path_written_with_windows_separators_says_to_write_slashes(tmp_path: Path) -> None:
    # an experiment written on Windows (data\\eval.jsonl) was "not found — check the path" here, where the file is
    (tmp_path / "data" / "docs").mkdir(parents=True)
    (tmp_path / "data" / "docs" / "a.md").write_text("# A\n", encoding="utf-8")
    (tmp_path / "data" / "eval.jsonl").write_text('{"question": "Q?"}\n', encoding="utf-8")
    (tmp_path / "data" / "g.txt").write_text("{context}\n{question}", encoding="utf-8")

    def slashes(name: str) -> str:
        return rf"not found — write '/' between folders, not '\\' \(which is part of a file name here\): .*/data/{name} exists, and Windows reads '/' too$"

    with pytest.raises(DataError, match=r"dataset file " + slashes("eval.jsonl")):
        load_dataset(tmp_path / "data\\eval.jsonl")
    with pytest.raises(DataError, match=r"corpus folder " + slashes("docs")):
        load_corpus(tmp_path / "data\\docs")
    with pytest.raises(SpecError, match=r"prompts\[0\]\.file: data\\g.txt " + slashes("g.txt")):
        ExperimentSpec.from_dict({"name": "t", "prompts": [{"name": "g", "file": "data\\g.txt"}], "chunkers": [{"strategy": "recursive"}]},
                                 base_dir=tmp_path)
    with pytest.raises(DataError, match=r"dataset file not found — check the path \(relative paths are from the experiment file\)$"):
        load_dataset(tmp_path / "data\\other.jsonl")  # no such file with '/' either: nothing to say about separators


def test_a_corpus_file_a_dataset_folder_or_a_path_with_a_variable_says_what_to_write(tmp_path: Path) -> None:
    (tmp_path / "handbook").mkdir()
    (tmp_path / "handbook" / "travel.md").write_text("# Travel\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"travel.md: the corpus is a file, not a folder — give its folder, with glob: 'travel.md' to use only it$"):
        load_corpus(tmp_path / "handbook" / "travel.md")  # was 'corpus folder not found'
    assert [d.id for d in load_corpus(tmp_path / "handbook", glob="travel.md").documents] == ["travel"]
    with pytest.raises(DataError, match=r"corpus folder not found — write the path out: '\$DOCS' is not expanded"):
        load_corpus(tmp_path / "$DOCS" / "handbook")
    with pytest.raises(DataError, match=r"dataset file not found — write the path out: '\$\{DATA_DIR\}' is not expanded"):
        load_dataset(tmp_path / "${DATA_DIR}" / "q.jsonl")
    with pytest.raises(DataError, match=r"dataset file not found — check the path \(relative paths are from the experiment file\)$"):
        load_dataset(tmp_path / "q.jsonl")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "questions.jsonl").write_text('{"question": "Q?"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"data: the dataset is a folder, not a file — give the .jsonl or .csv file \(it holds questions.jsonl\)$"):
        load_dataset(tmp_path / "data")  # was 'dataset file not found'


def test_a_utf16_corpus_document_is_named_as_utf16_not_as_binary_data(tmp_path: Path) -> None:
    # PowerShell's '>' and Excel's "Unicode Text" write UTF-16 with a byte-order mark: it was "binary data (NUL byte...)"
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Notes\n", encoding="utf-16-be")
    (tmp_path / "docs" / "a.md").write_bytes(b"\xfe\xff" + (tmp_path / "docs" / "a.md").read_bytes())
    with pytest.raises(DataError, match=r"a.md:1: UTF-16 text \(byte-order mark 0xfeff\), not UTF-8 — save it as UTF-8 text"):
        load_corpus(tmp_path / "docs")


@pytest.mark.parametrize(
    "glob, fix",
    [
        ("*.md", "'*.md' looks only at the top of the folder; its files are in subfolders — use glob: '**/*.md'"),
        ("**/*.{md,txt}", "'{a,b}' is not glob syntax here — give one pattern, e.g. '**/*.md', or '**/*' for every file"),
        ("**/*.rst", "its files are mostly .md — use glob: '**/*.md'"),
        # a glob written with Windows' separator: it was told '**/*.md', which reads every folder, not the one named
        ("policies\\*.md", "a glob separates folders with '/', as on every system (Windows too) — use glob: 'policies/*.md'"),
    ],
)
def test_a_corpus_glob_that_picks_nothing_says_which_would(tmp_path: Path, glob: str, fix: str) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "travel.md").write_text("# Travel\n", encoding="utf-8")
    (tmp_path / "policies" / "leave.txt").write_text("Leave\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_corpus(tmp_path, glob=glob)  # each was "no files match ... — check the folder or the corpus 'glob'"
    assert str(info.value) == f"{tmp_path}: no files match '{glob}' — {fix}"


def test_a_folder_of_text_files_under_the_default_glob_is_told_the_glob_that_reads_them(tmp_path: Path) -> None:
    for name in ("travel.txt", "leave.txt", "README"):
        (tmp_path / name).write_text("notes\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_corpus(tmp_path)  # the default '**/*.md'; was "no files match '**/*.md' — check the folder or the corpus 'glob'"
    assert str(info.value) == f"{tmp_path}: no files match '**/*.md' — its files are mostly .txt — use glob: '**/*.txt'"
    (tmp_path / "README").unlink()
    (tmp_path / "travel.txt").unlink()
    (tmp_path / "leave.txt").unlink()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no files match '\*\*/\*\.md' — check the folder or the corpus 'glob'$"):
        load_corpus(tmp_path)


def test_a_folder_of_upper_case_file_names_is_told_a_glob_that_matches_them(tmp_path: Path) -> None:
    # globs are case-sensitive: this was "its files are mostly .md — use glob: '**/*.md'", the glob that had just failed
    for name in ("TRAVEL.MD", "LEAVE.MD"):
        (tmp_path / name).write_text("# Notes\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_corpus(tmp_path)
    assert str(info.value) == f"{tmp_path}: no files match '**/*.md' — its files are mostly .MD — use glob: '**/*.MD'"
    (tmp_path / "expenses.Md").write_text("# Notes\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_corpus(tmp_path)
    assert str(info.value).endswith("— its files are mostly .md — use glob: '**/*.[mM][dD]'")
    assert [d.id for d in load_corpus(tmp_path, glob="**/*.[mM][dD]").documents] == ["LEAVE", "TRAVEL", "expenses"]


def test_a_corpus_whose_only_matches_are_hidden_says_so(tmp_path: Path) -> None:
    (tmp_path / ".docs").mkdir()
    (tmp_path / ".docs" / "travel.md").write_text("# Travel\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"no files match '\*\*/\*\.md' — every matching file is hidden"):
        load_corpus(tmp_path)
    assert [d.id for d in load_corpus(tmp_path, glob=".docs/*.md").documents] == [".docs/travel"]


def test_a_csv_written_with_a_space_after_each_comma_reads_its_quoted_fields(tmp_path: Path) -> None:
    # the quote after ", " did not open a quoted field: '5 fields, the header has 3 — quote a field that contains a comma'
    p = tmp_path / "d.csv"
    p.write_text('id, question, reference\nq1, "What, exactly?", "Yes, really"\nq2, Why?, Because\n', encoding="utf-8")
    assert [(c.id, c.question, c.reference) for c in load_dataset(p).cases] == [
        ("q1", "What, exactly?", "Yes, really"), ("q2", "Why?", "Because")]
    p.write_text("id, question, reference\nq1, What, exactly?, Yes\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"d.csv:2: 4 fields, the header has 3 — quote a field that contains a comma"):
        load_dataset(p)


@pytest.mark.parametrize(
    "column, meant",
    [("Question", "question"), ("answer", "reference"), ("ground_truth", "reference"), ("refrence", "reference"), ("source ids", "source_ids")],
)
def test_a_column_named_as_other_evaluation_sets_name_it_is_told_its_name_here(tmp_path: Path, column: str, meant: str) -> None:
    # a ragas or spreadsheet dataset: was "column 'ground_truth' is not known — allowed: id, question, ..."; refused
    # beside a column of the dataset's own (difficulty), which is kept as metadata
    allowed = "allowed: id, question, reference, source_ids, category, tags"
    (tmp_path / "d.csv").write_text(f"id,difficulty,{column}\n1,2,x\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(tmp_path / "d.csv")
    # another tool's name may be mapped instead (columns:), with the question the file lacks (refused next); ours
    # misspelt or in capitals is renamed
    other = column in ("answer", "ground_truth")
    lacking = f", or map them: dataset: {{path: ..., columns: {{{meant}: {column}, question: <your column>}}}}" if other else ""
    assert str(info.value) == f"{tmp_path / 'd.csv'}:1: column '{column}' is not known — call it '{meant}'{lacking} ({allowed})"
    mapped = f", or map it: dataset: {{path: ..., columns: {{{meant}: {column}}}}}" if other else ""
    (tmp_path / "d.jsonl").write_text(json.dumps({"question": "Q?", "difficulty": 2, column: "x"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"d.jsonl:1: field '{column}' is not known — call it '{meant}'{re.escape(mapped)} \({allowed}\)$"):
        load_dataset(tmp_path / "d.jsonl")


def test_several_reference_answers_are_refused_without_advice_to_quote_them(tmp_path: Path) -> None:
    # "expected text, got a list — write it as a string, in quotes": followed, '["25 days", "25"]' became the reference
    p = tmp_path / "d.jsonl"
    p.write_text('{"question": "How many days?", "reference": ["25 days", "twenty-five days"]}\n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(p)
    assert str(info.value) == (f"{p}:1: field 'reference': a list (2 items), and a question has one reference answer, as text "
                               "— keep the one to score against")


def test_half_an_emoji_in_a_jsonl_question_is_named_with_what_to_do(tmp_path: Path) -> None:
    # a labelling tool that cut a question at a length in UTF-16 units wrote "\ud83d" (half of an emoji): the line was
    # pydantic's "Input should be a valid string, unable to parse raw data as a unicode string", with nothing to do
    p = tmp_path / "d.jsonl"
    p.write_text(GOOD + '{"id": "b", "question": "Which \\ud83d?"}\n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(p)
    assert str(info.value) == (f"{p}:2: field 'question': not valid Unicode ('\\ud83d' at character 6, a lone surrogate: half of an "
                               "emoji cut in two, or a byte kept by errors='surrogateescape') — remove it, or write the whole character")


@pytest.mark.parametrize("field", ["source_ids", "tags"])
def test_half_an_emoji_in_a_list_item_is_named_as_in_a_question(tmp_path: Path, field: str) -> None:
    # an item of source_ids or tags passed pydantic (it checks text fields, not a list's items) and the sweep failed
    # later, when MLflow or the index could not encode it
    p = tmp_path / "d.jsonl"
    p.write_text(GOOD + f'{{"id": "b", "question": "Which?", "{field}": ["ok", "x\\ud83d"]}}\n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(p)
    assert str(info.value) == (f"{p}:2: field '{field}' item 1: not valid Unicode ('\\ud83d' at character 1, a lone surrogate: half "
                               "of an emoji cut in two, or a byte kept by errors='surrogateescape') — remove it, or write the whole character")


NUL = "holds a NUL character (\\u0000 at character {}), which a database cannot store and a model reads as the end of the text — remove it"


@pytest.mark.parametrize(("row", "said"), [
    ('"question": "When\\u0000 do we fly?"', "field 'question': " + NUL.format(4)),
    ('"question": "When?", "reference": "At\\u0000 nine"', "field 'reference': " + NUL.format(2)),
    ('"question": "When?", "id": "q\\u0000"', "field 'id': " + NUL.format(1)),
    ('"question": "When?", "tags": ["ok", "x\\u0000"]', "field 'tags' item 1: " + NUL.format(1)),
    ('"question": "When?", "source_ids": ["\\u0000travel"]', "field 'source_ids' item 0: " + NUL.format(0)),
])
def test_a_nul_character_in_a_case_is_named_with_its_field(tmp_path: Path, row: str, said: str) -> None:
    # JSON's "\u0000" (a binary export, a C string's end kept) passed, though PostgreSQL refuses NUL in a text
    # column (a team store's trace previews) and C libraries read it as the end of the text
    p = tmp_path / "d.jsonl"
    p.write_text(GOOD + "{" + row + "}\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(p)
    assert str(info.value) == f"{p}:2: {said}"


def test_a_nul_character_in_a_document_given_in_memory_is_named() -> None:
    with pytest.raises(DataError) as info:
        load_corpus(["Fine.", {"id": "menu", "text": "Caf\x00e menu"}])
    assert str(info.value) == "documents: document 1: field 'text': " + NUL.format(3)


def test_a_jsonl_field_given_twice_in_one_object_is_refused(tmp_path: Path) -> None:
    # json.loads kept the second reference silently (the experiment YAML already refuses a key given twice)
    (tmp_path / "d.jsonl").write_text('{"question": "Q?", "reference": "14 days"}\n{"question": "Q2?", "reference": "14 days", '
                                      '"reference": "21 days"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"d.jsonl:2: field 'reference' is given twice in one object — keep one$"):
        load_dataset(tmp_path / "d.jsonl")


def test_a_corpus_built_in_code_refuses_an_empty_document() -> None:
    # it was swept (no chunk), logged in corpus.jsonl, and its bundle refused the file as damaged: 'export it again'
    from workbench.datasets import Corpus, Document

    with pytest.raises(DataError, match=r"^corpus 'mine': document 1: empty document \('leave'\) — add its text, or leave it out$"):
        Corpus("mine", (Document("travel", "Book economy."), Document("leave", " \n")))


def test_a_dataset_or_corpus_built_in_code_refuses_two_items_under_one_id() -> None:
    # a case run and logged as one question twice, which comparisons pair by id; two documents retrieved as one, either
    # a hit for a labelled source id: a file or DataFrame was refused, a Dataset or Corpus built in code not
    from workbench.datasets import Corpus, Dataset, Document, EvalCase

    cases = (EvalCase(id="a", question="Which class?"), EvalCase(id="a", question="Who approves leave?"))
    with pytest.raises(DataError, match=r"^dataset 'mine': case 1: duplicate id 'a' \(first at case 0\) — ids must be unique: rename one$"):
        Dataset("mine", cases)
    with pytest.raises(DataError, match=r"^dataset 'mine' has no cases — add at least one$"):
        Dataset("mine", ())
    with pytest.raises(DataError, match=r"^corpus 'mine': document 1: duplicate id 'a' \(first at document 0\) — ids must be unique"):
        Corpus("mine", (Document("a", "Book economy."), Document("a", "Managers approve leave.")))


def test_a_dataset_built_in_code_is_named_by_its_name_and_the_cases_position_in_an_error() -> None:
    # the error began ": case 'a': ..." (no file, no line: the dataset's empty source)
    from workbench.datasets import Dataset, EvalCase

    dataset = Dataset("mine", (EvalCase(id="q", question="Which class?"), EvalCase(id="a", question="Q?", source_ids=("nope",))))
    spec = ExperimentSpec.from_dict({"name": "x", "chunkers": [{"strategy": "recursive"}]})
    with pytest.raises(DataError, match=r"^dataset 'mine': case 1: case 'a': field 'source_ids': 'nope' is not a document of corpus 'documents'"):
        load_inputs(spec, dataset=dataset, corpus=["Book economy."])


def test_a_question_asked_twice_is_refused_naming_both_lines(tmp_path: Path) -> None:
    # the same question twice (here with two references) was evaluated as two independent questions: its answer came
    # from the cache the second time, counted twice in every mean and bootstrap interval, and a comparison pairing
    # questions by text took one for the other
    import pandas as pd

    from workbench.datasets import Dataset, EvalCase

    rows = [{"question": "How far in advance should flights be booked?", "reference": "Two weeks."},
            {"question": "Who approves leave?"},
            {"question": "How far in advance  should flights be booked? ", "reference": "14 days."}]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    said = "field 'question': the same question as {} — keep one (a question asked twice counts twice in every mean and interval)"
    with pytest.raises(DataError, match="^" + re.escape(f"{path}:3: " + said.format(f"{path}:1")) + "$"):
        load_dataset(path, limit=1)
    with pytest.raises(DataError, match="^" + re.escape("dataframe: row 2: " + said.format("dataframe: row 0")) + "$"):
        load_dataset(pd.DataFrame(rows))
    with pytest.raises(DataError, match="^" + re.escape("dataset 'mine': case 1: " + said.format("dataset 'mine': case 0")) + "$"):
        Dataset("mine", (EvalCase(id="a", question="Which class?"), EvalCase(id="b", question="Which class?")))
    assert len(Dataset("mine", (EvalCase(id="a", question="Which class?"), EvalCase(id="b", question="Which classes?")))) == 2
    # the same words typed composed (é) and decomposed (e + accent, as macOS and some editors write them) look alike
    # and embed alike, and the model answers them alike: one question
    with pytest.raises(DataError, match="^" + re.escape("dataset 'mine': case 1: " + said.format("dataset 'mine': case 0")) + "$"):
        Dataset("mine", (EvalCase(id="a", question="Qu'est-ce qu'un caf\u00e9 ?"), EvalCase(id="b", question="Qu'est-ce qu'un cafe\u0301 ?")))


def test_a_question_asked_twice_of_two_sources_says_to_tell_them_apart(tmp_path: Path) -> None:
    # the same question labelled with two regions' policies was told 'keep one', which drops a labelled source: the
    # model reads only the question, so what tells the two apart belongs in it
    rows = [{"question": "What is the refund window?", "source_ids": ["refunds-us"]},
            {"question": "What is the refund window?", "source_ids": ["refunds-eu"], "category": "unanswerable"}]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(DataError, match="^" + re.escape(
            f"{path}:2: field 'question': the same question as {path}:1 — they differ in source_ids and category, but the model "
            "reads only the question, so it answers both alike: say in each question what tells them apart (a region, a "
            "product, a date), or keep one") + "$"):
        load_dataset(path)


@pytest.mark.parametrize("row, expected", [
    # ragas' and Hugging Face's names, a capital: was "field 'question' is missing — add it", of a row holding its question
    ({"user_input": "Q?", "reference": "a"}, "field 'user_input' is not known — call it 'question'"),
    ({"Question": "Q?"}, "field 'Question' is not known — call it 'question'"),
    ({"query": "Q?", "id": "q1"}, "field 'query' is not known — call it 'question'"),
    # an MLflow GenAI evaluation dataset's record
    ({"inputs": {"question": "Q?"}, "expectations": {"expected_response": "a"}},
     "field 'inputs' is not known: an MLflow evaluation dataset's nested record — write each case flat"),
])
def test_a_question_under_another_name_is_told_its_name_not_that_the_question_is_missing(
    tmp_path: Path, row: dict[str, object], expected: str
) -> None:
    import pandas as pd

    (tmp_path / "d.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"^{re.escape(str(tmp_path / 'd.jsonl'))}:1: {re.escape(expected)}"):
        load_dataset(tmp_path / "d.jsonl")
    with pytest.raises(DataError, match=f"^dataframe: row 0: {re.escape(expected)}"):
        load_dataset(pd.DataFrame([row]))


@pytest.mark.parametrize(("row", "mapped"), [('{"id": "q1", "reference": "a"}', ""),
                                             ('{"id": "q1", "notes": "from support"}', ", or map it: dataset: {path: ..., columns: {question: <your column>}}")])
def test_a_row_without_its_question_is_still_told_to_add_it(tmp_path: Path, row: str, mapped: str) -> None:
    # a field not known that is no other name of the question is a second thing to fix, not the first; a line with a
    # field of its own may hold the question under its file's name, which columns: maps
    (tmp_path / "d.jsonl").write_text(row + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"d.jsonl:1: field 'question' is missing — add it{re.escape(mapped)}$"):
        load_dataset(tmp_path / "d.jsonl")


@pytest.mark.parametrize("content, expected", [
    # json.dump(cases, f, indent=2) saved as .jsonl: was "not valid JSON (Expecting value at column 2) — one JSON object per line"
    (json.dumps([{"question": "Q1?"}, {"question": "Q2?"}], indent=2), ":1: not valid JSON (Expecting value at column 2) — the file "
     "is one JSON array, not JSON Lines: write one object per line, e.g. jq -c '.[]' in.json > out.jsonl"),
    (json.dumps([{"question": "Q1?"}, {"question": "Q2?"}]), ":1: expected a JSON object, got list — the cases are a JSON array "
     "on one line: write one object per line, e.g. jq -c '.[]' in.json > out.jsonl"),
    (json.dumps({"question": "Q1?"}, indent=2), ":1: not valid JSON (Expecting property name enclosed in double quotes at column 2) — "
     "the file is one JSON object spread over several lines: write each case's object on one line"),
    # the items of a JSON array, copied out of it with their commas
    ('{"question": "Q1?"},\n{"question": "Q2?"},\n', ":1: not valid JSON (Extra data at column 20) — remove the ',' after the "
     "object: JSON Lines has one object per line, with nothing between them"),
    ('[\n{"question": "Q1?"},\n{"question": "Q2?",}\n]\n', ":1: not valid JSON (Expecting value at column 2) — write each case's "
     "object on one line (JSON Lines), not pretty-printed over several (jq -c, json.dumps without indent)"),
    # jq '.' of a JSONL file: each object pretty-printed, the file no one JSON value; was "... not the file as one pretty-printed JSON value"
    ('{\n  "question": "Q1?"\n}\n{\n  "question": "Q2?"\n}\n', ":1: not valid JSON (Expecting property name enclosed in double "
     "quotes at column 2) — write each case's object on one line (JSON Lines), not pretty-printed over several (jq -c, json.dumps without indent)"),
    ('{"question": "Q1?"}\n// a comment\n', ":2: not valid JSON (Expecting value at column 1) — one JSON object per line"),
])
def test_a_json_array_or_pretty_printed_json_saved_as_jsonl_is_told_what_it_is(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(path)
    assert str(info.value) == f"{path}{expected}"


def test_exports_joined_with_their_headers_are_refused_at_the_second_header(tmp_path: Path) -> None:
    # cat a.csv b.csv: the second header was a case, id 'id', asking "question" with the reference "reference"
    part = "id,question,reference\nq{n},Question {n}?,Answer {n}\n"
    for bom in ("", "\ufeff"):
        path = tmp_path / "d.csv"
        path.write_text(bom + part.format(n=1) + bom + part.format(n=2).replace("id,", " id ,", 1), encoding="utf-8")
        with pytest.raises(DataError) as info:
            load_dataset(path)
        assert str(info.value) == f"{path}:3: the header line again (files joined with their headers?), not a case — remove it"
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_bytes(b'\xef\xbb\xbf{"question": "Q1?"}\n\xef\xbb\xbf{"question": "Q2?"}\n')
    with pytest.raises(DataError, match=r"d.jsonl:2: not valid JSON \(.*\) — remove the byte-order mark \(U\+FEFF\) starting the line"):
        load_dataset(jsonl)


def test_an_mlflow_evaluation_dataset_frame_is_named_as_such_whatever_its_columns_order() -> None:
    # mlflow.genai.datasets' to_df(), its columns in another order: was "field 'dataset_record_id' is not known — allowed: ..."
    import pandas as pd

    record = {"dataset_record_id": "dr-1", "tags": {"team": "hr"}, "source_type": "HUMAN", "expectations": {"expected_response": "Now"},
              "inputs": {"question": "When?"}, "outputs": None}
    with pytest.raises(DataError, match=r"^dataframe: row 0: field 'expectations' is not known: an MLflow evaluation dataset's "
                                        r"nested record — write each case flat"):
        load_dataset(pd.DataFrame([record]))


@pytest.mark.parametrize("data, expected", [
    # Excel's 'CSV (Comma delimited)' (Windows-1252 smart quotes) and 'Unicode Text' (UTF-16): was "— save the file as UTF-8",
    # of a file Excel saved, with no word of which of its formats is UTF-8
    ("id,question\nq1,\u201cWhy?\u201d\n".encode("cp1252"), ":2: not UTF-8 (byte 0x93 at offset 15)"),
    ("id,question\nq1,Why?\n".encode("utf-16"), ":1: UTF-16 text (byte-order mark 0xfffe), not UTF-8"),
])
def test_a_csv_excel_saved_in_another_encoding_is_told_which_excel_format_is_utf8(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(data)
    with pytest.raises(DataError) as info:
        load_dataset(path)
    assert str(info.value) == f"{path}{expected} — save the file as UTF-8 (in Excel: 'CSV UTF-8 (Comma delimited)')"


@pytest.mark.parametrize("header, shown", [
    ("\ufeff\ufeffquestion", "\\ufeffquestion"),  # a second byte-order mark, of a tool that added one to a file that had one
    ("question\u200b", "question\\u200b"),  # a zero-width space, pasted from a web page
])
def test_an_invisible_character_in_a_column_name_is_shown(tmp_path: Path, header: str, shown: str) -> None:
    # was "column 'question' is not known — call it 'question'", its character invisible in a terminal
    allowed = "allowed: id, question, reference, source_ids, category, tags"
    path = tmp_path / "d.csv"
    path.write_text(f"{header},reference\nWhen?,Now\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(path)
    assert str(info.value) == f"{path}:1: column '{shown}' is not known — call it 'question' ({allowed})"
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text(json.dumps({"question\u200b": "When?"}, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(jsonl)
    assert str(info.value) == f"{jsonl}:1: field 'question\\u200b' is not known — call it 'question' ({allowed})"


@pytest.mark.parametrize("row, expected", [
    # pasted from a web page: "'travel' is not a document of corpus ... — did you mean 'travel'?", the space invisible
    ({"question": "When?", "source_ids": ["travel-and-expenses\u200b"]}, "field 'source_ids' item 0: 'travel-and-expenses\\u200b' holds an "
     "invisible character (U+200B ZERO WIDTH SPACE), pasted with it from a web page or a document — remove it"),
    # a direction mark copied with an id beside right-to-left text: 'q1' twice, which MLflow shows alike
    ({"id": "\u200eq1", "question": "When?"}, "field 'id': '\\u200eq1' holds an invisible character (U+200E LEFT-TO-RIGHT MARK), "
     "pasted with it from a web page or a document — remove it"),
])
def test_an_id_holding_an_invisible_character_is_refused_naming_it(tmp_path: Path, row: dict[str, object], expected: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(path)
    assert str(info.value) == f"{path}:1: {expected}"


def test_an_emoji_joined_by_a_zero_width_joiner_is_a_valid_tag_and_source_id(tmp_path: Path) -> None:
    family = "\U0001f468\u200d\U0001f469"
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"question": "When?", "source_ids": [family], "tags": [family]}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert load_dataset(path).cases[0].source_ids == (family,)


@pytest.mark.parametrize(("name", "content", "fix"), [
    ("kb.zip", b"PK\x03\x04\x14\x00\x00\x00", r"kb.zip: the corpus is an archive, not a folder — unpack it \(unzip kb.zip -d kb\) and give the folder"),
    ("kb.tar.gz", b"\x1f\x8b\x08\x00", r"kb.tar.gz: the corpus is an archive, not a folder — unpack it \(tar -xzf kb.tar.gz\)"),
    # a spreadsheet is a table, of documents when it is a corpus: saved as CSV it is read as one
    ("budget.xlsx", b"PK\x03\x04\x14\x00\x06\x00", r"budget.xlsx: the corpus is a .xlsx file, which a corpus does not read — save its "
                                                  r"documents as .jsonl, .csv or .parquet with a 'text' column \(in Excel: 'CSV UTF-8"),
    ("logo.png", b"\x89PNG\r\n\x1a\n\0\0", r"logo.png: the corpus is a binary file \(an image, a spreadsheet\), not a "
                                           r"folder — export its text as .md or .txt files into a folder"),
])
def test_a_corpus_path_that_is_an_archive_or_a_binary_file_is_told_to_unpack_or_export_it(tmp_path: Path, name: str, content: bytes, fix: str) -> None:
    # "give its folder, with glob: 'kb.zip'" led to the archive read as one binary document, refused in turn
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=fix):
        load_corpus(tmp_path / name)


def test_promptfoos_expected_column_is_told_to_be_the_reference_not_kept_as_metadata(tmp_path: Path) -> None:
    # a promptfoo test CSV (question,__expected): '__expected' was kept as metadata, and every question had no reference
    # to score against, without a word
    path = tmp_path / "d.csv"
    path.write_text("question,__expected\nHow often should I descale it?,Every 8 weeks\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(path)
    assert str(info.value) == (f"{path}:1: column '__expected' is not known — call it 'reference', or map it: dataset: {{path: ..., "
                               "columns: {reference: __expected}} (allowed: id, question, reference, source_ids, category, tags)")
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text(json.dumps({"question": "Q?", "__expected": "a"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"d.jsonl:1: field '__expected' is not known — call it 'reference'"):
        load_dataset(jsonl)


def test_a_langsmith_example_is_named_as_such_not_as_an_mlflow_record(tmp_path: Path) -> None:
    # a LangSmith dataset's examples (inputs, outputs): was "an MLflow evaluation dataset's nested record — ... its
    # expectations' expected_response", of a file with no expectations, from another tool
    import pandas as pd

    row = {"inputs": {"question": "How often should I descale it?"}, "outputs": {"answer": "Every 8 weeks"}, "metadata": {"team": "support"}}
    expected = ("field 'inputs' is not known: a LangSmith example's nested record — write each case flat, "
                "{\"question\": its inputs' question, \"reference\": its outputs' answer}")
    (tmp_path / "d.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(tmp_path / "d.jsonl")
    assert str(info.value) == f"{tmp_path / 'd.jsonl'}:1: {expected}"
    with pytest.raises(DataError) as info:
        load_dataset(pd.DataFrame([row]))
    assert str(info.value) == f"dataframe: row 0: {expected}"


def test_the_dataset_file_given_as_the_corpus_is_named_as_the_dataset(tmp_path: Path) -> None:
    for name, first in (("q.jsonl", '{"id": "q1", "question": "How often?", "reference": "Every 8 weeks."}\n'), ("q.csv", "id,question\nq1,How often?\n")):
        path = tmp_path / name
        path.write_text(first, encoding="utf-8")
        with pytest.raises(DataError) as info:
            load_corpus(path)
        assert str(info.value) == (f"{path}: the corpus is a dataset file (its first line holds a 'question'), not a file of "
                                   "documents — give the documents' file or folder")


def test_paths_written_from_the_current_folder_are_told_what_to_write_from_the_experiments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # run from the project's root, experiments/x.yaml naming datasets/q.jsonl: was "dataset file not found — check the path
    # (relative paths are from the experiment file)", of a file right there
    (tmp_path / "experiments" / "prompts").mkdir(parents=True)
    (tmp_path / "datasets" / "kb").mkdir(parents=True)
    (tmp_path / "datasets" / "q.jsonl").write_text('{"question": "How often?"}\n', encoding="utf-8")
    (tmp_path / "datasets" / "kb" / "a.md").write_text("# A\n\nDescale every 8 weeks.\n", encoding="utf-8")
    (tmp_path / "experiments" / "prompts" / "p.txt").write_text("{context}\n\nQ: {question}\nA:", encoding="utf-8")
    good = {"name": "t", "dataset": {"path": "../datasets/q.jsonl"}, "corpus": {"path": "../datasets/kb"},
            "prompts": [{"name": "p", "file": "prompts/p.txt"}], "models": [{"id": "local:gemma3-270m"}],
            "chunkers": [{"strategy": "recursive"}]}
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "experiments"
    spec = ExperimentSpec.from_dict(good, base_dir=folder)
    assert len(load_inputs(spec)[0]) == 1
    for field, written, what, meant in (("dataset", "datasets/q.jsonl", "dataset file", "../datasets/q.jsonl"),
                                        ("corpus", "datasets/kb", "corpus folder", "../datasets/kb")):
        spec = ExperimentSpec.from_dict({**good, field: {"path": written}}, base_dir=folder)
        with pytest.raises(DataError) as info:
            load_inputs(spec)
        assert str(info.value) == (f"{folder / written}: {what} not found — '{written}' is found from the current folder, but paths "
                                   f"are relative to the experiment file's folder ({folder}): write '{meant}'")
    with pytest.raises(SpecError, match=re.escape("prompts[0].file: experiments/prompts/p.txt not found — 'experiments/prompts/p.txt' is "
                                                  f"found from the current folder, but paths are relative to the experiment file's folder "
                                                  f"({folder}): write 'prompts/p.txt'")):
        ExperimentSpec.from_dict({**good, "prompts": [{"name": "p", "file": "experiments/prompts/p.txt"}]}, base_dir=folder)


@pytest.mark.parametrize("label", ["a.md ", " handbook", "leave\t", "handbook#page=2 "])
def test_a_source_id_with_spaces_around_it_is_refused_naming_it(tmp_path: Path, label: str) -> None:
    # a document id with spaces around it is refused, so such a label named no document, ever: refused as the
    # dataset loads (a CSV cell's 'a | b' is split and trimmed already), in a file or in memory
    from workbench.datasets import EvalCase

    shown = json.dumps(label)[1:-1]  # a tab as \t
    expected = (f"field 'source_ids' item 1: '{shown}' has spaces around it, so it names no document — trim them: "
                f"'{label.strip()}'")
    row = {"question": "When?", "source_ids": ["b", label]}
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset(path)
    assert str(info.value) == f"{path}:1: {expected}"
    with pytest.raises(DataError) as info:
        load_dataset(pd.DataFrame([row]))
    assert str(info.value).endswith(f": {expected}") and "\n" not in str(info.value)
    with pytest.raises(ValueError, match="has spaces around it"):
        EvalCase(id="q1", question="When?", source_ids=("b", label))
