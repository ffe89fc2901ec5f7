"""`arena ingest --labels`: which scanned files a labels file keeps, which it quarantines, and
which clip (`source`) each kept file belongs to.

A labels file marks every file: a file of SRC it does not list is quarantined `not_in_labels`,
one whose label is neither 0/1 nor real/fake `unknown_label`; neither is decoded. Rows naming no
file of SRC are counted (the summary says how many). A listed `source` is the file's clip: all
frames of a clip share it, so `arena score --level video` groups them. In a flat SRC (a file
directly in SRC, not named by --identities) the clip is also the identity, so a split by identity
never cuts a clip; where a clip's files still belong to several identities (identity folders that
disagree) the ingest stops with a one-line error instead of splitting it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.world.ingest.scan import SourceFile


@dataclass
class Labelled:
    """The outcome of applying a labels table to the scanned files."""

    files: list[SourceFile]  # to ingest; a flat file's identity is its clip when one is given
    rejected: list[dict[str, Any]] = field(default_factory=list)  # quarantine rows
    unmatched: int = 0  # labels rows naming no file of SRC


def apply_labels(files: list[SourceFile], table: pd.DataFrame, mapping: dict[str, str] | None) -> Labelled:
    """Split `files` by the labels `table` (as `deepfake_arena.world.labels.read_label_file` returns it)."""
    by_file = table.set_index("file")
    listed = set(by_file.index)
    out = Labelled(files=[], unmatched=len(listed - {f.rel for f in files}))
    for f in files:
        if f.rel not in listed:
            out.rejected.append(_rejected(f, "not_in_labels", "the labels file does not list this file"))
            continue
        row = by_file.loc[f.rel]
        if pd.isna(row["label"]):
            why = f"label {row['label_raw']!r} is not 0/1 or real/fake"
            out.rejected.append(_rejected(f, "unknown_label", why))
            continue
        flat = "/" not in f.rel and (mapping is None or f.rel not in mapping)
        if flat and not pd.isna(row["source"]):
            f = replace(f, identity=str(row["source"]))
        out.files.append(f)
    _one_identity_per_clip(out.files, by_file)
    return out


def _rejected(f: SourceFile, reason: str, detail: str) -> dict[str, Any]:
    return {"file": f.rel, "frame": -1, "identity": f.identity, "reason": reason, "detail": detail}


def _one_identity_per_clip(files: list[SourceFile], by_file: pd.DataFrame) -> None:
    clips: dict[str, set[str]] = {}
    for f in files:
        clip = by_file.at[f.rel, "source"]
        if not pd.isna(clip):
            clips.setdefault(str(clip), set()).add(f.identity)
    split = {c: ids for c, ids in clips.items() if len(ids) > 1}
    if split:
        clip, ids = sorted(split.items())[0]
        raise ArenaUserError(
            f"--labels: source {clip!r} spans identities {', '.join(sorted(ids)[:3])}"
            f"{' ...' if len(ids) > 3 else ''} ({len(split)} such source(s)); a clip must belong to "
            "one identity (one identity folder), so that no split cuts it"
        )


def label_columns(index: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """`index` with label, method and released from the labels table, and its source where the
    table gives one (else the file, as ingest sets it)."""
    by_file = table.set_index("file")
    files = index["file"]
    index = index.copy()
    index["label"] = files.map(by_file["label"]).astype("Int8")
    index["method"] = files.map(by_file["method"]).astype("string")
    index["released"] = files.map(by_file["released"]).astype("string")
    clip = files.map(by_file["source"]).astype("string")
    index["source"] = clip.fillna(index["source"].astype("string")).astype(str)
    return index
