"""Promotion end to end with the real local models: a tiny real sweep (Gemma 3 270M, MiniLM, Chroma, sqlite MLflow),
promoted to staging then production, exported into a git repository, reloaded from the bundle alone, and the
reloaded pipeline gives the promoted run's answers (temperature 0) and sources."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from mlflow import MlflowClient

import workbench as wb
from workbench.config import Settings
from workbench.spec import ExperimentSpec
from workbench.tracking import load_variant_table

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_promoted_config_is_exported_and_reproduced_from_its_bundle(real_settings: Settings, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_USER", "integration")
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))  # every answer is the model's, not another test's
    spec = ExperimentSpec.from_dict({
        "name": "promote-integration",
        "dataset": {"path": "datasets/handbook.jsonl", "limit": 3},
        "corpus": {"path": "datasets/handbook", "glob": "*.md"},  # small: the bundle re-embeds it in a second
        "prompts": [{"name": "grounded", "template": (ROOT / "experiments" / "prompts" / "grounded.txt").read_text()}],
        "models": [{"id": "local:gemma3-270m", "params": {"temperature": 0.0, "max_tokens": 24}}],
        "chunkers": [{"strategy": "recursive", "size": 400, "overlap": 40}],
        "retrieval": [{"embedding": "local:all-minilm-l6-v2", "k": 2}],
        "promotion": {"gates": [{"kind": "min_questions", "n": 3}, {"kind": "max_cost_per_answer", "usd": 0.0},
                                {"kind": "metric", "metric": "hit_at_k", "min": 0.0}]},
        "execution": {"isolation": "none"},  # a real sweep in worker processes is test_local_sweep's
    }, base_dir=ROOT)
    cfg = real_settings
    result = wb.run(spec, settings=cfg, progress=False)
    variant = result.variants[0]
    assert variant.status == "FINISHED", variant.outcome.error

    staged = wb.promote(variant.run_id, name="python-docs-assistant", alias="staging", settings=cfg)
    live = wb.promote(variant.run_id, name="python-docs-assistant", alias="production", settings=cfg)
    assert staged.report.passed and live.version == staged.version == "1"
    client = MlflowClient(cfg.tracking_uri, registry_uri=cfg.tracking_uri)
    assert set(client.get_registered_model("python-docs-assistant").aliases) == {"staging", "production"}
    assert client.get_prompt_version_by_alias("python-docs-assistant-prompt", "production").template.count("{{question}}") == 1

    repo = tmp_path / "deploy"
    repo.mkdir()
    git(repo, "init", "-q")
    exported = wb.export("python-docs-assistant", "production", repo=repo, settings=cfg, checkout=True)
    assert git(repo, "status", "--porcelain") == ""
    assert (exported.path / "EVALUATION.md").read_text().startswith("# python-docs-assistant @ production — v1")

    # rebuilt from the bundle alone (the corpus folder is named: the bundle lives in another repository)
    bundle = wb.load_bundle(exported.path, corpus_path=ROOT / "datasets" / "handbook", index_dir=tmp_path / "fresh-index")
    table = load_variant_table(variant.run_id, tracking_uri=cfg.tracking_uri)
    assert len(table) == 3
    for row in table.itertuples():
        got = bundle.answer(row.question)
        assert list(got.source_ids) == list(row.retrieved_ids), row.case_id
        assert got.answer == row.answer, row.case_id
    assert table["answer"].str.len().gt(0).any()
