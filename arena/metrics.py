"""Detection metrics on numpy, with stratified bootstrap confidence intervals.

Labels: 1 = fake, 0 = real. Scores: P(fake) in [0, 1], one per sample.

Pure numpy (no torch, no scipy) so that analysts' tools that import it start fast. Each metric has a
plain scalar function, which is the reference definition; `compute_metrics` evaluates the same
definitions on all bootstrap resamples at once, as `(n_bootstrap, n)` arrays, because a Python loop
over hundreds of resamples per (detector, strain, phase) cell would dominate a round's scoring.

Shape:
    labels, scores: `(n,)`; bootstrap indices: `(n_bootstrap, n)`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "HIGHER_IS_BETTER",
    "METRICS",
    "MetricValue",
    "accuracy",
    "auc",
    "average_precision",
    "bootstrap_indices",
    "compute_metrics",
    "ece",
    "eer",
    "level_metric",
    "log_loss",
    "tpr_at_fpr",
    "video_level",
]

METRICS: tuple[str, ...] = ("auc", "ap", "eer", "log_loss", "accuracy", "tpr_at_1fpr", "tpr_at_01fpr", "ece")
# One line each, for `arena list metrics`.
METRIC_NOTES: dict[str, str] = {
    "auc": "area under the ROC curve (0.5 = chance)",
    "ap": "average precision, fakes as the positive class",
    "eer": "equal error rate: where false positive and false negative rates meet",
    "log_loss": "binary cross-entropy of P(fake), the DFDC competition metric",
    "accuracy": "share classified correctly at P(fake) = 0.5",
    "tpr_at_1fpr": "share of fakes caught at a 1% false positive rate",
    "tpr_at_01fpr": "share of fakes caught at a 0.1% false positive rate",
    "ece": "expected calibration error over 15 equal-width bins of P(fake)",
}
HIGHER_IS_BETTER: dict[str, bool] = {
    "auc": True,
    "ap": True,
    "eer": False,
    "log_loss": False,
    "accuracy": True,
    "tpr_at_1fpr": True,
    "tpr_at_01fpr": True,
    "ece": False,
}
# Metrics whose bootstrap interval is shifted by the bootstrap's bias estimate (see compute_metrics).
BIAS_SHIFTED: frozenset[str] = frozenset({"ece"})
# Metrics that rank fakes against reals: undefined (NaN) when only one class is present.
RANK_METRICS: frozenset[str] = frozenset({"auc", "ap", "eer", "tpr_at_1fpr", "tpr_at_01fpr"})
_FPR_OF: dict[str, float] = {"tpr_at_1fpr": 0.01, "tpr_at_01fpr": 0.001}

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class MetricValue:
    """A metric on the full sample with its bootstrap percentile interval (NaN without bootstrap)."""

    value: float
    ci_low: float
    ci_high: float
    n: int


# --------------------------------------------------------------------------- input checks


def _check_inputs(labels: ArrayLike, scores: ArrayLike) -> tuple[IntArray, FloatArray]:
    """Validate at the boundary and return `(labels as int64, scores as float64)`, never clipping."""
    y = np.asarray(labels)
    p = np.asarray(scores)
    for name, a in (("labels", y), ("scores", p)):
        if a.ndim != 1:
            raise ValueError(f"{name} must be 1-D (one value per sample); got shape {a.shape}")
        if a.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be numeric; got dtype {a.dtype}")
    if y.shape != p.shape:
        raise ValueError(
            f"labels and scores must have the same length; got {y.shape[0]} labels and {p.shape[0]} scores"
        )
    if y.size == 0:
        raise ValueError("labels and scores are empty; need at least one sample")
    bad = ~((y == 0) | (y == 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"labels must be 0 (real) or 1 (fake); got {y[i].item()!r} at index {i} "
            f"({int(bad.sum())} bad in all)"
        )
    p = p.astype(np.float64)
    nonfinite = ~np.isfinite(p)
    if nonfinite.any():
        i = int(np.flatnonzero(nonfinite)[0])
        raise ValueError(
            f"scores must be finite; got {p[i].item()!r} at index {i} ({int(nonfinite.sum())} NaN/inf in all)"
        )
    outside = (p < 0.0) | (p > 1.0)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"scores must be probabilities P(fake) in [0, 1]; got {p[i].item()!r} at index {i} "
            f"({int(outside.sum())} outside in all; min {p.min().item()!r}, max {p.max().item()!r}). "
            "Pass sigmoid(logits), not logits."
        )
    return y.astype(np.int64), p


def _check_unit(name: str, x: float, *, open_low: bool = False, open_high: bool = False) -> None:
    lo_ok = x > 0 if open_low else x >= 0
    hi_ok = x < 1 if open_high else x <= 1
    if not (np.isfinite(x) and lo_ok and hi_ok):
        lo, hi = "(0" if open_low else "[0", "1)" if open_high else "1]"
        raise ValueError(f"{name} must be in {lo}, {hi}; got {x!r}")


def _check_n_bins(n_bins: int) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer; got {n_bins!r}")


# --------------------------------------------------------------------------- scalar metrics


def _roc_points(y: IntArray, p: FloatArray) -> tuple[IntArray, IntArray]:
    """ROC as cumulative counts `(fp, tp)` at each distinct threshold, descending, with (0, 0) first.

    Tied scores form one threshold: a detector cannot split them, so the ROC moves diagonally.
    """
    _, group = np.unique(p, return_inverse=True)  # ascending distinct scores
    tp_g = np.bincount(group, weights=y)[::-1]
    n_g = np.bincount(group)[::-1]
    tp = np.concatenate([[0], np.cumsum(tp_g)]).astype(np.int64)
    fp = np.concatenate([[0], np.cumsum(n_g)]).astype(np.int64) - tp
    return fp, tp


def _one_class(y: IntArray) -> bool:
    n1 = int(y.sum())
    return n1 == 0 or n1 == y.size


def auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """ROC AUC as the Mann-Whitney statistic: P(score of a fake > score of a real), ties count half.

    Computed from mid-ranks, so it equals the trapezoid area under the tie-aware ROC. NaN if only one
    class is present (nothing to rank against).
    """
    y, p = _check_inputs(labels, scores)
    if _one_class(y):
        return float("nan")
    _, group, counts = np.unique(p, return_inverse=True, return_counts=True)
    below = np.cumsum(counts) - counts  # samples strictly lower than each group
    midrank = below + (counts + 1) / 2.0  # 1-based average rank of each tie group
    n1 = int(y.sum())
    n0 = y.size - n1
    u = midrank[group][y == 1].sum() - n1 * (n1 + 1) / 2.0
    return float(u / (n1 * n0))


def average_precision(labels: ArrayLike, scores: ArrayLike) -> float:
    """Step-wise average precision, `sum_k (R_k - R_{k-1}) P_k` over descending thresholds.

    Same definition as sklearn's `average_precision_score`: no interpolation of the PR curve, which
    would be optimistic. NaN if only one class is present.
    """
    y, p = _check_inputs(labels, scores)
    if _one_class(y):
        return float("nan")
    fp, tp = _roc_points(y, p)
    precision = tp[1:] / (tp[1:] + fp[1:])
    return float(np.sum(np.diff(tp) * precision) / tp[-1])


def _eer_from_rates(fpr: FloatArray, fnr: FloatArray) -> FloatArray:
    """EER from ROC rates along the last axis (first point is the origin, last is (1, 1)).

    `fnr - fpr` falls from 1 to -1 along the ROC; the EER is where it crosses 0, interpolated
    linearly on the segment that crosses, since the operating points in between are reachable by
    randomising between the two thresholds.
    """
    d = fnr - fpr
    k = np.argmax(d <= 0, axis=-1)[..., None]  # first point at or past the crossing; k >= 1
    d0 = np.take_along_axis(d, k - 1, -1)
    d1 = np.take_along_axis(d, k, -1)
    f0 = np.take_along_axis(fpr, k - 1, -1)
    f1 = np.take_along_axis(fpr, k, -1)
    t = d0 / (d0 - d1)
    return (f0 + t * (f1 - f0))[..., 0]


def eer(labels: ArrayLike, scores: ArrayLike) -> float:
    """Equal error rate: the error where FPR == FNR, interpolated linearly on the ROC.

    Reported by much of the deepfake literature because it needs no threshold choice. NaN if only
    one class is present.
    """
    y, p = _check_inputs(labels, scores)
    if _one_class(y):
        return float("nan")
    fp, tp = _roc_points(y, p)
    return float(_eer_from_rates(fp / fp[-1], 1.0 - tp / tp[-1]))


def log_loss(labels: ArrayLike, scores: ArrayLike, eps: float = 1e-15) -> float:
    """Binary cross-entropy, the DFDC metric, with probabilities clipped to `[eps, 1 - eps]`.

    The clip is part of the metric's definition (as in the DFDC scoring): without it a single
    confident wrong score of exactly 0 or 1 makes the loss infinite. Inputs are still checked to be
    in [0, 1]; only the metric clips.
    """
    _check_unit("eps", eps, open_low=True, open_high=True)
    y, p = _check_inputs(labels, scores)
    return float(np.mean(_log_loss_terms(y, p, eps)))


def _log_loss_terms(y: IntArray, p: FloatArray, eps: float) -> FloatArray:
    # Clip the probability of the true class: symmetric for fakes at 0 and reals at 1, and 1 - p is
    # exact for p >= 0.5, so a real scored 1.0 costs exactly -ln(eps).
    return -np.log(np.clip(np.where(y == 1, p, 1.0 - p), eps, 1.0 - eps))


def accuracy(labels: ArrayLike, scores: ArrayLike, threshold: float = 0.5) -> float:
    """Fraction of samples classified correctly, calling a sample fake when `score >= threshold`."""
    _check_unit("threshold", threshold)
    y, p = _check_inputs(labels, scores)
    return float(np.mean((p >= threshold) == (y == 1)))


def tpr_at_fpr(labels: ArrayLike, scores: ArrayLike, fpr: float) -> float:
    """The highest TPR among ROC thresholds whose FPR is <= `fpr` (step function, no interpolation).

    Deployed detectors run at a fixed, low false-alarm budget; this is the fraction of fakes caught
    there. Only achievable thresholds count, so with few reals a budget below 1/n_real allows
    no false positive at all. NaN if only one class is present.
    """
    _check_unit("fpr", fpr)
    y, p = _check_inputs(labels, scores)
    if _one_class(y):
        return float("nan")
    fp, tp = _roc_points(y, p)
    return float(np.max(np.where(fp / fp[-1] <= fpr, tp / tp[-1], 0.0)))


def _ece_bins(p: FloatArray, n_bins: int) -> IntArray:
    """Equal-width bins `[k/n_bins, (k+1)/n_bins)` on P(fake), with 1.0 in the last bin."""
    return np.minimum((p * n_bins).astype(np.int64), n_bins - 1)


def ece(labels: ArrayLike, scores: ArrayLike, n_bins: int = 15) -> float:
    """Expected calibration error of P(fake): `sum_b (n_b / n) * |mean(label in b) - mean(score in b)|`.

    Binned on P(fake) itself (not on max(p, 1 - p)) because the arena reads the score as the
    probability that a face is fake; this is the gap in the reliability diagram, weighted by bin size.
    """
    _check_n_bins(n_bins)
    y, p = _check_inputs(labels, scores)
    gap = np.bincount(_ece_bins(p, n_bins), weights=y - p, minlength=n_bins)
    return float(np.abs(gap).sum() / y.size)


# --------------------------------------------------------------------------- bootstrap


def bootstrap_indices(labels: ArrayLike, n_bootstrap: int, seed: int = 0) -> IntArray:
    """Stratified bootstrap resamples as indices into the sample, shape `(n_bootstrap, n)`.

    Reals and fakes are resampled separately, keeping their counts, so that every resample has both
    classes (rank metrics stay defined) and the class balance, part of the test condition, is not
    itself resampled. Each row holds the resampled reals first, then the resampled fakes. The reals'
    indices are drawn first, then the fakes', from `numpy.random.default_rng(seed)`.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D (one value per sample); got shape {y.shape}")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int | np.integer) or n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be a non-negative integer; got {n_bootstrap!r}")
    rng = np.random.default_rng(seed)
    parts = []
    for cls in (0, 1):
        members = np.flatnonzero(y == cls)
        if members.size:
            parts.append(members[rng.integers(0, members.size, size=(n_bootstrap, members.size))])
    return np.concatenate(parts, axis=1) if parts else np.empty((n_bootstrap, 0), np.int64)


