"""What a generator may query while it makes fakes: a surrogate detector and the defence's face
extractor, as plain functions of images. Its own module so the evasion stage and the registry share
the types without importing each other."""

from __future__ import annotations

from collections.abc import Callable

import torch

# A surrogate detector as a generator sees it: (B, 3, H, W) in [0, 1] -> (B,) P(fake). It may be
# differentiable (white-box evasion) or not (black-box evasion uses its scores only).
Scorer = Callable[[torch.Tensor], torch.Tensor]
# The defence's face extractor as a generator sees it: (B, 3, H, W) in [0, 1] -> (B, 5, 2) landmark
# pixels. Differentiable for a white-box extractor attack; black-box uses its outputs only.
Landmarker = Callable[[torch.Tensor], torch.Tensor]
