"""External evaluation: labelled facesets of real deepfakes scored every round (phase `external`).

`evaluation.external: [{name, path}]` names facesets made by `arena ingest SRC --labels FILE`.
Every round, every detector's zero-day version (the one deployed) and post version (just
retrained) scores each set, so a researcher sees round by round whether retraining on the arena's
fakes helps or hurts on real ones. The faces are read once per run, resized to the run's
resolution by the folder world's own resize (`arena.folder_world.resize_faces`), and scored on
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

from arena.errors import ArenaUserError
from arena.results import ALL

PHASE = "external"
CHUNK = 512  # faces read and resized at a time


def check_external(path: str) -> pd.DataFrame:
    """The labelled faceset's index; ArenaUserError unless it is one with real and fake faces."""
    from arena.faceset import is_labelled, labelled_index

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

    from arena.faces import from_uint8, to_uint8
    from arena.faceset import Faceset
    from arena.folder_world import resize_faces
    from arena.seeding import torch_generator

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
    from arena.scored_sets import EvalSet, metric_rows

    ev = EvalSet(
        ext.images, ext.labels, ext.method_index, [{"id": m, "family": ext.name} for m in ext.methods]
    )
    salt = (spec.seed, base["round"], base["detector"], PHASE, ext.name, base["detector_round"])
    rows = metric_rows(spec, {**base, "phase": PHASE}, probs, ev, salt, miss)
    for row in rows:
        row["family"] = ext.name  # the pooled rows too: one set's `all` is not another's
    return rows


def pooled(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    return roles(df, metric, per_method=False)


def roles(df: pd.DataFrame, metric: str, per_method: bool = True) -> pd.DataFrame:
    """The external rows of `metric` (pooled only, unless `per_method`), each with its version's
    role in its round: `zero_day` (the deployed version), `post` (the retrained one), or both for
    a version that is both (a frozen detector); `set` names the external set."""
    keys = ["run", "seed", "round", "detector", "detector_round"]
    ext = df[(df.phase == PHASE) & (df.metric == metric)]
    ext = ext if per_method else ext[ext.strain == ALL]
    roles = df[df.phase.isin(["zero_day", "post"]) & (df.strain == ALL)][[*keys, "phase"]].drop_duplicates()
    out = ext.drop(columns="phase").merge(roles, on=keys)
    return out.rename(columns={"family": "set"})


def summary_table(df: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    """Per detector, set and method (`all`: pooled), one column per round: the zero-day version's
    score -> the post version's (mean over seeds), as display strings; empty without external rows."""
    from arena.analysis import over_seeds

    if df.empty or not (df.phase == PHASE).any():
        return pd.DataFrame()
    t = roles(df, metric)
    t = t.assign(method=t.strain.where(t.strain != ALL, "all (pooled)"))
    agg = over_seeds(t, ["detector", "strategy", "set", "method", "round", "phase"])
    rows = []
    for (det, strategy, ext_set, method), g in agg.groupby(
        ["detector", "strategy", "set", "method"], sort=True
    ):
        row: dict[str, Any] = {"detector": det, "strategy": strategy, "set": ext_set, "method": method}
        for r, gr in g.groupby("round", sort=True):
            v = dict(zip(gr.phase, gr.value, strict=True))
            zd = f"{v['zero_day']:.3f} -> " if "zero_day" in v else ""
            row[f"round {r}"] = zd + (f"{v['post']:.3f}" if "post" in v else "—")
        rows.append(row)
    out = pd.DataFrame(rows)
    pooled_first = out.method != "all (pooled)"
    return out.assign(_o=pooled_first).sort_values(["detector", "set", "_o", "method"]).drop(columns="_o")
