"""Plots of how detection decays and is lost: score against generation gap, forgetting per
detector and strategy, and the gap between seen and sealed (vault) families next to the
field's published figures. Each returns the PNG path, or a note (str) when there is nothing to
draw. Torch-free."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_arena.analysis import derived as analysis
from deepfake_arena.analysis.plots.style import Palette, detector_label, label, pyplot, save

# Published figures, drawn only as clearly marked external references (not produced by a run).
EXTERNAL_REFERENCES = pd.DataFrame(
    [
        ("DFDC 2020 winner", "accuracy", "public test set", 0.8256),
        ("DFDC 2020 winner", "accuracy", "sealed black-box set", 0.6518),
        ("DeepfakeBench Xception", "AUC", "in-domain (FF++)", 0.964),
        ("DeepfakeBench Xception", "AUC", "unseen (DFDC)", 0.708),
    ],
    columns=["reference", "metric", "set", "value"],
)


def _per_seed(table: pd.DataFrame, keys: list[str], value: str = "value") -> pd.DataFrame:
    """Mean over runs of `value` per keys, with a CI over seeds (NaN for a single run)."""
    return analysis.over_seeds(table, keys, value)


def plot_decay_gap(
    df: pd.DataFrame, out: Path, metric: str = "auc", palette: Palette | None = None
) -> Path | str:
    """Score of version i on generation i+k against k: left of 0 the past, right the zero-day side."""
    palette = palette or Palette.from_table(df)
    cells = analysis.score_matrix(df, metric)
    if cells.empty or cells.gap.nunique() < 2:
        return "needs scores at two generation gaps at least (two committed rounds)"
    curve = analysis.decay_curve(df, metric)
    mean = _per_seed(curve, ["detector", "strategy", "gap"])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.axvspan(0.5, cells.gap.max() + 0.5, color="tab:red", alpha=0.05, lw=0)
    ax.axvline(0, color="grey", lw=1, ls="--")
    for name, g in mean.groupby("detector", sort=True):
        c = palette.detector(str(name))
        pts = cells[cells.detector == name]
        jitter = (pts.detector_round % 5 - 2) * 0.03
        ax.plot(pts.gap + jitter, pts.value, ".", color=c, alpha=0.35, ms=5)
        ax.plot(
            g.gap, g.value, "-o", color=c, lw=2, ms=4, label=detector_label(str(name), g.strategy.iloc[0])
        )
        if g.ci_low.notna().any():
            ax.fill_between(g.gap, g.ci_low, g.ci_high, color=c, alpha=0.18, lw=0)
    if metric in ("auc", "accuracy"):
        ax.axhline(0.5, color="grey", ls=":", lw=1)
    where = {"transform": ax.get_xaxis_transform(), "fontsize": 8, "va": "top"}
    box = {"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 1}
    ax.text(0.6, 0.99, "unseen generations (zero-day) →", color="tab:red", bbox=box, **where)
    ax.text(-0.1, 0.99, "← earlier generations (forgetting)", color="dimgrey", ha="right", bbox=box, **where)
    ax.set_xticks(sorted(cells.gap.unique()))
    ax.set_xlabel("generation gap k = test generation − training round (rounds)")
    ax.set_ylabel(f"{label(metric)}, all strains pooled")
    n_runs = int(mean.n_runs.max())
    band = (
        f"line: mean over versions; band: 95% CI over {n_runs} seeds"
        if n_runs > 1
        else "line: mean over versions; dots: single versions"
    )
    ax.set_title(
        f"Decay with generation gap: {label(metric)} of version i on generation i+k\n({band})", fontsize=10
    )
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    table = pd.concat(
        [
            cells[
                ["run", "seed", "detector", "strategy", "detector_round", "generation", "gap", "value"]
            ].assign(kind="cell"),
            mean.assign(kind="mean"),
        ],
        ignore_index=True,
    ).assign(metric=metric)
    return save(fig, table, out / f"decay_gap_{metric}.png")


def plot_forgetting(
    df: pd.DataFrame, out: Path, metric: str = "auc", palette: Palette | None = None
) -> Path | str:
    """Left: forgetting of the last version on each earlier generation. Right: its mean per
    detector (strategy in the label), dots per generation, whiskers a CI over seeds, and the
    noise floor (the frozen detectors' apparent forgetting) as a dashed line when there is one."""
    palette = palette or Palette.from_table(df)
    f = analysis.forgetting(df, metric)
    if f.empty:
        return "needs at least two committed rounds (a later version to compare with)"
    last = f[f["round"] == f.groupby(analysis.DETECTOR)["round"].transform("max")]
    per_gen = _per_seed(last, ["detector", "strategy", "generation"], "forgetting")
    summary = analysis.forgetting_summary(df, metric)
    bars = _per_seed(summary, ["detector", "strategy"])
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.3), gridspec_kw={"width_ratios": [1.5, 1]})
    for name, g in per_gen.groupby("detector", sort=True):
        c = palette.detector(str(name))
        ax1.plot(
            g.generation,
            g.forgetting,
            "-o",
            color=c,
            lw=1.8,
            ms=4,
            label=detector_label(str(name), g.strategy.iloc[0]),
        )
        if g.ci_low.notna().any():
            ax1.fill_between(g.generation, g.ci_low, g.ci_high, color=c, alpha=0.18, lw=0)
    ax1.axhline(0, color="grey", lw=1)
    ax1.set_xlabel("earlier generation j (round of the fakes)")
    ax1.set_ylabel(f"forgetting ({label(metric)} points)\nbest earlier − after last retraining")
    ax1.set_xticks(sorted(per_gen.generation.unique()))
    ax1.set_title(f"Forgetting of the round-{int(last['round'].max())} version per generation", fontsize=10)
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    xs = np.arange(len(bars))
    colors = [palette.detector(str(d)) for d in bars.detector]
    ax2.bar(xs, bars.value, color=colors, alpha=0.75, width=0.6)
    if bars.ci_low.notna().any():
        err = np.vstack([bars.value - bars.ci_low, bars.ci_high - bars.value])
        ax2.errorbar(xs, bars.value, yerr=np.nan_to_num(err), fmt="none", ecolor="black", capsize=4)
    for x, (name, _) in zip(xs, bars[["detector", "strategy"]].itertuples(index=False), strict=True):
        vals = per_gen[per_gen.detector == name].forgetting
        ax2.plot(np.full(len(vals), x) + np.linspace(-0.15, 0.15, len(vals)), vals, "k.", ms=4, alpha=0.6)
    for x, v in zip(xs, bars.value, strict=True):
        ax2.annotate(
            f"{v:+.3f}",
            (x, v),
            textcoords="offset points",
            xytext=(0, 4 if v >= 0 else -12),
            ha="center",
            fontsize=8,
        )
    ax2.axhline(0, color="grey", lw=1)
    floor = summary.drop_duplicates(
        ["run", "seed"]
    ).floor.mean()  # one floor per run, NaN without a frozen one
    if np.isfinite(floor):
        ax2.axhline(
            floor, color="dimgrey", ls="--", lw=1, label="noise floor: frozen detectors' apparent forgetting"
        )
        ax2.legend(fontsize=7, loc="best")
    ax2.set_xticks(xs, [f"{d}\n({s})" for d, s in zip(bars.detector, bars.strategy, strict=True)], fontsize=8)
    ax2.set_ylabel(f"mean forgetting ({label(metric)} points)")
    ax2.set_title("Mean over earlier generations, per detector and strategy", fontsize=10)
    ax2.grid(alpha=0.3, axis="y")
    fig.suptitle("Forgetting: how much a later retraining loses on generations already learned", fontsize=11)
    fig.tight_layout()
    table = pd.concat(
        [per_gen.assign(kind="per_generation"), bars.assign(kind="mean_over_generations")], ignore_index=True
    ).assign(metric=metric)
    return save(fig, table, out / f"forgetting_{metric}.png")


