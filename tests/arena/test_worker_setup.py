"""A GPU worker imports torch._dynamo at its first task (deepfake_arena.rounds.worker.warm_imports); a CPU
one does not.

torch.optim imports it lazily for the first optimiser made: on the H100 machine that cost a
worker's first retrain 5.8 s alone on the round's critical path. Each case runs in a fresh
interpreter, where nothing has imported it yet; the GPU case pretends CUDA is visible.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = """
import sys, torch
if {gpu}:
    torch.cuda.is_available = lambda: True
from deepfake_arena.rounds.worker import setup_worker
assert "torch._dynamo" not in sys.modules, "imported before any task"
print(setup_worker(1, {device!r}), "torch._dynamo" in sys.modules)
"""


@pytest.mark.parametrize(
    ("gpu", "device", "expected"),
    [
        (True, "cuda", "cuda True"),
        (True, "auto", "cuda True"),
        (False, "cpu", "cpu False"),
        (False, "auto", "cpu False"),
        (True, "cpu", "cpu False"),  # a CPU task on a GPU machine (make_reals) leaves it to its fits
    ],
)
def test_gpu_tasks_import_what_the_first_optimiser_step_would(gpu: bool, device: str, expected: str) -> None:
    code = CHECK.format(gpu=gpu, device=device)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[-2] == expected


def test_an_optimiser_step_imports_it_so_warming_moves_the_cost_not_adds_it() -> None:
    """The premise: without the warm-up, the first AdamW optimiser made and stepped imports it."""
    code = (
        "import sys, torch\n"
        "p = torch.nn.Parameter(torch.ones(2)); p.grad = torch.ones(2)\n"
        "before = 'torch._dynamo' in sys.modules\n"
        "torch.optim.AdamW([p]).step()\n"
        "print(before, 'torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False True"
