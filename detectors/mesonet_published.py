"""MesoNet exactly as published (Afchar et al. 2018, the Keras code of DariusAf/MesoNet), so the
published weights can be imported and deployed unchanged (:mod:`deepfake_arena.detectors.weights_import`).

The arena's own ``meso4`` and ``mesoinception4`` differ from the published networks in ways that
change their outputs for the same weights: they order each block conv -> BN -> ReLU (published:
conv -> ReLU -> BN), use torch's BatchNorm epsilon 1e-5 (Keras: 1e-3), centre the input to
[-1, 1] (published: [0, 1]) and pool the last block adaptively to work at any resolution
(published: a fixed 4x4 pool at 256 px). Changing them would change every existing run, so the
published configuration is a preset of its own: ``meso4-published`` and
``mesoinception4-published``.

The published networks see 256 x 256 RGB face crops scaled to [0, 1]; the published pipeline
resized its crops to that size, and so does this preset (``resize``) when the arena's faces
have another resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from deepfake_arena.detectors.registry import DETECTORS

INPUT_SIZE = 256  # the published input side, px
KERAS_BN_EPS = 1e-3  # Keras BatchNormalization's default epsilon


@dataclass(frozen=True)
class PublishedMesoConfig:
    """Settings of the published MesoNet presets.

    Attributes:
        dropout: drop probability before each fully connected layer (published: 0.5).
        resize: resize inputs of another size to 256 x 256 (bilinear, antialiased); False
            rejects them.
    """

    dropout: float = 0.5
    resize: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


def _bn(channels: int) -> nn.BatchNorm2d:
    """Keras' epsilon (it changes the outputs); torch's running-average momentum 0.1 (Keras'
    0.99 would be 0.01 here: it only matters when the arena trains the preset, where statistics
    that barely move in a short finetune would leave it scoring with its initial ones)."""
    return nn.BatchNorm2d(channels, eps=KERAS_BN_EPS)


def _conv_relu(c_in: int, c_out: int, kernel: int, dilation: int = 1) -> nn.Sequential:
    """Keras ``Conv2D(c_out, kernel, padding='same', dilation_rate=dilation, activation='relu')``."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, padding=dilation * (kernel // 2), dilation=dilation),
        nn.ReLU(),
    )


class _PublishedMeso(nn.Module):
    """What both presets share: input checks, the published head, the Keras layer order."""

    config_class: ClassVar[type[PublishedMesoConfig]] = PublishedMesoConfig
    min_size: ClassVar[int] = 32
    name: ClassVar[str] = ""
    # the feature map the published Flatten sees, as (C, H, W); Keras flattens it as (H, W, C)
    flatten_chw: ClassVar[tuple[int, int, int]] = (16, 8, 8)

    def __init__(self, config: PublishedMesoConfig | None = None) -> None:
        super().__init__()
        self.config = config or PublishedMesoConfig()
        self.features: nn.Sequential
        # Flatten, Dropout, Dense(16), LeakyReLU(0.1), Dropout, Dense(1) (+ sigmoid, in score)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(self.config.dropout),
            nn.Linear(16 * 8 * 8, 16),
            nn.LeakyReLU(0.1),
            nn.Dropout(self.config.dropout),
            nn.Linear(16, 1),
        )

    def keras_layers(self) -> list[tuple[str, nn.Module]]:
        """The layers with weights, as ``(kind, module)`` in the order the published Keras code
        creates them (kind: ``conv``, ``bn`` or ``dense``); Keras numbers its layer names per kind
        in that order (conv2d_1, conv2d_2, ...), which is how an HDF5 file's layers are matched."""
        order: list[tuple[str, nn.Module]] = []
        # registration order == the Keras creation order (see _Inception), features before head
        for m in [*self.features.modules(), *self.head.modules()]:
            if isinstance(m, nn.Conv2d):
                order.append(("conv", m))
            elif isinstance(m, nn.BatchNorm2d):
                order.append(("bn", m))
            elif isinstance(m, nn.Linear):
                order.append(("dense", m))
        return order

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] < self.min_size or x.shape[-2] < self.min_size:
            raise ValueError(f"{self.name} needs inputs of at least {self.min_size} px, got {tuple(x.shape)}")
        if tuple(x.shape[-2:]) != (INPUT_SIZE, INPUT_SIZE):
            if not self.config.resize:
                raise ValueError(
                    f"{self.name} takes {INPUT_SIZE} x {INPUT_SIZE} inputs (resize: false), "
                    f"got {tuple(x.shape)}"
                )
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True)
        return self.head(self.features(x)).squeeze(-1)


