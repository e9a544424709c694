"""The notebook widgets, driven from Python the way their buttons drive them (fake models, real sqlite MLflow)."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import threading
import time
from pathlib import Path

import pytest

import workbench as wb
from tests.widgets import _team_scorer  # noqa: F401  (registers the team's scorer widget_team_words)
from workbench.config import Settings, settings
from workbench.models import GEMMA_ID, MINILM_ID, SMOLLM2_ID, Generation, load_embedder
from workbench.pipeline import chunk_corpus
from workbench.scoring import registered_scorers
from workbench.spec import ChunkerSpec, ModelSpec, PromptSpec, RetrievalSpec
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import load_question_reviews
from workbench.widgets import ChunkExplorer, GridBuilder, Leaderboard, QuestionInspector, RunPanel

ROOT = Path(__file__).resolve().parents[2]


def handbook_spec(**overrides: object) -> wb.ExperimentSpec:
    data: dict[str, object] = {
        "name": "widgets",
        "dataset": {"path": "../datasets/handbook.jsonl", "limit": 2},
        "corpus": {"path": "../datasets/handbook", "glob": "*.md"},
        "prompts": [{"name": "grounded", "template": (ROOT / "experiments" / "prompts" / "grounded.txt").read_text()}],
        "models": [{"id": GEMMA_ID, "params": {"max_tokens": 32}}],
        "chunkers": [{"strategy": "markdown", "size": 600, "overlap": 0}, {"strategy": "recursive", "size": 400, "overlap": 40}],
        "retrieval": [{"k": 2}],
        "scorers": ["hit_at_k", "mrr", "token_f1"],
    }
    data.update(overrides)
    return wb.ExperimentSpec.from_dict(data, base_dir=ROOT / "experiments")


def fakes(delay: float = 0.0) -> dict[str, object]:
    def answer(prompt: object) -> str:
        time.sleep(delay)
        return "Book flights at least 14 days before departure."

    return {GEMMA_ID: ScriptedModel(answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("widgets")
    return settings(root=root, tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")


@pytest.fixture(scope="module")
def finished(cfg: Settings) -> tuple[RunPanel, wb.SweepResult]:
    panel = RunPanel(handbook_spec(), settings=cfg, models=fakes())
    return panel, panel.run()


# -- grid builder ----------------------------------------------------------------------------------------------------


def test_grid_builder_counts_a_routers_strong_calls_and_says_the_judge_calls_too() -> None:
    # "2 variants x 2 questions = 4 model calls" for a router next to its cheap model alone: the router's strong model
    # answers every question it escalates, and a judge calls for every answer, which the count left out unsaid
    router = {"name": "r", "cheap": {"id": SMOLLM2_ID}, "strong": {"id": GEMMA_ID}, "escalate_when": {"refusal_or_empty": True}}
    builder = GridBuilder(handbook_spec(models=[{"id": SMOLLM2_ID}, {"router": router}], chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}]))
    assert (builder.variant_count(), builder.questions(), builder.model_calls()) == (2, 2, 6)
    assert "<b>2</b> variants × <b>2</b> questions = up to <b>6</b> model calls" in builder.summary.value
    judged = GridBuilder(handbook_spec(judge=GEMMA_ID))
    assert judged.model_calls() == 4 and "= <b>4</b> model calls and the judge's" in judged.summary.value


def test_grid_builder_offers_files_of_documents_as_corpora_not_datasets(tmp_path: Path) -> None:
    """The corpus drop-down offered folders only: a file of documents (JSONL, CSV, Parquet) had to be typed."""
    (tmp_path / "experiments").mkdir()
    data = tmp_path / "datasets"
    (data / "kb").mkdir(parents=True)
    (data / "docs.jsonl").write_text('{"id": "travel", "text": "Book flights early."}\n', encoding="utf-8")
    (data / "notes.csv").write_text("id,text\nleave,Managers approve leave.\n", encoding="utf-8")
    (data / "pages.parquet").write_bytes(b"PAR1")  # read by load_corpus only: its first bytes are no header
    (data / "questions.jsonl").write_text('{"question": "How early?", "reference": "14 days"}\n', encoding="utf-8")
    (data / "labels.csv").write_text("case_id,metric,label\nq1,faithfulness,1\n", encoding="utf-8")
    (data / ".hidden.jsonl").write_text('{"id": "x", "text": "y"}\n', encoding="utf-8")
    (data / "readme.md").write_text("# notes\n", encoding="utf-8")
    builder = GridBuilder(base_dir=tmp_path / "experiments")
    assert builder.corpus.options == ("python-reference", "../datasets/docs.jsonl", "../datasets/kb", "../datasets/notes.csv",
                                      "../datasets/pages.parquet")
    assert "../datasets/questions.jsonl" in builder.dataset.options
    builder.corpus.value = "../datasets/docs.jsonl"
    assert builder.spec().corpus.path == "../datasets/docs.jsonl"  # type: ignore[union-attr]
    for i in range(30):  # an export of many files next to the experiment: the list stays short
        (tmp_path / "experiments" / f"part-{i:02d}.jsonl").write_text('{"text": "t"}\n', encoding="utf-8")
    many = GridBuilder(base_dir=tmp_path / "experiments").corpus.options
    assert len(many) <= 25 and list(many[1:]) == sorted(many[1:]) and "../datasets/kb" in many


def test_grid_builder_counts_variants_and_model_calls_as_the_grid_changes() -> None:
    builder = GridBuilder(handbook_spec())
    assert (builder.variant_count(), builder.questions(), builder.model_calls()) == (2, 2, 4)
    assert "<b>2</b> variants × <b>2</b> questions = <b>4</b> model calls" in builder.summary.value
    builder.prompts.add(PromptSpec(name="terse", template="{context}\nQ: {question}\nA:"))
    builder.limit.value = 5
    assert builder.model_calls() == 4 * 5 and "<b>20</b> model calls" in builder.summary.value
    builder.chunkers.rows[1].overlap.value = 500  # overlap above size: the spec is invalid, the summary says why
    assert "overlap 500 must be smaller than size 400" in builder.summary.value
    builder.chunkers.rows[1].overlap.value = 40
    bad = builder.prompts.rows[1]
    bad.template.value = "Tell me about {topic}"
    assert "unknown variable {topic}" in bad.check.value and "wb-error" in builder.summary.value
    bad.template.value = "{context} -> {question}"
    assert "✓" in bad.check.value and "<b>20</b> model calls" in builder.summary.value
    builder.limit.value = 0  # 0 means every question
    assert builder.questions() == 24


def test_grid_builder_names_a_retrieval_setting_so_two_embedding_models_can_be_compared() -> None:
    builder = GridBuilder(handbook_spec())
    builder.retrieval.add(RetrievalSpec(k=2, embedding="openai:text-embedding-3-small"))
    assert "retrieval[0] and retrieval[1] would both be named &#x27;k2-similarity&#x27;" in builder.summary.value
    builder.retrieval.rows[1].name.value = "k2-openai"
    assert [r.label for r in builder.spec().retrieval] == ["k2-similarity", "k2-openai"]
    builder.retrieval.rows[1].k.value, builder.retrieval.rows[1].name.value = 3, " "  # cleared: the default name again
    assert "name" not in builder.spec().retrieval[1].model_dump() and builder.spec().retrieval[1].label == "k3-similarity"


def test_grid_builder_gives_an_mmr_row_with_its_top_k_at_the_slider_end_more_candidates_than_it_keeps() -> None:
    # the row shows no fetch_k: k 20 with mmr kept the default fetch_k 20, which experiments refuse (MMR would keep every
    # candidate), so the summary said to give a fetch_k the builder has no field for
    builder = GridBuilder(handbook_spec())
    row = builder.retrieval.rows[0]
    row.search.value, row.k.value = "mmr", 20
    assert "wb-error" not in builder.summary.value
    assert (builder.spec().retrieval[0].k, builder.spec().retrieval[0].fetch_k) == (20, 80)
    row.k.value = 3  # fewer than the fetch_k the experiment gave: that one again
    assert builder.spec().retrieval[0].fetch_k == 20
    row.search.value = "similarity"
    assert builder.spec().retrieval[0].search == "similarity"


def test_grid_builder_counts_no_model_calls_for_a_grid_left_with_no_models() -> None:
    builder = GridBuilder(handbook_spec())
    for box in list(builder.models._list.children):
        box.children[-1].click()  # every model removed: a retrieval-only sweep
    assert (builder.variant_count(), builder.questions(), builder.model_calls()) == (2, 2, 0)
    assert "<b>0</b> model calls (2 retrieval-only variants with no models make none)" in builder.summary.value
    builder.models.add(ModelSpec(id=GEMMA_ID))
    assert builder.model_calls() == 4 and "= <b>4</b> model calls" in builder.summary.value


def test_grid_builder_refuses_a_cleared_corpus_or_dataset_field_instead_of_using_the_experiment_folder() -> None:
    builder = GridBuilder(handbook_spec())
    for field in (builder.corpus, builder.dataset):
        before = field.value
        field.value = "  "
        assert "wb-error" in builder.summary.value and "path is empty — give a file or folder" in builder.summary.value
        with pytest.raises(wb.SpecError, match=r"grid builder: (corpus|dataset)\.path: the path is empty"):
            builder.spec()
        field.value = before
        assert "<b>4</b> model calls" in builder.summary.value


def test_grid_builder_says_under_the_form_when_the_corpus_folder_or_its_glob_picks_no_file(tmp_path: Path) -> None:
    """A corpus typed as the dataset's file, or a glob matching nothing, read "4 model calls" until Run failed on it."""
    builder = GridBuilder(handbook_spec())
    builder.corpus.value = "../datasets/handbook.jsonl"
    assert "the corpus is a dataset file (its first line holds a &#x27;question&#x27;), not a file of documents" in builder.summary.value
    builder.corpus.value = "../datasets/handbook"
    builder.glob.value = "*.txt"
    assert "wb-error" in builder.summary.value and "no files match &#x27;*.txt&#x27;" in builder.summary.value
    builder.glob.value = "*.md"
    assert "<b>4</b> model calls" in builder.summary.value


def test_grid_builder_checks_the_corpus_with_its_exclude(tmp_path: Path) -> None:
    # the form listed the files the glob picks, those the experiment's exclude leaves out too
    builder = GridBuilder(handbook_spec(corpus={"path": "../datasets/handbook", "glob": "[a-k]*.md", "exclude": ["[a-k]*.md"]}))
    assert "wb-error" in builder.summary.value and "leaves out every file the glob picks" in builder.summary.value
    builder.glob.value = "*.md"  # the files from 'l' on are read
    assert "wb-error" not in builder.summary.value and builder.spec().corpus.exclude == ("[a-k]*.md",)


def test_a_renamed_grid_is_saved_under_its_new_name_not_over_the_file_of_its_old_one(tmp_path: Path) -> None:
    builder = GridBuilder(handbook_spec(), base_dir=tmp_path)
    assert builder.save_path.value == str(tmp_path / "widgets.yaml")
    builder.name.value = "widgets-v2"
    assert builder.save_path.value == str(tmp_path / "widgets-v2.yaml")
    builder.save_button.click()
    assert wb.load_experiment(tmp_path / "widgets-v2.yaml").name == "widgets-v2" and not (tmp_path / "widgets.yaml").exists()
    builder.save_path.value = str(tmp_path / "mine.yaml")  # a path the user typed stays
    builder.name.value = "widgets-v3"
    assert builder.save_path.value == str(tmp_path / "mine.yaml")
    chosen = GridBuilder(handbook_spec(), save_path=tmp_path / "chosen.yaml")
    chosen.name.value = "other"
    assert chosen.save_path.value == str(tmp_path / "chosen.yaml")


def test_saving_to_a_folder_or_an_empty_path_says_so_and_leaves_no_file_behind(tmp_path: Path) -> None:
    builder = GridBuilder(handbook_spec(), base_dir=tmp_path)
    (tmp_path / "out").mkdir()
    builder.save_path.value = str(tmp_path / "out")
    builder.save_button.click()
    assert f"{tmp_path / 'out'}: is a folder, not a file — give the path of the experiment file to write" in builder.save_status.value
    builder.save_path.value = " "
    builder.save_button.click()
    assert "no file name given — give the path of the experiment file to write" in builder.save_status.value
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and not any((tmp_path / "out").iterdir())


