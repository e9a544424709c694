"""Benchmark: chunking time against document length, per strategy (no model, no download).

Chunks one markdown document made of the handbook's pages repeated up to ``--mb`` megabytes and one a tenth of that
length with the recursive, sentence and markdown chunkers (size 300, overlap 30), in one process, and prints each
time and how much longer the long document took (10 for a linear chunker; the markdown chunker's header lookup once
made it over 100). The token chunker is left out: its time is the embedding tokenizer's.

    .venv/bin/python bench/chunking.py [--mb 1.0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from workbench.datasets import Document, load_corpus
from workbench.pipeline import chunk_document
from workbench.spec import ChunkerSpec

ROOT = Path(__file__).resolve().parents[1]


def document(chars: int) -> Document:
    """The handbook's pages, one after another, repeated until the text has ``chars`` characters."""
    pages = "\n\n".join(d.text for d in load_corpus(ROOT / "datasets" / "handbook").documents)
    return Document("handbook", (pages * (chars // len(pages) + 1))[:chars])


def timed(doc: Document, strategy: str) -> tuple[float, int]:
    start = time.perf_counter()
    chunks = chunk_document(doc, ChunkerSpec(strategy=strategy, size=300, overlap=30))  # type: ignore[arg-type]
    return time.perf_counter() - start, len(chunks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=1.0, help="length of the long document in megabytes (characters)")
    args = parser.parse_args()
    long = document(int(args.mb * 1_000_000))
    short = document(len(long.text) // 10)
    print(f"{'strategy':10s} {'chunks':>7s} {'short s':>8s} {'long s':>8s} {'long/short':>10s}")
    for strategy in ("recursive", "sentence", "markdown"):
        timed(document(1000), strategy)  # imports (langchain's splitter) out of the timing
        (t_short, _), (t_long, n) = timed(short, strategy), timed(long, strategy)
        print(f"{strategy:10s} {n:7d} {t_short:8.3f} {t_long:8.3f} {t_long / t_short:10.1f}")


if __name__ == "__main__":
    main()
