"""Replicates and sweeps: members run concurrently in one driver, each its own run, and a
member gives exactly the rows it gives when run alone."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from deepfake_arena import results
from deepfake_arena.errors import SpecError
from deepfake_arena.results import KEY
from deepfake_arena.rounds.sweep import expand
from tests.conftest import QUICKSTART, REPO, TINY


def _raw(**extra):
    raw = yaml.safe_load(QUICKSTART.read_text())
    raw.update(extra)
    return raw


def test_expand_seeds_and_grid():
    members = expand(_raw(seeds=[3, 4], sweep={"detectors.0.strategy": ["finetune", "scratch"]}))
    assert [m.name for m in members] == [
        "seed3__detectors.0.strategy=finetune",
        "seed3__detectors.0.strategy=scratch",
        "seed4__detectors.0.strategy=finetune",
        "seed4__detectors.0.strategy=scratch",
    ]
    assert [(m.spec.seed, m.spec.detectors[0].strategy) for m in members][1] == (3, "scratch")
    assert all(m.spec.seeds is None and not m.spec.sweep for m in members)


def test_bad_sweep_key_fails_before_anything_starts():
    with pytest.raises(SpecError, match="sweep member .*population.sizee: unknown key"):
        expand(_raw(sweep={"population.sizee": [8]}))
    with pytest.raises(SpecError, match="non-empty lists"):
        expand(_raw(sweep={"population.size": []}))


@pytest.mark.slow
def test_two_seed_sweep_runs_concurrently_and_loads_with_member_columns(tmp_path):
    overrides = [o for o in TINY if not o.startswith("rounds=")] + ["rounds=2", "seeds=[0, 5]"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "deepfake_arena.cli",
            "run",
            str(QUICKSTART),
            *overrides,
            "--name",
            "sw",
            "--runs-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    sweep = tmp_path / "sw"
    assert json.loads((sweep / "sweep.json").read_text())["members"][1]["name"] == "seed5"
    assert "seed0 [round 1/2] make" in proc.stdout and "seed5 [round 1/2] make" in proc.stdout
    # Each member draws its final plots in its own thread as soon as its rounds are done.
    assert proc.stdout.count("cat-and-mouse plot:") == 2
    for m in ("seed0", "seed5"):
        assert (sweep / m / "report" / "cat_and_mouse_auc.png").stat().st_size > 0
        assert (sweep / m / "report" / "heatmap_auc.png").stat().st_size > 0
    df = results.load(sweep)
    assert set(df.member) == {"seed0", "seed5"} and set(df.seed) == {0, 5}
    assert not df.duplicated(["member", *KEY]).any()
    # A member equals the same run made alone.
    alone = subprocess.run(
        [
            sys.executable,
            "-m",
            "deepfake_arena.cli",
            "run",
            str(QUICKSTART),
            *overrides[:-1],
            "seed=5",
            "--name",
            "a",
            "--runs-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert alone.returncode == 0, alone.stderr
    key = [k for k in KEY if k != "run"]
    member = df[df.member == "seed5"].drop(columns=["member", "run"]).sort_values(key).reset_index(drop=True)
    single = results.load(tmp_path / "a").drop(columns="run").sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(member, single, check_exact=True)
    st = subprocess.run(
        [sys.executable, "-m", "deepfake_arena.cli", "status", str(sweep)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert st.stdout.count("committed: round 2 of 2") == 2


@pytest.mark.parametrize("seeds", [1, "0,1", [0, "1"], [True]])
def test_seeds_that_are_not_a_list_of_integers_are_one_line(seeds):
    """Found by the fuzz test: `seeds: 1` ended in a TypeError traceback."""
    from deepfake_arena.errors import SpecError
    from deepfake_arena.rounds.sweep import expand

    with pytest.raises(SpecError, match="seeds: must be a list of integers"):
        expand({"seeds": seeds, "detectors": [{"name": "d"}]})
