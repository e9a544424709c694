"""An in-memory tracker for unit tests: records what would be logged, talks to nothing."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from workbench.datasets import Corpus, Dataset
from workbench.grid import Variant
from workbench.results import VariantResult, reused_metrics
from workbench.spec import ExperimentSpec, Limits
from workbench.tracking._process import END_REASON_TAG
from workbench.tracking._protocol import (
    COMPARISON_FILE, COMPARISON_KEY_TAG, COMPARISON_TEXT, MODELS_TAG, LoggedComparison, SweepComparison, SweepHandle, with_run_ids,
)
from workbench.tracking._reuse import REUSE_KEY_TAG, REUSED_FROM_TAG, racing_tags, within_limits


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
    result: VariantResult | None = None


class MemoryTracker:
    """Keeps runs in ``self.runs`` (run id -> MemoryRun)."""

    def __init__(self) -> None:
        self.runs: dict[str, MemoryRun] = {}
        self._ids = itertools.count(1)

    def _new(self, name: str, parent: str | None) -> MemoryRun:
        run = MemoryRun(run_id=f"mem-{next(self._ids)}", parent_id=parent, name=name)
        self.runs[run.run_id] = run
        return run

    def close_abandoned(self, spec: ExperimentSpec) -> list[str]:
        return []  # nothing outlives the process that holds this tracker

    def reusable(self, sweep: SweepHandle, keys: Mapping[str, str], limits: Limits | None = None) -> dict[str, str]:
        out = {}
        for variant_id, key in keys.items():
            found = [r for r in self.runs.values() if r.tags.get(REUSE_KEY_TAG) == key and r.status == "FINISHED" and r.result
                     and within_limits(r.metrics, limits)]
            if found:
                out[variant_id] = found[-1].run_id
        return out

    def reuse_variant(self, sweep: SweepHandle, variant: Variant, source_run_id: str, dataset: Dataset) -> VariantResult:
        source = self.runs[source_run_id]
        assert source.result is not None
        origin = source.tags.get(REUSED_FROM_TAG, source_run_id)
        run = self._new(variant.name, sweep.run_id)
        run.params.update(source.params)
        run.metrics.update(reused_metrics(source.metrics))
        run.tags.update({**source.tags, REUSED_FROM_TAG: origin})
        run.status = "FINISHED"
        cases = {c.id: c for c in dataset.cases}  # the metadata as they are now (they are not in the reuse key)
        records = tuple(replace(r, case=cases[r.case.id]) for r in source.result.records)
        run.result = replace(source.result, variant=variant, run_id=run.run_id, reused_from=origin, records=records,
                             metrics=reused_metrics(source.result.metrics))
        run.artifacts.update({**source.artifacts, "eval_results": run.result.records_frame()})
        return run.result

    def start_sweep(self, spec: ExperimentSpec, dataset: Dataset, corpus: Corpus, variants: Sequence[Variant], *,
                    index_server: str | None = None) -> SweepHandle:
        run = self._new(spec.name, None)
        run.tags.update({"workbench.spec_hash": spec.hash, "workbench.dataset_hash": dataset.hash})
        return SweepHandle(sweep_id=run.run_id, run_id=run.run_id, experiment_id="memory", tracking_uri="memory:")

    def log_variant(
        self, sweep: SweepHandle, result: VariantResult, dataset: Dataset, *, reuse_key: str | None = None,
        models: Mapping[str, str] | None = None, on_logged: Callable[[int], None] | None = None,
    ) -> VariantResult:
        run = self._new(result.variant.name, sweep.run_id)
        run.params.update(result.variant.params())
        run.metrics.update(result.metrics)
        run.tags["workbench.variant_id"] = result.variant.id
        if models:
            run.tags[MODELS_TAG] = json.dumps(dict(models), sort_keys=True)
        if result.stopped_early is not None:
            run.tags.update(racing_tags(result.stopped_early))
        elif reuse_key is not None and result.complete:  # a run stopped early or with question errors is never reused
            run.tags[REUSE_KEY_TAG] = reuse_key
        run.artifacts["eval_results"] = result.records_frame()
        if on_logged is not None and result.records:  # no traces here: the records stand for them
            on_logged(len(result.records))
        run.status = result.status
        run.result = replace(result, run_id=run.run_id)
        return run.result

    def end_sweep(
        self,
        sweep: SweepHandle,
        results: Sequence[VariantResult],
        status: str,
        *,
        comparison: SweepComparison | None = None,
        comparison_key: str | None = None,
        error: str | None = None,
    ) -> None:
        run = self.runs[sweep.run_id]
        run.status = status
        if error:
            run.tags[END_REASON_TAG] = error
        if comparison is not None:
            run.artifacts[COMPARISON_FILE] = comparison.to_dict()
            run.artifacts[COMPARISON_TEXT] = comparison.summary()
            if comparison_key is not None and status == "FINISHED":
                run.tags[COMPARISON_KEY_TAG] = comparison_key

    def earlier_comparison(self, sweep: SweepHandle, key: str, results: Sequence[VariantResult]) -> LoggedComparison | None:
        earlier = [r for r in self.runs.values() if r.run_id != sweep.run_id and r.tags.get(COMPARISON_KEY_TAG) == key]
        if not earlier:
            return None
        run = earlier[-1]
        return LoggedComparison(with_run_ids(run.artifacts[COMPARISON_FILE], results), run.artifacts[COMPARISON_TEXT], run.run_id, ())

    def children(self, parent_id: str) -> list[MemoryRun]:
        return [r for r in self.runs.values() if r.parent_id == parent_id]
