"""Which faces `arena score` scores, with which labels, and its metrics per method.

Labels come from a `--labels` file (`deepfake_arena.world.labels`; it replaces a faceset's own) or from a
labelled faceset's index (`arena ingest --labels`). Faces without a label are left out, counted
in a one-line note. `--where key=value` (keys label, method, source, released; several values
`a,b` mean any of them; several --where all hold) scores a subset: `released` matches a date
prefix (`released=2019` or `2019-09`), `label` takes 0/1 or real/fake, and `method` keeps the
real faces that have no method (the fakes of that method are ranked against them). Torch-free.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.world.labels import label_of, read_label_file

WHERE_KEYS = ("label", "method", "source", "released")


def parse_where(items: list[str]) -> list[tuple[str, list[str]]]:
    """`key=value[,value...]` filters; a one-line error for a bad key or an empty value."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        values = [v.strip() for v in value.split(",") if v.strip()]
        if not sep or key not in WHERE_KEYS or not values:
            raise ArenaUserError(
                f"--where {item!r}: expected key=value with key one of {', '.join(WHERE_KEYS)}"
            )
        if key == "label":
            bad = [v for v in values if label_of(v) is None]
            if bad:
                raise ArenaUserError(f"--where {item!r}: label {bad[0]!r} is not 0/1 or real/fake")
        out.append((key, values))
    return out


def file_labels(path: Path) -> pd.DataFrame:
    """A --labels file for scoring: every label must be 0/1 or real/fake."""
    table = read_label_file(path)
    unknown = table[table["label"].isna()]
    if len(unknown):
        first = unknown.iloc[0]
        raise ArenaUserError(
            f"--labels {path}: label of {first['file']!r} is {first['label_raw']!r}; use 0/1 or real/fake"
        )
    return table


def attach(
    faces: pd.DataFrame, labels: pd.DataFrame | None, where_labels: str
) -> tuple[pd.DataFrame, list[str]]:
    """Faces with label, method and released from `labels` (joined by file; a listed source
    replaces the face's), or as they are (a labelled faceset's own columns). Faces without a label,
    when any face has one, are left out with a note. Returns the faces and the notes."""
    notes: list[str] = []
    if labels is not None:
        by_file = labels.set_index("file")
        faces = faces.copy()
        for col in ("label", "method", "released"):
            faces[col] = faces["file"].map(by_file[col])
        faces["label"] = faces["label"].astype("Int8")
        clip = faces["file"].map(by_file["source"]).astype("string")
        faces["source"] = clip.fillna(faces["source"].astype("string")).astype(str)
    if "label" not in faces or not faces["label"].notna().any():
        return faces, notes
    missing = faces["label"].isna()
    if missing.any():
        notes.append(
            f"arena: {int(missing.sum())} of {len(faces)} faces have no label in {where_labels}; "
            f"left out, {int((~missing).sum())} scored"
        )
        faces = faces[~missing]
    return faces, notes


def select(faces: pd.DataFrame, where: list[tuple[str, list[str]]]) -> tuple[pd.DataFrame, list[str]]:
    """The faces every --where filter keeps, and a note saying how many that is."""
    if not where:
        return faces, []
    labelled = "label" in faces and bool(faces["label"].notna().any())
    keep = pd.Series(True, index=faces.index)
    for key, values in where:
        if key != "source" and not labelled:
            raise ArenaUserError(
                f"--where {key}=...: these faces have no labels (ingest with --labels or pass --labels)"
            )
        column = faces[key]
        if key == "label":
            hit = column.isin([label_of(v) for v in values])
        elif key == "released":
            text = column.astype("string")
            hit = pd.Series(False, index=faces.index)
            for v in values:
                hit |= text.str.startswith(v).fillna(False).astype(bool)
        else:
            hit = column.astype("string").isin(values).fillna(False).astype(bool)
        if key == "method":  # reals without a method stay: the fakes are ranked against them
            if not hit.any():
                known = ", ".join(sorted({str(m) for m in column.dropna()})) or "none"
                raise ArenaUserError(f"--where method={','.join(values)}: no face has it (methods: {known})")
            hit |= (faces["label"] == 0).fillna(False).astype(bool) & column.isna()
        keep &= hit.astype(bool)
    shown = " ".join(f"{k}={','.join(v)}" for k, v in where)
    if not keep.any():
        raise ArenaUserError(f"--where {shown}: no face matches (of {len(faces)})")
    return faces[keep], [f"arena: --where {shown}: {int(keep.sum())} of {len(faces)} faces"]
