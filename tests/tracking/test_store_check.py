"""The store check run before a command reads or writes runs: a store it cannot read at that moment is not called empty."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import copy_store
from workbench.tracking import check_store


def test_a_store_locked_by_another_process_is_not_called_one_without_runs(tmp_path: Path, empty_store: Path) -> None:
    # `workbench promote`/`compare` while a sweep held the store's lock said "holds no MLflow store (no runs table) — run
    # a sweep first": the check could not read the tables, and read that as none (MLflow itself waits for the lock)
    uri = copy_store(empty_store, tmp_path)
    path = Path(uri.removeprefix("sqlite:///"))
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")  # what a writer holds in the middle of its transaction
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=0) as reader:  # the lock is real
            try:
                reader.execute("SELECT name FROM sqlite_master").fetchall()
                raise AssertionError("the store was readable")
            except sqlite3.OperationalError as exc:
                assert "locked" in str(exc)
        check_store(uri, must_exist=True)  # no error: the command goes on to MLflow, which waits for the lock
        check_store(uri, must_exist=False)
    finally:
        holder.close()


def test_a_tracking_uri_where_another_web_server_answers_is_one_line_naming_it(tmp_path: Path) -> None:
    """MLFLOW_TRACKING_URI at the Chroma server's port (or any other web server's, a wrong port in the team's env file):
    a sweep ended in "MlflowException: API request to endpoint /api/2.0/mlflow/experiments/get-by-name failed with
    error code 404 != 200", and `workbench list` without a word of what to do."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import pytest

    from workbench.errors import WorkbenchError

    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for must_exist in (True, False):
            with pytest.raises(WorkbenchError) as caught:
                check_store(uri, must_exist=must_exist)
            assert str(caught.value) == (f"tracking store {uri}: a web server answers there, but not as an MLflow tracking server "
                                         "(HTTP 404 for its REST API) — check the host and port (the one `workbench server` "
                                         "printed), or point --tracking-uri or MLFLOW_TRACKING_URI at your store")
    finally:
        server.shutdown()
        server.server_close()
