"""A llama.cpp model's context window, the model's ``context_window`` (default 2048 tokens): part of its identity (one
llama.cpp model loaded per window), at most what its GGUF was trained for, refused for a hosted model (its server's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fake_gguf import gguf_file
from tests.models import model_entries
from tests.models.model_entries import spec_of, written
from workbench.errors import ModelError, SpecError
from workbench.execution import ModelResolver
from workbench.grid import expand_grid
from workbench.models import GEMMA_ID, SMOLLM2_ID, GenerationParams, load_generator
from workbench.prompts import RenderedPrompt
from workbench.spec import load_experiment
from workbench.testing import HashingEmbedder

def refusal(tmp_path: Path, model_id: str, window: int) -> str:
    return model_entries.refusal(tmp_path, model_id, f"    context_window: {window}")


@pytest.mark.parametrize(("model_id", "trained"), [(GEMMA_ID, 32768), (SMOLLM2_ID, 8192)])
def test_an_embedded_model_s_window_past_its_training_is_one_line_as_the_experiment_loads(tmp_path: Path, model_id: str, trained: int) -> None:
    assert refusal(tmp_path, model_id, trained * 2) == (f"7: models[0].context_window: context_window {trained * 2} is more than the "
                                                        f"{trained} tokens {model_id} was trained for — set {trained} or less")


@pytest.mark.parametrize(("model_id", "said"), [
    ("openai:gpt-4o-mini", "a hosted model's context window is its server's — remove it"),
    ("ollama:llama3.2", "a hosted model's context window is its server's — remove it (an Ollama model's: set num_ctx in its "
                        "Modelfile, or OLLAMA_CONTEXT_LENGTH where the server runs)"),
])
def test_a_hosted_model_s_window_is_refused_saying_whose_it_is(tmp_path: Path, model_id: str, said: str) -> None:
    assert refusal(tmp_path, model_id, 8192) == f"7: models[0].context_window: {said}"


def test_a_gguf_file_s_window_past_its_header_s_context_length_is_one_line_before_anything_loads(tmp_path: Path) -> None:
    path = gguf_file(tmp_path / "m.gguf", {"general.architecture": "llama", "llama.context_length": 4096})
    assert load_generator(f"llamacpp:{path}", context_window=4096).identity.split(":")[2] == "ctx4096"
    with pytest.raises(ModelError) as caught:
        load_generator(f"llamacpp:{path}", context_window=8192)
    assert str(caught.value) == (f"model 'llamacpp:{path}': context_window 8192 is more than the 4096 tokens llamacpp:{path} was "
                                 "trained for — set 4096 or less")


def test_the_window_is_part_of_the_variant_id_and_the_model_s_identity_the_default_one_written_out_is_not() -> None:
    unset, larger = expand_grid(spec_of({"id": GEMMA_ID}, {"id": GEMMA_ID, "context_window": 8192, "name": "g8k"}))
    [written] = expand_grid(spec_of({"id": GEMMA_ID, "context_window": 2048}))
    assert unset.id == written.id != larger.id
    assert larger.params()["model.context_window"] == "8192" and "model.context_window" not in unset.params()
    resolver = ModelResolver({"local:all-minilm-l6-v2": HashingEmbedder(model_id="local:all-minilm-l6-v2")}, store=None,  # type: ignore[arg-type]
                             record_sha256=False)
    identities = [resolver.identities(v)["generator"] for v in (unset, written, larger)]
    assert [i.split(":")[2] for i in identities] == ["ctx2048", "ctx2048", "ctx8192"]


def test_a_params_n_ctx_is_told_to_be_the_model_s_context_window(tmp_path: Path) -> None:
    path = written(tmp_path, GEMMA_ID, "    params: {n_ctx: 4096}")
    with pytest.raises(SpecError, match="models\\[0\\].params: n_ctx: a llama.cpp model's context window \\(2048 tokens unless set\\) is "
                                        "the model's context_window, beside its id and params — write it there \\(context_window: 8192\\)"):
        load_experiment(path)


@pytest.mark.integration
def test_llama_cpp_runs_the_model_with_the_window_given() -> None:
    """A chat prompt of some 300 tokens fits the default window and not one of 256 (smaller than the default, so that
    no prompt past 2048 tokens is evaluated here: llama.cpp refuses the prompt before it evaluates any of it)."""
    text = "".join(f"Fact {i}: the value of item {i} is {i * 7}.\n" for i in range(16)) + "Question: what is item 3?"
    prompt = RenderedPrompt(text=text, messages=(("human", text),))
    params = GenerationParams(max_tokens=1)
    read = load_generator(SMOLLM2_ID).generate(prompt, params)
    assert 256 < read.input_tokens < 2048
    with pytest.raises(ModelError, match=f"Requested tokens \\({read.input_tokens}\\) exceed context window of 256 — raise the model's "
                                         "context_window \\(up to 8192 tokens, what it was trained for\\), or retrieve fewer"):
        load_generator(SMOLLM2_ID, context_window=256).generate(prompt, params)