def _block(c_in: int, c_out: int, kernel: int, pool: int) -> nn.Sequential:
    """Conv2D(relu) -> BatchNormalization -> MaxPooling2D(pool), the published block order."""
    return nn.Sequential(_conv_relu(c_in, c_out, kernel), _bn(c_out), nn.MaxPool2d(pool))


@DETECTORS.register("meso4-published")
class Meso4Published(_PublishedMeso):
    """Meso4 as published: four blocks conv(relu) -> BN -> max-pool with 3->8 3x3, 8->8 5x5,
    8->16 5x5 and 16->16 5x5 convs and pools 2, 2, 2, 4, on 256 x 256 inputs in [0, 1]; then
    flatten (16 x 8 x 8), dropout, dense 1024->16, LeakyReLU(0.1), dropout, dense 16->1.
    BatchNorm epsilon 1e-3 as in Keras. 27,977 parameters, like the arena's ``meso4``.

    Shape:
        x: (B, 3, H, W) float in [0, 1] (resized to 256 x 256). returns: (B,) logits.
    """

    name: ClassVar[str] = "meso4-published"

    def __init__(self, config: PublishedMesoConfig | None = None) -> None:
        super().__init__(config)
        self.features = nn.Sequential(
            _block(3, 8, 3, 2), _block(8, 8, 5, 2), _block(8, 16, 5, 2), _block(16, 16, 5, 4)
        )


class _Inception(nn.Module):
    """The published ``InceptionLayer(a, b, c, d)``: branches 1x1; 1x1 -> 3x3; 1x1 -> 3x3
    dilated 2; 1x1 -> 3x3 dilated 3, every conv with ReLU, concatenated in that order, then
    BatchNormalization and a 2x2 max-pool (which the published code applies after the layer).

    The convs are registered in the order the Keras code creates them (a's 1x1, b's 1x1, b's 3x3,
    c's 1x1, ...), then the BatchNorm: ``keras_layers`` relies on it.
    """

    def __init__(self, c_in: int, a: int, b: int, c: int, d: int) -> None:
        super().__init__()
        self.b1 = _conv_relu(c_in, a, 1)
        self.b2 = nn.Sequential(_conv_relu(c_in, b, 1), _conv_relu(b, b, 3))
        self.b3 = nn.Sequential(_conv_relu(c_in, c, 1), _conv_relu(c, c, 3, dilation=2))
        self.b4 = nn.Sequential(_conv_relu(c_in, d, 1), _conv_relu(d, d, 3, dilation=3))
        self.bn = _bn(a + b + c + d)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.bn(torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)))


@DETECTORS.register("mesoinception4-published")
class MesoInception4Published(_PublishedMeso):
    """MesoInception4 as published: Inception(1, 4, 4, 2) and Inception(2, 4, 4, 2), each with
    BN and a 2x2 pool, then conv(relu) 12->16 5x5 -> BN -> pool 2 and conv(relu) 16->16 5x5 ->
    BN -> pool 4, on 256 x 256 inputs in [0, 1]; the head of ``meso4-published``.

    Shape:
        x: (B, 3, H, W) float in [0, 1] (resized to 256 x 256). returns: (B,) logits.
    """

    name: ClassVar[str] = "mesoinception4-published"

    def __init__(self, config: PublishedMesoConfig | None = None) -> None:
        super().__init__(config)
        self.features = nn.Sequential(
            _Inception(3, 1, 4, 4, 2), _Inception(11, 2, 4, 4, 2), _block(12, 16, 5, 2), _block(16, 16, 5, 4)
        )
