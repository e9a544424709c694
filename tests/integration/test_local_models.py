"""The embedded models themselves: completion and chat serving of the GGUFs, deadlines, identities, embeddings."""

from __future__ import annotations

import hashlib
import time

import pytest

from workbench.config import settings
from workbench.models import GEMMA_ID, MINILM_ID, SMOLLM2_ID, GenerationParams, load_embedder, load_generator
from workbench.models._local import LlamaCppGenerator, _llama, gemma_path
from workbench.prompts import PromptTemplate

pytestmark = pytest.mark.integration
PROMPT = PromptTemplate("p", "Context: {context}\n\nQuestion: {question}\nAnswer:").render(
    question="What colour is the sky on Mars during the day?", context="On Mars the daytime sky is butterscotch coloured."
)


def test_completion_answers_are_trimmed_and_counted() -> None:
    out = load_generator(GEMMA_ID).generate(PROMPT, GenerationParams(max_tokens=32))
    assert out.text and out.text == out.text.strip() and "Question:" not in out.text
    assert out.input_tokens > 10 and 0 < out.output_tokens <= 32


def test_a_chat_answer_that_writes_question_is_kept_whole() -> None:
    # a chat model ends its turn itself, yet its answer was cut at "Question:" like a base model's run-on: this quiz
    # item came back as an empty answer
    ask = PromptTemplate("p", "{question}").render(question="Write one quiz item about the sky, formatted as 'Question: ...' then 'Answer: ...'.", context="")
    out = load_generator(SMOLLM2_ID).generate(ask, GenerationParams(max_tokens=24))
    assert out.text.startswith("Question:") and out.text == out.text.strip() and out.output_tokens > 5


def test_a_completion_answer_stops_at_a_next_turn_of_its_templates_shape() -> None:
    # asked with 'Q: {question}\nA:', Gemma answered, then wrote 'Q:' and 'A:' lines until max_tokens
    ask = PromptTemplate("qa", "{context}\n\nQ: {question}\nA:").render(
        question="What happens when the iterator in a for loop is exhausted?",
        context="When the items of a for loop are exhausted, the suite in the else clause, if present, is executed, and the loop terminates.")
    out = load_generator(GEMMA_ID).generate(ask, GenerationParams(max_tokens=64))
    assert out.text and "Q:" not in out.text and out.finish_reason == "stop" and out.output_tokens < 64, out


@pytest.mark.parametrize("max_tokens", [2040, 4096])
def test_a_max_tokens_near_or_past_the_context_window_keeps_the_prompt(max_tokens: int) -> None:
    # room for the answer was taken from the prompt: 2040 of Gemma's 2048 left its last 8 tokens, 4096 left nothing,
    # and the model answered a prompt it never saw
    gen = load_generator(GEMMA_ID)
    short = gen.generate(PROMPT, GenerationParams(max_tokens=8))
    # what the model read is what is checked, not what it wrote: a deadline already past stops it at its first token
    out = gen.generate(PROMPT, GenerationParams(max_tokens=max_tokens), deadline=time.monotonic())
    assert out.input_tokens == short.input_tokens > 10


@pytest.mark.parametrize("max_tokens", [1, 16])
def test_a_completion_prompt_longer_than_the_context_window_keeps_its_end_and_room_for_the_answer(max_tokens: int) -> None:
    # the cut left room for max_tokens but not for the beginning-of-sequence token llama.cpp adds: with max_tokens 1
    # every such question failed ('Requested tokens (2048) exceed context window of 2048'), with 16 the answer got 15
    long = PromptTemplate("p", "Context: {context}\n\nQuestion: {question}\nAnswer:").render(
        question="Which item is blue?", context=" ".join(f"Item {i} is red." for i in range(900))
    )
    out = load_generator(GEMMA_ID).generate(long, GenerationParams(max_tokens=max_tokens))
    assert out.input_tokens + max_tokens == 2048 and out.output_tokens == max_tokens
    # what the model never read is said, not only cut: the prompt's start, by the prompt's own token count
    assert out.prompt_tokens_cut > 0 and load_generator(GEMMA_ID).generate(PROMPT, GenerationParams(max_tokens=1)).prompt_tokens_cut == 0


