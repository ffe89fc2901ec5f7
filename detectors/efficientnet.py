"""EfficientNet (Tan & Le, "EfficientNet: Rethinking Model Scaling for CNNs", 2019), the backbone
family of the Deepfake Detection Challenge winners, written on torch (timm is not usable here).

Mobile inverted-bottleneck (MBConv) blocks with squeeze-and-excitation, scaled by a width and a
depth multiplier over the B0 stage table. The default (width 0.25, depth 0.34) is a ~0.2M-parameter
model for a CPU at 32-128 px; ``width: 1.0, depth: 1.0`` is B0, ``1.1 / 1.2`` B2, and so on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from deepfake_arena.detectors.registry import DETECTORS

# B0 stages: (expansion, output channels, repeats, first stride, kernel).
_B0: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 16, 1, 1, 3),
    (6, 24, 2, 2, 3),
    (6, 40, 2, 2, 5),
    (6, 80, 3, 2, 3),
    (6, 112, 3, 1, 5),
    (6, 192, 4, 2, 5),
    (6, 320, 1, 1, 3),
)


@dataclass(frozen=True)
class EfficientNetConfig:
    """EfficientNet settings.

    Attributes:
        width: channel multiplier over B0 (channels rounded to multiples of 8, at least 8).
        depth: repeat multiplier over B0 (``ceil(repeats * depth)``, at least 1 per stage).
        stages: how many of B0's seven stages to use (fewer = a shallower net for tiny inputs).
        se_ratio: squeeze-excitation bottleneck as a share of the block's input channels.
        drop_path: stochastic-depth rate of the last block (linear from 0 over the blocks).
        dropout: before the final linear layer.
    """

    width: float = 0.25
    depth: float = 0.34
    stages: int = 7
    se_ratio: float = 0.25
    drop_path: float = 0.0
    dropout: float = 0.2

    def __post_init__(self) -> None:
        if not (0.0 < self.width <= 4.0 and 0.0 < self.depth <= 4.0):
            raise ValueError(f"width and depth must be in (0, 4], got {self.width}, {self.depth}")
        if not 1 <= self.stages <= len(_B0):
            raise ValueError(f"stages must be in [1, {len(_B0)}], got {self.stages}")
        if not 0.0 < self.se_ratio <= 1.0:
            raise ValueError(f"se_ratio must be in (0, 1], got {self.se_ratio}")
        if not (0.0 <= self.drop_path < 1.0 and 0.0 <= self.dropout < 1.0):
            raise ValueError(f"drop_path and dropout must be in [0, 1), got {self.drop_path}, {self.dropout}")

    def channels(self, base: int) -> int:
        return max(8, int(base * self.width + 4) // 8 * 8)


class SqueezeExcite(nn.Module):
    """Channel gates from globally pooled features. Shape: (B, C, H, W) -> same."""

    def __init__(self, channels: int, squeezed: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeezed, 1)
        self.expand = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(nn.functional.silu(self.reduce(s))))


class MBConv(nn.Module):
    """Expand 1x1 (if expansion > 1), depthwise kxk (stride), SE, project 1x1; residual with
    stochastic depth when the shape is kept.

    Shape: (B, c_in, H, W) -> (B, c_out, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(
        self, c_in: int, c_out: int, expansion: int, stride: int, kernel: int, se_ratio: float, drop: float
    ) -> None:
        super().__init__()
        mid = c_in * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers += [nn.Conv2d(c_in, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.SiLU(inplace=True)]
        layers += [
            nn.Conv2d(mid, mid, kernel, stride, padding=kernel // 2, groups=mid, bias=False),
            nn.BatchNorm2d(mid),
            nn.SiLU(inplace=True),
            SqueezeExcite(mid, max(1, int(c_in * se_ratio))),
            nn.Conv2d(mid, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out
        self.drop = drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if not self.residual:
            return out
        if self.training and self.drop > 0:
            keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= self.drop
            out = out * keep.to(out.dtype) / (1 - self.drop)
        return x + out


@DETECTORS.register("efficientnet")
class EfficientNet(nn.Module):
    """Stem conv 3x3 s2 (32 x width), the MBConv stages, head conv 1x1 (1280 x width), global
    average pool, dropout, linear to one logit. Inputs are mapped from [0, 1] to [-1, 1].

    Shape:
        x: (B, 3, H, W) float in [0, 1], H, W >= 32. returns: (B,) logits.
    """

    config_class: ClassVar[type[EfficientNetConfig]] = EfficientNetConfig
    min_size: ClassVar[int] = 32

    def __init__(self, config: EfficientNetConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or EfficientNetConfig()
        stem = cfg.channels(32)
        self.stem = nn.Sequential(
            nn.Conv2d(3, stem, 3, 2, padding=1, bias=False), nn.BatchNorm2d(stem), nn.SiLU(inplace=True)
        )
        plan = []
        c_in = stem
        for expansion, base, repeats, stride, kernel in _B0[: cfg.stages]:
            c_out = cfg.channels(base)
            for i in range(max(1, math.ceil(repeats * cfg.depth))):
                plan.append((c_in, c_out, expansion, stride if i == 0 else 1, kernel))
                c_in = c_out
        self.blocks = nn.Sequential(
            *[
                MBConv(*p, se_ratio=cfg.se_ratio, drop=cfg.drop_path * i / max(1, len(plan) - 1))
                for i, p in enumerate(plan)
            ]
        )
        head = cfg.channels(1280)
        self.head = nn.Sequential(
            nn.Conv2d(c_in, head, 1, bias=False),
            nn.BatchNorm2d(head),
            nn.SiLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(cfg.dropout),
            nn.Linear(head, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] < self.min_size or x.shape[-2] < self.min_size:
            raise ValueError(
                f"efficientnet needs inputs of at least {self.min_size} px, got {tuple(x.shape)}"
            )
        return self.head(self.blocks(self.stem(x * 2.0 - 1.0))).squeeze(-1)
