"""The confirmatory protocol (issue 23): the registered arms' specs, the spec hash, matching runs to
a registration (confirmatory vs exploratory), the registered tests with Holm, the ablation's
classification, magnitudes beside the published figures, and `arena effects --registration` on
hand-built run folders (tests/arena/fake_runs.py; no simulation, no torch).

The fake arms (10 seeds each, s = 0..9) on fake_runs' sawtooth:
- every arm: `ft` post - zero-day the same per seed in every arm (effect 1 present, equal);
  `fz` frozen AUC 0.8, 0.7, 0.5, 0.3, 0.2 over gaps 0..4 (effect 5 slope -0.16 in every arm);
- `tw`, the exposed twin of `fz`: under selection 0.1 + 0.01 s below `fz` on every generation made
  after deployment (Red Queen signature ~0.15); under drift and static +-0.01 around `fz` (~0).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from deepfake_arena.analysis.effects import measure as effects
from deepfake_arena.analysis.effects import registration
from deepfake_arena.analysis.effects.protocol import (
    ABSENT,
    CONFIRMED,
    DRIVEN,
    NOT_CONFIRMED,
    NOT_RACE,
    RACE,
    REGARDLESS,
    UNCLASSIFIED,
    UNRESOLVED,
    VARIATION,
    ArmResult,
    ablation,
    classify,
    magnitudes,
    produced_by,
    registered_tests,
)
from deepfake_arena.analysis.effects.registration import (
    CONFIRMATORY,
    DIFF,
    EXPLORATORY,
    Registration,
    check_files,
    load_registration,
    match,
    spec_file_hash,
    spec_hash,
)
from deepfake_arena.cli import main
from deepfake_arena.spec import validate_spec
from tests.arena.fake_runs import FROZEN, make_run, row, sawtooth_rows
from tests.conftest import REPO

ARMS_DIR = REPO / "runs" / "effects"
SEEDS = list(range(10))
DETS = [
    {"name": "ft", "arch": "meso4", "strategy": "finetune"},
    {"name": "fz", "arch": "meso4", "strategy": "frozen", "exposed": False},
    {"name": "tw", "arch": "meso4", "strategy": "frozen", "exposed": True},
]
POPULATION = {
    "selection": {"tournament": 2, "elite": 1},
    "drift": {"tournament": 1, "elite": 0},
    "static": {"tournament": 2, "elite": 1, "mutation_rate": 0.0, "crossover": 0.0},
}


# ------------------------------------------------------------------------------- the arms' specs


def _raw(arm: str) -> dict:
    return yaml.safe_load((ARMS_DIR / f"{arm}.yaml").read_text())


def test_the_three_arms_differ_only_in_selection_and_variation():
    sel, drift, static = (_raw(a) for a in ("selection", "drift", "static"))
    assert sel["seeds"] == drift["seeds"] == static["seeds"]
    assert len(sel["seeds"]) >= 10 and not set(sel["seeds"]) & {0, 1, 2, 3, 4, 999}

    def without(raw: dict, keys: tuple[str, ...]) -> dict:
        return {**raw, "population": {k: v for k, v in raw["population"].items() if k not in keys}}

    assert without(drift, ("tournament", "elite")) == without(sel, ("tournament", "elite"))
    assert (drift["population"]["tournament"], drift["population"]["elite"]) == (1, 0)
    assert without(static, ("mutation_rate", "crossover")) == without(sel, ("mutation_rate", "crossover"))
    assert static["population"]["mutation_rate"] == 0 and static["population"]["crossover"] == 0
    spec = validate_spec({k: v for k, v in sel.items() if k != "seeds"})
    frozen = [d for d in spec.detectors if d.strategy == "frozen" and d.training == "supervised"]
    assert [d.exposed for d in frozen] == [False, True]  # the lab detector and its exposed twin
    assert frozen[0].scratch == frozen[1].scratch and frozen[0].arch == frozen[1].arch
    split = effects.vault_split(json.loads(json.dumps(spec.model_dump(mode="json"))))
    assert split["evasion"] and split["no_evasion"] and split["off_path"]


def test_the_registration_matches_the_committed_arm_specs():
    reg = load_registration(ARMS_DIR / "registration.yaml")
    assert check_files(reg, REPO) == []
    assert set(reg.arms) == {"selection", "drift", "static"}
    assert reg.seeds == _raw("selection")["seeds"] and len(reg.seeds) >= 10
    assert reg.alpha == 0.05 and reg.correction == "holm"
    known = {
        "decay_recovery": {"post_minus_zero_day"},
        "seen_vs_sealed": {"auc_gap_evasion", "auc_gap_no_evasion"},
        "sbi_generalises": {"sbi_minus_baseline_off_path"},
        "forgetting": {"finetune_minus_replay"},
        "forward_transfer": {"slope"},
        "red_queen": {"unexposed_minus_exposed"},
        "zero_day_new": {"zero_day_auc"},
    }
    assert all(t.stat in known[t.name] for t in reg.tests)


def test_default_genes_the_vault_split_assumes_are_the_families_defaults():
    from deepfake_arena.generators.evasion import EVASION_GENES
    from deepfake_arena.generators.stages import PASTE_GENES

    assert next(g.default for g in EVASION_GENES if g.name == "evasion") == effects.DEFAULT_EVASION
    assert next(g.default for g in PASTE_GENES if g.name == "blend_mode") == effects.DEFAULT_BLEND


# ------------------------------------------------------------------------------- hash and match


def test_spec_hash_ignores_seeds_comments_and_order_but_not_a_value(tmp_path):
    text = (ARMS_DIR / "selection.yaml").read_text()
    base = spec_file_hash(ARMS_DIR / "selection.yaml")
    other = tmp_path / "a.yaml"
    other.write_text("# another comment\nseeds: [7]\n" + text.replace("seeds: [", "# seeds: ["))
    assert spec_file_hash(other) == base
    other.write_text(text.replace("  mutation_rate: 0.5\n", "  mutation_rate: 0.55\n"))
    assert spec_file_hash(other) != base
    resolved = validate_spec({**_raw("selection"), "seeds": None, "seed": 1003}).model_dump(mode="json")
    assert spec_hash(resolved) == base  # a member's spec.resolved.json hashes as its file
    assert spec_hash(dict(reversed(list(resolved.items())))) == base


def _reg(hashes: dict[str, str], seeds: list[int] = SEEDS) -> Registration:
    tests = [
        dict(id="e1", effect=1, name="decay_recovery", stat="post_minus_zero_day", alternative="greater",
             difference="greater", source="world design"),
        dict(id="e5", effect=5, name="forward_transfer", stat="slope", alternative="less",
             difference="less", source="spec schedule"),
        dict(id="e6", effect=6, name="red_queen", stat="unexposed_minus_exposed", alternative="greater",
             difference="greater", source="world design"),
        dict(id="e7", effect=7, name="zero_day_new", stat="zero_day_auc", alternative=None,
             difference="less", source="world design"),
    ]  # fmt: skip
    return Registration.model_validate(
        {
            "registered": "2026-12-03T08:39Z",
            "alpha": 0.05,
            "correction": "holm",
            "seeds": seeds,
            "arms": {a: {"spec": f"runs/{a}.yaml", "sha256": h} for a, h in hashes.items()},
            "tests": tests,
        }
    )


def _spec(arm: str, **change: object) -> dict:
    return {"rounds": 5, "detectors": DETS, "population": {**POPULATION[arm], **change}}


def test_match_is_confirmatory_only_for_the_registered_hash_and_seeds():
    reg = _reg({a: spec_hash(_spec(a)) for a in POPULATION})
    m = match(reg, {**_spec("drift"), "seed": 3}, SEEDS[::-1], ["seed3", "whatever"])
    assert (m.arm, m.evidence, m.reason) == ("drift", CONFIRMATORY, "")
    changed = match(reg, _spec("drift", mutation_rate=0.31), SEEDS, ["seed0", "drift"])
    assert (changed.arm, changed.evidence) == (
        "drift",
        EXPLORATORY,
    ) and "not a registered arm" in changed.reason
    assert match(reg, _spec("drift", mutation_rate=0.31), SEEDS, ["x"]).arm is None
    fewer = match(reg, _spec("selection"), SEEDS[:9], [])
    assert fewer.evidence == EXPLORATORY and "missing seeds [9]" in fewer.reason
    other = match(reg, _spec("selection"), [0, 1, 2, 3, 4, 5, 6, 7, 8, 42], [])
    assert other.evidence == EXPLORATORY and "unregistered seeds [42]" in other.reason
    unfinished = match(reg, _spec("selection"), SEEDS, [], [4, 7])
    assert unfinished.evidence == EXPLORATORY and "seeds [4, 7] have not finished" in unfinished.reason
    assert match(None, _spec("selection"), SEEDS, ["seed0", "static"]) == registration.Match(
        "static", EXPLORATORY, "no registration given"
    )


def test_a_bad_registration_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text(yaml.safe_dump({"registered": "x", "alpha": 2, "correction": "holm"}))
    with pytest.raises(registration.ArenaUserError, match="alpha"):
        load_registration(bad)
    with pytest.raises(registration.ArenaUserError, match="not found"):
        load_registration(tmp_path / "none.yaml")


# ------------------------------------------------------------------------------- classification


def test_classify_and_what_produces_it():
    assert classify(True, False, True) == DRIVEN
    assert classify(False, False, True) == DRIVEN
    assert classify(True, True, False) == REGARDLESS
    assert classify(False, False, False) == ABSENT
    assert classify(None, None, False) == ABSENT  # a level tested only as a difference
    assert classify(True, False, False) == UNRESOLVED
    assert classify(False, True, False) == UNRESOLVED
    assert classify(True, None, None) == classify(False, None, None) == UNCLASSIFIED
    assert produced_by(DRIVEN, None, "world design") == RACE
    assert produced_by(REGARDLESS, True, "spec schedule") == "spec schedule"
    assert produced_by(REGARDLESS, False, "world design") == VARIATION
    assert produced_by(ABSENT, True, "world design") == "—"
    assert produced_by(REGARDLESS, None, "world design") == NOT_RACE


def _twin_rows(arm: str, seed: int) -> list[dict[str, object]]:
    """`tw`'s rows: zero-day and post on each generation (frozen, version 1)."""
    out = []
    for r in range(1, 6):
        gap = 0.1 + 0.01 * seed if arm == "selection" and r >= 2 else 0.01 * (-1) ** seed
        at = dict(run=f"{arm}-seed{seed}", seed=seed, detector="tw", strategy="frozen", detector_round=1)
        for phase in ("zero_day", "post") if r >= 2 else ("post",):
            out.append(row(**at, round=r, generation=r, phase=phase, value=FROZEN[r - 1] - gap))
    return out


