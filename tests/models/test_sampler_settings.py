"""A model's sampler settings besides its temperature (top_p, top_k, min_p, typical_p, repeat_penalty, presence_penalty,
frequency_penalty): passed to llama.cpp and to the providers whose LangChain class takes them, refused as the experiment
loads where they would change nothing or reach no model; unset, every key stays what it was before they were passed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.models import model_entries
from tests.models.model_entries import spec_of, written
from workbench.cache import _models as cache_models
from workbench.cache._models import generation_key
from workbench.grid import _id_text, expand_grid
from workbench.models import GEMMA_ID, SAMPLER_SETTINGS, SMOLLM2_ID, GenerationParams, load_generator
from workbench.models._hosted import LangChainChatGenerator, chat_options
from workbench.prompts import PromptTemplate
from workbench.spec import ExperimentSpec, ModelSpec, load_experiment

PROMPT = PromptTemplate("p", "Context: {context}\nQuestion: {question}\nAnswer:").render(
    question="List the Python keywords for loops.", context="A for loop iterates over items. A while loop repeats while a condition holds.")


def loaded(tmp_path: Path, model_id: str, params: str) -> ExperimentSpec:
    return load_experiment(written(tmp_path, model_id, f"    params: {{{params}}}"))


def refusal(tmp_path: Path, model_id: str, params: str) -> str:
    return model_entries.refusal(tmp_path, model_id, f"    params: {{{params}}}")


@pytest.mark.parametrize("params", ["temperature: 0.8, top_p: 0.9", "temperature: 0.8, top_k: 20, min_p: 0.1, typical_p: 0.9",
                                    "repeat_penalty: 1.1", "presence_penalty: 0.5, frequency_penalty: -0.5"])
def test_a_llama_cpp_model_takes_every_sampler_setting_llama_cpp_python_does(tmp_path: Path, params: str) -> None:
    spec = loaded(tmp_path, GEMMA_ID, params)
    [model] = spec.models
    assert isinstance(model, ModelSpec)
    set_here = dict(item.split(": ") for item in params.split(", "))
    assert {name: str(value) for name, value in model.params.sampler()} == {k: v for k, v in set_here.items() if k != "temperature"}


def test_a_setting_that_filters_tokens_is_refused_at_temperature_0_where_it_changes_no_answer(tmp_path: Path) -> None:
    assert refusal(tmp_path, GEMMA_ID, "top_p: 0.9") == (
        "7: models[0].params: top_p: at temperature 0 llama.cpp answers with the likeliest token, so top_p changes no answer "
        "— set a temperature above 0, or remove it")


@pytest.mark.parametrize(("model_id", "params", "said"), [
    ("openai:gpt-4o-mini", "top_k: 40", "top_k: workbench does not pass top_k to openai models (it passes top_p, presence_penalty, "
                                        "frequency_penalty)"),
    ("anthropic:claude-3-5-haiku-latest", "repeat_penalty: 1.1", "repeat_penalty: workbench does not pass repeat_penalty to "
                                                                 "anthropic models (it passes top_p, top_k)"),
    ("groq:llama-3.1-8b-instant", "top_k: 20", "top_k: workbench does not pass top_k to groq models (it passes top_p, presence_penalty, "
                                               "frequency_penalty)"),
    ("bedrock_converse:anthropic.claude-3-haiku-20240307-v1:0", "top_k: 20",
     "top_k: workbench does not pass top_k to bedrock_converse models (it passes top_p)"),
    ("huggingface:HuggingFaceH4/zephyr-7b-beta", "top_p: 0.9",
     "top_p: workbench does not pass top_p to huggingface models (it passes none of these settings)"),
])
def test_a_setting_a_providers_class_does_not_take_is_one_line_naming_the_field_as_the_experiment_loads(
        tmp_path: Path, model_id: str, params: str, said: str) -> None:
    name = said.split(":")[0]
    assert refusal(tmp_path, model_id, params) == (f"7: models[0].params: {said} — remove it, or compare {name} on a llama.cpp "
                                                   "model (local: or llamacpp:)")


@pytest.mark.parametrize(("model_id", "params"), [("openai:gpt-4o-mini", "top_p: 0.5, frequency_penalty: 0.3"),
                                                  ("anthropic:claude-3-5-haiku-latest", "top_k: 5"), ("ollama:llama3.2", "repeat_penalty: 1.2")])
def test_a_setting_a_providers_class_takes_is_passed_under_its_name(tmp_path: Path, model_id: str, params: str) -> None:
    [model] = loaded(tmp_path, model_id, params).models
    assert isinstance(model, ModelSpec)
    sampler = model.params.sampler()
    options = chat_options(model_id.partition(":")[0], max_tokens=8, timeout_s=5.0, seed=0, **dict(sampler))
    assert sampler and all(options[name] == value for name, value in sampler)


@pytest.mark.parametrize(("provider", "options"), [
    # BaseChatOpenAI's fields (ChatTogether, ChatDeepSeek), as openai's
    ("together", {"top_p": 0.5, "presence_penalty": 0.3, "frequency_penalty": -0.2}),
    ("deepseek", {"top_p": 0.5, "presence_penalty": 0.3, "frequency_penalty": -0.2}),
    ("bedrock_converse", {"top_p": 0.5}),  # ChatBedrockConverse's field, sent as inferenceConfig.topP
    # ChatGroq and ChatFireworks have no such fields: their model_kwargs go into each request body
    ("groq", {"model_kwargs": {"top_p": 0.5, "presence_penalty": 0.3, "frequency_penalty": -0.2}}),
    ("fireworks", {"model_kwargs": {"top_p": 0.5}}),
])
def test_each_other_hosted_provider_gets_the_settings_its_class_takes_in_its_own_words(tmp_path: Path, provider: str,
                                                                                     options: dict[str, Any]) -> None:
    sampler = dict(options.get("model_kwargs", options))
    params = ", ".join(f"{name}: {value}" for name, value in sampler.items())
    [model] = loaded(tmp_path, f"{provider}:some-model", f"temperature: 0.7, {params}").models
    assert isinstance(model, ModelSpec)
    built = chat_options(provider, max_tokens=8, timeout_s=5.0, seed=0, **dict(model.params.sampler()))
    assert {k: v for k, v in built.items() if k in ("model_kwargs", *SAMPLER_SETTINGS)} == options
    assert "model_kwargs" not in chat_options(provider, max_tokens=8, timeout_s=5.0, seed=0)  # none set: none sent


def test_an_openai_compatible_provider_s_settings_reach_the_request_body(monkeypatch: pytest.MonkeyPatch) -> None:
    """DeepSeek's and Together's classes are langchain-openai's BaseChatOpenAI: the options built for them, given to
    that class (langchain-deepseek and langchain-together are not installed here), go out in the request's JSON body."""
    from langchain_openai import ChatOpenAI

    from workbench.testing.openai_stub import OpenAIStub

    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    sampler = {"top_p": 0.5, "presence_penalty": 0.3, "frequency_penalty": -0.2}
    with OpenAIStub() as stub:
        for provider in ("deepseek", "together"):
            options = chat_options(provider, max_tokens=8, timeout_s=5.0, seed=0, **sampler)
            ChatOpenAI(model="m", base_url=stub.base_url, api_key="stub-key", temperature=0.7, **options).invoke("Question: why?")  # type: ignore[arg-type]
    assert [{k: b[k] for k in sampler} for b in stub.chat_bodies] == [sampler, sampler]