def test_grid_builder_counts_the_questions_of_a_dataset_file_edited_since_it_was_counted(tmp_path: Path) -> None:
    lines = (ROOT / "datasets" / "handbook.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    data = tmp_path / "eval.jsonl"
    data.write_text("".join(lines[:3]), encoding="utf-8")
    builder = GridBuilder(handbook_spec(dataset={"path": str(data)}))
    assert builder.questions() == 3
    data.write_text("".join(lines[:5]), encoding="utf-8")  # questions added in an editor while the builder is open
    builder.limit.value = 0  # any edit recounts
    builder.name.value = "widgets-more"
    assert builder.questions() == 5 and "× <b>5</b> questions" in builder.summary.value
    data.write_text('{"question": "unfinished\n', encoding="utf-8")
    builder.name.value = "widgets"
    assert "wb-error" in builder.summary.value and "eval.jsonl:1" in builder.summary.value


def test_grid_builder_saves_yaml_that_loads_back_to_the_same_spec(tmp_path: Path) -> None:
    (tmp_path / "experiments").mkdir()
    builder = GridBuilder(handbook_spec(), base_dir=ROOT / "experiments", save_path=tmp_path / "experiments" / "edited.yaml")
    builder.name.value = "edited"
    builder.retrieval.rows[0].k.value = 3
    builder.models.rows[0].max_tokens.value = 48
    builder.save_button.click()
    assert "saved" in builder.save_status.value
    saved = tmp_path / "experiments" / "edited.yaml"
    reloaded = wb.load_experiment(saved).model_dump()
    expected = builder.spec().model_dump()
    for key in ("name", "prompts", "models", "chunkers", "retrieval", "scorers"):
        assert reloaded[key] == expected[key]
    assert reloaded["retrieval"][0]["k"] == 3 and reloaded["models"][0]["params"]["max_tokens"] == 48
    builder.name.value = "no spaces allowed"
    builder.save_button.click()
    assert "wb-error" in builder.save_status.value and "name" in builder.save_status.value


# -- run panel -------------------------------------------------------------------------------------------------------


def test_run_panel_shows_each_stage_and_a_live_leaderboard_with_run_links(finished: tuple[RunPanel, wb.SweepResult]) -> None:
    panel, result = finished
    assert len(result.variants) == 2 and not result.failed
    assert (panel.indexes.bar.value, panel.indexes.bar.max) == (2, 2)
    assert (panel.generation.bar.value, panel.generation.bar.max) == (2, 2)
    assert (panel.scoring.bar.value, panel.scoring.bar.max) == (2, 2)
    assert (panel.variants.bar.value, panel.variants.bar.max) == (2, 2)
    html = panel.leaderboard.value
    assert html.count("<tr>") == 3  # header + one row per variant
    for v in result.variants:
        assert v.variant.name in html and f"#/runs/{v.run_id}" in html
    assert "Done: 2 variant(s) logged" in panel.status.value and result.parent_run_id in panel.status.value
    assert panel.run() is result  # run() after a finished sweep returns it, it does not run again
    assert not panel.run_button.disabled and panel.stop_button.disabled


def test_stop_ends_the_sweep_after_the_current_question_and_keeps_finished_variants(cfg: Settings) -> None:
    spec = handbook_spec(chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}], retrieval=[{"k": 1}, {"k": 2}, {"k": 3}])
    panel = RunPanel(spec, settings=cfg, models=fakes(delay=0.3))
    panel.start()
    deadline = time.monotonic() + 60
    while not panel.finished_variants and time.monotonic() < deadline:
        time.sleep(0.05)
    assert panel.running and len(panel.finished_variants) == 1
    panel.stop_button.click()
    result = panel.join(timeout=60)
    assert result is not None and not panel.running
    assert [v.status for v in result.variants][:1] == ["FINISHED"] and len(result.variants) < 3
    assert result.variants[-1].status in ("STOPPED", "FINISHED")
    assert "Stopped" in panel.status.value
    from mlflow import MlflowClient

    runs = wb.tracking.sweep_variants(result.parent_run_id, tracking_uri=cfg.tracking_uri)
    assert runs[0].info.status == "FINISHED" and len(runs) == len(result.variants)
    assert MlflowClient(cfg.tracking_uri).get_run(result.parent_run_id).info.status == "KILLED"


def test_stop_says_it_finishes_the_calls_in_flight_and_a_second_press_stops_at_once(cfg: Settings, tmp_path: Path) -> None:
    """Stop waited up to 5 s for a worker's call in flight with the button greyed out: a model that hangs held the panel
    for the whole grace, and a second press, the way out a second Ctrl+C gives, did nothing."""
    first, slow = tmp_path / "first-call", tmp_path / "slow-call"

    def answer(prompt: object) -> str:
        if first.exists():
            slow.touch()
            time.sleep(30)  # a model that hangs, past the grace period
        first.touch()
        return "Book flights at least 14 days before departure."

    spec = handbook_spec(name="widgets-stop-twice", chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}],
                         execution={"isolation": "process"})
    panel = RunPanel(spec, settings=cfg, models={GEMMA_ID: ScriptedModel(answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    panel.start()
    deadline = time.monotonic() + 60
    while not slow.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    panel.stop_button.click()
    assert "Stopping: finishing the calls in flight" in panel.status.value and "press Stop again" in panel.status.value
    assert not panel.stop_button.disabled and panel.stop_button.description == "Stop now"
    panel.stop_button.click()
    assert panel.stop_button.disabled and panel.status.value.startswith("Stopping now")
    result = panel.join(timeout=60)
    assert result is not None and result.status == "KILLED"
    [stopped] = result.variants
    assert stopped.status == "STOPPED"
    assert stopped.outcome.error == "stopped by the user: its worker process was ended"  # not after the grace ran out
    assert panel.stop_button.description == "Stop"


def started_with_one_variant_done(spec: wb.ExperimentSpec, cfg: Settings, models: dict[str, object]) -> RunPanel:
    panel = RunPanel(spec, settings=cfg, models=models)
    panel.start()
    deadline = time.monotonic() + 60
    while panel.running and not panel.finished_variants and time.monotonic() < deadline:
        time.sleep(0.05)
    assert panel.running and len(panel.finished_variants) == 1
    return panel


def test_a_panel_made_again_while_its_sweep_runs_shows_that_sweep_and_its_stop_button_stops_it(cfg: Settings) -> None:
    """The RunPanel's cell run again while its sweep ran: the earlier panel, with the only Stop button that reached the
    sweep, was gone from the screen, and the new panel's Stop (pressing its Run only queued a second sweep) could not
    stop it."""
    spec = handbook_spec(name="widgets-cell-again", chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}],
                         retrieval=[{"k": 1}, {"k": 2}, {"k": 3}])
    models = fakes(delay=0.3)
    first = started_with_one_variant_done(spec, cfg, models)
    assert RunPanel(handbook_spec(name="another"), settings=cfg, models=models).stop_button.disabled  # another experiment's
    again = RunPanel(spec, settings=cfg, models=models)
    assert not again.stop_button.disabled and "started from an earlier panel of this kernel" in again.status.value
    assert "markdown-600/0|k1-similarity" in html.unescape(again.leaderboard.value)  # what it finished already
    again.stop_button.click()
    result = again.join(timeout=60)
    assert result is not None and result is first.result and result.status == "KILLED" and len(result.variants) < 3
    assert again.status.value.startswith("Stopped") and again.stop_button.disabled and not first.running


def test_a_panel_made_again_while_its_sweep_runs_hands_back_that_sweep_instead_of_queueing_it_again(cfg: Settings) -> None:
    """``result = panel.run()`` in a notebook run again top to bottom while the first run's sweep went on: the new panel
    queued a second sweep of the same experiment behind it (one more parent run, every variant read back again)."""
    spec = handbook_spec(name="widgets-cell-again-run", chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}],
                         retrieval=[{"k": 1}, {"k": 2}])
    models = fakes(delay=0.3)
    first = started_with_one_variant_done(spec, cfg, models)
    again = RunPanel(spec, settings=cfg, models=models)
    result = again.run()
    assert result is first.result and result.status == "FINISHED" and not again.running
    assert (again.variants.bar.value, again.variants.bar.max) == (2, 2) and again.status.value.startswith("Done: 2 variant(s) logged")
    assert again.run() is result  # finished: handed back, as for the panel that ran it


def test_interrupting_the_kernel_while_run_waits_stops_the_sweep(cfg: Settings) -> None:
    """The interrupt ended the waiting cell, and the sweep went on in its thread, answering question after question."""
    import os
    import signal

    spec = handbook_spec(chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}], retrieval=[{"k": 1}, {"k": 2}, {"k": 3}])
    panel = RunPanel(spec, settings=cfg, models=fakes(delay=0.3))

    def interrupt() -> None:  # the kernel's interrupt button, pressed while run() waits for the second variant
        deadline = time.monotonic() + 60
        while not panel.finished_variants and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=interrupt)
    presser.start()
    with pytest.raises(KeyboardInterrupt):
        panel.run()
    presser.join()
    result = panel.join(timeout=60)
    assert result is not None, (panel.exception, panel.status.value)
    assert not panel.running and len(result.variants) < 3 and result.status == "KILLED"
    assert "Stopped" in panel.status.value
    # run() again (as the status line says): the sweep is finished, not the stopped one handed back as it was
    again = panel.run()
    assert again.status == "FINISHED" and [v.status for v in again.variants] == ["FINISHED"] * 3, panel.status.value
    assert again.variants[0].reused_from == result.variants[0].run_id


def test_stop_pressed_as_the_last_question_is_answered_leaves_a_finished_sweep_not_one_to_run_again(cfg: Settings) -> None:
    """Nothing was left to do, yet the panel said "Stopped ... press Run again to finish it" and the sweep was KILLED."""
    from mlflow import MlflowClient

    spec = handbook_spec(chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}], execution={"isolation": "none"})
    last = wb.load_dataset(ROOT / "datasets" / "handbook.jsonl", limit=2).cases[-1].question

    def answer(prompt: object) -> str:
        if last in prompt.text:  # type: ignore[attr-defined]
            panel.stop_button.click()  # while the last question is answered (in this process: isolation none)
        return "Book flights at least 14 days before departure."

    panel = RunPanel(spec, settings=cfg, models={**fakes(), GEMMA_ID: ScriptedModel(answer, model_id=GEMMA_ID)})
    result = panel.run()
    assert [(v.status, len(v.records)) for v in result.variants] == [("FINISHED", 2)] and result.status == "FINISHED"
    assert panel.status.value.startswith("Done: 1 variant(s) logged") and "press Run again" not in panel.status.value
    assert MlflowClient(cfg.tracking_uri).get_run(result.parent_run_id).info.status == "FINISHED"


def test_run_panel_counts_only_the_indexes_a_sweep_needs_so_its_bar_completes_when_a_chunker_is_reused(cfg: Settings) -> None:
    """A chunker added before one whose variants were reused: the bar stopped at 1/2, as if an index were still pending."""
    models = fakes()
    markdown, recursive = {"strategy": "markdown", "size": 600, "overlap": 0}, {"strategy": "recursive", "size": 400, "overlap": 40}
    RunPanel(handbook_spec(name="widgets-indexes", chunkers=[markdown]), settings=cfg, models=models).run()
    panel = RunPanel(handbook_spec(name="widgets-indexes", chunkers=[recursive, markdown]), settings=cfg, models=models)
    result = panel.run()
    assert [v.reused_from is not None for v in result.variants] == [True, False]  # the markdown variant is reused
    assert (panel.indexes.bar.value, panel.indexes.bar.max, panel.indexes.bar.bar_style) == (1, 1, "success")
    assert panel.indexes.label.value.startswith("1/1 recursive-400/40: ")


def test_run_panel_names_an_index_whose_chunks_the_embedding_model_truncates(cfg: Settings) -> None:
    """Whole handbook pages (400-500 words) as chunks: MiniLM reads their first 254 tokens only."""
    panel = RunPanel(handbook_spec(chunkers=[{"strategy": "recursive", "size": 6000, "overlap": 0}]), settings=cfg, models=fakes())
    result = panel.run()
    (note,) = result.truncation_notes
    assert note.startswith(f"recursive-6000/0 / {MINILM_ID}: ") and "longer than the 254 tokens" in note
    assert html.escape(note, quote=False) in panel.status.value


def test_run_panel_index_line_keeps_what_each_index_embedded_again_after_a_document_was_edited(cfg: Settings, tmp_path: Path) -> None:
    """One document fixed and the grid's two indexes built again: the index line said what the last one embedded, and
    what the first had embedded again (or reused) was gone."""
    import shutil

    folder = tmp_path / "handbook"
    shutil.copytree(ROOT / "datasets" / "handbook", folder)
    panel = RunPanel(handbook_spec(name="widgets-index-line", corpus={"path": str(folder), "glob": "*.md"}), settings=cfg, models=fakes())
    panel.run()
    travel = folder / "travel-and-expenses.md"
    # another edit than the other tests' (the indexes are shared: the same text would find its index built)
    travel.write_text(travel.read_text(encoding="utf-8").replace("14 days", "28 days"), encoding="utf-8")
    edited = panel.run()
    line = html.unescape(panel.indexes.label.value)
    # each index is one batch of a local embedder's: the edit embeds all its chunks again (whole batches are reused)
    assert line.startswith("2/2 ") and line.count("(none could take its vector from index ") == 2, line
    for chunker in edited.spec.chunkers:
        assert re.search(rf"{re.escape(chunker.label)}: (\d+) chunks; embedded all \1 chunks \(none could take", line), chunker.label


def test_run_panel_says_what_the_sweep_spent(cfg: Settings) -> None:
    spec = handbook_spec(name="widgets-spent", chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}], execution={"isolation": "none"},
                         pricing={GEMMA_ID: {"input": 1000, "output": 2000}})
    panel = RunPanel(spec, settings=cfg, models=fakes())
    result = panel.run()
    assert result.spent_line == f"spent now: answers ${result.variants[0].metrics['spent_usd']:.4g}"
    assert result.variants[0].metrics["spent_usd"] > 0 and html.escape(result.spent_line) in panel.status.value


def test_running_the_result_cell_again_after_editing_the_grid_runs_the_edited_grid_not_the_last_sweep(cfg: Settings) -> None:
    """The notebook's ``result = panel.run()`` cell, run again after the limit was raised in the GridBuilder, returned
    the earlier 2-question sweep as if it were the edited grid's."""
    builder = GridBuilder(handbook_spec(name="widgets-edited", chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}]))
    panel = RunPanel(builder.spec, settings=cfg, models=fakes())
    first = panel.run()
    assert panel.run() is first  # the same grid: the finished sweep is reused
    builder.limit.value = 3
    edited = panel.run()
    assert edited is not first and len(edited.dataset) == 3 and edited.variants[0].metrics["questions"] == 3