def _arm_table(arm: str) -> pd.DataFrame:
    rows = []
    for s in SEEDS:
        rows += sawtooth_rows(run=f"{arm}-seed{s}", seed=s) + _twin_rows(arm, s)
    return pd.DataFrame(rows)


def _arm(arm: str, reg: Registration | None, spec: dict | None = None) -> ArmResult:
    spec = spec or _spec(arm)
    m = match(reg, spec, SEEDS, [arm])
    seeds = {f"{arm}-seed{s}": s for s in SEEDS}
    return ArmResult(arm, arm, m, effects.measure(_arm_table(arm), spec), seeds)


def test_registered_tests_holm_and_the_ablation_on_fake_arms():
    reg = _reg({a: spec_hash(_spec(a)) for a in POPULATION})
    arms = {a: _arm(a, reg) for a in POPULATION}
    tests = registered_tests(reg, arms)
    # 3 per-arm tests x 3 arms (e7 is a level: no per-arm test) + 4 differences
    assert len(tests) == 13 and set(tests.family) == {"selection", "drift", "static", DIFF}
    by = tests.set_index(["test", "arm"])
    rq = by.loc[("e6", "selection")]
    assert rq.value == pytest.approx(np.mean([0.1 + 0.01 * s for s in SEEDS]))
    assert rq.p_value == pytest.approx(2.0**-10) and rq.verdict == CONFIRMED
    assert by.loc[("e6", "drift")].verdict == NOT_CONFIRMED
    # Holm within a family: the three selection tests all have p = 2^-10, adjusted x3
    sel = tests[tests.family == "selection"]
    assert sel.p_holm.tolist() == pytest.approx([3 * 2.0**-10] * 3)
    assert by.loc[("e6", DIFF)].shown and not by.loc[("e1", DIFF)].shown
    abl = ablation(reg, tests).set_index("test")
    assert abl.loc["e6", "classification"] == DRIVEN and abl.loc["e6", "produced_by"] == RACE
    assert abl.loc["e1", "classification"] == REGARDLESS and abl.loc["e1", "produced_by"] == "world design"
    assert abl.loc["e5", "produced_by"] == "spec schedule"
    assert abl.loc["e7", "classification"] == ABSENT  # equal zero-day AUC in both arms
    assert (abl.evidence == CONFIRMATORY).all()


