"""The left panels of effects 8 and 9's figures (deepfake_arena.analysis.effects.field): what the effect
looks like in the runs. Effect 10 reuses effect 7's panel (zero-day AUC per round). Torch-free."""

from __future__ import annotations

from typing import Any

from deepfake_arena.analysis.effects.measure import Effect
from deepfake_arena.analysis.plots.style import Palette


def ranking(ax: Any, e: Effect) -> None:
    """Each detector's seen (post) against sealed AUC, one point per seed: a reversal is an order
    along x that the order along y does not keep."""
    pal = Palette.build(e.context.detector.unique())
    for name, g in e.context.groupby("detector"):
        ax.plot(g.seen, g.sealed, "o", alpha=0.6, color=pal.detector(str(name)), label=str(name))
    ax.set_xlabel("seen AUC (post, this round's generation; mean over rounds)")
    ax.set_ylabel("sealed AUC (vault strains; mean over rounds)")
    ax.legend(fontsize=7)


def compression(ax: Any, e: Effect) -> None:
    """AUC against JPEG quality per detector, mean over seeds."""
    mean = e.context.groupby(["detector", "quality"], as_index=False)["value"].mean()
    pal = Palette.build(mean.detector.unique())
    for name, g in mean.groupby("detector"):
        ax.plot(g.quality, g.value, "o-", color=pal.detector(str(name)), label=str(name))
    ax.set_xlabel("JPEG quality of the re-encoded eval faces")
    ax.set_ylabel("AUC, mean over rounds and seeds")
    ax.legend(fontsize=7)