class _Resamples:
    """All bootstrap resamples of one sample, with each metric evaluated per row, vectorised."""

    def __init__(self, y: IntArray, p: FloatArray, idx: IntArray) -> None:
        self.y, self.p, self.idx = y, p, idx
        self.n1 = int(y.sum())
        self.n0 = y.size - self.n1

    @cached_property
    def roc(self) -> tuple[IntArray, IntArray, IntArray, IntArray]:
        """Per row, in descending score order: labels, exclusive TP count before each sample's tie
        group, and TP and FP counts at the end of its tie group (the ROC point of its threshold).

        The sample is sorted once; a resample is then sorted by sorting its integer positions, and
        tie groups are runs of equal group ids (duplicates from resampling included).
        """
        order = np.argsort(-self.p, kind="stable")
        p_sorted = self.p[order]
        group = np.concatenate([[0], np.cumsum(p_sorted[1:] != p_sorted[:-1])])
        position = np.empty_like(order)
        position[order] = np.arange(order.size)
        rows = np.sort(position[self.idx], axis=1)
        y = self.y[order][rows]
        g = group[rows]
        b, n = rows.shape
        col = np.arange(n)
        tp = np.cumsum(y, axis=1)
        change = g[:, 1:] != g[:, :-1]
        last = np.concatenate([change, np.ones((b, 1), bool)], axis=1)
        first = np.concatenate([np.ones((b, 1), bool), change], axis=1)
        end = np.minimum.accumulate(np.where(last, col, n)[:, ::-1], axis=1)[:, ::-1]
        start = np.maximum.accumulate(np.where(first, col, 0), axis=1)
        tp_end = np.take_along_axis(tp, end, 1)
        fp_end = end + 1 - tp_end
        tp_before = np.take_along_axis(tp - y, start, 1)
        return y, tp_before, tp_end, fp_end

    def auc(self) -> FloatArray:
        # Mann-Whitney per real: fakes strictly above it plus half of the fakes tied with it.
        y, tp_before, tp_end, _ = self.roc
        return np.sum((1 - y) * (tp_before + tp_end), axis=1) / (2.0 * self.n1 * self.n0)

    def ap(self) -> FloatArray:
        # Each fake adds 1/n1 of recall at the precision of its tie group's threshold.
        y, _, tp_end, fp_end = self.roc
        return np.sum(y * (tp_end / (tp_end + fp_end)), axis=1) / self.n1

    def eer(self) -> FloatArray:
        _, _, tp_end, fp_end = self.roc
        zero = np.zeros((tp_end.shape[0], 1))
        fpr = np.concatenate([zero, fp_end / self.n0], axis=1)
        fnr = np.concatenate([zero + 1.0, 1.0 - tp_end / self.n1], axis=1)
        return _eer_from_rates(fpr, fnr)

    def tpr_at_fpr(self, fpr: float) -> FloatArray:
        _, _, tp_end, fp_end = self.roc
        return np.max(np.where(fp_end / self.n0 <= fpr, tp_end / self.n1, 0.0), axis=1)

    def log_loss(self, eps: float = 1e-15) -> FloatArray:
        return np.mean(_log_loss_terms(self.y, self.p, eps)[self.idx], axis=1)

    def accuracy(self, threshold: float = 0.5) -> FloatArray:
        return np.mean(((self.p >= threshold) == (self.y == 1))[self.idx], axis=1)

    def ece(self, n_bins: int = 15) -> FloatArray:
        b, n = self.idx.shape
        cell = (np.arange(b)[:, None] * n_bins + _ece_bins(self.p, n_bins)[self.idx]).ravel()
        gap = np.bincount(cell, weights=(self.y - self.p)[self.idx].ravel(), minlength=b * n_bins)
        return np.abs(gap.reshape(b, n_bins)).sum(axis=1) / n


