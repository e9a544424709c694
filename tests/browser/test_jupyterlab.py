"""The widgets in a real JupyterLab, driven in Debian's headless chromium (playwright-core from npm, no download).

Starts JupyterLab on 127.0.0.1 with a token over a temp copy of the project, opens ``01_quickstart.ipynb``, runs its
cells, types a question limit into the grid builder, presses Run, waits for the live leaderboard, sorts and compares
in the leaderboard, gives thumbs up + a comment in the question inspector, changes the chunker in the chunk
explorer — then opens that question's trace in the MLflow UI and checks the feedback is there. Screenshots go to
``test-output/browser/``.

Needs ``chromium`` (apt) and ``tests/browser/node_modules`` (``make browser-deps``; ``make test`` installs both).
Skip it locally with ``WORKBENCH_SKIP_BROWSER=1``; in CI (``CI=true``) it always runs.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.notebooks._project import kernel_env, make_project
from workbench.cli._group_guard import start_guarded

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
OUTPUT = ROOT / "test-output" / "browser"
CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
COMMENT = "grounded in the travel policy (browser test)"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("WORKBENCH_SKIP_BROWSER") == "1" and os.environ.get("CI", "").lower() != "true",
        reason="WORKBENCH_SKIP_BROWSER=1 (the browser test always runs in CI)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout:.0f}s:\n{log.read_text()[-3000:]}")


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    """Stop servers started here and everything they started (their own process groups: kernels, workers), all at
    once: each may take a 5 s grace before SIGKILL, in parallel rather than one after the other. The test is over and
    their folders are temporary: one of the groups never ended on SIGTERM, and waited out a 20 s grace every run."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _drive(config: dict[str, Any], timeout: float) -> dict[str, Any]:
    out = subprocess.run(["node", str(HERE / "drive_quickstart.mjs"), json.dumps(config)], cwd=HERE, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, f"driver failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps({k: v for k, v in report.items() if k != "comparison"}, indent=1, ensure_ascii=False))
    assert report["errors"] == [], f"browser errors (screenshots in {OUTPUT}): {report['errors']}"
    return report


@pytest.fixture
def browser_ready() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"chromium at {CHROMIUM} (apt-get install -y chromium)")
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        missing.append("tests/browser/node_modules (npm ci --prefix tests/browser)")
    if shutil.which("node") is None:
        missing.append("node")
    if missing:
        pytest.fail("browser test needs " + ", ".join(missing) + " — run `make browser-deps` (or set WORKBENCH_SKIP_BROWSER=1 locally)")


