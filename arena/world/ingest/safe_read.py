"""Reading source files without trusting them: only regular files are opened for their bytes, a
size limit is checked before a photo is read, and hashes are computed by streaming.

A FIFO named `x.jpg` would block a plain `open` forever and a link to /dev/zero would be read
without end: both are opened non-blocking, checked with fstat, and rejected with a reason that
lands in the faceset's quarantine table.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from deepfake_arena.world.ingest.decode import Rejected

MAX_PHOTO_BYTES = 512 << 20  # a photo file larger than this is not read (64 Mpx guard on pixels too)
CHUNK = 1 << 20


def check_regular(path: Path) -> os.stat_result:
    """The file's stat after following links; Rejected('not_a_file') for FIFOs, devices, sockets."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise Rejected("unreadable", str(exc)) from None
    if not stat.S_ISREG(st.st_mode):
        raise Rejected("not_a_file", f"{path.name} is not a regular file (a FIFO, device or socket)")
    return st


@contextmanager
def open_regular(path: Path) -> Iterator[tuple[BinaryIO, os.stat_result]]:
    """Open for reading without blocking on a FIFO; Rejected unless it is a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise Rejected("unreadable", str(exc)) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise Rejected("not_a_file", f"{path.name} is not a regular file (a FIFO, device or socket)")
    with os.fdopen(fd, "rb") as fh:
        yield fh, st


def read_photo_bytes(path: Path, max_bytes: int = MAX_PHOTO_BYTES) -> tuple[bytes, str]:
    """(the bytes, their sha256) of a regular file no larger than `max_bytes`, checked before reading."""
    with open_regular(path) as (fh, st):
        if st.st_size > max_bytes:
            raise Rejected("file_too_large", f"{st.st_size} bytes > the {max_bytes}-byte limit for a photo")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew while being read
        raise Rejected("file_too_large", f"more than the {max_bytes}-byte limit for a photo")
    return data, hashlib.sha256(data).hexdigest()


def sha256_regular(path: Path) -> str:
    """sha256 of a regular file, streamed in 1 MiB chunks; Rejected for anything else."""
    digest = hashlib.sha256()
    with open_regular(path) as (fh, _):
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
