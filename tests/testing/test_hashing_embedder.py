"""The deterministic embedder of workbench.testing reads the words of any script, not ASCII only."""

from __future__ import annotations

import math

import pytest

from workbench.testing import HashingEmbedder


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(("doc", "other", "question"), [
    ("Flüge müssen früh gebucht werden.", "Urlaubsanträge genehmigt die Führungskraft.", "Wann werden Flüge gebucht?"),
    ("出張の航空券は十四日前までに予約します。", "休暇申請は上司が承認します。", "航空券はいつ予約しますか？"),
    ("Билеты бронируют за две недели.", "Отпуск утверждает руководитель.", "Когда бронируют билеты?"),
])
def test_non_ascii_text_is_embedded_and_retrieves_the_document_sharing_its_words(doc: str, other: str, question: str) -> None:
    # every word outside [a-z0-9] was dropped: these texts all had a zero vector, so a German or Japanese corpus
    # retrieved nothing in unit tests
    embedder = HashingEmbedder()
    d, o, q = embedder.embed([doc, other, question])
    assert all(math.isclose(sum(x * x for x in v), 1.0) for v in (d, o, q))
    assert _cosine(q, d) > _cosine(q, o)
    assert embedder.embed([doc]) == HashingEmbedder().embed([doc])  # deterministic
    assert embedder.count_tokens(doc) > 0


def test_words_of_any_script_are_whole_words_and_ideographs_single_tokens() -> None:
    tokenize = HashingEmbedder().tokenizer.tokenize
    assert tokenize("Flüge müssen FRÜH") == ["flüge", "müssen", "früh"]  # was "fl", "ge", "m", "ssen", "fr", "h"
    assert tokenize("予約します。") == ["予", "約", "し", "ま", "す"]  # no spaces between words: each character a token


def test_ascii_text_keeps_its_words_and_vectors() -> None:
    # the vectors tests rely on are unchanged: underscores and punctuation still split words, case is folded
    embedder = HashingEmbedder()
    assert embedder.tokenizer.tokenize("Use os.path_join(A, b2) now") == ["use", "os", "path", "join", "a", "b2", "now"]
    assert embedder.embed(["os_path"]) == embedder.embed(["OS path"])
