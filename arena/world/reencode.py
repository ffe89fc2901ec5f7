"""The platform's re-encoding: every face the detectors see, real or fake, leaves through one JPEG.

Real deepfake sets re-encode their fakes with the reals' codec (FaceForensics++ c23, DFDC's
H.264), so there a detector cannot tell the classes apart by the chain. A folder world's reals are
crops of compressed photos, while the arena's fakes carry fresh pastes and blends: a detector can
learn the chain (a block grid that stops at the pasted face, smoother pixels) instead of the
manipulation, and that cue says nothing about real fakes. With ``world.reencode`` set, every face
made in a round, real or fake, train, eval or vault, is JPEG-encoded and decoded once more, after
the capture (:mod:`deepfake_arena.world.capture`), at a quality drawn per face from one range: both classes
share the chain, so it is never a cue. Off by default.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import torch
from PIL import Image


def jpeg_roundtrip(face: np.ndarray, quality: int) -> np.ndarray:
    """One face (3, H, W) uint8 RGB through a JPEG file and back (Pillow's libjpeg, 4:2:0 chroma):
    what an upload does to a file, not kornia's differentiable approximation of the rounding."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(face.transpose(1, 2, 0))).save(buf, "JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.ascontiguousarray(np.asarray(decoded.convert("RGB")).transpose(2, 0, 1))


def reencode(images: np.ndarray, low: int, high: int, generator: torch.Generator) -> np.ndarray:
    """Each face re-encoded at a quality drawn uniformly from [low, high] (integers, inclusive).

    Shape:
        images: (B, 3, H, W) uint8 RGB; returns (B, 3, H, W) uint8.
    """
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"reencode takes (B, 3, H, W) uint8 faces, got {images.dtype} {images.shape}")
    if not 1 <= low <= high <= 100:
        raise ValueError(f"JPEG qualities need 1 <= low <= high <= 100, got [{low}, {high}]")
    drawn = torch.randint(low, high + 1, (len(images),), generator=generator, device=generator.device)
    qualities: list[int] = drawn.tolist()
    if not len(images):
        return images.copy()
    return np.stack([jpeg_roundtrip(face, q) for face, q in zip(images, qualities, strict=True)])


def as_published(images: np.ndarray, world: Any, generator: torch.Generator) -> np.ndarray:
    """`images` as the detectors get them: re-encoded when ``world.reencode`` is set, else as they are
    (no draw from `generator`, so a run without it is unchanged)."""
    if world.reencode is None:
        return images
    return reencode(images, world.reencode.quality_low, world.reencode.quality_high, generator)
