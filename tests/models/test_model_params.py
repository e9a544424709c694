"""A model's ``params`` given a setting of llama.cpp's or a provider's sampler that workbench does not pass on (``top_p``,
``n_ctx``, ``seed``): one line saying so and what to do, where it read as a misspelling ("did you mean 'stop'?" for
``top_p``, "check its spelling" for ``seed`` and ``n_ctx``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import SpecError
from workbench.spec import load_experiment

EXPERIMENT = """\
name: t
dataset: {path: d.jsonl}
corpus: {builtin: python-reference}
prompts: [{name: a, template: "Context: {context}\\nQuestion: {question}\\nAnswer:"}]
models:
  - id: local:gemma3-270m
    params:
      max_tokens: 32
      %s
chunkers: [{strategy: recursive, size: 400, overlap: 40}]
"""


def refusal(tmp_path: Path, setting: str) -> str:
    path = tmp_path / "exp.yaml"
    path.write_text(EXPERIMENT % setting, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_experiment(path)
    return str(caught.value).removeprefix(f"{path}:")


@pytest.mark.parametrize("setting", ["top_p: 0.9", "top_k: 40", "repeat_penalty: 1.1", "frequency_penalty: 0.5"])
def test_a_sampler_setting_workbench_does_not_pass_is_named_as_such(tmp_path: Path, setting: str) -> None:
    name = setting.split(":")[0]
    assert refusal(tmp_path, setting) == (f"7: models[0].params: {name}: workbench passes a model temperature, max_tokens, stop "
                                          "and timeout_s only — remove it")


def test_a_seed_under_params_is_sent_to_the_top_of_the_file(tmp_path: Path) -> None:
    assert refusal(tmp_path, "seed: 3") == ("7: models[0].params: seed: the experiment's seed samples every model's answers — "
                                            "write it once at the top of the file (seed: 3), not under params")


def test_a_context_window_under_params_says_who_sets_it_and_what_to_do_with_long_prompts(tmp_path: Path) -> None:
    assert refusal(tmp_path, "n_ctx: 8192") == (
        "7: models[0].params: n_ctx: workbench sets a llama.cpp model's context window (2048 tokens) itself — remove it; "
        "for prompts longer than that, retrieve fewer or smaller chunks (the retrieval's k, the chunker's size) or shorten "
        "the prompt")


def test_a_misspelt_param_is_still_answered_with_the_one_meant(tmp_path: Path) -> None:
    assert refusal(tmp_path, "temprature: 0.5") == ("9: models[0].params.temprature: unknown field — did you mean "
                                                    "'temperature'? (see the JSON schema: workbench schema)")
