"""Three more effects the field measured (issue 28): rankings that reverse on unseen fakes,
compression that hurts a small network more than a large one, and a frequency detector falling
to spectral evasion. Same contract as deepfake_arena.analysis.effects.measure: one number per seed, a t CI
over seeds, a verdict; registered in runs/effects/field/registration.yaml.

8. ranking_reversal: per seed, each detector's mean AUC over rounds on this round's generation
   after retraining (`post`, the "public leaderboard") and on the sealed vault strains (mean of
   the per-strain rows, the "private set"); Kendall's tau-b between the two orders (`tau`,
   predicted < 1), and `best_differs`, 1 when no detector is best on both (its mean over seeds
   is the share of seeds where the best seen detector is not the best sealed one). Needs >= 4
   detectors. External: DFDC's private winner was 4th publicly; FF++ -> Celeb-DF reorders
   Xception, MesoNet and a two-branch detector (Li et al., 2020).
9. compression: per detector, the AUC on this round's eval faces re-encoded at each JPEG quality
   (phases `jpegQ`, deepfake_arena.rounds.recompress), mean over rounds; the least-squares slope of AUC on
   quality, in AUC per 10 quality points (predicted > 0: AUC falls as quality falls), for the
   small network (a retrained meso4) and the large one (a retrained xception), and the small
   minus the large (predicted > 0). Also the drop, AUC at the highest minus the lowest quality.
   External: FaceForensics++ (Rossler et al., 2019), FaceSwap HQ -> LQ accuracy: MesoNet
   81.24 -> 61.17, Xception 98.23 -> 92.17.
10. spectral_evasion: the least-squares slope over rounds (>= 2) of the zero-day AUC on each new
   generation, for a retrained spectrum detector minus a retrained meso4 (predicted < 0 under
   selection), and the change from the first to the last round in the share of the population's
   strains whose `spectral_match` gene is above 0 (predicted > 0). No published post-evasion
   figure (Durall et al., 2020: spectrum detectors up to 99% on GAN images before evasion).

Torch-free (pandas, numpy, scipy).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from deepfake_arena.analysis import derived as analysis
from deepfake_arena.analysis.effects.measure import ABOVE, BELOW, DetectorInfo, Effect, Stat, auc_rows
from deepfake_arena.results import ALL, jpeg_quality

SPECTRAL_GENE = "spectral_match"
SMALL_ARCHS, LARGE_ARCHS = ("meso4", "mesoinception4"), ("xception", "efficientnet")
QUALITY_UNIT = 10.0  # slopes in AUC per 10 JPEG quality points
MIN_RANKED = 4

REFERENCES = {
    8: "DFDC 2020: the private-set winner (65.18%) was 4th on the public leaderboard; FF++ -> Celeb-DF "
    "AUC: Xception 99.7 -> 48.2, MesoNet 84.7 -> 54.8, two-branch 93.18 -> 73.41 (the order changes)",
    9: "FaceForensics++ FaceSwap HQ -> LQ accuracy: MesoNet 81.24 -> 61.17 (-20.07), Xception "
    "98.23 -> 92.17 (-6.06); Xception raw/c23/c40 99.26/95.73/86.86",
    10: "no published post-evasion figure: spectrum detectors reach up to 99% on GAN images before "
    "evasion (Durall et al., CVPR 2020; Dzanic et al., NeurIPS 2020); the arena's own finding",
}
# Published figures as fractions (the ratios in deepfake_arena.analysis.effects.protocol.PUBLISHED).
FF_MESO_DROP, FF_XCEPTION_DROP = 0.8124 - 0.6117, 0.9823 - 0.9217
FF_DROP_DIFFERENCE = FF_MESO_DROP - FF_XCEPTION_DROP
# Li et al. 2020's three detectors: seen (FF++) and unseen (Celeb-DF) AUC; tau between the orders.
CELEB_DF_SEEN, CELEB_DF_UNSEEN = (99.7, 84.7, 93.18), (48.2, 54.8, 73.41)
CELEB_DF_TAU = float(stats.kendalltau(CELEB_DF_SEEN, CELEB_DF_UNSEEN).statistic)


def _first(dets: Sequence[DetectorInfo], archs: Sequence[str]) -> str | None:
    """The first retrained (supervised, not frozen) detector of one of `archs`."""
    return next(
        (d.name for d in dets if d.arch in archs and d.training != "sbi" and d.strategy != "frozen"),
        None,
    )


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(x, y, 1)[0]) if len(np.unique(x)) >= 2 else float("nan")


# ------------------------------------------------------------------------------- 8


def _rank_one(g: pd.DataFrame) -> pd.Series:
    """tau-b and best_differs for one run's detectors (rows: detector; columns seen, sealed)."""
    tau = float(stats.kendalltau(g.seen, g.sealed).statistic)
    best_seen = set(g.index[np.isclose(g.seen, g.seen.max())])
    best_sealed = set(g.index[np.isclose(g.sealed, g.sealed.max())])
    return pd.Series({"tau": tau, "best_differs": float(not best_seen & best_sealed)})


