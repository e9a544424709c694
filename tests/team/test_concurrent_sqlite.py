"""Two sweeps (two notebooks) started together on a brand-new sqlite store: both finish and nothing is lost.

Without the store lock, both processes find an empty database, both run MLflow's schema migrations and one dies with
an alembic ``CommandError``. Each sweep runs in its own Python process (fake models), released at the same moment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from mlflow import MlflowClient

ROOT = Path(__file__).resolve().parents[2]

SWEEP = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    import workbench as wb
    from tests.promotion.conftest import fake_models, write_project
    from workbench.config import settings
    from workbench.pipeline import MemoryIndexStore

    root, uri, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    spec = write_project(root).model_copy(update={"scorers": ("token_f1", "hit_at_k")})  # no ragas/nltk imports
    models = fake_models()
    while not go.exists():  # everything is imported: start both sweeps at the same moment
        time.sleep(0.005)
    result = wb.run(spec, settings=settings(root=root, tracking_uri=uri), models=models, index_store=MemoryIndexStore(),
                    progress=False, fresh=True)
    assert [v.status for v in result.variants] == ["FINISHED", "FINISHED"], [v.outcome.error for v in result.variants]
    print(result.parent_run_id)
    """
)


def test_two_sweeps_on_a_new_sqlite_store_both_finish(tmp_path: Path) -> None:
    db = tmp_path / "shared" / "mlruns" / "mlflow.db"
    uri = f"sqlite:///{db}"
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    procs = []
    for name in ("ana", "ben"):
        root = tmp_path / name  # each notebook its own folder (cache, indexes); one shared store
        root.mkdir()
        procs.append(subprocess.Popen([sys.executable, "-c", SWEEP, str(root), uri, str(go)], cwd=ROOT, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    time.sleep(0.5)
    go.touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, f"sweep process failed ({p.returncode}):\n{err[-3000:]}"
    parents = [out.strip().splitlines()[-1] for out, _ in outputs]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("promo")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    assert {r.info.run_id for r in runs if "mlflow.parentRunId" not in r.data.tags} == set(parents)
    for parent in parents:
        assert client.get_run(parent).info.status == "FINISHED"
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]
        assert len(children) == 2 and all(r.info.status == "FINISHED" for r in children)
        assert all("token_f1" in r.data.metrics for r in children)
