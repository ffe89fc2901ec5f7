"""The loop submits its make tasks longest first (rounds.generator_side.make_cost, longest_first),
one per split of a strain (make_tasks, StrainFakes.merge), and the split-up does not change the fakes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfake_arena.generators.population import Strain, initial_population
from deepfake_arena.rounds import tasks as work
from deepfake_arena.rounds.generator_side import MakeInputs, MakeJob, longest_first, make_cost, make_tasks
from deepfake_arena.rounds.payloads import GeneratorWeights, MadePart, Measured
from deepfake_arena.rounds.records import StrainFakes
from deepfake_arena.spec import GeneratorTrainSpec, IdentityCounts, WorldSpec


def _strain(evasion: str = "off", steps: int = 3) -> dict:
    return {"genome": {"family": "blend", "genes": {"evasion": evasion, "evasion_steps": steps}}}


def test_an_evading_strain_costs_more_only_when_it_has_something_to_query():
    counts = {"train": 40, "eval": 20}
    plain = make_cost(_strain(), counts, MakeInputs())
    assert plain == 60
    assert make_cost(_strain("blackbox"), counts, MakeInputs()) == plain
    assert make_cost(_strain("blackbox"), counts, MakeInputs(surrogate=["deployed"])) > 10 * plain
    assert make_cost(_strain("whitebox"), counts, MakeInputs(surrogate=["deployed"])) > 5 * plain


def test_training_in_the_task_counts_its_steps():
    train = GeneratorTrainSpec(steps=100, finetune_steps=10, batch_size=8)
    counts = {"eval": 10}
    assert make_cost(_strain(), counts, MakeInputs(train=train)) == 10 + 3 * 100 * 8
    warm = MakeInputs(train=train, parent_weights=GeneratorWeights({}))
    assert make_cost(_strain(), counts, warm) == 10 + 3 * 10 * 8
    assert make_cost(_strain(), counts, MakeInputs(train=train, weights=GeneratorWeights({}))) == 10


def test_longest_first_is_stable():
    assert longest_first([1.0, 5.0, 1.0, 9.0, 5.0]) == [3, 1, 4, 0, 2]
    assert longest_first([]) == []


def test_each_split_is_a_task_unless_the_task_trains_weights():
    train = GeneratorTrainSpec(steps=100, finetune_steps=10, batch_size=8)
    counts = {"train": 40, "eval": 20}
    jobs = [
        MakeJob(_strain(), counts, MakeInputs()),
        MakeJob(_strain(), counts, MakeInputs(train=train)),  # trains: one task, all splits
        MakeJob(_strain(), counts, MakeInputs(train=train, weights=GeneratorWeights({}))),
        MakeJob(_strain(), {"vault": 12}, MakeInputs()),
    ]
    assert make_tasks(jobs) == [
        (0, {"train": 40}),
        (0, {"eval": 20}),
        (1, {"train": 40, "eval": 20}),
        (2, {"train": 40}),
        (2, {"eval": 20}),
        (3, {"vault": 12}),
    ]


def test_merging_a_strains_parts_adds_the_seconds_and_keeps_the_trained_weights_and_measures():
    weights = GeneratorWeights({"w": np.ones(3)}, {"family": "autoencoder"})
    measured = Measured(0.9, np.ones(1), np.ones(1), 0.1, np.zeros((1, 3, 2, 2)), np.ones((1, 3, 2, 2)))
    train_part = MadePart({"train": np.zeros(2)}, None, None, 1.5, 0.5, (0.0, 1.5))
    eval_part = MadePart({"eval": np.ones(1)}, measured, weights, 2.0, 0.0, (0.0, 2.0))
    merged = StrainFakes.merge([train_part, eval_part])
    assert merged.weights is weights and merged.measures is measured
    assert merged.seconds == 3.5 and merged.query_seconds == 0.5
    assert merged.fakes["train"].shape == (2,) and merged.fakes["eval"].shape == (1,)
    back = StrainFakes.merge([eval_part, train_part])  # whichever order
    assert back.weights is weights and back.measures is measured and list(back.fakes) == ["eval", "train"]
    with pytest.raises(ValueError, match="without an eval or vault split"):
        _ = StrainFakes.merge([train_part]).measures


def test_a_strain_made_split_by_split_makes_the_same_fakes_as_in_one_task():
    world = WorldSpec(resolution=32, identities=IdentityCounts(train=4, eval=3, vault=0))
    genes = initial_population(["blend"], 2, torch.Generator().manual_seed(3))[1].to_dict()
    # Post-processing that draws from the make stream (noise) and a JPEG on top.
    genes["genome"]["genes"].update({"noise_std": 0.02, "jpeg": "on", "jpeg_quality": 70})
    strain = Strain.from_dict(genes)  # validated, as the loop's tasks get it
    whole = work.make_fakes(world, 5, 2, strain, {"train": 6, "eval": 4}, 1, "cpu")
    parts = [
        work.make_fakes(world, 5, 2, strain, {split: n}, 1, "cpu") for split, n in (("train", 6), ("eval", 4))
    ]
    assert parts[0].measured is None  # quality is measured on the eval fakes only
    merged = StrainFakes.merge(parts)
    for split in ("train", "eval"):
        np.testing.assert_array_equal(merged.fakes[split], whole.fakes[split])
    m, w = merged.measures, whole.measured
    assert w is not None
    for got, want in ((m.targets, w.targets), (m.shown, w.shown), (m.ssim, w.ssim), (m.psnr, w.psnr)):
        np.testing.assert_array_equal(got, want)
    assert m.quality == w.quality and m.spectral == w.spectral
    assert not np.array_equal(whole.fakes["train"][:4], whole.fakes["eval"])  # different fakes
