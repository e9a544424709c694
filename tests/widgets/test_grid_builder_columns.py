"""The GridBuilder's ``columns`` fields: a dataset's and a corpus file's own column names (``columns:``), kept as the
experiment has them, offered as the file's loader suggests them as soon as a file is picked, and saved."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

import workbench as wb
from workbench.widgets import GridBuilder

from tests.conftest import open_files_under


def test_the_grid_builder_keeps_the_columns_of_the_experiments_files(tmp_path: Path) -> None:
    (tmp_path / "qa.csv").write_text("prompt,expected\nWhat?,That\n", encoding="utf-8")
    (tmp_path / "docs.csv").write_text("doc_id,body\na,Some text.\n", encoding="utf-8")
    (tmp_path / "newer.csv").write_text("doc_id,body\na,Some text.\nb,More.\n", encoding="utf-8")
    spec = wb.ExperimentSpec.from_dict({
        "name": "own", "dataset": {"path": "qa.csv", "columns": {"question": "prompt", "reference": "expected"}},
        "corpus": {"path": "docs.csv", "columns": {"id": "doc_id", "text": "body"}},
        "chunkers": [{"strategy": "recursive", "size": 200, "overlap": 0}]}, base_dir=tmp_path)
    builder = GridBuilder(spec)
    built = builder.spec()
    assert built.dataset is not None and dict(built.dataset.columns) == {"question": "prompt", "reference": "expected"}
    assert built.corpus is not None and dict(built.corpus.columns) == {"id": "doc_id", "text": "body"}  # was dropped: {path: docs.csv}
    builder.corpus.value = "newer.csv"  # another export of the same sheet
    assert builder.spec().corpus.columns == {"id": "doc_id", "text": "body"}  # type: ignore[union-attr]
    assert builder.questions() == 1


def test_a_corpus_file_naming_its_text_otherwise_is_offered_and_told_how_to_map_it(tmp_path: Path) -> None:
    """A corpus CSV or JSONL calling its text 'body' was left out of the drop-down without a word, and a Parquet file's
    was offered and refused only when Run was pressed: both are offered, and the form says which columns: entry reads them."""
    import pandas as pd

    (tmp_path / "qa.jsonl").write_text('{"question": "What is in the body?"}\n', encoding="utf-8")
    (tmp_path / "export.csv").write_text("id,body\na,Some text.\n", encoding="utf-8")
    (tmp_path / "export.jsonl").write_text('{"id": "a", "content": "Some text."}\n', encoding="utf-8")
    pd.DataFrame([{"id": "a", "page_content": "Some text."}]).to_parquet(tmp_path / "export.parquet")
    spec = wb.ExperimentSpec.from_dict({"name": "own", "dataset": {"path": "qa.jsonl"}, "corpus": {"builtin": "python-reference"},
                                        "chunkers": [{"strategy": "recursive", "size": 200, "overlap": 0}]}, base_dir=tmp_path)
    builder = GridBuilder(spec)
    assert {"export.csv", "export.jsonl", "export.parquet"} <= set(builder.corpus.options)
    assert "qa.jsonl" not in builder.corpus.options
    for name, column in (("export.csv", "body"), ("export.jsonl", "content"), ("export.parquet", "page_content")):
        builder.corpus.value = name
        assert f"or map it: corpus: {{path: ..., columns: {{text: {column}}}}}" in builder.summary.value, builder.summary.value
    mapped = wb.ExperimentSpec.from_dict({"name": "own", "dataset": {"path": "qa.jsonl"}, "corpus": {"path": "export.csv", "columns": {"text": "body"}},
                                          "chunkers": [{"strategy": "recursive", "size": 200, "overlap": 0}]}, base_dir=tmp_path)
    assert "wb-error" not in GridBuilder(mapped).summary.value


def other_tools_files(tmp_path: Path) -> wb.ExperimentSpec:
    """A dataset and a file of documents exported from other tools (prompt/expected_answer/doc_ids, doc_id/body), and an
    experiment naming neither yet."""
    (tmp_path / "qa.csv").write_text("prompt,expected_answer,doc_ids\nWhat is in it?,Some text,a\n", encoding="utf-8")
    (tmp_path / "qa.jsonl").write_text('{"question": "What is in it?"}\n', encoding="utf-8")
    (tmp_path / "export.jsonl").write_text('{"doc_id": "a", "body": "Some text."}\n', encoding="utf-8")
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "a.md").write_text("Some text.\n", encoding="utf-8")
    return wb.ExperimentSpec.from_dict({"name": "own", "dataset": {"path": "qa.jsonl"}, "corpus": {"builtin": "python-reference"},
                                        "chunkers": [{"strategy": "recursive", "size": 200, "overlap": 0}]}, base_dir=tmp_path)


def test_a_file_picked_is_offered_the_columns_that_read_it_and_the_experiment_saved_carries_them(tmp_path: Path) -> None:
    builder = GridBuilder(other_tools_files(tmp_path))
    assert builder.dataset_columns.value == "" and builder.dataset_columns.options == ()  # our names: nothing to map
    assert builder.corpus_columns.disabled  # the built-in corpus has no columns
    builder.dataset.value = "qa.csv"
    offered = "{question: prompt, reference: expected_answer, source_ids: doc_ids}"
    assert builder.dataset_columns.options == (offered,) and builder.dataset_columns.placeholder == offered
    assert "wb-error" in builder.summary.value and "dataset columns: pick " + offered in builder.summary.value  # offered, not applied
    builder.dataset_columns.value = offered  # picked in the drop-down
    assert "wb-error" not in builder.summary.value and builder.questions() == 1, builder.summary.value
    builder.corpus.value = "export.jsonl"
    assert not builder.corpus_columns.disabled and builder.corpus_columns.options == ("{id: doc_id, text: body}",)
    builder.corpus_columns.value = "id: doc_id, text: body"  # typed, without braces
    assert "wb-error" not in builder.summary.value, builder.summary.value
    built = builder.spec()
    assert built.dataset.columns == {"question": "prompt", "reference": "expected_answer", "source_ids": "doc_ids"}  # type: ignore[union-attr]
    assert built.corpus.columns == {"id": "doc_id", "text": "body"}  # type: ignore[union-attr]
    saved = builder.save(tmp_path / "own.yaml")
    again = wb.load_experiment(saved)
    assert again.dataset.columns == built.dataset.columns and again.corpus.columns == built.corpus.columns  # type: ignore[union-attr]
    reopened = GridBuilder(again)
    assert reopened.dataset_columns.value == offered and reopened.corpus_columns.value == "{id: doc_id, text: body}"
    assert reopened.spec().to_dict(tmp_path) == again.to_dict(tmp_path)
    assert open_files_under(tmp_path) == []  # each file's first line read, and closed


def test_a_corpus_folder_or_no_dataset_file_takes_no_columns(tmp_path: Path) -> None:
    builder = GridBuilder(other_tools_files(tmp_path))
    builder.corpus.value = "export.jsonl"
    builder.corpus_columns.value = "{id: doc_id, text: body}"
    builder.corpus.value = "kb"  # a folder of files, each one document: its mapping is not sent (the spec refuses it)
    assert builder.corpus_columns.disabled and builder.corpus_columns.options == ()
    assert "wb-error" not in builder.summary.value and builder.spec().corpus.columns == {}, builder.summary.value  # type: ignore[union-attr]
    builder.corpus.value = "export.jsonl"  # back: the mapping typed is kept
    assert builder.spec().corpus.columns == {"id": "doc_id", "text": "body"}  # type: ignore[union-attr]
    builder.dataset.value = ""
    assert builder.dataset_columns.disabled


@pytest.mark.parametrize(("typed", "said"), [
    ("question: [prompt]", "dataset.columns: 'question: [prompt]' is not our field: the file's column, comma-separated"),
    ("questoin: prompt", "dataset.columns: 'questoin' is not a field — did you mean 'question'?"),
    ("question: prompt, reference: prompt", "both read the column 'prompt'"),
])
def test_a_mapping_that_cannot_be_right_is_one_line_under_the_form_and_not_saved(tmp_path: Path, typed: str, said: str) -> None:
    builder = GridBuilder(other_tools_files(tmp_path))
    builder.dataset.value = "qa.csv"
    builder.dataset_columns.value = typed
    assert said in html.unescape(builder.summary.value), builder.summary.value
    builder.save_button.click()
    assert "wb-error" in builder.save_status.value and not (tmp_path / "own.yaml").exists()
