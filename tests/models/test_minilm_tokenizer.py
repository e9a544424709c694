"""The token chunker counts with MiniLM's own token ids, read without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from workbench.datasets import python_reference_corpus
from workbench.models._local import MiniLMEmbedder, _sentence_transformer

TEXTS = [
    "def f(*args, **kwargs): return yield from g()",
    "Café naïve résumé Ångström straße İstanbul ǅ",
    "日本語のテキストと中文混合 Привет мир مرحبا بالعالم",
    "emoji 😀🚀, a zero\u200bwidth space, tabs\tand\x00nulls\x07",
    "ﬁ ligature ½ ² Ⅻ ｆｕｌｌｗｉｄｔｈ x\u0301y\u0308",
    "a" * 3000,
    "",
]


def test_token_ids_are_the_sentence_transformers_tokenizers() -> None:
    theirs = _sentence_transformer().tokenizer
    ours = MiniLMEmbedder().tokenizer
    corpus = python_reference_corpus()
    texts = TEXTS + [doc.text for doc in corpus.documents[:20]]  # whole documents: far past the model's 256 tokens
    for text in texts:
        for special in (False, True):
            assert ours.encode(text, add_special_tokens=special) == theirs.encode(text, add_special_tokens=special), text[:40]


_CHUNK = """
import json, sys
from workbench.datasets import python_reference_corpus
from workbench.models import MINILM_ID, load_embedder
from workbench.pipeline import chunk_corpus
from workbench.spec import ChunkerSpec
chunks = chunk_corpus(python_reference_corpus(), ChunkerSpec(strategy="token", size=128, overlap=16), load_embedder(MINILM_ID).tokenizer)
print(json.dumps({"chunks": len(chunks), "torch": "torch" in sys.modules}))
"""


@pytest.mark.timeout(300)
def test_token_chunking_imports_no_torch() -> None:
    out = subprocess.run([sys.executable, "-c", _CHUNK], capture_output=True, text=True, timeout=240, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["chunks"] > 100
    assert seen["torch"] is False
