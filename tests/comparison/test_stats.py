"""The comparison statistics against cases whose answer is known (pure: no models, no MLflow)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import workbench as wb

from workbench.comparison import bootstrap_mean, bootstrap_ratio, paired_bootstrap, paired_bootstrap_ratio, retrieval_at_k, verdict
from workbench.metrics import cost_per_success, direction, higher_is_better
from workbench.comparison._stats import tail

RNG = np.random.default_rng(7)
NOISY = RNG.uniform(0.2, 0.8, size=40).tolist()


def test_identical_variants_have_no_detectable_difference() -> None:
    diff = paired_bootstrap(NOISY, list(NOISY))
    assert diff.estimate == 0 and diff.low == 0 and diff.high == 0 and diff.n == 40
    assert verdict(diff) == "no detectable difference"
    assert verdict(diff, higher_is_better=False) == "no detectable difference"


def test_pure_noise_between_variants_is_not_called_a_difference() -> None:
    other = np.random.default_rng(11).permutation(NOISY).tolist()  # same values, shuffled across questions
    diff = paired_bootstrap(NOISY, other)
    assert diff.low < 0 < diff.high
    assert verdict(diff) == "no detectable difference"


def test_a_clear_shift_is_detected_with_the_right_sign() -> None:
    better = [x + 0.15 for x in NOISY]
    up = paired_bootstrap(NOISY, better)
    assert up.estimate == pytest.approx(0.15) and up.low > 0
    assert verdict(up) == "better"
    down = paired_bootstrap(better, NOISY)
    assert down.estimate == pytest.approx(-0.15) and down.high < 0
    assert verdict(down) == "worse"


def test_a_small_shift_on_few_noisy_questions_is_not_detected() -> None:
    base = NOISY[:6]
    shifted = [x + d for x, d in zip(base, (0.3, -0.25, 0.2, -0.2, 0.1, -0.1))]
    assert verdict(paired_bootstrap(base, shifted)) == "no detectable difference"


def test_lower_is_better_flips_the_verdict() -> None:
    slower = [x + 0.5 for x in NOISY]
    diff = paired_bootstrap(NOISY, slower)
    assert verdict(diff, higher_is_better=True) == "better"
    assert verdict(diff, higher_is_better=False) == "worse"
    for metric in ("latency_s", "latency_p95_s", "cost_usd", "cost_per_success_usd", "false_refusal", "output_tokens",
                   "input_tokens", "question_errors", "judge_cost_usd"):
        assert direction(metric) == "lower" and not higher_is_better(metric), metric
    for metric in ("token_f1", "hit_at_k", "faithfulness", "refusal_correct", "mrr"):
        assert direction(metric) == "higher", metric



def test_money_spent_calls_retries_and_judge_spread_are_better_low() -> None:
    # the sweep logs these per variant: a leaderboard sorted by one, or a gate on one, must rank the cheaper first
    for metric in ("spent_usd", "judge_spent_usd", "judge_calls", "generation_calls", "retries", "judge_retries", "faithfulness_std"):
        assert direction(metric) == "lower" and not higher_is_better(metric), metric
    for metric in ("judge_cache_hits", "cache_hits", "answer_relevancy"):
        assert direction(metric) == "higher", metric

def test_same_seed_same_interval_other_seed_other_interval() -> None:
    a = paired_bootstrap(NOISY, NOISY[::-1], seed=3)
    assert a == paired_bootstrap(NOISY, NOISY[::-1], seed=3)
    assert (a.low, a.high) != (paired_bootstrap(NOISY, NOISY[::-1], seed=4).low, paired_bootstrap(NOISY, NOISY[::-1], seed=4).high)
    assert bootstrap_mean(NOISY, seed=1) == bootstrap_mean(NOISY, seed=1)


def test_pairing_drops_questions_missing_on_either_side() -> None:
    base = [1.0, 0.0, None, 1.0, float("nan"), 0.5]
    cand = [1.0, 1.0, 1.0, None, 0.0, 0.5]
    diff = paired_bootstrap(base, cand)
    assert diff.n == 3  # questions 0, 1 and 5
    assert diff.estimate == pytest.approx((0 + 1 + 0) / 3)
    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap([1.0], [1.0, 2.0])


def test_too_little_data_gives_no_verdict() -> None:
    assert verdict(paired_bootstrap([0.1], [0.9])) == "not enough data"
    assert verdict(paired_bootstrap([None], [0.9])) == "not enough data"
    assert math.isnan(bootstrap_mean([]).estimate)


def test_mean_interval_contains_the_mean_and_narrows_with_more_questions() -> None:
    small = bootstrap_mean(NOISY[:10])
    large = bootstrap_mean(NOISY * 10)
    assert small.low <= small.estimate <= small.high
    assert (large.high - large.low) < (small.high - small.low)


def test_ratio_bootstrap_is_cost_per_success() -> None:
    costs = [0.002] * 10
    success = [1.0] * 5 + [0.0] * 5
    interval = bootstrap_ratio(costs, success)
    assert interval.estimate == pytest.approx(0.02 / 5)
    assert interval.low <= interval.estimate <= interval.high
    assert bootstrap_ratio(costs, [0.0] * 10).estimate == math.inf  # money spent, nothing succeeded
    assert math.isnan(bootstrap_ratio([0.0] * 10, [0.0] * 10).estimate)  # nothing spent, nothing succeeded
    hopeless = paired_bootstrap_ratio((costs, success), (costs, [0.0] * 10))
    assert hopeless.estimate == math.inf and verdict(hopeless, higher_is_better=False) == "worse"
    same = paired_bootstrap_ratio((costs, success), (costs, success))
    assert same.estimate == 0 and verdict(same, higher_is_better=False) == "no detectable difference"
    pricier = paired_bootstrap_ratio((costs, success), ([0.004] * 10, success))
    assert pricier.estimate == pytest.approx(0.004) and pricier.low > 0
    assert verdict(pricier, higher_is_better=False) == "worse"


def test_cost_per_success_function() -> None:
    assert cost_per_success([0.1, 0.1, 0.2], [0.9, 0.2, None], threshold=0.5) == pytest.approx(0.4)
    assert cost_per_success([0.1, 0.1], [0.6, 0.7], threshold=0.65) == pytest.approx(0.2)
    assert cost_per_success([0.1, None], [0.9, 0.9]) is None  # one unknown cost: unknown
    assert cost_per_success([0.1], [0.1]) == math.inf
    assert cost_per_success([0.0], [0.1]) is None
    assert cost_per_success([0.0, 0.0], [1.0, 0.0]) == 0.0


def test_retrieval_at_k_from_rankings() -> None:
    retrieved = [["a", "b", "c"], ["x", "a", "a"], ["x", "y", "z"], ["q", "r", "s"]]
    relevant = [["a", "c"], ["a"], ["z"], []]  # the last question has no labelled source: left out
    rows = retrieval_at_k(retrieved, relevant)
    assert [r[0] for r in rows] == [1, 2, 3]
    k1, k2, k3 = rows
    assert k1[1] == pytest.approx(1 / 3) and k1[2] == pytest.approx((0.5 + 0 + 0) / 3) and k1[3] == 3
    assert k2[1] == pytest.approx(2 / 3) and k2[2] == pytest.approx((0.5 + 1 + 0) / 3)
    assert k3[1] == pytest.approx(1.0) and k3[2] == pytest.approx(1.0)
    assert len(retrieval_at_k(retrieved, relevant, max_k=5)) == 5


def test_retrieval_curves_find_a_labelled_page_at_the_first_chunk_on_it() -> None:
    retrieved = [["handbook#page=1", "handbook#page=2-3", "leave"], ["handbook", "handbook#page=4"]]
    relevant = [["handbook#page=3", "leave"], ["handbook#page=4"]]  # a chunk whose pages are unknown is on none of them
    assert [(k, hit, recall) for k, hit, recall, _ in retrieval_at_k(retrieved, relevant)] == [
        (1, 0.0, 0.0), (2, 1.0, 0.75), (3, 1.0, 1.0)]


def test_intervals_are_scipys_percentile_bootstrap_expanded_for_the_number_of_questions() -> None:
    from scipy import stats

    # Hesterberg's expanded percentile interval: the percentile interval read at Phi(-sqrt(n/(n-1)) * t_{n-1}) per tail
    n = len(NOISY)
    expanded = 1 - 2 * stats.norm.cdf(-np.sqrt(n / (n - 1)) * stats.t.ppf(0.95, n - 1))
    assert 0.91 < expanded < 0.92  # 40 questions: a little wider than 90%
    # over the values in ascending order: the same values in any order give the same interval
    direct = stats.bootstrap((np.sort(NOISY),), np.mean, n_resamples=500, confidence_level=expanded, method="percentile",
                             rng=np.random.default_rng(4))
    mean = bootstrap_mean(NOISY, n_resamples=500, confidence=0.9, seed=4)
    assert (mean.low, mean.high) == pytest.approx(tuple(direct.confidence_interval), abs=1e-12)
    assert mean.estimate == pytest.approx(np.mean(NOISY)) and mean.confidence == 0.9
    other = np.random.default_rng(12).uniform(0.2, 0.8, size=40)
    expanded = 1 - 2 * stats.norm.cdf(-np.sqrt(n / (n - 1)) * stats.t.ppf(0.975, n - 1))
    order = np.argsort(other - np.asarray(NOISY), kind="stable")  # the pairs in ascending order of their differences
    paired = stats.bootstrap((np.asarray(NOISY)[order], other[order]), lambda a, b, axis: np.mean(b - a, axis=axis), paired=True,
                             confidence_level=expanded, n_resamples=500, method="percentile", rng=np.random.default_rng(4))
    diff = paired_bootstrap(NOISY, other.tolist(), n_resamples=500, seed=4)
    assert (diff.low, diff.high) == pytest.approx(tuple(paired.confidence_interval), abs=1e-12)


@pytest.mark.parametrize(("n", "seed", "n_resamples", "confidence"), [(5, 0, 2000, 0.95), (23, 3, 7, 0.9), (40, 1, 500, 0.99)])
def test_a_mean_interval_is_scipys_bootstrap_to_the_last_digits(n: int, seed: int, n_resamples: int, confidence: float) -> None:
    from scipy import stats

    from workbench.comparison._stats import tail

    values = np.random.default_rng(n).uniform(-3, 1e3, size=n)
    direct = stats.bootstrap((np.sort(values),), np.mean, n_resamples=n_resamples, confidence_level=1 - 2 * tail(n, confidence),
                             method="percentile", rng=np.random.default_rng(seed))
    for _ in range(2):  # the second call reads the resamples drawn by the first
        mean = bootstrap_mean(values.tolist(), n_resamples=n_resamples, confidence=confidence, seed=seed)
        # resampled sums are counted, not gathered: the same numbers but for the last bits of their rounding
        assert (mean.low, mean.high) == pytest.approx((direct.confidence_interval.low, direct.confidence_interval.high), rel=1e-13)


def test_a_sweeps_many_intervals_draw_their_resamples_once_per_question_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep's comparison computes a mean and a paired interval per variant and metric (thousands on a big grid): the
    resampled question indices depend only on the seed and the number of questions, so they are drawn once."""
    drawn = []
    real = np.random.default_rng
    monkeypatch.setattr(np.random, "default_rng", lambda *a, **k: drawn.append(a) or real(*a, **k))
    values = np.random.Generator(np.random.PCG64(5)).uniform(0, 1, size=(60, 30))
    for row in values:
        bootstrap_mean(row.tolist(), seed=9173)
        paired_bootstrap(values[0].tolist(), row.tolist(), seed=9173)
        bootstrap_mean(row[:20].tolist(), seed=9173)
    assert len(drawn) <= 2, f"{len(drawn)} draws for 180 intervals over 30 and 20 questions"  # at most one per question count


