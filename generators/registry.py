"""Generator families by stable name, and the contract every family meets.

The registry holds the family classes themselves, used without instantiation: `name` and
`gene_space` are class attributes and `swap` and `make` are classmethods, so
`FAMILIES.get("blend").make(...)` works directly and a genome can be validated or described
without building anything. Families are stateless: everything a fake depends on arrives as an
argument (faces, genome, generator, and, for families that learn, the strain's weights).

Families that learn (autoencoder, diffusion) also define a classmethod `prepare` that trains a
strain's weights from real faces under a `TrainBudget`; `make` then takes those weights. The
arena owns where weights live on disk; a family only turns faces into tensors and back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import torch

from deepfake_arena.faces import FaceBatch
from deepfake_arena.generators.genome import GeneSpace, Genome
from deepfake_arena.generators.queries import Landmarker, Scorer  # noqa: F401  (re-exported)
from deepfake_arena.generators.train_budget import TrainBudget  # noqa: F401  (re-exported)
from deepfake_arena.registry import Registry


@dataclass(frozen=True)
class FakeBatch:
    """Fakes made by one strain, with the blending masks used and the genome that made them.

    Shape:
        images: (B, 3, H, W) float in [0, 1]
        masks: (B, 1, H, W) float in [0, 1], 1 where the source face was pasted
    """

    images: torch.Tensor
    masks: torch.Tensor
    genome: Genome

    def __len__(self) -> int:
        return int(self.images.shape[0])


@dataclass(frozen=True)
class Swapped:
    """A family's own swap, before the last stages every family shares (spectral matching,
    guided evasion, extractor attack, post-processing: `deepfake_arena.generators.evasion.evade_and_post`).

    Made apart from those stages, a swap needs no detector: the arena makes it while the
    detectors that the evasion will query are still retraining (`deepfake_arena.rounds.early_work`).

    Shape:
        frames: (B, 3, H, W) swapped frames; masks: (B, 1, H, W) in [0, 1], as in FakeBatch
    """

    frames: torch.Tensor
    masks: torch.Tensor
    genome: Genome  # with the validated genes

    def finish(
        self,
        target_images: torch.Tensor,
        target_landmarks: torch.Tensor,
        generator: torch.Generator,
        surrogate: Scorer | None = None,
        extractor: Landmarker | None = None,
    ) -> FakeBatch:
        """The shared last stages, with the generator the swap drew from (in the state it left)."""
        from deepfake_arena.generators.evasion import evade_and_post

        out = evade_and_post(
            self.frames,
            target_images,
            self.masks,
            self.genome.genes,
            generator,
            surrogate,
            extractor,
            target_landmarks,
        )
        return FakeBatch(out, self.masks, self.genome)


@dataclass(frozen=True)
class StrainWeights:
    """The trained part of a strain: CPU tensors plus string metadata (e.g. a network config).

    This is exactly what a safetensors file holds (tensors and a str->str metadata map), so the
    arena saves and loads it without pickle.
    """

    tensors: Mapping[str, torch.Tensor]
    meta: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bad = [k for k, v in self.tensors.items() if not isinstance(v, torch.Tensor)]
        if bad:
            raise TypeError(f"strain weights must be tensors; not tensors: {bad}")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.meta.items()):
            raise TypeError("strain weight metadata must map str to str")


class GeneratorFamily(Protocol):
    """A face-swap technique: puts each source face onto the matching target image.

    The families subclass it for its `make`, which every family shares: their own `swap`, then
    the last stages (evasion, post-processing).
    """

    name: str
    gene_space: GeneSpace
    learns: bool  # True when the family has trained weights (`prepare`)

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
        """The family's own technique: `make` without the last stages every family shares."""
        ...

    @classmethod
    def make(
        cls,
        source: FaceBatch,
        target: FaceBatch,
        genome: Genome,
        generator: torch.Generator,
        *,
        weights: StrainWeights | None = None,
        surrogate: Scorer | None = None,
        extractor: Landmarker | None = None,
    ) -> FakeBatch:
        """Fake i shows target i's head and background with source i's inner face: the family's
        `swap`, then the last stages every family shares (`Swapped.finish`).

        Shape:
            source, target: FaceBatch of B faces at (H, W); returns FakeBatch with images
            (B, 3, H, W) in [0, 1] and masks (B, 1, H, W).
        """
        swapped = cls.swap(source, target, genome, generator, weights=weights)
        return swapped.finish(target.images, target.landmarks, generator, surrogate, extractor)


class LearningFamily(GeneratorFamily, Protocol):
    """A family with trained weights (`learns` is True): `prepare` makes them, `make` needs them."""

    def prepare(
        self,
        faces: FaceBatch,
        genome: Genome,
        generator: torch.Generator,
        budget: TrainBudget,
        *,
        init: StrainWeights | None = None,
    ) -> StrainWeights:
        """Train a strain's weights on real faces (from `init` when given); only if `learns`."""
        ...


# The built-in families, one module each, imported at the registry's first lookup.
BUILTIN_FAMILIES = ("autoencoder", "blend", "diffusion", "recorded")
FAMILIES: Registry[GeneratorFamily] = Registry(
    "generator family",
    "deepfake_arena.generators",
    [f"deepfake_arena.generators.{m}" for m in BUILTIN_FAMILIES],
)


def get_family(name: str) -> GeneratorFamily:
    """The family registered as `name` (an unknown name lists the valid ones)."""
    return FAMILIES.get(name)


def gene_space(name: str) -> GeneSpace:
    return FAMILIES.get(name).gene_space


def check_pair(source: FaceBatch, target: FaceBatch, genome: Genome, space: GeneSpace) -> dict:
    """Validate a make call's inputs for the family of `space`; returns the validated genes."""
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
    if not isinstance(genome, Genome) or genome.family != space.family:
        raise ValueError(
            f"the {space.family} family needs a {space.family!r} genome, "
            f"got {getattr(genome, 'family', genome)!r}"
        )
    return space.validate(genome.genes)


def describe(genome: Genome) -> str:
    """`Genome.describe` with its family's gene space looked up (raw genes for an unknown family)."""
    return genome.describe(FAMILIES.get(genome.family).gene_space if genome.family in FAMILIES else None)
