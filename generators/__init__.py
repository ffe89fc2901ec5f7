"""Generator families, their genomes and the population that evolves them.

Each family lives in its own module and registers itself in `deepfake_arena.generators.registry.FAMILIES`; the
registry imports them at its first lookup, with any plugin's (`deepfake_arena.registry`); diffusers itself
is imported only when a diffusion strain is trained or used. The names below are imported when
first used, so `generators.train_budget` (what a spec embeds) can be read without importing torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deepfake_arena.generators.registry import (
        FAMILIES,
        FakeBatch,
        GeneratorFamily,
        StrainWeights,
        get_family,
    )
    from deepfake_arena.generators.train_budget import TrainBudget

_WHERE = {
    "FAMILIES": "deepfake_arena.generators.registry",
    "FakeBatch": "deepfake_arena.generators.registry",
    "GeneratorFamily": "deepfake_arena.generators.registry",
    "StrainWeights": "deepfake_arena.generators.registry",
    "get_family": "deepfake_arena.generators.registry",
    "TrainBudget": "deepfake_arena.generators.train_budget",
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
