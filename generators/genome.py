"""Genes of a generator strain: the typed space they live in, and mutation and crossover.

A `GeneSpace` is a family's typed config: every stage parameter with its bounds and default.
A `Genome` is one point in it. Variation operators draw all randomness from the
`torch.Generator` they are given, a fixed number of draws per gene, so a run replays exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch

GeneValue = float | int | str
KINDS = ("float", "int", "choice")


@dataclass(frozen=True)
class GeneSpec:
    """One gene: a float or int in [low, high], or one of `choices`.

    `fmt` renders the value for `Genome.describe` (str.format with the value); `show_if` names
    another gene and the value (or a tuple of values) it must have for this one to matter (e.g.
    JPEG quality only when JPEG is on), and `hide_at` a value at which the gene is a no-op and
    goes unmentioned, so descriptions stay short. `added_later` marks a gene added after runs
    were already saved: a saved genome without it reads back with its default, which must be the
    behaviour from before the gene existed (a no-op), so old runs resume unchanged.
    """

    name: str
    kind: str
    default: GeneValue
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    fmt: str = ""
    show_if: tuple[str, GeneValue | tuple[GeneValue, ...]] | None = None
    hide_at: GeneValue | None = None
    added_later: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"gene {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "choice":
            if len(self.choices) < 2 or len(set(self.choices)) != len(self.choices):
                raise ValueError(f"gene {self.name!r}: a choice gene needs >= 2 distinct choices")
        elif self.low is None or self.high is None or not self.low < self.high:
            raise ValueError(f"gene {self.name!r}: a {self.kind} gene needs low < high")
        self.check(self.default)

    @property
    def bounds(self) -> tuple[float, float]:
        if self.low is None or self.high is None:
            raise TypeError(f"gene {self.name!r} is a choice gene and has no bounds")
        return float(self.low), float(self.high)

    def describe_range(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return f"a{'n' if self.kind == 'int' else ''} {self.kind} in [{self.low:g}, {self.high:g}]"

    def check(self, value: Any) -> GeneValue:
        """Return the value in its canonical type, or raise naming the gene and its valid range."""
        bad = ValueError(f"gene {self.name!r} must be {self.describe_range()}, got {value!r}")
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise bad
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        if self.kind == "int" and not float(value).is_integer():
            raise bad
        low, high = self.bounds
        if not math.isfinite(value) or not low <= value <= high:
            raise bad
        return int(value) if self.kind == "int" else float(value)


@dataclass(frozen=True)
class GeneSpace:
    """The ordered genes of one family, validated at the boundary."""

    family: str
    specs: tuple[GeneSpec, ...]

    def __post_init__(self) -> None:
        names = [s.name for s in self.specs]
        if len(set(names)) != len(names):
            raise ValueError(f"gene space {self.family!r} has duplicate gene names: {names}")

    def __iter__(self) -> Iterator[GeneSpec]:
        return iter(self.specs)

    def __getitem__(self, name: str) -> GeneSpec:
        for spec in self.specs:
            if spec.name == name:
                return spec
        raise KeyError(f"{self.family!r} has no gene {name!r}; genes: {', '.join(self.names)}")

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def validate(self, genes: Mapping[str, Any]) -> dict[str, GeneValue]:
        """Check a genes mapping: no unknown or missing names, every value in range."""
        unknown = sorted(set(genes) - set(self.names))
        if unknown:
            raise ValueError(
                f"unknown gene(s) {unknown} for family {self.family!r}; valid genes: {', '.join(self.names)}"
            )
        missing = [n for n in self.names if n not in genes]
        if missing:
            raise ValueError(f"missing gene(s) {missing} for family {self.family!r}")
        return {s.name: s.check(genes[s.name]) for s in self.specs}


@dataclass(frozen=True)
class Genome:
    """A family name and its genes (read-only mapping, in the space's order)."""

    family: str
    genes: Mapping[str, GeneValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "genes", MappingProxyType(dict(self.genes)))

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "genes": dict(self.genes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], space: GeneSpace | None = None) -> Genome:
        """Inverse of `to_dict`; with `space`, the genes are validated against it."""
        if set(data) != {"family", "genes"} or not isinstance(data["genes"], Mapping):
            raise ValueError(
                f"a genome dict has exactly the keys 'family' and 'genes' (a mapping), got {sorted(data)}"
            )
        genes = dict(data["genes"])
        if space is not None:
            if space.family != data["family"]:
                raise ValueError(f"genome of family {data['family']!r} given the {space.family!r} gene space")
            # A genome saved before a gene existed: that gene takes its (no-op) default.
            genes |= {g.name: g.default for g in space if g.added_later and g.name not in genes}
            genes = space.validate(genes)
        return cls(str(data["family"]), genes)

    def describe(self, space: GeneSpace | None = None) -> str:
        """Short human string, e.g. 'blend: ellipse mask x1.08, feather 3.1px, LAB 0.8, ...'."""
        if space is None:  # without its gene space: the raw genes (registry.describe looks it up)
            return f"{self.family}: " + ", ".join(f"{k} {v}" for k, v in self.genes.items())
        parts = []
        for spec in space:
            if spec.name not in self.genes:
                continue
            if spec.show_if is not None:
                want = spec.show_if[1]
                wanted = want if isinstance(want, tuple) else (want,)
                if self.genes.get(spec.show_if[0]) not in wanted:
                    continue
            if spec.hide_at is not None and self.genes[spec.name] == spec.hide_at:
                continue
            parts.append((spec.fmt or spec.name + " {}").format(self.genes[spec.name]))
        return f"{self.family}: " + ", ".join(parts)


