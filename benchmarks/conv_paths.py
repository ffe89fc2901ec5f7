"""kornia's JPEG codec and the Laplacian blend with oneDNN off around them vs on (the baseline).

`deepfake_arena.face_ops.native_filters` switches oneDNN off around the two ops whose shared-kernel
grouped convs it runs slowly on CPU. This measures, in the same run and on the same batch, each
op with the switch (as the arena runs them) and without it (oneDNN, the baseline), the JPEG codec
also with its gradient (the white-box evasion's backward, which face_ops keeps off oneDNN too), plus the ops
it is deliberately not used for (a per-sample blur, the SSIM window), to show that choice still
holds. Medians of interleaved repeats on one thread. Not a timed test.

    python benchmarks/conv_paths.py [--sizes 64 128] [--batch 48] [--repeats 15] [--smoke] [--device cpu]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable, Iterator

import torch
from device_options import add_device_argument, cpu_only

from deepfake_arena import face_ops
from deepfake_arena.allocator import tune_malloc
from deepfake_arena.generators.quality import swap_quality

NATIVE = face_ops.native_filters


@contextlib.contextmanager
def _onednn_kept(device: torch.device) -> Iterator[None]:
    yield


def on_onednn(op: Callable[[], object]) -> object:
    """The op with oneDNN left on, PyTorch's default (face_ops' switch made a no-op)."""
    face_ops.native_filters = _onednn_kept
    try:
        return op()
    finally:
        face_ops.native_filters = NATIVE


def on_native(op: Callable[[], object]) -> object:
    """The op with oneDNN off throughout."""
    with NATIVE(torch.device("cpu")):
        return op()


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def size_ops(size: int, batch: int) -> list[tuple[str, bool, Callable[[], object]]]:
    """(name, whether the arena runs it with oneDNN off, the op on a fixed random batch)."""
    gen = torch.Generator().manual_seed(size)
    x, y = (torch.rand(batch, 3, size, size, generator=gen) for _ in range(2))
    mask = torch.rand(batch, 1, size, size, generator=gen)
    quality, sigma = torch.full((batch,), 85.0), torch.full((batch,), 1.0)
    weights = torch.rand(batch, 3, size, size, generator=gen)

    def jpeg_gradient() -> object:  # what the white-box evasion does through the post-processing
        xg = x.clone().requires_grad_()
        return torch.autograd.grad((face_ops.jpeg(xg, quality) * weights).sum(), xg)

    return [
        ("jpeg", True, lambda: face_ops.jpeg(x, quality)),
        ("jpeg + gradient", True, jpeg_gradient),
        ("laplacian blend", True, lambda: face_ops.laplacian_blend(x, y, mask, 4)),
        ("per-sample blur", False, lambda: face_ops.gaussian_blur(x, sigma)),
        ("ssim window", False, lambda: swap_quality(x, y, mask)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    add_device_argument(ap)
    args = ap.parse_args()
    if cpu_only(args.device, "choosing between oneDNN and native convolution kernels"):
        return
    if args.smoke:
        args.sizes, args.batch, args.repeats = [32], 4, 2
    tune_malloc()  # as the arena's round tasks run (deepfake_arena.allocator)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, batch {args.batch}, median of {args.repeats}")
    print(f"{'op':<22}{'px':>5}{'oneDNN ms':>11}{'native ms':>11}{'ratio':>8}")
    for size in args.sizes:
        for name, switched, op in size_ops(size, args.batch):
            sides = {"onednn": lambda op=op: on_onednn(op), "native": lambda op=op: on_native(op)}
            for fn in sides.values():
                fn()  # warm-up
            times: dict[str, list[float]] = {k: [] for k in sides}
            for _ in range(3):  # interleaved, so drift on a shared machine hits both sides
                for label, fn in sides.items():
                    times[label].append(median_ms(fn, args.repeats))
            base, new = min(times["onednn"]), min(times["native"])
            label = f"{name}{' *' if switched else ''}"
            print(f"{label:<22}{size:>5}{base:>11.2f}{new:>11.2f}{base / new:>8.2f}")
    print("ratio = oneDNN time / native time (> 1: native faster); * = the ops the arena runs native")


if __name__ == "__main__":
    main()
