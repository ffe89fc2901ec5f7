"""The `folder` world: real faces from a faceset made by `arena ingest`, split by identity.

Identities are split disjoint into train, eval and vault, by the spec's counts or fractions; a
source (a photo, a video) belongs to one identity, so all frames of a video land in one split.
Faces stay on disk: a draw reads only the crops it returns (see `world.faceset.Faceset.images`).
On a labelled faceset (`arena ingest --labels`) the reals are the rows not labelled fake, and the
fakes are served by `recorded` strains (`deepfake_arena.generators.recorded`) from the same identity split, so
a recorded fake and the reals of its identity always land in one split.
It offers `render(ids, generator)` like the synthetic renderer, so `deepfake_arena.world.pools.World` serves
`reals` and `pairs` from either the same way. Scored sets (eval, vault) draw with `distinct`
instead: at most one face per source, because a photo drawn twice is one sample, not two.
"""

from __future__ import annotations

from typing import Any

import kornia
import numpy as np
import torch

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.faces import FaceBatch, from_uint8
from deepfake_arena.seeding import torch_generator
from deepfake_arena.spec import WorldSpec
from deepfake_arena.world.faceset import Faceset, open_faceset
from deepfake_arena.world.identity_split import split_counts
from deepfake_arena.world.recorded import read_labels


def resize_faces(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Faceset crops (n, 3, S, S) in [0, 1] at the run's resolution: an antialiased resize, as
    every real face of a folder world (and of an external set, rounds.external) is brought to it."""
    if images.shape[-1] == resolution:
        return images
    return kornia.geometry.transform.resize(images, (resolution, resolution), antialias=True).clamp(0, 1)




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
        splits = {
            "train": perm[:train],
            "eval": perm[train : train + eval_],
            "vault": perm[train + eval_ : train + eval_ + vault],
        }
        self.codes = codes
        self.splits = splits  # every identity of each split (recorded fakes draw from these)
        labels = read_labels(spec.path)
        self.fake = np.zeros(len(codes), dtype=bool) if labels is None else labels["label"].to_numpy() == 1
        self.methods = (
            None if labels is None else labels["method"].astype(object).fillna("").to_numpy(dtype=str)
        )
        real_rows = np.flatnonzero(~self.fake)
        # Faces grouped by identity: identity i owns real rows order[start[i] : start[i] + count[i]].
        self.order = torch.from_numpy(real_rows[np.argsort(codes[real_rows], kind="stable")])
        self.count = torch.from_numpy(np.bincount(codes[real_rows], minlength=len(names)))
        # The reals' pools: each split's identities with a real face (all of them when unlabelled).
        self.pools = {k: v[self.count[v] > 0] for k, v in splits.items()} if labels is not None else splits
        if labels is not None:
            _check_sources_disjoint(codes, sources, splits, spec.path)
        self.start = torch.cumsum(self.count, 0) - self.count
        self.sources = torch.from_numpy(sources.astype(np.int64))
        s, r = self.faceset.size, spec.resolution
        # Crop pixel centres map as p' = (p + 0.5) * r / s - 0.5 under an area resize.
        self.landmarks = (self.faceset.landmarks5 + 0.5) * (r / s) - 0.5

    def render(self, ids: torch.Tensor, generator: torch.Generator) -> FaceBatch:
        """One face of each identity in `ids`, drawn uniformly among that identity's real faces."""
        u = torch.rand(len(ids), generator=generator, dtype=torch.float64)
        k = (u * self.count[ids]).long().clamp(max=self.count[ids] - 1)
        rows = self.order[self.start[ids] + k]
        return self._faces(rows, ids.to(torch.int64))

    def distinct(self, pool: torch.Tensor, n: int, generator: torch.Generator) -> FaceBatch:
        """A scored set's reals: min(n, sources) real faces of the pool's identities, one per source.

        Why: a faceset holds few photos per identity (the London set: 2), so n draws with
        replacement would score one photo several times and count it as independent samples,
        making in-run intervals too narrow. Sources (a photo, a video) are drawn without
        replacement in random order, each with one of its faces at random (a video's frames are
        one sample too); when the pool has fewer sources than n, the set is smaller and the
        results' `n` says so. Faces labelled fake are never reals.
        """
        ids_of = torch.from_numpy(self.codes.astype(np.int64))
        rows = torch.nonzero(torch.isin(ids_of, pool) & torch.from_numpy(~self.fake)).flatten()
        shuffled = rows[torch.randperm(len(rows), generator=generator)]
        _, source = torch.unique(self.sources[shuffled], return_inverse=True)
        first = torch.full((int(source.max()) + 1,), len(shuffled), dtype=torch.int64)
        first.scatter_reduce_(0, source, torch.arange(len(shuffled)), reduce="amin")
        pick = shuffled[first.sort().values[:n]]
        return self._faces(pick, ids_of[pick])

    def recorded(self, split: str, method: str, n: int, generator: torch.Generator) -> FaceBatch:
        """`n` recorded fakes of `method` (rows labelled fake), drawn uniformly with replacement
        among those whose identity is in `split`.

        Raises:
            ArenaUserError: the split has no such fakes (too few identities, or none of that method).
        """
        if split not in self.splits:
            raise ValueError(f"unknown split {split!r}; valid: {', '.join(self.splits)}")
        if self.methods is None:
            raise ArenaUserError("recorded strains need a labelled faceset (arena ingest SRC --labels FILE)")
        in_split = np.isin(self.codes, self.splits[split].numpy())
        candidates = np.flatnonzero(self.fake & (self.methods == method) & in_split)
        if len(candidates) == 0:
            raise ArenaUserError(
                f"no recorded fakes of method {method!r} among the {split} split's "
                f"{len(self.splits[split])} identities; give the split more identities"
            )
        pick = torch.randint(len(candidates), (n,), generator=generator)
        rows = torch.from_numpy(candidates[pick.numpy()])
        return self._faces(rows, torch.from_numpy(self.codes[rows.numpy()].astype(np.int64)))

    def _faces(self, rows: torch.Tensor, ids: torch.Tensor) -> FaceBatch:
        images = resize_faces(from_uint8(self.faceset.images(rows.numpy())), self.resolution)
        return FaceBatch(images, self.landmarks[rows], ids, self.sources[rows])


def _check_sources_disjoint(
    codes: np.ndarray, sources: np.ndarray, splits: dict[str, torch.Tensor], path: Any
) -> None:
    """A clip (`source`) whose frames fall in two splits would leak between train and eval."""
    split_of = np.full(int(codes.max()) + 1, -1)
    for k, ids in enumerate(splits.values()):
        split_of[ids.numpy()] = k
    row_split = split_of[codes]
    per_source: dict[int, int] = {}
    for src, sp in zip(sources.tolist(), row_split.tolist(), strict=True):
        if sp >= 0 and per_source.setdefault(src, sp) != sp:
            raise ArenaUserError(
                f"faceset {path}: a source (clip) holds faces of identities in two splits; "
                "give every frame of a clip one identity"
            )
