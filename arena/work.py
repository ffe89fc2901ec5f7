"""The units of work of a round, as plain functions of plain data (numpy arrays, dicts).

The round loop runs them as Ray tasks; benchmarks can run them in-process. Each sets torch's
thread count from the CPUs its task was given (Ray sets it to 1) and picks its device from the
spec with a CPU fallback. Everything they return is numpy, so it crosses Ray cheaply.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import torch

from arena.faces import to_uint8
from arena.seeding import torch_generator
from arena.spec import DetectorSpec, WorldSpec

Weights = dict[str, np.ndarray]


def setup_worker(num_cpus: float, device: str) -> str:
    """Threads from the task's CPU share; 'auto'/'cuda' fall back to CPU where there is no GPU."""
    torch.set_num_threads(max(1, int(num_cpus)))
    if device in ("auto", "cuda"):
        if torch.cuda.is_available():
            return "cuda"
        if device == "cuda":
            warnings.warn("device 'cuda' asked for but no GPU is visible; running on CPU", stacklevel=2)
    return "cpu"


def make_reals(world: WorldSpec, seed: int, r: int, split: str, n: int, num_cpus: float) -> np.ndarray:
    from arena.world import World

    setup_worker(num_cpus, "cpu")
    faces = World(world, seed).reals(split, n, torch_generator(seed, r, "reals", split))
    return to_uint8(faces.images).numpy()


def make_fakes(
    world: WorldSpec,
    seed: int,
    r: int,
    strain: dict[str, Any],
    counts: dict[str, int],
    num_cpus: float,
    device: str,
) -> dict[str, Any]:
    """One strain's fakes for each split, and its measured swap quality on the eval split."""
    from arena.world import World
    from generators import FAMILIES
    from generators.population import Strain
    from generators.quality import swap_quality

    dev = setup_worker(num_cpus, device)
    t0 = time.perf_counter()
    s = Strain.from_dict(strain)
    family = FAMILIES.get(s.genome.family)
    w = World(world, seed)
    out: dict[str, Any] = {}
    for split, n in counts.items():
        source, target = w.pairs(split, n, torch_generator(seed, r, "pairs", s.id, split))
        fake = family.make(
            source.to(dev),
            target.to(dev),
            s.genome,
            torch_generator(seed, r, "make", s.id, split, device=dev),
        )
        out[split] = to_uint8(fake.images).cpu().numpy()
        if split == "eval":
            out["quality"] = float(swap_quality(fake.images, target.images.to(dev), fake.masks).mean())
            out["targets"] = to_uint8(target.images[:4]).cpu().numpy()
    out["seconds"] = time.perf_counter() - t0
    return out


def _detector(spec: DetectorSpec, weights: Weights | None, device: str, seed: int) -> Any:
    from detectors import Detector

    det = Detector(spec.arch, dict(spec.arch_config), device=device, seed=seed)
    if weights is not None:
        det.load_state_dict({k: _tensor(v) for k, v in weights.items()})
    return det


def score(
    spec: DetectorSpec, weights: Weights, num_cpus: float, device: str, *image_sets: np.ndarray
) -> list[np.ndarray]:
    """P(fake) for each uint8 image set, by one detector version.

    The image sets are positional so that Ray resolves them when they are object refs.
    """
    dev = setup_worker(num_cpus, device)
    det = _detector(spec, weights, dev, seed=0)
    return [det.score_uint8(_tensor(s)).numpy().astype(np.float64) for s in image_sets]


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A writable copy: arrays from Ray's object store are read-only views."""
    return torch.from_numpy(np.array(array, copy=True))


def retrain(
    spec: DetectorSpec,
    weights: Weights | None,
    times_trained: int,
    reals: np.ndarray,
    fakes: np.ndarray,
    r: int,
    seed: int,
    num_cpus: float,
    device: str,
) -> dict[str, Any]:
    """One retraining by the detector's strategy; returns its new weights (or None if unchanged)."""
    from detectors import retrain as run_strategy
    from detectors.training import TrainConfig

    dev = setup_worker(num_cpus, device)
    det = _detector(spec, weights, dev, seed=seed)
    report = run_strategy(
        spec.strategy,
        det,
        _tensor(reals),
        _tensor(fakes),
        round=r,
        times_trained=times_trained,
        scratch=TrainConfig(**spec.scratch.model_dump()),
        finetune=TrainConfig(**spec.finetune.model_dump()),
        seed=seed,
    )
    if report is None:
        return {"weights": None, "report": None}
    state = {k: v.detach().cpu().contiguous().numpy() for k, v in det.state_dict().items()}
    return {"weights": state, "report": _report_dict(report)}


def _report_dict(report: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(report)
