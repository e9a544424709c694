"""How many store transactions logging a variant run takes (a real sqlite store, fakes for the models), and that the
files written in fewer of them are the files MLflow's own calls write."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench.config import settings
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.spec import dump_yaml
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import MlflowTracker

from tests.conftest import copy_store, mlflow_client

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = 4


def _spec() -> wb.ExperimentSpec:
    return wb.ExperimentSpec.from_dict({
        "name": "round-trips", "dataset": {"path": "datasets/python_docs.jsonl", "limit": QUESTIONS},
        "corpus": {"builtin": "python-reference"},
        "prompts": [{"name": "plain", "template": "{context} Q: {question}"},
                    {"name": "briefly", "template": "Q: {question} {context}", "system": "Answer briefly."}],
        "models": [{"id": GEMMA_ID}], "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
        "retrieval": [{"k": 2}], "scorers": ["token_f1", "hit_at_k"], "execution": {"isolation": "none"},
    }, base_dir=ROOT)


class _Calls:
    """A client whose calls are counted by name while ``counting`` holds a counter."""

    def __init__(self, inner: Any, tracker: _Counting) -> None:
        self._inner, self._tracker = inner, tracker

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if not callable(found):
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            if self._tracker.counting is not None:
                self._tracker.counting[name] += 1
            return found(*args, **kwargs)

        return counted


class _Counting(MlflowTracker):
    """A tracker counting, for each variant it logs and for the sweep's end, the calls it makes to MLflow's clients and
    the store transactions (each ``BEGIN`` on the store's database, whichever call opened it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.counting: collections.Counter[str] | None = None
        self.variants: list[collections.Counter[str]] = []
        self.ends: list[collections.Counter[str]] = []
        self.client, self.tracing = _Calls(self.client, self), _Calls(self.tracing, self)

    def _counted(self, into: list[collections.Counter[str]], call: Any, *args: Any, **kwargs: Any) -> Any:
        self.counting = collections.Counter()
        try:
            return call(*args, **kwargs)
        finally:
            into.append(self.counting)
            self.counting = None

    def log_variant(self, *args: Any, **kwargs: Any) -> Any:
        return self._counted(self.variants, super().log_variant, *args, **kwargs)

    def end_sweep(self, *args: Any, **kwargs: Any) -> None:
        self._counted(self.ends, super().end_sweep, *args, **kwargs)

    def began(self, *_: Any) -> None:
        if self.counting is not None:
            self.counting["transactions"] += 1


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> tuple[_Counting, wb.SweepResult]:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    root = tmp_path_factory.mktemp("round-trips")
    wb_settings = settings(root=root, tracking_uri=copy_store(empty_store, root))
    tracker = _Counting(wb_settings.tracking_uri, artifact_root=wb_settings.artifact_root)
    models = {GEMMA_ID: ScriptedModel(lambda p: "an answer", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    event.listen(Engine, "begin", tracker.began)
    try:
        result = wb.run(_spec(), settings=wb_settings, models=models, index_store=MemoryIndexStore(), tracker=tracker, progress=False)
    finally:
        event.remove(Engine, "begin", tracker.began)
    return tracker, result


def test_a_variant_run_is_logged_in_one_batch_one_folder_of_files_its_traces_and_its_end(counted: tuple[_Counting, wb.SweepResult]) -> None:
    """Each artifact of a variant run went through ``MlflowClient`` (prompt, system message, variant.yaml, chunk
    statistics, the results table, the trace ids), each looking the run up for its artifact location, and
    ``log_table`` listed the run's files, read the run once more and set its ``mlflow.loggedArtifacts`` tag alone:
    23 store transactions for a variant of 4 questions, 19 now (the rest: the run, its batch, 2 per trace and their
    spans, the traces linked, the dataset, its end)."""
    tracker, result = counted
    assert len(tracker.variants) == 2 and all(v.status == "FINISHED" for v in result.variants)
    for calls in tracker.variants:
        transactions = calls.pop("transactions")
        assert calls == {"create_run": 1, "log_batch": 1, "start_trace": QUESTIONS, "log_spans": 1, "link_traces_to_run": 1,
                         "log_inputs": 1, "set_terminated": 1}, calls
        assert transactions <= 2 * QUESTIONS + 11, transactions


def test_a_variant_runs_files_and_tags_are_those_mlflows_own_calls_write(counted: tuple[_Counting, wb.SweepResult]) -> None:
    """The files written in one folder are, byte for byte, what ``log_text``, ``log_dict`` and ``log_table`` write for the
    same values (redacted), and the run is tagged as ``log_table`` tags it: the MLflow UI shows its table as one."""
    from workbench.tracking._redact import redacted

    _, result = counted
    client = mlflow_client(result.tracking_uri)
    variant = next(v for v in result.variants if v.variant.prompt is not None and v.variant.prompt.system)
    run = client.get_run(variant.run_id)
    reference = client.create_run(run.info.experiment_id).info.run_id
    prompt = variant.variant.prompt
    client.log_text(reference, prompt.template or "", "prompt_template.txt")
    client.log_text(reference, prompt.system or "", "prompt_system.txt")
    client.log_text(reference, dump_yaml(variant.variant.to_dict()), "variant.yaml")
    client.log_dict(reference, variant.chunk_stats.as_dict(), "chunk_stats.json")
    client.log_table(reference, redacted(variant.records_frame()), "eval_results.json")
    logged = Path(run.info.artifact_uri.removeprefix("file://"))
    client.log_dict(reference, json.loads((logged / "trace_ids.json").read_text()), "trace_ids.json")
    expected = Path(client.get_run(reference).info.artifact_uri.removeprefix("file://"))
    assert sorted(p.name for p in logged.iterdir()) == sorted(p.name for p in expected.iterdir())
    for path in expected.iterdir():
        assert (logged / path.name).read_bytes() == path.read_bytes(), path.name
    tag = "mlflow.loggedArtifacts"
    assert run.data.tags[tag] == client.get_run(reference).data.tags[tag] == json.dumps([{"path": "eval_results.json", "type": "table"}])


def test_the_sweeps_end_tags_its_leaderboard_a_table_in_the_batch_of_its_totals(counted: tuple[_Counting, wb.SweepResult]) -> None:
    """The parent run's ``mlflow.loggedArtifacts`` tag (its leaderboard is a table) was set by a call, and a transaction,
    of its own after its totals' ``log_batch``."""
    tracker, result = counted
    (calls,) = tracker.ends
    assert "set_tag" not in calls and calls["log_batch"] == 1, calls  # comparison plots are off: no comparison key either
    tags = mlflow_client(result.tracking_uri).get_run(result.parent_run_id).data.tags
    assert json.loads(tags["mlflow.loggedArtifacts"]) == [{"path": "leaderboard.json", "type": "table"}]
