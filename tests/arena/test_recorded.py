"""Recorded methods: a labelled folder world serves reals without its fakes and each method's
fakes from the split being made; methods enter by innovation or by release date; the evolution
keeps recorded strains as they are; a bad spec fails before Ray starts, one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfake_arena.errors import SpecError
from deepfake_arena.generators.genome import default_genome
from deepfake_arena.generators.population import Strain, evolve, initial_population
from deepfake_arena.generators.registry import gene_space
from deepfake_arena.rounds.generator_side import innovations, population_size
from deepfake_arena.spec import load_spec
from deepfake_arena.world.faceset import Faceset
from deepfake_arena.world.pools import World
from deepfake_arena.world.recorded import entry_round, month_of, recorded_methods
from tests.arena.labelled_helpers import labelled_faceset
from tests.conftest import QUICKSTART, TINY


@pytest.fixture(scope="module")
def faceset(tmp_path_factory):
    return labelled_faceset(tmp_path_factory.mktemp("labelled"))


def _spec(faceset, *extra):
    return load_spec(QUICKSTART, [*TINY, "world.kind=folder", f"world.path={faceset}", *extra])[0]


def test_release_months_map_to_rounds():
    assert month_of("2019-01") == month_of("2019-01-31") == 2019 * 12
    assert entry_round("2018-05-01", "2019-01", 3) == 1  # already out when the run starts
    assert entry_round("2019-03-31", "2019-01", 3) == 1
    assert entry_round("2019-04-01", "2019-01", 3) == 2
    assert entry_round("2019-08-15", "2019-01", 3) == 3
    for bad in ("2019", "2019-13", "19-01-01", "2019/01"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            month_of(bad)


def test_the_labelled_world_keeps_fakes_out_of_the_reals_and_splits_them_by_identity(faceset):
    spec = _spec(faceset)
    world = World(spec.world, spec.seed)
    index = Faceset(faceset, ("identity", "source", "file")).index
    source_names = np.unique(index["source"].to_numpy(dtype=str))
    seen: dict[str, set[str]] = {}
    for split in ("train", "eval", "vault"):
        ids = set(world.renderer.splits[split].tolist())
        if split != "vault":  # the vault's 2 identities make no pairs; its reals are drawn alike
            reals = world.reals(split, 40, torch.Generator().manual_seed(1))
            names = source_names[reals.source.numpy()]
            assert all(n.endswith("_0.png") for n in names)  # every real is a row labelled real
            assert set(reals.identity.tolist()) <= ids
        for method in ("A", "B"):
            try:
                fakes = world.recorded(split, method, 30, torch.Generator().manual_seed(2))
            except Exception:
                assert split == "vault"
                continue
            names = source_names[fakes.source.numpy()]
            assert all(n.endswith("_1.png") for n in names)
            assert all(int(n.split("/")[0]) % 2 == (method == "A") for n in names)  # A: odd ids
            assert set(fakes.identity.tolist()) <= ids
            assert fakes.images.shape == (30, 3, 32, 32)
            seen.setdefault(split, set()).update(names)
    assert seen["train"].isdisjoint(seen["eval"])  # clips never cross splits


def test_methods_enter_by_release_date_or_by_innovation(faceset):
    assert recorded_methods(faceset) == {"A": "2018-05-01", "B": "2019-08-15"}
    spec = _spec(
        faceset, "world.round_months={start: 2019-01, months_per_round: 3}", "population.recorded={}"
    )
    first = innovations(spec, 1, 10)
    assert [(s["id"], s["method"], s["genome"]["family"]) for s in first] == [
        ("recorded-0010", "A", "recorded")
    ]
    assert innovations(spec, 2, 11) == []
    assert [s["method"] for s in innovations(spec, 3, 11)] == ["B"]
    assert population_size(spec, 3) == spec.population.size  # recorded strains play besides them
    early = _spec(
        faceset,
        "world.round_months={start: 2019-01, months_per_round: 3}",
        "population.recorded={methods: [B]}",
        "population.innovation=[{family: recorded, method: B, round: 2}]",
    )
    assert [s["method"] for r in (1, 2, 3) for s in innovations(early, r, 10)] == ["B"]
    assert [s["born_round"] for s in innovations(early, 2, 10)] == [2]


def test_evolution_keeps_recorded_strains_as_they_are():
    blend = gene_space("blend")
    strains = [Strain(f"blend-{i:04d}", default_genome(blend), [], 1, []) for i in (1, 2, 3)]
    rec = Strain("recorded-0004", default_genome(gene_space("recorded")), [], 1, [], "A")
    fitness = {"blend-0001": 0.1, "blend-0002": 0.2, "blend-0003": 0.3, "recorded-0004": 0.9}
    nxt = evolve(
        [*strains, rec], fitness, size=3, elite=1, rate=1.0, scale=0.5, crossover_prob=1.0,
        tournament=3, generator=torch.Generator().manual_seed(0), next_round=2, id_start=5,
    )  # fmt: skip
    assert len(nxt) == 4 and nxt[-1] == rec  # the fittest, yet no parent and never mutated
    assert all(s.family == "blend" and "recorded-0004" not in s.parents for s in nxt[:3])
    assert Strain.from_dict(rec.to_dict()) == rec and rec.to_dict()["method"] == "A"
    assert "method" not in strains[0].to_dict()  # other strains' records stay as they were


def test_recorded_strains_alone_pass_through_the_evolution_unchanged():
    genome = default_genome(gene_space("recorded"))
    rec = [Strain(f"recorded-{i:04d}", genome, [], 1, [], m) for i, m in ((1, "A"), (2, "B"))]
    kw = dict(rate=1.0, scale=0.5, crossover_prob=1.0, tournament=2, next_round=2, id_start=3)
    nxt = evolve(rec, {}, size=0, elite=0, generator=torch.Generator().manual_seed(0), **kw)
    assert nxt == rec  # no fitness needed: nothing is selected
    with pytest.raises(ValueError, match="cannot evolve an empty population into 2 strains"):
        evolve(rec, {}, size=2, elite=0, generator=torch.Generator().manual_seed(0), **kw)
    assert initial_population([], 0, torch.Generator()) == []


def test_a_population_of_recorded_strains_alone(faceset):
    alone = ["population.families=[]", "population.size=0", "population.elite=0"]
    by_date = ["world.round_months={start: 2019-01, months_per_round: 4}", "population.recorded={}"]
    spec = _spec(faceset, *alone, *by_date)
    assert population_size(spec, 1) == 0 and [s["method"] for s in innovations(spec, 1, 1)] == ["A"]
    with pytest.raises(SpecError, match="no strain plays round 1 .the first arrives in round 4."):
        _spec(faceset, *alone, "population.innovation=[{family: recorded, method: A, round: 4}]")
    with pytest.raises(SpecError, match="no strain plays round 1 .the first arrives in no round"):
        _spec(faceset, *alone)
    with pytest.raises(SpecError, match="families: \\[\\] and size: 0"):
        _spec(faceset, "population.families=[]", "population.elite=0")
    with pytest.raises(SpecError, match="without evolving strains set elite: 0"):
        _spec(faceset, "population.families=[]", "population.size=0")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["population.innovation=[{family: recorded, round: 2}]"], "innovation.0.method: a recorded strain"),
        (
            ["population.innovation=[{family: recorded, method: C, round: 2}]"],
            "no fakes of 'C'; valid choices: A, B",
        ),
        (["population.innovation=[{family: blend, method: A, round: 2}]"], "only the recorded family serves"),
        (["population.innovation=[{family: recorded, method: A, round: 2, strains: 2}]"], "as one strain"),
        (["population.families=[blend, recorded]"], "population.families: recorded strains enter through"),
        (
            ["population.recorded={}"],
            "world.round_months: population.recorded enters methods by release date",
        ),
        (["world.round_months={start: 2019-1}"], "world.round_months.start"),
    ],
)
def test_bad_recorded_specs_fail_in_one_line(faceset, extra, message):
    with pytest.raises(SpecError, match=message) as err:
        _spec(faceset, *extra)
    assert "\n" not in str(err.value)


def test_recorded_strains_need_a_labelled_folder_world():
    with pytest.raises(SpecError, match="recorded strains need world.kind: folder on a labelled faceset"):
        load_spec(QUICKSTART, ["population.innovation=[{family: recorded, method: A, round: 2}]"])


def test_a_bad_release_date_in_the_faceset_fails_in_one_line(tmp_path):
    from tests.arena.labelled_helpers import add_labels

    faceset = labelled_faceset(tmp_path, identities=4)
    add_labels(
        faceset, lambda row: (1, "A", "May 2018") if row["file"].endswith("_1.png") else (0, None, None)
    )
    with pytest.raises(
        SpecError, match="world.path: faceset .*method 'A': released 'May 2018' is not a date"
    ):
        load_spec(
            QUICKSTART,
            ["world.kind=folder", f"world.path={faceset}", "world.identities={train: 2, eval: 2, vault: 0}",
             "world.round_months={start: 2019-01}", "population.recorded={}"],
        )  # fmt: skip
