"""Reading a faceset made by `arena ingest`: the manifest, the index, and face rows on demand.

Images stay on disk: `Faceset.images(rows)` opens each needed shard with safetensors'
`safe_open` (memory-mapped) and slices out only the requested rows, so a 200k-face faceset never
needs 200k faces in memory. The index is read with only the columns the caller asks for.
The writer lives in `deepfake_arena.world.ingest.store`; this module is what the world and tools import.

A labelled faceset (`arena ingest SRC --labels FILE`) has three more index columns: `label`
(Int8: 0 real, 1 fake), `method` and `released` (strings, YYYY-MM-DD); `labelled_index` reads
them typed, as all-null columns on a faceset made without labels.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.store.atomic import sha256_file
from deepfake_arena.world.labels import LABEL_COLUMNS

FORMAT = "deepfake-arena-faceset"
VERSION = 1
MANIFEST = "manifest.json"
INDEX_COLUMNS = (
    *("file", "identity", "source", "frame", "face", "box", "landmarks5", "source_landmarks5"),
    *("has_landmarks68", "landmarker", "det_score", "face_px", "eye_px", "sharpness", "colour"),
    *("grey", "exif_rotated", "faces_in_input", "shard", "row"),
    *LABEL_COLUMNS,
)
_REQUIRED = ("format", "version", "generation", "size", "credit", "index", "quarantine", "files", "shards")


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of the faceset at `path`; a clear ArenaUserError if it is absent or invalid."""
    folder = Path(path)
    file = folder / MANIFEST
    hint = f"build one with: arena ingest SRC --out {folder}"
    if not folder.is_dir():
        raise ArenaUserError(f"no faceset at {folder} (folder not found); {hint}")
    if not file.is_file():
        raise ArenaUserError(f"no faceset at {folder} ({MANIFEST} missing); {hint}")
    try:
        m = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ArenaUserError(f"faceset {folder}: {MANIFEST} is not valid JSON ({exc})") from None
    missing = [k for k in _REQUIRED if not isinstance(m, dict) or k not in m]
    if missing or m.get("format") != FORMAT:
        raise ArenaUserError(
            f"faceset {folder}: {MANIFEST} is not a deepfake-arena faceset manifest ({hint})"
        )
    if m["version"] != VERSION:
        raise ArenaUserError(f"faceset {folder}: format version {m['version']}, this arena reads {VERSION}")
    return m


class Faceset:
    """An ingested face set. `index` holds the asked-for columns, one row per face.

    Shape:
        images(rows) -> (n, 3, S, S) uint8; landmarks5 -> (N, 5, 2) float32 crop px.
    """

    def __init__(self, path: str | Path, columns: tuple[str, ...] = ("identity", "source")) -> None:
        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        self.size = int(self.manifest["size"])
        self.credit = str(self.manifest["credit"])
        index_file = self.path / self.manifest["index"]["file"]
        if not index_file.is_file() or sha256_file(index_file) != self.manifest["index"]["sha256"]:
            raise ArenaUserError(
                f"faceset {self.path}: {index_file.name} is missing or does not match the manifest "
                "(an interrupted ingest?); re-run arena ingest to repair it"
            )
        cols = list(dict.fromkeys([*columns, "shard", "row"]))
        unknown = sorted(set(cols) - set(INDEX_COLUMNS))
        if unknown:
            raise ValueError(f"unknown index columns {unknown}; valid: {', '.join(INDEX_COLUMNS)}")
        if self.manifest["counts"]["faces"] == 0:
            raise ArenaUserError(f"faceset {self.path} holds no faces (see its quarantine.parquet)")
        present = set(pq.read_schema(index_file).names)
        self.index = typed_labels(pd.read_parquet(index_file, columns=[c for c in cols if c in present]))
        self.index = self.index.drop(columns=[c for c in LABEL_COLUMNS if c not in cols])
        for name in set(self.index["shard"]):
            if name not in self.manifest["shards"] or not (self.path / "shards" / name).is_file():
                raise ArenaUserError(f"faceset {self.path}: shard {name} missing; re-run arena ingest")

    def __len__(self) -> int:
        return len(self.index)

    @property
    def landmarks5(self) -> torch.Tensor:
        if "landmarks5" not in self.index:
            raise ValueError("open the faceset with columns including 'landmarks5'")
        return torch.tensor(np.stack(self.index["landmarks5"].to_numpy()), dtype=torch.float32).view(-1, 5, 2)

    def images(self, rows: np.ndarray | torch.Tensor) -> torch.Tensor:
        """The crops of index rows `rows` (any order, repeats allowed), read shard by shard."""
        from safetensors import safe_open

        rows = np.asarray(rows, dtype=np.int64)
        out = torch.empty(len(rows), 3, self.size, self.size, dtype=torch.uint8)
        if len(rows) == 0:
            return out
        shard = self.index["shard"].to_numpy()[rows]
        within = self.index["row"].to_numpy()[rows].astype(np.int64)
        for name in np.unique(shard):
            pick = np.flatnonzero(shard == name)
            with safe_open(str(self.path / "shards" / name), framework="pt") as fh:
                sl = fh.get_slice("images")
                for i in pick[np.argsort(within[pick], kind="stable")]:
                    r = int(within[i])
                    out[i] = sl[r : r + 1][0]
        return out


def typed_labels(index: pd.DataFrame) -> pd.DataFrame:
    """`index` with `label` as Int8 and `method`, `released` as strings; absent ones all-null."""
    index = index.copy()
    index["label"] = (
        index["label"].astype("Int8") if "label" in index else pd.array([pd.NA] * len(index), "Int8")
    )
    for col in ("method", "released"):
        index[col] = index[col].astype("string") if col in index else pd.array([pd.NA] * len(index), "string")
    return index


def labelled_index(path: str | Path) -> pd.DataFrame:
    """The index of the faceset at `path`: file, identity, source, frame, face, shard, row, and
    label (Int8, 0 real / 1 fake), method, released (strings; YYYY-MM-DD), typed, with nulls where
    a face has no label (every face, on a faceset ingested without --labels)."""
    cols = ("file", "identity", "source", "frame", "face", "shard", "row", *LABEL_COLUMNS)
    return Faceset(path, cols).index.reset_index(drop=True)


def is_labelled(index: pd.DataFrame) -> bool:
    """Whether any face of an index (as `labelled_index` returns it) has a label."""
    return "label" in index and bool(index["label"].notna().any())


@lru_cache(maxsize=4)
def _open_cached(path: str, generation: int, columns: tuple[str, ...]) -> Faceset:
    return Faceset(path, columns)


def open_faceset(
    path: str | Path, columns: tuple[str, ...] = ("identity", "source", "landmarks5")
) -> Faceset:
    """A Faceset, cached per process and generation: Ray workers open it once, not per task."""
    generation = int(read_manifest(path)["generation"])
    return _open_cached(str(Path(path).resolve()), generation, columns)


def check_external(path: str) -> pd.DataFrame:
    """The labelled faceset's index; ArenaUserError unless it is one with real and fake faces."""
    index = labelled_index(path)
    if not is_labelled(index):
        raise ArenaUserError(
            f"faceset {path} has no labels; make it with: arena ingest SRC --out {path} --labels FILE"
        )
    classes = set(index["label"].dropna().astype(int).tolist())
    if classes != {0, 1}:
        which = "real" if 0 in classes else "fake"
        raise ArenaUserError(f"faceset {path} holds {which} faces only; AUC and friends need both")
    return index
