"""Adapters that let ragas 0.4.3 metrics run on workbench's models (imported lazily: ``import ragas`` takes ~2 s).

- ``JudgeLLM``: ragas's ``InstructorBaseRagasLLM`` (what the ``ragas.metrics.collections`` metrics call with a
  prompt string and a pydantic output model) answered by a workbench ``Judge`` under a tightened JSON schema.
- ``CommittalJudgeLLM``: a ``JudgeLLM`` that keeps answer relevancy's noncommittal flags apart from its questions.
- ``CountedFaithfulness``: ragas's ``Faithfulness`` that takes the judge's verdicts only when there is one per statement.
- ``RagasEmbeddings``: ragas's ``BaseRagasEmbedding`` over a workbench ``Embedder``.
- ``SentenceStringSimilarity``: ragas's ``NonLLMStringSimilarity`` taken as the best match over the sentences of a
  retrieved chunk, the distance measure of the non-LLM context recall / precision scorers.
- ``ExactAveragePrecision``: the average precision of ragas's context precision metrics, computed exactly.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import re
import typing as t
from collections.abc import Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ValidationError
from ragas.dataset_schema import SingleTurnSample
from ragas.embeddings.base import BaseRagasEmbedding
from ragas.llms.base import InstructorBaseRagasLLM
from ragas.metrics.collections import Faithfulness
from ragas.metrics.collections.faithfulness.util import NLIStatementOutput
from ragas.metrics._string import NonLLMStringSimilarity

from workbench.models import Embedder
from workbench.scoring._judge import Judge, JudgeReply

T = t.TypeVar("T")
M = t.TypeVar("M", bound=BaseModel)

# Integer fields of ragas's output models that are binary verdicts: the schema pins them to 0/1 (unconstrained,
# a small judge writes verdicts like 1e15, which ragas then averages into a context precision of 1e15).
BINARY_FIELDS = frozenset({"verdict", "attributed", "noncommittal"})
# Text fields of ragas's output models that carry what is scored (a claim, a generated question): a blank one is no
# output (ragas scored an empty generated question as answer relevancy 0, and counted a blank statement as a claim).
CONTENT_FIELDS = frozenset({"statements", "statement", "question"})


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, also inside a running loop (Jupyter) via a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a ragas output model, inlined (no ``$ref``) and tightened: binary verdicts are 0 or 1,
    lists are not empty, objects have no extra keys. (A llama.cpp judge further bounds lengths to fit max_tokens.)"""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def walk(node: Any, name: str | None = None) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]]), name)
            out = {k: walk(v) for k, v in node.items() if k not in ("properties", "items")}
            kind = node.get("type")
            if kind == "object":
                out["properties"] = {k: walk(v, k) for k, v in node.get("properties", {}).items()}
                out["additionalProperties"] = False
            elif kind == "array":
                out["items"] = walk(node.get("items", {}))
                out.setdefault("minItems", 1)
            elif kind == "integer" and name in BINARY_FIELDS:
                out["enum"] = [0, 1]
            return out
        return node

    return t.cast(dict[str, Any], walk(schema))


def blank_content(value: Any, field: str | None = None, path: str = "") -> str | None:
    """Where the first blank string of a ``CONTENT_FIELDS`` field is in a judge's parsed output (e.g.
    ``statements/1``), else None (pure)."""
    if isinstance(value, dict):
        found = (blank_content(v, k, f"{path}/{k}" if path else k) for k, v in value.items())
    elif isinstance(value, list):
        found = (blank_content(v, field, f"{path}/{i}") for i, v in enumerate(value))
    else:
        return path if field in CONTENT_FIELDS and isinstance(value, str) and not value.strip() else None
    return next((where for where in found if where is not None), None)


class UnusableOutput(Exception):
    """The judge's answer cannot be used: not JSON, not matching the schema, or cut off."""

    def __init__(self, reason: str, reply: JudgeReply) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reply = reply


