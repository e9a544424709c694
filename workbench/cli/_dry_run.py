"""``workbench run --dry-run``: a sweep's plan, variant by variant, and what it would cost; nothing is run or logged."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workbench.results import counted, printable
from workbench.config import LARGE_GRID
from workbench.tracking import shown_uri

if TYPE_CHECKING:
    from workbench.config import Settings
    from workbench.grid import VariantPlan
    from workbench.spec import ExperimentSpec


_PLAN_NAMES = 50  # variants --dry-run lists


def _print_plan(spec: ExperimentSpec, cfg: Settings, *, limit: int | None, fresh: bool, as_json: bool) -> int:
    """``workbench run --dry-run``: the plan, and what the sweep would do with each of the first variants (reuse a run,
    answers in the cache, model calls and their cost) and in all; the store and the caches are read, nothing is run,
    logged or made. The dataset and corpus are read, so what would refuse them refuses the dry run too."""
    import workbench as wb
    from workbench.grid import CHARS_PER_TOKEN

    plan = wb.plan_sweep(spec, settings=cfg, limit=limit, fresh=fresh)
    if as_json:
        columns = {part: dict(ref.columns) for part, ref in (("dataset", spec.dataset), ("corpus", spec.corpus)) if ref is not None and ref.columns}
        print(json.dumps({"experiment": spec.name, "dry_run": True, "tracking_uri": shown_uri(cfg.tracking_uri), **plan.as_dict(),
                          **({"columns": columns} if columns else {})}, indent=2))
        return 0
    print(printable(f"Experiment '{spec.name}': {plan.grid.summary()}"))
    for line in _column_lines(spec):
        print(printable(line))
    for line in _plan_lines(plan.variants):
        print(printable(line))
    print(printable(plan.summary()))
    over = [v for v in plan.variants if v.budgets_passed and v.calls]
    if over:
        passed = " and ".join(sorted({budget for v in over for budget in v.budgets_passed}))
        print(f"{counted(len(over), 'variant')} would pass {passed} and stop FAILED — raise the limit, or lower max_tokens or the "
              "questions (--limit)")
    at_risk = [v for v in plan.variants if v.budgets_at_risk and v.calls]
    if at_risk:
        risked = " and ".join(sorted({budget for v in at_risk for budget in v.budgets_at_risk}))
        print(f"{counted(len(at_risk), 'router')} could pass {risked} and stop FAILED if {'it escalates' if len(at_risk) == 1 else 'they escalate'} "
              "many questions (the estimate prices the strong model on every one)")
    beyond = [v for v in plan.variants if v.budget_beyond_judge]
    if beyond:
        print(f"{counted(len(beyond), 'variant')} would spend more than limits.max_cost_usd (${spec.limits.max_cost_usd:g}) with the judge's "
              "calls, which the limit does not count: they are paid beyond it")
    if plan.calls and plan.cost_usd:
        print(f"Costs are estimates: prompts at ~{CHARS_PER_TOKEN} characters a token, every answer max_tokens long.")
    if plan.judge_calls:
        print(f"Judge calls ({spec.judge.id if spec.judge else 'the judge given'}) are a bound: each metric's prompts with what it judges at "
              f"~{CHARS_PER_TOKEN} characters a token, every reply judge.max_tokens long, an answer not yet made as long as its max_tokens.")
    if plan.judge_uncounted:
        print(f"The judge's calls of {', '.join(plan.judge_uncounted)} are not counted (a registered scorer calls the judge as it will).")
    if len(plan.variants) > LARGE_GRID:
        print(f"More than {LARGE_GRID:,} variants: workbench run asks for --yes to run them.")
    for note in plan.notes:
        print(printable(note))
    print(f"Tracking store: {shown_uri(cfg.tracking_uri)}")
    print("Dry run: nothing was run or logged.")
    return 0


def _column_lines(spec: ExperimentSpec) -> list[str]:
    """A line for the dataset file and one for the corpus file read with columns of their own (pure): which of the
    file's columns each field is read from, ``question <- prompt``."""
    refs = (("Dataset", spec.dataset), ("Corpus", spec.corpus))
    return [f"{what} {ref.path}: read with its own columns, {', '.join(f'{field} <- {column}' for field, column in ref.columns.items())}"
            for what, ref in refs if ref is not None and ref.columns]


def _plan_lines(variants: Sequence[VariantPlan], shown: int = _PLAN_NAMES) -> list[str]:
    """A line per variant of a dry run, at most ``shown`` (pure): in grid order when all fit; else those to compute (or
    that cannot run) first, as a pull request editing one prompt of a 400-variant grid listed 50 reused variants and
    hid the 40 it would pay for, then how many more of each."""
    listed = list(variants) if len(variants) <= shown else sorted(variants, key=lambda v: v.reused_from is not None)
    lines = [f"  {v.variant.id}  {v.variant.name}  {v.status()}" for v in listed[:shown]]
    rest = listed[shown:]
    if rest:
        reused = sum(1 for v in rest if v.reused_from is not None)
        parts = [f"{reused:,} reused" if reused else "", f"{len(rest) - reused:,} to compute" if len(rest) > reused else ""]
        lines.append(f"  ... and {len(rest):,} more ({', '.join(p for p in parts if p)})")
    return lines
