"""Execute each notebook top to bottom in a fresh kernel (nbclient) and check its key outputs and MLflow runs.

Each notebook runs in a temp copy of the project with its own sqlite MLflow store, on the embedded models.
"""

from __future__ import annotations

import copy
import re
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.notebooks._project import kernel_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WIDGET = "application/vnd.jupyter.widget-view+json"


def execute(project: Path, name: str, home: Path, *, again: tuple[str, ...] = (), parameters: dict[str, Any] | None = None) -> nbformat.NotebookNode:
    """Run the notebook top to bottom, then run the cells tagged ``again`` once more, as a user going back to them does
    (their second runs are tagged ``<tag>-again``). ``parameters`` are set in a cell run right after the one tagged
    ``parameters``, as a user editing that cell would (papermill's convention)."""
    book = nbformat.read(project / "notebooks" / name, as_version=4)
    if parameters:
        unknown = set(parameters) - parameter_names(cell(book, "parameters").source)
        assert not unknown, f"{name}: its parameters cell sets no {sorted(unknown)} (the notebook would run without them)"
        given = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in parameters.items()), metadata={"tags": ["injected-parameters"]})
        book.cells.insert(book.cells.index(cell(book, "parameters")) + 1, given)
    for tag in again:
        rerun = copy.deepcopy(cell(book, tag))
        rerun.metadata["tags"] = [f"{tag}-again"]
        rerun.id = f"{rerun.id}-again"
        book.cells.append(rerun)
    client = NotebookClient(book, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(project / "notebooks")}})
    started = time.monotonic()
    client.execute(env=kernel_env(project, home))
    print(f"{name}: executed in {time.monotonic() - started:.1f}s")
    return book


def parameter_names(source: str) -> set[str]:
    """The names a ``parameters`` cell assigns."""
    import ast

    return {t.id for node in ast.parse(source).body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}


