"""The ``workbench`` command: a thin wrapper over the public API.

    workbench run experiments/quickstart.yaml     run a sweep, print the leaderboard and its comparison (--fresh: recompute everything)
    workbench ui                                  MLflow UI on 127.0.0.1 over this project's store
    workbench server [--backend-store-uri URI]    a team MLflow server (e.g. on PostgreSQL) with served artifacts
    workbench list [EXPERIMENT]                   experiments, or the newest sweeps of one (--last N, --all)
    workbench schema                              write the experiment JSON schema
    workbench compare EXPERIMENT                  intervals and verdicts of the latest sweep's variants
    workbench gate EXPERIMENT --metric M --min X  exit 1 when a variant fails (for CI)
    workbench promote RUN_ID --name N --alias A   gate a variant run and point staging/production at it
    workbench export NAME --alias A --repo PATH   commit the alias's bundle to a deployment git repo
    workbench rollback NAME --alias production    point the alias back at its previous holder
    workbench calibrate RUN_ID --labels FILE      agreement and Cohen's kappa of a run's judge with human labels
    workbench cache info                          entries, size, hits and misses of the answer/embedding cache; indexes
    workbench cache clear [--older-than 30d]      empty the cache (or drop entries unused for an age)
    workbench cache clear --indexes [--older-than 30d]   remove the local indexes (or those built longer ago), and
                                                         those on the Chroma server WORKBENCH_CHROMA_URL names
    workbench cache clear --sandboxes [--older-than 30d] remove the sandbox folders kept of variants that did not finish
"""

from __future__ import annotations

import argparse
import difflib
import errno
import gc
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import workbench._telemetry  # noqa: F401
from workbench.cli._failures import _failure_line, _interrupted_code
from workbench.cli._inputs import _GATE_EXAMPLE, _input_file, _missing_sqlite_store, _store
from workbench.cli._output import (
    _counted,
    _one_line,
    _print_table,
    _printable,
    _redact,
    _restore_output_streams,
    _stdout_closed,
    _to_devnull,
    _usable_output_streams,
)
from workbench.cli._parser import (
    _finite_float,
    _given_or_default,
    _given_uri,
    _non_negative_int,
    _not_blank,
    _OpensNoStore,
    _Parser,
    _pass_threshold,
    _positive_int,
    _usage_line,
    _UsageError,
    _whole_number,
    _workers,
)
from workbench.config import LARGE_GRID
from workbench.errors import WorkbenchError, shortened
from workbench.tracking import TrackingUnavailable, check_store, shown_uri

if TYPE_CHECKING:
    from workbench.comparison import ComparisonReport
    from workbench.config import Settings
    from workbench.grid import VariantPlan
    from workbench.pipeline import ChromaIndexStore, ChromaServerIndexStore, QuestionRecord
    from workbench.results import SweepResult
    from workbench.spec import ExperimentSpec, GateSpec
    from workbench.tracking import LoggedRun


Handler = Callable[[argparse.Namespace], int]


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
                print(_printable(event.message), file=sys.stderr, flush=True)
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
        result = wb.run(experiment, settings=cfg, limit=args.limit, progress=_shows_progress(args.no_progress), fresh=args.fresh,
                        on_event=on_event, allow_large_grid=args.yes)
    except KeyboardInterrupt as exc:
        print(_interrupted_line(started=bool(started), fresh=args.fresh, unended=_unended_run(exc)), file=sys.stderr)
        return _interrupted_code(exc)
    out = sys.stderr if args.format == "json" else sys.stdout  # json: stdout holds the JSON alone, the lines go to the log
    if args.format == "json":
        print(json.dumps(_run_json(result, cfg.tracking_uri), indent=2))
    else:
        print()
        print(f"Experiment '{result.spec.name}': {_counted(len(result.variants), 'variant')} on {_counted(len(result.dataset), 'question')} "
              f"(parent run {result.parent_run_id})")
        board = result.leaderboard()
        _print_table(board, LEADERBOARD_COLUMNS)
        for line in _against_the_leader(result, board):
            print(_printable(line))
    for failed in result.failed:
        print(f"FAILED {failed.variant.name}: {shortened(_redact(_one_line(failed.outcome.error or '')))}", file=sys.stderr)
    for line in _missing_scores_lines(result):
        print(line, file=sys.stderr)
    for line in result.notes:  # a router's note quotes its models' first failed call
        print(_printable(line), file=sys.stderr)
    print(file=out)
    for line in _racing_lines(result):
        print(line, file=out)
    print(_reuse_line(result), file=out)
    if result.spent_line is not None:
        print(result.spent_line, file=out)
    print(f"Tracking store: {shown_uri(cfg.tracking_uri)}", file=out)
    print(f"Open the runs in the MLflow UI:  {_ui_hint(cfg.tracking_uri, given=args.tracking_uri is not None)}", file=out)
    return 1 if (result.failed and not args.allow_failures) else 0


def _missing_scores_lines(result: SweepResult) -> list[str]:
    """One line per finished variant whose questions, or whose judge calls, failed: how many, the first error, and
    what to do (``_retry_advice``)."""
    lines = []
    for v in result.variants:
        if v.status != "FINISHED":
            continue
        if v.question_errors:
            first = next(r.error for r in v.records if r.error) or ""
            lines.append(f"{v.variant.name}: {v.question_errors} of {len(v.records)} questions failed (first: {_quoted(first)}) "
                         f"— their scores are missing; {_retry_advice(first)}")
        if v.metrics.get("judge_call_errors"):  # the judge's errors are in its scores, of the calls that failed
            first = next((s.error for r in v.records for s in r.scores.values() if s.judge and s.judge.call_errors and s.error), "")
            quoted = f" (first: {_quoted(first)})" if first else ""
            lines.append(f"{v.variant.name}: {int(v.metrics['judge_call_errors'])} judge calls failed{quoted} — those scores are "
                         f"missing; {_retry_advice(first)}")
    return lines


def _quoted(error: str) -> str:
    """The first line of a model's or a judge's error, redacted and cut to fit the line (pure but for the redaction)."""
    return shortened(_redact(_printable(next(iter(error.strip().splitlines()), ""))), 200)


# a failure a re-run meets again, and what mends it: the server refused the API key, the key's access or the model for
# good (401, 403, 404, as workbench.models words them), or said the account's quota or credit is used up
_REPEATED_FAILURES = (
    (re.compile(r"refused the API key"), "check the API key"),
    (re.compile(r"refused access to '"), "check that the API key may use the model"),
    (re.compile(r"knows no model '"), "check the model name and the server's address"),
    (re.compile(r"insufficient_quota|billing_hard_limit_reached|billing_not_active"), "top up the account's quota or credit"),
)


# the fix a refusal's error ends with, before what a later call (or the judge's scorer) adds after it: "(not sent: the
# server refused an earlier call the same way)", "(all 3 repeats failed)", "; the judge said: ''"
_OWN_FIX = re.compile(r" — (check [^;(]*?)\s*(?:\(not sent: |\(all \d+ repeats failed\)|; the judge said: |$)")


def _retry_advice(first_error: str) -> str:
    """What to do about scores a sweep left missing, by their first error (pure): run again, which retries only them;
    but first fix the cause of an error a re-run repeats (a refused key, an unknown model, no quota left, a prompt
    longer than the model's context window), in the error's own words when it ends with them (``— check ...``)."""
    from workbench.models import CONTEXT_ADVICE

    found = [fix for pattern, fix in _REPEATED_FAILURES if pattern.search(first_error)]
    found += [CONTEXT_ADVICE] if CONTEXT_ADVICE in first_error else []
    if not found:
        return "run again to retry only them"
    own = _OWN_FIX.search(next(iter(first_error.strip().splitlines()), ""))
    fix = own.group(1) if own and len(own.group(1)) <= 200 else found[0]
    return f"a re-run fails them the same way: {_printable(_redact(fix))}, then run again to retry only them"


