"""One variant's result (``VariantResult``), why a racing sweep stopped it (``EarlyStop``), and the accounting of
variants' metrics: a reused run's, a sweep's totals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.grid import Variant
from workbench.pipeline import ChunkStats, QuestionRecord
from workbench.redaction import quoted_error, redact, redactor
from workbench.results._report import counted, failed_line
from workbench.results._rows import question_row, redacted_error, routing_columns
from workbench.sandbox import Outcome

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EarlyStop", "VariantResult", "reused_metrics", "sweep_totals"]


@dataclass(frozen=True)
class EarlyStop:
    """Why a racing sweep stopped a variant: after ``questions`` questions, the paired bootstrap interval of its
    ``metric`` minus the leader's, ``[low, high]`` at ``confidence``, lay entirely on the worse side of zero, or of
    ``tolerance`` when the race had one (the variant could not beat the leader by that much).

    Attributes:
        metric: the per-question score the sweep raced on.
        questions: the questions the variant had answered when it stopped.
        leader: the leading variant it was compared with (its name).
        estimate: the mean paired difference, variant minus leader.
        low, high: the interval's bounds.
        confidence: the interval's coverage.
        tolerance: the race's indifference zone (0: none).
    """

    metric: str
    questions: int
    leader: str
    estimate: float
    low: float
    high: float
    confidence: float = 0.95
    tolerance: float = 0.0

    @property
    def label(self) -> str:
        """One line: ``after 8 questions: token_f1 -0.412 [-0.530, -0.301] vs <leader>``, ending in ``(tolerance
        0.05)`` when the race had one."""
        within = f" (tolerance {self.tolerance:g})" if self.tolerance else ""
        return (f"after {self.questions} questions: {self.metric} {self.estimate:+.3f} [{self.low:+.3f}, {self.high:+.3f}] "
                f"vs {self.leader}{within}")


_KEPT_FRAME = "_records_frame"  # where a VariantResult keeps its per-question table (with the redactor it was built for)


@dataclass(frozen=True)
class VariantResult:
    """One variant's outcome: status, per-question records (with scores) and aggregate metrics.

    ``reused_from`` names the finished run this result was read from when the sweep reused it instead of computing it
    (same variant, dataset, corpus, models, scorers and workbench version). ``stopped_early`` says why a racing sweep
    stopped this variant before the last question (its records are the questions it answered); None otherwise.
    ``workdir`` is the variant's sandbox folder, kept when it did not finish (FAILED, STOPPED) to look into; ``""``
    for a variant that finished (its folder is removed) or was reused. ``tracking_uri`` is the store its ``run_id`` is
    in (``wb.promote`` looks there), None before it is logged.
    """

    variant: Variant
    outcome: Outcome
    records: tuple[QuestionRecord, ...]
    metrics: Mapping[str, float]
    chunk_stats: ChunkStats
    started_ms: int
    ended_ms: int
    run_id: str | None = None
    workdir: str = ""
    reused_from: str | None = None
    stopped_early: EarlyStop | None = None
    tracking_uri: str | None = None

    def __repr__(self) -> str:
        # the default repr holds every record with its prompt and retrieved chunks: pages of text in a notebook
        error = f", error={quoted_error(self.outcome.error)!r}" if self.outcome.error else ""
        return (f"VariantResult(variant={self.variant.name!r}, status={self.status!r}, questions={len(self.records)}, "
                f"run_id={self.run_id!r}{error})")

    def _repr_html_(self) -> str:
        """The variant as a notebook cell shows it: its name, status, questions and run, its error (one line, redacted)
        and its metrics, everything escaped (a name or an error may hold markup)."""
        import html

        head = (f"<b>{html.escape(self.variant.name)}</b>: {html.escape(self.status)}, {counted(len(self.records), 'question')}, "
                f"run {html.escape(str(self.run_id))}")
        error = f"<div>{html.escape(self.failed_line)}</div>" if self.outcome.error else ""
        names = "".join(f"<th>{html.escape(name)}</th>" for name in self.metrics)
        values = "".join(f"<td>{value:.4g}</td>" for value in self.metrics.values())
        table = f"<table border='0'><tr>{names}</tr><tr>{values}</tr></table>" if self.metrics else ""
        return f"<div class='wb-variant'><div>{head}</div>{error}{table}</div>"

    @property
    def failed_line(self) -> str:
        """``FAILED <variant>: <its error on one line>``, redacted and cut to fit a line: what ``workbench run`` and
        ``wb.run`` print of a variant that did not finish."""
        return failed_line(self.variant.name, self.outcome.error)

    @property
    def status(self) -> str:
        return self.outcome.status

    @property
    def question_errors(self) -> int:
        """Questions whose answer failed (a model error, a timeout): their answer scores are missing, not zero (their
        retrieval scores stand: the chunks were retrieved before the model failed)."""
        return sum(1 for r in self.records if r.error)

    @property
    def complete(self) -> bool:
        """Every question answered and judged: not stopped early by racing, no question errors, no judge call that
        failed (a rate limit, the network), no router call that failed (a cheap call that escalated for it, a strong
        call whose cheap answer stood). Only a complete run is reused by a later sweep: an incomplete one is computed
        again, its answers and judge replies read from the cache, so only what failed is asked again."""
        failed_calls = any(c.error for r in self.records for c in r.calls)
        return self.stopped_early is None and not self.question_errors and not self.metrics.get("judge_call_errors") and not failed_calls

    def records_frame(self) -> pd.DataFrame:
        """Per-question table: question, answer, why it ended (``finish_reason``: ``stop``, ``length`` when cut at
        max_tokens, ``content_filter``...), the tokens cut from the start of a prompt longer than the model's context
        window (``prompt_tokens_cut``), retrieved ids, every score, tokens, latency, error (a retrieval-only
        variant's table has no answer, tokens or cost columns). Texts are redacted as in MLflow: a notebook saves the
        table with its output. A router's table also says which model answered,
        whether it escalated and why, and lists its model calls (tokens and cost of each); its tokens and cost cover
        every call.

        Built once per result and kept with it while the environment's secrets stay as they are (a new secret
        variable builds it again, redacted for it); each call returns a copy. The sweep logs the table, its comparison
        reads it and a notebook's ``wb.compare(result)`` again: 1.4 s each over 5,000 questions, mostly redaction."""
        current = redactor()
        kept = self.__dict__.get(_KEPT_FRAME)
        if kept is None or kept[0] is not current:
            kept = (current, self._build_records_frame())
            self.__dict__[_KEPT_FRAME] = kept  # frozen: set beside the fields, as functools.cached_property does
        return kept[1].copy()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop(_KEPT_FRAME, None)  # a copy in another process builds its own (the redactor holds locks)
        return state

    def _build_records_frame(self) -> pd.DataFrame:
        import pandas as pd

        if not self.variant.generates:
            return pd.DataFrame([question_row(r.case, r.hits, r.latency_s, r.scores) for r in self.records])
        return pd.DataFrame([
            question_row(
                r.case, r.hits, r.latency_s, r.scores,
                reference=redact(r.case.reference) if r.case.reference else r.case.reference,
                answer=redact(r.answer) if r.answer else r.answer,
                # unknown, not 0, where the server sent no token counts: a comparison read 0 tokens as the fewest
                input_tokens=r.input_tokens if r.usage_reported else None,
                output_tokens=r.output_tokens if r.usage_reported else None,
                cost_usd=r.cost_usd,
                finish_reason=r.generation.finish_reason if r.generation else None,
                prompt_tokens_cut=r.generation.prompt_tokens_cut if r.generation else None,
                error=redacted_error(r.error),
                **(routing_columns(r) if self.variant.router is not None else {}),
            )
            for r in self.records
        ])


