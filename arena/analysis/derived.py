"""Derived metrics of a run (or a sweep of runs) as tidy DataFrames, from the results table alone.

Every function takes the long table of `deepfake_arena.results.load` (one or several runs concatenated,
e.g. `deepfake_arena.analysis.derived.load_runs([...])`) and returns a tidy DataFrame with one row per
(run, seed, detector, ...) so that analysts can group, plot and compare without more code:

- `score_matrix`: score[version trained through round i][generation j], j on both sides of i;
- `decay_curve`: the matrix averaged over versions by generation gap k = j - i;
- `forward_transfer`: mean score on generations the version never saw (j > i);
- `forgetting`: best earlier score on generation j minus the score after later retraining;
  `forgetting_summary` sets it beside its noise floor (a frozen detector's apparent forgetting);
- `half_life`: rounds until the zero-day TPR@1%FPR falls below half its post-retrain value;
- `decay_area`: area under the decay curve over a common gap window;
- `vault_gap`: in-distribution (post) vs sealed (vault) score per detector;
- `family_debut`: each family's zero-day score in the round its strains first appear;
- `derived` / `over_seeds`: all of the above as one long table, and its mean with a t CI over seeds.

Torch-free (pandas and numpy only), so the analysis tools start fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_arena.analysis.seed_stats import t_interval
from deepfake_arena.results import ALL, load

DETECTOR = ["run", "seed", "detector", "arch", "strategy"]  # identifies one detector of one run
LOWER_IS_BETTER = frozenset({"eer", "log_loss", "ece"})
SCORED = ("post", "zero_day", "past")  # phases that score a trained version on a generation
SEALED = "sealed"  # phase of the vault rows: families never used for training or selection
NEVER_RETRAINED = "frozen"  # strategy of detectors trained once: their apparent forgetting is noise


def load_runs(run_dirs: Iterable[str | Path]) -> pd.DataFrame:
    """Committed rounds of several runs as one table; clashing run names get a `#k` suffix."""
    frames: list[pd.DataFrame] = []
    seen: set[str] = set()
    for k, path in enumerate(run_dirs):
        df = load(path)
        names = set(df["run"].unique())
        if names & seen:
            df = df.assign(run=df["run"] + f"#{k}")
        seen |= set(df["run"].unique())
        frames.append(df)
    if not frames:
        raise ValueError("no run directories given")
    return pd.concat(frames, ignore_index=True)


def _pick(df: pd.DataFrame, metric: str, family: str = ALL) -> pd.DataFrame:
    """Rows of one metric, pooled over strains (family=ALL) or averaged over one family's strains."""
    if df.empty:
        return df.copy()
    sel = df[df.metric == metric]
    if family == ALL:
        return sel[sel.strain == ALL]
    sel = sel[(sel.family == family) & (sel.strain != ALL)]
    keys = [c for c in sel.columns if c not in ("strain", "value", "ci_low", "ci_high", "n")]
    return sel.groupby(keys, as_index=False, dropna=False).agg(
        value=("value", "mean"), ci_low=("ci_low", "mean"), ci_high=("ci_high", "mean"), n=("n", "sum")
    )


def _relation(gap: pd.Series) -> np.ndarray:
    return np.select([gap > 0, gap < 0], ["zero_day", "past"], "post")


def score_matrix(df: pd.DataFrame, metric: str = "auc", family: str = ALL) -> pd.DataFrame:
    """score[i][j]: version i (trained through round i) on generation j, one row per cell.

    Cells come from `post` (j == i), `past` (j < i) and `zero_day` (j > i) rows. A frozen
    detector keeps `detector_round` fixed and is re-scored every round, so a cell can be scored
    more than once; the row whose phase matches the cell (`post` on the diagonal, `zero_day` above
    it, `past` below) wins, then the earliest round (the full evaluation set, not the kept subset).

    Returns columns DETECTOR + metric, detector_round, generation, gap (= j - i), phase (what the
    cell is: post / zero_day / past), round (when it was scored), value, ci_low, ci_high, n.
    """
    sel = _pick(df, metric, family)
    sel = sel[sel.phase.isin(SCORED) & (sel.detector_round > 0)].copy()
    sel["gap"] = sel.generation - sel.detector_round
    cell_phase = _relation(sel.gap)
    sel["_rank"] = (sel.phase.to_numpy() != cell_phase).astype(int)
    sel["phase"] = cell_phase
    sel = sel.sort_values(["_rank", "round"]).drop_duplicates(
        [*DETECTOR, "detector_round", "generation"], keep="first"
    )
    cols = [*DETECTOR, "metric", "detector_round", "generation", "gap", "phase", "round"]
    cols += ["value", "ci_low", "ci_high", "n"]
    return sel[cols].sort_values([*DETECTOR, "detector_round", "generation"]).reset_index(drop=True)


