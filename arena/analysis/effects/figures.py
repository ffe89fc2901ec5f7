"""One figure per effect (deepfake_arena.analysis.effects.measure): what the effect looks like in the runs
(left) and its
statistics over seeds (right: each seed a dot, the mean with its Student t CI, the null as a dashed
line), with the published figure drawn in grey and labelled as an external reference.

Each figure is saved with the CSV of the numbers it draws (analysis.plots.style.save). Torch-free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfake_arena.analysis.effects import field_figures
from deepfake_arena.analysis.effects.measure import CHANCE, Effect, Stat
from deepfake_arena.analysis.plots.style import Palette, pyplot, save

EXTERNAL = {"color": "dimgrey", "marker": "D", "ms": 8, "mfc": "lightgrey", "ls": "none"}


def ci_text(lo: float, hi: float, n_seeds: int) -> str:
    """`[lo, hi]`, or why there is none: one seed gives no spread to build a CI over seeds from."""
    if np.isfinite(lo) and np.isfinite(hi):
        return f"[{lo:+.3f}, {hi:+.3f}]"
    if n_seeds < 2:
        return f"({n_seeds} seed: a CI needs several seeds)"
    return "(no CI)"


def _stats_panel(ax: Any, stats: list[Stat]) -> pd.DataFrame:
    """Per-seed dots, mean and CI, null and external reference, one column per tested statistic."""
    rows = []
    for k, s in enumerate(stats):
        seeds = s.per_seed.dropna()
        jitter = np.linspace(-0.12, 0.12, len(seeds)) if len(seeds) > 1 else np.zeros(len(seeds))
        ax.plot(k + jitter, seeds.to_numpy(), "o", color="tab:blue", alpha=0.45, ms=5)
        if np.isfinite(s.ci_low):
            ax.errorbar(
                k,
                s.value,
                yerr=[[s.value - s.ci_low], [s.ci_high - s.value]],
                fmt="none",
                ecolor="black",
                capsize=6,
                lw=1.5,
            )
        ax.plot(k, s.value, "s", color="black", ms=7)
        if s.null is not None:
            ax.hlines(s.null, k - 0.35, k + 0.35, colors="tab:red", linestyles="--", lw=1)
        if s.reference is not None:
            ax.plot(k + 0.3, s.reference, **EXTERNAL)
            ax.annotate(
                "published\n(external)",
                (k + 0.3, s.reference),
                textcoords="offset points",
                xytext=(6, 0),
                fontsize=7,
                color="dimgrey",
                va="center",
            )
        verdict = {True: "CI excludes null", False: "CI includes null", None: ""}[s.excludes_null]
        ax.text(k, 1.0, verdict, transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=7)
        rows += [{"stat": s.name, "run": run, "value": v, "kind": "seed"} for run, v in seeds.items()]
        rows.append(
            {
                "stat": s.name,
                "run": "",
                "value": s.value,
                "ci_low": s.ci_low,
                "ci_high": s.ci_high,
                "n_seeds": s.n_seeds,
                "null": s.null,
                "reference": s.reference,
                "kind": "mean",
            }
        )
    ax.set_xticks(range(len(stats)), [s.name for s in stats], fontsize=8)
    ax.set_xlim(-0.6, len(stats) - 0.2)
    ax.grid(alpha=0.3, axis="y")
    ax.set_title("over seeds: dots = seeds, ■ = mean with 95% t CI, -- = null", fontsize=8, pad=14)
    return pd.DataFrame(rows)


def _sawtooth(ax: Any, e: Effect) -> None:
    wide = e.context
    mean = wide.groupby(["detector", "round"], as_index=False)[["zero_day", "post"]].mean()
    pal = Palette.build(mean.detector.unique())
    for name, g in mean.groupby("detector"):
        c = pal.detector(str(name))
        ax.plot(g["round"], g.zero_day, "v--", color=c, label=f"{name} zero-day")
        ax.plot(g["round"], g.post, "o-", color=c, label=f"{name} post")
    ax.set_xlabel("round (generation)")
    ax.set_ylabel("AUC, mean over seeds")
    ax.legend(fontsize=7)


def _seen_sealed(ax: Any, e: Effect) -> None:
    by = {s.name: s for s in e.stats}
    bars = [
        ("seen_auc", "AUC seen", None),
        ("sealed_auc", "AUC sealed", "//"),
        ("seen_accuracy", "acc seen", None),
        ("sealed_accuracy", "acc sealed", "//"),
    ]
    x = 0
    for key, text, hatch in bars:
        if key in by:
            s = by[key]
            ax.bar(x, s.value, 0.7, color="tab:blue", alpha=0.6, hatch=hatch, edgecolor="black")
            if np.isfinite(s.ci_low):
                ax.errorbar(
                    x,
                    s.value,
                    yerr=[[s.value - s.ci_low], [s.ci_high - s.value]],
                    fmt="none",
                    ecolor="black",
                    capsize=3,
                )
            ax.text(x, 0.02, text, rotation=90, ha="center", va="bottom", fontsize=7)
            x += 1
    for value, text, hatch in (
        (0.964, "DFB AUC in-domain", None),
        (0.708, "DFB AUC DFDC", "//"),
        (0.8256, "DFDC acc public", None),
        (0.6518, "DFDC acc black-box", "//"),
    ):
        ax.bar(x, value, 0.7, color="lightgrey", edgecolor="dimgrey", hatch=hatch)
        ax.text(x, 0.02, text, rotation=90, ha="center", va="bottom", fontsize=7)
        x += 1
    ax.axvline(3.5 if "seen_accuracy" in by else 1.5, color="dimgrey", lw=0.8)
    ax.set_xticks([])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score; grey = published (external)")


def _sbi(ax: Any, e: Effect) -> None:
    sbi, base = e.stats[1].per_seed, e.stats[2].per_seed
    for run in sbi.index:
        ax.plot([0, 1], [base.get(run, np.nan), sbi[run]], "-o", color="tab:blue", alpha=0.5)
    ax.set_xticks(
        [0, 1], [e.stats[2].description.split(" of ")[-1], e.stats[1].description.split(" of ")[-1]]
    )
    ax.axhline(CHANCE, color="grey", ls=":", lw=1)
    ax.set_xlim(-0.4, 1.4)
    ax.set_ylabel("sealed AUC (unseen families), per seed")


def _forgetting(ax: Any, e: Effect) -> None:
    cells = e.context.groupby(["detector", "generation"], as_index=False)["forgetting"].mean()
    pal = Palette.build(cells.detector.unique())
    for name, g in cells.groupby("detector"):
        ax.plot(g.generation, g.forgetting, "o-", color=pal.detector(str(name)), label=str(name))
    ax.axhline(0, color="grey", ls=":", lw=1)
    ax.set_xlabel("earlier generation j (last round's version)")
    ax.set_ylabel("forgetting (AUC), mean over seeds")
    ax.legend(fontsize=7)


def _decay(ax: Any, e: Effect) -> None:
    m = e.context
    for _, g in m.groupby("run"):
        ax.plot(g.gap, g.value, "-", color="tab:blue", alpha=0.3, lw=1)
    mean = m.groupby("gap")["value"].mean()
    ax.plot(mean.index, mean.to_numpy(), "o-", color="tab:blue", lw=2, label=f"{e.detectors} (mean)")
    ax.axhline(CHANCE, color="grey", ls=":", lw=1)
    ax.axhspan(
        0.45,
        0.55,
        xmin=0.85,
        color="lightgrey",
        alpha=0.6,
        label="published (external): 2025 study, AUC ~0.5 on later generators",
    )
    ax.set_xlabel("generation gap k (0 = the generation it trained on)")
    ax.set_ylabel("AUC of the frozen detector")
    ax.legend(fontsize=7)


def _red_queen(ax: Any, e: Effect) -> None:
    mean = e.context.groupby("round", as_index=False)[["unexposed", "exposed"]].mean()
    ax.plot(mean["round"], mean.unexposed, "o-", color="tab:blue", label="unexposed (lab) frozen")
    ax.plot(mean["round"], mean.exposed, "s--", color="tab:red", label="exposed twin")
    ax.axhline(CHANCE, color="grey", ls=":", lw=1)
    ax.set_xlabel("round (generation, made after deployment)")
    ax.set_ylabel("AUC, mean over seeds")
    ax.legend(fontsize=7)


def _zero_day_level(ax: Any, e: Effect) -> None:
    mean = e.context.groupby(["detector", "round"], as_index=False)["value"].mean()
    pal = Palette.build(mean.detector.unique())
    for name, g in mean.groupby("detector"):
        ax.plot(g["round"], g.value, "v--", color=pal.detector(str(name)), label=f"{name} zero-day")
    ax.set_xlabel("round (generation)")
    ax.set_ylabel("zero-day AUC, mean over seeds")
    ax.legend(fontsize=7)


CONTEXT: dict[str, Callable[[Any, Effect], None]] = {
    "decay_recovery": _sawtooth,
    "seen_vs_sealed": _seen_sealed,
    "sbi_generalises": _sbi,
    "forgetting": _forgetting,
    "forward_transfer": _decay,
    "red_queen": _red_queen,
    "zero_day_new": _zero_day_level,
    "ranking_reversal": field_figures.ranking,
    "compression": field_figures.compression,
    "spectral_evasion": _zero_day_level,
}


def plot_effect(e: Effect, out: Path, suffix: str = "") -> Path | str:
    """effect<N>_<name><suffix>.png (+ .csv) in `out`; a note (str) when the effect was not measured."""
    if not e.stats:
        return e.reason
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.3, 1]})
    CONTEXT[e.name](ax1, e)
    tested = [s for s in e.stats if s.null is not None] or e.stats[:1]
    numbers = _stats_panel(ax2, tested)
    p = e.primary
    assert p is not None
    fig.suptitle(
        f"Effect {e.number}: {e.title} — {e.verdict.upper()} ({p.n_seeds} seeds)\n"
        f"{p.description} = {p.value:+.3f} {ci_text(p.ci_low, p.ci_high, p.n_seeds)}",
        fontsize=10,
    )
    fig.text(
        0.01,
        -0.02,
        f"Published (external, not from these runs): {e.reference}",
        fontsize=7,
        color="dimgrey",
        wrap=True,
    )
    fig.tight_layout()
    return save(
        fig, numbers.assign(effect=e.number, name=e.name), out / f"effect{e.number}_{e.name}{suffix}.png"
    )


def plot_arms(arms: Mapping[str, Any], out: Path) -> Path | str:
    """arms_cat_and_mouse.png (+ .csv): the arms' cat-and-mouse curves side by side, one panel per
    arm (analysis.effects.protocol.ArmResult): each retrained detector's zero-day and post AUC on the
    round's new generation, and the frozen lab detector beside its exposed twin, means over seeds."""
    order = [a for a in ("selection", "drift", "static") if a in arms] + [
        a for a in arms if a not in ("selection", "drift", "static")
    ]
    frames = []
    for arm in order:
        by = {e.name: e for e in arms[arm].effects}
        saw, rq = by.get("decay_recovery"), by.get("red_queen")
        if saw is not None and not saw.context.empty:
            m = saw.context.groupby(["detector", "round"], as_index=False)[["zero_day", "post"]].mean()
            frames.append(m.melt(["detector", "round"], var_name="phase").assign(arm=arm))
        if rq is not None and not rq.context.empty:
            m = rq.context.groupby("round", as_index=False)[["unexposed", "exposed"]].mean()
            m = m.melt("round", var_name="detector").assign(phase="zero_day", arm=arm)
            frames.append(m)
    if not frames:
        return "no arm has zero-day rows (needs rounds >= 2)"
    data = pd.concat(frames, ignore_index=True)
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(order), figsize=(4.6 * len(order), 4.0), sharey=True, squeeze=False)
    pal = Palette.build(sorted(data.detector.unique()))
    for ax, arm in zip(axes[0], order, strict=True):
        g = data[data.arm == arm]
        for (det, phase), h in g.groupby(["detector", "phase"]):
            style = "o-" if phase == "post" else "v--"
            if det in ("unexposed", "exposed"):
                style = "s:" if det == "exposed" else "D:"
                label = f"frozen {det}" if det == "unexposed" else "frozen, exposed twin"
            else:
                label = f"{det} {phase.replace('_', '-')}"
            h = h.sort_values("round")
            ax.plot(h["round"], h.value, style, color=pal.detector(str(det)), label=label)
        ax.axhline(CHANCE, color="grey", ls=":", lw=1)
        ax.set_title(f"{arm} ({arms[arm].match.evidence})", fontsize=9)
        ax.set_xlabel("round (new generation)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("AUC, mean over seeds")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle("Cat and mouse per arm: selection, drift (no selection), static (no variation)", fontsize=10)
    fig.tight_layout()
    return save(fig, data, out / "arms_cat_and_mouse.png")
