"""glibc's allocator tuning: tensors below 32 MiB come from the heap, and freed heap is kept for
the next op instead of being unmapped (benchmarks/malloc_tuning.py measures what that saves)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

from deepfake_arena.allocator import tune_malloc

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="mallopt thresholds exist only in glibc",
)

# Where glibc puts a 24 MiB tensor, read from mallinfo2: bytes in mmapped blocks while it is held
# (glibc's default threshold sends it to its own mapping, unmapped again when freed) and free
# bytes kept in the heap after it is freed. "worker" tunes through the entry point every round
# task calls.
CHILD = """
import ctypes, json, sys, torch

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "worker":
    from deepfake_arena.rounds.worker import setup_worker
    setup_worker(1, "cpu")
before = libc.mallinfo2().hblkhd
block = torch.ones(6 * 2**20)  # 24 MiB of float32
held = libc.mallinfo2().hblkhd
del block
print(json.dumps({"mmapped_while_held": held - before, "heap_free_after": libc.mallinfo2().fordblks}))
"""
MIB = 2**20


def _placement(mode: str) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@glibc_only
def test_tuned_worker_serves_large_tensors_from_the_heap_and_keeps_them_when_freed() -> None:
    default, tuned = _placement("default"), _placement("worker")
    assert default["mmapped_while_held"] >= 24 * MIB, default  # its own mapping, unmapped on free
    assert tuned["mmapped_while_held"] < MIB, tuned
    assert tuned["heap_free_after"] >= 24 * MIB, tuned  # ready for the next op, no page faults


@glibc_only
def test_tuning_is_applied_once_and_reports_success() -> None:
    assert tune_malloc() is True
    assert tune_malloc() is True  # idempotent: later tasks in the same worker call it again
