"""A database store (``postgresql://``, no tracking server) whose server stops accepting connections mid-sweep: the
same one line as a tracking server that goes away, not MLflow's ~100-line traceback of the driver's error and a
generic store error; the re-run logs every variant from the cache. A real PostgreSQL 15 cluster (tests/team/conftest.py)
refuses the sweep's database (``ALLOW_CONNECTIONS false`` and its sessions ended) right after the first variant is
logged. Fake models answer."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

import workbench as wb
from tests.promotion.conftest import fake_models
from tests.team.conftest import Postgres
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
    uri = postgres.create_database("sweeps")
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
