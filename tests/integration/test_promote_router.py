"""A router promoted end to end on the real local models: the router of experiments/routing.yaml (SmolLM2 escalating
to Gemma 3 270M, MiniLM retrieval and grounding) swept on a few questions, promoted, exported into a git repository and
reloaded from its bundle alone; the bundle replays the evaluated questions and the same model answers each, for the
same reasons, with the same answer, as the run's traces say."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

import workbench as wb
from workbench.config import Settings
from workbench.models import GEMMA_ID, SMOLLM2_ID
from workbench.datasets import load_corpus
from workbench.pipeline import chunk_document
from workbench.spec import CorpusRef, ModelSpec, RouterEntry, load_experiment

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow]
PICKED = ("py-001", "py-005", "py-008")
# each picked question's three best chunks in the whole python-reference corpus (chunked and embedded as routing.yaml
# says), each the one document of a file: a document under the chunk size is its one chunk, so a corpus of them alone
# retrieves the same chunks with the same scores (a chunk's score is its own similarity to the question, and grounding
# compares an answer with the retrieved chunks only), and the prompts, answers and escalations are the whole corpus's,
# while its MiniLM index embeds 9 chunks, not the 201 of their documents (17 s of CPU) or the whole corpus's
RETRIEVED = ("for#1-602e76aa", "compound#5-cf415553", "compound#6-5c1c06a9", "import#6-f8bb5bc1", "dict#2-332c11ba",
             "identifiers#0-941abc47", "specialnames#14-4941a464", "customization#13-4941a464", "debugger#7-60327045")


def answers_of_24_tokens(model: ModelSpec) -> ModelSpec:
    """The model answering in at most 24 tokens instead of routing.yaml's 64: each answer is decoded twice (by the sweep,
    then by the bundle), and the shorter answers keep the three outcomes."""
    return model.model_copy(update={"params": model.params.model_copy(update={"max_tokens": 24})})


def test_a_promoted_router_bundle_answers_the_evaluated_questions_as_the_router_did(real_settings: Settings, tmp_path: Path,
                                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))  # every answer is the model's, not another test's
    spec = load_experiment(ROOT / "experiments" / "routing.yaml")
    router = next(m for m in spec.models if isinstance(m, RouterEntry))
    shorter = {role: answers_of_24_tokens(getattr(router.router, role)) for role in ("cheap", "strong")}
    router = router.model_copy(update={"router": router.router.model_copy(update=shorter)})
    # three of its questions, one per outcome (README "Routing"): py-001 the cheap model answers, py-005 (unanswerable)
    # escalates on grounding after the cheap answer, py-008 (a harmful request) on its retrieval score before any
    questions = tmp_path / "questions.jsonl"
    lines = (ROOT / "datasets" / "python_docs.jsonl").read_text(encoding="utf-8").splitlines()
    questions.write_text("".join(f"{line}\n" for line in lines if json.loads(line)["id"] in PICKED), encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (chunker,) = spec.chunkers
    kept = {c.id: c for doc in load_corpus(spec.corpus.builtin or "").documents if doc.id in {r.split("#")[0] for r in RETRIEVED}
            for c in chunk_document(doc, chunker)}
    assert set(RETRIEVED) <= set(kept), "the python-reference corpus or the chunker changed: find each question's best chunks again"
    for chunk_id in RETRIEVED:  # named after its document (the questions' source ids), a second one of it numbered
        doc, n = chunk_id.split("-")[0].split("#")
        name = doc if not (corpus / f"{doc}.md").exists() else f"{doc}-{n}"
        (corpus / f"{name}.md").write_text(kept[chunk_id].text, encoding="utf-8")
    spec = spec.model_copy(update={"models": (router,), "dataset": spec.dataset.model_copy(update={"path": str(questions), "limit": None}),
                                   "corpus": CorpusRef(path=str(corpus)),
                                   "execution": spec.execution.model_copy(update={"isolation": "none"})})
    result = wb.run(spec, settings=real_settings, progress=False)
    assert not result.failed, [v.outcome.error for v in result.failed]
    routed = result.variants[0]
    traces = MlflowClient(real_settings.tracking_uri).search_traces(locations=[result.experiment_id], run_id=routed.run_id)
    evaluated = {t.info.tags["workbench.case_id"]: t.info.tags for t in traces}
    assert set(evaluated) == {r.case.id for r in routed.records}
    retrieved = {h.chunk.text for r in routed.records for h in r.hits}
    assert retrieved == {kept[c].text for c in RETRIEVED}  # every kept chunk is retrieved, whole (each file is one chunk)
    assert all(len(r.hits) == 3 for r in routed.records)

    promoted = wb.promote(routed.run_id, name="routed-docs", alias="staging", settings=real_settings,
                          gates=[{"kind": "min_questions", "n": len(PICKED)}])
    repo = tmp_path / "deploy"
    repo.mkdir()
    subprocess.run(["git", "-C", str(repo), "init", "-q"], check=True)
    exported = wb.export("routed-docs", "staging", repo=repo, settings=real_settings, checkout=True)
    written = yaml.safe_load((exported.path / "config.yaml").read_text(encoding="utf-8"))
    assert (written["router"]["cheap"]["id"], written["router"]["strong"]["id"]) == (SMOLLM2_ID, GEMMA_ID)
    assert set(written["weights"]) == {SMOLLM2_ID, GEMMA_ID} and written["generator"]["packages"]  # both GGUF files pinned
    assert written["embedder"]["identity"] and written["config_hash"] == promoted.config_hash

    bundle = wb.load_bundle(exported.path)  # the sweep's index, by its content key (a fresh one is test_promote_bundle's)
    for record in routed.records:
        tags = evaluated[record.case.id]
        got = bundle.answer(record.case.question)
        assert (got.model, got.escalated) == (tags["workbench.answered_by"], tags["workbench.escalated"] == "true"), record.case.id
        assert "; ".join(got.escalation_reasons) == tags.get("workbench.escalation_reasons", ""), record.case.id
        assert got.answer == record.answer, record.case.id
    escalated = sum(1 for r in routed.records if r.escalated)
    assert 0 < escalated < len(routed.records), "both outcomes occur on these questions"
