"""Batched face records shared by the world, the generators and the detectors.

Images are float tensors in [0, 1]; landmarks are pixel coordinates in the crop, ordered
left eye, right eye, nose tip, left mouth corner, right mouth corner (left = image left).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

LANDMARK_NAMES = ("left_eye", "right_eye", "nose_tip", "mouth_left", "mouth_right")


def check_images(images: torch.Tensor, name: str = "images") -> None:
    """Reject what a detector or generator must never see: wrong shape, dtype, range or NaN.

    Shape:
        images: (B, 3, H, W), floating point, values in [0, 1].
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must have shape (B, 3, H, W), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"{name} must be floating point in [0, 1], got {images.dtype}")
    if images.numel() == 0:
        raise ValueError(f"{name} is empty: {tuple(images.shape)}")
    # One pass over the batch (this check guards every hot-path call): aminmax propagates NaN,
    # and an infinity shows up as the min or max.
    lo, hi = (float(v) for v in torch.aminmax(images.detach()))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]")


@dataclass(frozen=True)
class FaceBatch:
    """Aligned face crops with their landmarks and ids.

    Shape:
        images: (B, 3, H, W) float in [0, 1]
        landmarks: (B, 5, 2) float, pixel (x, y) in the crop
        identity: (B,) int64 identity id
        source: (B,) int64 source id (a photo, a video, a synthetic render)
    """

    images: torch.Tensor
    landmarks: torch.Tensor
    identity: torch.Tensor
    source: torch.Tensor

    def __post_init__(self) -> None:
        check_images(self.images)
        b = self.images.shape[0]
        if self.landmarks.shape != (b, 5, 2):
            raise ValueError(f"landmarks must have shape ({b}, 5, 2), got {tuple(self.landmarks.shape)}")
        for name in ("identity", "source"):
            t = getattr(self, name)
            if t.shape != (b,):
                raise ValueError(f"{name} must have shape ({b},), got {tuple(t.shape)}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    def index(self, idx: torch.Tensor | slice) -> FaceBatch:
        return FaceBatch(self.images[idx], self.landmarks[idx], self.identity[idx], self.source[idx])

    def to(self, device: torch.device | str) -> FaceBatch:
        return FaceBatch(
            self.images.to(device),
            self.landmarks.to(device),
            self.identity.to(device),
            self.source.to(device),
        )


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Quantise like an image file would: fakes and reals are stored and scored as 8-bit images."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def from_uint8(images: torch.Tensor) -> torch.Tensor:
    return images.to(torch.float32) / 255.0
