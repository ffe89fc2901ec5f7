"""MesoInception-4 (Afchar et al., "MesoNet: a Compact Facial Video Forgery Detection Network", 2018).

MesoNet-4 with its first two conv blocks replaced by inception modules whose branches look at
several scales at once (1x1, 3x3, and 3x3 dilated by 2 and 3); ~28k parameters, a CPU baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from deepfake_arena.detectors.meso import meso_head
from deepfake_arena.detectors.registry import DETECTORS


@dataclass(frozen=True)
class MesoInception4Config:
    """MesoInception-4 settings.

    Attributes:
        dropout: drop probability before each fully connected layer (paper: 0.5).
        input_mean, input_scale: the network sees ``(x - input_mean) / input_scale`` ([0, 1] -> [-1, 1]).
    """

    dropout: float = 0.5
    input_mean: float = 0.5
    input_scale: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.input_scale <= 0.0:
            raise ValueError(f"input_scale must be > 0, got {self.input_scale}")


class _Inception(nn.Module):
    """Four parallel branches (1x1; 1x1->3x3; 1x1->3x3 dil 2; 1x1->3x3 dil 3), concatenated, BN,
    2x2 max-pool, as in the paper's ``InceptionLayer``.

    Shape: (B, c_in, H, W) -> (B, a + b + c + d, H / 2, W / 2).
    """

    def __init__(self, c_in: int, a: int, b: int, c: int, d: int) -> None:
        super().__init__()

        def branch(c_out: int, dilation: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 1),
                nn.ReLU(inplace=True),
                nn.Conv2d(c_out, c_out, 3, padding=dilation, dilation=dilation),
                nn.ReLU(inplace=True),
            )

        self.b1 = nn.Sequential(nn.Conv2d(c_in, a, 1), nn.ReLU(inplace=True))
        self.b2, self.b3, self.b4 = branch(b, 1), branch(c, 2), branch(d, 3)
        self.post = nn.Sequential(nn.BatchNorm2d(a + b + c + d), nn.MaxPool2d(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post(torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1))


def _conv_block(c_in: int, c_out: int, pool: nn.Module) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 5, padding=2), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True), pool
    )


@DETECTORS.register("mesoinception4")
class MesoInception4(nn.Module):
    """Inception(3 -> 1+4+4+2), Inception(11 -> 2+4+4+2), conv 12->16 5x5, conv 16->16 5x5, each
    followed by BN and max-pool, then dropout, FC 1024->16, LeakyReLU(0.1), dropout, FC 16->1.

    As in ``meso4`` the last pool is an adaptive max pool to 8 x 8 (the paper's 4x4 pool at 256 px),
    so the parameter count does not depend on the input size.

    Shape:
        x: (B, 3, H, W) float in [0, 1], H, W >= 32. returns: (B,) logits.
    """

    config_class: ClassVar[type[MesoInception4Config]] = MesoInception4Config
    min_size: ClassVar[int] = 32

    def __init__(self, config: MesoInception4Config | None = None) -> None:
        super().__init__()
        self.config = config or MesoInception4Config()
        self.features = nn.Sequential(
            _Inception(3, 1, 4, 4, 2),
            _Inception(11, 2, 4, 4, 2),
            _conv_block(12, 16, nn.MaxPool2d(2)),
            _conv_block(16, 16, nn.AdaptiveMaxPool2d(8)),
        )
        self.head = meso_head(self.config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] < self.min_size or x.shape[-2] < self.min_size:
            raise ValueError(
                f"mesoinception4 needs inputs of at least {self.min_size} px, got {tuple(x.shape)}"
            )
        x = (x - self.config.input_mean) / self.config.input_scale
        return self.head(self.features(x)).squeeze(-1)
