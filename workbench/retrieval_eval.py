"""Retrieval-only evaluation: chunkers x retrieval settings scored on retrieval metrics alone, without a generator.

Fast (no model calls): each chunker's index is built once, every question is retrieved, and the retrieval scorers
(hit@k, recall@k, MRR, precision@k against the labelled source ids) are computed. The prompts and models of the
experiment are ignored. Logged to MLflow as one parent run (``workbench.kind = retrieval_sweep``) and one child run per
setup with the per-question table ``eval_results.json``, so ``wb.compare`` reads these runs like any other.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workbench.config import Settings, settings as default_settings
from workbench.datasets import Corpus, Dataset
from workbench.grid import index_key
from workbench.models import Embedder, Generator
from workbench.pipeline import ChromaIndexStore, ChunkStats, IndexStore, QuestionRecord, Retriever, chunk_corpus, chunk_stats
from workbench.results import question_row
from workbench.runner import ProgressEvent, load_inputs
from workbench.scoring import ScoreContext, ScorerEnv, build_scorers, mean_scores, percentile, run_scorers
from workbench.spec import ChunkerSpec, ExperimentSpec, RetrievalSpec, load_experiment

__all__ = ["RETRIEVAL_SCORERS", "RetrievalResult", "RetrievalSetup", "SetupResult", "evaluate_retrieval", "retrieval_grid"]

# The scorers that look only at the retrieved chunks (no answer needed).
RETRIEVAL_SCORERS = ("hit_at_k", "recall_at_k", "mrr", "precision_at_k")

LEADERBOARD_METRICS = (*RETRIEVAL_SCORERS, "latency_p50_s", "latency_p95_s")


@dataclass(frozen=True)
class RetrievalSetup:
    """One point of a retrieval grid: how documents are chunked and how chunks are found."""

    chunker: ChunkerSpec
    retrieval: RetrievalSpec

    def to_dict(self) -> dict[str, Any]:
        return {"chunker": self.chunker.model_dump(mode="json"), "retrieval": self.retrieval.model_dump(mode="json")}

    @property
    def id(self) -> str:
        """Stable id: a hash of the setup's content."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]

    @property
    def name(self) -> str:
        """Readable name: ``chunker|retrieval`` (e.g. ``markdown-600/0|k3-similarity``)."""
        return f"{self.chunker.label}|{self.retrieval.label}"

    @property
    def index_key(self) -> str:
        return index_key(self.chunker, self.retrieval.embedding)

    def params(self) -> dict[str, str]:
        """Flattened parameters, as logged to MLflow (``chunker.size``, ``retrieval.k``...)."""
        return {f"{axis}.{k}": str(v) for axis, values in self.to_dict().items() for k, v in values.items()}


def retrieval_grid(chunkers: Sequence[ChunkerSpec], retrieval: Sequence[RetrievalSpec]) -> list[RetrievalSetup]:
    """Every chunker x retrieval setting, chunkers outermost (setups sharing an index are adjacent), duplicates dropped."""
    seen: set[str] = set()
    out = []
    for c, r in itertools.product(chunkers, retrieval):
        setup = RetrievalSetup(c, r)
        if setup.id not in seen:
            seen.add(setup.id)
            out.append(setup)
    return out


@dataclass(frozen=True)
class SetupResult:
    """One setup's outcome: per-question records (retrieved chunks and scores; no generation) and mean metrics."""

    setup: RetrievalSetup
    records: tuple[QuestionRecord, ...]
    metrics: Mapping[str, float]
    chunk_stats: ChunkStats
    error: str | None = None
    run_id: str | None = None

    @property
    def status(self) -> str:
        return "FAILED" if self.error else "FINISHED"

    def records_frame(self) -> Any:
        """Per-question table: question, relevant and retrieved source ids, retrieved texts, scores, latency."""
        import pandas as pd

        return pd.DataFrame([question_row(r.case, r.hits, r.latency_s, r.scores) for r in self.records])


