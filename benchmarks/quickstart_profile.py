"""Where a quickstart round's time goes, and how fast `blend` makes fakes.

Runs the quickstart (or a spec given on the command line, with overrides) through the real
Ray round loop, then prints each phase's share of the round wall time from the rounds'
timings.json (with the part of `make` spent inside the deployed detectors and the extractor
that evasion queries, `deepfake_arena.rounds.query_clock`), then each Ray task's time from Ray's timeline: how
many ran, on how many worker processes, a task's first call on its worker against its later calls
(a worker's one-off start-up: imports, CUDA's context) and, for the retrain, the time inside the
detectors' fits (training.json) against the whole task; and blend fakes/s at 64 and 128 px on one thread,
with a per-image loop of the same batched code as the baseline measured in the same run.
`--device cuda` runs the round tasks on the GPU, each reserving a quarter of it
(benchmarks/device_options.py), and blend there. With RAY_ADDRESS set the run and its
timeline are the cluster's there. Not a timed test.

    python benchmarks/quickstart_profile.py [SPEC] [key=value ...] [--smoke] [--device cpu|cuda]
                                            [--timeline trace.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.conftest's TINY sizes when run as a script
from device_options import add_device_argument, checked, describe, median_seconds, run_overrides  # noqa: E402

# make_ahead: the wait, after the retrain, for next round's make tasks started beside it (rounds.loop)
PHASES = ("make", "make_ahead", "zero_day", "retrain", "post", "evolve", "commit")


def profile_run(spec: Path, overrides: list[str], timeline: Path | None = None) -> None:
    import ray

    from deepfake_arena.launch import ray_session, start_run
    from deepfake_arena.rounds.progress import Progress
    from deepfake_arena.spec import load_spec

    t0 = time.perf_counter()
    # The Ray `arena run` would use (the cluster at RAY_ADDRESS, else a local one), opened here so
    # that it stays open after the run for its timeline.
    with ray_session(None, [load_spec(spec, overrides)[0]]), tempfile.TemporaryDirectory() as tmp:
        res = ray.cluster_resources()
        where = os.environ.get("RAY_ADDRESS") or "local"
        print(f"Ray ({where}): {res.get('CPU', 0):g} CPUs, {res.get('GPU', 0):g} GPUs")
        devnull = open("/dev/null", "w")  # noqa: SIM115
        run_dir = start_run(spec, overrides, name="bench", runs_dir=tmp, progress=Progress(0, 1, devnull))
        wall = time.perf_counter() - t0
        rounds = sorted((run_dir / "rounds").glob("r*"))
        timings = [json.loads((r / "timings.json").read_text()) for r in rounds]
        fits = [json.loads((r / "training.json").read_text()) for r in rounds]
        events = ray.timeline()
    if timeline is not None:  # Chrome's trace format: chrome://tracing or ui.perfetto.dev opens it
        timeline.write_text(json.dumps(events))
        print(f"Ray timeline: {timeline}")
    total = sum(t["total"] for t in timings)
    print(
        f"run wall time {wall:.1f} s for {len(timings)} rounds (rounds {total:.1f} s, "
        f"start-up, Ray and plotting {wall - total:.1f} s)"
    )
    print(f"{'phase':<10}{'median s/round':>16}{'share':>8}")
    for phase in PHASES:
        vals = [t.get(phase, 0.0) for t in timings]
        print(f"{phase:<10}{statistics.median(vals):>16.2f}{sum(vals) / total:>8.1%}")
    other = total - sum(t.get(p, 0.0) for t in timings for p in PHASES)
    print(f"{'other':<10}{other / len(timings):>16.2f}{other / total:>8.1%}")
    # make = generating + the evasion's queries of the deployed detectors (deepfake_arena.rounds.query_clock)
    plain, generating = neither_share(timings)
    print(
        f"  of make, inside the deployed detectors and the extractor (evasion queries): "
        f"{generating - plain:.1%} of the round"
    )
    print(
        f"neither training nor scoring: {plain:.1%} of the round (evasion queries counted as scoring; "
        f"{generating:.1%} if counted as generation); goal < 25%"
    )
    if len(timings) > 1:  # round 1 also pays each worker's one-off start-up (the task table below)
        print(f"  rounds 2+ only: {neither_share(timings[1:])[0]:.1%}")
    print_task_table(task_times(events), fit_seconds(fits))


def neither_share(timings: list[dict[str, float]]) -> tuple[float, float]:
    """Share of these rounds' wall time neither training nor scoring: (evasion's queries of the
    detectors counted as scoring, counted as generation)."""
    total = sum(t["total"] for t in timings)
    training = sum(t["retrain"] for t in timings)
    scoring = sum(t["zero_day"] + t["post"] for t in timings)
    queries = sum(t.get("make_queries", 0.0) for t in timings)
    return (total - training - scoring - queries) / total, (total - training - scoring) / total


def task_times(events: list[dict[str, Any]]) -> dict[str, list[tuple[str, float, float]]]:
    """(worker, start µs, seconds) of each call of each Ray task, from ray.timeline()'s events."""
    calls: dict[str, list[tuple[str, float, float]]] = {}
    for e in events:
        cat = str(e.get("cat", ""))
        if cat.startswith("task::") and e.get("ph") == "X":
            calls.setdefault(cat[len("task::") :], []).append((str(e["tid"]), float(e["ts"]), e["dur"] / 1e6))
    return calls