def ranking_reversal(df: pd.DataFrame, dets: Sequence[DetectorInfo]) -> Effect:
    """Effect 8: Kendall's tau between the detectors' seen (post) and sealed AUC orders, per seed.

    Every detector of the spec takes part; they must be >= 4 and of >= 2 architectures (the
    field's leaderboards rank different models, not one model's training recipes)."""
    eff = Effect(8, "ranking_reversal", "Rankings reverse between seen and sealed fakes", REFERENCES[8])
    detectors = [d.name for d in dets]
    eff.detectors = ", ".join(detectors)
    if len(detectors) < MIN_RANKED or len({d.arch for d in dets}) < 2:
        eff.reason = f"needs >= {MIN_RANKED} detectors of >= 2 architectures (the runs have {eff.detectors})"
        return eff
    sel = auc_rows(df)
    if sel.empty or not (sel.phase == analysis.SEALED).any():
        eff.reason = "no sealed rows: the runs have no vault (spec `vault:`)"
        return eff
    sel = sel[sel.detector.isin(list(detectors)) & (sel.generation == sel["round"])]
    seen = sel[(sel.phase == "post") & (sel.strain == ALL)]
    sealed = sel[(sel.phase == analysis.SEALED) & (sel.strain != ALL)]
    seen = seen.groupby(["run", "detector"])["value"].mean().rename("seen")
    sealed = sealed.groupby(["run", "round", "detector"])["value"].mean().groupby(["run", "detector"]).mean()
    both = pd.concat([seen, sealed.rename("sealed")], axis=1).dropna().reset_index()
    counts = both.groupby("run")["detector"].nunique()
    both = both[both.run.isin(counts[counts >= MIN_RANKED].index)]
    if both.empty:
        eff.reason = f"no run with post and sealed rows for >= {MIN_RANKED} detectors"
        return eff
    per = both.groupby("run")[["detector", "seen", "sealed"]].apply(
        lambda g: _rank_one(g.set_index("detector"))
    )
    eff.stats = [
        Stat(
            "tau",
            "Kendall's tau-b, seen (post) vs sealed AUC order of the detectors",
            per["tau"],
            1.0,
            BELOW,
            required=True,
            reference=CELEB_DF_TAU,
        ),
        Stat(
            "best_differs",
            "share of seeds where the best seen detector is not the best sealed one",
            per["best_differs"],
        ),
    ]
    eff.context = both
    return eff


# ------------------------------------------------------------------------------- 9


def _quality_rows(df: pd.DataFrame) -> pd.DataFrame:
    """AUC rows of the `jpegQ` phases (strain all, this round's generation) with their quality."""
    sel = auc_rows(df)
    if sel.empty:
        return sel
    q = sel.phase.map(jpeg_quality)
    sel = sel.assign(quality=q)[q.notna() & (sel.strain == ALL) & (sel.generation == sel["round"])]
    return sel.groupby(["run", "detector", "quality"], as_index=False)["value"].mean()


def _fit_quality(g: pd.DataFrame) -> pd.Series:
    g = g.sort_values("quality")
    x = g.quality.to_numpy(float) / QUALITY_UNIT
    return pd.Series(
        {"slope": _slope(x, g.value.to_numpy(float)), "drop": g.value.iloc[-1] - g.value.iloc[0]}
    )


