"""The arena's hot ops with glibc's allocator tuned (as every round task runs) vs its defaults.

`deepfake_arena.allocator.tune_malloc` fixes glibc's mmap and trim thresholds so that a chain of eager
ops reuses the pages its previous op freed. A process cannot return to glibc's dynamic defaults
once tuned, so each side runs in its own child process: the baseline with glibc's defaults, the
other tuned first, alternating three times so drift on a shared machine hits both; each op's
figure is the best of the children's medians. Also counts the page faults per op call. One
thread. Not a timed test.

    python benchmarks/malloc_tuning.py [--repeats 9] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from device_options import add_device_argument, cpu_only  # imports no torch: the children decide

REPO = Path(__file__).resolve().parents[1]


def ops(smoke: bool) -> dict[str, Callable[[], object]]:
    """The ops on fixed batches: kornia's JPEG, the LAB transfer, a blend make, a meso4 step."""
    import torch

    from deepfake_arena import face_ops
    from deepfake_arena.detectors.meso import Meso4
    from deepfake_arena.generators import FAMILIES
    from deepfake_arena.generators.genome import default_genome
    from deepfake_arena.world.synthetic import SyntheticWorld

    batch, size = (4, 32) if smoke else (48, 64)
    gen = torch.Generator().manual_seed(0)
    world = SyntheticWorld(16, size, seed=0)
    src = world.render(torch.randint(16, (batch,), generator=gen), gen)
    tgt = world.render(torch.randint(16, (batch,), generator=gen), gen)
    mask = face_ops.face_mask(tgt.landmarks, size, "ellipse", 1.0, 1.0, 2.0)
    blend = FAMILIES.get("blend")
    genome = default_genome(blend.gene_space)
    net = Meso4()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    labels = (torch.arange(batch) % 2).float()

    def train_step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(src.images).flatten(), labels)
        loss.backward()
        opt.step()

    return {
        f"jpeg {size} px": lambda: face_ops.jpeg(src.images, 70.0),
        f"LAB transfer {size} px": lambda: face_ops.color_transfer_lab(src.images, tgt.images, mask, 0.8),
        f"blend make {size} px": lambda: blend.make(src, tgt, genome, torch.Generator().manual_seed(1)),
        f"meso4 train step {size} px": train_step,
    }


def child(tuned: bool, repeats: int, smoke: bool) -> None:
    """Print {op: [median ms, page faults per call]} as JSON."""
    import torch

    if tuned:
        from deepfake_arena.allocator import tune_malloc

        if not tune_malloc():
            raise SystemExit("no glibc here: nothing to tune")
    torch.set_num_threads(1)
    out = {}
    for name, op in ops(smoke).items():
        op()  # warm-up
        times = []
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(repeats):
            t = time.perf_counter()
            op()
            times.append(time.perf_counter() - t)
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        out[name] = [1e3 * statistics.median(times), faults / repeats]
    print(json.dumps(out))


def run_child(tuned: bool, repeats: int, smoke: bool) -> dict[str, list[float]]:
    cmd = [sys.executable, __file__, "--child", "tuned" if tuned else "default", "--repeats", str(repeats)]
    proc = subprocess.run(cmd + (["--smoke"] if smoke else []), cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--rounds", type=int, default=3, help="child processes per side, alternating")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    ap.add_argument("--child", choices=["default", "tuned"], help=argparse.SUPPRESS)
    add_device_argument(ap)
    args = ap.parse_args()
    if cpu_only(args.device, "glibc's allocator (host memory)"):
        return
    if args.smoke:
        args.repeats, args.rounds = 2, 1
    if args.child:
        child(args.child == "tuned", args.repeats, args.smoke)
        return
    runs: dict[bool, list[dict[str, list[float]]]] = {False: [], True: []}
    for _ in range(args.rounds):
        for tuned in (False, True):
            runs[tuned].append(run_child(tuned, args.repeats, args.smoke))
    print(
        f"1 thread, {args.rounds} child process(es) per side alternating, median of {args.repeats} calls each"
    )
    print(f"{'op':<24}{'defaults ms':>12}{'tuned ms':>10}{'ratio':>7}{'faults/call':>18}")
    for name in runs[False][0]:
        base = min(r[name][0] for r in runs[False])
        new = min(r[name][0] for r in runs[True])
        fb = statistics.median(r[name][1] for r in runs[False])
        fn = statistics.median(r[name][1] for r in runs[True])
        print(f"{name:<24}{base:>12.2f}{new:>10.2f}{base / new:>7.2f}{fb:>10.0f} ->{fn:>5.0f}")
    print("ratio = glibc defaults time / tuned time (> 1: tuning faster); faults: defaults -> tuned")


if __name__ == "__main__":
    main()
