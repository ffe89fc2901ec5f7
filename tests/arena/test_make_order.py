"""The loop submits its make tasks longest first (arena.generator_round.make_cost, longest_first)."""

from __future__ import annotations

from arena.generator_round import longest_first, make_cost
from arena.spec import GeneratorTrainSpec


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
