"""The strains alive in a round, and how the next round's strains descend from them.

Pure functions of (strains, fitness, generator): no I/O, no global state. Selection favours the
strains that evaded the deployed detectors best; ties are broken by strain id so a replay with
the same generator gives the same population whatever order the fitness dict was filled in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from deepfake_arena.generators.genome import Genome, crossover, default_genome, mutate, random_genome
from deepfake_arena.generators.registry import FAMILIES, gene_space


@dataclass
class Strain:
    """One generator strain: its genome and lineage. Ids read '<family>-<number>', e.g. blend-0007."""

    id: str
    genome: Genome
    parents: list[str] = field(default_factory=list)
    born_round: int = 1
    mutations: list[str] = field(default_factory=list)
    method: str | None = None  # a recorded strain's method (generators.recorded); None otherwise

    @property
    def family(self) -> str:
        return self.genome.family

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "genome": self.genome.to_dict(),
            "parents": list(self.parents),
            "born_round": self.born_round,
            "mutations": list(self.mutations),
        }
        if self.method is not None:
            out["method"] = self.method
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Strain:
        genome = Genome.from_dict(data["genome"], gene_space(data["genome"]["family"]))
        return cls(
            data["id"],
            genome,
            list(data["parents"]),
            int(data["born_round"]),
            list(data["mutations"]),
            data.get("method"),
        )


def evolves(family: str) -> bool:
    """Whether a family's strains evolve; a recorded method (deepfake_arena.generators.recorded) does not."""
    return bool(getattr(FAMILIES.get(family), "evolves", True))


def strain_id(family: str, number: int) -> str:
    return f"{family}-{number:04d}"


def next_id_start(strains: list[Strain]) -> int:
    """The first free strain number after those in `strains` (ids are numbered across families)."""
    return 1 + max((int(s.id.rsplit("-", 1)[1]) for s in strains), default=0)


def initial_population(
    families: list[str], size: int, generator: torch.Generator, round: int = 1
) -> list[Strain]:
    """`size` strains shared round-robin among `families`, numbered from 1.

    The first strain of each family carries the default genome (the textbook technique); the
    rest are uniform random genomes, so round 1 already spans the gene space. No families and
    size 0: no evolving strain (a run of recorded strains alone, :mod:`deepfake_arena.generators.recorded`).
    """
    if not families and size == 0:
        return []
    if not families or len(set(families)) != len(families):
        raise ValueError(f"families must be a non-empty list of distinct names, got {families}")
    if size < len(families):
        raise ValueError(f"size {size} is smaller than the number of families ({len(families)})")
    spaces = [gene_space(f) for f in families]
    strains: list[Strain] = []
    for i in range(size):
        space = spaces[i % len(families)]
        genome = default_genome(space) if i < len(families) else random_genome(space, generator)
        strains.append(Strain(strain_id(space.family, i + 1), genome, [], round, []))
    return strains


def _rank_key(fitness: dict[str, float]):
    return lambda s: (-fitness[s.id], s.id)


def _tournament(
    strains: list[Strain], fitness: dict[str, float], k: int, generator: torch.Generator
) -> Strain:
    """Best of k strains drawn uniformly with replacement (ties: smaller id)."""
    picks = torch.randint(len(strains), (k,), generator=generator, device=generator.device).tolist()
    return min((strains[i] for i in picks), key=_rank_key(fitness))


def evolve(
    strains: list[Strain],
    fitness: dict[str, float],
    *,
    size: int,
    elite: int,
    rate: float,
    scale: float,
    crossover_prob: float,
    tournament: int,
    generator: torch.Generator,
    next_round: int,
    id_start: int,
) -> list[Strain]:
    """Next population: the `elite` fittest unchanged, then children until there are `size`.

    Each child: a tournament winner; with probability `crossover_prob` crossed with a second
    tournament winner of the same family (when the family has another strain); then mutated.
    Children are numbered id_start, id_start + 1, ... and record their parents and mutated genes.
    Strains of a family that does not evolve (`recorded`) are kept as they are, after the others:
    they neither count towards `size` nor parent children. With no evolving strain and `size` 0
    (recorded strains alone) the next population is the fixed strains as they are.
    """
    fixed = [s for s in strains if not evolves(s.family)]
    strains = [s for s in strains if evolves(s.family)]
    if not strains and size == 0 and elite == 0:
        return fixed
    if not strains:
        raise ValueError(f"cannot evolve an empty population into {size} strains")
    missing = sorted(s.id for s in strains if s.id not in fitness)
    if missing:
        raise ValueError(f"no fitness for strain(s) {missing}")
    bad = sorted(s.id for s in strains if not math.isfinite(fitness[s.id]))
    if bad:
        raise ValueError(f"fitness must be finite; got NaN or inf for {bad}")
    if not 0 <= elite <= min(size, len(strains)) or tournament < 1 or not 0 <= crossover_prob <= 1:
        raise ValueError(
            f"need 0 <= elite <= min(size, population), tournament >= 1 and crossover_prob in [0, 1]; "
            f"got elite={elite}, size={size}, population={len(strains)}, tournament={tournament}, "
            f"crossover_prob={crossover_prob}"
        )
    if id_start < next_id_start(strains):
        raise ValueError(f"id_start {id_start} would reuse a strain number; use >= {next_id_start(strains)}")
    pool = sorted(strains, key=lambda s: s.id)  # draws index a canonical order, not the caller's
    ranked = sorted(pool, key=_rank_key(fitness))
    nxt = list(ranked[:elite])
    by_family: dict[str, list[Strain]] = {}
    for s in ranked:
        by_family.setdefault(s.family, []).append(s)
    number = id_start
    while len(nxt) < size:
        first = _tournament(pool, fitness, tournament, generator)
        space = gene_space(first.family)
        genome, parents = first.genome, [first.id]
        cross = float(torch.rand((), generator=generator, device=generator.device)) < crossover_prob
        kin = [s for s in by_family[first.family] if s.id != first.id]
        if cross and kin:
            second = _tournament(kin, fitness, tournament, generator)
            genome = crossover(first.genome, second.genome, space, generator)
            parents.append(second.id)
        genome, changed = mutate(genome, space, rate, scale, generator)
        nxt.append(Strain(strain_id(first.family, number), genome, parents, next_round, changed))
        number += 1
    return nxt + fixed


