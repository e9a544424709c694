"""The tracking server stopping mid-sweep loses nothing (issue 10 item 4).

A real ``workbench server`` (MLflow with served artifacts, a sqlite store in tmp_path) is stopped from the sweep's
progress callback right after its first variant is logged. ``workbench run`` must end with one ``error:`` line naming
the server and saying to start it again and re-run (not minutes of retries and a traceback). With the server started
again on the same store, the same command logs every variant and computes no answer twice: the logged variant is
reused, the variant whose logging failed takes its answers from the cache, and only the variant that never ran calls
the model. Fake models answer (the model is not the point); everything else is real.

MLflow retries each request to the stopped server with the workbench's default number of retries (their warnings must not
reach the user), without the waits between them: what those waits add up to with the workbench's defaults is computed
from urllib3's own backoff instead of slept through (about 35 s of this file's minute).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow import MlflowClient
from mlflow.environment_variables import (
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR,
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER,
    MLFLOW_HTTP_REQUEST_MAX_RETRIES,
)
from urllib3.util.retry import RequestHistory, Retry

import workbench as wb
from tests.promotion.conftest import CASES, GOOD, fake_models, write_project
from tests.team.conftest import ROOT, free_port, start_server, stop_server, wait_http
from workbench._telemetry import disable_telemetry
from workbench.cli import main
from workbench.models import GEMMA_ID
from workbench.pipeline import MemoryIndexStore
from workbench.tracking import MlflowTracker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTIONS = 3
PROMPTS = ("good", "good-again", "good-once-more")  # three variants, run one after the other (workers: 1)
RETRY_SETTINGS = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "MLFLOW_HTTP_REQUEST_TIMEOUT",
                  "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER")


def workbench_retry_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's HTTP retry settings as the workbench sets them for a user who set none (restored afterwards)."""
    for name in RETRY_SETTINGS:
        monkeypatch.setenv(name, "unset")  # recorded, so that the end of the test puts back what was there
        monkeypatch.delenv(name)
    disable_telemetry()


def longest_retry_wait(retries: int, backoff_factor: float, jitter: float) -> float:
    """The longest MLflow's HTTP client sleeps between the attempts of one request that keeps failing: urllib3's
    exponential backoff after each failed attempt, plus MLflow's random jitter at its largest."""
    retry = Retry(total=retries, backoff_factor=backoff_factor)
    waited = 0.0
    for _ in range(retries):
        retry = retry.new(history=(*retry.history, RequestHistory("POST", "/", None, None, None)))
        waited += retry.get_backoff_time() + jitter
    return waited


def test_with_the_workbench_defaults_a_stopped_server_is_given_up_on_within_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    workbench_retry_defaults(monkeypatch)
    per_request = longest_retry_wait(MLFLOW_HTTP_REQUEST_MAX_RETRIES.get(), MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.get(),
                                     MLFLOW_HTTP_REQUEST_BACKOFF_JITTER.get())
    # MLflow's own defaults (7 retries, backoff factor 2) sleep over four minutes per request
    assert longest_retry_wait(7, 2, 1) > 240
    # a sweep whose server stopped retries two requests in full: logging its variant, then ending the sweep
    assert 2 * per_request < 60, f"{per_request:.0f} s of retries per request"


