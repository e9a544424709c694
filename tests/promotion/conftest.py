"""A tiny folder corpus, a dataset over it, and a fake sweep with a good and a bad prompt, logged to a temp sqlite
MLflow store once per test module (tests use distinct registered model names so they do not interfere)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from tests.promotion._answers import CASES, MORE_CASES, REFERENCES, partly_right_answer, scripted_answer  # noqa: F401 (theirs)
from workbench.config import Settings, settings
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.spec import ExperimentSpec
from workbench.testing import HashingEmbedder, ScriptedModel

DOCS = {
    "loops": "# Loops\n\nA for loop iterates over the items of a sequence. The else clause of a loop runs when the loop ends without break.",
    "functions": "# Functions\n\nA function is defined with def. The return statement leaves the function and gives back a value.",
    "classes": "# Classes\n\nA class is defined with class. Instances are created by calling the class object.",
    "errors": "# Errors\n\nExceptions are raised with raise and handled with try and except clauses.",
}
GOOD = "GOOD. Context: {context}\nQuestion: {question}\nAnswer:"
BAD = "BAD. Context: {context}\nQuestion: {question}\nAnswer:"


def fake_models() -> dict[str, Any]:
    return {GEMMA_ID: ScriptedModel(scripted_answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}


def write_project(root: Path, *, promotion: dict[str, Any] | None = None, seed: int = 0, cases: list[dict[str, Any]] = CASES) -> ExperimentSpec:
    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for doc_id, text in DOCS.items():
        (corpus / f"{doc_id}.md").write_text(text, encoding="utf-8")
    (root / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    data: dict[str, Any] = {
        "name": "promo",
        "dataset": {"path": "cases.jsonl"},
        "corpus": {"path": "corpus"},
        "prompts": [{"name": "good", "template": GOOD}, {"name": "bad", "template": BAD}],
        "models": [{"id": GEMMA_ID, "params": {"max_tokens": 16}}],
        "chunkers": [{"strategy": "recursive", "size": 200, "overlap": 20}],
        "retrieval": [{"k": 2}],
        "seed": seed,
    }
    if promotion is not None:
        data["promotion"] = promotion
    return ExperimentSpec.from_dict(data, base_dir=root)


@dataclass(frozen=True)
class Swept:
    """A finished fake sweep: its settings, result, and the variant run ids by prompt name."""

    root: Path
    settings: Settings
    result: wb.SweepResult

    def run_id(self, prompt: str) -> str:
        return next(v.run_id for v in self.result.variants if v.variant.prompt.name == prompt)  # type: ignore[return-value]


def sweep(root: Path, *, promotion: dict[str, Any] | None = None, seed: int = 0, models: dict[str, Any] | None = None,
          cases: list[dict[str, Any]] = CASES) -> Swept:
    cfg = settings(root=root, tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")
    result = wb.run(write_project(root, promotion=promotion, seed=seed, cases=cases), settings=cfg, models=models or fake_models(), progress=False)
    assert [v.status for v in result.variants] == ["FINISHED", "FINISHED"], [v.outcome.error for v in result.variants]
    return Swept(root, cfg, result)


GATES = [
    {"kind": "metric", "metric": "token_f1", "min": 0.5},
    {"kind": "min_questions", "n": 5},
    {"kind": "beats_holder", "metric": "token_f1"},
]


@pytest.fixture(scope="package")
def swept(tmp_path_factory: pytest.TempPathFactory, _user: None) -> Swept:
    """One fake sweep shared by every test of this package (each test uses its own registered model names)."""
    return sweep(tmp_path_factory.mktemp("promo"), promotion={"gates": GATES})


@pytest.fixture(scope="package")
def seeded(tmp_path_factory: pytest.TempPathFactory, _user: None) -> Swept:
    """A sweep with seed 7 over 8 questions whose answers are partly right, each question to its own degree: its
    intervals depend on the seed they are resampled with."""
    models = {GEMMA_ID: ScriptedModel(partly_right_answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    return sweep(tmp_path_factory.mktemp("seeded"), seed=7, models=models, cases=CASES + MORE_CASES)


@pytest.fixture(scope="package", autouse=True)
def _user() -> Iterator[None]:
    """Promotions in these tests are made by "alice" (module-scoped fixtures promote too, hence package scope)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_USER", "alice")
        yield


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def deploy_repo(tmp_path: Path) -> Path:
    """A git repository with one commit (a README) and a configured identity."""
    repo = tmp_path / "deploy"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Deploy Bot")
    git(repo, "config", "user.email", "deploy@example.invalid")
    (repo / "README.md").write_text("deployment repo\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "init")
    return repo
