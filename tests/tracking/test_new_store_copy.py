"""A new sqlite store starts as a copy of the migrated empty store this machine keeps for its MLflow: the same schema
as MLflow's migrations make, without their two seconds of CPU in every first sweep of a new project."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest

from workbench.tracking import MlflowTracker


def schema(db: Path) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Every table and index with its definition's lines in order of their text: MLflow's migrations write a table's
    CHECK constraints in an order that changes with what its process did before (a second store made in one process
    can list them the other way round), which means nothing to sqlite."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
        tables = sorted((kind, name, table, *sorted(line.strip().rstrip(",").strip() for line in (sql or "").splitlines()))
                        for kind, name, table, sql in rows)
        return tables, conn.execute("SELECT version_num FROM alembic_version").fetchall()


class Said(logging.Handler):
    """What MLflow's store logger says (MLflow's loggers do not propagate to pytest's caplog)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_a_new_store_is_copied_with_the_schema_mlflows_migrations_make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    logger, said = logging.getLogger("mlflow.store.db.utils"), Said()
    level = logger.level
    logger.setLevel(logging.INFO)  # the user's level stays: MLflow says when it creates a store's tables
    logger.addHandler(said)
    try:
        MlflowTracker(f"sqlite:///{tmp_path / 'first' / 'mlflow.db'}")  # keeps the empty store, once for the machine
        assert any("Creating initial MLflow database tables" in line for line in said.lines)  # (the handler hears it)
        said.lines.clear()
        before_ms = int(time.time() * 1000)
        second = MlflowTracker(f"sqlite:///{tmp_path / 'second' / 'mlflow.db'}")
        assert said.lines == []  # no tables created, no migration run
    finally:
        logger.setLevel(level)
        logger.removeHandler(said)
    SqlAlchemyStore(f"sqlite:///{tmp_path / 'migrated.db'}", str(tmp_path / "migrated-artifacts"))  # MLflow's own way
    assert schema(tmp_path / "second" / "mlflow.db") == schema(tmp_path / "migrated.db")
    # its Default experiment is its own (made by MLflow as it opened the copy), and it takes runs
    default = second.client.get_experiment("0")
    assert default.name == "Default" and default.creation_time >= before_ms
    run = second.client.create_run("0")
    second.client.log_metric(run.info.run_id, "m", 1.0)
    assert second.client.get_run(run.info.run_id).data.metrics == {"m": 1.0}
    assert [p.suffix for p in (tmp_path / "home" / ".cache" / "workbench" / "stores").iterdir()] == [".db"]


def test_a_store_that_cannot_be_copied_is_made_by_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".cache").write_text("not a folder")  # no cache folder can be made there
    monkeypatch.setenv("HOME", str(home))
    tracker = MlflowTracker(f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    assert tracker.client.get_experiment("0").name == "Default"
