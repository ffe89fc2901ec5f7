"""The classic landmark warp-and-blend face swap, every stage a gene.

Align the source face to the target's landmarks by a similarity transform, cut it with a face
mask, shift its colours toward the target's skin, blend it in, then degrade the whole image as
an upload pipeline would. This is the oldest family of face swaps and the one whose artefacts
(blending boundary, colour mismatch, double faces from misalignment) detectors learned first.
"""

from __future__ import annotations

import torch
from kornia.filters import unsharp_mask

from arena import face_ops
from arena.faces import FaceBatch
from generators.genome import GeneSpace, GeneSpec, Genome
from generators.registry import FAMILIES, FakeBatch

SPACE = GeneSpace(
    "blend",
    (
        GeneSpec("align_jitter", "float", 0.0, 0.0, 3.0, fmt="jitter {:.1f}px", hide_at=0.0),
        GeneSpec("mask_shape", "choice", "ellipse", choices=("ellipse", "hull"), fmt="{} mask"),
        GeneSpec("mask_scale", "float", 1.0, 0.8, 1.3, fmt="x{:.2f}"),
        GeneSpec("mask_erosion", "float", 1.0, 0.0, 4.0, fmt="erode {:.1f}px"),
        GeneSpec("mask_feather", "float", 2.0, 0.0, 6.0, fmt="feather {:.1f}px"),
        GeneSpec("color_strength", "float", 0.8, 0.0, 1.0, fmt="LAB {:.2f}"),
        GeneSpec("blend_mode", "choice", "laplacian", choices=("alpha", "laplacian"), fmt="{}"),
        GeneSpec("pyramid_levels", "int", 4, 2, 5, fmt="{} levels", show_if=("blend_mode", "laplacian")),
        GeneSpec("blur_sigma", "float", 0.0, 0.0, 2.0, fmt="blur {:.2f}", hide_at=0.0),
        GeneSpec("sharpen", "float", 0.0, 0.0, 1.5, fmt="sharpen {:.2f}", hide_at=0.0),
        GeneSpec("noise_std", "float", 0.0, 0.0, 0.05, fmt="noise {:.3f}", hide_at=0.0),
        GeneSpec("resize", "float", 1.0, 0.5, 1.0, fmt="resize {:.2f}", hide_at=1.0),
        GeneSpec("jpeg", "choice", "off", choices=("off", "on"), fmt="jpeg", hide_at="off"),
        GeneSpec("jpeg_quality", "int", 85, 50, 100, fmt="q{}", show_if=("jpeg", "on")),
    ),
)


def _check_pair(source: FaceBatch, target: FaceBatch, genome: Genome) -> dict:
    for name, batch in (("source", source), ("target", target)):
        if not isinstance(batch, FaceBatch):
            raise TypeError(f"{name} must be a FaceBatch, got {type(batch).__name__}")
    if len(source) != len(target):
        raise ValueError(
            f"source and target must pair up one to one, got {len(source)} and {len(target)} faces"
        )
    if source.images.shape[-2:] != target.images.shape[-2:]:
        raise ValueError(
            f"source and target crops must have the same size, got {tuple(source.images.shape[-2:])} "
            f"and {tuple(target.images.shape[-2:])}; render or resize both at one resolution"
        )
    if not isinstance(genome, Genome) or genome.family != SPACE.family:
        raise ValueError(
            f"the blend family needs a 'blend' genome, got {getattr(genome, 'family', genome)!r}"
        )
    return SPACE.validate(genome.genes)


@FAMILIES.register("blend")
class BlendFamily:
    """Warp-and-blend face swap. Registered as the class itself; `make` needs no instance."""

    name = "blend"
    gene_space = SPACE

    @classmethod
    def make(
        cls, source: FaceBatch, target: FaceBatch, genome: Genome, generator: torch.Generator
    ) -> FakeBatch:
        """Paste source i's inner face onto target i.

        Shape:
            source, target: FaceBatch of B faces at (H, W); returns FakeBatch with images
            (B, 3, H, W) in [0, 1] and masks (B, 1, H, W).
        """
        g = _check_pair(source, target, genome)
        b, hw = len(target), (target.images.shape[-2], target.images.shape[-1])
        dev, dt = target.images.device, target.images.dtype

        # 1. Align: misplaced target points model a landmark detector's error.
        dst_points = target.landmarks
        if g["align_jitter"] > 0:
            jitter = torch.randn((b, 5, 2), generator=generator, device=generator.device, dtype=dt)
            dst_points = dst_points + g["align_jitter"] * jitter.to(dev)
        matrix = face_ops.estimate_similarity(source.landmarks, dst_points)
        # Bilinear weights sum to one only up to rounding: keep the warped face in [0, 1].
        face = face_ops.warp_to(source.images, matrix, hw).clamp(0, 1)

        # 2. Mask on the true target landmarks, 3. colour, 4. blend.
        mask = face_ops.face_mask(
            target.landmarks, hw, g["mask_shape"], g["mask_scale"], g["mask_erosion"], g["mask_feather"]
        )
        face = face_ops.color_transfer_lab(face, target.images, mask, g["color_strength"])
        if g["blend_mode"] == "laplacian":
            out = face_ops.laplacian_blend(face, target.images, mask, g["pyramid_levels"])
        else:
            out = face_ops.alpha_blend(face, target.images, mask)

        # 5. Post-process the whole frame, as re-encoding for upload would.
        if g["blur_sigma"] > 0:
            out = face_ops.gaussian_blur(out, g["blur_sigma"])
        if g["sharpen"] > 0:
            out = torch.lerp(out, unsharp_mask(out, 5, (1.0, 1.0)), g["sharpen"])
        if g["noise_std"] > 0:
            out = face_ops.add_noise(out, g["noise_std"], generator)
        out = face_ops.resize_roundtrip(out, g["resize"])
        if g["jpeg"] == "on":
            # An encoder sees an 8-bit frame: sharpening overshoot and noise are clipped first.
            out = face_ops.jpeg(out.clamp(0, 1), g["jpeg_quality"])
        return FakeBatch(out.clamp(0, 1), mask, Genome(SPACE.family, g))
