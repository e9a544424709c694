"""``workbench run``: an experiment's sweep, its progress (as whole lines where a bar cannot redraw), the leaderboard or
its rows as JSON, and what a Ctrl+C left behind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.cli._dry_run import _print_plan
from workbench.cli._failures import _interrupted_code
from workbench.cli._inputs import _input_file, _store
from workbench.cli._output import _print_table, _to_devnull
from workbench.results import counted, printable, ui_hint  # the notebook's HTML says where to open a sweep in these words too
from workbench.cli._run_report import _against_the_leader, _missing_scores_lines, _racing_lines, _reuse_line
from workbench.config import LARGE_GRID
from workbench.errors import WorkbenchError
from workbench.tracking import TrackingUnavailable, shown_uri

if TYPE_CHECKING:
    from workbench.results import SweepResult


LEADERBOARD_COLUMNS = ("variant", "status", "questions", "question_errors", "hit_at_k", "recall_at_k", "mrr", "token_f1", "rouge_l",
                       "semantic_similarity", "refusal_correct", "latency_p50_s", "output_tokens", "cost_usd")


def _cmd_run(args: argparse.Namespace) -> int:
    import workbench as wb
    from workbench.config import settings
    from workbench.grid import plan_grid
    from workbench.runner import load_spec_dataset

    _input_file(args.experiment, "experiment")
    cfg = settings(tracking_uri=_store(args, must_exist=False))
    started: list[bool] = []

    plain = not args.no_progress and not _shows_progress(args.no_progress)  # a pipe or a CI log: one line per step
    plain_progress = _PlainProgress(lambda line: print(line, file=sys.stderr, flush=True))

    def on_event(event: wb.ProgressEvent) -> None:
        if event.kind == "sweep_started":
            started.append(True)
        if event.kind == "sweep_stopping":  # said whatever the progress: the wait after a Ctrl+C is not a hang
            try:
                print(printable(event.message), file=sys.stderr, flush=True)
            except BrokenPipeError:
                _to_devnull(sys.stderr)
            return
        if plain:
            try:
                plain_progress(event)
            except BrokenPipeError:  # `2>&1 | grep -m1 ...`: the reader went away, the sweep goes on unprinted
                _to_devnull(sys.stderr)

    experiment = _with_execution(args.experiment, workers=args.workers, isolation=args.isolation)
    if args.dry_run or not args.yes:
        experiment = experiment if isinstance(experiment, wb.ExperimentSpec) else wb.load_experiment(experiment)
        variants = wb.expand_grid(experiment)
        if args.dry_run:
            return _print_plan(experiment, cfg, limit=args.limit, fresh=args.fresh, as_json=args.format == "json")
        if len(variants) > LARGE_GRID:
            plan = plan_grid(experiment, variants, len(load_spec_dataset(experiment, args.limit)))
            raise WorkbenchError(f"{args.experiment}: {plan.refusal('check the plan with --dry-run and cut an axis, or pass --yes to run them all')}")
    try:
        shown = _shows_progress(args.no_progress)
        result = wb.run(experiment, settings=cfg, limit=args.limit, progress=shown, fresh=args.fresh,
                        on_event=on_event, allow_large_grid=args.yes)
    except KeyboardInterrupt as exc:
        print(_interrupted_line(started=bool(started), fresh=args.fresh, unended=_unended_run(exc)), file=sys.stderr)
        return _interrupted_code(exc)
    out = sys.stderr if args.format == "json" else sys.stdout  # json: stdout holds the JSON alone, the lines go to the log
    if args.format == "json":
        print(json.dumps(_run_json(result, cfg.tracking_uri), indent=2))
    else:
        print()
        print(f"Experiment '{result.spec.name}': {counted(len(result.variants), 'variant')} on {counted(len(result.dataset), 'question')} "
              f"(parent run {result.parent_run_id})")
        board = result.leaderboard()
        _print_table(board, LEADERBOARD_COLUMNS)
        for line in _against_the_leader(result, board):
            print(printable(line))
    if not shown:  # with its progress shown, wb.run said them as it ended, in these words
        for line in result.ending_lines:  # its failed variants, then its notes (a router's quotes its models' first failed call)
            print(line, file=sys.stderr)
    for line in _missing_scores_lines(result):
        print(line, file=sys.stderr)
    print(file=out)
    for line in _racing_lines(result):
        print(line, file=out)
    print(_reuse_line(result), file=out)
    if result.spent_line is not None:
        print(result.spent_line, file=out)
    print(f"Tracking store: {shown_uri(cfg.tracking_uri)}", file=out)
    print(f"Open the runs in the MLflow UI:  {ui_hint(cfg.tracking_uri, given=args.tracking_uri is not None)}", file=out)
    return 1 if (result.failed and not args.allow_failures) else 0


def _run_json(result: SweepResult, tracking_uri: str) -> dict[str, Any]:
    """What ``run --format json`` prints: the experiment, the sweep's parent run id (what ``compare`` and ``gate``
    take), its store, and the leaderboard's rows (a metric no variant has is left out, no value is null)."""
    rows = json.loads(result.leaderboard().to_json(orient="records"))  # NaN and infinities become null
    return {"experiment": result.spec.name, "sweep": result.parent_run_id, "tracking_uri": shown_uri(tracking_uri),
            "questions": len(result.dataset), "variants": rows}


