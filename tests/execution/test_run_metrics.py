"""The metrics a variant's run logs are the ones ``workbench.metrics`` lists: the gates check a metric against that
list, so one the runner logs but the list forgets is refused in every gate, and one listed but never logged is
accepted in a gate no run can pass."""

from __future__ import annotations

from workbench.datasets import EvalCase
from workbench.execution import variant_metrics
from workbench.grid import Variant
from workbench.metrics import (
    ANSWER_METRICS,
    COST_METRICS,
    JUDGE_METRICS,
    RESERVED_NAMES,
    ROUTER_METRIC_PREFIXES,
    ROUTER_METRICS,
    RUN_METRICS,
    JudgeUsage,
    Score,
)
from workbench.models import Generation
from workbench.pipeline import Chunk, Escalation, Hit, ModelCall, QuestionRecord
from workbench.spec import ChunkerSpec, ModelSpec, PromptSpec, RetrievalSpec, RouterSpec

CHEAP, STRONG = "local:smollm2-135m-instruct", "local:gemma3-270m"
# every run's scores: a retrieval one, an answer's one that failed once (token_f1_errors), a judged one with repeats
SCORES = ({"hit_at_k": Score(1.0), "token_f1": Score(0.5),
           "faithfulness": Score(0.8, spread=0.1, judge=JudgeUsage(calls=3, input_tokens=9, output_tokens=3, cost_usd=0.01))},
          {"hit_at_k": Score(0.0), "token_f1": Score(None, error="boom"), "faithfulness": Score(0.6, spread=0.2, judge=JudgeUsage(calls=3))})
SCORED = {"hit_at_k", "token_f1", "token_f1_errors", "faithfulness", "faithfulness_std"}


def _record(i: int, *, answered: bool = True, routed: bool = False) -> QuestionRecord:
    chunk = Chunk(id="c1", doc_id="doc", text="The for statement iterates.", start=0, end=27)
    generation = Generation("It iterates.", 20, 4, 0.1) if answered else None
    calls = (ModelCall(CHEAP, "smollm2", "cheap", Generation("I don't know.", 20, 4, 0.1), cost_usd=0.001),
             ModelCall(STRONG, "gemma3", "strong", generation, cost_usd=0.002)) if routed else ()
    return QuestionRecord(case=EvalCase(id=f"q{i}", question="What does for do?", reference="It iterates."), hits=(Hit(chunk, 0.9),),
                          prompt="", generation=generation, started_ns=0, retrieved_ns=5, ended_ns=10, scores=SCORES[i],
                          cost_usd=0.003 if answered else None, calls=calls, escalation=Escalation(True) if routed else None)


def _variant(model: ModelSpec | RouterSpec | None) -> Variant:
    prompt = PromptSpec(name="p", template="{context}\n{question}") if model is not None else None
    return Variant(prompt, model, ChunkerSpec(strategy="recursive"), RetrievalSpec())


def _logged(metrics: dict[str, float]) -> set[str]:
    """The run's own metrics: its scores and a router's per-model ones aside."""
    return {m for m in metrics if m not in SCORED and not m.startswith(ROUTER_METRIC_PREFIXES)}


def test_a_retrieval_only_run_logs_exactly_the_metrics_of_every_run() -> None:
    records = tuple(_record(i, answered=False) for i in range(2))
    assert _logged(variant_metrics(records, _variant(None))) == set(RUN_METRICS)


def test_an_answering_priced_judged_run_logs_exactly_the_listed_metrics() -> None:
    records = tuple(_record(i) for i in range(2))
    metrics = variant_metrics(records, _variant(ModelSpec(id=CHEAP)))
    assert _logged(metrics) == {*RUN_METRICS, *ANSWER_METRICS, *COST_METRICS, *JUDGE_METRICS}
    assert SCORED <= set(metrics)  # the scores are there too (else _logged would hide a name gone missing)


def test_a_routers_run_logs_exactly_the_listed_metrics_and_its_per_model_ones() -> None:
    router = RouterSpec.model_validate({"name": "r", "cheap": {"id": CHEAP}, "strong": {"id": STRONG},
                                        "escalate_when": {"refusal_or_empty": True}})
    metrics = variant_metrics(tuple(_record(i, routed=True) for i in range(2)), _variant(router))
    assert _logged(metrics) == {*RUN_METRICS, *ANSWER_METRICS, *COST_METRICS, *JUDGE_METRICS, *ROUTER_METRICS}
    assert {p for p in ROUTER_METRIC_PREFIXES if any(m.startswith(p) for m in metrics)} == set(ROUTER_METRIC_PREFIXES)


def test_no_scorer_can_take_the_name_of_a_metric_a_run_logs() -> None:
    assert set(RUN_METRICS + ANSWER_METRICS + COST_METRICS + JUDGE_METRICS + ROUTER_METRICS) <= RESERVED_NAMES
