"""The sample grid across rounds: for a few rounds, real faces next to fakes of that round's
fittest strains, read from each committed round's kept evaluation set (safetensors via numpy,
no torch). Shows at a glance how the fakes changed as the population evolved."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_arena.analysis.plots.style import pyplot, save
from deepfake_arena.store.ledger import committed_rounds, round_dir_name, verified_path
from deepfake_arena.store.round_files import EVAL_SET, POPULATION, load_eval_set


def pick_rounds(rounds: list[int], most: int) -> list[int]:
    """At most `most` rounds, evenly spread, always the first and the last."""
    if len(rounds) <= most:
        return rounds
    idx = np.unique(np.round(np.linspace(0, len(rounds) - 1, most)).astype(int))
    return [rounds[i] for i in idx]


def sample_table(run_dir: Path, pairs: int = 4, most_rounds: int = 8) -> pd.DataFrame:
    """Which faces the grid shows: per round, `pairs` (real, fake) pairs, the k-th fake from the
    k-th fittest strain of the round (cycling when there are fewer strains)."""
    rows = []
    rounds = committed_rounds(run_dir, deep=False).rounds
    for r in pick_rounds(rounds, most_rounds):
        rdir = run_dir / "rounds" / round_dir_name(r)
        if not (rdir / EVAL_SET).is_file():
            continue
        _, labels, strain_index, strains = load_eval_set(verified_path(run_dir, r, EVAL_SET))
        fitness: dict[str, float] = {}
        if (rdir / POPULATION).is_file():
            fitness = {
                s["id"]: s.get("fitness", np.nan)
                for s in json.loads(verified_path(run_dir, r, POPULATION).read_text())["strains"]
            }
        order = sorted(
            range(len(strains)), key=lambda i: -np.nan_to_num(fitness.get(strains[i]["id"], np.nan), nan=-1.0)
        )
        reals = np.flatnonzero(labels == 0)
        used: dict[int, int] = {}
        for k in range(pairs):
            if k >= len(reals) or not order:
                break
            si = order[k % len(order)]
            fakes = np.flatnonzero(strain_index == si)
            j = used.get(si, 0)
            used[si] = j + 1
            if j >= len(fakes):
                continue
            s = strains[si]
            rows.append(
                dict(
                    round=r,
                    pair=k,
                    kind="real",
                    strain="",
                    family="",
                    fitness=np.nan,
                    eval_index=int(reals[k]),
                )
            )
            rows.append(
                dict(
                    round=r,
                    pair=k,
                    kind="fake",
                    strain=s["id"],
                    family=s["family"],
                    fitness=float(fitness.get(s["id"], np.nan)),
                    eval_index=int(fakes[j]),
                )
            )
    return pd.DataFrame(rows, columns=["round", "pair", "kind", "strain", "family", "fitness", "eval_index"])


def _mosaic(
    tiles: dict[tuple[int, int], np.ndarray], rows: int, cols: int, size: int, pad: int
) -> np.ndarray:
    """(rows, cols) tiles of (size, size, 3) uint8 on a white canvas, `pad` pixels apart."""
    step = size + pad
    canvas = np.full((rows * step + pad, cols * step + pad, 3), 255, np.uint8)
    for (i, j), tile in tiles.items():
        y, x = pad + i * step, pad + j * step
        canvas[y : y + size, x : x + size] = tile
    return canvas


def _frame(tile: np.ndarray, width: int, color: tuple[int, int, int]) -> np.ndarray:
    out = tile.copy()
    out[:width], out[-width:], out[:, :width], out[:, -width:] = color, color, color, color
    return out


def plot_samples(run_dir: Path, out: Path, credit: str | None = None, pairs: int = 4) -> Path | str:
    """Rows: rounds. Columns: real | fake pairs (fakes framed in red). `credit` (for photos of
    real people) is printed under the grid; the synthetic world needs none.

    The faces are composed into one image array and drawn with a single imshow, so the grid
    costs the same as any other plot however many rounds it shows.
    """
    run_dir = Path(run_dir)
    table = sample_table(run_dir, pairs)
    if table.empty:
        return "no kept evaluation sets (eval_set.safetensors) in the committed rounds"
    rounds = sorted(table["round"].unique())
    tiles: dict[tuple[int, int], np.ndarray] = {}
    size = 0
    for i, r in enumerate(rounds):
        images = load_eval_set(run_dir / "rounds" / round_dir_name(r) / EVAL_SET)[0]
        size = images.shape[-1]
        for row in table[table["round"] == r].itertuples():
            tile = images[row.eval_index].transpose(1, 2, 0)
            if row.kind == "fake":
                tile = _frame(tile, max(1, size // 32), (214, 39, 40))
            tiles[(i, 2 * row.pair + (row.kind == "fake"))] = tile
    pad = max(2, size // 5)
    step = size + pad
    canvas = _mosaic(tiles, len(rounds), 2 * pairs, size, pad)
    plt = pyplot()
    inches = 1.15 * canvas.shape[1] / step
    fig, ax = plt.subplots(figsize=(inches, inches * canvas.shape[0] / canvas.shape[1]))
    ax.imshow(canvas, interpolation="antialiased")
    ax.set_xticks([])
    ax.set_yticks([(i + 0.5) * step + pad / 2 for i in range(len(rounds))], [f"round {r}" for r in rounds])
    for side in ax.spines.values():
        side.set_visible(False)
    ax.tick_params(length=0)
    for row in table.itertuples():
        i = rounds.index(row.round)
        x = pad + (2 * row.pair + (row.kind == "fake")) * step + size / 2
        text, color = (row.strain, "tab:red") if row.kind == "fake" else ("real", "black")
        ax.text(x, pad + i * step - 1, text, ha="center", va="bottom", fontsize=6.5, color=color)
    ax.set_title(
        "Real (left) / fake (right, red frame) pairs across rounds;\nfakes from each round's fittest strains",
        fontsize=9,
    )
    if credit:
        ax.text(0.0, -0.01, f"Faces: {credit}", transform=ax.transAxes, fontsize=7, va="top")
    return save(fig, table.assign(run=run_dir.name, credit=credit or ""), out / "samples.png")
