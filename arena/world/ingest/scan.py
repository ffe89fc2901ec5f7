"""Source scanning: which files of SRC are photos or videos, and whose face each one holds.

Layouts:
- identity folders: `SRC/<identity>/**/<file>`; the first folder below SRC names the identity.
- flat: `SRC/<file>`; each file is its own identity (its stem), unless a mapping file says
  otherwise (CSV with a header `file,identity`, `file` relative to SRC).
Both may mix: files directly in SRC are flat, files in subfolders belong to that folder.

The source id of a photo is its path, of a video its path too: all frames of one video share it,
and since every source belongs to one identity, splitting by identity keeps a video in one split.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.world.ingest.video import VIDEO_EXTENSIONS

PHOTO_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".jfif", ".ppm", ".pgm"}
)


@dataclass(frozen=True)
class SourceFile:
    """One input file. `rel` is its POSIX path relative to SRC, the key everywhere after."""

    rel: str
    kind: str  # photo | video
    identity: str
    size: int
    mtime_ns: int

    @property
    def source(self) -> str:
        return self.rel


def read_mapping(path: Path) -> dict[str, str]:
    """`file,identity` CSV -> {file: identity}; a clear error on a malformed file."""
    if not path.is_file():
        raise ArenaUserError(f"identity mapping file not found: {path}")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"file", "identity"} <= set(reader.fieldnames):
            raise ArenaUserError(f"{path}: needs a header row with the columns file,identity")
        mapping = {}
        for number, row in enumerate(reader, 2):
            file, ident = (row.get("file") or "").strip(), (row.get("identity") or "").strip()
            if not file or not ident:
                raise ArenaUserError(f"{path}:{number}: empty file or identity")
            mapping[Path(file).as_posix()] = ident
    return mapping


def scan(src: Path, mapping: dict[str, str] | None = None) -> list[SourceFile]:
    """Every photo and video under `src`, sorted by path (what `scan_all` finds to ingest)."""
    return scan_all(src, mapping)[0]


def scan_all(src: Path, mapping: dict[str, str] | None = None) -> tuple[list[SourceFile], dict[str, str]]:
    """(every photo and video under `src` to ingest, sorted by path; every other entry -> why it
    is skipped). Together they account for every entry below `src`.

    Link policy: a link to a file is followed only when its target lies inside SRC (a link out of
    SRC is skipped, never ingested); a link to a folder is not descended (no loops, no file seen
    twice). Hidden entries (a leading dot) are skipped, as are files that are not photos or videos.
    """
    if not src.is_dir():
        raise ArenaUserError(f"source folder not found: {src}")
    root_real = src.resolve()
    found = []
    skipped: dict[str, str] = {}
    for root, dirs, files in os.walk(src):
        here = Path(root)
        keep = []
        for d in sorted(dirs):
            rel_d = (here / d).relative_to(src).as_posix()
            if d.startswith("."):
                skipped[rel_d + "/"] = "hidden"
            elif (here / d).is_symlink():
                skipped[rel_d + "/"] = "link_to_folder"
            else:
                keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            path = here / name
            rel = path.relative_to(src).as_posix()
            if name.startswith("."):
                skipped[rel] = "hidden"
                continue
            ext = Path(name).suffix.lower()
            kind = "photo" if ext in PHOTO_EXTENSIONS else "video" if ext in VIDEO_EXTENSIONS else None
            if kind is None:
                skipped[rel] = "not_a_photo_or_video"
                continue
            if path.is_symlink():
                target = path.resolve()
                if target != root_real and root_real not in target.parents:
                    skipped[rel] = "link_outside_src"
                    continue
            parts = rel.split("/")
            if mapping and rel in mapping:
                identity = mapping[rel]
            elif len(parts) > 1:
                identity = parts[0]
            else:
                identity = Path(name).stem
            try:
                st = path.stat()
                size, mtime = st.st_size, st.st_mtime_ns
            except OSError:  # a dangling link: decoding will quarantine it as unreadable
                size, mtime = -1, -1
            found.append(SourceFile(rel, kind, identity, size, mtime))
    return sorted(found, key=lambda f: f.rel), dict(sorted(skipped.items()))
