"""Every command's arguments and the handler it runs: ``build_parser``, the table of contents of the command line."""

from __future__ import annotations

import argparse
import sys

from workbench.cli._cache import _cmd_cache
from workbench.cli._calibrate import _cmd_calibrate
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
    _whole_number,
    _workers,
)
from workbench.cli._promote import _cmd_export, _cmd_promote, _cmd_rollback
from workbench.cli._run import _cmd_run
from workbench.cli._schema import _cmd_schema
from workbench.cli._servers import _cmd_server, _cmd_ui
from workbench.cli._sweeps import _cmd_compare, _cmd_end, _cmd_gate, _cmd_list
from workbench.config import LARGE_GRID

_EXIT_CODES = ("exit codes, for scripts: 0 done; 1 a variant failed (run) or a gate failed (gate, promote); "
              "2 a usage or input error or an unusable tracking store (one 'error:' line on stderr); 3 a bug in workbench "
              "('error: internal error'); "
              "130 interrupted (Ctrl+C); 143 terminated (SIGTERM: kill, timeout, a cancelled CI job); 141 the reader of the "
              "output went away (| head)")
_LIST_LAST = 20  # sweeps `workbench list EXPERIMENT` shows unless told
_BASELINE = "variant id, name or run id (a run of another sweep works too)"
_BASELINE_MORE = ("; what is in production: models:/NAME@ALIAS (or models:/NAME/VERSION); a name shortened as the report "
                  "shows it works too")


def build_parser() -> argparse.ArgumentParser:
    """The ``workbench`` command's argument parser, with every subcommand."""
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
                            "refused while a sweep runs on this machine, or on that server (any machine's, as the tracking "
                            "store tells), unless --force")
    which.add_argument("--sandboxes", action="store_true",
                       help="remove the sandbox folders (.workbench/sandboxes) kept of variants that did not finish instead, "
                            "all or those made more than --older-than ago; not while a sweep runs")
    clear.add_argument("--force", action="store_true", help="with --indexes: remove them even while a sweep runs on this machine "
                       "or on the Chroma server (its variants that read them fail)")
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
    p.add_argument("experiment", nargs="?", help="experiment name, or its YAML file (the experiment its name: names)")
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


def _comparison_arguments(p: argparse.ArgumentParser, *, baseline_help: str = f"{_BASELINE}; default: the first variant{_BASELINE_MORE}") -> None:
    p.add_argument("experiment", help="experiment name or YAML file (its latest sweep is compared), or a sweep's parent run id")
    p.add_argument("--sweep", default=None, type=str.strip, help="a sweep's parent run id, instead of the latest sweep")
    p.add_argument("--baseline", default=None, type=str.strip, help=baseline_help)
    p.add_argument("--seed", type=_non_negative_int, default=None,
                   help="bootstrap seed (default: the sweep's seed, which its comparison.json used)")
    p.add_argument("--resamples", type=_positive_int, default=2000, help="bootstrap resamples (default 2000)")


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
