from __future__ import annotations
import workbench as wb
from workbench.pipeline import MemoryIndexStore
from workbench.spec import ExperimentSpec
from .test_routing_sweep import routing_spec, _models  # noqa: F401


def test_probe_racing(routing_spec, wb_settings):  # noqa: F811
    d = routing_spec.model_dump(mode="json", exclude_none=True)
    d["execution"] = {**d.get("execution", {}), "racing": {"metric": "token_f1", "min_questions": 2, "batch": 1}}
    spec = ExperimentSpec.from_dict(d, base_dir=routing_spec.base_dir)
    r = wb.run(spec, models=_models(), index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    for v in r.variants:
        print("V", v.variant.name, v.status, len(v.records), v.stopped_early, {k: val for k, val in v.metrics.items() if 'calls' in k or 'escal' in k or k in ('cost_usd','spent_usd','questions')})
    print("NOTES", r.notes)
    rep = wb.compare(r)
    print(rep.routing.to_string() if rep.routing is not None else None)
    assert False
