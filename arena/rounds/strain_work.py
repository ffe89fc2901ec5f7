"""The generator side of the make task: a strain's weights (train or load), its surrogate, its quality.

Plain data crosses Ray: weights travel as numpy tensors and string metadata
(`deepfake_arena.rounds.payloads.GeneratorWeights`), exactly what a safetensors file holds. A strain's
weights are trained once, in the task of the round it first plays (warm-started from its first
parent's weights when it has one of its own family, for `finetune_steps`; from scratch for
`steps`, or from a local pretrained model, otherwise), then reused unchanged while it lives: the
loop stores them in that round's `generators/<strain>.safetensors` and passes them back in later
rounds and after a resume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfake_arena.rounds.payloads import GeneratorWeights, Measured, Surrogate
from deepfake_arena.seeding import torch_generator
from deepfake_arena.spec import GeneratorTrainSpec


def to_payload(weights: Any) -> GeneratorWeights:
    """StrainWeights -> numpy payload."""
    tensors = {k: v.detach().cpu().contiguous().numpy() for k, v in weights.tensors.items()}
    return GeneratorWeights(tensors, dict(weights.meta))


def from_payload(payload: GeneratorWeights | None, device: str = "cpu") -> Any:
    """Numpy payload -> StrainWeights on `device` (None stays None)."""
    from deepfake_arena.generators.registry import StrainWeights

    if payload is None:
        return None
    tensors = {k: torch.from_numpy(np.array(v, copy=True)).to(device) for k, v in payload.tensors.items()}
    return StrainWeights(tensors, dict(payload.meta))


def save_payload(path: Path, payload: GeneratorWeights) -> None:
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: np.ascontiguousarray(v) for k, v in payload.tensors.items()}
    save_file(tensors, str(path), metadata=dict(payload.meta))


def load_payload(path: Path) -> GeneratorWeights:
    from safetensors import safe_open
    from safetensors.numpy import load_file

    with safe_open(str(path), framework="numpy") as fh:
        meta = dict(fh.metadata() or {})
    return GeneratorWeights(load_file(str(path)), meta)


def budget_of(spec: GeneratorTrainSpec) -> Any:
    return spec.budget()


def training_faces(world: Any, splits: list[str], per_identity: int, generator: torch.Generator) -> Any:
    """`per_identity` real faces of every identity of `splits`: all the identities the strain swaps."""
    ids = torch.cat([world.pools[s] for s in splits]).repeat(per_identity)
    return world.renderer.render(ids, generator)


def prepare_weights(
    family: Any,
    strain: Any,
    world: Any,
    splits: list[str],
    seed: int,
    r: int,
    train: GeneratorTrainSpec,
    parent: GeneratorWeights | None,
    device: str,
) -> Any:
    """Train (or warm-start, or load) a newborn learning strain's weights in this task."""
    init = from_payload(parent, device)
    if init is None and train.pretrained is not None:
        init = family.load_pretrained(train.pretrained)
        init = from_payload(to_payload(init), device)
    faces = training_faces(
        world, splits, train.faces_per_identity, torch_generator(seed, r, "train-faces", strain.id)
    )
    gen = torch_generator(seed, r, "prepare", strain.id, device=device)
    return family.prepare(faces.to(device), strain.genome, gen, budget_of(train), init=init)


def surrogate_scorer(detectors: Surrogate, device: str) -> Any:
    """The deployed detectors as one differentiable scoring function: the mean over detectors of
    each one's P(fake) as deployed (an `ensemble` version averages its kept members, as
    `deepfake_arena.detectors.strategies.score_version` scores it).

    Shape: (B, 3, H, W) in [0, 1] -> (B,). Gradients flow to the input only.
    """
    from deepfake_arena.detectors import Detector
    from deepfake_arena.detectors.strategies import deployed_members

    def tensors(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(np.array(v, copy=True)) for k, v in arrays.items()}

    deployed = []
    for spec, weights, memory in detectors:
        members = []
        for state in deployed_members(tensors(weights), tensors(memory)):
            det = Detector(spec.arch, dict(spec.arch_config), device=device, seed=0)
            det.load_state_dict(state)
            net = det.network.eval()
            net.requires_grad_(False)
            members.append(net)
        deployed.append(members)

    def score(images: torch.Tensor) -> torch.Tensor:
        per_detector = [
            torch.stack([torch.sigmoid(net(images).float()) for net in members]).mean(0)
            for members in deployed
        ]
        return torch.stack(per_detector).mean(0)

    return score


def quality_summary(fake: Any, target: torch.Tensor, targets: np.ndarray, shown: np.ndarray) -> Measured:
    """Per-fake SSIM and PSNR outside the face, spectral distance and the strain's quality score,
    with the few `targets` and their fakes (`shown`) the sample grid draws."""
    from deepfake_arena.generators.quality import fake_quality

    q = fake_quality(fake.images, target, fake.masks)
    return Measured(
        quality=q.summary,
        ssim=q.ssim.cpu().numpy().astype(np.float64),
        psnr=q.psnr.cpu().numpy().astype(np.float64),
        spectral=q.spectral,
        targets=targets,
        shown=shown,
    )
