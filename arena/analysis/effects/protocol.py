"""The registered tests of a confirmatory protocol, the ablation's verdict per effect, and each
effect's magnitude beside the published figure (issue 23).

Why: the effects table of `analysis.effects.measure` says whether an effect appears in some runs. A
researcher also needs to know (a) whether that was predicted before the runs, on seeds nobody
tuned on (`analysis.effects.registration`), and (b) what produces it in the simulation: the race itself
(generators selected for evading the detectors), or the world's design and the spec's schedule,
which would produce it with no selection at all. The ablation answers (b) with three arms on the
same world and seeds: `selection`, `drift` (no selection, the same variation) and `static` (no
variation).

- `registered_tests`: every registered statistic in every arm (against its null, on the predicted
  side) and as the selection - drift difference paired by seed; Student t 95% interval, exact
  sign-flip p, Holm over the tests of one arm and over the differences; a test is shown when
  p_holm < alpha and the interval excludes the null on the predicted side; verdict *confirmed* /
  *not confirmed* only for arms whose runs match the registration, else *exploratory*.
- `ablation`: per registered statistic, the arms' outcomes and `classify`: **driven by
  selection**, **present regardless of selection**, **absent**, or **unresolved**, and what
  produces it (`produced_by`).
- `magnitudes`: the statistics with a published figure, as a ratio to it with its CI.

Torch-free (pandas, numpy, scipy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepfake_arena.analysis.effects.field import FF_DROP_DIFFERENCE, FF_MESO_DROP, FF_XCEPTION_DROP
from deepfake_arena.analysis.effects.measure import (
    CHANCE,
    DEEPFAKEBENCH_AUC_GAP,
    DFDC_ACC_GAP,
    SBI_AUC_GAIN,
    TOL,
    Effect,
)
from deepfake_arena.analysis.effects.registration import CONFIRMATORY, DIFF, Match, Registration, TestReg
from deepfake_arena.analysis.seed_stats import holm, sign_flip_p, t_interval

DRIVEN, REGARDLESS, ABSENT, UNRESOLVED, UNCLASSIFIED = (
    "driven by selection",
    "present regardless of selection",
    "absent",
    "unresolved",
    "not classified (needs the selection and drift arms)",
)
RACE, VARIATION = "the race (selection)", "variation without selection"
NOT_RACE = "not the race (the static arm, which would say what, is not measured)"
CONFIRMED, NOT_CONFIRMED, NOT_MEASURED = "confirmed", "not confirmed", "not measured"

TEST_COLUMNS = [
    "test",
    "effect",
    "name",
    "stat",
    "arm",
    "family",
    "alternative",
    "null",
    "value",
    "ci_low",
    "ci_high",
    "n_seeds",
    "p_value",
    "p_holm",
    "shown",
    "verdict",
    "evidence",
    "reason",
]


@dataclass
class ArmResult:
    """One arm's condition: its match against the registration, its effects, run -> seed."""

    arm: str
    label: str
    match: Match
    effects: list[Effect]
    seeds: dict[str, int]


def per_seed(arm: ArmResult, name: str, stat: str) -> pd.Series:
    """A statistic's per-seed values, indexed by seed (empty when not measured)."""
    eff = next((e for e in arm.effects if e.name == name), None)
    s = eff.stat(stat) if eff is not None else None
    if s is None:
        return pd.Series(dtype=float)
    out = s.per_seed.rename(index=lambda run: arm.seeds.get(str(run), run)).astype(float)
    return out[np.isfinite(out.to_numpy())]


def _excludes(lo: float, hi: float, null: float, alternative: str) -> bool:
    return bool(lo > null + TOL) if alternative == "greater" else bool(hi < null - TOL)


def _test_row(
    t: TestReg, arm: str, values: pd.Series, null: float, alternative: str, evidence: Match | None
) -> dict[str, object]:
    x = values.to_numpy(dtype=float)
    lo, hi = t_interval(x)
    return {
        "test": t.id,
        "effect": t.effect,
        "name": t.name,
        "stat": t.stat,
        "arm": arm,
        "family": arm,
        "alternative": alternative,
        "null": null,
        "value": float(x.mean()) if x.size else np.nan,
        "ci_low": lo,
        "ci_high": hi,
        "n_seeds": int(x.size),
        "p_value": sign_flip_p(x - null, alternative) if x.size else np.nan,
        "evidence": evidence.evidence if evidence else "",
        "reason": evidence.reason if evidence else "",
    }