def test_running_the_result_cell_again_after_editing_a_document_or_the_questions_runs_them_not_the_last_sweep(
        cfg: Settings, tmp_path: Path) -> None:
    """A document of the corpus fixed (or the notebook's DataFrame of questions changed in place) and the notebook's
    ``result = panel.run()`` cell run again: the panel handed back the sweep of the old text as the result."""
    import shutil

    folder = tmp_path / "handbook"
    shutil.copytree(ROOT / "datasets" / "handbook", folder)
    one = [{"strategy": "markdown", "size": 600, "overlap": 0}]
    panel = RunPanel(handbook_spec(name="widgets-corpus-edited", corpus={"path": str(folder), "glob": "*.md"}, chunkers=one),
                     settings=cfg, models=fakes())
    first = panel.run()
    assert panel.run() is first  # nothing edited: the finished sweep is reused
    travel = folder / "travel-and-expenses.md"
    travel.write_text(travel.read_text(encoding="utf-8").replace("14 days", "21 days"), encoding="utf-8")
    edited = panel.run()
    assert edited is not first and edited.corpus.hash != first.corpus.hash and "embedded" in panel.indexes.label.value
    questions = memory_questions()
    spec = handbook_spec(name="widgets-frame-edited", chunkers=one).model_copy(update={"dataset": None, "corpus": None})
    in_memory = RunPanel(spec, settings=cfg, models=fakes(), dataset=questions, corpus=MEMORY_DOCS)
    before = in_memory.run()
    assert in_memory.run() is before
    questions.loc[1, "question"] = "Who signs off annual leave?"
    after = in_memory.run()
    assert after is not before and [c.question for c in after.dataset.cases][1] == "Who signs off annual leave?"


def test_running_the_result_cell_again_after_a_pdfs_pages_moved_under_the_same_text_runs_it_again(cfg: Settings, tmp_path: Path) -> None:
    """A cover page without text added to a PDF: the corpus's text is the same, its pages one on (its hash covers them),
    and the panel handed back the sweep showing the old pages."""
    import shutil

    from tests.datasets._pdfs import pdf_bytes

    folder = tmp_path / "handbook"
    shutil.copytree(ROOT / "datasets" / "handbook", folder)
    (folder / "scan.pdf").write_bytes(pdf_bytes("Parking costs five euros a day."))
    one = [{"strategy": "markdown", "size": 600, "overlap": 0}]
    panel = RunPanel(handbook_spec(name="widgets-pages-moved", corpus={"path": str(folder), "glob": "*"}, chunkers=one),
                     settings=cfg, models=fakes())
    first = panel.run()
    assert panel.run() is first
    (folder / "scan.pdf").write_bytes(pdf_bytes(None, "Parking costs five euros a day."))
    moved = panel.run()
    assert moved is not first and moved.corpus.text_hash == first.corpus.text_hash and moved.corpus.page_starts["scan"] == (0, 0)
    assert moved.corpus.hash != first.corpus.hash


def test_running_the_result_cell_again_after_a_variant_failed_runs_it_again_only_once_the_environment_changed(
        cfg: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hosted variant FAILED on a missing key; the key set in a cell, the notebook's ``result = panel.run()`` cell run
    again handed back the failed sweep instead of running the variant that failed. And with nothing changed, each run
    of the cell ran the variant again, to fail the same way and log one more FAILED run."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    spec = handbook_spec(name="widgets-failed-variant", models=[{"id": GEMMA_ID, "params": {"max_tokens": 32}}, {"id": "openai:gpt-4o-mini"}],
                         chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}])
    panel = RunPanel(spec, settings=cfg, models=fakes())
    first = panel.run()
    assert first.status == "FAILED" and sorted(v.status for v in first.variants) == ["FAILED", "FINISHED"]
    assert panel.run() is first  # nothing changed: it would fail the same way
    assert "hands this sweep back until an environment variable changes" in panel.status.value
    monkeypatch.setenv("WORKBENCH_TEST_NOTE", "a key set in a cell")
    again = panel.run()
    assert again is not first
    before, after = ({v.variant.id: v for v in sweep.variants} for sweep in (first, again))
    for key, variant in before.items():
        if variant.status == "FINISHED":
            assert after[key].reused_from == variant.run_id
        else:  # asked again, not handed back
            assert after[key].status == "FAILED" and after[key].run_id != variant.run_id


def test_run_panel_reports_a_bad_spec_in_its_status_line(cfg: Settings) -> None:
    def broken() -> wb.ExperimentSpec:
        raise wb.SpecError("grid builder: chunkers[0]: overlap 900 must be smaller than size 400")

    panel = RunPanel(broken, settings=cfg)
    panel.run_button.click()
    assert "overlap 900" in panel.status.value and not panel.running
    with pytest.raises(wb.SpecError):
        panel.run()


def test_run_panel_live_leaderboard_shows_the_teams_own_scorer_its_errors_and_a_routers_escalations(cfg: Settings) -> None:
    # the live table had fixed columns: a scorer of the team's own, the questions it raised on and a router's escalation
    # rate were nowhere on the panel (the sweep said "Done" over a scorer that failed on every question)
    router = {"name": "r", "cheap": {"id": SMOLLM2_ID}, "strong": {"id": GEMMA_ID}, "escalate_when": {"refusal_or_empty": True}}
    spec = handbook_spec(models=[{"id": GEMMA_ID}, {"router": router}], chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}],
                         scorers=["hit_at_k", "token_f1", "widget_team_words"], execution={"isolation": "none"})
    models = {**fakes(), SMOLLM2_ID: ScriptedModel(lambda _p: "", model_id=SMOLLM2_ID)}  # the cheap model says nothing: escalated
    panel = RunPanel(spec, settings=cfg, models=models)
    result = panel.run()
    assert result.status == "FINISHED"
    head = re.findall(r"<th>([^<]*)</th>", panel.leaderboard.value)
    assert head[head.index("token_f1"):head.index("latency_p50_s")] == ["token_f1", "widget_team_words", "escalation_rate"]
    assert "widget_team_words_errors" not in head  # it failed on no question here
    assert [v.metrics.get("escalation_rate") for v in result.variants] == [None, 1.0]
    bad = RunPanel(handbook_spec(scorers=["token_f1", "widget_team_words"], execution={"isolation": "none"}, chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}]),
                   settings=cfg, models={**fakes(), GEMMA_ID: ScriptedModel(lambda _p: "No idea.", model_id=GEMMA_ID)})
    failing = bad.run().leaderboard()
    assert "widget_team_words" not in failing.columns and list(failing["widget_team_words_errors"]) == [2]  # wb.run's table too
    head = re.findall(r"<th>([^<]*)</th>", bad.leaderboard.value)
    assert "widget_team_words_errors" in head and "escalation_rate" not in head


def test_a_sweeps_worker_processes_import_no_test_module_nor_pytest_or_ipywidgets(cfg: Settings) -> None:
    """A sweep sends every registered scorer to its workers, by reference: ``widget_team_words``, defined in this
    module, made each worker process of every sweep in the pytest process (whatever its test file) import this module,
    and pytest, ipywidgets and the widgets with it (0.3 s of CPU in each of hundreds of workers a suite run starts)."""
    def imported(prompt: object) -> str:  # answered in the worker: what it has imported by then
        import sys

        return " ".join(m for m in ("pytest", "ipywidgets", "tests.widgets.test_widgets") if m in sys.modules) or "none"

    spec = handbook_spec(name="widgets-worker-imports", chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}],
                         execution={"isolation": "process"})
    result = RunPanel(spec, settings=cfg, models={**fakes(), GEMMA_ID: ScriptedModel(imported, model_id=GEMMA_ID)}).run()
    assert "widget_team_words" in registered_scorers() and result.variants[0].status == "FINISHED"
    assert [r.answer for r in result.variants[0].records] == ["none", "none"]


class _SchemaJudge(ScriptedModel):
    """A judge model for the panel's ``models=``: it answers each ragas judge prompt with a reply its schema accepts."""

    def generate(self, prompt, params, *, deadline=None, json_schema=None):  # type: ignore[no-untyped-def]
        props = (json_schema or {}).get("properties", {})
        reply = ({"classifications": [{"statement": "s", "reason": "r", "attributed": 1}]} if "classifications" in props
                 else {"question": "What is it?", "noncommittal": 0} if "question" in props
                 else {"reason": "useful", "verdict": 1} if "verdict" in props
                 else {"statements": ["A statement."]} if props.get("statements", {}).get("items", {}).get("type") == "string"
                 else {"statements": [{"statement": "s", "reason": "r", "verdict": 1}]})
        return Generation(text=json.dumps(reply), input_tokens=3, output_tokens=3, latency_s=0.0)


def test_run_panel_live_leaderboard_shows_the_judges_scores_of_an_experiment_that_names_no_scorers(cfg: Settings) -> None:
    # a judge: section turns faithfulness, answer relevancy, context precision and recall on, but with scorers left to
    # their defaults the live table showed none of them (only the scorers an experiment names were looked for)
    spec = handbook_spec(name="widgets-judged", judge="ollama:judge", chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}],
                         execution={"isolation": "none"}).model_copy(update={"scorers": None})
    panel = RunPanel(spec, settings=cfg, models={**fakes(), "ollama:judge": _SchemaJudge(lambda _p: "", model_id="ollama:judge")})
    result = panel.run()
    assert result.status == "FINISHED" and result.variants[0].metrics["faithfulness"] == 1.0
    head = re.findall(r"<th>([^<]*)</th>", panel.leaderboard.value)
    assert head[head.index("semantic_similarity") + 1:head.index("latency_p50_s")] == [
        "faithfulness", "answer_relevancy", "context_precision", "context_recall"]


def test_run_panel_refuses_a_grid_of_thousands_of_variants_unless_built_to_run_one(tmp_path: Path) -> None:
    # workbench run refused 1,100 variants without --yes, while Run in a notebook started months of calls unasked and
    # the grid builder counted them without a word
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    wide = handbook_spec(models=[], prompts=[], chunkers=[{"strategy": "recursive", "size": 200 + i, "overlap": 20} for i in range(11)],
                         retrieval=[{"k": k} for k in range(1, 101)])
    panel = RunPanel(wide, settings=cfg, limit=1)
    panel.run_button.click()
    assert not panel.running
    message = ("widgets: 1,100 variants (11 chunkers x 100 retrieval settings), 11 indexes, 1 question: no model calls (retrieval only), "
               "more than the 1,000 variants a sweep runs unasked — cut an axis, or pass RunPanel(..., allow_large_grid=True) to run them all")
    assert html.unescape(panel.status.value) == f'<span class="wb-error">{message}</span>'
    with pytest.raises(wb.WorkbenchError) as refused:
        panel.run()
    assert str(refused.value) == message
    assert not (tmp_path / "mlruns").exists()  # nothing was logged
    builder = GridBuilder(wide)
    assert builder.summary.value.startswith("<b>1,100</b> variants × <b>2</b> questions — <b>0</b> model calls (1,100 retrieval-only")
    assert "More than 1,000 variants: a RunPanel runs them only when built with allow_large_grid=True" in builder.summary.value
    assert "More than 1,000" not in GridBuilder(handbook_spec()).summary.value
    RunPanel(wide, settings=cfg, allow_large_grid=True)._check_size(wide)  # asked for by name: not refused


# -- leaderboard -----------------------------------------------------------------------------------------------------


def test_leaderboard_sorts_and_compares_two_variants(finished: tuple[RunPanel, wb.SweepResult], monkeypatch: pytest.MonkeyPatch) -> None:
    _, result = finished
    board = Leaderboard(result)
    assert board.table.value.count("<tr>") == 3
    # runs logged to a team's MLflow server link to the server's UI, not to http://127.0.0.1:5000
    monkeypatch.delenv("WORKBENCH_UI_URL", raising=False)
    served = Leaderboard(dataclasses.replace(result, tracking_uri="http://mlflow.team:5000"))
    assert served.table.value.count('href="http://mlflow.team:5000/#/runs/') == 2, served.table.value
    board.sort_by.value = "mrr"
    board.order.value = "ascending"
    assert list(board.frame()["mrr"]) == sorted(result.leaderboard()["mrr"])
    a, b = (v.variant.name for v in result.variants)
    board.select(a, b)
    board.compare_button.click()
    assert board.report is not None and board.report.baseline == a
    assert "Baseline" in board.comparison.value and "mrr" in board.comparison.value
    board.select(a, a)
    board.compare_button.click()
    assert board.report is None and "two different variants" in board.comparison.value
    board.every_variant.value = True
    board.compare_button.click()
    assert board.report is not None and {t.name for t in board.report.variants} == {a, b}
    assert "every variant versus baseline" in board.comparison.value


