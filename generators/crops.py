"""Aligned face crops for the learning families: cut a face into a canonical frame and put it back.

The autoencoder and the diffusion refiner work on small square crops in which every face has its
eyes, nose and mouth at the same place (as DeepFaceLab's aligned faces do), so a tiny network
only has to model faces, not poses or backgrounds. `to_crop` warps a frame by the similarity that
maps its landmarks onto the template; `from_crop` maps a crop back onto the frame.
"""

from __future__ import annotations

import torch

from deepfake_arena import face_ops

# The 5-point template (left eye, right eye, nose tip, left and right mouth corner) as fractions
# of the crop side: the ArcFace 112 px template shrunk by 0.8 about the centre, so the crop
# holds brows, cheeks and chin with a margin.
_ARCFACE = torch.tensor(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)
TEMPLATE = 0.5 + 0.8 * (_ARCFACE / 112.0 - 0.5)


def template_points(size: int, b: int, like: torch.Tensor) -> torch.Tensor:
    """The template in pixel coordinates of a size x size crop. Shape: (b, 5, 2)."""
    pts = TEMPLATE.to(like.device, like.dtype) * (size - 1)
    return pts.expand(b, 5, 2)


def to_crop(images: torch.Tensor, landmarks: torch.Tensor, size: int) -> torch.Tensor:
    """Aligned size x size crops. Shape: images (B, 3, H, W), landmarks (B, 5, 2) -> (B, 3, size, size)."""
    matrix = face_ops.estimate_similarity(landmarks, template_points(size, len(landmarks), landmarks))
    return face_ops.warp_to(images, matrix, size).clamp(0, 1)


def from_crop(crops: torch.Tensor, landmarks: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Crops warped back onto frames whose faces have `landmarks` (borders extend the crop edge).

    Shape:
        crops: (B, C, s, s); landmarks: (B, 5, 2); returns (B, C, H, W).
    """
    size = crops.shape[-1]
    matrix = face_ops.estimate_similarity(template_points(size, len(landmarks), landmarks), landmarks)
    return face_ops.warp_to(crops, matrix, hw)
