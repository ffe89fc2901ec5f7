"""Detector throughput: training and inference images/s per architecture at 64 and 128 px, and the
overhead of the arena's training loop against a bare PyTorch loop on the same model and data.

For each architecture and size, measured in the same run on the same thread count:

- ``train``: images/s of :func:`detectors.training.fit` (balanced batches, uint8 -> float on the
  device, no augmentation, no validation), and of the same with the default kornia augmentation;
- ``bare``: images/s of a plain loop (index a batch, convert, forward, BCE, AdamW step) on a model
  with the same initial weights and the same data; ``ratio`` = train / bare (1.0 = no overhead);
- ``infer``: images/s of :meth:`deepfake_arena.detectors.base.Detector.score_uint8`;
- ``GFLOP/s``: the arena loop's achieved training FLOP/s (FLOPs counted by torch's
  FlopCounterMode), and ``of peak`` its fraction of this machine's fp32 matmul rate, measured in
  the same run.

Each throughput is the best of ``--repeats`` timed runs after a short warm-up, the runs of the
four measurements alternating so that load on a shared machine hits them alike, each starting
after the same cache flush (whatever ran before a call moves its time); ``ratio`` is the
median over the runs of the bare loop's time over the arena loop's in the same run (paired, so a
burst of load that hits one run does not decide it).

With ``--device cuda`` the data stays uint8 on the host, as in a round task, and every batch
crosses to the GPU in both loops; a second table times the spec's GPU options against the fp32
eager fit measured in the same round: bf16 and fp16 autocast, and (for ``--compile-archs``)
``torch.compile``, whose one-off compilation is left out of the timed fits and printed apart. The
ceiling there is also measured at bf16. Not a timed test.

    python benchmarks/detector_benchmark.py [--archs meso4 xception] [--sizes 64 128] [--steps 20]
        [--device cpu|cuda] [--compile-archs meso4]
"""

from __future__ import annotations

import argparse
import itertools
import statistics

import torch
import torch.nn.functional as F
from device_options import add_device_argument, checked, clock, describe

from deepfake_arena.allocator import tune_malloc


