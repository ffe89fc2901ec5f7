"""End to end through real Ray: replay + self-blended training, an ensemble, and a release lag.

One tiny run (the TINY overrides) with two detectors: `meso4-replay-sbi` (strategy replay, training
sbi) and `meso4-ensemble` (strategy ensemble, k = 2), deployed with `release_lag=1`.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import deepfake_arena.results
from deepfake_arena.results import KEY
from deepfake_arena.rounds.state import load_version
from tests.conftest import QUICKSTART, REPO, TINY

pytestmark = pytest.mark.slow

DETECTORS = (
    "detectors=[{name: meso4-replay-sbi, strategy: replay, training: sbi, replay_size: 40},"
    " {name: meso4-ensemble, strategy: ensemble, ensemble_k: 2}]"
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    overrides = [DETECTORS, *TINY, "detectors.1.finetune.steps=10", "release_lag=1"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "deepfake_arena.cli",
            "run",
            str(QUICKSTART),
            *overrides,
            "--name",
            "zoo",
            "--runs-dir",
            str(runs),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return runs / "zoo"


def test_rows_record_the_lagged_deployed_version(run_dir):
    df = deepfake_arena.results.load(run_dir)
    assert not df.duplicated(KEY).any()
    assert set(df.detector) == {"meso4-replay-sbi", "meso4-ensemble"}
    assert set(df.arch) == {"meso4"} and set(df.strategy) == {"replay", "ensemble"}
    zero_day = df[df.phase == "zero_day"]
    # Lag 1: round r deploys the version trained through round r - 2, so only round 3 has one.
    assert set(zero_day["round"]) == {3} and set(zero_day.detector_round) == {1}
    assert set(zero_day.detector) == {"meso4-replay-sbi", "meso4-ensemble"}
    post = df[df.phase == "post"]
    assert (post.detector_round == post["round"]).all()
    assert set(df[df.phase == "past"]["round"]) == {2, 3}
    assert df.value.notna().all()


def test_strategy_memory_is_committed_and_reloads(run_dir):
    r3 = run_dir / "rounds" / "r0003"
    manifest = (r3 / "manifest.json").read_text()
    for part in ("meso4-replay-sbi.replay", "meso4-replay-sbi.optim", "meso4-ensemble.ensemble"):
        assert f"detectors/{part}.safetensors" in manifest
    replay = load_version(r3, "meso4-replay-sbi")
    assert replay.trained_round == 3 and replay.times_trained == 3
    # sbi never hands the generators' fakes to the strategy: the reservoir holds reals only.
    assert replay.memory["replay/reals"].shape[0] == 40 and "replay/fakes" not in replay.memory
    assert replay.memory["replay/seen"].tolist() == [3 * 48, 0]
    ensemble = load_version(r3, "meso4-ensemble")
    members = {k.split("/", 1)[1].split(".", 1)[0] for k in ensemble.memory if k.startswith("ensemble/")}
    assert members == {"0"}  # k = 2: the newest version plus the one before it
    previous = load_version(run_dir / "rounds" / "r0002", "meso4-ensemble")
    assert all((ensemble.memory[f"ensemble/0.{k}"] == v).all() for k, v in previous.weights.items())
    training = json.loads((r3 / "training.json").read_text())
    assert training["meso4-replay-sbi"]["steps_run"] == 10
