"""The ``workbench`` command: a thin wrapper over the public API.

    workbench run experiments/quickstart.yaml     run a sweep, print the leaderboard (--fresh: recompute everything)
    workbench ui                                  MLflow UI on 127.0.0.1 over this project's store
    workbench server [--backend-store-uri URI]    a team MLflow server (e.g. on PostgreSQL) with served artifacts
    workbench list [EXPERIMENT]                   experiments, or the sweeps of one
    workbench schema                              write the experiment JSON schema
    workbench compare EXPERIMENT                  intervals and verdicts of the latest sweep's variants
    workbench gate EXPERIMENT --metric M --min X  exit 1 when a variant fails (for CI)
    workbench promote RUN_ID --name N --alias A   gate a variant run and point staging/production at it
    workbench export NAME --alias A --repo PATH   commit the alias's bundle to a deployment git repo
    workbench rollback NAME --alias production    point the alias back at its previous holder
    workbench calibrate RUN_ID --labels FILE      agreement and Cohen's kappa of a run's judge with human labels
    workbench cache info                          entries, size, hits and misses of the answer/embedding cache
    workbench cache clear [--older-than 30d]      empty the cache (or drop entries older than an age)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from workbench import _telemetry  # noqa: F401
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.results import SweepResult

Handler = Callable[[argparse.Namespace], int]

LEADERBOARD_COLUMNS = ("variant", "status", "questions", "hit_at_k", "recall_at_k", "mrr", "token_f1", "rouge_l",
                       "semantic_similarity", "refusal_correct", "latency_p50_s", "output_tokens", "cost_usd")


def _print_table(frame, columns: Sequence[str]) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    cols = [c for c in columns if c in frame.columns]
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.max_colwidth", 60, "display.float_format", "{:.3f}".format):
        print(frame[cols].to_string(index=False))


def _cmd_run(args: argparse.Namespace) -> int:
    import workbench as wb
    from workbench.config import settings

    cfg = settings(tracking_uri=args.tracking_uri)
    started: list[bool] = []

    def on_event(event: wb.ProgressEvent) -> None:
        if event.kind == "sweep_started":
            started.append(True)

    try:
        result = wb.run(args.experiment, settings=cfg, limit=args.limit, progress=not args.no_progress, fresh=args.fresh,
                        on_event=on_event)
    except KeyboardInterrupt:
        print(_interrupted_line(started=bool(started), fresh=args.fresh), file=sys.stderr)
        return 130
    print()
    print(f"Experiment '{result.spec.name}': {len(result.variants)} variants on {len(result.dataset)} questions "
          f"(parent run {result.parent_run_id})")
    _print_table(result.leaderboard(), LEADERBOARD_COLUMNS)
    for failed in result.failed:
        print(f"FAILED {failed.variant.name}: {failed.outcome.error}", file=sys.stderr)
    print()
    print(_reuse_line(result))
    print(f"Tracking store: {cfg.tracking_uri}")
    print("Open the runs in the MLflow UI:  workbench ui   (then browse http://127.0.0.1:5000)")
    return 1 if (result.failed and not args.allow_failures) else 0


def _interrupted_line(*, started: bool, fresh: bool) -> str:
    if not started:
        return "stopped before the sweep started: nothing was logged"
    again = "run the same command again without --fresh" if fresh else "run the same command again"
    return (f"stopped: the sweep is logged as KILLED; {again} to resume it "
            "(finished variants are reused, cached answers are not recomputed)")


def _reuse_line(result: SweepResult) -> str:
    """``reused 4 of 4 variants; 0 model calls, 80 answers from the cache`` (the sums of the variants' metrics)."""
    reused = sum(1 for v in result.variants if v.reused_from)
    line = f"reused {reused} of {len(result.variants)} variants"
    if any("generation_calls" in v.metrics for v in result.variants):
        calls = sum(v.metrics.get("generation_calls", 0.0) for v in result.variants)
        hits = sum(v.metrics.get("cache_hits", 0.0) for v in result.variants)
        line += f"; {calls:.0f} model calls, {hits:.0f} answers from the cache"
    return line


def _cmd_cache(args: argparse.Namespace) -> int:
    from workbench.cache import DiskCacheStore, parse_age
    from workbench.config import settings

    older_than = None
    if args.action == "clear" and args.older_than is not None:
        try:
            older_than = parse_age(args.older_than)
        except ValueError as exc:
            raise WorkbenchError(f"--older-than: {exc}") from None
    cfg = settings()
    if not cfg.cache_dir.is_dir():  # do not create a cache just to say it is empty
        print(f"cache {cfg.cache_dir}: empty (nothing cached yet)" if args.action == "info" else "removed 0 cache entries")
        return 0
    store = DiskCacheStore(cfg.cache_dir, size_limit_mb=cfg.cache_size_mb)
    try:
        if args.action == "info":
            print(store.info().summary())
            return 0
        removed = store.clear(older_than_s=older_than)
    finally:
        store.close()
    scope = f" older than {args.older_than}" if older_than is not None else ""
    print(f"removed {removed} cache entries{scope} from {cfg.cache_dir}")
    return 0


def _cmd_ui(args: argparse.Namespace) -> int:
    from workbench.config import settings

    cfg = settings(tracking_uri=args.tracking_uri)
    cfg.artifact_root.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", cfg.tracking_uri,
           "--default-artifact-root", cfg.artifact_root.as_uri(), "--host", args.host, "--port", str(args.port)]
    print(f"MLflow UI for {cfg.tracking_uri} on http://{args.host}:{args.port}  (Ctrl+C to stop)", flush=True)
    os.execv(sys.executable, cmd)
    return 0  # pragma: no cover - execv does not return


