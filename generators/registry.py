"""Generator families by stable name, and the contract every family meets.

The registry holds the family classes themselves, used without instantiation: `name` and
`gene_space` are class attributes and `make` is a classmethod, so `FAMILIES.get("blend").make(...)`
works directly and a genome can be validated or described without building anything. Families
are stateless: everything a fake depends on arrives as an argument (faces, genome, generator).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from arena.faces import FaceBatch
from arena.registry import Registry
from generators.genome import GeneSpace, Genome


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


class GeneratorFamily(Protocol):
    """A face-swap technique: puts each source face onto the matching target image."""

    name: str
    gene_space: GeneSpace

    def make(
        self, source: FaceBatch, target: FaceBatch, genome: Genome, generator: torch.Generator
    ) -> FakeBatch:
        """Fake i shows target i's head and background with source i's inner face."""
        ...


FAMILIES: Registry[GeneratorFamily] = Registry("generator family")


def get_family(name: str) -> GeneratorFamily:
    """The family registered as `name` (an unknown name lists the valid ones)."""
    return FAMILIES.get(name)


def gene_space(name: str) -> GeneSpace:
    return FAMILIES.get(name).gene_space
