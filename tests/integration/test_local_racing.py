"""Racing on the real local models: Gemma 3 270M and SmolLM2 answer the handbook questions with real MiniLM retrieval
(real Chroma, a real sqlite MLflow store), against one planted hopeless variant, a scripted model that always answers
"banana". The sweep runs in the caller's process (the worker processes are tested with scripted models).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench as wb
from workbench.config import Settings
from workbench.execution import racing_order
from workbench.models import GEMMA_ID, SMOLLM2_ID
from workbench.spec import ExperimentSpec
from workbench.testing import ScriptedModel

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow]

BANANA_ID = "llamacpp:/planted/banana.gguf"
QUESTIONS = 6
SEED = 3  # racing asks the handbook's first six questions in an order drawn from the seed: at 3 its first four are
# answerable, so after them the banana has min_questions scores


def spec(racing: bool) -> ExperimentSpec:
    return ExperimentSpec.from_dict({
        "name": "handbook-racing",
        "dataset": {"path": "datasets/handbook.jsonl", "limit": QUESTIONS},
        "corpus": {"path": "datasets/handbook", "glob": "*.md"},
        "prompts": [{"name": "grounded", "template": (ROOT / "experiments/prompts/grounded.txt").read_text(encoding="utf-8")}],
        "models": [{"id": GEMMA_ID, "params": {"max_tokens": 12}}, {"id": SMOLLM2_ID, "params": {"max_tokens": 12}}, {"id": BANANA_ID}],
        "chunkers": [{"strategy": "markdown", "size": 400, "overlap": 0}],
        "retrieval": [{"k": 2}],
        "scorers": ["token_f1"],
        "seed": SEED,
        # at 95% four questions carry no verdict (the interval is only the range of the differences): at 80% they do
        "execution": {"isolation": "none", **({"racing": {"metric": "token_f1", "min_questions": 4, "batch": 4, "confidence": 0.8}}
                                              if racing else {})},
    }, base_dir=ROOT)


def test_racing_the_real_models_stops_the_hopeless_variant_and_finishing_it_later_costs_only_its_missing_questions(
    real_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))  # no answer cached by another test
    banana = ScriptedModel(lambda prompt: "banana", model_id=BANANA_ID, identity="scripted:racing-banana")
    raced = wb.run(spec(racing=True), settings=real_settings, models={BANANA_ID: banana}, progress=False)
    first_four = racing_order([c.id for c in raced.dataset.cases], SEED)[:4]
    assert {c.category for c in raced.dataset.cases if c.id in first_four} == {"answerable"}

    assert not raced.failed, [v.outcome.error for v in raced.failed]
    by_model = {v.variant.model.id: v for v in raced.variants}  # type: ignore[union-attr]
    stopped = by_model[BANANA_ID]
    assert stopped.stopped_early is not None and stopped.stopped_early.questions == 4 and stopped.stopped_early.high < 0
    assert stopped.stopped_early.leader in (by_model[GEMMA_ID].variant.name, by_model[SMOLLM2_ID].variant.name)
    assert len(banana.calls) == 4 and stopped.metrics["generation_calls"] == 4
    for model in (GEMMA_ID, SMOLLM2_ID):  # the real models are kept: they answer every question, each once
        kept = by_model[model]
        assert kept.stopped_early is None and len(kept.records) == QUESTIONS, kept.stopped_early
        assert kept.metrics["generation_calls"] == QUESTIONS and kept.metrics["token_f1"] > 0.1
        assert all(r.answer.strip() for r in kept.records)

    finished = wb.run(spec(racing=False), settings=real_settings, models={BANANA_ID: banana}, progress=False)
    again = {v.variant.model.id: v for v in finished.variants}  # type: ignore[union-attr]
    assert again[GEMMA_ID].reused_from == by_model[GEMMA_ID].run_id and again[SMOLLM2_ID].reused_from == by_model[SMOLLM2_ID].run_id
    rest = again[BANANA_ID]
    assert rest.reused_from is None and rest.stopped_early is None and len(rest.records) == QUESTIONS
    assert rest.metrics["generation_calls"] == QUESTIONS - 4 and rest.metrics["cache_hits"] == 4
    assert len(banana.calls) == QUESTIONS  # the banana's missing questions, and no real model was called again
    assert sum(v.metrics["generation_calls"] for v in finished.variants if v.reused_from is None) == QUESTIONS - 4
