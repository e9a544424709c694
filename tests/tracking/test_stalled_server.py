"""A tracking server that still answers /health but takes the writes and never answers them (a database locked behind
it, a worker pool stuck): a second Ctrl+C ends the sweep without waiting on it, and the next sweep ends what was left.

A real ``mlflow server`` sits behind a small proxy that forwards every request until told to stall, then holds every
request but ``/health`` until the test ends.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from mlflow import MlflowClient

import workbench as wb
from workbench.config import settings
from workbench.pipeline import MemoryIndexStore
from workbench.tracking import TrackingUnavailable

from ..team.conftest import start_mlflow_server
from ..test_runner import make_spec

pytestmark = pytest.mark.slow


class StallingProxy:
    """Forwards HTTP requests to ``upstream``; once ``stall`` is set, holds every request but ``/health`` (counted in
    ``held``) until ``close``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urllib.parse.urlsplit(upstream).netloc
        self.stall, self.released = threading.Event(), threading.Event()
        self.held: list[str] = []
        proxy = self

        class Forward(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/health" and proxy.stall.is_set():
                    proxy.held.append(f"{self.command} {self.path}")
                    proxy.released.wait()
                    self.send_error(503)
                    return
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=60)
                try:
                    upstream.request(self.command, self.path, body, {k: v for k, v in self.headers.items() if k.lower() != "connection"})
                    answer = upstream.getresponse()
                    content = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real MLflow server for the module (each test sweeps into an experiment of its own); its URL."""
    folder = tmp_path_factory.mktemp("stalled-server")
    servers = start_mlflow_server(f"sqlite:///{folder / 'server.db'}", folder / "artifacts", folder / "server.log")
    try:
        yield next(servers).url
    finally:
        servers.close()


@pytest.fixture
def proxy(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[StallingProxy]:
    # a request held by the proxy is waited for as long as MLflow waits for any answer: no client timeout ends it
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3600")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    stalling = StallingProxy(mlflow_server)
    try:
        yield stalling
    finally:
        stalling.close()


ONE_VARIANT = {"prompts": [{"name": "p1", "template": "{context} Q: {question}"}], "execution": {"isolation": "none"},
               "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}]}


def stalled_sweep(proxy: StallingProxy, tmp_path: Path, fake_models, *, stall_at: str, presses: int):  # type: ignore[no-untyped-def]
    """Run a sweep of one variant whose server holds every request from the sweep's first ``stall_at`` event on, and
    press Ctrl+C ``presses`` times once a request is held; then the server answers again and a second sweep runs.
    Returns what the first sweep raised, its runs (the sweep's first) and how many requests were held at the first
    press (None: none was held before the sweep ended)."""
    cfg = settings(root=tmp_path, tracking_uri=proxy.url)
    pressed: list[int] = []

    def press_once_a_request_hangs() -> None:
        while not proxy.held:
            time.sleep(0.05)
        pressed.append(len(proxy.held))
        for press in range(presses):
            time.sleep(0.5 * press)
            os.kill(os.getpid(), signal.SIGINT)

    def on_event(event: wb.ProgressEvent) -> None:
        if event.kind == stall_at and not proxy.stall.is_set():
            proxy.stall.set()
            threading.Thread(target=press_once_a_request_hangs, daemon=True).start()

    spec = make_spec(**ONE_VARIANT, name=f"stalled-at-{stall_at}")  # the module's server holds the other test's sweeps too
    ended: BaseException | None = None
    try:
        wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), settings=cfg, progress=False, on_event=on_event)
    except (KeyboardInterrupt, wb.WorkbenchError) as exc:
        ended = exc
    proxy.stall.clear()  # the server answers again: the next sweep ends what was left RUNNING
    wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), settings=cfg, progress=False)
    client = MlflowClient(proxy.url)
    runs = client.search_runs([client.get_experiment_by_name(spec.name).experiment_id], order_by=["attributes.start_time ASC"])
    first = [r for r in runs if runs[0].info.run_id in (r.info.run_id, r.data.tags.get("mlflow.parentRunId"))]
    return ended, first, pressed[0] if pressed else None


def _left_running(interrupt: BaseException | None) -> str | None:
    """The parent run a Ctrl+C says it left RUNNING (its cause: the server holding the sweep's end), or None."""
    cause = interrupt.__cause__ if interrupt is not None else None
    return cause.unended_run if isinstance(cause, TrackingUnavailable) else None


# left to the next sweep, not ended against the server: no write of the first sweep was waited for
LEFT = "the tracking server did not answer when the sweep ended"


def test_a_second_ctrl_c_against_a_server_that_answers_health_but_not_writes_ends_the_sweep_without_waiting(
    proxy: StallingProxy, tmp_path: Path, fake_models
) -> None:  # type: ignore[no-untyped-def]
    # the Ctrl+C cut the hung request; the health check passed, so ending the run cut short (its tag, its end), then the
    # sweep, each waited on the server again: a second Ctrl+C did not stop the sweep, only more presses did
    ended, first, held = stalled_sweep(proxy, tmp_path, fake_models, stall_at="question_logged", presses=2)  # as its traces are stored
    assert type(ended) is KeyboardInterrupt and held
    assert _left_running(ended) == first[0].info.run_id  # said by the interrupt: workbench run does not say "logged as KILLED"
    assert {(r.data.tags["workbench.kind"], r.info.status) for r in first} == {("sweep", "KILLED"), ("variant", "KILLED")}
    assert first[0].data.tags["workbench.end_reason"] == LEFT


def test_a_ctrl_c_as_the_sweep_ends_against_a_server_holding_its_writes_ends_it_without_waiting_again(
    proxy: StallingProxy, tmp_path: Path, fake_models
) -> None:  # type: ignore[no-untyped-def]
    # the Ctrl+C cut the sweep's end (its comparison read, a write); ending it KILLED then waited on the server again,
    # until another Ctrl+C: a sweep stopping gracefully needed a third press against such a server
    ended, first, held = stalled_sweep(proxy, tmp_path, fake_models, stall_at="variant_done", presses=1)  # its run whole: the end is next
    assert type(ended) is KeyboardInterrupt and held  # the Ctrl+C (workbench run exits 130), not the server's error
    assert _left_running(ended) == first[0].info.run_id and "stays RUNNING" in str(ended.__cause__)  # not "logged as KILLED"
    assert (first[0].data.tags["workbench.kind"], first[0].info.status, first[0].data.tags["workbench.end_reason"]) == ("sweep", "KILLED", LEFT)
