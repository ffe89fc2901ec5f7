"""The confirmatory protocol's arms (runs/effects/selection.yaml, drift.yaml) at smoke size through
`arena run` (2 seeds each, real Ray) and `arena effects --registration`: every registered statistic
is measured in both arms (the exposed twin, the vault with and without evasion, the strains off
the sbi paste path), and since smoke overrides change the specs, every verdict is exploratory."""

from __future__ import annotations

import pandas as pd
import pytest

from deepfake_arena.analysis.effects.registration import DIFF, EXPLORATORY, load_registration
from tests.conftest import REPO, arena_cli

ARMS = REPO / "runs" / "effects"
SMOKE = [
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
    *[f"vault.strains.{k}.genes.refine_steps=2" for k in range(4)],
    *[f"detectors.{k}.scratch.steps=12" for k in range(5)],
    "detectors.0.finetune.steps=4",
    "detectors.1.finetune.steps=4",
    "metrics.bootstrap=10",
    "evaluation.past_budget=6",
]


@pytest.mark.slow
@pytest.mark.timeout(800)
def test_protocol_arms_run_at_smoke_size_and_every_registered_statistic_is_measured(tmp_path):
    for arm in ("selection", "drift"):
        proc = arena_cli("run", str(ARMS / f"{arm}.yaml"), *SMOKE, "--name", arm, "--runs-dir", str(tmp_path))
        assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "effects"
    reg = ARMS / "registration.yaml"
    eff = arena_cli(
        "effects",
        str(tmp_path / "selection"),
        str(tmp_path / "drift"),
        "--registration",
        str(reg),
        "--out",
        str(out),
    )
    assert eff.returncode == 0, eff.stderr
    tests = pd.read_csv(out / "effects_tests.csv")
    registered = load_registration(reg).tests
    per_arm = sum(t.alternative is not None for t in registered)
    assert len(tests) == 2 * per_arm + len(registered)
    assert (tests.n_seeds == 2).all(), tests[tests.n_seeds != 2][["test", "arm", "reason"]].to_string()
    assert set(tests.evidence) == {EXPLORATORY} and "not a registered arm" in tests.reason.iloc[0]
    assert set(tests[tests.arm == DIFF].test) == {t.id for t in registered}
    abl = pd.read_csv(out / "effects_ablation.csv")
    assert len(abl) == len(registered) and abl.classification.notna().all()
    assert (out / "arms_cat_and_mouse.png").stat().st_size > 0
    mags = pd.read_csv(out / "effects_magnitudes.csv")
    assert {"auc_gap_evasion", "auc_gap_no_evasion", "sbi_minus_baseline_off_path", "final_auc"} <= set(
        mags.stat
    )
