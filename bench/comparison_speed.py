"""Benchmark: what the comparison at the end of a sweep costs, stage by stage, on a grid of synthetic variants.

Per-question tables made up with a fixed seed (no model, no store): ``--variants`` variants (default 12) of
``--questions`` questions (default 40) with five scores, latency, output tokens and cost (so cost per success too). Each
stage is timed on the wall clock, best of ``--repeat`` (default 5), in this order:

  compare     ``wb.compare`` (bootstrap intervals of every variant on every metric, 2,000 resamples)
  summary     ``report.summary()``: what a sweep writes twice (the run's description and comparison.txt)
  markdown    ``report.to_markdown()``
  to_dict     ``report.to_dict()`` (comparison.json)
  plots       ``report.plots()`` drawn to PNG at 120 dpi, as the tracker logs them

Printed: seconds per stage and each stage's share of the total. Run it on two checkouts to compare them; the summary
read the table once per metric three times before it read it once (0.129 s -> 0.013 s a summary on a 4-variant,
21-metric sweep).

    .venv/bin/python bench/comparison_speed.py
    .venv/bin/python bench/comparison_speed.py --variants 40 --questions 200
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from typing import Any

SCORES = ("token_f1", "hit_at_k", "mrr", "recall_at_k", "faithfulness")


def tables(variants: int, questions: int, seed: int = 0) -> dict[str, Any]:
    """Per-question tables of ``variants`` grid-like variants (``p<i>|gemma|recursive-800/80|k<j>``), fixed by ``seed``."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    out = {}
    for i in range(variants):
        frame = {"case_id": [f"q{n}" for n in range(questions)]}
        frame.update({score: rng.uniform(0, 1, questions).round(3) for score in SCORES})
        frame.update({"latency_s": rng.uniform(0.1, 3, questions), "output_tokens": rng.integers(5, 60, questions).astype(float),
                      "cost_usd": rng.uniform(1e-6, 1e-5, questions)})
        out[f"p{i // 3}|gemma|recursive-800/80|k{i % 3 + 1}"] = pd.DataFrame(frame)
    return out


def best_of(repeat: int, work: Callable[[], Any]) -> float:
    """The fastest of ``repeat`` runs of ``work``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def draw(report: Any) -> None:
    """The report's plots as PNG bytes at the tracker's 120 dpi, then closed."""
    import matplotlib.pyplot as plt

    for figure in report.plots().values():
        figure.savefig(io.BytesIO(), format="png", dpi=120)
    plt.close("all")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=12)
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import workbench as wb

    frames = tables(args.variants, args.questions)
    report = wb.compare(frames, seed=0)  # imports and first draws of the resamples, not timed
    draw(report)
    stages = {
        "compare": lambda: wb.compare(frames, seed=0),
        "summary": report.summary,
        "markdown": report.to_markdown,
        "to_dict": report.to_dict,
        "plots": lambda: draw(report),
    }
    timed = {name: best_of(args.repeat, work) for name, work in stages.items()}
    total = sum(timed.values())
    print(f"{args.variants} variants x {args.questions} questions, {len(report.metrics)} metrics (best of {args.repeat})")
    for name, seconds in timed.items():
        print(f"  {name:<9} {seconds:8.3f} s  {seconds / total:6.1%}")
    print(f"  {'total':<9} {total:8.3f} s")


if __name__ == "__main__":
    main()
