"""A sweep that fails, and whose parent run then cannot be ended either, raises its own error, not the second one
(``runner.run``'s ``finally``); a tracking server found down makes one ``TrackingUnavailable`` saying both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.spec import ExperimentSpec
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import MemoryTracker, TrackingUnavailable

ROOT = Path(__file__).resolve().parents[2]


def spec() -> ExperimentSpec:
    return ExperimentSpec.from_dict({
        "name": "end-sweep",
        "dataset": {"path": "datasets/python_docs.jsonl", "limit": 2},
        "corpus": {"builtin": "python-reference"},
        "prompts": [{"name": "p1", "template": "Context: {context}\nQuestion: {question}\nAnswer:"}],
        "models": [{"id": GEMMA_ID, "params": {"max_tokens": 8}}],
        "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
        "scorers": ["token_f1"],
        "execution": {"isolation": "none"},
    }, base_dir=ROOT)


class Failing(MemoryTracker):
    """Logging a variant raises ``log_error``; ending the sweep raises ``end_error``."""

    def __init__(self, log_error: Exception, end_error: Exception) -> None:
        super().__init__()
        self.log_error, self.end_error = log_error, end_error

    def start_sweep(self, *args: Any, **kwargs: Any) -> Any:
        self.sweep = super().start_sweep(*args, **kwargs)
        return self.sweep

    def log_variant(self, *args: Any, **kwargs: Any) -> Any:
        raise self.log_error

    def end_sweep(self, *args: Any, **kwargs: Any) -> None:
        raise self.end_error


def sweep(tracker: MemoryTracker, wb_settings: Any) -> None:
    models = {GEMMA_ID: ScriptedModel(lambda p: "an answer", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    wb.run(spec(), tracker=tracker, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False)


def test_the_sweeps_own_error_is_raised_when_its_parent_run_cannot_be_ended(wb_settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError, match="the real failure") as info:
        sweep(Failing(RuntimeError("the real failure"), ConnectionError("store gone")), wb_settings)
    assert any("could not be ended" in note and "store gone" in note for note in getattr(info.value, "__notes__", []))


def test_a_server_found_down_is_one_error_naming_the_unended_parent_run(wb_settings) -> None:  # type: ignore[no-untyped-def]
    down = TrackingUnavailable("http://mlflow.example:5000", "logging a variant", "connection refused")
    tracker = Failing(down, TrackingUnavailable("http://mlflow.example:5000", "ending the sweep", "still down"))
    with pytest.raises(TrackingUnavailable) as info:
        sweep(tracker, wb_settings)
    assert info.value is down
    line = str(info.value)
    assert "\n" not in line
    assert line.startswith("tracking server http://mlflow.example:5000 stopped answering while logging a variant (connection refused)")
    assert "start the server again and re-run" in line
    assert f"the sweep's parent run {tracker.sweep.run_id} could not be ended" in line


class InterruptedWhileEnding(MemoryTracker):
    """Ctrl+C arrives while the sweep is being ended with its comparison (the slow part: plots, the comparison file)."""

    def end_sweep(self, sweep: Any, results: Any, status: str, *, comparison: Any = None, error: str | None = None, **given: Any) -> None:
        if comparison is not None:
            raise KeyboardInterrupt
        super().end_sweep(sweep, results, status, comparison=comparison, error=error, **given)


def test_ctrl_c_while_the_sweep_is_being_ended_still_ends_it_killed(wb_settings) -> None:  # type: ignore[no-untyped-def]
    tracker = InterruptedWhileEnding()
    with pytest.raises(KeyboardInterrupt):
        sweep(tracker, wb_settings)
    (parent,) = [r for r in tracker.runs.values() if r.parent_id is None]
    assert parent.status == "KILLED"  # not RUNNING until the next sweep of the experiment finds it abandoned
    assert "interrupted (KeyboardInterrupt) while the sweep was being ended" in parent.tags.values()
