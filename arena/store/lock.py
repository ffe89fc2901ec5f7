"""One driver per run: an exclusive flock on runs/<name>/LOCK, released by the kernel if the
driver dies, with the holder's pid and host written inside for the refusal message."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from deepfake_arena.errors import ArenaUserError


class RunLock:
    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / "LOCK"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self.holder()
            os.close(fd)
            who = f"pid {holder.get('pid')} on {holder.get('host')}" if holder else "another process"
            raise ArenaUserError(
                f"run {self.path.parent} is locked by {who}; two drivers cannot write one run"
            ) from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def holder(self) -> dict[str, object]:
        try:
            return dict(json.loads(self.path.read_text() or "{}"))
        except (OSError, ValueError):
            return {}

    def is_held(self) -> bool:
        """True when some live process holds the lock (used by `arena status`)."""
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
