"""The units of work of a round, as plain functions of plain data (numpy arrays, dicts).

The round loop runs them as Ray tasks; benchmarks can run them in-process. Each sets torch's
thread count from the CPUs its task was given (Ray sets it to 1), tunes glibc's allocator
(`arena.allocator`) and picks its device from the spec with a CPU fallback. Everything they
return is numpy, so it crosses Ray cheaply.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import numpy as np
import torch

from arena.allocator import tune_malloc
from arena.capture import apply_capture, capture_of_round
from arena.faces import to_uint8
from arena.faults import worker_fault
from arena.seeding import torch_generator
from arena.spec import DetectorSpec, GeneratorTrainSpec, WorldSpec

Weights = dict[str, np.ndarray]


def setup_worker(num_cpus: float, device: str) -> str:
    """Threads from the task's CPU share, glibc's allocator tuned for op chains (arena.allocator),
    on a GPU the optimisers' lazy import done (`warm_imports`); 'auto'/'cuda' fall back to CPU
    where there is no GPU."""
    tune_malloc()
    torch.set_num_threads(max(1, int(num_cpus)))
    if device in ("auto", "cuda"):
        if torch.cuda.is_available():
            warm_imports()
            return "cuda"
        # The driver warns once when the cluster has no GPUs (arena.launch.cpu_fallback_note);
        # a task warns only when Ray gave it GPUs that torch cannot see, which is a fault.
        if device == "cuda" and os.environ.get("CUDA_VISIBLE_DEVICES"):
            warnings.warn("device 'cuda' asked for but no GPU is visible; running on CPU", stacklevel=2)
    return "cpu"


def warm_imports() -> None:
    """Import torch._dynamo now: torch.optim imports it when the first optimiser is made and
    stepped (in torch 2.13, at its construction; benchmarks/first_calls.py).

    On the H100 machine that import is a GPU worker's largest one-off cost (5.8 s; a worker's
    first retrain took 5.6-8.7 s against ~1 s later: benchmarks/quickstart_profile.py's task
    table). Done at a worker's first GPU task, it is paid by the workers side by side while
    round 1 makes its fakes, not by whichever retrain first lands on each of them, alone on the
    round's critical path, rounds later. Not on the CPU: there it costs 1.1 s, and with as many
    workers as cores the round-1 retrains meet it on every worker at once anyway (moved to the
    first task it lengthened the 2-core quickstart's make phase instead: paired passes).
    """
    import torch._dynamo  # noqa: F401


def make_reals(world: WorldSpec, seed: int, r: int, split: str, n: int, num_cpus: float) -> np.ndarray:
    from arena.world import World

    setup_worker(num_cpus, "cpu")
    faces = World(world, seed).reals(split, n, torch_generator(seed, r, "reals", split))
    return to_uint8(apply_capture(faces.images, capture_of_round(seed, r, world.capture_drift))).numpy()


def make_fakes(
    world: WorldSpec,
    seed: int,
    r: int,
    strain: dict[str, Any],
    counts: dict[str, int],
    num_cpus: float,
    device: str,
    *,
    weights: dict[str, Any] | None = None,
    parent_weights: dict[str, Any] | None = None,
    train: GeneratorTrainSpec | None = None,
    surrogate: list[tuple[DetectorSpec, Weights, Weights]] | None = None,
    extractor: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One strain's fakes for each split, and its measured quality on the first of eval/vault.

    The loop may give a strain's splits to separate tasks (`arena.generator_round.make_tasks`):
    each split draws from its own seeded streams, so the fakes do not depend on the split-up.
    A learning strain without `weights` trains them here (see `arena.strain_work`) and returns
    them as "weights" for the loop to store; `surrogate` (the deployed detectors) is given only
    to strains whose genome asks for detector-guided evasion, `extractor` (the run's face
    extractor, `arena.extraction`) to those that attack it. Also returns "quality" (scalar),
    per-fake "ssim" and "psnr", "spectral", "targets"/"shown" (a few targets and their fakes;
    these only when an eval or vault split is asked for),
    "seconds" (the task's wall time), "query_seconds" (of it, inside the queried networks) and
    "span" (the task's start and end, epoch seconds: the loop apportions its make phase by them).
    """
    from arena import strain_work
    from arena.fake_stages import finish_splits, queriers, strain_task, swap_splits

    t0, started = time.perf_counter(), time.time()
    dev, s, family, w = strain_task(world, seed, r, strain, num_cpus, device)
    out: dict[str, Any] = {"weights": None}
    strain_weights = strain_work.from_payload(weights, dev)
    if family.learns and strain_weights is None:
        strain_weights = strain_work.prepare_weights(
            family, s, w, list(counts), seed, r, train or GeneratorTrainSpec(), parent_weights, dev
        )
        out["weights"] = strain_work.to_payload(strain_weights)
    clock, scorer, landmarker = queriers(surrogate, extractor, dev)
    splits = swap_splits(w, s, family, counts, seed, r, dev, strain_weights)
    out.update(finish_splits(splits, world, seed, r, scorer, landmarker))
    out["seconds"] = time.perf_counter() - t0
    out["query_seconds"] = clock.seconds
    out["span"] = (started, time.time())
    return out


def _detector(spec: DetectorSpec, weights: Weights | None, device: str, seed: int) -> Any:
    from detectors import Detector

    det = Detector(
        spec.arch,
        dict(spec.arch_config),
        device=device,
        seed=seed,
        precision=spec.precision,
        compile=spec.compile,
    )
    if weights is not None:
        det.load_state_dict({k: writable_tensor(v) for k, v in weights.items()})
    return det


def score(
    spec: DetectorSpec,
    weights: Weights,
    memory: Weights,
    num_cpus: float,
    device: str,
    *image_sets: np.ndarray,
) -> list[np.ndarray]:
    """P(fake) for each uint8 image set, by one detector version (averaged over the earlier
    versions an ``ensemble`` keeps in ``memory``; pass :func:`scoring_memory` of it).

    The image sets are positional so that Ray resolves them when they are object refs.
    """
    from detectors.strategies import score_version

    dev = setup_worker(num_cpus, device)
    det = _detector(spec, None, dev, seed=0)
    w = {k: writable_tensor(v) for k, v in weights.items()}
    m = {k: writable_tensor(v) for k, v in memory.items()}
    return [score_version(det, w, m, writable_tensor(s)).numpy().astype(np.float64) for s in image_sets]


def score_retrained(
    spec: DetectorSpec,
    retrained: dict[str, Any],
    old_weights: Weights | None,
    num_cpus: float,
    device: str,
    *image_sets: np.ndarray,
) -> list[np.ndarray]:
    """`score` of the version a `retrain` task returned (`old_weights` where it kept them).

    Given the retrain task's object ref, Ray starts it as soon as that detector's own retrain
    ends: a frozen detector is scored while the others still train.
    """
    weights = retrained["weights"] if retrained["weights"] is not None else old_weights
    if weights is None:
        raise ValueError(f"detector {spec.name} was never trained: there is no version to score")
    return score(spec, weights, scoring_memory(retrained["memory"]), num_cpus, device, *image_sets)


def scoring_memory(memory: Weights) -> Weights:
    """The part of a detector's memory that scoring needs (not the replay buffer or optimiser)."""
    from detectors.strategies import SCORING_PARTS

    return {k: v for k, v in memory.items() if k.split("/", 1)[0] in SCORING_PARTS}


def writable_tensor(array: np.ndarray) -> torch.Tensor:
    """A writable copy: arrays from Ray's object store are read-only views."""
    return torch.from_numpy(np.array(array, copy=True))


def retrain(
    spec: DetectorSpec,
    weights: Weights | None,
    memory: Weights,
    times_trained: int,
    reals: np.ndarray,
    fakes: np.ndarray,
    r: int,
    seed: int,
    num_cpus: float,
    device: str,
) -> dict[str, Any]:
    """One retraining by the detector's strategy and training mode.

    Returns ``{"weights": new weights or None if unchanged, "memory": the strategy's memory for
    the next round (optimiser, replay buffer, ensemble members), "report": fit report or None}``.
    """
    from detectors import retrain as run_strategy
    from detectors.strategies import StrategyOptions
    from detectors.training import TrainConfig

    dev = setup_worker(num_cpus, device)
    worker_fault("retrain", r)
    det = _detector(spec, weights, dev, seed=seed)
    result = run_strategy(
        spec.strategy,
        det,
        writable_tensor(reals),
        writable_tensor(fakes),
        round=r,
        times_trained=times_trained,
        scratch=TrainConfig(**spec.scratch.model_dump()),
        finetune=TrainConfig(**spec.finetune.model_dump()),
        seed=seed,
        memory={k: writable_tensor(v) for k, v in memory.items()},
        options=StrategyOptions(replay_size=spec.replay_size, ensemble_k=spec.ensemble_k),
        training=spec.training,
        training_config=spec.training_config,
    )
    new_memory = {k: v.detach().cpu().contiguous().numpy() for k, v in result.memory.items()}
    if result.report is None:
        return {"weights": None, "memory": new_memory, "report": None}
    state = {k: v.detach().cpu().contiguous().numpy() for k, v in det.state_dict().items()}
    return {"weights": state, "memory": new_memory, "report": _report_dict(result.report)}


def _report_dict(report: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(report)