def registered_tests(reg: Registration, arms: Mapping[str, ArmResult]) -> pd.DataFrame:
    """One row per (test, arm) and per test's selection - drift difference; see the module doc."""
    rows: list[dict[str, object]] = []
    for t in reg.tests:
        for name in reg.arms:
            if t.alternative is None or name not in arms:
                continue
            a = arms[name]
            rows.append(_test_row(t, name, per_seed(a, t.name, t.stat), t.null, t.alternative, a.match))
        if t.difference is not None and "selection" in arms and "drift" in arms:
            s, d = arms["selection"], arms["drift"]
            sv, dv = per_seed(s, t.name, t.stat), per_seed(d, t.name, t.stat)
            both = sv.index.intersection(dv.index)
            diff = (sv[both] - dv[both]).sort_index()
            ev = s.match if s.match.evidence != CONFIRMATORY else d.match
            row = _test_row(t, DIFF, diff, 0.0, t.difference, ev)
            if len(both) < max(len(sv), len(dv)):
                row["reason"] = "; ".join(
                    filter(None, [str(row["reason"]), f"{len(both)} seeds in both arms"])
                )
            rows.append(row)
    out = pd.DataFrame(rows, columns=[c for c in TEST_COLUMNS if c not in ("p_holm", "shown", "verdict")])
    out["p_holm"] = np.nan
    for _, idx in out.groupby("family", sort=False).groups.items():
        out.loc[idx, "p_holm"] = holm(out.loc[idx, "p_value"].tolist())
    out["shown"] = [
        bool(r.p_holm < reg.alpha) and _excludes(r.ci_low, r.ci_high, r.null, r.alternative)
        for r in out.itertuples()
    ]
    out["verdict"] = [
        NOT_MEASURED
        if r.n_seeds == 0
        else (CONFIRMED if r.shown else NOT_CONFIRMED)
        if r.evidence == CONFIRMATORY
        else ("shown" if r.shown else "not shown") + " (exploratory)"
        for r in out.itertuples()
    ]
    return out[TEST_COLUMNS].reset_index(drop=True)


def classify(selection: bool | None, drift: bool | None, difference: bool | None) -> str:
    """The ablation's reading of one effect (None: not tested / not measured there).

    driven by selection: the paired selection - drift difference is shown in the predicted
    direction; present regardless: not that, but shown in both selection and drift; absent: shown
    in neither (or, for a level tested only as a difference, the difference is not shown);
    unresolved: shown in exactly one of them without a difference shown. Without a measured
    difference (an arm missing) there is nothing to classify.
    """
    if difference is None:
        return UNCLASSIFIED
    if difference:
        return DRIVEN
    if selection is None and drift is None:
        return ABSENT
    if selection and drift:
        return REGARDLESS
    if not selection and not drift:
        return ABSENT
    return UNRESOLVED


def shown_in(selection: bool | None, drift: bool | None) -> str:
    """The reading of a test registered with no selection - drift prediction (the race is not
    tested as its cause): present regardless when shown in both arms, absent in neither."""
    if selection is None or drift is None:
        return UNCLASSIFIED
    return REGARDLESS if selection and drift else ABSENT if not (selection or drift) else UNRESOLVED


def produced_by(classification: str, static: bool | None, source: str) -> str:
    """What produces the effect: the race if driven by selection; if present regardless, the
    registered non-race `source` when the static arm (no variation at all) shows it too, else the
    drift arm's variation; nothing when absent or unresolved."""
    if classification == DRIVEN:
        return RACE
    if classification == REGARDLESS:
        if static is None:
            return NOT_RACE
        return source if static else VARIATION
    return "—"


