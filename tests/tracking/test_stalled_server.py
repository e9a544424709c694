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


@pytest.fixture
def proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StallingProxy]:
    # a request held by the proxy is waited for as long as MLflow waits for any answer: no client timeout ends it
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3600")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    servers = start_mlflow_server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "artifacts", tmp_path / "server.log")
    server = next(servers)
    stalling = StallingProxy(server.url)
    try:
        yield stalling
    finally:
        stalling.close()
        servers.close()


def test_a_second_ctrl_c_against_a_server_that_answers_health_but_not_writes_ends_the_sweep_without_waiting(
    proxy: StallingProxy, tmp_path: Path, fake_models
) -> None:  # type: ignore[no-untyped-def]
    # the Ctrl+C cut the hung request; the health check passed, so ending the run cut short (its tag, its end), then the
    # sweep, each waited on the server again: a second Ctrl+C did not stop the sweep, only more presses did
    cfg = settings(root=tmp_path, tracking_uri=proxy.url)
    spec = make_spec(prompts=[{"name": "p1", "template": "{context} Q: {question}"}], chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}],
                     execution={"isolation": "none"})
    pressed: list[int] = []

    def press_twice_once_a_write_hangs() -> None:
        while not proxy.held:
            time.sleep(0.05)
        pressed.append(len(proxy.held))
        os.kill(os.getpid(), signal.SIGINT)  # held: the variant's run is being logged
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)  # stop now

    def on_event(event: wb.ProgressEvent) -> None:
        if event.kind == "question_logged" and not proxy.stall.is_set():  # the variant's traces are being stored
            proxy.stall.set()
            threading.Thread(target=press_twice_once_a_write_hangs, daemon=True).start()

    with pytest.raises(KeyboardInterrupt):
        wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), settings=cfg, progress=False, on_event=on_event)
    assert pressed, "the sweep ended before any write hung"  # and it ended with the server still holding its writes
    proxy.stall.clear()  # the server answers again: the next sweep ends what was left RUNNING
    wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), settings=cfg, progress=False)
    client = MlflowClient(proxy.url)
    runs = client.search_runs([client.get_experiment_by_name("unit").experiment_id], order_by=["attributes.start_time ASC"])
    first_sweep = [r for r in runs if r.info.run_id == runs[0].info.run_id or r.data.tags.get("mlflow.parentRunId") == runs[0].info.run_id]
    assert {(r.data.tags["workbench.kind"], r.info.status) for r in first_sweep} == {("sweep", "KILLED"), ("variant", "KILLED")}
    # left to this sweep, not ended against the server: no write of the first sweep was waited for
    assert runs[0].data.tags["workbench.end_reason"] == "the tracking server did not answer when the sweep ended"
