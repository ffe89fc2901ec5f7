"""The units of work of a round, as plain functions of plain data (numpy arrays, typed records).

The round loop runs them as Ray tasks; benchmarks can run them in-process. Each starts with
`deepfake_arena.rounds.worker.setup_worker`. What they return is numpy or a record of numpy arrays
(`deepfake_arena.rounds.payloads`), so it crosses Ray cheaply.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from deepfake_arena.faces import to_uint8
from deepfake_arena.faults import worker_fault
from deepfake_arena.rounds.payloads import GeneratorWeights, MadePart, RetrainResult, Surrogate, Weights
from deepfake_arena.rounds.worker import setup_worker, writable_tensor
from deepfake_arena.seeding import torch_generator
from deepfake_arena.spec import DetectorSpec, GeneratorTrainSpec, WorldSpec
from deepfake_arena.world.capture import apply_capture, capture_of_round
from deepfake_arena.world.reencode import as_published

if TYPE_CHECKING:
    from deepfake_arena.generators.population import Strain
    from deepfake_arena.rounds.extraction import Extractor


def make_reals(world: WorldSpec, seed: int, r: int, split: str, n: int, num_cpus: float) -> np.ndarray:
    from deepfake_arena.world.pools import World

    setup_worker(num_cpus, "cpu")
    w = World(world, seed)
    draw = w.reals if split == "train" else w.scored_reals  # scored sets never hold a photo twice
    faces = draw(split, n, torch_generator(seed, r, "reals", split))
    captured = to_uint8(apply_capture(faces.images, capture_of_round(seed, r, world.capture_drift))).numpy()
    return as_published(captured, world, torch_generator(seed, r, "reencode", split))


def make_fakes(
    world: WorldSpec,
    seed: int,
    r: int,
    strain: Strain,
    counts: dict[str, int],
    num_cpus: float,
    device: str,
    *,
    weights: GeneratorWeights | None = None,
    parent_weights: GeneratorWeights | None = None,
    train: GeneratorTrainSpec | None = None,
    surrogate: Surrogate | None = None,
    extractor: Extractor | None = None,
) -> MadePart:
    """One strain's fakes for each split, and its measured quality on the first of eval/vault.

    The loop may give a strain's splits to separate tasks (`deepfake_arena.rounds.generator_side.make_tasks`):
    each split draws from its own seeded streams, so the fakes do not depend on the split-up.
    A learning strain without `weights` trains them here (see `deepfake_arena.rounds.strain_work`) and returns
    them as `weights` for the loop to store; `surrogate` (the deployed detectors) is given only
    to strains whose genome asks for detector-guided evasion, `extractor` (the run's face
    extractor, `deepfake_arena.rounds.extraction`) to those that attack it. The measures (quality, a few
    targets and their fakes) come only when an eval or vault split is asked for
    (`deepfake_arena.rounds.payloads.MadePart`).
    """
    from deepfake_arena.rounds import strain_work
    from deepfake_arena.rounds.fake_stages import finish_splits, queriers, strain_task, swap_splits

    t0, started = time.perf_counter(), time.time()
    dev, family, w = strain_task(world, seed, r, strain, num_cpus, device)
    trained = None
    strain_weights = strain_work.from_payload(weights, dev)
    if family.learns and strain_weights is None:
        strain_weights = strain_work.prepare_weights(
            family, strain, w, list(counts), seed, r, train or GeneratorTrainSpec(), parent_weights, dev
        )
        trained = strain_work.to_payload(strain_weights)
    clock, scorer, landmarker = queriers(surrogate, extractor, dev)
    splits = swap_splits(w, strain, family, counts, seed, r, dev, strain_weights)
    fakes, measured = finish_splits(splits, world, seed, r, scorer, landmarker)
    seconds = time.perf_counter() - t0
    return MadePart(fakes, measured, trained, seconds, clock.seconds, (started, time.time()))


def _detector(spec: DetectorSpec, weights: Weights | None, device: str, seed: int) -> Any:
    from deepfake_arena.detectors import Detector

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
    from deepfake_arena.detectors.strategies import score_version

    dev = setup_worker(num_cpus, device)
    det = _detector(spec, None, dev, seed=0)
    w = {k: writable_tensor(v) for k, v in weights.items()}
    m = {k: writable_tensor(v) for k, v in memory.items()}
    return [score_version(det, w, m, writable_tensor(s)).numpy().astype(np.float64) for s in image_sets]


def score_retrained(
    spec: DetectorSpec,
    retrained: RetrainResult,
    old_weights: Weights | None,
    num_cpus: float,
    device: str,
    *image_sets: np.ndarray,
) -> list[np.ndarray]:
    """`score` of the version a `retrain` task returned (`old_weights` where it kept them).

    Given the retrain task's object ref, Ray starts it as soon as that detector's own retrain
    ends: a frozen detector is scored while the others still train.
    """
    weights = retrained.weights if retrained.weights is not None else old_weights
    if weights is None:
        raise ValueError(f"detector {spec.name} was never trained: there is no version to score")
    return score(spec, weights, scoring_memory(retrained.memory), num_cpus, device, *image_sets)


def scoring_memory(memory: Weights) -> Weights:
    """The part of a detector's memory that scoring needs (not the replay buffer or optimiser)."""
    from deepfake_arena.detectors.strategies import SCORING_PARTS

    return {k: v for k, v in memory.items() if k.split("/", 1)[0] in SCORING_PARTS}


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
) -> RetrainResult:
    """One retraining by the detector's strategy and training mode."""
    from deepfake_arena.detectors import retrain as run_strategy

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
        scratch=spec.scratch,
        finetune=spec.finetune,
        seed=seed,
        memory={k: writable_tensor(v) for k, v in memory.items()},
        options=spec.strategy_options(),
        training=spec.training,
        training_config=spec.training_config,
        pretrained=spec.weights is not None,
    )
    new_memory = {k: v.detach().cpu().contiguous().numpy() for k, v in result.memory.items()}
    if result.report is None:
        return RetrainResult(None, new_memory, None)
    state = {k: v.detach().cpu().contiguous().numpy() for k, v in det.state_dict().items()}
    return RetrainResult(state, new_memory, result.report)
