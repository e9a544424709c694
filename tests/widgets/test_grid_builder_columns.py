"""The GridBuilder keeps a dataset's and a corpus file's own column names (``columns:``), which it has no control for."""

from __future__ import annotations

from pathlib import Path

import workbench as wb
from workbench.widgets import GridBuilder


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
