"""How a comparison reads: numbers, intervals, the plain-text summary and the notebook's HTML table."""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench.comparison._values import by_case, failed, keyed_like, paired_cases, recorded_higher_is_better
from workbench.metrics import COST_PER_SUCCESS, higher_is_better

if TYPE_CHECKING:
    import pandas as pd

    from workbench.comparison._view import ComparisonView

__all__ = ["confidence_text", "interval_text", "markdown_text", "number_text", "padded", "report_html", "report_notes", "rows_by_metric", "short_names", "success_text",
           "summary_text", "text_columns"]


# Below this a number is the rounding of float sums, not a measurement: the mean difference of two variants with the
# same latencies in another order is 1.85e-17, not a latency nor a cost (a cheap model's answer costs about 1e-6 USD)
_NOISE = 1e-12


def number_text(x: float | None, small: bool = False) -> str:
    """Three decimals; scientific when ``small`` or below 0.001; "—" for missing, "inf"/"-inf" for infinities; 0 for
    float noise (below 1e-12)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    x = 0.0 if abs(x) < _NOISE else x
    return f"{x:.2e}" if (small or (x != 0 and abs(x) < 0.001)) else f"{x:.3f}"


def text_columns(text: str) -> int:
    """The terminal columns ``text`` takes (pure): two for a wide or full-width character, none for a combining mark,
    a zero-width joiner or a variation selector, one for the rest."""
    return sum(0 if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf") or "\ufe00" <= c <= "\ufe0f"
               else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def padded(text: str, width: int) -> str:
    """``text`` padded with spaces to fill ``width`` terminal columns (pure): a Chinese, Japanese or Korean character,
    or an emoji, takes two columns and a combining accent none, so a name padded by its length ("评估实验", "📊 rag")
    pushed the next column out of line."""
    return text + " " * max(width - text_columns(text), 0)


def confidence_text(confidence: float) -> str:
    """An interval's coverage as a percentage with the digits it has: 95%, 97.5%, 99.9% (never a rounded 100%)."""
    return f"{confidence * 100:.6g}%"


def success_text(metric: str, threshold: float, higher: bool | None = None) -> str:
    """What makes an answer successful: ``token_f1 >= 0.5``, ``hallucination <= 0`` for a lower-is-better score
    (``higher``: whether the metric is better high, by default as ``higher_is_better`` says)."""
    return f"{metric} {'>=' if (higher_is_better(metric) if higher is None else higher) else '<='} {threshold:g}"


def _report_success_text(report: ComparisonView) -> str:
    """``success_text`` of a report's success metric, in the direction its runs recorded."""
    return success_text(report.success_metric, report.success_threshold,
                        recorded_higher_is_better(report.success_metric, report.variants))


def interval_text(estimate: float | None, low: float, high: float) -> str:
    """``estimate [low, high]`` on one scale: scientific when every finite value is below 0.01 (costs)."""
    if estimate is None or (isinstance(estimate, float) and math.isnan(estimate)):
        return "—"
    finite = [abs(v) for v in (estimate, low, high) if v is not None and math.isfinite(v)]
    small = bool(finite) and 0 < max(finite) < 0.01
    return f"{number_text(estimate, small)} [{number_text(low, small)}, {number_text(high, small)}]"


def rows_by_metric(table: pd.DataFrame) -> dict[str, list[Any]]:
    """The comparison table's rows (as ``itertuples`` gives them) by metric, each metric's in table order: the table
    walked once (pure). Cutting it per metric and walking each cut three times was most of a summary's time, and a
    sweep writes its summary twice."""
    grouped: dict[str, list[Any]] = {}
    for r in table.itertuples():
        grouped.setdefault(r.metric, []).append(r)
    return grouped