def ablation(reg: Registration, tests: pd.DataFrame) -> pd.DataFrame:
    """Per registered statistic: each arm's value and whether it is shown, the selection - drift
    difference, the classification and what produces it."""
    rows = []
    for t in reg.tests:
        sub = tests[tests.test == t.id].set_index("arm")
        row: dict[str, object] = {"test": t.id, "effect": t.effect, "name": t.name, "stat": t.stat}
        shown: dict[str, bool | None] = {}
        for arm in [*reg.arms, DIFF]:
            if arm in sub.index and sub.loc[arm, "n_seeds"] > 0:
                r = sub.loc[arm]
                shown[arm] = bool(r.shown)
                row[f"{arm}_value"] = r.value
                row[f"{arm}_ci"] = f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]"
                row[f"{arm}_p_holm"] = r.p_holm
                row[f"{arm}_shown"] = bool(r.shown)
            else:
                shown[arm] = None
        c = (
            classify(shown.get("selection"), shown.get("drift"), shown.get(DIFF))
            if t.difference is not None
            else shown_in(shown.get("selection"), shown.get("drift"))
        )
        row["classification"] = c
        row["produced_by"] = produced_by(c, shown.get("static"), t.source)
        confirm = tests[tests.test == t.id].evidence.eq(CONFIRMATORY).all()
        row["evidence"] = CONFIRMATORY if confirm and len(sub) else "exploratory"
        rows.append(row)
    return pd.DataFrame(rows)


# (statistic name, published figure, what it is, unit); the ratio is measured / published. Kendall's
# tau is not here: a ratio to a negative published tau (-1/3) reads backwards; docs/effects.md
# gives 1 - tau, the distance from the same order, as a ratio instead.
PUBLISHED = [
    ("auc_gap_evasion", DEEPFAKEBENCH_AUC_GAP, "DeepfakeBench Xception 0.964 - 0.708 AUC", "AUC gap"),
    ("auc_gap_no_evasion", DEEPFAKEBENCH_AUC_GAP, "DeepfakeBench Xception 0.964 - 0.708 AUC", "AUC gap"),
    ("auc_gap", DEEPFAKEBENCH_AUC_GAP, "DeepfakeBench Xception 0.964 - 0.708 AUC", "AUC gap"),
    ("accuracy_gap_evasion", DFDC_ACC_GAP, "DFDC 82.56% public - 65.18% private", "accuracy gap"),
    ("accuracy_gap_no_evasion", DFDC_ACC_GAP, "DFDC 82.56% public - 65.18% private", "accuracy gap"),
    ("accuracy_gap", DFDC_ACC_GAP, "DFDC 82.56% public - 65.18% private", "accuracy gap"),
    ("sbi_minus_baseline_off_path", SBI_AUC_GAIN, "SBI +4.90 AUC points over its baseline", "AUC"),
    ("sbi_minus_baseline", SBI_AUC_GAIN, "SBI +4.90 AUC points over its baseline", "AUC"),
    ("final_auc", CHANCE, "chronological study: forward-transfer AUC ~0.5", "AUC"),
    ("small_drop", FF_MESO_DROP, "FF++ FaceSwap HQ -> LQ, MesoNet 81.24 -> 61.17%", "accuracy vs AUC drop"),
    (
        "large_drop",
        FF_XCEPTION_DROP,
        "FF++ FaceSwap HQ -> LQ, Xception 98.23 -> 92.17%",
        "accuracy vs AUC drop",
    ),
    (
        "small_minus_large_drop",
        FF_DROP_DIFFERENCE,
        "FF++ FaceSwap drop MesoNet - Xception",
        "accuracy vs AUC drop",
    ),
]


def magnitudes(arms: Mapping[str, ArmResult]) -> pd.DataFrame:
    """Each statistic with a published figure, per arm: mean and t CI over seeds, and the ratio
    measured / published with its CI (the CI divided by the published constant). Reported, never
    a target."""
    rows = []
    for arm, a in arms.items():
        for e in a.effects:
            for stat, ref, what, unit in PUBLISHED:
                s = e.stat(stat)
                if s is None or s.n_seeds == 0:
                    continue
                rows.append(
                    {
                        "arm": arm,
                        "evidence": a.match.evidence,
                        "effect": e.number,
                        "name": e.name,
                        "stat": stat,
                        "unit": unit,
                        "value": s.value,
                        "ci_low": s.ci_low,
                        "ci_high": s.ci_high,
                        "n_seeds": s.n_seeds,
                        "published": ref,
                        "published_what": what,
                        "ratio": s.value / ref,
                        "ratio_ci_low": s.ci_low / ref,
                        "ratio_ci_high": s.ci_high / ref,
                    }
                )
    return pd.DataFrame(rows)


