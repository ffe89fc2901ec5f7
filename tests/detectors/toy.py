"""A small separable real/fake problem every detector must learn (shared by the detector tests)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deepfake_arena.metrics import auc


def toy(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Reals: smooth colour noise. Fakes: the same kind of noise with a 2-px white square outline
    pasted at a random place (side size/4 .. size/2) - a visible blending boundary.

    Shape: returns uint8 reals and fakes, (n, 3, size, size) each.
    """
    g = torch.Generator().manual_seed(seed)

    def smooth() -> torch.Tensor:
        return F.interpolate(torch.rand(n, 3, 6, 6, generator=g), size=(size, size), mode="bilinear")

    reals, fakes = smooth(), smooth()
    side = torch.randint(size // 4, size // 2, (n, 1, 1), generator=g)
    x0 = (torch.rand(n, 1, 1, generator=g) * (size - side)).long()
    y0 = (torch.rand(n, 1, 1, generator=g) * (size - side)).long()
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")

    def box(m: int) -> torch.Tensor:
        return (xx >= x0 + m) & (xx < x0 + side - m) & (yy >= y0 + m) & (yy < y0 + side - m)

    fakes = torch.where((box(0) & ~box(2)).unsqueeze(1), torch.ones(()), fakes)
    return (reals * 255).round().to(torch.uint8), (fakes * 255).round().to(torch.uint8)


def toy_auc(s_real: torch.Tensor, s_fake: torch.Tensor) -> float:
    labels = torch.cat([torch.zeros(len(s_real)), torch.ones(len(s_fake))])
    return auc(labels.numpy(), torch.cat([s_real, s_fake]).numpy())
