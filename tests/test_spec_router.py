"""Router entries of the models axis: loading, one-line located errors, grid expansion, the shipped routing example."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from workbench.errors import SpecError
from workbench.grid import expand_grid
from workbench.spec import ExperimentSpec, ModelSpec, RouterEntry, RouterSpec, load_experiment

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
name: t
dataset:
  path: d.jsonl
corpus:
  builtin: python-reference
prompts:
  - name: a
    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"
models:
  - id: local:gemma3-270m
  - router:
      name: r1
      cheap: {id: local:smollm2-135m-instruct, params: {max_tokens: 32}}
      strong:
        id: local:gemma3-270m
        params: {max_tokens: 32}
      escalate_when:
        retrieval_score_below: 0.3
        refusal_or_empty: true
chunkers:
  - strategy: recursive
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_router_entry_loads_round_trips_and_is_one_variant(tmp_path: Path) -> None:
    spec = load_experiment(write(tmp_path, GOOD))
    assert isinstance(spec.models[0], ModelSpec) and isinstance(spec.models[1], RouterEntry)
    router = spec.models[1].router
    assert (router.cheap.id, router.strong.id) == ("local:smollm2-135m-instruct", "local:gemma3-270m")
    assert router.escalate_when.refusal_or_empty and router.escalate_when.grounding_below is None
    again = ExperimentSpec.model_validate(yaml.safe_load(spec.to_yaml()))
    assert again.model_dump() == spec.model_dump() and again.hash == spec.hash
    variants = expand_grid(spec)
    assert [v.name for v in variants] == ["a|gemma3-270m|recursive-800/80|k4-similarity", "a|r1|recursive-800/80|k4-similarity"]
    routed = variants[1]
    assert routed.router == router and routed.answering_models == (router.cheap, router.strong)
    assert variants[0].router is None and variants[0].answering_models == (spec.models[0],)
    params = routed.params()
    assert params["router.cheap.id"] == "local:smollm2-135m-instruct" and params["router.cheap.kind"] == "chat"
    assert params["router.strong.kind"] == "completion"
    assert params["router.escalate_when.retrieval_score_below"] == "0.3"
    # as the MLflow UI shows and filters them: JSON's true, not Python's repr 'True'; a signal left unset is no param
    # (it was 'None', a string that sorts and filters as a value)
    assert params["router.escalate_when.refusal_or_empty"] == "true"
    assert "router.escalate_when.grounding_below" not in params
    assert not {v for v in params.values() if v in ("None", "True", "False")}


def test_a_router_variant_has_the_model_id_param_every_variant_has(tmp_path: Path) -> None:
    """The MLflow UI's run table and compare view line runs up by param: a router's run had no ``model.id`` (only
    ``router.*``), so sorting or filtering a sweep by model left the router out. It is ``router:<name>``, the name the
    leaderboard shows; its two models stay in ``router.cheap.*`` and ``router.strong.*``."""
    from workbench.comparison._routing import routing_pairs
    from workbench.comparison._tables import VariantTable

    plain, routed = (v.params() for v in expand_grid(load_experiment(write(tmp_path, GOOD))))
    assert routed["model.id"] == "router:r1" and plain["model.id"] == "local:gemma3-270m"
    assert routed["router.cheap.id"] == "local:smollm2-135m-instruct" and routed["router.strong.id"] == "local:gemma3-270m"
    # a router is never taken for the model alone it is compared with
    strong_alone = {**plain, "model.params.max_tokens": "32"}
    tables = [VariantTable(name, name, None, None, "c", "e", "r", params) for name, params in (("alone", strong_alone), ("routed", routed))]  # type: ignore[arg-type]
    assert [(r.name, role, a.name) for r, role, a in routing_pairs(tables)] == [("routed", "strong", "alone")]


def test_a_router_id_covers_both_models_and_the_thresholds(tmp_path: Path) -> None:
    base = expand_grid(load_experiment(write(tmp_path, GOOD)))[1].id
    for old, new in (("retrieval_score_below: 0.3", "retrieval_score_below: 0.4"),
                     ("params: {max_tokens: 32}}", "params: {max_tokens: 33}}")):
        assert old in GOOD
        changed = expand_grid(load_experiment(write(tmp_path, GOOD.replace(old, new))))[1].id
        assert changed != base, new
    # how it runs, not what it answers: the cache, the kind Gemma is anyway, a hosted call's time limit
    for old, new in (("params: {max_tokens: 32}}", "params: {max_tokens: 32}, cache: false}"),
                     ("        id: local:gemma3-270m\n", "        id: local:gemma3-270m\n        kind: completion\n"),
                     ("params: {max_tokens: 32}}", "params: {max_tokens: 32, timeout_s: 5}}")):
        assert old in GOOD
        assert expand_grid(load_experiment(write(tmp_path, GOOD.replace(old, new))))[1].id == base, new


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("        refusal_or_empty: true\n", "        refusal_or_empty: 3\n",
         r"exp.yaml:19: models\[1\]\.router\.escalate_when\.refusal_or_empty: Input should be a valid boolean"),
        ("        retrieval_score_below: 0.3\n        refusal_or_empty: true\n", "        refusal_or_empty: false\n",
         r"exp.yaml:17: models\[1\]\.router\.escalate_when: no escalation signal is set — set retrieval_score_below"),
        ("id: local:smollm2-135m-instruct", "id: local:nope",
         r"exp.yaml:13: models\[1\]\.router\.cheap\.id: unknown local generator 'local:nope'"),
        ("      name: r1\n", "", r"exp.yaml:11: models\[1\]\.router\.name: required field is missing"),
        ("      name: r1\n", "      name: r1\n      cheep: 1\n", r"exp.yaml:13: models\[1\]\.router\.cheep: unknown field"),
        ("        id: local:gemma3-270m\n        params: {max_tokens: 32}", "        id: local:smollm2-135m-instruct\n        params: {max_tokens: 32}",
         r"exp.yaml:11: models\[1\]\.router: cheap and strong are the same model \(local:smollm2-135m-instruct\)"),
        *(  # the same model under another name, with its default kind spelled out, or with another time limit only
            ("        id: local:gemma3-270m\n        params: {max_tokens: 32}", f"        id: local:smollm2-135m-instruct\n        {extra}",
             r"exp.yaml:11: models\[1\]\.router: cheap and strong are the same model \(local:smollm2-135m-instruct\)")
            for extra in ("params: {max_tokens: 32}\n        name: big", "params: {max_tokens: 32}\n        kind: chat",
                          "params: {max_tokens: 32, timeout_s: 300}")
        ),
        ("        retrieval_score_below: 0.3", "        retrieval_score_below: 3",
         r"exp.yaml:18: models\[1\]\.router\.escalate_when\.retrieval_score_below: 3 is over 1, the most it may be — give 1 or less$"),
        ("  - id: local:gemma3-270m\n",
         "  - id: local:gemma3-270m\n  - router: {name: r1, cheap: {id: local:gemma3-270m}, strong: {id: local:smollm2-135m-instruct}, "
         "escalate_when: {refusal_or_empty: true}}\n",
         r"exp.yaml:9: models: router name 'r1' is used twice"),
        ("  - id: local:gemma3-270m\n", "  - id: local:gemma3-27\n", r"exp.yaml:10: models\[0\]\.id: unknown local generator"),
        ("      cheap: {id: local:smollm2-135m-instruct, params: {max_tokens: 32}}",  # was "cheap.id: required field is missing"
         "      cheap: {router: {name: r0, cheap: {id: local:smollm2-135m-instruct}, strong: {id: local:gemma3-270m}, "
         "escalate_when: {refusal_or_empty: true}}}",
         r"exp.yaml:11: models\[1\]\.router: cheap is a router — routers do not nest: give cheap a model \(\{id: \.\.\., params: \.\.\.\}\)"),
    ],
)
def test_bad_router_entries_are_one_located_line(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    with pytest.raises(SpecError, match=expected) as info:
        load_experiment(write(tmp_path, GOOD.replace(old, new)))
    assert "\n" not in str(info.value)


def test_routing_example_loads_and_expands_to_the_router_and_each_model_alone() -> None:
    spec = load_experiment(ROOT / "experiments" / "routing.yaml")
    routers = [m.router for m in spec.models if isinstance(m, RouterEntry)]
    alone = [m for m in spec.models if isinstance(m, ModelSpec)]
    assert len(routers) == 1
    router = routers[0]
    assert {router.cheap.id, router.strong.id} == {"local:smollm2-135m-instruct", "local:gemma3-270m"}
    assert [m.model_dump() for m in alone] == [router.cheap.model_dump(), router.strong.model_dump()]
    cheap, strong = spec.price(router.cheap.id), spec.price(router.strong.id)
    assert cheap is not None and strong is not None
    assert strong.input_per_m > cheap.input_per_m and strong.output_per_m > cheap.output_per_m  # the strong one is "expensive"
    variants = expand_grid(spec)
    assert sum(1 for v in variants if isinstance(v.model, RouterSpec)) == len(spec.prompts) * len(spec.chunkers) * len(spec.retrieval)
    assert len(variants) == 3 * len(spec.prompts) * len(spec.chunkers) * len(spec.retrieval)
