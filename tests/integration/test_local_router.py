"""A router on the real local models: SmolLM2 answers first, Gemma 3 270M answers what the router escalates, with real
MiniLM retrieval and grounding, real Chroma and a real sqlite MLflow store. Each question's escalation is checked
against signals the test measures itself (the best retrieval score, the cheap answer, its MiniLM similarity to the
retrieved chunks), per record and per logged trace.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

import workbench as wb
from workbench.config import Settings
from workbench.metrics import cosine, is_refusal
from workbench.models import GEMMA_ID, SMOLLM2_ID
from workbench.models._local import MiniLMEmbedder
from workbench.spec import ExperimentSpec

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow]

RETRIEVAL_BELOW, GROUNDING_BELOW = 0.35, 0.5


def test_the_router_escalates_exactly_the_questions_whose_signal_fires(real_settings: Settings, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))  # every answer is the model's, not another test's
    cheap, strong = {"id": SMOLLM2_ID, "params": {"max_tokens": 16}}, {"id": GEMMA_ID, "params": {"max_tokens": 16}}
    # one question per outcome: hb-003 the cheap model answers, hb-005 (which the handbook cannot answer) escalates on
    # grounding after the cheap answer, the off-topic one on its retrieval score before any (the other handbook
    # questions only repeated the first two outcomes, each answer a real model call)
    questions = tmp_path / "questions.jsonl"
    lines = [line for line in (ROOT / "datasets" / "handbook.jsonl").read_text(encoding="utf-8").splitlines()
             if json.loads(line)["id"] in ("hb-003", "hb-005")]
    off_topic = {"id": "off-topic", "question": "At what temperature does tungsten melt?", "reference": "3422 degrees Celsius.",
                 "source_ids": [], "category": "unanswerable"}
    questions.write_text("\n".join([*lines, json.dumps(off_topic)]) + "\n", encoding="utf-8")
    spec = ExperimentSpec.from_dict({
        "name": "handbook-router",
        "dataset": {"path": str(questions)},
        "corpus": {"path": "datasets/handbook", "glob": "*.md"},
        "prompts": [{"name": "grounded", "template": (ROOT / "experiments/prompts/grounded.txt").read_text(encoding="utf-8")}],
        "models": [{"router": {"name": "smollm2-then-gemma3", "cheap": cheap, "strong": strong, "escalate_when": {
            "retrieval_score_below": RETRIEVAL_BELOW, "refusal_or_empty": True, "grounding_below": GROUNDING_BELOW}}}],
        "chunkers": [{"strategy": "markdown", "size": 400, "overlap": 0}],
        "retrieval": [{"k": 2}],
        "scorers": ["token_f1"],
        "execution": {"isolation": "none"},
    }, base_dir=ROOT)
    result = wb.run(spec, settings=real_settings, progress=False)
    assert not result.failed, [v.outcome.error for v in result.failed]
    routed = result.variants[0]
    minilm = MiniLMEmbedder()

    expected: dict[str, tuple[str, ...]] = {}
    for record in routed.records:
        best = max(h.score for h in record.hits)
        by_role = {c.role: c for c in record.calls}
        if best < RETRIEVAL_BELOW:  # decided before any answer: the cheap model is not asked
            fired: tuple[str, ...] = ("retrieval_score_below",)
            assert "cheap" not in by_role, record.case.id
        else:
            text = by_role["cheap"].generation.text  # type: ignore[union-attr]
            answer, *chunks = minilm.embed([text, *(h.chunk.text for h in record.hits)])
            grounding = max(cosine(answer, c) for c in chunks) if text.strip() else 0.0
            assert record.escalation is not None and record.escalation.signals.grounding == pytest.approx(grounding, abs=1e-4)
            if abs(grounding - GROUNDING_BELOW) < 1e-3:
                pytest.fail(f"{record.case.id}: grounding {grounding:.4f} is too close to the threshold for this test to decide")
            fired = tuple(name for name, fires in (("refusal_or_empty", not text.strip() or is_refusal(text)),
                                                   ("grounding_below", grounding < GROUNDING_BELOW)) if fires)
        expected[record.case.id] = fired
        assert record.escalation is not None and record.escalation.fired == fired, record.case.id
        assert record.escalated == bool(fired) and record.answered_by == (GEMMA_ID if fired else SMOLLM2_ID), record.case.id
        assert ("strong" in by_role) == bool(fired), record.case.id
    assert 0 < sum(1 for f in expected.values() if f) < len(expected), expected  # both outcomes occur on these questions
    assert expected["off-topic"] == ("retrieval_score_below",)  # nothing in the handbook is about tungsten

    traces = MlflowClient(real_settings.tracking_uri).search_traces(locations=[result.experiment_id], run_id=routed.run_id)
    assert {t.info.tags["workbench.case_id"] for t in traces} == set(expected)
    for trace in traces:
        tags, fired = trace.info.tags, expected[trace.info.tags["workbench.case_id"]]
        assert tags["workbench.escalated"] == ("true" if fired else "false")
        assert tags["workbench.answered_by"] == (GEMMA_ID if fired else SMOLLM2_ID)
        reasons = tags.get("workbench.escalation_reasons", "")
        assert [r.split(":")[0].strip() for r in reasons.split(";") if r.strip()] == list(fired)
    assert routed.metrics["escalation_rate"] == pytest.approx(sum(1 for f in expected.values() if f) / len(expected))
