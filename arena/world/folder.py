"""The `folder` world: real faces from a faceset made by `arena ingest`, split by identity.

Identities are split disjoint into train, eval and vault, by the spec's counts or fractions; a
source (a photo, a video) belongs to one identity, so all frames of a video land in one split.
Faces stay on disk: a draw reads only the crops it returns (see `arena.world.faceset.Faceset.images`).
It offers `render(ids, generator)` like the synthetic renderer, so `arena.world.pools.World` serves
`reals` and `pairs` from either the same way.
"""

from __future__ import annotations

import kornia
import numpy as np
import torch

from arena.errors import ArenaUserError
from arena.faces import FaceBatch, from_uint8
from arena.seeding import torch_generator
from arena.spec import WorldSpec
from arena.world.faceset import Faceset, open_faceset
from arena.world.identity_split import split_counts


def resize_faces(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Faceset crops (n, 3, S, S) in [0, 1] at the run's resolution: an antialiased resize, as
    every real face of a folder world (and of an external set, arena.rounds.external) is brought to it."""
    if images.shape[-1] == resolution:
        return images
    return kornia.geometry.transform.resize(images, (resolution, resolution), antialias=True).clamp(0, 1)




class FolderWorld:
    """Identity pools and face draws over an ingested faceset.

    Shape:
        render(ids (n,), generator) -> FaceBatch of n faces at `spec.resolution`.
    """

    def __init__(self, spec: WorldSpec, seed: int) -> None:
        if spec.path is None:
            raise ArenaUserError("world.kind 'folder' needs world.path")
        self.faceset: Faceset = open_faceset(spec.path, ("identity", "source", "landmarks5"))
        self.resolution = spec.resolution
        names, codes = np.unique(self.faceset.index["identity"].to_numpy(dtype=str), return_inverse=True)
        _, sources = np.unique(self.faceset.index["source"].to_numpy(dtype=str), return_inverse=True)
        self.identity_names = names.tolist()
        train, eval_, vault = split_counts(spec, len(names))
        perm = torch.randperm(len(names), generator=torch_generator(seed, "identity-split"))
        self.pools = {
            "train": perm[:train],
            "eval": perm[train : train + eval_],
            "vault": perm[train + eval_ : train + eval_ + vault],
        }
        # Faces grouped by identity: identity i owns rows order[start[i] : start[i] + count[i]].
        self.order = torch.from_numpy(np.argsort(codes, kind="stable"))
        self.count = torch.from_numpy(np.bincount(codes, minlength=len(names)))
        self.start = torch.cumsum(self.count, 0) - self.count
        self.sources = torch.from_numpy(sources.astype(np.int64))
        s, r = self.faceset.size, spec.resolution
        # Crop pixel centres map as p' = (p + 0.5) * r / s - 0.5 under an area resize.
        self.landmarks = (self.faceset.landmarks5 + 0.5) * (r / s) - 0.5

    def render(self, ids: torch.Tensor, generator: torch.Generator) -> FaceBatch:
        """One face of each identity in `ids`, drawn uniformly among that identity's faces."""
        u = torch.rand(len(ids), generator=generator, dtype=torch.float64)
        k = (u * self.count[ids]).long().clamp(max=self.count[ids] - 1)
        rows = self.order[self.start[ids] + k]
        images = resize_faces(from_uint8(self.faceset.images(rows.numpy())), self.resolution)
        return FaceBatch(images, self.landmarks[rows], ids.to(torch.int64), self.sources[rows])
