"""The contract every registered generator family meets (STYLE.md 9): one suite, parametrised
over `FAMILIES.names()`, so a newly registered family runs it without being listed here."""

from __future__ import annotations

import json

import pytest
import torch

import deepfake_arena.generators  # noqa: F401  (registers the families)
from deepfake_arena.faces import FaceBatch
from deepfake_arena.generators.genome import Genome, default_genome
from deepfake_arena.generators.population import Strain
from deepfake_arena.generators.registry import (
    FAMILIES,
    FakeBatch,
    StrainWeights,
    TrainBudget,
    describe,
    get_family,
)
from deepfake_arena.rounds.strain_work import from_payload, load_payload, save_payload, to_payload
from tests.generators.test_blend import faces

SIZE = 32
TINY = TrainBudget(steps=3, resolution=16, batch_size=4)
NAMES = FAMILIES.names()


@pytest.fixture(scope="module")
def pair() -> tuple[FaceBatch, FaceBatch]:
    return faces(3, seed=1, size=SIZE), faces(3, seed=2, size=SIZE)


def busy(name: str) -> Genome:
    """The default genome with the stages that draw randomness switched on (those the family
    has: a recorded family aligns nothing, so it has no align_jitter)."""
    space = FAMILIES.get(name).gene_space
    busy_genes = {"align_jitter": 1.0, "noise_std": 0.02, "spectral_match": 0.5}
    return Genome(
        name, {**default_genome(space).genes, **{k: v for k, v in busy_genes.items() if k in space.names}}
    )


@pytest.fixture(scope="module")
def trained(pair) -> dict[str, StrainWeights | None]:
    """Tiny trained weights of every learning family (None for the others)."""
    source, target = pair
    both = FaceBatch(
        torch.cat([source.images, target.images]),
        torch.cat([source.landmarks, target.landmarks]),
        torch.cat([source.identity, target.identity]),
        torch.cat([source.source, target.source]),
    )
    out: dict[str, StrainWeights | None] = {}
    for name in NAMES:
        family = get_family(name)
        out[name] = (
            family.prepare(both, busy(name), torch.Generator().manual_seed(0), TINY)
            if family.learns
            else None
        )
    return out


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", NAMES)
def test_shape_range_dtype(name, pair, trained):
    family = get_family(name)
    assert family.name == name and family.gene_space.family == name
    out = family.make(*pair, busy(name), gen(0), weights=trained[name])
    assert isinstance(out, FakeBatch) and len(out) == 3
    assert out.images.shape == (3, 3, SIZE, SIZE) and out.images.dtype == torch.float32
    assert out.masks.shape == (3, 1, SIZE, SIZE)
    assert float(out.images.min()) >= 0 and float(out.images.max()) <= 1
    assert float(out.masks.min()) >= 0 and float(out.masks.max()) <= 1
    assert out.genome == busy(name)
    assert describe(busy(name)).startswith(f"{name}: ")


@pytest.mark.parametrize("name", NAMES)
def test_seeded_determinism(name, pair, trained):
    family = get_family(name)
    a = family.make(*pair, busy(name), gen(7), weights=trained[name]).images
    assert torch.equal(a, family.make(*pair, busy(name), gen(7), weights=trained[name]).images)
    assert not torch.equal(a, family.make(*pair, busy(name), gen(8), weights=trained[name]).images)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_rejected(name, pair, trained):
    source, target = pair
    family, w = get_family(name), trained[name]
    with pytest.raises(ValueError, match="pair up one to one"):
        family.make(source.index(slice(0, 2)), target, busy(name), gen(0), weights=w)
    with pytest.raises(ValueError, match="same size"):
        family.make(faces(3, seed=3, size=48), target, busy(name), gen(0), weights=w)
    with pytest.raises(ValueError, match=f"'{name}' genome"):
        family.make(source, target, Genome("other", {}), gen(0), weights=w)
    bad_gene = next(s for s in family.gene_space if s.kind == "float")
    genes = {**busy(name).genes, bad_gene.name: float(bad_gene.bounds[1]) + 1}
    with pytest.raises(ValueError, match=f"'{bad_gene.name}'"):
        family.make(source, target, Genome(name, genes), gen(0), weights=w)
    if family.learns:
        with pytest.raises(ValueError, match="weights"):
            family.make(source, target, busy(name), gen(0), weights=None)
    else:
        with pytest.raises(ValueError, match="no trained weights"):
            family.make(source, target, busy(name), gen(0), weights=StrainWeights({}))


@pytest.mark.parametrize("name", NAMES)
def test_identical_after_strain_round_trip(name, pair, trained, tmp_path):
    """Genome through JSON and weights through a safetensors file give the very same fakes."""
    strain = Strain(f"{name}-0001", busy(name), [], 1, [])
    before = get_family(name).make(*pair, strain.genome, gen(3), weights=trained[name]).images
    back = Strain.from_dict(json.loads(json.dumps(strain.to_dict())))
    weights = None
    if trained[name] is not None:
        save_payload(tmp_path / f"{strain.id}.safetensors", to_payload(trained[name]))
        weights = from_payload(load_payload(tmp_path / f"{strain.id}.safetensors"))
    after = get_family(back.family).make(*pair, back.genome, gen(3), weights=weights).images
    assert back == strain and torch.equal(before, after)


def test_every_family_carries_the_evasion_genes():
    for name in NAMES:
        names = FAMILIES.get(name).gene_space.names
        assert {"spectral_match", "evasion", "evasion_budget", "evasion_steps"} <= set(names), name
