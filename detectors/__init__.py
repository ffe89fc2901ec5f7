"""Detectors: trainable classifiers giving P(fake) for a batch of face crops.

Each architecture lives in its own module (one file, one model) and registers itself in
:data:`DETECTORS`; the registry imports them at its first lookup, with any plugin's
(`arena.registry`). Retraining strategies and training modes register in :data:`STRATEGIES` and
:data:`TRAININGS`. The names below are imported when first used, so `detectors.train_config` (what
a spec embeds) can be read without importing torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from detectors.base import Detector
    from detectors.registry import DETECTORS
    from detectors.strategies import (
        STRATEGIES,
        TRAININGS,
        RetrainResult,
        retrain,
        score_version,
    )
    from detectors.train_config import StrategyOptions, TrainConfig
    from detectors.training import FitReport

_WHERE = {
    "DETECTORS": "detectors.registry",
    "Detector": "detectors.base",
    "STRATEGIES": "detectors.strategies",
    "TRAININGS": "detectors.strategies",
    "RetrainResult": "detectors.strategies",
    "StrategyOptions": "detectors.train_config",
    "retrain": "detectors.strategies",
    "score_version": "detectors.strategies",
    "TrainConfig": "detectors.train_config",
    "FitReport": "detectors.training",
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
