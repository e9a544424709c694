"""A model named as a hub or an API names it, without workbench's ``provider:``: the fix said the hub id without its
organisation (``huggingface:SmolLM2-135M-Instruct``, no such model) or gave only examples. One of the embedded models is
named by its ``local:`` id."""

import pytest

from workbench.errors import ModelError
from workbench.models import check_model_id


@pytest.mark.parametrize(("written", "role", "fix"), [
    ("HuggingFaceTB/SmolLM2-135M-Instruct", "generator", "did you mean 'local:smollm2-135m-instruct'?"),
    ("HuggingFaceTB/SmolLM2-360M-Instruct", "generator", "did you mean 'huggingface:HuggingFaceTB/SmolLM2-360M-Instruct'?"),
    ("sentence-transformers/all-MiniLM-L6-v2", "embedder", "did you mean 'local:all-minilm-l6-v2'?"),
    ("gpt-4o-mini", "generator", "did you mean 'openai:gpt-4o-mini'?"),
    ("text-embedding-3-small", "embedder", "did you mean 'openai:text-embedding-3-small'?"),
    ("claude-3-5-haiku-latest", "generator", "did you mean 'anthropic:claude-3-5-haiku-latest'?"),
    ("openai/gpt-4o", "generator", "did you mean 'openai:gpt-4o'?"),
    ("opnai/gpt-4o", "generator", "did you mean 'openai:gpt-4o'?"),
    ("gemini/gemini-2.0-flash", "generator", "did you mean 'google_genai:gemini-2.0-flash'?"),
    ("gemma", "generator", "e.g. 'local:gemma3-270m' or 'openai:gpt-4o-mini'"),
    # the README's model table's id without its local: (was: the examples, as if gemma3-270m were no model of ours)
    ("gemma3-270m", "generator", "did you mean 'local:gemma3-270m'?"),
    ("Gemma3-270M", "generator", "did you mean 'local:gemma3-270m'?"),
    # an embedding model's examples are embedding models (was: 'local:gemma3-270m', a generator, for retrieval's embedding)
    ("minilm", "embedder", "e.g. 'local:all-minilm-l6-v2' or 'openai:text-embedding-3-small'"),
])
def test_a_model_without_its_provider_is_told_the_string_to_write(written: str, role: str, fix: str) -> None:
    with pytest.raises(ModelError) as info:
        check_model_id(written, role=role)
    assert str(info.value) == f"model '{written}' is not a 'provider:model' string — {fix}"
