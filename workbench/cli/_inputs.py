"""Inputs checked before anything is computed or written: the files named on the command line, and the tracking store."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.tracking import check_store, sqlite_path

_GATE_EXAMPLE = "e.g. gates: [{kind: metric, metric: token_f1, min: 0.3}, {kind: min_questions, n: 20}]"


_FIXES = {
    "experiment": ("save the file as UTF-8 YAML", "write the experiment (see experiments/quickstart.yaml)"),
    "gates": ("save the file as UTF-8 YAML", _GATE_EXAMPLE),
    "labels": ("save the file as UTF-8 (.csv or .jsonl)", "add one label per line: case_id, metric, label"),
}


def _input_file(path: str, what: str) -> str:
    """The text of a file named on the command line; one line naming the file when it is missing, a folder, a device
    or pipe, binary, not UTF-8 or empty."""
    from workbench.datasets import read_text

    fix, fill = _FIXES[what]
    file = Path(path)
    if not file.exists():
        where = "" if file.is_absolute() else f" (relative to {Path.cwd()})"
        raise WorkbenchError(f"{path}: {what} file not found — check the path{where}")
    if file.is_dir():
        raise WorkbenchError(f"{path}: is a folder, not a file — give the path of the {what} file")
    if not file.is_file():  # /dev/null, a named pipe (reading one with no writer would wait forever)
        kind = "a named pipe (FIFO)" if file.is_fifo() else "a socket" if file.is_socket() else "a device"
        raise WorkbenchError(f"{path}: is {kind}, not a file — give the path of the {what} file")
    text = read_text(file, fix)
    if not text.strip():
        raise WorkbenchError(f"{path}: empty {what} file — {fill}")
    return text


def _missing_sqlite_store(uri: str) -> bool:
    path = sqlite_path(uri)
    return path is not None and not path.exists()


def _store(args: argparse.Namespace, *, must_exist: bool) -> str:
    """The tracking URI of this command, checked without writing anything: a sqlite store must exist (``must_exist``)
    or be creatable, a server must answer. Returns the URI."""
    from workbench.config import settings

    uri = settings(tracking_uri=args.tracking_uri).tracking_uri
    check_store(uri, must_exist=must_exist)
    return uri
