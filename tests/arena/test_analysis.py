"""Derived metrics on hand-built tables whose answers are known by design (tests/arena/fake_runs.py)."""

import numpy as np
import pandas as pd
import pytest

from deepfake_arena.analysis import derived as analysis
from tests.arena.fake_runs import FROZEN, ROUNDS, row, sawtooth


def _one(df: pd.DataFrame, detector: str, col: str = "value") -> float:
    hit = df[df.detector == detector]
    assert len(hit) == 1, hit
    return float(hit[col].iloc[0])


def test_score_matrix_covers_both_sides_of_the_diagonal():
    m = analysis.score_matrix(sawtooth(), "auc")
    ft = m[m.detector == "ft"].set_index(["detector_round", "generation"])
    assert len(ft) == ROUNDS + (ROUNDS - 1) + ROUNDS * (ROUNDS - 1) // 2
    assert ft.loc[(3, 3), "value"] == pytest.approx(0.9) and ft.loc[(3, 3), "phase"] == "post"
    assert ft.loc[(3, 4), "value"] == pytest.approx(0.4) and ft.loc[(3, 4), "phase"] == "zero_day"
    assert ft.loc[(5, 2), "value"] == pytest.approx(0.6) and ft.loc[(5, 2), "phase"] == "past"
    assert set(ft.gap) == {-4, -3, -2, -1, 0, 1}


def test_frozen_cells_come_from_the_full_set_not_the_later_rescoring():
    m = analysis.score_matrix(sawtooth(), "auc")
    fz = m[m.detector == "fz"].sort_values("generation")
    assert list(fz.detector_round.unique()) == [1]
    np.testing.assert_allclose(fz.value, FROZEN)  # not FROZEN - 0.01 of the kept subset
    assert list(fz.phase) == ["post"] + ["zero_day"] * (ROUNDS - 1)
    assert list(fz["round"]) == list(range(1, ROUNDS + 1))


def test_forward_transfer_is_the_mean_above_the_diagonal():
    fwd = analysis.forward_transfer(sawtooth(), "auc")
    assert _one(fwd, "ft") == pytest.approx(0.4)
    assert _one(fwd, "fz") == pytest.approx(np.mean(FROZEN[1:]))
    assert _one(fwd, "fz", "n_cells") == ROUNDS - 1


def test_forgetting_of_the_sawtooth():
    f = analysis.forgetting(sawtooth(), "auc")
    ft = f[f.detector == "ft"].set_index(["round", "generation"])
    # generation j was scored 0.9 right after training on it, 0.9 - 0.1 (r - j) after round r
    for r in range(2, ROUNDS + 1):
        for j in range(1, r):
            assert ft.loc[(r, j), "forgetting"] == pytest.approx(0.1 * (r - j))
            assert ft.loc[(r, j), "best_round"] == j
    fz = f[f.detector == "fz"]
    np.testing.assert_allclose(fz.forgetting, 0.01)  # only the kept subset differs
    s = analysis.forgetting_summary(sawtooth(), "auc")
    assert _one(s, "ft") == pytest.approx(np.mean([0.4, 0.3, 0.2, 0.1]))
    assert _one(s, "ft", "max") == pytest.approx(0.4)
    assert _one(s, "fz") == pytest.approx(0.01)
    # the floor is fz's apparent forgetting (its kept subset reads 0.01 lower), paired by generation
    assert _one(s, "ft", "floor") == pytest.approx(0.01) and _one(s, "ft", "excess") == pytest.approx(0.24)
    # t interval over the 4 generations: sd of (0.39, 0.29, 0.19, 0.09) is 0.1291, t(0.975, 3) = 3.1824
    half = 3.182446305284263 * np.std([0.4, 0.3, 0.2, 0.1], ddof=1) / 2
    assert _one(s, "ft", "excess_low") == pytest.approx(0.24 - half) and _one(s, "ft", "beyond_floor")
    assert _one(s, "fz", "excess") == 0 and not _one(s, "fz", "beyond_floor")


