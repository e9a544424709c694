import pytest

from tests.complexity import assert_linear_time


def test_linear_work_passes() -> None:
    assert_linear_time(lambda n: sum(range(n * 200)), 5_000)


def test_quadratic_work_fails() -> None:
    # what the linear-time tests guard against: reading on to the end from every start
    with pytest.raises(AssertionError, match="not linear in its input"):
        assert_linear_time(lambda n: sum(1 for i in range(n) for _ in range(i, n)), 1_000)
