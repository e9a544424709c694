"""A small real sweep: the embedded Gemma 3 270M and MiniLM, real Chroma, a real sqlite MLflow store.

It runs on the handbook corpus (small, markdown) so the index builds take seconds; the python-reference corpus
goes through the same code in the unit tests and in `make demo`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

import workbench as wb
from workbench.cli import main
from workbench.config import settings
from workbench.spec import ExperimentSpec
from workbench.tracking import load_variant_table

from ..conftest import global_tracking_uri

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTIONS = 2
SPEC = {
    "name": "handbook-it",
    "dataset": {"path": "datasets/handbook.jsonl", "limit": QUESTIONS},
    "corpus": {"path": "datasets/handbook", "glob": "*.md"},
    "prompts": [{"name": "grounded", "file": None, "template": (ROOT / "experiments/prompts/grounded.txt").read_text()},
                {"name": "plain", "template": (ROOT / "experiments/prompts/plain.txt").read_text()}],
    "models": [{"id": "local:gemma3-270m", "params": {"max_tokens": 24}}],
    "chunkers": [{"strategy": "markdown", "size": 400, "overlap": 0}, {"strategy": "token", "size": 48, "overlap": 8}],
    "retrieval": [{"k": 2}],
    # in this process: worker processes (their start, and loading the models again for each variant) cost twice the
    # sweep's model time; the CLI run below, and tests/integration/test_resume.py, run the real models in workers
    "execution": {"isolation": "none"},
}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    return tmp_path_factory.mktemp("project")


@pytest.fixture(scope="module")
def result(root: Path):  # type: ignore[no-untyped-def]
    spec = ExperimentSpec.from_dict({**SPEC, "prompts": [{k: v for k, v in p.items() if v is not None} for p in SPEC["prompts"]]}, base_dir=ROOT)
    cfg = settings(root=root, tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")
    return wb.run(spec, settings=cfg, progress=False)


def test_real_sweep_logs_four_finished_variants(result) -> None:  # type: ignore[no-untyped-def]
    assert [v.status for v in result.variants] == ["FINISHED"] * 4, [v.outcome.error for v in result.variants]
    with global_tracking_uri(result.tracking_uri):
        runs = mlflow.search_runs(experiment_ids=[result.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{result.parent_run_id}'")
    assert len(runs) == 4
    assert set(runs["params.chunker.strategy"]) == {"markdown", "token"}
    assert (runs["metrics.output_tokens"] > 0).all()
    assert (runs["metrics.cost_usd"] == 0).all()
    assert runs["metrics.hit_at_k"].between(0, 1).all()
    assert (runs["tags.workbench.versions"].str.contains("llama-cpp-python")).all()
    traces = MlflowClient(result.tracking_uri).search_traces(locations=[result.experiment_id], run_id=result.variants[0].run_id)
    assert len(traces) == QUESTIONS and all(t.info.assessments for t in traces)


def test_real_answers_are_trimmed_completions(result) -> None:  # type: ignore[no-untyped-def]
    for variant in result.variants:
        table = load_variant_table(variant.run_id, tracking_uri=result.tracking_uri)
        assert len(table) == QUESTIONS
        assert table["answer"].str.len().gt(0).any()
        assert not table["answer"].str.contains("Question:").any()
        assert (table["input_tokens"] > 0).all()


def test_chunkers_retrieve_differently(result) -> None:  # type: ignore[no-untyped-def]
    by_chunker: dict[str, list[tuple[str, ...]]] = {}
    for v in result.variants:
        by_chunker.setdefault(v.variant.chunker.strategy, [tuple(h.chunk.id for h in r.hits) for r in v.records])
    assert by_chunker["markdown"] != by_chunker["token"]
    stats = {v.variant.chunker.strategy: v.chunk_stats.count for v in result.variants}
    assert stats["token"] > stats["markdown"] >= 8


def test_cli_run_and_list_against_the_same_store(result, root: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    exp = root / "exp.yaml"
    exp.write_text(_edited((ROOT / "experiments" / "handbook.yaml").read_text(),
                           ("../datasets", str(ROOT / "datasets")), ("prompts/", str(ROOT / "experiments" / "prompts") + "/"),
                           ("name: handbook", "name: handbook-it"), ("max_tokens: 64", "max_tokens: 12"),
                           # one variant: the CLI is the subject here; its chunker that of the sweep above, whose index
                           # it opens rather than builds again
                           ("  - strategy: recursive\n    size: 600\n    overlap: 60\n", ""),
                           ("  - strategy: markdown\n    size: 600\n", "  - strategy: markdown\n    size: 400\n"),
                           ("  - k: 3\n    search: similarity\n", "")))
    env = {**os.environ, "WORKBENCH_ROOT": str(root), "MLFLOW_TRACKING_URI": result.tracking_uri}
    run = subprocess.run([sys.executable, "-m", "workbench.cli", "run", str(exp), "--limit", "1", "--no-progress"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "grounded|gemma3-270m|markdown-400/0|k3-mmr" in run.stdout
    assert "workbench ui" in run.stdout
    # neither llama.cpp's warnings ("using full-size SWA cache" for every Gemma loaded) nor transformers' weight-loading
    # bar reach the output, from this process or its workers
    assert "llama_" not in run.stdout + run.stderr and "Loading weights" not in run.stdout + run.stderr, run.stderr[-2000:]
    capsys.readouterr()
    assert main(["--tracking-uri", result.tracking_uri, "list", "handbook-it"]) == 0  # the CLI's entry point ran above
    assert capsys.readouterr().out.count("handbook-it-") == 2  # two sweeps


def _edited(text: str, *replacements: tuple[str, str]) -> str:
    """``text`` with each replacement made; one that no longer matches fails here rather than silently keeping the
    handbook's original setting."""
    for old, new in replacements:
        assert old in text, f"experiments/handbook.yaml no longer contains {old!r}"
        text = text.replace(old, new)
    return text


