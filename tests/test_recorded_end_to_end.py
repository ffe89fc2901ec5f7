"""End to end through real Ray: real methods replayed by release date, beside evolving strains
and alone (the chronological protocol: no evolving family at all).

A labelled faceset (16 identities, 2 photos each: one real, one labelled fake of method A or B;
built by tests/arena/labelled_helpers.py) as a folder world and the TINY overrides. Mixed: 3
rounds of 3 months from 2019-01, method A (released 2018-05) plays from round 1, method B
(2019-08) from round 3, beside 3 evolving blend strains. Alone: 2 rounds of 4 months, A from
round 1 and B from round 2, and nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import deepfake_arena.results
from tests.arena.labelled_helpers import labelled_faceset
from tests.conftest import QUICKSTART, TINY, arena_cli

pytestmark = pytest.mark.slow


def _run(tmp_path: Path, months_per_round: int, *extra: str) -> tuple[Path, dict[int, dict]]:
    """The TINY quickstart on the labelled faceset with every method by release date; returns
    the run folder and each round's population.json."""
    faceset = labelled_faceset(tmp_path)
    overrides = [
        *TINY,
        "world.kind=folder",
        f"world.path={faceset}",
        f"world.round_months={{start: 2019-01, months_per_round: {months_per_round}}}",
        "population.recorded={}",
        *extra,
    ]
    runs = tmp_path / "runs"
    proc = arena_cli("run", str(QUICKSTART), *overrides, "--name", "rec", "--runs-dir", str(runs))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rounds = sorted((runs / "rec" / "rounds").glob("r*/population.json"))
    return runs / "rec", {int(p.parent.name[1:]): json.loads(p.read_text()) for p in rounds}


def test_recorded_methods_play_from_their_release_round_and_never_change(tmp_path):
    run, pops = _run(tmp_path, 3)
    assert sorted(pops) == [1, 2, 3]
    recorded = {
        r: {s["id"]: s for s in pop["strains"] if s["genome"]["family"] == "recorded"}
        for r, pop in pops.items()
    }
    assert [sorted(s["method"] for s in recorded[r].values()) for r in (1, 2, 3)] == [
        ["A"],
        ["A"],
        ["A", "B"],
    ]
    (a_id,) = [k for k, s in recorded[1].items() if s["method"] == "A"]
    assert recorded[3][a_id]["genome"] == recorded[1][a_id]["genome"] and recorded[3][a_id]["born_round"] == 1
    assert sum(s["genome"]["family"] == "blend" for s in pops[3]["strains"]) == 3  # the evolving seats
    df = deepfake_arena.results.load(run)
    rec_rows = df[df.family == "recorded"]
    assert set(rec_rows[rec_rows.strain == a_id]["round"]) == {1, 2, 3}
    assert {"zero_day", "post"} <= set(rec_rows.phase) and rec_rows.value.notna().all()
    assert (rec_rows.method == rec_rows.strain.map(_methods(pops))).all()  # the strain's method
    assert df[df.family != "recorded"].method.isna().all()  # blend and pooled rows: none


def _methods(pops: dict[int, dict]) -> dict[str, str]:
    return {s["id"]: s["method"] for pop in pops.values() for s in pop["strains"] if "method" in s}


def test_recorded_methods_alone_run_in_release_order(tmp_path):
    alone = ["population.families=[]", "population.size=0", "population.elite=0"]
    run, pops = _run(tmp_path, 4, "rounds=2", *alone)
    assert sorted(pops) == [1, 2]
    assert [[s["method"] for s in pops[r]["strains"]] for r in (1, 2)] == [["A"], ["A", "B"]]
    assert pops[2]["strains"][0]["genome"] == pops[1]["strains"][0]["genome"]  # never evolves
    assert [s["method"] for s in pops[2]["next"]] == ["A", "B"]
    df = deepfake_arena.results.load(run)
    strains = df[~df.pooled & (df.metric == "auc")]
    assert set(strains.family) == {"recorded"} and set(strains.method) == {"A", "B"}
    b = strains[(strains.method == "B") & (strains.phase == "zero_day")]
    assert set(b["round"]) == {2}  # B met the deployed detectors only from its release round
    assert (strains.method == strains.strain.map(_methods(pops))).all()
