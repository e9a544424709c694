"""What ``workbench run`` prints after the leaderboard: its ranking metric against the leader, the scores the sweep left
missing and what to do about them, what racing stopped (or why it could stop nothing), and what was reused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.results import counted, one_line, printable, without_secrets
from workbench.errors import WorkbenchError, shortened

if TYPE_CHECKING:
    from workbench.pipeline import QuestionRecord
    from workbench.results import SweepResult


def _missing_scores_lines(result: SweepResult) -> list[str]:
    """One line per finished variant whose questions, or whose judge calls, failed: how many, the first error, and
    what to do (``_retry_advice``)."""
    lines = []
    for v in result.variants:
        if v.status != "FINISHED":
            continue
        if v.question_errors:
            first = next(r.error for r in v.records if r.error) or ""
            lines.append(f"{v.variant.name}: {v.question_errors} of {len(v.records)} questions failed (first: {_quoted(first)}) "
                         f"— their scores are missing; {_retry_advice(first)}")
        if v.metrics.get("judge_call_errors"):  # the judge's errors are in its scores, of the calls that failed
            first = next((s.error for r in v.records for s in r.scores.values() if s.judge and s.judge.call_errors and s.error), "")
            quoted = f" (first: {_quoted(first)})" if first else ""
            lines.append(f"{v.variant.name}: {int(v.metrics['judge_call_errors'])} judge calls failed{quoted} — those scores are "
                         f"missing; {_retry_advice(first)}")
    return lines


def _quoted(error: str) -> str:
    """The first line of a model's or a judge's error, redacted and cut to fit the line (pure but for the redaction)."""
    return shortened(without_secrets(printable(next(iter(error.strip().splitlines()), ""))), 200)


def _retry_advice(first_error: str) -> str:
    """What to do about scores a sweep left missing, by their first error (pure but for the redaction): run again, which
    retries only them; but first fix the cause of an error a re-run repeats (``rerun_advice``)."""
    from workbench.comparison import rerun_advice

    return f"{printable(without_secrets(rerun_advice(first_error)))}run again to retry only them"


def _against_the_leader(result: SweepResult, board: Any) -> list[str]:
    """The leaderboard's ranking metric compared against its leader, question by question: whether the variants
    behind it are detectably behind or only by the luck of the questions (a leaderboard's means alone cannot say).
    Nothing when fewer than two variants are ranked or the leader is not a complete, scored run."""
    import pandas as pd

    import workbench as wb
    from workbench.results import ranking_metric

    metric = ranking_metric(board.columns)
    ranked = board if metric is None else board[board[metric].notna()]
    if metric is None or len(ranked) < 2:
        return []
    leader = ranked.iloc[0]
    if leader["status"] != "FINISHED" or pd.notna(leader["stopped_early"]) or leader["question_errors"]:
        return []
    whole = f"workbench compare {result.parent_run_id}" if result.parent_run_id else "wb.compare(result)"
    try:
        ordered = [result.variant(i) for i in board["variant_id"]]  # the leaderboard's order
        report = wb.compare(ordered, baseline=leader["variant_id"], metrics=[metric])
    except WorkbenchError as exc:  # derived output: the sweep is logged either way
        return ["", f"{metric} could not be compared against the leader: {one_line(str(exc))}"]
    return ["", f"{metric} against the leader, question by question (every metric: {whole}):", *report.summary().splitlines()]


def _racing_lines(result: SweepResult) -> list[str]:
    """One line per variant a racing sweep stopped early, and how many questions racing saved (none: not racing), or
    why racing could stop nothing (fewer questions than ``min_questions``, or than an interval at its confidence needs,
    or a ``batch`` so large that the last decision comes before enough questions, or a sweep of one variant), or that a
    sweep that only retrieves was not raced."""
    from workbench.comparison import fewest_questions

    stopped = [v for v in result.variants if v.stopped_early is not None]
    race = result.spec.execution.racing
    if race is not None and result.variants and not any(v.variant.generates for v in result.variants):
        return ["racing raced nothing: this sweep only retrieves, and it retrieves every question before any variant is "
                "scored, so stopping a variant would save nothing — leave execution.racing out"]
    if race is not None and len(result.variants) < 2:
        return ["racing could stop no variant: the sweep has one variant, and racing stops a variant only against a better "
                "one — add variants to race, or leave execution.racing out"]
    if not stopped and race is not None and len(result.dataset) < race.min_questions:
        return [f"racing could stop no variant: min_questions is {race.min_questions} and only {len(result.dataset)} questions "
                "were evaluated — lower execution.racing.min_questions, or evaluate more questions"]
    needed = fewest_questions(race.confidence) if race is not None else 0
    if not stopped and race is not None and len(result.dataset) < needed:  # an interval on fewer is only their range
        return [f"racing could stop no variant: at {race.confidence:g} confidence it needs {needed} paired questions to stop one "
                f"(min_questions is {race.min_questions}) and only {len(result.dataset)} questions were evaluated — evaluate more "
                "questions, or lower execution.racing.confidence"]
    last_look = (len(result.dataset) - 1) // race.batch * race.batch if race is not None else 0  # nothing is decided after the last batch
    if not stopped and race is not None and last_look == 0:
        return [f"racing could stop no variant: batch is {race.batch} and only {len(result.dataset)} questions were evaluated, so "
                "every variant answered them in one batch, after which nothing is decided — lower execution.racing.batch"]
    if not stopped and race is not None and last_look < max(race.min_questions, needed):
        return [f"racing could stop no variant: it decides after each batch but the last, and with batch {race.batch} over "
                f"{len(result.dataset)} questions its last decision came after {last_look} questions, fewer than the "
                f"{max(race.min_questions, needed)} it needs to stop one — lower execution.racing.batch"]
    scored = max((sum(1 for r in v.records if _scored(r, race.metric)) for v in result.variants), default=0) if race else 0
    if not stopped and race is not None and scored < race.min_questions:  # e.g. refusal_correct scores a few questions only
        return [f"racing could stop no variant: min_questions is {race.min_questions} and at most {scored} of the "
                f"{len(result.dataset)} questions have a {race.metric} score — lower execution.racing.min_questions, "
                "race on a metric that scores more of them, or evaluate more questions"]
    if not stopped:
        return []
    skipped = sum(len(result.dataset) - len(v.records) for v in stopped)
    lines = [f"stopped early {v.variant.name}: {v.stopped_early.label}" for v in stopped if v.stopped_early is not None]
    lines.append(f"racing stopped {len(stopped)} of {len(result.variants)} variants; {skipped} questions not asked "
                 "(run without racing to finish them: only their missing questions are computed)")
    return lines


def _scored(record: QuestionRecord, metric: str) -> bool:
    score = record.scores.get(metric)
    return score is not None and score.value is not None


def _reuse_line(result: SweepResult) -> str:
    """``reused 4 of 4 variants; 0 model calls, 80 answers from the cache`` (the sums of the variants' metrics; "1 model
    call", "1 answer" in the singular)."""
    reused = sum(1 for v in result.variants if v.reused_from)
    line = f"reused {reused} of {len(result.variants)} variants"
    if any("generation_calls" in v.metrics for v in result.variants):
        calls = round(sum(v.metrics.get("generation_calls", 0.0) for v in result.variants))
        hits = round(sum(v.metrics.get("cache_hits", 0.0) for v in result.variants))
        line += f"; {counted(calls, 'model call')}, {counted(hits, 'answer')} from the cache"
    return line