def test_a_changed_spec_or_other_seeds_make_the_verdicts_exploratory():
    reg = _reg({a: spec_hash(_spec(a)) for a in POPULATION})
    arms = {a: _arm(a, reg) for a in ("selection", "drift")}
    arms["selection"] = _arm("selection", reg, _spec("selection", mutation_scale=0.31))
    tests = registered_tests(reg, arms).set_index(["test", "arm"])
    assert tests.loc[("e6", "selection")].verdict == "shown (exploratory)"
    assert tests.loc[("e6", DIFF)].verdict == "shown (exploratory)"
    assert tests.loc[("e6", "drift")].verdict == NOT_CONFIRMED  # drift itself still matches
    reseeded = _reg({a: spec_hash(_spec(a)) for a in POPULATION}, seeds=[s + 1000 for s in SEEDS])
    again = registered_tests(reseeded, {a: _arm(a, reseeded) for a in ("selection", "drift")})
    assert set(again.evidence) == {EXPLORATORY} and "missing seeds" in again.reason[0]


def test_magnitudes_are_ratios_to_the_published_figures_with_their_ci():
    s = effects.Stat("auc_gap_evasion", "", pd.Series([0.1, 0.2, 0.3], index=["a", "b", "c"]), 0.0, "above")
    eff = effects.Effect(2, "seen_vs_sealed", "", "", stats=[s])
    m = magnitudes({"selection": ArmResult("selection", "x", match(None, {}, [], []), [eff], {})})
    r = m.iloc[0]
    assert r.published == pytest.approx(0.256) and r.ratio == pytest.approx(0.2 / 0.256)
    assert (r.ratio_ci_low, r.ratio_ci_high) == pytest.approx((s.ci_low / 0.256, s.ci_high / 0.256))


