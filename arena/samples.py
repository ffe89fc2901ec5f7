"""Per-round sample grid: for each strain, target faces and the fakes made onto them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

CREDIT_SYNTHETIC = "Synthetic faces rendered by deepfake-arena"


def save_sample_grid(
    path: Path,
    r: int,
    strains: list[dict[str, Any]],
    fakes: list[dict[str, Any]],
    reals: np.ndarray,
    credit: str = CREDIT_SYNTHETIC,
    per_strain: int = 3,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(strains) + 1
    cols = per_strain * 2
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.25), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for c in range(min(cols, len(reals))):
        axes[0, c].imshow(reals[c].transpose(1, 2, 0))
    axes[0, 0].set_title("reals (eval)", fontsize=7, loc="left")
    for i, (s, f) in enumerate(zip(strains, fakes, strict=True)):
        shown = f["shown"] if "shown" in f else f["eval"]  # fakes made onto `targets` (eval or vault)
        n = min(per_strain, len(f["targets"]), len(shown))
        for k in range(n):
            axes[i + 1, 2 * k].imshow(f["targets"][k].transpose(1, 2, 0))
            axes[i + 1, 2 * k + 1].imshow(shown[k].transpose(1, 2, 0))
        family = s.get("genome", {}).get("family", "?")
        tag = "[sealed] " if s.get("sealed") else ""
        axes[i + 1, 0].set_title(f"{tag}{s['id']} ({family}): target | fake", fontsize=7, loc="left")
    fig.suptitle(f"round {r}: targets and fakes per strain", fontsize=9)
    fig.text(0.01, 0.005, credit, fontsize=6)
    fig.tight_layout(rect=(0, 0.02, 1, 0.97))
    fig.savefig(path, dpi=90)
    plt.close(fig)
