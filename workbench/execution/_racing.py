"""Racing: run a sweep's variants in batches of questions and stop the ones already clearly worse than the leader.

``RacingExecutor`` wraps any executor. Every live variant answers the next ``batch`` questions (the same ones, in the
same order, so differences stay paired; the order is drawn from the sweep's seed, see ``racing_order``): each batch is
one ``VariantJob`` per live variant holding that batch's slice of its questions, run by the wrapped executor (worker
processes, isolation, limits and caches as usual; a live variant's worker process stays up between its batches, so it
loads its models once). After a batch on which a decision is due (``decision_due``: every batch at first, then once a
16th more questions were answered) the caller's decision (``workbench.comparison.early_stops``, handed in) names the
variants that stop; between batches only the new batch's records are read (each variant's result is merged from its
batches when it is handed back, not after every batch). A variant's result is handed back once: a stopped one as soon as it stops (FINISHED, with
``stopped_early`` and the records it has), one whose batch failed as FAILED with the records it has, the others after
the last batch (after which nothing is decided: stopping then would save nothing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace

from workbench.execution._executors import Executor, OnQuestion
from workbench.execution._worker import VariantJob, variant_metrics
from workbench.grid import Variant
from workbench.results import EarlyStop, VariantResult
from workbench.sandbox import Outcome
from workbench.spec import RacingSpec

__all__ = ["Decide", "RacingExecutor", "decision_due", "merge_parts", "metric_values", "metric_values_by_case", "racing_order"]

# per variant id, its metric on each question answered so far (aligned) -> the variants that stop, by id
Decide = Callable[[Mapping[str, Sequence[float | None]]], Mapping[str, EarlyStop]]


def merge_parts(parts: Sequence[VariantResult]) -> VariantResult:
    """One variant's result from its batches' results, in order (pure): their records, metrics over all of them,
    and the first outcome that is not FINISHED (else FINISHED), with that batch's kept sandbox."""
    records = tuple(r for part in parts for r in part.records)
    first = parts[0]
    unfinished = next((p for p in parts if p.status != "FINISHED"), first)
    return replace(
        first, outcome=unfinished.outcome, records=records, metrics=variant_metrics(records, first.variant),
        ended_ms=parts[-1].ended_ms, workdir=unfinished.workdir,
    )


def metric_values(result: VariantResult, metric: str, case_ids: Sequence[str]) -> list[float | None]:
    """A result's ``metric`` on each of ``case_ids`` (None where it has no such question or no such score)."""
    by_case = metric_values_by_case(result, metric)
    return [by_case.get(case_id) for case_id in case_ids]


def metric_values_by_case(result: VariantResult, metric: str) -> dict[str, float | None]:
    """A result's ``metric`` per question it has, by case id (None where the question has no such score)."""
    out: dict[str, float | None] = {}
    for record in result.records:
        score = record.scores.get(metric)
        out[record.case.id] = score.value if score is not None else None
    return out


# After the first batches, the questions between two decisions grow with the questions answered, to a 16th of them: a
# decision bootstraps every question answered so far for every live variant, so deciding after every batch of 4 made
# racing quadratic in questions (5,000 questions, 12 near-tied variants: 1,250 decisions, minutes of the sweep's time).
_DECISION_GROWTH = 16


