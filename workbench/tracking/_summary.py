"""A sweep's parent run description (pure): what a lead reads on the run page in the MLflow UI, which renders it as
markdown — how the sweep ended and why, its variants ranked with links to their runs, and the comparison with its
intervals and verdicts."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.redaction import redact
from workbench.results import VariantResult, leaderboard_frame

__all__ = ["MAX_RUN_NOTE", "inert", "leaderboard_table", "sweep_note"]

# MLflow's longest run tag value (mlflow.utils.validation.MAX_TAG_VAL_LENGTH): a longer description was cut there by
# MLflow, with a warning line in the middle of the sweep's output (or refused, with MLFLOW_TRUNCATE_LONG_VALUES=false)
MAX_RUN_NOTE = 8000

# the leaderboard columns of the description, when some variant has them: the ranking metric comes first
_SHOWN = ("token_f1", "mrr", "hit_at_k", "latency_p50_s", "cost_usd")
_MAX_ERROR = 300  # characters of a failed variant's error in the description (its run holds all of it)


def leaderboard_table(results: Sequence[VariantResult]) -> dict[str, list[Any]]:
    """The parent run's ``leaderboard.json`` (pure): a table as ``mlflow.log_table`` writes one (``columns`` and rows
    of ``data``, which the MLflow UI shows as a table), ranked as the leaderboard is. One row per variant: its name, id,
    run, status, every metric its run has (empty where it has none: JSON's null, never NaN), why racing stopped it
    early and the run it reused."""
    ranked = {variant_id: i for i, variant_id in enumerate(leaderboard_frame(results)["variant_id"])}
    ordered = sorted(results, key=lambda r: ranked.get(r.variant.id, len(ranked)))
    metrics = list(dict.fromkeys(name for r in ordered for name in r.metrics))
    columns = ["variant", "variant_id", "run_id", "status", *metrics, "stopped_early", "reused_from"]
    data = []
    for r in ordered:
        values = [r.metrics.get(name) for name in metrics]
        data.append([r.variant.name, r.variant.id, r.run_id, r.status,
                     *(v if v is not None and math.isfinite(v) else None for v in values),
                     r.stopped_early.label if r.stopped_early is not None else None, r.reused_from])
    return {"columns": columns, "data": data}


def sweep_note(
    results: Sequence[VariantResult], status: str, *, experiment_id: str, comparison: str | None = None,
    totals: Mapping[str, float] | None = None, error: str | None = None, limit: int = MAX_RUN_NOTE,
) -> str:
    """The parent run's description, in markdown.

    Args:
        results: the sweep's variant results, as logged (with their run ids).
        status: how the sweep ended (FINISHED, FAILED, KILLED).
        experiment_id: the experiment, for links to the variant runs.
        comparison: the comparison's plain-text summary (intervals and verdicts), shown as a code block.
        totals: what the sweep spent (``sweep_totals``).
        error: why the sweep itself ended as it did (a crash, an interrupt), already redacted.
        limit: the longest description: the comparison is cut, at a line, to fit.
    """
    rest: list[str] = []
    failed = [r for r in results if r.status == "FAILED" and r.outcome.error]
    if failed:
        rest.extend(["", "Failed variants (each run's description has the whole error):", ""])
        rest.extend(f"- {_cell(r.variant.name)}: {_cell(_short(r.outcome.error or ''))}" for r in failed)
    if totals:
        rest.extend(["", "Spent by this sweep: " + ", ".join(f"{k} {_number(v)}" for k, v in totals.items())])
    headline = _headline(results, status, error)
    board = _fitted(_leaderboard(results, experiment_id), limit - len(headline) - len("\n".join(rest)) - 8) if results else []
    head = "\n".join([headline, *([""] if board else []), *board, *rest])
    if not comparison:
        return head
    intro = "\n\nComparison (also in `comparison.txt`, as data in `comparison.json`; the leaderboard in `leaderboard.json`):\n\n```\n"
    text, end = comparison.replace("```", "'''"), "\n```"
    room = limit - len(head) - len(intro) - len(end)
    if len(text) > room:  # whole lines, the fence closed: comparison.txt holds all of it
        cut = "… (cut here: the whole comparison is in comparison.txt)"
        kept = text[: max(room - len(cut) - 1, 0)].rsplit("\n", 1)[0]
        text = f"{kept}\n{cut}" if kept else cut
    whole = head + intro + text + end
    return whole if len(whole) <= limit else head


def _headline(results: Sequence[VariantResult], status: str, error: str | None) -> str:
    """``STATUS: why`` (as a run ended by an error always read) and what became of the variants."""
    finished = sum(1 for r in results if r.status == "FINISHED")
    reused = sum(1 for r in results if r.reused_from)
    stopped = sum(1 for r in results if r.stopped_early is not None)
    failed = sum(1 for r in results if r.status == "FAILED")
    counts = [f"{finished} of {len(results)} variants finished" + (f" ({reused} reused from earlier sweeps)" if reused else "")]
    if failed:
        counts.append(f"{failed} failed")
    if stopped:
        counts.append(f"{stopped} stopped early by racing")
    tally = ", ".join(counts) + "."
    if error:
        return f"{status}: {inert(' '.join(error.split()))}" + (f"\n\n{tally}" if results else "")
    return f"{status}: {tally}"


def _leaderboard(results: Sequence[VariantResult], experiment_id: str) -> list[str]:
    """The variants best first (as ``SweepResult.leaderboard`` ranks them), each linked to its run."""
    frame = leaderboard_frame(results)
    shown = [c for c in _SHOWN if c in frame.columns and frame[c].notna().any()]
    out = ["| # | variant | status | " + " | ".join(shown) + " | note |", "|---|---|---|" + "---|" * len(shown) + "---|"]
    for rank, row in enumerate(frame.itertuples(index=False), start=1):
        name = _cell(row.variant)
        link = f"[{name}](#/experiments/{experiment_id}/runs/{row.run_id})" if row.run_id else name
        values = " | ".join(_number(getattr(row, c)) for c in shown)
        out.append(f"| {rank} | {link} | {row.status} | {values} | {_remark(row, experiment_id)} |")
    return out


def _fitted(table: list[str], room: int) -> list[str]:
    """The leaderboard's header and as many of its best rows as fit in ``room`` characters, and a line saying how many
    were left out: a grid of some 40 variants or more filled MLflow's 8000 characters with the table alone, which was
    then cut mid-row, losing the failed variants' errors and the spend after it."""
    if len("\n".join(table)) <= room:
        return table
    header, rows = table[:2], table[2:]
    kept, used = 0, len("\n".join(header))
    for row in rows:  # a row fits when it and the line naming the rows after it do
        if used + len(row) + 1 + len("\n\n" + _left_out(len(rows) - kept - 1)) > room:
            break
        kept, used = kept + 1, used + len(row) + 1
    return [*header, *rows[:kept], "", _left_out(len(rows) - kept)]


def _left_out(n: int) -> str:
    return f"… and {n} more variants: all of them are in `leaderboard.json`"


def _remark(row: object, experiment_id: str) -> str:
    """Why a row's numbers are not simply this sweep's own: stopped early, reused (linked), or questions failed."""
    stopped, reused = _text(getattr(row, "stopped_early", None)), _text(getattr(row, "reused_from", None))
    if stopped:  # it names the leader, whose pipes would split the row
        return f"stopped early {_cell(stopped)}"
    if reused:
        return f"reused from [an earlier run](#/experiments/{experiment_id}/runs/{reused})"
    errors = getattr(row, "question_errors", 0)
    return f"{int(errors)} questions failed" if isinstance(errors, (int, float)) and errors == errors and errors > 0 else ""


def _text(value: object) -> str | None:
    """A leaderboard cell that holds text, or None for an empty one (None, or pandas' NaN in a column others fill)."""
    return value if isinstance(value, str) and value else None


def _number(value: object) -> str:
    if not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.3g}" if value != 0 and abs(value) < 0.001 else f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _cell(text: str) -> str:
    """Text inside a markdown table cell or list item: one line, its pipes escaped (variant names hold them)."""
    return inert(" ".join(text.split())).replace("|", "\\|")


_MARKUP = re.compile(r"[\\`\[\]<>]")
_INERT = {"<": "&lt;", ">": "&gt;"}


def inert(text: str) -> str:
    """Text the MLflow UI's markdown shows as it is: a provider's error (or a model's exception) quoting
    ``![x](https://host/pixel?...)`` or ``<img src=...>`` loaded that image from the host in every browser that opened
    the run page, and a bracket in a variant's name broke the link around it. Brackets, backticks and backslashes are
    escaped, angle brackets written as entities (markdown has no escape for them)."""
    return _MARKUP.sub(lambda m: _INERT.get(m[0], "\\" + m[0]), text)


def _short(text: str) -> str:
    """One line of at most ``_MAX_ERROR`` characters, redacted before it is cut (a cut could split a key)."""
    one = " ".join(redact(text).split())
    return one if len(one) <= _MAX_ERROR else one[: _MAX_ERROR - 1] + "…"
