"""The generator side of a round, for the loop: weights kept per strain, vault and innovation
strains, make-task arguments, and fitness (evasion x quality under the quality floor).

Strain weights live in the state as `{strain_id: KeptWeights(r, GeneratorWeights)}`, where r
is the round whose folder holds `generators/<strain_id>.safetensors` (the round in which they
were trained). The state keeps the weights of the strains that just played (the parents and
elites of the next population) and of the vault.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_arena.rounds.payloads import GeneratorWeights, GenWeights, KeptWeights, Surrogate
from deepfake_arena.rounds.records import DetectorState, StrainFakes
from deepfake_arena.rounds.strain_work import load_payload, save_payload
from deepfake_arena.seeding import torch_generator
from deepfake_arena.spec import GeneratorTrainSpec, RunSpec

GENERATORS_DIR = "generators"
Keywords = dict[str, Any]  # keyword arguments of a Ray task's `.remote`, by name
StrainDict = dict[str, Any]  # a strain as population.json keeps it (generators.population.Strain.to_dict)


def vault_strains(spec: RunSpec) -> list[StrainDict]:
    """The sealed strains of the spec, identical in every round (a function of the spec and seed)."""
    from deepfake_arena.generators.population import sealed_strains

    v = spec.vault
    strains = sealed_strains(
        list(v.families),
        v.strains_per_family,
        [(s.family, dict(s.genes)) for s in v.strains],
        torch_generator(spec.seed, "vault"),
    )
    return [{**s.to_dict(), "sealed": True} for s in strains]


def innovations(spec: RunSpec, r: int, id_start: int) -> list[StrainDict]:
    """The strains of families unlocking in round r, numbered from id_start; then the recorded
    methods entering in round r by their release date (deepfake_arena.world.recorded), one strain each."""
    from deepfake_arena.generators.population import innovate
    from deepfake_arena.world.recorded import FAMILY, arrivals

    out: list[StrainDict] = []
    for i, inn in enumerate(spec.population.innovation):
        if inn.round == r:
            gen = torch_generator(spec.seed, "innovation", i)
            for s in innovate(inn.family, inn.strains, gen, r, id_start + len(out)):
                s.method = inn.method
                out.append(s.to_dict())
    given = {inn.method for inn in spec.population.innovation if inn.family == FAMILY}
    for method, entry in sorted(arrivals(spec).items()):
        if entry == r and method not in given:
            gen = torch_generator(spec.seed, "recorded", method)
            for s in innovate(FAMILY, 1, gen, r, id_start + len(out)):
                s.method = method
                out.append(s.to_dict())
    return out


def population_size(spec: RunSpec, r: int) -> int:
    """Seats of evolving strains in round r: the spec's size plus the strains of every
    innovation unlocked by then (recorded strains play besides them, outside the evolution)."""
    from deepfake_arena.generators.population import evolves

    return spec.population.size + sum(
        i.strains for i in spec.population.innovation if i.round <= r and evolves(i.family)
    )


def train_spec(spec: RunSpec, family: str) -> GeneratorTrainSpec:
    return spec.population.training.get(family, GeneratorTrainSpec())


def needs_surrogate(strain: StrainDict) -> bool:
    return strain["genome"]["genes"].get("evasion", "off") != "off"


def attacks_extractor(strain: StrainDict) -> bool:
    return strain["genome"]["genes"].get("extractor_attack", "off") != "off"


@dataclass(frozen=True)
class MakeInputs:
    """The keyword arguments of a strain's make task (`deepfake_arena.rounds.tasks.make_fakes`).

    `surrogate` and `extractor` are object refs (Ray resolves them as top-level arguments), or
    None when the strain queries no detector or does not attack the extractor.
    """

    surrogate: Any = None
    extractor: Any = None
    weights: GeneratorWeights | None = None
    parent_weights: GeneratorWeights | None = None
    train: GeneratorTrainSpec | None = None

    def keywords(self) -> Keywords:
        """As keyword arguments of `.remote` (Ray's typing stubs take none, so they go as a dict)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def make_inputs(
    spec: RunSpec, strain: StrainDict, weights: GenWeights, surrogate: Any, extractor: Any = None
) -> MakeInputs:
    """What one strain's make task is given: its weights or its parent's, its training budget
    and, when its genome guides evasion and detectors are deployed, the surrogate; when it
    attacks the face extractor and the run has one, the extractor."""
    from deepfake_arena.generators import FAMILIES

    family = strain["genome"]["family"]
    queried = surrogate if needs_surrogate(strain) else None
    attacked = extractor if attacks_extractor(strain) else None
    if not FAMILIES.get(family).learns:
        return MakeInputs(queried, attacked)
    own = weights.get(strain["id"])
    parents = [p for p in strain["parents"] if p in weights and p.rsplit("-", 1)[0] == family]
    return MakeInputs(
        queried,
        attacked,
        weights=own.payload if own else None,
        parent_weights=weights[parents[0]].payload if (parents and not own) else None,
        train=train_spec(spec, family),
    )


