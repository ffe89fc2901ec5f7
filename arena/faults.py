"""Fault injection for the tests that prove a run loses nothing (as Ray's own tests do).

Off unless an environment variable names a point, so production runs pay one dict lookup:
- ARENA_FAULT=<point>:<round>: the driver dies at that point (os._exit, like a SIGKILL), or for
  `enospc:<round>` the commit fails with ENOSPC as on a full disk.
- ARENA_WORKER_FAULT=<task>:<round>:<marker file>[,...]: the Ray worker running that task SIGKILLs
  itself, once (the marker file records that it did), so Ray's retry must recover the round.
"""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

DRIVER_POINTS = ("after_make", "before_rename", "after_rename", "mid_ledger", "enospc")


def driver_fault(point: str, r: int) -> None:
    if os.environ.get("ARENA_FAULT") != f"{point}:{r}":
        return
    if point == "enospc":
        raise OSError(errno.ENOSPC, "No space left on device (injected by ARENA_FAULT)")
    os._exit(137)


def worker_fault(task: str, r: int) -> None:
    for spec in os.environ.get("ARENA_WORKER_FAULT", "").split(","):
        name, _, rest = spec.partition(":")
        at, _, marker = rest.partition(":")
        if name == task and at == str(r) and marker:
            _die_once(marker)


def _die_once(marker: str) -> None:
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return  # already died once; the retry runs normally
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    Path(marker).with_suffix(".pid").write_text(str(os.getpid()))
    os.kill(os.getpid(), signal.SIGKILL)