def compression(df: pd.DataFrame, small: str | None, large: str | None) -> Effect:
    """Effect 9: AUC against JPEG quality, its slope per detector, and small minus large."""
    eff = Effect(9, "compression", "Compression hurts, a small network more", REFERENCES[9])
    if small is None or large is None:
        eff.reason = "needs a retrained small (meso4) and a retrained large (xception) detector"
        return eff
    eff.detectors = f"{small} (small) vs {large} (large)"
    rows = _quality_rows(df)
    if rows.empty or rows.quality.nunique() < 2:
        eff.reason = "fewer than two JPEG qualities scored (spec `evaluation.jpeg_qualities`)"
        return eff
    fit = rows.groupby(["run", "detector"])[["quality", "value"]].apply(_fit_quality).reset_index()
    slope = fit.pivot_table(index="run", columns="detector", values="slope")
    drop = fit.pivot_table(index="run", columns="detector", values="drop")
    if not {small, large} <= set(slope.columns):
        eff.reason = f"JPEG rows for only one of {small}, {large}"
        return eff
    per10 = f"AUC per {QUALITY_UNIT:g} JPEG quality points"
    eff.stats = [
        Stat("small_slope", f"{small}: slope of {per10}", slope[small], 0.0, ABOVE, required=True),
        Stat("large_slope", f"{large}: slope of {per10}", slope[large], 0.0, ABOVE, required=True),
        Stat(
            "small_minus_large_slope",
            f"slope {small} - {large} ({per10})",
            slope[small] - slope[large],
            0.0,
            ABOVE,
            required=True,
        ),
        Stat(
            "small_minus_large_drop",
            f"AUC drop (highest - lowest quality) {small} - {large}",
            drop[small] - drop[large],
            reference=FF_DROP_DIFFERENCE,
        ),
        Stat(
            "small_drop",
            f"{small}: AUC at the highest - the lowest quality",
            drop[small],
            reference=FF_MESO_DROP,
        ),
        Stat(
            "large_drop",
            f"{large}: AUC at the highest - the lowest quality",
            drop[large],
            reference=FF_XCEPTION_DROP,
        ),
    ]
    eff.stats += [
        Stat(f"slope_{d}", f"{d}: slope of {per10}", slope[d])
        for d in slope.columns
        if d not in (small, large)
    ]
    eff.context = rows
    return eff


# ------------------------------------------------------------------------------- 10


def _round_slope(g: pd.DataFrame) -> float:
    return _slope(g["round"].to_numpy(float), g.value.to_numpy(float))


def spectral_evasion(
    df: pd.DataFrame, spectrum: str | None, baseline: str | None, pops: pd.DataFrame | None
) -> Effect:
    """Effect 10: the spectrum detector's zero-day AUC slope over rounds minus meso4's, and the
    spread of the spectral-matching gene in the population (`pops`: load_populations with the
    gene as a column)."""
    eff = Effect(10, "spectral_evasion", "A frequency detector under spectral evasion", REFERENCES[10])
    if spectrum is None or baseline is None:
        eff.reason = "needs a retrained spectrum and a retrained meso4 detector"
        return eff
    eff.detectors = f"{spectrum} vs {baseline}"
    sel = auc_rows(df)
    sel = sel[sel.detector.isin([spectrum, baseline]) & (sel.phase == "zero_day") & (sel.strain == ALL)]
    sel = sel[(sel.generation == sel["round"]) & (sel["round"] >= 2)]
    ok = sel.groupby("run")["round"].nunique()
    sel = sel[sel.run.isin(ok[ok >= 2].index)]
    if sel.empty:
        eff.reason = "fewer than two rounds >= 2 with zero-day rows (needs rounds >= 3)"
        return eff
    slopes = sel.groupby(["run", "detector"])[["round", "value"]].apply(_round_slope).unstack("detector")
    if not {spectrum, baseline} <= set(slopes.columns):
        eff.reason = f"zero-day rows for only one of {spectrum}, {baseline}"
        return eff
    eff.stats = [
        Stat(
            "spectrum_minus_meso4_slope",
            f"zero-day AUC slope per round, {spectrum} - {baseline}",
            slopes[spectrum] - slopes[baseline],
            0.0,
            BELOW,
            required=True,
        ),
        Stat("spectrum_slope", f"zero-day AUC slope per round of {spectrum}", slopes[spectrum]),
        Stat("meso4_slope", f"zero-day AUC slope per round of {baseline}", slopes[baseline]),
    ]
    if pops is not None and not pops.empty and SPECTRAL_GENE in pops:
        p = pops.assign(carries=(pops[SPECTRAL_GENE].astype(float) > 0).astype(float))
        per_round = p.groupby(["run", "round"])[["carries", SPECTRAL_GENE]].mean().reset_index()
        ends = per_round.sort_values("round").groupby("run")
        change = ends.last() - ends.first()
        eff.stats += [
            Stat(
                "spectral_share_change",
                "share of strains with spectral_match > 0, last round - round 1",
                change["carries"],
                0.0,
                ABOVE,
                required=True,
            ),
            Stat(
                "spectral_share_last",
                "share of strains with spectral_match > 0 in the last round",
                ends.last()["carries"],
            ),
            Stat(
                "spectral_strength_change", "mean spectral_match, last round - round 1", change[SPECTRAL_GENE]
            ),
        ]
    eff.context = sel
    return eff


def measure_field(
    df: pd.DataFrame, dets: Sequence[DetectorInfo], pops: pd.DataFrame | None = None
) -> list[Effect]:
    """Effects 8-10 of one condition; detectors chosen by arch from the spec's list (`dets`)."""
    return [
        ranking_reversal(df, dets),
        compression(df, _first(dets, SMALL_ARCHS), _first(dets, LARGE_ARCHS)),
        spectral_evasion(df, _first(dets, ("spectrum",)), _first(dets, SMALL_ARCHS), pops),
    ]
