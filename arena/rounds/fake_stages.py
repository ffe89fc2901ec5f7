"""A strain's fakes in two tasks: its family's swap, then the last stages (`Swapped.finish`).

A guided strain queries the deployed detectors only in the last stages (evasion, then
post-processing). Making its swap in a task of its own lets the loop run that part beside the
retrain, before the versions it will query exist (`rounds.early_work`), and finish once they do.
The make generator's state crosses from one task to the other, so the fakes are exactly those
`deepfake_arena.rounds.tasks.make_fakes` makes in one task (tests/arena/test_fake_stages.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from deepfake_arena.faces import to_uint8
from deepfake_arena.faults import worker_fault
from deepfake_arena.rounds.payloads import (
    GeneratorWeights,
    MadePart,
    Measured,
    SplitArrays,
    Surrogate,
    SwappedPart,
)
from deepfake_arena.rounds.query_clock import QueryClock
from deepfake_arena.seeding import torch_generator
from deepfake_arena.spec import WorldSpec
from deepfake_arena.world.capture import apply_capture, capture_of_round
from deepfake_arena.world.reencode import as_published

if TYPE_CHECKING:
    from deepfake_arena.generators.population import Strain
    from deepfake_arena.rounds.extraction import Extractor

QUALITY_SPLITS = ("eval", "vault")  # a strain's quality is measured on the fakes it is scored on


@dataclass
class SplitSwap:
    """One split's swap, with what its last stages need: the targets and the make generator."""

    swapped: Any  # deepfake_arena.generators.registry.Swapped
    target_images: torch.Tensor
    target_landmarks: torch.Tensor
    generator: torch.Generator

    def to_arrays(self) -> SplitArrays:
        """Numpy arrays (and the genome) to cross to another Ray task; the generator as its state."""
        return SplitArrays(
            frames=self.swapped.frames.cpu().numpy(),
            masks=self.swapped.masks.cpu().numpy(),
            genome=self.swapped.genome,
            target_images=self.target_images.cpu().numpy(),
            target_landmarks=self.target_landmarks.cpu().numpy(),
            generator_state=self.generator.get_state().numpy(),
        )

    @classmethod
    def from_arrays(cls, arrays: SplitArrays, dev: str) -> SplitSwap:
        """`to_arrays` undone on `dev`: the generator continues exactly where the swap left it."""
        from deepfake_arena.generators.registry import Swapped
        from deepfake_arena.rounds.worker import writable_tensor

        def tensor(array: np.ndarray) -> torch.Tensor:
            return writable_tensor(array).to(dev)

        gen = torch.Generator(device=dev)
        gen.set_state(writable_tensor(arrays.generator_state))
        swapped = Swapped(tensor(arrays.frames), tensor(arrays.masks), arrays.genome)
        return cls(swapped, tensor(arrays.target_images), tensor(arrays.target_landmarks), gen)


def strain_task(
    world: WorldSpec, seed: int, r: int, strain: Strain, num_cpus: float, device: str
) -> tuple[str, Any, Any]:
    """The start of every task that makes a strain's fakes: (device, family, World)."""
    from deepfake_arena.generators import FAMILIES
    from deepfake_arena.rounds.worker import setup_worker
    from deepfake_arena.world.pools import World

    dev = setup_worker(num_cpus, device)
    worker_fault("make", r)
    return dev, FAMILIES.get(strain.genome.family), World(world, seed)


def swap_splits(
    world: Any, strain: Any, family: Any, counts: dict[str, int], seed: int, r: int, dev: str, weights: Any
) -> dict[str, SplitSwap]:
    """Each split's pairs and swap, from the split's own seeded streams."""
    out = {}
    for split, n in counts.items():
        draw = torch_generator(seed, r, "pairs", strain.id, split)
        if strain.method is not None:  # a recorded strain: its method's fakes, as the targets
            source = target = world.recorded(split, strain.method, n, draw)
        else:
            source, target = world.pairs(split, n, draw)
        gen = torch_generator(seed, r, "make", strain.id, split, device=dev)
        target = target.to(dev)
        swapped = family.swap(source.to(dev), target, strain.genome, gen, weights=weights)
        out[split] = SplitSwap(swapped, target.images, target.landmarks, gen)
    return out


