import pytest
import torch

import deepfake_arena.generators  # noqa: F401  (registers the families)
from deepfake_arena.generators.blend import warp_swap
from deepfake_arena.generators.diffusion import (
    DiffusionFamily,
    boundary_energy,
    build,
    load_pretrained,
    refine,
)
from deepfake_arena.generators.genome import Genome, default_genome
from deepfake_arena.generators.registry import TrainBudget, gene_space
from tests.generators.test_blend import faces

SIZE = 32


def genome(**genes) -> Genome:
    return Genome("diffusion", {**default_genome(gene_space("diffusion")).genes, **genes})


@pytest.fixture(scope="module")
def pair():
    return faces(6, seed=1, size=SIZE), faces(6, seed=2, size=SIZE)


@pytest.fixture(scope="module")
def weights():
    """A tiny UNet trained for a few steps on aligned real crops: a genuine (if crude) denoiser."""
    budget = TrainBudget(steps=20, resolution=16, batch_size=8)
    return DiffusionFamily.prepare(
        faces(24, seed=3, size=SIZE), genome(), torch.Generator().manual_seed(1), budget
    )


def test_training_lowers_the_denoising_loss(weights):
    first, last = (float(x) for x in weights.meta["loss"].strip("[]").split(","))
    assert last < 0.6 * first


def test_strength_zero_returns_the_input(pair, weights):
    unet, scheduler = build(weights, torch.device("cpu"))
    crops = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    region = torch.ones(2, 1, 16, 16)
    assert refine(unet, scheduler, crops, region, 0.0, 8, torch.Generator()) is crops
    # The family at strength 0 is its blend base swap, bit for bit.
    g = genome(refine_strength=0.0)
    out = DiffusionFamily.make(*pair, g, torch.Generator().manual_seed(5), weights=weights)
    base, _ = warp_swap(*pair, dict(g.genes), torch.Generator().manual_seed(5))
    assert torch.equal(out.images, base.clamp(0, 1))


def test_masked_refinement_keeps_the_outside(weights):
    unet, scheduler = build(weights, torch.device("cpu"))
    crops = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    region = torch.zeros(2, 1, 16, 16)
    region[..., 4:12, 4:12] = 1
    out = refine(unet, scheduler, crops, region, 0.5, 8, torch.Generator().manual_seed(1))
    assert torch.allclose(out[..., :4, :], crops[..., :4, :], atol=1e-5)
    assert float((out - crops)[..., 4:12, 4:12].abs().mean()) > 0.01


def test_refinement_lowers_the_blending_boundary_statistic(pair, weights):
    hard = dict(mask_feather=0.0, blend_mode="alpha", color_strength=0.0)  # a visible seam
    _, mask = warp_swap(*pair, dict(genome(**hard).genes), torch.Generator())
    energy = {}
    for strength in (0.0, 0.3):
        out = DiffusionFamily.make(
            *pair, genome(refine_strength=strength, **hard), torch.Generator().manual_seed(2), weights=weights
        )
        energy[strength] = float(boundary_energy(out.images, mask).mean())
    assert energy[0.3] < 0.8 * energy[0.0]


def test_pretrained_from_a_local_directory(tmp_path, pair):
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    UNet2DModel(
        sample_size=16,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
    ).save_pretrained(tmp_path / "unet")
    w = load_pretrained(tmp_path / "unet")
    assert w.meta["source"].startswith('"pretrained:')
    out = DiffusionFamily.make(*pair, genome(refine_strength=0.5), torch.Generator(), weights=w)
    assert out.images.shape == (6, 3, SIZE, SIZE)
    with pytest.raises(FileNotFoundError, match="no pretrained diffusion model at .*never downloads"):
        load_pretrained(tmp_path / "absent")