def decision_due(answered: int, last: int, batch: int) -> bool:
    """Whether racing decides after ``answered`` questions, its last decision having been after ``last`` (pure): after
    every ``batch`` while fewer than ``_DECISION_GROWTH`` + 1 batches were answered at the last decision (68 questions
    in batches of 4: a sweep up to that size decides after every batch), then once a 16th more were answered, so a
    variant that should stop answers at most a 16th more questions than it would if racing decided after every batch,
    and a sweep's decisions grow with the logarithm of its questions."""
    return answered - last >= max(batch, last // _DECISION_GROWTH)


def racing_order(case_ids: Sequence[str], seed: int) -> list[str]:
    """The order in which a racing sweep asks its questions (pure): drawn from the sweep's seed and each question's
    id, so it is the same for every variant (differences stay paired) and for any order of the dataset file, and the
    first batches are not one topic of a file grouped by topic (a decision on them alone judged that topic only)."""
    return sorted(case_ids, key=lambda case_id: hashlib.sha256(f"{seed}\0{case_id}".encode()).digest())


def _in_order(result: VariantResult, position: Mapping[str, int]) -> VariantResult:
    """``result`` with its records in the dataset's order, as a sweep that is not raced logs them (pure)."""
    return replace(result, records=tuple(sorted(result.records, key=lambda r: position.get(r.case.id, len(position)))))


class RacingExecutor:
    """Runs jobs through ``inner`` in batches of questions, stopping the variants ``decide`` names.

    Args:
        inner: the executor each batch runs on.
        racing: the spec's ``execution.racing``.
        decide: which variants stop, given every competitor's scores so far (see ``Decide``).
        finished: results already complete (reused runs): they compete for the lead but never stop.
    """

    def __init__(self, inner: Executor, racing: RacingSpec, *, decide: Decide, finished: Sequence[VariantResult] = (), seed: int = 0) -> None:
        self.inner = inner
        self.racing = racing
        self.decide = decide
        self.finished = tuple(finished)
        self.seed = seed

    def run(
        self, jobs: Sequence[VariantJob], *, on_start: Callable[[Variant], None], on_question: OnQuestion, stop: Callable[[], bool],
        on_stopping: Callable[[], None] = lambda: None, abandon: Callable[[], bool] = lambda: False,
    ) -> Iterator[VariantResult]:
        position = {r.case.id: i for i, r in enumerate(jobs[0].retrieved)} if jobs else {}
        rank = {case_id: i for i, case_id in enumerate(racing_order(list(position), self.seed))}
        jobs = [replace(j, retrieved=tuple(sorted(j.retrieved, key=lambda r: rank[r.case.id]))) for j in jobs]
        live = {j.variant.id: j for j in jobs}
        parts: dict[str, list[VariantResult]] = {key: [] for key in live}
        names = {j.variant.id: j.variant.name for j in jobs} | {r.variant.id: r.variant.name for r in self.finished}
        total = max((len(j.retrieved) for j in jobs), default=0)
        started: set[str] = set()

        def start(variant: Variant) -> None:
            if variant.id not in started:  # once per variant, not once per batch
                started.add(variant.id)
                on_start(variant)

        def question(variant: Variant, kind: str, done: int, _of: int) -> None:  # counted over the whole variant
            on_question(variant, kind, asked[variant.id] + done, total)

        scored: dict[str, dict[str, float | None]] = {key: {} for key in live}  # per variant, its metric per question
        answered_ok = dict.fromkeys(live, 0)  # per variant, its questions answered without error so far
        asked = dict.fromkeys(live, 0)  # per variant, its questions asked in its earlier batches
        looked = 0  # questions answered at the last decision

        try:
            for first in range(0, total, self.racing.batch):
                if not live or stop():
                    break
                self.inner.keep_workers(live.keys())  # a variant's worker process loads its models once
                batch = [
                    replace(j, retrieved=j.retrieved[first : first + self.racing.batch], answered_before=answered_ok[key])
                    for key, j in live.items()
                ]
                ended = []
                for part in self.inner.run(batch, on_start=start, on_question=question, stop=stop, on_stopping=on_stopping, abandon=abandon):
                    key = part.variant.id
                    parts[key].append(part)
                    asked[key] += len(part.records)
                    answered_ok[key] += sum(1 for r in part.records if not r.error)
                    scored[key].update(metric_values_by_case(part, self.racing.metric))
                    if part.status != "FINISHED":  # a failed (or stopped) batch ends its variant
                        ended.append(key)
                for key in ended:
                    del live[key]
                    yield _in_order(merge_parts(parts[key]), position)
                if stop():
                    break  # some variants did not answer this batch: nothing to decide on
                answered_now = min(first + self.racing.batch, total)
                if answered_now >= total:
                    break  # the last batch: stopping now saves nothing, every live variant has answered every question
                if not decision_due(answered_now, looked, self.racing.batch):
                    continue
                looked = answered_now
                answered = [r.case.id for r in jobs[0].retrieved[:answered_now]]
                competitors = {key: [scored[key].get(c) for c in answered] for key in live if parts[key]}
                competitors |= {r.variant.id: metric_values(r, self.racing.metric, answered) for r in self.finished}
                for key, why in self.decide(competitors).items():
                    if key in live:
                        del live[key]
                        merged = _in_order(merge_parts(parts[key]), position)
                        yield replace(merged, stopped_early=replace(why, leader=names.get(why.leader, why.leader)))
            for key in live:
                if not parts[key]:
                    continue  # the sweep was stopped before this variant started: nothing to report for it
                result = _in_order(merge_parts(parts[key]), position)
                if len(result.records) < total and result.status == "FINISHED":  # the sweep was stopped between batches
                    result = replace(result, outcome=Outcome("STOPPED", "stopped by the user", "stopped"))
                yield result
        finally:
            self.inner.keep_workers(())
