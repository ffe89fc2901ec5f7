"""Coverage of the 95% interval over seeds, simulated: the t interval holds it, the old bootstrap did not.

Each trial draws n per-seed values from a known distribution and asks whether the interval
contains the true mean; 2,000 trials per case (Monte Carlo standard error of a coverage near 95%:
about 0.005). Coverage measured (t interval / old percentile bootstrap); the first two rows are
the draws the tests below use, the others were drawn with numpy seed 1 and are not asserted:

    n             3            5            10           20
    normal        0.949/0.747  0.959/0.847  0.950/0.906  0.958/0.932
    gamma(8)      0.942/0.741  0.933/0.820  0.947/0.889  0.949/0.924
    gamma(4)      0.932/0.744  0.939/0.828  0.939/0.888  0.942/0.923
    gamma(2)      0.918/0.724  0.917/0.823  0.924/0.881  0.935/0.915
    exponential   0.877/0.722  0.895/0.790  0.896/0.856  0.915/0.894
    lognormal(1)  0.837/0.642  0.823/0.721  0.835/0.791  0.852/0.844

The t interval's true coverage (400,000 trials): normal 0.950 at every n; gamma(8) 0.942-0.945;
gamma(4) 0.932-0.942; gamma(2) 0.916-0.933.
"""

import numpy as np
import pytest

from deepfake_arena.analysis.seed_stats import _t_bounds, t_interval

TRIALS = 2000
MIN_COVERAGE = 0.93


def old_seed_ci(values, confidence=0.95, n_boot=2000):
    """A faithful copy of the removed `analysis.derived.seed_ci` (74cc961), kept as the reference."""
    x = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if x.size < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(0)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def _t_coverage(x: np.ndarray, mu: float) -> float:
    lo, hi = _t_bounds(x, 0.95)
    for row in range(5):  # the batched bounds are the public function's, row by row
        assert (lo[row], hi[row]) == pytest.approx(t_interval(x[row]), rel=1e-12)
    return float(np.mean((lo <= mu) & (mu <= hi)))


@pytest.mark.parametrize("n", [3, 5, 10, 20])
def test_t_interval_covers_normal_per_seed_values(n):
    x = np.random.default_rng(n).normal(0.0, 1.0, size=(TRIALS, n))
    assert _t_coverage(x, 0.0) >= MIN_COVERAGE


@pytest.mark.parametrize("n", [3, 5, 10, 20])
def test_t_interval_covers_moderately_skewed_per_seed_values(n):
    """gamma(shape 8): skewness 0.71, like a per-seed statistic that is a mean of a few skewed parts.

    Said plainly: the t interval does not hold 93% for strongly skewed per-seed values at small n.
    Measured (module docstring): gamma(4) (skewness 1) sits at 0.93-0.94, too close to the bar to
    assert with 2,000 trials; gamma(2) (1.41) gives 0.92 at n = 3 and 5; the exponential (2) 0.88
    at n = 3; the lognormal (6.2) 0.82-0.85 at every n. The old bootstrap was worse in every case.
    """
    shape = 8.0
    x = np.random.default_rng(100 + n).gamma(shape, 1.0, size=(TRIALS, n))
    assert _t_coverage(x, shape) >= MIN_COVERAGE


def test_old_percentile_bootstrap_undercovers_at_five_seeds():
    """The same check fails on the method this module replaced: 0.85 at n = 5 on normal data."""
    n = 5
    x = np.random.default_rng(n).normal(0.0, 1.0, size=(TRIALS, n))
    ci = np.array([old_seed_ci(row) for row in x])
    old = float(np.mean((ci[:, 0] <= 0.0) & (ci[:, 1] >= 0.0)))
    assert old < MIN_COVERAGE
    assert _t_coverage(x, 0.0) >= MIN_COVERAGE  # same draws, honest interval
