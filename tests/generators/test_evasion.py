import pytest
import torch
from torch import nn

import deepfake_arena.generators  # noqa: F401  (registers the families)
from deepfake_arena import face_ops
from deepfake_arena.generators.evasion import guided_perturbation, spectral_match
from deepfake_arena.generators.genome import Genome, default_genome
from deepfake_arena.generators.quality import spectral_distance
from deepfake_arena.generators.registry import describe, gene_space, get_family
from tests.generators.test_blend import faces

SIZE = 32


class FixedDetector(nn.Module):
    """A fixed (seeded, untrained) conv detector with a steep head: (B, 3, H, W) -> (B,) logit."""

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.register_buffer("kernel", torch.randn(8, 3, 5, 5, generator=gen) / 5)
        self.register_buffer("head", torch.randn(8, generator=gen))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = nn.functional.relu(nn.functional.conv2d(x, self.kernel)).mean((2, 3))
        return 10 * (feats @ self.head - 0.3)


def surrogate() -> nn.Module:
    return FixedDetector()


def score_fn(net):
    return lambda x: torch.sigmoid(net(x))


def test_spectral_matching_moves_toward_real_faces():
    reals = faces(8, seed=1, size=SIZE).images
    fakes = face_ops.gaussian_blur(faces(8, seed=2, size=SIZE).images, 0.6)  # lost high frequencies
    before = spectral_distance(fakes, reals)
    half = spectral_distance(spectral_match(fakes, reals, 0.5), reals)
    full = spectral_distance(spectral_match(fakes, reals, 1.0), reals)
    assert full < half < before and full < 0.5 * before
    assert spectral_match(fakes, reals, 0.0) is fakes
    with pytest.raises(ValueError, match=r"strength must lie in \[0, 1\]"):
        spectral_match(fakes, reals, 1.5)


