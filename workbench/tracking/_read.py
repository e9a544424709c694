"""Read logged sweeps back from MLflow: variant runs of a sweep and their per-question tables."""

from __future__ import annotations

from typing import Any

RESULTS_TABLE = "eval_results.json"


def _client(tracking_uri: str | None) -> Any:
    from mlflow import MlflowClient

    from workbench.config import settings

    return MlflowClient(tracking_uri or settings().tracking_uri)


def load_variant_table(run_id: str, *, tracking_uri: str | None = None) -> Any:
    """The per-question results table (``eval_results.json``) of one variant run, as a DataFrame."""
    import json

    import pandas as pd

    client = _client(tracking_uri)
    path = client.download_artifacts(run_id, RESULTS_TABLE)
    with open(path, encoding="utf-8") as fh:
        payload = json.load(fh)
    return pd.DataFrame(payload["data"], columns=payload["columns"])


def latest_sweep(experiment_name: str, *, tracking_uri: str | None = None) -> Any:
    """The most recent sweep (parent run) of an experiment, or None."""
    client = _client(tracking_uri)
    exp = client.get_experiment_by_name(experiment_name)
    if exp is None:
        return None
    runs = client.search_runs(
        [exp.experiment_id], "tags.`workbench.kind` = 'sweep'", order_by=["attributes.start_time DESC"], max_results=1
    )
    return runs[0] if runs else None


def sweep_variants(parent_run_id: str, *, tracking_uri: str | None = None) -> list[Any]:
    """The variant (child) runs of a sweep, oldest first."""
    client = _client(tracking_uri)
    parent = client.get_run(parent_run_id)
    return list(
        client.search_runs(
            [parent.info.experiment_id],
            f"tags.`mlflow.parentRunId` = '{parent_run_id}'",
            order_by=["attributes.start_time ASC"],
            max_results=1000,
        )
    )
