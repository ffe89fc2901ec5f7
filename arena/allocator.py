"""Keep freed tensor memory in the process for the next op instead of handing it back at once.

On CPU, eager torch gives every intermediate of an op chain a fresh buffer. glibc serves a block
above its mmap threshold (128 KiB at first, rising to the size of the last such block freed, at
most 32 MiB) with a new mapping, and trims the heap top once twice that threshold lies free, so a
chain of ops on (48, 3, 64, 64) tensors -- kornia's JPEG codec has ~40, the LAB colour transfer
~30 -- faults in every page of every intermediate again: ~1 ms per op where the arithmetic takes
0.25 ms. Fixing the mmap threshold at its maximum and the trim threshold at `TRIM_BYTES` lets
each op reuse the pages the previous one freed (benchmarks/malloc_tuning.py measures the gain
against glibc's defaults in the same run).

PyTorch's CPU tuning guide gets the same effect by preloading jemalloc or tcmalloc; `mallopt`
needs no extra library and can be called inside a Ray worker that is already running, which an
LD_PRELOAD or a GLIBC_TUNABLES variable cannot. The cost: a process keeps up to `TRIM_BYTES` of
freed heap mapped between ops instead of returning it to the system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

# glibc's <malloc.h> parameter numbers
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_BYTES = 32 * 2**20  # glibc's largest allowed mmap threshold on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_BYTES = 256 * 2**20

_tuned: bool | None = None


def tune_malloc() -> bool:
    """Set glibc's mmap and trim thresholds for this process, once; False where there is no glibc.

    Idempotent and cheap, so every task entry point calls it (`deepfake_arena.rounds.worker.setup_worker`).
    """
    global _tuned
    if _tuned is None:
        _tuned = _set_thresholds()
    return _tuned


def _set_thresholds() -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False  # musl, macOS, Windows: their allocators have no such thresholds
    path = ctypes.util.find_library("c")
    if path is None:
        return False
    libc = ctypes.CDLL(path)
    # mallopt returns 1 on success; glibc refuses a threshold above its limits with 0
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, TRIM_BYTES)
    )
