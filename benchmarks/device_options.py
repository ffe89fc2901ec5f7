"""`--device` for every benchmark: the argument, a check that the GPU is there, the spec
overrides that put a run's Ray tasks on it, and a clock that waits for queued GPU work.

A run on `cuda` needs each role's tasks to reserve a share of the GPU: Ray hides the GPUs from
tasks that reserve none (deepfake_arena.launch.check_resources). A quarter each lets four round tasks
share one GPU, as a single-GPU workstation would run the arena.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

GPU_SHARE = 0.25


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="where the measured work runs"
    )


def checked(device: str) -> str:
    """`device`, or exit with the reason when it asks for a GPU this machine lacks."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no GPU is visible to torch (torch.cuda.is_available() is False)")
    return device


def describe(device: str) -> str:
    """The device in words, for the benchmark's first line."""
    import torch

    if device == "cuda":
        return f"cuda ({torch.cuda.get_device_name()}, torch {torch.__version__})"
    return f"cpu ({torch.get_num_threads()} thread(s), torch {torch.__version__})"


def run_overrides(device: str) -> list[str]:
    """Spec overrides that run a simulation's tasks on `device`."""
    if device == "cpu":
        return []
    return [
        f"device={device}",
        f"resources.generator.num_gpus={GPU_SHARE}",
        f"resources.detector.num_gpus={GPU_SHARE}",
    ]


def clock(device: str | torch.device) -> float:
    """perf_counter after the device's queued work is done, so that the read measures it."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def median_seconds(fn: Callable[[], object], repeats: int, device: str = "cpu") -> float:
    """Median wall time of `fn` over `repeats` calls after one warm-up, each call timed with
    `clock` so that queued GPU work is counted."""
    fn()
    times = []
    for _ in range(repeats):
        t = clock(device)
        fn()
        times.append(clock(device) - t)
    return statistics.median(times)


def cpu_only(device: str, what: str) -> bool:
    """For benchmarks of CPU-only machinery: True (and says why) when asked for another device."""
    if device == "cpu":
        return False
    print(f"skipped on --device {device}: {what} is CPU-only machinery; its figures are the CPU run's")
    return True
