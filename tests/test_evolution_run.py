"""End to end through real Ray: an innovation schedule and a vault (issue 4)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import deepfake_arena.results
from deepfake_arena.results import ALL
from tests.conftest import QUICKSTART, REPO, TINY

pytestmark = pytest.mark.slow

EVOLUTION = [
    "world.identities={train: 6, eval: 4, vault: 3}",
    "population.innovation=[{family: autoencoder, round: 2}, {family: diffusion, round: 3}]",
    "population.training={autoencoder: {steps: 10, resolution: 16, faces_per_identity: 1},"
    " diffusion: {steps: 5, resolution: 16, faces_per_identity: 1}}",
    "vault={families: [autoencoder], reals: 12, fakes_per_strain: 8}",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    proc = subprocess.run(
        [sys.executable, "-m", "deepfake_arena.cli", "run", str(QUICKSTART), *TINY, *EVOLUTION]
        + ["--name", "evo", "--runs-dir", str(runs)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return runs / "evo"


def test_new_families_play_from_their_unlock_round(run_dir):
    df = deepfake_arena.results.load(run_dir)
    fresh = df[df.phase.isin(["post", "zero_day"]) & (df.strain != ALL)]
    first = fresh.groupby("family")["round"].min().to_dict()
    assert first == {"blend": 1, "autoencoder": 2, "diffusion": 3}
    assert set(fresh[fresh["round"] == 3].family) >= {"blend", "diffusion"}


def test_vault_is_scored_every_round_and_never_trained_on(run_dir):
    df = deepfake_arena.results.load(run_dir)
    sealed = df[df.phase == "sealed"]
    for r in (1, 2, 3):
        got = sealed[sealed["round"] == r]
        assert set(got.strain) == {"vault-autoencoder-01", ALL}
        assert set(got.detector) == {"meso4-finetune", "meso4-frozen"}
        assert (got.generation == r).all() and got.value.notna().all()
    assert not df[df.phase != "sealed"].strain.str.startswith("vault").any()
    for r in (1, 2, 3):
        pop = json.loads((run_dir / "rounds" / f"r{r:04d}" / "population.json").read_text())
        assert [v["id"] for v in pop["vault"]] == ["vault-autoencoder-01"]
        assert all(not s["id"].startswith("vault") for s in pop["strains"] + pop["next"])
        assert all(
            {"describe", "evasion", "quality", "ssim", "psnr", "fitness", "parents"} <= set(s)
            for s in pop["strains"]
        )


def test_strain_weights_are_stored_listed_and_reloaded(run_dir):
    from deepfake_arena.rounds.state import load_state
    from deepfake_arena.spec import validate_spec
    from deepfake_arena.store.run_dir import RunStore

    manifest = json.loads((run_dir / "rounds" / "r0001" / "manifest.json").read_text())
    assert "generators/vault-autoencoder-01.safetensors" in manifest["files"]
    spec = validate_spec(json.loads((run_dir / "spec.resolved.json").read_text()))
    state = load_state(spec, RunStore(run_dir), 3)
    pop = json.loads((run_dir / "rounds" / "r0003" / "population.json").read_text())
    assert set(state.generator_weights) == set(pop["generator_weights"])
    learners = [s["id"] for s in pop["strains"] if s["genome"]["family"] != "blend"]
    assert learners and set(learners) <= set(state.generator_weights)
    for sid, w in state.generator_weights.items():
        path = run_dir / "rounds" / f"r{w.round:04d}" / "generators" / f"{sid}.safetensors"
        assert path.is_file()
        assert all(np.isfinite(v).all() for v in w.payload.tensors.values())
