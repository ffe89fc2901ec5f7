"""glibc's allocator tuning: an op chain reuses its freed pages instead of faulting in new ones."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from arena.allocator import tune_malloc

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="mallopt thresholds exist only in glibc",
)

# Page faults of 20 passes of a short op chain on a (48, 3, 64, 64) batch (2.4 MB per
# intermediate, a JPEG- or colour-transfer-sized step), after one warm-up pass. "worker" tunes
# through the entry point every round task calls.
CHILD = """
import resource, sys, torch
torch.set_num_threads(1)
if sys.argv[1] == "worker":
    from arena.work import setup_worker
    setup_worker(1, "cpu")
x = torch.rand(48, 3, 64, 64)
def chain():
    return torch.exp((x - 0.5) * 2 + 1).clamp(0, 3)
chain()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    chain()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True, timeout=120
    )
    return int(out.stdout.strip().splitlines()[-1])


@glibc_only
def test_tuned_worker_reuses_freed_pages_where_glibc_defaults_fault_them_in_again() -> None:
    default, tuned = _faults("default"), _faults("worker")
    # with glibc's defaults each pass maps and faults in fresh intermediates (hundreds of pages)
    assert default > 200, default
    assert tuned * 10 < default, (tuned, default)


@glibc_only
def test_tuning_is_applied_once_and_reports_success() -> None:
    assert tune_malloc() is True
    assert tune_malloc() is True  # idempotent: later tasks in the same worker call it again
