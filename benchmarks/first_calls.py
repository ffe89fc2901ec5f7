"""What a fresh worker process pays the first time it runs each step of a round, against the second.

A Ray worker is a long-lived process: whatever a step costs only on its first call (an import, a
library's start-up, a device's kernels) is paid once per worker, and lands in whichever task first
runs that step there. Each line times one step twice in this fresh process, the first call and
then the same call again, and prints their ratio: on the H100 machine this found a worker's first
retrain 5.6-8.7 s long (torch.optim imports torch._dynamo for the first optimiser made), which
`rounds.worker.warm_imports` now moves to a GPU worker's first task. Each call is timed after the
device's queued work is done. Not a timed test.

    python benchmarks/first_calls.py [--archs meso4 xception] [--size 64] [--steps 60] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

T_START = time.perf_counter()

import torch  # noqa: E402  (the import's own cost is the first line)
from device_options import add_device_argument, checked, clock, describe  # noqa: E402


def first_and_second(fn: Callable[[], object], device: str) -> tuple[float, float]:
    """Seconds of fn's first call in this process, then of its second."""
    times = []
    for _ in range(2):
        t = clock(device)
        fn()
        times.append(clock(device) - t)
    return times[0], times[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", nargs="+", default=["meso4", "xception"])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=60, help="steps per fit (the quickstart's finetune)")
    add_device_argument(ap)
    args = ap.parse_args()
    device = checked(args.device)
    torch_s = time.perf_counter() - T_START
    t = time.perf_counter()
    torch.zeros(1, device=device)
    context_s = clock(device) - t
    t = time.perf_counter()
    from deepfake_arena import face_ops
    from deepfake_arena.allocator import tune_malloc
    from deepfake_arena.detectors import Detector
    from deepfake_arena.detectors.training import TrainConfig, _augment

    imports_s = time.perf_counter() - t
    tune_malloc()  # as the arena's round tasks run (deepfake_arena.allocator)
    torch.set_num_threads(1)
    print(f"{describe(device)}; {args.size} px, batch 32, fits of {args.steps} steps")
    print(f"{'step':<34}{'first s':>9}{'second s':>10}{'ratio':>8}")
    print(f"{'import torch':<34}{torch_s:>9.2f}{'-':>10}{'-':>8}")
    print(f"{'device context':<34}{context_s:>9.2f}{'-':>10}{'-':>8}")
    print(f"{'import arena, detectors':<34}{imports_s:>9.2f}{'-':>10}{'-':>8}")

    g = torch.Generator().manual_seed(0)
    s = args.size
    reals = torch.randint(0, 256, (256, 3, s, s), dtype=torch.uint8, generator=g)
    fakes = torch.randint(0, 256, (256, 3, s, s), dtype=torch.uint8, generator=g)
    x = torch.rand(32, 3, s, s, generator=g).to(device)
    config = TrainConfig(steps=args.steps, batch_size=32)
    first_arch = Detector(args.archs[0], {}, device=device, seed=0)
    net = first_arch.network

    def forward_backward() -> None:
        net.train()(x).sum().backward()

    steps: list[tuple[str, Callable[[], object]]] = [
        ("gaussian blur", lambda: face_ops.gaussian_blur(x, 0.7)),
        ("jpeg", lambda: face_ops.jpeg(x, 80)),
        ("augment (flip, jitter, blur, jpeg)", lambda: _augment(x, config, g)),
        (f"{args.archs[0]} forward+backward", forward_backward),
        ("new AdamW optimiser, one step", lambda: torch.optim.AdamW(net.parameters()).step()),
    ]
    for arch in args.archs:
        det = Detector(arch, {}, device=device, seed=0)
        fit = lambda det=det: det.fit(reals, fakes, config, seed=0)  # noqa: E731
        steps.append((f"{arch} fit, {args.steps} steps", fit))
    for name, fn in steps:
        first, second = first_and_second(fn, device)
        print(f"{name:<34}{first:>9.2f}{second:>10.2f}{first / max(second, 1e-9):>8.1f}")
    print("ratio = first call / second call in this process (> 1: a one-off a worker pays once)")


if __name__ == "__main__":
    main()
