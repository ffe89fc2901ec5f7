"""Plots of the generator population from each committed round's population.json: the Red Queen
plot (population fitness racing the detectors' scores, family unlocks marked) and the lineage
of the strains (family tree plus the families' share over rounds). Torch-free."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_arena.analysis import derived as analysis
from deepfake_arena.analysis.plots.style import Palette, detector_label, label, pyplot, save
from deepfake_arena.results import ALL
from deepfake_arena.store.ledger import committed_rounds, round_dir_name, verified_path
from deepfake_arena.store.round_files import POPULATION

POP_COLUMNS = ["run", "seed", "round", "strain", "family", "parents", "born_round", "n_mutations"]
POP_COLUMNS += ["evasion", "quality", "fitness"]


def load_populations(run_dirs: Sequence[Path], genes: Sequence[str] = ()) -> pd.DataFrame:
    """One row per (run, round, strain that played the round), from the committed rounds only.

    `parents` is the parents' ids joined by ';' (empty for a founder); fitness = evasion of the
    freshly retrained detectors x the quality gate, as the round loop recorded it. `genes`: gene
    names whose values are added as columns of the same names (NaN where a genome lacks one).
    """
    rows = []
    for run_dir in map(Path, run_dirs):
        spec = json.loads((run_dir / "spec.resolved.json").read_text())
        for r in committed_rounds(run_dir, deep=False).rounds:
            path = run_dir / "rounds" / round_dir_name(r) / POPULATION
            if not path.is_file():
                continue
            path = verified_path(run_dir, r, POPULATION)
            for s in json.loads(path.read_text()).get("strains", []):
                rows.append(
                    {
                        "run": run_dir.name,
                        "seed": int(spec.get("seed", 0)),
                        "round": r,
                        "strain": s["id"],
                        "family": s["genome"]["family"],
                        "parents": ";".join(s.get("parents", [])),
                        "born_round": int(s.get("born_round", r)),
                        "n_mutations": len(s.get("mutations", [])),
                        "evasion": float(s.get("evasion", np.nan)),
                        "quality": float(s.get("quality", np.nan)),
                        "fitness": float(s.get("fitness", np.nan)),
                        **{g: s["genome"]["genes"].get(g, np.nan) for g in genes},
                    }
                )
    return pd.DataFrame(rows, columns=POP_COLUMNS + list(genes))


def family_unlocks(pops: pd.DataFrame) -> pd.DataFrame:
    """The first round each family appears in the population (its debut), per run."""
    return (
        pops.groupby(["run", "family"], as_index=False)["round"]
        .min()
        .rename(columns={"round": "debut_round"})
    )


def plot_red_queen(
    df: pd.DataFrame, pops: pd.DataFrame, out: Path, metric: str = "auc", palette: Palette | None = None
) -> Path | str:
    """Top: population fitness per round (mean, best, spread). Bottom: each detector's zero-day
    (solid) and post-retrain (dotted) score. Dashed verticals: a family's first round."""
    if pops.empty:
        return "no population.json in the committed rounds"
    palette = palette or Palette.from_table(df, pops.family.unique())
    per_run = pops.groupby(["run", "seed", "round"], as_index=False).agg(
        mean=("fitness", "mean"), best=("fitness", "max"), worst=("fitness", "min")
    )
    n_runs = per_run.run.nunique()
    long = per_run.melt(
        id_vars=["run", "seed", "round"], value_vars=["mean", "best", "worst"], var_name="stat"
    )
    fit = analysis.over_seeds(long, ["stat", "round"])
    det = df[(df.metric == metric) & (df.strain == ALL) & df.phase.isin(["zero_day", "post"])]
    det = det[det.generation == det["round"]]
    det_agg = analysis.over_seeds(det, ["detector", "strategy", "phase", "round"])
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6.2), sharex=True, gridspec_kw={"height_ratios": [1, 1]})
    g = {s: fit[fit.stat == s].sort_values("round") for s in ("mean", "best", "worst")}
    ax1.fill_between(
        g["worst"]["round"],
        g["worst"].value,
        g["best"].value,
        color="tab:purple",
        alpha=0.12,
        lw=0,
        label="range over strains",
    )
    ax1.plot(g["mean"]["round"], g["mean"].value, "-o", color="tab:purple", lw=2, ms=4, label="mean fitness")
    ax1.plot(g["best"]["round"], g["best"].value, "--", color="tab:purple", lw=1.2, label="best strain")
    if n_runs > 1:
        ax1.fill_between(
            g["mean"]["round"],
            g["mean"].ci_low,
            g["mean"].ci_high,
            color="tab:purple",
            alpha=0.3,
            lw=0,
            label=f"95% CI over {n_runs} seeds",
        )
    ax1.set_ylabel("generator fitness\n(evasion × quality gate, 0–1)")
    ax1.set_title("Red Queen: the generators' fitness vs the detectors' score", fontsize=11)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=7, loc="lower right")
    for (name, phase), gd in det_agg.groupby(["detector", "phase"], sort=True):
        gd = gd.sort_values("round")
        c = palette.detector(str(name))
        zd = phase == "zero_day"
        ax2.plot(
            gd["round"],
            gd.value,
            "-" if zd else ":",
            color=c,
            lw=2 if zd else 1.3,
            marker="v" if zd else "o",
            ms=4,
            label=f"{detector_label(str(name), gd.strategy.iloc[0])} {'zero-day' if zd else 'post-retrain'}",
        )
        if gd.ci_low.notna().any() and zd:
            ax2.fill_between(gd["round"], gd.ci_low, gd.ci_high, color=c, alpha=0.15, lw=0)
    ax2.set_ylabel(f"detector {label(metric)}\n(this round's fakes)")
    ax2.set_xlabel("round")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7, loc="lower left", ncol=2)
    unlocks = family_unlocks(pops).groupby("family", as_index=False)["debut_round"].min()
    first = int(pops["round"].min())
    for row in unlocks.itertuples():
        x = row.debut_round - 0.5 if row.debut_round > first else first - 0.15
        color = palette.family(row.family)
        for ax in (ax1, ax2):
            ax.axvline(x, color=color, ls="--", lw=1.2)
        text = f"{row.family} unlocks" if row.debut_round > first else f"{row.family} (from round {first})"
        ax1.annotate(
            text,
            (x, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -3),
            textcoords="offset points",
            color=color,
            fontsize=8,
            va="top",
            rotation=90,
        )
    ax2.set_xticks(sorted(pops["round"].unique()))
    fig.text(
        0.01,
        0.005,
        "dashed verticals: a generator family unlocks (its first round)",
        fontsize=7,
        color="dimgrey",
    )
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    table = pd.concat(
        [
            fit.assign(series="population_fitness"),
            det_agg.assign(series="detector_score", metric=metric),
            unlocks.assign(series="family_unlock"),
        ],
        ignore_index=True,
    )
    return save(fig, table, out / f"red_queen_{metric}.png")


