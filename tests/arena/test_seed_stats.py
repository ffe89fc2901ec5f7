"""Small-sample statistics over seeds (analysis.seed_stats) against answers worked out by hand."""

import math

import numpy as np
import pytest
from scipy import stats

from deepfake_arena.analysis import seed_stats
from deepfake_arena.analysis.seed_stats import holm, min_sign_flip_p, sign_flip_p, t_interval


def test_t_interval_by_hand():
    # mean 2, sd 1, sem 1/sqrt(3), t(0.975, df=2) = 4.302653
    lo, hi = t_interval([1.0, 2.0, 3.0])
    half = 4.302652729749464 / math.sqrt(3)
    assert lo == pytest.approx(2 - half) and hi == pytest.approx(2 + half)
    lo90, hi90 = t_interval([1.0, 2.0, 3.0], confidence=0.90)
    assert lo < lo90 < hi90 < hi


def test_t_interval_drops_non_finite_and_needs_two_values():
    assert t_interval([1.0, float("nan"), 2.0, 3.0, float("inf")]) == t_interval([1.0, 2.0, 3.0])
    for few in ([], [1.0], [1.0, float("nan")]):
        assert all(math.isnan(v) for v in t_interval(few))
    assert t_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)
    with pytest.raises(ValueError, match="confidence"):
        t_interval([1.0, 2.0], confidence=95)


def test_sign_flip_all_positive_is_the_smallest_possible_p():
    # 3 values, 8 sign patterns; only the observed one reaches sum 6
    assert sign_flip_p([1.0, 2.0, 3.0]) == pytest.approx(1 / 8)
    assert sign_flip_p([1.0, 2.0, 3.0], "two-sided") == pytest.approx(2 / 8)
    assert sign_flip_p([1.0, 2.0, 3.0], "less") == pytest.approx(1.0)
    assert sign_flip_p([0.1, 0.2, 0.3, 0.4, 0.5]) == pytest.approx(min_sign_flip_p(5))


def test_sign_flip_one_small_negative_of_five_gives_two_of_32():
    # effect 4's case in issue 23: four positive seeds and one small negative one
    assert sign_flip_p([0.05, 0.04, 0.03, 0.02, -0.01]) == pytest.approx(2 / 32)


def test_sign_flip_by_hand_four_values():
    # signed sums of {1, 2, 3, 0.5}: only 6.5 and 5.5 reach the observed 5.5; |sum| >= 5.5: 4 of 16
    x = [1.0, 2.0, 3.0, -0.5]
    assert sign_flip_p(x) == pytest.approx(2 / 16)
    assert sign_flip_p(x, "two-sided") == pytest.approx(4 / 16)
    assert sign_flip_p(x, "less") == pytest.approx(15 / 16)


def test_sign_flip_ties_count_as_extreme():
    # sums of +-1 +-2 +-3: 6, 0, 2, -4, 4, -2, 0, -6; observed 0: five are >= 0, five are <= 0
    x = [1.0, 2.0, -3.0]
    assert sign_flip_p(x, "greater") == pytest.approx(5 / 8)
    assert sign_flip_p(x, "less") == pytest.approx(5 / 8)
    assert sign_flip_p(x, "two-sided") == pytest.approx(1.0)
    # 0.1 + 0.2 - 0.3 is not exactly 0 in floating point; the tie still counts
    assert sign_flip_p([0.1, 0.2, -0.3], "greater") == pytest.approx(5 / 8)


def test_sign_flip_zeros_and_non_finite_values():
    assert sign_flip_p([0.0, 1.0, 2.0]) == pytest.approx(1 / 4)  # a zero has no sign to flip
    assert sign_flip_p([float("nan"), 1.0, 2.0]) == pytest.approx(1 / 4)
    assert sign_flip_p([0.0, 0.0]) == 1.0
    assert math.isnan(sign_flip_p([float("nan")]))
    with pytest.raises(ValueError, match="alternative"):
        sign_flip_p([1.0], "bigger")


def test_sign_flip_matches_scipy_exact_permutation_test():
    x = np.random.default_rng(3).normal(0.2, 1.0, size=10)
    for alternative in seed_stats.ALTERNATIVES:
        ref = stats.permutation_test(
            (x,), np.mean, permutation_type="samples", alternative=alternative, n_resamples=np.inf
        ).pvalue
        assert sign_flip_p(x, alternative) == pytest.approx(ref)


def test_sign_flip_monte_carlo_above_the_exact_limit(monkeypatch):
    x = np.random.default_rng(4).normal(0.4, 1.0, size=12)
    exact = sign_flip_p(x)
    monkeypatch.setattr(seed_stats, "EXACT_MAX_N", 8)
    mc = sign_flip_p(x)
    assert mc == sign_flip_p(x)  # fixed seed: reproducible
    assert mc == pytest.approx(exact, abs=0.005)
    monkeypatch.undo()
    assert sign_flip_p(np.arange(1.0, 26.0)) == pytest.approx(1 / (1 + seed_stats.MC_RESAMPLES))


def test_min_sign_flip_p():
    assert min_sign_flip_p(5) == 1 / 32
    assert min_sign_flip_p(10) == 1 / 1024
    assert min_sign_flip_p(0) == 1.0
    with pytest.raises(ValueError):
        min_sign_flip_p(-1)


def test_holm_by_hand():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> raised to 0.06 (monotone)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_passes_nan_and_keeps_order():
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    out = holm([0.01, float("nan"), 0.04])  # NaN is not counted: m = 2
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.04)
    assert holm([]) == []
    assert holm([0.02]) == [0.02]
    with pytest.raises(ValueError, match="p-values"):
        holm([0.5, 1.5])
