"""How good a fake is, as the evolution's quality floor sees it.

A strain could evade any detector by destroying the image; these scores keep it honest.
`swap_quality` asks whether the swap left the rest of the target intact, so heavy blur, noise or
compression of the whole frame cost quality. `spectral_distance` compares the frequency content of
two batches, the trace that upsampling and blending leave and spectral detectors look for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import kornia
import torch

from deepfake_arena.faces import check_images


def swap_quality(
    fake: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, window: int = 7, dilate: int | None = None
) -> torch.Tensor:
    """Mean SSIM between fake and target outside the dilated face mask, in [0, 1].

    The mask is dilated by the SSIM window radius plus two pixels (unless `dilate` is given), so
    windows straddling the face boundary do not count the swap itself as damage. A mask that
    covers the whole image leaves nothing to compare and scores 0.

    Shape:
        fake, target: (B, 3, H, W) in [0, 1]; mask: (B, 1, H, W) in [0, 1]; returns (B,).
    """
    check_images(fake, "fake")
    check_images(target, "target")
    if fake.shape != target.shape:
        raise ValueError(
            f"fake and target must have the same shape, got {tuple(fake.shape)} and {tuple(target.shape)}"
        )
    if mask.shape != (fake.shape[0], 1, *fake.shape[-2:]) or not bool(torch.isfinite(mask).all()):
        raise ValueError(
            f"mask must be finite with shape ({fake.shape[0]}, 1, H, W), got {tuple(mask.shape)}"
        )
    radius = window // 2 + 2 if dilate is None else dilate
    if radius > 0:
        kernel = torch.ones(2 * radius + 1, 2 * radius + 1, device=mask.device, dtype=mask.dtype)
        mask = kornia.morphology.dilation(mask, kernel)
    outside = (1 - mask.clamp(0, 1))[:, 0]
    ssim = kornia.metrics.ssim(fake, target, window).mean(1).clamp(0, 1)
    return (ssim * outside).sum((1, 2)) / outside.sum((1, 2)).clamp_min(1e-6)


def ring_index(h: int, w: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, int]:
    """Radius ring of each frequency of an fftshift-ed (h, w) spectrum, and the number of rings.

    Rings run up to the Nyquist ring of the shorter side; corner frequencies get index >= n_rings.
    """
    ys = torch.arange(h, device=device) - h // 2
    xs = torch.arange(w, device=device) - w // 2
    radius = torch.sqrt(ys[:, None].float() ** 2 + xs[None].float() ** 2).round().long()
    return radius, min(h, w) // 2 + 1


def radial_log_power(images: torch.Tensor) -> torch.Tensor:
    """Azimuthally averaged log power spectrum of the grey images, averaged over the batch. (R,)."""
    grey = kornia.color.rgb_to_grayscale(images)[:, 0]
    grey = grey - grey.mean((-2, -1), keepdim=True)  # drop DC: it only measures brightness
    power = torch.fft.fftshift(torch.fft.fft2(grey, norm="ortho").abs() ** 2, dim=(-2, -1))
    logp = torch.log(power + 1e-10).mean(0)
    radius, n_bins = ring_index(logp.shape[0], logp.shape[1], images.device)
    keep = radius < n_bins
    idx = radius[keep]
    sums = torch.zeros(n_bins, device=images.device, dtype=logp.dtype).index_add_(0, idx, logp[keep])
    counts = torch.bincount(idx, minlength=n_bins).to(logp.dtype)
    return sums / counts.clamp_min(1)


def spectral_distance(images_a: torch.Tensor, images_b: torch.Tensor) -> float:
    """Mean absolute gap between the radial log power spectra of two batches (0 = same spectrum).

    Shape:
        images_a: (A, 3, H, W), images_b: (B, 3, H, W), both in [0, 1], same H and W.
    """
    check_images(images_a, "images_a")
    check_images(images_b, "images_b")
    if images_a.shape[-2:] != images_b.shape[-2:]:
        raise ValueError(
            f"both batches need the same H, W, "
            f"got {tuple(images_a.shape[-2:])} and {tuple(images_b.shape[-2:])}"
        )
    gap = radial_log_power(images_a) - radial_log_power(images_b)
    return float(gap[1:].abs().mean())  # ring 0 is the (removed) DC term


def swap_psnr(
    fake: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, cap: float = 60.0
) -> torch.Tensor:
    """PSNR (dB) of fake vs target outside the face mask, capped at `cap` (identical pixels).

    Shape:
        fake, target: (B, 3, H, W) in [0, 1]; mask: (B, 1, H, W) in [0, 1]; returns (B,).
    """
    check_images(fake, "fake")
    check_images(target, "target")
    if fake.shape != target.shape or mask.shape != (fake.shape[0], 1, *fake.shape[-2:]):
        raise ValueError(
            f"need fake and target of one shape and a (B, 1, H, W) mask, got {tuple(fake.shape)}, "
            f"{tuple(target.shape)}, {tuple(mask.shape)}"
        )
    outside = 1 - mask.clamp(0, 1)
    mse = (((fake - target) ** 2) * outside).sum((1, 2, 3)) / (3 * outside.sum((1, 2, 3))).clamp_min(1e-6)
    return (10 * torch.log10(1.0 / mse.clamp_min(10 ** (-cap / 10)))).clamp(max=cap)


@dataclass(frozen=True)
class Quality:
    """What the evolution's quality floor needs about one strain's fakes.

    ssim, psnr: per fake (B,), outside the face; spectral: the batch's spectral distance to the
    targets (real faces of the same round); summary: mean SSIM x exp(-spectral) in [0, 1], for
    reports (the fitness applies floors instead, see `deepfake_arena.generators.population.strain_fitness`).
    """

    ssim: torch.Tensor
    psnr: torch.Tensor
    spectral: float
    summary: float


def fake_quality(fake: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> Quality:
    """Measure a strain's fakes against their targets. Shape: (B, 3, H, W), mask (B, 1, H, W)."""
    ssim = swap_quality(fake, target, mask)
    spectral = spectral_distance(fake, target)
    summary = float(ssim.mean()) * math.exp(-spectral)
    return Quality(ssim, swap_psnr(fake, target, mask), spectral, summary)
