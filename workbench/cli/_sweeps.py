"""The sweeps a tracking store holds: ``workbench list`` them, ``compare`` and ``gate`` their variants, ``end`` one left
running.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench.cli._inputs import _experiment_argument, _missing_sqlite_store, _store
from workbench.results import printable
from workbench.errors import WorkbenchError
from workbench.metrics import METADATA_PREFIX, dataset_column_problem
from workbench.tracking import shown_uri

if TYPE_CHECKING:
    from workbench.comparison import ComparisonReport
    from workbench.tracking import LoggedRun


def _cmd_list(args: argparse.Namespace) -> int:
    from workbench.comparison import padded
    from workbench.config import settings
    from workbench.tracking import experiment_sweeps, list_experiments

    uri = settings(tracking_uri=args.tracking_uri).tracking_uri
    if not args.experiment and _missing_sqlite_store(uri):  # a fresh project: nothing to list, and no store is created
        print(f"no experiments yet: {shown_uri(uri)} does not exist — run a sweep first: workbench run EXPERIMENT.yaml")
        return 0
    uri = _store(args, must_exist=True)
    args = _experiment_argument(args, uri)
    if not args.experiment:
        for exp in list_experiments(tracking_uri=uri):  # names are the store's: anyone can rename a run in the MLflow UI
            print(f"{padded(printable(exp.name), 30)} id={exp.experiment_id:>4s}  sweeps={exp.sweeps}")
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
        print(printable(f"{sweep.run.name}  run={sweep.run.run_id}  status={sweep.run.status}  variants={count}{spent}{by}{changed}"))
        for child in sweep.variants:
            shown = " ".join(f"{k}={child.metrics[k]:.3f}" for k in ("token_f1", "hit_at_k") if k in child.metrics)
            # its means rest on fewer questions than the others'; a reused one's results come from an earlier run
            if child.stopped_early is not None:
                shown += f"  (stopped early after {child.stopped_early.questions} questions)"
            if child.reused_from:
                shown += f"  (reused from run {child.reused_from})"
            # the run id is what promote and calibrate take; a retrieval-only variant has no token_f1
            print(printable(f"    {child.status:9s} run={child.run_id}  {padded(printable(child.name), 60)} {shown}".rstrip()))
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


def _refuse_dataset_columns(args: argparse.Namespace, action: str) -> None:
    """``--metric metadata.year``: a dataset's column, not a metric. The library's refusal shows Python code to slice
    the questions with, which the command line cannot run; said here with what the command line can do instead."""
    for metric in args.metric or ():
        column = dataset_column_problem(metric)
        if column is not None:
            raise WorkbenchError(f"--metric {metric}: {column} — give a metric the runs log ('workbench compare {args.experiment}' "
                                 f"lists them); to {action} only the questions of one {metric.removeprefix(METADATA_PREFIX)}, "
                                 "run the experiment on a dataset of those questions")


def _cmd_compare(args: argparse.Namespace) -> int:
    _refuse_dataset_columns(args, "compare")
    uri = _store(args, must_exist=True)
    args = _experiment_argument(args, uri)
    report = _comparison(args, args.metric, uri)
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
        print(printable(f"### {heading}\n\n{report.to_markdown()}"), end="")
        return 0
    if sweep is None:
        print(f"Comparing {_runs(report)} (no sweep)")
    else:
        print(printable(f"Experiment '{experiment}', sweep {sweep.run_id}{_by(sweep)}"))
    print(printable(report.summary()))  # a skipped variant's error is a provider's text
    return 0


def _cmd_gate(args: argparse.Namespace) -> int:
    if args.min is None and args.max is None and args.baseline is None:
        raise WorkbenchError("gate needs --min, --max or --baseline — e.g. workbench gate EXPERIMENT --metric token_f1 --min 0.5")
    if args.min is not None and args.max is not None and args.min > args.max:
        raise WorkbenchError(f"--min {args.min:g} is above --max {args.max:g}: no variant could pass — swap them, or drop one")
    _refuse_dataset_columns(args, "check")
    metrics = list(dict.fromkeys(args.metric))  # `--metric token_f1 --metric $METRIC` checks token_f1 once
    uri = _store(args, must_exist=True)
    args = _experiment_argument(args, uri)
    report = _comparison(args, metrics, uri)
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
        print(printable(str(failure)))
    scope = printable(f"sweep {sweep.run_id}{_by(sweep)}") if sweep is not None else _runs(report)
    checked = f"{total} variants of {scope} on {', '.join(metrics)}"
    if failures:
        print(f"gate failed: {len(failures)} failure(s) across {checked}", file=sys.stderr)
        return 1
    print(f"gate passed: {checked}")
    return 0


def _comparison(args: argparse.Namespace, metrics: Sequence[str] | None, uri: str) -> ComparisonReport:
    """The comparison of ``compare`` and ``gate``, read from the store ``uri``."""
    import workbench as wb

    if args.sweep is not None:
        _check_sweep(args.experiment, args.sweep, uri)
    report = wb.compare(args.sweep or args.experiment, baseline=args.baseline, metrics=metrics, seed=args.seed,
                        n_resamples=args.resamples, tracking_uri=uri)
    return report


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
        print(printable(f"note: the latest sweep of '{args.experiment}' ({sweep.run_id}) was run by {sweep.user}, not you "
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


def _cmd_end(args: argparse.Namespace) -> int:
    from workbench.tracking import MlflowTracker, default_user

    if not args.reason.strip():
        raise WorkbenchError("--reason is empty — say why the sweep is ended (it is recorded on the run)")
    uri = _store(args, must_exist=True)
    ended = MlflowTracker(uri).end_by_hand(args.run_id, args.reason.strip(), user=default_user())
    variants = len(ended) - 1
    print(printable(f"ended sweep {args.run_id} KILLED" + (f" and {variants} variant run(s) it left running" if variants else "")
                     + f": {args.reason.strip()} — run the experiment again to finish its work"))
    return 0