def test_comparing_every_variant_reads_the_sweep_from_the_store_once_not_each_variants_run(finished: tuple[RunPanel, wb.SweepResult],
                                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """"every variant against the baseline" looked each variant's run id up as an experiment name, then as a run: two
    store calls a variant before reading its table (80 round trips to a team's server for a grid of 40)."""
    from collections import Counter

    from mlflow import MlflowClient

    _, result = finished
    calls: Counter[str] = Counter()
    for name in ("get_run", "get_experiment_by_name", "search_runs"):
        def counted(self: MlflowClient, *args: object, _name: str = name, _call: object = getattr(MlflowClient, name), **kwargs: object) -> object:
            calls[_name] += 1
            return _call(self, *args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(MlflowClient, name, counted)
    board = Leaderboard(result)
    board.every_variant.value = True
    report = board.compare()
    assert report is not None and {t.name for t in report.variants} == {v.variant.name for v in result.variants}
    assert calls["get_experiment_by_name"] + calls["get_run"] <= 3, calls


def test_leaderboard_sorts_by_any_leaderboard_column_and_names_an_unknown_one(finished: tuple[RunPanel, wb.SweepResult]) -> None:
    _, result = finished
    board = Leaderboard(result, sort_by="chunker")  # a text column the leaderboard sorts by, not only a metric
    assert board.sort_by.value == "chunker" and list(board.frame()["chunker"]) == sorted(result.leaderboard()["chunker"], reverse=True)
    with pytest.raises(wb.WorkbenchError, match="cannot sort the leaderboard by 'latency'.*columns: variant"):
        Leaderboard(result, sort_by="latency")
    a, b = (v.variant.name for v in result.variants)
    with pytest.raises(wb.WorkbenchError, match=f"no variant 'grounded' in this leaderboard — its variants: {re.escape(a)}, {re.escape(b)}"):
        board.select(a, "grounded")
    board.select(b, a)
    assert (board.variant_a.value, board.variant_b.value) == (b, a)


def test_leaderboard_of_a_sweep_stopped_before_any_variant_says_so_when_asked_to_compare(finished: tuple[RunPanel, wb.SweepResult]) -> None:
    empty = dataclasses.replace(finished[1], variants=())
    board = Leaderboard(empty, sort_by="token_f1")
    assert "0 variants" in board.children[0].value and board.compare_button.disabled
    assert board.compare() is None and "pick two different variants" in board.comparison.value
    board.every_variant.value = True
    assert board.compare() is None and "pick two different variants" in board.comparison.value


def test_the_notebooks_table_of_a_sweep_stopped_before_any_variant_is_empty_not_a_key_error(finished: tuple[RunPanel, wb.SweepResult]) -> None:
    """Stop pressed during the first variant: the quickstart's ``table[["variant", "status", "hit_at_k", ...]]`` cell
    raised KeyError, as the leaderboard of no variants had no columns at all."""
    empty = dataclasses.replace(finished[1], variants=())
    table = empty.leaderboard()
    shown = table[["variant", "status", "hit_at_k", "mrr", "token_f1", "semantic_similarity", "latency_p50_s"]]
    assert len(shown) == 0 and list(table.columns[:11]) == list(finished[1].leaderboard().columns[:11])  # the axes, as ever


def test_comparing_against_a_variant_that_failed_says_it_has_no_answers_to_compare(cfg: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Picked as the baseline, a variant that failed before answering read "no variant '<its run id>' to compare", as if
    it were not in the table."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # the hosted model cannot run: FAILED before any question
    spec = handbook_spec(models=[{"id": GEMMA_ID, "params": {"max_tokens": 32}}, {"id": "openai:gpt-4o-mini"}],
                         chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}])
    result = wb.run(spec, settings=cfg, models=fakes(), progress=False)
    answered, failed = (next(v.variant.name for v in result.variants if v.status == status) for status in ("FINISHED", "FAILED"))
    board = Leaderboard(result)
    board.select(failed, answered)
    assert board.compare() is None
    assert f"baseline &#x27;{html.escape(failed)}&#x27; has no per-question results to compare (FAILED: ModelError: " in board.comparison.value
    assert board.comparison.value.endswith(") — pick a variant that answered questions</span>")
    board.select(answered, failed)  # the other way round it is left out of the report, as before
    assert board.compare() is not None and failed in board.comparison.value


def test_variants_that_did_not_finish_rank_after_the_finished_ones_and_are_not_the_default_baseline(
        cfg: Settings, monkeypatch: pytest.MonkeyPatch, finished: tuple[RunPanel, wb.SweepResult]) -> None:
    """A variant FAILED before its first question (a missing key) has no question error to count, so it topped the
    leaderboard above one with a question that failed, in the RunPanel's live table too, and was the Leaderboard's
    default baseline, whose Compare then said it had nothing to compare; a variant the user STOPPED ranked on the
    questions it reached, above the variants that answered all."""
    from workbench.sandbox import Outcome

    def answer(prompt: object) -> str:
        if "annual leave" in prompt.text:  # type: ignore[attr-defined]
            raise RuntimeError("HTTP 500 from the model server")
        return "Book flights at least 14 days before departure."

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    spec = handbook_spec(models=[{"id": GEMMA_ID, "params": {"max_tokens": 32}}, {"id": "openai:gpt-4o-mini"}],
                         chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}])
    panel = RunPanel(spec, settings=cfg, models={**fakes(), GEMMA_ID: ScriptedModel(answer, model_id=GEMMA_ID)})
    result = panel.run()
    assert [tuple(row) for row in result.leaderboard()[["status", "question_errors"]].itertuples(index=False)] == [("FINISHED", 1), ("FAILED", 0)]
    assert panel.leaderboard.value.index("FINISHED") < panel.leaderboard.value.index("FAILED")
    board = Leaderboard(result)
    assert board.variant_a.value == next(v.variant.name for v in result.variants if v.status == "FINISHED")
    assert board.compare() is not None and "has no per-question results" not in board.comparison.value

    best, second = finished[1].leaderboard()["variant"]
    stopped = [dataclasses.replace(v, outcome=Outcome("STOPPED", "stopped by the user", "stopped")) if v.variant.name == best else v
               for v in finished[1].variants]
    assert list(dataclasses.replace(finished[1], variants=tuple(stopped)).leaderboard()["variant"]) == [second, best]


@pytest.mark.parametrize("widget", [Leaderboard, QuestionInspector])
def test_a_run_panel_result_read_before_the_sweep_ended_is_one_line_saying_to_wait(widget: type) -> None:
    panel = RunPanel(handbook_spec())  # not started: panel.result is None, as while its sweep runs
    with pytest.raises(wb.WorkbenchError, match=r"needs a sweep's result .* got None — .* use result = panel.run\(\), which waits for it"):
        widget(panel.result)


# -- question inspector ----------------------------------------------------------------------------------------------


def test_inspector_shows_chunks_answers_scores_and_logs_feedback_that_reads_back(finished: tuple[RunPanel, wb.SweepResult], cfg: Settings) -> None:
    _, result = finished
    inspector = QuestionInspector(result, user="rita")
    assert len(inspector.reviews) == 2 and len(inspector.cards.children) == 2
    case = result.dataset.cases[0]
    assert case.question in inspector.header.value
    card = inspector.cards.children[0]
    record = result.variants[0].records[0]
    assert record.answer in card.body.value and f"{len(record.hits)} retrieved chunks" in card.body.value
    for hit in record.hits:
        assert hit.chunk.doc_id in card.body.value
    trace = inspector.current.answers[0].trace_id
    assert f"#/experiments/{result.experiment_id}/traces?selectedEvaluationId={trace}" in card.body.value
    assert f"#/experiments/{result.experiment_id}/evaluation-runs/{result.variants[0].run_id}" in card.body.value
    card.thumbs.value = "bad"
    card.comment.value = "cites the wrong policy"
    card.save.click()
    assert "saved thumbs down by rita" in card.status.value
    inspector.next_button.click()
    assert result.dataset.cases[1].question in inspector.header.value
    reopened = QuestionInspector(result.parent_run_id, tracking_uri=cfg.tracking_uri)
    again = reopened.cards.children[0]
    assert again.thumbs.value == "bad" and again.comment.value == "cites the wrong policy"
    assert "saved thumbs down by rita" in again.status.value
    assert load_question_reviews(result.parent_run_id, tracking_uri=cfg.tracking_uri)[0].answers[1].feedback is None
    empty = reopened.cards.children[1]
    empty.save.click()
    assert "choose good or bad first" in empty.status.value


def test_inspector_says_which_model_answered_a_router_variant_and_why_it_escalated(cfg: Settings) -> None:
    """Reviewing a router variant, nothing said whether the cheap or the strong model wrote the answer being rated."""
    def cheap(prompt: object) -> str:
        return "I cannot answer that." if "flights" in prompt.text else "New staff get 25 days of annual leave."  # type: ignore[attr-defined]

    router = {"name": "smol-then-gemma", "cheap": {"id": SMOLLM2_ID, "params": {"max_tokens": 32}},
              "strong": {"id": GEMMA_ID, "params": {"max_tokens": 32}}, "escalate_when": {"refusal_or_empty": True}}
    spec = handbook_spec(models=[{"router": router}], chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}])
    models = {**fakes(), SMOLLM2_ID: ScriptedModel(cheap, model_id=SMOLLM2_ID, kind="chat")}
    inspector = QuestionInspector(wb.run(spec, settings=cfg, models=models, progress=False))
    assert "flights" in inspector.current.question
    (card,) = inspector.cards.children
    assert f"answered by <b>{GEMMA_ID}</b> — escalated: refusal_or_empty: " in card.body.value
    assert "Book flights at least 14 days before departure." in card.body.value
    inspector.next_button.click()
    (card,) = inspector.cards.children
    assert f"answered by <b>{SMOLLM2_ID}</b> — not escalated" in card.body.value and "25 days of annual leave" in card.body.value


def opened(result: wb.SweepResult, by: str, cfg: Settings) -> QuestionInspector:
    """The inspector of a sweep opened on its result (the panel's path) or by its run id (a sweep of an earlier session)."""
    return QuestionInspector(result) if by == "result" else QuestionInspector(str(result.parent_run_id), tracking_uri=cfg.tracking_uri)


@pytest.mark.parametrize("by", ["result", "run id"])
def test_inspector_says_why_a_variant_racing_stopped_has_no_answer_to_a_question(cfg: Settings, by: str) -> None:
    """A racing sweep: on the questions a stopped variant never reached, its card was missing without a word (and still
    was when the inspector was opened by the sweep's run id, as for a sweep of an earlier session)."""
    import json as _json

    references = {row["question"]: row["reference"] for row in map(_json.loads, (ROOT / "datasets" / "handbook.jsonl").read_text().splitlines())}

    def right(prompt: object) -> str:
        return next((a for q, a in references.items() if q in prompt.text), "?")  # type: ignore[attr-defined]

    models = {GEMMA_ID: ScriptedModel(right, model_id=GEMMA_ID), SMOLLM2_ID: ScriptedModel(lambda _p: "bananas", model_id=SMOLLM2_ID),
              MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = handbook_spec(name="widgets-raced", dataset={"path": "../datasets/handbook.jsonl", "limit": 12},
                         models=[{"id": GEMMA_ID}, {"id": SMOLLM2_ID}], chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}],
                         execution={"isolation": "none", "racing": {"batch": 2, "min_questions": 4}})
    result = wb.run(spec, settings=cfg, models=models, progress=False)
    stopped = next(v for v in result.variants if v.variant.model is not None and v.variant.model.id == SMOLLM2_ID)
    assert stopped.stopped_early is not None and 0 < len(stopped.records) < 12
    inspector = opened(result, by, cfg)
    asked = {r.case.id for r in stopped.records}
    for case in result.dataset.cases:
        inspector.show(case.id)
        said = f"no answer from <b>{html.escape(stopped.variant.name)}</b> to this question: racing stopped it after"
        assert (said in inspector.header.value) == (case.id not in asked), case.id
        assert len(inspector.cards.children) == (2 if case.id in asked else 1)


@pytest.mark.parametrize("by", ["result", "run id"])
def test_inspector_says_a_variant_stopped_partway_ended_stopped_whichever_way_it_was_opened(cfg: Settings, by: str) -> None:
    """Opened by run id, a variant Stop ended after its first question read "it ended KILLED" (MLflow's word for the
    run), where the same inspector opened on the result said STOPPED."""
    calls: list[str] = []

    def answer(prompt: object) -> str:
        calls.append(prompt.text)  # type: ignore[attr-defined]
        if len(calls) == 3:  # the second variant's first question
            panel.stop_button.click()
        return "Book flights at least 14 days before departure."

    spec = handbook_spec(name=f"widgets-stopped-partway-{by.replace(' ', '-')}", chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}],
                         retrieval=[{"k": 1}, {"k": 2}], execution={"isolation": "none"})
    panel = RunPanel(spec, settings=cfg, models={**fakes(), GEMMA_ID: ScriptedModel(answer, model_id=GEMMA_ID)})
    result = panel.run()
    stopped = result.variants[-1]
    assert (stopped.status, len(stopped.records)) == ("STOPPED", 1)
    inspector = opened(result, by, cfg)
    inspector.show(result.dataset.cases[1].id)
    assert f"no answer from <b>{html.escape(stopped.variant.name)}</b> to this question: it ended STOPPED after 1 questions" in inspector.header.value
    if by == "run id":  # opened while the sweep still runs (its latest_sweep id): not "it ended RUNNING"
        from mlflow import MlflowClient

        MlflowClient(cfg.tracking_uri).update_run(str(stopped.run_id), status="RUNNING")
        inspector = opened(result, by, cfg)
        inspector.show(result.dataset.cases[1].id)
        assert ("to this question: it had answered 1 questions when the inspector read the sweep, which was still running"
                in inspector.header.value)


def test_inspector_of_a_retrieval_only_sweep_does_not_call_its_answers_empty(cfg: Settings) -> None:
    """Every card of a retrieval-only sweep (the chunking lab's) read "(empty answer)", as if the model had said nothing."""
    inspector = QuestionInspector(wb.run(handbook_spec(), settings=cfg, models=fakes(), generate=False, progress=False))
    assert len(inspector.cards.children) == 2
    for card in inspector.cards.children:
        assert "(retrieval only: no answer is generated — rate the retrieved chunks)" in card.body.value
        assert "(empty answer)" not in card.body.value and "2 retrieved chunks" in card.body.value