def _lanes(pop: pd.DataFrame) -> dict[str, int]:
    """A row per strain: founders first, then each child next to its first parent's lane order."""
    first = pop.groupby("strain").agg(first=("round", "min"), parents=("parents", "first")).reset_index()
    first = first.sort_values(["first", "strain"])
    return {s: k for k, s in enumerate(first.strain)}


def plot_lineage(pops: pd.DataFrame, out: Path, palette: Palette | None = None) -> Path | str:
    """Top: every strain as a line over the rounds it played (dot size = fitness), joined to its
    parents. Bottom: number of strains of each family per round (stacked)."""
    if pops.empty:
        return "no population.json in the committed rounds"
    run = sorted(pops.run.unique())[0]
    pop = pops[pops.run == run].copy()
    palette = palette or Palette.build([], pop.family.unique())
    lanes = _lanes(pop)
    pop["lane"] = pop.strain.map(lanes)
    plt = pyplot()
    n = len(lanes)
    fig, (ax1, ax2) = plt.subplots(
        2,
        1,
        figsize=(9, 3.0 + min(0.16 * n, 9) + 2.2),
        sharex=True,
        gridspec_kw={"height_ratios": [max(2.0, min(0.16 * n, 9)), 2.2]},
    )
    lane_round = {(s, r) for s, r in zip(pop.strain, pop["round"], strict=True)}
    for s, g in pop.groupby("strain"):
        c = palette.family(g.family.iloc[0])
        y = lanes[str(s)]
        ax1.plot([g["round"].min(), g["round"].max()], [y, y], "-", color=c, lw=1.5, alpha=0.8)
        size = 10 + 80 * np.nan_to_num(g.fitness.to_numpy(), nan=0.0)
        ax1.scatter(g["round"], np.full(len(g), y), s=size, color=c, edgecolor="black", lw=0.3, zorder=3)
        born = int(g["round"].min())
        for p in filter(None, g.parents.iloc[0].split(";")):
            if p in lanes and (p, born - 1) in lane_round:
                ax1.plot([born - 1, born], [lanes[p], y], "-", color="grey", lw=0.6, alpha=0.6, zorder=1)
        if n <= 40:
            ax1.text(g["round"].max() + 0.08, y, str(s), fontsize=6, va="center", color="dimgrey")
    ax1.set_yticks([])
    ax1.set_ylabel("strains (by first round)")
    ax1.set_title(
        f"Lineage of the generator strains (run {run}); grey: parent → child, dot size: fitness", fontsize=10
    )
    ax1.grid(alpha=0.2, axis="x")
    counts = pop.groupby(["round", "family"]).size().unstack(fill_value=0).sort_index()
    ax2.stackplot(
        counts.index,
        counts.T.to_numpy(),
        labels=list(counts.columns),
        colors=[palette.family(f) for f in counts.columns],
        alpha=0.85,
    )
    ax2.set_ylabel("strains per family")
    ax2.set_xlabel("round")
    ax2.legend(fontsize=8, loc="upper left", title="family", title_fontsize=8)
    ax2.set_xticks(sorted(pop["round"].unique()))
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    table = pop[["run", "seed", "round", "strain", "family", "parents", "born_round", "lane", "fitness"]]
    return save(fig, table, out / "lineage.png")
