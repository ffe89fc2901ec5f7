"""The `folder` world: real faces from a faceset made by `arena ingest`, split by identity.

Identities are split disjoint into train, eval and vault, by the spec's counts or fractions; a
source (a photo, a video) belongs to one identity, so all frames of a video land in one split.
Faces stay on disk: a draw reads only the crops it returns (see `arena.faceset.Faceset.images`).
It offers `render(ids, generator)` like the synthetic renderer, so `arena.world.World` serves
`reals` and `pairs` from either the same way. Scored sets (eval, vault) draw with `distinct`
instead: at most one face per source, because a photo drawn twice is one sample, not two.
"""

from __future__ import annotations

import math
from typing import Any

import kornia
import numpy as np
import torch

from arena.errors import ArenaUserError
from arena.faces import FaceBatch, from_uint8
from arena.faceset import Faceset, open_faceset, read_manifest
from arena.seeding import torch_generator
from arena.spec import WorldSpec


def split_counts(spec: WorldSpec, available: int) -> tuple[int, int, int]:
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


def check_faceset(spec: WorldSpec) -> dict[str, Any]:
    """Fail at spec validation, before Ray starts: a missing/invalid faceset or too few identities.

    Returns the faceset's manifest.
    """
    manifest = read_manifest(spec.path or "")
    split_counts(spec, int(manifest["counts"]["identities"]))
    return manifest


class FolderWorld:
    """Identity pools and face draws over an ingested faceset.

    Shape:
        render(ids (n,), generator) -> FaceBatch of n faces at `spec.resolution`;
        distinct(pool (k,), n, generator) -> FaceBatch of min(n, sources of the pool) faces.
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
        self.identity_of_row = torch.from_numpy(codes.astype(np.int64))
        s, r = self.faceset.size, spec.resolution
        # Crop pixel centres map as p' = (p + 0.5) * r / s - 0.5 under an area resize.
        self.landmarks = (self.faceset.landmarks5 + 0.5) * (r / s) - 0.5

    def render(self, ids: torch.Tensor, generator: torch.Generator) -> FaceBatch:
        """One face of each identity in `ids`, drawn uniformly among that identity's faces."""
        u = torch.rand(len(ids), generator=generator, dtype=torch.float64)
        k = (u * self.count[ids]).long().clamp(max=self.count[ids] - 1)
        return self._faces(self.order[self.start[ids] + k])

    def distinct(self, pool: torch.Tensor, n: int, generator: torch.Generator) -> FaceBatch:
        """A scored set's reals: min(n, sources) faces of the pool's identities, one per source.

        Why: a faceset holds few photos per identity (the London set: 2), so n draws with
        replacement would score one photo several times and count it as independent samples,
        making in-run intervals too narrow. Sources (a photo, a video) are drawn without
        replacement in random order, each with one of its faces at random (a video's frames are
        one sample too); when the pool has fewer sources than n, the set is smaller and the
        results' `n` says so.
        """
        rows = torch.nonzero(torch.isin(self.identity_of_row, pool)).flatten()
        shuffled = rows[torch.randperm(len(rows), generator=generator)]
        _, source = torch.unique(self.sources[shuffled], return_inverse=True)
        first = torch.full((int(source.max()) + 1,), len(shuffled), dtype=torch.int64)
        first.scatter_reduce_(0, source, torch.arange(len(shuffled)), reduce="amin")
        return self._faces(shuffled[first.sort().values[:n]])

    def _faces(self, rows: torch.Tensor) -> FaceBatch:
        images = from_uint8(self.faceset.images(rows.numpy()))
        if self.faceset.size != self.resolution:
            images = kornia.geometry.transform.resize(
                images, (self.resolution, self.resolution), antialias=True
            ).clamp(0, 1)
        return FaceBatch(images, self.landmarks[rows], self.identity_of_row[rows], self.sources[rows])