_SCALAR: dict[str, Callable[[IntArray, FloatArray], float]] = {
    "auc": auc,
    "ap": average_precision,
    "eer": eer,
    "log_loss": log_loss,
    "accuracy": accuracy,
    "tpr_at_1fpr": lambda y, p: tpr_at_fpr(y, p, 0.01),
    "tpr_at_01fpr": lambda y, p: tpr_at_fpr(y, p, 0.001),
    "ece": ece,
}
_BATCH: dict[str, Callable[[_Resamples], FloatArray]] = {
    "auc": _Resamples.auc,
    "ap": _Resamples.ap,
    "eer": _Resamples.eer,
    "log_loss": _Resamples.log_loss,
    "accuracy": _Resamples.accuracy,
    "tpr_at_1fpr": lambda r: r.tpr_at_fpr(0.01),
    "tpr_at_01fpr": lambda r: r.tpr_at_fpr(0.001),
    "ece": _Resamples.ece,
}


def compute_metrics(
    labels: ArrayLike,
    scores: ArrayLike,
    *,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
    metrics: Sequence[str] = METRICS,
) -> dict[str, MetricValue]:
    """Each requested metric on the full sample, with a stratified percentile bootstrap interval
    (for ECE, shifted by the bootstrap's bias estimate so it holds the value: `_bias_shifted`).

    The resamples come from `bootstrap_indices(labels, n_bootstrap, seed)`, so a seed replays them
    exactly; all metrics share the same resamples. With one class present, rank metrics are NaN
    (value and interval) and the others are still computed. `n_bootstrap=0` gives NaN intervals.

    Returns:
        `{name: MetricValue}` in the order of `metrics`.
    """
    unknown = [m for m in metrics if m not in _SCALAR]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; valid choices: {', '.join(METRICS)}")
    _check_unit("confidence", confidence, open_low=True, open_high=True)
    y, p = _check_inputs(labels, scores)
    idx = bootstrap_indices(y, n_bootstrap, seed)
    resamples = _Resamples(y, p, idx)
    one_class = _one_class(y)
    tail = 100.0 * (1.0 - confidence) / 2.0
    out: dict[str, MetricValue] = {}
    for name in metrics:
        value = _SCALAR[name](y, p)
        lo = hi = float("nan")
        if n_bootstrap > 0 and not (one_class and name in RANK_METRICS):
            boot = _BATCH[name](resamples)
            lo, hi = (float(v) for v in np.percentile(boot, [tail, 100.0 - tail]))
            if name in BIAS_SHIFTED:
                lo, hi = _bias_shifted(float(value), boot, lo, hi)
        out[name] = MetricValue(value=float(value), ci_low=lo, ci_high=hi, n=int(y.size))
    return out


