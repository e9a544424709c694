"""wb.compare over a real (fast) sweep: deterministic fakes for the models, a real sqlite MLflow store.

One sweep per module: 2 prompts ("grounded" answers from the context, "plain" always declines) x 2 chunkers.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

import workbench as wb
from workbench.cli import main
from workbench.comparison import sweep_comparison
from workbench.metrics import COST_PER_SUCCESS, SUCCESS_METRIC
from workbench.config import Settings, settings
from workbench.grid import expand_grid
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.runner import load_inputs
from workbench.spec import ExperimentSpec
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import MlflowTracker, default_user

from tests.conftest import mlflow_client

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = "compare-sweep"


def _answer(prompt) -> str:  # type: ignore[no-untyped-def]
    if prompt.text.startswith("PLAIN"):
        return "I don't know."
    context = prompt.text.split("Context:", 1)[-1].split("Question:", 1)[0].strip()
    return context.split(". ")[0][:200]


def _slow_answer(prompt) -> str:  # type: ignore[no-untyped-def]
    import time

    time.sleep(0.5)  # a sweep stopped after a few questions is stopped part way through its variant
    return _answer(prompt)


def _spec(name: str = EXPERIMENT) -> ExperimentSpec:
    return ExperimentSpec.from_dict({
        "name": name,
        "dataset": {"path": "datasets/handbook.jsonl", "limit": 8},
        "corpus": {"path": "datasets/handbook", "glob": "*.md"},
        "prompts": [
            {"name": "grounded", "template": "Context: {context}\nQuestion: {question}\nAnswer:"},
            {"name": "plain", "template": "PLAIN Context: {context}\nQuestion: {question}\nAnswer:"},
        ],
        "models": [{"id": GEMMA_ID}],
        "chunkers": [{"strategy": "recursive", "size": 600, "overlap": 60}, {"strategy": "recursive", "size": 200, "overlap": 20}],
        "retrieval": [{"k": 4}],
        "pricing": {GEMMA_ID: {"input": 1.0, "output": 4.0}},
    }, base_dir=ROOT)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("compare")
    return settings(root=root, tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")


@pytest.fixture(scope="module")
def sweep(store: Settings) -> wb.SweepResult:
    models = {GEMMA_ID: ScriptedModel(_answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WORKBENCH_PLOTS", "1")  # its plots are checked below
        return wb.run(_spec(), settings=store, models=models, index_store=MemoryIndexStore(), progress=False)


def _names(sweep: wb.SweepResult) -> dict[str, str]:
    """'grounded-600', 'plain-600', 'grounded-200', 'plain-200' -> variant name."""
    return {f"{v.variant.prompt.name}-{v.variant.chunker.size}": v.variant.name for v in sweep.variants}


def test_compare_over_a_sweep_result_finds_the_declining_prompt_worse(sweep: wb.SweepResult) -> None:
    assert [v.status for v in sweep.variants] == ["FINISHED"] * 4
    names = _names(sweep)
    report = wb.compare(sweep)
    assert report.baseline == names["grounded-600"]
    assert "prompt_tokens_cut" not in report.metrics  # a count of tokens cut from a prompt, not a score "higher is better"
    assert report.verdict(names["plain-600"], "token_f1") == "worse"
    assert report.verdict(names["plain-600"], "false_refusal") == "worse"  # lower is better, and it went up
    assert report.verdict(names["plain-600"], "output_tokens") == "better"  # "I don't know." is short
    assert report.verdict(names["plain-600"], "hit_at_k") == "no detectable difference"  # same chunker, same chunks
    assert report.row(names["plain-600"], "hit_at_k")["diff"] == 0
    assert COST_PER_SUCCESS in report.metrics
    assert report.row(names["plain-600"], COST_PER_SUCCESS)["mean"] == float("inf")
    # 8 questions: 7 answerable (token_f1), 1 unanswerable (refusal_correct: too few to call)
    assert report.row(names["plain-600"], "token_f1")["n_paired"] == 7
    assert report.row(names["plain-600"], "refusal_correct")["n_paired"] == 1
    assert report.verdict(names["plain-600"], "refusal_correct") == "not enough data"


def test_runner_logs_cost_per_success_when_costs_are_known(sweep: wb.SweepResult, store: Settings) -> None:
    grounded = sweep.variant(_names(sweep)["grounded-600"])
    successes = sum(1 for r in grounded.records if SUCCESS_METRIC in r.scores and (r.scores[SUCCESS_METRIC].value or 0) >= 0.5)
    assert successes > 0
    assert grounded.metrics[COST_PER_SUCCESS] == pytest.approx(grounded.metrics["cost_usd"] / successes)
    logged = mlflow_client(store.tracking_uri).get_run(grounded.run_id).data.metrics
    assert logged[COST_PER_SUCCESS] == pytest.approx(grounded.metrics[COST_PER_SUCCESS])
    plain = sweep.variant(_names(sweep)["plain-600"])
    assert "cost_usd" in plain.metrics and COST_PER_SUCCESS not in plain.metrics  # infinite: no answer succeeded


def test_compare_reads_the_same_numbers_back_from_mlflow(sweep: wb.SweepResult, store: Settings) -> None:
    uri = store.tracking_uri
    in_memory = wb.compare(sweep)
    by_experiment = wb.compare(EXPERIMENT, tracking_uri=uri)
    assert by_experiment.parent_run_id == sweep.parent_run_id
    pd.testing.assert_frame_equal(in_memory.table, by_experiment.table)
    by_sweep = wb.compare(sweep.parent_run_id, tracking_uri=uri, metrics=["token_f1"])
    assert list(by_sweep.table["variant"]) == [v.variant.name for v in sweep.variants]
    # variant run ids, with a baseline that is not among them (e.g. the production variant of an older sweep)
    runs = [v.run_id for v in sweep.variants[1:]]
    base = sweep.variants[0]
    outside = wb.compare(runs, baseline=base.run_id, metrics=["token_f1"], tracking_uri=uri)
    assert outside.baseline == base.variant.name and len(outside.variants) == 4
    pd.testing.assert_frame_equal(outside.table, by_sweep.table)
    # the baseline of another sweep is compared against, not gated: production below the floor failed every PR's gate
    failing = {f.variant for f in outside.gate("token_f1", minimum=1.01)}
    assert failing == {v.variant.name for v in sweep.variants[1:]} and base.variant.name not in failing
    with pytest.raises(wb.WorkbenchError, match="neither an experiment nor a run"):
        wb.compare("no-such-experiment", tracking_uri=uri)


def test_question_diff_from_mlflow_shows_both_answers(sweep: wb.SweepResult, store: Settings) -> None:
    names = _names(sweep)
    flips = wb.diff_questions(EXPERIMENT, names["grounded-600"], names["plain-600"], metric="token_f1", tracking_uri=store.tracking_uri)
    assert len(flips) > 0 and set(flips["change"]) == {"lost"}
    assert set(flips["answer_b"]) == {"I don't know."}
    assert all(isinstance(ids, list) and ids for ids in flips["retrieved_ids_a"])
    assert all(isinstance(c, list) and c for c in flips["contexts_b"])


def test_plots_and_comparison_are_logged_on_the_parent_run(sweep: wb.SweepResult, store: Settings, tmp_path: Path) -> None:
    client = mlflow_client(store.tracking_uri)
    top = {a.path for a in client.list_artifacts(sweep.parent_run_id)}
    assert {"comparison.json", "plots"} <= top
    plots = {a.path for a in client.list_artifacts(sweep.parent_run_id, "plots")}
    assert plots == {"plots/metric_vs_cost.png", "plots/retrieval_curves.png"}
    for path in plots:
        local = client.download_artifacts(sweep.parent_run_id, path, str(tmp_path))
        assert Path(local).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    logged = json.loads(Path(client.download_artifacts(sweep.parent_run_id, "comparison.json", str(tmp_path))).read_text())
    report = wb.compare(sweep, seed=sweep.spec.seed)
    assert logged["baseline"] == report.baseline
    assert [r["verdict"] for r in logged["rows"]] == list(report.table["verdict"])
    figures = report.plots()
    assert set(figures) == {"metric_vs_cost", "retrieval_curves"}
    assert figures["metric_vs_cost"].axes[0].get_xlabel().startswith("cost_usd")  # the spec prices the model
    curves = report.retrieval_curves()
    assert set(curves["setup"]) == {"recursive-600/60 · all-minilm-l6-v2 · k4-similarity", "recursive-200/20 · all-minilm-l6-v2 · k4-similarity"}
    at_k = curves[curves["k"] == 4].set_index("setup")["hit_at_k"]
    for v in sweep.variants:  # at k = K the curve is the hit_at_k scorer's mean
        assert at_k[f"{v.variant.chunker.label} · all-minilm-l6-v2 · k4-similarity"] == pytest.approx(v.metrics["hit_at_k"])


def test_a_failing_comparison_never_fails_the_sweep(sweep: wb.SweepResult, store: Settings, caplog: pytest.LogCaptureFixture) -> None:
    class Exploding:
        def to_dict(self) -> dict[str, object]:
            raise RuntimeError("plotting exploded")

        def plots(self) -> dict[str, object]:
            raise AssertionError("not reached")

    spec = _spec("compare-failing")  # its own experiment: the CLI tests read the latest sweep of EXPERIMENT
    dataset, corpus = load_inputs(spec)
    tracker = MlflowTracker(store.tracking_uri)
    handle = tracker.start_sweep(spec, dataset, corpus, expand_grid(spec))
    with caplog.at_level(logging.WARNING):
        tracker.end_sweep(handle, sweep.variants, "FINISHED", comparison=Exploding())
    client = mlflow_client(store.tracking_uri)
    assert client.get_run(handle.run_id).info.status == "FINISHED"
    assert "comparison.json" not in {a.path for a in client.list_artifacts(handle.run_id)}
    assert "plotting exploded" in caplog.text


def test_the_sweep_comparison_is_none_when_it_cannot_be_computed(
    sweep: wb.SweepResult, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert sweep_comparison(sweep.variants, seed=0) is not None
    assert sweep_comparison([replace(v, records=()) for v in sweep.variants]) is None  # nothing per question to compare

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("statistics exploded")

    monkeypatch.setattr(sys.modules["workbench.comparison._sweep"], "compare", boom)
    with caplog.at_level(logging.WARNING):
        assert sweep_comparison(sweep.variants) is None
    assert "statistics exploded" in caplog.text


def test_the_sweep_comparison_is_not_against_a_variant_whose_every_question_failed(sweep: wb.SweepResult) -> None:
    first, *rest = sweep.variants
    failed = replace(first, records=tuple(replace(r, error="TimeoutError: the model timed out", scores={}) for r in first.records),
                     outcome=replace(first.outcome, status="FAILED", error="every question failed"))
    report = sweep_comparison([failed, *rest], seed=0)
    assert report is not None
    assert report.baseline == rest[0].variant.name  # was the failed one: every verdict 'not enough data', n_paired 0
    assert report.verdict(rest[1].variant.name, "token_f1") != "not enough data"
    assert report.row(failed.variant.name, "token_f1")["n"] == 0



def test_wb_compare_gives_the_sweep_comparison_when_the_first_variant_failed(sweep: wb.SweepResult) -> None:
    # the README: wb.compare gives the intervals of the sweep's comparison.json; with a failed first variant it took that
    # one as its baseline (every verdict 'not enough data') while comparison.json took the first that answered
    first, *rest = sweep.variants
    failed = replace(first, records=tuple(replace(r, error="TimeoutError: the model timed out", scores={}) for r in first.records),
                     outcome=replace(first.outcome, status="FAILED", error="every question failed"))
    report = wb.compare([failed, *rest], seed=0)
    assert report.baseline == rest[0].variant.name
    logged = sweep_comparison([failed, *rest], seed=0)
    assert logged is not None and report.to_dict() == logged.to_dict()

def test_cli_compare_prints_intervals_and_verdicts(sweep: wb.SweepResult, store: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--tracking-uri", store.tracking_uri, "compare", EXPERIMENT, "--metric", "token_f1", "--metric", "false_refusal"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"sweep {sweep.parent_run_id}" in out
    assert "token_f1 (higher is better)" in out and "false_refusal (lower is better)" in out
    assert out.count("worse") >= 2 and "baseline" in out and "[" in out
    assert main(["--tracking-uri", store.tracking_uri, "compare", EXPERIMENT, "--sweep", sweep.parent_run_id,
                 "--baseline", _names(sweep)["plain-600"], "--metric", "token_f1"]) == 0
    assert "better" in capsys.readouterr().out


def test_cli_compare_writes_json_for_scripts_and_markdown_for_a_pull_request(
    sweep: wb.SweepResult, store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # the text's lines ran past 150 columns with no other form: scripts parsed it and pull requests wrapped it
    uri = ["--tracking-uri", store.tracking_uri]
    assert main([*uri, "compare", EXPERIMENT, "--metric", "token_f1", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    report = wb.compare(EXPERIMENT, metrics="token_f1", tracking_uri=store.tracking_uri)
    assert data == {"experiment": EXPERIMENT, "sweep": sweep.parent_run_id, "user": data["user"], **json.loads(json.dumps(report.to_dict())),
                    "notes": report.notes()}
    assert [line for line in data["notes"] if "not corrected for 3 of them" in line]  # the caveats the text states, as data
    assert data["user"] and [row["run_id"] for row in data["rows"]] == [v.run_id for v in sweep.variants]

    assert main([*uri, "compare", EXPERIMENT, "--metric", "token_f1", "--format", "markdown"]) == 0
    text = capsys.readouterr().out
    names = _names(sweep)
    plain = report.row(names["plain-600"], "token_f1")
    assert "Names below leave out what every variant shares: `gemma3-270m|k4-similarity`" in text.splitlines()  # as the text does
    cell = "| `" + names["plain-600"].replace("|gemma3-270m", "").replace("|k4-similarity", "").replace("|", "\\|") + "` |"
    row = next(line for line in text.splitlines() if line.startswith(cell))
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]  # the name's own | are escaped
    assert cells[1:] == [f"{plain['mean']:.3f} [{plain['mean_low']:.3f}, {plain['mean_high']:.3f}]", str(plain["n"]),
                         f"{plain['diff']:.3f} [{plain['diff_low']:.3f}, {plain['diff_high']:.3f}]", str(plain["n_paired"]), "worse"]
    assert text.startswith(f"### Experiment `{EXPERIMENT}`, sweep {sweep.parent_run_id}") and "#### token_f1 (higher is better)" in text
    assert "\x1b" not in text


def test_cli_gate_exit_codes(sweep: wb.SweepResult, store: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    uri = ["--tracking-uri", store.tracking_uri]
    names = _names(sweep)
    assert main([*uri, "gate", EXPERIMENT, "--metric", "hit_at_k", "--min", "0.0"]) == 0
    assert "gate passed" in capsys.readouterr().out
    assert main([*uri, "gate", EXPERIMENT, "--metric", "token_f1", "--min", "0.05"]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAIL")]
    assert sorted(lines) == sorted(f"FAIL {names[k]}: token_f1 mean 0.000 is below the minimum 0.05" for k in ("plain-600", "plain-200"))
    base = sweep.variant(names["grounded-600"]).run_id
    assert main([*uri, "gate", EXPERIMENT, "--metric", "false_refusal", "--baseline", base or ""]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {names['plain-600']}: false_refusal is worse than baseline" in out
    assert f"FAIL {names['plain-200']}: false_refusal is worse than baseline" in out
    assert main([*uri, "gate", EXPERIMENT, "--metric", "false_refusal", "--max", "0.5"]) == 1
    # bad input: one-line errors, exit 2
    assert main([*uri, "gate", EXPERIMENT, "--metric", "token_f1"]) == 2
    assert main([*uri, "gate", EXPERIMENT, "--metric", "faithfulness", "--min", "0.7"]) == 2
    assert main([*uri, "gate", "no-such-experiment", "--metric", "token_f1", "--min", "0.7"]) == 2
    err = capsys.readouterr().err
    assert "gate needs --min, --max or --baseline" in err and "metric 'faithfulness' is not in the results" in err
    assert "'no-such-experiment' is neither an experiment nor a run" in err


def test_cli_gate_writes_json_for_scripts_with_the_same_exit_code(sweep: wb.SweepResult, store: Settings,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # a CI step that posts why the gate failed parsed "FAIL <variant>: <metric> ..." lines, whose names hold ':' and '|'
    uri = ["--tracking-uri", store.tracking_uri]
    names = _names(sweep)
    assert main([*uri, "gate", EXPERIMENT, "--metric", "token_f1", "--min", "0.05", "--format", "json"]) == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert captured.err == ""
    assert {k: v for k, v in data.items() if k not in ("user", "failures")} == {
        "passed": False, "experiment": EXPERIMENT, "sweep": sweep.parent_run_id, "metrics": ["token_f1"], "minimum": 0.05,
        "maximum": None, "baseline": None, "variants": 4}
    assert sorted(data["failures"], key=lambda f: f["variant"]) == sorted(
        ({"variant": names[k], "metric": "token_f1", "message": "mean 0.000 is below the minimum 0.05"} for k in ("plain-600", "plain-200")),
        key=lambda f: f["variant"])
    assert main([*uri, "gate", EXPERIMENT, "--metric", "hit_at_k", "--min", "0", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["passed"] is True


def test_the_same_variant_from_two_experiments_gets_two_labels(sweep: wb.SweepResult, store: Settings) -> None:
    models = {GEMMA_ID: ScriptedModel(_answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    other = wb.run(_spec("compare-copy"), settings=store, models=models, index_store=MemoryIndexStore(), progress=False)
    a, b = sweep.variants[0], other.variants[0]
    assert a.variant.name == b.variant.name
    report = wb.compare([a.run_id, b.run_id], metrics=["token_f1"], tracking_uri=store.tracking_uri)
    labels = [t.name for t in report.variants]
    assert labels == [f"{a.variant.name} ({a.run_id[:8]})", f"{b.variant.name} ({b.run_id[:8]})"]
    assert report.baseline == labels[0]
    assert report.verdict(labels[1], "token_f1") == "no detectable difference"  # the same answers: not the baseline's own row
    assert not report.row(labels[1], "token_f1")["is_baseline"]


def test_a_run_table_without_case_ids_is_one_line(sweep: wb.SweepResult, store: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    client = mlflow_client(store.tracking_uri)
    other = client.create_run(client.create_experiment("compare-handmade"), run_name="handmade")
    client.log_table(other.info.run_id, pd.DataFrame({"question": ["a", "b"], "token_f1": [0.1, 0.2]}), "eval_results.json")
    client.set_terminated(other.info.run_id)
    runs = [sweep.variants[0].run_id or "", other.info.run_id]
    with pytest.raises(wb.WorkbenchError, match=f"run {other.info.run_id} \\('handmade'\\): eval_results.json: column 'case_id' is missing"):
        wb.compare(runs, tracking_uri=store.tracking_uri)  # was a KeyError from pandas
    assert main(["--tracking-uri", store.tracking_uri, "compare", other.info.run_id]) == 2  # a user error, not "internal error"
    assert "column 'case_id' is missing" in capsys.readouterr().err


def test_a_gate_over_an_interrupted_sweep_fails_for_the_variants_it_never_ran(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    stop = threading.Event()

    def on_event(event: wb.ProgressEvent) -> None:
        if event.kind == "variant_done":
            stop.set()  # Stop pressed (Ctrl+C, a cancelled job) after the first variant

    models = {GEMMA_ID: ScriptedModel(_answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    killed = wb.run(_spec("compare-killed"), settings=store, models=models, index_store=MemoryIndexStore(), progress=False,
                    stop=stop, on_event=on_event)
    assert len(killed.variants) == 1
    report = wb.compare("compare-killed", tracking_uri=store.tracking_uri, metrics="token_f1")
    reason = "never logged: the sweep ended KILLED — run the experiment again to finish it"
    assert [(s.name, s.reason) for s in report.skipped] == [(f"3 of 4 variants of sweep {killed.parent_run_id}", reason)]
    assert f"skipped 3 of 4 variants of sweep {killed.parent_run_id}: {reason}" in report.summary()
    # the gate passed on the one variant that ran: "gate passed: 1 variants of sweep ..."
    assert main(["--tracking-uri", store.tracking_uri, "gate", "compare-killed", "--metric", "hit_at_k", "--min", "0"]) == 1
    out, err = capsys.readouterr()
    assert f"FAIL 3 of 4 variants of sweep {killed.parent_run_id}: no results ({reason})" in out
    assert err.splitlines()[-1] == f"gate failed: 1 failure(s) across 4 variants of sweep {killed.parent_run_id} by {default_user()} on hit_at_k"
    assert main(["--tracking-uri", store.tracking_uri, "list", "compare-killed"]) == 0
    assert f"run={killed.parent_run_id}  status=KILLED  variants=1 of 4" in capsys.readouterr().out  # was 'variants=1'


def test_a_gate_failed_by_a_failed_variant_counts_it_among_the_variants_checked(
    store: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the failure was the FAILED variant's, yet the line said "1 failure(s) across 1 variants": the one that passed
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    data = _spec("compare-failed").model_dump(mode="json", exclude_defaults=True)
    data.update(prompts=data["prompts"][:1], chunkers=data["chunkers"][:1], models=[{"id": GEMMA_ID}, {"id": "openai:gpt-4o-mini"}])
    models = {GEMMA_ID: ScriptedModel(_answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    result = wb.run(ExperimentSpec.from_dict(data, base_dir=ROOT), settings=store, models=models, index_store=MemoryIndexStore(),
                    progress=False)
    assert sorted(v.status for v in result.variants) == ["FAILED", "FINISHED"]
    assert main(["--tracking-uri", store.tracking_uri, "gate", "compare-failed", "--metric", "hit_at_k", "--min", "0"]) == 1
    out, err = capsys.readouterr()
    assert len([line for line in out.splitlines() if line.startswith("FAIL ")]) == 1, out
    assert err.splitlines()[-1] == f"gate failed: 1 failure(s) across 2 variants of sweep {result.parent_run_id} by {default_user()} on hit_at_k"


def test_a_baseline_run_without_results_says_why(sweep: wb.SweepResult, store: Settings) -> None:
    client = mlflow_client(store.tracking_uri)
    failed = client.create_run(sweep.experiment_id or "", run_name="crashed", tags={"workbench.kind": "variant",
                                                                                    "workbench.error": "TimeoutError: wall time"})
    client.set_terminated(failed.info.run_id, status="FAILED")
    # it said "no variant '<id>' to compare", as for a typo, though the run is there
    with pytest.raises(wb.WorkbenchError, match=rf"^baseline run {failed.info.run_id} \('crashed'\) has no per-question results to "
                                                r"compare against \(FAILED: TimeoutError: wall time\)"):
        wb.compare(sweep.parent_run_id, baseline=failed.info.run_id, tracking_uri=store.tracking_uri)
    with pytest.raises(wb.WorkbenchError, match=rf"baseline run {sweep.parent_run_id} .* has no eval_results.json"):
        wb.compare(sweep.parent_run_id, baseline=sweep.parent_run_id, tracking_uri=store.tracking_uri)  # the sweep itself


def test_a_baseline_variant_that_failed_before_answering_says_why(sweep: wb.SweepResult) -> None:
    first, *rest = sweep.variants
    failed = replace(first, records=(), outcome=replace(first.outcome, status="FAILED", error="ImportError: no llama_cpp"))
    # it said "no variant '<name>' to compare", listing the other variants, as if the name were mistyped
    with pytest.raises(wb.WorkbenchError, match=rf"^baseline '{re.escape(first.variant.name)}' has no per-question results to compare "
                                                r"\(FAILED: ImportError: no llama_cpp\)"):
        wb.compare([failed, *rest], baseline=first.variant.name)


def test_a_failed_variants_error_quoting_a_key_is_shown_redacted_by_compare(sweep: wb.SweepResult, monkeypatch: pytest.MonkeyPatch) -> None:
    # a provider's refusal quotes the key it was given; the leaderboard's error column redacted it, while wb.compare's
    # skipped line (its summary, the notebook's HTML table, the Leaderboard widget's comparison) showed it whole
    key = "sk-proj-" + "Zq8" * 12
    monkeypatch.setenv("OPENAI_API_KEY", key)
    first, *rest = sweep.variants
    failed = replace(first, records=(), outcome=replace(first.outcome, status="FAILED", error=f"AuthenticationError: Incorrect API key provided: {key}"))
    report = wb.compare([*rest, failed])
    shown = "\n".join([report.summary(), report._repr_html_(), json.dumps(report.to_dict())])
    assert key not in shown and key[8:20] not in shown
    assert "FAILED: AuthenticationError: Incorrect API key provided: [REDACTED:OPENAI_API_KEY]" in [s.reason for s in report.skipped]
    assert failed.outcome.error is not None and key in failed.outcome.error  # the result itself keeps it: only what is shown is redacted


def test_compare_over_a_sweep_uses_its_seed_as_its_comparison_json_did(
    sweep: wb.SweepResult, store: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = {GEMMA_ID: ScriptedModel(_answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = ExperimentSpec.from_dict({**_spec("compare-seeded").model_dump(mode="json", exclude_none=True), "seed": 7}, base_dir=ROOT)
    seeded = wb.run(spec, settings=store, models=models, index_store=MemoryIndexStore(), progress=False)
    logged = json.loads(Path(mlflow_client(store.tracking_uri).download_artifacts(seeded.parent_run_id, "comparison.json",
                                                                                   str(tmp_path))).read_text())
    assert logged["seed"] == 7
    run_ids = [v.run_id or "" for v in seeded.variants]
    for report in (wb.compare(seeded), wb.compare("compare-seeded", tracking_uri=store.tracking_uri),
                   # the sweep's variants given one by one (run ids, or its VariantResults) were compared with seed 0
                   wb.compare(run_ids, tracking_uri=store.tracking_uri), wb.compare(list(seeded.variants))):
        # read with seed 0, every interval differed from the sweep's own comparison.json
        assert report.seed == 7 and report.seed_note == ""
        lows = [r[k] for r in report.to_dict()["rows"] if r["metric"] == "token_f1" for k in ("mean_low", "mean_high")]
        assert lows == pytest.approx([r[k] for r in logged["rows"] if r["metric"] == "token_f1" for k in ("mean_low", "mean_high")], rel=1e-9)
    assert wb.compare("compare-seeded", tracking_uri=store.tracking_uri, seed=0).seed == 0  # a seed given wins
    # variants of two sweeps of different seeds: seed 0, and the report says why, naming each sweep's seed
    mixed = wb.compare([*run_ids, sweep.variants[0].run_id or ""], tracking_uri=store.tracking_uri)
    assert mixed.seed == 0 and sweep.spec.seed == 0
    said = f"2 sweeps of different seeds ({seeded.parent_run_id[:8]}: 7, {sweep.parent_run_id[:8]}: 0): seed 0 is used"
    assert said in mixed.seed_note and f"Seed: {mixed.seed_note}" in mixed.summary() and said in mixed._repr_html_()
    assert wb.compare([*seeded.variants, sweep.variants[0]]).seed_note == mixed.seed_note
    assert main(["--tracking-uri", store.tracking_uri, "compare", "compare-seeded", "--metric", "token_f1"]) == 0
    assert "(2000 resamples, seed 7)" in capsys.readouterr().out


def test_a_sweep_still_running_says_its_other_variants_are_not_logged_yet(sweep: wb.SweepResult, store: Settings) -> None:
    spec = _spec("compare-running")
    dataset, corpus = load_inputs(spec)
    tracker = MlflowTracker(store.tracking_uri)
    handle = tracker.start_sweep(spec, dataset, corpus, expand_grid(spec))
    tracker.log_variant(handle, sweep.variants[0], dataset)  # one variant done, three to go
    report = wb.compare(handle.run_id, tracking_uri=store.tracking_uri, metrics="token_f1")
    assert [(s.name, s.reason) for s in report.skipped] == [(
        f"3 of 4 variants of sweep {handle.run_id}",
        "not logged yet: the sweep is still RUNNING — wait for it to end (if its process died, run the experiment again)",
    )]
    tracker.end_sweep(handle, sweep.variants[:1], "KILLED")


def test_a_gate_on_an_answer_metric_over_a_retrieval_only_sweep_says_so(
    store: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # the ChunkExplorer's "Score retrieval" (or wb.run(generate=False)) logs the experiment's latest sweep: a CI gate on
    # token_f1 then read it, and said only that token_f1 "is not in the results"
    name = "compare-sweep-retrieval-only"
    models = {GEMMA_ID: ScriptedModel(_answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    wb.run(_spec(name), settings=store, models=models, index_store=MemoryIndexStore(), progress=False, generate=False)
    assert main(["--tracking-uri", store.tracking_uri, "gate", name, "--metric", "token_f1", "--min", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "metric 'token_f1' is not in the results" in err
    assert "retrieval-only sweep" in err and "--sweep" in err


def test_variant_results_whose_store_is_gone_are_compared_without_it(sweep: wb.SweepResult, tmp_path: Path) -> None:
    # the seed of VariantResults' sweep is read from the store they were logged to; a sqlite file moved away since was
    # made anew (MLflow's migrations, an empty store left behind) to find no run in it
    moved = tmp_path / "mlflow.db"
    report = wb.compare([replace(v, tracking_uri=f"sqlite:///{moved}") for v in sweep.variants])
    assert report.seed == 0 and report.seed_note == "" and len(report.variants) == len(sweep.variants)
    assert not moved.exists()


def test_a_results_per_question_table_is_built_once_and_again_for_a_new_secret(sweep: wb.SweepResult, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep logged each variant's table, its comparison built it again and every ``wb.compare(result)`` in the
    notebook once more: 1.4 s per variant over 5,000 questions, a minute for 40 variants. It is kept with the result,
    for the environment's secrets as they are."""
    from workbench.results import _variant

    variant = next(v for v in sweep.variants if any(r.answer and len(r.answer) > 40 for r in v.records))
    redacted: list[str] = []
    real = _variant.redact
    monkeypatch.setattr(_variant, "redact", lambda text: redacted.append(text) or real(text))
    first = variant.records_frame()  # the sweep built it already
    assert redacted == []
    first.loc[:, "answer"] = "changed"  # a copy: what a notebook does to it stays there
    again = variant.records_frame()
    assert "changed" not in set(again["answer"]) and list(again["case_id"]) == [r.case.id for r in variant.records]

    secret = next(r.answer for r in variant.records if r.answer and len(r.answer) > 40)[:40]
    monkeypatch.setenv("WORKBENCH_TEST_API_KEY", secret)  # a secret set after the sweep, quoted by an answer
    fresh = variant.records_frame()
    assert redacted and not any(secret in str(a) for a in fresh["answer"])
    import pickle

    assert pickle.loads(pickle.dumps(variant)).records_frame().equals(fresh)  # a copy elsewhere builds its own


