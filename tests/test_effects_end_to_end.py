"""The effects spec (runs/effects/all.yaml): it validates at full and smoke size, its header's smoke
overrides are the ones tested here, and at smoke size it runs through `arena run` (2 seeds, real
Ray, every feature the five effects need: innovation, a diffusion vault, replay, frozen, sbi) and
`arena effects` gives all five rows (any verdict: smoke size shows nothing reliably)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from arena.spec import apply_overrides, parse_overrides
from arena.sweep import expand
from tests.conftest import REPO

SPEC = REPO / "runs" / "effects" / "all.yaml"
EFFECTS_SMOKE = [
    "seeds=[0,1]",
    "rounds=3",
    "world.resolution=32",
    "world.identities={train: 8, eval: 6, vault: 4}",
    "world.reals_per_round={train: 32, eval: 24}",
    "population.size=2",
    "population.elite=1",
    "population.fakes_per_strain={train: 12, eval: 8}",
    "population.innovation.0.round=2",
    "population.innovation.0.strains=1",
    "population.training.autoencoder={steps: 4, resolution: 16, batch_size: 4, faces_per_identity: 1}",
    "population.training.diffusion={steps: 4, resolution: 16, batch_size: 4, faces_per_identity: 1}",
    "vault.reals=12",
    "vault.fakes_per_strain=8",
    "vault.strains.0.genes.refine_steps=2",
    "vault.strains.1.genes.refine_steps=2",
    "detectors.0.scratch.steps=12",
    "detectors.0.finetune.steps=4",
    "detectors.1.scratch.steps=12",
    "detectors.1.finetune.steps=4",
    "detectors.2.scratch.steps=12",
    "detectors.3.scratch.steps=12",
    "metrics.bootstrap=10",
    "evaluation.past_budget=6",
]


def _header_overrides() -> list[str]:
    """The dotted overrides the spec's header documents under "Smoke size"."""
    text = SPEC.read_text()
    block = text.split("# Smoke size", 1)[1].split("# (tests/", 1)[0]
    lines = [re.sub(r"^#\s*", "", line) for line in block.splitlines()[1:]]
    return shlex.split(" ".join(lines))


def test_effects_spec_validates_at_full_and_smoke_size():
    raw = yaml.safe_load(SPEC.read_text())
    full = expand(raw)
    assert [m.spec.seed for m in full] == [0, 1, 2, 3, 4]
    spec = full[0].spec
    assert {d.strategy for d in spec.detectors} >= {"finetune", "replay", "frozen"}
    assert [d.training for d in spec.detectors].count("sbi") == 1
    assert spec.population.innovation and spec.vault.strain_count >= 1
    trained = set(spec.population.families) | {i.family for i in spec.population.innovation}
    assert not {s.family for s in spec.vault.strains} & trained, "vault families must never be trained on"
    smoke = expand(apply_overrides(raw, parse_overrides(EFFECTS_SMOKE)))
    assert [m.spec.seed for m in smoke] == [0, 1] and smoke[0].spec.rounds == 3
    assert _header_overrides() == EFFECTS_SMOKE


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_effects_spec_runs_at_smoke_size_and_gives_five_rows(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "arena.cli",
            "run",
            str(SPEC),
            *EFFECTS_SMOKE,
            "--name",
            "eff",
            "--runs-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "effects"
    eff = subprocess.run(
        [sys.executable, "-m", "arena.cli", "effects", str(tmp_path / "eff"), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert eff.returncode == 0, eff.stderr
    t = pd.read_csv(out / "effects.csv")
    assert list(t.effect) == [1, 2, 3, 4, 5]
    assert set(t.verdict) <= {"shown", "not shown", "not measured"}
    # Every input is there at smoke size, so each effect is measured, over both seeds.
    assert (t.verdict != "not measured").all(), t[["name", "reason"]].to_string()
    assert (t.n_seeds == 2).all()
    assert "meso4-sbi vs meso4-frozen on sealed diffusion" in t.detectors[2]
    assert len(list(out.glob("effect*.png"))) == 5