def summary_text(report: ComparisonView) -> str:
    """Plain-text report: one block per metric, one line per variant with its interval, difference and verdict. Variant
    names leave out the ``|``-separated parts every variant shares (said once above the blocks), and each column is as
    wide as its longest entry, so a grid of many variants reads in a terminal."""
    pct = confidence_text(report.confidence)
    short, shared = short_names([v.name for v in report.variants])
    lines = [
        f"Baseline: {report.baseline}",
        f"{pct} bootstrap intervals over questions ({report.n_resamples} resamples, seed {report.seed}); differences "
        "are paired by question (variant minus baseline).",
        *([f"Seed: {report.seed_note}."] if report.seed_note else []),
        *_many_note(report),
        *([f"Names below leave out what every variant shares: {shared}"] if shared else []),
    ]
    width = max(len("variant"), *(text_columns(name) for name in short.values()))  # "评估" takes 4 columns, not 2
    by_metric = rows_by_metric(report.table)
    for metric in report.metrics:
        rows = by_metric.get(metric)
        if not rows:
            continue
        note = f", success = {_report_success_text(report)}" if metric == COST_PER_SUCCESS else ""
        lines.append("")
        lines.append(f"{metric} ({rows[0].direction} is better{note})")
        means = [interval_text(r.mean, r.mean_low, r.mean_high) for r in rows]
        diffs = ["" if r.is_baseline else interval_text(r.diff, r.diff_low, r.diff_high) for r in rows]
        mean_width = max(len(f"mean [{pct} CI]"), *(len(m) for m in means))
        diff_width = max(len(f"vs baseline [{pct} CI]"), *(len(d) for d in diffs))
        n_width = max(len(str(n)) for n in (*(r.n for r in rows), *(r.n_paired for r in rows), "n"))
        lines.append(f"  {'variant':<{width}}  {f'mean [{pct} CI]':<{mean_width}}  {'n':>{n_width}}  "
                     f"{f'vs baseline [{pct} CI]':<{diff_width}}  {'n':>{n_width}}  verdict")
        for r, mean, diff in zip(rows, means, diffs):
            stopped = (f"  (stopped early {r.stopped_early.split(':', 1)[0]})" if isinstance(r.stopped_early, str) else "")
            paired = "" if r.is_baseline else r.n_paired
            lines.append(f"  {padded(short[r.variant], width)}  {mean:<{mean_width}}  {r.n:>{n_width}}  {diff:<{diff_width}}  "
                         f"{paired:>{n_width}}  {r.verdict}{stopped}")
    stops = [*_stops(report), *_unfinished(report)]
    if stops:
        lines.extend(["", *stops])
    empty = _nothing_scored(report)
    if empty:
        lines.extend(["", empty])
    failures = [] if empty else _failed_questions(report)  # with nothing scored, that line counts the failures
    if failures:
        lines.extend(["", *failures])
    other_questions = _other_questions(report)
    if other_questions:
        lines.extend(["", *other_questions])
    lines.extend(_routing_lines(report, short))
    for s in report.skipped:
        lines.append(f"skipped {s.name}: {s.reason}")
    return "\n".join(lines)


def short_names(names: Sequence[str]) -> tuple[dict[str, str], str]:
    """Each name cut to the ``|``-separated parts in which the names differ, and the parts they all share ("" when
    nothing is cut; pure). Variants of a grid over prompts and k, ``p0|gemma3-270m|recursive-800/80|k1-similarity``,
    read ``p0|k1-similarity``; names of other shapes (renamed runs, a different number of parts) are kept whole. A
    label's trailing `` (...)`` (a baseline from another sweep: ``(models:/rag@production)``, ``(run 0fae6367)``) is
    kept on its short name and is not a part in which the names differ."""
    labels = [_LABEL.match(name) for name in names]
    parts = [m.group(1).split("|") if m else name.split("|") for name, m in zip(names, labels)]
    whole = ({name: name for name in names}, "")
    if len(names) < 2 or len({len(p) for p in parts}) != 1 or len(parts[0]) < 2:
        return whole
    same = {i for i in range(len(parts[0])) if len({p[i] for p in parts}) == 1}
    if not same or len(same) == len(parts[0]):
        return whole
    short = {name: "|".join(x for i, x in enumerate(p) if i not in same) + (m.group(2) if m else "")
             for name, p, m in zip(names, parts, labels)}
    return short, "|".join(x for i, x in enumerate(parts[0]) if i in same)


_LABEL = re.compile(r"^(.*\|[^|]*?)( \([^|()]*\))$", re.DOTALL)  # 'p0|...|k1 (models:/rag@production)'


# From this many variants against the baseline, a verdict read on its own (or the best of them picked) can be chance
_MANY = 3


def _many_note(report: ComparisonView) -> list[str]:
    """With several variants against the baseline, what their verdicts are worth: each interval holds at its
    confidence for one comparison, and nothing corrects for making many, or for picking the best of them."""
    compared = len(report.variants) - 1
    if compared < _MANY:
        return []
    chance = (1 - report.confidence) * compared
    return [f"Each interval is {confidence_text(report.confidence)} for one comparison, not corrected for {compared} of them or for "
            f"picking the best: were no variant truly different from the baseline, about {chance:.2g} per metric would still read "
            "better or worse by chance — confirm a winner on fresh questions."]


def _notes(report: ComparisonView) -> list[str]:
    """What the text says under its tables: nothing scored, questions that failed, other questions than the baseline's,
    routing, skipped variants."""
    empty = _nothing_scored(report)
    lines = [empty] if empty else [*_failed_questions(report), *_other_questions(report)]
    return [*_unfinished(report), *lines, *_routing_lines(report)[1:], *(f"skipped {s.name}: {s.reason}" for s in report.skipped)]


