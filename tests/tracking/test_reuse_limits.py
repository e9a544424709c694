"""Which finished runs a sweep may reuse under its limits (``within_limits``, pure)."""

from __future__ import annotations

import pytest

from workbench.spec import Limits
from workbench.tracking._reuse import within_limits

ANSWERED = {"input_tokens": 900.0, "output_tokens": 100.0, "cost_usd": 0.30}


@pytest.mark.parametrize(("limits", "reused"), [
    (None, True),
    (Limits(), True),  # no budget: the wall time and memory bound the machine's work, not the answers
    (Limits(wall_time_s=0.001, memory_mb=64), True),
    (Limits(max_cost_usd=0.50), True),
    (Limits(max_cost_usd=0.30), True),  # a budget is passed when exceeded, as the sandbox counts it
    (Limits(max_cost_usd=0.20), False),
    (Limits(max_tokens=1000), True),
    (Limits(max_tokens=999), False),
    (Limits(max_tokens=5000, max_cost_usd=0.10), False),
])
def test_a_run_is_reusable_only_within_the_token_and_cost_budgets(limits: Limits | None, reused: bool) -> None:
    assert within_limits(ANSWERED, limits) is reused


def test_a_run_of_unknown_cost_cannot_have_kept_a_cost_budget_and_a_retrieval_only_run_spent_nothing() -> None:
    unpriced = {"input_tokens": 10.0, "output_tokens": 5.0}  # a server that sent no token counts: no cost_usd logged
    assert not within_limits(unpriced, Limits(max_cost_usd=100.0)) and within_limits(unpriced, Limits(max_tokens=15))
    retrieval_only = {"hit_at_k": 1.0, "mrr": 0.5, "questions": 4.0}
    assert within_limits(retrieval_only, Limits(max_cost_usd=0.01, max_tokens=1))


def test_a_reused_rows_unknown_tokens_are_read_back_unknown_not_as_0_counted() -> None:
    # a run whose server sent no token counts logs its questions' tokens as unknown (None): read back as 0 tokens
    # counted, the reused run's table and comparisons said 0 again
    from workbench.datasets import Dataset, EvalCase
    from workbench.tracking._reuse import records_from_table

    dataset = Dataset("d", (EvalCase(id="q1", question="When?"), EvalCase(id="q2", question="Where?")))
    rows = [{"case_id": "q1", "answer": "Then.", "input_tokens": None, "output_tokens": None, "latency_s": 0.5},
            {"case_id": "q2", "answer": "There.", "input_tokens": 12, "output_tokens": 3, "latency_s": 0.5}]
    unknown, counted = records_from_table(rows, dataset, generates=True)
    assert not unknown.usage_reported and counted.usage_reported and counted.tokens == 15
