"""The GridBuilder opens an experiment with a router entry: routers are kept as they are, the models stay editable."""

from __future__ import annotations

from pathlib import Path

from workbench.grid import expand_grid
from workbench.spec import RouterEntry, load_experiment
from workbench.widgets import GridBuilder

ROOT = Path(__file__).resolve().parents[2]


def test_grid_builder_keeps_a_router_entry_and_counts_its_variant(tmp_path: Path) -> None:
    spec = load_experiment(ROOT / "experiments" / "routing.yaml")
    builder = GridBuilder(spec, base_dir=ROOT / "experiments", save_path=tmp_path / "routing.yaml")
    assert len(builder.models.rows) == 2  # the two models alone; the router is not a model row
    edited = builder.spec()
    assert [m.router for m in edited.models if isinstance(m, RouterEntry)] == [m.router for m in spec.models if isinstance(m, RouterEntry)]
    assert builder.variant_count() == len(expand_grid(spec)) == 3
    builder.models.rows[0].max_tokens.value = 48
    assert builder.spec().models[0].params.max_tokens == 48  # type: ignore[union-attr]