def _unfinished(report: ComparisonView) -> list[str]:
    """One line per variant that did not finish (FAILED past a budget, KILLED part way) yet answered some questions:
    its row reads like a finished variant's, over fewer questions."""
    return [f"{v.name}: ended {v.ended} — its means are over the {len(v.frame)} questions it answered before"
            for v in report.variants if v.ended]


def _stops(report: ComparisonView) -> list[str]:
    """One line per variant racing stopped early: why, with the interval that stopped it."""
    return [f"{v.name}: stopped early by racing {v.stopped_early.label}" for v in report.variants if v.stopped_early is not None]


def report_notes(report: ComparisonView) -> list[str]:
    """Every caveat the text states besides its tables, one line each (the JSON's ``notes``): the seed, many
    comparisons, racing stops, variants that did not finish, nothing scored, questions that failed, other questions than the baseline's, skipped
    variants."""
    empty = _nothing_scored(report)
    return [*([f"Seed: {report.seed_note}."] if report.seed_note else []), *_many_note(report), *_stops(report), *_unfinished(report),
            *([empty] if empty else [*_failed_questions(report), *_other_questions(report)]),
            *(f"skipped {s.name}: {s.reason}" for s in report.skipped)]


def _code(text: str, *, cell: bool = True) -> str:
    """``text`` as a markdown code span: shown as written (a variant's name comes from its run, renamable in the MLflow
    UI: no HTML, link or image in it is rendered); in a table ``cell`` its ``|`` is kept from ending the cell."""
    span = " ".join(text.replace("`", "'").split())
    return "`" + (span.replace("|", "\\|") if cell else span) + "`"


def markdown_text(report: ComparisonView) -> str:
    """The report as GitHub-flavoured markdown, for a pull request or a wiki: one table per metric, the notes in a
    ``text`` block (they quote run names and providers' errors, shown as written)."""
    pct = confidence_text(report.confidence)
    short, shared = short_names([v.name for v in report.variants])
    out = [f"**Baseline:** {_code(report.baseline, cell=False)}", "",
           f"{pct} bootstrap intervals over questions ({report.n_resamples} resamples, seed {report.seed}); differences are "
           "paired by question (variant minus baseline).", *(["", f"Seed: {report.seed_note}."] if report.seed_note else []),
           *(["", *_many_note(report)] if _many_note(report) else []),
           *(["", f"Names below leave out what every variant shares: {_code(shared, cell=False)}"] if shared else [])]
    by_metric = rows_by_metric(report.table)
    for metric in report.metrics:
        rows = by_metric.get(metric)
        if not rows:
            continue
        note = f", success = {_report_success_text(report)}" if metric == COST_PER_SUCCESS else ""
        out += ["", f"#### {metric} ({rows[0].direction} is better{note})", "",
                f"| variant | mean [{pct} CI] | n | diff vs baseline [{pct} CI] | paired n | verdict |", "|---|---|---:|---|---:|---|"]
        for r in rows:
            stopped = f" {_code('stopped early ' + r.stopped_early)}" if isinstance(r.stopped_early, str) else ""
            diff, paired = ("", "") if r.is_baseline else (interval_text(r.diff, r.diff_low, r.diff_high), str(r.n_paired))
            out.append(f"| {_code(short[r.variant])} | {interval_text(r.mean, r.mean_low, r.mean_high)} | {r.n} | {diff} | {paired} | "
                       f"{r.verdict}{stopped} |")
    notes = [line.replace("```", "'''") for line in _notes(report)]
    if notes:
        out += ["", "```text", *notes, "```"]
    return "\n".join(out) + "\n"


def _nothing_scored(report: ComparisonView) -> str | None:
    """Why a report has no rows (every question of every variant failed, say), or None when it has some."""
    if not report.table.empty and (report.table["n"] > 0).any():
        return None
    total = sum(len(v.frame) for v in report.variants)
    errors = sum(int(failed(v.frame).sum()) for v in report.variants)
    why = f": {errors} of {total} answers failed (see the leaderboard's error column)" if errors else ""
    return f"Nothing to compare: no variant has a value for {', '.join(report.metrics) or 'any metric'}{why}"


def _failed_questions(report: ComparisonView) -> list[str]:
    """One line per variant with questions that failed: its means (and ``n``) leave them out, so they rest on other
    questions than the baseline's, while its differences are paired over the questions both answered."""
    lines = []
    for v in report.variants:
        errors = int(failed(v.frame).sum())
        if errors:
            lines.append(f"{v.name}: {errors} of {len(v.frame)} questions failed — its means leave them out (compare its "
                         "differences, paired over the questions both answered; run the experiment again to ask them again)")
    return lines


