"""Helpers the learning families share: seeded weight init, weights <-> modules, aligned training crops."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import kornia
import torch
from torch import nn

from deepfake_arena.faces import FaceBatch
from deepfake_arena.generators.crops import to_crop
from deepfake_arena.generators.registry import StrainWeights


def draw_seed(generator: torch.Generator) -> int:
    """A 63-bit seed drawn from `generator`, for the parts of torch that only take a global seed."""
    return int(torch.randint(2**62, (), generator=generator, device=generator.device))


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's global CPU RNG inside the block and restore it after (weight init uses it)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def module_weights(module: nn.Module, meta: dict[str, object], extra: dict[str, torch.Tensor] | None = None):
    """A module's state as StrainWeights: contiguous CPU copies, meta values JSON-encoded."""
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}
    tensors.update(extra or {})
    return StrainWeights(tensors, {k: json.dumps(v, sort_keys=True) for k, v in meta.items()})


def load_module(module: nn.Module, weights: StrainWeights, skip: tuple[str, ...] = ()) -> nn.Module:
    """Load `weights` into `module` strictly (same keys and shapes), naming what does not fit."""
    state = {k: v for k, v in weights.tensors.items() if k not in skip}
    own = module.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = [k for k in own if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or wrong:
        raise ValueError(
            f"strain weights do not fit the network: missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"wrong shapes {wrong[:5]}"
        )
    module.load_state_dict(state, strict=True)
    return module


def meta_value(weights: StrainWeights, key: str) -> object:
    if key not in weights.meta:
        raise ValueError(f"strain weights lack the metadata {key!r}; have {sorted(weights.meta)}")
    return json.loads(weights.meta[key])


def training_crops(faces: FaceBatch, resolution: int) -> torch.Tensor:
    """Real faces as aligned crops to train on. Shape: (N, 3, resolution, resolution) in [0, 1]."""
    if not isinstance(faces, FaceBatch) or len(faces) < 2:
        raise ValueError("training needs a FaceBatch of at least 2 real faces")
    return to_crop(faces.images, faces.landmarks, resolution)


def random_warp(crops: torch.Tensor, generator: torch.Generator, amount: float = 0.05) -> torch.Tensor:
    """Small random rotations, scalings and shifts (DeepFakes' warp augmentation).

    Shape: (B, 3, s, s) -> (B, 3, s, s).
    """
    b, _, s, _ = crops.shape
    r = torch.rand((b, 4), generator=generator, device=generator.device).to(crops) * 2 - 1
    angle = r[:, 0] * 10.0
    scale = (1 + amount * r[:, 1])[:, None].expand(b, 2)
    shift = r[:, 2:] * amount * s
    centre = torch.full((b, 2), (s - 1) / 2, device=crops.device, dtype=crops.dtype)
    matrix = kornia.geometry.transform.get_rotation_matrix2d(centre, angle, scale)
    matrix[:, :, 2] += shift
    return kornia.geometry.transform.warp_affine(
        crops, matrix, (s, s), padding_mode="border", align_corners=True
    )