def test_a_gate_fails_a_variant_that_ended_failed_or_killed_with_some_answers(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # a variant past its token budget is a FAILED run holding the answers it had: none of them failed, racing did not
    # stop it, so `workbench gate` passed the sweep on a fraction of its questions, and the CI recipe (which leaves a
    # run's exit 1 to the gate) went green; a sweep stopped mid-variant (Ctrl+C, a cancelled job) passed the same
    data = _spec("compare-budget").model_dump(mode="json", exclude_defaults=True)
    data.update(prompts=data["prompts"][:1], chunkers=data["chunkers"][:1], limits={"max_tokens": 400})
    models = {GEMMA_ID: ScriptedModel(_answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    result = wb.run(ExperimentSpec.from_dict(data, base_dir=ROOT), settings=store, models=models, index_store=MemoryIndexStore(),
                    progress=False)
    (variant,) = result.variants
    assert variant.status == "FAILED" and 0 < len(variant.records) < 8, variant
    for source in ("compare-budget", result):  # from the store (the CLI's way) and from the sweep in memory
        report = wb.compare(source, tracking_uri=store.tracking_uri, metrics="hit_at_k")
        # its row read like a finished variant's: only "asked fewer questions" hinted at it
        assert (f"{variant.variant.name}: ended FAILED: {variant.outcome.error} — its means are over the {len(variant.records)} "
                "questions it answered before") in report.summary()
        failures = report.gate("hit_at_k", minimum=0)
        assert [str(f) for f in failures] == [
            f"FAIL {variant.variant.name}: ended FAILED: {variant.outcome.error}; its scores rest on the {len(variant.records)} "
            "questions it answered before, so it is not gated on them — run the experiment again to finish it (answers come from the cache)"]
    assert main(["--tracking-uri", store.tracking_uri, "gate", "compare-budget", "--metric", "hit_at_k", "--min", "0"]) == 1
    assert "ended FAILED: token budget of 400 exceeded" in capsys.readouterr().out

    stop = threading.Event()

    def on_event(event: wb.ProgressEvent) -> None:
        if event.kind == "question_done" and event.done >= 3:
            stop.set()  # Ctrl+C a few questions into the variant

    data.update(name="compare-stopped", limits={})
    slow = {**models, GEMMA_ID: ScriptedModel(_slow_answer, model_id=GEMMA_ID)}
    stopped = wb.run(ExperimentSpec.from_dict(data, base_dir=ROOT), settings=store, models=slow, index_store=MemoryIndexStore(),
                     progress=False, stop=stop, on_event=on_event, fresh=True)
    assert [v.status for v in stopped.variants] == ["STOPPED"] and stopped.variants[0].records
    assert main(["--tracking-uri", store.tracking_uri, "gate", "compare-stopped", "--metric", "hit_at_k", "--min", "0"]) == 1
    assert "ended KILLED: stopped by the user; its scores rest on the" in capsys.readouterr().out
    (failure,) = wb.compare(stopped).gate("hit_at_k", minimum=0)  # the sweep in memory: its variant STOPPED
    assert failure.message.startswith("ended STOPPED: stopped by the user; its scores rest on the")