class JudgeLLM(InstructorBaseRagasLLM):
    """ragas's structured-output LLM interface, answered by a workbench ``Judge``; keeps every reply."""

    def __init__(self, judge: Judge, *, repeat: int = 0) -> None:
        self.judge = judge
        self.repeat = repeat
        self.replies: list[JudgeReply] = []

    def generate(self, prompt: str, response_model: type[M]) -> M:
        reply = self.judge.ask(prompt, strict_schema(response_model), repeat=self.repeat)
        if reply.error is not None:
            self.replies.append(reply)
            raise UnusableOutput(reply.error, reply)
        try:
            parsed = response_model.model_validate(reply.value)
        except ValidationError as exc:
            reply = replace(reply, value=None, error=f"judge output does not fit {response_model.__name__}: {exc.errors()[0]['msg']}")
            self.replies.append(reply)
            raise UnusableOutput(reply.error or "", reply) from None
        self.replies.append(reply)
        blank = blank_content(reply.value)
        if blank is not None:
            raise self.reject_last(f"judge output has an empty {blank} — a blank claim or question is nothing to score")
        return parsed

    async def agenerate(self, prompt: str, response_model: type[M]) -> M:
        return self.generate(prompt, response_model)

    def reject_last(self, reason: str) -> UnusableOutput:
        """The last reply, of the right shape, made unusable by what it says: kept as an error reply (counted in
        the judge's failures), and the exception to raise."""
        reply = replace(self.replies[-1], value=None, error=reason)
        self.replies[-1] = reply
        return UnusableOutput(reason, reply)


class CommittalJudgeLLM(JudgeLLM):
    """A ``JudgeLLM`` for ragas's answer relevancy asked one question per repeat: ragas gets every generated question
    as committal (so it scores its cosine) and the judge's flags are kept in ``noncommittal``, to zero the score only
    when every repeat found the answer noncommittal, as ragas does over its ``strictness`` questions."""

    def __init__(self, judge: Judge, *, repeat: int = 0) -> None:
        super().__init__(judge, repeat=repeat)
        self.noncommittal: list[bool] = []

    def generate(self, prompt: str, response_model: type[M]) -> M:
        parsed = super().generate(prompt, response_model)
        flag = getattr(parsed, "noncommittal", None)
        if flag is None:
            return parsed
        self.noncommittal.append(bool(flag))
        return parsed.model_copy(update={"noncommittal": 0})


class CountedFaithfulness(Faithfulness):
    """ragas's faithfulness (supported statements / statements), with the judge's verdicts checked to be one per
    statement: ragas divides by the number of verdicts, so a judge that judged one of five statements scored the
    answer on that one, and one that repeated a verdict counted it twice."""

    async def _create_verdicts(self, statements: list[str], context: str) -> NLIStatementOutput:
        verdicts = await super()._create_verdicts(statements, context)
        if len(verdicts.statements) != len(statements) and isinstance(self.llm, JudgeLLM):
            raise self.llm.reject_last(
                f"judge gave {len(verdicts.statements)} verdicts for the answer's {len(statements)} statements — "
                "faithfulness needs one per statement")
        return verdicts


class RagasEmbeddings(BaseRagasEmbedding):
    """ragas's embedding interface over a workbench ``Embedder``."""

    def __init__(self, embedder: Embedder) -> None:
        super().__init__(cache=None)
        self.embedder = embedder

    def embed_text(self, text: str, **kwargs: Any) -> list[float]:
        return self.embedder.embed([text])[0]

    async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
        return self.embed_text(text)

    def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return self.embedder.embed(list(texts))

    async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return self.embed_texts(texts)


# A sentence ends at . ! ? ; : (and Arabic ؟, Devanagari ।) before a space, at a Chinese or Japanese full stop, mark
# or colon (written with no space after it: 。．！？；：), or at a blank line.
_SENTENCE_END = re.compile(r"(?<=[.!?;:\u061f\u0964])\s+|(?<=[\u3002\uff0e\uff01\uff1f\uff1b\uff1a])\s*|\n\s*\n")
_QUOTES = str.maketrans({c: "" for c in "\"'`“”‘’*"})


def sentences(text: str) -> list[str]:
    """Split text into sentences (also at ``;`` and ``:``, and at "。" with no space after it), whitespace collapsed,
    quotes dropped, lower case; a piece with no letter or digit (a stray "-") is none, a one-character answer ("5",
    "是") is one."""
    parts = (" ".join(p.split()).translate(_QUOTES).lower().strip() for p in _SENTENCE_END.split(text))
    return [p for p in parts if any(ch.isalnum() for ch in p)]


