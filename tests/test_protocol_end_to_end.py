"""The confirmatory protocol's arms (runs/effects/selection.yaml, drift.yaml) at smoke size through
`arena run` (2 seeds each, real Ray) and `arena effects --registration`: every registered statistic
is measured in both arms (the exposed twin, the vault with and without evasion, the strains off
the sbi paste path), and since smoke overrides change the specs, every verdict is exploratory."""

from __future__ import annotations

import pandas as pd
import pytest

from deepfake_arena.analysis.effects.registration import DIFF, EXPLORATORY, load_registration
from tests.conftest import ARM_SMOKE, REPO, arena_cli

ARMS = REPO / "runs" / "effects"
SMOKE = [
    *ARM_SMOKE,
    *[f"vault.strains.{k}.genes.refine_steps=2" for k in range(4)],
    *[f"detectors.{k}.scratch.steps=12" for k in range(5)],
    "detectors.0.finetune.steps=4",
    "detectors.1.finetune.steps=4",
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
