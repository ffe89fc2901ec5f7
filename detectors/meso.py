"""MesoNet-4 (Afchar et al., "MesoNet: a Compact Facial Video Forgery Detection Network", 2018).

A deliberately small (~28k parameters) CNN that looks at mesoscopic image statistics; in the arena
it is the cheap baseline detector that trains in seconds on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from deepfake_arena.detectors.registry import DETECTORS


@dataclass(frozen=True)
class Meso4Config:
    """Meso4 settings.

    Attributes:
        dropout: drop probability before each of the two fully connected layers (paper: 0.5).
        input_mean, input_scale: the network sees ``(x - input_mean) / input_scale``; the defaults
            map [0, 1] to [-1, 1] so the first conv starts centred.
    """

    dropout: float = 0.5
    input_mean: float = 0.5
    input_scale: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.input_scale <= 0.0:
            raise ValueError(f"input_scale must be > 0, got {self.input_scale}")


def meso_head(dropout: float) -> nn.Sequential:
    """MesoNet's classifier on the 16 x 8 x 8 features, shared by meso4 and mesoinception4."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(16 * 8 * 8, 16),
        nn.LeakyReLU(0.1),
        nn.Dropout(dropout),
        nn.Linear(16, 1),
    )


def _block(c_in: int, c_out: int, kernel: int, pool: nn.Module) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        pool,
    )


@DETECTORS.register("meso4")
class Meso4(nn.Module):
    """MesoNet-4: four conv blocks (3->8 3x3, 8->8 5x5, 8->16 5x5, 16->16 5x5), each conv + BN +
    ReLU + max-pool, then dropout, FC 1024->16, LeakyReLU(0.1), dropout, FC 16->1.

    The paper pools the last block by 4, so at its 256-px input the flattened features are
    16 x 8 x 8 = 1024. Here the last pool is an adaptive max pool to 8 x 8: at 256 px it is exactly
    the paper's 4x4 pool (32 / 8 = 4), and at any other input size it still yields the same 1024
    features, so the parameter count (27,977) and the FC layer do not depend on the resolution.
    Below 64 px the last feature map is smaller than 8 x 8 and the adaptive pool repeats cells
    instead of pooling; the model still works, but inputs under 32 px (a 4 x 4 map) are rejected.
    The paper's Keras code orders each block conv -> ReLU -> BN; we use the usual conv -> BN -> ReLU,
    which has the same parameters.

    Shape:
        x: (B, 3, H, W) float in [0, 1], H, W >= 32.
        returns: (B,) logits; sigmoid gives P(fake).
    """

    config_class: ClassVar[type[Meso4Config]] = Meso4Config
    min_size: ClassVar[int] = 32

    def __init__(self, config: Meso4Config | None = None) -> None:
        super().__init__()
        self.config = config or Meso4Config()
        self.features = nn.Sequential(
            _block(3, 8, 3, nn.MaxPool2d(2)),
            _block(8, 8, 5, nn.MaxPool2d(2)),
            _block(8, 16, 5, nn.MaxPool2d(2)),
            _block(16, 16, 5, nn.AdaptiveMaxPool2d(8)),
        )
        self.head = meso_head(self.config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] < self.min_size or x.shape[-2] < self.min_size:
            raise ValueError(f"meso4 needs inputs of at least {self.min_size} px, got {tuple(x.shape)}")
        x = (x - self.config.input_mean) / self.config.input_scale
        return self.head(self.features(x)).squeeze(-1)