# ------------------------------------------------------------------------------- the command


def _arm_runs(root: Path, arm: str, spec: dict) -> Path:
    folder = root / arm
    folder.mkdir()
    members = []
    for s in SEEDS:
        make_run(folder, f"seed{s}", seed=s, extra_spec=spec, extra_rows=_twin_rows_named(arm, s))
        members.append({"name": f"seed{s}", "settings": {"seed": s}})
    (folder / "sweep.json").write_text(json.dumps({"members": members}))
    return folder


def _twin_rows_named(arm: str, seed: int) -> list[dict[str, object]]:
    return [{**r, "run": f"seed{seed}"} for r in _twin_rows(arm, seed)]


def _resolved(folder: Path) -> dict:
    return json.loads((folder / "seed0" / "spec.resolved.json").read_text())


def test_cli_with_a_registration_writes_the_protocol_tables(tmp_path, capsys):
    folders = {a: _arm_runs(tmp_path, a, _spec(a)) for a in POPULATION}
    reg = _reg({a: spec_hash(_resolved(f)) for a, f in folders.items()})
    reg_file = tmp_path / "registration.yaml"
    reg_file.write_text(yaml.safe_dump(reg.model_dump(mode="json")))
    out = tmp_path / "out"
    args = ["effects", *map(str, folders.values()), "--registration", str(reg_file), "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    tests = pd.read_csv(out / "effects_tests.csv")
    assert set(tests.evidence) == {CONFIRMATORY} and "arm selection" in printed
    abl = pd.read_csv(out / "effects_ablation.csv").set_index("test")
    assert abl.loc["e6", "classification"] == DRIVEN and abl.loc["e1", "classification"] == REGARDLESS
    assert (out / "arms_cat_and_mouse.png").stat().st_size > 0
    arms_csv = pd.read_csv(out / "arms_cat_and_mouse.csv")
    assert set(arms_csv.arm) == set(POPULATION) and {"exposed", "unexposed", "ft"} <= set(arms_csv.detector)
    assert (out / "effects_magnitudes.csv").is_file()
    md = (out / "effects_protocol.md").read_text()
    assert md.count("\n") == 2 + 4 and "| e6 |" in md and "driven by selection" in md and "the race" in md
    # one changed value in a run's resolved spec: its arm is exploratory (by folder name)
    for s in SEEDS:
        p = folders["drift"] / f"seed{s}" / "spec.resolved.json"
        spec = json.loads(p.read_text())
        spec["population"]["mutation_rate"] = 0.4
        p.write_text(json.dumps(spec))
    assert main([*args, "--no-plots"]) == 0
    tests = pd.read_csv(out / "effects_tests.csv")
    assert set(tests[tests.arm == "drift"].evidence) == {EXPLORATORY}
    assert set(tests[tests.arm == "selection"].evidence) == {CONFIRMATORY}
    assert set(tests[tests.arm == DIFF].verdict) <= {"shown (exploratory)", "not shown (exploratory)"}
    assert main([*args[:-4], "--registration", str(tmp_path / "nope.yaml")]) == 1


def test_a_feature_that_is_off_leaves_the_hash_alone() -> None:
    """A spec key added later with a null or [] default (a feature off) does not change a hash;
    any value that is set does."""
    from deepfake_arena.analysis.effects.registration import spec_hash

    base = {"rounds": 4, "world": {"resolution": 32}, "detectors": [{"name": "d", "lr": 0.1}],
            "evaluation": {"past_budget": 48}}  # fmt: skip
    later = {**base, "world": {"resolution": 32, "round_months": None}}
    later["evaluation"] = {"past_budget": 48, "external": []}
    later["detectors"] = [{"name": "d", "lr": 0.1, "weights": None}]
    assert spec_hash(later) == spec_hash(base)
    on = {**later, "evaluation": {"past_budget": 48, "external": [{"name": "x"}]}}
    assert spec_hash(on) != spec_hash(base)
    assert spec_hash({**base, "rounds": 5}) != spec_hash(base)


# ------------------------------------------------------------------------------- issue 28's arms

FIELD_DIR = ARMS_DIR / "field"
BURNT = {0, 1, 2, 3, 4, 999, *range(1000, 1010)}


def test_issue_28_arms_differ_only_in_selection_and_variation_on_fresh_seeds():
    raw = {a: yaml.safe_load((FIELD_DIR / f"{a}.yaml").read_text()) for a in ("selection", "drift", "static")}

    def strip(r: dict, keys: tuple[str, ...]) -> dict:
        return {**r, "population": {k: v for k, v in r["population"].items() if k not in keys}}

    for arm, keys in (("drift", ("tournament", "elite")), ("static", ("mutation_rate", "crossover"))):
        assert strip(raw[arm], keys) == strip(raw["selection"], keys)
        assert {k: raw[arm]["population"][k] for k in keys} == {k: POPULATION[arm][k] for k in keys}
    seeds = raw["selection"]["seeds"]
    assert len(seeds) >= 8 and not set(seeds) & BURNT
    spec = validate_spec({k: v for k, v in raw["selection"].items() if k != "seeds"})
    assert {d.arch for d in spec.detectors} == {"meso4", "xception", "spectrum"} and len(spec.detectors) >= 4
    assert len(spec.evaluation.jpeg_qualities) >= 3


def test_issue_28_registration_matches_its_arm_specs_and_names_field_statistics():
    reg = load_registration(FIELD_DIR / "registration.yaml")
    assert check_files(reg, REPO) == []
    assert reg.seeds == yaml.safe_load((FIELD_DIR / "selection.yaml").read_text())["seeds"]
    known = {
        "ranking_reversal": {"tau", "best_differs"},
        "compression": {"small_slope", "large_slope", "small_minus_large_slope"},
        "spectral_evasion": {"spectrum_minus_meso4_slope", "spectral_share_change"},
    }
    assert all(t.stat in known[t.name] for t in reg.tests)
    old = load_registration(ARMS_DIR / "registration.yaml")  # issue 23's arms are other specs
    assert not {a.sha256 for a in old.arms.values()} & {a.sha256 for a in reg.arms.values()}


def test_a_test_without_a_difference_is_read_per_arm_only():
    base = _reg({a: spec_hash(_spec(a)) for a in POPULATION})
    e1 = base.tests[0].model_copy(update={"difference": None})
    reg = base.model_copy(update={"tests": [e1, *base.tests[1:]]})
    tests = registered_tests(reg, {a: _arm(a, reg) for a in POPULATION})
    assert not ((tests.test == "e1") & (tests.arm == DIFF)).any()
    assert (tests.arm == DIFF).sum() == 3  # Holm over the three differences left
    abl = ablation(reg, tests).set_index("test")
    assert abl.loc["e1", "classification"] == REGARDLESS  # shown in selection and drift
    assert abl.loc["e1", "produced_by"] == "world design"  # and in static
