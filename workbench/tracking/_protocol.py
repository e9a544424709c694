"""The tracking boundary: where sweeps and variant runs are recorded."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from workbench.datasets import Corpus, Dataset
from workbench.grid import Variant
from workbench.results import VariantResult
from workbench.spec import ExperimentSpec, Limits


MODELS_TAG = "workbench.models"  # on a variant run: the identities of its models by role (JSON), hosted ones with their server
# on a variant run: how many chunks it retrieved from, and their digest (``workbench.pipeline.chunks_digest``), which its
# bundle records so that a workbench cutting text by a newer chunking revision can check it cuts the same chunks
CHUNKS_TAG = "workbench.chunks"
CHUNKS_SHA256_TAG = "workbench.chunks_sha256"
COMPARISON_FILE = "comparison.json"  # on a sweep's parent run, with the figures under PLOTS_DIR
COMPARISON_TEXT = "comparison.txt"  # beside it: the comparison as plain text (the run's description may be cut)
# on a sweep's parent run whose comparison and plots were all logged: ``workbench.comparison.comparison_key`` of its
# variants, under which a sweep reusing every one of them copies them
COMPARISON_KEY_TAG = "workbench.comparison_key"
CORPUS_ARTIFACT = "corpus.jsonl"  # a sweep's documents, logged when they were given in memory (Corpus.to_jsonl)
# on a sweep over documents given in memory: the run holding them as CORPUS_ARTIFACT (itself, or the experiment's first
# sweep over the very same file, which is not logged again), and that file's sha256
CORPUS_RUN_TAG = "workbench.corpus_run"
CORPUS_FILE_TAG = "workbench.corpus_file_sha256"
# on a sweep over a corpus read from disk: each document's id -> a digest of its text (``Corpus.document_hashes``), so
# that promotion can name the documents added, removed or edited on disk since
CORPUS_DOCUMENTS_ARTIFACT = "corpus_documents.json"
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


@dataclass(frozen=True)
class LoggedComparison:
    """The comparison an earlier sweep logged of the same variant runs (a ``SweepComparison``): its ``comparison.json``
    with this sweep's run ids, its text, and the plots to copy from its parent run."""

    data: Mapping[str, Any]
    text: str
    run_id: str  # the earlier sweep's parent run
    plots_logged: tuple[str, ...]  # artifact paths under PLOTS_DIR on it
    artifact_uri: str = ""  # its artifact location

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)

    def summary(self) -> str:
        return self.text

    def plots(self) -> Mapping[str, Any]:
        """None drawn: the tracker copies ``plots_logged``."""
        return {}


def with_run_ids(comparison: Mapping[str, Any], results: Sequence[VariantResult]) -> dict[str, Any]:
    """A logged ``comparison.json`` with the run ids of ``results`` (the same variants, logged again by another sweep)
    in place of the ones it names (pure)."""
    runs = {r.variant.id: r.run_id for r in results}
    rows = [{**row, "run_id": runs.get(row.get("variant_id"), row.get("run_id"))} for row in comparison.get("rows", [])]
    return {**comparison, "rows": rows}


@runtime_checkable
class Tracker(Protocol):
    """Where sweeps are recorded: a parent run per sweep, a child run per variant (MLflow, or memory in tests)."""

    def close_abandoned(self, spec: ExperimentSpec) -> list[str]:
        """End as KILLED the experiment's sweeps left RUNNING by a dead process of this host, and the variant runs a
        killed sweep was logging; returns their run ids."""
        ...

    def start_sweep(self, spec: ExperimentSpec, dataset: Dataset, corpus: Corpus, variants: Sequence[Variant], *,
                    index_server: str | None = None) -> SweepHandle:
        """Open the parent run of a sweep (recording which process runs it, and the Chroma server it keeps its indexes
        on: ``index_server``, the address of a store handed to the runner, '' for a local one; None: the spec's or the
        environment's, ``index_server_tags``)."""
        ...

    def reusable(self, sweep: SweepHandle, keys: Mapping[str, str], limits: Limits | None = None) -> dict[str, str]:
        """Variant id -> a FINISHED run logged with the variant's reuse key (``keys`` maps variant ids to reuse keys)
        that stayed within ``limits``' token and cost budgets (``within_limits``)."""
        ...

    def reuse_variant(self, sweep: SweepHandle, variant: Variant, source_run_id: str, dataset: Dataset) -> VariantResult:
        """Record a finished run again as a child of this sweep, tagged with where it came from; returns its result."""
        ...

    def log_variant(
        self, sweep: SweepHandle, result: VariantResult, dataset: Dataset, *, reuse_key: str | None = None,
        models: Mapping[str, str] | None = None, on_logged: Callable[[int], None] | None = None,
    ) -> VariantResult:
        """Record one finished (or failed) variant as a child run; returns the result with its ``run_id``.

        ``models`` are the identities of the models that made its results, by role (``generator``, ``embedding``...):
        a hosted model's names the server it was sent to, which a promotion records for the deployment.
        ``on_logged`` is called with the number of its questions' traces stored so far, as they are stored."""
        ...

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
        """Close the parent run (FINISHED, FAILED with ``error``, or KILLED) with the sweep's summary and, when given,
        the comparison of its variants, tagged with ``comparison_key`` once all of it is logged."""
        ...

    def earlier_comparison(self, sweep: SweepHandle, key: str, results: Sequence[VariantResult]) -> LoggedComparison | None:
        """The comparison an earlier sweep of this experiment logged under ``key`` (``comparison_key``: the same variant
        runs), for this sweep's ``results``; None when there is none (or it cannot be read: it is computed then)."""
        ...
