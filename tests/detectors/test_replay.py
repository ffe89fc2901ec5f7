"""The replay reservoir: bounded, exactly algorithm R, and a fair (uniform) sample of the stream."""

from __future__ import annotations

import pytest
import torch

from deepfake_arena.detectors.replay import reservoir_update


def _stream(capacity: int, rounds: int, per_round: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    buffer, seen = None, 0
    for r in range(rounds):
        items = torch.arange(r * per_round, (r + 1) * per_round)
        buffer, seen = reservoir_update(buffer, seen, items, capacity, gen)
        assert buffer.shape[0] == min(seen, capacity)
        assert len(set(buffer.tolist())) == buffer.shape[0], "an item is kept at most once"
    return buffer


def test_fills_then_stays_at_capacity():
    gen = torch.Generator().manual_seed(0)
    buffer, seen = reservoir_update(None, 0, torch.arange(5), 8, gen)
    assert buffer.tolist() == [0, 1, 2, 3, 4] and seen == 5
    buffer, seen = reservoir_update(buffer, seen, torch.arange(5, 20), 8, gen)
    assert buffer.shape == (8,) and seen == 20


def test_matches_sequential_algorithm_r():
    """Same draws, one item at a time: the vectorised update must leave the same reservoir."""
    capacity, n = 7, 40
    draws = torch.rand(n, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    expected = list(range(capacity))
    for i in range(capacity, n):
        j = int(draws[i] * (i + 1))
        if j < capacity:
            expected[j] = i
    buffer, _ = reservoir_update(None, 0, torch.arange(n), capacity, torch.Generator().manual_seed(3))
    assert buffer.tolist() == expected


def test_is_a_fair_sample_of_every_round():
    """Over 300 seeded streams (10 rounds x 50 items, capacity 100), each round keeps 10% of the
    slots and each item is kept with probability 1/5: chi-square tests with p ~ 0.001 limits.
    Keeping the newest items instead (a FIFO) fails the same test by a wide margin."""
    trials, rounds, per_round, capacity = 300, 10, 50, 100
    counts = torch.zeros(rounds * per_round)
    for t in range(trials):
        counts[_stream(capacity, rounds, per_round, seed=t)] += 1
    expected_item = trials * capacity / (rounds * per_round)
    chi_item = float(((counts - expected_item) ** 2 / expected_item).sum())
    assert chi_item < 499 + 3.1 * (2 * 499) ** 0.5  # 499 dof
    per_round_counts = counts.view(rounds, per_round).sum(1)
    expected_round = trials * capacity / rounds
    chi_round = float(((per_round_counts - expected_round) ** 2 / expected_round).sum())
    assert chi_round < 27.9  # 9 dof, p = 0.001
    fifo = torch.zeros(rounds)
    fifo[-2:] = trials * capacity / 2
    assert float(((fifo - expected_round) ** 2 / expected_round).sum()) > 1000


def test_images_and_bad_input():
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    buffer, seen = reservoir_update(None, 0, images, 4, gen)
    assert buffer.shape == (4, 3, 8, 8) and buffer.dtype == torch.uint8
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        reservoir_update(None, 0, images, 0, gen)
    with pytest.raises(ValueError, match="must hold 4, holds 2"):
        reservoir_update(buffer[:2], seen, images, 4, gen)
    with pytest.raises(ValueError, match="do not match"):
        reservoir_update(buffer, seen, images[:, :, :4], 4, gen)