def test_inspector_says_an_answer_failed_instead_of_calling_it_empty_and_escapes_html_answers(cfg: Settings) -> None:
    """A question whose model call failed read "(empty answer)", as if the model had answered with nothing."""

    def answer(prompt: object) -> str:
        if "annual leave" in prompt.text:  # type: ignore[attr-defined]
            raise RuntimeError("HTTP 500 <html>Internal Server Error</html>")
        return "<img src=x onerror=alert(1)> **14 days**"

    spec = handbook_spec(name="widgets-failed-answer", chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}],
                         execution={"isolation": "none"})
    result = wb.run(spec, settings=cfg, models={**fakes(), GEMMA_ID: ScriptedModel(answer, model_id=GEMMA_ID)}, progress=False)
    inspector = QuestionInspector(result)
    (card,) = inspector.cards.children
    assert "&lt;img src=x onerror=alert(1)&gt; **14 days**" in card.body.value and "<img" not in card.body.value
    inspector.next_button.click()
    (card,) = inspector.cards.children
    assert "(no answer: the model call failed)" in card.body.value and "(empty answer)" not in card.body.value
    assert "RuntimeError: HTTP 500 &lt;html&gt;Internal Server Error&lt;/html&gt;" in card.body.value
    assert "2 retrieved chunks" in card.body.value  # retrieved before the model failed


@pytest.mark.parametrize("by", ["result", "run id"])
def test_inspector_names_the_variants_that_answered_no_question(cfg: Settings, monkeypatch: pytest.MonkeyPatch,
                                                               finished: tuple[RunPanel, wb.SweepResult], by: str) -> None:
    """A variant that failed before its first question (a missing key) has no trace, so it was simply missing from every
    question's cards: a reviewer saw one variant of two, without a word about the other."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    spec = handbook_spec(name="widgets-unanswered", models=[{"id": GEMMA_ID, "params": {"max_tokens": 32}}, {"id": "openai:gpt-4o-mini"}],
                         chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}], execution={"isolation": "none"})
    result = wb.run(spec, settings=cfg, models=fakes(), progress=False)
    failed = next(v.variant.name for v in result.variants if v.status == "FAILED")
    inspector = opened(result, by, cfg)
    assert len(inspector.cards.children) == 1
    assert f"no answers from <b>{html.escape(failed)}</b> (FAILED: ModelError: model &#x27;openai:gpt-4o-mini&#x27; needs" in inspector.unanswered.value
    assert inspector.unanswered in inspector.children
    assert opened(finished[1], by, cfg).unanswered.value == ""  # every variant answered: nothing to say


def test_saving_feedback_on_one_answer_keeps_what_was_typed_on_the_others(finished: tuple[RunPanel, wb.SweepResult]) -> None:
    inspector = QuestionInspector(finished[1], user="rita")
    inspector.next_button.click()  # the second question: the test above rates the first
    draft, rated = inspector.cards.children
    draft.thumbs.value, draft.comment.value = "bad", "not saved yet"
    rated.thumbs.value, rated.comment.value = "good", "right policy"
    rated.save.click()
    assert "saved thumbs up by rita" in rated.status.value and rated.comment.value == "right policy"
    assert (draft.thumbs.value, draft.comment.value) == ("bad", "not saved yet") and "no feedback yet" in draft.status.value
    inspector.rate(draft.answer.variant, thumbs_up=False, comment=draft.comment.value)
    assert "saved thumbs down by rita: “not saved yet”" in draft.status.value and "saved thumbs up" in rated.status.value



def test_inspector_opened_on_a_variant_run_names_its_sweep_and_finds_an_id_pasted_with_spaces(finished: tuple[RunPanel, wb.SweepResult],
                                                                                               cfg: Settings) -> None:
    """The leaderboard's run_id column holds variant runs: one of them opened an inspector that said 'no questions'."""
    _, result = finished
    variant = result.variants[0]
    with pytest.raises(wb.WorkbenchError, match=rf"^run {variant.run_id} \({re.escape(variant.variant.name)}\) is not a sweep — "
                                                rf"it is a variant of sweep {result.parent_run_id}: pass that id$"):
        QuestionInspector(variant.run_id, tracking_uri=cfg.tracking_uri)
    pasted = QuestionInspector(f" {result.parent_run_id}\n", tracking_uri=cfg.tracking_uri)  # copied from the MLflow UI
    assert pasted.parent_run_id == result.parent_run_id and len(pasted.reviews) == 2


@pytest.fixture(scope="module")
def in_memory(cfg: Settings) -> wb.SweepResult:
    """A sweep run with tracker=MemoryTracker(): nothing is logged to MLflow."""
    return wb.run(handbook_spec(), settings=cfg, models=fakes(), tracker=wb.tracking.MemoryTracker(), progress=False)


def test_inspector_of_a_sweep_kept_in_memory_says_it_was_not_logged(in_memory: wb.SweepResult) -> None:
    """It raised MLflow's UnsupportedModelRegistryStoreURIException, a paragraph about registry URI schemes."""
    with pytest.raises(wb.WorkbenchError, match="^this sweep was not logged to MLflow — run it with the default tracker to inspect it$"):
        QuestionInspector(in_memory)


def test_leaderboard_of_a_sweep_kept_in_memory_compares_its_answers(in_memory: wb.SweepResult) -> None:
    """Compare looked its run ids up in MLflow and raised MLflow's UnsupportedModelRegistryStoreURIException."""
    board = Leaderboard(in_memory)
    a, b = (v.variant.name for v in in_memory.variants)
    board.select(a, b)
    report = board.compare()
    assert report is not None and report.baseline == a and {t.name for t in report.variants} == {a, b}
    assert f"<b>{b}</b> versus baseline <b>{a}</b>" in board.comparison.value and "mrr" in board.comparison.value


def test_inspector_names_the_questions_and_variants_it_has_when_asked_for_another(finished: tuple[RunPanel, wb.SweepResult]) -> None:
    _, result = finished
    inspector = QuestionInspector(result, user="rita")
    ids = ", ".join(c.id for c in result.dataset.cases)
    with pytest.raises(wb.WorkbenchError, match=rf"^no question 'hb-999' in this sweep — its questions: {ids}$"):
        inspector.show("hb-999")
    names = ", ".join(re.escape(v.variant.name) for v in result.variants)
    with pytest.raises(wb.WorkbenchError, match=rf"^no variant 'grounded' answered question '{result.dataset.cases[0].id}' — "
                                                rf"the variants that did: {names}$"):
        inspector.rate("grounded", thumbs_up=True)

def test_inspector_reads_a_question_from_mlflow_only_when_it_is_shown(finished: tuple[RunPanel, wb.SweepResult]) -> None:
    # opening a sweep read every trace with its spans first: 1.2 s for 200 questions of one variant (about 25 s for
    # 1,000 questions x 4 variants); the questions are listed from the traces' info (0.3 s) and read when shown
    _, result = finished
    inspector = QuestionInspector(result)
    assert inspector.reviews.case_ids == tuple(c.id for c in result.dataset.cases)
    assert [label.split(" · ", 1)[1] for label, _ in inspector.question.options] == [c.question[:80] for c in result.dataset.cases]
    assert list(inspector.reviews._read) == [0]  # the question on screen only
    inspector.show(result.dataset.cases[1].id)
    assert list(inspector.reviews) == load_question_reviews(result.parent_run_id, tracking_uri=result.tracking_uri)