def test_degenerate_samples_keep_their_point_intervals() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no scipy warning either
        one = bootstrap_mean([0.4, None, float("nan")])
        assert (one.estimate, one.low, one.high, one.n) == (0.4, 0.4, 0.4, 1)
        flat = bootstrap_mean([0.25] * 12)
        assert (flat.low, flat.high) == pytest.approx((0.25, 0.25)) and flat.n == 12
        same = paired_bootstrap([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])
        assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    assert math.isnan(bootstrap_mean([None, float("nan")]).low)


def test_undefined_resamples_of_a_paired_ratio_count_against_the_claim() -> None:
    costs = [0.002] * 8
    baseline = [1.0, 1.0] + [0.0] * 6  # two successes: about one resample in ten has none
    hopeless = [0.0] * 8
    undefined = np.mean([(np.asarray(baseline)[i] == 0).all() for i in np.random.default_rng(0).integers(0, 8, (2000, 8))])
    assert undefined > 0.025  # more than the 95% interval's tail: no certainty is left
    diff = paired_bootstrap_ratio((costs, baseline), (costs, hopeless))
    assert diff.estimate == math.inf
    assert diff.low == -math.inf and diff.high == math.inf
    assert verdict(diff, higher_is_better=False) == "no detectable difference"
    many = [1.0] * 6 + [0.0] * 2  # a resample without a success is rare: still clearly worse
    clear = paired_bootstrap_ratio((costs, many), (costs, hopeless))
    assert clear.low == math.inf and verdict(clear, higher_is_better=False) == "worse"