def test_a_model_sampled_above_temperature_0_with_top_k_runs_through_a_real_sweep(result, root: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A model entry's own temperature above 0 lets it take top_k (refused at 0): llama.cpp samples with it in a sweep, so
    top_k 1, the likeliest token alone, answers as greedy decoding does, and the variant logs its top_k. In the module
    sweep's home: its index, and its greedy answers (the same prompt, chunker and params) from the answer cache."""
    from workbench.tracking import MemoryTracker

    greedy = {"id": "local:gemma3-270m", "params": {"max_tokens": 24}}
    top_1 = {"id": "local:gemma3-270m", "name": "gemma-top1", "params": {"max_tokens": 24, "temperature": 0.9, "top_k": 1}}
    spec = ExperimentSpec.from_dict({**SPEC, "prompts": [{"name": "plain", "template": SPEC["prompts"][1]["template"]}],
                                     "chunkers": SPEC["chunkers"][:1], "models": [greedy, top_1]}, base_dir=ROOT)
    sampled = wb.run(spec, settings=settings(root=root, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}"), progress=False,
                     tracker=MemoryTracker())
    by_greedy, by_top_1 = sampled.variants
    assert [v.status for v in sampled.variants] == ["FINISHED"] * 2, [v.outcome.error for v in sampled.variants]
    module_greedy = next(v for v in result.variants if v.variant.prompt.name == "plain" and v.variant.chunker.strategy == "markdown")
    assert [r.answer for r in by_greedy.records] == [r.answer for r in module_greedy.records] and by_greedy.metrics["cache_hits"] == QUESTIONS
    assert by_top_1.metrics["generation_calls"] == QUESTIONS  # sampled by llama.cpp in this sweep, not read from a cache
    assert [r.answer for r in by_top_1.records] == [r.answer for r in by_greedy.records] and by_greedy.records[0].answer
    assert by_top_1.variant.params()["model.params.top_k"] == "1" and "model.params.top_k" not in by_greedy.variant.params()
