"""Retrieval-only evaluation: chunkers x retrieval settings on retrieval metrics, no generator, logged to MLflow."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench as wb
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.retrieval_eval import RETRIEVAL_SCORERS, retrieval_grid
from workbench.spec import ChunkerSpec, RetrievalSpec
from workbench.testing import HashingEmbedder, ScriptedModel

ROOT = Path(__file__).resolve().parents[1]


def make_spec() -> wb.ExperimentSpec:
    return wb.ExperimentSpec.from_dict(
        {
            "name": "retrieval-lab",
            "dataset": {"path": "datasets/handbook.jsonl"},
            "corpus": {"path": "datasets/handbook", "glob": "*.md"},
            "prompts": [{"name": "p", "template": "{context} {question}"}],
            "models": [{"id": GEMMA_ID}],
            "chunkers": [{"strategy": "markdown", "size": 600, "overlap": 0}],
        },
        base_dir=ROOT,
    )


class CountingStore(MemoryIndexStore):
    def __init__(self) -> None:
        super().__init__()
        self.builds = 0

    def build(self, key, chunks, vectors):  # type: ignore[no-untyped-def]
        self.builds += 1
        return super().build(key, chunks, vectors)


def test_grid_is_chunkers_times_retrieval_without_duplicates() -> None:
    c1, c2 = ChunkerSpec(strategy="markdown", size=600, overlap=0), ChunkerSpec(strategy="recursive", size=300, overlap=30)
    r1, r2 = RetrievalSpec(k=1), RetrievalSpec(k=3, search="mmr", fetch_k=12)
    grid = retrieval_grid([c1, c2, c1], [r1, r2])
    assert [s.name for s in grid] == ["markdown-600/0|k1-similarity", "markdown-600/0|k3-mmr", "recursive-300/30|k1-similarity", "recursive-300/30|k3-mmr"]
    assert grid[0].id == retrieval_grid([c1], [r1])[0].id and len({s.id for s in grid}) == 4
    assert grid[0].index_key == grid[1].index_key != grid[2].index_key
    assert grid[3].params()["retrieval.fetch_k"] == "12" and grid[3].params()["chunker.strategy"] == "recursive"


def test_evaluates_retrieval_without_calling_a_generator_and_logs_comparable_runs(wb_settings) -> None:  # type: ignore[no-untyped-def]
    generator = ScriptedModel([], model_id=GEMMA_ID)  # an empty script: any generation call would raise
    store = CountingStore()
    events: list[wb.ProgressEvent] = []
    chunkers = [ChunkerSpec(strategy="markdown", size=600, overlap=0), ChunkerSpec(strategy="recursive", size=300, overlap=30)]
    retrieval = [RetrievalSpec(k=1), RetrievalSpec(k=4)]
    result = wb.evaluate_retrieval(
        make_spec(), chunkers=chunkers, retrieval=retrieval, settings=wb_settings, index_store=store, on_event=events.append,
        models={GEMMA_ID: generator, MINILM_ID: HashingEmbedder(model_id=MINILM_ID)},
    )
    assert generator.calls == [] and store.builds == 2
    assert [e.kind for e in events] == ["index_started", "index_built", "index_started", "index_built", "sweep_done"]
    assert [(e.done, e.total) for e in events if e.kind == "index_started"] == [(0, 2), (1, 2)]
    board = result.leaderboard()
    assert len(board) == 4 and set(board["status"]) == {"FINISHED"}
    assert set(RETRIEVAL_SCORERS) <= set(board.columns) and "token_f1" not in board.columns
    assert list(board["mrr"]) == sorted(board["mrr"], reverse=True)
    k1 = result.setup("markdown-600/0|k1-similarity")
    k4 = result.setup("markdown-600/0|k4-similarity")
    assert all(len(r.hits) == 1 for r in k1.records) and all(len(r.hits) == 4 for r in k4.records)
    assert k4.metrics["recall_at_k"] >= k1.metrics["recall_at_k"]  # more chunks can only find more sources
    frame = k4.records_frame()
    assert len(frame) == 21 and {"case_id", "retrieved_ids", "retrieval_scores", "mrr"} <= set(frame.columns)

    from mlflow import MlflowClient

    client = MlflowClient(wb_settings.tracking_uri)
    parent = client.get_run(result.parent_run_id)
    assert parent.data.tags["workbench.kind"] == "retrieval_sweep" and parent.info.status == "FINISHED"
    child = client.get_run(k4.run_id)
    assert child.data.params["chunker.strategy"] == "markdown" and child.data.params["retrieval.k"] == "4"
    assert child.data.metrics["mrr"] == pytest.approx(k4.metrics["mrr"])
    report = wb.compare([k1.run_id, k4.run_id], baseline=k1.run_id, metrics=["recall_at_k"], tracking_uri=wb_settings.tracking_uri)
    assert report.row(k4.run_id, "recall_at_k")["n"] == k4.metrics["questions"] - sum(1 for r in k4.records if not r.case.source_ids)


def test_a_broken_index_fails_its_setups_not_the_sweep(wb_settings) -> None:  # type: ignore[no-untyped-def]
    class Broken(MemoryIndexStore):
        def build(self, key, chunks, vectors):  # type: ignore[no-untyped-def]
            raise RuntimeError("disk full")

    result = wb.evaluate_retrieval(make_spec(), settings=wb_settings, index_store=Broken(), track=False,
                                   models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    assert [s.status for s in result.setups] == ["FAILED"]
    assert "disk full" in (result.setups[0].error or "") and result.parent_run_id is None


def test_progress_events_count_indexes_and_scoring(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec().model_copy(update={"chunkers": (ChunkerSpec(strategy="markdown", size=600, overlap=0), ChunkerSpec(strategy="sentence", size=400, overlap=0))})
    events: list[wb.ProgressEvent] = []
    wb.run(spec, settings=wb_settings, models=fake_models, index_store=MemoryIndexStore(), tracker=wb.tracking.MemoryTracker(),
           limit=2, progress=False, on_event=events.append)
    assert [(e.done, e.total) for e in events if e.kind == "index_started"] == [(0, 2), (1, 2)]
    scored = [(e.done, e.total, e.variant.name) for e in events if e.kind == "question_scored" and e.variant is not None]
    assert [(d, t) for d, t, _ in scored] == [(1, 2), (2, 2), (1, 2), (2, 2)]
    kinds = [e.kind for e in events]
    assert kinds.index("question_scored") > kinds.index("question_done") and kinds.index("question_scored") < kinds.index("variant_done")
