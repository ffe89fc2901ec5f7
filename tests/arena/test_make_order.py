"""The loop submits its make tasks longest first (rounds.generator_side.make_cost, longest_first),
one per split of a strain (make_tasks, merge_made), and the split-up does not change the fakes."""

from __future__ import annotations

import numpy as np
import torch

from deepfake_arena.generators.population import initial_population
from deepfake_arena.rounds import tasks as work
from deepfake_arena.rounds.generator_side import longest_first, make_cost, make_tasks, merge_made
from deepfake_arena.spec import GeneratorTrainSpec, IdentityCounts, WorldSpec


def _strain(evasion: str = "off", steps: int = 3) -> dict:
    return {"genome": {"family": "blend", "genes": {"evasion": evasion, "evasion_steps": steps}}}


def test_an_evading_strain_costs_more_only_when_it_has_something_to_query():
    counts = {"train": 40, "eval": 20}
    plain = make_cost(_strain(), counts, {"surrogate": None})
    assert plain == 60
    assert make_cost(_strain("blackbox"), counts, {"surrogate": None}) == plain
    assert make_cost(_strain("blackbox"), counts, {"surrogate": ["deployed"]}) > 10 * plain
    assert make_cost(_strain("whitebox"), counts, {"surrogate": ["deployed"]}) > 5 * plain


def test_training_in_the_task_counts_its_steps():
    train = GeneratorTrainSpec(steps=100, finetune_steps=10, batch_size=8)
    counts = {"eval": 10}
    assert make_cost(_strain(), counts, {"train": train, "weights": None}) == 10 + 3 * 100 * 8
    warm = {"train": train, "weights": None, "parent_weights": {"tensors": {}}}
    assert make_cost(_strain(), counts, warm) == 10 + 3 * 10 * 8
    assert make_cost(_strain(), counts, {"train": train, "weights": {"tensors": {}}}) == 10


def test_longest_first_is_stable():
    assert longest_first([1.0, 5.0, 1.0, 9.0, 5.0]) == [3, 1, 4, 0, 2]
    assert longest_first([]) == []


def test_each_split_is_a_task_unless_the_task_trains_weights():
    train = GeneratorTrainSpec(steps=100, finetune_steps=10, batch_size=8)
    counts = {"train": 40, "eval": 20}
    jobs = [
        (_strain(), counts, {"surrogate": None}),
        (_strain(), counts, {"train": train, "weights": None}),  # trains: one task, all splits
        (_strain(), counts, {"train": train, "weights": {"tensors": {}}}),
        (_strain(), {"vault": 12}, {"surrogate": None}),
    ]
    assert make_tasks(jobs) == [
        (0, {"train": 40}),
        (0, {"eval": 20}),
        (1, {"train": 40, "eval": 20}),
        (2, {"train": 40}),
        (2, {"eval": 20}),
        (3, {"vault": 12}),
    ]


def test_merge_made_adds_the_seconds_and_keeps_the_trained_weights():
    train_part = {"weights": None, "train": np.zeros(2), "seconds": 1.5, "query_seconds": 0.5}
    eval_part = {"weights": {"tensors": 1}, "eval": np.ones(1), "quality": 0.9, "seconds": 2.0}
    merged = merge_made([train_part, eval_part])
    assert merged["weights"] == {"tensors": 1}
    assert merged["seconds"] == 3.5 and merged["query_seconds"] == 0.5
    assert merged["quality"] == 0.9 and merged["train"].shape == (2,) and merged["eval"].shape == (1,)
    assert merge_made([eval_part, train_part])["weights"] == {"tensors": 1}  # whichever order


def test_a_strain_made_split_by_split_makes_the_same_fakes_as_in_one_task():
    world = WorldSpec(resolution=32, identities=IdentityCounts(train=4, eval=3, vault=0))
    strain = initial_population(["blend"], 2, torch.Generator().manual_seed(3))[1].to_dict()
    # Post-processing that draws from the make stream (noise) and a JPEG on top.
    strain["genome"]["genes"].update({"noise_std": 0.02, "jpeg": "on", "jpeg_quality": 70})
    whole = work.make_fakes(world, 5, 2, strain, {"train": 6, "eval": 4}, 1, "cpu")
    parts = [
        work.make_fakes(world, 5, 2, strain, {split: n}, 1, "cpu") for split, n in (("train", 6), ("eval", 4))
    ]
    assert "quality" not in parts[0]  # quality is measured on the eval fakes only
    merged = merge_made(parts)
    for key in ("train", "eval", "targets", "shown", "ssim", "psnr"):
        np.testing.assert_array_equal(merged[key], whole[key])
    assert merged["quality"] == whole["quality"] and merged["spectral"] == whole["spectral"]
    assert not np.array_equal(whole["train"][:4], whole["eval"])  # the splits are different fakes
