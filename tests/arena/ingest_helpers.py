"""Helpers for the ingest tests: where the shared real faces are, and small source folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

# CI runs on a fresh clone with shared/ beside it: <repo>/../shared/faces.
FACES = Path(__file__).resolve().parents[2] / ".." / "shared" / "faces"
REAL = FACES / "real"
LANDMARKS = REAL / "landmarks.jsonl"
LONDON_CREDIT = "Face Research Lab London Set, DeBruine & Jones (2017), CC BY 4.0"

needs_faces = pytest.mark.skipif(
    not LANDMARKS.is_file(),
    reason=f"shared real faces not found at {FACES.resolve()} (shared/ beside the repo)",
)


def landmark_rows() -> list[dict]:
    return [json.loads(line) for line in LANDMARKS.read_text().splitlines() if line.strip()]


def copy_identities(dst: Path, n: int) -> tuple[Path, Path]:
    """The first `n` identities' photos and their landmark lines, copied into dst/src."""
    src = dst / "src"
    rows = [r for r in landmark_rows() if int(r["file"].split("/")[0]) <= 999]
    ids = sorted({r["file"].split("/")[0] for r in rows})[:n]
    keep = [r for r in rows if r["file"].split("/")[0] in ids]
    for r in keep:
        (src / r["file"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REAL / r["file"], src / r["file"])
    lm = dst / "landmarks.jsonl"
    lm.write_text("".join(json.dumps(r) + "\n" for r in keep))
    return src, lm