@pytest.mark.parametrize("confidence", [95, 1.0, 0.0, -0.2, float("nan")])
def test_a_confidence_outside_zero_and_one_is_refused_by_every_interval(confidence: float) -> None:
    from workbench.comparison import early_stops

    xs, ys = [0.1, 0.5, 0.3, 0.9, 0.2], [0.2, 0.6, 0.2, 0.8, 0.4]
    calls = [  # 95 gave NaN intervals, 0 or -0.2 inverted ones that stopped racing variants, 1.0 the whole range
        lambda: bootstrap_mean(xs, confidence=confidence),
        lambda: paired_bootstrap(xs, ys, confidence=confidence),
        lambda: bootstrap_ratio(xs, ys, confidence=confidence),
        lambda: paired_bootstrap_ratio((xs, ys), (ys, xs), confidence=confidence),
        lambda: early_stops({"a": xs * 2, "b": ys * 2}, metric="token_f1", confidence=confidence),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=r"^confidence must be between 0 and 1, got .* — e\.g\. 0\.95 for 95% intervals$"):
            call()
    with pytest.raises(ValueError, match="n_resamples must be at least 1, got 0"):
        bootstrap_ratio(xs, ys, n_resamples=0)


@pytest.mark.parametrize("diffs", [[0.3, 0.5], [0.01, 0.9], [0.1, 0.2, 0.3], [0.05, 0.05, 0.05]])
def test_two_or_three_questions_are_not_enough_for_a_verdict(diffs: list[float]) -> None:
    from workbench.comparison import early_stops

    base = [0.2] * len(diffs)
    cand = [0.2 + d for d in diffs]
    diff = paired_bootstrap(base, cand)
    # at 95% the interval of 2 or 3 questions is the range of their differences (one question drawn every time is
    # at least 1/27 of the resamples): 'better' whenever each question improved, by any amount
    assert (diff.low, diff.high) == pytest.approx((min(diffs), max(diffs)))
    assert not diff.conclusive and not diff.excludes_zero
    assert verdict(diff) == "not enough data" and verdict(diff, higher_is_better=False) == "not enough data"
    assert early_stops({"good": cand, "bad": base}, metric="token_f1", min_questions=2) == {}
    report = wb.compare({"a": pd.DataFrame({"case_id": range(len(diffs)), "token_f1": base}),
                         "b": pd.DataFrame({"case_id": range(len(diffs)), "token_f1": cand})})
    assert report.verdict("b", "token_f1") == "not enough data"


