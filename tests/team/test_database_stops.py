"""A database store (``postgresql://``, no tracking server) whose server stops accepting connections mid-sweep: the
same one line as a tracking server that goes away, not MLflow's ~100-line traceback of the driver's error and a
generic store error; the re-run logs every variant from the cache. A real PostgreSQL 15 cluster (tests/team/conftest.py)
refuses the sweep's database (``ALLOW_CONNECTIONS false`` and its sessions ended) right after the first variant is
logged. Fake models answer. And a new database store opened by two processes at once: both open it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

import workbench as wb
from tests.promotion.conftest import fake_models
from tests.team.conftest import ROOT, Postgres
from tests.team.test_server_stops import PROMPTS, QUESTIONS, write_experiment
from workbench.config import settings
from workbench.models import GEMMA_ID
from workbench.pipeline import MemoryIndexStore
from workbench.tracking import TrackingUnavailable

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def refuse_connections(postgres: Postgres, database: str, *, refuse: bool) -> None:
    with psycopg.connect(host="127.0.0.1", port=postgres.port, user=postgres.user, dbname="postgres", autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {"false" if refuse else "true"}')
        if refuse:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))


def test_a_database_going_away_mid_sweep_is_one_line_and_the_rerun_logs_everything(
    postgres: Postgres, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    uri = postgres.create_store("sweeps")
    cfg = settings(root=tmp_path, tracking_uri=uri)
    spec = wb.load_experiment(write_experiment(tmp_path))
    models = fake_models()  # one object across both runs: its answers are cached under its identity
    cut: list[str] = []

    def on_event(event: wb.ProgressEvent) -> None:
        if event.kind == "variant_done" and not cut:
            refuse_connections(postgres, "sweeps", refuse=True)
            cut.append(event.variant.name if event.variant else "")

    with pytest.raises(TrackingUnavailable) as down:
        wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=cfg, progress=False, on_event=on_event)
    line = str(down.value)
    assert line.startswith(f"tracking server postgresql://{postgres.user}@127.0.0.1:{postgres.port}/sweeps stopped answering "
                           "while logging a variant"), line
    assert "re-run the same command" in line and "\n" not in line, line
    assert "SQLAlchemy database error" not in capfd.readouterr().err  # MLflow's traceback of the error it raised again

    refuse_connections(postgres, "sweeps", refuse=False)
    calls = len(models[GEMMA_ID].calls)
    again = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=cfg, progress=False)
    assert [v.status for v in again.variants] == ["FINISHED"] * len(PROMPTS)
    assert sum(1 for v in again.variants if v.reused_from) == 1
    assert len(models[GEMMA_ID].calls) - calls == QUESTIONS  # only the variant that never ran called the model


# Opens the store as a sweep does (MlflowTracker), or as `workbench list` does ("list"). "first" holds its migrations
# up (a sleep before its first statement on the alembic_version table, which MLflow makes once the initial tables are
# made) and says so in a file; the other waits for that file, then opens the same database while the first one's
# migrations are under way.
_OPEN = r"""
import pathlib, sys, time
from sqlalchemy import event
from sqlalchemy.engine import Engine
from workbench.tracking import MlflowTracker, list_experiments

role, uri, flag = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
if role == "first":
    def before(conn, cursor, statement, *args):
        if "alembic_version" in statement and not flag.exists():
            flag.write_text("migrating")
            time.sleep(3)
    event.listen(Engine, "before_cursor_execute", before)
else:
    while not flag.exists():
        time.sleep(0.05)
if role == "list":
    list_experiments(tracking_uri=uri)
else:
    MlflowTracker(uri).client.search_experiments()
print("opened")
"""


@pytest.mark.parametrize("second", ["sweep", "list"])
def test_two_machines_opening_a_new_database_store_at_once_both_open_it(postgres: Postgres, tmp_path: Path, second: str) -> None:
    """Two teammates' first sweeps into a new ``postgresql://`` store (or a sweep and a ``workbench list``, which makes
    a new database's tables too): the second one's migrations ran beside the first one's, and it died on "duplicate
    key value violates unique constraint pg_type_typname_nsp_index"."""
    uri = postgres.create_database(f"opened_by_{second}")
    flag = tmp_path / "migrating"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _OPEN, role, uri, str(flag)], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for role in ("first", second)]
    outs = [proc.communicate(timeout=120) for proc in procs]
    assert flag.exists()  # the first one did hold its migrations up
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0 and out.strip() == "opened", err[-2000:]


def test_reading_a_new_database_store_prints_no_mlflow_info_lines(postgres: Postgres, tmp_path: Path) -> None:
    """`workbench list` on a new ``postgresql://`` database (which makes its tables) printed MLflow's "INFO
    mlflow.store.db.utils: Creating initial MLflow database tables..." and "Updating database tables" after its listing."""
    uri = postgres.create_database("read_first")
    code = "import sys; from workbench.tracking import list_experiments; print(len(list_experiments(tracking_uri=sys.argv[1])))"
    done = subprocess.run([sys.executable, "-c", code, uri], env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "1", done.stderr[-2000:]  # the Default experiment
    assert "Creating initial MLflow database tables" not in done.stderr and "Updating database tables" not in done.stderr, done.stderr


def test_an_error_holding_a_nul_character_is_logged_on_a_database_store(postgres: Postgres, tmp_path: Path) -> None:
    """A provider's error quoting a binary reply holds NUL characters, which PostgreSQL's text columns refuse: the sweep
    ended in MLflow's traceback ("PostgreSQL text fields cannot contain NUL (0x00) bytes") where sqlite logged it."""
    from mlflow import MlflowClient

    from tests.promotion.conftest import write_project
    from workbench.models import MINILM_ID
    from workbench.testing import HashingEmbedder, ScriptedModel

    def fail(prompt: object) -> str:
        raise RuntimeError("provider said: \x00\x01 binary")

    uri = postgres.create_store("nul_errors")
    spec = write_project(tmp_path).model_copy(update={"scorers": ("token_f1",)})
    models = {GEMMA_ID: ScriptedModel(fail, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=settings(root=tmp_path, tracking_uri=uri),
                    progress=False, limit=1)
    run = MlflowClient(uri).get_run(result.variants[0].run_id)
    assert run.info.status == "FAILED"
    assert "provider said: \ufffd\x01 binary" in run.data.tags["workbench.error"], run.data.tags["workbench.error"]
    parent = MlflowClient(uri).get_run(result.parent_run_id)  # ended by its sweep: FAILED, as every variant failed
    assert parent.info.status == "FAILED" and "variants finished" in parent.data.tags["mlflow.note.content"]