def test_inspector_lists_questions_from_each_runs_files_and_reads_a_shown_question_in_one_search(
        finished: tuple[RunPanel, wb.SweepResult], monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening the inspector listed the questions from every trace's info: 8 variants x 2,000 questions read 16,000
    trace infos (more than a minute); each question shown then read its variants' traces one by one (40 reads, 1.4 s)."""
    from mlflow import MlflowClient

    calls: list[str] = []
    for name in ("search_traces", "get_trace"):
        real = getattr(MlflowClient, name)
        monkeypatch.setattr(MlflowClient, name, lambda self, *a, _real=real, _name=name, **k: (calls.append(_name), _real(self, *a, **k))[1])
    _, result = finished
    inspector = QuestionInspector(result)
    assert calls == ["search_traces"]  # the question on screen: every variant's trace in one search, none for the listing
    assert inspector.reviews.case_ids == tuple(c.id for c in result.dataset.cases)
    inspector.next_button.click()
    assert calls == ["search_traces"] * 2 and len(inspector.cards.children) == len(result.variants)
    assert list(inspector.reviews) == load_question_reviews(result.parent_run_id, tracking_uri=result.tracking_uri)


def test_inspector_lists_the_questions_of_runs_without_trace_ids_and_of_reused_runs(cfg: Settings) -> None:
    """A run logged before it recorded trace_ids.json (or whose file does not pair with its table) is listed from its
    traces; a reused run lists the traces it links, its origin's."""
    from mlflow import MlflowClient

    spec = handbook_spec(name="inspector-listing", dataset={"path": "../datasets/handbook.jsonl", "limit": 3})
    models = fakes()
    cold = wb.run(spec, settings=cfg, models=models, progress=False)
    warm = wb.run(spec, settings=cfg, models=models, progress=False)
    assert all(v.reused_from for v in warm.variants)
    expected = load_question_reviews(cold.parent_run_id, tracking_uri=cfg.tracking_uri)
    reused = QuestionInspector(warm).reviews
    assert [[(a.trace_id, a.answer) for a in q.answers] for q in reused] == [[(a.trace_id, a.answer) for a in q.answers] for q in expected]
    first, second = (Path(MlflowClient(cfg.tracking_uri).get_run(v.run_id).info.artifact_uri.removeprefix("file://")) for v in cold.variants)
    (first / "trace_ids.json").unlink()  # logged before trace ids were recorded
    (second / "trace_ids.json").write_text('["tr-0"]')  # does not pair with the table's 3 rows
    listed = QuestionInspector(cold).reviews
    assert listed.case_ids == tuple(c.id for c in cold.dataset.cases) and list(listed) == expected


# -- chunk explorer --------------------------------------------------------------------------------------------------


def test_chunk_explorer_counts_chunks_draws_a_histogram_and_marks_boundaries() -> None:
    corpus = wb.load_corpus(ROOT / "datasets" / "handbook", glob="*.md")
    explorer = ChunkExplorer(corpus, ChunkerSpec(strategy="markdown", size=600, overlap=0), document="benefits")
    expected = chunk_corpus(corpus, ChunkerSpec(strategy="markdown", size=600, overlap=0))
    assert explorer.stats is not None and explorer.stats.count == len(expected)
    assert f"<b>{len(expected)}</b> chunks from 9 documents" in explorer.summary.value
    assert sum(b.count for b in explorer.histogram) == len(expected)
    assert explorer.hist.value.count("<div title=") == len(explorer.histogram)
    doc = corpus.get("benefits")
    assert "".join(doc.text[s.start : s.end] for s in explorer.segments) == doc.text
    assert "benefits:" in explorer.boundaries.value and "class='c0 cut'" in explorer.boundaries.value
    explorer.strategy.value = "recursive"
    explorer.size.value = 304
    explorer.overlap.value = 64
    smaller = chunk_corpus(corpus, ChunkerSpec(strategy="recursive", size=304, overlap=64))
    assert explorer.stats.count == len(smaller) > len(expected)
    assert any(len(s.chunks) > 1 for s in explorer.segments) and "class='ov" in explorer.boundaries.value
    explorer.overlap.value = 400
    assert "overlap 400 must be smaller than size 304" in explorer.summary.value
    explorer.document.value = "travel-and-expenses"
    assert "travel-and-expenses:" in explorer.boundaries.value
    explorer.overlap.value = 0
    explorer.strategy.value = "sentence"  # sentence chunks are exact slices of the document: all placed
    placed = [c for c in explorer.chunks if c.doc_id == "travel-and-expenses"]
    assert placed and all(c.start >= 0 for c in placed)
    assert "could not be placed" not in explorer.boundaries.value


def test_chunk_explorer_says_which_pages_of_a_pdf_each_stretch_lies_on_and_nothing_of_pages_elsewhere(tmp_path: Path) -> None:
    from tests.datasets._pdfs import pdf_bytes

    (tmp_path / "handbook.pdf").write_bytes(pdf_bytes("Travel policy. Book flights early.", "Expenses policy. Keep receipts."))
    (tmp_path / "leave.md").write_text("# Leave\n\n27 days.\n", encoding="utf-8")
    explorer = ChunkExplorer(wb.load_corpus(tmp_path, glob="*"), ChunkerSpec(strategy="recursive", size=80, overlap=0), document="handbook")
    titles = re.findall(r"title='([^']*)'", explorer.boundaries.value.split("<div class='wb-doc'", 1)[1])
    assert titles == ["chunk #0 · pages 1-2"] and "handbook: 1 chunks on 2 pages" in explorer.boundaries.value
    explorer.size.value = 48
    assert re.findall(r"title='([^']*)'", explorer.boundaries.value.split("<div class='wb-doc'", 1)[1]) == [
        "chunk #0 · page 1", "not in any chunk · page 1", "chunk #1 · page 2"]
    explorer.document.value = "leave"
    assert "page" not in explorer.boundaries.value


def test_chunk_explorer_calls_a_decks_pages_slides(tmp_path: Path) -> None:
    from tests.datasets._pptx import add_slide, pptx_bytes

    (tmp_path / "travel.pptx").write_bytes(pptx_bytes(lambda deck: [add_slide(deck, "Booking", ["Book flights early"]),
                                                                    add_slide(deck, "Claims", ["Keep receipts"])]))
    explorer = ChunkExplorer(wb.load_corpus(tmp_path, glob="*"), ChunkerSpec(strategy="recursive", size=40, overlap=0), document="travel")
    titles = re.findall(r"title='([^']*)'", explorer.boundaries.value.split("<div class='wb-doc'", 1)[1])
    assert titles == ["chunk #0 · slide 1", "not in any chunk · slide 1", "chunk #1 · slide 2"]
    assert "travel: 2 chunks on 2 slides" in explorer.boundaries.value
    explorer.size.value = 400
    assert re.findall(r"title='([^']*)'", explorer.boundaries.value.split("<div class='wb-doc'", 1)[1]) == ["chunk #0 · slides 1-2"]
    assert "page" not in explorer.boundaries.value


def test_chunk_explorer_hides_a_key_in_a_document_even_where_chunk_boundaries_cut_it_in_pieces(tmp_path: Path) -> None:
    """Each piece between two boundaries was redacted alone: halves of a key are too short to look like one, and the
    pieces, drawn side by side, showed the key whole."""
    from workbench.redaction import redact

    key = "sk-test-" + "Xy7Qm2Lp9Rt4Vw8Zb3Nc" + "T3BlbkFJ" + "Hd6Jf1Kg5Ls0Pq2Rs9Tu"  # an OpenAI key's shape, built from pieces
    text = "# Ops\n\nThe deploy script used the key " + key + " until it was rotated. " + "More text here. " * 40
    (tmp_path / "ops.md").write_text(text, encoding="utf-8")
    for chunker in (ChunkerSpec(strategy="sentence", size=32, overlap=0), ChunkerSpec(strategy="recursive", size=48, overlap=16)):
        explorer = ChunkExplorer(tmp_path, chunker)
        assert any(text.index(key) < s.start < text.index(key) + len(key) for s in explorer.segments)  # a boundary cuts the key
        shown = html.unescape(re.sub(r"<[^>]+>", "", explorer.boundaries.value.split("<div class='wb-doc' dir='auto'>", 1)[1]))
        assert shown.startswith(redact(text)) and "[REDACTED:openai_token]" in shown
        assert not any(piece in shown for piece in ("Xy7Qm2Lp9Rt4", "T3BlbkFJ", "Hd6Jf1Kg5Ls0Pq2Rs9Tu"))


def test_chunk_explorer_shows_an_embedder_the_token_strategy_cannot_load_and_stays_usable() -> None:
    explorer = ChunkExplorer(ROOT / "datasets" / "handbook", glob="*.md", embedding="local:no-such-embedder")
    before = explorer.stats
    explorer.strategy.value = "token"  # counts tokens with the embedder's tokenizer: this one does not exist
    assert "wb-error" in explorer.summary.value and "unknown local embedder &#x27;local:no-such-embedder&#x27;" in explorer.summary.value
    explorer.strategy.value = "sentence"
    assert "chunks from 9 documents" in explorer.summary.value and explorer.stats is not before


def test_chunk_explorer_names_the_chunks_longer_than_the_embedding_model_reads() -> None:
    # the explorer is where a chunk size is chosen, yet a token size of 400 (MiniLM reads 254) or recursive chunks of
    # 2000 characters showed no word: the sweep said it only after building the index
    handbook = wb.load_corpus(ROOT / "datasets" / "handbook", glob="*.md")
    explorer = ChunkExplorer(handbook, ChunkerSpec(strategy="recursive", size=400, overlap=0))
    assert explorer.stats is not None and explorer.stats.truncated == 0 and "wb-error" not in explorer.summary.value
    explorer.size.value = 2000
    counted = sum(1 for c in explorer.chunks if load_embedder(MINILM_ID).count_tokens(c.text) > 254)
    assert counted and explorer.stats.truncated == counted
    assert (f"{counted} of {explorer.stats.count} chunks are longer than the 254 tokens local:all-minilm-l6-v2 reads; only their "
            "beginning is embedded, so retrieval cannot find the rest — use a smaller chunk size<") in explorer.summary.value
    explorer.overlap.value, explorer.size.value, explorer.strategy.value = 0, 400, "token"
    assert explorer.stats.truncated and "use a smaller chunk size (254 or less)" in explorer.summary.value
    hosted = ChunkExplorer(handbook, ChunkerSpec(strategy="recursive", size=2000, overlap=0), embedding="openai:text-embedding-3-small")
    assert hosted.stats is not None and hosted.stats.truncated is None and "wb-error" not in hosted.summary.value  # its limit is unknown
    # given an experiment, the explorer counts with the experiment's embedding model (it counted MiniLM's 254 tokens)
    spec = handbook_spec(retrieval=[{"k": 2, "embedding": "openai:text-embedding-3-small"}])
    theirs = ChunkExplorer(handbook, ChunkerSpec(strategy="recursive", size=2000, overlap=0), experiment=spec)
    assert theirs.stats is not None and theirs.stats.truncated is None and "longer than" not in theirs.summary.value


def test_chunk_explorer_names_a_document_the_corpus_does_not_have() -> None:
    with pytest.raises(wb.WorkbenchError, match="document 'benefit' is not in the corpus 'handbook' — its documents: .*benefits"):
        ChunkExplorer(ROOT / "datasets" / "handbook", glob="*.md", document="benefit")
    handbook = wb.load_corpus(ROOT / "datasets" / "handbook", glob="*.md")
    filtered = dataclasses.replace(handbook, documents=tuple(d for d in handbook.documents if "pension" in d.id))  # none: IndexError
    with pytest.raises(wb.WorkbenchError, match="^corpus 'handbook' has no documents — give the explorer a corpus with some$"):
        ChunkExplorer(filtered)


def test_chunk_explorer_scores_the_chunker_as_set_with_a_retrieval_only_sweep(cfg: Settings) -> None:
    from mlflow import MlflowClient

    spec = handbook_spec(retrieval=({"k": 1}, {"k": 3}))
    explorer = ChunkExplorer(wb.load_corpus(ROOT / "datasets" / "handbook", glob="*.md"), ChunkerSpec(strategy="markdown", size=600, overlap=0),
                             experiment=spec, run_options={"settings": cfg, "models": fakes()})
    explorer.size.value = 400
    sweep = explorer.score_retrieval()
    assert sweep is not None and [v.variant.chunker.size for v in sweep.variants] == [400, 400]
    assert not any(v.variant.generates for v in sweep.variants)
    k1, k3 = (sweep.variant(f"markdown-400/0|k{k}-similarity") for k in (1, 3))
    assert f"k1-similarity: hit_at_k <b>{k1.metrics['hit_at_k']:.3f}</b>" in explorer.scores.value
    assert f"mrr <b>{k3.metrics['mrr']:.3f}</b>" in explorer.scores.value
    client = MlflowClient(cfg.tracking_uri)
    assert client.get_run(sweep.parent_run_id).info.status == "FINISHED"
    explorer.overlap.value = 500  # not smaller than the size: one line, no sweep
    assert explorer.score_retrieval() is None and "must be smaller than size" in explorer.scores.value
    explorer.strategy.value, explorer.overlap.value = "token", 0  # 400 tokens: MiniLM would embed the first 254 only
    assert explorer.score_retrieval() is None and "chunk explorer: retrieval: chunkers[0] cuts chunks of up to 400 tokens" in explorer.scores.value
    assert ChunkExplorer(wb.load_corpus(ROOT / "datasets" / "handbook", glob="*.md")).score_button.disabled


def test_chunk_explorer_says_its_scores_are_another_chunkers_once_the_sliders_moved(cfg: Settings) -> None:
    """Scored, then the size slider moved: the scores stayed beside the new setting's chunks as if they were its own."""
    explorer = ChunkExplorer(wb.load_corpus(ROOT / "datasets" / "handbook", glob="*.md"), ChunkerSpec(strategy="markdown", size=600, overlap=0),
                             experiment=handbook_spec(retrieval=({"k": 2},)), run_options={"settings": cfg, "models": fakes()})
    assert explorer.score_retrieval() is not None
    assert "<b>markdown-600/0</b><br>k2-similarity: hit_at_k <b>" in explorer.scores.value and "scored for" not in explorer.scores.value
    explorer.size.value = 400
    assert "scored for markdown-600/0, not the chunker as set now — press Score retrieval to score it" in explorer.scores.value
    assert "k2-similarity: hit_at_k" in explorer.scores.value  # still there to compare with, named as another chunker's
    explorer.overlap.value = 500  # no chunker at all as set: not the one scored either
    assert "scored for markdown-600/0" in explorer.scores.value
    explorer.overlap.value, explorer.size.value = 0, 600
    assert "scored for" not in explorer.scores.value


def test_chunk_explorer_refuses_an_experiment_that_retrieves_from_another_corpus_than_the_one_shown(tmp_path: Path) -> None:
    """Chunks of one corpus on screen, and 'Score retrieval' silently scored the experiment's other corpus."""
    with pytest.raises(wb.WorkbenchError, match=r"^experiment 'widgets' retrieves from corpus 'handbook' \(9 documents\), not from the "
                                                r"'python-reference' shown here \(\d+ documents\), so 'Score retrieval' would score chunks "
                                                r"you do not see — pass the experiment's corpus: \S+/datasets/handbook with glob='\*\.md'$"):
        ChunkExplorer("python-reference", experiment=handbook_spec())
    (tmp_path / "notes.txt").write_text("Travel is booked through the portal.\n", encoding="utf-8")
    (tmp_path / "travel.md").write_text("# Travel\n\nBook flights 14 days ahead.\n", encoding="utf-8")
    spec = handbook_spec(corpus={"path": str(tmp_path), "glob": "*.*"})
    with pytest.raises(wb.WorkbenchError, match=r"retrieves from corpus '.+' \(2 documents\), not from the '.+' shown here \(1 documents\)"):
        ChunkExplorer(tmp_path, experiment=spec)  # the same folder, read with the explorer's default glob '**/*.md'
    assert ChunkExplorer(tmp_path, glob="*.*", experiment=spec).experiment is spec
    # an experiment whose exclude leaves a file out: the explorer reads the folder so when given the same exclude
    spec = handbook_spec(corpus={"path": str(tmp_path), "glob": "*.*", "exclude": ["notes.txt"]})
    with pytest.raises(wb.WorkbenchError, match=r"\(1 documents\), not from .* \(2 documents\).* with glob='\*\.\*', exclude=\['notes.txt'\]$"):
        ChunkExplorer(tmp_path, glob="*.*", experiment=spec)
    assert [d.id for d in ChunkExplorer(tmp_path, glob="*.*", exclude=["notes.txt"], experiment=spec).corpus.documents] == ["travel"]


def test_chunk_explorer_refuses_to_score_a_corpus_edited_since_it_read_it(tmp_path: Path, cfg: Settings) -> None:
    """A document edited in another tab after the explorer was made: 'Score retrieval' read the folder again and scored
    chunks of the new text beside the old chunks on screen."""
    (tmp_path / "travel.md").write_text("# Travel\n\nBook flights 14 days ahead.\n", encoding="utf-8")
    (tmp_path / "leave.md").write_text("# Leave\n\n27 days a year.\n", encoding="utf-8")
    (tmp_path / "d.jsonl").write_text('{"id": "q1", "question": "When do I book flights?", "source_ids": ["travel"]}\n', encoding="utf-8")
    spec = handbook_spec(corpus={"path": str(tmp_path), "glob": "*.md"}, dataset={"path": str(tmp_path / "d.jsonl")})
    explorer = ChunkExplorer(tmp_path, glob="*.md", experiment=spec, run_options={"settings": cfg, "models": fakes()})
    (tmp_path / "travel.md").write_text("# Travel\n\nBook flights 21 days ahead.\n", encoding="utf-8")
    assert explorer.score_retrieval() is None and explorer.sweep is None
    assert (f"corpus &#x27;{tmp_path.name}&#x27; changed since the explorer read it (travel), so &#x27;Score retrieval&#x27; would "
            "score chunks you do not see — create the ChunkExplorer again") in explorer.scores.value


def test_chunk_explorer_names_the_pdf_whose_pages_moved_since_it_read_it(tmp_path: Path, cfg: Settings) -> None:
    """A blank cover page added to a PDF: the same text, another corpus (its pages one on); the line named no document."""
    from tests.datasets._pdfs import pdf_bytes

    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "travel.md").write_text("# Travel\n\nBook flights 14 days ahead.\n", encoding="utf-8")
    (kb / "scan.pdf").write_bytes(pdf_bytes("Parking costs five euros a day."))
    (tmp_path / "d.jsonl").write_text('{"id": "q1", "question": "What does parking cost?", "source_ids": ["scan"]}\n', encoding="utf-8")
    spec = handbook_spec(corpus={"path": str(kb), "glob": "*"}, dataset={"path": str(tmp_path / "d.jsonl")})
    explorer = ChunkExplorer(kb, glob="*", experiment=spec, run_options={"settings": cfg, "models": fakes()})
    (kb / "scan.pdf").write_bytes(pdf_bytes(None, "Parking costs five euros a day."))
    assert explorer.score_retrieval() is None and explorer.sweep is None
    assert "corpus &#x27;kb&#x27; changed since the explorer read it (scan), so" in explorer.scores.value