def fit_seconds(reports: list[dict[str, Any]]) -> list[float]:
    """Seconds inside each detector fit of the run (training.json of each round; None: no fit)."""
    return [float(rep["seconds"]) for per_round in reports for rep in per_round.values() if rep]


def print_task_table(calls: dict[str, list[tuple[str, float, float]]], fits: list[float]) -> None:
    """Per task: calls, workers, total and median seconds, first call on a worker vs later ones."""
    print(
        f"{'ray task':<18}{'calls':>6}{'workers':>8}{'total s':>9}{'median':>8}{'1st/worker':>11}{'later':>7}"
    )
    for name, runs in sorted(calls.items(), key=lambda kv: -sum(c[2] for c in kv[1])):
        seen: set[str] = set()
        first: list[float] = []
        later: list[float] = []
        for worker, _, sec in sorted(runs, key=lambda c: c[1]):
            (later if worker in seen else first).append(sec)
            seen.add(worker)
        secs = [c[2] for c in runs]
        print(
            f"{name:<18}{len(runs):>6}{len(seen):>8}{sum(secs):>9.2f}{statistics.median(secs):>8.2f}"
            f"{statistics.median(first):>11.2f}{statistics.median(later) if later else float('nan'):>7.2f}"
        )
    retrain = sum(c[2] for c in calls.get("retrain", []))
    if retrain > 0:
        print(
            f"inside the detectors' fits: {sum(fits):.2f} s of the retrain tasks' {retrain:.2f} s "
            f"({sum(fits) / retrain:.0%}; the rest: loading weights and memory, building the model, "
            "the replay set, returning the weights)"
        )


def blend_throughput(size: int, batch: int, repeats: int, device: str) -> None:
    from deepfake_arena.allocator import tune_malloc
    from deepfake_arena.generators import FAMILIES
    from deepfake_arena.generators.genome import default_genome
    from deepfake_arena.world.synthetic import SyntheticWorld

    tune_malloc()  # as the arena's round tasks run (deepfake_arena.allocator)
    torch.set_num_threads(1)
    family = FAMILIES.get("blend")
    genome = default_genome(family.gene_space)
    world = SyntheticWorld(16, size, seed=0)
    gen = torch.Generator().manual_seed(0)
    src = world.render(torch.randint(16, (batch,), generator=gen), gen).to(device)
    tgt = world.render(torch.randint(16, (batch,), generator=gen), gen).to(device)

    def batched() -> None:
        family.make(src, tgt, genome, torch.Generator(device=device).manual_seed(1))

    def per_image() -> None:
        for i in range(batch):
            family.make(
                src.index(slice(i, i + 1)),
                tgt.index(slice(i, i + 1)),
                genome,
                torch.Generator(device=device).manual_seed(1),
            )

    tb, tl = median_seconds(batched, repeats, device), median_seconds(per_image, repeats, device)
    print(
        f"blend {size:>3} px: {batch / tb:8.0f} fakes/s batched (B={batch}) vs {batch / tl:8.0f} "
        f"fakes/s one image at a time; ratio {tl / tb:.2f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec", nargs="?", default=str(REPO / "runs" / "quickstart.yaml"))
    ap.add_argument("overrides", nargs="*")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    ap.add_argument("--timeline", type=Path, help="also write the run's Ray timeline (a Chrome trace) here")
    add_device_argument(ap)
    args = ap.parse_args()
    device = checked(args.device)
    overrides = run_overrides(device) + list(args.overrides)
    if args.smoke:
        from tests.conftest import TINY

        overrides = TINY + overrides
    print(f"{describe(device)}; {os.cpu_count()} cores; overrides: {' '.join(overrides) or 'none'}")
    profile_run(Path(args.spec), overrides, args.timeline)
    batch, repeats = (8, 2) if args.smoke else (64, 5)
    for size in (64, 128):
        blend_throughput(size, batch, repeats, device)


if __name__ == "__main__":
    main()
