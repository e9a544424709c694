"""A comparison's intervals without importing scipy.stats (a second of every fresh process's sweep, most of its
comparison's cost): the same quantiles and tails from numpy and scipy.special, to the last bit."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from workbench.comparison._stats import _quantiles, tail


def test_a_comparison_computes_its_intervals_without_importing_scipy_stats() -> None:
    code = ("import sys, workbench as wb, pandas as pd\n"
            "frames = {n: pd.DataFrame({'case_id': list('abcdefgh'), 'token_f1': [i / 9 + k / 20 for i in range(8)]}) for k, n in enumerate('xyz')}\n"
            "report = wb.compare(frames, seed=2, n_resamples=50)\n"
            "assert report.table['mean_low'].notna().all()\n"
            "print('scipy.stats' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("seed", range(6))
def test_the_quantiles_are_scipys_to_the_last_bit(seed: int) -> None:
    from scipy import stats

    rng = np.random.default_rng(seed)
    rows, resamples = int(rng.integers(1, 6)), int(rng.integers(1, 300))
    means = rng.normal(size=(rows, resamples)).round(int(rng.integers(1, 4)))  # rounded: ties, as small samples give
    means[0, : resamples // 3] = -0.0 if seed % 2 else 0.0
    alphas = np.concatenate([[0.0, 1e-9], rng.uniform(0, 0.5, rows)])[:rows]
    p = np.asarray([[a, 1 - a] for a in alphas])
    assert np.array_equal(_quantiles(means, p), stats.quantile(means, p, axis=-1))
    assert np.array_equal(np.signbit(_quantiles(means, p)), np.signbit(stats.quantile(means, p, axis=-1)))


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 20, 50, 1000])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_the_expanded_tail_is_scipy_stats_to_the_last_bit(n: int, confidence: float) -> None:
    import math

    from scipy import stats

    alpha = (1 - confidence) / 2
    assert tail(n, confidence) == float(stats.norm.cdf(-math.sqrt(n / (n - 1)) * stats.t.ppf(1 - alpha, n - 1)))
