"""Sim-to-real: do detectors trained on the arena's fakes catch real deepfakes?

Given a labelled faceset of real deepfakes (`arena ingest SRC --labels FILE`), its identities are
split in two, disjoint (seeded): a train half and a test half. Then, all scored on the test half's
faces only:

- ``arena``: the arena's own detectors, trained by a real ``arena run`` (the quickstart's
  detectors, a few rounds) in a folder world made of the train half's REAL faces only (or of
  another faceset of real photos, ``--world``): they never see a real fake. Each detector's last
  post version is scored with the code ``arena score`` uses.
- ``reference``: the same architecture (meso4) trained directly on the train half's labelled
  faces, real and fake: what the set itself teaches, the ceiling for this architecture and size.
- trivial cues measured on the same faces: ``file size`` (of the source file under ``--src`` when
  given; else the crop's JPEG re-encode size at quality 90), ``sharpness`` (variance of the
  Laplacian) and ``brightness`` (mean grey level). A cue's direction (big = fake or small = fake)
  is chosen on the train half, never on the faces it is scored on.

Each AUC has a 95% percentile bootstrap interval that resamples SOURCES (clips), not faces: the
frames of one clip are not independent, so a face-level bootstrap would be far too narrow. Reals
and fakes are resampled apart (stratified), each keeping its clip count. AUC is printed pooled and
per ``method`` (every real of the test half against that method's fakes). The figure is each
arena detector's AUC; the baseline the best trivial cue's; ratio = figure / baseline, and the
margin above it (the issue's goal: AUC >= 0.72 and >= 0.10 above the best cue). Not a timed test.

    python benchmarks/sim_to_real.py FACESET [--src SRC] [--world FACESET] [--rounds 3] [--resolution 64]
        [--reference-steps 300] [--bootstrap 1000] [--seed 0] [--work DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.metrics import auc as _auc_p
from deepfake_arena.score import list_faces, load_version_file, score_faces
from deepfake_arena.world.faceset import Faceset, is_labelled, labelled_index
from deepfake_arena.world.folder import resize_faces

REPO = Path(__file__).resolve().parents[1]
GOAL_AUC, GOAL_MARGIN = 0.72, 0.10


# --------------------------------------------------------------------------- split and world


def split_identities(
    index: pd.DataFrame, seed: int, test_fraction: float, min_real_ids: int = 4
) -> np.ndarray:
    """A boolean mask of the faces whose identity is in the test half (identities disjoint); the
    train half keeps at least `min_real_ids` identities with real faces (the world's, when it is
    made of them)."""
    names = np.unique(index["identity"].astype(str))
    rng = np.random.default_rng(seed)
    for _ in range(100):
        perm = rng.permutation(names)
        n_test = max(1, int(round(test_fraction * len(names))))
        test = index["identity"].astype(str).isin(set(perm[:n_test])).to_numpy()
        lab = index["label"].to_numpy(dtype=np.int64)
        if {0, 1} <= set(lab[test]) and {0, 1} <= set(lab[~test]) and _real_ids(index[~test]) >= min_real_ids:
            return test
    raise ArenaUserError(
        f"cannot split {len(names)} identities so that both halves hold reals and fakes and the train "
        f"half has at least {max(min_real_ids, 1)} identities with real faces; bring more identities "
        "(or a separate real-photo world with --world)"
    )


def _real_ids(index: pd.DataFrame) -> int:
    return int(index.loc[index["label"] == 0, "identity"].nunique())


def real_world(faceset: Path, keep: np.ndarray, out: Path) -> Path:
    """A faceset at `out` holding only the rows `keep` of `faceset` (its shards linked, not copied):
    the folder world the arena trains in."""
    from deepfake_arena.world.ingest.store import _sha

    manifest = json.loads((faceset / "manifest.json").read_text())
    index = pd.read_parquet(faceset / manifest["index"]["file"])
    index = index.iloc[np.flatnonzero(keep)].reset_index(drop=True)
    for col in ("label", "method", "released"):
        index = index.drop(columns=[col], errors="ignore")
    (out / "shards").mkdir(parents=True)
    for name in set(index["shard"]):
        os.symlink((faceset / "shards" / name).resolve(), out / "shards" / name)
    index.to_parquet(out / "index.parquet")
    manifest["index"] = {"file": "index.parquet", "sha256": _sha((out / "index.parquet").read_bytes())}
    manifest["counts"] = {**manifest.get("counts", {}), "faces": len(index),
                          "identities": int(index["identity"].nunique())}  # fmt: skip
    manifest.pop("labels", None)
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def train_in_arena(world: Path, size: int, args: argparse.Namespace, runs: Path) -> dict[str, Path]:
    """`arena run` (the quickstart's detectors) in the folder world; each detector's last version."""
    overrides = [
        f"rounds={args.rounds}", f"seed={args.seed}", "world.kind=folder", f"world.path={world}",
        f"world.resolution={args.resolution or size}", "world.fractions={train: 0.6, eval: 0.4}",
        *args.set,
    ]  # fmt: skip
    cmd = [sys.executable, "-m", "deepfake_arena.cli", "run", str(REPO / "runs" / "quickstart.yaml"),
           *overrides,
           "--name", "sim", "--runs-dir", str(runs)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"arena run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    versions: dict[str, Path] = {}  # the latest version of each (a frozen one is written once)
    for path in sorted((runs / "sim" / "rounds").glob("r*/detectors/*.safetensors")):
        name = path.name.removesuffix(".safetensors")
        if "." not in name:  # NAME.optim / NAME.memory files are not versions
            versions[name] = path
    return versions


# --------------------------------------------------------------------------- scores


def detector_scores(version_file: Path, faceset: Path, test: np.ndarray) -> np.ndarray:
    version = load_version_file(version_file)
    chosen = list_faces(faceset).iloc[np.flatnonzero(test)]
    table, _ = score_faces(version, faceset, chosen=chosen)
    return table["score"].to_numpy(dtype=np.float64)


def cue_values(images: torch.Tensor, files: pd.Series, src: Path | None) -> dict[str, np.ndarray]:
    """Trivial cues per face (uint8 crops, n x 3 x S x S)."""
    hwc = images.permute(0, 2, 3, 1).numpy()
    grey = [cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY) for im in hwc]
    if src is not None and all((src / f).is_file() for f in files):
        size = np.array([(src / f).stat().st_size for f in files], dtype=np.float64)
    else:
        size = np.array(
            [len(cv2.imencode(".jpg", np.ascontiguousarray(im[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90])[1])
             for im in hwc], dtype=np.float64)  # fmt: skip
    return {
        "file size": size,
        "sharpness": np.array([cv2.Laplacian(g, cv2.CV_64F).var() for g in grey]),
        "brightness": np.array([g.mean() for g in grey], dtype=np.float64),
    }


def reference_scores(
    images: torch.Tensor, labels: np.ndarray, test: np.ndarray, res: int, steps: int, seed: int
) -> np.ndarray:
    """meso4 trained on the train half's labelled faces (real and fake), scored on the test half."""
    from deepfake_arena.detectors import Detector
    from deepfake_arena.detectors.training import TrainConfig

    x = resize_faces(images.float() / 255.0, res).mul(255).round().to(torch.uint8)
    rows = [torch.from_numpy(np.flatnonzero(m)) for m in (~test & (labels == 0), ~test & (labels == 1), test)]
    det = Detector("meso4", {}, seed=seed)
    det.fit(x[rows[0]], x[rows[1]], TrainConfig(steps=steps, batch_size=32, lr=0.002), seed)
    return det.score_uint8(x[rows[2]]).numpy().astype(np.float64)


# --------------------------------------------------------------------------- clustered AUC


def clustered_auc(
    y: np.ndarray, p: np.ndarray, source: np.ndarray, n_bootstrap: int, seed: int
) -> tuple[float, float, float]:
    """AUC and its 95% interval from a bootstrap over sources (clips), stratified by class."""
    value = auc(y, p)
    rng = np.random.default_rng(seed)
    members = {s: np.flatnonzero(source == s) for s in np.unique(source)}
    by_class = [[s for s in members if y[members[s][0]] == c] for c in (0, 1)]
    stats = []
    for _ in range(n_bootstrap):
        rows = np.concatenate([members[c[k]] for c in by_class for k in rng.integers(0, len(c), len(c))])
        stats.append(auc(y[rows], p[rows]))
    lo, hi = np.percentile(stats, [2.5, 97.5]) if stats else (np.nan, np.nan)
    return float(value), float(lo), float(hi)


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """AUC of any score (a cue's raw value too): ranks in (0, 1] go to deepfake_arena.metrics.auc."""
    from scipy.stats import rankdata

    return _auc_p(y, rankdata(score) / max(len(score), 1))


def _orient(value: np.ndarray, y: np.ndarray) -> float:
    """+1 if larger values mean fake on these faces, else -1."""
    return 1.0 if auc(y, value) >= 0.5 else -1.0


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("faceset", type=Path, help="a labelled faceset (arena ingest SRC --labels FILE)")
    ap.add_argument("--src", type=Path, help="the ingest's SRC folder: file sizes of the original files")
    ap.add_argument(
        "--world",
        type=Path,
        help="a faceset of real photos for the arena's world (default: the train half's reals)",
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--resolution", type=int, help="the arena's world resolution (default: the faceset's)")
    ap.add_argument("--reference-steps", type=int, default=300)
    ap.add_argument("--test-fraction", type=float, default=0.5)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, help="keep the world faceset and the run here (default: a temp dir)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a further override of the arena run's spec (repeatable)")  # fmt: skip
    ap.add_argument("--smoke", action="store_true", help="tiny: 1 round, few steps, 100 resamples")
    args = ap.parse_args(argv)
    if args.smoke:
        args.rounds, args.reference_steps, args.bootstrap = 2, 20, 100
        args.set = [
            "world.reals_per_round={train: 32, eval: 16}", "population.size=2", "population.elite=1",
            "population.fakes_per_strain={train: 16, eval: 8}", "metrics.bootstrap=10",
            "evaluation.past_budget=8", "detectors.0.scratch.steps=6", "detectors.0.finetune.steps=3",
            "detectors.1.scratch.steps=6", *args.set,
        ]  # fmt: skip
    try:
        return _run(args)
    except ArenaUserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    faceset = args.faceset.resolve()
    index = labelled_index(faceset)
    if not is_labelled(index) or index["label"].isna().any():
        raise ArenaUserError(
            f"{faceset} is not a labelled faceset with every face labelled (arena ingest --labels)"
        )
    labels = index["label"].to_numpy(dtype=np.int64)
    test = split_identities(index, args.seed, args.test_fraction, 0 if args.world else 4)
    fs = Faceset(faceset, ("file",))
    images = fs.images(np.arange(len(index)))
    source = index["source"].astype(str).to_numpy()
    method = index["method"].fillna("").astype(str).to_numpy()
    yt, st = labels[test], source[test]
    n_src = {c: len(np.unique(st[yt == c])) for c in (0, 1)}
    n0, n1 = int((yt == 0).sum()), int((yt == 1).sum())
    print(f"# sim-to-real on {faceset.name}: test half {int(test.sum())} faces "
          f"({n0} real from {n_src[0]} sources, {n1} fake from {n_src[1]} "
          f"sources), train half {int((~test).sum())} faces; identities disjoint (seed {args.seed}); "
          f"arena world: {args.world or 'the train half real faces'}")  # fmt: skip

    scores: dict[str, np.ndarray] = {}
    cues = cue_values(images, index["file"], args.src.resolve() if args.src else None)
    for name, v in cues.items():
        scores[f"cue: {name}"] = _orient(v[~test], labels[~test]) * v[test]
    res = args.resolution or fs.size
    scores["reference: meso4 on the set's train half"] = reference_scores(
        images, labels, test, res, args.reference_steps, args.seed
    )
    work = args.work or Path(tempfile.mkdtemp(prefix="sim_to_real-"))
    try:
        if args.world:
            world = args.world.resolve()
        else:
            world = real_world(faceset, (~test) & (labels == 0), work / "world")
        for name, path in train_in_arena(world, Faceset(world, ("file",)).size, args, work / "runs").items():
            scores[f"arena: {name}"] = detector_scores(path, faceset, test)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)

    methods = sorted({m for m in method[test & (labels == 1)] if m})
    rows = []
    for name, p in scores.items():
        row = {"scorer": name}
        for m in ["all", *methods]:
            keep = (yt == 0) | (method[test] == m) if m != "all" else np.ones_like(yt, bool)
            row[m] = clustered_auc(yt[keep], p[keep], st[keep], args.bootstrap, args.seed)
        rows.append(row)
    cols = ["all", *methods]
    print(f"\nAUC [95% interval, bootstrap over {n_src[0]}+{n_src[1]} sources, {args.bootstrap} resamples]")
    print("| scorer | " + " | ".join(f"AUC {c}" for c in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for r in rows:
        cells = [f"{r[c][0]:.3f} [{r[c][1]:.3f}, {r[c][2]:.3f}]" for c in cols]
        print(f"| {r['scorer']} | " + " | ".join(cells) + " |")
    best = max((r for r in rows if r["scorer"].startswith("cue")), key=lambda r: r["all"][0])
    base = best["all"][0]
    print(f"\nbaseline: best trivial cue ({best['scorer'][5:]}) AUC {base:.3f}; goal AUC >= {GOAL_AUC} "
          f"and >= {GOAL_MARGIN:.2f} above it")  # fmt: skip
    print("| detector | AUC | baseline | ratio | margin | goal met |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if r["scorer"].startswith("cue"):
            continue
        a = r["all"][0]
        met = "yes" if a >= GOAL_AUC and a - base >= GOAL_MARGIN else "no"
        print(f"| {r['scorer']} | {a:.3f} | {base:.3f} | {a / base:.2f} | {a - base:+.3f} | {met} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
