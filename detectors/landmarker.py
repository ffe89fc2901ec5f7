"""The defence's face extractor: a small CNN that regresses the five landmarks of a face crop.

A deployed detector never sees a perfectly aligned face: a landmarker finds the face in each
frame and the crop is re-aligned from its points. That stage can be attacked (Cao & Gong 2021
showed that small perturbations make face detectors and landmarkers miss or misplace faces), so a
real-photo arena puts one in front of its detectors (`deepfake_arena.rounds.extraction`). It is trained on the
world's real faces under random similarity jitter, so it has to localise, not memorise a
template. It is differentiable, which is what a white-box attack on it needs.
"""

from __future__ import annotations

import kornia
import torch
import torch.nn.functional as F
from torch import nn

from deepfake_arena.detectors.training import seeded_rng
from deepfake_arena.face_ops import transform_points

POINTS = 5  # eye centres, nose tip, mouth corners (the arena's landmark convention)
GRID = 4  # the last feature map is pooled to GRID x GRID before the regression head


class LandmarkNet(nn.Module):
    """(B, 3, H, W) in [0, 1] -> (B, 5, 2) landmarks in pixels (x, y; pixel centres at integers).

    Four stride-2 conv blocks, an adaptive pool that keeps a coarse spatial layout (a global
    average would throw away where things are), and a linear head predicting coordinates in
    [-1, 1] of the crop, so one network serves any crop size.
    """

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        chans = [3, width, 2 * width, 4 * width, 4 * width]
        blocks: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:], strict=True):
            blocks += [
                nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
            ]
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(chans[-1] * GRID * GRID, 2 * POINTS)

    def normalised(self, images: torch.Tensor) -> torch.Tensor:
        """Landmarks in [-1, 1] crop coordinates. Shape: (B, 3, H, W) -> (B, 5, 2)."""
        x = F.adaptive_avg_pool2d(self.features(images * 2 - 1), GRID)
        return self.head(x.flatten(1)).view(-1, POINTS, 2)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        h, w = images.shape[-2:]
        scale = torch.tensor([w - 1, h - 1], dtype=images.dtype, device=images.device)
        return (self.normalised(images) + 1) * 0.5 * scale


def jitter(
    images: torch.Tensor, landmarks: torch.Tensor, generator: torch.Generator, strength: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random similarity (rotation +-15 deg, scale 0.9-1.1, shift +-6%) and brightness/contrast.

    The landmarks go through the same matrix, so the network learns to find the points wherever
    the extractor's crop put the face. Shape: (B, 3, H, W), (B, 5, 2) -> same.
    """
    b, _, h, w = images.shape
    dev, dt = images.device, images.dtype
    u = torch.rand(b, 6, generator=generator, device=generator.device).to(dev, dt) * 2 - 1
    centre = torch.tensor([(w - 1) / 2, (h - 1) / 2], device=dev, dtype=dt).expand(b, 2)
    angle = 15.0 * strength * u[:, 0]
    scale = (1 + 0.1 * strength * u[:, 1]).unsqueeze(1).expand(b, 2)
    matrix = kornia.geometry.transform.get_rotation_matrix2d(centre, angle, scale)
    matrix[:, :, 2] += 0.06 * strength * u[:, 2:4] * torch.tensor([w, h], device=dev, dtype=dt)
    moved = kornia.geometry.transform.warp_affine(
        images, matrix, (h, w), padding_mode="border", align_corners=True
    )
    gain = (1 + 0.2 * strength * u[:, 4]).view(b, 1, 1, 1)
    bias = (0.08 * strength * u[:, 5]).view(b, 1, 1, 1)
    moved = ((moved - 0.5) * gain + 0.5 + bias).clamp(0, 1)
    return moved, transform_points(landmarks.to(dt), matrix)


def train_landmarker(
    images: torch.Tensor,
    landmarks: torch.Tensor,
    generator: torch.Generator,
    *,
    steps: int = 400,
    batch_size: int = 32,
    lr: float = 3e-3,
    width: int = 16,
) -> LandmarkNet:
    """Fit a LandmarkNet to real faces and their landmarks (smooth L1 in [-1, 1] coordinates).

    Every batch is freshly jittered (`jitter`), so `steps` is the budget, not passes over the data.
    Returns the network in eval mode.

    Shape:
        images: (N, 3, H, W) in [0, 1]; landmarks: (N, 5, 2) pixels.
    """
    if images.ndim != 4 or landmarks.shape != (images.shape[0], POINTS, 2):
        raise ValueError(
            f"need images (N, 3, H, W) and landmarks (N, {POINTS}, 2), got "
            f"{tuple(images.shape)} and {tuple(landmarks.shape)}"
        )
    if steps < 1 or batch_size < 1:
        raise ValueError(f"train_landmarker needs steps and batch_size >= 1, got {steps}, {batch_size}")
    init_seed = int(torch.randint(2**31 - 1, (1,), generator=generator, device=generator.device))
    with seeded_rng(init_seed, torch.device("cpu")):  # weight init from the given stream, not the global one
        net = LandmarkNet(width).to(images.device)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    h, w = images.shape[-2:]
    half = torch.tensor([(w - 1) / 2, (h - 1) / 2], device=images.device)
    net.train()
    for _ in range(steps):
        idx = torch.randint(images.shape[0], (batch_size,), generator=generator, device=generator.device)
        x, pts = jitter(images[idx.to(images.device)], landmarks[idx.to(images.device)], generator)
        loss = F.smooth_l1_loss(net.normalised(x), pts / half - 1, beta=0.02)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()
