"""A strain's fakes in two tasks: its family's swap, then the last stages (`Swapped.finish`).

A guided strain queries the deployed detectors only in the last stages (evasion, then
post-processing). Making its swap in a task of its own lets the loop run that part beside the
retrain, before the versions it will query exist (`arena.early_work`), and finish once they do.
The make generator's state crosses from one task to the other, so the fakes are exactly those
`arena.work.make_fakes` makes in one task (tests/arena/test_fake_stages.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from arena.capture import apply_capture, capture_of_round
from arena.faces import to_uint8
from arena.faults import worker_fault
from arena.query_clock import QueryClock
from arena.seeding import torch_generator
from arena.spec import WorldSpec

QUALITY_SPLITS = ("eval", "vault")  # a strain's quality is measured on the fakes it is scored on


@dataclass
class SplitSwap:
    """One split's swap, with what its last stages need: the targets and the make generator."""

    swapped: Any  # generators.registry.Swapped
    target_images: torch.Tensor
    target_landmarks: torch.Tensor
    generator: torch.Generator


def swap_splits(
    world: Any, strain: Any, family: Any, counts: dict[str, int], seed: int, r: int, dev: str, weights: Any
) -> dict[str, SplitSwap]:
    """Each split's pairs and swap, from the split's own seeded streams."""
    out = {}
    for split, n in counts.items():
        source, target = world.pairs(split, n, torch_generator(seed, r, "pairs", strain.id, split))
        gen = torch_generator(seed, r, "make", strain.id, split, device=dev)
        target = target.to(dev)
        swapped = family.swap(source.to(dev), target, strain.genome, gen, weights=weights)
        out[split] = SplitSwap(swapped, target.images, target.landmarks, gen)
    return out


def queriers(
    surrogate: list[tuple[Any, Any]] | None, extractor: dict[str, Any] | None, dev: str
) -> tuple[QueryClock, Any, Any]:
    """(the clock of the time spent inside them, surrogate scorer or None, landmarker or None)."""
    from arena import strain_work

    clock = QueryClock()
    scorer = clock.wrap(strain_work.surrogate_scorer(surrogate, dev)) if surrogate else None
    landmarker = None
    if extractor is not None:
        from arena.extraction import landmark_function

        landmarker = clock.wrap(landmark_function(extractor, dev))
    return clock, scorer, landmarker


def finish_splits(
    splits: dict[str, SplitSwap], world: WorldSpec, seed: int, r: int, scorer: Any, landmarker: Any
) -> dict[str, Any]:
    """Each split's fakes as the detectors get them (through this round's capture) and, on the
    first of eval/vault, the strain's quality and a few targets with their fakes."""
    from arena import strain_work

    out: dict[str, Any] = {}
    quality_split = next((split for split in QUALITY_SPLITS if split in splits), None)
    capture = capture_of_round(seed, r, world.capture_drift)
    for split, part in splits.items():
        fake = part.swapped.finish(
            part.target_images, part.target_landmarks, part.generator, scorer, landmarker
        )
        # The quality measures stay on what the generator made, before the capture.
        out[split] = to_uint8(apply_capture(fake.images, capture)).cpu().numpy()
        if split == quality_split:
            out.update(strain_work.quality_summary(fake, part.target_images))
            out["targets"] = to_uint8(apply_capture(part.target_images[:4], capture)).cpu().numpy()
            out["shown"] = out[split][:4]
    return out


def swap_faces(
    world: WorldSpec,
    seed: int,
    r: int,
    strain: dict[str, Any],
    counts: dict[str, int],
    num_cpus: float,
    device: str,
    *,
    weights: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The first task: each split's swap (numpy) and the make generator's state after it.

    Only for a strain whose weights exist (a learning strain that trains them makes its fakes
    in one `make_fakes` task). Returns {"splits": {split: arrays}, "seconds": wall time}.
    """
    from arena import strain_work
    from arena.work import setup_worker
    from arena.world import World
    from generators import FAMILIES
    from generators.population import Strain

    dev = setup_worker(num_cpus, device)
    worker_fault("make", r)
    t0 = time.perf_counter()
    s = Strain.from_dict(strain)
    family = FAMILIES.get(s.genome.family)
    if family.learns and weights is None:
        raise ValueError(f"strain {s.id} trains its weights: make its fakes in one make_fakes task")
    splits = swap_splits(
        World(world, seed), s, family, counts, seed, r, dev, strain_work.from_payload(weights, dev)
    )
    packed = {
        split: {
            "frames": p.swapped.frames.cpu().numpy(),
            "masks": p.swapped.masks.cpu().numpy(),
            "genome": p.swapped.genome,
            "target_images": p.target_images.cpu().numpy(),
            "target_landmarks": p.target_landmarks.cpu().numpy(),
            "generator_state": p.generator.get_state().numpy(),
        }
        for split, p in splits.items()
    }
    return {"splits": packed, "seconds": time.perf_counter() - t0}


def finish_fakes(
    swapped: dict[str, Any],
    world: WorldSpec,
    seed: int,
    r: int,
    num_cpus: float,
    device: str,
    *,
    surrogate: list[tuple[Any, Any]] | None = None,
    extractor: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The second task: `swap_faces`'s result finished; returns what `make_fakes` returns."""
    from arena.work import setup_worker
    from generators.registry import Swapped

    dev = setup_worker(num_cpus, device)
    worker_fault("make", r)
    t0 = time.perf_counter()

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.array(a, copy=True)).to(dev)

    splits = {}
    for split, p in swapped["splits"].items():
        gen = torch.Generator(device=dev)
        gen.set_state(torch.from_numpy(np.array(p["generator_state"], copy=True)))
        part = Swapped(tensor(p["frames"]), tensor(p["masks"]), p["genome"])
        splits[split] = SplitSwap(part, tensor(p["target_images"]), tensor(p["target_landmarks"]), gen)
    clock, scorer, landmarker = queriers(surrogate, extractor, dev)
    out: dict[str, Any] = {"weights": None, **finish_splits(splits, world, seed, r, scorer, landmarker)}
    out["seconds"] = float(swapped["seconds"]) + time.perf_counter() - t0
    out["query_seconds"] = clock.seconds
    return out
