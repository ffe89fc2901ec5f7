"""The five effects the field knows, measured on the arena's runs, with a CI over seeds.

A simulator earns trust when it reproduces, on its own, what real-world studies found. Each
effect below is one statistic computed per seed (per run), averaged over the seeds of a condition
with a Student t CI over seeds (`deepfake_arena.analysis.seed_stats.t_interval`), and given a verdict:

- `shown`: every required check's CI excludes its null on the predicted side (e.g. CI low > 0
  for a gap predicted positive); needs >= 2 seeds for a CI (use >= 5 for full size);
- `not shown`: measured, but some required CI does not exclude the null (or one seed only);
- `not measured`: the runs lack the inputs (no sealed rows, no replay detector...); the reason
  says which. Never an error.

Definitions (AUC unless said otherwise; "retrained" detectors are the supervised, non-frozen ones,
i.e. those that retrain on each generation's fakes):

1. decay_recovery: per retrained detector and round r >= 2, post AUC minus zero-day AUC on
   generation r (strain "all"), averaged over detectors and rounds. Also reported: the share
   of (detector, round) pairs where post > zero-day. Required: mean gap > 0.
2. seen_vs_sealed: `deepfake_arena.analysis.derived.vault_gap` of the retrained detectors (post on this
   round's generation minus the sealed vault families, strain "all"), averaged over detectors
   and rounds; the same in accuracy at 0.5. Required: AUC gap > 0. External: DFDC 2020 82.56%
   vs 65.18% accuracy; DeepfakeBench Xception 0.964 vs 0.708 AUC.
3. sbi_generalises: mean sealed AUC (per vault strain, averaged over strains and rounds) of the
   `sbi`-trained detector minus that of the baseline, a non-sbi detector of the same arch, on
   the sealed families the baseline never trained on. Required: difference > 0. External: SBI
   (CVPR 2022) +4.90 AUC points on DFDC over its baseline.
4. forgetting: `analysis.derived.forgetting_summary` (the last version's mean drop on every earlier
   generation) of the finetune detector minus the replay detector's. Required: difference > 0
   and finetune forgetting above its noise floor (the frozen detectors' apparent forgetting on
   the same generations) > 0; runs without a frozen detector have no floor, and then finetune
   forgetting > 0 is required instead (the stat's description says so). External: CDDB
   (forgetting under fine-tuning, less with replay).
5. forward_transfer: the frozen detector's AUC against generation gap k = j - i >= 0 (its own
   generation, then every later one, `deepfake_arena.analysis.derived.score_matrix`): least-squares slope per
   seed, and |AUC(last) - 0.5| - |AUC(first) - 0.5|. Required: slope < 0 and the distance to
   chance shrinks (< 0). Also reported: the final AUC, and the zero-day AUC on each family that
   unlocks after round 1 (innovation) at its debut, minus the AUC at gap 0. External: a 2025
   chronological study, forward-transfer AUC ~0.5 on generators released later.

Which detectors play which role is read from the run's resolved spec (the training mode `sbi`
is not a results column) and can be overridden (`Roles`, CLI `--sbi NAME` ...).

Torch-free (pandas and numpy only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from deepfake_arena.analysis import derived as analysis
from deepfake_arena.analysis.seed_stats import holm, sign_flip_p, t_interval
from deepfake_arena.errors import ArenaUserError
from deepfake_arena.results import ALL

SHOWN, NOT_SHOWN, NOT_MEASURED, REPORTED = "shown", "not shown", "not measured", "reported"
ABOVE, BELOW = "above", "below"  # the side of the null an effect predicts
SBI = "sbi"
TOL = 1e-9  # a CI bound must clear the null by more than float rounding to count

TABLE_COLUMNS = [
    "condition",
    "effect",
    "name",
    "statistic",
    "value",
    "ci_low",
    "ci_high",
    "n_seeds",
    "p_value",
    "p_holm",
    "verdict",
    "checks",
    "detectors",
    "reference",
    "reference_value",
    "reason",
]
STAT_COLUMNS = [
    "condition",
    "effect",
    "name",
    "stat",
    "description",
    "value",
    "ci_low",
    "ci_high",
    "n_seeds",
    "p_value",
    "null",
    "side",
    "required",
    "excludes_null",
    "reference_value",
]


# ------------------------------------------------------------------------------- data types


@dataclass
class Stat:
    """One statistic: a value per seed (`per_seed`, indexed by run) and its mean with a CI over seeds.

    `null`/`side`: the hypothesis tested (None: reported only); `required`: part of the verdict.
    `reference`: a published figure in the same units, drawn beside it as external.
    """

    name: str
    description: str
    per_seed: pd.Series
    null: float | None = None
    side: str | None = None
    required: bool = False
    reference: float | None = None
    value: float = field(init=False)
    ci_low: float = field(init=False)
    ci_high: float = field(init=False)
    n_seeds: int = field(init=False)
    p_value: float = field(init=False)

    def __post_init__(self) -> None:
        vals = self.per_seed.to_numpy(dtype=float)
        ok = vals[np.isfinite(vals)]
        self.n_seeds = int(ok.size)
        self.value = float(ok.mean()) if ok.size else float("nan")
        self.ci_low, self.ci_high = t_interval(ok)
        self.p_value = float("nan")
        if self.null is not None and ok.size:
            self.p_value = sign_flip_p(ok - self.null, "greater" if self.side == ABOVE else "less")

    @property
    def excludes_null(self) -> bool | None:
        """True when the CI lies strictly on the predicted side of the null; None if not tested."""
        if self.null is None:
            return None
        if self.side == ABOVE:
            return bool(self.ci_low > self.null + TOL)  # NaN (one seed) compares False
        return bool(self.ci_high < self.null - TOL)

    @property
    def check(self) -> str:
        """The hypothesis in words with its outcome, e.g. `ci_low > 0: yes`."""
        bound = "ci_low >" if self.side == ABOVE else "ci_high <"
        return f"{self.name} {bound} {self.null:g}: {'yes' if self.excludes_null else 'no'}"


@dataclass
class Effect:
    """One effect: its statistics (the first is the headline), or the reason it was not measured.

    `context` holds the per-seed numbers behind the figure (deepfake_arena.analysis.effects.figures).
    """

    number: int
    name: str
    title: str
    reference: str
    stats: list[Stat] = field(default_factory=list)
    reason: str = ""
    detectors: str = ""
    context: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def primary(self) -> Stat | None:
        return self.stats[0] if self.stats else None

    @property
    def verdict(self) -> str:
        if not self.stats:
            return NOT_MEASURED
        required = [s for s in self.stats if s.required]
        if not required:
            return REPORTED  # a level, not a hypothesis (effect 7: compared between arms only)
        return SHOWN if all(s.excludes_null for s in required) else NOT_SHOWN

    def stat(self, name: str) -> Stat | None:
        return next((s for s in self.stats if s.name == name), None)

    @property
    def why(self) -> str:
        """The reason for `not measured`, or for a `not shown` with fewer than two seeds."""
        if self.reason:
            return self.reason
        p = self.primary
        if p is not None and p.n_seeds < 2:
            return f"{p.n_seeds} seed(s): a CI over seeds needs >= 2 (use >= 5)"
        return ""


@dataclass(frozen=True)
class Roles:
    """Detector names per role; None = chosen from the resolved spec (see `choose_roles`)."""

    sbi: str | None = None
    baseline: str | None = None
    finetune: str | None = None
    replay: str | None = None
    frozen: str | None = None
    twin: str | None = None


@dataclass(frozen=True)
class DetectorInfo:
    name: str
    arch: str
    strategy: str
    training: str
    exposed: bool = True


# Published figures each effect echoes (external: not produced by any run).
REFERENCES = {
    1: "no single figure: the cat-and-mouse cycle (detectors fall on each new technique and recover "
    "when retrained on it)",
    2: "DFDC 2020: 82.56% public vs 65.18% black-box accuracy (gap 0.174); DeepfakeBench Xception: "
    "0.964 in-domain vs 0.708 AUC on DFDC (gap 0.256)",
    3: "Self-Blended Images (CVPR 2022): +4.90 AUC points on DFDC over its baseline (+0.049)",
    4: "CDDB continual deepfake benchmark: forgetting under fine-tuning, reduced with replay",
    5: "chronological continual-learning study (2025): forward-transfer AUC ~0.5 on later generators",
    6: "the Red Queen hypothesis: what evolves against a detector evades it more than its unexposed twin",
    7: "no single figure: selection against deployed detectors should lower their zero-day AUC",
}
DFDC_ACC_GAP = 0.8256 - 0.6518
DEEPFAKEBENCH_AUC_GAP = 0.964 - 0.708
SBI_AUC_GAIN = 0.049
CHANCE = 0.5


# ------------------------------------------------------------------------------- roles


def detectors_of(spec: dict[str, Any]) -> list[DetectorInfo]:
    """The detectors of a resolved spec (`spec.resolved.json`), in spec order."""
    return [
        DetectorInfo(
            str(d["name"]),
            str(d.get("arch", "meso4")),
            str(d.get("strategy", "finetune")),
            str(d.get("training", "supervised")),
            bool(d.get("exposed", True)),
        )
        for d in spec.get("detectors", [])
    ]


def choose_roles(dets: Sequence[DetectorInfo], given: Roles = Roles()) -> Roles:
    """Fill each unset role from the spec's detectors; an unknown given name is a user error.

    - finetune / replay / frozen: the first supervised detector with that strategy (replay: the
      same arch as the finetune detector first);
    - frozen: an unexposed (lab) one first, so its decline is forward transfer, not an attack;
    - twin: an exposed supervised frozen detector of the frozen one's arch (effect 6);
    - sbi: the first detector with training `sbi`;
    - baseline: a non-sbi detector of the sbi detector's arch, preferring the same strategy as
      the sbi detector (same budget), then `frozen` (trained once, on round 1's families), then
      spec order.
    """
    names = [d.name for d in dets]
    for f in fields(given):
        name = getattr(given, f.name)
        if name is not None and name not in names:
            raise ArenaUserError(f"--{f.name} {name}: no such detector; the runs have: {', '.join(names)}")
    by_name = {d.name: d for d in dets}
    sup = [d for d in dets if d.training != SBI]

    def first(pool: Sequence[DetectorInfo]) -> str | None:
        return pool[0].name if pool else None

    finetune = given.finetune or first([d for d in sup if d.strategy == "finetune"])
    arch = by_name[finetune].arch if finetune else None
    replays = sorted((d for d in sup if d.strategy == "replay"), key=lambda d: d.arch != arch)
    sbi = given.sbi or first([d for d in dets if d.training == SBI])
    baseline = given.baseline
    if baseline is None and sbi is not None:
        s = by_name[sbi]
        pool = [d for d in sup if d.arch == s.arch and d.name != sbi]
        pool.sort(key=lambda d: (d.strategy != s.strategy, d.strategy != "frozen"))
        baseline = first(pool)
    frozens = sorted((d for d in sup if d.strategy == "frozen"), key=lambda d: d.exposed)
    frozen = given.frozen or first(frozens)
    twin = given.twin
    if twin is None and frozen is not None:
        twin = first(
            [d for d in frozens if d.exposed and d.name != frozen and d.arch == by_name[frozen].arch]
        )
    return Roles(
        sbi=sbi,
        baseline=baseline,
        finetune=finetune,
        replay=given.replay or first(replays),
        frozen=frozen,
        twin=twin,
    )


def retrained(dets: Sequence[DetectorInfo]) -> list[str]:
    """Detectors that retrain on each generation's fakes: supervised and not frozen."""
    return [d.name for d in dets if d.training != SBI and d.strategy != "frozen"]


# Default genes of every family (generators.evasion, generators.stages; a test keeps them equal).
DEFAULT_EVASION, DEFAULT_BLEND = "off", "laplacian"
SBI_PASTE = "alpha"  # the sbi pseudo-fakes paste with face_ops.alpha_blend: blend_mode alpha


def vault_genes(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Sealed strain id -> the genes the spec gives it, for the strains whose genes are known.

    Ids as deepfake_arena.generators.population.sealed_strains numbers them: `strains_per_family` per listed
    family (the first the default genome, the rest random: unknown, left out), then the explicit
    strains. Only the genes the spec sets are given (the rest are the family's defaults).
    """
    vault = spec.get("vault") or {}
    families = list(vault.get("families") or [])
    per = int(vault.get("strains_per_family", 1) or 1)
    out: dict[str, dict[str, Any]] = {}
    k = 0
    for fam in families:
        for i in range(per):
            k += 1
            if i == 0:
                out[f"vault-{fam}-{k:02d}"] = {}
    for s in vault.get("strains") or []:
        k += 1
        out[f"vault-{s['family']}-{k:02d}"] = dict(s.get("genes") or {})
    return out


def vault_split(spec: dict[str, Any]) -> dict[str, list[str]]:
    """The sealed strains by kind: `evasion` (a guided evasion gene) or `no_evasion`, and
    `off_path` (pasted by a blend other than the sbi pseudo-fakes' alpha_blend)."""
    genes = vault_genes(spec)
    return {
        "evasion": [k for k, g in genes.items() if g.get("evasion", DEFAULT_EVASION) != "off"],
        "no_evasion": [k for k, g in genes.items() if g.get("evasion", DEFAULT_EVASION) == "off"],
        "off_path": [k for k, g in genes.items() if g.get("blend_mode", DEFAULT_BLEND) != SBI_PASTE],
    }


# ------------------------------------------------------------------------------- helpers


def auc_rows(df: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    return df[df.metric == metric] if not df.empty else df


def _per_run(frame: pd.DataFrame, column: str) -> pd.Series:
    """Mean of `column` per run (the replicate unit: one seed of the condition)."""
    return frame.groupby("run")[column].mean()


def _seen_families(df: pd.DataFrame, detector: str) -> set[str]:
    """Families a detector trained on: per-strain `post` rows of a round it retrained in."""
    sel = df[(df.detector == detector) & (df.phase == "post") & (df.strain != ALL)]
    sel = sel[sel["round"] == sel.detector_round]
    return set(sel.family.unique())


# ------------------------------------------------------------------------------- the effects


def decay_recovery(df: pd.DataFrame, detectors: Sequence[str]) -> Effect:
    """Effect 1: post minus zero-day AUC on each new generation (rounds >= 2)."""
    eff = Effect(1, "decay_recovery", "Decay and recovery (the sawtooth)", REFERENCES[1])
    eff.detectors = ", ".join(detectors)
    if not detectors:
        eff.reason = "no retrained detector (supervised, not frozen) in the runs"
        return eff
    sel = auc_rows(df)
    sel = sel[sel.detector.isin(detectors) & (sel.strain == ALL) & (sel.generation == sel["round"])]
    sel = sel[sel.phase.isin(["zero_day", "post"]) & (sel["round"] >= 2)]
    wide = sel.pivot_table(index=["run", "seed", "detector", "round"], columns="phase", values="value")
    if not {"zero_day", "post"} <= set(wide.columns) or wide.dropna().empty:
        eff.reason = "no round with both zero-day and post rows (needs rounds >= 2 + release_lag)"
        return eff
    wide = wide[["zero_day", "post"]].dropna().reset_index()
    wide["gap"] = wide.post - wide.zero_day
    wide["recovered"] = (wide.post > wide.zero_day).astype(float)
    eff.stats = [
        Stat(
            "post_minus_zero_day",
            "mean over rounds >= 2 of post - zero-day AUC",
            _per_run(wide, "gap"),
            0.0,
            ABOVE,
            required=True,
        ),
        Stat(
            "share_recovered", "share of rounds with post > zero-day", _per_run(wide, "recovered"), 0.5, ABOVE
        ),
    ]
    eff.context = wide
    return eff


def _gap_on(df: pd.DataFrame, strains: Sequence[str], metric: str) -> pd.DataFrame:
    """vault_gap with the sealed score the mean over `strains` only (pooled rows left out)."""
    drop = (df.phase == analysis.SEALED) & ~df.strain.isin(list(strains))
    return analysis.vault_gap(df[~drop], metric)


def seen_vs_sealed(
    df: pd.DataFrame, detectors: Sequence[str], split: dict[str, list[str]] | None = None
) -> Effect:
    """Effect 2: in-distribution (post) minus sealed (vault), in AUC and in accuracy.

    With `split` (vault_split) naming strains with and without evasion, the gap is also given on
    each kind alone (`auc_gap_evasion`, `auc_gap_no_evasion`, and in accuracy)."""
    eff = Effect(2, "seen_vs_sealed", "Seen vs sealed (vault) families", REFERENCES[2])
    eff.detectors = ", ".join(detectors)
    if not detectors:
        eff.reason = "no retrained detector (supervised, not frozen) in the runs"
        return eff
    if df.empty or not (df.phase == analysis.SEALED).any():
        eff.reason = "no sealed rows: the runs have no vault (spec `vault:`)"
        return eff
    sub = df[df.detector.isin(detectors)]
    auc, acc = analysis.vault_gap(sub, "auc"), analysis.vault_gap(sub, "accuracy")
    if auc.empty:
        eff.reason = "no round with both post and sealed rows for the retrained detectors"
        return eff
    eff.stats = [
        Stat(
            "auc_gap",
            "mean seen (post) - sealed AUC",
            _per_run(auc, "gap"),
            0.0,
            ABOVE,
            required=True,
            reference=DEEPFAKEBENCH_AUC_GAP,
        ),
        Stat("seen_auc", "mean seen (post) AUC", _per_run(auc, "seen")),
        Stat("sealed_auc", "mean sealed AUC", _per_run(auc, "sealed")),
    ]
    if not acc.empty:
        eff.stats[1:1] = [
            Stat(
                "accuracy_gap",
                "mean seen - sealed accuracy at 0.5",
                _per_run(acc, "gap"),
                0.0,
                ABOVE,
                reference=DFDC_ACC_GAP,
            )
        ]
        eff.stats += [
            Stat("seen_accuracy", "mean seen accuracy", _per_run(acc, "seen")),
            Stat("sealed_accuracy", "mean sealed accuracy", _per_run(acc, "sealed")),
        ]
    for kind in ("evasion", "no_evasion"):
        strains = (split or {}).get(kind) or []
        if not strains or not (sub.strain.isin(strains) & (sub.phase == analysis.SEALED)).any():
            continue
        words = "with" if kind == "evasion" else "without"
        for metric, ref in (("auc", DEEPFAKEBENCH_AUC_GAP), ("accuracy", DFDC_ACC_GAP)):
            g = _gap_on(sub, strains, metric)
            if not g.empty:
                eff.stats.append(
                    Stat(
                        f"{metric}_gap_{kind}",
                        f"mean seen - sealed {metric} on the vault strains {words} evasion "
                        f"({', '.join(strains)})",
                        _per_run(g, "gap"),
                        0.0,
                        ABOVE,
                        reference=ref,
                    )
                )
    eff.context = pd.concat([auc, acc], ignore_index=True)
    return eff


def sbi_generalises(
    df: pd.DataFrame, sbi: str | None, baseline: str | None, off_path: Sequence[str] = ()
) -> Effect:
    """Effect 3: sealed AUC of the sbi detector minus the same-arch baseline's, on unseen families.

    `off_path`: sealed strains whose paste is not the sbi pseudo-fakes' code path (vault_split);
    the difference on them alone is `sbi_minus_baseline_off_path`."""
    eff = Effect(3, "sbi_generalises", "Self-blended training generalises", REFERENCES[3])
    if sbi is None:
        eff.reason = "no detector with training: sbi in the runs"
        return eff
    if baseline is None:
        eff.reason = f"no non-sbi detector of {sbi}'s architecture to compare with (--baseline)"
        return eff
    eff.detectors = f"{sbi} vs {baseline}"
    sealed = auc_rows(df)
    sealed = sealed[sealed.phase == analysis.SEALED]
    if sealed.empty:
        eff.reason = "no sealed rows: the runs have no vault (spec `vault:`)"
        return eff
    sealed = sealed[(sealed.strain != ALL) & sealed.detector.isin([sbi, baseline])]
    if sealed.empty:
        eff.reason = f"no per-strain sealed rows for {sbi} or {baseline}"
        return eff
    seen = _seen_families(df, baseline)
    sealed = sealed[~sealed.family.isin(seen)]
    if sealed.empty:
        eff.reason = f"every sealed family was trained on by {baseline} ({', '.join(sorted(seen))})"
        return eff
    eff.detectors += f" on sealed {', '.join(sorted(sealed.family.unique()))}"
    per_round = sealed.groupby(["run", "detector", "round"], as_index=False)["value"].mean()
    wide = per_round.pivot_table(index="run", columns="detector", values="value", aggfunc="mean")
    if not {sbi, baseline} <= set(wide.columns):
        eff.reason = f"sealed rows for only one of {sbi}, {baseline}"
        return eff
    wide = wide[[sbi, baseline]].dropna()
    eff.stats = [
        Stat(
            "sbi_minus_baseline",
            f"sealed AUC {sbi} - {baseline}",
            wide[sbi] - wide[baseline],
            0.0,
            ABOVE,
            required=True,
            reference=SBI_AUC_GAIN,
        ),
        Stat("sbi_sealed_auc", f"sealed AUC of {sbi}", wide[sbi]),
        Stat("baseline_sealed_auc", f"sealed AUC of {baseline}", wide[baseline]),
    ]
    off = sealed[sealed.strain.isin(list(off_path))]
    if not off.empty:
        w = off.groupby(["run", "detector", "round"], as_index=False)["value"].mean()
        w = w.pivot_table(index="run", columns="detector", values="value", aggfunc="mean")
        if {sbi, baseline} <= set(w.columns):
            w = w[[sbi, baseline]].dropna()
            eff.stats.append(
                Stat(
                    "sbi_minus_baseline_off_path",
                    f"sealed AUC {sbi} - {baseline} on strains not pasted by alpha_blend "
                    f"({', '.join(sorted(off.strain.unique()))})",
                    w[sbi] - w[baseline],
                    0.0,
                    ABOVE,
                    reference=SBI_AUC_GAIN,
                )
            )
    eff.context = per_round
    return eff


def forgetting(df: pd.DataFrame, finetune: str | None, replay: str | None) -> Effect:
    """Effect 4: forgetting of finetune minus replay's (analysis.derived.forgetting_summary)."""
    eff = Effect(4, "forgetting", "Forgetting: finetune vs replay", REFERENCES[4])
    missing = [r for r, n in (("finetune", finetune), ("replay", replay)) if n is None]
    if missing:
        eff.reason = f"no {' or '.join(missing)} detector in the runs"
        return eff
    eff.detectors = f"{finetune} vs {replay}"
    frozen = df.strategy == analysis.NEVER_RETRAINED  # the noise floor's detectors
    summary = analysis.forgetting_summary(df[df.detector.isin([finetune, replay]) | frozen], "auc")
    wide = summary.pivot_table(index="run", columns="detector", values="value", aggfunc="mean")
    if not {finetune, replay} <= set(wide.columns):
        eff.reason = "no forgetting cells (needs past rows: rounds >= 2)"
        return eff
    wide = wide[[finetune, replay]].dropna()
    ft = summary[summary.detector == finetune].groupby("run")[["excess", "floor"]].mean().reindex(wide.index)
    has_floor = bool(ft.excess.notna().all())
    eff.stats = [
        Stat(
            "finetune_minus_replay",
            f"forgetting {finetune} - {replay} (AUC)",
            wide[finetune] - wide[replay],
            0.0,
            ABOVE,
            required=True,
        ),
    ]
    if has_floor:
        eff.stats.append(
            Stat(
                "finetune_above_floor",
                f"forgetting of {finetune} minus the frozen detectors' apparent forgetting (AUC)",
                ft.excess,
                0.0,
                ABOVE,
                required=True,
            )
        )
    eff.stats += [
        Stat(
            "finetune_forgetting",
            f"forgetting of {finetune} (AUC)"
            + ("" if has_floor else "; no frozen detector in the runs, so no noise floor"),
            wide[finetune],
            0.0,
            ABOVE,
            required=not has_floor,
        ),
        Stat("replay_forgetting", f"forgetting of {replay} (AUC)", wide[replay]),
    ]
    if has_floor:
        eff.stats.append(Stat("noise_floor", "apparent forgetting of the frozen detectors (AUC)", ft.floor))
    cells = analysis.forgetting(df[df.detector.isin([finetune, replay])], "auc")
    eff.context = cells[cells["round"] == cells.groupby("run")["round"].transform("max")]
    return eff


def _fit_decay(cells: pd.DataFrame) -> pd.Series:
    """Slope of AUC on gap, first and last AUC, for one run's cells (gap >= 0)."""
    cells = cells.sort_values("gap")
    first, last = cells.value.iloc[0], cells.value.iloc[-1]
    slope = np.polyfit(cells.gap.to_numpy(float), cells.value.to_numpy(float), 1)[0]
    return pd.Series(
        {
            "slope": float(slope),
            "first": float(first),
            "last": float(last),
            "distance_change": abs(last - CHANCE) - abs(first - CHANCE),
        }
    )


def forward_transfer(df: pd.DataFrame, frozen: str | None) -> Effect:
    """Effect 5: a frozen detector's AUC against generation gap declines toward chance."""
    eff = Effect(5, "forward_transfer", "Forward transfer falls toward chance", REFERENCES[5])
    if frozen is None:
        eff.reason = "no frozen (supervised) detector in the runs"
        return eff
    eff.detectors = frozen
    sub = df[df.detector == frozen]
    m = analysis.score_matrix(sub, "auc")
    m = m[m.gap >= 0]
    ok = m.groupby("run")["gap"].nunique()
    m = m[m.run.isin(ok[ok >= 2].index)]
    if m.empty:
        eff.reason = f"{frozen} was scored at fewer than two generation gaps (needs rounds >= 2)"
        return eff
    fit = m.groupby("run")[["gap", "value"]].apply(_fit_decay)
    eff.stats = [
        Stat(
            "slope",
            "least-squares slope of AUC per generation of gap",
            fit["slope"],
            0.0,
            BELOW,
            required=True,
        ),
        Stat(
            "distance_change",
            "|AUC(last) - 0.5| - |AUC(first) - 0.5|",
            fit["distance_change"],
            0.0,
            BELOW,
            required=True,
        ),
        Stat("final_auc", "AUC on the last generation", fit["last"], reference=CHANCE),
    ]
    debut = analysis.family_debut(sub, "auc")
    debut = debut[(debut.debut_round > 1) & debut.zero_day.notna()]
    if not debut.empty:
        drop = debut.groupby("run")["zero_day"].mean() - fit["first"].reindex(debut.run.unique())
        eff.stats.append(
            Stat(
                "unlocked_minus_first",
                "zero-day AUC on families unlocked later, at debut, - AUC(gap 0)",
                drop,
                0.0,
                BELOW,
            )
        )
    eff.context = m
    return eff


def _current_generation(df: pd.DataFrame, detectors: Sequence[str], phase: str) -> pd.DataFrame:
    """AUC rows of `detectors` in `phase` on each round's own generation, strain all, rounds >= 2."""
    sel = auc_rows(df)
    if sel.empty:
        return sel
    sel = sel[sel.detector.isin(list(detectors)) & (sel.strain == ALL) & (sel.phase == phase)]
    return sel[(sel.generation == sel["round"]) & (sel["round"] >= 2)]


def red_queen(df: pd.DataFrame, frozen: str | None, twin: str | None) -> Effect:
    """Effect 6: AUC of an unexposed frozen detector minus its exposed twin's on the generations
    made after both were deployed (zero-day rows, rounds >= 2). Both are trained once, alike; only
    the twin is met by the generators (selection, evasion), so a positive difference is what
    evolving against a detector does to it: the Red Queen signature."""
    eff = Effect(6, "red_queen", "Red Queen: the exposed twin falls behind", REFERENCES[6])
    if frozen is None or twin is None:
        eff.reason = "no frozen detector with an exposed twin (same arch, exposed: true) in the runs"
        return eff
    eff.detectors = f"{frozen} (lab) vs {twin} (exposed)"
    sel = _current_generation(df, [frozen, twin], "zero_day")
    wide = sel.pivot_table(index=["run", "seed", "round"], columns="detector", values="value")
    if not {frozen, twin} <= set(wide.columns) or wide[[frozen, twin]].dropna().empty:
        eff.reason = f"no round >= 2 with zero-day rows for both {frozen} and {twin}"
        return eff
    wide = wide[[frozen, twin]].dropna().reset_index()
    wide["difference"] = wide[frozen] - wide[twin]
    eff.stats = [
        Stat(
            "unexposed_minus_exposed",
            f"AUC {frozen} - {twin} on generations made after deployment",
            _per_run(wide, "difference"),
            0.0,
            ABOVE,
            required=True,
        ),
        Stat("unexposed_auc", f"AUC of {frozen}", _per_run(wide, frozen)),
        Stat("exposed_auc", f"AUC of {twin}", _per_run(wide, twin)),
    ]
    eff.context = wide.rename(columns={frozen: "unexposed", twin: "exposed"})
    return eff


def zero_day_new(df: pd.DataFrame, detectors: Sequence[str]) -> Effect:
    """Effect 7: the retrained detectors' zero-day AUC on each new generation (rounds >= 2): a
    level, reported per arm and tested only as a difference between arms (selection - drift)."""
    eff = Effect(7, "zero_day_new", "Zero-day AUC on new generations", REFERENCES[7])
    eff.detectors = ", ".join(detectors)
    sel = _current_generation(df, detectors, "zero_day") if detectors else pd.DataFrame()
    if sel.empty:
        eff.reason = "no zero-day rows of a retrained detector (needs rounds >= 2)"
        return eff
    eff.stats = [Stat("zero_day_auc", "mean zero-day AUC on each new generation", _per_run(sel, "value"))]
    eff.context = sel
    return eff


# ------------------------------------------------------------------------------- all of them


def measure(df: pd.DataFrame, spec: dict[str, Any], roles: Roles = Roles()) -> list[Effect]:
    """The effects of one condition: its runs' rows (any number of seeds) and resolved spec.

    The five known effects, then the two the ablation needs: 6 (Red Queen signature; needs an
    exposed twin of the frozen detector) and 7 (zero-day AUC on new generations, a level)."""
    dets = detectors_of(spec)
    r = choose_roles(dets, roles)
    keep = retrained(dets)
    split = vault_split(spec)
    return [
        decay_recovery(df, keep),
        seen_vs_sealed(df, keep, split),
        sbi_generalises(df, r.sbi, r.baseline, split["off_path"]),
        forgetting(df, r.finetune, r.replay),
        forward_transfer(df, r.frozen),
        red_queen(df, r.frozen, r.twin),
        zero_day_new(df, keep),
    ]


def table(effects: Sequence[Effect], condition: str = "") -> pd.DataFrame:
    """One row per effect: the headline statistic, its CI, the verdict and the published figure.

    p_value: the headline's exact sign-flip p over seeds (analysis.seed_stats); p_holm: Holm over the
    headlines of the effects tested here (those with a null). The verdict is the CI's (every
    required CI excludes its null); a registered protocol (analysis.effects.protocol) also needs
    p_holm < alpha."""
    tested = [k for k, e in enumerate(effects) if e.primary is not None and e.primary.null is not None]
    adjusted = holm([effects[k].primary.p_value for k in tested])  # type: ignore[union-attr]
    p_holm = dict(zip(tested, adjusted, strict=True))
    rows = []
    for k, e in enumerate(effects):
        p = e.primary
        refs = sorted((not s.required, k) for k, s in enumerate(e.stats) if s.reference is not None)
        ref = e.stats[refs[0][1]].reference if refs else None
        rows.append(
            {
                "condition": condition,
                "effect": e.number,
                "name": e.name,
                "statistic": p.description if p else "",
                "value": p.value if p else np.nan,
                "ci_low": p.ci_low if p else np.nan,
                "ci_high": p.ci_high if p else np.nan,
                "n_seeds": p.n_seeds if p else 0,
                "p_value": p.p_value if p else np.nan,
                "p_holm": p_holm.get(k, np.nan),
                "verdict": e.verdict,
                "checks": "; ".join(s.check for s in e.stats if s.required),
                "detectors": e.detectors,
                "reference": e.reference,
                "reference_value": np.nan if ref is None else ref,
                "reason": e.why,
            }
        )
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def stats_table(effects: Sequence[Effect], condition: str = "") -> pd.DataFrame:
    """Every statistic of every effect (headline and supporting), one row each."""
    rows = [
        {
            "condition": condition,
            "effect": e.number,
            "name": e.name,
            "stat": s.name,
            "description": s.description,
            "value": s.value,
            "ci_low": s.ci_low,
            "ci_high": s.ci_high,
            "n_seeds": s.n_seeds,
            "p_value": s.p_value,
            "null": np.nan if s.null is None else s.null,
            "side": s.side or "",
            "required": s.required,
            "excludes_null": s.excludes_null,
            "reference_value": np.nan if s.reference is None else s.reference,
        }
        for e in effects
        for s in e.stats
    ]
    return pd.DataFrame(rows, columns=STAT_COLUMNS)
