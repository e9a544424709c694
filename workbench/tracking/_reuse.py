"""Reading a finished variant back as a result, so a new sweep can reuse it instead of recomputing it (pure).

The per-question table a variant run logs (``eval_results.json``) holds what the leaderboard, the comparison and the
inspector need: each question's answer, retrieved chunks with their scores, every score, tokens, cost and latency.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from workbench.datasets import Dataset, Source
from workbench.metrics import Score, scorer_entries
from workbench.models import Generation
from workbench.pipeline import Chunk, Escalation, Hit, ModelCall, QuestionRecord
from workbench.results import EarlyStop, metadata_columns
from workbench.spec import Limits

__all__ = [
    "LOWER_IS_BETTER_TAG", "RACING_TAG", "REUSE_KEY_TAG", "REUSED_FROM_TAG", "early_stop_from_tags", "lower_is_better_from_tags",
    "lower_is_better_tag", "racing_tags", "records_from_table", "with_current_metadata", "within_limits",
]

REUSE_KEY_TAG = "workbench.reuse_key"
REUSED_FROM_TAG = "workbench.reused_from"
RACING_TAG = "workbench.racing"  # .stopped, .questions, .metric, .interval, .estimate, .confidence, .tolerance, .leader
# the run's scorers registered lower_is_better: `workbench compare` in another process, where they are not registered,
# read them higher-is-better and called the worse variant better
LOWER_IS_BETTER_TAG = "workbench.lower_is_better"


def within_limits(metrics: Mapping[str, float], limits: Limits | None) -> bool:
    """Whether a finished run's answers (its ``metrics``) stayed within the token and cost budgets of ``limits``, the
    sweep's now (pure): a run that passed them would have been stopped by the sweep, so it is not reused but computed
    again, from the cache, and stopped as a fresh run is. Its input + output tokens against ``max_tokens``, its
    ``cost_usd`` against ``max_cost_usd`` (a run that answered at an unknown cost cannot have kept a cost budget).

    The wall time and memory limits are not checked: they bound this machine's work, not the answers, and a run
    computed again from the cache answers in a fraction of the time its model calls took (``limits.wall_time_s``
    counts them, not the cache's reads)."""
    if limits is None:
        return True
    answered = "input_tokens" in metrics  # a retrieval-only run: no answers, nothing charged
    if limits.max_tokens is not None and metrics.get("input_tokens", 0.0) + metrics.get("output_tokens", 0.0) > limits.max_tokens:
        return False
    if limits.max_cost_usd is not None and answered:
        cost = metrics.get("cost_usd")
        return cost is not None and cost <= limits.max_cost_usd
    return True


def lower_is_better_tag(scorers: Iterable[str], lower: Callable[[str], bool]) -> dict[str, str]:
    """The tag naming the ``scorers`` that ``lower`` says are better low (comma-separated), or none (pure)."""
    names = sorted(s for s in set(scorers) if lower(s))
    return {LOWER_IS_BETTER_TAG: ",".join(names)} if names else {}


def lower_is_better_from_tags(tags: Mapping[str, str]) -> frozenset[str]:
    """The scorers a run recorded as better low (``lower_is_better_tag``); none for a run logged before it (pure)."""
    return frozenset(n for n in tags.get(LOWER_IS_BETTER_TAG, "").split(",") if n)


def racing_tags(stop: EarlyStop) -> dict[str, str]:
    """The tags of a variant a racing sweep stopped early (``.interval`` is ``low,high`` of its metric minus the
    leader's); a run with them answered only ``.questions`` questions and is never reused as a full run."""
    return {
        f"{RACING_TAG}.stopped": "true", f"{RACING_TAG}.questions": str(stop.questions), f"{RACING_TAG}.metric": stop.metric,
        f"{RACING_TAG}.interval": f"{stop.low:.6g},{stop.high:.6g}", f"{RACING_TAG}.estimate": f"{stop.estimate:.6g}",
        f"{RACING_TAG}.confidence": f"{stop.confidence:g}", f"{RACING_TAG}.tolerance": f"{stop.tolerance:g}",
        f"{RACING_TAG}.leader": stop.leader,
    }


def early_stop_from_tags(tags: Mapping[str, str]) -> EarlyStop | None:
    """Why a logged run was stopped early, read back from its ``racing_tags``; None for a run that was not."""
    if tags.get(f"{RACING_TAG}.stopped") != "true":
        return None
    questions = tags.get(f"{RACING_TAG}.questions", "")
    metric, leader = tags.get(f"{RACING_TAG}.metric", ""), tags.get(f"{RACING_TAG}.leader", "")
    try:
        low, high = (float(x) for x in tags[f"{RACING_TAG}.interval"].split(","))
        estimate, confidence = float(tags[f"{RACING_TAG}.estimate"]), float(tags[f"{RACING_TAG}.confidence"])
    except (KeyError, ValueError):  # tags edited by hand: still a run stopped early, the interval unknown
        low = high = estimate = confidence = math.nan
    tolerance = _number(tags.get(f"{RACING_TAG}.tolerance", 0.0))  # runs logged before the tolerance existed: none
    return EarlyStop(metric, int(questions) if questions.isdigit() else 0, leader, estimate, low, high, confidence,
                     math.nan if tolerance is None else tolerance)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def with_current_metadata(table: Mapping[str, Any], dataset: Dataset) -> dict[str, Any]:
    """A logged per-question table (``eval_results.json`` as MLflow writes it: ``columns`` and ``data``) with the
    ``metadata.<key>`` columns of ``dataset``'s cases as they are now in place of those it was logged with (pure).

    A reused run is logged with it: the metadata reach no model or scorer (they are not in the dataset's hash), so a
    run is reused after they change, and its copy then showed, in the MLflow UI and ``wb.compare``, the columns of the
    sweep that computed it beside the other variants' current ones. Placed where ``question_row`` places them.
    """
    cases = {c.id: c for c in dataset.cases}
    rows = [dict(zip(table["columns"], values)) for values in table["data"]]
    current = [{**{k: v for k, v in row.items() if not k.startswith("metadata.")}, **metadata_columns(cases[str(row["case_id"])])}
               for row in rows]
    kept = [c for c in table["columns"] if not c.startswith("metadata.")]
    added = list(dict.fromkeys(k for row in current for k in row if k.startswith("metadata.")))
    at = kept.index("question") + 1 if "question" in kept else len(kept)
    columns = [*kept[:at], *added, *kept[at:]]
    return {**table, "columns": columns, "data": [[row.get(c) for c in columns] for row in current]}


def records_from_table(rows: list[Mapping[str, Any]], dataset: Dataset, *, generates: bool) -> tuple[QuestionRecord, ...]:
    """Question records rebuilt from a variant's per-question table rows (as logged by ``VariantResult.records_frame``).

    Args:
        rows: the table's rows as mappings (column -> value).
        dataset: the sweep's dataset; every ``case_id`` of the table must be one of its cases.
        generates: whether the variant generated answers (retrieval-only records have no generation).

    Raises:
        KeyError: a row names a case the dataset does not have (the table belongs to another dataset).
    """
    cases = {c.id: c for c in dataset.cases}
    scorers = set(scorer_entries())
    out = []
    for row in rows:
        case = cases[str(row["case_id"])]
        ids = list(row.get("retrieved_ids") or [])
        texts = list(row.get("contexts") or [])
        scores_of = list(row.get("retrieval_scores") or [])
        chunk_ids = list(row.get("chunk_ids") or [""] * len(ids))
        sources = [Source.parse(str(source)) for source in ids]  # a PDF's chunk is logged with its pages
        hits = tuple(
            Hit(Chunk(id=str(cid), doc_id=source.doc_id, text=str(text), start=-1, end=-1, pages=source.pages), float(score))
            for cid, source, text, score in zip(chunk_ids, sources, texts, scores_of)
        )
        latency_ns = int((_number(row.get("latency_s")) or 0.0) * 1e9)
        error = _text(row.get("error")) or None
        generation = None
        if generates and error is None:
            generation = Generation(
                text=_text(row.get("answer")), input_tokens=int(_number(row.get("input_tokens")) or 0),
                output_tokens=int(_number(row.get("output_tokens")) or 0), latency_s=latency_ns / 1e9, cached=True,
                finish_reason=_text(row.get("finish_reason")) or "stop",
                prompt_tokens_cut=int(_number(row.get("prompt_tokens_cut")) or 0),
                # logged as unknown (the server sent no token counts): read back so, not as 0 tokens counted
                usage_reported=_number(row.get("input_tokens")) is not None,
            )
        scores = {name: Score(_number(value)) for name, value in row.items() if name in scorers}
        calls, escalation = _routing(row, generation)
        out.append(QuestionRecord(
            case=case, hits=hits, prompt="", generation=generation, started_ns=0, retrieved_ns=0, ended_ns=latency_ns,
            error=error, scores=scores, cost_usd=_number(row.get("cost_usd")), calls=calls, escalation=escalation,
        ))
    return tuple(out)


def _routing(row: Mapping[str, Any], answer: Generation | None) -> tuple[tuple[ModelCall, ...], Escalation | None]:
    """A router's calls and decision from its table row (``model_calls``, ``escalated``, ``escalation_reasons``); the
    last successful call carries the answer. Nothing for a row no router answered."""
    listed = row.get("model_calls")
    if not isinstance(listed, list) or not listed:
        return (), None
    calls = []
    for i, c in enumerate(listed):
        failed = _text(c.get("error")) or None
        last = i == len(listed) - 1
        generation = None if failed else Generation(
            text=answer.text if (answer is not None and last) else "", input_tokens=int(_number(c.get("input_tokens")) or 0),
            output_tokens=int(_number(c.get("output_tokens")) or 0), latency_s=0.0, cached=True,
        )
        model = _text(c.get("model"))
        calls.append(ModelCall(
            model_id=model, short_name=_text(c.get("short_name")) or model.split(":", 1)[-1], role=c.get("role", "cheap"),
            generation=generation, error=failed, cost_usd=_number(c.get("cost_usd")),
        ))
    reasons = tuple(str(r) for r in (row.get("escalation_reasons") or []))
    fired = tuple(r.split(":", 1)[0] for r in reasons)
    return tuple(calls), Escalation(bool(row.get("escalated")), fired, reasons)  # type: ignore[arg-type]
