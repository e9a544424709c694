"""What the commands print, made fit for a terminal or a log: control characters shown, not obeyed; secrets and store
passwords redacted; a message on one line; tables; and stdout and stderr kept usable when they started closed or their
reader went away.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Sequence
from typing import Any

from workbench.results import printable


def _print_table(frame, columns: Sequence[str]) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    from workbench.comparison import number_text  # a cost of $0.0004 is 4.00e-04, not 0.000
    from workbench.metrics import is_count

    cols = [c for c in columns if c in frame.columns]
    shown = frame[cols].copy()
    for c in cols:  # counts read as counts: 307 output tokens, not 307.000
        if is_count(c) and pd.api.types.is_float_dtype(shown[c]) and shown[c].dropna().map(float.is_integer).all():
            shown[c] = shown[c].map(lambda v: "—" if pd.isna(v) else str(int(v)))
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.max_colwidth", 60, "display.float_format", number_text,
                           "display.unicode.east_asian_width", True):  # a name in Chinese or Japanese takes two columns a character
        print(printable(shown.to_string(index=False)))  # a metric named in a labels file from the annotators


def _stdout_closed() -> int:
    """The reader of stdout went away (``workbench list EXP | head -1``): stop quietly, as ``yes | head -1`` does.

    Later writes, and the interpreter's flush at exit, go to devnull (see "Note on SIGPIPE" in the ``signal`` docs);
    the exit code is 141 (128 + SIGPIPE), what a shell reports for a command a closed pipe stopped, which ``set -o
    pipefail`` scripts recognise — 1 would read as a failed gate or a bug.
    """
    _to_devnull(sys.stdout)
    return 141


def _to_devnull(stream: Any) -> None:
    """Send the later writes to ``stream`` (and the flush of what it holds) to devnull: its reader went away."""
    with contextlib.suppress(OSError, ValueError):  # the stream may be no file at all (captured)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def _usable_output_streams() -> list[tuple[io.TextIOWrapper, str | None]]:
    """Make stdout and stderr take whatever the command prints; returns each changed stream with its own error handling,
    for ``main`` to put back when it returns (called in a notebook or a test, the process goes on).

    A stream started closed (``workbench gate ... >&-``, ``2>&-``, a daemon) is None in Python: flushing it was an
    internal error (a passed gate exited 1), and ``print(file=None)`` writes to stdout, so error lines went into the
    output; it writes to devnull instead, as the shell meant. Text the stream's encoding cannot hold (an em dash, an
    accented variant name on an ASCII or Latin-1 terminal or log) is written as ``\\u2014`` escapes, as Python does on
    stderr, instead of ending a finished sweep in a UnicodeEncodeError.
    """
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - the process's stdout, open until it exits
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    found = [(stream, stream.errors) for stream in (sys.stdout, sys.stderr) if isinstance(stream, io.TextIOWrapper)]
    for stream, _errors in found:
        stream.reconfigure(errors="backslashreplace")
    return found


def _restore_output_streams(found: list[tuple[io.TextIOWrapper, str | None]]) -> None:
    for stream, errors in found:
        with contextlib.suppress(OSError, ValueError):  # reconfigure flushes: a closed stream, a reader gone away
            stream.reconfigure(errors=errors)
