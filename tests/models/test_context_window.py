"""A llama.cpp model's context window, the model's ``context_window`` (default 2048 tokens): part of its identity (one
llama.cpp model loaded per window), at most what its GGUF was trained for; an Ollama model's, sent as its num_ctx and
part of its identity when set; refused for another hosted model (its server's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fake_gguf import gguf_file
from tests.fake_ollama import fake_langchain_ollama
from tests.models import model_entries
from tests.models.model_entries import spec_of, written
from workbench.errors import ModelError, SpecError
from workbench.execution import ModelResolver
from workbench.grid import expand_grid
from workbench.models import GEMMA_ID, SMOLLM2_ID, GenerationParams, load_generator
from workbench.prompts import RenderedPrompt
from workbench.spec import ExperimentSpec, JudgeSpec, load_experiment
from workbench.testing import HashingEmbedder

def refusal(tmp_path: Path, model_id: str, window: int) -> str:
    return model_entries.refusal(tmp_path, model_id, f"    context_window: {window}")


refusal_of = model_entries.refusal


@pytest.mark.parametrize(("model_id", "trained"), [(GEMMA_ID, 32768), (SMOLLM2_ID, 8192)])
def test_an_embedded_model_s_window_past_its_training_is_one_line_as_the_experiment_loads(tmp_path: Path, model_id: str, trained: int) -> None:
    assert refusal(tmp_path, model_id, trained * 2) == (f"7: models[0].context_window: context_window {trained * 2} is more than the "
                                                        f"{trained} tokens {model_id} was trained for — set {trained} or less")


HOSTED_WINDOW = "a hosted model's context window is its server's — remove it (workbench sends one to Ollama models only, as their num_ctx)"


@pytest.mark.parametrize("model_id", ["openai:gpt-4o-mini", "anthropic:claude-3-5-haiku-latest"])
def test_a_hosted_model_s_window_is_refused_saying_whose_it_is(tmp_path: Path, model_id: str) -> None:
    assert refusal(tmp_path, model_id, 8192) == f"7: models[0].context_window: {HOSTED_WINDOW}"


OLLAMA = "ollama:llama3.2"


def test_an_ollama_model_s_window_is_sent_as_its_num_ctx_and_left_out_unset() -> None:
    """Ollama's server reads 2048 tokens of a prompt unless a call's num_ctx says otherwise, and drops the start of a
    longer one without a word: a RAG prompt lost its instructions and first chunks, and the experiment could not say so."""
    from workbench.models._hosted import chat_options

    [model] = spec_of({"id": OLLAMA, "context_window": 8192}).models
    assert model.window == 8192  # type: ignore[union-attr]
    assert chat_options("ollama", max_tokens=64, timeout_s=5.0, seed=0, context_window=model.window)["num_ctx"] == 8192  # type: ignore[union-attr]
    assert "num_ctx" not in chat_options("ollama", max_tokens=64, timeout_s=5.0, seed=0)
    [written_out] = spec_of({"id": OLLAMA, "context_window": 2048}).models
    assert written_out.window == 2048  # type: ignore[union-attr]  # not llama.cpp's default: the server's may be 4096


def test_an_ollama_model_s_window_is_part_of_its_variant_id_params_and_identity_the_unset_one_keeps_them() -> None:
    from workbench.models._registry import hosted_identity, hosted_server

    unset, larger = expand_grid(spec_of({"id": OLLAMA}, {"id": OLLAMA, "context_window": 8192, "name": "l8k"}))
    assert unset.id != larger.id
    assert larger.params()["model.context_window"] == "8192" and "model.context_window" not in unset.params()
    assert hosted_identity(OLLAMA, {}) == OLLAMA  # an unset window keeps the identity its answers are cached by
    assert hosted_identity(OLLAMA, {}, 8192) == f"{OLLAMA} num_ctx=8192"
    served = hosted_identity(OLLAMA, {"OLLAMA_HOST": "gpu-box:11434"}, 8192)
    assert served == f"{OLLAMA}@http://gpu-box:11434 num_ctx=8192"
    assert hosted_server(OLLAMA, served) == "http://gpu-box:11434" and hosted_server(OLLAMA, f"{OLLAMA} num_ctx=8192") is None


def test_an_ollama_model_is_built_with_its_window_as_num_ctx(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through load_generator, as a sweep, a judge and a bundle load it: its chat class is built with num_ctx, and its
    identity, which its answers are cached and its runs reused by, names the window."""
    built = fake_langchain_ollama(monkeypatch)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    prompt = RenderedPrompt(text="Q?", messages=(("human", "Q?"),))
    for window in (8192, None):
        generator = load_generator(OLLAMA, context_window=window)
        assert generator.generate(prompt, GenerationParams(max_tokens=16)).text == "ok"
        assert generator.identity == (f"{OLLAMA} num_ctx=8192" if window else OLLAMA)
    assert [(b.get("num_ctx"), b["num_predict"]) for b in built] == [(8192, 16), (None, 16)]


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
    with pytest.raises(SpecError, match="models\\[0\\].params: n_ctx: a llama.cpp model's context window \\(2048 tokens unless set\\), "
                                        "or an Ollama model's num_ctx, is the model's context_window, beside its id and params — write "
                                        "it there \\(context_window: 8192\\)"):
        load_experiment(path)