def cell(book: nbformat.NotebookNode, tag: str) -> Any:
    found = [c for c in book.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, f"no single cell tagged {tag}"
    return found[0]


def stdout(c: Any) -> str:
    return "".join(o.get("text", "") for o in c.outputs if o.output_type == "stream" and o.name == "stdout")


def html_rows(c: Any) -> int:
    html = next(o.data["text/html"] for o in c.outputs if o.output_type == "execute_result" and "text/html" in o.data)
    body = html.split("<tbody>", 1)[1]
    return body.count("<tr>")


def html_columns(c: Any) -> list[str]:
    html = next(o.data["text/html"] for o in c.outputs if o.output_type == "execute_result" and "text/html" in o.data)
    return re.findall(r"<th>([^<]+)</th>", html.split("<tbody>", 1)[0])


def has_widget(c: Any) -> bool:
    return any(WIDGET in o.get("data", {}) for o in c.outputs)


def client(project: Path) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")


def test_quickstart(project: Path, shared_home: Path) -> None:
    book = execute(project, "01_quickstart.ipynb", shared_home)
    assert "2 variants x 2 questions = 4 model calls" in stdout(cell(book, "grid-count"))
    table = cell(book, "leaderboard-table")
    assert re.search(r"^2 variants, 0 failed; sweep run [0-9a-f]{32}$", stdout(table), re.M)
    assert html_rows(table) == 2
    # the columns the quickstart's labelled sweep has, all shown (a user's sweep without labels shows fewer, not a KeyError)
    assert html_columns(table) == ["variant", "status", "hit_at_k", "mrr", "token_f1", "semantic_similarity", "latency_p50_s"]
    for tag in ("grid-builder", "run-panel", "leaderboard", "inspector", "chunk-explorer"):
        assert has_widget(cell(book, tag)), tag
    mlflow = client(project)
    experiment = mlflow.get_experiment_by_name("notebook-quickstart")
    runs = mlflow.search_runs([experiment.experiment_id], "tags.`workbench.kind` = 'variant'")
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
    assert all(r.data.metrics["questions"] == 2 for r in runs)


def test_chunking_lab(project: Path, shared_home: Path) -> None:
    book = execute(project, "02_chunking_lab.ipynb", shared_home)
    table = cell(book, "lab-table")
    printed = stdout(table)
    assert "12 retrieval variants x 24 questions, no model calls" in printed
    assert html_rows(table) == 12
    assert html_columns(table) == ["variant", "chunks", "mean_chunk_chars", "hit_at_k", "recall_at_k", "mrr", "precision_at_k"]
    assert "mrr (higher is better)" in stdout(cell(book, "compare"))
    assert has_widget(cell(book, "chunk-explorer")) and has_widget(cell(book, "leaderboard"))
    mlflow = client(project)
    experiment = mlflow.get_experiment_by_name("handbook")
    parent = re.search(r"sweep ([0-9a-f]{32})", printed).group(1)  # type: ignore[union-attr]
    assert mlflow.get_run(parent).data.tags["workbench.kind"] == "sweep"
    children = mlflow.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'")
    assert len(children) == 12 and all(0.0 <= r.data.metrics["mrr"] <= 1.0 for r in children)
    assert {r.data.tags["workbench.generates"] for r in children} == {"false"}  # nothing generated
    assert not any("token_f1" in r.data.metrics for r in children)


def test_prompts_and_models(project: Path, shared_home: Path) -> None:
    # rates one answer; its four variants answer in the kernel, which loads each model once (not four worker processes
    # importing the libraries and loading a model and MiniLM each: 01 and the browser test sweep in workers from a kernel)
    book = execute(project, "03_prompts_and_models.ipynb", shared_home, parameters={"QUESTIONS": 1, "ISOLATION": "none"})
    count = stdout(cell(book, "grid-count"))
    variants = int(count.split(" variants")[0])
    assert f"{variants} variants x 1 questions = {variants} model calls" in count and variants >= 2
    table = cell(book, "leaderboard-table")
    assert f"{variants} variants, 0 failed" in stdout(table) and html_rows(table) == variants
    assert "logged 👍 on trace tr-" in stdout(cell(book, "rate"))
    reopened = stdout(cell(book, "reopened"))
    assert "read back from MLflow: 👍 'answers from the travel policy' by notebook-test" in reopened
    assert has_widget(cell(book, "inspector")) and has_widget(cell(book, "reopened"))

    from workbench.tracking import HUMAN_FEEDBACK, latest_sweep, load_question_reviews

    uri = f"sqlite:///{project / 'mlruns' / 'mlflow.db'}"
    sweep = latest_sweep("prompts-and-models", tracking_uri=uri)
    first = load_question_reviews(sweep.info.run_id, tracking_uri=uri)[0].answers[0]
    assert first.feedback is not None and first.feedback.thumbs_up and first.feedback.user == "notebook-test"
    trace = client(project).get_trace(first.trace_id)
    human = [a for a in trace.info.assessments if a.name == HUMAN_FEEDBACK]
    assert len(human) == 1 and str(human[0].source.source_type) == "HUMAN"


def test_promote_walkthrough(project: Path, shared_home: Path) -> None:
    # its reload cell asserts the bundle reproduces the run; going back to the first promotion printed nothing (now in
    # staging, it promoted to production unsaid), and to the export stopped at its deploy folder, which existed; short
    # answers are enough for the gates (retrieval, question count, a paired token_f1 difference) and the reload check;
    # its variants answer in the kernel, whose Gemma the bundle's reload then shares (not two worker processes loading
    # it, MiniLM and the libraries: 01 and the browser test sweep in workers from a kernel)
    book = execute(project, "04_promote.ipynb", shared_home, again=("skip-staging", "export"),
                   parameters={"MAX_TOKENS": 8, "ISOLATION": "none"})
    for tag in ("skip-staging-again", "export-again"):
        assert not [o for o in cell(book, tag).outputs if o.output_type == "error"], tag
    assert re.match(r"handbook-assistant v1 is now 'production'", stdout(cell(book, "skip-staging-again")))
    assert "on branch promote/handbook-assistant-production-v1" in stdout(cell(book, "export-again"))
    assert re.match(r"refused: config [0-9a-f]{12} \(run [0-9a-f]{32}\) has not been promoted to staging — ", stdout(cell(book, "skip-staging")))
    assert re.search(r"handbook-assistant v1 is now 'staging'", stdout(cell(book, "staging")))
    assert re.search(r"handbook-assistant v1 is now 'production'", stdout(cell(book, "production")))
    # the runner-up is second on token_f1, so its paired difference to the holder (the best) cannot read "better":
    # the beats-holder gate must block it (the cell would print "passed every gate" if it did not)
    blocked = stdout(cell(book, "blocked")).splitlines()
    assert any(re.match(r"\s*FAIL\s+token_f1 beats holder v1\b", line) for line in blocked), blocked
    assert not any("passed every gate" in line for line in blocked)
    assert "on branch promote/handbook-assistant-production-v1" in stdout(cell(book, "export"))
    assert any(o.output_type in ("display_data", "execute_result") for o in cell(book, "reload").outputs)
    rollback = stdout(cell(book, "rollback"))
    assert "OVERRIDE: demo: try the runner-up in staging" in rollback
    assert "handbook-assistant@staging rolled back to v1 (was v2)" in rollback
    import json

    from mlflow import MlflowClient

    # the notebook keeps its store in a temporary folder of its own and prints where
    printed = "\n".join(stdout(c) for c in book.cells if c.cell_type == "code")
    store = re.search(r"sqlite:///\S+?mlflow\.db", printed)
    assert store, "notebook 04 prints its tracking store"
    forced = json.loads(MlflowClient(store.group(0)).get_model_version("handbook-assistant", "2").tags["workbench.audit.staging"])
    assert forced["gates_passed"] is False and forced["override_reason"] == "demo: try the runner-up in staging"
    assert [g["passed"] for g in forced["gates"] if g["kind"] == "beats_holder"] == [False]