def _cmd_server(args: argparse.Namespace) -> int:
    import re
    import socket

    from workbench.config import settings

    cfg = settings()
    store = args.backend_store_uri or os.environ.get("MLFLOW_BACKEND_STORE_URI") or f"sqlite:///{cfg.root / 'mlruns' / 'mlflow.db'}"
    destination = args.artifacts_destination or str(cfg.artifact_root)
    if "://" not in destination:
        Path(destination).mkdir(parents=True, exist_ok=True)
    # what users set: a wildcard bind address is not an address they can reach, the machine's name is
    reachable = socket.getfqdn() if args.host in ("0.0.0.0", "::", "") else args.host
    extra = args.mlflow_args[1:] if args.mlflow_args[:1] == ["--"] else args.mlflow_args
    cmd = [sys.executable, "-m", "mlflow", "server", "--artifacts-destination", destination, "--serve-artifacts",
           "--host", args.host, "--port", str(args.port), *(["--workers", str(args.workers)] if args.workers else []), *extra]
    shown = re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", store)  # never print the store's password
    print(f"MLflow server on {shown}, artifacts in {destination}. Point sweeps and notebooks at it with:\n"
          f"  MLFLOW_TRACKING_URI=http://{reachable}:{args.port}", flush=True)
    # the store URI goes through the environment, so its password is not in the server's command line (ps)
    os.execve(sys.executable, cmd, {**os.environ, "MLFLOW_BACKEND_STORE_URI": store})
    return 0  # pragma: no cover - execve does not return


def _cmd_list(args: argparse.Namespace) -> int:
    from workbench.config import settings
    from workbench.tracking import experiment_sweeps, list_experiments

    uri = settings(tracking_uri=args.tracking_uri).tracking_uri
    if not args.experiment:
        for exp in list_experiments(tracking_uri=uri):
            print(f"{exp.name:30s} id={exp.experiment_id:>4s}  sweeps={exp.sweeps}")
        return 0
    for sweep in experiment_sweeps(args.experiment, tracking_uri=uri):
        print(f"{sweep.run.name}  run={sweep.run.run_id}  status={sweep.run.status}  variants={len(sweep.variants)}")
        for child in sweep.variants:
            m = child.metrics
            print(f"    {child.status:9s} {child.name:60s} token_f1={m.get('token_f1', float('nan')):.3f} "
                  f"hit_at_k={m.get('hit_at_k', float('nan')):.3f}")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from workbench.spec import experiment_json_schema

    text = json.dumps(experiment_json_schema(), indent=2) + "\n"
    if args.output == "-":
        print(text, end="")
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


def _comparison(args: argparse.Namespace, metrics: Sequence[str] | None):  # type: ignore[no-untyped-def]
    import workbench as wb
    from workbench.config import settings

    cfg = settings(tracking_uri=args.tracking_uri)
    return wb.compare(args.sweep or args.experiment, baseline=args.baseline, metrics=metrics, seed=args.seed,
                      n_resamples=args.resamples, tracking_uri=cfg.tracking_uri)


def _cmd_compare(args: argparse.Namespace) -> int:
    report = _comparison(args, args.metric)
    print(f"Experiment '{args.experiment}', sweep {report.parent_run_id or args.sweep}")
    print(report.summary())
    return 0


