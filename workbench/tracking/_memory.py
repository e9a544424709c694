"""An in-memory tracker for unit tests: records what would be logged, talks to nothing."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from workbench.datasets import Corpus, Dataset
from workbench.grid import Variant
from workbench.results import VariantResult
from workbench.spec import ExperimentSpec
from workbench.tracking._protocol import COMPARISON_FILE, SweepComparison, SweepHandle


@dataclass
class MemoryRun:
    run_id: str
    parent_id: str | None
    name: str
    status: str = "RUNNING"
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)


class MemoryTracker:
    """Keeps runs in ``self.runs`` (run id -> MemoryRun)."""

    def __init__(self) -> None:
        self.runs: dict[str, MemoryRun] = {}
        self._ids = itertools.count(1)

    def _new(self, name: str, parent: str | None) -> MemoryRun:
        run = MemoryRun(run_id=f"mem-{next(self._ids)}", parent_id=parent, name=name)
        self.runs[run.run_id] = run
        return run

    def start_sweep(self, spec: ExperimentSpec, dataset: Dataset, corpus: Corpus, variants: Sequence[Variant]) -> SweepHandle:
        run = self._new(spec.name, None)
        run.tags.update({"workbench.spec_hash": spec.hash, "workbench.dataset_hash": dataset.hash})
        return SweepHandle(sweep_id=run.run_id, run_id=run.run_id, experiment_id="memory", tracking_uri="memory:")

    def log_variant(self, sweep: SweepHandle, result: VariantResult, dataset: Dataset) -> VariantResult:
        run = self._new(result.variant.name, sweep.run_id)
        run.params.update(result.variant.params())
        run.metrics.update(result.metrics)
        run.tags["workbench.variant_id"] = result.variant.id
        run.artifacts["eval_results"] = result.records_frame()
        run.status = result.status
        return replace(result, run_id=run.run_id)

    def end_sweep(
        self, sweep: SweepHandle, results: Sequence[VariantResult], status: str, *, comparison: SweepComparison | None = None
    ) -> None:
        run = self.runs[sweep.run_id]
        run.status = status
        if comparison is not None:
            run.artifacts[COMPARISON_FILE] = comparison.to_dict()

    def children(self, parent_id: str) -> list[MemoryRun]:
        return [r for r in self.runs.values() if r.parent_id == parent_id]
