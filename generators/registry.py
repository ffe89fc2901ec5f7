"""Generator families by stable name, and the contract every family meets.

The registry holds classes: `FAMILIES.get("blend")` is the class, whose `name` and `gene_space`
are class attributes (so a genome can be validated and described without building anything),
and `get_family("blend")` returns an instance built with no arguments, ready to `make` fakes.
Classes rather than instances, because later families carry trained weights per strain.
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

    def make(self, source: FaceBatch, target: FaceBatch, genome: Genome, generator: torch.Generator) -> FakeBatch:
        """Fake i shows target i's head and background with source i's inner face."""
        ...


FAMILIES: Registry[type[GeneratorFamily]] = Registry("generator family")


def get_family(name: str) -> GeneratorFamily:
    """An instance of the family registered as `name` (an unknown name lists the valid ones)."""
    return FAMILIES.get(name)()


def gene_space(name: str) -> GeneSpace:
    return FAMILIES.get(name).gene_space
