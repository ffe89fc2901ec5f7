import pytest
import torch

import deepfake_arena.generators  # noqa: F401  (registers the families)
from deepfake_arena.faces import FaceBatch
from deepfake_arena.generators.autoencoder import AutoencoderFamily, reconstruction_loss
from deepfake_arena.generators.genome import Genome, default_genome
from deepfake_arena.generators.registry import TrainBudget, gene_space
from tests.generators.test_blend import faces

SIZE = 32


def genome(**genes) -> Genome:
    return Genome("autoencoder", {**default_genome(gene_space("autoencoder")).genes, **genes})


@pytest.fixture(scope="module")
def world() -> FaceBatch:
    """Four faces of each of 4 identities (ids 0..3), varied in pose and lighting."""
    batches = [faces(4, seed=s, size=SIZE) for s in range(4)]
    return FaceBatch(
        torch.cat([b.images for b in batches]),
        torch.cat([b.landmarks for b in batches]),
        torch.arange(4).repeat(4),
        torch.zeros(16, dtype=torch.long),
    )


def test_reconstruction_loss_falls_during_training(world):
    budget = TrainBudget(steps=40, resolution=16, batch_size=8, lr=3e-3)
    start = AutoencoderFamily.prepare(
        world, genome(), torch.Generator().manual_seed(0), TrainBudget(steps=1, resolution=16)
    )
    trained = AutoencoderFamily.prepare(world, genome(), torch.Generator().manual_seed(0), budget)
    first, last = trained.meta["loss"].strip("[]").split(",")
    assert float(last) < 0.7 * float(first)
    assert reconstruction_loss(trained, world) < 0.85 * reconstruction_loss(start, world)
    # A warm start with finetune_steps=0 is the parent's weights, unchanged.
    again = AutoencoderFamily.prepare(world, genome(), torch.Generator().manual_seed(1), budget, init=trained)
    assert again is trained


def test_swap_uses_the_source_identity_and_checks_it(world):
    budget = TrainBudget(steps=5, resolution=16, batch_size=8)
    w = AutoencoderFamily.prepare(world, genome(), torch.Generator().manual_seed(0), budget)
    target = world.index(slice(0, 4))  # identities 0, 1, 2, 3
    source = world.index(torch.tensor([5, 6, 7, 4]))  # identities 1, 2, 3, 0
    swap = AutoencoderFamily.make(source, target, genome(), torch.Generator(), weights=w)
    own = AutoencoderFamily.make(target, target, genome(), torch.Generator(), weights=w)
    inside = swap.masks > 0.5
    assert float((swap.images - own.images).abs().amax()) > 0  # the decoder's identity matters
    assert bool(inside.any())
    half = AutoencoderFamily.make(source, target, genome(identity_mix=0.5), torch.Generator(), weights=w)
    assert not torch.equal(half.images, swap.images)
    stranger = FaceBatch(source.images, source.landmarks, torch.tensor([9, 1, 2, 3]), source.source)
    with pytest.raises(ValueError, match=r"source identities \[9\] were not in this autoencoder"):
        AutoencoderFamily.make(stranger, target, genome(), torch.Generator(), weights=w)
