import json

import pytest
import torch

import deepfake_arena.generators  # noqa: F401  (registers the families)
from deepfake_arena.generators.genome import (
    GeneSpace,
    GeneSpec,
    Genome,
    crossover,
    default_genome,
    mutate,
    random_genome,
)
from deepfake_arena.generators.registry import gene_space

SPACE = gene_space("blend")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_validation_errors_name_the_gene_and_the_range():
    genes = dict(default_genome(SPACE).genes)
    with pytest.raises(ValueError, match=r"'mask_scale' must be a float in \[0.8, 1.3\], got 5"):
        SPACE.validate({**genes, "mask_scale": 5})
    with pytest.raises(ValueError, match=r"'mask_shape' must be one of 'ellipse', 'hull'"):
        SPACE.validate({**genes, "mask_shape": "circle"})
    with pytest.raises(ValueError, match="'jpeg_quality' must be an int"):
        SPACE.validate({**genes, "jpeg_quality": 80.5})
    with pytest.raises(ValueError, match="'noise_std'"):
        SPACE.validate({**genes, "noise_std": True})
    with pytest.raises(ValueError, match=r"unknown gene\(s\) \['colour'\].*valid genes: align_jitter"):
        SPACE.validate({**genes, "colour": 1.0})
    genes.pop("resize")
    with pytest.raises(ValueError, match=r"missing gene\(s\) \['resize'\]"):
        SPACE.validate(genes)
    with pytest.raises(ValueError, match="'x'.*low < high"):
        GeneSpec("x", "float", 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="'x' must be a float in"):
        GeneSpec("x", "float", 2.0, 0.0, 1.0)


def test_default_and_random_genomes_are_valid_and_seeded():
    assert SPACE.validate(default_genome(SPACE).genes) == dict(default_genome(SPACE).genes)
    a, b = random_genome(SPACE, gen(0)), random_genome(SPACE, gen(0))
    assert a == b and a != random_genome(SPACE, gen(1))
    assert SPACE.validate(a.genes) == dict(a.genes)
    with pytest.raises(TypeError):
        a.genes["mask_scale"] = 1.0  # genomes are read-only


def test_mutate_rate_zero_and_one():
    base = default_genome(SPACE)
    same, changed = mutate(base, SPACE, 0.0, 0.2, gen(0))
    assert same == base and changed == []
    new, changed = mutate(base, SPACE, 1.0, 0.2, gen(0))
    numeric = [s.name for s in SPACE if s.kind != "choice"]
    assert set(numeric) <= set(changed)  # a gene at a bound (resize 1.0) is reflected, not stuck
    assert set(changed) == {n for n in SPACE.names if new.genes[n] != base.genes[n]}
    for s in SPACE:
        if s.kind == "choice":
            assert new.genes[s.name] != base.genes[s.name]  # resampled among the *other* choices


def test_mutate_respects_bounds_rate_and_seed():
    genome, counts = default_genome(SPACE), []
    g = gen(3)
    for _ in range(200):
        genome, changed = mutate(genome, SPACE, 0.25, 1.0, g)  # huge steps hit the bounds often
        SPACE.validate(genome.genes)
        assert isinstance(genome.genes["pyramid_levels"], int)
        counts.append(len(changed))
    mean_rate = sum(counts) / (len(counts) * len(SPACE.names))
    assert 0.17 < mean_rate < 0.33
    assert mutate(genome, SPACE, 0.5, 0.1, gen(9)) == mutate(genome, SPACE, 0.5, 0.1, gen(9))
    with pytest.raises(ValueError, match="rate"):
        mutate(genome, SPACE, 1.5, 0.1, gen(0))


def test_crossover_mixes_genes_of_one_family_only():
    a, b = random_genome(SPACE, gen(1)), random_genome(SPACE, gen(2))
    child = crossover(a, b, SPACE, gen(5))
    assert child == crossover(a, b, SPACE, gen(5))
    assert all(child.genes[n] in (a.genes[n], b.genes[n]) for n in SPACE.names)
    assert any(child.genes[n] != a.genes[n] for n in SPACE.names)
    assert any(child.genes[n] != b.genes[n] for n in SPACE.names)
    other = GeneSpace("other", (GeneSpec("k", "int", 1, 0, 3),))
    with pytest.raises(ValueError, match="'blend' and 'other'"):
        crossover(a, default_genome(other), SPACE, gen(0))


def test_dict_round_trip_and_describe():
    genome = random_genome(SPACE, gen(4))
    data = json.loads(json.dumps(genome.to_dict()))
    assert Genome.from_dict(data) == genome
    assert Genome.from_dict(data, SPACE) == genome
    with pytest.raises(ValueError, match="'mask_scale'"):
        Genome.from_dict({"family": "blend", "genes": {**data["genes"], "mask_scale": 9.0}}, SPACE)
    with pytest.raises(ValueError, match="exactly the keys"):
        Genome.from_dict({"genes": {}})

    text = default_genome(SPACE).describe(SPACE)
    assert text.startswith("blend: ellipse mask, x1.00") and "feather 2.0px" in text and "LAB 0.80" in text
    assert "jpeg" not in text and "blur" not in text  # off stages stay quiet
    on = Genome("blend", {**default_genome(SPACE).genes, "jpeg": "on", "jpeg_quality": 82})
    assert on.describe(SPACE).endswith("jpeg, q82")


def test_a_genome_saved_before_later_genes_existed_reads_back_with_them_off():
    old = dict(default_genome(SPACE).genes)
    for name in ("extractor_attack", "extractor_budget", "extractor_steps"):
        assert SPACE[name].added_later
        old.pop(name)
    old["mask_scale"] = 1.1
    back = Genome.from_dict({"family": "blend", "genes": old}, SPACE)
    assert back.genes["extractor_attack"] == "off" and back.genes["mask_scale"] == 1.1
    old.pop("resize")  # a gene that was always there is still required
    with pytest.raises(ValueError, match=r"missing gene\(s\) \['resize'\]"):
        Genome.from_dict({"family": "blend", "genes": old}, SPACE)
