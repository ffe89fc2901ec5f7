"""Small-sample statistics over seeds: intervals and exact paired tests that hold at n = 3-20.

An effect is measured once per seed (one number per run), and a study has few seeds. A
percentile bootstrap of the mean ignores both the t quantile and the (n-1)/n shrinkage of the
resampled variance, so at n = 5 its nominal 95% interval covers the true mean only ~85% of the
time. These helpers are the honest replacements:

- `t_interval`: Student t interval of the mean over seeds (coverage holds for normal data at
  any n, and nearly so for moderately skewed data);
- `sign_flip_p`: exact paired sign-flip permutation p-value of "mean > 0" (or < 0, or != 0);
- `min_sign_flip_p`: the smallest p a one-sided sign-flip test can give with n seeds, so a
  report can say when n is too small to ever pass;
- `holm`: Holm step-down adjustment over the effects tested together.

Torch-free (numpy and scipy only).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

EXACT_MAX_N = 20  # enumerate all 2^n sign patterns up to here (2^20 subset sums: ~8 MB, <0.1 s)
MC_RESAMPLES = 100_000  # Monte Carlo sign patterns above EXACT_MAX_N (fixed seed, reproducible)
MC_SEED = 0
ALTERNATIVES = ("greater", "less", "two-sided")


def _finite(values: Sequence[float]) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[np.isfinite(x)]


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Student t interval of the mean over seeds; non-finite values dropped, (nan, nan) for n < 2.

    Why t and not a bootstrap: with 3-10 seeds the bootstrap's spread is too narrow (no t
    quantile, variance shrunk by (n-1)/n), so its intervals undercover; the t interval is exact
    for normal per-seed values and close for mildly skewed ones (strong skew still undercovers:
    see tests/arena/test_seed_interval_coverage.py). Identical values give (mean, mean).
    """
    x = _finite(values)
    if x.size < 2:
        _check_confidence(confidence)
        return float("nan"), float("nan")
    lo, hi = _t_bounds(x[None, :], confidence)
    return float(lo[0]), float(hi[0])


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _t_bounds(x: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """t intervals of each row's mean, vectorised over rows. Shape: x `(rows, n)` finite, n >= 2."""
    _check_confidence(confidence)
    n = x.shape[1]
    mean = x.mean(axis=1)
    half = float(stats.t.ppf(0.5 + confidence / 2.0, df=n - 1)) * x.std(axis=1, ddof=1) / np.sqrt(n)
    return mean - half, mean + half


def _flipped_means(x: np.ndarray) -> np.ndarray:
    """Mean of x under every one of the 2^n sign patterns (identity pattern included).

    Flipping the values in a subset S turns sum(x) into sum(x) - 2 * sum(x[S]); the 2^n subset
    sums are built by doubling, one value at a time, so nothing of size 2^n x n is materialised.
    """
    sums = np.zeros(1)
    for v in x:
        sums = np.concatenate([sums, sums + v])
    return (x.sum() - 2.0 * sums) / x.size


def sign_flip_p(values: Sequence[float], alternative: str = "greater") -> float:
    """Paired sign-flip permutation p-value of the mean over seeds (per-seed differences).

    Under H0 each seed's difference is symmetric about 0, so its sign is a fair coin. p is the
    share of sign patterns whose mean is at least as extreme as the observed one, the observed
    pattern included (so p >= 2^-n): exact enumeration for n <= EXACT_MAX_N, else
    MC_RESAMPLES random patterns with a fixed seed and p = (1 + hits) / (1 + MC_RESAMPLES).
    alternative: "greater" (mean > 0), "less" (mean < 0) or "two-sided" (|mean| large).

    Non-finite values are dropped. Zeros carry no sign: flipping them changes nothing, so they
    are dropped too (the same p as keeping them, with n counting only the informative seeds).
    No informative value left gives p = 1; no finite value gives nan.
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    x = _finite(values)
    if x.size == 0:
        return float("nan")
    x = x[x != 0.0]
    if x.size == 0:
        return 1.0
    observed = float(x.mean())
    if x.size <= EXACT_MAX_N:
        null = _flipped_means(x)
    else:
        rng = np.random.default_rng(MC_SEED)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(MC_RESAMPLES, x.size))
        null = signs @ x / x.size
    tol = 1e-12 * float(np.abs(x).mean())  # subset sums in another order: rounding, not evidence
    if alternative == "greater":
        hits = null >= observed - tol
    elif alternative == "less":
        hits = null <= observed + tol
    else:
        hits = np.abs(null) >= abs(observed) - tol
    if x.size <= EXACT_MAX_N:
        return float(hits.mean())
    return float((1 + hits.sum()) / (1 + MC_RESAMPLES))


def min_sign_flip_p(n: int) -> float:
    """Smallest one-sided sign-flip p with n informative seeds: 2^-n (all same sign, the extreme).

    Why: with 5 seeds it is 1/32 = 0.031, so no correction over several effects can ever reach
    alpha = 0.05; a report should say so instead of calling the effect absent.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return float(2.0**-n)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in input order; NaN passes through and is not counted.

    Why Holm: it controls the family-wise error over the effects tested together without
    assuming independence, and is uniformly more powerful than Bonferroni. The k-th smallest of
    m p-values becomes max over j <= k of min(1, (m - j + 1) * p_(j)), so the result is monotone
    in the p-values and capped at 1.
    """
    p = np.asarray(pvalues, dtype=float).ravel()
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out.tolist()
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError(f"p-values must be in [0, 1], got {p[ok].tolist()}")
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out.tolist()
