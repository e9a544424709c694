"""The embedded models themselves: completion and chat serving of the GGUF, deadlines, embeddings."""

from __future__ import annotations

import time

import pytest

from workbench.config import settings
from workbench.models import GEMMA_ID, MINILM_ID, GenerationParams, load_embedder, load_generator
from workbench.models._local import LlamaCppGenerator, gemma_path
from workbench.prompts import PromptTemplate

pytestmark = pytest.mark.integration
PROMPT = PromptTemplate("p", "Context: {context}\n\nQuestion: {question}\nAnswer:").render(
    question="What colour is the sky on Mars during the day?", context="On Mars the daytime sky is butterscotch coloured."
)


def test_completion_answers_are_trimmed_and_counted() -> None:
    out = load_generator(GEMMA_ID).generate(PROMPT, GenerationParams(max_tokens=32))
    assert out.text and out.text == out.text.strip() and "Question:" not in out.text
    assert out.input_tokens > 10 and 0 < out.output_tokens <= 32


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
