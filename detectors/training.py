"""One retraining round of a binary real/fake detector: balanced batches, BCE, AdamW, kornia
augmentation (flip, colour jitter, blur, JPEG), early stopping on a validation split.

Pure compute: tensors in, trained weights and a :class:`FitReport` out; no files, no Ray. The
data stays uint8 (what the arena stores) and each batch is indexed first, then moved and converted
on the device, so a round's images never exist as float32 all at once.

Two extensions serve the retraining strategies: an optimiser passed in is continued (its moments
carry over between rounds, so ``finetune`` resumes exactly from a saved version, see
:func:`optimizer_tensors`), and a ``pseudo_fakes`` function replaces the given fakes by fakes made
from reals on the fly (self-blended images, :mod:`deepfake_arena.detectors.sbi`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import kornia
import torch
import torch.nn.functional as F
from torch import nn

from deepfake_arena import face_ops
from deepfake_arena.detectors.train_config import TrainConfig
from deepfake_arena.faces import from_uint8, to_uint8

PseudoFakes = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
"""Makes one fake per real: (B, 3, H, W) float in [0, 1] and a CPU generator -> same shape."""


@dataclass(frozen=True)
class FitReport:
    """What one :func:`fit` call did.

    Attributes:
        steps_run: optimiser steps taken (< config.steps if stopped early).
        final_loss: mean training BCE over the last ``min(eval_every, steps_run)`` steps.
        best_val_loss: best validation BCE (the kept weights), None without validation.
        stopped_early: patience ran out before the step budget.
        seconds: wall time of the whole call, validation included.
        images_per_s: training images (steps_run x batch_size) per wall second.
        curve: the training curve, one point per ``eval_every`` steps (and the last step):
            ``{"step", "loss"}`` (mean training BCE since the previous point) and, with
            validation, ``"val_loss"``; kept in the round's training.json.
    """

    steps_run: int
    final_loss: float
    best_val_loss: float | None
    stopped_early: bool
    seconds: float
    images_per_s: float
    curve: list[dict[str, float]] = field(default_factory=list)


PRECISIONS = ("fp32", "bf16", "fp16")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[object]:
    """Mixed precision for a forward pass: a no-op at fp32, else torch.autocast on the device."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast(device_type=device.type, dtype=dtype)


@contextlib.contextmanager
def seeded_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's global RNG for ``device`` inside a fork, restoring it on exit.

    nn.Dropout (and weight init) draw from the global generator and take no ``generator``
    argument; forking keeps the caller's RNG state untouched while making this call reproducible.
    Only the CPU generator and, on CUDA, the one device used are forked and seeded.
    """
    cuda = []
    if device.type == "cuda":
        cuda = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        for index in cuda:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield


def check_uint8_images(images: torch.Tensor, name: str) -> None:
    """Shape: (N, 3, H, W) uint8, N >= 1."""
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        got = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise TypeError(f"{name} must be a uint8 tensor (N, 3, H, W), got {got}")
    if images.ndim != 4 or images.shape[1] != 3 or images.shape[0] == 0:
        raise ValueError(f"{name} must have shape (N, 3, H, W) with N >= 1, got {tuple(images.shape)}")


def split_train_val(n: int, fraction: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (train, val) index split of ``range(n)``; val gets ``round(n * fraction)``, at least 1
    when ``fraction > 0``, and train keeps at least 1."""
    perm = torch.randperm(n, generator=generator)
    n_val = 0 if fraction == 0 else min(n - 1, max(1, round(n * fraction)))
    if fraction > 0 and n_val < 1:
        raise ValueError(f"need at least 2 images per class to hold out a validation set, got {n}")
    return perm[n_val:], perm[:n_val]


