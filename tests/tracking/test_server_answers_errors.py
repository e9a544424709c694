"""A tracking server that is up but answers MLflow's requests with errors (a gateway's 502 page, a login it wants):
one line saying what it answered and what to do, not "stopped answering" nor an internal error.

A stdlib HTTP server on loopback plays the server (or the proxy in front of it): ``/health`` answers 200, every API
request the status the test sets. MLflow's retries are cut to one, without backoff, to keep the tests fast.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import workbench as wb
from workbench.tracking import TrackingUnavailable
from workbench.config import settings
from workbench.pipeline import MemoryIndexStore

from ..test_runner import make_spec

_GATEWAY_PAGE = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"


class _Answers(BaseHTTPRequestHandler):
    status = 502

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, body = (200, b"OK") if self.path == "/health" else (self.status, _GATEWAY_PAGE)
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def failing_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_answering_502_to_every_try_is_said_to_answer_errors_not_to_be_gone(failing_server, tmp_path, fake_models) -> None:  # type: ignore[no-untyped-def]
    # the line said the server "stopped answering (ResponseError)" and to start it again: it was up, and its gateway failing
    spec = make_spec(chunkers=[{"strategy": "recursive", "size": 800, "overlap": 80}], execution={"isolation": "none"})
    with pytest.raises(TrackingUnavailable) as info:
        wb.run(spec, models=fake_models, index_store=MemoryIndexStore(), settings=settings(root=tmp_path, tracking_uri=failing_server),
               progress=False, limit=1)
    line = str(info.value)
    assert line.startswith(f"tracking server {failing_server} answered with errors while closing abandoned sweeps (HTTP 502 to every try) — "
                           "check its log, or the proxy in front of it, then re-run the same command"), line
    assert "start the server again" not in line and "\n" not in line