def _bias_shifted(value: float, boot: FloatArray, lo: float, hi: float) -> tuple[float, float]:
    """The percentile interval moved by the bootstrap's own bias estimate, mean(boot) - value.

    ECE is a sum of absolute gaps, so resampling (duplicated samples, emptier bins) inflates it:
    the resamples sit above the sample's value, and their plain percentile interval can exclude
    it (0.0849 with [0.088, 0.200], issue 27). Efron's bias-corrected (BC) percentile fails here
    too: with every resample above the value its z0 is infinite. Shifted by the bias, the interval
    contains the value whenever the resamples' mean lies inside their central interval, i.e. for
    any but a degenerate bootstrap; it is clipped at ECE's floor of 0.
    """
    shift = float(np.mean(boot)) - value
    return max(lo - shift, 0.0), max(hi - shift, 0.0)


# --------------------------------------------------------------------------- video level

LEVELS: tuple[str, ...] = ("frame", "video")


def level_metric(metric: str, level: str) -> str:
    """The metric's name at an aggregation level, as the results record it: frame-level metrics
    keep their names (``auc``), video-level ones are prefixed (``video_auc``), so a results table
    can hold both without a new column and a reader always knows which one a row is."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; valid choices: {', '.join(LEVELS)}")
    return metric if level == "frame" else f"{level}_{metric}"


def video_level(
    labels: ArrayLike, scores: ArrayLike, groups: ArrayLike
) -> tuple[IntArray, FloatArray, NDArray[Any]]:
    """Aggregate frame scores to one score per source (video): the mean of its frames' P(fake).

    This is how video-level detection is scored in the field (the DFDC averaged frame predictions
    per video): a detector that is right on most frames of a video is right on the video.

    Shape:
        labels, scores, groups: `(n,)` (groups: any hashable ids, e.g. source ids or video names).
        returns: labels `(g,)`, scores `(g,)`, group ids `(g,)` in sorted group order.
    Raises:
        ValueError: when one group mixes real and fake frames (its label is undefined).
    """
    y, p = _check_inputs(labels, scores)
    g = np.asarray(groups)
    if g.shape != y.shape:
        raise ValueError(f"groups must have one id per sample; got shape {g.shape} for {y.size} samples")
    ids, inverse = np.unique(g, return_inverse=True)
    count = np.bincount(inverse)
    fake_share = np.bincount(inverse, weights=y) / count
    mixed = (fake_share > 0) & (fake_share < 1)
    if mixed.any():
        bad = ids[np.flatnonzero(mixed)[:3]].tolist()
        raise ValueError(
            f"groups {bad} mix real and fake frames; a video-level label needs one class per group"
        )
    return fake_share.astype(np.int64), np.bincount(inverse, weights=p) / count, ids