@pytest.fixture
def lab(tmp_path: Path, shared_home: Path, empty_store: Path, browser_ready: None) -> Iterator[dict[str, Any]]:
    """JupyterLab over a temp copy of the project; kernels log to the copy's own MLflow store."""
    project = make_project(tmp_path, empty_store)
    port, ui_port, token = _free_port(), _free_port(), secrets.token_hex(16)
    settings_dir = tmp_path / "lab-settings"
    for name, value in {
        "notebook-extension/tracker": {"windowingMode": "none"},  # render every cell, so the driver can find them
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        path = settings_dir / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = kernel_env(project, shared_home)
    env.update(
        WORKBENCH_USER="browser-test",
        WORKBENCH_UI_URL=f"http://127.0.0.1:{ui_port}",  # the run panel's links point at the MLflow UI started below
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
    )
    log, ui_log = tmp_path / "jupyterlab.log", tmp_path / "mlflow-ui.log"
    process = _start([sys.executable, "-m", "jupyter", "lab", "--allow-root", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                      f"--IdentityProvider.token={token}", "--LabApp.extension_manager=readonly", f"--ServerApp.root_dir={project}"],
                     project, env, log)
    # the MLflow UI the test opens last starts now, while the browser drives the notebook, rather than after it
    uri = f"sqlite:///{project / 'mlruns' / 'mlflow.db'}"
    ui = _start([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", "127.0.0.1", "--port",
                 str(ui_port), "--workers", "1", "--default-artifact-root", (project / "mlruns" / "artifacts").as_uri()],
                project, env, ui_log)
    try:
        _wait_http(f"http://127.0.0.1:{port}/api/status?token={token}", process, 120, log)
        yield {"url": f"http://127.0.0.1:{port}", "token": token, "project": project, "ui_port": ui_port, "ui": ui, "ui_log": ui_log}
    finally:
        _stop(ui, process)


def _start(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A server in its own process group (``_stop`` ends it and its children), its output in ``log``; the group ends
    with this pytest process however it ends (they outlived a SIGTERMed or killed one, holding their ports)."""
    with log.open("wb") as sink:
        return start_guarded(command, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)


def test_quickstart_widgets_in_jupyterlab(lab: dict[str, Any]) -> None:
    import nbformat

    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    project: Path = lab["project"]
    notebook = project / "notebooks" / "01_quickstart.ipynb"
    started = time.monotonic()
    report = _drive({
        "lab": lab["url"], "token": lab["token"], "notebook": "notebooks/01_quickstart.ipynb", "chromium": CHROMIUM,
        "cells": len(nbformat.read(notebook, as_version=4).cells), "out": str(OUTPUT), "comment": COMMENT,
    }, timeout=1500)
    print(f"notebook in the browser: {time.monotonic() - started:.1f}s")

    # Grid builder: the summary follows the limit typed into the form, and the run uses it.
    assert report["gridSummaryBefore"] == "2 variants × 2 questions = 4 model calls"
    assert report["gridSummaryAfter"] == "2 variants × 1 question = 2 model calls"
    # Run panel: rows appeared while the sweep ran, one per variant, each linking to its MLflow run.
    assert report["rowsWhenFirstSeen"] >= 1 and report["leaderboardRows"] == 2
    assert report["runStatus"].startswith("Done: 2 variant(s) logged")
    assert len(report["runLinks"]) == 2 and all(f"127.0.0.1:{lab['ui_port']}/#/runs/" in link for link in report["runLinks"])
    stages = {label.split()[0]: label.split()[1] for label in report["stageLabels"]}
    assert stages == {"indexes": "2/2", "generation": "1/1", "scoring": "1/1", "variants": "2/2"}
    assert "2 variants, 0 failed" in report["resultOutput"]
    # Leaderboard: table and a comparison with intervals.
    assert report["leaderboardTableRows"] == 2 and "Baseline:" in report["comparison"] and "bootstrap" in report["comparison"]
    # Question inspector: both variants' answers, feedback saved.
    assert report["cards"] == 2 and "How far in advance should flights be booked?" in report["question"]
    assert report["feedbackStatus"].startswith("saved thumbs up by browser-test") and COMMENT in report["feedbackStatus"]
    # Chunk explorer: another chunker, another count; histogram and boundaries drawn.
    assert report["chunkSummaryBefore"] != report["chunkSummaryAfter"] and "chunks from 9 documents" in report["chunkSummaryAfter"]
    assert report["histogramBars"] > 1 and report["boundarySpans"] > 1
    for shot in report["screenshots"]:
        assert Path(shot).stat().st_size > 5_000, shot

    # What the browser did is in the MLflow store: a 2-variant sweep on 1 question, the feedback on the trace.
    from workbench.tracking import latest_sweep, load_question_reviews, sweep_variants, trace_url

    uri = f"sqlite:///{project / 'mlruns' / 'mlflow.db'}"
    sweep = latest_sweep("notebook-quickstart", tracking_uri=uri)
    variants = sweep_variants(sweep.info.run_id, tracking_uri=uri)
    assert [v.data.metrics["questions"] for v in variants] == [1.0, 1.0]
    assert {v.info.status for v in variants} == {"FINISHED"}
    answer = load_question_reviews(sweep.info.run_id, tracking_uri=uri)[0].answers[0]
    assert answer.feedback is not None and answer.feedback.thumbs_up
    assert (answer.feedback.comment, answer.feedback.user) == (COMMENT, "browser-test")

    # The MLflow UI shows that feedback on the question's trace, beside the automatic scores.
    ui = f"http://127.0.0.1:{lab['ui_port']}"
    _wait_http(f"{ui}/health", lab["ui"], 180, lab["ui_log"])
    seen = _drive({"out": str(OUTPUT), "comment": COMMENT, "chromium": CHROMIUM,
                   "mlflow": {"url": trace_url(sweep.info.experiment_id, answer.trace_id, base=ui), "expect": "human_rating"}},
                  timeout=400)
    assert seen["mlflowShowsFeedback"] and seen["mlflowShowsComment"]
    print(f"browser test total: {time.monotonic() - started:.1f}s; screenshots in {OUTPUT}")