def _against_the_leader(result: SweepResult, board: Any) -> list[str]:
    """The leaderboard's ranking metric compared against its leader, question by question: whether the variants
    behind it are detectably behind or only by the luck of the questions (a leaderboard's means alone cannot say).
    Nothing when fewer than two variants are ranked or the leader is not a complete, scored run."""
    import pandas as pd

    import workbench as wb
    from workbench.results import ranking_metric

    metric = ranking_metric(board.columns)
    ranked = board if metric is None else board[board[metric].notna()]
    if metric is None or len(ranked) < 2:
        return []
    leader = ranked.iloc[0]
    if leader["status"] != "FINISHED" or pd.notna(leader["stopped_early"]) or leader["question_errors"]:
        return []
    whole = f"workbench compare {result.parent_run_id}" if result.parent_run_id else "wb.compare(result)"
    try:
        ordered = [result.variant(i) for i in board["variant_id"]]  # the leaderboard's order
        report = wb.compare(ordered, baseline=leader["variant_id"], metrics=[metric])
    except WorkbenchError as exc:  # derived output: the sweep is logged either way
        return ["", f"{metric} could not be compared against the leader: {_one_line(str(exc))}"]
    return ["", f"{metric} against the leader, question by question (every metric: {whole}):", *report.summary().splitlines()]


def _run_json(result: SweepResult, tracking_uri: str) -> dict[str, Any]:
    """What ``run --format json`` prints: the experiment, the sweep's parent run id (what ``compare`` and ``gate``
    take), its store, and the leaderboard's rows (a metric no variant has is left out, no value is null)."""
    rows = json.loads(result.leaderboard().to_json(orient="records"))  # NaN and infinities become null
    return {"experiment": result.spec.name, "sweep": result.parent_run_id, "tracking_uri": shown_uri(tracking_uri),
            "questions": len(result.dataset), "variants": rows}


_PLAN_NAMES = 50  # variants --dry-run lists


