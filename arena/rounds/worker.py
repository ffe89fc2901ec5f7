"""What every task does first in its worker: torch's threads from the task's CPUs (Ray sets 1),
glibc's allocator tuned, the device picked with a CPU fallback; and read-only arrays made writable.

Its own module so that every kind of task (make, finish, extract, score, retrain) can call it
without importing the others.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from deepfake_arena.allocator import tune_malloc


def setup_worker(num_cpus: float, device: str) -> str:
    """Threads from the task's CPU share, glibc's allocator tuned for op chains (deepfake_arena.allocator),
    on a GPU the optimisers' lazy import done (`warm_imports`); 'auto'/'cuda' fall back to CPU
    where there is no GPU."""
    tune_malloc()
    torch.set_num_threads(max(1, int(num_cpus)))
    if device in ("auto", "cuda"):
        if torch.cuda.is_available():
            warm_imports()
            return "cuda"
        # The driver warns once when the cluster has no GPUs (deepfake_arena.launch.cpu_fallback_note);
        # a task warns only when Ray gave it GPUs that torch cannot see, which is a fault.
        if device == "cuda" and os.environ.get("CUDA_VISIBLE_DEVICES"):
            warnings.warn("device 'cuda' asked for but no GPU is visible; running on CPU", stacklevel=2)
    return "cpu"


def warm_imports() -> None:
    """Import torch._dynamo now: torch.optim imports it when the first optimiser is made and
    stepped (in torch 2.13, at its construction; benchmarks/first_calls.py).

    On the H100 machine that import is a GPU worker's largest one-off cost (5.8 s; a worker's
    first retrain took 5.6-8.7 s against ~1 s later: benchmarks/quickstart_profile.py's task
    table). Done at a worker's first GPU task, it is paid by the workers side by side while
    round 1 makes its fakes, not by whichever retrain first lands on each of them, alone on the
    round's critical path, rounds later. Not on the CPU: there it costs 1.1 s, and with as many
    workers as cores the round-1 retrains meet it on every worker at once anyway (moved to the
    first task it lengthened the 2-core quickstart's make phase instead: paired passes).
    """
    import torch._dynamo  # noqa: F401


def writable_tensor(array: np.ndarray) -> torch.Tensor:
    """A writable copy: arrays from Ray's object store are read-only views."""
    return torch.from_numpy(np.array(array, copy=True))
