"""Generator families, their genomes and the population that evolves them.

Each family lives in its own module and registers itself in `generators.registry.FAMILIES`; the
registry imports them at its first lookup, with any plugin's (`arena.registry`); diffusers itself
is imported only when a diffusion strain is trained or used. The names below are imported when
first used, so `generators.train_budget` (what a spec embeds) can be read without importing torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from generators.registry import FAMILIES, FakeBatch, GeneratorFamily, StrainWeights, get_family
    from generators.train_budget import TrainBudget

_WHERE = {
    "FAMILIES": "generators.registry",
    "FakeBatch": "generators.registry",
    "GeneratorFamily": "generators.registry",
    "StrainWeights": "generators.registry",
    "get_family": "generators.registry",
    "TrainBudget": "generators.train_budget",
}
__all__ = [
    "FAMILIES",
    "FakeBatch",
    "GeneratorFamily",
    "StrainWeights",
    "TrainBudget",
    "get_family",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'generators' has no attribute {name!r}")
