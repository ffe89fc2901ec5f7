"""Stages shared by every swap family: paste a face in (mask, colour, blend) and degrade the frame.

Each family builds its own face (warped source, decoded autoencoder face, refined crop) and then
uses the same gene specs and ops for what follows, so a `mask_feather` or a `jpeg_quality` means
the same thing in every family and crossover-free comparisons across families stay fair.

Post-processing is split into sampling (the noise, drawn from the generator) and applying (a
deterministic, differentiable function of the image), so a detector-guided evasion can optimise
through the exact degradation the fake will go through.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from deepfake_arena import face_ops
from deepfake_arena.generators.genome import GeneSpec, GeneValue

PASTE_GENES = (
    GeneSpec("mask_shape", "choice", "ellipse", choices=("ellipse", "hull"), fmt="{} mask"),
    GeneSpec("mask_scale", "float", 1.0, 0.8, 1.3, fmt="x{:.2f}"),
    GeneSpec("mask_erosion", "float", 1.0, 0.0, 4.0, fmt="erode {:.1f}px"),
    GeneSpec("mask_feather", "float", 2.0, 0.0, 6.0, fmt="feather {:.1f}px"),
    GeneSpec("color_strength", "float", 0.8, 0.0, 1.0, fmt="LAB {:.2f}"),
    GeneSpec("blend_mode", "choice", "laplacian", choices=("alpha", "laplacian"), fmt="{}"),
    GeneSpec("pyramid_levels", "int", 4, 2, 5, fmt="{} levels", show_if=("blend_mode", "laplacian")),
)

POST_GENES = (
    GeneSpec("blur_sigma", "float", 0.0, 0.0, 2.0, fmt="blur {:.2f}", hide_at=0.0),
    GeneSpec("sharpen", "float", 0.0, 0.0, 1.5, fmt="sharpen {:.2f}", hide_at=0.0),
    GeneSpec("noise_std", "float", 0.0, 0.0, 0.05, fmt="noise {:.3f}", hide_at=0.0),
    GeneSpec("resize", "float", 1.0, 0.5, 1.0, fmt="resize {:.2f}", hide_at=1.0),
    GeneSpec("jpeg", "choice", "off", choices=("off", "on"), fmt="jpeg", hide_at="off"),
    GeneSpec("jpeg_quality", "int", 85, 50, 100, fmt="q{}", show_if=("jpeg", "on")),
)

Genes = Mapping[str, GeneValue]


def face_mask(landmarks: torch.Tensor, hw: tuple[int, int], g: Genes) -> torch.Tensor:
    """The paste mask on the target's landmarks. Shape: (B, 5, 2) -> (B, 1, H, W)."""
    return face_ops.face_mask(
        landmarks,
        hw,
        str(g["mask_shape"]),
        float(g["mask_scale"]),
        float(g["mask_erosion"]),
        float(g["mask_feather"]),
    )


def paste(face: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, g: Genes) -> torch.Tensor:
    """Colour-match `face` to the target's skin inside `mask`, then blend it in.

    Shape:
        face, target: (B, 3, H, W) in [0, 1]; mask: (B, 1, H, W); returns (B, 3, H, W).
    """
    face = face_ops.color_transfer_lab(face, target, mask, float(g["color_strength"]))
    if g["blend_mode"] == "laplacian":
        return face_ops.laplacian_blend(face, target, mask, int(g["pyramid_levels"]))
    return face_ops.alpha_blend(face, target, mask)


def sample_post(images: torch.Tensor, g: Genes, generator: torch.Generator) -> torch.Tensor | None:
    """The sensor noise the post-processing adds (None when noise is off). Shape: like images."""
    if float(g["noise_std"]) <= 0:
        return None
    noise = torch.randn(images.shape, generator=generator, device=generator.device, dtype=images.dtype)
    return float(g["noise_std"]) * noise.to(images.device)


def apply_post(images: torch.Tensor, g: Genes, noise: torch.Tensor | None) -> torch.Tensor:
    """Degrade the whole frame as re-encoding for upload would: blur, sharpen, noise, resize, JPEG.

    Deterministic given `noise` and differentiable (kornia), so evasion can optimise through it.

    Shape:
        images: (B, 3, H, W); noise: like images or None; returns (B, 3, H, W) (not clamped).
    """
    out = images
    if float(g["blur_sigma"]) > 0:
        out = face_ops.gaussian_blur(out, float(g["blur_sigma"]))
    if float(g["sharpen"]) > 0:
        out = torch.lerp(out, _unsharp(out), float(g["sharpen"]))
    if noise is not None:
        out = out + noise
    out = face_ops.resize_roundtrip(out, float(g["resize"]))
    if g["jpeg"] == "on":
        # An encoder sees an 8-bit frame: sharpening overshoot and noise are clipped first.
        out = face_ops.jpeg(out.clamp(0, 1), int(g["jpeg_quality"]))
    return out


def _unsharp(images: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Unsharp mask, image + (image - blurred), through `face_ops.gaussian_blur`'s per-sample
    kernels: on CPU that conv path runs ~5x faster than kornia.filters.unsharp_mask's shared one
    (benchmarks/RESULTS.md, quickstart_profile)."""
    return 2 * images - face_ops.gaussian_blur(images, sigma)