def test_a_never_retrained_detector_with_noisy_scores_does_not_forget_beyond_the_floor():
    """Two frozen detectors re-scored with noise every round, over 12 seeds: the max over earlier
    scores makes them "forget" (the old summary's reading, significant over seeds), but not beyond
    the floor; ft, which does forget, is beyond it in (nearly) every seed."""
    df = pd.concat([sawtooth(run=f"s{k}", seed=k) for k in range(12)], ignore_index=True)
    df = pd.concat([df, df[df.detector == "fz"].assign(detector="fz2")], ignore_index=True)
    rng = np.random.default_rng(1)
    frozen = df.detector.isin(["fz", "fz2"]) & (df.metric == "auc")
    df.loc[frozen, "value"] = 0.7 + rng.normal(0, 0.03, int(frozen.sum()))
    s = analysis.forgetting_summary(df, "auc")
    fz = s[s.detector.isin(["fz", "fz2"])]
    seeds = analysis.over_seeds(fz[[*analysis.DETECTOR, "value", "excess"]], ["detector"], "value")
    assert (seeds.ci_low > 0).all(), "noise alone reads as forgetting, beyond doubt over 12 seeds"
    excess = analysis.over_seeds(fz[[*analysis.DETECTOR, "excess"]], ["detector"], "excess")
    assert (excess.ci_low < 0).all() and (excess.ci_high > 0).all()
    assert fz.beyond_floor.mean() <= 0.1  # within a run: the 95% interval's false positives, no more
    ft = s[s.detector == "ft"]
    assert ft.beyond_floor.mean() >= 0.9 and ft.excess.mean() > 0.2


def test_forgetting_flips_sign_for_lower_is_better_metrics():
    df = sawtooth().assign(metric="eer")
    f = analysis.forgetting(df, "eer")
    ft = f[f.detector == "ft"].set_index(["round", "generation"])
    # for eer lower is better: the best earlier score on generation 1 is round 2's 0.8, and the
    # round-3 version's 0.7 is an improvement, i.e. negative forgetting
    assert ft.loc[(3, 1), "best"] == pytest.approx(0.8) and ft.loc[(3, 1), "best_round"] == 2
    assert ft.loc[(3, 1), "forgetting"] == pytest.approx(-0.1)


def test_half_life_whole_and_interpolated_rounds():
    hl = analysis.half_life(sawtooth(), "tpr_at_1fpr")
    # ft: 0.4 / 0.9 = 0.44 < 0.5 one round after training; linear crossing at (1 - .5) / (1 - .444)
    assert _one(hl, "ft") == 1
    assert _one(hl, "ft", "interpolated") == pytest.approx(0.5 / (1 - 0.4 / 0.9))
    # fz: ratios 0.875, 0.625, 0.375: first below half at k = 3, crossing at 2.5
    assert _one(hl, "fz") == 3
    assert _one(hl, "fz", "interpolated") == pytest.approx(2.5)
    assert np.isnan(_one(hl, "fz", "censored_at"))


def test_half_life_is_censored_when_never_halved():
    df = sawtooth()
    df.loc[(df.detector == "ft") & (df.phase == "zero_day"), "value"] = 0.8
    hl = analysis.half_life(df, "tpr_at_1fpr")
    assert np.isnan(_one(hl, "ft")) and _one(hl, "ft", "censored_at") == 1


def test_half_life_ci_over_seeds():
    df = pd.concat([sawtooth(run="a", seed=0), sawtooth(run="b", seed=1)])
    fwd = analysis.over_seeds(analysis.forward_transfer(df, "auc"), ["detector"])
    ft = fwd[fwd.detector == "ft"].iloc[0]
    assert ft.value == pytest.approx(0.35) and ft.n_runs == 2
    # t interval of 0.3 and 0.4: sem 0.05, t(0.975, df=1) = 12.706; the bootstrap gave 0.3 .. 0.4
    half = 12.706204736174698 * 0.05
    assert (ft.ci_low, ft.ci_high) == pytest.approx((0.35 - half, 0.35 + half))
    table = analysis.over_seeds(analysis.derived(df))
    hl = table[(table.quantity == "half_life") & (table.detector == "fz")].iloc[0]
    assert hl.value == 3 and hl.n_runs == 2 and hl.n_missing == 0


def test_decay_area_over_a_common_window():
    a = analysis.decay_area(sawtooth(), "auc")
    assert set(a.window) == {1}  # ft only ever meets the next generation
    assert _one(a, "ft") == pytest.approx((0.9 + 0.4) / 2)
    assert _one(a, "fz") == pytest.approx((0.8 + 0.7) / 2)
    a4 = analysis.decay_area(sawtooth(), "auc", window=4)
    assert np.isnan(_one(a4, "ft"))
    assert _one(a4, "fz") == pytest.approx((0.75 + 0.6 + 0.4 + 0.25) / 4)
    with pytest.raises(ValueError, match="window"):
        analysis.decay_area(sawtooth(), "auc", window=0)