def _cmd_gate(args: argparse.Namespace) -> int:
    if args.min is None and args.max is None and args.baseline is None:
        raise WorkbenchError("gate needs --min, --max or --baseline — e.g. workbench gate EXPERIMENT --metric token_f1 --min 0.5")
    report = _comparison(args, args.metric)
    failures = report.gate(args.metric, minimum=args.min, maximum=args.max, no_worse=args.baseline is not None)
    for failure in failures:
        print(failure)
    checked = f"{len(report.variants)} variants of sweep {report.parent_run_id or args.sweep} on {', '.join(args.metric)}"
    if failures:
        print(f"gate failed: {len(failures)} failure(s) across {checked}", file=sys.stderr)
        return 1
    print(f"gate passed: {checked}")
    return 0


def _comparison_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("experiment", help="experiment name (its latest sweep is compared)")
    p.add_argument("--sweep", default=None, help="a sweep's parent run id, instead of the latest sweep")
    p.add_argument("--baseline", default=None, help="variant id, name or run id (a run of another sweep works too); default: the first variant")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")


def _gates_file(path: str | None) -> list[dict[str, object]] | None:
    """Gates from a YAML file: a list of gates, or a mapping with ``gates:`` (or ``promotion: gates:``)."""
    if path is None:
        return None
    import yaml

    file = Path(path)
    if not file.is_file():
        raise WorkbenchError(f"{path}: gates file not found")
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = (data.get("promotion") or data).get("gates")
    if not isinstance(data, list):
        raise WorkbenchError(f"{path}:1: expected a list of gates (or 'gates:' holding one), e.g. - {{kind: metric, metric: token_f1, min: 0.3}}")
    return data


