import kornia
import pytest
import torch

import deepfake_arena.generators  # noqa: F401  (registers the families)
from deepfake_arena import face_ops
from deepfake_arena.faces import FaceBatch
from deepfake_arena.generators.genome import Genome, default_genome
from deepfake_arena.generators.quality import spectral_distance, swap_quality
from deepfake_arena.generators.registry import FAMILIES, FakeBatch, get_family

SIZE = 48


def faces(b: int, seed: int, size: int = SIZE) -> FaceBatch:
    """Cartoon faces with known landmarks (a stand-in for the synthetic world)."""
    g = torch.Generator().manual_seed(seed)
    r = torch.rand(b, 6, generator=g)
    centre = size / 2 + (r[:, :2] - 0.5) * size * 0.1
    de = size * (0.27 + 0.06 * r[:, 2])
    offsets = torch.tensor([[-0.5, -0.45], [0.5, -0.45], [0.0, 0.1], [-0.38, 0.55], [0.38, 0.55]])
    lm = centre[:, None] + de[:, None, None] * offsets
    ys, xs = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")
    rel = torch.stack([xs, ys], -1)[None] - centre[:, None, None]
    skin = (((rel / (de[:, None, None, None] * torch.tensor([0.95, 1.3]))) ** 2).sum(-1) < 1).float()[:, None]
    bg = torch.rand(b, 3, 1, 1, generator=g) * 0.5 + 0.3 * (ys / size)
    tone = torch.stack([0.55 + 0.35 * r[:, 3], 0.4 + 0.3 * r[:, 3], 0.3 + 0.3 * r[:, 4]], -1)[..., None, None]
    wave = torch.rand(b, 3, 1, 1, generator=g)  # identity texture: stripes colour transfer cannot erase
    stripes = 0.12 * torch.sin(
        (4 + 8 * wave[:, :1]) * xs / size * 6.28
        + (8 * wave[:, 1:2] - 4) * ys / size * 6.28
        + 6.28 * wave[:, 2:]
    )
    img = torch.lerp(bg, (tone + stripes).clamp(0, 1), skin)
    for k, (colour, radius) in enumerate([(0.1, 0.12), (0.1, 0.12), (0.35, 0.08), (0.6, 0.08), (0.6, 0.08)]):
        spot = ((torch.stack([xs, ys], -1)[None] - lm[:, k, None, None]) ** 2).sum(-1) < (
            radius * de[:, None, None]
        ) ** 2
        img = torch.where(spot[:, None], torch.full_like(img, colour), img)
    img = kornia.filters.gaussian_blur2d(img, 3, (0.7, 0.7)).clamp(0, 1)
    return FaceBatch(img, lm, torch.arange(b) + seed * 100, torch.zeros(b, dtype=torch.long))


@pytest.fixture(scope="module")
def pair() -> tuple[FaceBatch, FaceBatch]:
    return faces(4, seed=1), faces(4, seed=2)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def genome(**genes) -> Genome:
    base = default_genome(FAMILIES.get("blend").gene_space)
    return Genome("blend", {**base.genes, **genes})


BUSY = dict(
    align_jitter=2.0, noise_std=0.02, blur_sigma=0.7, sharpen=0.5, resize=0.75, jpeg="on", jpeg_quality=70
)


def test_registered_contract(pair):
    family = get_family("blend")
    assert family.name == "blend" and family.gene_space.family == "blend"
    out = family.make(*pair, genome(**BUSY), gen(0))
    assert isinstance(out, FakeBatch) and len(out) == 4
    assert out.images.shape == (4, 3, SIZE, SIZE) and out.images.dtype == torch.float32
    assert out.masks.shape == (4, 1, SIZE, SIZE)
    assert float(out.images.min()) >= 0 and float(out.images.max()) <= 1
    assert out.genome == genome(**BUSY)


def test_seeded_determinism_and_genome_sensitivity(pair):
    family = get_family("blend")
    a = family.make(*pair, genome(**BUSY), gen(7)).images
    assert torch.equal(a, family.make(*pair, genome(**BUSY), gen(7)).images)
    assert not torch.equal(a, family.make(*pair, genome(**BUSY), gen(8)).images)
    base = family.make(*pair, genome(), gen(0)).images
    for change in [
        dict(mask_shape="hull"),
        dict(blend_mode="alpha"),
        dict(color_strength=0.0),
        dict(mask_scale=1.2),
    ]:
        assert float((family.make(*pair, genome(**change), gen(0)).images - base).abs().max()) > 1e-2, change


@pytest.mark.parametrize("change", [{}, dict(blend_mode="alpha", mask_shape="hull", mask_feather=0.0)])
def test_swap_changes_only_the_face(pair, change):
    source, target = pair
    out = get_family("blend").make(source, target, genome(**change), gen(0))
    grown = kornia.morphology.dilation((out.masks > 0).float(), torch.ones(5, 5))
    outside = (grown == 0).expand_as(target.images)
    assert float(outside.float().mean()) > 0.15  # a 2 px feather's tail reaches far at 48 px
    assert float((out.images - target.images)[outside].abs().max()) < 1e-3
    inner = face_ops.face_mask(target.landmarks, SIZE, "ellipse", 0.8) > 0.99
    assert float((out.images - target.images).abs()[inner.expand_as(target.images)].mean()) > 0.03


def test_bad_input_raises(pair):
    source, target = pair
    family = get_family("blend")
    with pytest.raises(ValueError, match="pair up one to one"):
        family.make(source.index(slice(0, 3)), target, genome(), gen(0))
    with pytest.raises(ValueError, match="same size"):
        family.make(faces(4, seed=3, size=32), target, genome(), gen(0))
    nan_marks = FaceBatch(
        source.images, source.landmarks.clone().fill_(float("nan")), source.identity, source.source
    )
    with pytest.raises(ValueError, match="NaN"):
        family.make(nan_marks, target, genome(), gen(0))
    with pytest.raises(ValueError, match="'mask_scale'"):
        family.make(source, target, genome(mask_scale=3.0), gen(0))
    with pytest.raises(ValueError, match="'blend' genome"):
        family.make(source, target, Genome("other", {}), gen(0))
    with pytest.raises(KeyError, match="valid choices: autoencoder, blend, diffusion"):
        get_family("nope")


def test_quality_penalises_damage_outside_the_face(pair):
    source, target = pair
    family = get_family("blend")
    clean = family.make(source, target, genome(), gen(0))
    busy = family.make(source, target, genome(blur_sigma=1.5, noise_std=0.04, resize=0.5), gen(0))
    q_clean = swap_quality(clean.images, target.images, clean.masks)
    q_busy = swap_quality(busy.images, target.images, busy.masks)
    assert q_clean.shape == (4,) and bool((q_clean > 0.99).all())
    assert bool((q_busy < q_clean - 0.05).all()) and float(q_busy.min()) >= 0

    assert spectral_distance(target.images, target.images) == 0
    blurred = face_ops.gaussian_blur(target.images, 1.5)
    assert spectral_distance(target.images, blurred) > spectral_distance(target.images, clean.images) > 0