def test_score_retrieval_queued_behind_a_run_panels_sweep_can_be_cancelled_and_leaves_that_sweep_running(cfg: Settings) -> None:
    """"Score retrieval" pressed while a RunPanel's long sweep ran waited for it to end, its button greyed out, with no
    way to call it off but stopping the other sweep."""
    one = [{"strategy": "markdown", "size": 600, "overlap": 0}]
    panel = started_with_one_variant_done(handbook_spec(name="widgets-ahead-of-scoring", chunkers=one, retrieval=[{"k": 1}, {"k": 2}]),
                                          cfg, fakes(delay=0.3))
    explorer = ChunkExplorer(wb.load_corpus(ROOT / "datasets" / "handbook", glob="*.md"), ChunkerSpec(strategy="markdown", size=400, overlap=0),
                             experiment=handbook_spec(retrieval=[{"k": 2}]), run_options={"settings": cfg, "models": fakes()})
    assert explorer.cancel_button.disabled  # nothing to cancel yet
    explorer.score_button.click()
    deadline = time.monotonic() + 60
    while "another sweep is running in this process" not in explorer.scores.value and time.monotonic() < deadline:
        time.sleep(0.02)
    explorer.cancel_button.click()
    assert explorer.join(timeout=30) is None and not explorer.scoring and explorer.cancel_button.disabled
    assert "was stopped while it waited for another sweep in this process; nothing was logged" in html.unescape(explorer.scores.value)
    assert panel.running and not explorer.score_button.disabled
    result = panel.join(timeout=60)
    assert result is not None and result.status == "FINISHED"


def test_score_retrieval_runs_in_the_background_so_a_run_panel_sweep_ahead_of_it_can_still_be_stopped(cfg: Settings) -> None:
    """The button ran the sweep in the kernel: behind a RunPanel's sweep (one sweep at a time per process) the kernel
    hung until that sweep ended, and the RunPanel's Stop, which the kernel handles, could not be pressed."""
    spec = handbook_spec(chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}], retrieval=[{"k": 1}, {"k": 2}, {"k": 3}])
    panel = RunPanel(spec, settings=cfg, models=fakes(delay=0.3))
    explorer = ChunkExplorer(wb.load_corpus(ROOT / "datasets" / "handbook", glob="*.md"), ChunkerSpec(strategy="markdown", size=400, overlap=0),
                             experiment=handbook_spec(retrieval=[{"k": 2}]), run_options={"settings": cfg, "models": fakes()})
    panel.start()
    deadline = time.monotonic() + 60
    while panel.running and not panel.finished_variants and time.monotonic() < deadline:
        time.sleep(0.05)
    explorer.score_button.click()
    assert panel.running and explorer.scoring and explorer.score_button.disabled  # the click did not wait for the sweep
    while "another sweep is running in this process" not in explorer.scores.value and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "another sweep is running in this process: &#x27;widgets&#x27; starts when it ends" in explorer.scores.value
    panel.stop_button.click()  # the kernel is free: the panel's Stop works
    assert panel.join(timeout=60) is not None and "Stopped" in panel.status.value
    sweep = explorer.join(timeout=60)
    assert sweep is not None and not explorer.scoring and not explorer.score_button.disabled
    assert [v.variant.name for v in sweep.variants] == ["markdown-400/0|k2-similarity"] and "hit_at_k <b>" in explorer.scores.value


@pytest.mark.slow
def test_a_run_panel_behind_another_sweep_says_it_waits_and_that_stop_cancelled_it_not_a_zero_of_zero_count(cfg: Settings) -> None:
    """Two RunPanels at once: the second showed "0/0 another sweep is running ..." on its variants bar under "Running",
    and once stopped there "WorkbenchError: ..." beside the same stale bar."""
    # three variants of 2 questions at 0.5 s an answer: seconds left to run once the first variant is done
    first = RunPanel(handbook_spec(name="first", chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}],
                                   retrieval=[{"k": 1}, {"k": 2}, {"k": 3}]), settings=cfg, models=fakes(delay=0.5))
    second = RunPanel(handbook_spec(name="second"), settings=cfg, models=fakes())
    first.start()
    deadline = time.monotonic() + 60
    while first.running and not first.finished_variants and time.monotonic() < deadline:
        time.sleep(0.05)
    for stopped in (True, False):
        second.start()
        while not second.status.value.startswith("Waiting") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert html.unescape(second.status.value) == ("Waiting: another sweep is running in this process: 'second' starts when "
                                                      "it ends. Stop cancels it.")
        assert second.variants.label.value == "0/0 " and not any(s.bar.value for s in (second.indexes, second.variants))
        if stopped:
            second.stop_button.click()
            assert second.join(timeout=30) is None and isinstance(second.exception, wb.WorkbenchError)
            assert second.status.value == ("Stopped before it started: it was waiting for another sweep of this kernel to end. "
                                           "Nothing was logged; press Run to start it again.")
    assert first.join(timeout=60) is not None and second.join(timeout=60) is not None
    assert second.status.value.startswith("Done: 2 variant(s) logged") and second.variants.label.value == "2/2 "


@pytest.mark.slow
def test_run_panels_queued_behind_a_sweep_run_in_the_order_their_run_was_pressed(cfg: Settings) -> None:
    """Three panels pressed one after the other behind a running sweep ran in whatever order the lock woke them: the
    one pressed last could run first, and the first pressed wait through the others."""
    one = [{"strategy": "markdown", "size": 600, "overlap": 0}]
    ahead = started_with_one_variant_done(handbook_spec(name="queue-ahead", chunkers=one, retrieval=[{"k": 1}, {"k": 2}]), cfg,
                                          fakes(delay=0.3))
    queued = [RunPanel(handbook_spec(name=f"queue-{i}", chunkers=one), settings=cfg, models=fakes()) for i in range(4)]
    deadline = time.monotonic() + 60
    for panel in queued:
        panel.start()
        while not panel.status.value.startswith("Waiting") and time.monotonic() < deadline:
            time.sleep(0.02)
    assert "and 3 more wait before it" in html.unescape(queued[-1].status.value)  # its place in the queue
    results = [panel.join(timeout=120) for panel in queued]
    assert ahead.join(timeout=60) is not None and all(r is not None for r in results), [p.status.value for p in queued]
    started = [r.variants[0].started_ms for r in results if r is not None]
    assert started == sorted(started)


def test_widgets_hold_no_state_threads_after_a_run(finished: tuple[RunPanel, wb.SweepResult]) -> None:
    panel, _ = finished
    assert not any(t.name in ("workbench-run", "workbench-score-retrieval") and t.is_alive() for t in threading.enumerate())
    assert not panel.running


def test_tables_show_costs_below_a_thousandth_instead_of_zero_and_counts_as_whole_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    from workbench.cli._output import _print_table
    from workbench.widgets._common import frame_table

    board = pd.DataFrame({"variant": ["cheap", "cheaper"], "token_f1": [0.512, 0.498], "cost_usd": [4.5e-4, 3.5e-4],
                          "output_tokens": [1234.0, 98.0], "generation_calls": [4.0, float("nan")], "hit_at_k": [1.0, 0.5]})
    html = frame_table(board)  # the Leaderboard widget's and the run panel's table
    assert "4.50e-04" in html and "3.50e-04" in html and "0.000" not in html  # both read 0.000: free and equal
    assert "0.512" in html and "1,234" in html
    assert '<td class="num">1,234</td><td class="num">4</td><td class="num">1.000</td>' in html  # counts as counts, rates as rates
    assert '<td class="num">98</td><td>—</td><td class="num">0.500</td>' in html
    _print_table(board, ["variant", "token_f1", "cost_usd", "output_tokens", "generation_calls", "hit_at_k"])  # workbench run's
    header, cheap, cheaper = capsys.readouterr().out.splitlines()
    assert cheap.split() == ["cheap", "0.512", "4.50e-04", "1234", "4", "1.000"]
    assert cheaper.split() == ["cheaper", "0.498", "3.50e-04", "98", "—", "0.500"]


def test_a_long_error_is_cut_in_its_table_cell_and_shown_whole_in_its_tooltip() -> None:
    """A provider's error quoting its whole HTTP answer (3,000 characters) filled the RunPanel's and the Leaderboard's
    error cell, stretching the table so far that the scores of every variant were out of sight."""
    import pandas as pd

    from workbench.widgets._common import frame_table

    key = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vX7zB9dF1hJ"  # across the 200th character: redacted whole, not cut in two
    error = "RuntimeError: every question failed; first error: <html>" + "x" * 140 + f" {key} " + "y" * 3000
    board = pd.DataFrame({"variant": ["broken", "fine"], "token_f1": [float("nan"), 0.5], "error": [error, None]})
    table = frame_table(board)
    cell = re.search(r'<td title="([^"]*)">([^<]*)</td></tr>', table)
    assert cell is not None, table[:500]
    tooltip, shown = cell.groups()
    assert len(html.unescape(shown)) <= 201 and html.unescape(shown).endswith("…")
    assert html.unescape(shown).startswith("RuntimeError: every question failed; first error: <html>")  # escaped
    assert "y" * 3000 in tooltip and key not in table and "sk-proj-Ab3" not in table
    assert "<td>—</td></tr>" in table  # the other row's empty error


MEMORY_DOCS = [{"id": "travel", "text": "# Travel\n\nBook flights 14 days ahead through the portal."},
               {"id": "leave", "text": "# Leave\n\nManagers approve leave requests; leave is 25 days a year."}]


def memory_questions():  # type: ignore[no-untyped-def]
    """A notebook's questions over MEMORY_DOCS, as a DataFrame."""
    import pandas as pd

    return pd.DataFrame({"question": ["How early are flights booked?", "Who approves leave?"], "source_ids": [["travel"], ["leave"]]})


def test_chunk_explorer_scores_an_experiment_without_a_corpus_on_the_documents_it_shows(cfg: Settings) -> None:
    """A notebook's documents and questions in memory: the explorer refused the experiment (it named no corpus)."""
    docs, frame = MEMORY_DOCS, memory_questions()
    spec = handbook_spec().model_copy(update={"dataset": None, "corpus": None})
    explorer = ChunkExplorer(docs, ChunkerSpec(strategy="markdown", size=600, overlap=0), experiment=spec,
                             run_options={"dataset": frame, "settings": cfg, "models": fakes()})
    sweep = explorer.score_retrieval()
    assert sweep is not None, explorer.scores.value
    assert sweep.corpus.ids == {"travel", "leave"} and len(sweep.dataset) == 2


def test_grid_builder_and_run_panel_build_and_run_an_experiment_over_data_in_memory(cfg: Settings) -> None:
    """An experiment with no dataset or corpus file: the GridBuilder failed on it (AttributeError) and the RunPanel
    could not hand its data to the sweep."""
    spec = handbook_spec(name="widgets-memory").model_copy(update={"dataset": None, "corpus": None})
    builder = GridBuilder(spec, dataset=memory_questions())
    assert "<b>2</b> variants × <b>2</b> questions = <b>4</b> model calls" in builder.summary.value
    assert builder.spec().dataset is None and builder.spec().corpus is None
    assert "names no dataset" in GridBuilder(spec).summary.value  # nothing to count: one line under the form
    panel = RunPanel(builder.spec, settings=cfg, models=fakes(), dataset=memory_questions(), corpus=MEMORY_DOCS)
    result = panel.run()
    assert [v.status for v in result.variants] == ["FINISHED", "FINISHED"] and result.corpus.ids == {"travel", "leave"}
    inspector = QuestionInspector(result)
    assert any("Who approves leave?" in label for label, _ in inspector.question.options)


def test_grid_builder_disables_the_limit_when_the_questions_are_in_memory() -> None:
    """Questions handed in memory: the builder's limit field took a number and dropped it (the spec has no dataset to
    hold it), so the summary and the run still used every question; the field is now off, its tooltip naming
    RunPanel(limit=), and on again once a dataset file is typed in."""
    spec = handbook_spec(name="widgets-memory-limit").model_copy(update={"dataset": None, "corpus": None})
    builder = GridBuilder(spec, dataset=memory_questions())
    assert builder.limit.disabled and "RunPanel(limit=" in builder.limit.tooltip
    builder.dataset.value = "questions.jsonl"
    assert not builder.limit.disabled and builder.limit.tooltip == "0 = all questions"


