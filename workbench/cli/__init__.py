"""The ``workbench`` command: a thin wrapper over the public API.

    workbench run experiments/quickstart.yaml     run a sweep, print the leaderboard and its comparison (--fresh: recompute everything)
    workbench ui                                  MLflow UI on 127.0.0.1 over this project's store
    workbench server [--backend-store-uri URI]    a team MLflow server (e.g. on PostgreSQL) with served artifacts
    workbench list [EXPERIMENT]                   experiments, or the newest sweeps of one (--last N, --all)
    workbench schema                              write the experiment JSON schema
    workbench compare EXPERIMENT                  intervals and verdicts of the latest sweep's variants
    workbench gate EXPERIMENT --metric M --min X  exit 1 when a variant fails (for CI)
    workbench end RUN_ID --reason R               end as KILLED a sweep left RUNNING on another machine (a removed CI runner)
    workbench promote RUN_ID --name N --alias A   gate a variant run and point staging/production at it
    workbench export NAME --alias A --repo PATH   commit the alias's bundle to a deployment git repo
    workbench rollback NAME --alias production    point the alias back at its previous holder
    workbench calibrate RUN_ID --labels FILE      agreement and Cohen's kappa of a run's judge with human labels
    workbench cache info                          entries, size, hits and misses of the answer/embedding cache; indexes
    workbench cache clear [--older-than 30d]      empty the cache (or drop entries unused for an age)
    workbench cache clear --indexes [--older-than 30d]   remove the local indexes (or those built longer ago), and
                                                         those on the Chroma server WORKBENCH_CHROMA_URL names;
                                                         refused while a sweep runs here, unless --force
    workbench cache clear --sandboxes [--older-than 30d] remove the sandbox folders kept of variants that did not finish

Where each command lives (``_commands.build_parser`` names every command's options and handler):

    _run          run: the sweep, its progress lines, its JSON, what a Ctrl+C left
    _run_report   run: the lines after the leaderboard (against the leader, missing scores, racing, reuse)
    _dry_run      run --dry-run: the plan and its cost
    _cache        cache info, cache clear
    _servers      ui, server (``_group_guard``: the servers they start end with the command, even a SIGKILLed one)
    _sweeps       list, compare, gate, end
    _schema       schema
    _promote      promote (and its gates file), export, rollback
    _calibrate    calibrate

and what they share: ``_parser`` (argparse with one-line usage errors and closest-choice hints, the options' value
types), ``_inputs`` (the files named and the tracking store, checked before anything runs), ``_output`` (what is
printed: control characters shown, secrets redacted, stdout and stderr kept usable) and ``_failures`` (the one line
and exit code of each failure, which ``main`` prints).
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

import workbench._telemetry  # noqa: F401
from workbench.cli._commands import build_parser
from workbench.cli._failures import _failure_line, _interrupted_code
from workbench.cli._output import _restore_output_streams, _stdout_closed, _usable_output_streams
from workbench.results import printable, without_secrets
from workbench.cli._parser import _usage_line, _UsageError
from workbench.tracking import shown_uri

__all__ = ["build_parser", "console", "main"]

Handler = Callable[[argparse.Namespace], int]


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


def _release_store(args: argparse.Namespace) -> None:
    """Let go of MLflow's connections to the command's tracking store once it is done (``main`` called in a kernel,
    project after project: what the command printed after its sweep read, the leaderboard's comparison, kept them)."""
    if "mlflow.store.tracking.sqlalchemy_store" not in sys.modules:  # the command opened no database store
        return
    from workbench.config import settings
    from workbench.errors import WorkbenchError
    from workbench.tracking import release_store

    try:
        uri = settings(tracking_uri=getattr(args, "tracking_uri", None)).tracking_uri
    except (WorkbenchError, ValueError, OSError):  # settings the command itself refused: it said so
        return
    release_store(uri)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(words)
    except _UsageError as exc:
        print(f"error: {without_secrets(_usage_line(parser, words, exc))}", file=sys.stderr)
        return 2
    handler: Handler = args.handler
    try:
        try:
            code = handler(args)
        finally:
            _release_store(args)
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

            print(printable(without_secrets(traceback.format_exc())), end="", file=sys.stderr)
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