@pytest.mark.parametrize("mode", ["whitebox", "blackbox"])
def test_guided_evasion_lowers_the_surrogate_within_budget(mode):
    images = faces(6, seed=3, size=SIZE).images
    mask = torch.zeros(6, 1, SIZE, SIZE)
    mask[..., 6:26, 6:26] = 1
    score = score_fn(surrogate())
    budget = 0.02
    out = guided_perturbation(
        images, score, budget, 6, mask, mode=mode, generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        before, after = score(images), score(out)
    assert bool((after <= before).all()) and float(after.mean()) < float(before.mean()) - 0.01
    assert float((out - images).abs().max()) <= budget + 1e-6
    assert float((out - images)[(mask == 0).expand_as(images)].abs().max()) == 0  # only inside the mask


def test_whitebox_needs_gradients_and_genes_switch_it_on():
    images = faces(2, seed=4, size=SIZE).images
    net = surrogate()
    no_grad = lambda x: score_fn(net)(x).detach()  # noqa: E731
    with pytest.raises(ValueError, match="differentiable surrogate"):
        guided_perturbation(images, no_grad, 0.01, 2, torch.ones(2, 1, SIZE, SIZE))
    # Through a family: the evasion gene with a surrogate lowers P(fake); without one it is a no-op.
    source, target = faces(4, seed=5, size=SIZE), faces(4, seed=6, size=SIZE)
    base = dict(default_genome(gene_space("blend")).genes)
    on = Genome("blend", {**base, "evasion": "whitebox", "evasion_budget": 0.03, "evasion_steps": 5})
    blend = get_family("blend")
    plain = blend.make(source, target, Genome("blend", base), torch.Generator()).images
    assert torch.equal(blend.make(source, target, on, torch.Generator()).images, plain)
    evaded = blend.make(source, target, on, torch.Generator(), surrogate=score_fn(net)).images
    with torch.no_grad():
        assert float(score_fn(net)(evaded).mean()) < float(score_fn(net)(plain).mean())


@pytest.mark.parametrize("mode", ["whitebox", "blackbox"])
def test_the_fake_is_what_the_surrogate_was_shown_of_the_best_iterate(mode):
    """evade_and_post returns the best iterate's post-processed image as its scoring made it:
    exactly what post-processing the best iterate again would give (noise, blur, JPEG)."""
    from deepfake_arena.generators.evasion import evade_and_post
    from deepfake_arena.generators.stages import apply_post, sample_post

    images = faces(5, seed=7, size=SIZE).images
    mask = torch.zeros(5, 1, SIZE, SIZE)
    mask[..., 4:28, 4:28] = 1
    genes = {
        **default_genome(gene_space("blend")).genes,
        **{"evasion": mode, "evasion_budget": 0.03, "evasion_steps": 3, "blur_sigma": 0.6, "sharpen": 0.4},
        **{"noise_std": 0.02, "resize": 0.75, "jpeg": "on", "jpeg_quality": 60},
    }
    score = score_fn(surrogate())
    fake = evade_and_post(images, images, mask, genes, torch.Generator().manual_seed(1), score)
    gen = torch.Generator().manual_seed(1)  # the same draws: the noise first, then the evasion's
    noise = sample_post(images, genes, gen)
    post = lambda x: apply_post(x, genes, noise)  # noqa: E731
    best = guided_perturbation(images, score, 0.03, 3, mask, mode=mode, transform=post, generator=gen)
    assert torch.equal(fake, post(best).clamp(0, 1))
    assert not torch.equal(best, images)  # the evasion moved some fakes


@pytest.fixture(scope="module")
def extractor():
    """A landmark regressor trained for a few seconds on the cartoon faces."""
    from deepfake_arena.detectors.landmarker import train_landmarker

    train = faces(96, seed=11, size=SIZE)
    return train_landmarker(
        train.images, train.landmarks, torch.Generator().manual_seed(0), steps=150, batch_size=32, width=8
    )


@pytest.mark.parametrize("mode", ["whitebox", "blackbox"])
def test_extractor_attack_moves_the_landmarks_within_budget(extractor, mode):
    from deepfake_arena.generators.evasion import landmark_displacement

    target = faces(8, seed=12, size=SIZE)
    objective = landmark_displacement(extractor, target.landmarks)
    budget = 0.03
    out = guided_perturbation(
        target.images, objective, budget, 6, torch.ones(8, 1, SIZE, SIZE), mode=mode,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    with torch.no_grad():
        before, after = -objective(target.images), -objective(out)  # error in eye distances
    assert bool((after >= before).all())
    gain = 3.0 if mode == "whitebox" else 1.3  # score-only search is far weaker (about 1.6x here)
    assert float(after.mean()) > gain * float(before.mean()), (float(before.mean()), float(after.mean()))
    assert float((out - target.images).abs().max()) <= budget + 1e-6


def test_extractor_attack_gene_needs_an_extractor_and_is_bounded(extractor):
    source, target = faces(4, seed=13, size=SIZE), faces(4, seed=14, size=SIZE)
    base = dict(default_genome(gene_space("blend")).genes)
    genes = {**base, "extractor_attack": "whitebox", "extractor_budget": 0.02, "extractor_steps": 4}
    on = Genome("blend", genes)
    blend = get_family("blend")
    plain = blend.make(source, target, Genome("blend", base), torch.Generator()).images
    assert torch.equal(blend.make(source, target, on, torch.Generator()).images, plain)  # no extractor: no-op
    attacked = blend.make(source, target, on, torch.Generator(), extractor=extractor).images
    with torch.no_grad():
        moved = lambda x: (extractor(x) - target.landmarks).norm(dim=-1).mean()  # noqa: E731
        assert float(moved(attacked)) > 1.5 * float(moved(plain))
    # The whole frame may change (the extractor looks at all of it), by at most the budget
    # before post-processing; the default genome's post-processing is the identity.
    assert 0 < float((attacked - plain).abs().max()) <= 0.02 + 1e-6
    assert "whitebox extractor attack" in describe(on)


def test_after_evasion_and_an_extractor_attack_the_fake_is_the_last_attacks_shown_image(extractor):
    """Both guided operators in a row: the fake is the post-processed best iterate of the second,
    as post-processing it again would make it."""
    from deepfake_arena.generators.evasion import evade_and_post, landmark_displacement
    from deepfake_arena.generators.stages import apply_post, sample_post

    target = faces(4, seed=15, size=SIZE)
    mask = torch.ones(4, 1, SIZE, SIZE)
    genes = {
        **default_genome(gene_space("blend")).genes,
        **{"evasion": "blackbox", "evasion_budget": 0.02, "evasion_steps": 2, "noise_std": 0.02},
        **{"extractor_attack": "whitebox", "extractor_budget": 0.02, "extractor_steps": 2, "jpeg": "on"},
    }
    score = score_fn(surrogate())
    images = target.images
    fake = evade_and_post(
        images, images, mask, genes, torch.Generator().manual_seed(2), score, extractor, target.landmarks
    )
    gen = torch.Generator().manual_seed(2)
    noise = sample_post(images, genes, gen)
    post = lambda x: apply_post(x, genes, noise)  # noqa: E731
    evaded = guided_perturbation(images, score, 0.02, 2, mask, mode="blackbox", transform=post, generator=gen)
    objective = landmark_displacement(extractor, target.landmarks)
    attacked = guided_perturbation(evaded, objective, 0.02, 2, mask, mode="whitebox", transform=post)
    assert torch.equal(fake, post(attacked).clamp(0, 1))
    assert not torch.equal(attacked, evaded)


def test_passes_per_fake_counts_every_query_of_the_guided_operators():
    from deepfake_arena.generators.evasion import ES_PAIRS, passes_per_fake

    genes = {"evasion": "blackbox", "evasion_steps": 3, "extractor_attack": "whitebox", "extractor_steps": 2}
    assert passes_per_fake(genes, surrogate=False, extractor=False) == 1
    assert passes_per_fake(genes, surrogate=True, extractor=False) == 1 + 1 + 3 * (2 * ES_PAIRS + 1)
    assert passes_per_fake(genes, surrogate=False, extractor=True) == 1 + 1 + 2 * 3
    assert passes_per_fake({"evasion": "off", "evasion_steps": 6}, surrogate=True, extractor=True) == 1


@pytest.mark.parametrize("mode, steps", [("whitebox", 3), ("blackbox", 2)])
def test_each_query_is_made_once(mode, steps):
    """White-box: the gradient's forward scores each iterate, so steps forwards + the last
    iterate's; black-box: the start, then 2 * ES_PAIRS probes and the new iterate per step."""
    from deepfake_arena.generators.evasion import ES_PAIRS

    calls = []
    weight = torch.linspace(-1, 1, 3 * 8 * 8).view(1, 3, 8, 8) / 10

    def score(x):
        calls.append(x.shape[0])
        return torch.sigmoid((x * weight).sum((1, 2, 3)))

    images = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    out = guided_perturbation(
        images, score, 0.02, steps, torch.ones(5, 1, 8, 8), mode=mode, generator=torch.Generator()
    )
    expected = steps + 1 if mode == "whitebox" else 1 + steps * (2 * ES_PAIRS + 1)
    assert calls == [5] * expected
    assert score(out).le(score(images)).all() and score(out).mean() < score(images).mean()
