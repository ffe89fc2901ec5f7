"""Precomputed landmarks, the way many datasets ship them: one JSON object per face and line.

    {"file": "<path relative to SRC>", "box": [x0, y0, x1, y1],
     "landmarks5": [[x, y] x 5], "landmarks68": [[x, y] x 68], "frame": 12, "score": 0.99}

`file` and `box` are required. `landmarks5` is ordered left eye, right eye, nose tip, left mouth
corner, right mouth corner (left = image left); with only `landmarks68` the five are derived from
it; with neither, face-alignment finds the 68 points inside `box`. `frame` (a decoded-frame
number) places a face in a video. Coordinates refer to the upright photo (EXIF orientation
applied). A photo the file does not list has no face.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepfake_arena.errors import ArenaUserError


@dataclass(frozen=True)
class FaceEntry:
    box: tuple[float, float, float, float]
    landmarks5: tuple[tuple[float, float], ...] | None
    landmarks68: tuple[tuple[float, float], ...] | None
    score: float | None


Key = tuple[str, int]  # (file relative to SRC, frame; -1 for a photo)


def _points(value: Any, n: int, where: str) -> tuple[tuple[float, float], ...]:
    ok = isinstance(value, list) and len(value) == n
    ok = ok and all(isinstance(p, list) and len(p) == 2 for p in value)
    pts = tuple((float(p[0]), float(p[1])) for p in value) if ok else ()
    if not ok or not all(math.isfinite(c) for p in pts for c in p):
        raise ArenaUserError(f"{where}: must be a list of {n} finite [x, y] pairs")
    return pts


def _entry(obj: Any, where: str) -> tuple[Key, FaceEntry]:
    if not isinstance(obj, dict):
        raise ArenaUserError(f"{where}: each line must be a JSON object")
    file = obj.get("file")
    if not isinstance(file, str) or not file or Path(file).is_absolute() or ".." in Path(file).parts:
        raise ArenaUserError(f"{where}: 'file' must be a path relative to SRC, got {file!r}")
    box = obj.get("box")
    if not (isinstance(box, list) and len(box) == 4 and all(isinstance(c, int | float) for c in box)):
        raise ArenaUserError(f"{where}: 'box' must be [x0, y0, x1, y1], got {box!r}")
    x0, y0, x1, y1 = (float(c) for c in box)
    if not (all(math.isfinite(c) for c in (x0, y0, x1, y1)) and x1 > x0 and y1 > y0):
        raise ArenaUserError(f"{where}: 'box' must be finite with x1 > x0 and y1 > y0, got {box!r}")
    lm5 = _points(obj["landmarks5"], 5, f"{where}: 'landmarks5'") if "landmarks5" in obj else None
    lm68 = _points(obj["landmarks68"], 68, f"{where}: 'landmarks68'") if "landmarks68" in obj else None
    frame = obj.get("frame", -1)
    if not isinstance(frame, int) or frame < -1:
        raise ArenaUserError(f"{where}: 'frame' must be a frame number >= 0, got {frame!r}")
    score = obj.get("score")
    score = float(score) if isinstance(score, int | float) else None
    return (Path(file).as_posix(), frame), FaceEntry((x0, y0, x1, y1), lm5, lm68, score)


class LandmarksFile:
    """The faces listed per (file, frame), and a digest per file so edits trigger a re-ingest."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise ArenaUserError(f"landmarks file not found: {path}")
        self.path = path
        self.faces: dict[Key, list[FaceEntry]] = defaultdict(list)
        lines: dict[str, list[str]] = defaultdict(list)
        with open(path, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise ArenaUserError(f"{path}:{number}: not UTF-8 text") from None
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ArenaUserError(f"{where}: not valid JSON ({exc.msg})") from None
                key, entry = _entry(obj, where)
                self.faces[key].append(entry)
                lines[key[0]].append(line.strip())
        self._digest = {f: hashlib.sha256("\n".join(ls).encode()).hexdigest()[:16] for f, ls in lines.items()}
        self.needs_fan = any(
            e.landmarks5 is None and e.landmarks68 is None for es in self.faces.values() for e in es
        )

    def get(self, file: str, frame: int = -1) -> list[FaceEntry]:
        return self.faces.get((file, frame), [])

    def digest(self, file: str) -> str:
        """Changes when any line about `file` changes; '' when the file lists no face for it."""
        return self._digest.get(file, "")