def decay_curve(df: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    """Mean score of a version on the generation k rounds after (k > 0) or before (k < 0) its own.

    Returns one row per (DETECTOR, gap): value (mean over versions), n_versions.
    """
    m = score_matrix(df, metric)
    out = m.groupby([*DETECTOR, "gap"], as_index=False).agg(
        value=("value", "mean"), n_versions=("value", "size")
    )
    return out.assign(metric=metric)


def forward_transfer(df: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    """Mean score over the cells j > i (generations the version had not seen), per detector."""
    m = score_matrix(df, metric)
    fwd = m[m.gap > 0]
    out = fwd.groupby(DETECTOR, as_index=False).agg(value=("value", "mean"), n_cells=("value", "size"))
    return out.assign(metric=metric, quantity="forward_transfer")


def _round_scores(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """s(r, j): the version deployed after round r's retraining, scored on generation j <= r."""
    sel = _pick(df, metric)
    sel = sel[sel.phase.isin(["post", "past"]) & (sel.generation <= sel["round"])]
    return sel[[*DETECTOR, "round", "detector_round", "generation", "value"]]


def forgetting(df: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    """Forgetting F[r][j] = best score on generation j after any round r' in [j, r) minus s(r, j).

    s(r, j) is the score, on generation j, of the version deployed after round r's retraining
    (the `post` row when j == r, a `past` row when j < r). For a detector that retrains every
    round this is the per-version forgetting of continual learning; a frozen detector keeps its
    version, so it forgets nothing, yet the max over its noisy re-scorings (full set, then the
    kept subset) reads > 0: the noise floor `forgetting_summary` sets beside every detector. For
    metrics where lower is better (eer, log loss, ece) the sign is flipped so that forgetting > 0
    always means worse.

    Returns one row per (DETECTOR, round, generation < round): best, best_round, current, forgetting.
    """
    s = _round_scores(df, metric)
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    pairs = s.merge(s, on=[*DETECTOR, "generation"], suffixes=("", "_earlier"))
    pairs = pairs[pairs.round_earlier < pairs["round"]]
    cols = [*DETECTOR, "round", "detector_round", "generation", "best", "best_round", "current"]
    if pairs.empty:
        return pd.DataFrame(columns=[*cols, "forgetting", "metric"])
    pairs = pairs.assign(_signed=sign * pairs.value_earlier)
    best = pairs.sort_values("_signed", ascending=False).drop_duplicates([*DETECTOR, "round", "generation"])
    best = best.rename(columns={"value_earlier": "best", "round_earlier": "best_round", "value": "current"})
    best["forgetting"] = sign * (best.best - best.current)
    out = best[[*cols, "forgetting"]].sort_values([*DETECTOR, "round", "generation"])
    return out.reset_index(drop=True).assign(metric=metric)


def forgetting_summary(df: pd.DataFrame, metric: str = "auc", confidence: float = 0.95) -> pd.DataFrame:
    """Per detector: mean forgetting of the last round's version over every earlier generation,
    beside its noise floor.

    Why a floor: forgetting takes a max over noisy earlier scores, so it is > 0 even for a
    detector that never changes (a frozen one "forgot" 0.008 AUC in the quickstart, a fine-tuned
    one 0.010). The floor is that apparent forgetting of the run's never-retrained (frozen)
    detectors, generation by generation, on the same cells; `excess` = forgetting - floor, paired
    by generation. CIs are Student t intervals over the last version's generations (cells of one
    run: a within-run spread, not a CI over seeds; for that, take `value` or `excess` per seed
    to `over_seeds` or `analysis.effects.measure`). `beyond_floor` is True only when excess_low > 0.

    Returns DETECTOR + value, max, n_cells, ci_low, ci_high, floor, excess, excess_low,
    excess_high, beyond_floor, metric, quantity (floor and excess NaN without a frozen detector).
    """
    cols = [
        *DETECTOR,
        "value",
        "max",
        "n_cells",
        "ci_low",
        "ci_high",
        "floor",
        "excess",
        "excess_low",
        "excess_high",
        "beyond_floor",
        "metric",
        "quantity",
    ]
    f = forgetting(df, metric)
    if f.empty:
        return pd.DataFrame(columns=cols)
    last = f[f["round"] == f.groupby(DETECTOR)["round"].transform("max")]
    never = last[last.strategy == NEVER_RETRAINED]
    floor = never.groupby(["run", "seed", "generation"], as_index=False).agg(floor=("forgetting", "mean"))
    last = last.merge(floor, on=["run", "seed", "generation"], how="left")
    rows = []
    for key, g in last.groupby(DETECTOR, sort=True, dropna=False):
        cells = g.forgetting.to_numpy(dtype=float)
        excess = cells - g.floor.to_numpy(dtype=float)
        lo, hi = t_interval(cells, confidence)
        ex_lo, ex_hi = t_interval(excess, confidence)
        has_floor = bool(np.isfinite(excess).any())
        rows.append(
            dict(
                zip(DETECTOR, key, strict=True),
                value=float(cells.mean()),
                max=float(cells.max()),
                n_cells=int(cells.size),
                ci_low=lo,
                ci_high=hi,
                floor=float(np.nanmean(g.floor)) if has_floor else np.nan,
                excess=float(np.nanmean(excess)) if has_floor else np.nan,
                excess_low=ex_lo,
                excess_high=ex_hi,
                beyond_floor=bool(ex_lo > 0),  # NaN (no floor, one cell) compares False
            )
        )
    return pd.DataFrame(rows).assign(metric=metric, quantity="forgetting")[cols]


def half_life(df: pd.DataFrame, metric: str = "tpr_at_1fpr") -> pd.DataFrame:
    """Detection half-life: rounds until the zero-day score falls below half its post-retrain value.

    For each version i with post-retrain score P_i > 0 the ratio r_i(k) = score[i][i+k] / P_i is
    taken for every observed gap k >= 1 (zero-day cells), and averaged over versions into D(k)
    (D(0) = 1). `value` is the first k with D(k) < 0.5 (whole rounds), `interpolated` the linear
    crossing of 0.5 between the last k above and the first below. When D never falls below half,
    both are NaN and `censored_at` gives the largest gap observed: the half-life is longer.

    Returns one row per DETECTOR: value, interpolated, censored_at, n_versions, metric, quantity.
    """
    m = score_matrix(df, metric)
    post = m[m.gap == 0][[*DETECTOR, "detector_round", "value"]].rename(columns={"value": "post"})
    fwd = m[m.gap > 0].merge(post, on=[*DETECTOR, "detector_round"])
    fwd = fwd[fwd.post > 0]
    fwd = fwd.assign(ratio=fwd.value / fwd.post)
    rows = []
    for key, g in fwd.groupby(DETECTOR, sort=True):
        curve = g.groupby("gap")["ratio"].mean()
        ks = np.concatenate([[0], curve.index.to_numpy()])
        ds = np.concatenate([[1.0], curve.to_numpy()])
        below = np.flatnonzero(ds < 0.5)
        value = interp = np.nan
        censored = np.nan
        if below.size:
            b = below[0]
            value = float(ks[b])
            d0, d1 = ds[b - 1], ds[b]
            interp = float(ks[b - 1] + (ks[b] - ks[b - 1]) * (d0 - 0.5) / (d0 - d1))
        else:
            censored = float(ks[-1])
        rows.append(
            dict(
                zip(DETECTOR, key, strict=True),
                value=value,
                interpolated=interp,
                censored_at=censored,
                n_versions=int(g.detector_round.nunique()),
            )
        )
    cols = [*DETECTOR, "value", "interpolated", "censored_at", "n_versions"]
    return pd.DataFrame(rows, columns=cols).assign(metric=metric, quantity="half_life")


def decay_area(df: pd.DataFrame, metric: str = "auc", window: int | None = None) -> pd.DataFrame:
    """Area under the decay curve, score against gap k = 0..window, on cells matched across detectors.

    Why matched: `decay_curve` averages each detector over the versions it has at a gap, and
    those differ. A frozen detector's gap 0 is its one version on generation 1 (often the easiest),
    a retrained one's the mean over every round; comparing those ranked the quickstart's two
    detectors opposite to their curves. Here, within each run, gap k's score is averaged over the
    generations every compared detector was scored on at that gap (the detectors that observed
    every gap 0..window), so a detector scoring at least as high as another on every such cell
    cannot get a smaller area. The trapezoid rule over 0..window, divided by the window, keeps
    the metric's units (the mean score a version keeps over `window` rounds after training).

    The default window is the largest gap every detector in the table has observed (at least 1);
    a detector missing a gap inside the window gets NaN, and so does every detector when the
    eligible ones share no generation at some gap. Returns DETECTOR + value, window, n_cells
    (matched cells used), metric, quantity.
    """
    m = score_matrix(df, metric)
    m = m[m.gap >= 0]
    cols = [*DETECTOR, "value", "window", "n_cells", "metric", "quantity"]
    if m.empty:
        return pd.DataFrame(columns=cols)
    if window is None:
        window = max(1, int(m.groupby(DETECTOR)["gap"].max().min()))
    if window < 1:
        raise ValueError(f"decay_area window must be >= 1 round, got {window}")
    ks = np.arange(window + 1)
    m = m[m.gap <= window]
    rows = []
    for _, run in m.groupby(["run", "seed"], sort=True):
        gaps = run.groupby(DETECTOR)["gap"].agg(lambda g: set(g.tolist()))
        eligible = [key for key, seen in gaps.items() if set(ks.tolist()) <= seen]
        cells = run[run.set_index(DETECTOR).index.isin(eligible)]
        # the generations every eligible detector was scored on, gap by gap
        per = cells.groupby(["gap", "generation"])["detector"].nunique()
        common = per[per == len(eligible)].reset_index()[["gap", "generation"]]
        matched = cells.merge(common, on=["gap", "generation"])
        curve = matched.groupby([*DETECTOR, "gap"])["value"].mean().unstack("gap").reindex(columns=ks)
        n = matched.groupby(DETECTOR).size()
        for key in gaps.index:
            area, n_cells = np.nan, 0
            if key in curve.index and curve.loc[key].notna().all():
                ys = curve.loc[key].to_numpy(dtype=float)
                area, n_cells = float(np.sum((ys[1:] + ys[:-1]) / 2.0) / window), int(n[key])
            rows.append(dict(zip(DETECTOR, key, strict=True), value=area, window=window, n_cells=n_cells))
    return pd.DataFrame(rows).assign(metric=metric, quantity="decay_area")[cols]


def vault_gap(df: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    """In-distribution (`post`, this round's generation) vs sealed (vault) score, per round.

    Sealed rows (phase `sealed`) score the freshly retrained version on vault families that are
    never used for training. Pooled (`all`) sealed rows are used when present, else the mean over
    the vault strains. A table without sealed rows gives an empty result (nothing to compare).

    Returns one row per (DETECTOR, round): detector_round, seen, sealed, gap (= seen - sealed).
    """
    cols = [*DETECTOR, "round", "detector_round", "seen", "sealed", "gap", "metric"]
    sel = df[(df.metric == metric) & (df.phase == SEALED)] if not df.empty else df
    if sel.empty:
        return pd.DataFrame(columns=cols)
    keys = [*DETECTOR, "round", "detector_round"]
    pooled = sel[sel.strain == ALL]
    if pooled.empty:
        pooled = sel.groupby(keys, as_index=False)["value"].mean()
    sealed = pooled.groupby(keys, as_index=False)["value"].mean().rename(columns={"value": "sealed"})
    seen = _pick(df, metric)
    seen = seen[(seen.phase == "post") & (seen.generation == seen["round"])]
    seen = seen[keys + ["value"]].rename(columns={"value": "seen"})
    out = seen.merge(sealed, on=keys, how="inner")
    out["gap"] = out.seen - out.sealed
    return out.assign(metric=metric)[cols].sort_values(keys).reset_index(drop=True)


def vault_gap_summary(df: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    """Per detector: mean seen, sealed and gap over the rounds that have sealed rows."""
    v = vault_gap(df, metric)
    cols = [*DETECTOR, "value", "seen", "sealed", "n_rounds", "metric", "quantity"]
    if v.empty:
        return pd.DataFrame(columns=cols)
    out = v.groupby(DETECTOR, as_index=False).agg(
        value=("gap", "mean"), seen=("seen", "mean"), sealed=("sealed", "mean"), n_rounds=("gap", "size")
    )
    return out.assign(metric=metric, quantity="vault_gap")[cols]


def family_debut(df: pd.DataFrame, metric: str = "tpr_at_1fpr") -> pd.DataFrame:
    """Each family's zero-day score in its debut round (the first round its strains appear).

    The zero-day value is the mean over the family's strains of the deployed version's score;
    `post` is the same after retraining on them. A family that debuts in round 1 meets no
    deployed detector, so its zero-day value is NaN.

    Returns one row per (DETECTOR, family): debut_round, n_strains, zero_day, post.
    """
    cols = [*DETECTOR, "family", "debut_round", "n_strains", "zero_day", "post", "metric"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    fam = df[(df.metric == metric) & (df.strain != ALL) & df.phase.isin(["zero_day", "post"])]
    fam = fam[fam.generation == fam["round"]]
    if fam.empty:
        return pd.DataFrame(columns=cols)
    debut = fam.groupby(["run", "seed", "family"], as_index=False)["round"].min()
    debut = debut.rename(columns={"round": "debut_round"})
    at = fam.merge(debut, on=["run", "seed", "family"])
    at = at[at["round"] == at.debut_round]
    wide = at.pivot_table(
        index=[*DETECTOR, "family", "debut_round"], columns="phase", values="value", aggfunc="mean"
    )
    wide = wide.reindex(columns=["zero_day", "post"])
    strains = at.groupby([*DETECTOR, "family", "debut_round"])["strain"].nunique().rename("n_strains")
    out = wide.join(strains).reset_index()
    out.columns.name = None
    return out.assign(metric=metric)[cols].sort_values([*DETECTOR, "debut_round"]).reset_index(drop=True)


def derived(df: pd.DataFrame, metric: str = "auc", half_life_metric: str = "tpr_at_1fpr") -> pd.DataFrame:
    """The headline quantities of every detector of every run as one long tidy table.

    Columns: DETECTOR, quantity, metric, value (forward_transfer, forgetting, decay_area and
    vault_gap in `metric` units; half_life in rounds of `half_life_metric`), censored_at.
    """
    parts = [
        forward_transfer(df, metric),
        forgetting_summary(df, metric),
        decay_area(df, metric),
        vault_gap_summary(df, metric),
        half_life(df, half_life_metric),
    ]
    cols = [*DETECTOR, "quantity", "metric", "value", "censored_at"]
    parts = [p.reindex(columns=cols) for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)


def over_seeds(table: pd.DataFrame, keys: Sequence[str] | None = None, value: str = "value") -> pd.DataFrame:
    """Mean over runs/seeds of a tidy table with a Student t CI over seeds (`analysis.seed_stats`).

    `keys` default: every column except run, seed and the numeric ones. Rows with a NaN value
    (e.g. a censored half-life) are left out of the mean and counted in `n_missing`.
    Returns keys + value (mean), ci_low, ci_high, n_runs, n_missing, and censored_at (the
    largest) when the table has it.
    """
    if keys is None:
        skip = {"run", "seed", value, "ci_low", "ci_high", "n", "censored_at"}
        keys = [c for c in table.columns if c not in skip and not pd.api.types.is_float_dtype(table[c])]
    keys = list(keys)
    cols = [*keys, value, "ci_low", "ci_high", "n_runs", "n_missing"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for key, g in table.groupby(keys, sort=True, dropna=False):
        vals = g[value].to_numpy(dtype=float)
        ok = vals[np.isfinite(vals)]
        lo, hi = t_interval(ok)
        rows.append(
            dict(
                zip(keys, key if isinstance(key, tuple) else (key,), strict=True),
                **{value: float(ok.mean()) if ok.size else np.nan},
                ci_low=lo,
                ci_high=hi,
                n_runs=int(g[["run", "seed"]].drop_duplicates().shape[0]) if "run" in g else len(g),
                n_missing=int((~np.isfinite(vals)).sum()),
            )
        )
        if "censored_at" in g:
            rows[-1]["censored_at"] = float(g["censored_at"].max())
    if "censored_at" in table:
        cols.append("censored_at")
    return pd.DataFrame(rows, columns=cols)


def over_runs(sel: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One run: the rows as they are (bootstrap CIs). Several: mean with a t CI over seeds."""
    n_runs = sel[["run", "seed"]].drop_duplicates().shape[0] if len(sel) else 0
    if n_runs <= 1:
        return sel[[*keys, "value", "ci_low", "ci_high", "n"]].assign(n_runs=n_runs)
    agg = over_seeds(sel, keys)
    n = sel.groupby(keys, as_index=False)["n"].sum()
    return agg.merge(n, on=keys)[[*keys, "value", "ci_low", "ci_high", "n", "n_runs"]]