def _data(n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    u8 = torch.randint(0, 256, (2 * n, 3, size, size), dtype=torch.uint8, generator=g)
    return u8[:n], u8[n:]


DEVICE = "cpu"  # set by main(); every timed call waits for the device's queued work


def _flush() -> None:
    """Write 64 MiB (16x this machine's per-core L2) before every timed call, so each starts from
    the same cache and allocator state, whatever was timed before it."""
    torch.empty(16 * 2**20).fill_(1.0)


def _timed(fn) -> float:
    _flush()
    t0 = clock(DEVICE)
    fn()
    return clock(DEVICE) - t0


def _best(fns: list, repeats: int) -> list[float]:
    """Best time of each function over ``repeats`` rounds after one warm-up (allocator, oneDNN
    kernel selection), the functions alternating within each round."""
    return [min(times) for times in _rounds(fns, fns, repeats)]


def _rounds(fns: list, warmups: list, repeats: int) -> list[list[float]]:
    """Each function's time in each of ``repeats`` rounds, after one call of its warm-up.

    The functions alternate within each round, so on a shared machine a burst of load hits
    neighbours alike: the ratio of two functions' times within a round stays meaningful, and the
    median of those ratios over rounds shrugs off a round that a burst hit unevenly. Each round
    starts one function further on. What ran just before a call moves its time (caches and
    allocator state, not the loop), and rotating the start keeps every function's predecessor:
    the arena's fit always followed the large inference batch and read 0.89-0.92 of the bare loop
    for spectrum at 64 px, 1.00 with the order reversed every other round. So `_timed` first
    writes the same buffer before every call (`_flush`): 0.95 then, the fit and the loop each
    starting cold.
    """
    for warm in warmups:
        warm()
    times: list[list[float]] = [[] for _ in fns]
    for k in range(repeats):
        for j in range(len(fns)):
            i = (k + j) % len(fns)
            times[i].append(_timed(fns[i]))
    return times


def bare_loop(
    model: torch.nn.Module, reals, fakes, steps: int, batch: int, lr: float, channels_last: bool
) -> None:
    """The baseline: what a hand-written PyTorch training loop does, nothing more."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(0)
    half = batch // 2
    target = torch.cat([torch.zeros(half), torch.ones(half)]).to(DEVICE)
    model.train()
    for _ in range(steps):
        ri = torch.randint(reals.shape[0], (half,), generator=g)
        fi = torch.randint(fakes.shape[0], (half,), generator=g)
        x = torch.cat([reals[ri], fakes[fi]]).to(DEVICE, non_blocking=True).float() / 255
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        loss = F.binary_cross_entropy_with_logits(model(x).float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()


def matmul_flops(repeats: int = 5, n: int = 1024, dtype: torch.dtype = torch.float32) -> float:
    """The device's matmul rate (FLOP/s) at `dtype`, on this thread count on the CPU: the ceiling
    to compare to. On a GPU n is raised to 8192, so the product fills the chip."""
    if DEVICE != "cpu":
        n = max(n, 8192)
    a, b = (torch.randn(n, n, device=DEVICE).to(dtype) for _ in range(2))
    best = _best([lambda: a @ b], repeats)[0]
    return 2 * n**3 / best


def step_flops(model: torch.nn.Module, size: int, batch: int) -> float:
    """FLOPs of one training step (forward + backward), counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(batch, 3, size, size, device=DEVICE)
    with FlopCounterMode(display=False) as counter:
        model(x).float().sum().backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def bench(arch: str, size: int, steps: int, batch: int, repeats: int) -> dict[str, float]:
    from deepfake_arena.detectors import Detector, TrainConfig

    reals, fakes = _data(128, size)
    arena_det, bare_det = Detector(arch, seed=0, device=DEVICE), Detector(arch, seed=0, device=DEVICE)
    n_train = steps * batch
    images = torch.cat([reals, fakes])

    def fits(n: int) -> list:
        short = [TrainConfig(steps=n, batch_size=batch, augment=a) for a in (False, True)]
        return [
            lambda: arena_det.fit(reals, fakes, short[0], seed=0),
            lambda: arena_det.fit(reals, fakes, short[1], seed=0),
            lambda: bare_loop(bare_det.network, reals, fakes, n, batch, short[0].lr, bare_det.channels_last),
            lambda: arena_det.score_uint8(images),
        ]

    # Warm-up: a 3-step fit of each (allocator, oneDNN kernel choice), then the timed rounds.
    times = _rounds(fits(steps), fits(3), repeats)
    t_arena, t_aug, t_bare, t_infer = (min(t) for t in times)
    ratio = statistics.median(b / a for a, b in zip(times[0], times[2], strict=True))
    flops = step_flops(bare_det.network, size, batch) * steps / t_arena
    return {
        "params": float(arena_det.n_parameters),
        "flops": flops,
        "train": n_train / t_arena,
        "train_aug": n_train / t_aug,
        "bare": n_train / t_bare,
        "ratio": ratio,
        "infer": images.shape[0] / t_infer,
    }


def gpu_options(
    arch: str, size: int, steps: int, batch: int, repeats: int, compile: bool
) -> tuple[dict[str, tuple[float, float]], float]:
    """Train images/s of the spec's GPU options and their ratio to the fp32 eager fit, timed in
    the same rounds, ({option: (images/s, ratio)}, seconds of compilation): the compilation
    (the first compiled fit) is left out of the timed fits."""
    from deepfake_arena.detectors import Detector, TrainConfig

    reals, fakes = _data(128, size)
    options = {"fp32": {}, "bf16": {"precision": "bf16"}, "fp16": {"precision": "fp16"}}
    if compile:
        options["compile"] = {"compile": True}
    dets = {name: Detector(arch, seed=0, device=DEVICE, **kw) for name, kw in options.items()}
    config = TrainConfig(steps=steps, batch_size=batch, augment=False)
    warm = TrainConfig(steps=3, batch_size=batch, augment=False)
    compile_s = 0.0
    if compile:
        compile_s = _timed(lambda: dets["compile"].fit(reals, fakes, warm, seed=0))
    fits = [lambda d=d: d.fit(reals, fakes, config, seed=0) for d in dets.values()]
    warms = [lambda d=d: d.fit(reals, fakes, warm, seed=0) for d in dets.values()]
    times = dict(zip(dets, _rounds(fits, warms, repeats), strict=True))
    n = steps * batch
    rates = {
        name: (n / min(t), statistics.median(a / b for a, b in zip(times["fp32"], t, strict=True)))
        for name, t in times.items()
    }
    return rates, compile_s


def main() -> None:
    global DEVICE
    from deepfake_arena.detectors import DETECTORS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", nargs="*", default=DETECTORS.names())
    p.add_argument("--sizes", nargs="*", type=int, default=[64, 128])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1, like a Ray task)")
    p.add_argument("--compile-archs", nargs="*", default=[], help="also time torch.compile for these")
    p.add_argument("--options", action="store_true", help="the GPU options' table on the CPU too")
    add_device_argument(p)
    args = p.parse_args()
    DEVICE = checked(args.device)
    tune_malloc()  # as the arena's round tasks run (deepfake_arena.allocator)
    torch.set_num_threads(args.threads)
    print(f"{describe(DEVICE)}, batch {args.batch}, {args.steps} steps per fit")
    peak = matmul_flops()
    print(f"fp32 matmul rate (the ceiling, measured now): {peak / 1e9:.1f} GFLOP/s")
    _header(
        f"{'arch':<16}{'px':>5}{'params':>10}{'train/s':>10}{'+aug/s':>9}"
        f"{'bare/s':>9}{'ratio':>7}{'infer/s':>10}{'GFLOP/s':>9}{'of peak':>8}"
    )
    for arch, size in itertools.product(args.archs, args.sizes):
        r = bench(arch, size, args.steps, args.batch, args.repeats)
        print(
            f"{arch:<16}{size:>5}{int(r['params']):>10,}{r['train']:>10.0f}{r['train_aug']:>9.0f}"
            f"{r['bare']:>9.0f}{r['ratio']:>7.2f}{r['infer']:>10.0f}"
            f"{r['flops'] / 1e9:>9.2f}{r['flops'] / peak:>8.1%}"
        )
    if DEVICE != "cpu" or args.options:
        print_gpu_options(args, peak)