@dataclass(frozen=True)
class RetrievalResult:
    """A finished retrieval-only sweep. ``leaderboard()`` ranks the setups; MLflow ids point at the logged runs."""

    spec: ExperimentSpec
    dataset: Dataset
    corpus: Corpus
    setups: tuple[SetupResult, ...]
    parent_run_id: str | None = None
    experiment_id: str | None = None
    tracking_uri: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def setup(self, key: str) -> SetupResult:
        """A setup by id, name or MLflow run id."""
        for s in self.setups:
            if key in (s.setup.id, s.setup.name, s.run_id):
                return s
        raise KeyError(f"no setup '{key}' in this retrieval sweep")

    def leaderboard(self, sort_by: str | None = None, ascending: bool = False) -> Any:
        """One row per setup: chunker, retrieval, chunk count, retrieval metrics; sorted by ``sort_by`` (default mrr)."""
        import pandas as pd

        rows = []
        for s in self.setups:
            row: dict[str, Any] = {
                "variant": s.setup.name,
                "variant_id": s.setup.id,
                "chunker": s.setup.chunker.label,
                "embedding": s.setup.retrieval.embedding,
                "retrieval": s.setup.retrieval.label,
                "status": s.status,
                "questions": len(s.records),
                "chunks": s.chunk_stats.count,
                "mean_chunk_chars": round(s.chunk_stats.mean_chars, 1),
            }
            row.update({m: s.metrics.get(m) for m in LEADERBOARD_METRICS if m in s.metrics})
            row["run_id"] = s.run_id
            row["error"] = s.error
            rows.append(row)
        frame = pd.DataFrame(rows)
        key = sort_by or ("mrr" if "mrr" in frame.columns else None)
        if key is not None and key in frame.columns and len(frame):
            frame = frame.sort_values(key, ascending=ascending, na_position="last", kind="stable")
        return frame.reset_index(drop=True)


