"""The eval set re-encoded as JPEG, for the `jpegQ` phases (spec `evaluation.jpeg_qualities`).

Why: published detectors lose accuracy when the same videos are re-compressed (FaceForensics++
raw / c23 / c40), and a small network loses more than a large one. Scoring every post version on
the same eval faces re-encoded at several qualities measures that in the arena (effect 9,
deepfake_arena.analysis.effects.field). Pillow's libjpeg encoder, not kornia's differentiable codec (which
approximates the rounding): this is what an upload does to a file. Off by default.
"""

from __future__ import annotations

import numpy as np

from deepfake_arena.rounds.scored_sets import EvalSet
from deepfake_arena.world.reencode import jpeg_roundtrip


def reencode(images: np.ndarray, quality: int) -> np.ndarray:
    """Each image through a JPEG file at `quality` and back (world.reencode's codec: one JPEG for both).

    Shape:
        images: (N, 3, H, W) uint8; returns the same shape and dtype.
    """
    if images.ndim != 4 or images.shape[1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be (N, 3, H, W) uint8, got {images.shape} {images.dtype}")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality must lie in [1, 100], got {quality}")
    out = np.empty_like(images)
    for i, img in enumerate(images):
        out[i] = jpeg_roundtrip(img, int(quality))
    return out


def jpeg_sets(ev: EvalSet, qualities: list[int]) -> list[tuple[int, EvalSet]]:
    """The eval set at each quality: the same faces, labels and strains, only re-encoded."""
    return [(q, EvalSet(reencode(ev.images, q), ev.labels, ev.strain_index, ev.strains)) for q in qualities]
