"""Fields under the names LangChain and LlamaIndex give them, written where workbench's are: a retrieval entry's
``top_k`` was told to go under ``models.params`` (where top_k is a sampler setting, not the chunks retrieved)."""

import pytest

from workbench.errors import SpecError
from workbench.spec import ExperimentSpec

BASE = {"name": "x", "prompts": [{"name": "p", "template": "{context} {question}"}], "models": [{"id": "local:gemma3-270m"}],
        "chunkers": [{"strategy": "recursive"}]}


@pytest.mark.parametrize(("update", "said"), [
    ({"retrieval": [{"top_k": 3}]}, "retrieval[0].top_k: unknown field — 'top_k' is 'k' here: write k: 3"),
    ({"retrieval": [{"similarity_top_k": 4}]}, "retrieval[0].similarity_top_k: unknown field — 'similarity_top_k' is 'k' here: write k: 4"),
    ({"retrieval": [{"k": 3, "search_type": "mmr", "fetch_k": 12}]},
     "retrieval[0].search_type: unknown field — 'search_type' is 'search' here: write search: mmr"),
    ({"retrieval": [{"k": 3, "search": "mmr", "fetch_k": 12, "lambda_mult": 0.3}]},
     "retrieval[0].lambda_mult: unknown field — 'lambda_mult' is 'mmr_lambda' here: write mmr_lambda: 0.3"),
    ({"chunkers": [{"strategy": "recursive", "chunk_size": 500}]}, "chunkers[0].chunk_size: unknown field — 'chunk_size' is 'size' here: write size: 500"),
    ({"chunkers": [{"strategy": "recursive", "size": 500, "chunk_overlap": 50}]},
     "chunkers[0].chunk_overlap: unknown field — 'chunk_overlap' is 'overlap' here: write overlap: 50"),
])
def test_another_tools_name_for_a_field_says_ours(update: dict, said: str) -> None:
    with pytest.raises(SpecError) as info:
        ExperimentSpec.from_dict({**BASE, **update})
    assert str(info.value) == f"<spec>: {said}"


def test_top_k_of_a_model_is_still_its_sampler_setting() -> None:
    with pytest.raises(SpecError, match=r"models\[0\].top_k: unknown field — 'top_k' is no field here: it goes under params"):
        ExperimentSpec.from_dict({**BASE, "models": [{"id": "local:gemma3-270m", "top_k": 3}]})
