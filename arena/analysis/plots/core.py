"""Plots from the results files alone (no torch import). This module draws the two core views —
the cat-and-mouse curve and the train-round x test-generation heatmap — and `write_plots` /
`plot_run` write every plot of a run (or of several seeds of one condition):

1. cat_and_mouse   zero-day vs post-retrain score per round (the sawtooth), per detector; with
                   `evaluation.external`, the same versions on each set of real deepfakes (dashed)
2. decay_gap       score of version i on generation i+k against k        (analysis.plots.decay)
3. heatmap         score[trained through round i][generation j]
4. forgetting      per detector and strategy                             (analysis.plots.decay)
5. vault_gap       seen vs sealed, next to the field's published figures (analysis.plots.decay)
6. red_queen       population fitness vs detector score, family unlocks  (analysis.plots.population)
7. lineage         the strains' family tree and families over rounds     (analysis.plots.population)
8. samples         real/fake pairs of the fittest strain across rounds   (analysis.plots.samples)
9. extractor_miss  faces the face extractor misses, per round and family (analysis.plots.extractor)

Each PNG is saved with a CSV of the numbers drawn; with several runs of a condition the lines
are means over seeds with a Student t CI band over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_arena.analysis.derived import load_runs, over_runs, score_matrix
from deepfake_arena.analysis.plots.style import Palette, Plot, detector_label, label, pyplot, save
from deepfake_arena.results import ALL

_CM_KEYS = ["detector", "strategy", "round", "phase", "detector_round"]


def cat_and_mouse_table(df: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    """Zero-day and post rows of the pooled strains, per detector and round (mean over seeds)."""
    sel = df[(df.metric == metric) & (df.strain == ALL) & df.phase.isin(["zero_day", "post"])]
    table = over_runs(sel, _CM_KEYS)
    cols = [*_CM_KEYS, "value", "ci_low", "ci_high", "n", "n_runs"]
    return (
        table[cols]
        .sort_values(["detector", "round", "phase"], ascending=[True, True, False])
        .reset_index(drop=True)
    )


def external_table(df: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    """Pooled scores of the zero-day and post versions on each external set (rounds.external), per
    detector and round (mean over seeds); empty for runs without `evaluation.external`."""
    from deepfake_arena.analysis.external import pooled

    keys = [*_CM_KEYS, "set"]
    if df.empty or not (df.phase == "external").any():
        return pd.DataFrame(columns=[*keys, "value", "ci_low", "ci_high", "n", "n_runs"])
    table = over_runs(pooled(df, metric), keys)
    return table.sort_values(
        ["detector", "set", "round", "phase"], ascending=[True, True, True, False]
    ).reset_index(drop=True)


def plot_cat_and_mouse(
    df: pd.DataFrame, out: Path, metric: str = "auc", palette: Palette | None = None
) -> Path:
    """Zero-day (before retraining) then post-retrain per round: the sawtooth of decay and recovery."""
    plt = pyplot()
    palette = palette or Palette.from_table(df)
    table = cat_and_mouse_table(df, metric)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, g in table.groupby("detector", sort=True):
        xs = g["round"] + np.where(g.phase == "zero_day", -0.2, 0.2)
        c = palette.detector(str(name))
        ax.plot(xs, g.value, "-", color=c, lw=1.5, label=detector_label(str(name), g.strategy.iloc[0]))
        ax.fill_between(xs, g.ci_low, g.ci_high, color=c, alpha=0.15, lw=0)
        zd, po = g[g.phase == "zero_day"], g[g.phase == "post"]
        ax.plot(zd["round"] - 0.2, zd.value, "v", color=c, mfc="white", ms=6)
        ax.plot(po["round"] + 0.2, po.value, "o", color=c, ms=5)
    ext = external_table(df, metric)
    for (name, ext_set), g in ext.groupby(["detector", "set"], sort=True):
        xs = g["round"] + np.where(g.phase == "zero_day", -0.2, 0.2)
        c = palette.detector(str(name))
        lbl = f"{detector_label(str(name), g.strategy.iloc[0])} on {ext_set} (external set)"
        ax.plot(xs, g.value, "--", color=c, lw=1.2, label=lbl)
        ax.plot(xs, g.value, "s", color=c, mfc="white", ms=4)
    if len(ext):  # the CSV holds both: the arena's lines and the external ones (column `set`)
        table = pd.concat(
            [table.assign(set=""), ext[[*_CM_KEYS, "set", "value", "ci_low", "ci_high", "n", "n_runs"]]]
        )
    if metric in ("auc", "accuracy"):
        ax.axhline(0.5, color="grey", ls=":", lw=1)
        ax.text(ax.get_xlim()[0], 0.505, " chance", color="grey", fontsize=8, va="bottom")
    ax.set_xlabel("round (generation of fakes)")
    n_runs = int(table.n_runs.max()) if len(table) else 0
    band = f"band: 95% t CI over {n_runs} seeds" if n_runs > 1 else "band: 95% bootstrap CI"
    ax.set_ylabel(f"{label(metric)}, all strains pooled")
    ax.set_title(f"Cat and mouse: zero-day (▽, before retraining) vs post-retrain (●) {label(metric)}")
    ax.text(0.01, 0.02, band, transform=ax.transAxes, fontsize=7, color="dimgrey")
    rounds = sorted(table["round"].unique())
    if rounds:
        ax.set_xticks(rounds)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return save(fig, table, out / f"cat_and_mouse_{metric}.png")


def heatmap_table(df: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    """score[version trained through round i][generation j] (see `analysis.derived.score_matrix`),
    averaged over seeds when several runs are given."""
    m = score_matrix(df, metric)
    keys = ["detector", "detector_round", "generation", "phase"]
    table = m.groupby(keys, as_index=False).agg(value=("value", "mean"), n_runs=("value", "size"))
    return table.sort_values(["detector", "detector_round", "generation"]).reset_index(drop=True)


def plot_heatmap(df: pd.DataFrame, out: Path, metric: str = "auc") -> Path:
    plt = pyplot()
    table = heatmap_table(df, metric)
    dets = sorted(table.detector.unique())
    gens = sorted(table.generation.unique())
    versions_all = sorted(table.detector_round.unique())
    n = max(1, len(dets))
    fig, axes = plt.subplots(
        1,
        n,
        figsize=(0.55 * max(4, len(gens)) * n + 1.5, 1.2 + 0.45 * max(4, len(versions_all))),
        squeeze=False,
    )
    im = None
    cmap = "viridis_r" if metric in ("eer", "log_loss", "ece") else "viridis"
    # one colour scale for every panel, so the shared colour bar reads right for each of them
    lo, hi = (0.5, 1.0) if metric == "auc" else (float(table.value.min()), float(table.value.max()))
    for ax, name in zip(axes[0], dets, strict=False):
        g = table[table.detector == name]
        versions = sorted(g.detector_round.unique())
        grid = np.full((len(versions), len(gens)), np.nan)
        for row in g.itertuples():
            grid[versions.index(row.detector_round), gens.index(row.generation)] = row.value
        im = ax.imshow(grid, vmin=lo, vmax=hi, cmap=cmap, origin="lower", aspect="auto")
        mid = (lo + hi) / 2
        for (i, j), v in np.ndenumerate(grid):
            if not np.isnan(v):
                dark = (v < mid) != (cmap.endswith("_r"))
                ax.text(
                    j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if dark else "black"
                )
        ax.set_xticks(range(len(gens)), [str(x) for x in gens])
        ax.set_yticks(range(len(versions)), [str(x) for x in versions])
        ax.set_xlabel("test generation (round of the fakes)")
        ax.set_ylabel("version (trained through round)")
        ax.set_title(name, fontsize=9)
    if im is not None:
        fig.colorbar(im, ax=axes[0].tolist(), label=label(metric), shrink=0.85)
    fig.suptitle(
        f"{label(metric)}: train round x test generation (right of the diagonal: zero-day)", fontsize=9
    )
    return save(fig, table, out / f"heatmap_{metric}.png")


def check_metric(metric: str, df: pd.DataFrame | None = None) -> None:
    """A metric name must be one the arena computes (and, given a table, one it holds): anything
    else is a one-line error, not a page of empty plots or a string pasted into HTML."""
    from deepfake_arena.errors import ArenaUserError
    from deepfake_arena.metrics import METRICS

    if metric not in METRICS:
        shown = metric if len(metric) <= 40 else metric[:40] + "..."
        raise ArenaUserError(f"unknown metric {shown!r}; valid choices: {', '.join(METRICS)}")
    if df is not None and len(df) and not (df["metric"] == metric).any():
        held = ", ".join(sorted(m for m in df["metric"].unique() if m in METRICS))
        raise ArenaUserError(f"metric {metric!r} is not in these runs' results; they hold: {held}")


def _safe(name: str, title: str, fn, *args, **kw) -> Plot:  # type: ignore[no-untyped-def]
    """Run one plot function; a plot without data (fn returns a note string) is skipped, not an error,
    and so is one whose round files do not match their manifests (the note names the file)."""
    from deepfake_arena.store.ledger import CorruptFile

    try:
        result = fn(*args, **kw)
    except CorruptFile as exc:
        return Plot(name, title, None, str(exc))
    if isinstance(result, str):
        return Plot(name, title, None, result)
    return Plot(name, title, result)


def write_plots(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    metric: str = "auc",
    palette: Palette | None = None,
    df: pd.DataFrame | None = None,
) -> list[Plot]:
    """Every plot of one condition (one run, or several seeds of one spec) into `out`.

    Plots with nothing to draw (no sealed rows, a single round) come back with path None and a
    note saying why; the extractor's plot is left out of runs without one. The cat-and-mouse plot
    is always first.
    """
    from deepfake_arena.analysis.plots import decay as plots_decay
    from deepfake_arena.analysis.plots import extractor as plots_extractor
    from deepfake_arena.analysis.plots import population as plots_population
    from deepfake_arena.analysis.plots import samples as plots_samples
    from deepfake_arena.store.run_info import world_credit

    dirs = [Path(d) for d in run_dirs]
    out = Path(out)
    check_metric(metric)
    if df is None:
        df = load_runs(dirs)
    if df.empty:
        raise ValueError(f"{', '.join(map(str, dirs))}: no committed rounds yet; nothing to plot")
    check_metric(metric, df)
    out.mkdir(parents=True, exist_ok=True)
    from deepfake_arena.store.ledger import CorruptFile

    pop_error = None
    try:
        pops = plots_population.load_populations(dirs)
    except CorruptFile as exc:  # the population plots are skipped, naming the file; the rest are drawn
        pops, pop_error = pd.DataFrame(columns=plots_population.POP_COLUMNS), str(exc)
    families = set(pops.family.unique()) if len(pops) else set()
    palette = palette or Palette.from_table(df, families)
    credit = world_credit(dirs[0])
    plots = [
        Plot("cat_and_mouse", "Cat and mouse", plot_cat_and_mouse(df, out, metric, palette)),
        _safe("decay_gap", "Decay with generation gap", plots_decay.plot_decay_gap, df, out, metric, palette),
        Plot("heatmap", "Train round x test generation", plot_heatmap(df, out, metric)),
        _safe("forgetting", "Forgetting", plots_decay.plot_forgetting, df, out, metric, palette),
        _safe("vault_gap", "Vault gap", plots_decay.plot_vault_gap, df, out, metric, palette),
        _safe("red_queen", "Red Queen", plots_population.plot_red_queen, df, pops, out, metric, palette),
        _safe("lineage", "Lineage", plots_population.plot_lineage, pops, out, palette),
        _safe("samples", "Samples across rounds", plots_samples.plot_samples, dirs[0], out, credit),
    ]
    if pop_error:
        pop_plots = ("red_queen", "lineage")
        plots = [Plot(p.name, p.title, None, pop_error) if p.name in pop_plots else p for p in plots]
    if plots_extractor.has_extractor(df):  # only runs with a face extractor have this one
        plots.append(
            _safe("extractor_miss", "Face extractor misses", plots_extractor.plot_extractor, df, out, palette)
        )
    return plots


def plot_dir(path: str | Path, metric: str = "auc") -> list[Plot]:
    """Every plot of a run into <run>/report/; of a sweep, per condition into <sweep>/report/<label>/.

    Raises ValueError (one line, for the CLI) for a directory that is not a run or has no
    committed round yet.
    """
    from deepfake_arena.errors import ArenaUserError
    from deepfake_arena.store.run_info import conditions, expand_run_dirs

    path = Path(path)
    check_metric(metric)
    try:
        run_dirs = expand_run_dirs([path])
    except ArenaUserError as exc:
        raise ValueError(str(exc)) from None
    if run_dirs == [path]:
        return write_plots(run_dirs, path / "report", metric)
    plots: list[Plot] = []
    for cond in conditions(run_dirs):
        folder = "".join(ch if ch.isalnum() or ch in "=._-" else "-" for ch in cond.label)
        try:
            plots += write_plots(cond.run_dirs, path / "report" / folder, metric)
        except ValueError as exc:  # a member that has not committed a round yet
            plots.append(Plot("cat_and_mouse", cond.label, None, str(exc)))
    return plots


def plot_run(run_dir: str | Path, metric: str = "auc") -> list[Path]:
    """Write every plot of a run into <run>/report/ and return the paths of those drawn
    (the cat-and-mouse curve first)."""
    return [p.path for p in plot_dir(run_dir, metric) if p.path]
