"""Links into the MLflow UI (``workbench ui`` serves it on http://127.0.0.1:5000 by default)."""

from __future__ import annotations

import os

from workbench.redaction import without_credentials

DEFAULT_UI_URL = "http://127.0.0.1:5000"


def ui_url(tracking_uri: str | None = None) -> str:
    """Where the MLflow UI of the runs logged to ``tracking_uri`` (default: the project's store) is served:
    ``$WORKBENCH_UI_URL``; else, for a tracking server, the server itself (it serves the UI); else
    ``http://127.0.0.1:5000``, where ``workbench ui`` serves a local store. A team's links went to 127.0.0.1:5000, a
    page of nothing (or of another store), for runs logged to their MLflow server. A link never carries the address's
    login, query or fragment (``without_credentials``): it is shown in notebooks, whose output is saved and shared, and
    the browser asks for the login."""
    given = os.environ.get("WORKBENCH_UI_URL", "").strip()
    if given:
        return without_credentials(given).rstrip("/")
    if tracking_uri is None:
        from workbench.config import settings

        tracking_uri = settings().tracking_uri
    if not tracking_uri.startswith(("http://", "https://")):
        return DEFAULT_UI_URL
    return without_credentials(tracking_uri).rstrip("/")


def run_url(run_id: str, experiment_id: str | None = None, *, base: str | None = None) -> str:
    """The MLflow UI page of a run (params, metrics, artifacts, and its traces under the Traces tab).

    Without ``experiment_id`` the link uses the UI's ``#/runs/<id>`` route, which finds the experiment itself.
    """
    root = (base or ui_url()).rstrip("/")
    return f"{root}/#/experiments/{experiment_id}/runs/{run_id}" if experiment_id else f"{root}/#/runs/{run_id}"


def evaluation_url(experiment_id: str, run_id: str, *, base: str | None = None) -> str:
    """The MLflow UI evaluation view of a variant run: one row per question with every assessment, human ones too."""
    return f"{(base or ui_url()).rstrip('/')}/#/experiments/{experiment_id}/evaluation-runs/{run_id}"


def trace_url(experiment_id: str, trace_id: str, *, base: str | None = None) -> str:
    """The MLflow UI view of one question's trace: spans, and every assessment (scores and human feedback)."""
    return f"{(base or ui_url()).rstrip('/')}/#/experiments/{experiment_id}/traces?selectedEvaluationId={trace_id}"
