from pathlib import Path

from workbench.grid import expand_grid
from workbench.spec import load_experiment

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_grid_is_two_prompts_by_two_chunkers_by_both_local_models() -> None:
    spec = load_experiment(ROOT / "experiments" / "quickstart.yaml")
    variants = expand_grid(spec)
    assert len(variants) == 8
    assert len({v.id for v in variants}) == 8
    assert len({v.index_key for v in variants}) == 2  # prompts and models share the index of their chunker
    assert {(m.id, m.resolved_kind) for m in spec.models} == {("local:gemma3-270m", "completion"), ("local:smollm2-135m-instruct", "chat")}


def test_variant_ids_depend_on_content_only() -> None:
    spec = load_experiment(ROOT / "experiments" / "quickstart.yaml")
    first = {v.name: v.id for v in expand_grid(spec)}
    reordered = spec.model_copy(update={"prompts": tuple(reversed(spec.prompts))})
    assert {v.name: v.id for v in expand_grid(reordered)} == first
    changed = spec.model_copy(update={"models": (spec.models[0].model_copy(update={"params": spec.models[0].params.model_copy(update={"max_tokens": 65})}),)})
    assert not set(v.id for v in expand_grid(changed)) & set(first.values())


def test_params_are_flat_strings_without_the_template_text() -> None:
    spec = load_experiment(ROOT / "experiments" / "quickstart.yaml")
    params = expand_grid(spec)[0].params()
    assert params["chunker.strategy"] == "recursive"
    assert params["model.params.max_tokens"] == "64"
    assert params["model.kind"] == "completion"
    assert params["prompt.name"] == "grounded"
    assert all(isinstance(v, str) for v in params.values())
    assert not any("template" in k for k in params)
