"""`arena effects RUN_DIR...`: the five known effects (arena.effects) of runs and sweeps.

Runs whose resolved specs differ only in the seed are one condition (a sweep of `seeds: [...]`
is one); each condition gets one row per effect. Writes `effects.csv` (the headline table),
`effects_stats.csv` (every statistic) and one PNG (+ CSV) per measured effect into --out, and
prints the table. Torch-free, so it starts fast.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

from arena import analysis
from arena.atomic import write_text_atomic
from arena.effects import Effect, Roles, measure, stats_table, table
from arena.errors import ArenaUserError
from arena.run_info import conditions, expand_run_dirs

EFFECTS_CSV, STATS_CSV = "effects.csv", "effects_stats.csv"


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "effects",
        help="the five known effects of runs or sweeps, with CIs over seeds and a verdict each",
        description="Decay and recovery, seen vs sealed, SBI generalisation, forgetting, forward "
        "transfer toward chance: one statistic per seed, a t CI over seeds, shown / not shown "
        "/ not measured, beside the published figure each effect echoes.",
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
    p.add_argument("--no-plots", action="store_true", help="write the tables only")


def default_out(paths: list[str]) -> Path:
    return Path(paths[0]) / "report" / "effects" if len(paths) == 1 else Path("effects")


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-") or "condition"


def compute(paths: list[str], roles: Roles | None = None) -> list[tuple[str, list[Effect]]]:
    """(condition label, effects) for every condition among the runs and sweeps at `paths`."""
    out = []
    for cond in conditions(expand_run_dirs(paths)):
        df = analysis.load_runs(cond.run_dirs)
        if df.empty:
            raise ArenaUserError(f"{cond.label}: no committed rounds yet")
        out.append((cond.label, measure(df, cond.spec, roles or Roles())))
    return out


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
            if r.reason:
                lines.append(f"   note:      {r.reason}")
            lines.append(f"   published: {r.reference}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    roles = Roles(args.sbi, args.baseline, args.finetune, args.replay, args.frozen)
    out = Path(args.out) if args.out else default_out(args.run_dirs)
    results = compute(args.run_dirs, roles)
    out.mkdir(parents=True, exist_ok=True)
    heads = pd.concat([table(effs, label) for label, effs in results], ignore_index=True)
    stats = pd.concat([stats_table(effs, label) for label, effs in results], ignore_index=True)
    write_text_atomic(out / EFFECTS_CSV, heads.to_csv(index=False))
    write_text_atomic(out / STATS_CSV, stats.to_csv(index=False))
    print(format_table(heads))
    if not args.no_plots:
        from arena.effects_plots import plot_effect

        for label, effs in results:
            suffix = "" if len(results) == 1 else f"_{_slug(label)}"
            for e in effs:
                made = plot_effect(e, out, suffix)
                print(made if isinstance(made, Path) else f"skipped effect {e.number} ({e.name}): {made}")
    print(f"table: {out / EFFECTS_CSV}")
    return 0
