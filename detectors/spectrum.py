"""A frequency-domain detector (after Durall et al., "Watch your Up-Convolution", CVPR 2020).

Up-sampling, blending and re-compression leave traces in an image's power spectrum that are hard
to see in pixels. The features are the azimuthally averaged log power spectrum of each colour
channel: a 1-D profile over radial frequency, independent of the input size because the radius is
normalised to Nyquist. A small MLP classifies the profile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from deepfake_arena.detectors.registry import DETECTORS


@dataclass(frozen=True)
class SpectrumConfig:
    """Spectrum-detector settings.

    Attributes:
        bins: radial frequency bins from 0 to the corner of the spectrum (sqrt(2) x Nyquist).
        hidden: width of the MLP's hidden layers.
        window: multiply by a 2-D Hann window before the FFT, so the image border's discontinuity
            does not smear energy over every frequency.
        dropout: before the last linear layer.
    """

    bins: int = 24
    hidden: int = 64
    window: bool = True
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if not 4 <= self.bins <= 256:
            raise ValueError(f"bins must be in [4, 256], got {self.bins}")
        if self.hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {self.hidden}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


def radial_bins(h: int, w: int, bins: int, device: torch.device) -> torch.Tensor:
    """Averaging matrix from an (h, w) fft-shifted spectrum to radial bins.

    Radius is normalised per axis (``f / Nyquist``), so the same bin means the same relative
    frequency at every input size; bins span [0, sqrt(2)] and every bin is non-empty for h, w >= 16.

    Shape: returns (h * w, bins); each column sums to 1 (or 0 for an empty bin).
    """
    fy = (torch.arange(h, device=device) - h // 2) / (h / 2)
    fx = (torch.arange(w, device=device) - w // 2) / (w / 2)
    radius = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2).reshape(-1)
    index = (radius / math.sqrt(2) * bins).long().clamp_max(bins - 1)
    one_hot = nn.functional.one_hot(index, bins).float()
    return one_hot / one_hot.sum(0).clamp_min(1)


def log_power_profile(x: torch.Tensor, bins: int, window: bool = True) -> torch.Tensor:
    """Azimuthally averaged log power spectrum per channel.

    Shape: x (B, C, H, W) -> (B, C, bins).
    """
    b, c, h, w = x.shape
    x = x - x.mean((2, 3), keepdim=True)  # drop DC: brightness is not a frequency artefact
    if window:
        hann = torch.outer(
            torch.hann_window(h, periodic=False, device=x.device, dtype=x.dtype),
            torch.hann_window(w, periodic=False, device=x.device, dtype=x.dtype),
        )
        x = x * hann
    spectrum = torch.fft.fftshift(torch.fft.fft2(x.float(), norm="ortho"), dim=(-2, -1))
    log_power = torch.log(spectrum.real**2 + spectrum.imag**2 + 1e-8)
    return log_power.reshape(b, c, h * w) @ radial_bins(h, w, bins, x.device)


@DETECTORS.register("spectrum")
class SpectrumDetector(nn.Module):
    """Log power profile (3 x bins features), BatchNorm, MLP (2 hidden layers, GELU), one logit.

    Shape:
        x: (B, 3, H, W) float in [0, 1], H, W >= 16. returns: (B,) logits.
    """

    config_class: ClassVar[type[SpectrumConfig]] = SpectrumConfig
    min_size: ClassVar[int] = 16

    def __init__(self, config: SpectrumConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or SpectrumConfig()
        n = 3 * cfg.bins
        self.norm = nn.BatchNorm1d(n)
        self.mlp = nn.Sequential(
            nn.Linear(n, cfg.hidden),
            nn.GELU(),
            nn.Linear(cfg.hidden, cfg.hidden),
            nn.GELU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] < self.min_size or x.shape[-2] < self.min_size:
            raise ValueError(f"spectrum needs inputs of at least {self.min_size} px, got {tuple(x.shape)}")
        features = log_power_profile(x, self.config.bins, self.config.window).flatten(1)
        return self.mlp(self.norm(features)).squeeze(-1)
