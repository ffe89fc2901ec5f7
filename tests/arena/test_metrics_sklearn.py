"""The arena's metrics against scikit-learn's independent implementations, and the video-level
aggregation against a pandas group-by (skipped where scikit-learn is not installed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepfake_arena import metrics as M

sk = pytest.importorskip("sklearn.metrics")
calibration = pytest.importorskip("sklearn.calibration")


def _sample(seed: int, n: int = 300, ties: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(np.int64)
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0.01, 0.99)
    if ties:
        p = np.round(p, 2)  # many tied scores: the tie handling must agree too
    return y, p


SEEDS = [0, 1, 2]


@pytest.mark.parametrize("seed", SEEDS)
def test_auc_ap_log_loss_accuracy_agree(seed):
    y, p = _sample(seed)
    assert M.auc(y, p) == pytest.approx(sk.roc_auc_score(y, p), abs=1e-12)
    assert M.average_precision(y, p) == pytest.approx(sk.average_precision_score(y, p), abs=1e-12)
    assert M.log_loss(y, p) == pytest.approx(sk.log_loss(y, p), abs=1e-12)
    assert M.accuracy(y, p) == pytest.approx(sk.accuracy_score(y, p >= 0.5), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_tpr_at_fpr_and_eer_agree_with_sklearn_roc(seed):
    y, p = _sample(seed)
    fpr, tpr, _ = sk.roc_curve(y, p, drop_intermediate=False)
    for budget in (0.01, 0.001, 0.1):
        assert M.tpr_at_fpr(y, p, budget) == pytest.approx(tpr[fpr <= budget].max(), abs=1e-12)
    fnr = 1 - tpr
    k = int(np.argmax(fnr - fpr <= 0))
    d0, d1 = fnr[k - 1] - fpr[k - 1], fnr[k] - fpr[k]
    expected = fpr[k - 1] + d0 / (d0 - d1) * (fpr[k] - fpr[k - 1])
    assert M.eer(y, p) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_ece_agrees_with_sklearn_calibration_curve(seed):
    y, p = _sample(seed, ties=False)
    n_bins = 10
    prob_true, prob_pred = calibration.calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    edges = np.linspace(0, 1, n_bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], p, side="right"), minlength=n_bins)
    counts = counts[counts > 0]
    expected = float(np.sum(counts / len(y) * np.abs(prob_true - prob_pred)))
    assert M.ece(y, p, n_bins=n_bins) == pytest.approx(expected, abs=1e-12)


def test_bootstrap_interval_is_the_percentile_of_sklearn_on_the_same_resamples():
    y, p = _sample(5)
    idx = M.bootstrap_indices(y, 50, seed=9)
    per_resample = [sk.roc_auc_score(y[i], p[i]) for i in idx]
    got = M.compute_metrics(y, p, n_bootstrap=50, seed=9, metrics=["auc"])["auc"]
    assert got.ci_low == pytest.approx(np.percentile(per_resample, 2.5), abs=1e-12)
    assert got.ci_high == pytest.approx(np.percentile(per_resample, 97.5), abs=1e-12)


def test_video_level_is_the_mean_per_source():
    rng = np.random.default_rng(0)
    videos = np.repeat(np.arange(40), 6)  # 40 videos of 6 frames
    y = (videos % 2).astype(np.int64)
    p = np.clip(rng.normal(0.4 + 0.2 * y, 0.25), 0, 1)
    labels, scores, ids = M.video_level(y, p, videos)
    frame = pd.DataFrame({"v": videos, "y": y, "p": p}).groupby("v").mean()
    assert ids.tolist() == frame.index.tolist()
    np.testing.assert_allclose(scores, frame.p.to_numpy(), rtol=0, atol=1e-12)
    assert labels.tolist() == frame.y.astype(int).tolist()
    # Averaging frames removes frame noise: the video-level AUC is higher here.
    assert M.auc(labels, scores) == pytest.approx(sk.roc_auc_score(labels, scores))
    assert M.auc(labels, scores) > M.auc(y, p)


def test_video_level_rejects_mixed_groups_and_names_levels():
    with pytest.raises(ValueError, match=r"groups \[0\] mix real and fake"):
        M.video_level([0, 1, 0], [0.1, 0.2, 0.3], [0, 0, 1])
    with pytest.raises(ValueError, match="one id per sample"):
        M.video_level([0, 1], [0.1, 0.2], [0])
    assert M.level_metric("auc", "frame") == "auc" and M.level_metric("auc", "video") == "video_auc"
    with pytest.raises(ValueError, match="valid choices: frame, video"):
        M.level_metric("auc", "clip")
