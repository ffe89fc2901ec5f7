import json

import pytest
import torch

import deepfake_arena.generators  # noqa: F401  (registers the families)
from deepfake_arena.generators.genome import default_genome
from deepfake_arena.generators.population import Strain, evolve, initial_population, next_id_start
from deepfake_arena.generators.registry import gene_space

SETTINGS = dict(size=8, elite=2, rate=0.3, scale=0.15, crossover_prob=0.5, tournament=3)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def fitness_of(strains, gene="mask_scale"):
    return {s.id: float(s.genome.genes[gene]) for s in strains}


def test_initial_population():
    pop = initial_population(["blend"], 6, gen(0), round=3)
    assert [s.id for s in pop] == [f"blend-000{i}" for i in range(1, 7)]
    assert pop[0].genome == default_genome(gene_space("blend"))
    assert len({str(s.genome.to_dict()) for s in pop}) == 6
    assert all(s.born_round == 3 and s.parents == [] and s.mutations == [] for s in pop)
    assert [s.to_dict() for s in pop] == [
        s.to_dict() for s in initial_population(["blend"], 6, gen(0), round=3)
    ]
    with pytest.raises(ValueError, match="families"):
        initial_population([], 4, gen(0))
    with pytest.raises(KeyError, match="valid choices: autoencoder, blend, diffusion"):
        initial_population(["nope"], 4, gen(0))


def test_evolve_keeps_size_elites_and_records_lineage():
    pop = initial_population(["blend"], 8, gen(1))
    fit = fitness_of(pop)
    nxt = evolve(pop, fit, **SETTINGS, generator=gen(2), next_round=2, id_start=next_id_start(pop))
    assert len(nxt) == 8
    best = sorted(pop, key=lambda s: (-fit[s.id], s.id))[:2]
    assert nxt[:2] == best  # unchanged: same id, genome, lineage
    children = nxt[2:]
    old_ids = {s.id for s in pop}
    assert [c.id for c in children] == [f"blend-{n:04d}" for n in range(9, 15)]
    for child in children:
        assert child.born_round == 2 and 1 <= len(child.parents) <= 2
        assert set(child.parents) <= old_ids
        gene_space("blend").validate(child.genome.genes)
        assert set(child.mutations) <= set(gene_space("blend").names)
    assert any(len(c.parents) == 2 for c in children) and any(c.mutations for c in children)
    again = evolve(pop, fit, **SETTINGS, generator=gen(2), next_round=2, id_start=9)
    assert [s.to_dict() for s in again] == [s.to_dict() for s in nxt]
    other = evolve(pop, fit, **SETTINGS, generator=gen(3), next_round=2, id_start=9)
    assert [s.to_dict() for s in other] != [s.to_dict() for s in nxt]


def test_evolve_ties_and_bad_input():
    pop = initial_population(["blend"], 5, gen(4))
    flat = {s.id: 0.5 for s in pop}
    shuffled = dict(reversed(list(flat.items())))
    kw = dict(SETTINGS, size=5, generator=gen(5), next_round=2, id_start=6)
    a = evolve(pop, flat, **kw)
    assert [s.id for s in a[:2]] == ["blend-0001", "blend-0002"]  # ties broken by id
    kw["generator"] = gen(5)
    assert [s.to_dict() for s in evolve(list(reversed(pop)), shuffled, **kw)] == [s.to_dict() for s in a]
    with pytest.raises(ValueError, match=r"no fitness for strain\(s\) \['blend-0005'\]"):
        evolve(pop, {k: v for k, v in flat.items() if k != "blend-0005"}, **kw)
    with pytest.raises(ValueError, match="finite"):
        evolve(pop, {**flat, "blend-0003": float("nan")}, **kw)
    with pytest.raises(ValueError, match="reuse a strain number"):
        evolve(pop, flat, **{**kw, "id_start": 3})


def test_selection_pressure_raises_the_rewarded_gene():
    g = gen(6)
    pop = initial_population(["blend"], 8, g)
    start = sum(s.genome.genes["mask_scale"] for s in pop) / len(pop)
    number = next_id_start(pop)
    for r in range(2, 12):
        pop = evolve(pop, fitness_of(pop), **SETTINGS, generator=g, next_round=r, id_start=number)
        number = next_id_start(pop)
    end = sum(s.genome.genes["mask_scale"] for s in pop) / len(pop)
    assert end > start + 0.1 and end > 1.2  # the range is [0.8, 1.3]


def test_strain_round_trip():
    pop = initial_population(["blend"], 3, gen(7))
    nxt = evolve(
        pop, fitness_of(pop), **dict(SETTINGS, size=3, elite=1), generator=gen(8), next_round=2, id_start=4
    )
    for strain in nxt:
        assert Strain.from_dict(json.loads(json.dumps(strain.to_dict()))) == strain