def test_an_ollama_model_s_params_num_ctx_is_told_to_be_its_context_window(tmp_path: Path) -> None:
    assert refusal_of(tmp_path, OLLAMA, "    params: {num_ctx: 8192}").startswith(
        "7: models[0].params: num_ctx: a llama.cpp model's context window (2048 tokens unless set), or an Ollama model's num_ctx, is "
        "the model's context_window")


def test_an_ollama_judge_takes_a_window_as_an_ollama_model_does() -> None:
    spec = judged({"id": "ollama:qwen2.5", "context_window": 8192})
    assert spec.judge is not None and spec.judge.window == 8192
    assert judged({"id": "ollama:qwen2.5"}).judge.window is None  # type: ignore[union-attr]


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


def judged(judge: dict[str, object]) -> ExperimentSpec:
    """An experiment of Gemma judged by ``judge``."""
    return spec_of({"id": GEMMA_ID}).model_copy(update={"judge": JudgeSpec.model_validate(judge)})


def test_a_llama_cpp_judge_reads_its_prompts_in_the_window_it_is_given_the_default_one_keeping_its_identity() -> None:
    """ragas's context recall prompt with the quickstart's contexts is 1836-2076 Gemma tokens, past what a 2048-token
    window leaves beside the judge's 256 of reply: a judge needs a larger window as an answering model does, and one left
    unset (or 2048 written out) keeps the identity its cached replies and reused runs are keyed by."""
    resolver = ModelResolver({"local:all-minilm-l6-v2": HashingEmbedder(model_id="local:all-minilm-l6-v2")}, store=None,  # type: ignore[arg-type]
                             record_sha256=False)
    windows = []
    for judge in ({"id": GEMMA_ID}, {"id": GEMMA_ID, "context_window": 2048}, {"id": GEMMA_ID, "context_window": 8192}):
        spec = judged(judge)
        [variant] = expand_grid(spec)
        windows.append(resolver.identities(variant, judge=spec.judge)["judge"].split(":")[2])
        assert resolver.judge(spec).generator.identity.split(":")[2] == windows[-1]  # type: ignore[union-attr]
    assert windows == ["ctx2048", "ctx2048", "ctx8192"]
    assert "context_window" not in judged({"id": GEMMA_ID}).to_dict(Path("."))["judge"]


def test_a_judge_loaded_in_a_notebook_takes_a_window_too(tmp_path: Path) -> None:
    from workbench.scoring import ModelJudge, load_judge

    path = gguf_file(tmp_path / "m.gguf", {"general.architecture": "llama", "llama.context_length": 8192})
    judge = load_judge(f"llamacpp:{path}", context_window=8192)
    assert isinstance(judge, ModelJudge) and judge.generator.identity.split(":")[2] == "ctx8192"


def test_a_judge_s_window_is_part_of_what_its_runs_are_reused_by_the_default_one_written_out_is_not() -> None:
    from workbench.runner._reuse import _scorer_fingerprint

    said = []
    for judge in ({"id": GEMMA_ID}, {"id": GEMMA_ID, "context_window": 2048}, {"id": GEMMA_ID, "context_window": 8192}):
        spec = judged(judge)
        [variant] = expand_grid(spec)
        said.append(_scorer_fingerprint(spec, variant, {}, {}, judge=object())["judge"])  # type: ignore[arg-type]
    assert said[0] == said[1] != said[2] and "context_window" not in said[0]


@pytest.mark.parametrize(("judge", "said"), [
    ({"id": SMOLLM2_ID, "context_window": 16384}, "judge.context_window: context_window 16384 is more than the 8192 tokens "
                                                  f"{SMOLLM2_ID} was trained for — set 8192 or less"),
    ({"id": "openai:gpt-4o-mini", "context_window": 8192}, f"judge.context_window: {HOSTED_WINDOW}"),
])
def test_a_judge_s_window_is_checked_as_a_model_s_is(tmp_path: Path, judge: dict[str, object], said: str) -> None:
    path = written(tmp_path, GEMMA_ID, "judge: " + json.dumps(judge))
    with pytest.raises(SpecError) as caught:
        load_experiment(path)
    assert str(caught.value) == f"{path}:7: {said}"


@pytest.mark.integration
def test_a_llama_cpp_chat_judge_past_its_window_is_told_to_raise_judge_context_window() -> None:
    """The same refusal as an answering model's, through the judge: one loaded model answers and judges alike, and the
    advice names the setting of the role it was asked in."""
    from workbench.scoring import ModelJudge

    text = "".join(f"Fact {i}: the value of item {i} is {i * 7}.\n" for i in range(16)) + "Is item 3 worth 21?"
    reply = ModelJudge(load_generator(SMOLLM2_ID, context_window=256), max_tokens=16, context_window=256).ask(
        text, {"type": "object", "properties": {"verdict": {"type": "integer"}}, "required": ["verdict"]})
    assert reply.finish_reason == "context_window" and reply.error is not None
    assert "exceed context window of 256 — raise judge.context_window (up to 8192 tokens, what it was trained for)" in reply.error
    assert "the model's context_window" not in reply.error