def _uniform(generator: torch.Generator) -> float:
    return float(torch.rand((), generator=generator, device=generator.device))


def _normal(generator: torch.Generator) -> float:
    return float(torch.randn((), generator=generator, device=generator.device))


def default_genome(space: GeneSpace) -> Genome:
    return Genome(space.family, {s.name: s.default for s in space})


def random_genome(space: GeneSpace, generator: torch.Generator) -> Genome:
    """Each gene uniform over its range or choices."""
    genes: dict[str, GeneValue] = {}
    for s in space:
        u = _uniform(generator)
        if s.kind == "choice":
            genes[s.name] = s.choices[min(int(u * len(s.choices)), len(s.choices) - 1)]
            continue
        low, high = s.bounds
        if s.kind == "int":
            genes[s.name] = min(int(low + u * (high - low + 1)), int(high))
        else:
            genes[s.name] = low + u * (high - low)
    return Genome(space.family, genes)


def _step(spec: GeneSpec, value: float, z: float, scale: float) -> GeneValue:
    """Gaussian step, reflected off the bounds then clipped.

    Plain clipping would pile mass on the bounds and leave a gene sitting at a bound unchanged
    half the time; the reflection keeps the move inside the range.
    """
    low, high = spec.bounds
    step = z * scale * (high - low)
    if spec.kind == "int" and round(step) == 0:
        step = 1.0 if z >= 0 else -1.0  # a mutated int gene moves by at least one
    new = value + step
    if new > high:
        new = 2 * high - new
    if new < low:
        new = 2 * low - new
    new = min(max(new, low), high)
    return int(round(new)) if spec.kind == "int" else new


def mutate(
    genome: Genome, space: GeneSpace, rate: float, scale: float, generator: torch.Generator
) -> tuple[Genome, list[str]]:
    """Mutate each gene with probability `rate`; return the new genome and the genes changed.

    Numbers take a Gaussian step of std `scale * (high - low)`; a choice is resampled among the
    other choices. Every gene consumes the same three draws whether it mutates or not, so one
    gene's outcome never shifts the random stream of the next.
    """
    if not 0 <= rate <= 1 or scale < 0:
        raise ValueError(
            f"mutation rate must lie in [0, 1] and scale be >= 0, got rate={rate}, scale={scale}"
        )
    genes = space.validate(genome.genes)
    changed: list[str] = []
    for s in space:
        u, z, c = _uniform(generator), _normal(generator), _uniform(generator)
        if u >= rate:
            continue
        old = genes[s.name]
        if s.kind == "choice":
            others = [x for x in s.choices if x != old]
            new: GeneValue = others[min(int(c * len(others)), len(others) - 1)]
        else:
            new = _step(s, float(old), z, scale)
        if new != old:
            genes[s.name] = new
            changed.append(s.name)
    return Genome(genome.family, genes), changed


def crossover(a: Genome, b: Genome, space: GeneSpace, generator: torch.Generator) -> Genome:
    """Uniform crossover: each gene from `a` or `b` with equal odds. Same family only."""
    if a.family != b.family or a.family != space.family:
        raise ValueError(
            f"crossover needs two genomes of the space's family {space.family!r}, "
            f"got {a.family!r} and {b.family!r}"
        )
    ga, gb = space.validate(a.genes), space.validate(b.genes)
    return Genome(a.family, {s.name: ga[s.name] if _uniform(generator) < 0.5 else gb[s.name] for s in space})
