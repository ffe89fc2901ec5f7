"""Against a fixed detector, selection on evasion x quality raises the population's evasion."""

import torch

import deepfake_arena.generators  # noqa: F401  (registers the families)
from deepfake_arena import face_ops
from deepfake_arena.generators.population import evolve, initial_population, next_id_start, strain_fitness
from deepfake_arena.generators.quality import fake_quality
from deepfake_arena.generators.registry import get_family
from tests.generators.test_blend import faces

SIZE = 32


def tone_detector(landmarks: torch.Tensor):
    """A fixed detector that learned one cue of the swaps it saw: the inner face's hue
    (red minus green) and its contrast. Differentiable, so white-box evasion can use it."""
    inner = face_ops.face_mask(landmarks, SIZE, "ellipse", 0.8)

    def score(x: torch.Tensor) -> torch.Tensor:
        area = inner.sum((2, 3))
        mean = (x * inner).sum((2, 3)) / area
        std = (((x - mean[..., None, None]) ** 2 * inner).sum((2, 3)) / area).sqrt().mean(1)
        return torch.sigmoid(25 * (mean[:, 0] - mean[:, 1] - 0.12) + 40 * (std - 0.1))

    return score


def _evasion_by_round(seed: int) -> list[float]:
    """Mean evasion of an 8-strain blend population over 6 rounds of selection (population `seed`)."""
    source, target = faces(6, seed=1, size=SIZE), faces(6, seed=2, size=SIZE)
    score = tone_detector(target.landmarks)
    g = torch.Generator().manual_seed(seed)
    pop = initial_population(["blend"], 8, g)
    means = []
    for r in range(1, 7):
        fitness, evasion = {}, []
        for s in pop:
            fake = get_family("blend").make(
                source, target, s.genome, torch.Generator().manual_seed(r), surrogate=score
            )
            q = fake_quality(fake.images, target.images, fake.masks)
            with torch.no_grad():
                fit = strain_fitness(
                    score(fake.images), q.ssim, q.psnr, q.spectral,
                    ssim_floor=0.5, psnr_floor=20.0, spectral_ceiling=1.0,
                )  # fmt: skip
            fitness[s.id] = fit.value
            evasion.append(fit.evasion)
        means.append(sum(evasion) / len(evasion))
        pop = evolve(
            pop, fitness, size=8, elite=2, rate=0.3, scale=0.2, crossover_prob=0.3, tournament=3,
            generator=g, next_round=r + 1, id_start=next_id_start(pop),
        )  # fmt: skip
    return means


def test_mean_evasion_rises_over_rounds():
    # Four populations, not one: a lucky random first round can start one population near its
    # ceiling (seed 0 starts at 0.84), so the gain is asserted for each and on average.
    runs = [_evasion_by_round(seed) for seed in range(4)]
    for means in runs:
        assert means[-1] > means[0], means
        assert max(means[3:]) > max(means[:2]), means
    gain = sum(m[-1] - m[0] for m in runs) / len(runs)
    assert gain > 0.04, runs
