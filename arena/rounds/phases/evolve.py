"""Evolve: fitness = evasion x quality (`deepfake_arena.rounds.generator_side.fitness_records`), then
selection, crossover and mutation; families whose innovation round is r + 1 join as new strains.

From round 2 it runs on the zero-day scores of the deployed detectors (the ones the strains met
in the wild), right after zero-day, so the next population is known before the retrain; in round
1, before anything is deployed, on the freshly trained versions' (`post`). Only the exposed
detectors' scores count (a lab detector, `exposed: false`, selects nothing).
"""

from __future__ import annotations

import numpy as np

from deepfake_arena.rounds.generator_side import StrainDict, fitness_records, innovations, population_size
from deepfake_arena.rounds.records import Evolved, MadeFakes
from deepfake_arena.rounds.state import ArenaState
from deepfake_arena.seeding import torch_generator
from deepfake_arena.spec import RunSpec


def evolve(
    spec: RunSpec,
    state: ArenaState,
    r: int,
    made: MadeFakes,
    vault: list[StrainDict],
    probs: dict[str, np.ndarray],
    phase: str,
) -> Evolved:
    """Round r's population record, the next population and the next free strain id."""
    from deepfake_arena.generators.population import Strain
    from deepfake_arena.generators.population import evolve as next_generation

    pop = spec.population
    fitness, records = fitness_records(spec, state.strains, made.fakes, made.ev.strain_index, probs, phase)
    children = next_generation(
        [Strain.from_dict(s) for s in state.strains],
        fitness,
        size=population_size(spec, r),
        elite=pop.elite,
        rate=pop.mutation_rate,
        scale=pop.mutation_scale,
        crossover_prob=pop.crossover,
        tournament=pop.tournament,
        generator=torch_generator(spec.seed, "evolve", r),
        next_round=r + 1,
        id_start=state.next_strain_id,
    )
    known = {s["id"] for s in state.strains}
    next_id = state.next_strain_id + sum(1 for c in children if c.id not in known)
    newborn = innovations(spec, r + 1, next_id)
    record = {
        "round": r,
        "strains": records,
        "vault": [
            {**s, "seconds": float(f.seconds), "quality": float(f.measures.quality)}
            for s, f in zip(vault, made.vault_fakes, strict=True)
        ],
        "evaded": phase,
        "generator_weights": {sid: w.round for sid, w in made.gen_weights.items()},
    }
    return Evolved(record, [c.to_dict() for c in children] + newborn, next_id + len(newborn))