def queriers(
    surrogate: Surrogate | None, extractor: Extractor | None, dev: str
) -> tuple[QueryClock, Any, Any]:
    """(the clock of the time spent inside them, surrogate scorer or None, landmarker or None)."""
    from deepfake_arena.rounds import strain_work

    clock = QueryClock()
    scorer = clock.wrap(strain_work.surrogate_scorer(surrogate, dev)) if surrogate else None
    landmarker = None
    if extractor is not None:
        from deepfake_arena.rounds.extraction import landmark_function

        landmarker = clock.wrap(landmark_function(extractor, dev))
    return clock, scorer, landmarker


def finish_splits(
    splits: dict[str, SplitSwap], world: WorldSpec, seed: int, r: int, scorer: Any, landmarker: Any
) -> tuple[dict[str, np.ndarray], Measured | None]:
    """Each split's fakes as the detectors get them (through this round's capture and, when the
    world has one, the platform's JPEG: `world.reencode`) and, on the first of eval/vault, the
    strain's quality and a few targets with their fakes."""
    from deepfake_arena.rounds import strain_work

    out: dict[str, np.ndarray] = {}
    measured = None
    quality_split = next((split for split in QUALITY_SPLITS if split in splits), None)
    capture = capture_of_round(seed, r, world.capture_drift)
    for split, part in splits.items():
        fake = part.swapped.finish(
            part.target_images, part.target_landmarks, part.generator, scorer, landmarker
        )
        # The quality measures stay on what the generator made, before the capture.
        captured = to_uint8(apply_capture(fake.images, capture)).cpu().numpy()
        out[split] = as_published(captured, world, part.generator)  # the same JPEG as the reals
        if split == quality_split:
            targets = to_uint8(apply_capture(part.target_images[:4], capture)).cpu().numpy()
            measured = strain_work.quality_summary(fake, part.target_images, targets, out[split][:4])
    return out, measured


def swap_faces(
    world: WorldSpec,
    seed: int,
    r: int,
    strain: Strain,
    counts: dict[str, int],
    num_cpus: float,
    device: str,
    *,
    weights: GeneratorWeights | None = None,
) -> SwappedPart:
    """The first task: each split's swap (numpy) and the make generator's state after it.

    Only for a strain whose weights exist (a learning strain that trains them makes its fakes
    in one `make_fakes` task).
    """
    from deepfake_arena.rounds import strain_work

    t0 = time.perf_counter()
    dev, family, w = strain_task(world, seed, r, strain, num_cpus, device)
    if family.learns and weights is None:
        raise ValueError(f"strain {strain.id} trains its weights: make its fakes in one make_fakes task")
    splits = swap_splits(w, strain, family, counts, seed, r, dev, strain_work.from_payload(weights, dev))
    packed = {split: part.to_arrays() for split, part in splits.items()}
    return SwappedPart(packed, time.perf_counter() - t0)


def finish_fakes(
    swapped: SwappedPart,
    world: WorldSpec,
    seed: int,
    r: int,
    num_cpus: float,
    device: str,
    *,
    surrogate: Surrogate | None = None,
    extractor: Extractor | None = None,
) -> MadePart:
    """The second task: `swap_faces`'s result finished; returns what `make_fakes` returns."""
    from deepfake_arena.rounds.worker import setup_worker

    t0, started = time.perf_counter(), time.time()
    dev = setup_worker(num_cpus, device)
    worker_fault("make", r)
    splits = {split: SplitSwap.from_arrays(arrays, dev) for split, arrays in swapped.splits.items()}
    clock, scorer, landmarker = queriers(surrogate, extractor, dev)
    fakes, measured = finish_splits(splits, world, seed, r, scorer, landmarker)
    return MadePart(
        fakes,
        measured,
        weights=None,
        seconds=float(swapped.seconds) + time.perf_counter() - t0,
        query_seconds=clock.seconds,
        span=(started, time.time()),  # this task's own: the swap ran in another
    )
