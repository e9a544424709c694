"""A Ctrl+C (a notebook's interrupt) while a process first imports MLflow or creates a new sqlite store.

Cut in two, the import left a half-imported mlflow/SQLAlchemy that failed every later sweep of the kernel ("partially
initialized module 'mlflow'"), and the migrations a half-migrated store that no process could open again ("table
_alembic_tmp_experiments already exists"). Each case runs in a fresh interpreter (nothing imported yet), with the
interrupt delivered at a set point of the import or the migrations rather than at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = r"""
import importlib.abc, signal, sys

where, db = sys.argv[1], sys.argv[2]

def interrupt():
    signal.raise_signal(signal.SIGINT)  # what the kernel's interrupt button sends

if where != "migration":
    class Interrupting(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == where:  # as this module starts importing, deep inside the first import of MLflow
                sys.meta_path.remove(self)
                interrupt()
            return None
    sys.meta_path.insert(0, Interrupting())
else:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def before(conn, cursor, statement, *args):
        if "_alembic_tmp_" in statement and not getattr(before, "done", False):  # in the middle of a migration
            before.done = True
            interrupt()
    event.listen(Engine, "before_cursor_execute", before)

from workbench.tracking import MlflowTracker

try:
    MlflowTracker("sqlite:///" + db)
    print("not interrupted")
except KeyboardInterrupt:
    print("interrupted")
MlflowTracker("sqlite:///" + db).client.search_experiments()  # the same kernel, its next sweep
print("opened")
"""

_REOPEN = "import sys; from workbench.tracking import MlflowTracker; MlflowTracker('sqlite:///' + sys.argv[1]).client.search_experiments(); print('opened')"


def _python(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # a home of its own: a new store is a copy of the empty store kept there, made (migrated) by the first process
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WORKBENCH_ROOT": str(tmp_path), "HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


# the import of SQLAlchemy (by MLflow's sql store, and by the store's WAL tuning before it), and a migration
@pytest.mark.parametrize("where", ["sqlalchemy.sql.base", "migration"])
def test_an_interrupt_while_the_store_is_first_opened_leaves_the_kernel_and_the_store_usable(tmp_path: Path, where: str) -> None:
    db = tmp_path / "mlruns" / "mlflow.db"
    db.parent.mkdir()
    done = _python(tmp_path, "-c", _SCRIPT, where, str(db))
    assert done.stdout.split() == ["interrupted", "opened"], done.stderr[-3000:]
    again = _python(tmp_path, "-c", _REOPEN, str(db))  # another process: the store is whole
    assert again.stdout.split() == ["opened"], again.stderr[-3000:]
