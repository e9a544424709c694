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

_PAGE = "<!DOCTYPE html><html><head><title>{0}</title></head><body><h1>{0}</h1></body></html>"  # a gateway's, not JSON


class _Answers(BaseHTTPRequestHandler):
    status = 502  # what every API request gets

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, body = (200, b"OK") if self.path == "/health" else (self.status, _PAGE.format(self.status).encode())
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def failing_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The server's URL; its API answers ``request.param`` (default 502) to everything."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    handler = type("Handler", (_Answers,), {"status": getattr(request, "param", 502)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
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


@pytest.mark.parametrize("failing_server", [401], indirect=True)
@pytest.mark.parametrize(("login", "said"), [
    ({}, "the server wants a login (HTTP 401) — set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)"),
    ({"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": "S3cret-pa55"},
     "the server refused the login of user 'alice' (HTTP 401) — check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"),
    ({"MLFLOW_TRACKING_TOKEN": "S3cret-pa55"}, "the server refused the token in MLFLOW_TRACKING_TOKEN (HTTP 401) — check MLFLOW_TRACKING_TOKEN"),
])
def test_a_server_that_wants_a_login_is_one_line_naming_the_variables_to_set(failing_server, login, said, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    # the refusal came from the first request of the command: "MlflowException: API request to endpoint ... failed with
    # error code 401 != 200. Response body: '<html>...' — check that it is reachable and writable"
    from workbench.cli import main

    for name, value in login.items():
        monkeypatch.setenv(name, value)
    assert main(["list", "--tracking-uri", failing_server]) == 2
    assert capsys.readouterr().err == f"error: tracking store {failing_server}: {said}\n"


@pytest.mark.parametrize("failing_server", [401], indirect=True)
def test_a_login_in_the_uri_that_the_server_refuses_is_named_without_its_password(failing_server, capsys) -> None:  # type: ignore[no-untyped-def]
    from workbench.cli import main

    uri = failing_server.replace("http://", "http://alice:S3cret-pa55@")
    assert main(["list", "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: tracking store {failing_server.replace('http://', 'http://alice:***@')}: the server refused the login of "
                   "user 'alice' (HTTP 401) — check the user and password in the URI\n")


@pytest.mark.parametrize("failing_server", [401], indirect=True)
def test_a_token_given_as_the_uris_login_that_the_server_refuses_is_not_named_as_a_user(failing_server, capsys) -> None:  # type: ignore[no-untyped-def]
    # https://<token>@host: the line said "the server refused the login of user '<token>'", printing the token
    from workbench.cli import main

    uri = failing_server.replace("http://", "http://zq8opaquevalue77tok@")
    assert main(["list", "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: tracking store {failing_server.replace('http://', 'http://***@')}: the server refused the token given as "
                   "the URI's login (HTTP 401) — check the token in the URI\n")
