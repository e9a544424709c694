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


_EXPERIMENT_SUFFIXES = (".yaml", ".yml")


def _experiment_argument(args: argparse.Namespace, uri: str) -> argparse.Namespace:
    """``args`` with EXPERIMENT as the store knows it: the path of an experiment file (``workbench compare base.yaml``,
    as ``workbench run`` takes it) stands for the experiment its ``name:`` names, which ``run`` logged its sweeps under;
    a name or run id is kept as given. One line for a file that is missing, unreadable or names no experiment, or whose
    experiment the store has not seen (refused before with "give the experiment's name, not the file")."""
    key = args.experiment
    if key is None or Path(key).suffix.lower() not in _EXPERIMENT_SUFFIXES:
        return args
    name = _experiment_file_name(key)
    from mlflow import MlflowClient

    from workbench.tracking import shown_uri

    if MlflowClient(uri).get_experiment_by_name(name) is None:
        raise WorkbenchError(f"{key}: experiment '{name}' (its name:) has no sweeps in {shown_uri(uri)} — run it first: "
                             f"workbench run {key}")
    return argparse.Namespace(**{**vars(args), "experiment": name})


def _experiment_file_name(path: str) -> str:
    """The ``name:`` of the experiment file ``path``; one line when it is missing, not YAML or has none."""
    from workbench.spec import read_yaml_at

    if not Path(path).exists():
        where = "" if Path(path).is_absolute() else f" (relative to {Path.cwd()})"
        raise WorkbenchError(f"{path}: experiment file not found — check the path{where}, or give the experiment's name "
                             "(see 'workbench list')")
    text = _input_file(path, "experiment")
    _, data = read_yaml_at(text, path)
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise WorkbenchError(f"{path}: names no experiment (no 'name:' text) — give an experiment file, or the experiment's "
                             "name (see 'workbench list')")
    return name