def test_a_hosted_model_is_built_with_its_sampler_settings_once_per_setting() -> None:
    built: list[dict[str, Any]] = []

    class Chat:
        def invoke(self, messages: Any, config: Any = None, **kwargs: Any) -> Any:
            from langchain_core.messages import AIMessage

            return AIMessage(content="ok", usage_metadata={"input_tokens": 3, "output_tokens": 1, "total_tokens": 4})

    def factory(**settings: Any) -> Chat:
        built.append(settings)
        return Chat()

    gen = LangChainChatGenerator("openai:gpt-4o-mini", factory)
    for sampler in ((("top_p", 0.5),), (("top_p", 0.5),), ()):
        gen.generate(PROMPT, GenerationParams(temperature=0.7, max_tokens=8, sampler=sampler))
    assert [b.get("top_p") for b in built] == [0.5, None]


def test_a_set_setting_is_part_of_the_variant_id_the_cache_key_and_the_logged_params() -> None:
    plain = {"id": GEMMA_ID, "params": {"temperature": 0.7}}
    spec = spec_of(plain, {**plain, "params": {"temperature": 0.7, "top_p": 0.9}, "name": "gemma-p09"})
    default, nucleus = expand_grid(spec)
    assert default.id != nucleus.id
    assert nucleus.params()["model.params.top_p"] == "0.9" and "model.params.top_p" not in default.params()
    keys = {generation_key("gguf:x", "completion", PROMPT, m.params.generation(0, 0)) for m in spec.models if isinstance(m, ModelSpec)}
    assert len(keys) == 2


