"""A process that works in one project after another (a notebook kernel switching projects, a service sweeping for many
teams) keeps none of a project's files open once a call returns, and no more threads: its open files stay the same
however many projects it has worked in. Counted without running the garbage collector, as a kernel would between two
cells: what waits for it stays open for as long as it does not run."""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path

import pytest

import workbench as wb
from workbench.cache import DiskCacheStore
from workbench.cli import main as cli
from workbench.config import Settings, settings
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.spec import ExperimentSpec
from workbench.testing import HashingEmbedder, ScriptedModel

from tests.conftest import copy_store, global_tracking_uri, mlflow_client, open_files_under

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = 3
SLACK_FDS = 2  # files a library may open once, lazily, in a later project (none did)


def make_spec() -> ExperimentSpec:
    return ExperimentSpec.from_dict({
        "name": "many-projects", "dataset": {"path": "datasets/handbook.jsonl", "limit": 2},
        "corpus": {"path": "datasets/handbook", "glob": "*.md"},
        "prompts": [{"name": "p", "template": "{context} {question}"}], "models": [{"id": GEMMA_ID, "params": {"max_tokens": 8}}],
        "chunkers": [{"strategy": "markdown", "size": 600, "overlap": 0}], "scorers": ["token_f1", "hit_at_k"],
        "execution": {"isolation": "none"},
    }, base_dir=ROOT)


def models() -> dict[str, object]:
    return {GEMMA_ID: ScriptedModel(lambda _: "an answer", model_id=GEMMA_ID, identity="scripted:many-projects"),
            MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}


def open_counts() -> tuple[int, int]:
    """This process's open files and threads."""
    return len(os.listdir("/proc/self/fd")), len(os.listdir("/proc/self/task"))


def project(tmp_path: Path, empty_store: Path, n: int) -> Settings:
    root = tmp_path / f"project{n}"
    return settings(root=root, tracking_uri=copy_store(empty_store, root))


def test_sweeps_in_one_process_over_many_projects_leave_no_file_or_thread_behind(tmp_path: Path, empty_store: Path) -> None:
    # each project's sweep left 14 files open: MLflow's pooled connections to its store (5), the cache's connections
    # of the sweep's question threads (9), and the store check's connection, each until the garbage collector ran
    counts = []
    for n in range(PROJECTS):
        cfg = project(tmp_path, empty_store, n)
        result = wb.run(make_spec(), settings=cfg, models=models(), progress=False)
        assert result.status == "FINISHED" and (cfg.root / ".workbench" / "cache").is_dir()
        assert open_files_under(cfg.root) == [], f"project {n}"
        plan = wb.plan_sweep(make_spec(), settings=cfg, models=models())  # a dry run reads the store too
        assert plan.variants[0].reused_from == result.variants[0].run_id and open_files_under(cfg.root) == [], f"dry run {n}"
        counts.append(open_counts())
    (files, threads), (files_last, threads_last) = counts[0], counts[-1]
    assert files_last <= files + SLACK_FDS, f"{files_last - files} files more after {PROJECTS} projects than after one"
    assert threads_last <= threads, f"{threads_last - threads} threads more after {PROJECTS} projects than after one"


def test_the_store_a_sweep_let_go_of_still_answers_the_users_mlflow_calls_and_the_next_sweep(tmp_path: Path,
                                                                                             empty_store: Path) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    cfg = project(tmp_path, empty_store, 0)
    first = wb.run(make_spec(), settings=cfg, models=models(), progress=False)
    engine = SqlAlchemyStore._engine_map[cfg.tracking_uri]
    assert open_files_under(cfg.root) == []
    runs = mlflow_client(cfg.tracking_uri).search_runs([first.experiment_id])
    assert first.parent_run_id in {r.info.run_id for r in runs}
    import mlflow

    with global_tracking_uri(cfg.tracking_uri):
        assert first.parent_run_id in set(mlflow.search_runs(experiment_names=["many-projects"])["run_id"])
    again = wb.run(make_spec(), settings=cfg, models=models(), progress=False)  # warm: reused, nothing computed again
    assert again.status == "FINISHED" and again.variants[0].run_id != first.variants[0].run_id
    assert SqlAlchemyStore._engine_map[cfg.tracking_uri] is engine  # only its connections were closed, not the engine
    assert open_files_under(cfg.root) == []


