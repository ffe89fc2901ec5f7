"""End to end through real Ray: real methods replayed by release date beside evolving strains.

A labelled faceset (16 identities, 2 photos each: one real, one labelled fake of method A or B;
built by tests/arena/labelled_helpers.py) as a folder world, the TINY overrides, 3 rounds of 3
months from 2019-01: method A (released 2018-05) plays from round 1, method B (2019-08) from
round 3, beside 3 evolving blend strains.
"""

from __future__ import annotations

import json

import pytest

import deepfake_arena.results
from tests.arena.labelled_helpers import labelled_faceset
from tests.conftest import QUICKSTART, TINY, arena_cli

pytestmark = pytest.mark.slow


def test_recorded_methods_play_from_their_release_round_and_never_change(tmp_path):
    faceset = labelled_faceset(tmp_path)
    overrides = [
        *TINY,
        "world.kind=folder",
        f"world.path={faceset}",
        "world.round_months={start: 2019-01, months_per_round: 3}",
        "population.recorded={}",
    ]
    proc = arena_cli(
        "run", str(QUICKSTART), *overrides, "--name", "rec", "--runs-dir", str(tmp_path / "runs")
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = tmp_path / "runs" / "rec"
    pops = {r: json.loads((run / "rounds" / f"r{r:04d}" / "population.json").read_text()) for r in (1, 2, 3)}
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
