"""Generator families, their genomes and the population that evolves them.

Importing the package registers every family module below in `generators.registry.FAMILIES`
(diffusers itself is imported only when a diffusion strain is trained or used).
"""

from generators import autoencoder, blend, diffusion, recorded  # noqa: F401  (register the families)
from generators.registry import FAMILIES, FakeBatch, GeneratorFamily, StrainWeights, TrainBudget, get_family

__all__ = ["FAMILIES", "FakeBatch", "GeneratorFamily", "StrainWeights", "TrainBudget", "get_family"]
