"""The five effects (analysis.effects.measure) on hand-built results tables with known answers, and the
`arena effects` command on a hand-built sweep directory (no simulation, no torch).

Built on tests/arena/fake_runs.py's sawtooth, per seed s (seeds 0, 1, 2):
- `ft` finetune: post 0.9, zero-day 0.4 - 0.1 s, so post - zero-day = 0.5 + 0.1 s (mean 0.6);
  the last version forgets 0.1 (5 - j) of generation j: mean over j = 1..4 is 0.25;
- `fz` frozen: AUC 0.8, 0.7, 0.5, 0.3, 0.2 at gaps 0..4: slope -0.16, but the last AUC is as far
  from chance as the first (distance change 0), so effect 5 is `not shown`;
- sealed: `ft` 0.6 each round, so seen - sealed = 0.3.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from deepfake_arena.analysis.effects import measure as effects
from deepfake_arena.analysis.effects.measure import (
    NOT_MEASURED,
    NOT_SHOWN,
    SHOWN,
    DetectorInfo,
    Roles,
    Stat,
    choose_roles,
    measure,
)
from deepfake_arena.cli import main
from deepfake_arena.errors import ArenaUserError
from tests.arena.fake_runs import make_run, row, sawtooth_rows

SEEDS = (0, 1, 2)


def _det(name: str, strategy: str, training: str = "supervised", arch: str = "meso4") -> dict[str, str]:
    return {"name": name, "arch": arch, "strategy": strategy, "training": training}


SPEC = {"detectors": [_det("ft", "finetune"), _det("fz", "frozen")]}


def _rows(seed: int, **kw: object) -> list[dict[str, object]]:
    return sawtooth_rows(run=f"seed{seed}", seed=seed, **kw)  # type: ignore[arg-type]


def _table(*extra, sealed: bool = False) -> pd.DataFrame:
    rows = [r for s in SEEDS for r in _rows(s, sealed=sealed)]
    for make in extra:
        rows += [r for s in SEEDS for r in make(s)]
    return pd.DataFrame(rows)


def _replay(seed: int) -> list[dict[str, object]]:
    """`rp` (replay): like `ft` but forgets half as fast: mean forgetting 0.125."""
    out = []
    for r in _rows(seed):
        if r["detector"] != "ft":
            continue
        r = {**r, "detector": "rp", "strategy": "replay"}
        if r["phase"] == "past":
            r["value"] = 0.9 - 0.05 * (int(r["round"]) - int(r["generation"]))  # type: ignore[call-overload]
        out.append(r)
    return out


def _sbi(seed: int) -> list[dict[str, object]]:
    """Sealed per-strain rows: a diffusion strain (sbi 0.7, fz 0.6 + 0.01 s) and a blend strain
    that fz trained on (sbi 0.1, fz 0.9; must be left out), plus fz's per-strain post row of
    round 1 that says it trained on blend."""
    run = dict(run=f"seed{seed}", seed=seed, detector_round=1)
    fz = dict(run, detector="fz", strategy="frozen")
    sb = dict(run, detector="sb", strategy="frozen")
    out = [row(**fz, round=1, generation=1, phase="post", strain="b1", family="blend", value=0.95)]
    for r in range(1, 6):
        for who, diff, blend in ((sb, 0.7, 0.1), (fz, 0.6 + 0.01 * seed, 0.9)):
            out.append(
                row(**who, round=r, generation=r, phase="sealed", strain="v1", family="diffusion", value=diff)
            )
            out.append(
                row(**who, round=r, generation=r, phase="sealed", strain="v2", family="blend", value=blend)
            )
    return out


def _by_name(effs):
    return {e.name: e for e in effs}


def test_stat_mean_and_ci_over_seeds():
    # t interval: 0.2 +- t(0.975, df=2) * 0.1 / sqrt(3) = 0.2 +- 0.248, so 3 seeds this spread show nothing
    t2 = 4.302652729749464
    s = Stat("x", "x", pd.Series([0.1, 0.2, 0.3]), 0.0, effects.ABOVE, required=True)
    assert s.value == pytest.approx(0.2) and s.n_seeds == 3
    assert (s.ci_low, s.ci_high) == pytest.approx((0.2 - t2 * 0.1 / np.sqrt(3), 0.2 + t2 * 0.1 / np.sqrt(3)))
    assert s.excludes_null is False
    s = Stat("x", "x", pd.Series([0.19, 0.2, 0.21]), 0.0, effects.ABOVE, required=True)
    assert s.ci_low == pytest.approx(0.2 - t2 * 0.01 / np.sqrt(3)) and s.excludes_null is True
    s = Stat("x", "x", pd.Series([0.3, -0.2, 0.1]), 0.0, effects.ABOVE, required=True)
    assert s.ci_low < 0 < s.ci_high and s.excludes_null is False
    below = Stat("x", "x", pd.Series([-0.3, -0.2, -0.25, -0.25]), 0.0, effects.BELOW, required=True)
    # sd sqrt(0.005/3), t(0.975, df=3) = 3.182446
    assert below.ci_high == pytest.approx(-0.25 + 3.182446305284263 * np.sqrt(0.005 / 3) / 2)
    assert below.excludes_null is True


def test_one_seed_is_not_shown_and_says_why():
    df = pd.DataFrame(_rows(0))
    e = effects.decay_recovery(df, ["ft"])
    assert e.primary.value == pytest.approx(0.5) and np.isnan(e.primary.ci_low)
    assert e.verdict == NOT_SHOWN and "needs >= 2" in e.why


def test_decay_recovery_known_answer():
    e = effects.decay_recovery(_table(), ["ft"])
    assert e.verdict == SHOWN
    gap, share = e.stats
    assert list(gap.per_seed.round(6)) == [0.5, 0.6, 0.7] and gap.value == pytest.approx(0.6)
    half = 4.302652729749464 * 0.1 / np.sqrt(3)  # t(0.975, df=2) * sem
    assert (gap.ci_low, gap.ci_high) == pytest.approx((0.6 - half, 0.6 + half))
    assert share.value == 1.0 and not share.required


def test_decay_recovery_not_shown_when_retraining_does_not_recover():
    df = _table()
    df.loc[(df.detector == "ft") & (df.phase == "post") & (df["round"] > 1), "value"] = (
        0.4 - 0.1 * df.seed + np.where(df.seed == 1, 0.1, -0.05)
    )
    e = effects.decay_recovery(df, ["ft"])
    assert e.verdict == NOT_SHOWN and e.primary.ci_low < 0 < e.primary.ci_high


def test_seen_vs_sealed_known_answer_and_not_measured_without_a_vault():
    e = effects.seen_vs_sealed(_table(sealed=True), ["ft"])
    assert e.verdict == SHOWN and e.primary.value == pytest.approx(0.3)
    assert e.primary.reference == pytest.approx(0.964 - 0.708)
    assert {s.name for s in e.stats} == {"auc_gap", "seen_auc", "sealed_auc"}  # no accuracy rows here
    missing = effects.seen_vs_sealed(_table(), ["ft"])
    assert missing.verdict == NOT_MEASURED and "no sealed rows" in missing.why
    assert effects.seen_vs_sealed(_table(), []).verdict == NOT_MEASURED


def test_sbi_compares_only_families_the_baseline_never_trained_on():
    df = _table(_sbi)
    e = effects.sbi_generalises(df, "sb", "fz")
    diff = e.primary
    assert list(diff.per_seed.round(6)) == [0.1, 0.09, 0.08]  # the blend strain is left out
    assert e.verdict == SHOWN and "on sealed diffusion" in e.detectors
    assert e.stats[1].value == pytest.approx(0.7)
    only_blend = df[~((df.phase == "sealed") & (df.family == "diffusion"))]
    e = effects.sbi_generalises(only_blend, "sb", "fz")
    assert e.verdict == NOT_MEASURED and "every sealed family was trained on by fz" in e.why
    assert "training: sbi" in effects.sbi_generalises(df, None, None).why


def test_forgetting_known_answer_and_not_measured_without_replay():
    e = effects.forgetting(_table(_replay), "ft", "rp")
    assert e.verdict == SHOWN
    diff, above, ft, rp, floor = e.stats
    assert ft.value == pytest.approx(0.25) and rp.value == pytest.approx(0.125)
    assert diff.value == pytest.approx(0.125)
    assert floor.value == pytest.approx(0.01)  # fz's kept subset reads 0.01 lower: apparent forgetting
    assert above.value == pytest.approx(0.24) and above.required and not ft.required
    no_floor = effects.forgetting(_table(_replay).query("detector != 'fz'"), "ft", "rp")
    assert [s.name for s in no_floor.stats] == [
        "finetune_minus_replay",
        "finetune_forgetting",
        "replay_forgetting",
    ]
    assert no_floor.stats[1].required and "no noise floor" in no_floor.stats[1].description
    missing = effects.forgetting(_table(), "ft", None)
    assert missing.verdict == NOT_MEASURED and missing.why == "no replay detector in the runs"


def test_forgetting_needs_finetune_to_forget():
    df = _table(_replay)
    # finetune keeps its past scores; replay gains on them: the difference is > 0 but finetune
    # itself does not forget, so the effect is not shown.
    df.loc[(df.detector == "ft") & (df.phase == "past"), "value"] = 0.9
    df.loc[(df.detector == "rp") & (df.phase == "past"), "value"] = 0.95
    e = effects.forgetting(df, "ft", "rp")
    assert e.stats[0].excludes_null and not e.stats[1].excludes_null
    assert e.verdict == NOT_SHOWN


def test_forgetting_within_the_noise_floor_is_not_shown():
    """Finetune "forgets" only as much as the frozen detector appears to (max over noisy scores)."""
    df = pd.DataFrame([r for s in range(10) for r in _rows(s) + _replay(s)])
    rng = np.random.default_rng(0)
    noisy = df.phase.isin(["post", "past"]) & df.detector.isin(["ft", "fz"])
    df.loc[noisy, "value"] = 0.8 + rng.normal(0, 0.02, int(noisy.sum()))  # nobody forgets: pure noise
    df.loc[(df.detector == "rp") & (df.phase == "past"), "value"] = 0.9  # replay gains: diff > 0
    e = effects.forgetting(df, "ft", "rp")
    ft = next(s for s in e.stats if s.name == "finetune_forgetting")
    above = next(s for s in e.stats if s.name == "finetune_above_floor")
    assert ft.excludes_null  # the old check: "finetune forgets", from noise alone
    assert not above.excludes_null and e.verdict == NOT_SHOWN


def test_forward_transfer_slope_and_distance_to_chance():
    e = effects.forward_transfer(_table(), "fz")
    slope, distance, final = e.stats[:3]
    assert slope.value == pytest.approx(-0.16) and slope.excludes_null
    assert distance.value == pytest.approx(0.0) and not distance.excludes_null
    assert e.verdict == NOT_SHOWN  # as far from chance at the end as at the start
    df = _table()
    last = (df.detector == "fz") & (df.generation == 5)
    df.loc[last, "value"] = 0.55
    e = effects.forward_transfer(df, "fz")
    assert e.verdict == SHOWN and e.stats[1].value == pytest.approx(0.05 - 0.3)
    assert e.stats[2].value == pytest.approx(0.55) and e.stats[2].reference == 0.5
    assert effects.forward_transfer(_table(), None).verdict == NOT_MEASURED


def test_forward_transfer_reports_unlocked_families_at_debut():
    def unlocked(seed: int) -> list[dict[str, object]]:
        fz = dict(run=f"seed{seed}", seed=seed, detector="fz", strategy="frozen", detector_round=1)
        return [
            row(**fz, round=3, generation=3, phase="zero_day", strain="a1", family="autoencoder", value=0.52)
        ]

    e = effects.forward_transfer(_table(unlocked), "fz")
    debut = {s.name: s for s in e.stats}["unlocked_minus_first"]
    assert debut.value == pytest.approx(0.52 - 0.8) and not debut.required


def test_choose_roles_from_the_spec_and_overrides():
    dets = [
        DetectorInfo("ft", "meso4", "finetune", "supervised"),
        DetectorInfo("x-rp", "xception", "replay", "supervised"),
        DetectorInfo("rp", "meso4", "replay", "supervised"),
        DetectorInfo("ft2", "meso4", "finetune", "supervised"),
        DetectorInfo("fz", "meso4", "frozen", "supervised"),
        DetectorInfo("sb", "meso4", "frozen", "sbi"),
    ]
    r = choose_roles(dets)
    assert r == Roles(sbi="sb", baseline="fz", finetune="ft", replay="rp", frozen="fz")
    assert choose_roles(dets, Roles(baseline="ft2")).baseline == "ft2"
    with pytest.raises(ArenaUserError, match="--replay nope: no such detector"):
        choose_roles(dets, Roles(replay="nope"))
    assert effects.retrained(dets) == ["ft", "x-rp", "rp", "ft2"]


def test_measure_gives_seven_effects_and_the_table():
    spec = {"detectors": [*SPEC["detectors"], _det("rp", "replay"), _det("sb", "frozen", "sbi")]}
    effs = measure(_table(_replay, _sbi, sealed=True), spec)
    t = effects.table(effs, "c")
    assert list(t.effect) == [1, 2, 3, 4, 5, 6, 7] and list(t.columns) == effects.TABLE_COLUMNS
    assert list(t.verdict) == [SHOWN, SHOWN, SHOWN, SHOWN, NOT_SHOWN, NOT_MEASURED, effects.REPORTED]
    assert t.n_seeds.tolist() == [3] * 5 + [0, 3]
    # exact sign-flip p over 3 seeds: at best 1/8; Holm over the five tested headlines
    assert t.p_value[0] == pytest.approx(1 / 8) and t.p_holm[0] == pytest.approx(5 / 8)
    assert np.isnan(t.p_value[5]) and np.isnan(t.p_holm[6])
    assert t.reference_value.iloc[2] == pytest.approx(0.049) and t.reference_value.iloc[4] == 0.5
    stats = effects.stats_table(effs, "c")
    assert (stats[stats.effect <= 5].groupby("effect").size() >= 2).all()


def _sweep(root, n_seeds=3, sealed=True):
    sweep = root / "sw"
    sweep.mkdir()
    members = []
    for s in range(n_seeds):
        make_run(sweep, f"seed{s}", seed=s, sealed=sealed, extra_spec=SPEC)
        members.append({"name": f"seed{s}", "settings": {"seed": s}})
    (sweep / "sweep.json").write_text(json.dumps({"members": members}))
    return sweep


def test_cli_on_a_sweep_directory(tmp_path, capsys):
    sweep = _sweep(tmp_path)
    out = tmp_path / "eff"
    assert main(["effects", str(sweep), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    t = pd.read_csv(out / "effects.csv")
    assert list(t.name) == [
        "decay_recovery",
        "seen_vs_sealed",
        "sbi_generalises",
        "forgetting",
        "forward_transfer",
        "red_queen",
        "zero_day_new",
        "ranking_reversal",
        "compression",
        "spectral_evasion",
    ]
    assert (
        list(t.verdict)
        == [SHOWN, SHOWN, NOT_MEASURED, NOT_MEASURED, NOT_SHOWN, NOT_MEASURED, "reported"]
        + [NOT_MEASURED] * 3
    )
    assert set(t.n_seeds) >= {3} and t.condition.nunique() == 1 and "3 seeds" in t.condition[0]
    assert t.value[0] == pytest.approx(0.6)
    for name in ("effect1_decay_recovery", "effect2_seen_vs_sealed", "effect5_forward_transfer"):
        assert (out / f"{name}.png").stat().st_size > 0 and (out / f"{name}.csv").is_file()
    assert not (out / "effect3_sbi_generalises.png").exists()
    assert "skipped effect 3" in printed and "not measured" in printed and "DeepfakeBench" in printed
    assert pd.read_csv(out / "effects_stats.csv").effect.nunique() == 4


def test_cli_pools_runs_given_one_by_one_and_rejects_bad_input(tmp_path, capsys):
    sweep = _sweep(tmp_path, n_seeds=2, sealed=False)
    out = tmp_path / "eff"
    assert main(["effects", str(sweep / "seed0"), str(sweep / "seed1"), "--out", str(out), "--no-plots"]) == 0
    t = pd.read_csv(out / "effects.csv")
    assert list(t.n_seeds)[0] == 2 and t.verdict[1] == NOT_MEASURED and "no sealed rows" in t.reason[1]
    assert not list(out.glob("*.png"))
    assert main(["effects", str(sweep), "--frozen", "nope", "--out", str(out)]) == 1
    assert main(["effects", str(tmp_path / "missing"), "--out", str(out)]) == 1
    assert "no such detector" in capsys.readouterr().err


def test_a_single_round_is_not_measured_rather_than_an_error():
    spec = {"detectors": [*SPEC["detectors"], _det("rp", "replay"), _det("sb", "frozen", "sbi")]}
    df = pd.DataFrame([r for s in SEEDS for r in _rows(s, rounds=1, sealed=True)])
    t = effects.table(measure(df, spec))
    assert (
        list(t.verdict)
        == [NOT_MEASURED, SHOWN, NOT_MEASURED, NOT_MEASURED, NOT_MEASURED] + [NOT_MEASURED] * 2
    )
    assert "rounds >= 2" in t.reason[0] and t.reason[2] == "no per-strain sealed rows for sb or fz"
    assert (t.reason[[0, 2, 3, 4]] != "").all()
