"""Cost-aware routing, the decision (pure): a router answers with its cheap model and escalates a question to its strong
model when a signal fires.

The signals of one question: the best retrieval score (known before any model answers), whether the cheap answer is
empty or a refusal, and how grounded it is (the largest cosine similarity between the answer's embedding and a
retrieved chunk's). ``decide`` turns signals and the router's thresholds into an ``Escalation``: escalate or not, and
every reason that fired. The calls themselves are in ``workbench.pipeline.router``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from workbench.metrics import cosine
from workbench.models import Generation
from workbench.redaction import quoted_error
from workbench.spec import EscalationSpec

__all__ = ["Escalation", "ModelCall", "Role", "Signal", "Signals", "decide", "decide_before_answer", "grounding"]

Signal = Literal["retrieval_score_below", "refusal_or_empty", "grounding_below", "cheap_failed"]
Role = Literal["cheap", "strong"]


@dataclass(frozen=True)
class ModelCall:
    """One model call made for a question: which model (the spec's id and short name), in which role, what came back,
    when, and what it cost (None: price unknown). ``prompt`` is the input as that model read it; ``failed_retries``:
    the retries a call that failed in the end made (those of an answer are its generation's)."""

    model_id: str
    short_name: str
    role: Role
    generation: Generation | None
    prompt: str = ""
    error: str | None = None
    started_ns: int = 0
    ended_ns: int = 0
    cost_usd: float | None = None
    failed_retries: int = 0

    @property
    def retries(self) -> int:
        return self.generation.retries if self.generation else self.failed_retries

    @property
    def input_tokens(self) -> int:
        return self.generation.input_tokens if self.generation else 0

    @property
    def output_tokens(self) -> int:
        return self.generation.output_tokens if self.generation else 0


@dataclass(frozen=True)
class Signals:
    """What a router measured for one question (None: not measured).

    Attributes:
        best_retrieval_score: the highest similarity among the retrieved chunks (None: nothing retrieved).
        refused_or_empty: the cheap answer is empty or declines (``workbench.metrics.is_refusal``).
        grounding: the largest cosine similarity of the cheap answer to a retrieved chunk (0 for an empty answer or
            nothing retrieved).
        cheap_error: the cheap model's error, when its call failed.
        grounding_error: why grounding could not be measured (the embedding call failed): the router cannot decide.
    """

    best_retrieval_score: float | None = None
    refused_or_empty: bool | None = None
    grounding: float | None = None
    cheap_error: str | None = None
    grounding_error: str | None = None


@dataclass(frozen=True)
class Escalation:
    """A router's decision for one question: whether the strong model answers, the signals that fired (in the order
    they are checked) with one readable reason each, and everything measured."""

    escalate: bool
    fired: tuple[Signal, ...] = ()
    reasons: tuple[str, ...] = ()
    signals: Signals = Signals()

    @property
    def reason_text(self) -> str:
        """The reasons joined for a table cell or a trace tag ("" when the cheap answer stood)."""
        return "; ".join(self.reasons)


def grounding(answer_vector: Sequence[float], chunk_vectors: Sequence[Sequence[float]]) -> float:
    """How grounded an answer is: its largest cosine similarity to any retrieved chunk (0.0 when there is none)."""
    return max((cosine(answer_vector, v) for v in chunk_vectors), default=0.0)


def _below(value: float, threshold: float) -> str:
    """``value < threshold`` as a reason reads it: the value to 3 decimals, or to as many more as show it below the
    threshold (0.34996 against 0.35 is "0.34996 < 0.35", not "0.350 < 0.35")."""
    digits = next((d for d in range(3, 17) if float(f"{value:.{d}f}") < threshold), 17)
    return f"{value:.{digits}f} < {threshold:g}"


def _retrieval_fires(best: float | None, rule: EscalationSpec) -> str | None:
    threshold = rule.retrieval_score_below
    if threshold is None:
        return None
    if best is None:
        return "retrieval_score_below: nothing retrieved"
    return f"retrieval_score_below: best retrieval score {_below(best, threshold)}" if best < threshold else None


def decide_before_answer(best_retrieval_score: float | None, rule: EscalationSpec) -> Escalation | None:
    """The escalation known before the cheap model answers: the retrieval signal. None when it does not fire (the
    cheap model answers); otherwise the strong model answers at once and the cheap one is not called."""
    reason = _retrieval_fires(best_retrieval_score, rule)
    if reason is None:
        return None
    return Escalation(True, ("retrieval_score_below",), (reason,), Signals(best_retrieval_score=best_retrieval_score))


def decide(signals: Signals, rule: EscalationSpec) -> Escalation:
    """Whether to escalate a question, from its signals and the router's thresholds.

    Every configured signal is checked and each that fires gives a reason; a question escalates when any fires. A
    failed cheap call always escalates (reason ``cheap_failed``). Signals left unmeasured (None) do not fire, except
    the retrieval signal, which fires when nothing was retrieved.

    Example:
        >>> rule = EscalationSpec(retrieval_score_below=0.3, refusal_or_empty=True)
        >>> decide(Signals(best_retrieval_score=0.5, refused_or_empty=True), rule).fired
        ('refusal_or_empty',)
    """
    fired: list[Signal] = []
    reasons: list[str] = []
    retrieval = _retrieval_fires(signals.best_retrieval_score, rule)
    if retrieval is not None:
        fired.append("retrieval_score_below")
        reasons.append(retrieval)
    if signals.cheap_error is not None:
        fired.append("cheap_failed")
        # its first line, cut short: a proxy's HTML error page went whole into the trace tag and the inspector's 'why'
        # (the whole error stays on the call and its span)
        reasons.append(f"cheap_failed: {quoted_error(signals.cheap_error)}")
    if rule.refusal_or_empty and signals.refused_or_empty:
        fired.append("refusal_or_empty")
        reasons.append("refusal_or_empty: the cheap answer is empty or a refusal")
    if rule.grounding_below is not None and signals.grounding is not None and signals.grounding < rule.grounding_below:
        fired.append("grounding_below")
        reasons.append(f"grounding_below: answer-to-context similarity {_below(signals.grounding, rule.grounding_below)}")
    return Escalation(bool(fired), tuple(fired), tuple(reasons), signals)
