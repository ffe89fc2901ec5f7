"""The README's quickstart pictures and numbers, regenerated from today's code in one command.

    python benchmarks/readme_figures.py            # runs the quickstart as `make demo` does, timed
    python benchmarks/readme_figures.py --run DIR  # from a finished quickstart run (keeps the time)

The wall time is recorded only when the machine is not busier than its CPUs (1-minute load
average); otherwise the previous one is kept, and the script says so.

Copies the four plots the README shows into docs/img/, writes the quoted figures to
docs/img/quickstart_figures.json and fills them into README.md (the sentences `quotes` builds).
tests/test_readme.py fails when the README's quotes differ from the JSON; the slow quickstart
test re-derives the figures from a fresh run and compares them with the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
IMG = REPO / "docs" / "img"
FIGURES = IMG / "quickstart_figures.json"
README = REPO / "README.md"
PLOTS = ("cat_and_mouse_auc", "decay_gap_auc", "heatmap_auc", "red_queen_auc")


def derive(run_dir: Path) -> dict[str, Any]:
    """The numbers the README quotes, from a quickstart run's results (seed 0)."""
    import deepfake_arena.results
    from deepfake_arena.analysis import derived as analysis

    df = deepfake_arena.results.load(run_dir)
    auc = df[(df.metric == "auc") & (df.strain == "all")]
    tuned = auc[(auc.strategy == "finetune") & (auc.phase == "zero_day")].sort_values("round")
    worst = tuned.loc[tuned.value.idxmin()]
    tuned_post = auc[(auc.strategy == "finetune") & (auc.phase == "post")].set_index("round").value
    frozen = auc[(auc.strategy == "frozen") & (auc.phase == "post")].sort_values("round").value
    hl = analysis.half_life(df)
    frozen_hl = hl[hl.detector.isin(auc[auc.strategy == "frozen"].detector.unique())]
    hl_value = frozen_hl.value.iloc[0] if len(frozen_hl) else float("nan")
    return {
        "rounds": int(df["round"].max()),
        "finetune_zero_day_min_auc": round(float(worst.value), 2),
        "finetune_zero_day_min_round": int(worst["round"]),
        "finetune_post_that_round_auc": round(float(tuned_post.loc[int(worst["round"])]), 2),
        "frozen_first_auc": round(float(frozen.iloc[0]), 2),
        "frozen_last_auc": round(float(frozen.iloc[-1]), 2),
        "frozen_half_life": None if hl_value != hl_value else round(float(hl_value), 1),
    }


def quotes(fig: dict[str, Any]) -> dict[str, str]:
    """README placeholder -> the sentence quoted there."""
    hl = fig["frozen_half_life"]
    half = (
        f"The frozen detector's half-life (zero-day TPR at 1% FPR below half its post-retrain value) "
        f"is {hl:g} rounds."
        if hl is not None
        else "The frozen detector's half-life is censored: not reached within the run."
    )
    return {
        "QS_WALL": f"{fig['wall_s']:.0f}",
        "QS_CAT_AND_MOUSE": (
            f"The fine-tuned detector's zero-day AUC dips to {fig['finetune_zero_day_min_auc']:.2f} "
            f"in round {fig['finetune_zero_day_min_round']} ({fig['finetune_post_that_round_auc']:.2f} after "
            f"retraining); the frozen one, never "
            f"retrained, goes from {fig['frozen_first_auc']:.2f} to {fig['frozen_last_auc']:.2f}."
        ),
        "QS_HALF_LIFE": half,
    }


def fill(text: str, fig: dict[str, Any]) -> str:
    """The README with each quote in its marked place (`<!-- QS_X -->...<!-- /QS_X -->`)."""
    for key, value in quotes(fig).items():
        marked = f"<!-- {key} -->{value}<!-- /{key} -->"
        if f"<!-- {key} -->" not in text:  # the first fill: a bare placeholder
            text = text.replace(key, marked)
        text = re.sub(rf"<!-- {key} -->.*?<!-- /{key} -->", lambda _, m=marked: m, text, flags=re.S)
    return text


def quoted(text: str) -> dict[str, str]:
    """What the README quotes now, by placeholder."""
    return dict(re.findall(r"<!-- (QS_[A-Z_]+) -->(.*?)<!-- /\1 -->", text, flags=re.S))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, help="a finished quickstart run (default: run one now, timed)")
    args = p.parse_args(argv)
    old = json.loads(FIGURES.read_text()) if FIGURES.is_file() else {}
    if args.run is None:
        tmp = Path(tempfile.mkdtemp())
        t0 = time.monotonic()
        cmd = [sys.executable, "-m", "deepfake_arena.cli", "run", "runs/quickstart.yaml", "--name", "qs"]
        cmd += ["--runs-dir", str(tmp)]
        subprocess.run(cmd, cwd=REPO, check=True)
        wall: float | None = time.monotonic() - t0
        run_dir = tmp / "qs"
        load = os.getloadavg()[0]
        note = old.get("wall_note", "")
        if load > (os.cpu_count() or 1) and "wall_s" in old:  # a busy machine's time would mislead
            print(f"load average {load:.1f} > {os.cpu_count()} CPUs: wall time {wall:.0f} s not recorded")
            wall, load = old["wall_s"], old.get("load_avg_1min")
        else:
            note = f"measured {time.strftime('%Y-%m-%d', time.gmtime())} by benchmarks/readme_figures.py"
    else:
        run_dir, wall, load = args.run, old.get("wall_s"), old.get("load_avg_1min")
        note = old.get("wall_note", "")
        if wall is None:
            p.error("no wall time recorded yet: run once without --run")
    fig = {"wall_s": round(float(wall)), "load_avg_1min": load, "wall_note": note, **derive(run_dir)}
    IMG.mkdir(parents=True, exist_ok=True)
    for name in PLOTS:
        src = run_dir / "report" / f"{name}.png"
        if not src.is_file():
            from deepfake_arena.analysis.plots.core import plot_dir

            plot_dir(run_dir, "auc")
        shutil.copyfile(src, IMG / f"quickstart_{name}.png")
    if args.run is None:
        shutil.rmtree(run_dir.parent, ignore_errors=True)
    FIGURES.write_text(json.dumps(fig, indent=2, sort_keys=True) + "\n")
    README.write_text(fill(README.read_text(), fig))
    print(json.dumps(fig, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