def _other_questions(report: ComparisonView) -> list[str]:
    """What the variants that asked other questions than the baseline (another dataset, limit or sweep) are compared
    on, one line per count of questions asked and shared: their means are over their own questions, their differences
    over the questions both asked (a variant racing stopped early says on its rows why it asked fewer)."""
    base = by_case(report.variants[0])
    groups: dict[tuple[int, int], list[str]] = {}
    others = [v for v in report.variants[1:] if v.stopped_early is None]
    for v in others:
        own = keyed_like(base, by_case(v))
        shared = len(paired_cases(base, own))
        if not shared == len(base) == len(own):
            groups.setdefault((len(own), shared), []).append(v.name)
    lines = []
    for (asked, shared), names in groups.items():
        who = "every other variant" if len(names) == len(others) > 1 else "; ".join(names)
        if shared == 0:
            lines.append(f"{who}: asked none of the baseline's {len(base)} questions ({asked} others: another dataset?), so there "
                         "is no difference to compute — compare against a baseline evaluated on the same questions")
        else:
            lines.append(f"{who}: asked {asked} questions, the baseline {len(base)}, {shared} of them the baseline's — means are "
                         f"over each one's own questions, differences over the {shared} both asked")
    return lines


def _routing_lines(report: ComparisonView, names: Mapping[str, str] | None = None) -> list[str]:
    """The routing block: each router's cost per success next to each of its models alone, and the paired difference;
    variants named by ``names`` where it has them (the tables' short names), else whole."""
    def name(variant: str) -> str:
        return (names or {}).get(variant, variant)

    if report.routing is None or report.routing.empty:
        # routers with a model alone beside them but no known cost: the block was left out with no word of why
        unpriced = report.routers_without_cost
        return ["", *(f"routing: {name(r)} has no cost per successful answer to put next to its models alone: the cost of some of "
                      "its answers is unknown (a model without a price: give it under 'pricing:')" for r in unpriced)] if unpriced else []
    lines = ["", f"routing: cost per successful answer (lower is better, success = "
             f"{_report_success_text(report)}), router vs each model alone, paired by question"]
    for r in report.routing.itertuples():
        router = interval_text(r.router_cost_per_success, r.router_low, r.router_high)
        model = interval_text(r.model_cost_per_success, r.model_low, r.model_high)
        diff = interval_text(r.diff, r.diff_low, r.diff_high)
        lines.append(
            f"  {name(r.router)} (escalated {number_text(r.escalation_rate)}) {router}  vs {r.role} alone {name(r.model)} {model}  "
            f"diff {diff} n={r.n_paired} {r.verdict}"
        )
    return lines


_COLOURS = {"better": "#1a7f37", "worse": "#cf222e", "baseline": "#57606a"}


def report_html(report: ComparisonView) -> str:
    """The report as an HTML table, verdicts coloured (the notebook's rich display)."""
    head = "".join(f"<th>{h}</th>" for h in ("metric", "variant", "mean [CI]", "n", "Δ vs baseline [CI]", "paired n", "verdict"))
    body = []
    for r in report.table.itertuples():
        colour = _COLOURS.get(r.verdict, "inherit")
        diff = "" if r.is_baseline else interval_text(r.diff, r.diff_low, r.diff_high)
        cells = (
            f"{html.escape(r.metric)} <small>({r.direction} better)</small>", html.escape(r.variant),
            interval_text(r.mean, r.mean_low, r.mean_high), str(r.n), diff, "" if r.is_baseline else str(r.n_paired),
            f'<b style="color:{colour}">{html.escape(r.verdict)}</b>'
            + (f'<br><small title="{html.escape(r.stopped_early)}">stopped early</small>' if isinstance(r.stopped_early, str) else ""),
        )
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    skipped = "".join(f"<p>skipped {html.escape(s.name)}: {html.escape(s.reason)}</p>" for s in report.skipped)
    empty = _nothing_scored(report)
    failures = "" if empty else "".join(f"<p>{html.escape(line)}</p>" for line in (*_failed_questions(report), *_other_questions(report)))
    skipped = (f"<p><b>{html.escape(empty)}</b></p>" if empty else "") + failures + skipped
    return (
        f"<div><p>Baseline: <b>{html.escape(report.baseline)}</b> — {confidence_text(report.confidence)} bootstrap intervals over "
        f"questions ({report.n_resamples} resamples, seed {report.seed}), differences paired by question.</p>"
        + (f"<p><small>Seed: {html.escape(report.seed_note)}.</small></p>" if report.seed_note else "")
        + "".join(f"<p><small>{html.escape(line)}</small></p>" for line in _many_note(report)) +
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{skipped}</div>"
    )
