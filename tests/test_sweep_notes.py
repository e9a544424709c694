"""What a sweep noticed reaches a notebook user: ``wb.run`` says its notes when it ends (as ``workbench run`` words
them), and a cell ending in the result shows its summary, leaderboard, notes, failures and where to open it in MLflow."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import workbench as wb
from workbench.models import MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.sandbox import Outcome
from workbench.spec import RetrievalSpec
from workbench.testing import HashingEmbedder
from workbench.tracking import MemoryTracker

ROOT = Path(__file__).resolve().parents[1]
DOCS = [{"id": "leave", "text": "You get 25 days of annual leave."}, {"id": "travel", "text": "Book economy flights two weeks ahead."}]
QUESTIONS = [{"question": "How many days of leave?", "source_ids": ["leave"]}, {"question": "How early to book?", "source_ids": ["travel"]}]


def spec(**update: object) -> wb.ExperimentSpec:
    made = wb.ExperimentSpec.from_dict(
        {"name": "notes", "dataset": {"path": "datasets/handbook.jsonl"}, "corpus": {"path": "datasets/handbook", "glob": "*.md"},
         "chunkers": [{"strategy": "markdown", "size": 600, "overlap": 0}]},
        base_dir=ROOT,
    )
    return made.model_copy(update=update)


def sweep(wb_settings, *, progress: bool, retrieval=(RetrievalSpec(k=1), RetrievalSpec(k=10))) -> wb.SweepResult:  # type: ignore[no-untyped-def]
    import pandas as pd

    return wb.run(spec(retrieval=retrieval), dataset=pd.DataFrame(QUESTIONS), corpus=DOCS, generate=False, settings=wb_settings,
                  index_store=MemoryIndexStore(), tracker=MemoryTracker(), progress=progress,
                  models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})


def failed(variant: wb.VariantResult, error: str) -> wb.VariantResult:
    return dataclasses.replace(variant, outcome=Outcome(status="FAILED", error=error, error_kind="RuntimeError"))


def test_a_sweep_with_progress_says_its_notes_when_it_ends_and_a_quiet_one_says_nothing(wb_settings, capsys) -> None:  # type: ignore[no-untyped-def]
    # a notebook's wb.run(spec) showed its progress bars, then nothing of what the sweep noticed (here: k 10 retrieved the
    # whole index of 2 chunks), which workbench run prints and the RunPanel shows
    result = sweep(wb_settings, progress=True)
    err = capsys.readouterr().err
    assert result.notes and all(err.count(note) == 1 for note in result.notes), err
    quiet = sweep(wb_settings, progress=False)
    assert quiet.notes == result.notes
    assert capsys.readouterr().err == ""


def test_the_lines_a_sweep_ends_with_name_its_failed_variants_on_one_line_redacted(wb_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-abcdefghijklmnopqrstuvwx0123456789")
    result = sweep(wb_settings, progress=False)
    broken = dataclasses.replace(result, variants=(failed(result.variants[0], "boom\nsk-proj-abcdefghijklmnopqrstuvwx0123456789 \x1b[2J"),
                                                   result.variants[1]))
    lines = broken.ending_lines
    assert lines[0].startswith(f"FAILED {result.variants[0].variant.name}: boom / ")
    assert "sk-proj-abcdefghijklmnop" not in lines[0] and "\x1b" not in lines[0] and "\\x1b[2J" in lines[0]
    assert lines[1:] == result.notes


def test_a_cell_ending_in_a_sweep_shows_its_summary_leaderboard_notes_and_where_to_open_it(wb_settings) -> None:  # type: ignore[no-untyped-def]
    import html

    result = sweep(wb_settings, progress=False)
    shown = dataclasses.replace(result, tracking_uri="sqlite:////srv/team/mlflow.db")._repr_html_()
    assert "Experiment &#x27;notes&#x27;" in shown or "Experiment 'notes'" in shown
    assert "2 variants on 2 questions" in shown
    for v in result.variants:
        assert html.escape(v.variant.name) in shown
    for column in ("hit_at_k", "mrr", "status"):
        assert f">{column}</th>" in shown
    for note in result.notes:
        assert html.escape(note) in shown
    assert "workbench --tracking-uri sqlite:////srv/team/mlflow.db ui" in shown  # as workbench run prints it
    assert ">None<" not in shown  # a retrieval sweep has no prompt or model: no column of Nones


def test_a_sweeps_html_escapes_its_errors_and_hides_the_servers_password(wb_settings) -> None:  # type: ignore[no-untyped-def]
    result = sweep(wb_settings, progress=False)
    served = dataclasses.replace(
        result, tracking_uri="http://alice:S3cret-pa55@mlflow.example.internal:5000", experiment_id="7",
        variants=(failed(result.variants[0], "<img src=x onerror=alert(1)> went wrong"), result.variants[1]),
    )
    shown = served._repr_html_()
    assert "<img" not in shown and "&lt;img src=x onerror=alert(1)&gt; went wrong" in shown
    assert "S3cret-pa55" not in shown
    assert f'href="http://mlflow.example.internal:5000/#/experiments/7/runs/{result.parent_run_id}"' in shown


@pytest.mark.parametrize(("count", "rows", "more"), [(25, 20, "and 5 more"), (3, 3, None)])
def test_a_large_sweeps_html_shows_its_top_twenty_variants_and_how_many_more(wb_settings, count: int, rows: int, more: str | None) -> None:  # type: ignore[no-untyped-def]
    result = sweep(wb_settings, progress=False, retrieval=(RetrievalSpec(k=1),))
    many = dataclasses.replace(result, variants=result.variants * count)
    shown = many._repr_html_()
    assert shown.count("<tr") == rows + 1  # the header's row, and one a variant
    assert (more in shown) if more else ("more" not in shown)


def test_a_variants_html_shows_its_metrics_and_its_error_escaped(wb_settings) -> None:  # type: ignore[no-untyped-def]
    result = sweep(wb_settings, progress=False)
    v = result.variants[0]
    assert "hit_at_k" in v._repr_html_() and "FINISHED" in v._repr_html_()
    shown = failed(v, "<script>x</script>")._repr_html_()
    assert "<script>" not in shown and "&lt;script&gt;x&lt;/script&gt;" in shown


def test_workbench_run_in_a_terminal_says_each_note_once(tmp_path: Path, wb_settings, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # in a terminal wb.run shows its progress, and with it says the sweep's notes as it ends: the command said them again
    import workbench.cli._run as cli_run
    from workbench.cli import main

    real_run = wb.run
    monkeypatch.setattr(cli_run, "_shows_progress", lambda no_progress: True)  # as in a terminal
    monkeypatch.setattr(wb, "run", lambda *args, **kwargs: real_run(
        *args, **{**kwargs, "index_store": MemoryIndexStore(), "models": {MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}}))
    (tmp_path / "docs").mkdir()
    for doc in DOCS:
        (tmp_path / "docs" / f"{doc['id']}.md").write_text(doc["text"])
    (tmp_path / "d.jsonl").write_text("".join(f'{{"question": "{q["question"]}", "source_ids": ["{q["source_ids"][0]}"]}}\n' for q in QUESTIONS))
    (tmp_path / "e.yaml").write_text("name: notes\ndataset: {path: d.jsonl}\ncorpus: {path: docs, glob: '*.md'}\n"
                                     "chunkers: [{strategy: markdown, size: 600, overlap: 0}]\nretrieval: [{k: 1}, {k: 10}]\n")
    assert main(["--tracking-uri", wb_settings.tracking_uri, "run", str(tmp_path / "e.yaml"), "--yes"]) == 0
    err = capsys.readouterr().err
    assert err.count("k 10 is not fewer than the 2 chunks of its index") == 1, err
