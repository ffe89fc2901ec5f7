"""A detector's training settings and its strategy's options, defined once: the training loop and
the strategies read them, the run spec embeds them. Torch-free, so validating a spec does not
import torch."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class TrainConfig:
    """The budget and settings of one retraining call. The spec's `scratch` and `finetune` are this
    type, so every value a spec accepts is one the training accepts, checked before Ray starts.

    Attributes:
        steps: optimiser steps (the round's budget; a fresh AdamW each call).
        batch_size: images per step, half real and half fake (must be even).
        lr, weight_decay: AdamW settings.
        augment: random horizontal flip, brightness/contrast/saturation jitter, and on some
            images a Gaussian blur or a JPEG round trip (kornia), the degradations fakes meet
            when they are shared.
        val_fraction: share of each class held out for validation; 0 disables validation
            and early stopping.
        eval_every: steps between validation passes.
        patience: validation passes without a new best loss before stopping; 0 never stops early.
            With validation on, the best-val-loss weights are kept whether or not it stopped early.
        jitter: maximum brightness shift (additive) and contrast change (multiplicative, 1 +- jitter).
        saturation: maximum saturation change (multiplicative, 1 +- saturation).
        blur_prob, blur_sigma: share of images blurred, with sigma uniform in (0, blur_sigma] px.
        jpeg_prob, jpeg_quality: share of images JPEG-compressed, quality uniform in [jpeg_quality, 95].
    """

    steps: int = Field(default=300, ge=1, le=10_000_000)
    batch_size: int = Field(default=32, ge=2, le=65_536, multiple_of=2, description="half real, half fake")
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    augment: bool = True
    val_fraction: float = Field(default=0.0, ge=0.0, lt=0.5, description="held out per class; 0: none")
    eval_every: int = Field(default=25, ge=1)
    patience: int = Field(default=4, ge=0, description="0 never stops early")
    jitter: float = Field(default=0.05, ge=0.0, lt=0.5, description="brightness/contrast augmentation")
    saturation: float = Field(default=0.1, ge=0.0, le=1.0, description="saturation augmentation")
    blur_prob: float = Field(default=0.1, ge=0.0, le=1.0, description="share of images blurred")
    blur_sigma: float = Field(default=1.0, gt=0.0, description="max blur sigma, px")
    jpeg_prob: float = Field(default=0.1, ge=0.0, le=1.0, description="share of images JPEG-compressed")
    jpeg_quality: int = Field(default=60, ge=1, le=95, description="lowest JPEG quality")


# A strategy's options, as the spec writes them (flat keys of a detector) and the strategy reads them.
ReplaySize = Annotated[int, Field(ge=1, le=1_000_000, description="replay: reservoir images per class")]
EnsembleK = Annotated[int, Field(ge=1, le=32, description="ensemble: versions averaged")]


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class StrategyOptions:
    """Strategy settings from the detector spec.

    Attributes:
        replay_size: reservoir capacity per class (reals and fakes each) for ``replay``.
        ensemble_k: versions averaged by ``ensemble`` (the newest and the k - 1 before it).
    """

    replay_size: ReplaySize = 256
    ensemble_k: EnsembleK = 3