def plot_vault_gap(
    df: pd.DataFrame, out: Path, metric: str = "auc", palette: Palette | None = None
) -> Path | str:
    """Seen (post, this round's families) vs sealed (vault families) per detector; beside it the
    published figures of the field, hatched and labelled as external references."""
    palette = palette or Palette.from_table(df)
    v = analysis.vault_gap(df, metric)
    if v.empty:
        return "no sealed (vault) rows in these runs: nothing to compare with"
    per_run = v.groupby(analysis.DETECTOR, as_index=False)[["seen", "sealed", "gap"]].mean()
    long = per_run.melt(id_vars=analysis.DETECTOR, value_vars=["seen", "sealed", "gap"], var_name="set")
    agg = _per_seed(long, ["detector", "strategy", "set"])
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.3), gridspec_kw={"width_ratios": [1.2, 1]})
    dets = sorted(agg.detector.unique())
    width = 0.38
    for k, name in enumerate(dets):
        c = palette.detector(name)
        g = agg[agg.detector == name].set_index("set")
        for dx, which, kw in (
            (-width / 2, "seen", {}),
            (width / 2, "sealed", {"hatch": "//", "alpha": 0.45}),
        ):
            row = g.loc[which]
            ax1.bar(k + dx, row.value, width, color=c, edgecolor="black", lw=0.6, **kw)
            if np.isfinite(row.ci_low):
                ax1.errorbar(
                    k + dx,
                    row.value,
                    yerr=[[row.value - row.ci_low], [row.ci_high - row.value]],
                    fmt="none",
                    ecolor="black",
                    capsize=3,
                )
            ax1.text(k + dx, row.value + 0.01, f"{row.value:.2f}", ha="center", va="bottom", fontsize=8)
        pts = v[v.detector == name]
        ax1.plot(np.full(len(pts), k + width / 2), pts.sealed, "k.", ms=3, alpha=0.5)
        ax1.text(
            k,
            0.03,
            f"gap {g.loc['gap'].value:+.2f}",
            ha="center",
            fontsize=8,
            color="white",
            fontweight="bold",
        )
    ax1.set_xticks(range(len(dets)), dets, fontsize=8)
    ax1.set_ylim(0, 1.08)
    ax1.set_ylabel(label(metric))
    ax1.set_title(f"This run: seen (solid) vs sealed vault families (hatched), {label(metric)}", fontsize=9)
    ax1.grid(alpha=0.3, axis="y")
    refs = EXTERNAL_REFERENCES
    for k, (_, g) in enumerate(refs.groupby("reference", sort=False)):
        for dx, (_, row) in zip((-width / 2, width / 2), g.iterrows(), strict=True):
            sealed = dx > 0
            ax2.bar(
                k + dx,
                row.value,
                width,
                color="lightgrey",
                edgecolor="dimgrey",
                hatch="//" if sealed else None,
            )
            ax2.text(
                k + dx, row.value + 0.01, f"{row.value:.3f}\n{row.set}", ha="center", va="bottom", fontsize=7
            )
    ax2.set_xticks(
        range(refs.reference.nunique()),
        [f"{n}\n({m})" for n, m in refs[["reference", "metric"]].drop_duplicates().itertuples(index=False)],
        fontsize=8,
    )
    ax2.set_ylim(0, 1.15)
    ax2.set_ylabel("published score (metric under each pair)")
    ax2.set_title("EXTERNAL REFERENCES — published figures, not from this run", fontsize=9, color="dimgrey")
    ax2.grid(alpha=0.3, axis="y")
    fig.suptitle("Vault gap: in-distribution vs never-seen (sealed) families", fontsize=11)
    fig.tight_layout()
    table = pd.concat(
        [
            agg.assign(source="this run", metric=metric),
            refs.rename(columns={"set": "set"}).assign(source="external reference"),
        ],
        ignore_index=True,
    )
    return save(fig, table, out / f"vault_gap_{metric}.png")
