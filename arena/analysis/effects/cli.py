"""`arena effects RUN_DIR...`: the known effects (deepfake_arena.analysis.effects.measure, 1-7, and
deepfake_arena.analysis.effects.field, 8-10) of runs and sweeps.

Runs whose resolved specs differ only in the seed are one condition (a sweep of `seeds: [...]`
is one); each condition gets one row per effect. Writes `effects.csv` (the headline table),
`effects_stats.csv` (every statistic) and one PNG (+ CSV) per measured effect into --out, and
prints the table.

With `--registration FILE` (analysis.effects.registration, e.g. runs/effects/registration.yaml) the
conditions are matched to the registered arms (by spec hash, else by folder name) and the
protocol's tables are written too (analysis.effects.protocol): `effects_tests.csv` (every registered
test per arm and as selection - drift: t CI, exact p, Holm p, confirmed / exploratory),
`effects_ablation.csv` (driven by selection / present regardless / absent, and what produces
it), `effects_magnitudes.csv` (ratios to the published figures) and `arms_cat_and_mouse.png`.
Torch-free, so it starts fast.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import pandas as pd

from deepfake_arena.analysis import derived as analysis
from deepfake_arena.analysis.effects.field import SPECTRAL_GENE, measure_field
from deepfake_arena.analysis.effects.measure import Effect, Roles, detectors_of, measure, stats_table, table
from deepfake_arena.analysis.plots.population import load_populations
from deepfake_arena.errors import ArenaUserError
from deepfake_arena.store.atomic import write_text_atomic
from deepfake_arena.store.run_info import Condition, conditions, expand_run_dirs

EFFECTS_CSV, STATS_CSV = "effects.csv", "effects_stats.csv"
TESTS_CSV, ABLATION_CSV, MAGNITUDES_CSV = (
    "effects_tests.csv",
    "effects_ablation.csv",
    "effects_magnitudes.csv",
)
PROTOCOL_MD = "effects_protocol.md"


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "effects",
        help="the known effects of runs or sweeps, with CIs over seeds and a verdict each",
        description="Decay and recovery, seen vs sealed, SBI generalisation, forgetting, forward "
        "transfer toward chance, the Red Queen signature, zero-day AUC on new generations, and "
        "(issue 28) ranking reversal, compression, spectral evasion: one statistic per seed, a t "
        "CI over seeds, shown / not shown / not measured, beside the published figure each "
        "effect echoes.",
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="runs or sweep directories")
    p.add_argument("--out", help="output folder (default: RUN_DIR/report/effects; several: ./effects)")
    p.add_argument("--sbi", help="effect 3: the sbi-trained detector (default: the first with training sbi)")
    p.add_argument(
        "--baseline", help="effect 3: same-arch non-sbi detector (default: same strategy, then frozen)"
    )
    p.add_argument("--finetune", help="effect 4: the finetune detector (default: the first supervised one)")
    p.add_argument("--replay", help="effect 4: the replay detector (default: the first supervised one)")
    p.add_argument("--frozen", help="effect 5: the frozen detector (default: the first supervised one)")
    p.add_argument("--twin", help="effect 6: the exposed twin of --frozen (default: same arch, exposed)")
    p.add_argument(
        "--registration",
        help="a registration file (runs/effects/registration.yaml): registered tests per arm, "
        "confirmed only for runs with its spec hashes and seeds, and the ablation's verdicts",
    )
    p.add_argument("--no-plots", action="store_true", help="write the tables only")


def default_out(paths: list[str]) -> Path:
    return Path(paths[0]) / "report" / "effects" if len(paths) == 1 else Path("effects")


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-") or "condition"


def measure_conditions(
    paths: list[str], roles: Roles | None = None
) -> list[tuple[Condition, list[Effect], dict[str, int], list[int]]]:
    """(condition, effects, run -> seed, seeds whose runs have not committed every round) for
    every condition among the runs and sweeps at `paths`."""
    out = []
    for cond in conditions(expand_run_dirs(paths)):
        df = analysis.load_runs(cond.run_dirs)
        if df.empty:
            raise ArenaUserError(f"{cond.label}: no committed rounds yet")
        seeds = {str(r): int(s) for r, s in df[["run", "seed"]].drop_duplicates().itertuples(index=False)}
        done = {int(s): int(r) for s, r in df.groupby("seed")["round"].max().items()}
        total = int(cond.spec.get("rounds", 0))
        unfinished = sorted(s for s in cond.seeds if done.get(s, 0) < total)
        effs = measure(df, cond.spec, roles or Roles())
        pops = load_populations(cond.run_dirs, genes=(SPECTRAL_GENE,))
        effs += measure_field(df, detectors_of(cond.spec), pops)
        out.append((cond, effs, seeds, unfinished))
    return out


def compute(paths: list[str], roles: Roles | None = None) -> list[tuple[str, list[Effect]]]:
    """(condition label, effects) for every condition among the runs and sweeps at `paths`."""
    return [(cond.label, effs) for cond, effs, _, _ in measure_conditions(paths, roles)]


def format_table(t: pd.DataFrame) -> str:
    """The headline table as aligned text: one line per effect, verdict and published figure."""
    lines = []
    for cond, g in t.groupby("condition", sort=False):
        if cond:
            lines.append(f"condition: {cond}")
        lines.append(f"{'#':<2} {'effect':<17} {'value':>8} {'95% CI over seeds':>20} {'seeds':>5}  verdict")
        for r in g.itertuples():
            ci = f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]" if pd.notna(r.ci_low) else "—"
            value = f"{r.value:+.3f}" if pd.notna(r.value) else "—"
            lines.append(f"{r.effect:<2} {r.name:<17} {value:>8} {ci:>20} {r.n_seeds:>5}  {r.verdict}")
            if r.statistic:
                lines.append(f"   statistic: {r.statistic} ({r.detectors})")
            if r.checks:
                lines.append(f"   checks:    {r.checks}")
            if pd.notna(r.p_value):
                lines.append(
                    f"   p:         {r.p_value:.4f} exact sign-flip over seeds; Holm over the effects "
                    f"here {r.p_holm:.4f}"
                )
            if r.reason:
                lines.append(f"   note:      {r.reason}")
            lines.append(f"   published: {r.reference}")
    return "\n".join(lines)


def _arms(
    reg_path: str, measured: list[tuple[Condition, list[Effect], dict[str, int], list[int]]]
) -> dict[str, Any]:
    """The conditions that are registered arms (by spec hash, else folder name), keyed by arm."""
    from deepfake_arena.analysis.effects.protocol import ArmResult
    from deepfake_arena.analysis.effects.registration import load_registration, match

    reg = load_registration(reg_path)
    arms: dict[str, ArmResult] = {}
    for cond, effs, seeds, unfinished in measured:
        names = list(dict.fromkeys(n for d in cond.run_dirs for n in (d.name, d.parent.name)))
        m = match(reg, cond.spec, cond.seeds, names, unfinished)
        if m.arm is None:
            print(f"note: {cond.label} is not a registered arm (its spec hash and folder match none)")
            continue
        if m.arm in arms:
            raise ArenaUserError(
                f"two conditions are arm {m.arm}: {arms[m.arm].label} and {cond.label}; "
                "give one run set per arm"
            )
        arms[m.arm] = ArmResult(m.arm, cond.label, m, effs, seeds)
    return {"reg": reg, "arms": arms}


def _spec_file_notes(reg_path: str) -> list[str]:
    """Registered spec files that changed since registration (found from the cwd or the file's
    folders up): a note, since runs are judged by their own resolved specs."""
    from deepfake_arena.analysis.effects.registration import check_files, load_registration

    reg = load_registration(reg_path)
    for root in [Path.cwd(), *Path(reg_path).resolve().parents]:
        if all((root / a.spec).is_file() for a in reg.arms.values()):
            return check_files(reg, root)
    return ["the registered spec files were not found from here (not checked)"]


def run(args: argparse.Namespace) -> int:
    roles = Roles(args.sbi, args.baseline, args.finetune, args.replay, args.frozen, args.twin)
    out = Path(args.out) if args.out else default_out(args.run_dirs)
    measured = measure_conditions(args.run_dirs, roles)
    results = [(cond.label, effs) for cond, effs, _, _ in measured]
    protocol = _arms(args.registration, measured) if args.registration else None
    out.mkdir(parents=True, exist_ok=True)
    heads = pd.concat([table(effs, label) for label, effs in results], ignore_index=True)
    stats = pd.concat([stats_table(effs, label) for label, effs in results], ignore_index=True)
    write_text_atomic(out / EFFECTS_CSV, heads.to_csv(index=False))
    write_text_atomic(out / STATS_CSV, stats.to_csv(index=False))
    print(format_table(heads))
    if not args.no_plots:
        from deepfake_arena.analysis.effects.figures import plot_effect

        for label, effs in results:
            suffix = "" if len(results) == 1 else f"_{_slug(label)}"
            for e in effs:
                made = plot_effect(e, out, suffix)
                print(made if isinstance(made, Path) else f"skipped effect {e.number} ({e.name}): {made}")
    if protocol is not None:
        _write_protocol(protocol, args, out)
    print(f"table: {out / EFFECTS_CSV}")
    return 0


def _write_protocol(protocol: dict[str, Any], args: argparse.Namespace, out: Path) -> None:
    from deepfake_arena.analysis.effects.protocol import (
        ablation,
        format_tests,
        magnitudes,
        markdown,
        registered_tests,
    )

    reg, arms = protocol["reg"], protocol["arms"]
    print()
    for note in _spec_file_notes(args.registration):
        print(f"note: {note}")
    if not {"selection", "drift"} <= set(arms):
        print(f"note: arms found: {', '.join(arms) or 'none'}; selection - drift needs both")
    for name, a in arms.items():
        print(f"arm {name}: {a.label}: {a.match.evidence}{f' ({a.match.reason})' if a.match.reason else ''}")
    tests = registered_tests(reg, arms)
    abl = ablation(reg, tests)
    mags = magnitudes(arms)
    write_text_atomic(out / TESTS_CSV, tests.to_csv(index=False))
    write_text_atomic(out / ABLATION_CSV, abl.to_csv(index=False))
    write_text_atomic(out / MAGNITUDES_CSV, mags.to_csv(index=False))
    write_text_atomic(out / PROTOCOL_MD, markdown(reg, tests, abl, mags))
    print(format_tests(tests, abl))
    if not args.no_plots and arms:
        from deepfake_arena.analysis.effects.figures import plot_arms

        print(plot_arms(arms, out))