def _shows_progress(no_progress: bool) -> bool:
    """Progress bars go to stderr, and only to a terminal: in a pipe or a CI log each redraw would be one more line.
    A CI job's terminal is a log too (``docker run -t`` in a job's step gives the sweep a terminal that GitHub Actions
    and GitLab record, each carriage-return redraw a line of its own): with ``CI`` set, as CI services set it, the
    progress is plain lines."""
    in_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return not no_progress and sys.stderr.isatty() and not in_ci


class _PlainProgress:
    """Progress as whole lines, for a log that cannot redraw a bar (a pipe, a CI log): each index (started, built) and
    each variant computed; the variants reused from earlier runs in one line, however many (a pull request editing one
    prompt of a 400-variant grid printed 400 lines, each reused variant's reading FINISHED as if computed again); and
    in a long variant, its questions answered (or scored) so far, at most once every ``every_s`` seconds without a line
    (a CI log silent for minutes looks hung, and CircleCI ends a job after 10 silent minutes)."""

    def __init__(self, write: Callable[[str], None], *, clock: Callable[[], float] = time.monotonic, every_s: float = 60.0) -> None:
        self._write = write
        self._clock = clock
        self._every_s = every_s
        self._reused: list[Any] = []  # the variant_done events of reused variants not yet said
        self._last = clock()

    def __call__(self, event: Any) -> None:
        if event.kind == "variant_done" and event.result is not None and event.result.reused_from:
            self._reused.append(event)
            return
        if event.kind == "index_started":
            self._line(f"index {event.done + 1}/{event.total}: {event.message}")
        elif event.kind == "index_built":  # its chunks; opened, or after a corpus edit how many were embedded again
            self._line(f"  ready: {event.message}")
        elif event.kind == "variant_done" and event.result is not None:
            self._line(f"variant {event.done}/{event.total}: {event.result.status} {event.result.variant.name}")
        elif event.kind in ("question_done", "question_scored", "question_logged") and event.variant is not None:
            if self._clock() - self._last >= self._every_s:
                said = {"question_done": "questions answered", "question_scored": "questions scored", "question_logged": "traces logged to MLflow"}
                self._line(f"  {event.variant.name}: {event.done}/{event.total} {said[event.kind]}")
        elif event.kind == "sweep_done":
            self._say_reused()

    def _line(self, text: str) -> None:
        self._say_reused()
        self._write(printable(text))
        self._last = self._clock()

    def _say_reused(self) -> None:
        """One line for the reused variants not said yet: their count and range, or the one's name."""
        if not self._reused:
            return
        first, last, count = self._reused[0], self._reused[-1], len(self._reused)
        self._reused = []
        if count == 1:
            text = f"variant {last.done}/{last.total}: reused {last.result.variant.name}"
        else:
            text = f"variants {first.done}-{last.done}/{last.total}: {count} reused (finished runs of the same configuration)"
        self._write(printable(text))
        self._last = self._clock()


def _with_execution(path: str, *, workers: int | None, isolation: str | None) -> Any:
    """The experiment, with ``--workers``/``--isolation`` in place of its ``execution`` settings (the path when none)."""
    if workers is None and isolation is None:
        return path
    from workbench.spec import ExecutionSpec, load_experiment

    spec = load_experiment(path)
    given = {k: v for k, v in {"workers": workers, "isolation": isolation}.items() if v is not None}
    return spec.model_copy(update={"execution": ExecutionSpec.model_validate({**spec.execution.model_dump(), **given})})


def _interrupted_line(*, started: bool, fresh: bool, unended: str | None = None) -> str:
    if not started:
        return "stopped before the sweep started: nothing was logged"
    again = "run the same command again without --fresh" if fresh else "run the same command again"
    resume = f"{again} to resume it (finished variants are reused, cached answers are not recomputed)"
    if unended is not None:
        return (f"stopped: the tracking server did not take the sweep's end, so its parent run {unended} stays RUNNING (the next "
                f"sweep of this experiment from this machine ends it as KILLED); once the server answers, {resume}")
    return f"stopped: the sweep is logged as KILLED; {resume}"


def _unended_run(interrupt: KeyboardInterrupt) -> str | None:
    """The parent run a Ctrl+C left RUNNING (the tracking server held the sweep's end: ``wb.run``'s Raises), or None."""
    cause = interrupt.__cause__
    return cause.unended_run if isinstance(cause, TrackingUnavailable) else None
