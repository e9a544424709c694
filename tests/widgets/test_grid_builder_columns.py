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
