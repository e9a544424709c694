"""A question's latency counts a cached answer at the latency of the call that computed it."""

from __future__ import annotations

import pytest

from workbench.datasets import EvalCase
from workbench.models import Generation
from workbench.pipeline import QuestionRecord
from workbench.pipeline.route import ModelCall

CASE = EvalCase(id="q1", question="How does a loop end?", reference="With break.")
MS = 1_000_000


def gen(latency_s: float, cached: bool) -> Generation:
    return Generation(text="With break.", input_tokens=10, output_tokens=3, latency_s=latency_s, cached=cached)


def record(generation: Generation | None, calls: tuple[ModelCall, ...] = ()) -> QuestionRecord:
    # 20 ms of retrieval, then 5 ms until the answer
    return QuestionRecord(case=CASE, hits=(), prompt="", generation=generation, started_ns=0, retrieved_ns=20 * MS, ended_ns=25 * MS, calls=calls)


def test_a_computed_answer_counts_its_wall_time() -> None:
    assert record(gen(0.004, cached=False)).latency_s == pytest.approx(0.025)
    assert record(None).latency_s == pytest.approx(0.025)  # a failed call: the time it took


def test_a_cached_answer_counts_retrieval_plus_the_original_call() -> None:
    assert record(gen(2.0, cached=True)).latency_s == pytest.approx(0.020 + 2.0)


def test_a_routers_cached_call_counts_at_its_original_latency_and_a_computed_one_at_its_wall_time() -> None:
    cheap = ModelCall("local:a", "a", "cheap", gen(1.5, cached=True), started_ns=20 * MS, ended_ns=21 * MS)
    strong = ModelCall("local:b", "b", "strong", gen(0.003, cached=False), started_ns=21 * MS, ended_ns=25 * MS)
    assert record(strong.generation, (cheap, strong)).latency_s == pytest.approx(0.025 - 0.001 + 1.5)
