"""Benchmark: what racing saves on a grid of 12 variants, and whether it still finds the best one, measured in one run.

The grid, on the first N questions of the Python language reference set (datasets/python_docs.jsonl, corpus builtin
python-reference; default 32, ``--questions N``), answered by the real local model (local:gemma3-270m, max_tokens 48)
with real MiniLM embeddings, real Chroma and a real sqlite MLflow store:

  3 prompts   grounded, plain, and no_context (a prompt that ignores the retrieved context)
  2 chunkers  recursive 1000/100, and tiny chunks (recursive 120/0)
  2 k         3 and 1

= 12 variants, some clearly weak on purpose (no context; k=1 over tiny chunks). Scored on token_f1, refusal_correct,
hit_at_k and mrr. The four no_context variants send the model the same prompts (their chunks are not in them), so in
any sweep the cache answers three of them: generation calls count the calls that reached the model. Three sweeps, each
from a cold cache (no answer cached) with its own temporary cache and MLflow store:

  full       every variant answers every question (it builds the indexes, in a temporary folder)
  racing     execution: {racing: {metric: token_f1, confidence: 0.95, min_questions: 8, batch: 4}}; it opens the
             indexes the full sweep built (indexes are no generation call, and building the tiny-chunk one takes minutes)
  racing, tolerance t   the same with racing's tolerance t (``--tolerance``, default 0.05; 0 leaves this sweep out): a
             variant also stops once its interval rules out that it beats the leader by t or more

Printed: each variant's token_f1 and generation calls in each sweep, the questions a stopped variant used and the
interval that stopped it, the total generation calls and their ratio to the full sweep's, and whether each racing sweep
picks the same best variant as the full one (highest token_f1 over all questions; for racing, among the variants it did
not stop). Target: the same best variant with at most 50% of the full sweep's generation calls.

    .venv/bin/python bench/racing.py                 # the full benchmark (16 minutes on 2 cores)
    .venv/bin/python bench/racing.py --questions 4 --min-questions 2 --batch 2   # a quick check that it works
    .venv/bin/python bench/racing.py --models both   # the same 12 settings over both local models: 24 variants
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ROOT / "experiments" / "prompts"
_LOCATION_VARS = ("WORKBENCH_ROOT", "WORKBENCH_HOME", "WORKBENCH_CACHE_DIR", "MLFLOW_TRACKING_URI")


def grid(questions: int, *, racing: dict[str, Any] | None, models: str = "gemma") -> Any:
    """The benchmark's experiment (with ``racing`` or without; everything else equal); ``models="both"`` adds SmolLM2."""
    from workbench.models import GEMMA_ID, MINILM_ID, SMOLLM2_ID
    from workbench.spec import ExperimentSpec

    data = {
        "name": "racing-bench",
        "dataset": {"path": str(ROOT / "datasets" / "python_docs.jsonl"), "limit": questions},
        "corpus": {"builtin": "python-reference"},
        "prompts": [
            {"name": "grounded", "template": (PROMPTS / "grounded.txt").read_text(encoding="utf-8")},
            {"name": "plain", "template": (PROMPTS / "plain.txt").read_text(encoding="utf-8")},
            {"name": "no_context", "template": "Question: {question}\nAnswer:"},
        ],
        "models": [{"id": model, "params": {"temperature": 0.0, "max_tokens": 48}}
                   for model in ([GEMMA_ID, SMOLLM2_ID] if models == "both" else [GEMMA_ID])],
        "chunkers": [{"strategy": "recursive", "size": 1000, "overlap": 100}, {"strategy": "recursive", "size": 120, "overlap": 0}],
        "retrieval": [{"embedding": MINILM_ID, "k": 3}, {"embedding": MINILM_ID, "k": 1}],
        "scorers": ["token_f1", "refusal_correct", "hit_at_k", "mrr"],
        "limits": {"wall_time_s": 3600},
        "execution": {"racing": racing} if racing else {},
    }
    return ExperimentSpec.from_dict(data, base_dir=ROOT)


def sweep(spec: Any, home: Path, indexes: Path) -> tuple[Any, float]:
    """One ``wb.run`` with its own (empty) cache and sqlite store under ``home``; indexes and sandboxes in ``indexes``."""
    import workbench as wb
    from workbench.cache import DiskCacheStore

    home.mkdir(parents=True)
    cfg = wb.Settings(root=home, tracking_uri=f"sqlite:///{home / 'mlflow.db'}", artifact_root=home / "artifacts", home=indexes)
    cache = DiskCacheStore(home / "cache")
    start = time.perf_counter()
    try:
        result = wb.run(spec, settings=cfg, progress=False, cache=cache)
    finally:
        cache.close()
    wall = time.perf_counter() - start
    if result.failed:
        raise SystemExit(f"{spec.name}: {len(result.failed)} variant(s) failed: {result.failed[0].outcome.error}")
    return result, wall


def calls(result: Any) -> int:
    return int(sum(v.metrics.get("generation_calls", 0.0) for v in result.variants))


