"""Fakes per second of every generator family, beside `blend` as the baseline.

For each registered family and each size (64 and 128 px by default) the family's textbook
(default) genome makes batches of synthetic faces; learning families first train tiny weights
(not counted in fakes/s; their training time is printed apart). Each row prints fakes/s and the
ratio to blend's fakes/s at the same size, measured in the same run on the same device
(`--device cuda`: the GPU; a batch of 32 leaves most of it idle, so `--batch` matters there). Not a
timed test.

    python benchmarks/generator_benchmark.py [--sizes 64 128] [--batch 32] [--repeats 3] [--threads 1]
        [--device cpu|cuda]
"""

from __future__ import annotations

import argparse

import torch
from device_options import add_device_argument, checked, clock, describe

from deepfake_arena.allocator import tune_malloc


def faces(size: int, n: int, device: str):
    from deepfake_arena.world.synthetic import SyntheticWorld

    world = SyntheticWorld(2 * n, size, seed=0)
    gen = torch.Generator().manual_seed(0)
    source = world.render(torch.arange(n), gen).to(device)
    target = world.render(torch.arange(n, 2 * n), gen).to(device)
    return source, target


def bench(name: str, size: int, batch: int, repeats: int, device: str) -> tuple[float, float]:
    """(fakes/s, training seconds) of one family at one size."""
    from deepfake_arena.faces import FaceBatch
    from deepfake_arena.generators import FAMILIES, TrainBudget
    from deepfake_arena.generators.genome import default_genome

    family = FAMILIES.get(name)
    genome = default_genome(family.gene_space)
    source, target = faces(size, batch, device)
    weights, train_s = None, 0.0
    if family.learns:
        both = FaceBatch(
            torch.cat([source.images, target.images]),
            torch.cat([source.landmarks, target.landmarks]),
            torch.cat([source.identity, target.identity]),
            torch.cat([source.source, target.source]),
        )
        t = clock(device)
        weights = family.prepare(both, genome, torch.Generator(device=device), TrainBudget(steps=20))
        train_s = clock(device) - t
    family.make(source, target, genome, torch.Generator(device=device), weights=weights)  # warm-up
    t = clock(device)
    for k in range(repeats):
        family.make(source, target, genome, torch.Generator(device=device).manual_seed(k), weights=weights)
    return batch * repeats / (clock(device) - t), train_s


def main() -> None:
    from deepfake_arena import generators

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    add_device_argument(parser)
    args = parser.parse_args()
    device = checked(args.device)
    tune_malloc()  # as the arena's round tasks run (deepfake_arena.allocator)
    torch.set_num_threads(args.threads)
    names = ["blend"] + [n for n in generators.FAMILIES.names() if n != "blend"]
    print(f"device: {describe(device)}; batch {args.batch}, {args.repeats} repeats, default genomes")
    print(f"{'family':<13}{'size':>5}{'fakes/s':>10}{'x blend':>9}{'train s':>9}")
    for size in args.sizes:
        base = None
        for name in names:
            rate, train_s = bench(name, size, args.batch, args.repeats, device)
            base = base or rate
            print(f"{name:<13}{size:>5}{rate:>10.1f}{rate / base:>9.3f}{train_s:>9.1f}")


if __name__ == "__main__":
    main()
