"""External evaluation: labelled facesets of real deepfakes scored every round (phase `external`).

`evaluation.external: [{name, path}]` names facesets made by `arena ingest SRC --labels FILE`.
Every round, every detector's zero-day version (the one deployed) and post version (just
retrained) scores each set, so a researcher sees round by round whether retraining on the arena's
fakes helps or hurts on real ones. The faces are read once per run, resized to the run's
resolution by the folder world's own resize (`deepfake_arena.world.folder.resize_faces`), and scored on
tensors in the detectors' scoring tasks; a version is scored once per set (a zero-day version is
the previous round's post version, whose scores the round loop keeps).

Results rows: phase `external`, `family` = the set's name, `strain` = the fakes' method (every
real face against that method's fakes) or `all` (pooled: every face), `generation` = the round,
`detector_round` = the version's. A frozen detector's zero-day and post versions are one version:
its rows are written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

PHASE = "external"
CHUNK = 512  # faces read and resized at a time


@dataclass
class ExternalSet:
    """One external set as the detectors see it. images: (n, 3, R, R) uint8; labels: (n,) 0/1;
    method_index: (n,) index into `methods` for fakes, -1 for reals, -2 for fakes without one."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    method_index: np.ndarray
    methods: list[str]


def load_external(path: str, name: str, resolution: int, seed: int, max_faces: int | None) -> ExternalSet:
    """Read a labelled faceset's labelled faces (a fixed random subset of `max_faces`, if given)
    at `resolution`."""
    import torch

    from deepfake_arena.faces import from_uint8, to_uint8
    from deepfake_arena.seeding import torch_generator
    from deepfake_arena.world.faceset import Faceset, check_external
    from deepfake_arena.world.folder import resize_faces

    index = check_external(path)
    rows = np.flatnonzero(index["label"].notna().to_numpy())
    if max_faces is not None and len(rows) > max_faces:
        pick = torch.randperm(len(rows), generator=torch_generator(seed, "external", name))[:max_faces]
        rows = np.sort(rows[pick.numpy()])
    fs = Faceset(path, ("file",))
    parts = []
    for start in range(0, len(rows), CHUNK):
        faces = from_uint8(fs.images(rows[start : start + CHUNK]))
        parts.append(to_uint8(resize_faces(faces, resolution)).numpy())
    sub = index.iloc[rows]
    labels = sub["label"].astype(int).to_numpy().astype(np.uint8)
    fake_methods = sub["method"].where(sub["label"] == 1)
    methods = sorted({str(m) for m in fake_methods.dropna()})
    code = {m: i for i, m in enumerate(methods)}
    method_index = np.array(
        [
            -1 if y == 0 else code.get(str(m), -2) if not pd.isna(m) else -2
            for y, m in zip(labels, fake_methods, strict=True)
        ],
        dtype=np.int32,
    )
    return ExternalSet(name, np.concatenate(parts), labels, method_index, methods)


def external_rows(
    spec: Any, base: dict[str, Any], probs: np.ndarray, ext: ExternalSet, miss: np.ndarray | None
) -> list[dict[str, Any]]:
    """Results rows of one version on one external set: per method and pooled (`all`)."""
    from deepfake_arena.rounds.scored_sets import EvalSet, metric_rows

    meta = [{"id": m, "family": ext.name, "method": m} for m in ext.methods]
    ev = EvalSet(ext.images, ext.labels, ext.method_index, meta)
    salt = (spec.seed, base["round"], base["detector"], PHASE, ext.name, base["detector_round"])
    rows = metric_rows(spec, {**base, "phase": PHASE}, probs, ev, salt, miss)
    for row in rows:
        row["family"] = ext.name  # the pooled rows too: one set's `all` is not another's
    return rows
