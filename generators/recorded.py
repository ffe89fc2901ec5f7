"""The ``recorded`` family: real deepfakes of one method, replayed from a labelled faceset.

A recorded strain makes nothing. The arena draws its fakes from the world's labelled faceset
(rows labelled fake with the strain's ``method``, among the identities of the split being made:
train fakes from train identities, eval fakes from eval identities) and hands them to ``make``
as the targets; ``swap`` returns them unchanged, with an empty paste mask (the arena pasted
nothing). The last stages every family shares (post-processing, evasion) run as for any strain,
but a recorded genome keeps them off: the family does not evolve (``evolves`` is False), so the
evolution keeps its strains as they are and never mutates or crosses them
(:func:`deepfake_arena.generators.population.evolve`). Their quality measures compare a fake with itself, so
they pass the quality floors: there is no pristine frame to compare with.

Strains enter through ``population.innovation`` (``{family: recorded, method: ..., round: r}``)
or by their method's release date (``population.recorded``, ``world.round_months``); see
:mod:`deepfake_arena.world.recorded`.
"""

from __future__ import annotations

import torch

from deepfake_arena.faces import FaceBatch
from deepfake_arena.generators import stages
from deepfake_arena.generators.evasion import EVASION_GENES
from deepfake_arena.generators.genome import GeneSpace, Genome
from deepfake_arena.generators.registry import FAMILIES, GeneratorFamily, StrainWeights, Swapped, check_pair

SPACE = GeneSpace("recorded", (*stages.POST_GENES, *EVASION_GENES))


@FAMILIES.register("recorded")
class Recorded(GeneratorFamily):
    """Recorded fakes as they are: ``target`` holds them; ``source`` only pairs up with it."""

    name = "recorded"
    gene_space = SPACE
    learns = False
    evolves = False  # kept as it is by the evolution: a recorded method does not change

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
        """The recorded fakes in ``target``, unchanged, with an all-zero mask.

        Shape:
            source, target: FaceBatch of B faces at (H, W); frames (B, 3, H, W), masks (B, 1, H, W).
        """
        genes = check_pair(source, target, genome, SPACE)
        if weights is not None:
            raise ValueError("the recorded family has no trained weights; pass weights=None")
        images = target.images
        masks = torch.zeros(images.shape[0], 1, *images.shape[-2:], dtype=images.dtype, device=images.device)
        return Swapped(images.clone(), masks, Genome("recorded", genes))
