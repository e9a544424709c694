"""The store's catalogue (experiments, sweeps, runs) and judge-score reading, against a real sqlite MLflow store.

Two small sweeps of one experiment, with deterministic fakes for the models.
"""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow import MlflowClient

import workbench as wb
from workbench.config import Settings, settings
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import (
    calibrate_run,
    default_user,
    calibration_runs,
    experiment_sweeps,
    find_run,
    find_variant_table,
    list_experiments,
    load_judge_scores,
    load_variant_table,
    resolve_runs,
    run_kind,
)

from .._answers import echo_context_answer
from ..test_runner import make_spec

EXPERIMENT = "catalog"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("catalog")
    return settings(root=root, tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")


@pytest.fixture(scope="module")
def sweeps(store: Settings) -> list[wb.SweepResult]:
    models = {GEMMA_ID: ScriptedModel(echo_context_answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec(name=EXPERIMENT, chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    done = [wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=store, progress=False, limit=3) for _ in range(2)]
    MlflowClient(store.tracking_uri).create_experiment("empty")
    return done


def test_list_experiments_counts_sweeps(sweeps: list[wb.SweepResult], store: Settings) -> None:
    found = {e.name: e for e in list_experiments(tracking_uri=store.tracking_uri)}
    assert found[EXPERIMENT].sweeps == 2 and found[EXPERIMENT].experiment_id == sweeps[0].experiment_id
    assert found["empty"].sweeps == 0 and "Default" in found


def test_experiment_sweeps_newest_first_with_their_variants(sweeps: list[wb.SweepResult], store: Settings) -> None:
    listed = experiment_sweeps(EXPERIMENT, tracking_uri=store.tracking_uri)
    assert [s.run.run_id for s in listed] == [sweeps[1].parent_run_id, sweeps[0].parent_run_id]
    newest = listed[0]
    assert newest.run.kind == "sweep" and newest.run.status == "FINISHED"
    assert {v.run_id for v in newest.variants} == {v.run_id for v in sweeps[1].variants}
    variant = next(v for v in newest.variants if v.run_id == sweeps[1].variants[0].run_id)
    assert variant.kind == "variant" and variant.name == sweeps[1].variants[0].variant.name
    assert variant.variant_id == sweeps[1].variants[0].variant.id
    assert variant.metrics["token_f1"] == pytest.approx(sweeps[1].variants[0].metrics["token_f1"])
    assert variant.params["chunker.strategy"] == "recursive"
    with pytest.raises(wb.WorkbenchError, match="no experiment named 'nope' in sqlite"):
        experiment_sweeps("nope", tracking_uri=store.tracking_uri)


def test_experiment_sweeps_reads_the_store_once_not_once_per_sweep(wb_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # `workbench list EXPERIMENT` searched the variant runs of each sweep in turn: 201 queries for a team's experiment
    # of 200 sweeps (each a round trip to a tracking server)
    client = MlflowClient(wb_settings.tracking_uri)
    experiment_id = client.create_experiment("many")
    made = {}
    for _ in range(3):
        sweep = client.create_run(experiment_id, tags={"workbench.kind": "sweep"}).info.run_id
        made[sweep] = {client.create_run(experiment_id, tags={"workbench.kind": "variant", "mlflow.parentRunId": sweep}).info.run_id
                       for _ in range(2)}
    real_search_runs, searches = MlflowClient.search_runs, []

    def search_runs(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        searches.append(args)
        return real_search_runs(self, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "search_runs", search_runs)
    listed = experiment_sweeps("many", tracking_uri=wb_settings.tracking_uri)
    assert [s.run.run_id for s in listed] == list(reversed(made))  # newest first
    assert {s.run.run_id: {v.run_id for v in s.variants} for s in listed} == made
    assert len(searches) == 1


def test_the_newest_sweeps_are_listed_without_reading_the_older_sweeps_runs(
    wb_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `workbench list EXPERIMENT` read every run of the experiment to print them all: a team's 323 sweeps (2,900 runs)
    # took 5.4 s of CPU for 2,900 lines; it shows the newest 20 sweeps now, reading only their runs (0.55 s)
    from workbench.cli import main

    client = MlflowClient(wb_settings.tracking_uri)
    experiment_id = client.create_experiment("long-lived")
    made = {}
    for i in range(5):
        sweep = client.create_run(experiment_id, start_time=10**12 + 1000 * i, tags={"workbench.kind": "sweep"}).info.run_id
        made[sweep] = {client.create_run(experiment_id, start_time=10**12 + 1000 * i + j, tags={"workbench.kind": "variant", "mlflow.parentRunId": sweep})
                       .info.run_id for j in range(3)}
    real_search_runs, read = MlflowClient.search_runs, []

    def search_runs(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        found = real_search_runs(self, *args, **kwargs)
        read.extend(r.info.run_id for r in found)
        return found

    monkeypatch.setattr(MlflowClient, "search_runs", search_runs)
    newest = list(reversed(made))
    listed = experiment_sweeps("long-lived", last=2, tracking_uri=wb_settings.tracking_uri)
    assert [s.run.run_id for s in listed] == newest[:2]
    assert {s.run.run_id: {v.run_id for v in s.variants} for s in listed} == {s: made[s] for s in newest[:2]}
    assert set(read) == set(newest[:2]).union(*(made[s] for s in newest[:2]))  # no run of an older sweep was read
    uri = ["--tracking-uri", wb_settings.tracking_uri]
    assert main([*uri, "list", "long-lived", "--last", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[1] for line in lines if not line.startswith(("    ", "older"))] == [f"run={s}" for s in newest[:2]]
    assert len(lines) == 2 * 4 + 1 and lines[-1] == "older sweeps not shown (--last N shows more than these 2, --all every one)"
    assert main([*uri, "list", "long-lived", "--last", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "older sweeps not shown (--last N shows more than this one, --all every one)"
    assert main([*uri, "list", "long-lived", "--all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 * 4 and not any(line.startswith("older sweeps") for line in lines)
    assert main([*uri, "list", "long-lived"]) == 0  # fewer than the default's 20: every one, and nothing said
    assert capsys.readouterr().out.splitlines() == lines


def test_list_experiments_counts_every_experiments_sweeps_in_one_search(wb_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # `workbench list` searched each experiment's sweeps in turn: a query (a server round trip) per experiment
    client = MlflowClient(wb_settings.tracking_uri)
    for name, sweeps in (("none", 0), ("one", 1), ("two", 2)):
        experiment_id = client.create_experiment(name)
        for _ in range(sweeps):
            sweep = client.create_run(experiment_id, tags={"workbench.kind": "sweep"}).info.run_id
            client.create_run(experiment_id, tags={"workbench.kind": "variant", "mlflow.parentRunId": sweep})
    real_search_runs, searches = MlflowClient.search_runs, []

    def search_runs(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        searches.append(args)
        return real_search_runs(self, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "search_runs", search_runs)
    found = {e.name: e.sweeps for e in list_experiments(tracking_uri=wb_settings.tracking_uri)}
    assert found == {"none": 0, "one": 1, "two": 2, "Default": 0}
    assert len(searches) == 1


def test_every_experiment_is_listed_past_a_page_of_them(wb_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # `workbench list` read one page of experiments (MLflow's first 1,000): a store holding more listed those only, and
    # an unknown name was matched against them only; pages are 2 experiments here, as a stand-in for 1,000
    client = MlflowClient(wb_settings.tracking_uri)
    for name in ("first", "second", "third"):
        client.create_experiment(name)
    real_search_experiments = MlflowClient.search_experiments

    def search_experiments(self, *args, max_results=1000, **kwargs):  # type: ignore[no-untyped-def]
        return real_search_experiments(self, *args, max_results=min(max_results, 2), **kwargs)

    monkeypatch.setattr(MlflowClient, "search_experiments", search_experiments)
    assert {e.name for e in list_experiments(tracking_uri=wb_settings.tracking_uri)} == {"first", "second", "third", "Default"}
    with pytest.raises(wb.WorkbenchError, match="did you mean 'first'"):
        experiment_sweeps("First", tracking_uri=wb_settings.tracking_uri)


def test_every_variant_of_a_sweep_is_read_past_a_page_of_them(wb_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # a sweep's variants were read in one search of at most 1,000 runs: compare and gate on a sweep of a larger grid
    # left the rest out, saying nothing; pages are 2 runs here, as a stand-in for 1,000
    client = MlflowClient(wb_settings.tracking_uri)
    experiment_id = client.create_experiment("wide")
    sweep = client.create_run(experiment_id, start_time=10**12, tags={"workbench.kind": "sweep"}).info.run_id
    made = [client.create_run(experiment_id, start_time=10**12 + i, tags={"workbench.kind": "variant", "mlflow.parentRunId": sweep})
            .info.run_id for i in range(5)]
    real_search_runs = MlflowClient.search_runs

    def search_runs(self, *args, max_results=1000, **kwargs):  # type: ignore[no-untyped-def]
        return real_search_runs(self, *args, max_results=min(max_results, 2), **kwargs)

    monkeypatch.setattr(MlflowClient, "search_runs", search_runs)
    assert [r.run_id for r in resolve_runs([sweep], tracking_uri=wb_settings.tracking_uri).runs] == made  # oldest first
    assert [r.run_id for r in calibration_runs(sweep, tracking_uri=wb_settings.tracking_uri)] == made


def test_run_kind_and_calibration_runs(sweeps: list[wb.SweepResult], store: Settings) -> None:
    uri = store.tracking_uri
    sweep = sweeps[0]
    assert run_kind(sweep.parent_run_id, tracking_uri=uri) == "sweep"
    assert run_kind(sweep.variants[1].run_id or "", tracking_uri=uri) == "variant"
    assert [r.run_id for r in calibration_runs(sweep.parent_run_id, tracking_uri=uri)] == [v.run_id for v in sweep.variants]
    assert [r.run_id for r in calibration_runs(sweep.variants[1].run_id or "", tracking_uri=uri)] == [sweep.variants[1].run_id]
    for reader in (run_kind, calibration_runs):
        with pytest.raises(wb.WorkbenchError, match="no run '0123456789abcdef' in sqlite"):
            reader("0123456789abcdef", tracking_uri=uri)
    assert find_run("0123456789abcdef", tracking_uri=uri) is None


def test_resolve_runs_from_names_and_ids(sweeps: list[wb.SweepResult], store: Settings) -> None:
    uri = store.tracking_uri
    latest = resolve_runs([EXPERIMENT], tracking_uri=uri)
    assert latest.parent_run_id == sweeps[1].parent_run_id and latest.tracking_uri == uri
    assert [r.run_id for r in latest.runs] == [v.run_id for v in sweeps[1].variants]  # oldest first
    by_sweep = resolve_runs([sweeps[0].parent_run_id], tracking_uri=uri)
    assert [r.run_id for r in by_sweep.runs] == [v.run_id for v in sweeps[0].variants]
    ids = [sweeps[0].variants[1].run_id or "", sweeps[1].variants[0].run_id or ""]
    picked = resolve_runs(ids, tracking_uri=uri)
    assert [r.run_id for r in picked.runs] == ids and picked.parent_run_id is None
    with pytest.raises(wb.WorkbenchError, match="experiment 'empty' has no sweeps"):
        resolve_runs(["empty"], tracking_uri=uri)
    with pytest.raises(wb.WorkbenchError, match="'nothing' is neither an experiment nor a run"):
        resolve_runs(["nothing"], tracking_uri=uri)


def test_a_deleted_run_is_refused_with_how_to_restore_it(sweeps: list[wb.SweepResult], store: Settings) -> None:
    uri = store.tracking_uri
    sweep = sweeps[1]
    gone = sweep.variants[1].run_id or ""
    client = MlflowClient(uri)
    client.delete_run(gone)
    try:  # MLflow still returns a deleted run: it was compared, as a baseline too, as if nothing had happened
        for read in (lambda: find_run(gone, tracking_uri=uri), lambda: resolve_runs([gone], tracking_uri=uri),
                     lambda: wb.compare(EXPERIMENT, baseline=gone, tracking_uri=uri)):
            with pytest.raises(wb.WorkbenchError, match=f"run {gone} .* is deleted in sqlite.* 'mlflow runs restore --run-id {gone}'"):
                read()
    finally:
        client.restore_run(gone)
    assert find_run(gone, tracking_uri=uri) is not None
    client.delete_experiment(sweep.experiment_id or "")  # deleted with its experiment: restoring the run alone is not enough
    try:
        with pytest.raises(wb.WorkbenchError, match=f"experiment '{EXPERIMENT}' is deleted in sqlite.* 'mlflow experiments restore"):
            find_run(gone, tracking_uri=uri)
    finally:
        client.restore_experiment(sweep.experiment_id or "")
    assert find_run(gone, tracking_uri=uri) is not None


def test_runs_other_tools_nested_under_a_sweep_are_not_its_variants(sweeps: list[wb.SweepResult], store: Settings) -> None:
    """A run logged under a sweep by another tool (``mlflow.start_run(parent_run_id=..., nested=True)``, an evaluation
    script) was listed as a variant ("variants=3 of 2"), compared (skipped as "logged from another machine") and failed
    every gate with "no results"."""
    uri = store.tracking_uri
    sweep = sweeps[1]
    client = MlflowClient(uri)
    foreign = client.create_run(sweep.experiment_id or "", run_name="notes", tags={"mlflow.parentRunId": sweep.parent_run_id})
    client.log_metric(foreign.info.run_id, "token_f1", 0.9)
    client.set_terminated(foreign.info.run_id)
    variants = [v.run_id for v in sweep.variants]
    try:
        assert {r.run_id for r in experiment_sweeps(EXPERIMENT, tracking_uri=uri)[0].variants} == set(variants)
        assert [r.run_id for r in resolve_runs([EXPERIMENT], tracking_uri=uri).runs] == variants
        assert [r.run_id for r in calibration_runs(sweep.parent_run_id, tracking_uri=uri)] == variants
        report = wb.compare(EXPERIMENT, tracking_uri=uri)
        assert report.skipped == () and {v.run_id for v in report.variants} == set(variants)
    finally:
        client.delete_run(foreign.info.run_id)


def test_a_sweep_whose_variant_runs_were_all_deleted_says_so(sweeps: list[wb.SweepResult], store: Settings) -> None:
    """Every variant run of the latest sweep deleted in the MLflow UI: compare and gate said "nothing to compare: no
    variant has per-question results (no variants given)" of an experiment name the user did give."""
    uri = store.tracking_uri
    sweep = sweeps[1]
    client = MlflowClient(uri)
    for variant in sweep.variants:
        client.delete_run(variant.run_id or "")
    try:
        for key in (EXPERIMENT, sweep.parent_run_id):
            with pytest.raises(wb.WorkbenchError, match=rf"^nothing to compare: sweep {sweep.parent_run_id} has no variant runs left "
                                                        r"\(deleted\?\) — restore them \('mlflow runs restore"):
                wb.compare(key, tracking_uri=uri)
    finally:
        for variant in sweep.variants:
            client.restore_run(variant.run_id or "")


def test_variant_tables_and_judge_scores(sweeps: list[wb.SweepResult], store: Settings) -> None:
    uri = store.tracking_uri
    variant = sweeps[0].variants[0]
    table = find_variant_table(variant.run_id or "", tracking_uri=uri)
    assert table is not None
    pd.testing.assert_frame_equal(table, load_variant_table(variant.run_id or "", tracking_uri=uri))
    assert find_variant_table(sweeps[0].parent_run_id, tracking_uri=uri) is None  # a sweep has no per-question table
    scores = load_judge_scores(variant.run_id or "", tracking_uri=uri)
    assert {"case_id", "answer", "token_f1"} <= set(scores.columns) and len(scores) == 3
    with pytest.raises(wb.WorkbenchError, match="no per-question results table"):
        load_judge_scores(sweeps[0].parent_run_id, tracking_uri=uri)


def test_tables_are_read_from_each_runs_artifacts_without_looking_the_run_up_again(
    sweeps: list[wb.SweepResult], store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each table was read through MlflowClient's artifact calls, which looked the run up again for the listing and for
    # the file, then searched the experiment's logged models for one named eval_results.json: 0.1 s a run, 4 s to
    # compare 40 variants; the run's artifact repository is read directly now
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from workbench.comparison import load_tables

    calls: list[str] = []
    for name in ("get_run", "search_logged_models"):
        real = getattr(SqlAlchemyStore, name)
        monkeypatch.setattr(SqlAlchemyStore, name, lambda self, *a, _real=real, _name=name, **k: calls.append(_name) or _real(self, *a, **k))
    run_ids = [v.run_id or "" for v in sweeps[0].variants]
    loaded = load_tables(sweeps[0].parent_run_id, tracking_uri=store.tracking_uri)
    assert [t.run_id for t in loaded.variants] == run_ids and all(len(t.frame) == 3 for t in loaded.variants)
    assert calls in (["get_run"], ["get_run"] * 2)  # the sweep's run (none per variant: they come from one search)
    calls.clear()
    assert [t.run_id for t in load_tables(run_ids, tracking_uri=store.tracking_uri).variants] == run_ids
    assert calls == ["get_run"] * (len(run_ids) + 1)  # each run id given is looked up once, and their sweep (its seed)


def test_calibrate_a_run_id_a_variant_result_or_a_frame(sweeps: list[wb.SweepResult], store: Settings) -> None:
    uri = store.tracking_uri
    variant = sweeps[0].variants[0]
    table = load_variant_table(variant.run_id or "", tracking_uri=uri)
    labels = pd.DataFrame({"case_id": table["case_id"], "metric": "token_f1", "label": (table["token_f1"] >= 0.5).astype(float)})
    by_id = calibrate_run(variant.run_id or "", labels, tracking_uri=uri)
    assert by_id.source == variant.run_id and by_id.agreement("token_f1").accuracy == 1.0
    assert wb.calibrate is calibrate_run  # the top-level API takes all three
    by_result = wb.calibrate(variant, labels)
    by_frame = wb.calibrate(table, labels)
    assert by_result.agreements == by_id.agreements == by_frame.agreements
    assert by_frame.source == "DataFrame"
    with pytest.raises(TypeError, match="run id, a VariantResult or a DataFrame"):
        wb.calibrate(42, labels)
    with pytest.raises(wb.WorkbenchError, match="no per-question results table"):
        wb.calibrate(sweeps[0].parent_run_id, labels, tracking_uri=uri)


def test_cli_list_prints_the_catalogue_unchanged(sweeps: list[wb.SweepResult], store: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main

    uri = ["--tracking-uri", store.tracking_uri]
    assert main([*uri, "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"{EXPERIMENT:30s} id={sweeps[0].experiment_id:>4s}  sweeps=2" in lines
    assert any(line.startswith(f"{'empty':30s} id=") and line.endswith("  sweeps=0") for line in lines)
    assert main([*uri, "list", EXPERIMENT]) == 0
    lines = capsys.readouterr().out.splitlines()
    newest = sweeps[1]
    by = f"by={default_user()}"  # whose sweep it is, on a team's server
    assert lines[0].endswith(f"  run={newest.parent_run_id}  status=FINISHED  variants=2  {by}")
    v = newest.variants[-1]  # variants are listed newest first
    m = v.metrics
    assert v.reused_from == sweeps[0].variants[-1].run_id  # the second sweep reused the first one's runs
    assert lines[1] == (f"    {'FINISHED':9s} run={v.run_id}  {v.variant.name:60s} "
                        f"token_f1={m['token_f1']:.3f} hit_at_k={m['hit_at_k']:.3f}  (reused from run {v.reused_from})")
    assert len(lines) == 6 and lines[3].endswith(f"  run={sweeps[0].parent_run_id}  status=FINISHED  variants=2  {by}")
    assert main([*uri, "list", "nope"]) == 2
    assert "error: no experiment named 'nope'" in capsys.readouterr().err


def test_cli_calibrate_a_sweep(sweeps: list[wb.SweepResult], store: Settings, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from workbench.cli import main

    table = load_variant_table(sweeps[0].variants[0].run_id or "", tracking_uri=store.tracking_uri)
    labels = tmp_path / "labels.csv"
    labels.write_text("case_id,metric,label\n" + "".join(f"{c},token_f1,1\n" for c in table["case_id"]))
    assert main(["--tracking-uri", store.tracking_uri, "calibrate", sweeps[0].parent_run_id, "--labels", str(labels)]) == 0
    out = capsys.readouterr().out
    assert all(f"{v.variant.name}  (run {v.run_id})" in out for v in sweeps[0].variants)
    assert out.count("token_f1") == 2 and "threshold 0.5" in out


def test_reading_a_sqlite_store_that_does_not_exist_is_one_line_and_makes_none(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # wb.compare, wb.diff_questions and the catalogue given a mistyped sqlite path (or a store moved away) made an empty
    # MLflow store there, then said the experiment was "neither an experiment nor a run"
    typo = tmp_path / "mlfow.db"
    uri = f"sqlite:///{typo}"
    for read in (lambda: wb.compare("catalog", tracking_uri=uri), lambda: resolve_runs(["catalog"], tracking_uri=uri),
                 lambda: list_experiments(tracking_uri=uri), lambda: find_run("0" * 32, tracking_uri=uri)):
        with pytest.raises(wb.WorkbenchError, match=rf"^tracking store sqlite:///{typo}: no such file — "):
            read()
    assert not typo.exists()


def test_cli_list_says_which_sweeps_ran_on_another_dataset_or_corpus_than_the_sweep_before(
    wb_settings: Settings, capsys: pytest.CaptureFixture[str],
) -> None:
    # sweeps listed one above the other read as one series of results: a mean that moved because questions were added, a
    # reference fixed or a document edited looked like a change of the variants
    from workbench.cli import main
    from workbench.datasets import Corpus, python_reference_corpus

    models = {MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = make_spec(name="evolving", chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}])
    topics = {d.id: d for d in python_reference_corpus().documents}
    reference = Corpus("topics", tuple(topics[i] for i in ("for", "while", "pass", "lambda", "yield")))
    edited = Corpus("topics", reference.documents[:-1])

    def sweep(limit: int, corpus: Corpus = reference) -> str:
        result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, limit=limit,
                        generate=False, corpus=corpus)
        return result.parent_run_id

    runs = [sweep(3), sweep(4), sweep(4), sweep(4, edited)]
    assert main(["--tracking-uri", wb_settings.tracking_uri, "list", "evolving", "--last", "3"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if " run=" in line and not line.startswith(" ")]
    assert [line.split("  run=")[1].split()[0] for line in lines] == runs[:0:-1]
    assert lines[0].endswith(f"  corpus changed ({len(edited)} documents)")  # its dataset is the one before's
    assert "changed" not in lines[1]
    assert lines[2].endswith("  dataset changed (4 questions)")  # against the sweep before it, though not listed