def test_five_questions_can_carry_a_verdict_at_95_but_not_at_99_9() -> None:
    base, cand = [0.2] * 5, [0.5, 0.6, 0.55, 0.7, 0.65]
    assert verdict(paired_bootstrap(base, cand)) == "better"
    assert verdict(paired_bootstrap(base, cand, confidence=0.999)) == "not enough data"  # 5**-5 > tail(5, 0.999)
    assert verdict(paired_bootstrap(base * 3, cand * 3, confidence=0.999)) == "better"


def test_a_95_percent_verdict_is_wrong_about_5_percent_of_the_time_on_few_questions() -> None:
    # the plain percentile interval is too narrow on few questions: between variants that differ by nothing but
    # noise it called a difference on 11% of 8-question comparisons (24% of 4-question ones), not the 5% it claims
    rng = np.random.default_rng(5)
    trials = 300
    called = 0
    for seed in range(trials):
        base = rng.uniform(0, 1, 8)
        noise = rng.normal(0, 0.2, 8)  # a true mean difference of 0
        called += verdict(paired_bootstrap(base.tolist(), (base + noise).tolist(), seed=seed)) != "no detectable difference"
    assert called / trials <= 0.07
    # and with a true difference of 0.1 on 20 questions, the 95% interval covers it about 95% of the time
    covered = 0
    for seed in range(trials):
        base = rng.uniform(0, 1, 20)
        diff = paired_bootstrap(base.tolist(), (base + rng.normal(0.1, 0.2, 20)).tolist(), n_resamples=1000, seed=seed)
        covered += diff.low <= 0.1 <= diff.high
    assert 0.92 <= covered / trials <= 0.98


