"""The training loop: reproducibility, balanced batches, early stopping that keeps the best weights."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from deepfake_arena.detectors.base import Detector
from deepfake_arena.detectors.training import TrainConfig, evaluate_loss, fit, split_train_val

SIZE = 32


def _data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    u8 = torch.randint(0, 256, (2 * n, 3, SIZE, SIZE), dtype=torch.uint8, generator=g)
    return u8[:n], u8[n:]


def _fit_state(seed: int, config: TrainConfig) -> dict[str, torch.Tensor]:
    reals, fakes = _data(16, seed=0)
    detector = Detector("meso4", seed=0)
    detector.fit(reals, fakes, config, seed=seed)
    return detector.state_dict()


def test_same_seed_gives_bit_identical_weights_and_other_seeds_differ():
    config = TrainConfig(steps=4, batch_size=8, augment=True, val_fraction=0.25, eval_every=2)
    a, b, c = _fit_state(1, config), _fit_state(1, config), _fit_state(2, config)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_fit_leaves_the_global_rng_alone():
    rng = torch.get_rng_state()
    _fit_state(0, TrainConfig(steps=2, batch_size=4))
    assert torch.equal(torch.get_rng_state(), rng)


class _Recorder(nn.Module):
    """Logit = mean pixel minus a learnt bias; remembers every training batch."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(()))
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.seen.append(x.detach().clone())
        return x.mean(dim=(1, 2, 3)) - self.bias


def test_batches_are_half_real_half_fake_and_converted_to_unit_range():
    reals = torch.zeros(5, 3, 8, 8, dtype=torch.uint8)
    fakes = torch.full((9, 3, 8, 8), 255, dtype=torch.uint8)
    model = _Recorder()
    fit(model, reals, fakes, TrainConfig(steps=3, batch_size=6, augment=False), seed=0)
    assert len(model.seen) == 3
    for x in model.seen:
        assert x.shape == (6, 3, 8, 8) and x.dtype == torch.float32
        assert torch.equal(x[:3], torch.zeros(3, 3, 8, 8)) and torch.equal(x[3:], torch.ones(3, 3, 8, 8))


def test_augmentation_stays_in_range_and_flips_some_images():
    ramp = torch.arange(32, dtype=torch.uint8).mul(8).expand(16, 3, 32, 32).contiguous()
    model = _Recorder()
    fit(model, ramp, ramp, TrainConfig(steps=2, batch_size=16, augment=True, jitter=0.05), seed=0)
    x = torch.cat(model.seen)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    slope = x[:, 0, 0, -1] - x[:, 0, 0, 0]
    assert bool((slope > 0).any()) and bool((slope < 0).any())


def test_early_stopping_stops_and_keeps_the_best_validation_weights():
    reals, fakes = _data(16, seed=3)  # same distribution: nothing to learn, val loss stalls
    config = TrainConfig(steps=200, batch_size=8, lr=3e-2, val_fraction=0.25, eval_every=2, patience=2)
    detector = Detector("meso4", seed=0)
    report = detector.fit(reals, fakes, config, seed=5)
    assert report.stopped_early and report.steps_run < config.steps
    assert report.best_val_loss is not None
    # The split is the first draw from the fit's generator (reals, then fakes): rebuild it.
    g = torch.Generator().manual_seed(5)
    _, real_val = split_train_val(16, 0.25, g)
    _, fake_val = split_train_val(16, 0.25, g)
    kept = evaluate_loss(
        detector.network,
        reals[real_val],
        fakes[fake_val],
        detector.device,
        channels_last=detector.channels_last,
    )
    assert kept == pytest.approx(report.best_val_loss, abs=1e-6)


def test_without_validation_the_full_budget_runs():
    reals, fakes = _data(8, seed=0)
    report = Detector("meso4").fit(reals, fakes, TrainConfig(steps=3, batch_size=4, patience=1), seed=0)
    assert report.steps_run == 3 and not report.stopped_early and report.best_val_loss is None
    assert report.final_loss > 0 and report.seconds > 0


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"batch_size": 7}, "batch_size"),
        ({"steps": 0}, "steps"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"eval_every": 0}, "eval_every"),
    ],
)
def test_bad_train_config_is_rejected(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(TrainConfig(), **change)


def test_fit_rejects_bad_data():
    reals, fakes = _data(4, seed=0)
    detector = Detector("meso4")
    config = TrainConfig(steps=1, batch_size=2)
    with pytest.raises(TypeError, match="uint8"):
        detector.fit(reals.float() / 255, fakes, config, seed=0)
    with pytest.raises(ValueError, match="differ in size"):
        detector.fit(reals, fakes[..., :16, :16], config, seed=0)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        detector.fit(reals[:0], fakes, config, seed=0)


def test_each_fit_keeps_its_training_curve():
    """One point per eval_every steps and the last one: the mean training loss since the last
    point and, with validation, the validation loss there (issue 27: training.json kept only the
    final loss)."""
    reals, fakes = _data(16, seed=3)
    config = TrainConfig(steps=7, batch_size=8, val_fraction=0.25, eval_every=3, patience=0)
    report = Detector("meso4", seed=0).fit(reals, fakes, config, seed=5)
    assert [p["step"] for p in report.curve] == [3, 6, 7]
    assert all(p["loss"] > 0 and p["val_loss"] > 0 for p in report.curve)
    assert min(p["val_loss"] for p in report.curve) == pytest.approx(report.best_val_loss)
    plain = Detector("meso4").fit(reals, fakes, TrainConfig(steps=4, batch_size=4, eval_every=2), seed=0)
    assert [p["step"] for p in plain.curve] == [2, 4] and all("val_loss" not in p for p in plain.curve)
    assert plain.curve[-1]["loss"] == pytest.approx(plain.final_loss, rel=1e-6)  # same window here
    assert dataclasses.asdict(plain)["curve"] == plain.curve  # what training.json keeps