def test_settings_left_unset_keep_the_variant_id_and_cache_key_payloads_they_had(monkeypatch: pytest.MonkeyPatch) -> None:
    # stores made before sampler settings were passed keep reusing their runs and answers: nothing of them enters the
    # text a variant id hashes, nor the payload an answer's cache key hashes, while none is set
    [model] = spec_of({"id": GEMMA_ID, "params": {"temperature": 0.7, "max_tokens": 32}}).models
    assert isinstance(model, ModelSpec)
    assert set(json.loads(_id_text(model, ()))["params"]) == {"temperature", "max_tokens", "stop", "timeout_s"}
    hashed: list[Any] = []
    monkeypatch.setattr(cache_models, "_digest", lambda payload: hashed.append(payload) or "")
    generation_key("gguf:x", "completion", PROMPT, model.params.generation(3, 2))
    assert set(hashed[0]["params"]) == {"temperature", "max_tokens", "stop", "seed"}
    assert not set(SAMPLER_SETTINGS) & set(model.params.model_dump(mode="json"))


def test_a_router_whose_two_models_differ_only_in_a_sampler_setting_is_two_models() -> None:
    cheap = {"id": GEMMA_ID, "params": {"repeat_penalty": 1.3}}
    spec = spec_of({"router": {"name": "r", "cheap": cheap, "strong": {"id": GEMMA_ID}, "escalate_when": {"refusal_or_empty": True}}})
    assert len(expand_grid(spec)) == 1


@pytest.mark.integration
@pytest.mark.parametrize("model_id", [GEMMA_ID, SMOLLM2_ID])
def test_llama_cpp_samples_with_the_settings_given(model_id: str) -> None:
    """top_k 1 leaves only the likeliest token to sample: sampled at temperature 1 it answers as greedy decoding does, and
    a repeat penalty changes a greedy answer (before they were passed, both were refused)."""
    generator = load_generator(model_id)
    greedy = generator.generate(PROMPT, GenerationParams(max_tokens=24)).text
    for seed in (1, 2):
        assert generator.generate(PROMPT, GenerationParams(max_tokens=24, temperature=1.0, seed=seed, sampler=(("top_k", 1),))).text == greedy
    sampled = {generator.generate(PROMPT, GenerationParams(max_tokens=24, temperature=1.0, seed=seed)).text for seed in (1, 2)}
    assert sampled != {greedy}  # without top_k 1 the same seeds sample other answers
    assert generator.generate(PROMPT, GenerationParams(max_tokens=24, sampler=(("repeat_penalty", 1.5),))).text != greedy
