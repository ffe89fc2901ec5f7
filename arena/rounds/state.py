"""The arena's state between rounds: each detector's deployed version, the population that
plays next and the learning strains' weights; fresh for round 1, or read back from a committed
round (what `arena resume` starts from)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepfake_arena.rounds.generator_side import innovations, load_weights
from deepfake_arena.rounds.payloads import GenWeights
from deepfake_arena.rounds.records import DetectorState
from deepfake_arena.seeding import torch_generator
from deepfake_arena.spec import RunSpec
from deepfake_arena.store.round_files import POPULATION, load_detector, load_json, load_memory
from deepfake_arena.store.run_dir import RunStore


@dataclass
class ArenaState:
    round: int  # last committed round
    strains: list[dict[str, Any]]  # the population that plays the next round
    next_strain_id: int
    detectors: dict[str, DetectorState] = field(default_factory=dict)
    # strain id -> its weights and the round whose folder holds them (deepfake_arena.rounds.generator_side)
    generator_weights: GenWeights = field(default_factory=dict)


def initial_state(spec: RunSpec) -> ArenaState:
    from deepfake_arena.generators.population import initial_population

    strains = initial_population(
        list(spec.population.families),
        spec.population.size,
        torch_generator(spec.seed, "population", 0),
        round=1,
    )
    newborn = innovations(spec, 1, len(strains) + 1)  # families unlocked from round 1
    return ArenaState(
        round=0,
        strains=[s.to_dict() for s in strains] + newborn,
        next_strain_id=len(strains) + len(newborn) + 1,
        detectors=initial_detectors(spec),
    )


def initial_detectors(spec: RunSpec) -> dict[str, DetectorState]:
    """Each detector before round 1: untrained, or its imported published weights (deployed
    from round 1's zero-day on, though trained on no round: trained_round stays 0)."""
    from deepfake_arena.detectors.weights_import import import_weights

    out = {}
    for d in spec.detectors:
        if d.weights is None:
            out[d.name] = DetectorState()
            continue
        state = import_weights(d.arch, d.arch_config, d.weights.path, d.weights.format)
        out[d.name] = DetectorState(weights={k: v.numpy() for k, v in state.items()})
    return out


def load_state(spec: RunSpec, store: RunStore, r: int) -> ArenaState:
    if r == 0:
        return initial_state(spec)
    rdir = store.round_path(r)
    pop = load_json(rdir / POPULATION)
    detectors = {d.name: load_version(rdir, d.name) for d in spec.detectors}
    gen_weights = load_weights(store, dict(pop.get("generator_weights", {})))
    return ArenaState(r, pop["next"], int(pop["next_strain_id"]), detectors, gen_weights)


def load_version(rdir: Path, name: str) -> DetectorState:
    """A detector version as committed in round folder ``rdir``: weights, counters and memory."""
    weights, meta = load_detector(rdir / "detectors" / f"{name}.safetensors")
    memory = load_memory(rdir / "detectors", name, list(meta.get("memory_parts", [])))
    return DetectorState(weights, int(meta["times_trained"]), int(meta["trained_round"]), memory)


def deployed_versions(spec: RunSpec, store: RunStore, state: ArenaState, r: int) -> dict[str, DetectorState]:
    """The versions deployed in round r: trained through round r-1-release_lag (the latest
    ones without lag, else read back from that committed round); never-trained when none."""
    source = r - 1 - spec.release_lag
    if source == state.round:
        return state.detectors
    if source < 1:  # untrained, or the published weights a detector imported
        return initial_detectors(spec)
    return {d.name: load_version(store.round_path(source), d.name) for d in spec.detectors}
