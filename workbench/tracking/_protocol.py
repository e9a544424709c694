"""The tracking boundary: where sweeps and variant runs are recorded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from workbench.datasets import Corpus, Dataset
from workbench.grid import Variant
from workbench.results import VariantResult
from workbench.spec import ExperimentSpec


MODELS_TAG = "workbench.models"  # on a variant run: the identities of its models by role (JSON), hosted ones with their server
# on a variant run: how many chunks it retrieved from, and their digest (``workbench.pipeline.chunks_digest``), which its
# bundle records so that a workbench cutting text by a newer chunking revision can check it cuts the same chunks
CHUNKS_TAG = "workbench.chunks"
CHUNKS_SHA256_TAG = "workbench.chunks_sha256"
COMPARISON_FILE = "comparison.json"  # on a sweep's parent run, with the figures under PLOTS_DIR
CORPUS_ARTIFACT = "corpus.jsonl"  # a sweep's documents, logged when they were given in memory (Corpus.to_jsonl)
# on a sweep over documents given in memory: the run holding them as CORPUS_ARTIFACT (itself, or the experiment's first
# sweep over the very same file, which is not logged again), and that file's sha256
CORPUS_RUN_TAG = "workbench.corpus_run"
CORPUS_FILE_TAG = "workbench.corpus_file_sha256"
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

    def summary(self) -> str:
        """The comparison as plain text: each variant's interval, its difference to the baseline and the verdict."""
        ...

    def plots(self) -> Mapping[str, Any]:
        """Figures by name (matplotlib figures)."""
        ...


@runtime_checkable
class Tracker(Protocol):
    """Where sweeps are recorded: a parent run per sweep, a child run per variant (MLflow, or memory in tests)."""

    def close_abandoned(self, spec: ExperimentSpec) -> list[str]:
        """End as KILLED the experiment's sweeps left RUNNING by a dead process of this host, and the variant runs a
        killed sweep was logging; returns their run ids."""
        ...

    def start_sweep(self, spec: ExperimentSpec, dataset: Dataset, corpus: Corpus, variants: Sequence[Variant]) -> SweepHandle:
        """Open the parent run of a sweep (recording which process runs it)."""
        ...

    def reusable(self, sweep: SweepHandle, keys: Mapping[str, str]) -> dict[str, str]:
        """Variant id -> a FINISHED run logged with the variant's reuse key (``keys`` maps variant ids to reuse keys)."""
        ...

    def reuse_variant(self, sweep: SweepHandle, variant: Variant, source_run_id: str, dataset: Dataset) -> VariantResult:
        """Record a finished run again as a child of this sweep, tagged with where it came from; returns its result."""
        ...

    def log_variant(
        self, sweep: SweepHandle, result: VariantResult, dataset: Dataset, *, reuse_key: str | None = None,
        models: Mapping[str, str] | None = None,
    ) -> VariantResult:
        """Record one finished (or failed) variant as a child run; returns the result with its ``run_id``.

        ``models`` are the identities of the models that made its results, by role (``generator``, ``embedding``...):
        a hosted model's names the server it was sent to, which a promotion records for the deployment."""
        ...

    def end_sweep(
        self,
        sweep: SweepHandle,
        results: Sequence[VariantResult],
        status: str,
        *,
        comparison: SweepComparison | None = None,
        error: str | None = None,
    ) -> None:
        """Close the parent run (FINISHED, FAILED with ``error``, or KILLED) with the sweep's summary and, when given,
        the comparison of its variants."""
        ...
