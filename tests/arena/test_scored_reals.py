"""A scored set's reals never count one photo twice (issue 23: pseudo-replication inside a run).

The London set has 2 photos per identity: an eval pool of 4 identities holds 8 photos, and the
128 eval reals a round asks for used to be 128 draws with replacement from those 8.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfake_arena.rounds.tasks import make_reals
from deepfake_arena.spec import WorldSpec
from deepfake_arena.world.ingest import IngestOptions, ingest
from deepfake_arena.world.pools import World
from tests.arena.ingest_helpers import copy_identities, needs_faces


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scored")
    src, lm = copy_identities(tmp, 10)
    ingest(src, tmp / "faceset", IngestOptions(size=32, progress=False, landmarks=lm))
    return WorldSpec(
        kind="folder",
        path=str(tmp / "faceset"),
        resolution=32,
        identities={"train": 4, "eval": 4, "vault": 2},
    )


@needs_faces
def test_eval_and_vault_reals_hold_each_photo_once(small_world):
    world = World(small_world, seed=1)
    for split, photos in (("eval", 8), ("vault", 4)):
        faces = world.scored_reals(split, 128, torch.Generator().manual_seed(0))
        assert len(faces.source) == photos  # capped at the photos there are: n says so
        assert len(set(faces.source.tolist())) == photos
        assert set(faces.identity.tolist()) == set(world.pools[split].tolist())
        few = world.scored_reals(split, 3, torch.Generator().manual_seed(0))
        assert len(set(few.source.tolist())) == 3
    a = world.scored_reals("eval", 5, torch.Generator().manual_seed(7))
    b = World(small_world, seed=1).scored_reals("eval", 5, torch.Generator().manual_seed(7))
    assert torch.equal(a.images, b.images) and torch.equal(a.source, b.source), "replays from its generator"
    c = world.scored_reals("eval", 8, torch.Generator().manual_seed(8))
    assert not torch.equal(a.source, c.source[:5]), "another generator, another order"


@needs_faces
def test_the_rounds_scored_reals_have_no_repeated_image(small_world):
    """What the round loop scores: `work.make_reals` for eval holds no image twice; train may."""
    ev = make_reals(small_world, 1, 2, "eval", 128, 1)
    assert len(ev) == 8
    assert len(np.unique(ev.reshape(len(ev), -1), axis=0)) == len(ev)
    train = make_reals(small_world, 1, 2, "train", 32, 1)
    assert len(train) == 32  # training draws with replacement: a repeat is more data, not a sample


def test_synthetic_scored_reals_draw_as_before():
    """A synthetic world renders each face afresh, so scored sets draw as `reals` did (replay intact)."""
    spec = WorldSpec(resolution=32)
    a = World(spec, 0).scored_reals("eval", 16, torch.Generator().manual_seed(3))
    b = World(spec, 0).reals("eval", 16, torch.Generator().manual_seed(3))
    assert torch.equal(a.images, b.images)
    assert len(np.unique(a.images.reshape(16, -1).numpy(), axis=0)) == 16
