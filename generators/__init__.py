"""Generator families, their genomes and the population that evolves them.

Importing the package registers every family module below in `generators.registry.FAMILIES`.
"""

from generators import blend  # noqa: F401  (registers "blend")
from generators.registry import FAMILIES, FakeBatch, GeneratorFamily, get_family

__all__ = ["FAMILIES", "FakeBatch", "GeneratorFamily", "get_family"]