def test_a_chat_prompt_longer_than_the_context_window_is_one_error_saying_what_to_change() -> None:
    from workbench.errors import ModelError

    long = PromptTemplate("p", "Context: {context}\n\nQuestion: {question}").render(
        question="Which item is blue?", context=" ".join(f"Item {i} is red." for i in range(800))
    )
    with pytest.raises(ModelError, match=r"^local:smollm2-135m-instruct: Requested tokens \(\d+\) exceed context window of 2048 — "
                                         r"raise the model's context_window \(up to 8192 tokens, what it was trained for\), or "
                                         r"retrieve fewer or smaller chunks"):
        load_generator(SMOLLM2_ID).generate(long, GenerationParams(max_tokens=8))


@pytest.mark.parametrize("kind", ["completion", "chat"])
def test_both_serving_kinds_stop_at_the_deadline(kind: str) -> None:
    gen = LlamaCppGenerator(f"llamacpp:{kind}.gguf", gemma_path(settings().model_dir), kind=kind)
    out = gen.generate(PROMPT, GenerationParams(max_tokens=300), deadline=time.monotonic() + 0.05)
    assert out.finish_reason == "deadline"
    assert out.output_tokens < 300


def test_minilm_embeddings_are_normalised_and_semantic() -> None:
    emb = load_embedder(MINILM_ID)
    a, b, c = emb.embed(["The cat sat on the mat.", "A cat is sitting on a mat.", "Quarterly tax filing deadlines."])
    assert len(a) == 384 and abs(sum(x * x for x in a) - 1) < 1e-4
    dot = lambda u, v: sum(x * y for x, y in zip(u, v))  # noqa: E731
    assert dot(a, b) > dot(a, c) + 0.3
    assert emb.count_tokens("hello world") == 2


def test_the_chat_model_answers_through_its_own_chat_template() -> None:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    system = "You answer questions about Mars in one short sentence."
    prompt = PromptTemplate("p", "Context: {context}\n\nQuestion: {question}", system=system).render(
        question="What colour is the sky on Mars during the day?", context="On Mars the daytime sky is butterscotch coloured."
    )
    gen = load_generator(SMOLLM2_ID)
    assert isinstance(gen, LlamaCppGenerator) and gen.kind == "chat"
    out = gen.generate(prompt, GenerationParams(max_tokens=48))
    assert out.text and out.text == out.text.strip()
    assert out.input_tokens > 10 and 0 < out.output_tokens <= 48

    llama, lock = _llama(str(gen.path), gen.n_ctx)
    assert llama.chat_format == "chat_template.default"  # the GGUF's own template, not a built-in guess
    messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt.messages[-1][1]}]
    eos = llama.detokenize([llama.token_eos()], special=True).decode()
    rendered = Jinja2ChatFormatter(llama.metadata["tokenizer.chat_template"], eos_token=eos, bos_token="")(messages=messages).prompt
    # our system message replaces the template's default one, and the user turn carries the rendered template
    assert rendered.startswith(f"<|im_start|>system\n{system}<|im_end|>") and "SmolLM, trained by" not in rendered
    assert "butterscotch" in rendered and rendered.endswith("<|im_start|>assistant\n")
    # exactly these messages, formatted by that template, were what the model read
    assert out.input_tokens == len(llama.tokenize(rendered.encode(), add_bos=False, special=True))
    with lock:
        llama.reset()  # from an empty KV cache, as the generator does: a reused prefix changes the logits' last bits
        ref = llama.create_chat_completion(messages, max_tokens=48, temperature=0.0, seed=0)
    assert out.text == ref["choices"][0]["message"]["content"].strip()


def test_the_chat_model_follows_a_system_message() -> None:
    gen = load_generator(SMOLLM2_ID)

    def ask(system: str) -> str:
        prompt = PromptTemplate("p", "{question}", system=system).render(question="What is your name?", context="")
        return gen.generate(prompt, GenerationParams(max_tokens=24)).text

    assert "Zorblax" not in ask("")  # without a system message the template's default one applies
    assert "Zorblax" in ask("Your name is Zorblax.")


def test_each_gguf_has_its_own_stable_identity() -> None:
    smol, gemma = load_generator(SMOLLM2_ID), load_generator(GEMMA_ID)
    assert isinstance(smol, LlamaCppGenerator)
    assert smol.identity == load_generator(SMOLLM2_ID).identity
    assert smol.identity.startswith(f"gguf:{hashlib.sha256(smol.path.read_bytes()).hexdigest()}:")
    assert smol.identity != gemma.identity
