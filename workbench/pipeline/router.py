"""Cost-aware routing, the calls: answer a retrieved question with the router's cheap model, measure the signals,
escalate to the strong model when one fires (the decision itself is ``workbench.pipeline.route``).

A router is built from its spec and the sweep's models: ``Router.from_spec(router_spec, generator=..., params=...,
price=..., embedder=...)``; ``route_answer(found, template=..., router=...)`` then does for a router what
``generate_answer`` does for one model. Its record lists every call (model, role, tokens, cost, timings) and the
decision with its reasons; ``routing_metrics`` sums them per model.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from workbench.errors import ModelLoadError
from workbench.metrics import is_empty_answer, is_refusal
from workbench.models import Embedder, GenerationParams, Generator, Price, RetriesExhausted, cost_of
from workbench.pipeline.generate import QuestionRecord, format_context
from workbench.pipeline.index import Hit
from workbench.pipeline.route import Escalation, ModelCall, Role, Signals, decide, decide_before_answer, grounding
from workbench.prompts import PromptTemplate, RenderedPrompt
from workbench.spec import EscalationSpec, ModelSpec, RouterSpec

__all__ = ["RoutedModel", "Router", "route_answer", "routing_metrics"]


@dataclass(frozen=True)
class RoutedModel:
    """One of a router's two models, ready to answer: its spec, the generator serving it, its decoding parameters and
    its price (None: unknown, so costs are reported missing)."""

    spec: ModelSpec
    generator: Generator
    params: GenerationParams
    price: Price | None

    def call(self, role: Role, prompt: RenderedPrompt, deadline: float | None) -> ModelCall:
        """Ask the model; a failed call is a ``ModelCall`` with its error (and no cost), not an exception."""
        started = time.time_ns()
        retries = 0
        try:
            generation = self.generator.generate(prompt, self.params, deadline=deadline)
            error = None
        except ModelLoadError:
            raise  # every call would fail the same way: the variant fails, not each question
        except Exception as exc:  # noqa: BLE001 - a failed call is recorded; the router may still escalate
            generation, error = None, f"{type(exc).__name__}: {exc}"
            retries = exc.retries if isinstance(exc, RetriesExhausted) else 0
        cost: float | None
        if generation is None:
            cost = 0.0
        else:
            cost = cost_of(generation, self.price)
        text = prompt.text if self.generator.kind == "completion" else "\n\n".join(f"[{r}] {c}" for r, c in prompt.messages)
        return ModelCall(
            model_id=self.spec.id, short_name=self.spec.short_name, role=role, generation=generation, prompt=text,
            error=error, started_ns=started, ended_ns=time.time_ns(), cost_usd=cost, failed_retries=retries,
        )


@dataclass(frozen=True)
class Router:
    """A router ready to answer: cheap and strong models, the escalation thresholds, and the embedding model that
    measures grounding (the variant's retrieval embedding model)."""

    name: str
    cheap: RoutedModel
    strong: RoutedModel
    rule: EscalationSpec
    embedder: Embedder

    @classmethod
    def from_spec(
        cls,
        spec: RouterSpec,
        *,
        generator: Callable[[ModelSpec], Generator],
        params: Callable[[ModelSpec], GenerationParams],
        price: Callable[[str], Price | None],
        embedder: Embedder,
    ) -> Router:
        """Build a router from its spec.

        Args:
            spec: the router entry of the experiment.
            generator: the generator serving a model spec (the sweep's, behind its cache).
            params: the decoding parameters of a model spec (the sweep's seed included).
            price: the price of a model id (``ExperimentSpec.price``: the spec's ``pricing`` first).
            embedder: the variant's query embedding model, for the grounding signal.
        """
        cheap, strong = (RoutedModel(m, generator(m), params(m), price(m.id)) for m in spec.models)
        return cls(spec.name, cheap, strong, spec.escalate_when, embedder)

    def signals(self, answer: ModelCall, hits: Sequence[Hit], best: float | None) -> Signals:
        """Measure the signals of a cheap answer (grounding only when the router has a threshold for it)."""
        if answer.generation is None:
            return Signals(best_retrieval_score=best, cheap_error=answer.error or "no answer")
        text = answer.generation.text
        refused = is_refusal(text)
        grounded = None
        if self.rule.grounding_below is not None:
            if not is_empty_answer(text) and hits:  # "..." was embedded: punctuation has a direction of its own
                try:
                    vectors = self.embedder.embed([text, *(h.chunk.text for h in hits)])
                except Exception as exc:  # noqa: BLE001 - a hosted embedding model's failure is this question's, not the variant's
                    return Signals(best_retrieval_score=best, refused_or_empty=refused, grounding_error=f"{type(exc).__name__}: {exc}")
                grounded = grounding(vectors[0], vectors[1:])
            else:
                grounded = 0.0
        return Signals(best_retrieval_score=best, refused_or_empty=refused, grounding=grounded)


def route_answer(
    found: QuestionRecord,
    *,
    template: PromptTemplate,
    router: Router,
    deadline: float | None = None,
) -> QuestionRecord:
    """Answer a retrieved question (``retrieve_question``'s record) through a router.

    When the best retrieval score is below the router's threshold the strong model answers at once (the cheap one is
    not called: its answer could not change the decision). Otherwise the cheap model answers, its signals are
    measured, and the strong model answers again when any fires; when that call fails the cheap answer stands. A cheap
    answer cut off by the deadline is kept as it is (the caller stops the variant). The record's ``generation``/``error``
    are those of the answer that stands;
    ``calls``, ``escalation`` and ``cost_usd`` (every call, priced per model; None when a price is unknown) say the rest.
    """
    case, hits = found.case, found.hits
    retrieval_ns = found.retrieved_ns - found.started_ns
    retrieved = time.time_ns()
    started = retrieved - retrieval_ns
    prompt = template.render(question=case.question, context=format_context(hits))
    best = max((h.score for h in hits), default=None)
    calls: list[ModelCall] = []
    escalation = decide_before_answer(best, router.rule)
    if escalation is None:
        cheap = router.cheap.call("cheap", prompt, deadline)
        calls.append(cheap)
        if cheap.generation is not None and cheap.generation.finish_reason == "deadline":
            escalation = Escalation(False, signals=Signals(best_retrieval_score=best))
        else:
            signals = router.signals(cheap, hits, best)
            escalation = Escalation(False, signals=signals) if signals.grounding_error else decide(signals, router.rule)
    if escalation.escalate:
        calls.append(router.strong.call("strong", prompt, deadline))
    # a strong call that failed leaves the cheap answer standing, as a deployed router would fall back to it
    final = next((c for c in reversed(calls) if c.generation is not None), calls[-1])
    generation, error = final.generation, final.error
    if escalation.signals.grounding_error is not None:  # undecided: no answer stands, and the next sweep asks again
        generation, error = None, _undecided(router, escalation.signals.grounding_error)
    costs = [c.cost_usd for c in calls]
    return QuestionRecord(
        case=case, hits=hits, prompt=final.prompt, generation=generation, started_ns=started,
        retrieved_ns=retrieved, ended_ns=time.time_ns(), error=error,
        cost_usd=None if any(c is None for c in costs) else float(sum(c for c in costs if c is not None)),
        calls=tuple(calls), escalation=escalation,
    )


def _undecided(router: Router, why: str) -> str:
    """The error of a question whose grounding could not be measured: neither answer can be said to be the router's."""
    return (f"grounding_below could not be measured: embedding the cheap answer with {router.embedder.model_id} failed ({why}) "
            "— run again: the next sweep asks only the embedding again (the cheap answer is in the cache)")


def metric_suffix(name: str) -> str:
    """A model's short name as part of an MLflow metric name: a GGUF file stem may hold characters MLflow refuses
    (``model (1)``, ``smol+q4``), each becomes ``_``; cut to 200 characters (MLflow's names hold 250)."""
    return re.sub(r"[^A-Za-z0-9_.\- ]", "_", name)[:200] or "_"


def _per_model_names(router: RouterSpec) -> dict[Role, str]:
    """Names each role's model in the per-model metrics: its short name, followed by its role when the cheap and the
    strong model share one (the same model with other parameters), so their figures are not added together. Taken from
    the spec, not from the calls made, so a sweep in which one role was never called names its metrics the same way."""
    shared = router.cheap.short_name == router.strong.short_name
    return {role: f"{m.short_name}_{role}" if shared else m.short_name for role, m in (("cheap", router.cheap), ("strong", router.strong))}


def _counted(calls: Sequence[ModelCall]) -> bool:
    """Whether every answer among ``calls`` came with its token counts (pure)."""
    return all(c.generation.usage_reported for c in calls if c.generation is not None)


def routing_metrics(records: Sequence[QuestionRecord], router: RouterSpec) -> dict[str, float]:
    """A router variant's own metrics, from its question records (empty for records no router answered).

    ``escalation_rate``: the share of the questions the router decided that it escalated. A question it could not
    decide (its grounding embedding failed: the question failed) is left out, as one that failed before any model was
    asked is; no rate when it decided none. Per model ``tokens_<short name>`` (when its server counted them all),
    ``calls_<short name>`` and (when every price is known) ``cost_usd_<short name>``, for both models (0 for one that
    was not called); and the sweep-wide accounting
    summed over every call rather than one answer per question: ``input_tokens``, ``output_tokens`` (when counted),
    ``generation_calls`` (calls that reached a model now), ``cache_hits`` and (prices known) ``cost_usd`` and
    ``spent_usd`` — these replace the one-model figures for a router.
    """
    routed = [r for r in records if r.routed]
    if not routed:
        return {}
    calls = [c for r in routed for c in r.calls]
    decided = [r for r in routed if r.escalation is not None and r.escalation.signals.grounding_error is None]
    out: dict[str, float] = {
        "generation_calls": float(sum(1 for c in calls if c.generation is None or not c.generation.cached)),
        "cache_hits": float(sum(1 for c in calls if c.generation is not None and c.generation.cached)),
    }
    if _counted(calls):  # left out, not an undercount, when a server sent no token counts (as cost_usd is)
        out["input_tokens"] = float(sum(c.input_tokens for c in calls))
        out["output_tokens"] = float(sum(c.output_tokens for c in calls))
    if decided:
        out["escalation_rate"] = sum(1 for r in decided if r.escalated) / len(decided)
    for role, name in _per_model_names(router).items():
        mine = [c for c in calls if c.role == role]
        short = metric_suffix(name)
        if _counted(mine):
            out[f"tokens_{short}"] = float(sum(c.input_tokens + c.output_tokens for c in mine))
        out[f"calls_{short}"] = float(len(mine))
        costs = [c.cost_usd for c in mine]
        if all(c is not None for c in costs):
            out[f"cost_usd_{short}"] = float(sum(c for c in costs if c is not None))
    costs = [c.cost_usd for c in calls]
    if all(c is not None and math.isfinite(c) for c in costs):
        out["cost_usd"] = float(sum(c for c in costs if c is not None))
    # what the calls made now cost: an answer read from the cache cost nothing now, priced or not
    spent = [c.cost_usd for c in calls if c.generation is not None and not c.generation.cached]
    if all(c is not None and math.isfinite(c) for c in spent):
        out["spent_usd"] = float(sum(c for c in spent if c is not None))
    return out