@dataclass
class SentenceStringSimilarity(NonLLMStringSimilarity):
    """ragas's normalised string similarity of ``response`` (a reference sentence) against the best-matching
    sentence of ``reference`` (a retrieved chunk)."""

    name: str = "sentence_string_similarity"

    async def _single_turn_ascore(self, sample: SingleTurnSample, callbacks: Any) -> float:
        target = " ".join(str(sample.response).split()).translate(_QUOTES).lower()
        best = 0.0
        for sentence in sentences(str(sample.reference)):
            value = await super()._single_turn_ascore(SingleTurnSample(reference=sentence, response=target), callbacks)
            best = max(best, value)
        return best


def average_precision(verdicts: Sequence[int]) -> float:
    """Average precision of ranked 0/1 verdicts: the mean, over the relevant ranks, of the share of relevant items up to
    that rank (0 when nothing is relevant). ragas computes it dividing by the number of relevant items plus 1e-10, so
    a perfect ranking scored 0.9999999999 and one relevant chunk at rank 2 0.49999999995, below a threshold of 0.5;
    here it is the exact fraction, correctly rounded."""
    ranks = [rank for rank, verdict in enumerate(verdicts, start=1) if verdict]
    if not ranks:
        return 0.0
    return float(sum((Fraction(hits, rank) for hits, rank in enumerate(ranks, start=1)), Fraction(0)) / len(ranks))


class ExactAveragePrecision:
    """Mixin for a ragas context precision metric: its ``_calculate_average_precision`` by ``average_precision``."""

    def _calculate_average_precision(self, verdict_list: Sequence[int]) -> float:
        return average_precision(verdict_list)


@functools.cache
def context_precision_metric() -> type:
    """ragas's ``ContextPrecisionWithReference`` (the judged context precision) with an exact average precision."""
    from ragas.metrics.collections import ContextPrecisionWithReference

    return type("ContextPrecisionWithReference", (ExactAveragePrecision, ContextPrecisionWithReference), {})


def non_llm_context_scores(retrieved: Sequence[str], reference: str, *, threshold: float = 0.5) -> Mapping[str, float]:
    """ragas's non-LLM context recall and precision (``average_precision``), with the reference answer's sentences as
    reference contexts."""
    from ragas.metrics._context_recall import NonLLMContextRecall

    sample = SingleTurnSample(retrieved_contexts=list(retrieved), reference_contexts=sentences(reference))
    recall = NonLLMContextRecall(_distance_measure=SentenceStringSimilarity(), threshold=threshold)
    precision = _non_llm_precision_metric()(distance_measure=SentenceStringSimilarity(), threshold=threshold)

    async def both() -> tuple[float, float]:
        return await recall.single_turn_ascore(sample), await precision.single_turn_ascore(sample)

    r, p = run_sync(both())
    return {"recall": float(r), "precision": float(p)}


@functools.cache
def _non_llm_precision_metric() -> type:
    """ragas's ``NonLLMContextPrecisionWithReference`` with an exact average precision."""
    from ragas.metrics._context_precision import NonLLMContextPrecisionWithReference

    return type("NonLLMContextPrecisionWithReference", (ExactAveragePrecision, NonLLMContextPrecisionWithReference), {})


@functools.cache
def prompt_overhead() -> Mapping[str, int]:
    """The characters of each judge prompt of ragas's judged metrics filled with empty inputs: its instructions, output
    schema and examples, which every call sends (``faithfulness``'s two prompts as ``statements`` and ``verdicts``)."""
    from ragas.metrics.collections.answer_relevancy.util import AnswerRelevanceInput, AnswerRelevancePrompt
    from ragas.metrics.collections.context_precision.util import ContextPrecisionInput, ContextPrecisionPrompt
    from ragas.metrics.collections.context_recall.util import ContextRecallInput, ContextRecallPrompt
    from ragas.metrics.collections.faithfulness.util import (
        NLIStatementInput,
        NLIStatementPrompt,
        StatementGeneratorInput,
        StatementGeneratorPrompt,
    )

    return {
        "statements": len(StatementGeneratorPrompt().to_string(StatementGeneratorInput(question="", answer=""))),
        "verdicts": len(NLIStatementPrompt().to_string(NLIStatementInput(context="", statements=[]))),
        "answer_relevancy": len(AnswerRelevancePrompt().to_string(AnswerRelevanceInput(response=""))),
        "context_precision": len(ContextPrecisionPrompt().to_string(ContextPrecisionInput(question="", context="", answer=""))),
        "context_recall": len(ContextRecallPrompt().to_string(ContextRecallInput(question="", context="", answer=""))),
    }