def _augment(x: torch.Tensor, config: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    """Flip half the images left-right, jitter brightness/contrast/saturation, blur some and
    JPEG-compress some (kornia, through :mod:`deepfake_arena.face_ops`). Every parameter is drawn on the
    CPU generator first (sampling separate from applying), then applied on ``x``'s device.

    Shape: x (B, 3, H, W) float in [0, 1] -> same.
    """
    b, dev = x.shape[0], x.device

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(b, generator=generator)

    flip = (torch.rand(b, generator=generator) < 0.5).to(dev).view(b, 1, 1, 1)
    shift = uniform(-config.jitter, config.jitter).to(dev).view(b, 1, 1, 1)
    gain = uniform(1 - config.jitter, 1 + config.jitter).to(dev).view(b, 1, 1, 1)
    saturation = uniform(1 - config.saturation, 1 + config.saturation)
    blur = (torch.rand(b, generator=generator) < config.blur_prob) * uniform(0.0, config.blur_sigma)
    jpeg = torch.rand(b, generator=generator) < config.jpeg_prob
    quality = uniform(config.jpeg_quality, 95.0).round()

    x = torch.where(flip, x.flip(-1), x)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * gain + mean + shift).clamp(0.0, 1.0)
    if config.saturation > 0:
        # Blend with the grey image (torchvision's ColorJitter saturation): no HSV round trip.
        grey_blend = kornia.enhance.adjust_saturation_with_gray_subtraction
        x = grey_blend(x, saturation.to(dev, x.dtype)).clamp(0.0, 1.0)
    if bool((blur > 0).any()):
        x = face_ops.gaussian_blur(x, blur.to(dev, x.dtype))
    if bool(jpeg.any()):
        sel = jpeg.to(dev)
        x = x.clone()
        x[sel] = face_ops.jpeg(x[sel].clamp(0.0, 1.0), quality[jpeg].to(dev, x.dtype)).clamp(0.0, 1.0)
    return x


def _batch(
    images: torch.Tensor, idx: torch.Tensor | None, device: torch.device, channels_last: bool
) -> torch.Tensor:
    """uint8 images (those at `idx`, or all) as a float batch on `device`."""
    chosen = images if idx is None else images[idx.to(images.device)]
    x = from_uint8(chosen.to(device, non_blocking=True))
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@torch.no_grad()
def evaluate_loss(
    model: nn.Module,
    reals_u8: torch.Tensor,
    fakes_u8: torch.Tensor,
    device: torch.device,
    batch_size: int = 256,
    channels_last: bool = False,
) -> float:
    """Mean BCE over all given reals (label 0) and fakes (label 1), eval mode."""
    model.eval()
    total, n = 0.0, 0
    for images, label in ((reals_u8, 0.0), (fakes_u8, 1.0)):
        for start in range(0, images.shape[0], batch_size):
            idx = torch.arange(start, min(start + batch_size, images.shape[0]))
            logits = model(_batch(images, idx, device, channels_last)).float()
            target = torch.full_like(logits, label)
            total += float(F.binary_cross_entropy_with_logits(logits, target, reduction="sum"))
            n += idx.numel()
    return total / n


