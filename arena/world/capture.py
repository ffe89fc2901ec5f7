"""The world's capture conditions, drifting from round to round.

Real data sets change under a deployed detector: new cameras, lighting, and the platforms'
re-encoding. Continual deepfake benchmarks (CDDB) pair each task's fakes with their own reals
for that reason, and a detector fine-tuned on the new conditions can lose the old ones. With
`world.capture_drift` > 0 every image made in round r, real or fake, train, eval or vault, passes
through round r's capture: a colour cast, a tone curve and a lens blur whose settings follow a
random walk over the rounds (round 1 is the identity). Within a round both classes share it, so
it is never a cue for fakeness; across rounds it moves the domain. The generators do not see it:
it is applied to what they hand over, as a platform processes an upload.
"""

from __future__ import annotations

from dataclasses import dataclass

import kornia
import torch

from deepfake_arena import face_ops
from deepfake_arena.seeding import torch_generator

# How far one unit of the walk moves each setting: a 20% colour gain, a 30% gamma, 0.8 px blur.
GAIN_PER_UNIT, GAMMA_PER_UNIT, BLUR_PER_UNIT = 0.2, 0.3, 0.8


@dataclass(frozen=True)
class Capture:
    """One round's capture settings: channel gains of red and blue, gamma, blur sigma (px)."""

    red_gain: float = 1.0
    blue_gain: float = 1.0
    gamma: float = 1.0
    blur_sigma: float = 0.0

    @property
    def is_identity(self) -> bool:
        return self == Capture()


def capture_of_round(seed: int, r: int, drift: float) -> Capture:
    """Round r's settings: a random walk with N(0, drift^2) steps per round from round 1's identity.

    Each round's step comes from its own (seed, round) stream, so round r's capture is the same
    whether the run got there in one go or resumed, and whatever the rounds before drew.
    """
    if drift < 0:
        raise ValueError(f"capture drift must be >= 0, got {drift}")
    if r < 1:
        raise ValueError(f"rounds start at 1, got {r}")
    walk = torch.zeros(4, dtype=torch.float64)
    for k in range(2, r + 1):
        walk += drift * torch.randn(4, generator=torch_generator(seed, "capture", k), dtype=torch.float64)
    red, blue, gamma, blur = walk.tolist()
    return Capture(
        red_gain=float(torch.exp(torch.tensor(GAIN_PER_UNIT * red))),
        blue_gain=float(torch.exp(torch.tensor(GAIN_PER_UNIT * blue))),
        gamma=float(torch.exp(torch.tensor(GAMMA_PER_UNIT * gamma))),
        blur_sigma=BLUR_PER_UNIT * abs(blur),
    )


def apply_capture(images: torch.Tensor, capture: Capture) -> torch.Tensor:
    """Images as this round's capture renders them.

    Shape: images (B, 3, H, W) in [0, 1] -> (B, 3, H, W) in [0, 1].
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
    if capture.is_identity:
        return images
    out = images.clamp(0, 1)
    if capture.blur_sigma > 0:
        out = face_ops.gaussian_blur(out, capture.blur_sigma)
    gains = torch.tensor([capture.red_gain, 1.0, capture.blue_gain], dtype=out.dtype, device=out.device)
    out = (out * gains.view(1, 3, 1, 1)).clamp(0, 1)
    return kornia.enhance.adjust_gamma(out, capture.gamma).clamp(0, 1)
