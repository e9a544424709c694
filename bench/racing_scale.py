"""Benchmark: racing's own decision time on a large evaluation set, and what its decision schedule costs in questions.

No model, no worker, no store: per-question token_f1 scores are simulated for ``--variants`` variants over
``--questions`` questions (one clearly weak variant, one a little weaker than the best, the rest near-tied with the
best), and racing's decisions (``workbench.comparison.early_stops``, the paired bootstrap of every live variant against
the leader) are run as a racing sweep runs them, batch after batch of ``--batch`` questions, under two schedules:

  every batch   a decision after every batch (racing before the schedule: 1,250 decisions over 5,000 questions)
  scheduled     ``decision_due``: after every batch at first, then once a 16th more questions were answered

Printed: each schedule's decisions and time, the time ratio scheduled / every batch, and per stopped variant the
questions it had answered when each schedule stopped it (the scheduled one at most a 16th more, plus a batch). The
every-batch sweep is cut at ``--budget-s`` seconds (its time is then a lower bound, said so): at 5,000 questions and 12
variants it takes many minutes on 2 cores.

    .venv/bin/python bench/racing_scale.py                                  # 5,000 questions, 12 variants
    .venv/bin/python bench/racing_scale.py --questions 20000 --variants 40 --budget-s 120
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from workbench.comparison import early_stops
from workbench.execution._racing import decision_due


def simulated_scores(variants: int, questions: int, seed: int = 0) -> dict[str, np.ndarray]:
    """token_f1 per question: v00 the best (0.60), v01 weak (0.40), v02 a little weaker (0.57), the rest within 0.005."""
    rng = np.random.default_rng(seed)
    means = [0.60, 0.40, 0.57, *(0.60 - 0.0005 * i for i in range(variants - 3))][:variants]
    return {f"v{i:02d}": np.clip(rng.normal(m, 0.3, questions), 0, 1) for i, m in enumerate(means)}


def race(scores: dict[str, np.ndarray], batch: int, due: Callable[[int, int, int], bool], budget_s: float) -> tuple[dict[str, int], int, float, bool]:
    """Stops (variant -> questions answered when it stopped), decisions, seconds, and whether the budget cut it short."""
    total = len(next(iter(scores.values())))
    live = set(scores)
    stopped: dict[str, int] = {}
    decisions, last, started = 0, 0, time.perf_counter()
    for answered in range(batch, total, batch):
        if time.perf_counter() - started > budget_s:
            return stopped, decisions, time.perf_counter() - started, True
        if not due(answered, last, batch):
            continue
        last, decisions = answered, decisions + 1
        out = early_stops({k: scores[k][:answered].tolist() for k in sorted(live)}, metric="token_f1", min_questions=8)
        for key in out:
            live.discard(key)
            stopped[key] = answered
    return stopped, decisions, time.perf_counter() - started, False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=5000)
    parser.add_argument("--variants", type=int, default=12)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--budget-s", type=float, default=600.0, help="cut the every-batch schedule after this long")
    args = parser.parse_args()

    scores = simulated_scores(args.variants, args.questions)
    early_stops({"a": [0.1] * 8, "b": [0.2] * 8}, metric="token_f1")  # imports (scipy) out of the measurement
    every = race(scores, args.batch, lambda answered, last, batch: True, args.budget_s)
    scheduled = race(scores, args.batch, decision_due, float("inf"))
    print(f"{args.variants} variants x {args.questions} questions, batches of {args.batch}")
    for name, (stops, decisions, seconds, cut) in (("every batch", every), ("scheduled", scheduled)):
        print(f"  {name:12s} {decisions:5d} decisions {seconds:8.1f} s{' (cut at the budget: a lower bound)' if cut else ''}")
    print(f"  scheduled / every batch: {scheduled[2] / every[2]:.3f}{' (at most)' if every[3] else ''} of the time, "
          f"{scheduled[1] / every[1]:.3f} of the decisions")
    for key in sorted(set(every[0]) | set(scheduled[0])):
        print(f"  {key} stopped after {every[0].get(key, '-')} (every batch) / {scheduled[0].get(key, '-')} (scheduled) questions")


if __name__ == "__main__":
    main()