def fit(
    model: nn.Module,
    reals_u8: torch.Tensor,
    fakes_u8: torch.Tensor | None,
    config: TrainConfig,
    seed: int,
    device: torch.device | str = "cpu",
    channels_last: bool = False,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    pseudo_fakes: PseudoFakes | None = None,
    precision: str = "fp32",
) -> FitReport:
    """Train ``model`` (already on ``device``) to give fakes high logits; leaves it in eval mode.

    Everything random (validation split, batch indices, augmentation, dropout, pseudo-fakes)
    follows from ``seed``: same seed, data, optimiser state and torch thread count give
    bit-identical weights on the CPU. The validation split is drawn first (reals, then fakes) from
    ``torch.Generator().manual_seed(seed)``.

    Args:
        optimizer: an optimiser over ``model``'s parameters to continue (its lr and weight decay
            are set from ``config``); None starts a fresh AdamW.
        pseudo_fakes: when given, ``fakes_u8`` must be None and the fake half of every batch (and
            of the validation set) is made from other reals by this function.
        precision: "fp32", or "bf16"/"fp16" autocast of the forward pass (fp16 with a scaler).

    Shape:
        reals_u8: (N_real, 3, H, W) uint8; fakes_u8: (N_fake, 3, H, W) uint8, same H, W, or None.
    """
    check_uint8_images(reals_u8, "reals_u8")
    if (fakes_u8 is None) == (pseudo_fakes is None):
        raise ValueError("give exactly one of fakes_u8 and pseudo_fakes")
    if fakes_u8 is not None:
        check_uint8_images(fakes_u8, "fakes_u8")
        if reals_u8.shape[1:] != fakes_u8.shape[1:]:
            raise ValueError(
                f"reals and fakes differ in size: {tuple(reals_u8.shape)} vs {tuple(fakes_u8.shape)}"
            )
    device = torch.device(device)
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    real_train, real_val = split_train_val(reals_u8.shape[0], config.val_fraction, gen)
    validate = config.val_fraction > 0
    val_reals = reals_u8[real_val.to(reals_u8.device)]
    if fakes_u8 is not None:
        fake_train, fake_val = split_train_val(fakes_u8.shape[0], config.val_fraction, gen)
        val_fakes = fakes_u8[fake_val.to(fakes_u8.device)]
    else:
        assert pseudo_fakes is not None
        fake_train = real_train  # pseudo-fakes are made from training reals
        val_fakes = (
            to_uint8(pseudo_fakes(from_uint8(val_reals), gen)) if validate and len(val_reals) else val_reals
        )
    half = config.batch_size // 2
    target = torch.cat([torch.zeros(half), torch.ones(half)]).to(device)
    if optimizer is None:
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    for group in optimizer.param_groups:
        group["lr"], group["weight_decay"] = config.lr, config.weight_decay

    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    losses: list[torch.Tensor] = []
    curve: list[dict[str, float]] = []
    curve_from = 0
    best_loss, best_state, bad_evals, stopped_early, step = float("inf"), None, 0, False, 0
    with seeded_rng(seed, device):
        model.train()
        for step in range(1, config.steps + 1):
            ri = real_train[torch.randint(real_train.numel(), (half,), generator=gen)]
            fi = fake_train[torch.randint(fake_train.numel(), (half,), generator=gen)]
            if fakes_u8 is not None:
                # One uint8 gather and one conversion for the whole batch: a float cat would copy
                # 4x the bytes, which shows on cheap models (spectrum).
                x = _batch(
                    torch.cat([reals_u8[ri.to(reals_u8.device)], fakes_u8[fi.to(fakes_u8.device)]]),
                    None,
                    device,
                    channels_last,
                )
            else:
                assert pseudo_fakes is not None
                fake_x = pseudo_fakes(_batch(reals_u8, fi, device, False), gen)
                if channels_last:
                    fake_x = fake_x.contiguous(memory_format=torch.channels_last)
                x = torch.cat([_batch(reals_u8, ri, device, channels_last), fake_x])
            if config.augment:
                x = _augment(x, config, gen)
            with autocast(device, precision):
                logits = model(x)
            loss = F.binary_cross_entropy_with_logits(logits.float(), target)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.detach())

            if step % config.eval_every == 0 or step == config.steps:  # a point of the curve
                curve.append({"step": step, "loss": float(torch.stack(losses[curve_from:]).mean())})
                curve_from = len(losses)
            if validate and (step % config.eval_every == 0 or step == config.steps):
                val_loss = evaluate_loss(model, val_reals, val_fakes, device, channels_last=channels_last)
                curve[-1]["val_loss"] = val_loss
                model.train()
                if val_loss < best_loss:
                    best_loss, bad_evals = val_loss, 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    bad_evals += 1
                    if config.patience and bad_evals >= config.patience:
                        stopped_early = step < config.steps
                        break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    seconds = time.perf_counter() - start
    window = losses[-min(config.eval_every, len(losses)) :]
    return FitReport(
        steps_run=step,
        final_loss=float(torch.stack(window).mean()),
        best_val_loss=best_loss if validate else None,
        stopped_early=stopped_early,
        seconds=seconds,
        images_per_s=step * config.batch_size / seconds,
        curve=curve,
    )


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """The optimiser's per-parameter state as flat CPU tensors, safetensors-ready.

    Keys are ``"<param index>.<name>"`` (AdamW: ``step``, ``exp_avg``, ``exp_avg_sq``); the
    hyper-parameters are not saved because every fit sets them from its config.
    """
    out: dict[str, torch.Tensor] = {}
    for index, state in optimizer.state_dict()["state"].items():
        for name, value in state.items():
            out[f"{index}.{name}"] = torch.as_tensor(value).detach().to("cpu").contiguous().clone()
    return out


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor]) -> None:
    """Restore state saved by :func:`optimizer_tensors` into an optimiser over the same parameters.

    Raises:
        ValueError: a key that names no parameter, or a moment whose shape differs from its parameter's.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        index_text, _, name = key.partition(".")
        if not index_text.isdigit() or not name or int(index_text) >= len(params):
            raise ValueError(f"optimiser state key {key!r} names no parameter (have {len(params)})")
        index = int(index_text)
        if value.ndim > 0 and value.shape != params[index].shape:
            raise ValueError(
                f"optimiser state {key!r} has shape {tuple(value.shape)}, "
                f"parameter {index} has {tuple(params[index].shape)}"
            )
        state.setdefault(index, {})[name] = value.clone()
    groups = optimizer.state_dict()["param_groups"]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