def test_four_questions_are_not_enough_for_a_verdict_at_95_percent() -> None:
    # at 4 questions the interval's bounds lie beyond every resample but the most extreme: only the range of the values
    assert verdict(paired_bootstrap([0.1, 0.2, 0.3, 0.4], [0.5, 0.7, 0.6, 0.9])) == "not enough data"
    assert verdict(paired_bootstrap([0.1, 0.2, 0.3, 0.4, 0.2], [0.5, 0.7, 0.6, 0.9, 0.8])) == "better"


def test_fewest_questions_is_where_an_interval_becomes_conclusive() -> None:
    from workbench.comparison import Interval, fewest_questions

    for confidence, fewest in ((0.8, 4), (0.95, 5), (0.99, 7)):
        assert fewest_questions(confidence) == fewest
        assert not Interval(0.1, 0.0, 0.2, fewest - 1, confidence).conclusive and Interval(0.1, 0.0, 0.2, fewest, confidence).conclusive


def _peak_bytes(fn) -> int:  # type: ignore[no-untyped-def]
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_ratio_intervals_over_many_questions_never_hold_every_resample_at_once() -> None:
    """A comparison over 5,000 questions gathered every resample's values at once: 2,000 x 5,000 x 4 floats (320 MB)
    for one paired cost-per-success interval. They are summed a block of resamples at a time, to the same numbers."""
    n, resamples = 2000, 1000
    rng = np.random.default_rng(3)
    cost, ok = rng.uniform(0, 1e-3, n), (rng.uniform(size=n) > 0.5).astype(float)
    cost2, ok2 = rng.uniform(0, 1e-3, n), (rng.uniform(size=n) > 0.3).astype(float)
    drawn = resamples * n * 8  # the resampled question indices, which every way of resampling needs
    paired = lambda: paired_bootstrap_ratio((cost.tolist(), ok.tolist()), (cost2.tolist(), ok2.tolist()), n_resamples=resamples)  # noqa: E731
    paired()  # scipy imported, the interval's tail computed: what is measured next is the resampling
    assert _peak_bytes(paired) < 1.5 * drawn
    assert _peak_bytes(lambda: bootstrap_ratio(cost.tolist(), ok.tolist(), n_resamples=resamples)) < 1.5 * drawn
    # the same intervals as the plain formula: every resample's sums, all at once
    idx = np.random.default_rng(0).integers(0, n, size=(resamples, n))
    order = np.lexsort((ok2, cost2, ok, cost))  # the questions in ascending order of their values, the baseline's cost first
    cost, ok, cost2, ok2 = cost[order], ok[order], cost2[order], ok2[order]
    with np.errstate(divide="ignore", invalid="ignore"):
        plain = cost2[idx].sum(-1) / ok2[idx].sum(-1) - cost[idx].sum(-1) / ok[idx].sum(-1)
    got = paired()
    assert got.estimate == pytest.approx(cost2.sum() / ok2.sum() - cost.sum() / ok.sum())
    expected = (np.quantile(plain, tail(n, 0.95), method="nearest"), np.quantile(plain, 1 - tail(n, 0.95), method="nearest"))
    assert (got.low, got.high) == pytest.approx(expected, rel=1e-12)


