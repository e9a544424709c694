"""Checking that work grows linearly with its input, with no wall-clock limit.

A pattern that backtracks (a regex reading on from every start) turns a long input into minutes. The tests guarding
against that compare the CPU time of one input with four times that input, measured in the same process: linear work
takes about 4 times as long, quadratic work 16 times. So they hold on a slow or busy machine, and fail on the bug.
"""

from __future__ import annotations

import time
from collections.abc import Callable

GROWTH = 4
LIMIT = GROWTH**1.5  # halfway between linear (4x) and quadratic (16x) on a log scale
NOISE_S = 0.02  # a few milliseconds of timer and scheduler noise on a small input


def assert_linear_time(work: Callable[[int], object], size: int) -> None:
    """Fail unless ``work(GROWTH * size)`` takes at most about ``GROWTH`` times the CPU time of ``work(size)``.

    ``work(n)`` builds an input of ``n`` units and processes it; ``size`` should make the quadratic version take a
    noticeable time (tenths of a second), so its growth is measured above the noise.
    """
    work(size - 1)  # imports, compiled patterns and lazily built tables are not the input's cost
    # each call gets an input of its own (a size one unit apart), so no cache of earlier results answers it
    small = min(_cpu_seconds(work, size + i) for i in range(3))
    large = min(_cpu_seconds(work, GROWTH * size + i) for i in range(2))
    assert large <= LIMIT * small + NOISE_S, (
        f"{GROWTH}x the input took {large / max(small, 1e-9):.1f}x the CPU time ({small:.3f} s -> {large:.3f} s): "
        "the work is not linear in its input")


def _cpu_seconds(work: Callable[[int], object], size: int) -> float:
    started = time.process_time()
    work(size)
    return time.process_time() - started
