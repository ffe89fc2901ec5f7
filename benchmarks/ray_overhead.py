"""What Ray costs and what it buys, on the same work measured in the same run.

1. Overhead: the quickstart's rounds through the Ray round loop on a one-CPU local Ray (tasks
   run one at a time, as in-process) vs the same rounds executed serially in this process
   (`rounds.executor.InProcess`); ratio = Ray / in-process (goal <= 1.10). With `--all-cores`, also
   Ray on every core (left out of run_all to keep it under 10 minutes).
2. Concurrency: a 4-seed sweep, members driven concurrently on 2 cores, vs the same 4 runs one
   after another in the same Ray session; ratio = sweep / back to back (goal <= 0.6). A throwaway
   run warms the session's workers first: timed cold, the back-to-back side paid the workers'
   start-up and read 0.55-0.61 where warm both sides read 0.8-1.0. Also printed: how many cores
   the back-to-back runs already kept busy (CPU seconds of this process and its children / wall),
   and the best ratio their CPU seconds allow on this many cores.

`--device cuda` runs every task of both sides on the GPU (each reserving a quarter of it).

    python benchmarks/ray_overhead.py [--rounds 3] [--smoke] [--all-cores] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.conftest's TINY sizes when run as a script

from device_options import add_device_argument, checked, describe, run_overrides  # noqa: E402

QUICKSTART = REPO / "runs" / "quickstart.yaml"


def _quiet():  # type: ignore[no-untyped-def]
    from deepfake_arena.rounds.progress import Progress

    return Progress(0, 1, stream=open("/dev/null", "w"))  # noqa: SIM115


def rounds_seconds(run_dir: Path, first: int = 1) -> float:
    """Sum of the rounds' wall times from round `first` on (timings.json of each round)."""
    return sum(
        json.loads(p.read_text())["total"]
        for p in (run_dir / "rounds").glob("r*/timings.json")
        if int(p.parent.name[1:]) >= first
    )


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and all its children (Ray's raylet and workers)."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:  # a worker that exited between listing and reading
            continue
    return total


def in_process(overrides: list[str], tmp: Path) -> float:
    from deepfake_arena.launch import environment
    from deepfake_arena.rounds.loop import run_rounds
    from deepfake_arena.spec import load_spec, resolved_json
    from deepfake_arena.store.run_dir import RunStore

    spec, text = load_spec(QUICKSTART, overrides)
    store = RunStore.create(tmp / "local", text, resolved_json(spec), environment())
    t0 = time.perf_counter()
    with store.lock:
        run_rounds(spec, store, "local", _quiet(), 0, executor="local")
    return time.perf_counter() - t0


def through_ray(overrides: list[str], tmp: Path, name: str, num_cpus: int | None) -> tuple[float, float]:
    from deepfake_arena.launch import start_run

    t0 = time.perf_counter()
    run = start_run(QUICKSTART, overrides, name=name, runs_dir=tmp, num_cpus=num_cpus, progress=_quiet())
    return time.perf_counter() - t0, rounds_seconds(run)


def main() -> None:
    from tests.conftest import TINY

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CI)")
    ap.add_argument("--all-cores", action="store_true", help="also the round loop on every core (~40 s more)")
    add_device_argument(ap)
    args = ap.parse_args()
    on_device = run_overrides(checked(args.device))
    base = [o for o in TINY if not o.startswith("rounds=")] if args.smoke else []
    quick = [*base, f"rounds={args.rounds}", *on_device]
    sweep_size = [o for o in TINY if not o.startswith("rounds=")] + ["rounds=2", *on_device]
    print(f"{describe(args.device)}; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        local = in_process(quick, tmp)
        ray1_wall, ray1_rounds = through_ray(quick, tmp, "ray1", 1)
        rayn_rounds = through_ray(quick, tmp, "rayn", None)[1] if args.all_cores else 0.0
        print(f"quickstart x {args.rounds} rounds{' (smoke size)' if args.smoke else ''}:")
        print(f"  in-process serial (baseline)  {local:7.1f} s")
        print(
            f"  Ray, 1 CPU: rounds {ray1_rounds:7.1f} s (+ start-up, plots {ray1_wall - ray1_rounds:.1f} s)"
            f"  ratio {ray1_rounds / local:.2f} (rounds), {ray1_wall / local:.2f} (whole run)"
        )
        # Round 1 pays Ray's one-off costs (worker processes start and import torch and kornia);
        # from round 2 on is what every further round of a long run costs.
        later_local, later_ray = rounds_seconds(tmp / "local", 2), rounds_seconds(tmp / "ray1", 2)
        if later_local > 0:
            print(
                f"  rounds 2+ only: in-process {later_local:.1f} s, Ray 1 CPU {later_ray:.1f} s"
                f"  ratio {later_ray / later_local:.2f} (steady state)"
            )
        if args.all_cores:
            print(f"  Ray, all cores: rounds {rayn_rounds:7.1f} s  ratio {rayn_rounds / local:.2f}")

        import ray

        from deepfake_arena.launch import start_run

        cores = os.cpu_count() or 1
        ray.init(num_cpus=cores, include_dashboard=False, logging_level="WARNING")
        try:
            # Workers start and import torch once per session: warm them so neither side pays it.
            start_run(QUICKSTART, [*sweep_size, "seed=99"], name="warm", runs_dir=tmp, progress=_quiet())
            seeds = range(2 if args.smoke else 4)
            c0, t0 = cpu_seconds(), time.perf_counter()
            for seed in seeds:
                start_run(
                    QUICKSTART,
                    [*sweep_size, f"seed={seed}"],
                    name=f"seq{seed}",
                    runs_dir=tmp,
                    progress=_quiet(),
                )
            seq, seq_cpu = time.perf_counter() - t0, cpu_seconds() - c0
            c0, t0 = cpu_seconds(), time.perf_counter()
            start_run(
                QUICKSTART,
                [*sweep_size, f"seeds={list(seeds)}"],
                name="sweep",
                runs_dir=tmp,
                progress=_quiet(),
            )
            sweep, sweep_cpu = time.perf_counter() - t0, cpu_seconds() - c0
        finally:
            ray.shutdown()
        print(f"{len(seeds)} seeds x 2 tiny rounds, one Ray session, warm workers, {cores} cores:")
        print(
            f"  back to back (baseline) {seq:7.1f} s | concurrent sweep {sweep:7.1f} s"
            f" | ratio {sweep / seq:.2f}"
        )
        # A run already overlaps its own tasks (two detectors, several strains): the back-to-back
        # side keeps more than one core busy, which bounds what running members together can save.
        print(
            f"  cores busy: back to back {seq_cpu / seq:.2f}, sweep {sweep_cpu / sweep:.2f} of {cores}"
            f" | best ratio the baseline's CPU seconds allow: {seq_cpu / cores / seq:.2f}"
        )


if __name__ == "__main__":
    main()
