"""Batched alignment of detected faces to the canonical 5-point template.

A face is aligned by the least-squares similarity (Umeyama, `deepfake_arena.face_ops.estimate_similarity`)
that takes its five landmarks onto `TEMPLATE`, then `kornia.geometry.warp_affine` at the target
size; every landmark (5 or 68) is carried through the same matrix into crop coordinates.

Photos differ in size, so they cannot share one tensor. Each face's crop region (the target square
mapped back into the photo) is first cut out and resampled to a fixed working canvas with an
antialiasing filter (Pillow, in C); the canvases are then warped together in one kornia call.
Resampling first also prevents the aliasing a direct 900 px -> 64 px bilinear warp would have.
"""

from __future__ import annotations

from dataclasses import dataclass

import kornia
import numpy as np
import torch
from PIL import Image

from deepfake_arena.face_ops import estimate_similarity, transform_points, warp_to

# Canonical landmarks as fractions of the crop side, (x, y) with 0 and 1 at the centres of the
# first and last pixel: the Procrustes mean of the 204 faces of the Face Research Lab London Set
# (MTCNN landmarks), scaled to an eye distance of 0.22 with the eye midpoint at (0.5, 0.4), so a
# real crop frames a face about like a synthetic-world render does.
TEMPLATE = torch.tensor(
    [[0.390, 0.400], [0.610, 0.400], [0.500, 0.516], [0.405, 0.628], [0.595, 0.628]],
    dtype=torch.float64,
)

# iBUG 68-point indices: image-left eye 36-41, image-right eye 42-47, nose tip 30, mouth corners
# 48 (image left) and 54 (image right).
_LEFT_EYE, _RIGHT_EYE, _NOSE_TIP, _MOUTH_LEFT, _MOUTH_RIGHT = range(36, 42), range(42, 48), 30, 48, 54


def template_px(size: int) -> torch.Tensor:
    """The template in pixel coordinates of a `size` crop. Shape: (5, 2) float64."""
    return TEMPLATE * (size - 1)


def reduce68(points: torch.Tensor) -> torch.Tensor:
    """68 iBUG points -> the arena's 5 (eye centres, nose tip, mouth corners).

    Shape:
        points: (B, 68, 2) -> (B, 5, 2).
    """
    if points.ndim != 3 or points.shape[1:] != (68, 2):
        raise ValueError(f"68-point landmarks must have shape (B, 68, 2), got {tuple(points.shape)}")
    return torch.stack(
        [
            points[:, list(_LEFT_EYE)].mean(1),
            points[:, list(_RIGHT_EYE)].mean(1),
            points[:, _NOSE_TIP],
            points[:, _MOUTH_LEFT],
            points[:, _MOUTH_RIGHT],
        ],
        1,
    )


@dataclass(frozen=True)
class Aligned:
    """Aligned crops and their landmarks in crop pixels.

    Shape:
        images: (B, 3, S, S) uint8; landmarks5: (B, 5, 2) float32;
        landmarks68: (B, 68, 2) float32 or None; sharpness: (B,) float32.
    """

    images: torch.Tensor
    landmarks5: torch.Tensor
    landmarks68: torch.Tensor | None
    sharpness: torch.Tensor


def similarity_to_template(landmarks5: torch.Tensor, size: int) -> torch.Tensor:
    """Photo-pixel -> crop-pixel similarity per face. Shape: (B, 5, 2) -> (B, 2, 3) float64."""
    src = landmarks5.to(torch.float64)
    return estimate_similarity(src, template_px(size).expand_as(src).contiguous())


