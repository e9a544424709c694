"""The tracking boundary: where sweeps and variant runs are recorded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from workbench.datasets import Corpus, Dataset
from workbench.grid import Variant
from workbench.results import VariantResult
from workbench.spec import ExperimentSpec


COMPARISON_FILE = "comparison.json"  # on a sweep's parent run, with the figures under PLOTS_DIR
PLOTS_DIR = "plots"


@dataclass(frozen=True)
class SweepHandle:
    """A started sweep: its parent run."""

    sweep_id: str
    run_id: str
    experiment_id: str
    tracking_uri: str


class SweepComparison(Protocol):
    """What the tracker logs of a sweep's comparison (``workbench.comparison.ComparisonReport`` is one)."""

    def to_dict(self) -> dict[str, Any]: ...

    def plots(self) -> Mapping[str, Any]:
        """Figures by name (matplotlib figures)."""
        ...


class Tracker(Protocol):
    def start_sweep(self, spec: ExperimentSpec, dataset: Dataset, corpus: Corpus, variants: Sequence[Variant]) -> SweepHandle:
        """Open the parent run of a sweep."""
        ...

    def log_variant(self, sweep: SweepHandle, result: VariantResult, dataset: Dataset) -> VariantResult:
        """Record one finished (or failed) variant as a child run; returns the result with its ``run_id``."""
        ...

    def end_sweep(
        self, sweep: SweepHandle, results: Sequence[VariantResult], status: str, *, comparison: SweepComparison | None = None
    ) -> None:
        """Close the parent run with the sweep's summary and, when given, the comparison of its variants."""
        ...