def surrogate_detectors(spec: RunSpec, versions: dict[str, DetectorState]) -> Surrogate:
    """(spec, weights, scoring memory) of the detectors evasion may query: deployed (trained) and
    exposed, each as it is deployed (an ensemble with the earlier versions it averages)."""
    from deepfake_arena.rounds.tasks import scoring_memory

    return [
        (d, weights, scoring_memory(versions[d.name].memory))
        for d in spec.detectors
        if d.exposed and (weights := versions[d.name].weights) is not None
    ]


def trains_in_task(inputs: MakeInputs) -> bool:
    """Whether a make job's task trains the strain's weights (a learning strain without them)."""
    return inputs.train is not None and inputs.weights is None


def make_cost(strain: StrainDict, counts: dict[str, int], inputs: MakeInputs) -> float:
    """A make task's expected cost in image passes, to submit the longest tasks first.

    On a few CPUs the make phase lasts as long as its busiest worker; starting the longest tasks
    first (LPT scheduling) keeps one slow evasion strain from starting last and running alone.
    """
    from deepfake_arena.generators.evasion import passes_per_fake

    genes = strain["genome"]["genes"]
    passes = passes_per_fake(
        genes, surrogate=inputs.surrogate is not None, extractor=inputs.extractor is not None
    )
    cost = float(sum(counts.values()) * passes)
    if inputs.train is not None and inputs.weights is None:
        train = inputs.train
        steps = train.finetune_steps if inputs.parent_weights is not None else train.steps
        cost += 3.0 * steps * train.batch_size
    return cost


@dataclass(frozen=True)
class MakeJob:
    """One strain's fakes to make this round: the strain, its split counts, its task's inputs."""

    strain: StrainDict
    counts: dict[str, int]
    inputs: MakeInputs

    @property
    def trains(self) -> bool:
        """Whether its task trains the strain's weights (then its splits stay in one task)."""
        return trains_in_task(self.inputs)

    def cost(self, split_counts: dict[str, int]) -> float:
        return make_cost(self.strain, split_counts, self.inputs)

    def key(self, split_counts: dict[str, int]) -> tuple[Any, ...]:
        return task_key(self.strain, split_counts)


def round_jobs(
    spec: RunSpec,
    strains: list[StrainDict],
    vault: list[StrainDict],
    weights: GenWeights,
    surrogate: Any,
    extractor: Any = None,
) -> list[MakeJob]:
    """A round's make jobs: every strain on train and eval, every vault strain on the vault."""
    counts = spec.population.fakes_per_strain
    return [
        MakeJob(s, split_counts, make_inputs(spec, s, weights, surrogate, extractor))
        for group, split_counts in (
            (strains, {"train": counts.train, "eval": counts.eval}),
            (vault, {"vault": spec.vault.fakes_per_strain}),
        )
        for s in group
    ]


def task_key(strain: StrainDict, split_counts: dict[str, int]) -> tuple[Any, ...]:
    """Names a make task across rounds' code paths: the strain and the splits it makes."""
    return (strain["id"], *split_counts.items())