class _QueryCache:
    """An embedder that remembers the vectors it computed: every setup asks for the same questions' vectors."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._vectors: dict[str, list[float]] = {}
        self.tokenizer = embedder.tokenizer
        self.model_id = embedder.model_id

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, self._embedder.embed(missing)))
        return [self._vectors[t] for t in texts]

    def count_tokens(self, text: str) -> int:
        return self._embedder.count_tokens(text)


def _retrieve(case: Any, retriever: Retriever) -> QuestionRecord:
    started = time.time_ns()
    hits = tuple(retriever.retrieve(case.question))
    ended = time.time_ns()
    return QuestionRecord(case=case, hits=hits, prompt="", generation=None, started_ns=started, retrieved_ns=ended, ended_ns=ended)


def _metrics(records: Sequence[QuestionRecord]) -> dict[str, float]:
    out = mean_scores(r.scores for r in records)
    if records:
        latencies = [r.latency_s for r in records]
        out["latency_p50_s"] = percentile(latencies, 50)
        out["latency_p95_s"] = percentile(latencies, 95)
    out["questions"] = float(len(records))
    return out


def evaluate_retrieval(
    experiment: ExperimentSpec | str | Path,
    *,
    chunkers: Sequence[ChunkerSpec] | None = None,
    retrieval: Sequence[RetrievalSpec] | None = None,
    scorers: Sequence[str] = RETRIEVAL_SCORERS,
    models: Mapping[str, Generator | Embedder] | None = None,
    index_store: IndexStore | None = None,
    settings: Settings | None = None,
    limit: int | None = None,
    track: bool = True,
    on_event: Callable[[ProgressEvent], None] | None = None,
) -> RetrievalResult:
    """Score retrieval alone for every chunker x retrieval setting of an experiment: no generation, no model calls.

    Args:
        experiment: a spec or the path of an experiment YAML (its dataset, corpus, chunkers and retrieval are used;
            its prompts and models are ignored).
        chunkers: chunkers to compare instead of the experiment's.
        retrieval: retrieval settings to compare instead of the experiment's.
        scorers: scorer names; they see the retrieved chunks and an empty answer (default: the retrieval scorers).
        models: embedding model strings mapped to ready embedders (tests use ``workbench.testing.HashingEmbedder``).
        index_store: where indexes are built (default: persistent Chroma under ``settings.index_dir``, shared with
            ``wb.run``: an index built here is reused there).
        limit: evaluate only the first ``limit`` cases.
        track: log the sweep to MLflow (``settings.tracking_uri``).
        on_event: called with ``index_started``/``index_built``/``sweep_done`` events.

    Returns:
        A ``RetrievalResult``; a setup whose index fails to build is in it with its ``error``.
    """
    spec = experiment if isinstance(experiment, ExperimentSpec) else load_experiment(experiment)
    cfg = settings or default_settings()
    dataset, corpus = load_inputs(spec, limit)
    setups = retrieval_grid(chunkers or spec.chunkers, retrieval or spec.retrieval)
    overrides = dict(models or {})
    store = index_store or ChromaIndexStore(cfg.index_dir)
    chosen = build_scorers(scorers, ScorerEnv())
    emit = on_event or (lambda _event: None)
    embedders: dict[str, Embedder] = {}
    queries: dict[str, _QueryCache] = {}

    def embedder_for(model_id: str) -> Embedder:
        if model_id not in embedders:
            from workbench.models import load_embedder

            found = overrides.get(model_id)
            embedders[model_id] = found if found is not None else load_embedder(model_id)  # type: ignore[assignment]
            queries[model_id] = _QueryCache(embedders[model_id])
            queries[model_id].embed([c.question for c in dataset.cases])  # one batch for all setups
        return embedders[model_id]

    groups: dict[str, list[RetrievalSetup]] = {}
    for s in setups:
        groups.setdefault(s.index_key, []).append(s)
    results: list[SetupResult] = []
    for group_no, group in enumerate(groups.values()):
        chunker, embedding = group[0].chunker, group[0].retrieval.embedding
        emit(ProgressEvent("index_started", group_no, len(groups), message=f"{chunker.label} / {embedding}"))
        try:
            embedder = embedder_for(embedding)
            chunks = chunk_corpus(corpus, chunker, embedder.tokenizer)
            stats = chunk_stats(chunks)
            key = index_key(chunker, embedding, corpus.hash)
            index = store.open(key) or store.build(key, chunks, embedder.embed([c.text for c in chunks]))
        except Exception as exc:  # noqa: BLE001 - a broken index fails its setups, not the sweep
            results.extend(SetupResult(s, (), {}, chunk_stats([]), f"index build failed: {type(exc).__name__}: {exc}") for s in group)
            continue
        emit(ProgressEvent("index_built", stats.count, stats.count, message=f"{chunker.label}: {stats.count} chunks"))
        for s in group:
            retriever = Retriever(index=index, embedder=queries[embedding], spec=s.retrieval)
            records = []
            for case in dataset.cases:
                record = _retrieve(case, retriever)
                ctx = ScoreContext(
                    question=case.question, answer="", reference=case.reference,
                    contexts=tuple(h.chunk.text for h in record.hits), retrieved_ids=record.retrieved_ids,
                    relevant_ids=frozenset(case.source_ids), category=case.category,
                )
                records.append(replace(record, scores=run_scorers(chosen, ctx)))
            results.append(SetupResult(s, tuple(records), _metrics(records), stats))
    result = RetrievalResult(spec=spec, dataset=dataset, corpus=corpus, setups=tuple(results))
    if track:
        from workbench.tracking import log_retrieval_sweep

        result = log_retrieval_sweep(result, tracking_uri=cfg.tracking_uri, artifact_root=cfg.artifact_root)
    emit(ProgressEvent("sweep_done", len(results), len(setups)))
    return result
