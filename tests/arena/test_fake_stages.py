"""A guided strain made in two tasks (deepfake_arena.rounds.fake_stages: the swap beside the retrain, the rest
once the detectors it queries exist) makes exactly the fakes of one make_fakes task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfake_arena.detectors import Detector
from deepfake_arena.generators.population import Strain, initial_population
from deepfake_arena.rounds import fake_stages
from deepfake_arena.rounds import tasks as work
from deepfake_arena.rounds.payloads import MadePart
from deepfake_arena.spec import DetectorSpec, GeneratorTrainSpec, IdentityCounts, WorldSpec

WORLD = WorldSpec(resolution=32, identities=IdentityCounts(train=4, eval=3, vault=0))


def _surrogate() -> list[tuple[DetectorSpec, dict[str, np.ndarray], dict[str, np.ndarray]]]:
    spec = DetectorSpec(name="meso", arch="meso4", strategy="finetune")
    net = Detector(spec.arch, {}, device="cpu", seed=4)
    return [(spec, {k: v.numpy() for k, v in net.state_dict().items()}, {})]


@pytest.mark.parametrize("evasion", ["blackbox", "whitebox"])
def test_swap_then_finish_makes_the_fakes_of_one_task(evasion):
    genes = initial_population(["blend"], 2, torch.Generator().manual_seed(3))[1].to_dict()
    # Draws from the make stream in the swap (jitter) and after it (noise, black-box directions).
    genes["genome"]["genes"].update(
        {"align_jitter": 1.0, "noise_std": 0.02, "jpeg": "on", "jpeg_quality": 70, "evasion": evasion}
    )
    strain = Strain.from_dict(genes)
    counts = {"train": 6, "eval": 4}
    surrogate = _surrogate()
    whole = work.make_fakes(WORLD, 5, 2, strain, counts, 1, "cpu", surrogate=surrogate)
    swapped = fake_stages.swap_faces(WORLD, 5, 2, strain, counts, 1, "cpu")
    staged = fake_stages.finish_fakes(swapped, WORLD, 5, 2, 1, "cpu", surrogate=surrogate)
    _same_fakes(staged, whole, measures=True)
    assert staged.query_seconds > 0 and staged.seconds > swapped.seconds > 0
    # The finish task's own wall-clock span (the loop apportions its make phase by it), not the swap's.
    for part, own in ((whole, whole.seconds), (staged, staged.seconds - swapped.seconds)):
        start, end = part.span
        assert end - start == pytest.approx(own, abs=0.05) and part.query_seconds <= end - start
    unguided = work.make_fakes(WORLD, 5, 2, strain, counts, 1, "cpu")
    assert not np.array_equal(unguided.fakes["train"], whole.fakes["train"]), "the evasion changed the fakes"


def _same_fakes(staged: MadePart, whole: MadePart, measures: bool) -> None:
    assert list(staged.fakes) == list(whole.fakes)
    for split in whole.fakes:
        np.testing.assert_array_equal(staged.fakes[split], whole.fakes[split])
    s, w = staged.measured, whole.measured
    assert s is not None and w is not None
    np.testing.assert_array_equal(s.ssim, w.ssim)
    np.testing.assert_array_equal(s.psnr, w.psnr)
    if measures:
        np.testing.assert_array_equal(s.targets, w.targets)
        np.testing.assert_array_equal(s.shown, w.shown)
        assert s.quality == w.quality and s.spectral == w.spectral


@pytest.mark.parametrize("family", ["autoencoder", "diffusion"])
def test_a_learning_strain_with_its_weights_makes_the_same_fakes_in_two_tasks(family):
    genes = initial_population([family], 1, torch.Generator().manual_seed(3))[0].to_dict()
    genes["genome"]["genes"].update({"noise_std": 0.02, "evasion": "blackbox", "evasion_steps": 1})
    strain = Strain.from_dict(genes)
    budget = GeneratorTrainSpec(steps=2, resolution=16, batch_size=4)
    # trained on the identities of both splits, as the loop trains a strain for all it makes
    trained = work.make_fakes(WORLD, 5, 1, strain, {"train": 1, "eval": 1}, 1, "cpu", train=budget).weights
    assert trained is not None
    counts, surrogate = {"train": 3, "eval": 2}, _surrogate()
    whole = work.make_fakes(WORLD, 5, 2, strain, counts, 1, "cpu", weights=trained, surrogate=surrogate)
    swapped = fake_stages.swap_faces(WORLD, 5, 2, strain, counts, 1, "cpu", weights=trained)
    staged = fake_stages.finish_fakes(swapped, WORLD, 5, 2, 1, "cpu", surrogate=surrogate)
    _same_fakes(staged, whole, measures=False)


def test_a_strain_that_trains_its_weights_is_made_in_one_task():
    strain = initial_population(["autoencoder"], 1, torch.Generator().manual_seed(3))[0]
    with pytest.raises(ValueError, match="trains its weights"):
        fake_stages.swap_faces(WORLD, 5, 2, strain, {"train": 2}, 1, "cpu")
