"""Two sweeps (two notebooks) started together on a brand-new sqlite store: both finish and nothing is lost.

Without the store lock, both processes find an empty database, both run MLflow's schema migrations and one dies with
an alembic ``CommandError``. Each sweep runs in its own Python process (fake models), released at the same moment.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from mlflow import MlflowClient

from tests.conftest import run_together

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
    for name in ("ana", "ben"):
        (tmp_path / name).mkdir()  # each notebook its own folder (cache, indexes); one shared store
    parents = run_together([[SWEEP, str(tmp_path / name), uri, str(go)] for name in ("ana", "ben")], go, env)
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