def reused_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """The metrics of a finished run as a sweep that reuses it logs them: the same results, with no call made, no
    call retried and no money spent in that sweep (as when its answers are read from the cache)."""
    out = dict(metrics)
    if "generation_calls" in out or "cache_hits" in out:
        out["cache_hits"] = out.get("cache_hits", 0.0) + out.get("generation_calls", 0.0)
        out["generation_calls"] = 0.0
    for retried in ("retries", "judge_retries"):
        if retried in out:
            out[retried] = 0.0
    if "judge_calls" in out:
        out["judge_cache_hits"] = out["judge_calls"]
    # nothing spent, known even where the run's own spending was not (a model without a price)
    for spent, calls in (("spent_usd", "generation_calls"), ("judge_spent_usd", "judge_calls")):
        if spent in metrics or calls in metrics:
            out[spent] = 0.0
    return out


def sweep_totals(variants: Sequence[VariantResult]) -> dict[str, float]:
    """A sweep's accounting, summed over its variants (its parent run's metrics, and what ``workbench run`` says it
    spent): ``generation_calls`` and ``cache_hits``, ``spent_usd`` (what the answering models' calls cost now, a
    router's every call) and ``judge_spent_usd`` (the judge's). A reused variant and an answer read from the cache
    spend nothing, nor does one whose every question failed (a failed call is not billed). A total is left out when a
    variant's is unknown (a model without a price, a server that sent no token counts) rather than shown smaller than
    it was (pure)."""
    answering = [v.metrics for v in variants if "generation_calls" in v.metrics]
    judged = [v.metrics for v in variants if "judge_calls" in v.metrics]
    out: dict[str, float] = {}
    if answering:
        out["generation_calls"] = sum(m["generation_calls"] for m in answering)
        out["cache_hits"] = sum(m.get("cache_hits", 0.0) for m in answering)
    # a variant with no answer logs no spent_usd (there is no cost to sum), which left the whole sweep's total unknown
    spent = [m.get("spent_usd", 0.0 if m.get("question_errors") == m.get("questions") else None) for m in answering]
    for total, values in (("spent_usd", spent), ("judge_spent_usd", [m.get("judge_spent_usd") for m in judged])):
        if values and all(v is not None for v in values):
            out[total] = sum(v for v in values if v is not None)
    return out
