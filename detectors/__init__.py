"""Detectors: trainable classifiers giving P(fake) for a batch of face crops.

Each architecture lives in its own module (one file, one model) and registers itself in
:data:`DETECTORS`; the registry imports them at its first lookup, with any plugin's
(`deepfake_arena.registry`). Retraining strategies and training modes register in :data:`STRATEGIES` and
:data:`TRAININGS`. The names below are imported when first used, so `detectors.train_config` (what
a spec embeds) can be read without importing torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deepfake_arena.detectors.base import Detector
    from deepfake_arena.detectors.registry import DETECTORS
    from deepfake_arena.detectors.strategies import (
        STRATEGIES,
        TRAININGS,
        RetrainResult,
        retrain,
        score_version,
    )
    from deepfake_arena.detectors.train_config import StrategyOptions, TrainConfig
    from deepfake_arena.detectors.training import FitReport

_WHERE = {
    "DETECTORS": "deepfake_arena.detectors.registry",
    "Detector": "deepfake_arena.detectors.base",
    "STRATEGIES": "deepfake_arena.detectors.strategies",
    "TRAININGS": "deepfake_arena.detectors.strategies",
    "RetrainResult": "deepfake_arena.detectors.strategies",
    "StrategyOptions": "deepfake_arena.detectors.train_config",
    "retrain": "deepfake_arena.detectors.strategies",
    "score_version": "deepfake_arena.detectors.strategies",
    "TrainConfig": "deepfake_arena.detectors.train_config",
    "FitReport": "deepfake_arena.detectors.training",
}
__all__ = [
    "DETECTORS",
    "Detector",
    "FitReport",
    "RetrainResult",
    "STRATEGIES",
    "StrategyOptions",
    "TRAININGS",
    "TrainConfig",
    "retrain",
    "score_version",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'detectors' has no attribute {name!r}")
