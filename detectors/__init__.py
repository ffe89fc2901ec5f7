"""Detectors: trainable classifiers giving P(fake) for a batch of face crops.

Importing the package registers every architecture in :data:`DETECTORS` and every retraining
strategy in :data:`STRATEGIES`; each architecture lives in its own module (one file, one model).
"""

from detectors import meso  # noqa: F401  (registers "meso4")
from detectors.base import Detector
from detectors.registry import DETECTORS
from detectors.strategies import STRATEGIES, retrain
from detectors.training import FitReport, TrainConfig

__all__ = ["DETECTORS", "STRATEGIES", "Detector", "FitReport", "TrainConfig", "retrain"]
