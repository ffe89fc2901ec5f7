"""Where real faces come from, split by identity into disjoint train, eval and vault pools.

The arena asks a world for real faces and for source/target pairs of distinct identities;
every draw is a function of the generator it is given, so a round replays exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from deepfake_arena.faces import FaceBatch
from deepfake_arena.seeding import derive_seed, torch_generator
from deepfake_arena.spec import WorldSpec
from deepfake_arena.world.synthetic import SyntheticWorld

if TYPE_CHECKING:
    from deepfake_arena.world.folder import FolderWorld

SPLITS = ("train", "eval", "vault")


class World:
    def __init__(self, spec: WorldSpec, seed: int) -> None:
        self.resolution = spec.resolution
        if spec.kind == "folder":  # real faces from `arena ingest`; same pools and draws below
            from deepfake_arena.world.folder import FolderWorld

            folder = FolderWorld(spec, seed)
            self.folder: FolderWorld | None = folder
            self.renderer: SyntheticWorld | FolderWorld = folder
            self.pools = folder.pools
            return
        self.folder = None
        counts = spec.identities
        total = counts.train + counts.eval + counts.vault
        self.renderer = SyntheticWorld(total, spec.resolution, seed=derive_seed(seed, "world"))
        perm = torch.randperm(total, generator=torch_generator(seed, "identity-split"))
        self.pools = {
            "train": perm[: counts.train],
            "eval": perm[counts.train : counts.train + counts.eval],
            "vault": perm[counts.train + counts.eval :],
        }
        self.resolution = spec.resolution

    def _pool(self, split: str) -> torch.Tensor:
        if split not in self.pools:
            raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
        pool = self.pools[split]
        if len(pool) < 2:
            raise ValueError(f"split {split!r} has {len(pool)} identities; pairs need at least 2")
        return pool

    def reals(self, split: str, n: int, generator: torch.Generator) -> FaceBatch:
        pool = self._pool(split)
        ids = pool[torch.randint(len(pool), (n,), generator=generator)]
        return self.renderer.render(ids, generator)

    def recorded(self, split: str, method: str, n: int, generator: torch.Generator) -> FaceBatch:
        """`n` recorded fakes of `method` from `split`'s identities (a labelled folder world)."""
        from deepfake_arena.errors import ArenaUserError
        from deepfake_arena.world.folder import FolderWorld

        if not isinstance(self.renderer, FolderWorld):
            raise ArenaUserError("recorded strains need world.kind: folder on a labelled faceset")
        return self.renderer.recorded(split, method, n, generator)

    def scored_reals(self, split: str, n: int, generator: torch.Generator) -> FaceBatch:
        """Reals of a scored set (eval, vault): never one photo twice (`FolderWorld.distinct`).

        A folder world may return fewer than n (one face per source of the split). A synthetic
        world renders every face afresh (a new pose, light and expression), so it draws as
        `reals` does, and its runs replay as before.
        """
        if self.folder is not None:
            return self.folder.distinct(self._pool(split), n, generator)
        return self.reals(split, n, generator)

    def pairs(self, split: str, n: int, generator: torch.Generator) -> tuple[FaceBatch, FaceBatch]:
        """Source and target faces of distinct identities (the source's face goes on the target)."""
        pool = self._pool(split)
        t = torch.randint(len(pool), (n,), generator=generator)
        s = (t + torch.randint(1, len(pool), (n,), generator=generator)) % len(pool)
        target = self.renderer.render(pool[t], generator)
        source = self.renderer.render(pool[s], generator)
        return source, target


def world_credit(spec: WorldSpec) -> str:
    """The credit line for this world's faces, printed under every sample grid that shows them.

    A folder world's comes from its faceset's manifest (filled into the spec when it validates).
    """
    if spec.credit:
        return spec.credit
    from deepfake_arena.world.synthetic import CREDIT_SYNTHETIC

    return CREDIT_SYNTHETIC