def _cmd_promote(args: argparse.Namespace) -> int:
    from workbench.config import settings
    from workbench.promotion import GateFailed, promote

    try:
        done = promote(
            args.run_id, name=args.name, alias=args.alias, gates=_gates_file(args.gates), override_reason=args.reason,
            require_staging=False if args.no_require_staging else None, settings=settings(tracking_uri=args.tracking_uri),
        )
    except GateFailed as exc:
        print(exc.report.summary(), file=sys.stderr)
        print(f"blocked: {len(exc.report.failed)} gate(s) failed — fix them, or pass --reason '...' to override (recorded)", file=sys.stderr)
        return 1
    print(done)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from workbench.config import settings
    from workbench.promotion import export

    result = export(
        args.name, args.alias, repo=args.repo, bundle_dir=args.bundle_dir, branch=args.branch, allow_dirty=args.allow_dirty,
        checkout=args.checkout, settings=settings(tracking_uri=args.tracking_uri),
    )
    print(result)
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from workbench.config import settings
    from workbench.promotion import rollback

    print(rollback(args.name, alias=args.alias, reason=args.reason, settings=settings(tracking_uri=args.tracking_uri)))
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from workbench.config import settings
    from workbench.errors import DataError
    from workbench.tracking import calibrate_run, calibration_runs, run_kind

    uri = settings(tracking_uri=args.tracking_uri).tracking_uri
    is_sweep = run_kind(args.run_id, tracking_uri=uri) == "sweep"
    done = 0
    for run in calibration_runs(args.run_id, tracking_uri=uri):
        print(f"{run.name}  (run {run.run_id})")
        try:
            report = calibrate_run(run.run_id, args.labels, threshold=args.threshold, tracking_uri=uri)
        except DataError as exc:
            if not is_sweep:
                raise
            print(f"    skipped: {exc}")
            continue
        _print_table(report.to_frame(), ("metric", "n", "accuracy", "kappa", "judge_pass", "human_pass", "both_pass",
                                         "judge_only", "human_only", "both_fail", "missing", "stale"))
        print()
        done += 1
    print(f"threshold {args.threshold:g}: scores and labels at or above it count as a pass; kappa is NaN when judge and "
          "humans each gave a single verdict")
    return 0 if done else 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Compare prompts, models and RAG strategies, tracked in MLflow.")
    parser.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlruns/mlflow.db)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run an experiment's sweep and print the leaderboard")
    p.add_argument("experiment", help="experiment YAML file")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N questions")
    p.add_argument("--allow-failures", action="store_true", help="exit 0 even when variants failed")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--fresh", action="store_true",
                   help="recompute everything: reuse no finished variant and read no cached answer (new answers are still cached)")
    p.set_defaults(handler=_cmd_run)

    p = sub.add_parser("cache", help="the cache of model answers, judge replies and embeddings")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("info", help="entries, size, hits and misses per kind")
    clear = actions.add_parser("clear", help="remove every entry, or those older than --older-than")
    clear.add_argument("--older-than", default=None, metavar="AGE", help="only entries stored more than AGE ago: 30d, 12h, 90m, 45s, 2w")
    p.set_defaults(handler=_cmd_cache)

    p = sub.add_parser("ui", help="serve the MLflow UI over this project's store")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.set_defaults(handler=_cmd_ui)

    p = sub.add_parser("server", help="start a team MLflow tracking server with served artifacts (e.g. on PostgreSQL)")
    p.add_argument("--backend-store-uri", default=None,
                   help="where runs are kept, e.g. postgresql://user:password@host:5432/mlflow "
                        "(default: $MLFLOW_BACKEND_STORE_URI, else this project's sqlite store)")
    p.add_argument("--artifacts-destination", default=None,
                   help="where the server keeps artifacts: a folder or s3://... (default: this project's mlruns/artifacts)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (0.0.0.0: reachable from other machines)")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--workers", type=int, default=None, help="server worker processes (default: MLflow's, 4)")
    p.add_argument("mlflow_args", nargs=argparse.REMAINDER,
                   help="after --: more `mlflow server` options, e.g. -- --allowed-hosts mlflow.example.com:5000")
    p.set_defaults(handler=_cmd_server)

    p = sub.add_parser("list", help="list experiments, or the sweeps and variants of one")
    p.add_argument("experiment", nargs="?")
    p.set_defaults(handler=_cmd_list)

    p = sub.add_parser("compare", help="intervals and verdicts of a sweep's variants against a baseline")
    _comparison_arguments(p)
    p.add_argument("--metric", action="append", default=None, help="metric to compare (repeatable; default: all)")
    p.set_defaults(handler=_cmd_compare)

    p = sub.add_parser("gate", help="exit 1 when a variant is below --min, above --max or worse than --baseline")
    _comparison_arguments(p)
    p.add_argument("--metric", action="append", required=True, help="metric to check (repeatable)")
    p.add_argument("--min", type=float, default=None, help="every variant's mean must be at least this")
    p.add_argument("--max", type=float, default=None, help="every variant's mean must be at most this")
    p.set_defaults(handler=_cmd_gate)

    p = sub.add_parser("schema", help="write the experiment JSON schema")
    p.add_argument("-o", "--output", default="-")
    p.set_defaults(handler=_cmd_schema)

    p = sub.add_parser("promote", help="gate a variant run and point an environment alias at its configuration")
    p.add_argument("run_id", help="the MLflow run id of a variant (see workbench list EXPERIMENT)")
    p.add_argument("--name", required=True, help="registered model name, e.g. python-docs-assistant")
    p.add_argument("--alias", required=True, choices=("staging", "production"))
    p.add_argument("--reason", default=None, help="override failed gates, with this reason (recorded in the audit)")
    p.add_argument("--gates", default=None, help="YAML file of gates (default: the experiment's promotion.gates)")
    p.add_argument("--no-require-staging", action="store_true", help="allow production without a staging promotion first")
    p.set_defaults(handler=_cmd_promote)

    p = sub.add_parser("export", help="commit the bundle of NAME@ALIAS to a new branch of a deployment git repository")
    p.add_argument("name", help="registered model name")
    p.add_argument("--alias", required=True, choices=("staging", "production"))
    p.add_argument("--repo", required=True, help="path of the deployment git repository")
    p.add_argument("--bundle-dir", default=None, help="folder of the bundle in the repository (default NAME/ALIAS)")
    p.add_argument("--branch", default=None, help="branch to create (default promote/NAME-ALIAS-vN)")
    p.add_argument("--allow-dirty", action="store_true", help="export even if the repository has uncommitted changes")
    p.add_argument("--checkout", action="store_true", help="switch the repository to the new branch afterwards")
    p.set_defaults(handler=_cmd_export)

    p = sub.add_parser("rollback", help="point an alias back at the version that held it before")
    p.add_argument("name", help="registered model name")
    p.add_argument("--alias", default="production", choices=("staging", "production"))
    p.add_argument("--reason", default=None, help="why (recorded)")
    p.set_defaults(handler=_cmd_rollback)

    p = sub.add_parser("calibrate", help="agreement and Cohen's kappa between a run's judge scores and human labels")
    p.add_argument("run_id", help="a variant run id, or a sweep run id (every variant is calibrated)")
    p.add_argument("--labels", required=True, help="labels file (.csv or .jsonl with case_id, metric, label[, answer])")
    p.add_argument("--threshold", type=float, default=0.5, help="scores and labels at or above it count as a pass")
    p.set_defaults(handler=_cmd_calibrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