def test_intervals_over_many_question_counts_do_not_keep_every_draw_in_memory() -> None:
    """The drawn question indices were kept for the last 16 question counts, 80 MB each over 5,000 questions: a racing
    sweep looks at a growing count after every batch (and a comparison's metrics can each have their own), so a
    kernel held 1.3 GB after one. What is kept is bounded in bytes."""
    import gc
    import tracemalloc

    values = np.random.default_rng(5).uniform(size=5000).tolist()
    tracemalloc.start()
    try:
        for n in (4990, 4994, 4996, 4998, 5000):
            bootstrap_mean(values[:n])
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert kept < 200 * 2**20  # two draws of 80 MB at most, not five


def test_the_same_values_in_another_order_give_the_same_intervals() -> None:
    """A dataset file reordered (sorted by topic, a new export) gave the same means and slightly different intervals:
    the resamples drew question positions, so which value sat at a position moved every bound. Values are resampled in
    ascending order now: an interval depends on the values (the pairs, for a paired one), not on their order."""
    rng = np.random.default_rng(21)
    n = 60
    base, cand = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    cost, ok = rng.uniform(0, 1e-3, n), (rng.uniform(size=n) > 0.4).astype(float)
    cost2, ok2 = rng.uniform(0, 1e-3, n), (rng.uniform(size=n) > 0.3).astype(float)
    base[3] = cand[7] = cost[5] = ok2[9] = np.nan  # a question not scored is left out wherever it sits

    def intervals(order: np.ndarray) -> list[wb.comparison.Interval]:
        b, c, k, o, k2, o2 = (x[order].tolist() for x in (base, cand, cost, ok, cost2, ok2))
        return [bootstrap_mean(c, seed=3), paired_bootstrap(b, c, seed=3), bootstrap_ratio(k, o, seed=3),
                paired_bootstrap_ratio((k, o), (k2, o2), seed=3)]

    first = intervals(np.arange(n))
    for shuffle in range(3):
        assert intervals(np.random.default_rng(shuffle).permutation(n)) == first
    assert intervals(np.arange(n)[::-1]) == first
    assert all(i.low < i.estimate < i.high for i in first)  # intervals, not points


def test_a_comparison_of_reordered_tables_is_the_same_comparison() -> None:
    rng = np.random.default_rng(8)
    n = 50
    frames = {name: pd.DataFrame({"case_id": [f"q{i:03d}" for i in range(n)], "token_f1": rng.uniform(0, 1, n),
                                  "latency_s": rng.gamma(2, 0.5, n), "cost_usd": rng.gamma(2, 1e-4, n)})
              for name in ("base", "a", "b")}
    order = np.random.default_rng(1).permutation(n)
    reordered = {name: frame.iloc[order].reset_index(drop=True) for name, frame in frames.items()}
    pd.testing.assert_frame_equal(wb.compare(reordered).table, wb.compare(frames).table)


def test_the_resamples_of_20000_questions_are_drawn_once_for_a_comparisons_many_intervals(monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 resamples of 20,000 questions were 320 MB of drawn indices, more than is kept: every interval of a
    comparison (a mean and a difference per variant and metric) drew them again. Kept as 16-bit counts (80 MB), they
    are drawn once."""
    drawn = []
    real = np.random.default_rng
    monkeypatch.setattr(np.random, "default_rng", lambda *a, **k: drawn.append(a) or real(*a, **k))
    values = real(2).uniform(size=(3, 20000))
    for row in values:
        bootstrap_mean(row.tolist(), seed=7151)
        paired_bootstrap(values[0].tolist(), row.tolist(), seed=7151)
    assert drawn.count((7151,)) == 1
