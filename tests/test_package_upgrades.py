"""What a sweep reuses after an upgrade of a library that computes its results (faked: no package is installed)."""

from __future__ import annotations

import importlib.metadata

import pytest

from tests.test_incremental import P1, Models, make_spec, sweep
from workbench.config import Settings


def test_runs_scored_by_ragas_metrics_are_scored_again_after_a_ragas_upgrade_and_only_they(
        wb_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # ragas's metrics (bleu, chrf, string_similarity..., and the judged ones' prompts and parsing) score these runs, but
    # the reuse key named workbench's version alone: a ragas installed over the pinned one reused runs scored by the old
    models = Models()
    scored_by_ragas = make_spec([P1], scorers=["token_f1", "string_similarity"])
    not_by_ragas = make_spec([P1], name="no-ragas")
    for spec in (scored_by_ragas, not_by_ragas):
        sweep(spec, wb_settings, models)
        assert all(v.reused_from for v in sweep(spec, wb_settings, models).variants)
    calls = models.calls
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "99.0.0" if name == "ragas" else real(name))
    assert not any(v.reused_from for v in sweep(scored_by_ragas, wb_settings, models).variants)
    assert models.calls == calls  # scored again from the cached answers
    assert all(v.reused_from for v in sweep(not_by_ragas, wb_settings, models).variants)
