"""Per-round sample grid: for each strain, target faces and the fakes made onto them."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from deepfake_arena.world.synthetic import CREDIT_SYNTHETIC


def mosaic(rows: list[list[np.ndarray]], cols: int, gap: int = 2, band: int = 0) -> np.ndarray:
    """Tiles (3, S, S) uint8 images into one (H, W, 3) image, row by row, each row under a white
    band of `band` px (room for its label); empty cells are white."""
    size = next(img for row in rows for img in row).shape[-1]
    step = band + size + gap
    out = np.full((len(rows) * step - gap, cols * (size + gap) - gap, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        top = i * step + band
        for j, img in enumerate(row[:cols]):
            x = j * (size + gap)
            out[top : top + size, x : x + size] = img.transpose(1, 2, 0)
    return out


def sample_grid_png(
    r: int,
    strains: list[dict[str, Any]],
    shown: list[tuple[np.ndarray, np.ndarray]],
    reals: np.ndarray,
    credit: str = CREDIT_SYNTHETIC,
    per_strain: int = 3,
) -> bytes:
    """One PNG per round: a row of real eval faces, then per strain `per_strain` target | fake pairs
    (`shown`: each strain's targets and the fakes made onto them, on eval or vault).

    The faces are tiled into one mosaic drawn with a single imshow (a subplot per face made this
    the slowest part of a round's commit); the credit line of the faces is printed under it.
    Drawn on a bare `Figure`, not pyplot, so the round loop can draw it in a thread of its own
    while the detectors train.
    """
    from matplotlib.figure import Figure

    cols = per_strain * 2
    rows: list[list[np.ndarray]] = [list(reals[:cols])]
    labels = ["reals (eval)"]
    for s, (targets, made) in zip(strains, shown, strict=True):
        n = min(per_strain, len(targets), len(made))
        rows.append([img for k in range(n) for img in (targets[k], made[k])])
        family = s.get("genome", {}).get("family", "?")
        tag = "[sealed] " if s.get("sealed") else ""
        labels.append(f"{tag}{s['id']} ({family}): target | fake")
    size = reals.shape[-1]
    band, gap = max(6, size // 4), 2  # a label line above each row; space between faces (px)
    grid = mosaic(rows, cols, gap=gap, band=band)
    width = cols * 1.1  # inches; the height follows the mosaic's aspect, plus title and credit
    fig = Figure(figsize=(width, width * grid.shape[0] / grid.shape[1] + 0.5))
    ax = fig.add_axes((0.01, 0.25 / fig.get_figheight(), 0.98, 1 - 0.5 / fig.get_figheight()))
    ax.imshow(grid, interpolation="nearest")
    ax.axis("off")
    step = band + size + gap
    for i, label in enumerate(labels):
        ax.text(0, i * step + band - 1, label, fontsize=7, va="bottom", ha="left")
    fig.suptitle(f"round {r}: targets and fakes per strain", fontsize=9)
    fig.text(0.01, 0.005, credit, fontsize=6)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()
