"""Tests for deepfake_arena.metrics: hand-computed values, the vectorised bootstrap, and input checks."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from deepfake_arena import metrics as M
from deepfake_arena.metrics import (
    HIGHER_IS_BETTER,
    METRICS,
    MetricValue,
    accuracy,
    auc,
    average_precision,
    bootstrap_indices,
    compute_metrics,
    ece,
    eer,
    log_loss,
    tpr_at_fpr,
)


def _sample(n: int, seed: int, *, frac_fake: float = 0.4, decimals: int = 2):
    """Overlapping classes; rounding the scores makes many ties, as real detectors produce.

    No hard 0/1 scores: a rare clipped log loss of ~34.5 would dominate its interval's width.
    """
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < frac_fake).astype(int)
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.2).round(decimals), 0.01, 0.99)
    return y, p


# --------------------------------------------------------------------------- hand-computed values

# Running example: labels [0,0,1,1], scores [0.1,0.4,0.35,0.8].
# Descending: 0.8 (fake), 0.4 (real), 0.35 (fake), 0.1 (real).
Y4 = [0, 0, 1, 1]
P4 = [0.1, 0.4, 0.35, 0.8]


def test_auc_hand():
    # (fake, real) pairs: (0.35, 0.1) win, (0.35, 0.4) loss, (0.8, 0.1) win, (0.8, 0.4) win -> 3/4.
    assert auc(Y4, P4) == pytest.approx(0.75, abs=1e-15)


def test_auc_ties_count_half():
    # labels [0,1,0,1], scores [0.5,0.5,0.2,0.9]; pairs: fake 0.5 vs real 0.5 tie -> 0.5,
    # fake 0.5 vs 0.2 win, fake 0.9 beats both -> (0.5 + 1 + 1 + 1) / 4 = 0.875.
    assert auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) == pytest.approx(0.875, abs=1e-15)
    # All tied: one pair, a tie -> 0.5.
    assert auc([0, 1], [0.3, 0.3]) == 0.5


def test_perfect_separation():
    y, p = [0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]
    assert auc(y, p) == 1.0
    assert average_precision(y, p) == 1.0
    # ROC (0,0) -> (0,0.5) -> (0,1): FNR - FPR = 1, 0.5, 0 -> EER 0 at (0, 1).
    assert eer(y, p) == 0.0
    assert tpr_at_fpr(y, p, 0.0) == 1.0
    # Fully inverted: AUC 0, EER 1.
    assert auc(y, p[::-1]) == 0.0
    assert eer(y, p[::-1]) == 1.0


def test_average_precision_stepwise_hand():
    # Thresholds (descending): 0.8 -> tp 1 fp 0, P 1, R 0.5; 0.4 -> tp 1 fp 1, R unchanged (adds 0);
    # 0.35 -> tp 2 fp 1, P 2/3, R 1. AP = 0.5*1 + 0.5*(2/3) = 5/6 (interpolated AP would give 5/6 too
    # here, so see the next case).
    assert average_precision(Y4, P4) == pytest.approx(5 / 6, abs=1e-15)
    # labels [1,0,0,1], scores [0.9,0.8,0.7,0.6]: 0.9 -> P 1, R 0.5; 0.6 -> P 2/4, R 1.
    # Step-wise AP = 0.5*1 + 0.5*0.5 = 0.75 (trapezoidal PR area would give 0.5*1 + 0.5*0.75 = 0.875).
    assert average_precision([1, 0, 0, 1], [0.9, 0.8, 0.7, 0.6]) == pytest.approx(0.75, abs=1e-15)


def test_average_precision_ties_are_one_threshold():
    # labels [0,1,0,1], scores [0.5,0.5,0.2,0.9]: 0.9 -> P 1, R 0.5; the tie at 0.5 (one fake, one
    # real) is one threshold -> tp 2 fp 1, P 2/3, R 1. AP = 0.5 + 0.5*(2/3) = 5/6, whatever the order
    # of the tied samples.
    assert average_precision([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) == pytest.approx(5 / 6, abs=1e-15)
    assert average_precision([1, 0, 0, 1], [0.5, 0.5, 0.2, 0.9]) == pytest.approx(5 / 6, abs=1e-15)
    # All tied, 1 fake of 2: precision 1/2 at recall 1.
    assert average_precision([0, 1], [0.3, 0.3]) == 0.5


def test_eer_on_a_roc_point():
    # ROC of the running example: (0,0), (0,.5), (.5,.5), (.5,1), (1,1); FNR - FPR = 1, .5, 0, ... so
    # FPR == FNR == 0.5 exactly at (.5,.5).
    assert eer(Y4, P4) == pytest.approx(0.5, abs=1e-15)


def test_eer_interpolated():
    # labels [0,0,0,1,1], scores [0.1,0.6,0.6,0.6,0.9]. Descending: 0.9 (fake) -> (FPR 0, TPR 1/2);
    # the tie at 0.6 (2 reals, 1 fake) -> (2/3, 1); 0.1 -> (1, 1).
    # FNR - FPR: 1, 1/2, -2/3, -1; it crosses between (0, 1/2) and (2/3, 1), at
    # t = (1/2) / (1/2 + 2/3) = 3/7: FPR = 3/7 * 2/3 = 2/7, FNR = 1/2 - 3/7 * 1/2 = 2/7.
    assert eer([0, 0, 0, 1, 1], [0.1, 0.6, 0.6, 0.6, 0.9]) == pytest.approx(2 / 7, abs=1e-15)
    # All tied: the ROC is the diagonal (0,0)-(1,1); FPR == FNR at 1/2.
    assert eer([0, 1], [0.3, 0.3]) == pytest.approx(0.5, abs=1e-15)


def _tpr_case():
    # 100 reals: 98 at 0.1, one at 0.95, one at 0.85. 10 fakes: 5 at 0.99, 3 at 0.9, 2 at 0.5.
    # ROC (FPR, TPR) descending: 0.99 -> (0, .5); 0.95 -> (.01, .5); 0.9 -> (.01, .8);
    # 0.85 -> (.02, .8); 0.5 -> (.02, 1); 0.1 -> (1, 1).
    y = [0] * 100 + [1] * 10
    p = [0.1] * 98 + [0.95, 0.85] + [0.99] * 5 + [0.9] * 3 + [0.5] * 2
    return y, p


def test_tpr_at_fpr_budget_matters():
    y, p = _tpr_case()
    assert tpr_at_fpr(y, p, 0.01) == pytest.approx(0.8, abs=1e-15)  # one false alarm allowed
    assert tpr_at_fpr(y, p, 0.001) == pytest.approx(0.5, abs=1e-15)  # none allowed
    assert tpr_at_fpr(y, p, 0.0099) == pytest.approx(0.5, abs=1e-15)
    assert tpr_at_fpr(y, p, 0.02) == 1.0
    r = compute_metrics(y, p, n_bootstrap=0)
    assert r["tpr_at_1fpr"].value == pytest.approx(0.8, abs=1e-15)
    assert r["tpr_at_01fpr"].value == pytest.approx(0.5, abs=1e-15)


def test_tpr_at_fpr_tie_is_not_split():
    # A fake tied with a real at the top: the tie is one threshold (FPR 1/2), so at FPR <= 1% no fake
    # can be caught; the tie cannot be split in the fake's favour.
    assert tpr_at_fpr([0, 1, 0], [0.9, 0.9, 0.1], 0.01) == 0.0


def test_log_loss_hand():
    # -(ln 0.8 + ln(1 - 0.3) + ln 0.5) / 3.
    expected = -(math.log(0.8) + math.log(0.7) + math.log(0.5)) / 3
    assert log_loss([1, 0, 1], [0.8, 0.3, 0.5]) == pytest.approx(expected, rel=1e-14)


def test_log_loss_clips_hard_scores():
    # Scores 1.0 for a fake and for a real: the probability of the true class is clipped to
    # [eps, 1 - eps], so the losses are -ln(1 - eps) ~ eps and -ln(eps) = 15 ln 10 = 34.54; without
    # the clip the second would be infinite.
    eps = 1e-15
    expected = (-math.log1p(-eps) - math.log(eps)) / 2  # = 17.2694 for eps 1e-15
    assert log_loss([1, 0], [1.0, 1.0]) == pytest.approx(expected, rel=1e-12)
    assert log_loss([1, 0], [1.0, 1.0]) == pytest.approx(15 * math.log(10) / 2, rel=1e-9)
    assert log_loss([0, 1], [0.0, 1.0]) < 1e-14  # right and certain: ~0, not NaN
    assert log_loss([1, 0], [1.0, 1.0], eps=1e-3) == pytest.approx(
        (-math.log(1 - 1e-3) - math.log(1e-3)) / 2, rel=1e-12
    )


def test_accuracy_hand():
    # threshold 0.5, fake when score >= 0.5: predictions [1,1,0,0] vs labels [0,1,1,0] -> 2/4.
    assert accuracy([0, 1, 1, 0], [0.5, 0.5, 0.2, 0.1]) == 0.5
    # threshold 0.15: predictions [1,1,1,0] -> 3/4.
    assert accuracy([0, 1, 1, 0], [0.5, 0.5, 0.2, 0.1], threshold=0.15) == 0.75


def test_ece_hand_binned():
    # labels [1,1,0,1], scores [0.1,0.3,0.6,0.9], n_bins 2 (bins [0,.5), [.5,1]):
    # bin 0: scores .1,.3 (mean .2), labels mean 1 -> |1 - .2| * 2/4 = 0.4;
    # bin 1: scores .6,.9 (mean .75), labels mean .5 -> |.5 - .75| * 2/4 = 0.125. ECE = 0.525.
    y, p = [1, 1, 0, 1], [0.1, 0.3, 0.6, 0.9]
    assert ece(y, p, n_bins=2) == pytest.approx(0.525, abs=1e-15)
    # One bin: |mean label .75 - mean score .475| = 0.275; the bins above matter.
    assert ece(y, p, n_bins=1) == pytest.approx(0.275, abs=1e-15)


def test_ece_default_bins_and_edges():
    # 15 bins of width 1/15: 0.95 and 1.0 share the last bin [14/15, 1] (1.0 is not dropped):
    # mean score .975, mean label 1 -> ECE .025.
    assert ece([1, 1], [1.0, 0.95]) == pytest.approx(0.025, abs=1e-15)
    # Perfectly calibrated bin: 4 scores of 0.25, one fake -> 0.
    assert ece([1, 0, 0, 0], [0.25] * 4) == 0.0
    # 0.05 and 0.1 fall in bins 0 and 1 with 15 bins: |0 - .05|/2 + |1 - .1|/2 = 0.475.
    assert ece([0, 1], [0.05, 0.1]) == pytest.approx(0.475, abs=1e-15)


def test_one_class_rank_metrics_nan():
    y, p = [1, 1, 1], [0.2, 0.7, 0.9]
    for f in (auc, average_precision, eer):
        assert math.isnan(f(y, p))
    assert math.isnan(tpr_at_fpr(y, p, 0.01))
    r = compute_metrics(y, p, n_bootstrap=50)
    for name in ("auc", "ap", "eer", "tpr_at_1fpr", "tpr_at_01fpr"):
        v = r[name]
        assert math.isnan(v.value) and math.isnan(v.ci_low) and math.isnan(v.ci_high)
    # Accuracy: 0.7 and 0.9 are called fake -> 2/3; the others have values and intervals.
    assert r["accuracy"].value == pytest.approx(2 / 3)
    for name in ("log_loss", "accuracy", "ece"):
        assert np.isfinite([r[name].value, r[name].ci_low, r[name].ci_high]).all()
    assert r["accuracy"].n == 3


def test_metric_tables():
    assert METRICS == ("auc", "ap", "eer", "log_loss", "accuracy", "tpr_at_1fpr", "tpr_at_01fpr", "ece")
    assert set(HIGHER_IS_BETTER) == set(METRICS)
    assert [m for m in METRICS if not HIGHER_IS_BETTER[m]] == ["eer", "log_loss", "ece"]


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_indices_stratified():
    y = np.array([0, 1, 0, 0, 1, 0, 0])
    idx = bootstrap_indices(y, 40, seed=3)
    assert idx.shape == (40, 7)
    # Every row keeps 5 reals then 2 fakes, drawn only from their own class.
    assert (y[idx] == np.array([0] * 5 + [1] * 2)).all()
    assert np.array_equal(idx, bootstrap_indices(y, 40, seed=3))
    assert not np.array_equal(idx, bootstrap_indices(y, 40, seed=4))
    # It is a resample, not a permutation: some rows repeat a sample.
    assert any(len(set(row)) < 7 for row in idx.tolist())
    assert bootstrap_indices(y, 0).shape == (0, 7)


SCALAR_REF = {
    "auc": auc,
    "ap": average_precision,
    "eer": eer,
    "log_loss": log_loss,
    "accuracy": accuracy,
    "tpr_at_1fpr": lambda y, p: tpr_at_fpr(y, p, 0.01),
    "tpr_at_01fpr": lambda y, p: tpr_at_fpr(y, p, 0.001),
    "ece": ece,
}


def _matching_case(name: str):
    if name == "fpr_budget":  # 100 reals: FPR lands exactly on 1%, so `<=` vs `<` matters
        y, p = _tpr_case()
        return np.array(y), np.array(p)
    n, decimals, frac_fake = {
        "heavy_ties": (150, 1, 0.4),
        "some_ties": (300, 2, 0.2),
        "no_ties": (40, 6, 0.5),
    }[name]
    y, p = _sample(n, seed=n, decimals=decimals, frac_fake=frac_fake)
    p[:3] = [0.0, 1.0, 1.0]  # hard scores, so the log-loss clip and the last ECE bin are exercised
    return y, p


@pytest.mark.parametrize("case", ["heavy_ties", "some_ties", "no_ties", "fpr_budget"])
def test_vectorised_bootstrap_matches_slow_loop(case):
    y, p = _matching_case(case)
    n_boot = 60
    idx = bootstrap_indices(y, n_boot, seed=7)
    resamples = M._Resamples(y, p, idx)
    for name in METRICS:
        fast = M._BATCH[name](resamples)
        slow = np.array([SCALAR_REF[name](y[row], p[row]) for row in idx])
        assert fast.shape == (n_boot,)
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12, err_msg=name)
        assert np.ptp(slow) > 0, name  # the resamples differ, so the comparison has teeth
    # compute_metrics uses the same resamples: its intervals are the percentiles of the slow loop.
    r = compute_metrics(y, p, n_bootstrap=n_boot, seed=7, confidence=0.9)
    for name in METRICS:
        slow = [SCALAR_REF[name](y[row], p[row]) for row in idx]
        lo, hi = np.percentile(slow, [5, 95])
        if name in M.BIAS_SHIFTED:  # moved by the bootstrap's bias estimate
            shift = np.mean(slow) - SCALAR_REF[name](y, p)
            lo, hi = max(lo - shift, 0.0), max(hi - shift, 0.0)
        assert r[name].ci_low == pytest.approx(lo, abs=1e-12), name
        assert r[name].ci_high == pytest.approx(hi, abs=1e-12), name
        assert r[name].value == SCALAR_REF[name](y, p)


def test_ci_contains_estimate_and_shrinks_with_n():
    # tpr_at_01fpr is left out of the shrink check: with a few hundred reals it is a max over a
    # handful of reals' scores and its interval is dominated by them.
    small = compute_metrics(*_sample(300, seed=1), n_bootstrap=200, seed=0)
    large = compute_metrics(*_sample(3000, seed=2), n_bootstrap=200, seed=0)
    for name in METRICS:
        for r in (small, large):
            v = r[name]
            assert isinstance(v, MetricValue)
            assert v.ci_low <= v.value <= v.ci_high, (name, v)
            assert v.ci_low < v.ci_high, (name, v)
        if name != "tpr_at_01fpr":
            width_small = small[name].ci_high - small[name].ci_low
            width_large = large[name].ci_high - large[name].ci_low
            assert width_large < 0.6 * width_small, (name, width_small, width_large)
    assert small["auc"].n == 300 and large["auc"].n == 3000


def test_confidence_widens_interval():
    y, p = _sample(200, seed=5)
    r90 = compute_metrics(y, p, confidence=0.9, metrics=["auc"])["auc"]
    r99 = compute_metrics(y, p, confidence=0.99, metrics=["auc"])["auc"]
    assert r99.ci_low < r90.ci_low and r90.ci_high < r99.ci_high


def test_deterministic_by_seed():
    y, p = _sample(200, seed=11)
    a = compute_metrics(y, p, seed=5)
    b = compute_metrics(y, p, seed=5)
    c = compute_metrics(y, p, seed=6)
    assert a == b
    assert any(a[m].ci_low != c[m].ci_low or a[m].ci_high != c[m].ci_high for m in METRICS)
    assert all(a[m].value == c[m].value for m in METRICS)  # the point estimate has no randomness


def test_no_bootstrap_and_metric_subset():
    y, p = _sample(50, seed=3)
    r = compute_metrics(y, p, n_bootstrap=0, metrics=("ece", "auc"))
    assert list(r) == ["ece", "auc"]
    assert r["auc"].value == auc(y, p)
    assert math.isnan(r["auc"].ci_low) and math.isnan(r["auc"].ci_high)


def test_no_torch_import():
    code = "import sys, deepfake_arena.metrics; sys.exit('torch' in sys.modules or 'scipy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("labels", "scores", "message"),
    [
        ([0, 1, 1], [0.1, 0.9], "same length; got 3 labels and 2 scores"),
        ([[0, 1]], [[0.1, 0.9]], r"labels must be 1-D .* shape \(1, 2\)"),
        ([0, 1], [[0.1, 0.9]], r"scores must be 1-D .* shape \(1, 2\)"),
        ([], [], "empty"),
        ([0, 1], [0.1, float("nan")], "scores must be finite; got nan at index 1"),
        ([0, 1], [float("inf"), 0.2], "scores must be finite; got inf at index 0"),
        ([0, 1], [0.1, 1.5], r"scores must be probabilities P\(fake\) in \[0, 1\]; got 1.5 at index 1"),
        ([0, 1], [-0.2, 0.5], r"in \[0, 1\]; got -0.2 at index 0.*sigmoid"),
        ([0, 2], [0.1, 0.5], r"labels must be 0 \(real\) or 1 \(fake\); got 2 at index 1"),
        ([0, float("nan")], [0.1, 0.5], r"labels must be 0 \(real\) or 1 \(fake\); got nan at index 1"),
        ([-1, 1], [0.1, 0.5], "got -1 at index 0"),
        (["real", "fake"], [0.1, 0.5], "labels must be numeric"),
    ],
)
def test_bad_input_raises(labels, scores, message):
    for f in (
        auc,
        average_precision,
        eer,
        log_loss,
        accuracy,
        ece,
        lambda y, p: tpr_at_fpr(y, p, 0.01),
        compute_metrics,
    ):
        with pytest.raises(ValueError, match=message):
            f(labels, scores)


def test_bad_parameters_raise():
    y, p = [0, 1], [0.2, 0.8]
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['f1'\]; valid choices: auc, ap"):
        compute_metrics(y, p, metrics=["auc", "f1"])
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\); got 1.5"):
        compute_metrics(y, p, confidence=1.5)
    with pytest.raises(ValueError, match="n_bootstrap must be a non-negative integer; got -1"):
        compute_metrics(y, p, n_bootstrap=-1)
    with pytest.raises(ValueError, match="n_bins must be a positive integer; got 0"):
        ece(y, p, n_bins=0)
    with pytest.raises(ValueError, match=r"fpr must be in \[0, 1\]; got 1.2"):
        tpr_at_fpr(y, p, 1.2)
    with pytest.raises(ValueError, match=r"eps must be in \(0, 1\); got 0"):
        log_loss(y, p, eps=0)
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]; got -0.5"):
        accuracy(y, p, threshold=-0.5)


def test_accepts_bools_and_float_labels():
    p = [0.1, 0.4, 0.35, 0.8]
    assert auc([False, False, True, True], p) == auc([0.0, 0.0, 1.0, 1.0], p) == 0.75
    assert auc(np.array(Y4), np.array(P4, dtype=np.float32)) == 0.75


def test_ece_interval_contains_its_estimate_where_the_percentile_one_did_not():
    """Resampling inflates ECE: on well-calibrated scores every resample's ECE can exceed the
    sample's, and the plain percentile interval then excludes it (issue 27: 0.0849 with
    [0.088, 0.200]). The bias-shifted interval holds it."""
    excluded = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        p = rng.uniform(0.05, 0.95, 120)
        y = (rng.uniform(size=p.size) < p).astype(int)  # calibrated by construction
        r = compute_metrics(y, p, n_bootstrap=200, seed=seed, metrics=["ece"])["ece"]
        boot = M._Resamples(y, p, bootstrap_indices(y, 200, seed)).ece()
        lo, hi = np.percentile(boot, [2.5, 97.5])
        excluded += not lo <= r.value <= hi
        assert r.ci_low <= r.value <= r.ci_high, (seed, r)
        assert r.ci_high - r.ci_low <= hi - lo + 1e-12  # the same width, less any clipping at 0
    assert excluded > 0, "the premise: the percentile interval excludes the estimate on some seeds"
