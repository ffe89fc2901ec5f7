"""Self-blended images (Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR
2022; after Face X-ray, Li et al. 2020): pseudo-fakes made from real faces alone.

A real face is blended with a colour-, frequency- and geometry-transformed copy of itself under a
random face mask. The result carries the artefacts every blending swap leaves (a boundary, a
colour and sharpness mismatch, a slight misalignment) without any generator's fingerprint, so a
detector trained on reals vs self-blends learns the blending itself, and can catch techniques it
never saw. Used as the training mode ``sbi`` of any architecture (see :mod:`detectors.strategies`).

Landmarks: SBI needs a face mask. The arena's faces are aligned crops, so the landmarks sit close
to a canonical template (eyes ~40% from the top); instead of passing every real's landmarks into
training, the mask is built from that template with per-image Gaussian jitter of each point (the
jitter matches the landmark spread of aligned faces, ~3% of the crop). A wrong-by-a-few-pixels
mask is harmless, even useful: the boundary's shape is part of what SBI randomises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import kornia
import torch

from deepfake_arena import face_ops
from deepfake_arena.faces import check_images

# Mean 5-point landmarks of the synthetic world's aligned crops, as (x, y) fractions of the side
# (pixel centres at (i + 0.5) / size): left eye, right eye, nose tip, mouth corners.
ALIGNED_TEMPLATE: tuple[float, ...] = (0.40, 0.40, 0.60, 0.40, 0.50, 0.545, 0.42, 0.64, 0.575, 0.64)


@dataclass(frozen=True)
class SelfBlendConfig:
    """How pseudo-fakes are made; every range is sampled per image.

    Attributes:
        template: canonical landmarks, 10 numbers (x0, y0, ..., x4, y4) as fractions of the side.
        landmark_jitter: std of the Gaussian jitter of each landmark, as a fraction of the side.
        mask_scale: (low, high) scale of the face mask (ellipse or hull, half each).
        feather: (low, high) mask blur std as a fraction of the side.
        blend_ratio: (low, high) opacity of the blended copy inside the mask.
        colour: magnitude of the copy's brightness, contrast, saturation and per-channel shifts.
        blur_sigma: the copy is blurred (half the images) with sigma up to this many px, or
            sharpened (the other half) by up to this amount: the frequency mismatch of a swap.
        shift, scale, rotate: the copy's misalignment: translation (fraction of the side), scale
            change (1 +- scale) and rotation (degrees), about the crop centre.
    """

    template: tuple[float, ...] = ALIGNED_TEMPLATE
    landmark_jitter: float = 0.03
    mask_scale: tuple[float, float] = (0.85, 1.25)
    feather: tuple[float, float] = (0.0, 0.05)
    blend_ratio: tuple[float, float] = (0.4, 1.0)
    colour: float = 0.1
    blur_sigma: float = 1.0
    shift: float = 0.03
    scale: float = 0.05
    rotate: float = 4.0

    def __post_init__(self) -> None:
        if len(self.template) != 10 or not all(0.0 <= v <= 1.0 for v in self.template):
            raise ValueError(
                f"template must be 10 fractions in [0, 1] (x, y of 5 points), got {self.template}"
            )
        for name in ("mask_scale", "feather", "blend_ratio"):
            low, high = getattr(self, name)
            if not 0.0 <= low <= high:
                raise ValueError(f"{name} must be (low, high) with 0 <= low <= high, got {(low, high)}")
        if self.mask_scale[0] <= 0 or self.blend_ratio[1] > 1.0:
            raise ValueError(f"need mask_scale low > 0 and blend_ratio high <= 1, got {self}")
        for name in ("landmark_jitter", "colour", "blur_sigma", "shift", "scale", "rotate"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


class SelfBlend:
    """Callable pseudo-fake maker: ``SelfBlend(config)(reals, generator) -> fakes``.

    All parameters are drawn on the CPU ``generator`` first (same generator state, same fakes on
    any device), then applied on the images' device in one batched pass.

    Shape:
        reals: (B, 3, H, W) float in [0, 1]; returns (B, 3, H, W) float in [0, 1].
    """

    def __init__(self, config: SelfBlendConfig | None = None) -> None:
        self.config = config or SelfBlendConfig()

    def __call__(self, reals: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        check_images(reals, "reals")
        cfg, (b, _, h, w), dev, dt = self.config, reals.shape, reals.device, reals.dtype
        side = float(min(h, w))

        def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
            return (low + (high - low) * torch.rand(b, *shape, generator=generator)).to(dev, dt)

        # Sample every parameter first.
        gain = uniform(1 - cfg.colour, 1 + cfg.colour)
        offset = uniform(-cfg.colour / 2, cfg.colour / 2, 3)
        saturation = uniform(1 - cfg.colour, 1 + cfg.colour)
        sharpen = (torch.rand(b, generator=generator) < 0.5).to(dev)
        strength = uniform(0.0, cfg.blur_sigma)
        angle = uniform(-cfg.rotate, cfg.rotate) * (math.pi / 180)
        zoom = uniform(1 - cfg.scale, 1 + cfg.scale)
        move = uniform(-cfg.shift, cfg.shift, 2) * side
        noise = torch.randn(b, 5, 2, generator=generator).to(dev, dt) * cfg.landmark_jitter * side
        hull = (torch.rand(b, generator=generator) < 0.5).to(dev)
        mask_scale = uniform(*cfg.mask_scale)
        feather = uniform(*cfg.feather) * side
        ratio = uniform(*cfg.blend_ratio)

        # The transformed copy: colour, then frequency, then geometry.
        copy = (reals - reals.mean((1, 2, 3), keepdim=True)) * gain.view(b, 1, 1, 1)
        copy = (copy + reals.mean((1, 2, 3), keepdim=True) + offset.view(b, 3, 1, 1)).clamp(0, 1)
        copy = kornia.enhance.adjust_saturation(copy, saturation).clamp(0, 1)
        blurred = face_ops.gaussian_blur(copy, torch.where(sharpen, 0.0, strength))
        detail = copy - face_ops.gaussian_blur(copy, 1.0)
        copy = torch.where(sharpen.view(b, 1, 1, 1), copy + strength.view(b, 1, 1, 1) * detail, blurred)
        centre = torch.tensor([(w - 1) / 2, (h - 1) / 2], device=dev, dtype=dt)
        cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
        linear = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], 1)  # (B, 2, 2)
        trans = centre + move - (linear @ centre)
        copy = face_ops.warp_to(copy.clamp(0, 1), torch.cat([linear, trans[..., None]], -1), (h, w))

        # The mask from jittered template landmarks, then the blend.
        template = torch.tensor(cfg.template, device=dev, dtype=dt).view(1, 5, 2)
        landmarks = template * torch.tensor([w, h], device=dev, dtype=dt) - 0.5 + noise
        ellipse = face_ops.face_mask(landmarks, (h, w), "ellipse", scale=mask_scale, feather=feather)
        polygon = face_ops.face_mask(landmarks, (h, w), "hull", scale=mask_scale, feather=feather)
        mask = torch.where(hull.view(b, 1, 1, 1), polygon, ellipse) * ratio.view(b, 1, 1, 1)
        return face_ops.alpha_blend(copy, reals, mask).clamp(0, 1)
