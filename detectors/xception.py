"""Xception (Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", 2017), the
FaceForensics++ baseline detector (Rössler et al. 2019).

Depthwise-separable convolutions in residual entry, middle and exit flows. Width (a channel
multiplier over the paper's 32/64, 128/256/728, 728, 1024/1536/2048) and depth (middle blocks,
8 in the paper) come from the config: the default is a ~0.19M-parameter model that trains on a CPU
at 32-128 px; ``width: 1.0, middle_blocks: 8`` is the paper's network for a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from deepfake_arena.detectors.registry import DETECTORS

# The paper's channels: stem, entry-flow blocks, middle flow, exit block and exit convs.
_STEM, _ENTRY, _MIDDLE, _EXIT = (32, 64), (128, 256, 728), 728, (1024, 1536, 2048)


@dataclass(frozen=True)
class XceptionConfig:
    """Xception settings.

    Attributes:
        width: multiplier on the paper's channel counts (rounded to multiples of 8, at least 8).
        middle_blocks: residual blocks of three separable convs in the middle flow (paper: 8).
        dropout: before the final linear layer.
    """

    width: float = 0.125
    middle_blocks: int = 2
    dropout: float = 0.2

    def __post_init__(self) -> None:
        if not 0.0 < self.width <= 4.0:
            raise ValueError(f"width must be in (0, 4], got {self.width}")
        if not 0 <= self.middle_blocks <= 16:
            raise ValueError(f"middle_blocks must be in [0, 16], got {self.middle_blocks}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def channels(self, base: int) -> int:
        return max(8, int(round(base * self.width / 8)) * 8)


class SeparableConv(nn.Sequential):
    """Depthwise 3x3 then pointwise 1x1, no bias (BN follows). Shape: (B, c_in, H, W) -> (B, c_out, H, W)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )


class StridedPointwise(nn.Conv2d):
    """A 1x1 convolution with stride s, run as subsampling then a stride-1 1x1 convolution.

    The same output (a 1x1 kernel only reads the pixels the stride keeps); the same weights and
    state-dict keys as ``nn.Conv2d(c_in, c_out, 1, s)``. The stride is kept out of the conv
    because torch 2.13's oneDNN backward of strided 1x1 channels-last convs with few channels
    corrupts the heap on AVX-512 CPUs (a segfault training Xception at 128 px;
    tests/detectors/test_xception_skip.py).
    """

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__(c_in, c_out, 1, bias=False)
        self.step = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x[:, :, :: self.step, :: self.step])


class _Block(nn.Module):
    """``reps`` x (ReLU, SepConv, BN), then a stride-2 3x3 max-pool if ``stride == 2``; the skip is a
    strided 1x1 conv + BN when the shape changes, the identity otherwise.

    Shape: (B, c_in, H, W) -> (B, c_out, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, c_in: int, c_out: int, reps: int, stride: int, relu_first: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(reps):
            if i > 0 or relu_first:
                layers.append(nn.ReLU(inplace=False))
            layers += [SeparableConv(c_in if i == 0 else c_out, c_out), nn.BatchNorm2d(c_out)]
        if stride != 1:
            layers.append(nn.MaxPool2d(3, stride, padding=1))
        self.body = nn.Sequential(*layers)
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.skip = nn.Sequential(StridedPointwise(c_in, c_out, stride), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.skip(x)


@DETECTORS.register("xception")
class Xception(nn.Module):
    """Entry flow: conv 3x3 s2, conv 3x3, three residual blocks of two separable convs with stride 2.
    Middle flow: ``middle_blocks`` residual blocks of three separable convs. Exit flow: a residual
    block (two separable convs, stride 2), two separable convs with ReLU, global average pool,
    dropout, linear to one logit. Inputs are mapped from [0, 1] to [-1, 1] (ImageNet-style).

    Shape:
        x: (B, 3, H, W) float in [0, 1], H, W >= 32. returns: (B,) logits.
    """

    config_class: ClassVar[type[XceptionConfig]] = XceptionConfig
    min_size: ClassVar[int] = 32

    def __init__(self, config: XceptionConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or XceptionConfig()
        s0, s1 = (cfg.channels(c) for c in _STEM)
        e0, e1, e2 = (cfg.channels(c) for c in _ENTRY)
        m = cfg.channels(_MIDDLE)
        x0, x1, x2 = (cfg.channels(c) for c in _EXIT)
        self.entry = nn.Sequential(
            nn.Conv2d(3, s0, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(s0),
            nn.ReLU(inplace=True),
            nn.Conv2d(s0, s1, 3, padding=1, bias=False),
            nn.BatchNorm2d(s1),
            nn.ReLU(inplace=True),
            _Block(s1, e0, 2, 2, relu_first=False),
            _Block(e0, e1, 2, 2),
            _Block(e1, e2, 2, 2),
        )
        self.middle = nn.Sequential(*[_Block(m if i else e2, m, 3, 1) for i in range(cfg.middle_blocks)])
        c_mid = m if cfg.middle_blocks else e2
        self.exit = nn.Sequential(
            _Block(c_mid, x0, 2, 2),
            SeparableConv(x0, x1),
            nn.BatchNorm2d(x1),
            nn.ReLU(inplace=True),
            SeparableConv(x1, x2),
            nn.BatchNorm2d(x2),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(x2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] < self.min_size or x.shape[-2] < self.min_size:
            raise ValueError(f"xception needs inputs of at least {self.min_size} px, got {tuple(x.shape)}")
        x = x * 2.0 - 1.0
        return self.head(self.exit(self.middle(self.entry(x)))).squeeze(-1)
