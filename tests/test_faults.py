"""Nothing is lost under faults (issue: scale and survive). Each test injects a fault into a real
run through Ray and checks that the final results table equals an uninterrupted run's."""

from __future__ import annotations

import json
import os
import shutil

import pandas as pd
import pytest

import deepfake_arena.results
from deepfake_arena.results import KEY
from deepfake_arena.store.ledger import committed_rounds
from deepfake_arena.store.lock import RunLock
from tests.conftest import QUICKSTART, TINY
from tests.conftest import arena_cli as _arena

pytestmark = pytest.mark.slow
TWO = [*TINY, "rounds=2"]


def _table(run_dir) -> pd.DataFrame:
    key = [k for k in KEY if k != "run"]
    return deepfake_arena.results.load(run_dir).drop(columns="run").sort_values(key).reset_index(drop=True)


def _same(run_dir, ref_dir) -> None:
    pd.testing.assert_frame_equal(_table(run_dir), _table(ref_dir), check_exact=True)
    assert not [p for p in (run_dir / "rounds").iterdir() if p.name.startswith(".tmp")]


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    runs = tmp_path_factory.mktemp("ref")
    proc = _arena("run", str(QUICKSTART), *TWO, "--name", "ref", "--runs-dir", str(runs))
    assert proc.returncode == 0, proc.stderr
    return runs / "ref"


@pytest.mark.parametrize("point", ["after_make", "before_rename", "after_rename", "mid_ledger"])
def test_driver_killed_at_each_commit_step_then_resumed(ref, tmp_path, point):
    proc = _arena(
        "run",
        str(QUICKSTART),
        *TWO,
        "--name",
        "f",
        "--runs-dir",
        str(tmp_path),
        env={"ARENA_FAULT": f"{point}:2"},
    )
    assert proc.returncode == 137, proc.stderr
    run = tmp_path / "f"
    assert committed_rounds(run).rounds == [1]
    res = _arena("resume", str(run))
    assert res.returncode == 0, res.stderr
    _same(run, ref)
    entries = [json.loads(line) for line in (run / "ledger.jsonl").read_text().splitlines()]
    assert [e["round"] for e in entries] == [1, 2], "exactly one ledger line per round"


def test_worker_processes_killed_mid_round(ref, tmp_path):
    markers = [tmp_path / "make.marker", tmp_path / "retrain.marker"]
    fault = f"make:2:{markers[0]},retrain:2:{markers[1]}"
    proc = _arena(
        "run",
        str(QUICKSTART),
        *TWO,
        "--name",
        "w",
        "--runs-dir",
        str(tmp_path),
        env={"ARENA_WORKER_FAULT": fault},
    )
    assert proc.returncode == 0, proc.stderr
    assert all(m.exists() for m in markers), "the injected worker deaths happened"
    _same(tmp_path / "w", ref)


def test_corruption_is_detected_and_replayed(ref, tmp_path):
    cases = {}
    for case in ("weights", "manifest", "ledger"):
        run = tmp_path / case
        shutil.copytree(ref, run)
        cases[case] = run
    weights = cases["weights"] / "rounds" / "r0002" / "detectors" / "meso4-finetune.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    manifest = cases["manifest"] / "rounds" / "r0002" / "manifest.json"
    data = bytearray(manifest.read_bytes())
    data[20] ^= 0x01
    manifest.write_bytes(bytes(data))
    with open(cases["ledger"] / "ledger.jsonl", "a") as fh:
        fh.write('{"round": 3, "manifest_sha')
    expect = {
        "weights": "meso4-finetune.safetensors does not match its sha256",
        "manifest": "manifest.json does not match its ledger hash",
        "ledger": "incomplete (torn write)",
    }
    for case, run in cases.items():
        res = _arena("resume", str(run))
        assert res.returncode == 0, res.stderr
        assert expect[case] in res.stdout, res.stdout
        _same(run, ref)


def test_disk_full_stops_with_3_and_resumes(ref, tmp_path):
    proc = _arena(
        "run",
        str(QUICKSTART),
        *TWO,
        "--name",
        "d",
        "--runs-dir",
        str(tmp_path),
        env={"ARENA_FAULT": "enospc:2"},
    )
    assert proc.returncode == 3, proc.stderr
    assert "disk full" in proc.stderr and f"arena resume {tmp_path / 'd'}" in proc.stderr
    assert committed_rounds(tmp_path / "d").rounds == [1]
    assert _arena("resume", str(tmp_path / "d")).returncode == 0
    _same(tmp_path / "d", ref)


def test_second_driver_is_refused_with_the_holder(ref, tmp_path):
    run = tmp_path / "locked"
    shutil.copytree(ref, run)
    with RunLock(run):
        res = _arena("resume", str(run))
    assert res.returncode == 1
    assert f"locked by pid {os.getpid()} on" in res.stderr


def test_changed_spec_on_resume_needs_force_and_branches(ref, tmp_path):
    run = tmp_path / "orig"
    shutil.copytree(ref, run)
    res = _arena("resume", str(run), "rounds=3")
    assert res.returncode == 1 and "pass --force" in res.stderr
    spec = run / "spec.resolved.json"
    spec.write_text(spec.read_text().replace('"bootstrap": 20', '"bootstrap": 21'))
    res = _arena("resume", str(run))
    assert res.returncode == 1 and "pass --force" in res.stderr, "a hand-edited spec is a changed spec"
    spec.write_text(spec.read_text().replace('"bootstrap": 21', '"bootstrap": 20'))
    res = _arena("resume", str(run), "rounds=3", "--force")
    assert res.returncode == 0, res.stderr
    branches = [p for p in tmp_path.iterdir() if p.name.startswith("orig-branch-")]
    assert len(branches) == 1
    df = deepfake_arena.results.load(branches[0])
    assert sorted(df["round"].unique()) == [1, 2, 3]
    pd.testing.assert_frame_equal(  # the shared rounds are the original's, untouched
        _table(branches[0]).query("round <= 2").reset_index(drop=True), _table(ref), check_exact=True
    )
    assert committed_rounds(run).rounds == [1, 2], "the original run is unchanged"


def test_topology_one_worker_equals_several(ref, tmp_path):
    proc = _arena(
        "run", str(QUICKSTART), *TWO, "--name", "one", "--runs-dir", str(tmp_path), "--num-cpus", "1"
    )
    assert proc.returncode == 0, proc.stderr
    _same(tmp_path / "one", ref)
