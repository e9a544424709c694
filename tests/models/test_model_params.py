"""A model's ``params`` given a setting of llama.cpp's or a provider's sampler that workbench does not pass on (``mirostat``,
``n_ctx``, ``seed``): one line saying so and what to do, where it read as a misspelling ("did you mean 'stop'?" for
``top_p``, "check its spelling" for ``seed`` and ``n_ctx``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.models import model_entries
from workbench.models import GEMMA_ID


def refusal(tmp_path: Path, setting: str) -> str:
    return model_entries.refusal(tmp_path, GEMMA_ID, f"    params:\n      max_tokens: 32\n      {setting}")


@pytest.mark.parametrize("setting", ["mirostat: 2", "tfs_z: 0.9", "logit_bias: {}"])
def test_a_sampler_setting_workbench_does_not_pass_is_named_as_such(tmp_path: Path, setting: str) -> None:
    name = setting.split(":")[0]
    assert refusal(tmp_path, setting) == (f"7: models[0].params: {name}: workbench passes a model temperature, max_tokens, stop, "
                                          "timeout_s and the sampler settings top_p, top_k, min_p, typical_p, repeat_penalty, "
                                          "presence_penalty, frequency_penalty only — remove it")


def test_hugging_face_s_name_for_the_repeat_penalty_is_told_llama_cpp_s(tmp_path: Path) -> None:
    assert refusal(tmp_path, "repetition_penalty: 1.1") == ("7: models[0].params: repetition_penalty: llama.cpp and Ollama call it "
                                                            "repeat_penalty — write repeat_penalty")


def test_a_seed_under_params_is_sent_to_the_top_of_the_file(tmp_path: Path) -> None:
    assert refusal(tmp_path, "seed: 3") == ("7: models[0].params: seed: the experiment's seed samples every model's answers — "
                                            "write it once at the top of the file (seed: 3), not under params")


def test_a_context_window_under_params_says_where_it_is_set(tmp_path: Path) -> None:
    assert refusal(tmp_path, "n_ctx: 8192") == (
        "7: models[0].params: n_ctx: a llama.cpp model's context window (2048 tokens unless set), or an Ollama model's num_ctx, is "
        "the model's context_window, beside its id and params — write it there (context_window: 8192)")


def test_a_misspelt_param_is_still_answered_with_the_one_meant(tmp_path: Path) -> None:
    assert refusal(tmp_path, "temprature: 0.5") == ("9: models[0].params.temprature: unknown field — did you mean "
                                                    "'temperature'? (see the JSON schema: workbench schema)")
