"""The drifting capture conditions: a deterministic random walk, applied alike to reals and fakes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deepfake_arena.rounds import tasks as work
from deepfake_arena.spec import IdentityCounts, WorldSpec
from deepfake_arena.world.capture import GAIN_PER_UNIT, Capture, apply_capture, capture_of_round


def test_round_one_and_zero_drift_are_the_identity() -> None:
    assert capture_of_round(3, 1, 0.8).is_identity
    assert all(capture_of_round(3, r, 0.0).is_identity for r in range(1, 6))
    assert not capture_of_round(3, 2, 0.8).is_identity


def test_a_round_capture_is_reproducible_and_seed_specific() -> None:
    assert capture_of_round(5, 4, 0.5) == capture_of_round(5, 4, 0.5)
    assert capture_of_round(5, 4, 0.5) != capture_of_round(6, 4, 0.5)


def test_the_walk_spreads_like_a_random_walk() -> None:
    """After r - 1 steps of std `drift`, log(red gain) / GAIN_PER_UNIT has std drift * sqrt(r - 1);
    and consecutive rounds differ by one step, not by a fresh draw."""
    drift, r = 0.5, 5
    logs = np.array([math.log(capture_of_round(s, r, drift).red_gain) / GAIN_PER_UNIT for s in range(400)])
    assert logs.std() == pytest.approx(drift * math.sqrt(r - 1), rel=0.15)
    steps = np.array(
        [
            math.log(capture_of_round(s, r, drift).red_gain / capture_of_round(s, r - 1, drift).red_gain)
            / GAIN_PER_UNIT
            for s in range(400)
        ]
    )
    assert steps.std() == pytest.approx(drift, rel=0.15)


def test_apply_capture_moves_colour_tone_and_sharpness() -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(4, 3, 16, 16, generator=g) * 0.8 + 0.1
    assert torch.equal(apply_capture(images, Capture()), images)
    warm = apply_capture(images, Capture(red_gain=1.2, blue_gain=0.8))
    assert warm[:, 0].mean() > images[:, 0].mean() and warm[:, 2].mean() < images[:, 2].mean()
    assert torch.allclose(warm[:, 1], images[:, 1])
    darker = apply_capture(images, Capture(gamma=1.5))
    assert darker.mean() < images.mean()
    blurred = apply_capture(images, Capture(blur_sigma=1.0))
    assert blurred.diff(dim=-1).abs().mean() < 0.6 * images.diff(dim=-1).abs().mean()
    for out in (warm, darker, blurred):
        assert out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        apply_capture(images[:, :1], Capture(gamma=1.2))


def test_reals_of_a_round_pass_through_its_capture() -> None:
    """The same faces, drawn with and without drift: equal in round 1, different later."""
    fixed = WorldSpec(resolution=32, identities=IdentityCounts(train=4, eval=2, vault=0))
    drifting = fixed.model_copy(update={"capture_drift": 1.0})
    one = [work.make_reals(w, 0, 1, "train", 6, 1) for w in (fixed, drifting)]
    three = [work.make_reals(w, 0, 3, "train", 6, 1) for w in (fixed, drifting)]
    np.testing.assert_array_equal(one[0], one[1])
    assert np.abs(three[0].astype(int) - three[1].astype(int)).mean() > 2
    expected = apply_capture(torch.from_numpy(three[0]).float() / 255, capture_of_round(0, 3, 1.0))
    got = torch.from_numpy(three[1]).float() / 255
    # Up to uint8 rounding: of the input (half a level, scaled by the gains and gamma) and output.
    assert (got - expected).abs().max() <= 2 / 255
