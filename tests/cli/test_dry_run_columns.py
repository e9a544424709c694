"""``workbench run --dry-run`` says which of a dataset's or corpus file's own columns each field is read from."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.cli.test_dry_run import cli, fakes  # noqa: F401  (fixtures)
from workbench.models import GEMMA_ID


def test_a_dry_run_shows_the_columns_a_file_is_read_with(tmp_path: Path, cli: Callable[..., tuple[int, str, str]]) -> None:  # noqa: F811
    (tmp_path / "qa.csv").write_text("id,prompt,expected_answer\nq1,What does pass do?,nothing\n", encoding="utf-8")
    (tmp_path / "exp.yaml").write_text(
        "name: dry\ndataset: {path: qa.csv, columns: {question: prompt, reference: expected_answer}}\ncorpus: {builtin: python-reference}\n"
        f"prompts:\n  - {{name: a, template: \"{{context}} Q: {{question}}\"}}\nmodels:\n  - id: {GEMMA_ID}\n    params: {{max_tokens: 16}}\n"
        "chunkers:\n  - {strategy: recursive, size: 800, overlap: 80}\nexecution: {isolation: none}\n", encoding="utf-8")
    code, out, err = cli("--dry-run")
    assert code == 0, err
    assert out.splitlines()[1] == "Dataset qa.csv: read with its own columns, question <- prompt, reference <- expected_answer", out
    code, out, err = cli("--dry-run", "--format", "json")
    assert json.loads(out)["columns"] == {"dataset": {"question": "prompt", "reference": "expected_answer"}}
