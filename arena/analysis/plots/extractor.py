"""The face extractor's misses over rounds (`rounds.extraction`): how often the stage in front of
the detectors loses the face, for the round's fresh fakes, the sealed vault's fakes and the reals,
and per generator family, which is where an extractor attack shows. Torch-free."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_arena.analysis.derived import over_runs
from deepfake_arena.analysis.plots.style import Palette, pyplot, save
from deepfake_arena.results import ALL

# What each pooled line is drawn from: (phase, metric) of the `all` rows.
POOLED = {
    "fakes of the round": ("post", "extractor_miss"),
    "sealed vault fakes": ("sealed", "extractor_miss"),
    "reals": ("post", "extractor_miss_real"),
}
_KEYS = ["run", "seed", "round", "line"]


def _wilson(k: np.ndarray, n: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    from scipy.stats import binomtest

    pairs = [binomtest(int(a), int(b)).proportion_ci(confidence, "wilson") for a, b in zip(k, n, strict=True)]
    return np.array([p.low for p in pairs]), np.array([p.high for p in pairs])


def has_extractor(df: pd.DataFrame) -> bool:
    """Whether any run of the table scored its faces through a face extractor."""
    return bool(df.metric.isin(["extractor_miss", "extractor_miss_real"]).any())


def miss_table(df: pd.DataFrame) -> pd.DataFrame:
    """Miss rate per run, round and line: the pooled lines of `POOLED`, and `family <name>` for
    the round's fakes of each family (its strains pooled, with a Wilson interval).

    Every detector scores the same extracted faces, so one detector's rows stand for all.
    """
    sel = df[df.metric.isin(["extractor_miss", "extractor_miss_real"])]
    if sel.empty:
        return pd.DataFrame(columns=[*_KEYS, "value", "ci_low", "ci_high", "n"])
    sel = sel[sel.detector == sel.groupby("run").detector.transform("min")]
    parts = []
    for line, (phase, metric) in POOLED.items():
        rows = sel[(sel.phase == phase) & (sel.metric == metric) & (sel.strain == ALL)]
        parts.append(rows.assign(line=line))
    fams = sel[(sel.phase == "post") & (sel.metric == "extractor_miss") & (sel.strain != ALL) & (sel.n > 0)]
    if len(fams):
        fams = fams.assign(k=np.rint(fams.value * fams.n), line="family " + fams.family)
        pooled = fams.groupby(_KEYS, as_index=False)[["k", "n"]].sum()
        pooled["value"] = pooled.k / pooled.n
        pooled["ci_low"], pooled["ci_high"] = _wilson(pooled.k.to_numpy(), pooled.n.to_numpy())
        parts.append(pooled.drop(columns="k"))
    cols = [*_KEYS, "value", "ci_low", "ci_high", "n"]
    return pd.concat([p[cols] for p in parts], ignore_index=True).sort_values(_KEYS, ignore_index=True)


def plot_extractor(df: pd.DataFrame, out: Path, palette: Palette | None = None) -> Path | str:
    """Left: miss rate of the round's fakes, the sealed fakes and the reals; right: per family."""
    table = miss_table(df)
    if table.empty:
        return "no face extractor in these runs (`extractor:` in the spec)"
    palette = palette or Palette.from_table(df)
    agg = over_runs(table, ["round", "line"])
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    styles = {"fakes of the round": "tab:red", "sealed vault fakes": "tab:purple", "reals": "tab:green"}
    for ax, lines in ((axes[0], list(POOLED)), (axes[1], sorted(set(agg.line) - set(POOLED)))):
        for line in lines:
            g = agg[agg.line == line].sort_values("round")
            if g.empty:
                continue
            colour = styles.get(line) or palette.family(line.removeprefix("family "))
            ax.plot(g["round"], g.value, "o-", color=colour, ms=3, label=line)
            ax.fill_between(g["round"], g.ci_low, g.ci_high, color=colour, alpha=0.15, lw=0)
        ax.set_xlabel("round")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("share of faces the extractor misses")
    top = float(np.nanmax(agg[["value", "ci_high"]].to_numpy()))
    axes[0].set_ylim(-0.01, min(1.02, max(0.1, 1.15 * top)))  # misses are rare: no empty 0-1 scale
    axes[0].set_title("Pooled (a miss is scored as nothing flagged)", fontsize=9)
    axes[1].set_title("The round's fakes per generator family", fontsize=9)
    return save(fig, agg, out / "extractor_miss.png")