def test_inspector_sets_the_direction_of_arabic_and_hebrew_text_by_its_script(cfg: Settings) -> None:
    # the question, answer, reference and chunks were laid out left to right: an Arabic question's '؟' showed at its
    # start, and a chunk mixing Arabic and numbers read out of order
    import pandas as pd

    question, answer, chunk = "كم يوما يمكن العمل من المنزل؟", "يومين في الأسبوع.", "يمكن للموظفين العمل من المنزل يومين في الأسبوع."
    models = {GEMMA_ID: ScriptedModel(lambda prompt: answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    result = wb.run(handbook_spec(dataset=None, corpus=None, chunkers=[{"strategy": "recursive", "size": 400, "overlap": 0}]), settings=cfg,
                    models=models, progress=False, dataset=pd.DataFrame({"question": [question], "reference": ["يومين"], "source_ids": [["عمل"]]}),
                    corpus=[{"id": "عمل", "text": chunk}])
    inspector = QuestionInspector(result)
    assert f"<div style='font-size:14px' dir='auto'><b>{question}</b></div>" in inspector.header.value
    assert "<span dir='auto'>يومين</span>" in inspector.header.value
    (card,) = inspector.cards.children
    assert f"<div class='wb-answer' dir='auto'>{answer}</div>" in card.body.value and f"<div dir='auto'>{chunk}</div>" in card.body.value
    explorer = ChunkExplorer(wb.load_corpus([{"id": "عمل", "text": chunk}]), ChunkerSpec(strategy="recursive", size=400, overlap=0))
    assert f"<div class='wb-doc' dir='auto'><span class='c0 cut' title='chunk #0'>{chunk}</span></div>" in explorer.boundaries.value


def test_grid_builder_checks_a_corpus_folder_and_glob_once_whatever_the_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    # a glob matching none of a 10,000-file export's files walked the folder again (4 s) on every edit of any field
    from workbench.widgets import _grid_builder

    checked: list[tuple[str, str]] = []
    real = _grid_builder.check_corpus_folder
    monkeypatch.setattr(_grid_builder, "check_corpus_folder", lambda folder, glob, exclude: checked.append((str(folder), glob)) or real(folder, glob, exclude=exclude))
    builder = GridBuilder(handbook_spec())
    assert not builder.glob.continuous_update  # a pattern is checked once typed, not at each key
    builder.glob.value = "*.txt"
    for n in range(3):  # other fields edited: the same error, without walking the folder again
        builder.name.value = f"renamed{n}"
        assert "no files match &#x27;*.txt&#x27;" in builder.summary.value
    builder.glob.value = "*.md"
    builder.name.value = "again"
    assert "<b>4</b> model calls" in builder.summary.value
    assert [glob for _, glob in checked] == ["*.md", "*.txt"]


def test_chunk_explorer_searches_a_long_document_for_secrets_only_as_far_as_it_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Selecting a 20 MB changelog searched all of it for secrets (a minute and a half) to show its first 30,000
    characters; a key cut by where the view ends is still hidden whole."""
    from workbench.widgets import _chunk_explorer

    key = "sk-test-" + "Xy7Qm2Lp9Rt4Vw8Zb3Nc" + "T3BlbkFJ" + "Hd6Jf1Kg5Ls0Pq2Rs9Tu"  # an OpenAI key's shape, built from pieces
    at = _chunk_explorer._MAX_DOC_CHARS - 20  # the view ends inside the key
    text = "a" * (at - 1) + " " + key + " " + "More text here. " * 40_000  # 640 KB
    (tmp_path / "changelog.md").write_text(text, encoding="utf-8")
    searched: list[int] = []
    real = _chunk_explorer.find_secrets
    monkeypatch.setattr(_chunk_explorer, "find_secrets", lambda t: searched.append(len(t)) or real(t))
    explorer = ChunkExplorer(tmp_path, ChunkerSpec(strategy="recursive", size=4000, overlap=0))
    shown = html.unescape(re.sub(r"<[^>]+>", "", explorer.boundaries.value.split("<div class='wb-doc' dir='auto'>", 1)[1]))
    assert "[REDACTED:openai_token]" in shown and "Xy7Qm2Lp9Rt4" not in shown
    assert searched and max(searched) < len(text) // 10  # what is shown and a margin, not the whole document


@pytest.mark.slow
def test_run_panel_redraws_its_progress_bars_a_hundred_times_a_pass_not_once_a_question(cfg: Settings) -> None:
    """Each question answered and each scored redrew a bar and its label, a message to the browser each: a variant's
    5,000 questions read from the cache, then scored, sent 20,000 within seconds to a JupyterLab that froze."""
    import pandas as pd

    questions = pd.DataFrame({"question": [f"How early are flights booked for trip {i}?" for i in range(250)], "source_ids": [["travel"]] * 250})
    spec = handbook_spec(name="widgets-progress", chunkers=[{"strategy": "markdown", "size": 600, "overlap": 0}]).model_copy(
        update={"dataset": None, "corpus": None})
    panel = RunPanel(spec, settings=cfg, models=fakes(), dataset=questions, corpus=MEMORY_DOCS)
    drawn: dict[str, list[str]] = {"generation": [], "scoring": []}
    panel.generation.label.observe(lambda change: drawn["generation"].append(change["new"]), names="value")
    panel.scoring.label.observe(lambda change: drawn["scoring"].append(change["new"]), names="value")
    result = panel.run()
    assert [v.status for v in result.variants] == ["FINISHED"]
    name = result.variants[0].variant.name
    logging = [label for label in drawn["scoring"] if label.endswith(": traces logged to MLflow")]
    assert logging == [f"{n}/250 {html.escape(name)}: traces logged to MLflow" for n in (50, 100, 150, 200, 250)]  # 50 at a time
    drawn["scoring"] = drawn["scoring"][:-len(logging)]
    for stage, labels in drawn.items():
        assert 100 <= len(labels) <= 110, f"{stage}: {len(labels)} redraws for 250 questions"
        assert labels[-1] == f"250/250 {html.escape(name)}", stage
    assert (panel.generation.bar.value, panel.scoring.bar.value) == (250, 250)


def test_leaderboard_compares_with_the_sweeps_seed_as_its_comparison_json_does(cfg: Settings) -> None:
    """The Compare button compared run ids, which name no sweep, so it resampled with seed 0: a sweep seeded 7 showed
    other intervals (and at a border another verdict) in the widget than in wb.compare(result) and on its parent run."""
    spec = handbook_spec(name="widgets-seeded", seed=7, dataset={"path": "../datasets/handbook.jsonl", "limit": 10})
    result = wb.run(spec, settings=cfg, models=fakes(), progress=False)
    board = Leaderboard(result)
    a, b = (v.variant.name for v in result.variants)
    board.select(a, b)
    report = board.compare()
    expected = wb.compare(result, baseline=a)
    assert report is not None and report.seed == expected.seed == 7
    for metric in ("mrr", "token_f1"):
        for name in (a, b):
            shown, wanted = report.row(name, metric), expected.row(name, metric)
            assert (shown["mean_low"], shown["mean_high"]) == pytest.approx((wanted["mean_low"], wanted["mean_high"]), abs=1e-9)
    unseeded = wb.compare(result, baseline=a, seed=0)  # the seed shows in some bound (10 questions: bounds are coarse)
    assert any(unseeded.row(name, metric)[bound] != expected.row(name, metric)[bound]
               for name in (a, b) for metric in ("mrr", "token_f1") for bound in ("mean_low", "mean_high"))


def test_the_widgets_text_reads_in_jupyterlabs_dark_theme_and_wide_tables_scroll_in_a_narrow_window() -> None:
    """JupyterLab's dark theme writes text light: the tables' headers, the inspector's answers and the chunk explorer's
    highlighted chunks, on fixed light backgrounds (#f3f3f3, #f7f7f7, #dbe9ff), were light text on light grey."""
    import pandas as pd

    from workbench.widgets._common import STYLE, frame_table

    backgrounds = re.findall(r"background:\s*([^;}]+)", STYLE)
    assert len(backgrounds) >= 6
    for background in backgrounds:  # see-through, so the theme's own background shows under the theme's own text
        alpha = re.fullmatch(r"rgba\(\d+, \d+, \d+, (0\.\d+)\)", background.strip())
        assert alpha is not None and float(alpha.group(1)) < 1, background
    colours = re.findall(r"(?<![-\w])color:\s*([^;}]+)", STYLE)
    assert colours and all(c.startswith("var(--jp-") for c in colours), colours  # the theme's text colours, where it names them
    table = frame_table(pd.DataFrame({"variant": ["a"], **{f"metric_{i}": [0.5] for i in range(20)}}))
    assert table.startswith('<div class="wb-scroll">') and ".wb-scroll {overflow-x: auto;" in STYLE


@pytest.mark.parametrize("box", [".wb-answer", ".wb-chunk", ".wb-doc"])
def test_answers_chunks_and_documents_break_a_long_url_at_the_edge_of_a_narrow_window(box: str) -> None:
    """A retrieved chunk holding a long URL (or an answer with a base64 token) was one unbreakable line: its card grew
    past a narrow window's edge, and the inspector scrolled sideways for every chunk."""
    from workbench.widgets._common import STYLE

    rule = re.search(re.escape(box) + r" \{([^}]*)\}", STYLE)
    assert rule is not None and "overflow-wrap: anywhere" in rule.group(1)


def test_grid_builder_takes_a_file_of_documents_as_the_corpus_whatever_the_glob_field_holds(tmp_path: Path) -> None:
    # the form kept its glob beside the file ('*.md' typed for a folder before), which the spec refuses beside a file
    import json

    from tests.datasets.test_corpus_files import ROWS

    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    builder = GridBuilder(handbook_spec())
    builder.glob.value = "*.md"
    builder.corpus.value = str(tmp_path / "docs.jsonl")
    spec = builder.spec()
    assert spec.corpus is not None and (spec.corpus.path, spec.corpus.glob) == (str(tmp_path / "docs.jsonl"), "**/*.md")
    assert "error" not in builder.summary.value.lower()


def test_chunk_explorer_counts_only_the_labelled_questions_its_retrieval_metrics_cover(cfg: Settings) -> None:
    """Three questions, two with labelled sources: the score line said "3 questions" though hit@k covers two."""
    import pandas as pd

    frame = pd.DataFrame({"question": ["How early are flights booked?", "Who approves leave?", "Is there a canteen?"],
                          "source_ids": [["travel"], ["leave"], []]})
    spec = handbook_spec().model_copy(update={"dataset": None, "corpus": None})
    explorer = ChunkExplorer(MEMORY_DOCS, ChunkerSpec(strategy="markdown", size=600, overlap=0), experiment=spec,
                             run_options={"dataset": frame, "settings": cfg, "models": fakes()})
    assert explorer.score_retrieval() is not None, explorer.scores.value
    assert "over 2 labelled questions of 3 · sweep" in explorer.scores.value
    explorer = ChunkExplorer(MEMORY_DOCS, ChunkerSpec(strategy="markdown", size=600, overlap=0), experiment=spec,
                             run_options={"dataset": memory_questions(), "settings": cfg, "models": fakes()})
    assert explorer.score_retrieval() is not None, explorer.scores.value
    assert "over 2 labelled questions · sweep" in explorer.scores.value  # all labelled: no "of 2"


def _counting_minilm(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts MiniLM's token counter is asked to count, as it counts them (a spy: the counts are its own)."""
    from workbench.models._local import MiniLMEmbedder

    counted: list[str] = []
    count = MiniLMEmbedder.count_tokens

    def spy(self: MiniLMEmbedder, text: str) -> int:
        counted.append(text)
        return count(self, text)

    monkeypatch.setattr(MiniLMEmbedder, "count_tokens", spy)
    return counted


def test_chunk_explorer_counts_the_tokens_of_a_chunk_once_not_again_on_each_slider_move(monkeypatch: pytest.MonkeyPatch) -> None:
    # counting every chunk's tokens (to name the ones MiniLM truncates) was 52 s of the 64 s a 40,000-chunk corpus took
    # to open, and it counted them all again on each slider move, also back to a setting it had just shown
    counted = _counting_minilm(monkeypatch)
    handbook = wb.load_corpus(ROOT / "datasets" / "handbook", glob="*.md")
    explorer = ChunkExplorer(handbook, ChunkerSpec(strategy="recursive", size=2000, overlap=0))
    first = explorer.stats
    assert first is not None and first.truncated and len(counted) == len({c.text for c in explorer.chunks})
    explorer.size.value = 400
    explorer.strategy.value = "sentence"
    counted.clear()
    explorer.strategy.value = "recursive"
    explorer.size.value = 2000
    assert counted == [] and explorer.stats == first  # the same figures, counted once
    fresh = ChunkExplorer(handbook, ChunkerSpec(strategy="recursive", size=400, overlap=0))
    explorer.size.value = 400
    assert explorer.stats == fresh.stats and explorer.summary.value == fresh.summary.value


def test_chunk_explorer_keeps_the_token_counts_of_its_last_few_settings_only(monkeypatch: pytest.MonkeyPatch) -> None:
    counted = _counting_minilm(monkeypatch)
    explorer = ChunkExplorer(ROOT / "datasets" / "handbook", ChunkerSpec(strategy="recursive", size=2000, overlap=0), glob="*.md")
    for size in (1600, 1200, 800, 640, 480, 320):  # memory stays bounded on a large corpus: older counts are let go
        explorer.size.value = size
    counted.clear()
    explorer.size.value = 2000
    assert counted and explorer.stats is not None and explorer.stats.truncated


def test_chunk_explorer_moved_back_to_a_setting_it_showed_does_not_cut_a_large_corpus_again(monkeypatch: pytest.MonkeyPatch,
                                                                                            tmp_path: Path) -> None:
    # the process keeps the chunks of corpora up to 20 million characters of chunks: a larger one (3,000 documents,
    # 40,000 chunks) was cut again, 6 s, each time a slider went back to a setting just shown
    from workbench.pipeline import chunk as chunk_module

    monkeypatch.setattr(chunk_module, "_KEPT_CHARS", 0)  # as for a corpus larger than the process keeps
    cut: list[str] = []
    chunk_document = chunk_module.chunk_document

    def spy(doc: wb.Document, *args: object) -> list[chunk_module.Chunk]:
        cut.append(doc.id)
        return chunk_document(doc, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(chunk_module, "chunk_document", spy)
    for page in (ROOT / "datasets" / "handbook").glob("*.md"):  # a corpus of its own: no chunks of it kept by another test
        (tmp_path / page.name).write_text(page.read_text(encoding="utf-8") + f"\n\n{tmp_path.name}\n", encoding="utf-8")
    explorer = ChunkExplorer(tmp_path, ChunkerSpec(strategy="recursive", size=2000, overlap=0), glob="*.md")
    first, summary = explorer.stats, explorer.summary.value
    assert cut
    explorer.size.value = 400
    cut.clear()
    explorer.size.value = 2000
    assert cut == [] and explorer.stats == first and explorer.summary.value == summary
