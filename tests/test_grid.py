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


def test_a_router_of_gguf_files_relative_to_the_experiment_has_one_id_in_every_clone(tmp_path: Path) -> None:
    from workbench.models import GEMMA_ID
    from workbench.spec import ExperimentSpec

    router = {"router": {"name": "r", "cheap": {"id": "llamacpp:models/cheap.gguf"}, "strong": {"id": GEMMA_ID},
                         "escalate_when": {"refusal_or_empty": True}}}
    data = {"name": "clones", "dataset": {"path": "q.jsonl"}, "corpus": {"path": "docs"},
            "prompts": [{"name": "p", "template": "{context} {question}"}], "models": [router],
            "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}]}
    alice, bob = (expand_grid(ExperimentSpec.from_dict(data, base_dir=tmp_path / who))[0] for who in ("alice", "bob"))
    assert alice.router is not None and alice.router.cheap.id == f"llamacpp:{tmp_path / 'alice' / 'models' / 'cheap.gguf'}"
    assert alice.id == bob.id
    data["models"][0]["router"]["cheap"]["id"] = "llamacpp:models/other.gguf"  # type: ignore[index]
    assert expand_grid(ExperimentSpec.from_dict(data, base_dir=tmp_path / "alice"))[0].id != alice.id


GRID = {"name": "written", "dataset": {"path": "q.jsonl"}, "corpus": {"path": "docs"},
        "prompts": [{"name": "p", "template": "{context}\nQ: {question}\nA:"}], "models": [{"id": "local:gemma3-270m"}],
        "chunkers": [{"strategy": "recursive"}], "retrieval": [{"k": 4}]}


def _ids(tmp_path: Path, **axes: object) -> list[str]:
    from workbench.spec import ExperimentSpec

    return [v.id for v in expand_grid(ExperimentSpec.from_dict({**GRID, **axes}, base_dir=tmp_path))]


def test_settings_that_cannot_change_an_answer_leave_the_variant_id_as_it_was(tmp_path: Path) -> None:
    # kind written as the model's own, a hosted call's time limit, the MMR settings of a similarity search: the same
    # answers and chunks, but every run was computed again (nothing reused) once a teammate wrote one out
    first = _ids(tmp_path)
    for axes in ({"models": [{"id": "local:gemma3-270m", "kind": "completion"}]},
                 {"models": [{"id": "local:gemma3-270m", "params": {"timeout_s": 5}}]},
                 {"models": [{"id": "local:gemma3-270m", "params": {"timeout_s": None}}]},
                 {"retrieval": [{"k": 4, "search": "similarity", "fetch_k": 50, "mmr_lambda": 0.9}]}):
        assert _ids(tmp_path, **axes) == first, axes
    router = {"router": {"name": "r", "cheap": {"id": "local:gemma3-270m"}, "strong": {"id": "local:smollm2-135m-instruct"},
                         "escalate_when": {"refusal_or_empty": True}}}
    routed = _ids(tmp_path, models=[router])
    router["router"]["cheap"] = {"id": "local:gemma3-270m", "kind": "completion", "params": {"timeout_s": 9}}  # type: ignore[index]
    assert _ids(tmp_path, models=[router]) == routed
    # what does change them still does
    for axes in ({"models": [{"id": "local:gemma3-270m", "params": {"max_tokens": 64}}]},
                 {"models": [{"id": "local:gemma3-270m", "params": {"stop": ["###"]}}]},
                 {"retrieval": [{"k": 4, "search": "mmr", "fetch_k": 50}]}):
        assert _ids(tmp_path, **axes) != first, axes
    assert _ids(tmp_path, retrieval=[{"k": 4, "search": "mmr", "fetch_k": 50}]) != _ids(tmp_path, retrieval=[{"k": 4, "search": "mmr"}])


def test_entries_equal_once_their_defaults_are_applied_are_one_variant(tmp_path: Path) -> None:
    # they were refused as two entries "both named 'gemma3-270m'" that needed a name: each, to tell apart one variant
    models = [{"id": "local:gemma3-270m"}, {"id": "local:gemma3-270m", "kind": "completion", "params": {"timeout_s": 30}}]
    assert len(_ids(tmp_path, models=models)) == 1
    assert len(_ids(tmp_path, retrieval=[{"k": 4}, {"k": 4, "fetch_k": 40}])) == 1


def test_the_plan_counts_variants_indexes_and_a_routers_calls_as_a_bound(tmp_path: Path) -> None:
    from workbench.grid import plan_grid
    from workbench.spec import ExperimentSpec

    router = {"router": {"name": "r", "cheap": {"id": "local:gemma3-270m"}, "strong": {"id": "local:smollm2-135m-instruct"},
                         "escalate_when": {"refusal_or_empty": True}}}
    spec = ExperimentSpec.from_dict({**GRID, "models": [{"id": "local:gemma3-270m"}, router],
                                     "chunkers": [{"strategy": "recursive"}, {"strategy": "token"}]}, base_dir=tmp_path)
    plan = plan_grid(spec, expand_grid(spec), 10)
    assert (plan.variants, plan.indexes, plan.model_calls) == (4, 2, 60)  # a router's two models may both answer
    assert plan.summary() == ("4 variants (1 prompt x 2 models x 2 chunkers x 1 retrieval setting), 2 indexes, 10 questions: "
                              "up to 60 model calls")


def test_the_plan_of_a_racing_sweep_counts_its_calls_as_a_bound(tmp_path: Path) -> None:
    # racing stops the variants clearly worse than the leader: "= 40 model calls" promised calls it may not make
    from workbench.grid import plan_grid
    from workbench.spec import ExperimentSpec

    spec = ExperimentSpec.from_dict({**GRID, "execution": {"racing": {"metric": "token_f1"}}}, base_dir=tmp_path)
    assert plan_grid(spec, expand_grid(spec), 40).summary().endswith("40 questions: up to 40 model calls")


def test_the_plan_of_one_variant_on_one_question_is_in_the_singular(tmp_path: Path) -> None:
    from workbench.grid import plan_grid
    from workbench.spec import ExperimentSpec

    spec = ExperimentSpec.from_dict(GRID, base_dir=tmp_path)
    assert plan_grid(spec, expand_grid(spec), 1).summary() == (  # was "1 model calls"
        "1 variant (1 prompt x 1 model x 1 chunker x 1 retrieval setting), 1 index, 1 question: 1 model call")