def test_decay_area_keeps_the_order_of_a_detector_above_another_in_every_cell():
    """`up` scores above `fz` on every (version, generation) cell both have, but later generations
    are harder: averaged over its versions, up's gap-0 score (every round's post) fell below fz's
    one gap-0 cell (the easy generation 1), and the old area ranked fz first (0.91 vs 0.885)."""
    rows = []
    for r in range(1, 7):
        post = 0.95 - 0.02 * (r - 1)
        up = dict(detector="up", strategy="finetune", round=r, generation=r)
        rows.append(row(**up, detector_round=r, phase="post", value=post))
        fz = dict(detector="fz", strategy="frozen", detector_round=1, round=r, generation=r)
        if r == 1:
            rows.append(row(**fz, phase="post", value=0.94))
        else:
            rows.append(row(**up, detector_round=r - 1, phase="zero_day", value=post - 0.02))
            rows.append(row(**fz, phase="zero_day", value=post - 0.03 - 0.01 * r))
    df = pd.DataFrame(rows)
    curve = analysis.decay_curve(df, "auc").set_index(["detector", "gap"]).value
    assert curve[("fz", 0)] > curve[("up", 0)]  # the unmatched curves cross: 0.94 vs 0.90
    old_area = {d: (curve[(d, 0)] + curve[(d, 1)]) / 2 for d in ("up", "fz")}
    assert old_area["fz"] > old_area["up"]  # what the old decay_area reported
    a = analysis.decay_area(df, "auc")
    assert _one(a, "up") == pytest.approx((0.95 + 0.91) / 2) and _one(a, "up", "n_cells") == 2
    assert _one(a, "fz") == pytest.approx((0.94 + 0.88) / 2)
    assert _one(a, "up") > _one(a, "fz")


def test_vault_gap_absent_then_present():
    assert analysis.vault_gap(sawtooth(), "auc").empty
    assert analysis.vault_gap_summary(sawtooth(), "auc").empty
    df = sawtooth(sealed=True)
    v = analysis.vault_gap(df, "auc")
    assert len(v) == 2 * ROUNDS
    np.testing.assert_allclose(v[v.detector == "ft"].gap, 0.3)
    np.testing.assert_allclose(v[v.detector == "fz"].seen, FROZEN)
    s = analysis.vault_gap_summary(df, "auc")
    assert _one(s, "ft") == pytest.approx(0.3)
    assert _one(s, "fz", "sealed") == pytest.approx(0.5)
    assert "vault_gap" in set(analysis.derived(df).quantity)


def test_vault_gap_from_per_strain_sealed_rows():
    rows = [row(round=1, phase="post", value=0.9)]
    rows += [
        row(round=1, phase="sealed", strain=s, family="vaultfam", value=v)
        for s, v in (("v1", 0.5), ("v2", 0.7))
    ]
    v = analysis.vault_gap(pd.DataFrame(rows), "auc")
    assert v.sealed.tolist() == pytest.approx([0.6]) and v.gap.tolist() == pytest.approx([0.3])


def test_family_debut_zero_day():
    rows = []
    for r in (1, 2, 3):
        strains = [("b1", "blend")] + ([("a1", "autoencoder"), ("a2", "autoencoder")] if r >= 2 else [])
        for s, fam in strains:
            post = dict(round=r, detector_round=r, generation=r, strain=s, family=fam, metric="tpr_at_1fpr")
            rows.append(row(**post, phase="post", value=0.95))
            if r > 1:
                zd = {**post, "detector_round": r - 1}
                rows.append(row(**zd, phase="zero_day", value={"b1": 0.8, "a1": 0.2, "a2": 0.4}[s]))
    d = analysis.family_debut(pd.DataFrame(rows)).set_index("family")
    assert d.loc["autoencoder", "debut_round"] == 2
    assert d.loc["autoencoder", "zero_day"] == pytest.approx(0.3)
    assert d.loc["autoencoder", "n_strains"] == 2
    assert d.loc["blend", "debut_round"] == 1 and np.isnan(d.loc["blend", "zero_day"])
    assert d.loc["blend", "post"] == pytest.approx(0.95)


def test_empty_and_single_round_tables_do_not_fail():
    one = sawtooth(rounds=1)
    assert analysis.forgetting(one, "auc").empty
    assert analysis.forward_transfer(one, "auc").empty
    assert analysis.half_life(one).empty
    assert analysis.derived(one).quantity.tolist().count("forward_transfer") == 0
    assert analysis.family_debut(one.iloc[:0]).empty
    assert analysis.score_matrix(one.iloc[:0]).empty


def test_load_runs_renames_clashing_runs(tmp_path):
    from tests.arena.fake_runs import make_run

    a = make_run(tmp_path / "x", "same", seed=0, rounds=2)
    b = make_run(tmp_path / "y", "same", seed=1, rounds=2)
    df = analysis.load_runs([a, b])
    assert sorted(df.run.unique()) == ["same", "same#1"]
    with pytest.raises(ValueError, match="no run"):
        analysis.load_runs([])
