"""The MLflow tracker against a real sqlite store (fast: deterministic fakes for the models)."""

from __future__ import annotations

import os
import re
import subprocess

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType

import workbench as wb
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import EVAL_RUN_TYPE, load_variant_table, sweep_variants

from ..test_runner import make_spec


@pytest.fixture(scope="module")
def store(tmp_path_factory):  # type: ignore[no-untyped-def]
    from workbench.config import settings

    root = tmp_path_factory.mktemp("store")
    return settings(root=root, tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")


@pytest.fixture(scope="module")
def sweep(store):  # type: ignore[no-untyped-def]
    from .._answers import echo_context_answer

    models = {GEMMA_ID: ScriptedModel(echo_context_answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    with pytest.MonkeyPatch.context() as mp:  # a key the environment already had is put back, not deleted
        mp.setenv("OPENAI_API_KEY", "sk-test-secret-never-logged-1234567890")
        spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
        return wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=store, progress=False, limit=3)


def test_parent_and_child_runs_with_params_metrics_tags(sweep) -> None:  # type: ignore[no-untyped-def]
    runs = MlflowClient(sweep.tracking_uri).search_runs([sweep.experiment_id])
    parents = [r for r in runs if r.data.tags.get("workbench.kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == sweep.parent_run_id]
    assert len(parents) == 1 and parents[0].info.run_id == sweep.parent_run_id
    assert len(children) == 2
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.tags["mlflow.runType"] == EVAL_RUN_TYPE
        for tag in ("workbench.variant_id", "workbench.spec_hash", "workbench.dataset_hash", "workbench.corpus_hash",
                    "workbench.git_commit", "workbench.versions", "workbench.seed"):
            assert child.data.tags.get(tag), tag
        assert child.data.params["chunker.size"] == "800"
        # MLflow's own source tags, which the runs table's Source and Version columns show (they showed "-")
        for run in (child, parents[0]):
            assert run.data.tags["mlflow.source.type"] == "LOCAL" and run.data.tags["mlflow.source.name"] == str(sweep.spec.base_dir)
            commit = run.data.tags["workbench.git_commit"]
            assert run.data.tags.get("mlflow.source.git.commit") == (None if commit == "unknown" else commit.removesuffix("-dirty"))
        assert child.data.params["model.id"] == GEMMA_ID
        # the prompt's version as a param: the UI's columns, compare view and charts tell two templates of one name apart
        assert child.data.params["prompt.hash"] == child.data.tags["workbench.prompt_hash"] and len(child.data.params["prompt.hash"]) == 64
        assert 0 <= child.data.metrics["hit_at_k"] <= 1
        assert child.data.metrics["questions"] == 3
        variant = sweep.variant(child.data.tags["workbench.variant_id"])
        assert child.data.metrics["token_f1"] == pytest.approx(variant.metrics["token_f1"])
        artifacts = {a.path for a in MlflowClient(sweep.tracking_uri).list_artifacts(child.info.run_id)}
        assert {"eval_results.json", "prompt_template.txt", "variant.yaml", "chunk_stats.json"} <= artifacts
        assert child.inputs.dataset_inputs and child.inputs.dataset_inputs[0].dataset.name == "python_docs"


def test_parent_run_description_ranks_the_variants_and_holds_the_comparison(sweep) -> None:  # type: ignore[no-untyped-def]
    """What a lead reads first on the sweep's run page (it said "No description" for a sweep that finished, and for
    one that FAILED because a variant failed): the variants best first, linked to their runs, and the intervals."""
    note = MlflowClient(sweep.tracking_uri).get_run(sweep.parent_run_id).data.tags["mlflow.note.content"]
    assert note.startswith("FINISHED: 2 of 2 variants finished.")
    board = sweep.leaderboard()
    rows = [line for line in note.splitlines() if line.startswith("| ") and "](#/experiments/" in line]
    assert len(rows) == 2
    for rank, (row, variant) in enumerate(zip(rows, board.itertuples()), start=1):
        # pipes in variant names are escaped, so each row keeps its columns; the link opens the variant's run
        assert row.startswith(f"| {rank} | [{variant.variant.replace('|', chr(92) + '|')}](#/experiments/{sweep.experiment_id}/runs/{variant.run_id}) | FINISHED | ")
        assert f"| {variant.token_f1:.3f}".rstrip("0").rstrip(".") + " |" in row
    assert "```\n" + wb.compare(sweep, seed=sweep.spec.seed).summary() + "\n```" in note  # the intervals and verdicts, as wb.compare shows them


def test_the_parent_runs_leaderboard_is_a_table_the_mlflow_ui_shows_as_one(sweep) -> None:  # type: ignore[no-untyped-def]
    """leaderboard.json was a list of rows, which the MLflow UI's artifact view shows as raw JSON: it is a table as
    ``mlflow.log_table`` writes one (columns and rows, named in the run's ``mlflow.loggedArtifacts`` tag), so the UI
    shows it as a table and ``load_table`` reads it; its values are JSON (no NaN for a metric a variant lacks)."""
    import json

    import pandas as pd

    client = MlflowClient(sweep.tracking_uri)
    tags = client.get_run(sweep.parent_run_id).data.tags
    assert {"path": "leaderboard.json", "type": "table"} in json.loads(tags.get("mlflow.loggedArtifacts", "[]"))
    path = client.download_artifacts(sweep.parent_run_id, "leaderboard.json")
    table = pd.read_json(path, orient="split")  # as ``load_table`` reads a table
    board = sweep.leaderboard()  # ranked as the leaderboard is, best first
    assert list(table["run_id"]) == list(board["run_id"]) and list(table["variant"]) == list(board["variant"])
    assert set(table["status"]) == {"FINISHED"} and list(table["token_f1"]) == pytest.approx(list(board["token_f1"]))
    with open(path, encoding="utf-8") as f:
        json.loads(f.read(), parse_constant=lambda name: pytest.fail(f"leaderboard.json holds {name}, which is not JSON"))


def test_the_sweep_run_logs_its_corpus_as_an_input_beside_its_questions(sweep) -> None:  # type: ignore[no-untyped-def]
    """The MLflow UI's runs table and run page list a run's datasets: the sweep showed its questions only, not the
    documents it retrieved from, so two sweeps over different corpora looked alike there. The corpus is an input of
    the sweep's run too (context ``corpus``, its hash as digest, its document count as profile); the questions stay the
    ``evaluation`` input of every run."""
    import json

    client = MlflowClient(sweep.tracking_uri)
    inputs = {i.tags[0].value: i.dataset for i in client.get_run(sweep.parent_run_id).inputs.dataset_inputs}
    assert set(inputs) == {"evaluation", "corpus"}
    assert inputs["evaluation"].name == "python_docs" and inputs["evaluation"].digest == sweep.dataset.hash[:20]
    corpus = inputs["corpus"]
    assert corpus.name == sweep.corpus.name and corpus.digest == sweep.corpus.hash[:20]
    assert json.loads(corpus.profile) == {"num_documents": len(sweep.corpus)}
    for variant in sweep.variants:  # a variant run's datasets are its questions, as before
        assert [i.tags[0].value for i in client.get_run(variant.run_id).inputs.dataset_inputs] == ["evaluation"]


def test_a_leaderboard_longer_than_the_description_takes_keeps_its_best_rows_and_what_follows(sweep) -> None:  # type: ignore[no-untyped-def]
    """A grid of some 40 variants or more filled MLflow's 8000 characters with the table alone, which was then cut
    mid-row, losing the failed variants' errors and the spend after it: the best rows that fit are kept, whole, and a
    line says how many more are in leaderboard.json (here the limit is made to fit one row of the two)."""
    from workbench.tracking._summary import sweep_note

    totals = {"spent_usd": 0.0}
    whole = sweep_note(sweep.variants, "FINISHED", experiment_id=sweep.experiment_id, totals=totals)
    rows = [line for line in whole.splitlines() if line.startswith("| ") and "](#/experiments/" in line]
    assert len(rows) == 2
    limit = len(whole) - len(rows[1]) + 80  # room for the first row and the line naming the other, not for both rows
    note = sweep_note(sweep.variants, "FINISHED", experiment_id=sweep.experiment_id, totals=totals, limit=limit)
    assert len(note) <= limit
    assert rows[0] in note.splitlines() and rows[1] not in note
    assert "… and 1 more variants: all of them are in `leaderboard.json`" in note.splitlines()
    assert note.endswith("Spent by this sweep: spent_usd 0")


def test_an_error_quoting_markup_is_shown_as_text_on_the_run_pages(wb_settings) -> None:  # type: ignore[no-untyped-def]
    """The MLflow UI renders descriptions as markdown and allows images: a provider's error quoting an image made every
    browser that opened the run page fetch it from that host (a tracking pixel), and HTML in it was rendered."""
    result = _sweep_failing_with(wb_settings, "upstream said: ![pixel](https://evil.example/p.png) <img src=https://evil.example/q.png> `x`")
    client = MlflowClient(wb_settings.tracking_uri)
    run = client.get_run(result.variants[0].run_id)
    assert "![pixel](https://evil.example" in run.data.tags["workbench.error"]  # the tag keeps the error as it was
    for note in (run.data.tags["mlflow.note.content"], client.get_run(result.parent_run_id).data.tags["mlflow.note.content"]):
        assert "upstream said: !\\[pixel\\](https://evil.example/p.png) &lt;img src=https://evil.example/q.png&gt; \\`x\\`" in note
        # the comparison's text is quoted in a code block, whose markup is shown as text (no fence inside it closes it)
        rendered = re.sub(r"^```[^\n]*\n.*?^```$", "", note, flags=re.S | re.M)
        assert "![" not in rendered and "<img" not in rendered


def test_a_long_comparison_is_cut_to_fit_the_parent_runs_description(wb_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """MLflow keeps 8000 characters of a run tag: the quickstart's comparison (8 variants x 20 metrics) was cut there by
    MLflow mid-line, its code block left open, with a warning line in the sweep's output (refused outright with
    MLFLOW_TRUNCATE_LONG_VALUES=false). It is cut at a line, the block closed, the leaderboard kept."""
    from types import SimpleNamespace

    from workbench.tracking import MlflowTracker

    monkeypatch.setenv("MLFLOW_TRUNCATE_LONG_VALUES", "false")
    padding = "\n".join(f"  padding line {i} " + "x" * 80 for i in range(200))

    class LongComparison(MlflowTracker):
        def end_sweep(self, sweep, results, status, *, comparison=None, error=None, **given):  # type: ignore[no-untyped-def]
            long = SimpleNamespace(to_dict=comparison.to_dict, plots=lambda: {}, summary=lambda: comparison.summary() + "\n" + padding)
            super().end_sweep(sweep, results, status, comparison=long, error=error, **given)

    models = {GEMMA_ID: ScriptedModel(lambda p: "an answer", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec(prompts=[{"name": "p", "template": "{context} {question}"}], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=2,
                    tracker=LongComparison(wb_settings.tracking_uri))
    run = MlflowClient(wb_settings.tracking_uri).get_run(result.parent_run_id)
    note = run.data.tags["mlflow.note.content"]
    assert run.info.status == "FINISHED" and len(note) <= 8000
    assert f"](#/experiments/{result.experiment_id}/runs/{result.variants[0].run_id}) | FINISHED |" in note
    assert "padding line 0 " in note and "padding line 199" not in note
    assert note.endswith("\n… (cut here: the whole comparison is in comparison.txt)\n```")


def test_results_table_reads_back(sweep) -> None:  # type: ignore[no-untyped-def]
    children = sweep_variants(sweep.parent_run_id, tracking_uri=sweep.tracking_uri)
    table = load_variant_table(children[0].info.run_id, tracking_uri=sweep.tracking_uri)
    assert len(table) == 3
    assert list(table["case_id"]) == ["py-001", "py-002", "py-003"]
    variant = sweep.variant(children[0].info.run_id)
    assert list(table["answer"]) == [r.answer for r in variant.records]
    assert list(table["prompt_tokens_cut"]) == [0, 0, 0]  # every prompt fitted the (scripted) model's window


def test_one_trace_per_question_with_spans_and_assessments(sweep) -> None:  # type: ignore[no-untyped-def]
    child = sweep.variants[0]
    traces = MlflowClient(sweep.tracking_uri).search_traces(locations=[sweep.experiment_id], run_id=child.run_id)
    assert len(traces) == 3
    trace = traces[0]
    assert [s.name for s in trace.data.spans] == ["rag_pipeline", "retrieve", "generate"]
    names = {a.name: a for a in trace.info.assessments}
    assert {"expected_response", "hit_at_k", "token_f1", "mrr"} <= set(names)
    case_id = trace.info.tags["workbench.case_id"]
    record = next(r for r in child.records if r.case.id == case_id)
    assert names["token_f1"].value == pytest.approx(record.scores["token_f1"].value)
    assert names["expected_response"].value == record.case.reference
    assert trace.info.tags["workbench.case_index"] == str([c.id for c in sweep.dataset.cases].index(case_id))


def test_traces_carry_the_recorded_timings_usage_and_previews(sweep) -> None:  # type: ignore[no-untyped-def]
    """Traces are built after the fact (``tracking._traces``): what the store holds is what MLflow's live tracing
    would have written for the same question."""
    child = sweep.variants[0]
    for trace in MlflowClient(sweep.tracking_uri).search_traces(locations=[sweep.experiment_id], run_id=child.run_id):
        record = next(r for r in child.records if r.case.id == trace.info.tags["workbench.case_id"])
        root, retrieve, generate = trace.data.spans
        assert root.parent_id is None and retrieve.parent_id == root.span_id and generate.parent_id == root.span_id
        assert len({s.trace_id for s in trace.data.spans}) == 1
        assert (root.start_time_ns, root.end_time_ns) == (record.started_ns, record.ended_ns)
        assert (retrieve.end_time_ns, generate.start_time_ns) == (record.retrieved_ns, record.retrieved_ns)
        assert trace.info.request_time == record.started_ns // 1_000_000
        assert trace.info.execution_duration == (record.ended_ns - record.started_ns) // 1_000_000
        assert trace.info.state.value == "OK" and trace.info.trace_metadata["mlflow.sourceRun"] == child.run_id
        assert root.outputs["answer"] == record.answer and record.case.question in trace.info.request_preview
        assert [h["id"] for h in retrieve.outputs] == [h.chunk.id for h in record.hits]
        usage = {"input_tokens": record.generation.input_tokens, "output_tokens": record.generation.output_tokens}
        assert {k: trace.info.token_usage[k] for k in usage} == usage
        assert generate.attributes["mlflow.chat.tokenUsage"]["output_tokens"] == record.generation.output_tokens
        assert trace.info.tags["mlflow.traceName"] == "rag_pipeline" and "service.name" not in trace.info.tags


def test_secrets_never_reach_the_store(sweep, store) -> None:  # type: ignore[no-untyped-def]
    db = store.tracking_uri.removeprefix("sqlite:///")
    blob = open(db, "rb").read()
    assert b"sk-test-secret" not in blob
    for path in store.artifact_root.rglob("*"):
        if path.is_file():
            assert b"sk-test-secret" not in path.read_bytes(), path


def _sweep_failing_with(wb_settings, message: str):  # type: ignore[no-untyped-def]
    """A one-variant sweep whose model raises ``RuntimeError(message)`` on every question."""

    def crash(prompt):  # type: ignore[no-untyped-def]
        raise RuntimeError(message)

    models = {GEMMA_ID: ScriptedModel(crash, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec(prompts=[{"name": "p", "template": "{context} {question}"}], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    return wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=2)


def test_failed_variant_is_a_failed_run_with_the_error(wb_settings) -> None:  # type: ignore[no-untyped-def]
    result = _sweep_failing_with(wb_settings, "boom")
    client = MlflowClient(wb_settings.tracking_uri)
    run = client.get_run(result.variants[0].run_id)
    assert run.info.status == "FAILED"
    assert "boom" in run.data.tags["workbench.error"]
    # the run page's description says why, where a lead reads first (it was empty: the error was one tag of many)
    assert run.data.tags["mlflow.note.content"] == f"FAILED: {run.data.tags['workbench.error']}"
    assert client.get_run(result.parent_run_id).info.status == "FAILED"
    parent_note = client.get_run(result.parent_run_id).data.tags["mlflow.note.content"]  # why the sweep FAILED
    assert parent_note.startswith("FAILED: 0 of 1 variants finished, 1 failed.")
    assert f"- {result.variants[0].variant.name.replace('|', chr(92) + '|')}: {run.data.tags['workbench.error']}\n" in parent_note
    # the trace's red generate span says why (it held no error at all: only the trace's 'generation' assessment did)
    traces = client.search_traces(locations=[result.experiment_id], run_id=run.info.run_id)
    assert len(traces) == 2
    for trace in traces:
        generate = next(s for s in trace.data.spans if s.name == "generate")
        assert generate.status.status_code == "ERROR" and generate.status.description == "RuntimeError: boom"
        root = next(s for s in trace.data.spans if s.parent_id is None)  # the trace list's red row says why too
        assert root.status.status_code == "ERROR" and root.status.description == "RuntimeError: boom"
        assert [(e.name, e.attributes) for e in generate.events] == [
            ("exception", {"exception.type": "RuntimeError", "exception.message": "RuntimeError: boom"})
        ]


@pytest.mark.parametrize("every_question", [True, False])  # the variant's error; one question's
def test_a_long_error_of_markup_fits_the_run_description_without_a_cut_escape(wb_settings, monkeypatch, every_question) -> None:  # type: ignore[no-untyped-def]
    # 5000 characters of an error quoting HTML are 4 times as long shown as text: MLflow cut the description at 8000
    # characters inside an escape ('&l'), with a warning line in the sweep's output, or failed the sweep when told not to cut
    monkeypatch.setenv("MLFLOW_TRUNCATE_LONG_VALUES", "false")
    spec = make_spec(prompts=[{"name": "p", "template": "{context} {question}"}], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    first = wb.load_dataset(spec.dataset.path).cases[0].question

    def fail(prompt):  # type: ignore[no-untyped-def]
        if every_question or first in prompt.text:
            raise RuntimeError("<td>[x]</td>" * 2000)
        return "an answer"

    models = {GEMMA_ID: ScriptedModel(fail, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=2)
    run = MlflowClient(wb_settings.tracking_uri).get_run(result.variants[0].run_id)
    note = run.data.tags["mlflow.note.content"]
    assert run.info.status == ("FAILED" if every_question else "FINISHED") and len(note) <= 8000
    cut = note.rsplit("…", 1)[0]
    assert "&" not in re.sub("&lt;|&gt;", "", cut) and "\\" not in re.sub(r"\\.", "", cut), note[-60:]  # every escape whole
    if every_question:
        assert note.startswith("FAILED: RuntimeError: every question failed; first error: RuntimeError: &lt;td&gt;\\[x\\]") and note.endswith("…")
    else:
        assert note.startswith("1 of 2 questions failed (the first: RuntimeError: &lt;td&gt;") and note.endswith(
            "…) — run the experiment again to ask them again")


@pytest.mark.parametrize("failing_artifact", ["experiment.yaml", "variant.yaml"])
def test_a_run_whose_logging_fails_half_way_ends_failed_not_running(wb_settings, monkeypatch, failing_artifact) -> None:  # type: ignore[no-untyped-def]
    # a full disk (or a name over a limit of the store) while the sweep's or a variant's run is half logged: as the
    # file is written to the run's artifact folder, one file (experiment.yaml) or a folder of them (variant.yaml's)
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

    real_file, real_folder = LocalArtifactRepository.log_artifact, LocalArtifactRepository.log_artifacts

    def log_artifact(self, local_file, artifact_path=None):  # type: ignore[no-untyped-def]
        if os.path.basename(local_file) == failing_artifact:
            raise OSError(28, "No space left on device")
        return real_file(self, local_file, artifact_path)

    def log_artifacts(self, local_dir, artifact_path=None):  # type: ignore[no-untyped-def]
        if failing_artifact in os.listdir(local_dir):
            raise OSError(28, "No space left on device")
        return real_folder(self, local_dir, artifact_path)

    monkeypatch.setattr(LocalArtifactRepository, "log_artifact", log_artifact)
    monkeypatch.setattr(LocalArtifactRepository, "log_artifacts", log_artifacts)
    models = {GEMMA_ID: ScriptedModel(lambda p: "an answer", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec(prompts=[{"name": "p", "template": "{context} {question}"}], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    with pytest.raises(OSError, match="No space left on device"):
        wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=2)
    runs = MlflowClient(wb_settings.tracking_uri).search_runs([e.experiment_id for e in MlflowClient(wb_settings.tracking_uri).search_experiments()])
    kinds = sorted(r.data.tags["workbench.kind"] for r in runs)
    assert kinds == (["sweep"] if failing_artifact == "experiment.yaml" else ["sweep", "variant"])
    assert {r.info.status for r in runs} == {"FAILED"}
    half_logged = next(r for r in runs if r.data.tags["workbench.kind"] == ("sweep" if failing_artifact == "experiment.yaml" else "variant"))
    assert "logging this run failed: OSError: [Errno 28] No space left on device" in half_logged.data.tags["workbench.error"]


def test_an_answer_with_lone_surrogates_is_logged_with_replacement_characters(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # a JSON reply cut inside an emoji ("\ud83d") decodes to a lone surrogate, which no UTF-8 writer accepts
    answers = {0: "half an emoji \ud83d", 1: "a whole one \ud83d\ude00 and a stray \udc80"}
    models = {GEMMA_ID: ScriptedModel(lambda p: answers[len(p.text) % 2], model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec(prompts=[{"name": "p", "template": "{context} {question}"}], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=4)
    client = MlflowClient(wb_settings.tracking_uri)
    assert client.get_run(result.parent_run_id).info.status == "FINISHED"
    child = result.variants[0]
    assert client.get_run(child.run_id).info.status == "FINISHED"
    logged = set(load_variant_table(child.run_id, tracking_uri=wb_settings.tracking_uri)["answer"])
    assert logged and logged <= {"half an emoji \ufffd", "a whole one \U0001f600 and a stray \ufffd"}


@pytest.mark.parametrize("error", [RuntimeError, MemoryError])  # a question's error row; the variant's own error
def test_an_error_with_a_lone_surrogate_is_logged_with_replacement_characters(wb_settings, error) -> None:  # type: ignore[no-untyped-def]
    # a provider error quoting a cut reply, or a file name read with surrogateescape ('caf\udce9.gguf')
    spec = make_spec(prompts=[{"name": "p", "template": "{context} {question}"}], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    first = wb.load_dataset(spec.dataset.path).cases[0].question

    def fail(prompt):  # type: ignore[no-untyped-def]
        if first in prompt.text or error is MemoryError:
            raise error("cannot open caf\udce9.gguf")
        return "an answer"

    models = {GEMMA_ID: ScriptedModel(fail, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=2)
    client = MlflowClient(wb_settings.tracking_uri)
    run = client.get_run(result.variants[0].run_id)
    if error is MemoryError:
        assert run.info.status == "FAILED"
        assert run.data.tags["workbench.error"] == "MemoryError: cannot open caf\ufffd.gguf"
    else:
        assert run.info.status == "FINISHED"
        assert list(load_variant_table(run.info.run_id, tracking_uri=wb_settings.tracking_uri)["error"].dropna()) == ["RuntimeError: cannot open caf\ufffd.gguf"]
        # a FINISHED run with a failed question says so on its run page, not only in its question_errors metric
        assert run.data.tags["mlflow.note.content"] == ("1 of 2 questions failed (the first: RuntimeError: cannot open "
                                                        "caf\ufffd.gguf) — run the experiment again to ask them again")


def test_a_description_longer_than_mlflow_takes_is_cut_in_the_experiment_note(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # pasted design notes: creating the experiment failed the first sweep ("'value' exceeds the maximum length of 20000")
    models = {GEMMA_ID: ScriptedModel(lambda p: "an answer", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec(description="é" * 25000, prompts=[{"name": "p", "template": "{context} {question}"}],
                     chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=1)
    client = MlflowClient(wb_settings.tracking_uri)
    note = client.get_experiment(result.experiment_id).tags["mlflow.note.content"]
    assert len(note) == 20000 and note.startswith("é" * 100) and note.endswith("the whole description is in each sweep's experiment.yaml)")
    assert client.get_run(result.parent_run_id).info.status == "FINISHED"


def test_an_experiment_whose_artifacts_a_server_serves_is_refused_from_its_database(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    """Pointed at the team server's database instead of the server, a sweep created its run, then failed on MLflow's
    paragraph "When an mlflow-artifacts URI was supplied ... use either of the following methods:" (cut there), and
    compare said the same about every variant. One line now names what to point at, and no run is created."""
    from workbench.errors import WorkbenchError
    from workbench.tracking import find_variant_table

    spec = make_spec()
    client = MlflowClient(wb_settings.tracking_uri)
    experiment_id = client.create_experiment(spec.name, artifact_location="mlflow-artifacts:/7")  # as the server made it
    earlier = client.create_run(experiment_id).info.run_id
    with pytest.raises(WorkbenchError, match=r"^experiment 'unit' keeps its artifacts on a tracking server \(mlflow-artifacts:/7\)"
                       r", which only that server reads and writes — point --tracking-uri or MLFLOW_TRACKING_URI at the server"):
        wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=2)
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [earlier]
    with pytest.raises(WorkbenchError, match=rf"^run {earlier} keeps its artifacts on a tracking server"):
        find_variant_table(earlier, tracking_uri=wb_settings.tracking_uri)


def test_a_run_whose_artifacts_are_on_another_machines_disk_says_so(wb_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Swept straight into a shared database, a run keeps its artifacts on the sweeping machine's disk; the lead
    comparing it elsewhere read "run ... has no eval_results.json", as if the sweep had logged nothing."""
    from workbench.errors import WorkbenchError

    elsewhere = tmp_path / "alices-laptop" / "mlruns" / "artifacts" / "unit"
    client = MlflowClient(wb_settings.tracking_uri)
    experiment_id = client.create_experiment("unit", artifact_location=elsewhere.as_uri())
    run_id = client.create_run(experiment_id, tags={"workbench.kind": "variant"}).info.run_id
    client.set_terminated(run_id, "FINISHED")
    with pytest.raises(WorkbenchError, match=rf"run {run_id} keeps its artifacts in {elsewhere / run_id / 'artifacts'}, a folder "
                                             r"this machine does not have .* share a tracking server that serves artifacts"):
        wb.compare([run_id], tracking_uri=wb_settings.tracking_uri)


def test_a_run_whose_artifacts_folder_was_moved_away_says_so(sweep, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A run's artifacts folder deleted or moved away (disk clean-up) beside its experiment's other runs: compare said it
    was "logged into the shared database from another machine — read it there", and promote "was it logged by
    workbench?", neither of which was so or helped."""
    from pathlib import Path

    from workbench.errors import WorkbenchError

    variant = sweep.variants[-1]
    folder = Path(MlflowClient(sweep.tracking_uri).get_run(variant.run_id).info.artifact_uri.removeprefix("file://"))
    folder.rename(tmp_path / "moved")
    says = rf"run {variant.run_id}'s artifacts folder {folder} is gone \(deleted or moved away\) — put it back, or run the experiment again"
    try:
        report = wb.compare(sweep.parent_run_id, tracking_uri=sweep.tracking_uri)
        assert [s.name for s in report.skipped] == [variant.variant.name]
        assert re.search(says, report.skipped[0].reason)
        with pytest.raises(WorkbenchError, match=f"^{says}"):
            wb.promote(variant.run_id, name="moved-away", alias="staging", settings=wb.settings(tracking_uri=sweep.tracking_uri))
    finally:
        (tmp_path / "moved").rename(folder)


def test_an_experiment_deleted_while_its_sweep_runs_is_one_line(wb_settings) -> None:  # type: ignore[no-untyped-def]
    """The lead deleted the experiment in the MLflow UI while a colleague's sweep ran: the sweep ended with MLflow's
    "MlflowException: The experiment 1 must be in the 'active' state. Current state is deleted"."""
    from workbench.errors import WorkbenchError

    client = MlflowClient(wb_settings.tracking_uri)

    def answer(prompt) -> str:  # type: ignore[no-untyped-def]
        found = client.get_experiment_by_name("unit")
        if found.lifecycle_stage == "active":
            client.delete_experiment(found.experiment_id)
        return "an answer"

    models = {GEMMA_ID: ScriptedModel(answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], execution={"isolation": "none"})
    with pytest.raises(WorkbenchError, match=r"^experiment 'unit' was deleted in sqlite:///\S+ while this sweep ran — restore it "
                                             r"\('mlflow experiments restore --experiment-id \d+'.* or run the experiment again"):
        wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=2)


def test_sweeps_are_recorded_under_the_user_feedback_and_promotions_name(wb_settings, fake_models, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On a team server the runs' User was $USER (or 'workbench' where it is unset, as in many containers), while
    feedback and promotions were recorded under $WORKBENCH_USER: a lead could not find a colleague's sweeps."""
    from workbench.tracking import default_user

    monkeypatch.setenv("WORKBENCH_USER", "alice")
    monkeypatch.delenv("USER", raising=False)
    result = wb.run(make_spec(), models=fake_models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=2)
    client = MlflowClient(wb_settings.tracking_uri)
    assert default_user() == "alice"
    for run_id in (result.parent_run_id, *(v.run_id for v in result.variants)):
        assert client.get_run(run_id).data.tags["mlflow.user"] == "alice", run_id


def test_an_experiment_a_teammates_sweep_restored_first_is_used(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two sweeps starting on an experiment deleted in the UI both restore it: the second restore, of an experiment
    active again, was MLflow's "No Experiment with id=1 exists" and ended that sweep as an internal error."""
    from workbench.tracking import MlflowTracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("unit")
    client.delete_experiment(experiment_id)

    class TeammateRestoresFirst:
        def __init__(self, inner: MlflowClient) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> object:
            return getattr(self._inner, name)

        def get_experiment_by_name(self, name: str) -> object:
            found = self._inner.get_experiment_by_name(name)
            if found is not None and found.lifecycle_stage == "deleted":
                self._inner.restore_experiment(found.experiment_id)  # the other sweep, between this read and the restore
            return found

    tracker = MlflowTracker(uri)
    tracker.client = TeammateRestoresFirst(tracker.client)  # type: ignore[assignment]
    assert tracker._experiment_id(make_spec()) == experiment_id
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"


def test_a_teammates_reused_run_is_recorded_under_the_user_and_folder_of_the_sweep_reusing_it(wb_settings, fake_models, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Bob's warm sweep copied Alice's run with her tags: its reused variant runs were Alice's (User, Source), so a lead
    filtering the runs by user found Bob's sweep without them, and a run of his sweep named her folder and commit."""
    import workbench.tracking._mlflow as tracking_mlflow

    def sweep_as(user: str, folder: str, commit: str) -> wb.SweepResult:
        monkeypatch.setenv("WORKBENCH_USER", user)
        monkeypatch.setattr(tracking_mlflow, "source_tags", lambda _commit, _folder: {
            "mlflow.source.name": folder, "mlflow.source.type": "LOCAL", **({"mlflow.source.git.commit": commit} if commit else {})})
        return wb.run(make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}]), models=fake_models,
                      index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=2)

    alice = sweep_as("alice", "/home/alice/project", "a" * 40)
    bob = sweep_as("bob", "/home/bob/project", "")  # his clone: no commit known
    client = MlflowClient(wb_settings.tracking_uri)
    assert [v.reused_from for v in bob.variants] == [v.run_id for v in alice.variants]
    for variant in bob.variants:
        tags = client.get_run(variant.run_id).data.tags
        assert (tags["mlflow.user"], tags["mlflow.source.name"]) == ("bob", "/home/bob/project"), variant.run_id
        assert "mlflow.source.git.commit" not in tags  # not Alice's commit
        assert tags["workbench.reused_from"] in {v.run_id for v in alice.variants}
    for variant in alice.variants:  # hers keep hers
        tags = client.get_run(variant.run_id).data.tags
        assert (tags["mlflow.user"], tags["mlflow.source.git.commit"]) == ("alice", "a" * 40)


def test_a_variant_name_longer_than_a_run_name_holds_is_shortened_the_same_way_in_every_sweep(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL keeps a run name in 250 characters: a grid of long prompt, model and retrieval names (100 each, as a spec
    # allows) ended the sweep on a team server with "value too long for type character varying(250)"
    from workbench.grid import expand_grid
    from workbench.tracking._run_tags import MAX_RUN_NAME, run_name

    long = {"prompts": [{"name": "a" * 88 + n, "template": f"{{context}} {{question}} ({n})"} for n in ("-one-version", "-two-version")],
            "models": [{"id": GEMMA_ID, "params": {"max_tokens": 16}, "name": "m" * 100}],
            "retrieval": [{"k": 3, "name": "r" * 100}], "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}]}
    variants = expand_grid(make_spec(**long))
    names = [run_name(v) for v in variants]
    assert all(len(v.name) > MAX_RUN_NAME >= len(n) for v, n in zip(variants, names)), names
    assert len(set(names)) == 2  # the prompts differ only after the cut
    assert all(n.split("|")[2] == "recursive-800/80" and n.count("|") == 3 for n in names), names
    assert names == [run_name(v) for v in expand_grid(make_spec(**long))]  # deterministic
    short = expand_grid(make_spec())[0]
    assert run_name(short) == short.name
    result = wb.run(make_spec(**long), models=fake_models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=1)
    client = MlflowClient(wb_settings.tracking_uri)
    logged = {client.get_run(v.run_id).info.run_name for v in result.variants}
    assert logged == set(names)


def test_a_dataset_named_longer_than_mlflow_takes_is_logged_under_a_shortened_name(wb_settings, fake_models, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # a wb.Dataset named in a notebook: "'name' exceeds the maximum length of 500 characters" failed the sweep as it started
    monkeypatch.setenv("MLFLOW_TRUNCATE_LONG_VALUES", "false")  # nothing is left for MLflow to cut
    cases = wb.load_dataset(os.path.join(os.path.dirname(__file__), "..", "..", "datasets", "python_docs.jsonl")).cases[:1]
    dataset = wb.Dataset(name="n" * 7000, cases=cases)
    spec = make_spec(dataset=None, prompts=[{"name": "p", "template": "{context} {question}"}], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    result = wb.run(spec, dataset=dataset, models=fake_models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    client = MlflowClient(wb_settings.tracking_uri)
    assert [v.status for v in result.variants] == ["FINISHED"]
    for run_id in (result.parent_run_id, result.variants[0].run_id):
        [logged] = [i.dataset for i in client.get_run(run_id).inputs.dataset_inputs if i.tags[0].value == "evaluation"]
        assert len(logged.name) == 500 and logged.name.startswith("n" * 400), logged.name[-20:]
    # cut to what MLflow holds, saying so (a bare cut looked like the whole name)
    logged_name = client.get_run(result.parent_run_id).data.params["dataset"]
    assert len(logged_name) == 6000 and logged_name.startswith("n" * 5900) and re.search(r" … \(cut: 7,\d{3} characters\)$", logged_name)


def test_a_prompts_system_message_is_an_artifact_beside_its_template(tmp_path, wb_settings) -> None:  # type: ignore[no-untyped-def]
    # prompt_template.txt held the template alone: two prompts that differ in their system message logged the same text
    from .._answers import echo_context_answer

    cfg = wb_settings
    models = {GEMMA_ID: ScriptedModel(echo_context_answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    system = 'Reply as JSON: {"answer": "..."}'
    spec = make_spec(prompts=[{"name": "s", "template": "Context: {context}\nQuestion: {question}", "system": system}],
                     chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=cfg, progress=False, limit=1)
    run_id = result.variants[0].run_id
    client = MlflowClient(cfg.tracking_uri)
    where = client.download_artifacts(run_id, "", str(tmp_path / "artifacts"))
    assert open(f"{where}/prompt_template.txt", encoding="utf-8").read() == "Context: {context}\nQuestion: {question}"
    assert open(f"{where}/prompt_system.txt", encoding="utf-8").read() == system


def test_the_dataset_is_profiled_once_per_sweep_not_once_per_variant(wb_settings, fake_models, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # building MLflow's dataset entity (a pandas frame, its profile and schema) took 1.7 s for 5,000 questions, and the
    # sweep and every variant built it again: 70 s of a 40-variant sweep over the same questions
    real_from_pandas, frames = mlflow.data.from_pandas, []

    def from_pandas(frame, **kwargs):  # type: ignore[no-untyped-def]
        frames.append(len(frame))
        return real_from_pandas(frame, **kwargs)

    monkeypatch.setattr(mlflow.data, "from_pandas", from_pandas)
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], retrieval=[{"k": 1}, {"k": 3}])
    result = wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=3)
    assert len(result.variants) == 4 and frames == [3]
    client = MlflowClient(wb_settings.tracking_uri)
    for run_id in [result.parent_run_id] + [v.run_id for v in result.variants]:
        (logged,) = [i.dataset for i in client.get_run(run_id).inputs.dataset_inputs if i.tags[0].value == "evaluation"]
        assert logged.name == "python_docs" and logged.digest == result.dataset.hash[:20]


def test_the_tracker_leaves_mlflow_tracking_uri_as_the_user_had_it(wb_settings, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # MLflow's set_tracking_uri also writes MLFLOW_TRACKING_URI; read back by settings() as the user's choice, it sent
    # the next sweep of the process (a notebook rooted elsewhere) into the first sweep's store
    from workbench.config import settings

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    wb.MlflowTracker(wb_settings.tracking_uri)
    assert "MLFLOW_TRACKING_URI" not in os.environ
    elsewhere = tmp_path / "elsewhere"
    assert settings(root=elsewhere).tracking_uri == f"sqlite:///{elsewhere.resolve() / 'mlruns' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///yours.db")
    wb.MlflowTracker(f"sqlite:///{tmp_path / 'other.db'}")
    assert os.environ["MLFLOW_TRACKING_URI"] == "sqlite:///yours.db"


def test_a_sweep_leaves_mlflow_global_store_and_the_users_open_run_alone(wb_settings, fake_models, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # a notebook logging to its own store (mlflow.set_tracking_uri, a run open) ran a sweep into the project's store:
    # MLflow's global URI was left on the project's store, so the notebook's next log_metric and end_run failed
    # ("Run ... not found") and its later runs went into the project's store
    from ..conftest import global_tracking_uri

    mine = f"sqlite:///{tmp_path / 'mine.db'}"
    with global_tracking_uri(mine):
        mine_id = MlflowClient(mine).create_experiment("my-notebook", artifact_location=(tmp_path / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=mine_id) as run:
            spec = make_spec(prompts=[{"name": "p", "template": "{context} {question}"}], chunkers=[{"strategy": "recursive"}])
            wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=1)
            assert mlflow.get_tracking_uri() == mine
            mlflow.log_metric("after_the_sweep", 1.0)
        assert MlflowClient(mine).get_run(run.info.run_id).data.metrics == {"after_the_sweep": 1.0}


@pytest.mark.slow
def test_a_store_outside_the_project_keeps_new_experiments_artifacts_beside_it(tmp_path, empty_store, fake_models, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # a CI job's store outside its checkout: artifacts went to <checkout>/mlruns/artifacts, deleted with the checkout
    from workbench.config import settings

    from ..conftest import copy_store

    checkout, elsewhere = tmp_path / "checkout", tmp_path / "elsewhere"
    uri = copy_store(empty_store, elsewhere)
    old = MlflowClient(uri).create_experiment("older", artifact_location=(checkout / "kept").as_uri())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    cfg = settings(root=checkout)
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    for name in ("unit", "older"):
        wb.run(spec.model_copy(update={"name": name}), models=fake_models, index_store=MemoryIndexStore(), settings=cfg, progress=False, limit=1)
    new = MlflowClient(uri).get_experiment_by_name("unit")
    assert new.artifact_location == (elsewhere / "mlruns" / "artifacts" / "unit").as_uri()
    assert any((elsewhere / "mlruns" / "artifacts" / "unit").rglob("eval_results.json"))
    assert MlflowClient(uri).get_experiment(old).artifact_location == (checkout / "kept").as_uri()  # MLflow keeps it per experiment
    assert any((checkout / "kept").rglob("eval_results.json")) and not (checkout / "mlruns").exists()


def test_each_sweep_records_the_commit_its_folder_is_at_now(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # the commit was looked up once per folder for the life of the process: in a notebook kept open all day, the sweeps
    # after an edit of the prompts, or a commit, were tagged with the first sweep's commit, clean
    from workbench.tracking._run_tags import git_commit, source_tags

    def git(*args: str) -> str:
        out = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=tmp_path,
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()

    git("init", "-q")
    (tmp_path / "prompt.txt").write_text("v1", encoding="utf-8")
    git("add", ".")
    git("commit", "-qm", "v1")
    first = git("rev-parse", "HEAD")
    assert git_commit(str(tmp_path)) == first
    (tmp_path / "prompt.txt").write_text("v2", encoding="utf-8")
    assert git_commit(str(tmp_path)) == f"{first}-dirty"
    git("commit", "-qam", "v2")
    assert git_commit(str(tmp_path)) == git("rev-parse", "HEAD") != first
    # MLflow's Version column shows the commit; a folder outside git has none rather than "unknown"
    assert source_tags(f"{first}-dirty", str(tmp_path))["mlflow.source.git.commit"] == first
    assert "mlflow.source.git.commit" not in source_tags("unknown", str(tmp_path))


def test_a_tracker_made_by_hand_keeps_artifacts_beside_its_sqlite_store(tmp_path, empty_store, fake_models, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # wb.MlflowTracker(uri) without artifact_root left new experiments on MLflow's default, mlruns/ under the current
    # folder: a notebook's artifacts went wherever it had cd'ed to (and the suite's into the checkout), not beside the store
    from workbench.config import settings

    from ..conftest import copy_store

    uri = copy_store(empty_store, tmp_path / "store")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = make_spec(prompts=[{"name": "p", "template": "{context} {question}"}], chunkers=[{"strategy": "recursive"}])
    result = wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=wb.MlflowTracker(uri),
                    settings=settings(root=tmp_path / "store", tracking_uri=uri), progress=False, limit=1)
    assert not (elsewhere / "mlruns").exists()
    location = MlflowClient(uri).get_experiment(result.experiment_id).artifact_location
    assert location == (tmp_path / "store" / "mlruns" / "artifacts" / "unit").resolve().as_uri()


class _CreatesTwice:
    """A tracking client whose every ``create_run`` reaches the store twice, as when MLflow's HTTP client sends the
    request again after the server made the run but its answer was lost (a gateway's 503) or came after the timeout."""

    def __init__(self, client) -> None:  # type: ignore[no-untyped-def]
        self._client = client

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._client, name)

    def create_run(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._client.create_run(*args, **kwargs)  # the request whose answer never arrived
        return self._client.create_run(*args, **kwargs)


def test_runs_a_retried_create_made_twice_are_deleted_and_the_experiment_reads_as_one_finished_sweep(
    wb_settings, fake_models
) -> None:  # type: ignore[no-untyped-def]
    # a sweep that finished left a twin sweep RUNNING with no variants, which `compare` and `gate` read as the last sweep
    # ("nothing to compare"), and a RUNNING twin of each variant under the finished one ("variants=5 of 3")
    from workbench.tracking import experiment_sweeps

    tracker = wb.MlflowTracker(wb_settings.tracking_uri)
    tracker.client = _CreatesTwice(tracker.client)
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    result = wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=tracker, settings=wb_settings,
                    progress=False, limit=2)
    client = MlflowClient(wb_settings.tracking_uri)
    runs = client.search_runs([result.experiment_id])
    assert sorted(r.info.run_id for r in runs) == sorted([result.parent_run_id, *(v.run_id for v in result.variants)])
    assert {r.info.status for r in runs} == {"FINISHED"}
    (only,) = experiment_sweeps("unit", tracking_uri=wb_settings.tracking_uri)
    assert only.run.run_id == result.parent_run_id and len(only.variants) == len(result.variants)
    twins = client.search_runs([result.experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert len(twins) == 1 + len(result.variants)
    assert {r.info.status for r in twins} == {"KILLED"}  # restored from the bin, one is not taken for a running sweep
    assert len(wb.compare("unit", tracking_uri=wb_settings.tracking_uri).variants) == len(result.variants)


def test_an_artifact_store_this_machine_cannot_write_is_one_line_before_anything_is_computed(wb_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # an experiment whose artifacts live where this machine cannot write (a path of a tracking server started with
    # --no-serve-artifacts, a bucket whose library is not installed here) failed with "error: /srv/...: Not a directory"
    # or, for s3://, "internal error: ModuleNotFoundError: No module named 'boto3' ... report it"
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    location = tmp_path / "a-file" / "artifacts"
    MlflowClient(wb_settings.tracking_uri).create_experiment("unit", artifact_location=location.as_uri())
    model = ScriptedModel(lambda p: "an answer", model_id=GEMMA_ID)
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    with pytest.raises(wb.WorkbenchError) as info:
        wb.run(spec, models={GEMMA_ID: model, MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}, index_store=MemoryIndexStore(),
               settings=wb_settings, progress=False, limit=1)
    assert str(info.value) == (f"experiment 'unit' keeps its artifacts in {location.as_uri()}, which this machine writes itself and "
                               f"cannot (Not a directory: {location}) — make that path writable from this machine")
    assert not model.calls


class _GoesAway:
    """A tracking client whose server stops answering as a variant's traces are linked: that call and every later one
    fail as MLflow's do once its retries are spent on a refused connection (or ``hangs``: as a Ctrl+C cuts a request
    the server does not answer). ``after`` records them."""

    def __init__(self, client, *, hangs: bool = False) -> None:  # type: ignore[no-untyped-def]
        self._client, self.gone, self.after, self.hangs = client, False, [], hangs

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        import requests

        real = getattr(self._client, name)

        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.gone = self.gone or name == "link_traces_to_run"
            if self.gone:
                self.after.append((name, args[0] if args else None))
                if self.hangs:
                    raise KeyboardInterrupt
                raise requests.exceptions.ConnectionError("('Connection aborted.', ConnectionRefusedError(111, 'Connection refused'))")
            return real(*args, **kwargs)

        return call if callable(real) else real


def test_a_variant_run_whose_server_went_away_is_left_to_the_next_sweep_not_ended_against_it(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # tagging and ending the half-logged run waited out two more rounds of MLflow's retries (53 s, not ~20 s, before
    # the error line) against a server that was gone; the next sweep ends it KILLED (tests/team/test_server_stops.py)
    import requests

    tracker = wb.MlflowTracker(wb_settings.tracking_uri)
    tracker.client = gone = _GoesAway(tracker.client)
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    with pytest.raises(requests.exceptions.ConnectionError):
        wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=tracker, settings=wb_settings, progress=False, limit=1)
    client = MlflowClient(wb_settings.tracking_uri)
    (half_logged,) = client.search_runs([e.experiment_id for e in client.search_experiments()], "tags.`workbench.kind` = 'variant'")
    assert half_logged.info.status == "RUNNING"
    assert [name for name, run_id in gone.after if run_id == half_logged.info.run_id] == []  # no call waited on it


def test_a_variant_run_whose_server_hangs_as_ctrl_c_cuts_its_logging_is_left_to_the_next_sweep(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    # a second Ctrl+C cut a request to a server that had stopped answering (not refusing: hanging); tagging and ending
    # the run, then the sweep, hung the same way, each until Ctrl+C again (five presses in all against a frozen server)
    tracker = wb.MlflowTracker(wb_settings.tracking_uri)
    tracker.client = hung = _GoesAway(tracker.client, hangs=True)
    tracker._server_answers = lambda: False  # its health check times out too
    spec = make_spec(prompts=[{"name": "p1", "template": "{context} Q: {question}"}], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    with pytest.raises(KeyboardInterrupt):
        wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), tracker=tracker, settings=wb_settings, progress=False, limit=1)
    client = MlflowClient(wb_settings.tracking_uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert {r.data.tags["workbench.kind"]: r.info.status for r in runs} == {"sweep": "RUNNING", "variant": "RUNNING"}
    assert [name for name, _ in hung.after] == ["link_traces_to_run"]  # the call cut, and no other waiting on the server


class _WithoutBucketLibraries:
    """An import finder for which boto3 and botocore are not installed (as on a machine without them), so a test of
    their absence runs, and can fail, wherever they are installed too."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] in ("boto3", "botocore"):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return None


def test_runs_whose_artifacts_are_in_a_bucket_this_machine_cannot_read_are_one_line(wb_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # the sweep refuses to write to s3:// without boto3 (above); compare and promote of runs logged there by a colleague
    # who has it failed with "internal error: ModuleNotFoundError: No module named 'botocore' ... report it"
    import sys

    for module in [m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(sys, "meta_path", [_WithoutBucketLibraries(), *sys.meta_path])
    client = MlflowClient(wb_settings.tracking_uri)
    experiment_id = client.create_experiment("unit", artifact_location="s3://team-bucket/workbench")
    run_id = client.create_run(experiment_id, tags={"workbench.kind": "variant"}).info.run_id
    client.set_terminated(run_id, "FINISHED")
    says = (rf"^run {run_id} keeps its artifacts in s3://team-bucket/workbench/{run_id}/artifacts, which this machine reads itself "
            r"and cannot \(ModuleNotFoundError: No module named '\w+'\) — install boto3 here$")
    with pytest.raises(wb.WorkbenchError, match=says):
        wb.compare([run_id], tracking_uri=wb_settings.tracking_uri)
    with pytest.raises(wb.WorkbenchError, match=says):
        wb.promote(run_id, name="from-the-bucket", alias="staging", settings=wb_settings)
    # a version promoted there: export read its configuration from the bucket with the same internal error
    from workbench.promotion._registry import LOGGED_MODEL_TAG

    model_id = client.create_logged_model(experiment_id).model_id
    client.create_registered_model("from-the-bucket")
    source = client.get_logged_model(model_id).artifact_location
    version = client.create_model_version("from-the-bucket", source, run_id, tags={LOGGED_MODEL_TAG: model_id}).version
    client.set_registered_model_alias("from-the-bucket", "production", version)
    subprocess.run(["git", "init", "-q", str(wb_settings.root / "deploy")], check=True)
    with pytest.raises(wb.WorkbenchError, match=rf"^from-the-bucket v{version} keeps its artifacts in s3://team-bucket/workbench/\S+, "
                                               r"which this machine reads itself and cannot \(.*\) — install boto3 here$"):
        wb.export("from-the-bucket", alias="production", repo=wb_settings.root / "deploy", settings=wb_settings)


def test_the_sweeps_comparison_is_summarised_once_for_its_description_and_comparison_txt(wb_settings) -> None:  # type: ignore[no-untyped-def]
    """Ending a sweep wrote the comparison's text twice over (the parent run's description, then comparison.txt),
    building it each time: both are the one text, built once."""
    from types import SimpleNamespace

    from workbench.tracking import MlflowTracker

    built: list[str] = []

    class Counting(MlflowTracker):
        def end_sweep(self, sweep, results, status, *, comparison=None, error=None, **given):  # type: ignore[no-untyped-def]
            def summary() -> str:
                built.append(comparison.summary())
                return built[-1]

            counted = SimpleNamespace(to_dict=comparison.to_dict, plots=comparison.plots, summary=summary)
            super().end_sweep(sweep, results, status, comparison=counted, error=error, **given)

    models = {GEMMA_ID: ScriptedModel(lambda p: "an answer", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=2,
                    tracker=Counting(wb_settings.tracking_uri))
    client = MlflowClient(wb_settings.tracking_uri)
    text = client.download_artifacts(result.parent_run_id, "comparison.txt")
    with open(text, encoding="utf-8") as logged:
        assert logged.read() == built[0]
    assert built[0] and built[0].splitlines()[0] in client.get_run(result.parent_run_id).data.tags["mlflow.note.content"]
    assert len(built) == 1


def test_workbench_plots_0_logs_the_comparison_without_plots_and_a_later_sweep_makes_its_own(wb_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # a CI job whose runs nobody opens skips the PNGs (half a small sweep's time); its comparison is not all logged, so
    # a later sweep over the same runs with plots wanted makes them instead of copying a comparison without them
    models = {GEMMA_ID: ScriptedModel(lambda p: "an answer", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    client = MlflowClient(wb_settings.tracking_uri)

    def sweep(plots: str) -> tuple[set[str], dict[str, str]]:
        monkeypatch.setenv("WORKBENCH_PLOTS", plots)
        result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=2)
        return {a.path for a in client.list_artifacts(result.parent_run_id)}, client.get_run(result.parent_run_id).data.tags

    artifacts, tags = sweep("0")
    assert {"comparison.json", "comparison.txt"} <= artifacts and "plots" not in artifacts
    assert "workbench.comparison_key" not in tags
    artifacts, tags = sweep("1")
    assert "plots" in artifacts and "workbench.comparison_key" in tags
    monkeypatch.setenv("WORKBENCH_PLOTS", "maybe")
    with pytest.raises(wb.WorkbenchError, match=r"^WORKBENCH_PLOTS='maybe': give 1 to log a sweep's comparison plots or 0"):
        wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=2)


def test_a_param_longer_than_mlflow_holds_says_it_was_cut_and_where_the_whole_is(store) -> None:  # type: ignore[no-untyped-def]
    # 150 stop strings are 9,000 characters as JSON: the param was cut at MLflow's 6,000 without a word, and the UI
    # showed a list broken off mid-string as if it were the setting
    from .._answers import echo_context_answer

    stops = [f"STOP-MARKER-{i:03d}-" + "x" * 40 for i in range(150)]
    models = {GEMMA_ID: ScriptedModel(echo_context_answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec(models=[{"id": GEMMA_ID, "params": {"max_tokens": 16, "stop": stops}}], prompts=[{"name": "p1", "template": "{context} {question}"}],
                     chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=store, progress=False, limit=1)
    whole = result.variants[0].variant.params()["model.params.stop"]
    assert len(whole) > 6000
    logged = MlflowClient(result.tracking_uri).get_run(result.variants[0].run_id).data.params["model.params.stop"]
    assert len(logged) <= 6000 and logged != whole[:6000]
    head, _, said = logged.partition(" … ")
    assert whole.startswith(head) and f"{len(whole):,} characters" in said and "variant.yaml" in said


def test_a_stopped_variants_note_keeps_its_leaders_name_in_its_cell(sweep) -> None:  # type: ignore[no-untyped-def]
    """The note of a variant racing stopped names the leader, whose name holds pipes: unescaped, they split the row of
    the sweep's description into more cells than its header has, and the MLflow UI dropped the leader's name."""
    import dataclasses

    from workbench.results import EarlyStop
    from workbench.tracking._summary import sweep_note

    leader, loser = sweep.variants
    stop = EarlyStop("token_f1", 2, leader.variant.name, -0.4, -0.8, -0.2)
    note = sweep_note([leader, dataclasses.replace(loser, stopped_early=stop)], "FINISHED", experiment_id=sweep.experiment_id, totals={})
    header = next(line for line in note.splitlines() if line.startswith("| # |"))
    row = next(line for line in note.splitlines() if line.startswith("| ") and "stopped early" in line)
    cells = lambda line: len(re.split(r"(?<!\\)\|", line))  # noqa: E731 - markdown's cells: pipes not escaped
    assert cells(row) == cells(header), row
    assert leader.variant.name.replace("|", "\\|") in row


def test_a_sweeps_run_name_is_stamped_in_utc_whatever_the_users_time_zone(wb_settings, fake_models, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Teammates in different time zones share one store: a sweep named from the local clock of a user at UTC+14
    read as 14 hours newer than a colleague's sweep started after it."""
    import time
    from datetime import datetime, timezone

    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14, no daylight saving
    time.tzset()
    try:
        before = datetime.now(timezone.utc).replace(microsecond=0)
        result = wb.run(make_spec(), models=fake_models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=1)
        after = datetime.now(timezone.utc)
    finally:
        monkeypatch.undo()
        time.tzset()
    name = MlflowClient(wb_settings.tracking_uri).get_run(result.parent_run_id).data.tags["mlflow.runName"]
    stamp = re.search(r"-(\d{8}-\d{6})Z$", name)
    assert stamp, name
    assert before <= datetime.strptime(stamp.group(1), "%Y%m%d-%H%M%S").replace(tzinfo=timezone.utc) <= after, name