class Server:
    """``workbench server`` on a fixed loopback port and a sqlite store, that the test can stop and start again."""

    def __init__(self, where: Path) -> None:
        self.where = where
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = self.where / f"server-{self.starts}.log"
        cmd = [sys.executable, "-m", "workbench.cli", "server", "--backend-store-uri", f"sqlite:///{self.where / 'mlflow.db'}",
               "--artifacts-destination", str(self.where / "artifacts"), "--host", "127.0.0.1", "--port", str(self.port),
               "--workers", "1"]
        self.proc = start_server(cmd, log, PYTHONPATH=str(ROOT))
        wait_http(f"{self.url}/health", self.proc, log, 120)

    def stop(self) -> None:
        if self.proc is not None:
            stop_server(self.proc)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    where = tmp_path / "server"
    where.mkdir()
    # the store made as a sweep makes one, from this machine's migrated empty store: the server would spend seconds on
    # MLflow's migrations of a new file, which this test is not about
    MlflowTracker(f"sqlite:///{where / 'mlflow.db'}").client.search_experiments()
    running = Server(where)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def write_experiment(root: Path) -> Path:
    write_project(root)  # the corpus and the questions
    data: dict[str, Any] = {
        "name": "server-stops",
        "dataset": {"path": "cases.jsonl", "limit": QUESTIONS},
        "corpus": {"path": "corpus"},
        "prompts": [{"name": name, "template": GOOD.replace("GOOD.", f"GOOD ({name}).")} for name in PROMPTS],
        "models": [{"id": GEMMA_ID, "params": {"max_tokens": 16}}],
        "chunkers": [{"strategy": "recursive", "size": 200, "overlap": 20}],
        "retrieval": [{"k": 2}],
        "scorers": ["token_f1", "hit_at_k"],
        "execution": {"workers": 1},
    }
    path = root / "experiment.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_server_stopping_mid_sweep_is_one_line_and_the_rerun_logs_everything_from_the_cache(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    assert len(CASES) >= QUESTIONS
    project = tmp_path / "project"
    project.mkdir()
    experiment = write_experiment(project)
    monkeypatch.chdir(project)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("WORKBENCH_ROOT", str(project))
    monkeypatch.setenv("WORKBENCH_HOME", str(project / ".workbench"))
    workbench_retry_defaults(monkeypatch)  # as many retries as a user gets (their warnings must not show) ...
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")  # ... without the waits between them, which
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")  # the test above adds up

    models = fake_models()  # one object across both runs: its answers are cached under its identity
    model = models[GEMMA_ID]
    real_run = wb.run
    stopped_at: list[float] = []

    def run_with_fakes(spec: Any, **kwargs: Any) -> wb.SweepResult:
        cli_event = kwargs.pop("on_event")

        def on_event(event: wb.ProgressEvent) -> None:
            cli_event(event)
            if event.kind == "variant_done" and server.starts == 1 and not stopped_at:
                server.stop()  # the first variant is logged; the server goes away mid-sweep
                stopped_at.append(time.monotonic())

        return real_run(spec, models=models, index_store=MemoryIndexStore(), on_event=on_event, **kwargs)

    monkeypatch.setattr(wb, "run", run_with_fakes)

    code = main(["run", str(experiment), "--no-progress"])
    gave_up_after = time.monotonic() - stopped_at[0]
    out, err = capfd.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err  # one line: no retry warnings, no traceback
    (line,) = lines
    assert line.startswith(f"error: tracking server {server.url} stopped answering while logging a variant"), line
    assert "start the server again and re-run" in line and "cached answers are not recomputed" in line, line
    assert "parent run" in line and "could not be ended" in line, line
    assert gave_up_after < 60, f"gave up {gave_up_after:.0f} s after the server stopped"
    with capfd.disabled():
        print(f"\ngave up {gave_up_after:.1f} s after the server stopped: {line}")
    calls_first = len(model.calls)
    assert calls_first == 2 * QUESTIONS  # the logged variant and the one whose logging failed: their answers are cached

    server.start()  # the same store, the same port
    code = main(["run", str(experiment), "--no-progress"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert len(model.calls) - calls_first == QUESTIONS  # only the variant that never ran called the model
    # the reused variant's answers and the failed-to-log variant's answers count as from the cache
    assert "reused 1 of 3 variants; 3 model calls, 6 answers from the cache" in out, out

    client = MlflowClient(server.url)
    (exp,) = [e for e in client.search_experiments() if e.name == "server-stops"]
    sweeps = client.search_runs([exp.experiment_id], "tags.`workbench.kind` = 'sweep'", order_by=["attributes.start_time ASC"])
    assert [s.info.status for s in sweeps] == ["KILLED", "FINISHED"]  # the first, left RUNNING, was ended by the re-run
    children = client.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{sweeps[1].info.run_id}'")
    by_prompt = {r.data.params["prompt.name"]: r for r in children}
    assert sorted(by_prompt) == sorted(PROMPTS)  # every variant logged
    assert all(r.info.status == "FINISHED" for r in children)
    assert "workbench.reused_from" in by_prompt["good"].data.tags  # logged before the server stopped: reused
    assert by_prompt["good-again"].data.metrics["generation_calls"] == 0  # computed, not logged: from the cache
    assert by_prompt["good-again"].data.metrics["cache_hits"] == QUESTIONS
    assert by_prompt["good-once-more"].data.metrics["generation_calls"] == QUESTIONS  # never ran before
    traces = client.search_traces(locations=[exp.experiment_id], run_id=by_prompt["good-again"].info.run_id)
    assert len(traces) == QUESTIONS
