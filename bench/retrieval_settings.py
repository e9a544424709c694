"""Benchmark: what sharing each search between the retrieval settings of an index saves on a team-sized corpus.

A Chroma search in workbench is a pass over every chunk of the index (exhaustive, so that two builds of one index
retrieve the same chunks), so retrieval costs questions x chunks x settings. The sweep searches each question's vector
once, for the widest of the settings (``pipeline.SharedSearch``). Measured in one run, with real Chroma, the testing
package's ``HashingEmbedder`` (a real model embeds the questions once either way) and generated documents:

  baseline   each retrieval setting as a sweep of its own over the same index (what searching per setting cost)
  shared     one retrieval-only sweep of every setting (what ``workbench run`` does)

The index is built (untimed) before either; both sweeps run ``fresh`` with an in-memory tracker, and must retrieve the
same chunks.

    .venv/bin/python bench/retrieval_settings.py                                    # 3,000 documents, 300 questions
    .venv/bin/python bench/retrieval_settings.py --documents 300 --questions 30     # a quick check
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import workbench as wb
from workbench.config import settings
from workbench.models import MINILM_ID
from workbench.pipeline import ChromaIndexStore
from workbench.testing import HashingEmbedder
from workbench.tracking import MemoryTracker

SETTINGS = [{"k": 3}, {"k": 5}, {"k": 4, "search": "mmr", "fetch_k": 16}]


def write_inputs(folder: Path, documents: int, questions: int) -> None:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    with open(folder / "kb.jsonl", "w", encoding="utf-8") as f:
        for d in range(documents):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(40, 1500))) + f" The code of item {d} is c{d}."
            f.write(json.dumps({"id": f"d{d}", "text": text}) + "\n")
    with open(folder / "questions.jsonl", "w", encoding="utf-8") as f:
        for q, d in enumerate(rng.sample(range(documents), questions)):
            f.write(json.dumps({"id": f"q{q}", "question": f"What is the code of item {d}?", "reference": f"c{d}", "source_ids": [f"d{d}"]}) + "\n")


def spec(folder: Path, retrieval: list[dict[str, object]]) -> wb.ExperimentSpec:
    return wb.ExperimentSpec.from_dict({
        "name": "bench-retrieval", "dataset": {"path": "questions.jsonl"}, "corpus": {"path": "kb.jsonl"},
        "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
        "retrieval": [{"embedding": MINILM_ID, **r} for r in retrieval],
    }, base_dir=folder)


def sweep(folder: Path, retrieval: list[dict[str, object]], models: dict[str, HashingEmbedder]) -> tuple[float, wb.SweepResult]:
    start = time.perf_counter()
    result = wb.run(spec(folder, retrieval), generate=False, models=models, index_store=ChromaIndexStore(folder / "indexes"),
                    tracker=MemoryTracker(), settings=settings(root=folder), progress=False, fresh=True)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=3000)
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()
    models = {MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_inputs(folder, args.documents, args.questions)
        _, built = sweep(folder, SETTINGS[:1], models)  # builds the index (untimed)
        baseline, alone = 0.0, []
        for setting in SETTINGS:
            took, result = sweep(folder, [setting], models)
            baseline += took
            alone.append([r.hits for r in result.variants[0].records])
        shared, together = sweep(folder, SETTINGS, models)
    assert [[r.hits for r in v.records] for v in together.variants] == alone, "the shared search retrieved other chunks"
    chunks = built.variants[0].chunk_stats.count
    print(f"{args.documents} documents ({chunks} chunks), {args.questions} questions, {len(SETTINGS)} retrieval settings")
    print(f"baseline (a search per setting): {baseline:7.2f}s  ratio 1.00")
    print(f"shared   (a search per question): {shared:7.2f}s  ratio {shared / baseline:.2f}")


if __name__ == "__main__":
    main()
