"""Shared look of the plots: matplotlib without a display, labels with units, one colour per
detector and per family (the same in every plot of a report), and the atomic PNG + CSV pair.
Torch-free."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from deepfake_arena.store.atomic import write_bytes_atomic, write_text_atomic

LABELS = {
    "auc": "AUC",
    "ap": "average precision",
    "accuracy": "accuracy at 0.5",
    "tpr_at_1fpr": "TPR at 1% FPR",
    "tpr_at_01fpr": "TPR at 0.1% FPR",
    "eer": "equal error rate",
    "log_loss": "log loss",
    "ece": "expected calibration error",
}
DPI = 110
_DETECTOR_CMAP = "tab10"
_FAMILY_CMAP = "Dark2"


def label(metric: str) -> str:
    return LABELS.get(metric, metric)


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed; imported only when plotting)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _cycle(names: Iterable[str], cmap: str) -> dict[str, Any]:
    colors = pyplot().get_cmap(cmap).colors
    return {name: colors[k % len(colors)] for k, name in enumerate(sorted(set(names)))}


@dataclass
class Palette:
    """Colours by name so a detector (or family) looks the same in every plot and every run."""

    detectors: dict[str, Any] = field(default_factory=dict)
    families: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, detectors: Iterable[str], families: Iterable[str] = ()) -> Palette:
        return cls(_cycle(detectors, _DETECTOR_CMAP), _cycle(families, _FAMILY_CMAP))

    @classmethod
    def from_table(cls, df: pd.DataFrame, families: Iterable[str] = ()) -> Palette:
        if len(df) and "phase" in df:  # an external set's name is no generator family
            df = df[df.phase != "external"]
        fams = set(families) | set(df.family.unique() if len(df) else [])
        return cls.build(df.detector.unique() if len(df) else [], fams - {"all"})

    def detector(self, name: str) -> Any:
        return self.detectors.get(name, "black")

    def family(self, name: str) -> Any:
        return self.families.get(name, "grey")


@dataclass
class Plot:
    """One plot of a run: its PNG (None when skipped), its CSV, and a note saying why if skipped."""

    name: str
    title: str
    path: Path | None = None
    note: str = ""

    @property
    def csv(self) -> Path | None:
        return self.path.with_suffix(".csv") if self.path else None


def save(fig: Any, table: pd.DataFrame, path: Path) -> Path:
    """Write the figure as PNG and the numbers it draws as CSV next to it, both atomically."""
    plt = pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    write_bytes_atomic(path, buf.getvalue())
    write_text_atomic(path.with_suffix(".csv"), table.to_csv(index=False))
    return path


def detector_label(name: str, strategy: str) -> str:
    return name if strategy in name else f"{name} ({strategy})"
