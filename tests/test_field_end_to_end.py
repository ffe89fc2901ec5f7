"""Issue 28's selection arm (runs/effects/field/selection.yaml) at smoke size through `arena run`
(2 seeds, real Ray) and `arena effects --registration`: the loop writes a `jpegQ` phase per
registered quality (evaluation.jpeg_qualities), and effects 8-10 are all measured from the runs."""

from __future__ import annotations

import pandas as pd
import pytest

from deepfake_arena.analysis.effects.registration import EXPLORATORY
from deepfake_arena.results import jpeg_phase, load
from tests.conftest import ARM_SMOKE, REPO, arena_cli

ARMS = REPO / "runs" / "effects" / "field"
SMOKE = [
    *ARM_SMOKE,
    *[f"vault.strains.{k}.genes.refine_steps=2" for k in range(2)],
    *[f"detectors.{k}.scratch.steps=8" for k in range(4)],
    *[f"detectors.{k}.finetune.steps=4" for k in range(3)],
]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_field_arm_at_smoke_size_scores_jpeg_and_measures_effects_8_to_10(tmp_path):
    proc = arena_cli(
        "run", str(ARMS / "selection.yaml"), *SMOKE, "--name", "selection", "--runs-dir", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    df = load(tmp_path / "selection" / "seed0")
    jpeg = df[df.phase.str.startswith("jpeg")]
    assert set(jpeg.phase) == {jpeg_phase(q) for q in (95, 75, 50, 30)}
    assert set(jpeg.detector) == set(df.detector) and (jpeg.generation == jpeg["round"]).all()
    out = tmp_path / "effects"
    reg = ARMS / "registration.yaml"
    eff = arena_cli("effects", str(tmp_path / "selection"), "--registration", str(reg), "--out", str(out))
    assert eff.returncode == 0, eff.stderr
    heads = pd.read_csv(out / "effects.csv").set_index("name")
    for name in ("ranking_reversal", "compression", "spectral_evasion"):
        assert heads.loc[name, "n_seeds"] == 2, heads.loc[name, "reason"]
    tests = pd.read_csv(out / "effects_tests.csv")
    assert (tests.n_seeds == 2).all() and set(tests.evidence) == {EXPLORATORY}
    assert (out / "effect9_compression.png").stat().st_size > 0