def _print_plan(spec: ExperimentSpec, cfg: Settings, *, limit: int | None, fresh: bool, as_json: bool) -> int:
    """``workbench run --dry-run``: the plan, and what the sweep would do with each of the first variants (reuse a run,
    answers in the cache, model calls and their cost) and in all; the store and the caches are read, nothing is run,
    logged or made. The dataset and corpus are read, so what would refuse them refuses the dry run too."""
    import workbench as wb
    from workbench.grid import CHARS_PER_TOKEN

    plan = wb.plan_sweep(spec, settings=cfg, limit=limit, fresh=fresh)
    if as_json:
        print(json.dumps({"experiment": spec.name, "dry_run": True, "tracking_uri": shown_uri(cfg.tracking_uri), **plan.as_dict()}, indent=2))
        return 0
    print(_printable(f"Experiment '{spec.name}': {plan.grid.summary()}"))
    for line in _plan_lines(plan.variants):
        print(_printable(line))
    print(_printable(plan.summary()))
    over = [v for v in plan.variants if v.budgets_passed and v.calls]
    if over:
        passed = " and ".join(sorted({budget for v in over for budget in v.budgets_passed}))
        print(f"{_counted(len(over), 'variant')} would pass {passed} and stop FAILED — raise the limit, or lower max_tokens or the "
              "questions (--limit)")
    at_risk = [v for v in plan.variants if v.budgets_at_risk and v.calls]
    if at_risk:
        risked = " and ".join(sorted({budget for v in at_risk for budget in v.budgets_at_risk}))
        print(f"{_counted(len(at_risk), 'router')} could pass {risked} and stop FAILED if {'it escalates' if len(at_risk) == 1 else 'they escalate'} "
              "many questions (the estimate prices the strong model on every one)")
    beyond = [v for v in plan.variants if v.budget_beyond_judge]
    if beyond:
        print(f"{_counted(len(beyond), 'variant')} would spend more than limits.max_cost_usd (${spec.limits.max_cost_usd:g}) with the judge's "
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
        print(_printable(note))
    print(f"Tracking store: {shown_uri(cfg.tracking_uri)}")
    print("Dry run: nothing was run or logged.")
    return 0


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


def _ui_hint(uri: str, *, given: bool) -> str:
    """How to open the store ``uri`` in the MLflow UI (``given``: it came from --tracking-uri, which ``ui`` needs too)."""
    if uri.startswith(("http://", "https://")):  # a tracking server is its own UI
        return f"browse {shown_uri(uri)}"
    option = f"--tracking-uri {shown_uri(uri)} " if given else ""
    return f"workbench {option}ui   (then browse http://127.0.0.1:5000)"


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
        self._write(_printable(text))
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
        self._write(_printable(text))
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


def _racing_lines(result: SweepResult) -> list[str]:
    """One line per variant a racing sweep stopped early, and how many questions racing saved (none: not racing), or
    why racing could stop nothing (fewer questions than ``min_questions``, or than an interval at its confidence needs,
    or a ``batch`` so large that the last decision comes before enough questions, or a sweep of one variant), or that a
    sweep that only retrieves was not raced."""
    from workbench.comparison import fewest_questions

    stopped = [v for v in result.variants if v.stopped_early is not None]
    race = result.spec.execution.racing
    if race is not None and result.variants and not any(v.variant.generates for v in result.variants):
        return ["racing raced nothing: this sweep only retrieves, and it retrieves every question before any variant is "
                "scored, so stopping a variant would save nothing — leave execution.racing out"]
    if race is not None and len(result.variants) < 2:
        return ["racing could stop no variant: the sweep has one variant, and racing stops a variant only against a better "
                "one — add variants to race, or leave execution.racing out"]
    if not stopped and race is not None and len(result.dataset) < race.min_questions:
        return [f"racing could stop no variant: min_questions is {race.min_questions} and only {len(result.dataset)} questions "
                "were evaluated — lower execution.racing.min_questions, or evaluate more questions"]
    needed = fewest_questions(race.confidence) if race is not None else 0
    if not stopped and race is not None and len(result.dataset) < needed:  # an interval on fewer is only their range
        return [f"racing could stop no variant: at {race.confidence:g} confidence it needs {needed} paired questions to stop one "
                f"(min_questions is {race.min_questions}) and only {len(result.dataset)} questions were evaluated — evaluate more "
                "questions, or lower execution.racing.confidence"]
    last_look = (len(result.dataset) - 1) // race.batch * race.batch if race is not None else 0  # nothing is decided after the last batch
    if not stopped and race is not None and last_look == 0:
        return [f"racing could stop no variant: batch is {race.batch} and only {len(result.dataset)} questions were evaluated, so "
                "every variant answered them in one batch, after which nothing is decided — lower execution.racing.batch"]
    if not stopped and race is not None and last_look < max(race.min_questions, needed):
        return [f"racing could stop no variant: it decides after each batch but the last, and with batch {race.batch} over "
                f"{len(result.dataset)} questions its last decision came after {last_look} questions, fewer than the "
                f"{max(race.min_questions, needed)} it needs to stop one — lower execution.racing.batch"]
    scored = max((sum(1 for r in v.records if _scored(r, race.metric)) for v in result.variants), default=0) if race else 0
    if not stopped and race is not None and scored < race.min_questions:  # e.g. refusal_correct scores a few questions only
        return [f"racing could stop no variant: min_questions is {race.min_questions} and at most {scored} of the "
                f"{len(result.dataset)} questions have a {race.metric} score — lower execution.racing.min_questions, "
                "race on a metric that scores more of them, or evaluate more questions"]
    if not stopped:
        return []
    skipped = sum(len(result.dataset) - len(v.records) for v in stopped)
    lines = [f"stopped early {v.variant.name}: {v.stopped_early.label}" for v in stopped if v.stopped_early is not None]
    lines.append(f"racing stopped {len(stopped)} of {len(result.variants)} variants; {skipped} questions not asked "
                 "(run without racing to finish them: only their missing questions are computed)")
    return lines


def _scored(record: QuestionRecord, metric: str) -> bool:
    score = record.scores.get(metric)
    return score is not None and score.value is not None


def _reuse_line(result: SweepResult) -> str:
    """``reused 4 of 4 variants; 0 model calls, 80 answers from the cache`` (the sums of the variants' metrics; "1 model
    call", "1 answer" in the singular)."""
    reused = sum(1 for v in result.variants if v.reused_from)
    line = f"reused {reused} of {len(result.variants)} variants"
    if any("generation_calls" in v.metrics for v in result.variants):
        calls = round(sum(v.metrics.get("generation_calls", 0.0) for v in result.variants))
        hits = round(sum(v.metrics.get("cache_hits", 0.0) for v in result.variants))
        line += f"; {_counted(calls, 'model call')}, {_counted(hits, 'answer')} from the cache"
    return line


def _cmd_cache(args: argparse.Namespace) -> int:
    from workbench.cache import DiskCacheStore, parse_age
    from workbench.config import settings
    from workbench.sandbox import kept_sandboxes, remove_sandboxes

    older_than = None
    if args.action == "clear" and args.older_than is not None:
        try:
            older_than = parse_age(args.older_than)
        except ValueError as exc:
            raise WorkbenchError(f"--older-than: {exc}") from None
    cfg = settings()
    scope = f" older than {args.older_than}" if older_than is not None else ""
    if args.action == "clear" and args.sandboxes:
        removed_dirs = remove_sandboxes(cfg.sandbox_dir, older_than)
        print(f"removed {removed_dirs} sandbox folders{scope} from {cfg.sandbox_dir}")
        return 0
    if args.action == "clear" and args.indexes:
        indexes = _indexes(cfg.index_dir)
        removed = indexes.remove(older_than) if indexes is not None else []
        print(f"removed {len(removed)} indexes{scope} from {cfg.index_dir} (a sweep that needs one builds it again)")
        server = _server_indexes()
        if server is not None:
            print(f"removed {len(server.remove(older_than))} indexes{scope} from the Chroma server {server.url} "
                  "(a sweep that needs one builds it again)")
        return 0
    if not cfg.cache_dir.exists():  # do not create a cache just to say it is empty
        print(f"cache {cfg.cache_dir}: empty (nothing cached yet)" if args.action == "info" else "removed 0 cache entries")
    else:
        store = DiskCacheStore(cfg.cache_dir, size_limit_mb=cfg.cache_size_mb)
        try:
            if args.action == "clear":
                unused = f" unused for {args.older_than}" if older_than is not None else ""
                print(f"removed {store.clear(older_than_s=older_than)} cache entries{unused} from {cfg.cache_dir}")
                return 0
            print(store.info().summary())
        finally:
            store.close()
    indexes = _indexes(cfg.index_dir) if args.action == "info" else None  # do not create an index store either
    if indexes is not None:
        found = indexes.indexes()
        age = f", the oldest built {_age(found[0].built_at)}" if found else ""
        damaged = sum(1 for i in found if i.chunks is None)
        age += f", {damaged} of them damaged (a sweep that needs one builds it again)" if damaged else ""
        print(f"indexes {cfg.index_dir}: {len(found)} indexes, {_mib([cfg.index_dir]):.1f} MiB on disk{age}"
              " (workbench cache clear --indexes [--older-than AGE] removes them)")
    server = _server_indexes() if args.action == "info" else None
    if server is not None:
        found = server.indexes()
        age = f", the oldest built {_age(found[0].built_at)}" if found else ""
        print(f"indexes on the Chroma server {server.url} (WORKBENCH_CHROMA_URL): {len(found)} indexes{age}"
              " (workbench cache clear --indexes [--older-than AGE] removes them)")
    kept = kept_sandboxes(cfg.sandbox_dir) if args.action == "info" else []
    if kept:
        print(f"sandboxes {cfg.sandbox_dir}: {len(kept)} folders kept of variants that did not finish, {_mib(kept):.1f} MiB"
              " (workbench cache clear --sandboxes [--older-than AGE] removes them)")
    return 0


def _server_indexes() -> ChromaServerIndexStore | None:
    """The Chroma server ``WORKBENCH_CHROMA_URL`` names, where this project's sweeps keep their indexes: ``cache info``
    and ``cache clear --indexes`` said nothing of it, and a clear that "removed 0 indexes" left every one on it."""
    from workbench.pipeline import ChromaServerIndexStore
    from workbench.pipeline.stores import CHROMA_URL_ENV

    url = os.environ.get(CHROMA_URL_ENV, "").strip()
    return ChromaServerIndexStore(url) if url else None


def _indexes(path: Path) -> ChromaIndexStore | None:
    from workbench.pipeline import ChromaIndexStore

    return ChromaIndexStore.existing(path)


def _mib(folders: Sequence[Path]) -> float:
    """The size of the files in ``folders``, in MiB."""
    return sum(f.stat().st_size for d in folders for f in d.rglob("*") if f.is_file()) / 2**20


def _age(built_at: float | None) -> str:
    """``3 days ago`` (``by an older workbench`` when unknown)."""
    if built_at is None:
        return "by an older workbench"
    days = (time.time() - built_at) / 86400
    return f"{days:.0f} days ago" if days >= 1 else f"{days * 24:.0f} hours ago"


def _cmd_ui(args: argparse.Namespace) -> int:
    from workbench.config import settings

    cfg = settings(tracking_uri=args.tracking_uri)
    if cfg.tracking_uri.startswith(("http://", "https://")):  # `mlflow ui` cannot read a server: it ended in a traceback
        raise WorkbenchError(f"{shown_uri(cfg.tracking_uri)} is a tracking server, which is its own UI — browse it; "
                             "workbench ui serves a store on disk or in a database (--tracking-uri sqlite:///...)")
    _check_port(args.host, args.port)
    cfg.artifact_root.mkdir(parents=True, exist_ok=True)
    print(f"MLflow UI for {shown_uri(cfg.tracking_uri)} on http://{args.host}:{args.port}  (Ctrl+C to stop)", flush=True)
    _exec_mlflow(["ui", "--default-artifact-root", cfg.artifact_root.as_uri(), "--host", args.host, "--port", str(args.port)],
                 store=cfg.tracking_uri, jobs=False)
    return 0  # pragma: no cover - execve does not return


def _cmd_server(args: argparse.Namespace) -> int:
    import socket

    from workbench.config import settings

    cfg = settings()
    store = _server_store(args.backend_store_uri, args.tracking_uri) or f"sqlite:///{cfg.root / 'mlruns' / 'mlflow.db'}"
    check_store(store, must_exist=False)  # a refused login: one line now, not MLflow's 2 minutes of retries and a traceback
    _check_port(args.host, args.port)
    # beside the server's sqlite store, where sweeps logged straight into that file keep theirs; not from the environment
    destination = args.artifacts_destination or str(settings(tracking_uri=store).artifact_root)
    if "://" not in destination:
        Path(destination).mkdir(parents=True, exist_ok=True)
    # what users set: a wildcard bind address is not an address they can reach, the machine's name is
    wildcard = args.host in ("0.0.0.0", "::", "")
    reachable = _machine_name(socket.getfqdn(), socket.gethostname()) if wildcard else args.host
    extra = args.mlflow_args[1:] if args.mlflow_args[:1] == ["--"] else args.mlflow_args
    options = ["server", "--artifacts-destination", destination, "--serve-artifacts", "--host", args.host, "--port", str(args.port),
               *(["--workers", str(args.workers)] if args.workers else []), *extra]
    if wildcard and "--allowed-hosts" not in extra and not os.environ.get("MLFLOW_SERVER_ALLOWED_HOSTS"):
        # MLflow answers only requests addressed to localhost or a private IP by default ("Invalid Host header"): the
        # name printed below must be one it answers
        from mlflow.server.security_utils import get_default_allowed_hosts

        options += ["--allowed-hosts", ",".join([*get_default_allowed_hosts(), reachable, f"{reachable}:{args.port}"])]
    shown = shown_uri(store)  # never print the store's password
    print(f"MLflow server on {shown}, artifacts in {destination}. Point sweeps and notebooks at it with:\n"
          f"  MLFLOW_TRACKING_URI=http://{reachable}:{args.port}", flush=True)
    _exec_mlflow(options, store=store)
    return 0  # pragma: no cover - execve does not return


def _check_port(host: str, port: int) -> None:
    """The address ``ui`` and ``server`` are to listen on must be free: MLflow printed "Address already in use" among its
    startup lines and exited 0, after workbench had printed the address, where another server (an earlier UI) answered.

    Raises:
        WorkbenchError: ``host`` is no address of this machine, or ``port`` is taken there.
    """
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn, which serves both, binds
    with socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free to it
        try:
            probe.bind((host, port))
        except socket.gaierror as exc:
            raise WorkbenchError(f"--host {host}: not an address of this machine ({exc.strerror}) — give one of its "
                                 "addresses, 127.0.0.1, or 0.0.0.0 for every one") from None
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:  # EADDRNOTAVAIL: another machine's address; EACCES: a port below 1024
                raise WorkbenchError(f"--host {host} --port {port}: cannot listen there ({exc.strerror}) — give an address of "
                                     "this machine (127.0.0.1, or 0.0.0.0 for every one) and a port from 1024") from None
            raise WorkbenchError(f"--port {port}: {host}:{port} is in use (an MLflow UI or server already running?) — stop it, "
                                 "or pass another --port") from None


def _server_store(backend_store_uri: str | None, tracking_uri: str | None) -> str | None:
    """The store ``workbench server`` keeps its runs in: ``--backend-store-uri``, else ``--tracking-uri`` (the store
    ``ui`` would serve; $MLFLOW_TRACKING_URI is not read, on a server machine it is often the server's own address),
    else $MLFLOW_BACKEND_STORE_URI; None for the project's sqlite store.

    Raises:
        WorkbenchError: both options name different stores, or ``--tracking-uri`` is a tracking server's address.
    """
    given = (tracking_uri or "").strip()  # it was ignored: the server created and served the project's own store
    if given and backend_store_uri and given != backend_store_uri:
        raise WorkbenchError(f"--tracking-uri {shown_uri(given)} and --backend-store-uri {shown_uri(backend_store_uri)} name two "
                             "stores — give the server's store once, with --backend-store-uri")
    if given.startswith(("http://", "https://")) and not backend_store_uri:
        raise WorkbenchError(f"--tracking-uri {shown_uri(given)} is a tracking server, not a store another server can keep its "
                             "runs in — give a database with --backend-store-uri, e.g. postgresql://user@host:5432/mlflow or "
                             "sqlite:///mlflow.db")
    return backend_store_uri or given or os.environ.get("MLFLOW_BACKEND_STORE_URI")


def _machine_name(fqdn: str, hostname: str) -> str:
    """The name other machines reach this one by: its fully qualified name, or its host name where the fully
    qualified one is only a loopback name (``/etc/hosts`` maps the host name to 127.0.0.1 on many machines)."""
    loopback = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
    return hostname if fqdn in loopback or fqdn.startswith("localhost.") else fqdn


def _exec_mlflow(options: list[str], *, store: str, jobs: bool = True) -> None:
    """Become ``python -m mlflow OPTIONS`` over the tracking store ``store``.

    The store URI goes through the environment (``mlflow ui`` and ``mlflow server`` read MLFLOW_BACKEND_STORE_URI), so
    its password is not in the process's command line, where ``ps`` shows it to every user of the machine.
    ``jobs=False``: without MLflow's job runner, unless MLFLOW_SERVER_ENABLE_JOB_EXECUTION says otherwise. It runs
    the jobs MLflow's UI launches (scorers, prompt optimisation) in 8 more processes, 1.3 GB and 25 s of CPU at start
    on 2 cores: a UI to compare runs does without them.
    """
    env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": store}
    if not jobs:
        env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    os.execve(sys.executable, [sys.executable, "-m", "mlflow", *options], env)


def _cmd_list(args: argparse.Namespace) -> int:
    from workbench.comparison import padded
    from workbench.config import settings
    from workbench.tracking import experiment_sweeps, list_experiments

    uri = settings(tracking_uri=args.tracking_uri).tracking_uri
    if not args.experiment and _missing_sqlite_store(uri):  # a fresh project: nothing to list, and no store is created
        print(f"no experiments yet: {shown_uri(uri)} does not exist — run a sweep first: workbench run EXPERIMENT.yaml")
        return 0
    uri = _store(args, must_exist=True)
    if not args.experiment:
        for exp in list_experiments(tracking_uri=uri):  # names are the store's: anyone can rename a run in the MLflow UI
            print(f"{padded(_printable(exp.name), 30)} id={exp.experiment_id:>4s}  sweeps={exp.sweeps}")
        return 0
    # the newest sweeps, and one more to tell whether older ones are left out (hundreds of sweeps, thousands of runs
    # in a long-lived experiment: all of them read and printed to show the last few)
    fetched = experiment_sweeps(args.experiment, last=None if args.all else args.last + 1, tracking_uri=uri)
    older = not args.all and len(fetched) > args.last
    sweeps = fetched[: args.last] if older else fetched
    if not sweeps:  # an experiment made in MLflow by hand, or whose sweep runs were deleted
        print(f"experiment '{args.experiment}' has no sweeps yet — run one: workbench run EXPERIMENT.yaml")
    for at, sweep in enumerate(sweeps):
        planned = sweep.run.params.get("variants", "")  # a sweep interrupted, crashed or running logged fewer
        count = f"{len(sweep.variants)} of {planned}" if planned.isdigit() and int(planned) != len(sweep.variants) else len(sweep.variants)
        # what it spent on model calls, when it did (logged by sweeps since they keep their totals, and only when every
        # price is known)
        spent = "".join(f"  {k}=${sweep.run.metrics[k]:.4g}" for k in ("spent_usd", "judge_spent_usd") if sweep.run.metrics.get(k))
        by = f"  by={sweep.run.user}" if sweep.run.user else ""  # on a team's server: whose sweep it is
        changed = _inputs_changed(sweep.run, fetched[at + 1].run) if at + 1 < len(fetched) else ""
        print(_printable(f"{sweep.run.name}  run={sweep.run.run_id}  status={sweep.run.status}  variants={count}{spent}{by}{changed}"))
        for child in sweep.variants:
            shown = " ".join(f"{k}={child.metrics[k]:.3f}" for k in ("token_f1", "hit_at_k") if k in child.metrics)
            # its means rest on fewer questions than the others'; a reused one's results come from an earlier run
            if child.stopped_early is not None:
                shown += f"  (stopped early after {child.stopped_early.questions} questions)"
            if child.reused_from:
                shown += f"  (reused from run {child.reused_from})"
            # the run id is what promote and calibrate take; a retrieval-only variant has no token_f1
            print(_printable(f"    {child.status:9s} run={child.run_id}  {padded(_printable(child.name), 60)} {shown}".rstrip()))
    if older:
        shown = "this one" if args.last == 1 else f"these {args.last}"
        print(f"older sweeps not shown (--last N shows more than {shown}, --all every one)")
    return 0


def _inputs_changed(sweep: LoggedRun, before: LoggedRun) -> str:
    """What ``workbench list`` adds to a sweep that ran on other questions or documents than the sweep before it
    (pure): listed one above the other, their means read as one series, and a mean that moved because questions were
    added, a reference fixed or a document edited looked like a change of the variants. Nothing for a sweep logged
    without the hashes."""
    said = ""
    for name, count, unit in (("dataset", "dataset.cases", "questions"), ("corpus", "corpus.documents", "documents")):
        now, then = getattr(sweep, f"{name}_hash"), getattr(before, f"{name}_hash")
        if now and then and now != then:
            said += f"  {name} changed ({sweep.params.get(count, '?')} {unit})"
    return said


def _cmd_schema(args: argparse.Namespace) -> int:
    from workbench.spec import experiment_json_schema

    text = json.dumps(experiment_json_schema(), indent=2) + "\n"
    if args.output == "-":
        print(text, end="")
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


def _comparison(args: argparse.Namespace, metrics: Sequence[str] | None) -> tuple[ComparisonReport, str]:
    """The comparison of ``compare`` and ``gate``, and the store it read."""
    import workbench as wb

    uri = _store(args, must_exist=True)
    if args.sweep is not None:
        _check_sweep(args.experiment, args.sweep, uri)
    report = wb.compare(args.sweep or args.experiment, baseline=args.baseline, metrics=metrics, seed=args.seed,
                        n_resamples=args.resamples, tracking_uri=uri)
    return report, uri


def _check_sweep(experiment: str, sweep: str, uri: str) -> None:
    """``--sweep`` must be a sweep of EXPERIMENT: another experiment's sweep would be checked under EXPERIMENT's name."""
    from workbench.tracking import find_run

    run = find_run(sweep, tracking_uri=uri)
    if run is None:
        raise WorkbenchError(f"--sweep: no run '{sweep}' in {uri} — give a sweep's run id (see 'workbench list {experiment}')")
    if run.kind != "sweep":
        raise WorkbenchError(f"--sweep: run {sweep} ('{run.name}') is not a sweep — give a sweep's parent run id "
                             f"(see 'workbench list {experiment}')")
    owner = _experiment_name(run.experiment_id, uri)
    if owner != experiment:
        raise WorkbenchError(f"--sweep: sweep {sweep} belongs to experiment '{owner}', not '{experiment}' — give a sweep of "
                             f"'{experiment}' (see 'workbench list {experiment}'), or compare '{owner}'")


def _experiment_name(experiment_id: str, uri: str) -> str:
    from mlflow import MlflowClient

    return str(MlflowClient(uri).get_experiment(experiment_id).name)


def _runs(report: ComparisonReport) -> str:
    """``run <id>`` or ``runs <id>, <id>``: what a comparison of variant runs (no sweep) read."""
    ids = [t.run_id or t.name for t in report.variants]
    return f"run{'s' if len(ids) > 1 else ''} {', '.join(ids)}"


def _compared_sweep(args: argparse.Namespace, report: ComparisonReport, uri: str) -> LoggedRun | None:
    """The sweep ``compare``/``gate`` read, or None for variant runs. When EXPERIMENT stood for its latest sweep and a
    teammate ran that one, say so on stderr: on a shared store the latest sweep is whoever's ran last, and a CI job's
    gate passed on another user's sweep of another configuration without a word."""
    from workbench.tracking import default_user, find_run

    sweep = find_run(report.parent_run_id, tracking_uri=uri) if report.parent_run_id else None
    if sweep is None or args.sweep is not None or args.experiment == sweep.run_id:  # no sweep, or the one named
        return sweep
    me = default_user()
    if sweep.user and sweep.user != me:
        print(_printable(f"note: the latest sweep of '{args.experiment}' ({sweep.run_id}) was run by {sweep.user}, not you "
                         f"({me}) — pass --sweep RUN_ID to {args.command} yours (workbench list {args.experiment})"), file=sys.stderr)
    return sweep


def _read_json(sweep: LoggedRun | None, report: ComparisonReport, uri: str) -> dict[str, Any]:
    """What ``compare --format json`` and ``gate --format json`` read: the experiment, sweep and its user, or the runs."""
    if sweep is None:
        return {"experiment": None, "sweep": None, "user": None, "runs": [t.run_id for t in report.variants]}
    return {"experiment": _experiment_name(sweep.experiment_id, uri), "sweep": sweep.run_id, "user": sweep.user}


def _markdown_code(text: str) -> str:
    """``text`` as a markdown code span: an experiment's or user's name shown as written, never rendered as markdown."""
    return "`" + " ".join(text.replace("`", "'").split()) + "`"


def _by(sweep: LoggedRun) -> str:
    return f" by {sweep.user}" if sweep.user else ""


def _cmd_compare(args: argparse.Namespace) -> int:
    report, uri = _comparison(args, args.metric)
    sweep = _compared_sweep(args, report, uri)
    # EXPERIMENT may be the sweep's run id: name the experiment it belongs to (renamable in the UI)
    experiment = _experiment_name(sweep.experiment_id, uri) if sweep is not None else None
    if args.format == "json":  # for scripts: the sweep's comparison.json, with what was compared
        print(json.dumps({**_read_json(sweep, report, uri), **report.to_dict(), "notes": report.notes()}, indent=2))
        return 0
    if args.format == "markdown":  # for a pull request: tables; names (renamable, or a teammate's) shown as written
        by = f" by {_markdown_code(sweep.user)}" if sweep is not None and sweep.user else ""
        heading = (f"Comparing {_runs(report)} (no sweep)" if sweep is None
                   else f"Experiment {_markdown_code(experiment or '')}, sweep {sweep.run_id}{by}")
        print(_printable(f"### {heading}\n\n{report.to_markdown()}"), end="")
        return 0
    if sweep is None:
        print(f"Comparing {_runs(report)} (no sweep)")
    else:
        print(_printable(f"Experiment '{experiment}', sweep {sweep.run_id}{_by(sweep)}"))
    print(_printable(report.summary()))  # a skipped variant's error is a provider's text
    return 0


def _cmd_gate(args: argparse.Namespace) -> int:
    if args.min is None and args.max is None and args.baseline is None:
        raise WorkbenchError("gate needs --min, --max or --baseline — e.g. workbench gate EXPERIMENT --metric token_f1 --min 0.5")
    if args.min is not None and args.max is not None and args.min > args.max:
        raise WorkbenchError(f"--min {args.min:g} is above --max {args.max:g}: no variant could pass — swap them, or drop one")
    metrics = list(dict.fromkeys(args.metric))  # `--metric token_f1 --metric $METRIC` checks token_f1 once
    report, uri = _comparison(args, metrics)
    sweep = _compared_sweep(args, report, uri)
    failures = report.gate(metrics, minimum=args.min, maximum=args.max, no_worse=args.baseline is not None)
    # a FAILED variant, or one the sweep never logged, fails the gate: it is one of the variants checked
    total = sum(1 for v in report.variants if not v.outside) + sum(s.count for s in report.skipped)  # a baseline run of another sweep is not one
    if args.format == "json":  # for scripts: the same verdict and exit code, each failure as data
        print(json.dumps({"passed": not failures, **_read_json(sweep, report, uri), "metrics": metrics, "minimum": args.min, "maximum": args.max,
                          "baseline": report.baseline if args.baseline is not None else None, "variants": total,
                          "failures": [{"variant": f.variant, "metric": f.metric or None, "message": f.message} for f in failures]},
                         indent=2))
        return 1 if failures else 0
    for failure in failures:  # it names the variant by its run's name, which the MLflow UI can rename
        print(_printable(str(failure)))
    scope = _printable(f"sweep {sweep.run_id}{_by(sweep)}") if sweep is not None else _runs(report)
    checked = f"{total} variants of {scope} on {', '.join(metrics)}"
    if failures:
        print(f"gate failed: {len(failures)} failure(s) across {checked}", file=sys.stderr)
        return 1
    print(f"gate passed: {checked}")
    return 0


_EXIT_CODES = ("exit codes, for scripts: 0 done; 1 a variant failed (run) or a gate failed (gate, promote); "
              "2 a usage or input error or an unusable tracking store (one 'error:' line on stderr); 3 a bug in workbench "
              "('error: internal error'); "
              "130 interrupted (Ctrl+C); 143 terminated (SIGTERM: kill, timeout, a cancelled CI job); 141 the reader of the "
              "output went away (| head)")


_LIST_LAST = 20  # sweeps `workbench list EXPERIMENT` shows unless told


_BASELINE = "variant id, name or run id (a run of another sweep works too)"


_BASELINE_MORE = ("; what is in production: models:/NAME@ALIAS (or models:/NAME/VERSION); a name shortened as the report "
                  "shows it works too")


def _comparison_arguments(p: argparse.ArgumentParser, *, baseline_help: str = f"{_BASELINE}; default: the first variant{_BASELINE_MORE}") -> None:
    p.add_argument("experiment", help="experiment name (its latest sweep is compared), or a sweep's parent run id")
    p.add_argument("--sweep", default=None, type=str.strip, help="a sweep's parent run id, instead of the latest sweep")
    p.add_argument("--baseline", default=None, type=str.strip, help=baseline_help)
    p.add_argument("--seed", type=_non_negative_int, default=None,
                   help="bootstrap seed (default: the sweep's seed, which its comparison.json used)")
    p.add_argument("--resamples", type=_positive_int, default=2000, help="bootstrap resamples (default 2000)")


def _gates_file(path: str | None) -> tuple[GateSpec, ...] | None:
    """Gates from a YAML file: a list of gates, or a mapping with ``gates:`` (an experiment file's ``promotion:`` works).

    Raises:
        WorkbenchError: ``file:line: field: what is wrong — what to do`` for a missing, empty, binary or non-YAML file
            and for a gate with a wrong kind, field or value.
    """
    if path is None:
        return None
    import yaml

    from workbench.spec import check_yaml_shape, read_yaml

    text = _input_file(path, "gates")
    try:
        node, data = read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise WorkbenchError(f"{path}:{mark.line + 1 if mark else 1}: not valid YAML ({getattr(exc, 'problem', exc)}) — fix the "
                             f"syntax, {_GATE_EXAMPLE}") from None
    if node is not None:
        check_yaml_shape(node, path)  # a gate's `min:` given twice kept the last one
    where = ""
    for key in ("promotion", "gates"):
        if isinstance(data, dict) and key in data:
            node = next(v for k, v in node.value if getattr(k, "value", None) == key)
            data, where = data[key], f"{where}.{key}" if where else key
    if not isinstance(data, list) or not data:
        line = node.start_mark.line + 1 if node is not None else 1
        raise WorkbenchError(f"{path}:{line}: {where or 'gates'}: expected a non-empty list of gates — {_GATE_EXAMPLE}")
    return tuple(_gate(item, item_node, path, f"{where or 'gates'}[{i}]") for i, (item, item_node) in enumerate(zip(data, node.value)))


def _gate(item: object, node: Any, path: str, where: str) -> GateSpec:
    """One gate of a gates file, validated by its kind; errors name the line of the offending field."""
    import yaml
    from pydantic import ValidationError

    from workbench.spec import BeatsHolderGate, MaxCostGate, MaxFailedRateGate, MetricGate, MinQuestionsGate, not_a_number, out_of_range

    kinds: dict[str, Any] = {
        cls.model_fields["kind"].default: cls for cls in (MetricGate, MinQuestionsGate, MaxCostGate, MaxFailedRateGate, BeatsHolderGate)
    }

    def line_of(field: object) -> int:
        if isinstance(node, yaml.MappingNode):
            for key, _ in node.value:
                if getattr(key, "value", None) == field:
                    return int(key.start_mark.line) + 1
        return int(node.start_mark.line) + 1

    if not isinstance(item, dict):
        raise WorkbenchError(f"{path}:{line_of(None)}: {where}: expected a mapping with 'kind', got {item!r} — {_GATE_EXAMPLE}")
    kind = item.get("kind")
    if kind not in kinds:
        problem = "'kind' is missing" if kind is None else f"kind {kind!r} is not a gate kind"
        raise WorkbenchError(f"{path}:{line_of('kind')}: {where}.kind: {problem} — use one of: {', '.join(kinds)}")
    cls = kinds[str(kind)]
    takes = ", ".join(f for f in cls.model_fields if f != "kind")
    try:
        return cls.model_validate(item)
    except ValidationError as exc:
        # a misspelt field (max_usd for usd) is both unknown and a required one missing: the misspelling is the cause
        err = next((e for e in exc.errors() if e["type"] == "extra_forbidden"), exc.errors()[0])
        field = err["loc"][0] if err["loc"] else None
        msg = {"missing": "required field is missing", "extra_forbidden": "unknown field"}.get(err["type"], err["msg"].removeprefix("Value error, "))
        meant = difflib.get_close_matches(str(field), [f for f in cls.model_fields if f not in item], n=1, cutoff=0.5)
        if err["type"] == "extra_forbidden" and meant:
            msg = f"unknown field — did you mean '{meant[0]}'?"
        elif err["type"] in ("float_parsing", "int_parsing") and isinstance(err.get("input"), str):  # min: high, rate: 5%
            msg = not_a_number(err["input"], whole=err["type"] == "int_parsing")
        else:
            msg = out_of_range(err) or msg
        shown = f"{where}.{field}" if field is not None else where
        raise WorkbenchError(f"{path}:{line_of(field)}: {shown}: {msg} — a {kind} gate takes {takes}") from None


def _cmd_promote(args: argparse.Namespace) -> int:
    from workbench.config import settings
    from workbench.promotion import GateFailed, promote

    gates = _gates_file(args.gates)
    uri = _store(args, must_exist=True)
    try:
        done = promote(
            args.run_id, name=args.name, alias=args.alias, gates=gates, override_reason=args.reason,
            require_staging=False if args.no_require_staging else None, settings=settings(tracking_uri=uri),
        )
    except GateFailed as exc:
        print(_printable(exc.report.summary()), file=sys.stderr)
        print(f"blocked: {len(exc.report.failed)} gate(s) failed — fix them, or pass --reason '...' to override (recorded)", file=sys.stderr)
        return 1
    print(done)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from workbench.config import settings
    from workbench.promotion import export

    uri = _store(args, must_exist=True)
    result = export(
        args.name, args.alias, repo=args.repo, bundle_dir=args.bundle_dir, branch=args.branch, allow_dirty=args.allow_dirty,
        checkout=args.checkout, settings=settings(tracking_uri=uri),
    )
    print(result)
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from workbench.config import settings
    from workbench.promotion import rollback

    uri = _store(args, must_exist=True)
    print(rollback(args.name, alias=args.alias, reason=args.reason, settings=settings(tracking_uri=uri)))
    return 0


def _cmd_end(args: argparse.Namespace) -> int:
    from workbench.tracking import MlflowTracker, default_user

    if not args.reason.strip():
        raise WorkbenchError("--reason is empty — say why the sweep is ended (it is recorded on the run)")
    uri = _store(args, must_exist=True)
    ended = MlflowTracker(uri).end_by_hand(args.run_id, args.reason.strip(), user=default_user())
    variants = len(ended) - 1
    print(_printable(f"ended sweep {args.run_id} KILLED" + (f" and {variants} variant run(s) it left running" if variants else "")
                     + f": {args.reason.strip()} — run the experiment again to finish its work"))
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from workbench.errors import DataError
    from workbench.scoring import load_labels
    from workbench.tracking import calibrate_run, calibration_runs, run_kind

    _input_file(args.labels, "labels")
    labels = load_labels(args.labels)
    uri = _store(args, must_exist=True)
    is_sweep = run_kind(args.run_id, tracking_uri=uri) == "sweep"
    outcomes = []  # every run is read before anything is printed: an error is the only line
    for run in calibration_runs(args.run_id, tracking_uri=uri):
        try:
            outcomes.append((run, calibrate_run(run.run_id, labels, threshold=args.threshold, tracking_uri=uri), ""))
        except WorkbenchError as exc:  # DataError: labels that do not fit this variant; else it failed before any table
            if not is_sweep:
                raise
            if run.status == "FAILED" and not isinstance(exc, DataError):
                why = next(iter((run.error or "").strip().splitlines()), "") or str(exc)
                outcomes.append((run, None, f"the variant FAILED, so it has no judge scores ({shortened(_redact(why), 200)})"))
            else:
                outcomes.append((run, None, str(exc)))
    if not any(report is not None for _, report, _ in outcomes):
        first = next((why for _, _, why in outcomes), "it has no variants")
        # the first reason ends with what to do: label the metrics the judge scored, or the run's case ids
        raise WorkbenchError(f"sweep '{args.run_id}': no variant could be calibrated against {args.labels} (first: {first})")
    for run, report, skipped in outcomes:
        print(_printable(f"{run.name}  (run {run.run_id})"))  # a run name is the store's: anyone can rename it in the UI
        if report is None:
            print(_printable(f"    skipped: {skipped}"))
            continue
        _print_table(report.to_frame(), ("metric", "n", "accuracy", "kappa", "judge_pass", "human_pass", "both_pass",
                                         "judge_only", "human_only", "both_fail", "missing", "stale"))
        print()
    # kappa is 0, not NaN, when only one side gave a single verdict (the judge passed everything, the humans did not)
    print(f"threshold {args.threshold:g}: scores and labels at or above it count as a pass; kappa is NaN when judge and "
          "humans gave one and the same verdict throughout")
    return 0


def _version_line() -> str:
    """``workbench 0.1.0 (mlflow 3.17.2, langchain-core 1.7.2, Python 3.11.7)``: what a CI log records of the tools that
    made its runs, read from the installed packages' metadata (importing MLflow would take seconds)."""
    from importlib.metadata import PackageNotFoundError, version

    import workbench

    def installed(name: str) -> str:
        try:
            return f"{name} {version(name)}"
        except PackageNotFoundError:
            return f"{name} not installed"

    return f"workbench {workbench.__version__} ({installed('mlflow')}, {installed('langchain-core')}, Python {sys.version.split()[0]})"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="workbench", description="Compare prompts, models and RAG strategies, tracked in MLflow.", epilog=_EXIT_CODES)
    store_help = "MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlruns/mlflow.db)"
    parser.add_argument("--tracking-uri", type=_given_uri, default=None, help=store_help)
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error (it is one line without)")
    parser.add_argument("--version", action="version", version=_version_line(), help="print the versions of workbench, MLflow and Python")
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="print the traceback of an error")
    common.add_argument("--tracking-uri", type=_given_uri, default=argparse.SUPPRESS, help=store_help)
    storeless = _Parser(add_help=False)  # commands that open no MLflow store: a --tracking-uri given them is a mistake
    storeless.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="print the traceback of an error")
    storeless.add_argument("--tracking-uri", action=_OpensNoStore, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    served = _Parser(add_help=False)  # the server's store: $MLFLOW_TRACKING_URI is not read (see _server_store)
    served.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="print the traceback of an error")
    served.add_argument("--tracking-uri", type=_given_uri, default=argparse.SUPPRESS,
                        help="the store to serve, as --backend-store-uri takes it ($MLFLOW_TRACKING_URI is not read: on a "
                             "server machine it is often the server's own address)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("run", epilog=_EXIT_CODES, parents=[common], help="run an experiment's sweep and print the leaderboard")
    p.add_argument("experiment", help="experiment YAML file")
    p.add_argument("--limit", type=_positive_int, default=None, help="evaluate only the first N questions")
    p.add_argument("--allow-failures", action="store_true", help="exit 0 even when variants failed")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (there are none when stderr is not a terminal)")
    p.add_argument("--fresh", action="store_true",
                   help="recompute everything: reuse no finished variant and read no cached answer (new answers are still cached)")
    p.add_argument("--workers", type=_workers, default=None,
                   help="variants run at once, and hosted calls in flight per provider (default: the experiment's execution.workers)")
    p.add_argument("--isolation", choices=("process", "none"), default=None,
                   help="process: each variant in a worker process (default); none: in this process, for debugging")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan: each variant reused (from which run) or computed (answers already cached, model calls, "
                        "estimated cost), the indexes to build, the totals; reads the store and the caches, runs and writes nothing")
    p.add_argument("--yes", action="store_true", help=f"run a grid of more than {LARGE_GRID:,} variants (refused without it)")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text (default); json: the sweep's run id and the leaderboard's rows on stdout, for scripts "
                        "(the other lines go to stderr; the exit code is the same); with --dry-run, the plan")
    p.set_defaults(handler=_cmd_run)

    p = sub.add_parser("cache", parents=[storeless], help="the cache of model answers, judge replies and embeddings")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("info", parents=[storeless], help="entries, size, hits and misses per kind")
    clear = actions.add_parser("clear", parents=[storeless], help="remove every entry, or those unused for longer than --older-than")
    clear.add_argument("--older-than", default=None, metavar="AGE", help="only entries neither stored nor read in the last AGE (30d, 12h, 90m, 45s, 2w); "
                       "with --indexes or --sandboxes, those made more than AGE ago")
    which = clear.add_mutually_exclusive_group()
    which.add_argument("--indexes", action="store_true",
                       help="remove the local indexes (.workbench/indexes), and those on the Chroma server WORKBENCH_CHROMA_URL names, "
                            "instead, all or those built more than --older-than ago; "
                            "not while a sweep runs")
    which.add_argument("--sandboxes", action="store_true",
                       help="remove the sandbox folders (.workbench/sandboxes) kept of variants that did not finish instead, "
                            "all or those made more than --older-than ago; not while a sweep runs")
    p.set_defaults(handler=_cmd_cache)

    p = sub.add_parser("ui", parents=[common], help="serve the MLflow UI over this project's store")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_whole_number(1, 65535), default=5000)
    p.set_defaults(handler=_cmd_ui)

    p = sub.add_parser("server", parents=[served], help="start a team MLflow tracking server with served artifacts (e.g. on PostgreSQL)")
    p.add_argument("--backend-store-uri", type=_given_uri, default=None,
                   help="where runs are kept, e.g. postgresql://user:password@host:5432/mlflow "
                        "(default: --tracking-uri, else $MLFLOW_BACKEND_STORE_URI, else this project's sqlite store)")
    p.add_argument("--artifacts-destination", default=None,
                   help="where the server keeps artifacts: a folder or s3://... (default: artifacts/ beside a sqlite store, else this project's mlruns/artifacts)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (0.0.0.0: reachable from other machines)")
    p.add_argument("--port", type=_whole_number(1, 65535), default=5000)
    p.add_argument("--workers", type=_positive_int, default=None, help="server worker processes (default: MLflow's, 4)")
    p.add_argument("mlflow_args", nargs=argparse.REMAINDER,
                   help="after --: more `mlflow server` options, e.g. -- --allowed-hosts mlflow.example.com:5000")
    p.set_defaults(handler=_cmd_server)

    p = sub.add_parser("list", parents=[common], help="list experiments, or the sweeps and variants of one")
    p.add_argument("experiment", nargs="?")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--last", type=_whole_number(1), default=_LIST_LAST, metavar="N",
                       help=f"the newest N sweeps of EXPERIMENT (default {_LIST_LAST})")
    shown.add_argument("--all", action="store_true", help="every sweep of EXPERIMENT")
    p.set_defaults(handler=_cmd_list)

    p = sub.add_parser("compare", parents=[common], help="intervals and verdicts of a sweep's variants against a baseline")
    _comparison_arguments(p)
    p.add_argument("--metric", action="append", default=None, help="metric to compare (repeatable; default: all)")
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                   help="text (default); markdown: tables for a pull request; json: the comparison.json rows, for scripts")
    p.set_defaults(handler=_cmd_compare)

    p = sub.add_parser("gate", epilog=_EXIT_CODES, parents=[common], help="exit 1 when a variant is below --min, above --max or worse than --baseline, "
                                                  "or FAILED, never logged, or has questions that failed, or was stopped early by racing")
    _comparison_arguments(p, baseline_help=f"fail the variants worse than this one by a paired interval: {_BASELINE}; default: none{_BASELINE_MORE}")
    p.add_argument("--metric", action="append", required=True, help="metric to check (repeatable)")
    p.add_argument("--min", type=_finite_float, default=None, help="every variant's mean must be at least this")
    p.add_argument("--max", type=_finite_float, default=None, help="every variant's mean must be at most this")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text (default); json: passed, what was checked and each failure, for scripts (the exit code is the same)")
    p.set_defaults(handler=_cmd_gate)

    p = sub.add_parser("schema", parents=[storeless], help="write the experiment JSON schema")
    p.add_argument("-o", "--output", default="-")
    p.set_defaults(handler=_cmd_schema)

    p = sub.add_parser("promote", epilog=_EXIT_CODES, parents=[common], help="gate a variant run and point an environment alias at its configuration")
    p.add_argument("run_id", type=str.strip, help="the MLflow run id of a variant (see workbench list EXPERIMENT)")
    p.add_argument("--name", required=True, help="registered model name, e.g. python-docs-assistant")
    p.add_argument("--alias", required=True, choices=("staging", "production"))
    p.add_argument("--reason", default=None, help="override failed gates, with this reason (recorded in the audit)")
    p.add_argument("--gates", default=None, help="YAML file of gates (default: the experiment's promotion.gates)")
    p.add_argument("--no-require-staging", action="store_true", help="allow production without a staging promotion first")
    p.set_defaults(handler=_cmd_promote)

    p = sub.add_parser("export", epilog=_EXIT_CODES, parents=[common], help="commit the bundle of NAME@ALIAS to a new branch of a deployment git repository")
    p.add_argument("name", help="registered model name")
    p.add_argument("--alias", required=True, choices=("staging", "production"))
    p.add_argument("--repo", required=True, type=_not_blank("give the path of the deployment git repository"), help="path of the deployment git repository")
    p.add_argument("--bundle-dir", type=_given_or_default, default=None, help="folder of the bundle in the repository (default NAME/ALIAS)")
    p.add_argument("--branch", type=_given_or_default, default=None, help="branch to create (default promote/NAME-ALIAS-vN)")
    p.add_argument("--allow-dirty", action="store_true", help="export even if the repository has uncommitted changes")
    p.add_argument("--checkout", action="store_true", help="switch the repository to the new branch afterwards")
    p.set_defaults(handler=_cmd_export)

    p = sub.add_parser("end", parents=[common], help="end as KILLED a sweep left RUNNING by a process on another machine or "
                       "in another container (a removed CI runner); a sweep of this machine whose process is gone is ended "
                       "by the next sweep")
    p.add_argument("run_id", type=str.strip, help="the sweep's run id (see workbench list EXPERIMENT)")
    p.add_argument("--reason", required=True, help="why, recorded on the run (e.g. 'CI runner removed')")
    p.set_defaults(handler=_cmd_end)

    p = sub.add_parser("rollback", parents=[common], help="point an alias back at the version that held it before")
    p.add_argument("name", help="registered model name")
    p.add_argument("--alias", default="production", choices=("staging", "production"))
    p.add_argument("--reason", default=None, help="why (recorded)")
    p.set_defaults(handler=_cmd_rollback)

    p = sub.add_parser("calibrate", parents=[common], help="agreement and Cohen's kappa between a run's judge scores and human labels")
    p.add_argument("run_id", type=str.strip, help="a variant run id, or a sweep run id (every variant is calibrated)")
    p.add_argument("--labels", required=True, help="labels file (.csv or .jsonl with case_id, metric, label[, answer])")
    p.add_argument("--threshold", type=_pass_threshold, default=0.5, help="scores and labels at or above it count as a pass")
    p.set_defaults(handler=_cmd_calibrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``workbench`` command; every error is one line on stderr (a traceback too with ``--debug``).

    Returns:
        0 on success; 1 when the command's check failed (a failed variant, a failed gate); 2 for a user error (bad
        input, unknown name, refused promotion, unusable tracking store); 3 on a bug in workbench; 130 when interrupted
        (Ctrl+C), 143 when a sweep was terminated (SIGTERM), 141 when the reader of stdout went away.
    """
    found = _usable_output_streams()
    try:
        return _main(argv)
    finally:
        _restore_output_streams(found)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(words)
    except _UsageError as exc:
        print(f"error: {_redact(_usage_line(parser, words, exc))}", file=sys.stderr)
        return 2
    handler: Handler = args.handler
    try:
        code = handler(args)
        sys.stdout.flush()  # output to a pipe is buffered: a reader that went away shows here, not at exit
        return code
    except BrokenPipeError:
        return _stdout_closed()
    except KeyboardInterrupt as exc:
        print("interrupted", file=sys.stderr)
        return _interrupted_code(exc)
    except Exception as exc:  # noqa: BLE001 - the one place where an error becomes the command's last line
        from workbench.config import settings

        code, line = _failure_line(exc, shown_uri(settings(tracking_uri=args.tracking_uri).tracking_uri))
        if args.debug:  # redacted like the line: the exception's text is the same (a key echoed by a server)
            import traceback

            print(_printable(_redact(traceback.format_exc())), end="", file=sys.stderr)
        print(f"error: {line}", file=sys.stderr)
        return code


def console() -> NoReturn:
    """The ``workbench`` command: ``main`` on the process's arguments, then its exit code.

    The interpreter's last garbage collection is skipped (``gc.freeze``): it walks every object MLflow, Chroma, pandas
    and torch made, 2-3 seconds after the command's output was done; the process's memory goes back to the system
    anyway, and CPython never promised to run the finalisers of objects alive at exit, so nothing may rely on them.
    """
    code = main()
    gc.freeze()
    sys.exit(code)