def test_closing_the_cache_closes_the_connections_other_threads_opened(tmp_path: Path) -> None:
    # diskcache keeps one connection per thread and closed only the closing thread's: a sweep's question threads each
    # left theirs (to cache.db and counts/cache.db) for the garbage collector
    store = DiskCacheStore(tmp_path / "cache")
    keep_going, used = threading.Event(), threading.Event()
    answers: list[object] = []

    def question() -> None:
        store.put("generation", "k", {"answer": "a"})
        answers.append(store.get("generation", "k"))
        used.set()
        keep_going.wait(10)
        answers.append(store.get("generation", "k"))  # after the close: a connection of its own again

    threads = [threading.Thread(target=question) for _ in range(3)]
    for t in threads:
        t.start()
    assert used.wait(10)
    while len(answers) < 3:
        threading.Event().wait(0.01)
    store.close()
    assert open_files_under(tmp_path / "cache") == []
    keep_going.set()
    for t in threads:
        t.join(10)
    assert [a["answer"] if isinstance(a, dict) else a for a in answers] == ["a"] * 6
    store.close()
    assert open_files_under(tmp_path / "cache") == []


def released_under(folder: Path, wait_s: float = 5.0) -> list[str]:
    """``open_files_under(folder)`` once it is empty, or after ``wait_s``: Chroma's Rust library closes a stopped store's
    files on threads of its own, a moment after ``close`` returns."""
    deadline = time.monotonic() + wait_s
    while (held := open_files_under(folder)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return held


def test_compare_promote_export_load_bundle_and_cache_info_in_many_projects_leave_nothing_open(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # compare kept 3 files of each project's store open, promote and export 7, a loaded bundle its Chroma index (7 files
    # and 6 threads, also once the bundle was gone) and `workbench cache info` the project's Chroma indexes
    from tests.promotion.conftest import fake_models, git, sweep

    monkeypatch.setenv("WORKBENCH_USER", "alice")
    easy = [{"kind": "metric", "metric": "token_f1", "min": 0.1}]
    counts = []
    for n in range(2):
        root = tmp_path / f"project{n}"
        swept = sweep(root)
        assert released_under(root) == [], "sweep"
        report = wb.compare("promo", tracking_uri=swept.settings.tracking_uri)
        assert report.baseline and open_files_under(root) == [], "compare"
        wb.promote(swept.run_id("good"), name=f"assistant-{n}", alias="staging", gates=easy, settings=swept.settings)
        assert open_files_under(root) == [], "promote"
        repo = tmp_path / f"deploy{n}"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        exported = wb.export(f"assistant-{n}", "staging", repo=repo, settings=swept.settings, checkout=True)
        assert open_files_under(root) == [], "export"
        with wb.load_bundle(exported.path, corpus_path=root / "corpus", index_dir=root / "bundle-index", models=fake_models()) as bundle:
            assert bundle.answer("How is a function defined?").answer == "a function is defined with def"
        assert released_under(root) == [], "load_bundle"
        bundle = wb.load_bundle(exported.path, corpus_path=root / "corpus", index_dir=root / "bundle-index", models=fake_models())
        del bundle  # dropped unclosed: its index store goes with it
        gc.collect()
        assert released_under(root) == [], "a bundle dropped unclosed"
        with monkeypatch.context() as here:
            here.chdir(root)
            assert cli(["cache", "info"]) == 0
        assert released_under(root) == [], "cache info"
        counts.append(open_counts())
    assert counts[-1][0] <= counts[0][0] + SLACK_FDS and counts[-1][1] <= counts[0][1], counts


def test_releasing_a_store_closes_its_connections_only_and_leaves_it_usable(tmp_path: Path, empty_store: Path) -> None:
    from workbench.tracking import release_store

    mine, theirs = (copy_store(empty_store, tmp_path / name) for name in ("mine", "theirs"))
    for uri in (mine, theirs):
        assert mlflow_client(uri).search_experiments()  # MLflow's pool keeps the connection it read with
    release_store(mine.replace("/mine/", "/mine/../mine/"))  # the same file, written otherwise
    assert open_files_under(tmp_path / "mine") == [] and open_files_under(tmp_path / "theirs") != []
    assert mlflow_client(mine).search_experiments()  # a connection opened again
    release_store("http://127.0.0.1:1")  # a server's URI: nothing of this process to close
    for uri in (mine, theirs):
        release_store(uri)
    assert open_files_under(tmp_path) == []


def test_workbench_run_called_in_a_kernel_leaves_its_store_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # what `workbench run` printed after its sweep (the leaderboard compared against its leader) read the store again,
    # and its connections stayed open: `main` called project after project (a notebook, a service) piled them up
    real_run = wb.run
    monkeypatch.setattr(wb, "run", lambda experiment, **options: real_run(experiment, models=models(), **options))
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    (tmp_path / "exp.yaml").write_text(
        f"name: many-projects\ndataset: {{path: {ROOT / 'datasets' / 'handbook.jsonl'}, limit: 2}}\n"
        f"corpus: {{path: {ROOT / 'datasets' / 'handbook'}, glob: '*.md'}}\n"
        "prompts:\n  - {name: p, template: '{context} {question}'}\n  - {name: q, template: 'Q: {question} {context}'}\n"
        f"models:\n  - {{id: {GEMMA_ID}, params: {{max_tokens: 8}}}}\n"
        "chunkers:\n  - {strategy: markdown, size: 600, overlap: 0}\nscorers: [token_f1, hit_at_k]\nexecution: {isolation: none}\n",
        encoding="utf-8")
    for n in range(2):
        root = tmp_path / f"project{n}"
        assert cli(["--tracking-uri", f"sqlite:///{root / 'mlflow.db'}", "run", str(tmp_path / "exp.yaml"), "--no-progress"]) == 0, capsys.readouterr()
        assert open_files_under(root) == [], f"project {n}"


def test_reading_a_sweep_from_the_store_leaves_it_closed(tmp_path: Path, empty_store: Path) -> None:
    # each public read of a logged sweep (its variants' tables, the experiments and sweeps listed, a run found) kept 3
    # files of the project's store open: a notebook reading the sweeps of project after project piled them up
    from workbench import tracking
    from workbench.tracking import store_released

    cfg = project(tmp_path, empty_store, 0)
    result = wb.run(make_spec(), settings=cfg, models=models(), progress=False)
    uri, run_id, sweep = cfg.tracking_uri, result.variants[0].run_id, result.parent_run_id
    reads = {
        "load_variant_table": lambda: tracking.load_variant_table(run_id, tracking_uri=uri),
        "find_variant_table": lambda: tracking.find_variant_table(run_id, tracking_uri=uri),
        "load_judge_scores": lambda: tracking.load_judge_scores(run_id, tracking_uri=uri),
        "latest_sweep": lambda: tracking.latest_sweep("many-projects", tracking_uri=uri),
        "sweep_variants": lambda: tracking.sweep_variants(sweep, tracking_uri=uri),
        "list_experiments": lambda: tracking.list_experiments(tracking_uri=uri),
        "experiment_sweeps": lambda: tracking.experiment_sweeps("many-projects", tracking_uri=uri),
        "find_run": lambda: tracking.find_run(sweep, tracking_uri=uri),
        "run_kind": lambda: tracking.run_kind(sweep, tracking_uri=uri),
        "calibration_runs": lambda: tracking.calibration_runs(sweep, tracking_uri=uri),
        "resolve_runs": lambda: tracking.resolve_runs([sweep], tracking_uri=uri),
    }
    for name, read in reads.items():
        assert read() is not None and open_files_under(cfg.root) == [], name
    with store_released(uri):  # a read inside a block on the store (a comparison's, a promotion's) leaves it to the block
        assert tracking.find_run(sweep, tracking_uri=uri) is not None and open_files_under(cfg.root) != []
    assert open_files_under(cfg.root) == []
