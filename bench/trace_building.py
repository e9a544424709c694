"""Benchmark: building a variant's question traces in memory (before any store sees them), and how much of it is redaction.

The sweep of ``variant_logging.py`` (4 variants: 2 prompts x 2 chunkers, N questions, deterministic fakes) runs once
into a sqlite store with ``question_trace``'s arguments recorded; its 4 x N traces are then built again and again
(``question_trace`` and ``TraceBuilder.finish``: spans, redaction, previews, size statistics; nothing written), timed in
CPU seconds of this one thread, the best of R repetitions, each with a new redactor (empty caches):

  build            a variant's traces as a sweep builds them, the redactor's caches kept from one variant to the next
                   (the chunks a question retrieves come back for every prompt)
  no redaction     the same with spans and assessments handed over unredacted: the floor (never what the workbench does)
  of it: redaction the difference

CPU milliseconds per trace, and per variant; the machine's load moves them less than the wall clock.
``PYTHONPATH=<an older checkout>`` runs this file against its code.

    .venv/bin/python bench/trace_building.py                    # 40 questions, 9 repetitions
    .venv/bin/python bench/trace_building.py --questions 4
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("WORKBENCH_PLOTS", "0")

import variant_logging

from workbench import redaction
from workbench.pipeline import MemoryIndexStore
from workbench.tracking import _mlflow, _question_trace


def recorded_calls(questions: int) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """``question_trace``'s arguments for every trace of one cold sweep, in the order the sweep built them."""
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    real = _mlflow.question_trace

    def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    _mlflow.question_trace = recording
    try:
        with tempfile.TemporaryDirectory(prefix="trace-building-") as tmp:
            variant_logging.one_store(Path(tmp), variant_logging.make_spec(questions), MemoryIndexStore())
    finally:
        _mlflow.question_trace = real
    return calls


def build_all(calls: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> float:
    """CPU seconds building every trace, with a redactor of its own (its caches empty at the start)."""
    redaction._redactor_for.cache_clear()
    redaction._last = None
    start = time.process_time()
    for args, kwargs in calls:
        _question_trace.question_trace(*args, **kwargs).finish()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=40, help="questions per variant (at most 55; default 40)")
    parser.add_argument("-r", "--repeat", type=int, default=9, help="repetitions, the best taken (default 9)")
    options = parser.parse_args()
    calls = recorded_calls(options.questions)
    build_all(calls)  # imports, off the record
    built = min(build_all(calls) for _ in range(options.repeat))
    wrap, copy = _question_trace.redacting, _question_trace.redacted
    _question_trace.redacting = _question_trace.redacted = lambda value: value
    try:
        bare = min(build_all(calls) for _ in range(options.repeat))
    finally:
        _question_trace.redacting, _question_trace.redacted = wrap, copy
    per_trace = 1000 / len(calls)
    print(f"{len(calls)} traces (4 variants x {options.questions} questions), CPU ms, best of {options.repeat}")
    print(f"{'step':<18} {'a trace':>8} {'a variant':>10}")
    for label, seconds in (("build", built), ("no redaction", bare), ("  of it: redaction", built - bare)):
        print(f"{label:<18} {seconds * per_trace:8.2f} {seconds * 1000 / 4:10.1f}")


if __name__ == "__main__":
    main()