def format_tests(tests: pd.DataFrame, ablation_table: pd.DataFrame) -> str:
    """The registered tests and the ablation as aligned text."""
    lines = [
        f"{'test':<5} {'arm':<15} {'value':>8} {'95% t CI':>20} {'seeds':>5} {'p':>8} {'p_holm':>8}  verdict"
    ]
    for r in tests.itertuples():
        ci = f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]" if np.isfinite(r.ci_low) else "—"
        v = f"{r.value:+.3f}" if np.isfinite(r.value) else "—"
        p = f"{r.p_value:.4f}" if np.isfinite(r.p_value) else "—"
        ph = f"{r.p_holm:.4f}" if np.isfinite(r.p_holm) else "—"
        note = f"  ({r.reason})" if r.reason else ""
        lines.append(
            f"{r.test:<5} {r.arm:<15} {v:>8} {ci:>20} {r.n_seeds:>5} {p:>8} {ph:>8}  {r.verdict}{note}"
        )
    lines.append("")
    lines.append(f"{'test':<5} {'effect':<17} {'stat':<28} {'classification':<32} produced by")
    for r in ablation_table.itertuples():
        lines.append(f"{r.test:<5} {r.name:<17} {r.stat:<28} {r.classification:<32} {r.produced_by}")
    return "\n".join(lines)


def _cell(r: pd.Series | None) -> str:
    if r is None or not r.n_seeds:
        return "—"
    mark = " ✓" if r.shown else ""
    return f"{r.value:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}], p_holm {r.p_holm:.3g}{mark}"


def _published_for(t: TestReg) -> list[str]:
    """The statistics whose ratio to a published figure stands beside a registered test: its own,
    its accuracy twin (effect 2), the final AUC (effect 5)."""
    out = [t.stat]
    if t.stat.startswith("auc_gap"):
        out.append(t.stat.replace("auc_", "accuracy_", 1))
    if t.name == "forward_transfer":
        out.append("final_auc")
    if t.stat == "small_minus_large_slope":
        out += ["small_drop", "large_drop", "small_minus_large_drop"]
    return out


def markdown(reg: Registration, tests: pd.DataFrame, abl: pd.DataFrame, mags: pd.DataFrame) -> str:
    """The confirmatory table as Markdown: per registered statistic, each arm (mean, t CI, Holm p;
    ✓ = shown), selection - drift, the verdict in the selection arm, the ablation's reading, what
    produces it, and the ratio to the published figure (selection arm)."""
    arms = [a for a in reg.arms if (tests.arm == a).any()]
    head = [
        "test",
        "statistic",
        *arms,
        "selection − drift",
        "verdict",
        "ablation",
        "produced by",
        "published",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in reg.tests:
        sub = {r.arm: r for _, r in tests[tests.test == t.id].iterrows()}
        a = abl[abl.test == t.id].iloc[0] if (abl.test == t.id).any() else None
        main = sub.get("selection") if t.alternative is not None else sub.get(DIFF)
        pub = "; ".join(
            f"{r.stat} {r.value:+.3f}: {r.ratio:.2f}x [{r.ratio_ci_low:.2f}, {r.ratio_ci_high:.2f}] of "
            f"{r.published:.3g} ({r.published_what})"
            for stat in _published_for(t)
            for r in (
                mags[(mags.stat == stat) & (mags.arm == "selection")] if not mags.empty else mags
            ).itertuples()
        )
        cells = [
            t.id,
            f"{t.effect} {t.name}: {t.stat} ({'>' if t.alternative == 'greater' else '<'} {t.null:g})"
            if t.alternative
            else f"{t.effect} {t.name}: {t.stat} (level)",
            *[_cell(sub.get(arm)) for arm in arms],
            _cell(sub.get(DIFF))
            + (f" ({'>' if t.difference == 'greater' else '<'} 0)" if t.difference else ""),
            str(main.verdict) if main is not None else "—",
            str(a.classification) if a is not None else "—",
            str(a.produced_by) if a is not None else "—",
            pub,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