def _canvas(photo: Image.Image, inv: np.ndarray, size: int, work: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut the crop's footprint out of `photo` and resample it to (work, work) with antialiasing.

    Returns the canvas (work, work, 3) uint8 and the 3x3 matrix taking photo pixels to canvas
    pixels (pixel centres at integers, as everywhere in the arena).
    """
    corners = np.array([[0, 0, 1], [size - 1, 0, 1], [0, size - 1, 1], [size - 1, size - 1, 1]], np.float64)
    foot = corners @ inv.T  # (4, 2) photo pixels
    w, h = photo.size
    # Box edges in Pillow's continuous coordinates (pixel i spans [i, i + 1]), one pixel of margin
    # for the bilinear taps, clamped to the photo: outside it the warp's border padding takes over.
    x0, y0 = np.clip(foot.min(0) - 1.0, 0, [w - 1, h - 1])
    x1, y1 = np.clip(foot.max(0) + 2.0, [x0 + 1, y0 + 1], [w, h])
    canvas = photo.resize((work, work), Image.Resampling.BILINEAR, box=(x0, y0, x1, y1), reducing_gap=2.0)
    sx, sy = work / (x1 - x0), work / (y1 - y0)
    # continuous u -> (u - x0) * sx; pixel-centre form: p' = (p + 0.5 - x0) * sx - 0.5
    to_canvas = np.array(
        [[sx, 0, (0.5 - x0) * sx - 0.5], [0, sy, (0.5 - y0) * sy - 0.5], [0, 0, 1]], np.float64
    )
    return np.asarray(canvas), to_canvas


def sharpness(images: torch.Tensor) -> torch.Tensor:
    """Variance of the Laplacian of the grey crop (x1000): low on blurred or upsampled faces.

    Shape:
        images: (B, 3, S, S) float in [0, 1] -> (B,) float.
    """
    grey = kornia.color.rgb_to_grayscale(images)
    lap = kornia.filters.laplacian(grey, kernel_size=3, normalized=False)
    return lap.flatten(1).var(1) * 1000.0


def align_faces(
    photos: list[Image.Image],
    landmarks5: torch.Tensor,
    size: int,
    landmarks68: torch.Tensor | None = None,
    device: str = "cpu",
) -> Aligned:
    """Align one face per entry of `photos` (the same photo may appear several times).

    Shape:
        photos: B RGB images of any sizes; landmarks5: (B, 5, 2) photo pixels;
        landmarks68: (B, 68, 2) photo pixels or None.
    """
    b = len(photos)
    if landmarks5.shape != (b, 5, 2):
        raise ValueError(f"landmarks5 must have shape ({b}, 5, 2), got {tuple(landmarks5.shape)}")
    if landmarks68 is not None and landmarks68.shape != (b, 68, 2):
        raise ValueError(f"landmarks68 must have shape ({b}, 68, 2), got {tuple(landmarks68.shape)}")
    matrix = similarity_to_template(landmarks5, size)  # (B, 2, 3) photo -> crop
    full = kornia.geometry.conversions.convert_affinematrix_to_homography(matrix).numpy()
    inverse = np.linalg.inv(full)[:, :2]
    work = 2 * size  # the warp then shrinks by ~2 at most: no visible aliasing
    canvases, to_canvas = zip(
        *(_canvas(p, inv, size, work) for p, inv in zip(photos, inverse, strict=True)), strict=True
    )
    batch = torch.from_numpy(np.stack(canvases)).permute(0, 3, 1, 2).to(device, torch.float32) / 255.0
    canvas_to_crop = full @ np.linalg.inv(np.stack(to_canvas))  # (B, 3, 3)
    m = torch.from_numpy(canvas_to_crop[:, :2]).to(device, torch.float32)
    crops = warp_to(batch, m, size).clamp(0, 1)
    lm5 = transform_points(landmarks5.to(torch.float64), matrix).to(torch.float32)
    lm68 = None
    if landmarks68 is not None:
        lm68 = transform_points(landmarks68.to(torch.float64), matrix).to(torch.float32)
    return Aligned(
        images=(crops * 255).round().to(torch.uint8).cpu(),
        landmarks5=lm5,
        landmarks68=lm68,
        sharpness=sharpness(crops).float().cpu(),
    )
