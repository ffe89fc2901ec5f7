"""End to end through real Ray and the real `arena` command: rows, plots, kill and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from deepfake_arena import results
from deepfake_arena.results import ALL, KEY
from tests.conftest import QUICKSTART, REPO, TINY
from tests.conftest import arena_cli as _arena

pytestmark = pytest.mark.slow
METRICS = 8


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    proc = _arena("run", str(QUICKSTART), *TINY, "--name", "ref", "--runs-dir", str(runs))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return runs / "ref", proc


def _without_run(df: pd.DataFrame) -> pd.DataFrame:
    key = [k for k in KEY if k != "run"]
    return df.drop(columns="run").sort_values(key).reset_index(drop=True)


def test_rows_are_exactly_the_expected_ones(reference_run):
    run_dir, proc = reference_run
    df = results.load(run_dir)
    assert not df.duplicated(KEY).any(), "duplicate result keys"
    pop = {r: arena_population(run_dir, r) for r in (1, 2, 3)}
    expected = set()
    for r in (1, 2, 3):
        for det in ("meso4-finetune", "meso4-frozen"):
            phases = [("post", r)] + [("past", j) for j in range(1, r)] + ([("zero_day", r)] if r > 1 else [])
            for phase, gen in phases:
                for strain in [*pop[gen], ALL]:
                    expected.add((r, det, phase, gen, strain))
    got = {(t.round, t.detector, t.phase, t.generation, t.strain) for t in df.itertuples()}
    assert got == expected
    assert len(df) == len(expected) * METRICS
    assert df.value.notna().all()
    frozen = df[(df.detector == "meso4-frozen")]
    assert set(frozen.detector_round) == {1}, "a frozen detector is never retrained"
    ft = df[(df.detector == "meso4-finetune") & (df.phase == "zero_day")]
    assert (ft.detector_round == ft["round"] - 1).all(), "zero-day scores the previous round's version"
    assert "[round 2/3] zero_day" in proc.stdout and "eta" in proc.stdout


def arena_population(run_dir, r):
    import json

    data = json.loads((run_dir / "rounds" / f"r{r:04d}" / "population.json").read_text())
    return [s["id"] for s in data["strains"]]


def test_every_round_records_where_its_time_went(reference_run):
    import json

    run_dir, _ = reference_run
    for r in (1, 2, 3):
        folder = run_dir / "rounds" / f"r{r:04d}"
        t = json.loads((folder / "timings.json").read_text())
        phases = ("make", "zero_day", "retrain", "post", "evolve", "commit")
        assert all(t[p] >= 0 for p in phases)
        # Round 2 evolves on zero-day scores and starts round 3's make tasks that query no detector
        # while its detectors retrain (round 1 evolves on post scores; round 3 is the last).
        assert ("make_ahead" in t) == (r == 2) and t.get("make_ahead", 0.0) >= 0
        assert sum(t[p] for p in phases) + t.get("make_ahead", 0.0) <= t["total"] + 1e-6
        assert 0 <= t["make_queries"] <= t["make"]
        strains = json.loads((folder / "population.json").read_text())["strains"]
        guided = [s for s in strains if s["genome"]["genes"]["evasion"] != "off"]
        if r == 1 or not guided:  # nothing deployed to query yet, or no strain queries it
            assert t["make_queries"] == 0
        else:
            assert t["make_queries"] > 0


def test_plots_are_png_files(reference_run):
    run_dir, proc = reference_run
    for name in ("cat_and_mouse_auc.png", "heatmap_auc.png"):
        path = run_dir / "report" / name
        assert path.stat().st_size > 10_000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.with_suffix(".csv").stat().st_size > 0
    assert str(run_dir / "report" / "cat_and_mouse_auc.png") in proc.stdout
    for r in (1, 2, 3):
        assert (run_dir / "rounds" / f"r{r:04d}" / "samples.png").read_bytes()[:4] == b"\x89PNG"


def test_status_and_plot_commands(reference_run):
    run_dir, _ = reference_run
    st = _arena("status", str(run_dir))
    assert st.returncode == 0 and "committed: round 3 of 3" in st.stdout and "complete" in st.stdout
    pl = _arena("plot", str(run_dir), "--metric", "ap")
    assert pl.returncode == 0 and "cat_and_mouse_ap.png" in pl.stdout


def test_sigkill_driver_in_round_2_then_resume_matches(reference_run, tmp_path):
    ref_dir, _ = reference_run
    cmd = [
        sys.executable,
        "-m",
        "deepfake_arena.cli",
        "run",
        str(QUICKSTART),
        *TINY,
        "--name",
        "k",
        "--runs-dir",
        str(tmp_path),
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in proc.stdout:  # type: ignore[union-attr]
        seen.append(line)
        if line.startswith("[round 2/3] retrain"):
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    run_dir = tmp_path / "k"
    assert results.load(run_dir)["round"].max() == 1, "only round 1 was committed before the kill"
    res = _arena("resume", str(run_dir))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "resuming after round 1" in res.stdout
    resumed, ref = _without_run(results.load(run_dir)), _without_run(results.load(ref_dir))
    pd.testing.assert_frame_equal(resumed, ref, check_exact=True)
    assert not [p for p in (run_dir / "rounds").iterdir() if p.name.startswith(".tmp")]


def test_user_errors_exit_1_with_one_line(tmp_path):
    proc = _arena("run", str(QUICKSTART), "detectors.0.strategy=yolo", "--runs-dir", str(tmp_path))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "valid choices: ensemble, finetune, frozen" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == [], "nothing is written for a bad spec"
    proc = _arena("resume", str(tmp_path / "missing"))
    assert proc.returncode == 1 and "not an arena run directory" in proc.stderr


@pytest.mark.parametrize(
    "phase, sig, wait",
    [("retrain", signal.SIGTERM, 0.0), ("make", signal.SIGINT, 4.0), ("make", signal.SIGTERM, 4.0)],
    ids=["retrain-SIGTERM", "make-SIGINT", "make-SIGTERM"],
)
def test_signal_exits_3_and_says_how_to_resume(tmp_path, phase, sig, wait):
    """From every phase: in `make` the driver waits inside ray.get, where a signal used to end in
    a SystemError traceback and exit 1 (issue 25 #9)."""
    cmd = [
        sys.executable,
        "-m",
        "deepfake_arena.cli",
        "run",
        str(QUICKSTART),
        *TINY,
        "rounds=2",
        "--name",
        "t",
        "--runs-dir",
        str(tmp_path),
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # type: ignore[union-attr]
        if line.startswith(f"[round 1/2] {phase}"):
            time.sleep(wait)  # inside the phase's wait for its Ray tasks
            proc.send_signal(sig)
            break
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    assert "Traceback" not in err and "SystemError" not in err, err
    assert f"arena resume {tmp_path / 't'}" in err
    res = _arena("resume", str(tmp_path / "t"))
    assert res.returncode == 0, res.stderr
    assert sorted(results.load(tmp_path / "t")["round"].unique()) == [1, 2]


@pytest.mark.parametrize("sweep", [[], ["seeds=[0, 1]"]], ids=["run", "sweep"])
def test_gpus_the_cluster_lacks_fail_at_once(tmp_path, sweep):
    gpus = "resources.detector.num_gpus=1"
    proc = _arena("run", str(QUICKSTART), *TINY, *sweep, gpus, "--runs-dir", str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert "resources.detector.num_gpus=1.0 but the cluster has 0 GPUs" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # checked before the run directory is made


# A sealed strain with white-box evasion: every round from 2 has a make task that queries the
# deployed detectors, which Ray runs start during the previous round's post.
GUIDED_VAULT = [
    "vault.strains=[{family: blend, genes: {evasion: whitebox, evasion_steps: 1}}]",
    "vault.reals=8",
    "vault.fakes_per_strain=8",
]


def test_work_started_early_gives_the_rows_of_a_serial_run(tmp_path):
    """Ray runs start the next round's reals and detector-free make tasks beside the retrain, and
    the guided ones as soon as the retrained versions exist; the in-process executor
    (benchmarks/ray_overhead.py's baseline) starts nothing early. Same rows."""
    from deepfake_arena.launch import environment
    from deepfake_arena.rounds.loop import run_rounds
    from deepfake_arena.rounds.progress import Progress
    from deepfake_arena.spec import load_spec, resolved_json
    from deepfake_arena.store.run_dir import RunStore

    overrides = [*TINY, *GUIDED_VAULT]
    proc = _arena("run", str(QUICKSTART), *overrides, "--name", "ray", "--runs-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = tmp_path / "ray"
    spec, text = load_spec(QUICKSTART, overrides)
    store = RunStore.create(tmp_path / "serial", text, resolved_json(spec), environment())
    with store.lock, open(os.devnull, "w") as quiet:
        run_rounds(spec, store, "ray", Progress(spec.rounds, 1, quiet), 0, executor="local")
    ray_rows = results.load(run_dir)
    assert (ray_rows.phase == "sealed").any()
    pd.testing.assert_frame_equal(
        _without_run(results.load(tmp_path / "serial")), _without_run(ray_rows), check_exact=True
    )
    pop = [json.loads((d / "population.json").read_text()) for d in sorted((run_dir / "rounds").glob("r*"))]
    assert any(s["genome"]["genes"]["evasion"] == "off" for p in pop[2:] for s in p["strains"])
    vault = [v for p in pop for v in p["vault"]]
    assert vault and all(v["genome"]["genes"]["evasion"] == "whitebox" for v in vault)