def best(variants: Any) -> Any:
    """The variant with the highest token_f1 (the first listed on a tie)."""
    return max(variants, key=lambda v: v.metrics.get("token_f1", float("-inf")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=32, help="questions per variant (default 32)")
    parser.add_argument("--min-questions", type=int, default=8, help="racing: scored answers before a variant can stop (default 8)")
    parser.add_argument("--batch", type=int, default=4, help="racing: questions between two decisions (default 4)")
    parser.add_argument("--confidence", type=float, default=0.95, help="racing: coverage of the stopping interval (default 0.95)")
    parser.add_argument("--tolerance", type=float, default=0.05, help="the third sweep's racing tolerance (default 0.05; 0: no third sweep)")
    parser.add_argument("--models", choices=("gemma", "both"), default="gemma",
                        help="gemma: Gemma 3 270M alone (default, 12 variants); both: also SmolLM2-135M-Instruct (24 variants)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (and print where it is)")
    args = parser.parse_args()
    racing = {"metric": "token_f1", "confidence": args.confidence, "min_questions": args.min_questions, "batch": args.batch}
    races = {"racing": racing} | ({f"racing, tolerance {args.tolerance:g}": racing | {"tolerance": args.tolerance}} if args.tolerance else {})
    q = args.questions
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that a terminated run still removes its folder
    for var in _LOCATION_VARS:
        os.environ.pop(var, None)
    tmp = Path(tempfile.mkdtemp(prefix="wb-racing-bench-"))

    import workbench as wb

    full_spec = grid(q, racing=None, models=args.models)
    n_variants = len(wb.expand_grid(full_spec))
    print(f"grid: {n_variants} variants x {q} questions; {', '.join(m.id for m in full_spec.models)} (max_tokens 48); racing {racing}"
          f"{f', tolerance {args.tolerance:g} in the third sweep' if args.tolerance else ''}; "
          f"WORKBENCH_LLAMA_THREADS={os.environ.get('WORKBENCH_LLAMA_THREADS', 'unset')}")
    print(f"temporary caches, indexes and MLflow stores under {tmp}", flush=True)
    raced: dict[str, tuple[Any, float]] = {}
    try:
        full, full_wall = sweep(full_spec, tmp / "full", tmp / "indexes")
        print(f"  full: {full_wall:.1f}s, {calls(full)} generation calls", flush=True)
        for i, (label, settings) in enumerate(races.items()):
            raced[label] = sweep(grid(q, racing=settings, models=args.models), tmp / f"racing-{i}", tmp / "indexes")
            print(f"  {label}: {raced[label][1]:.1f}s, {calls(raced[label][0])} generation calls", flush=True)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    by_id = {label: {v.variant.id: v for v in result.variants} for label, (result, _) in raced.items()}
    width = max(len(v.variant.name) for v in full.variants)
    print()
    print("stopped early: after how many questions, and the interval of token_f1 minus the leader's that stopped it")
    print(f"{'variant':{width}s} {'full f1':>8s} {'calls':>6s}" + "".join(f" | {label:>6s}: calls, stopped early" for label in raced))
    for v in sorted(full.variants, key=lambda v: -v.metrics.get("token_f1", 0.0)):
        line = f"{v.variant.name:{width}s} {v.metrics.get('token_f1', float('nan')):8.3f} {int(v.metrics['generation_calls']):6d}"
        for label in raced:
            r = by_id[label][v.variant.id]
            why = r.stopped_early
            stop = f"after {why.questions}: {why.estimate:+.3f} [{why.low:+.3f}, {why.high:+.3f}]" if why is not None else "-"
            line += f" | {int(r.metrics['generation_calls']):6d} {stop:36s}"
        print(line.rstrip())

    full_by_id = {v.variant.id: v for v in full.variants}
    full_best = best(full.variants)
    print()
    print(f"full: {calls(full)} generation calls, {full_wall:.1f}s (with building the indexes); best variant {full_best.variant.name} "
          f"(token_f1 {full_best.metrics['token_f1']:.3f})")
    for label, (result, wall) in raced.items():
        survivors = [v for v in result.variants if v.stopped_early is None]
        pick = best(survivors)
        ratio = calls(result) / max(1, calls(full))
        same = pick.variant.id == full_best.variant.id
        behind = full_best.metrics["token_f1"] - full_by_id[pick.variant.id].metrics["token_f1"]
        print(f"{label}: {calls(result)} generation calls, {wall:.1f}s (opening the indexes); racing / full = {ratio:.3f}; "
              f"stopped early {n_variants - len(survivors)} of {n_variants}; best variant {pick.variant.name} "
              f"(token_f1 {pick.metrics['token_f1']:.3f}; {behind:.3f} below the full sweep's best over all questions); "
              f"same: {'yes' if same else 'no'}; target {'met' if same and ratio <= 0.5 else 'not met'}")
        differ = [v.variant.name for v in survivors if abs(v.metrics.get("token_f1", 0.0) - full_by_id[v.variant.id].metrics.get("token_f1", 0.0)) > 1e-9]
        if differ:
            print(f"  note: {len(differ)} variant(s) answered every question in both sweeps with a different token_f1 (the model's "
                  f"answers differ between the two runs): {', '.join(differ)}")


if __name__ == "__main__":
    main()
