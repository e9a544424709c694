"""Log a retrieval-only sweep (``wb.evaluate_retrieval``) to MLflow: a parent run and one child run per setup.

Child runs carry the setup's params (``chunker.*``, ``retrieval.*``), its mean metrics, chunk statistics and the
per-question table ``eval_results.json`` (what ``wb.compare`` reads). No traces: nothing was generated.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from workbench.tracking._read import RESULTS_TABLE

if TYPE_CHECKING:
    from workbench.retrieval_eval import RetrievalResult

RETRIEVAL_SWEEP_KIND = "retrieval_sweep"
RETRIEVAL_SETUP_KIND = "retrieval"


def _experiment_id(client: Any, name: str, description: str, artifact_root: Path | None) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return str(found.experiment_id)
    location = (artifact_root / name).resolve().as_uri() if artifact_root is not None else None
    return str(client.create_experiment(name, artifact_location=location, tags={"mlflow.note.content": description or name}))


def log_retrieval_sweep(result: RetrievalResult, *, tracking_uri: str, artifact_root: Path | None = None) -> RetrievalResult:
    """Log a retrieval-only sweep into the experiment named like its spec; returns the result with the run ids.

    Args:
        result: what ``evaluate_retrieval`` computed.
        tracking_uri: the MLflow store.
        artifact_root: where a new experiment keeps its artifacts (default: the store's default).
    """
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri)
    spec = result.spec
    experiment_id = _experiment_id(client, spec.name, spec.description, artifact_root)
    run_name = f"{spec.name}-retrieval-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    common = {"workbench.spec_hash": spec.hash, "workbench.dataset_hash": result.dataset.hash, "workbench.corpus_hash": result.corpus.hash}
    parent = client.create_run(experiment_id, run_name=run_name, tags={"workbench.kind": RETRIEVAL_SWEEP_KIND, **common})
    parent_id = parent.info.run_id
    params = {
        "dataset": spec.dataset.path,
        "dataset.cases": str(len(result.dataset)),
        "corpus": spec.corpus.builtin or spec.corpus.path or "",
        "corpus.documents": str(len(result.corpus)),
        "setups": str(len(result.setups)),
    }
    client.log_batch(parent_id, params=[Param(k, v) for k, v in params.items()])
    logged = []
    for s in result.setups:
        now = int(time.time() * 1000)
        tags = {
            "mlflow.parentRunId": parent_id,
            "workbench.kind": RETRIEVAL_SETUP_KIND,
            "workbench.variant_id": s.setup.id,
            "workbench.index_key": s.setup.index_key,
            "workbench.status": s.status,
            **common,
        }
        if s.error:
            tags["workbench.error"] = s.error[:5000]
        run_id = client.create_run(experiment_id, run_name=s.setup.name, tags={"mlflow.runName": s.setup.name}).info.run_id
        client.log_batch(
            run_id,
            params=[Param(k, v) for k, v in s.setup.params().items()],
            metrics=[Metric(k, float(v), now, 0) for k, v in s.metrics.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        client.log_text(run_id, yaml.safe_dump(s.setup.to_dict(), sort_keys=False), "setup.yaml")
        client.log_dict(run_id, s.chunk_stats.as_dict(), "chunk_stats.json")
        if s.records:
            client.log_table(run_id, s.records_frame(), RESULTS_TABLE)
        client.set_terminated(run_id, status="FINISHED" if s.status == "FINISHED" else "FAILED")
        logged.append(replace(s, run_id=run_id))
    rows = [{"variant": s.setup.name, "variant_id": s.setup.id, "run_id": s.run_id, "status": s.status, **s.metrics} for s in logged]
    client.log_dict(parent_id, rows, "leaderboard.json")
    client.set_terminated(parent_id, status="FAILED" if any(s.error for s in logged) else "FINISHED")
    return replace(result, setups=tuple(logged), parent_run_id=parent_id, experiment_id=experiment_id, tracking_uri=tracking_uri)
