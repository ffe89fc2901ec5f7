"""The per-round sample grid: faces tiled where they belong, under a label band, as one PNG."""

import numpy as np

from deepfake_arena.rounds.samples import mosaic, sample_grid_png


def test_mosaic_puts_each_face_in_its_cell_under_its_band():
    a = np.full((3, 4, 4), 10, np.uint8)
    b = np.full((3, 4, 4), 20, np.uint8)
    grid = mosaic([[a, b], [b]], cols=2, gap=1, band=2)
    assert grid.shape == (2 * (2 + 4 + 1) - 1, 2 * 5 - 1, 3)
    assert (grid[2:6, 0:4] == 10).all() and (grid[2:6, 5:9] == 20).all()  # row 0 under its band
    assert (grid[9:13, 0:4] == 20).all() and (grid[9:13, 5:9] == 255).all()  # row 1, an empty cell
    assert (grid[0:2] == 255).all() and (grid[:, 4] == 255).all()  # band and gap stay white


def test_sample_grid_is_a_png():
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 255, (4, 3, 32, 32), dtype=np.uint8)
    strains = [{"id": "blend-0001", "genome": {"family": "blend"}}]
    png = sample_grid_png(1, strains, [(faces, faces)], faces, credit="c")
    assert png[:4] == b"\x89PNG"