def make_tasks(jobs: list[MakeJob]) -> list[tuple[int, dict[str, int]]]:
    """The make tasks of a round's jobs (strain, split counts, make kwargs): (job index, counts).

    A strain's splits become separate tasks, so that one slow evasion strain's fakes are made on
    two CPUs instead of one (its splits draw from their own seeded streams: same fakes). A strain
    that trains its weights in the task keeps its splits together: the weights are trained once,
    on all of them.
    """
    tasks: list[tuple[int, dict[str, int]]] = []
    for i, job in enumerate(jobs):
        if job.trains:
            tasks.append((i, dict(job.counts)))
        else:
            tasks += [(i, {split: n}) for split, n in job.counts.items()]
    return tasks


def longest_first(costs: list[float]) -> list[int]:
    """Indices by decreasing cost; equal costs keep their order (a stable, deterministic sort)."""
    return sorted(range(len(costs)), key=lambda i: -costs[i])


def collect_weights(
    r: int, strains: list[StrainDict], fakes: list[StrainFakes], old: GenWeights
) -> tuple[GenWeights, GenWeights]:
    """(weights of the strains that played round r, those newly trained in round r)."""
    kept: GenWeights = {}
    new: GenWeights = {}
    for s, f in zip(strains, fakes, strict=True):
        if f.weights is not None:
            new[s["id"]] = kept[s["id"]] = KeptWeights(r, f.weights)
        elif s["id"] in old:
            kept[s["id"]] = old[s["id"]]
    return kept, new


def save_weights(folder: Path, new: GenWeights) -> None:
    for sid, w in new.items():
        save_payload(folder / GENERATORS_DIR / f"{sid}.safetensors", w.payload)


def load_weights(store: Any, rounds: dict[str, int]) -> GenWeights:
    """Weights of each strain id from the round folder that holds them."""
    return {
        sid: KeptWeights(
            int(r), load_payload(store.round_path(int(r)) / GENERATORS_DIR / f"{sid}.safetensors")
        )
        for sid, r in rounds.items()
    }


def fitness_records(
    spec: RunSpec,
    strains: list[StrainDict],
    fakes: list[StrainFakes],
    strain_index: np.ndarray,
    probs: dict[str, np.ndarray],
    phase: str,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Fitness per strain = evasion x quality, and the population.json record of each strain.

    evasion: mean over the strain's eval fakes of 1 - P(fake) (averaged over the exposed
    detectors in `probs`: a lab detector, `exposed: false`, selects nothing), where a fake below
    the quality floor (SSIM outside the face < quality_floor or PSNR < psnr_floor) counts 0: a
    wrecked image is not an evasion. quality: 1 above the floors,
    less for a mean SSIM under the floor or a spectral distance over the ceiling
    (`deepfake_arena.generators.population.strain_fitness`).
    """
    from deepfake_arena.generators.genome import Genome
    from deepfake_arena.generators.population import strain_fitness
    from deepfake_arena.generators.registry import describe

    pop = spec.population
    exposed = [d.name for d in spec.detectors if d.exposed and d.name in probs]
    if not exposed:
        raise ValueError(f"no exposed detector among the scores given ({', '.join(probs)})")
    fitness: dict[str, float] = {}
    records = []
    for i, (s, f) in enumerate(zip(strains, fakes, strict=True)):
        sel = strain_index == i
        p = np.mean([probs[name][sel] for name in exposed], axis=0)
        m = f.measures
        fit = strain_fitness(
            p,
            m.ssim,
            m.psnr,
            float(m.spectral),
            ssim_floor=pop.quality_floor,
            psnr_floor=pop.psnr_floor,
            spectral_ceiling=pop.spectral_ceiling,
        )
        fitness[s["id"]] = fit.value
        records.append(
            {
                **s,
                "describe": describe(Genome.from_dict(s["genome"])),
                "evasion": fit.evasion,
                "evasion_raw": fit.raw,
                "evaded": phase,
                "above_floor": fit.above_floor,
                "ssim": float(np.mean(m.ssim)),
                "psnr": float(np.mean(m.psnr)),
                "spectral": float(m.spectral),
                "quality": fit.quality,
                "fitness": fitness[s["id"]],
                "seconds": float(f.seconds),
            }
        )
    return fitness, records
