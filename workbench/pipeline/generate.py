"""Answer one question: retrieve, render the prompt with the retrieved context, generate."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from workbench.datasets import EvalCase
from workbench.errors import ModelLoadError
from workbench.metrics import Score
from workbench.models import Generation, GenerationParams, Generator, RetriesExhausted
from workbench.pipeline.index import Hit
from workbench.pipeline.retrieve import Retriever
from workbench.pipeline.route import Escalation, ModelCall
from workbench.prompts import PromptTemplate

__all__ = ["QuestionRecord", "answer_question", "format_context", "generate_answer", "retrieve_question"]


def format_context(hits: tuple[Hit, ...] | list[Hit]) -> str:
    """The retrieved chunks as one context string, best first, separated by blank lines."""
    return "\n\n".join(h.chunk.text.strip() for h in hits)


@dataclass(frozen=True)
class QuestionRecord:
    """What happened for one question of one variant (timings are wall-clock nanoseconds, for traces).

    A router's record also lists every model call it made (``calls``: the cheap one, then the strong one when it
    escalated) and its decision (``escalation``); ``generation`` is then the answer that stands, and tokens and cost
    cover every call. ``failed_retries``: the retries of a call that failed in the end (those of an answer are its
    generation's).
    """

    case: EvalCase
    hits: tuple[Hit, ...]
    prompt: str
    generation: Generation | None
    started_ns: int
    retrieved_ns: int
    ended_ns: int
    error: str | None = None
    scores: Mapping[str, Score] = field(default_factory=dict)
    cost_usd: float | None = None
    calls: tuple[ModelCall, ...] = ()
    escalation: Escalation | None = None
    failed_retries: int = 0

    @property
    def answer(self) -> str:
        return self.generation.text if self.generation else ""

    @property
    def routed(self) -> bool:
        """Whether a router answered this question (its calls and decision are recorded)."""
        return self.escalation is not None

    @property
    def answered_by(self) -> str:
        """The model (spec id) whose answer stands, for a routed record ("" otherwise: the variant's model; "" when no
        answer stands)."""
        if self.generation is None:
            return ""
        return next((c.model_id for c in reversed(self.calls) if c.generation is not None), "")

    @property
    def escalated(self) -> bool:
        return self.escalation is not None and self.escalation.escalate

    @property
    def input_tokens(self) -> int:
        if self.calls:
            return sum(c.input_tokens for c in self.calls)
        return self.generation.input_tokens if self.generation else 0

    @property
    def output_tokens(self) -> int:
        if self.calls:
            return sum(c.output_tokens for c in self.calls)
        return self.generation.output_tokens if self.generation else 0

    @property
    def retries(self) -> int:
        """Retries made for this question (rate limits, server errors, timeouts), by calls that answered or failed."""
        if self.calls:
            return sum(c.retries for c in self.calls)
        return self.generation.retries if self.generation else self.failed_retries

    @property
    def retrieved_ids(self) -> tuple[str, ...]:
        """The retrieved chunks' sources: their documents' ids, with their pages in a paged document (a PDF's)."""
        return tuple(h.chunk.source for h in self.hits)

    @property
    def latency_s(self) -> float:
        """Seconds from the question to its answer. A model call answered from the cache counts the latency of the
        call that computed it, not the cache read, so latency metrics do not depend on what was cached."""
        wall = (self.ended_ns - self.started_ns) / 1e9
        if self.calls:
            timed = [((c.ended_ns - c.started_ns) / 1e9, c.generation) for c in self.calls]
        else:
            timed = [((self.ended_ns - self.retrieved_ns) / 1e9, self.generation)]
        return wall + sum(g.latency_s - read for read, g in timed if g is not None and g.cached)

    @property
    def usage_reported(self) -> bool:
        """Whether every reply for this question came with its token counts (a server that sends none: its tokens read
        0, and are unknown)."""
        replies = [c.generation for c in self.calls] if self.calls else [self.generation]
        return all(g.usage_reported for g in replies if g is not None)

    @property
    def tokens(self) -> int:
        """Input plus output tokens of every model call made for this question."""
        return self.input_tokens + self.output_tokens


def retrieve_question(case: EvalCase, retriever: Retriever) -> QuestionRecord:
    """Retrieve for one case without generating (a retrieval-only variant's record: no prompt, no generation)."""
    started = time.time_ns()
    hits = tuple(retriever.retrieve(case.question))
    ended = time.time_ns()
    return QuestionRecord(case=case, hits=hits, prompt="", generation=None, started_ns=started, retrieved_ns=ended, ended_ns=ended)


def answer_question(
    case: EvalCase,
    *,
    retriever: Retriever,
    template: PromptTemplate,
    generator: Generator,
    params: GenerationParams,
    deadline: float | None = None,
) -> QuestionRecord:
    """Run the pipeline for one case. A model error becomes the record's ``error``; retrieval errors propagate."""
    found = retrieve_question(case, retriever)
    return generate_answer(found, template=template, generator=generator, params=params, deadline=deadline)


def generate_answer(
    found: QuestionRecord,
    *,
    template: PromptTemplate,
    generator: Generator,
    params: GenerationParams,
    deadline: float | None = None,
) -> QuestionRecord:
    """Answer a retrieved question (``retrieve_question``'s record): render the prompt with its context, generate.

    Retrieval may have run earlier or in another process: the record keeps its retrieval time, and its timeline is
    moved to end now. A model error becomes the record's ``error``.
    """
    case, hits = found.case, found.hits
    retrieval_ns = found.retrieved_ns - found.started_ns
    retrieved = time.time_ns()
    started = retrieved - retrieval_ns
    prompt = template.render(question=case.question, context=format_context(hits))
    retries = 0
    try:
        generation: Generation | None = generator.generate(prompt, params, deadline=deadline)
        error = None
    except (MemoryError, ModelLoadError):
        raise  # the variant's memory is exhausted, or its model cannot load: it fails, not each of its questions
    except Exception as exc:  # noqa: BLE001 - one failed call is an error row, not a failed sweep
        generation, error = None, f"{type(exc).__name__}: {exc}"
        retries = exc.retries if isinstance(exc, RetriesExhausted) else 0
    text = prompt.text if generator.kind == "completion" else "\n\n".join(f"[{r}] {c}" for r, c in prompt.messages)
    return QuestionRecord(
        case=case, hits=hits, prompt=text, generation=generation,
        started_ns=started, retrieved_ns=retrieved, ended_ns=time.time_ns(), error=error,
        failed_retries=retries,
    )
