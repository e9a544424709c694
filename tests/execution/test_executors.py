"""How many variants an executor runs at once."""

from __future__ import annotations

import pytest

from workbench.execution._executors import variants_at_once


@pytest.mark.parametrize(
    ("workers", "question_workers", "expected"),
    [(1, 1, 1), (8, 1, 8), (2, 1, 2), (8, 8, 3), (8, 2, 6), (8, 4, 4), (4, 4, 3), (2, 2, 2), (16, 8, 4)],
)
def test_variants_at_once_keeps_the_calls_filled_without_a_process_per_variant(workers: int, question_workers: int, expected: int) -> None:
    assert variants_at_once(workers, question_workers) == expected
