"""What crosses Ray in a round: typed records of numpy arrays, never dicts merged by key lists.

Each is a plain dataclass of numpy arrays and scalars, so it pickles cheaply (Ray's
serializer passes the arrays out of band) and a field's name and type say what a task returns.
The driver keeps them in memory only: what a round writes to disk (safetensors, JSON) is made
from them at the commit, in the formats the files always had.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from deepfake_arena.detectors.training import FitReport
    from deepfake_arena.spec import DetectorSpec

Weights = dict[str, np.ndarray]  # a state dict as numpy arrays
# The deployed detectors a guided strain queries: each one's spec, weights and scoring memory.
Surrogate = list[tuple["DetectorSpec", Weights, Weights]]


@dataclass(frozen=True)
class GeneratorWeights:
    """A learning strain's weights as a safetensors file holds them: tensors and string metadata."""

    tensors: Weights
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KeptWeights:
    """A strain's weights in the state, with the round whose folder holds their file."""

    round: int
    payload: GeneratorWeights


GenWeights = dict[str, KeptWeights]  # strain id -> its weights and the round whose folder holds them


@dataclass(frozen=True)
class Measured:
    """A strain's measures on the first split it is scored on (eval, else vault): the quality
    (`deepfake_arena.generators.quality.fake_quality`) and a few targets with the fakes made onto them.

    Shape: ssim, psnr: (n,) per fake; targets, shown: (4, 3, H, W) uint8 after the capture.
    """

    quality: float
    ssim: np.ndarray
    psnr: np.ndarray
    spectral: float
    targets: np.ndarray
    shown: np.ndarray


@dataclass(frozen=True)
class MadePart:
    """What one make task returns (`make_fakes`, `finish_fakes`): some of a strain's splits.

    `fakes` maps each split made to its uint8 fakes (n, 3, H, W) as the detectors get them;
    `measured` is set when the task made the strain's eval or vault split; `weights` when the
    task trained the strain's weights. `span` is the task's start and end (epoch seconds): the
    loop apportions its make phase by it.
    """

    fakes: dict[str, np.ndarray]
    measured: Measured | None
    weights: GeneratorWeights | None
    seconds: float
    query_seconds: float
    span: tuple[float, float]


@dataclass(frozen=True)
class SplitArrays:
    """One split's swap between the swap task and the finish task: the make generator as its state."""

    frames: np.ndarray
    masks: np.ndarray
    genome: Any  # deepfake_arena.generators.genome.Genome
    target_images: np.ndarray
    target_landmarks: np.ndarray
    generator_state: np.ndarray


@dataclass(frozen=True)
class SwappedPart:
    """What a swap task returns (`fake_stages.swap_faces`): each split's swap and its wall time."""

    splits: dict[str, SplitArrays]
    seconds: float


@dataclass(frozen=True)
class RetrainResult:
    """What a retrain task returns: the new weights (None when the strategy kept the old ones),
    the strategy's memory for the next round (optimiser, replay buffer, ensemble members) and
    its fit report (a `deepfake_arena.detectors.training.FitReport`; None when it did not train)."""

    weights: Weights | None
    memory: Weights
    report: FitReport | None
