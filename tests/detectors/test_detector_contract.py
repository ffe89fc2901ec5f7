"""The contract every registered detector architecture must meet.

Parametrised over ``DETECTORS.names()``: registering a new architecture runs it through this suite
automatically, so a name cannot be added without passing it.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from safetensors.torch import load_file, save_file

from deepfake_arena.detectors.base import Detector
from deepfake_arena.detectors.registry import DETECTORS
from deepfake_arena.detectors.training import FitReport, TrainConfig
from deepfake_arena.faces import from_uint8
from tests.detectors.toy import toy, toy_auc

NAMES = DETECTORS.names()
SIZE = 32  # the smallest input every architecture must accept


def test_at_least_one_architecture_is_registered():
    assert "meso4" in NAMES


def _images(b: int, size: int = SIZE, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(params=NAMES)
def name(request) -> str:
    return request.param


@pytest.mark.parametrize("size", [SIZE, 48])
def test_score_shape_dtype_and_range(name, size):
    detector = Detector(name)
    assert detector.n_parameters > 0
    p = detector.score(_images(5, size))
    assert p.shape == (5,) and p.dtype == torch.float32 and p.device.type == "cpu"
    assert bool(((p >= 0) & (p <= 1)).all())


def test_score_is_independent_of_internal_batching_and_uint8_path_agrees(name):
    u8 = torch.randint(0, 256, (7, 3, SIZE, SIZE), dtype=torch.uint8)
    whole = Detector(name, seed=1, batch_size=256)
    chunked = Detector(name, seed=1, batch_size=3)
    expected = whole.score(from_uint8(u8))
    torch.testing.assert_close(chunked.score(from_uint8(u8)), expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(chunked.score_uint8(u8), expected, rtol=0, atol=1e-6)


def test_scoring_changes_no_state(name):
    detector = Detector(name)
    before = detector.state_dict()
    detector.score(_images(4))
    after = detector.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize(
    ("images", "error", "match"),
    [
        (torch.rand(2, SIZE, SIZE), ValueError, r"shape \(B, 3, H, W\)"),
        (torch.rand(2, 1, SIZE, SIZE), ValueError, r"shape \(B, 3, H, W\)"),
        (torch.rand(2, 3, SIZE, SIZE) * 255, ValueError, r"\[0, 1\]"),
        (torch.rand(2, 3, SIZE, SIZE) - 0.5, ValueError, r"\[0, 1\]"),
        (torch.full((2, 3, SIZE, SIZE), float("nan")), ValueError, "NaN"),
        (torch.zeros(2, 3, SIZE, SIZE, dtype=torch.uint8), TypeError, "floating point"),
        (torch.zeros(2, 3, SIZE, SIZE, dtype=torch.int64), TypeError, "floating point"),
        (torch.zeros(0, 3, SIZE, SIZE), ValueError, "empty"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(name, images, error, match):
    with pytest.raises(error, match=match):
        Detector(name).score(images)


def test_score_uint8_rejects_float(name):
    with pytest.raises(TypeError, match="uint8"):
        Detector(name).score_uint8(_images(2))


def test_state_round_trip_through_safetensors_gives_identical_scores(name, tmp_path):
    source = Detector(name, seed=3)
    u8 = torch.randint(0, 256, (16, 3, SIZE, SIZE), dtype=torch.uint8)
    source.fit(u8[:8], u8[8:], TrainConfig(steps=2, batch_size=4), seed=0)  # move BN stats too
    state = source.state_dict()
    assert all(t.device.type == "cpu" and t.is_contiguous() for t in state.values())
    save_file(state, tmp_path / "detector.safetensors")
    target = Detector(name, seed=4)
    images = _images(6)
    assert not torch.equal(target.score(images), source.score(images))
    target.load_state_dict(load_file(tmp_path / "detector.safetensors"))
    assert torch.equal(target.score(images), source.score(images))


def test_load_state_dict_is_strict_with_a_clear_message(name):
    detector = Detector(name)
    state = detector.state_dict()
    first = next(iter(state))
    with pytest.raises(ValueError, match=f"missing keys \\['{first}'\\]"):
        detector.load_state_dict({k: v for k, v in state.items() if k != first})
    with pytest.raises(ValueError, match="unexpected keys \\['extra'\\]"):
        detector.load_state_dict({**state, "extra": torch.zeros(1)})
    with pytest.raises(ValueError, match=f"mismatched \\['{first}"):
        detector.load_state_dict({**state, first: torch.zeros(1, 2, 3)})


def test_init_is_seeded_and_leaves_the_global_rng_alone(name):
    rng = torch.get_rng_state()
    a, b, c = Detector(name, seed=7), Detector(name, seed=7), Detector(name, seed=8)
    assert torch.equal(torch.get_rng_state(), rng)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_reset_equals_a_fresh_detector(name):
    detector = Detector(name, seed=1)
    u8 = torch.randint(0, 256, (8, 3, SIZE, SIZE), dtype=torch.uint8)
    detector.fit(u8[:4], u8[4:], TrainConfig(steps=2, batch_size=4), seed=0)
    detector.reset(5)
    fresh = Detector(name, seed=5).state_dict()
    assert all(torch.equal(v, fresh[k]) for k, v in detector.state_dict().items())


def test_fit_returns_a_report_and_changes_weights(name):
    detector = Detector(name)
    before = detector.state_dict()
    u8 = torch.randint(0, 256, (8, 3, SIZE, SIZE), dtype=torch.uint8)
    report = detector.fit(u8[:4], u8[4:], TrainConfig(steps=2, batch_size=4), seed=0)
    assert isinstance(report, FitReport) and report.steps_run == 2 and report.images_per_s > 0
    assert not all(torch.equal(v, before[k]) for k, v in detector.state_dict().items())


def test_learns_a_separable_toy_problem(name):
    """Reals vs reals with a pasted outline (a visible boundary): every architecture must beat
    AUC 0.9 on held-out images after a short fit (measured: 0.98-1.0 at 40 steps of 16)."""
    reals, fakes = toy(64, SIZE, seed=0)
    test_reals, test_fakes = toy(64, SIZE, seed=1)
    detector = Detector(name, seed=0)
    detector.fit(reals, fakes, TrainConfig(steps=40, batch_size=16, lr=1e-2), seed=0)
    assert toy_auc(detector.score_uint8(test_reals), detector.score_uint8(test_fakes)) > 0.9


def test_unknown_config_key_is_rejected(name):
    with pytest.raises(ValueError, match="unknown .* key 'no_such_key'; valid keys"):
        Detector(name, {"no_such_key": 1})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback on a machine without CUDA")
def test_cuda_request_falls_back_to_cpu_with_a_warning(name):
    with pytest.warns(UserWarning, match="CUDA is unavailable"):
        detector = Detector(name, device="cuda")
    assert detector.device.type == "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Detector(name, device="cpu").device.type == "cpu"


def test_unknown_architecture_lists_the_valid_names():
    with pytest.raises(KeyError, match="unknown detector architecture 'nope'; valid choices: .*meso4"):
        Detector("nope")
