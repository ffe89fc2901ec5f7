"""Retraining strategies: what a detector does with a round's training data.

Each strategy is a function registered by name in :data:`STRATEGIES`; the arena calls
:func:`retrain` once per detector per round and counts ``times_trained`` itself. Pure compute.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from arena.registry import Registry
from arena.seeding import derive_seed
from detectors.base import Detector
from detectors.training import FitReport, TrainConfig

Strategy = Callable[..., "FitReport | None"]
STRATEGIES: Registry[Strategy] = Registry("retraining strategy")


def _scratch_fit(
    detector: Detector, reals_u8, fakes_u8, round: int, config: TrainConfig, seed: int
) -> FitReport:
    detector.reset(derive_seed(seed, round, "detector-init"))
    return detector.fit(reals_u8, fakes_u8, config, seed=derive_seed(seed, round, "detector-fit"))


@STRATEGIES.register("scratch")
def _scratch(detector, reals_u8, fakes_u8, *, round, times_trained, scratch, finetune, seed) -> FitReport:
    """Forget everything: re-initialise from a round-derived seed and train with the scratch budget."""
    return _scratch_fit(detector, reals_u8, fakes_u8, round, scratch, seed)


@STRATEGIES.register("finetune")
def _finetune(detector, reals_u8, fakes_u8, *, round, times_trained, scratch, finetune, seed) -> FitReport:
    """Continue from the current weights with the finetune budget; the first training starts from
    the initial weights with the scratch budget (a fresh detector needs the full budget)."""
    config = scratch if times_trained == 0 else finetune
    return detector.fit(reals_u8, fakes_u8, config, seed=derive_seed(seed, round, "detector-fit"))


@STRATEGIES.register("frozen")
def _frozen(
    detector, reals_u8, fakes_u8, *, round, times_trained, scratch, finetune, seed
) -> FitReport | None:
    """Deployed once, never updated: train like ``scratch`` on the first call, then do nothing."""
    if times_trained > 0:
        return None
    return _scratch_fit(detector, reals_u8, fakes_u8, round, scratch, seed)


def retrain(
    strategy: str,
    detector: Detector,
    reals_u8: torch.Tensor,
    fakes_u8: torch.Tensor,
    *,
    round: int,
    times_trained: int,
    scratch: TrainConfig,
    finetune: TrainConfig,
    seed: int,
) -> FitReport | None:
    """Retrain ``detector`` in place on the round's uint8 reals and fakes by ``strategy``.

    Args:
        round: the arena round (seeds derive from ``(seed, round)``).
        times_trained: how many earlier calls trained this detector (0 on its first).
        scratch, finetune: the two step budgets; which applies depends on the strategy.
    Returns:
        The fit report, or None when the strategy did not train (``frozen`` after its first call).
    """
    if round < 0 or times_trained < 0:
        raise ValueError(f"round and times_trained must be >= 0, got {round}, {times_trained}")
    return STRATEGIES.get(strategy)(
        detector,
        reals_u8,
        fakes_u8,
        round=round,
        times_trained=times_trained,
        scratch=scratch,
        finetune=finetune,
        seed=seed,
    )
