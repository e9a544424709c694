"""Benchmark: what sharing and caching indexes saves on a sweep.

Runs the same 4-variant grid (2 prompts x 2 chunkers, real MiniLM embeddings, real Chroma, scripted answers so the
generator does not dominate) three ways, in one process, and prints times and ratios against the baseline:

  baseline    every variant builds its own index (what a naive loop over the grid does)
  shared      one index per chunker x embedding, built once per sweep (what workbench does)
  cached      the same sweep again: indexes are opened from the content-addressed Chroma cache

    .venv/bin/python bench/index_sharing.py [--corpus python-reference|handbook]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import workbench as wb
from workbench.config import settings
from workbench.models import GEMMA_ID, MINILM_ID, load_embedder
from workbench.pipeline import ChromaIndexStore
from workbench.testing import ScriptedModel
from workbench.tracking import MemoryTracker

ROOT = Path(__file__).resolve().parents[1]


def spec(corpus: str) -> wb.ExperimentSpec:
    corpus_ref = {"builtin": "python-reference"} if corpus == "python-reference" else {"path": "datasets/handbook", "glob": "*.md"}
    dataset = "datasets/python_docs.jsonl" if corpus == "python-reference" else "datasets/handbook.jsonl"
    return wb.ExperimentSpec.from_dict({
        "name": "bench", "dataset": {"path": dataset, "limit": 5}, "corpus": corpus_ref,
        "prompts": [{"name": "a", "template": "{context}\nQ: {question}\nA:"}, {"name": "b", "template": "Context: {context}\nQuestion: {question}\nAnswer:"}],
        "models": [{"id": GEMMA_ID}],
        "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}, {"strategy": "sentence", "size": 400, "overlap": 0}],
    }, base_dir=ROOT)


class PerVariantStore(ChromaIndexStore):
    """Baseline: never reuses an index, so every variant pays for its own build."""

    def open(self, key):  # type: ignore[no-untyped-def]
        return None

    def build(self, key, chunks, vectors, *, stats=None):  # type: ignore[no-untyped-def]
        return super().build(f"{key}-{time.monotonic_ns()}", chunks, vectors, stats=stats)


def timed(exp: wb.ExperimentSpec, store, home: Path, models) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    wb.run(exp, models=models, index_store=store, tracker=MemoryTracker(), settings=settings(root=home), progress=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="handbook", choices=["handbook", "python-reference"])
    args = parser.parse_args()
    exp = spec(args.corpus)
    models = {GEMMA_ID: ScriptedModel(lambda p: "scripted answer", model_id=GEMMA_ID), MINILM_ID: load_embedder(MINILM_ID)}
    models[MINILM_ID].embed(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        # Baseline: one build per variant. Simulated by running each variant as its own one-variant sweep.
        start = time.perf_counter()
        for variant in wb.expand_grid(exp):
            one = exp.model_copy(update={"prompts": (variant.prompt,), "chunkers": (variant.chunker,)})
            timed(one, PerVariantStore(home / "baseline"), home, models)
        baseline = time.perf_counter() - start
        shared = timed(exp, ChromaIndexStore(home / "shared"), home, models)
        cached = timed(exp, ChromaIndexStore(home / "shared"), home, models)
    print(f"corpus={args.corpus} variants={len(wb.expand_grid(exp))}")
    print(f"baseline (index per variant): {baseline:7.2f}s  ratio 1.00")
    print(f"shared   (index per chunker): {shared:7.2f}s  ratio {shared / baseline:.2f}")
    print(f"cached   (second sweep)     : {cached:7.2f}s  ratio {cached / baseline:.2f}")


if __name__ == "__main__":
    main()