def print_gpu_options(args: argparse.Namespace, peak: float) -> None:
    """The table of the spec's GPU options (precision, compile) against fp32 eager."""
    peak16 = matmul_flops(dtype=torch.bfloat16)
    print(f"\nGPU options, train images/s (x = ratio to the fp32 eager fit in the same rounds); "
          f"bf16 matmul rate {peak16 / 1e12:.1f} TFLOP/s, fp32 {peak / 1e12:.1f} TFLOP/s")  # fmt: skip
    _header(
        f"{'arch':<16}{'px':>5}{'fp32/s':>9}{'bf16/s':>9}{'x':>6}{'fp16/s':>9}{'x':>6}"
        f"{'compile/s':>11}{'x':>6}{'compile s':>11}"
    )
    for arch, size in itertools.product(args.archs, args.sizes):
        c = arch in args.compile_archs
        r, compile_s = gpu_options(arch, size, args.steps, args.batch, args.repeats, c)
        comp = f"{r['compile'][0]:>11.0f}{r['compile'][1]:>6.2f}{compile_s:>11.1f}" if c else ""
        print(
            f"{arch:<16}{size:>5}{r['fp32'][0]:>9.0f}{r['bf16'][0]:>9.0f}{r['bf16'][1]:>6.2f}"
            f"{r['fp16'][0]:>9.0f}{r['fp16'][1]:>6.2f}{comp}"
        )


def _header(text: str) -> None:
    print(text)
    print("-" * len(text))


if __name__ == "__main__":
    main()
