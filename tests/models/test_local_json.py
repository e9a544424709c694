"""JSON-schema-constrained generation on the real embedded Gemma 3 270M (llama.cpp): the answer parses and conforms,
the caps hold, the fast grammar filter picks the same tokens as llama-cpp-python's own grammar, deadlines still cut."""

from __future__ import annotations

import json
import time

import pytest
from jsonschema import Draft202012Validator

from workbench.config import settings
from workbench.models import GEMMA_ID, GenerationParams, load_generator
from workbench.models._grammar import bounded_schema, json_grammar
from workbench.models._local import LlamaCppGenerator, _fit, _llama, _load_llama, gemma_path, prompt_budget
from workbench.prompts import PromptTemplate

pytestmark = pytest.mark.integration

PROMPT = PromptTemplate("p", "Context: {context}\n\nQuestion: {question}\nAnswer as JSON:").render(
    question="What colour is the sky on Mars during the day?", context="On Mars the daytime sky is butterscotch coloured."
)
SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "colours": {"type": "array", "items": {"type": "string", "enum": ["red", "blue", "butterscotch", "green"]}},
        "sure": {"type": "boolean"},
    },
    "required": ["answer", "colours", "sure"],
    "additionalProperties": False,
}


def generator(kind: str = "completion", **caps: int) -> LlamaCppGenerator:
    return LlamaCppGenerator(f"llamacpp:{kind}.gguf", gemma_path(settings().model_dir), kind=kind, **caps)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["completion", "chat"])
def test_the_answer_is_json_conforming_to_the_schema_within_the_caps(kind: str) -> None:
    out = generator(kind, json_max_items=1, json_max_length=40).generate(PROMPT, GenerationParams(max_tokens=120), json_schema=SCHEMA)
    assert out.finish_reason == "stop", out
    value = json.loads(out.text)
    Draft202012Validator(SCHEMA).validate(value)
    assert len(value["colours"]) <= 1 and len(value["answer"]) <= 40
    assert out.input_tokens > 10 and 0 < out.output_tokens <= 120


def test_the_filter_picks_the_tokens_llama_cpp_grammar_picks() -> None:
    gen = load_generator(GEMMA_ID)
    assert isinstance(gen, LlamaCppGenerator)
    params = GenerationParams(max_tokens=60)
    out = gen.generate(PROMPT, params, json_schema=SCHEMA)
    llama, lock = _llama(str(gen.path), gen.n_ctx)
    bounded = bounded_schema(SCHEMA, max_items=gen.json_max_items, max_length=gen.json_max_length)
    with lock:
        ref = llama.create_completion(
            _fit(llama, PROMPT.text, prompt_budget(gen.n_ctx, params.max_tokens))[0], grammar=json_grammar(json.dumps(bounded, sort_keys=True)),
            max_tokens=params.max_tokens, temperature=0.0, seed=0,
        )
    assert out.text == ref["choices"][0]["text"]
    assert out.output_tokens == ref["usage"]["completion_tokens"]


def test_the_deadline_cuts_constrained_decoding_too() -> None:
    out = generator().generate(PROMPT, GenerationParams(max_tokens=300), deadline=time.monotonic() + 0.05, json_schema=SCHEMA)
    assert out.finish_reason == "deadline" and out.output_tokens < 300


def test_seeds_are_per_call_and_share_one_loaded_model() -> None:
    gen = generator()
    gen.generate(PROMPT, GenerationParams(max_tokens=8, seed=1), json_schema=SCHEMA)
    loaded = _load_llama.cache_info().currsize
    sampled = [gen.generate(PROMPT, GenerationParams(max_tokens=40, temperature=1.0, seed=s), json_schema=SCHEMA).text for s in (7, 7, 8)]
    assert _load_llama.cache_info().currsize == loaded  # a judge's repeats do not load the model again
    assert sampled[0] == sampled[1]  # the same seed samples the same answer
