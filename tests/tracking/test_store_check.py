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
