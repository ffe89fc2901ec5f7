"""The detector contract the arena relies on: ``fit``, ``score``, ``state_dict``, ``load_state_dict``.

A :class:`Detector` wraps any network registered in :data:`deepfake_arena.detectors.registry.DETECTORS`; the
arena never touches the network itself. Scores are P(fake) as CPU float32, whatever the device.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import torch

from deepfake_arena.detectors.registry import build_detector_network
from deepfake_arena.detectors.training import (
    PRECISIONS,
    FitReport,
    PseudoFakes,
    TrainConfig,
    autocast,
    check_uint8_images,
    load_optimizer_tensors,
    optimizer_tensors,
    seeded_rng,
)
from deepfake_arena.detectors.training import fit as fit_network
from deepfake_arena.faces import check_images, from_uint8


def resolve_device(device: str | torch.device) -> torch.device:
    """``device`` if usable here, else the CPU with a warning (a spec written for a GPU box still
    runs on a laptop)."""
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(
            f"device {str(device)!r} requested but CUDA is unavailable; using the CPU", stacklevel=3
        )
        return torch.device("cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        warnings.warn(f"device {str(device)!r} requested but MPS is unavailable; using the CPU", stacklevel=3)
        return torch.device("cpu")
    return device


class Detector:
    """A trainable real/fake classifier built from a registered architecture.

    Args:
        arch: registered architecture name (e.g. ``"meso4"``); recorded in the results table.
        arch_config: the architecture's config as a dict, validated (unknown keys rejected).
        device: where to train and score; CUDA falls back to the CPU with a warning.
        seed: weight-initialisation seed; the global RNG is left untouched.
        batch_size: images per forward pass when scoring.
        precision: "fp32", or "bf16"/"fp16" autocast for training and scoring (the GPU path;
            fp16 training uses a gradient scaler).
        compile: run the forward passes through `torch.compile` (weights stay those of the
            plain module, so saved states are the same either way).
    """

    def __init__(
        self,
        arch: str,
        arch_config: Mapping[str, Any] | None = None,
        device: str | torch.device = "cpu",
        seed: int = 0,
        batch_size: int = 256,
        precision: str = "fp32",
        compile: bool = False,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; valid choices: {', '.join(PRECISIONS)}")
        self.precision = precision
        self.compile = compile
        self._compiled: torch.nn.Module | None = None
        self.arch = arch
        self.arch_config = dict(arch_config or {})
        self.device = resolve_device(device)
        self.batch_size = batch_size
        # channels_last (NHWC) suits cuDNN and oneDNN convolutions; measured for meso4 at 64 px on
        # one CPU thread it trained ~10% and scored ~30% faster than NCHW. Untested on MPS: off there.
        self.channels_last = self.device.type in ("cpu", "cuda")
        self.network = self._build(seed)
        self.optimizer: torch.optim.Optimizer | None = None  # the last fit's, kept for finetuning

    def _build(self, seed: int) -> torch.nn.Module:
        with seeded_rng(seed, torch.device("cpu")):
            network = build_detector_network(self.arch, self.arch_config)
        network = network.to(self.device)
        if self.channels_last:
            network = network.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return network.eval()

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.network.parameters())

    def reset(self, seed: int) -> None:
        """Re-initialise the weights (and norm statistics) exactly as ``Detector(..., seed=seed)``,
        and forget the optimiser."""
        self.network = self._build(seed)
        self._compiled = None
        self.optimizer = None

    @torch.inference_mode()
    def score(self, images: torch.Tensor) -> torch.Tensor:
        """P(fake) per image.

        Shape:
            images: (B, 3, H, W) float in [0, 1], any device. returns: (B,) float32 on the CPU.
        """
        check_images(images)
        return torch.cat([self._score_float(chunk) for chunk in images.split(self.batch_size)])

    @torch.inference_mode()
    def score_uint8(self, images: torch.Tensor) -> torch.Tensor:
        """P(fake) for stored 8-bit images, converted to float chunk by chunk on the device.

        Shape:
            images: (N, 3, H, W) uint8. returns: (N,) float32 on the CPU.
        """
        check_uint8_images(images, "images")
        return torch.cat(
            [self._score_float(from_uint8(chunk.to(self.device))) for chunk in images.split(self.batch_size)]
        )

    def _score_float(self, x: torch.Tensor) -> torch.Tensor:
        self.network.eval()
        x = x.to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.precision):
            logits = self._module()(x)
        return torch.sigmoid(logits.float()).cpu()

    def _module(self) -> torch.nn.Module:
        """The network, or its compiled wrapper (sharing its parameters) when `compile` is on."""
        if not self.compile:
            return self.network
        if self._compiled is None:
            self._compiled = torch.compile(self.network)  # type: ignore[assignment]
        assert self._compiled is not None
        return self._compiled

    def fit(
        self,
        reals_u8: torch.Tensor,
        fakes_u8: torch.Tensor | None,
        config: TrainConfig,
        seed: int,
        *,
        continue_optimizer: bool = False,
        pseudo_fakes: PseudoFakes | None = None,
    ) -> FitReport:
        """Train on uint8 reals (label 0) and fakes (label 1) from the current weights; see
        :func:`deepfake_arena.detectors.training.fit`.

        Args:
            continue_optimizer: keep the optimiser of the previous fit (or of
                :meth:`load_optimizer_state`) and its moments; False starts a fresh AdamW.
            pseudo_fakes: make the fakes from reals instead (``fakes_u8`` must then be None).
        """
        if not continue_optimizer:
            self.optimizer = None
        if self.optimizer is None:
            self.optimizer = self._new_optimizer(config)
        return fit_network(
            self._module(),
            reals_u8,
            fakes_u8,
            config,
            seed,
            self.device,
            channels_last=self.channels_last,
            optimizer=self.optimizer,
            pseudo_fakes=pseudo_fakes,
            precision=self.precision,
        )

    def _new_optimizer(self, config: TrainConfig | None = None) -> torch.optim.Optimizer:
        config = config or TrainConfig()
        return torch.optim.AdamW(self.network.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    def optimizer_state(self) -> dict[str, torch.Tensor]:
        """The optimiser's moments and step counts as CPU tensors (empty before any fit)."""
        return {} if self.optimizer is None else optimizer_tensors(self.optimizer)

    def load_optimizer_state(self, tensors: Mapping[str, torch.Tensor]) -> None:
        """Restore what :meth:`optimizer_state` returned, so the next ``continue_optimizer`` fit
        continues exactly where the saved one stopped; an empty mapping forgets the optimiser."""
        if not tensors:
            self.optimizer = None
            return
        self.optimizer = self._new_optimizer()
        load_optimizer_tensors(self.optimizer, tensors)  # load_state_dict moves moments to the params

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Weights and buffers as contiguous CPU tensors with their own storage (safetensors-ready)."""
        return {k: v.detach().to("cpu").contiguous().clone() for k, v in self.network.state_dict().items()}

    def load_state_dict(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Load weights saved by :meth:`state_dict` (strict: same keys, shapes and dtypes)."""
        own = self.network.state_dict()
        missing = sorted(set(own) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(own))
        mismatched = [
            f"{k}: expected {tuple(own[k].shape)} {own[k].dtype}, got {tuple(v.shape)} {v.dtype}"
            for k, v in state_dict.items()
            if k in own and (v.shape != own[k].shape or v.dtype != own[k].dtype)
        ]
        if missing or unexpected or mismatched:
            raise ValueError(
                f"state_dict does not fit detector {self.arch!r} {self.arch_config}: "
                f"missing keys {missing}, unexpected keys {unexpected}, mismatched {mismatched}"
            )
        self.network.load_state_dict(dict(state_dict), strict=True)

    def __repr__(self) -> str:
        device = str(self.device)
        return f"Detector({self.arch!r}, {self.arch_config}, device={device!r}, params={self.n_parameters})"
