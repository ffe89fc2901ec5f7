"""Cost and memory per round over a long run: per-round wall time and the RSS of the driver and
of every Ray worker after each round. Per-round time should stay flat apart from the `past`
evaluation, which grows with the number of earlier generations but is bounded per generation by
`evaluation.past_budget`; memory should not grow round over round.

The baseline is the run's own first rounds: the figure is the ratio of the last five rounds'
median time (and RSS) to that of rounds 2-6, measured in the same run.

`--device cuda` runs the tasks on the GPU, each reserving a quarter of it.

    python benchmarks/scale_rounds.py [--rounds 30] [--smoke] [--device cpu|cuda] [key=value ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.conftest's TINY sizes when run as a script

from device_options import add_device_argument, checked, describe, run_overrides  # noqa: E402

from deepfake_arena.rounds.progress import Progress  # noqa: E402


class MemoryProgress(Progress):
    """Records the driver's and the Ray workers' resident memory after every committed round."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.rss: dict[int, tuple[float, float]] = {}

    def round_done(self, r: int, summary: str) -> None:
        super().round_done(r, "")
        me = psutil.Process()
        workers = 0.0
        for child in me.children(recursive=True):
            try:
                if "ray::" in " ".join(child.cmdline()) or "default_worker" in " ".join(child.cmdline()):
                    workers += child.memory_info().rss
            except psutil.Error:
                continue
        self.rss[r] = (me.memory_info().rss / 2**20, workers / 2**20)


def main() -> None:
    from deepfake_arena.launch import start_run
    from tests.conftest import TINY

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("overrides", nargs="*")
    add_device_argument(ap)
    args = ap.parse_args()
    overrides = [o for o in TINY if not o.startswith("rounds=")] + [f"rounds={args.rounds}"]
    overrides += run_overrides(checked(args.device)) + args.overrides
    print(describe(args.device))
    with tempfile.TemporaryDirectory() as tmp, open("/dev/null", "w") as quiet:
        prog = MemoryProgress(args.rounds, 1, stream=quiet)
        run = start_run(
            REPO / "runs" / "quickstart.yaml", overrides, name="scale", runs_dir=tmp, progress=prog
        )
        timings = {
            int(p.parent.name[1:]): json.loads(p.read_text())
            for p in (run / "rounds").glob("r*/timings.json")
        }
    print(f"{'round':>5} {'total s':>8} {'make s':>7} {'post s':>7} {'driver MiB':>11} {'workers MiB':>12}")
    for r in sorted(timings):
        d, w = prog.rss.get(r, (float("nan"), float("nan")))
        t = timings[r]
        print(f"{r:>5} {t['total']:>8.2f} {t['make']:>7.2f} {t['post']:>7.2f} {d:>11.0f} {w:>12.0f}")
    rounds = sorted(timings)
    if len(rounds) >= 6:
        early, late = rounds[1:6], rounds[-5:]

        def med(key: str, rs: list[int]) -> float:
            return statistics.median(timings[r][key] for r in rs)

        # `make` is left out too: its cost follows what the population evolves (strains that take
        # up black-box evasion query the detectors many times), not the run's length.
        rest = {r: timings[r]["total"] - timings[r]["post"] - timings[r]["make"] for r in rounds}
        np_late = statistics.median(rest[r] for r in late)
        np_early = statistics.median(rest[r] for r in early)
        print(
            f"round time without post and make, last 5 vs rounds 2-6: {np_late:.2f} s vs {np_early:.2f} s; "
            f"ratio {np_late / np_early:.2f}"
        )
        print(
            f"make (follows the evolved genomes' evasion): {med('make', late):.2f} s vs "
            f"{med('make', early):.2f} s"
        )
        print(
            f"post (grows with past generations, bounded per generation): {med('post', late):.2f} s vs "
            f"{med('post', early):.2f} s"
        )
        for i, who in enumerate(("driver", "workers")):
            e = statistics.median(prog.rss[r][i] for r in early)
            lt = statistics.median(prog.rss[r][i] for r in late)
            print(f"{who} RSS, last 5 vs rounds 2-6: {lt:.0f} MiB vs {e:.0f} MiB; ratio {lt / max(e, 1):.2f}")


if __name__ == "__main__":
    main()
