"""The classic landmark warp-and-blend face swap, every stage a gene.

Align the source face to the target's landmarks by a similarity transform, cut it with a face
mask, shift its colours toward the target's skin, blend it in, then degrade the whole image as
an upload pipeline would. This is the oldest family of face swaps and the one whose artefacts
(blending boundary, colour mismatch, double faces from misalignment) detectors learned first.
Like every family it carries the evasion genes (`deepfake_arena.generators.evasion`).
"""

from __future__ import annotations

import torch

from deepfake_arena import face_ops
from deepfake_arena.faces import FaceBatch
from deepfake_arena.generators import stages
from deepfake_arena.generators.evasion import EVASION_GENES
from deepfake_arena.generators.genome import GeneSpace, GeneSpec, Genome
from deepfake_arena.generators.registry import FAMILIES, GeneratorFamily, StrainWeights, Swapped, check_pair

SPACE = GeneSpace(
    "blend",
    (
        GeneSpec("align_jitter", "float", 0.0, 0.0, 3.0, fmt="jitter {:.1f}px", hide_at=0.0),
        *stages.PASTE_GENES,
        *stages.POST_GENES,
        *EVASION_GENES,
    ),
)


def warp_swap(
    source: FaceBatch, target: FaceBatch, g: dict, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The warp-and-blend swap before post-processing: (swapped frames, paste masks).

    Shared with the diffusion family, which refines this base swap.

    Shape:
        source, target: FaceBatch of B faces at (H, W); returns (B, 3, H, W) and (B, 1, H, W).
    """
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
    mask = stages.face_mask(target.landmarks, hw, g)
    return stages.paste(face, target.images, mask, g), mask


@FAMILIES.register("blend")
class BlendFamily(GeneratorFamily):
    """Warp-and-blend face swap. Registered as the class itself; `make` needs no instance."""

    name = "blend"
    gene_space = SPACE
    learns = False

    @classmethod
    def swap(
        cls,
        source: FaceBatch,
        target: FaceBatch,
        genome: Genome,
        generator: torch.Generator,
        *,
        weights: StrainWeights | None = None,
    ) -> Swapped:
        """Paste source i's inner face onto target i (`make` then evades and post-processes).

        Shape:
            source, target: FaceBatch of B faces at (H, W); returns frames (B, 3, H, W) and
            masks (B, 1, H, W).
        """
        g = check_pair(source, target, genome, SPACE)
        if weights is not None:
            raise ValueError("the blend family has no trained weights; pass weights=None")
        out, mask = warp_swap(source, target, g, generator)
        return Swapped(out, mask, Genome(SPACE.family, g))
