"""Retraining strategies: frozen trains once, scratch forgets, finetune remembers."""

from __future__ import annotations

import pytest
import torch

from detectors.base import Detector
from detectors.strategies import STRATEGIES, retrain
from detectors.training import TrainConfig

SCRATCH = TrainConfig(steps=3, batch_size=8)
FINETUNE = TrainConfig(steps=2, batch_size=8)


def _data(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    u8 = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=g)
    return u8[:8], u8[8:]


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def _two_rounds(strategy: str, round1_data_seed: int) -> tuple[Detector, list]:
    detector = Detector("meso4", seed=0)
    reports = []
    for times_trained, data_seed in enumerate((round1_data_seed, 99)):
        reports.append(
            retrain(
                strategy,
                detector,
                *_data(data_seed),
                round=times_trained + 1,
                times_trained=times_trained,
                scratch=SCRATCH,
                finetune=FINETUNE,
                seed=11,
            )
        )
    return detector, reports


def test_the_registered_strategies():
    assert STRATEGIES.names() == ["finetune", "frozen", "scratch"]


def test_frozen_trains_once_then_never_changes():
    detector = Detector("meso4", seed=0)
    init = detector.state_dict()
    kwargs = {"scratch": SCRATCH, "finetune": FINETUNE, "seed": 11}
    first = retrain("frozen", detector, *_data(1), round=1, times_trained=0, **kwargs)
    assert first is not None and first.steps_run == SCRATCH.steps
    trained = detector.state_dict()
    assert not _equal(init, trained)
    for r in (2, 3):
        assert retrain("frozen", detector, *_data(r), round=r, times_trained=r - 1, **kwargs) is None
        assert _equal(trained, detector.state_dict())


def test_scratch_forgets_round_one():
    a, reports = _two_rounds("scratch", round1_data_seed=1)
    b, _ = _two_rounds("scratch", round1_data_seed=2)
    assert [r.steps_run for r in reports] == [SCRATCH.steps, SCRATCH.steps]
    assert _equal(a.state_dict(), b.state_dict())


def test_finetune_remembers_round_one():
    a, reports = _two_rounds("finetune", round1_data_seed=1)
    b, _ = _two_rounds("finetune", round1_data_seed=2)
    assert [r.steps_run for r in reports] == [SCRATCH.steps, FINETUNE.steps]
    assert not _equal(a.state_dict(), b.state_dict())


def test_strategies_are_reproducible():
    a, _ = _two_rounds("finetune", round1_data_seed=1)
    b, _ = _two_rounds("finetune", round1_data_seed=1)
    assert _equal(a.state_dict(), b.state_dict())


def test_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(
        KeyError, match="unknown retraining strategy 'replay'; valid choices: finetune, frozen"
    ):
        retrain(
            "replay",
            Detector("meso4"),
            *_data(0),
            round=1,
            times_trained=0,
            scratch=SCRATCH,
            finetune=FINETUNE,
            seed=0,
        )
