"""The GridBuilder hands back the spec it was given when nothing was edited: every field it has no control for is kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

import workbench as wb
from workbench.models import GEMMA_ID, SMOLLM2_ID
from workbench.spec import ModelSpec
from workbench.widgets import GridBuilder

PROMPT = "Context: {context}\nQuestion: {question}\nAnswer:"
ROUTER = {
    "router": {
        "name": "cheap-then-strong",
        "cheap": {"id": SMOLLM2_ID, "params": {"timeout_s": None}},
        "strong": {"id": GEMMA_ID},
        "escalate_when": {"refusal_or_empty": True},
    }
}


def write_dataset(folder: Path, question_chars: int) -> None:
    case = {"id": "long", "question": "Why " + "x" * (question_chars - 5) + "?", "reference": "Because.", "source_ids": []}
    short = {"id": "short", "question": "Why?", "reference": "Because.", "source_ids": []}
    (folder / "ds_long.jsonl").write_text("\n".join(json.dumps(c) for c in (case, short)) + "\n", encoding="utf-8")


def rich_spec(folder: Path) -> wb.ExperimentSpec:
    """A spec that sets most optional fields to something other than their default."""
    write_dataset(folder, 4886)
    (folder / "docs").mkdir()
    return wb.ExperimentSpec.from_dict(
        {
            "name": "rich",
            "description": "every optional field set",
            "dataset": {"path": "ds_long.jsonl", "limit": 2, "max_question_chars": 10000, "max_reference_chars": 500},
            "corpus": {"path": "docs", "glob": "*.txt", "exclude": ["drafts/**"]},
            "prompts": [{"name": "grounded", "template": PROMPT, "system": "Be brief."}],
            "models": [
                ROUTER,
                {"id": GEMMA_ID, "kind": "completion", "cache": False, "name": "gemma-hot",
                 "params": {"temperature": 0.7, "max_tokens": 512, "stop": ["\n\n"], "timeout_s": None}},
                {"id": GEMMA_ID, "params": {"max_tokens": 16}},
            ],
            "chunkers": [{"strategy": "token", "size": 240, "overlap": 48}],
            "retrieval": [{"k": 30, "search": "mmr", "fetch_k": 60, "mmr_lambda": 0.3}],
            "judge": {"id": SMOLLM2_ID, "n": 3, "max_tokens": 128, "temperature": 0.2, "cache": False},
            "scorers": ["token_f1", "mrr", "faithfulness"],
            "limits": {"wall_time_s": 60, "max_tokens": 50000, "memory_mb": 512},
            "execution": {"isolation": "none", "workers": 3, "concurrency": {"openai": 5}, "retries": 1,
                          "racing": {"metric": "token_f1", "batch": 2, "min_questions": 4, "tolerance": 0.05}},
            "index_store": {"url": "http://127.0.0.1:8000"},
            "pricing": {GEMMA_ID: {"input": 1.0, "output": 2.0}},
            "seed": 7,
            "promotion": {"gates": [{"kind": "metric", "metric": "token_f1", "min": 0.5}, {"kind": "min_questions", "n": 2}],
                          "require_staging": False},
        },
        base_dir=folder,
    )


def small_spec(tmp_path: Path, **fields: Any) -> wb.ExperimentSpec:
    """A one-prompt, one-model, one-chunker spec over ``tmp_path``, with ``fields`` replacing its own."""
    data: dict[str, Any] = {
        "name": "small", "dataset": {"path": "ds_long.jsonl"}, "corpus": {"builtin": "python-reference"},
        "prompts": [{"name": "p", "template": PROMPT}], "models": [{"id": GEMMA_ID}], "chunkers": [{"strategy": "recursive"}],
    }
    return wb.ExperimentSpec.from_dict({**data, **fields}, base_dir=tmp_path)


def test_an_untouched_grid_builder_returns_the_spec_it_was_given(tmp_path: Path) -> None:
    spec = rich_spec(tmp_path)
    edited = GridBuilder(spec).spec()
    assert edited.model_dump(mode="json") == spec.model_dump(mode="json")
    assert edited.hash == spec.hash


def test_the_dataset_length_caps_the_user_raised_are_kept(tmp_path: Path) -> None:
    write_dataset(tmp_path, 4886)
    spec = small_spec(tmp_path, name="long", dataset={"path": "ds_long.jsonl", "max_question_chars": 10000})
    builder = GridBuilder(spec)
    assert builder.spec().dataset.max_question_chars == 10000
    assert builder.questions() == 2 and "wb-error" not in builder.summary.value
    builder.limit.value = 1
    assert builder.spec().dataset == spec.dataset.model_copy(update={"limit": 1})


def test_untouched_sliders_keep_values_outside_their_usual_range(tmp_path: Path) -> None:
    write_dataset(tmp_path, 10)
    spec = small_spec(
        tmp_path,
        name="extremes",
        dataset={"path": "ds_long.jsonl", "limit": 5_000_000},
        models=[{"id": GEMMA_ID, "params": {"max_tokens": 2048}}, {"id": SMOLLM2_ID, "params": {"max_tokens": 4}},
                {"id": GEMMA_ID, "name": "longest", "params": {"max_tokens": 8192}},
                {"id": SMOLLM2_ID, "name": "shortest", "params": {"max_tokens": 1}}],
        chunkers=[{"strategy": "recursive", "size": 100_000, "overlap": 99_999}, {"strategy": "sentence", "size": 16, "overlap": 0}],
        retrieval=[{"k": 100, "search": "mmr", "fetch_k": 1000}, {"k": 1}],
    )
    builder = GridBuilder(spec)
    edited = builder.spec()
    assert [m.params.max_tokens for m in edited.models] == [2048, 4, 8192, 1]  # type: ignore[union-attr]
    assert edited.dataset.limit == 5_000_000 and [c.size for c in edited.chunkers] == [100_000, 16]
    assert [r.k for r in edited.retrieval] == [100, 1]
    assert edited.hash == spec.hash
    builder.models.rows[1].max_tokens.value = 64  # the slider still moves
    assert builder.spec().models[1].params.max_tokens == 64  # type: ignore[union-attr]


def test_a_relative_gguf_path_is_shown_and_saved_relative(tmp_path: Path) -> None:
    write_dataset(tmp_path, 10)
    (tmp_path / "experiments").mkdir()
    router = {"router": {**ROUTER["router"], "cheap": {"id": "llamacpp:../models/cheap.gguf"}}}
    spec = small_spec(tmp_path / "experiments", dataset={"path": "../ds_long.jsonl"},
                      models=[{"id": "llamacpp:../models/m.gguf"}, router], pricing={"llamacpp:../models/m.gguf": {"input": 1, "output": 2}})
    builder = GridBuilder(spec)
    assert builder.models.rows[0].model_field.value == "llamacpp:../models/m.gguf"
    assert builder.spec().hash == spec.hash
    # the file named /home/alice/project/models/m.gguf, which a colleague's clone of the project does not have
    saved = yaml.safe_load(builder.save().read_text())
    assert [m.get("id") or m["router"]["cheap"]["id"] for m in saved["models"]] == ["llamacpp:../models/m.gguf", "llamacpp:../models/cheap.gguf"]
    assert list(saved["pricing"]) == ["llamacpp:../models/m.gguf"]
    builder.models.add(ModelSpec(id="llamacpp:../models/typed.gguf"))  # typed into the form, relative to the experiment
    assert yaml.safe_load(builder.save().read_text())["models"][2]["id"] == "llamacpp:../models/typed.gguf"


def test_a_grid_builder_saves_the_prompts_its_experiment_read_from_files_as_those_files(tmp_path: Path) -> None:
    # opened on an experiment whose prompts are prompts/*.txt files and saved, it wrote every prompt inline
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "p.txt").write_text(PROMPT, encoding="utf-8")
    data = yaml.safe_load(small_spec(tmp_path).to_yaml()) | {"prompts": [{"name": "p", "file": "prompts/p.txt"}]}
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    builder = GridBuilder(wb.load_experiment(tmp_path / "exp.yaml"))
    builder.name.value = "renamed"
    saved = yaml.safe_load(builder.save(tmp_path / "copy.yaml").read_text(encoding="utf-8"))
    assert saved["name"] == "renamed" and saved["prompts"] == [{"name": "p", "file": "prompts/p.txt"}]
