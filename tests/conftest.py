"""Shared test settings: a tiny simulation for the end-to-end tests, and repo paths."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "runs" / "quickstart.yaml"

# The quickstart shrunk to run in well under a minute through real Ray on 2 cores.
TINY = [
    "rounds=3",
    "world.resolution=32",
    "world.identities={train: 8, eval: 6, vault: 2}",
    "world.reals_per_round={train: 48, eval: 24}",
    "population.size=3",
    "population.elite=1",
    "population.fakes_per_strain={train: 16, eval: 8}",
    "detectors.0.scratch.steps=30",
    "detectors.0.finetune.steps=10",
    "detectors.1.scratch.steps=30",
    "metrics.bootstrap=20",
    "evaluation.past_budget=6",
]


# The confirmatory arms (runs/effects/*.yaml, runs/effects/field/*.yaml) shrunk to smoke size: the
# world and population part both protocols' end-to-end tests share (each adds its own vault and
# detector keys).
ARM_SMOKE = [
    "seeds=[0,1]",
    "rounds=3",
    "world.identities={train: 8, eval: 6, vault: 4}",
    "world.reals_per_round={train: 32, eval: 24}",
    "population.size=2",
    "population.fakes_per_strain={train: 12, eval: 8}",
    "population.innovation.0.round=2",
    "population.innovation.0.strains=1",
    "population.training.autoencoder={steps: 4, resolution: 16, batch_size: 4, faces_per_identity: 1}",
    "population.training.diffusion={steps: 4, resolution: 16, batch_size: 4, faces_per_identity: 1}",
    "vault.reals=12",
    "vault.fakes_per_strain=8",
    "metrics.bootstrap=10",
    "evaluation.past_budget=6",
]


@pytest.fixture
def tiny_overrides() -> list[str]:
    return list(TINY)


def arena_cli(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    """`python -m deepfake_arena.cli ARGS` from the repo root, output captured; `env` adds variables."""
    return subprocess.run(
        [sys.executable, "-m", "deepfake_arena.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
        **kw,
    )
