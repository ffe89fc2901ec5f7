"""Detectors: trainable classifiers giving P(fake) for a batch of face crops.

Importing the package registers every architecture in :data:`DETECTORS`, every retraining
strategy in :data:`STRATEGIES` and every training mode in :data:`TRAININGS`; each architecture
lives in its own module (one file, one model).
"""

from detectors import (  # noqa: F401  (each registers its architecture)
    efficientnet,
    meso,
    mesoinception,
    mesonet_published,
    spectrum,
    xception,
)
from detectors.base import Detector
from detectors.registry import DETECTORS
from detectors.strategies import (
    STRATEGIES,
    TRAININGS,
    RetrainResult,
    StrategyOptions,
    retrain,
    score_version,
)
from detectors.training import FitReport, TrainConfig

__all__ = [
    "DETECTORS",
    "STRATEGIES",
    "TRAININGS",
    "Detector",
    "FitReport",
    "RetrainResult",
    "StrategyOptions",
    "TrainConfig",
    "retrain",
    "score_version",
]
