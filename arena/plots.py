"""Plots from the results table alone (no torch import): the cat-and-mouse curve and the
train-round x test-generation heatmap. Each plot is saved with a CSV of the numbers drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from arena.results import ALL, load

_LABELS = {
    "auc": "AUC",
    "ap": "average precision",
    "accuracy": "accuracy at 0.5",
    "tpr_at_1fpr": "TPR at 1% FPR",
    "eer": "equal error rate",
    "log_loss": "log loss",
}


def _plt():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def cat_and_mouse_table(df: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    sel = df[(df.metric == metric) & (df.strain == ALL) & df.phase.isin(["zero_day", "post"])]
    cols = ["detector", "strategy", "round", "phase", "detector_round", "value", "ci_low", "ci_high", "n"]
    return (
        sel[cols]
        .sort_values(["detector", "round", "phase"], ascending=[True, True, False])
        .reset_index(drop=True)
    )


def plot_cat_and_mouse(df: pd.DataFrame, out: Path, metric: str = "auc") -> Path:
    """Zero-day (before retraining) then post-retrain per round: the sawtooth of decay and recovery."""
    plt = _plt()
    table = cat_and_mouse_table(df, metric)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colors = plt.get_cmap("tab10")
    for k, (name, g) in enumerate(table.groupby("detector", sort=True)):
        xs = g["round"] + np.where(g.phase == "zero_day", -0.2, 0.2)
        c = colors(k % 10)
        ax.plot(xs, g.value, "-", color=c, lw=1.5, label=f"{name} ({g.strategy.iloc[0]})")
        ax.fill_between(xs, g.ci_low, g.ci_high, color=c, alpha=0.15, lw=0)
        zd, po = g[g.phase == "zero_day"], g[g.phase == "post"]
        ax.plot(zd["round"] - 0.2, zd.value, "v", color=c, mfc="white", ms=6)
        ax.plot(po["round"] + 0.2, po.value, "o", color=c, ms=5)
    if metric in ("auc", "accuracy"):
        ax.axhline(0.5, color="grey", ls=":", lw=1)
        ax.text(ax.get_xlim()[0], 0.505, " chance", color="grey", fontsize=8, va="bottom")
    ax.set_xlabel("round (generation of fakes)")
    ax.set_ylabel(f"{_LABELS.get(metric, metric)}, all strains pooled")
    ax.set_title(
        f"Cat and mouse: zero-day (▽, before retraining) vs post-retrain (●) {_LABELS.get(metric, metric)}"
    )
    rounds = sorted(table["round"].unique())
    if rounds:
        ax.set_xticks(rounds)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out / f"cat_and_mouse_{metric}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    table.to_csv(path.with_suffix(".csv"), index=False)
    return path


def heatmap_table(df: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    """score[version trained through round i][generation j] from the post, past and zero-day rows."""
    sel = df[(df.metric == metric) & (df.strain == ALL)]
    sel = sel[sel.detector_round > 0]
    cols = ["detector", "detector_round", "generation", "phase", "value"]
    # A version scores one generation in one phase only, except a frozen version that is
    # re-scored every round; keep the latest scoring of each cell.
    sel = sel.sort_values("round").drop_duplicates(["detector", "detector_round", "generation"], keep="last")
    return sel[cols].sort_values(["detector", "detector_round", "generation"]).reset_index(drop=True)


def plot_heatmap(df: pd.DataFrame, out: Path, metric: str = "auc") -> Path:
    plt = _plt()
    table = heatmap_table(df, metric)
    dets = sorted(table.detector.unique())
    gens = sorted(df.generation.unique()) if len(df) else []
    fig, axes = plt.subplots(
        1, max(1, len(dets)), figsize=(3.6 * max(1, len(dets)) + 0.8, 3.6), squeeze=False
    )
    im = None
    for ax, name in zip(axes[0], dets, strict=False):
        g = table[table.detector == name]
        versions = sorted(g.detector_round.unique())
        grid = np.full((len(versions), len(gens)), np.nan)
        for row in g.itertuples():
            grid[versions.index(row.detector_round), gens.index(row.generation)] = row.value
        im = ax.imshow(
            grid,
            vmin=0.5 if metric == "auc" else None,
            vmax=1.0 if metric == "auc" else None,
            cmap="viridis",
            origin="lower",
            aspect="auto",
        )
        for (i, j), v in np.ndenumerate(grid):
            if not np.isnan(v):
                ax.text(
                    j,
                    i,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if v < 0.8 else "black",
                )
        ax.set_xticks(range(len(gens)), [str(x) for x in gens])
        ax.set_yticks(range(len(versions)), [str(x) for x in versions])
        ax.set_xlabel("test generation (round of the fakes)")
        ax.set_ylabel("detector version (trained through round)")
        ax.set_title(name, fontsize=9)
    if im is not None:
        fig.colorbar(im, ax=axes[0].tolist(), label=_LABELS.get(metric, metric), shrink=0.85)
    fig.suptitle(
        f"{_LABELS.get(metric, metric)}: train round x test generation (above the diagonal: zero-day)",
        fontsize=9,
    )
    path = out / f"heatmap_{metric}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    table.to_csv(path.with_suffix(".csv"), index=False)
    return path


def plot_run(run_dir: str | Path, metric: str = "auc") -> list[Path]:
    run_dir = Path(run_dir)
    df = load(run_dir)
    if df.empty:
        raise ValueError(f"{run_dir} has no committed rounds yet; nothing to plot")
    out = run_dir / "report"
    out.mkdir(exist_ok=True)
    return [plot_cat_and_mouse(df, out, metric), plot_heatmap(df, out, metric)]
