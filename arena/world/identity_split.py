"""How many identities of a faceset go to train, eval and vault: the spec's counts or fractions.

Apart from the folder world so that the spec's own validation can check a faceset before Ray starts
without importing the world (which imports the spec).
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.world.faceset import read_manifest


class Fractions(Protocol):
    @property
    def train(self) -> float: ...
    @property
    def eval(self) -> float: ...
    @property
    def vault(self) -> float: ...


class Counts(Protocol):
    @property
    def train(self) -> int: ...
    @property
    def eval(self) -> int: ...
    @property
    def vault(self) -> int: ...


class SplitSpec(Protocol):
    """The parts of `deepfake_arena.spec.WorldSpec` a split reads."""

    @property
    def path(self) -> str | None: ...
    @property
    def fractions(self) -> Fractions | None: ...
    @property
    def identities(self) -> Counts: ...


def split_counts(spec: SplitSpec, available: int) -> tuple[int, int, int]:
    """Identities for (train, eval, vault): the spec's fractions of `available`, else its counts."""
    if spec.fractions is not None:
        f = spec.fractions
        vault = math.floor(f.vault * available)
        eval_ = math.floor(f.eval * available)
        train = math.floor(f.train * available)
    else:
        train, eval_, vault = spec.identities.train, spec.identities.eval, spec.identities.vault
    need = train + eval_ + vault
    if need > available or train < 2 or eval_ < 2:
        how = "world.fractions" if spec.fractions is not None else "world.identities"
        raise ArenaUserError(
            f"faceset {spec.path} has {available} identities; {how} asks for train {train}, eval {eval_}, "
            f"vault {vault} (train and eval need at least 2 each, all together at most {available})"
        )
    return train, eval_, vault


def check_faceset(spec: SplitSpec) -> dict[str, Any]:
    """Fail at spec validation, before Ray starts: a missing/invalid faceset or too few identities.

    Returns the faceset's manifest.
    """
    manifest = read_manifest(spec.path or "")
    split_counts(spec, int(manifest["counts"]["identities"]))
    return manifest