def innovate(family: str, count: int, generator: torch.Generator, round: int, id_start: int) -> list[Strain]:
    """`count` newborn strains of a family unlocking in `round` (innovation): the textbook genome
    first, then random genomes, numbered from `id_start`, with no parents."""
    if count < 1:
        raise ValueError(f"an innovation brings at least one strain, got {count}")
    space = gene_space(family)
    return [
        Strain(
            strain_id(family, id_start + k),
            default_genome(space) if k == 0 else random_genome(space, generator),
            [],
            round,
            [],
        )
        for k in range(count)
    ]


def sealed_strains(
    families: list[str],
    per_family: int,
    explicit: list[tuple[str, dict[str, Any]]],
    generator: torch.Generator,
) -> list[Strain]:
    """The vault: `per_family` strains per family (default genome, then random) and the explicit
    (family, gene overrides) genomes. Ids read 'vault-<family>-<nn>'; they never evolve."""
    strains: list[Strain] = []
    for family in families:
        space = gene_space(family)
        for k in range(per_family):
            genome = default_genome(space) if k == 0 else random_genome(space, generator)
            strains.append(Strain(f"vault-{family}-{len(strains) + 1:02d}", genome, [], 1, []))
    for family, genes in explicit:
        space = gene_space(family)
        genome = Genome(family, space.validate({**default_genome(space).genes, **genes}))
        strains.append(Strain(f"vault-{family}-{len(strains) + 1:02d}", genome, [], 1, []))
    return strains


@dataclass(frozen=True)
class Fitness:
    """evasion: mean of 1 - P(fake) over the strain's fakes, a fake below the quality floor
    counting 0 (a wrecked image is no evasion); raw: the same without the floor; above_floor: the
    share of fakes that passed; quality: in [0, 1], 1 when the strain's mean SSIM is at least the
    floor and its spectral distance to reals at most the ceiling, falling in proportion below /
    above them; value = evasion x quality (the selection criterion).

    Quality bounds evasion rather than competing with it: above the floors, a cleaner image earns
    nothing more, so selection pushes evasion instead of polishing quality.
    """

    evasion: float
    raw: float
    above_floor: float
    quality: float
    value: float


def _float64(values: Any) -> torch.Tensor:
    """A float64 copy of a tensor, array or list: arrays may be read-only views of Ray's store."""
    if isinstance(values, torch.Tensor):
        return values.detach().to(torch.float64, copy=True)
    return torch.tensor(np.asarray(values), dtype=torch.float64)


def strain_fitness(
    p_fake: Any,
    ssim: Any,
    psnr: Any,
    spectral: float,
    *,
    ssim_floor: float,
    psnr_floor: float,
    spectral_ceiling: float,
) -> Fitness:
    """Fitness of one strain from per-fake P(fake) (mean over the detectors), SSIM and PSNR (B,)
    outside the face, and the batch's spectral distance to real faces."""
    p = _float64(p_fake)
    ssim_t = _float64(ssim)
    ok = (ssim_t >= ssim_floor) & (_float64(psnr) >= psnr_floor)
    if p.ndim != 1 or p.shape != ok.shape or len(p) == 0:
        raise ValueError(
            f"need matching non-empty (B,) scores and qualities, got {tuple(p.shape)}, {tuple(ok.shape)}"
        )
    if not spectral_ceiling > 0 or spectral < 0:
        raise ValueError(f"need spectral_ceiling > 0 and spectral >= 0, got {spectral_ceiling}, {spectral}")
    evasion = float(((1 - p) * ok).mean())
    ssim_part = min(1.0, float(ssim_t.mean()) / ssim_floor) if ssim_floor > 0 else 1.0
    quality = ssim_part * min(1.0, spectral_ceiling / max(spectral, 1e-12))
    return Fitness(evasion, float((1 - p).mean()), float(ok.double().mean()), quality, evasion * quality)
