"""`arena score`: score anyone's aligned faces with a detector version saved by a run.

This is how a user brings their own fakes (DFDC, FaceForensics++ frames) to a detector trained in
the arena. Faces come from an ingested faceset (``arena ingest``: shards + ``index.parquet``,
read through :class:`deepfake_arena.world.faceset.Faceset`) or a plain folder of PNG/JPEG face crops (decoded
with Pillow, converted to RGB and resized to the detector's training resolution). Images are
read and scored in chunks, so a large folder never sits in memory at once.

With ``--extractor`` (a run's ``rounds/rNNNN/extractor.safetensors``, verified against its round's
manifest) every face first goes through that run's face extractor, as the arena scores faces in
the field: re-aligned from its five points, or missed and scored P(fake) = 0 (``miss`` column).

Labels come from a labelled faceset (``arena ingest --labels``) or a ``--labels`` file; faces
without one are left out with a note, and ``--where key=value`` scores a subset
(``deepfake_arena.score_select``).

Outputs: one row per face (``file``, ``source``, ``score`` = P(fake), ``miss`` with an extractor,
and ``label``, ``method``, ``released`` when labelled) as Parquet or CSV by the ``--out`` suffix;
with labels, the arena's metrics with bootstrap intervals are printed, pooled and per method, at
frame level or, with ``--level video``, on the mean score per source (a faceset's ``source``
column, or a labels file's; in a plain folder, the sub-folder a frame sits in).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfake_arena.errors import ArenaUserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CHUNK = 256


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "score",
        help="score an aligned faceset or a folder of face images with a saved detector version",
        description="Writes one P(fake) per face; with --labels, prints AUC, AP, EER, log loss, "
        "accuracy, TPR at 1% and 0.1% FPR and ECE with bootstrap intervals.",
    )
    p.add_argument(
        "--detector", required=True, help="a saved version: RUN/rounds/rNNNN/detectors/NAME.safetensors"
    )
    p.add_argument("--faces", required=True, help="faceset folder (arena ingest) or folder of PNG/JPEG crops")
    p.add_argument(
        "--labels",
        help="CSV or JSON labels file: file,label (0/1 or real/fake), optional method, released, "
        "source (see docs/real-deepfakes.md); replaces a labelled faceset's own labels; faces it does "
        "not list are left out",
    )
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="score only faces with label, method, source or released (a date prefix) equal to VALUE "
        "(a,b: any of them); repeat to combine",
    )
    p.add_argument(
        "--out", default="scores.csv", help="per-face scores, .csv or .parquet (default scores.csv)"
    )
    p.add_argument(
        "--level", choices=["frame", "video"], default="frame", help="metrics per frame or per source"
    )
    p.add_argument(
        "--extractor",
        help="a run's face extractor, RUN/rounds/rNNNN/extractor.safetensors: faces go through it first",
    )
    p.add_argument(
        "--miss-threshold",
        type=float,
        help="the extractor's miss rule, RMS residual in eye distances (default: the run's)",
    )
    p.add_argument("--device", default="cpu", help="cpu or cuda (falls back to cpu with a warning)")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for the intervals")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix not in (".csv", ".parquet"):
        raise ArenaUserError(f"--out must end in .csv or .parquet, got {out.name!r}")
    above = next((p for p in out.parents if p.exists()), None)  # checked before any scoring
    if out.is_dir():
        raise ArenaUserError(f"--out {out} is a folder; give a file name ending in .csv or .parquet")
    if above is not None and not above.is_dir():
        raise ArenaUserError(f"--out {out}: {above} is a file, not a folder")
    version = load_version_file(Path(args.detector), args.device)
    extractor = None
    if args.extractor:
        extractor = SavedExtractor(Path(args.extractor), args.device, args.miss_threshold)
    elif args.miss_threshold is not None:
        raise ArenaUserError("--miss-threshold applies to --extractor, which is not given")
    from deepfake_arena.score_select import attach, file_labels, parse_where, select

    where = parse_where(args.where)
    labels = file_labels(Path(args.labels)) if args.labels else None
    faces = list_faces(Path(args.faces))
    faces, notes = attach(faces, labels, args.labels or "the faceset")
    faces, where_notes = select(faces, where)
    for note in notes + where_notes:
        print(note, file=sys.stderr)
    table, skipped = score_faces(version, Path(args.faces), extractor, faces)
    if skipped:
        shown = ", ".join(skipped[:3]) + (" ..." if len(skipped) > 3 else "")
        print(f"arena: skipped {len(skipped)} unreadable image(s): {shown}", file=sys.stderr)
    labelled = "label" in faces and bool(faces["label"].notna().any())
    by_pos = faces.set_index("pos")
    table["source"] = table["pos"].map(by_pos["source"]).astype(str)  # a --labels file's clips
    if labelled:
        table["label"] = table["pos"].map(by_pos["label"]).astype(np.int64)
        for col in ("method", "released"):
            if by_pos[col].notna().any():
                table[col] = table["pos"].map(by_pos[col])
    table = table.drop(columns="pos")
    _write(table, out)
    print(f"scored {len(table)} faces with {version.describe()}; scores written to {out}")
    if extractor is not None:
        k = int(table["miss"].sum())
        print(
            f"through {extractor.describe()}: {k} of {len(table)} faces missed "
            f"({k / max(len(table), 1):.1%}), scored P(fake) = {extractor.miss_score}"
        )
    if labelled:
        for line in metric_blocks(table, args.level, args.bootstrap):
            print(line)
    return 0


# --------------------------------------------------------------------------- the detector


class SavedVersion:
    """A detector version read from ``detectors/<name>.safetensors`` (+ its ensemble members)."""

    def __init__(self, path: Path, device: str) -> None:
        import torch

        from deepfake_arena.detectors import Detector
        from deepfake_arena.detectors.strategies import SCORING_PARTS
        from deepfake_arena.store.round_files import load_detector, load_memory

        if not path.is_file():
            raise ArenaUserError(
                f"no detector version at {path} (expected rounds/rNNNN/detectors/NAME.safetensors)"
            )
        _check_in_round(path)
        try:
            weights, meta = load_detector(path)
        except Exception as exc:  # safetensors raises its own error types on a bad header
            raise ArenaUserError(f"{path} is not a readable safetensors detector file ({exc})") from None
        if "arch" not in meta:
            raise ArenaUserError(f"{path} has no arena metadata (arch); was it saved by an arena run?")
        self.path, self.meta = path, meta
        self.name = path.name.removesuffix(".safetensors")
        self.resolution = int(meta.get("resolution") or _run_resolution(path))
        parts = [p for p in meta.get("memory_parts", []) if p in SCORING_PARTS]
        for part in parts:
            member = path.parent / f"{self.name}.{part}.safetensors"
            if not member.is_file():
                raise ArenaUserError(f"{path}: its {part} file {member.name} is missing (copy it along)")
            _check_in_round(member)
        try:
            memory = load_memory(path.parent, self.name, parts)
        except Exception as exc:  # safetensors raises its own error types on a bad header
            raise ArenaUserError(f"{path}: its {', '.join(parts)} file is not readable ({exc})") from None
        try:
            self.detector = Detector(meta["arch"], meta.get("arch_config", {}), device=device)
        except (KeyError, ValueError) as exc:
            raise ArenaUserError(f"{path}: cannot build detector {meta['arch']!r}: {exc}") from None
        self.weights = {k: torch.from_numpy(v) for k, v in weights.items()}
        self.memory = {k: torch.from_numpy(v) for k, v in memory.items()}

    def score(self, images_u8: Any) -> np.ndarray:
        from deepfake_arena.detectors.strategies import score_version

        return score_version(self.detector, self.weights, self.memory, images_u8).numpy().astype(np.float64)

    def describe(self) -> str:
        members = 1 + len({k.split("/", 1)[1].split(".", 1)[0] for k in self.memory})
        extra = f", ensemble of {members}" if members > 1 else ""
        return (
            f"{self.name} ({self.meta['arch']}, trained through round {self.meta.get('trained_round', '?')}, "
            f"{self.resolution} px{extra})"
        )


class SavedExtractor:
    """A run's face extractor, read from its round folder and checked against that round's
    manifest; the resolution and miss rule it was run with come from the run."""

    def __init__(self, path: Path, device: str, miss_threshold: float | None = None) -> None:
        import torch

        from deepfake_arena.detectors.base import resolve_device
        from deepfake_arena.rounds import extraction
        from deepfake_arena.spec import ExtractorSpec

        if path.name != extraction.FILE or not path.is_file():
            raise ArenaUserError(f"no face extractor at {path} (expected rounds/rNNNN/{extraction.FILE})")
        self.payload = extraction.load(path.parent)
        spec_file, spec = _run_spec(path.parent)  # run/rounds/rNNNN/extractor.safetensors
        world = (self.payload.trained_for or {}).get("world") or spec.get("world")
        if not world:
            raise ArenaUserError(f"{path}: no record of its resolution and no run spec at {spec_file}")
        self.resolution = int(world["resolution"])
        if miss_threshold is None:
            miss_threshold = (spec.get("extractor") or {}).get(
                "miss_threshold", ExtractorSpec().miss_threshold
            )
        self.miss_threshold = float(miss_threshold)
        if not self.miss_threshold > 0:
            raise ArenaUserError(f"--miss-threshold must be > 0 eye distances, got {miss_threshold}")
        self.path, self.miss_score = path, extraction.MISS_SCORE
        dev = resolve_device(device)  # as the detector: CUDA falls back to the CPU with a warning
        self.net = extraction.landmark_function(self.payload, dev)
        self.template = torch.as_tensor(self.payload.template, device=dev)

    def __call__(self, images_u8: Any) -> tuple[Any, np.ndarray]:
        """(re-aligned uint8 faces at the extractor's resolution, miss flags) of uint8 faces."""
        from deepfake_arena.faces import from_uint8, to_uint8
        from deepfake_arena.rounds.extraction import fit_to_template

        if images_u8.shape[-1] != self.resolution:
            images_u8 = _resize_u8(images_u8, self.resolution)
        x = from_uint8(images_u8).to(self.template.device)
        aligned, miss, _ = fit_to_template(self.net, self.template, self.miss_threshold, x)
        return to_uint8(aligned).cpu(), miss.cpu().numpy()

    def describe(self) -> str:
        rule = f"miss above {self.miss_threshold} eye distances"
        return f"the extractor {self.path} ({self.resolution} px, {rule})"


def _check_in_round(path: Path) -> None:
    """A detector file inside a run's round folder (rounds/rNNNN/detectors/x) must match the sha256
    its round's manifest records, as --extractor's does; a file copied out of a run is taken as is."""
    from deepfake_arena.store.atomic import sha256_file
    from deepfake_arena.store.ledger import MANIFEST, read_manifest

    rdir = path.parent.parent
    if path.parent.name != "detectors" or not (rdir / MANIFEST).is_file():
        return
    manifest = read_manifest(rdir)
    rel = path.relative_to(rdir).as_posix()
    want = manifest["files"].get(rel) if manifest else None
    if want is None or sha256_file(path) != want:
        raise ArenaUserError(
            f"{path} does not match its round's manifest ({rdir / MANIFEST}); the file is damaged "
            "or not the one the run wrote"
        )


def load_version_file(path: Path, device: str = "cpu") -> SavedVersion:
    return SavedVersion(path, device)


def _run_spec(round_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The resolved spec of the run a round folder (run/rounds/rNNNN) belongs to, and its path;
    {} when the file is not there."""
    path = round_dir.parent.parent / "spec.resolved.json"
    return path, (json.loads(path.read_text()) if path.is_file() else {})


def _run_resolution(path: Path) -> int:
    """Older versions lack 'resolution' in their metadata: read it from the run's resolved spec."""
    spec_file, spec = _run_spec(path.parent.parent)  # run/rounds/rNNNN/detectors/x
    if "world" not in spec:
        raise ArenaUserError(f"{path}: no 'resolution' in its metadata and no run spec at {spec_file}")
    return int(spec["world"]["resolution"])


# --------------------------------------------------------------------------- the faces


def _is_faceset(faces: Path) -> bool:
    return (faces / "manifest.json").is_file() and (faces / "index.parquet").is_file()


def list_faces(faces: Path) -> pd.DataFrame:
    """Every face of a faceset or image folder, before any is read: `pos` (index row, or place in
    the sorted file list), file, source (frame in a faceset) and, on a labelled faceset, label,
    method and released."""
    if not faces.is_dir():
        raise ArenaUserError(f"--faces {faces}: folder not found")
    if _is_faceset(faces):
        from deepfake_arena.world.faceset import is_labelled, labelled_index

        index = labelled_index(faces)
        table = index[["file", "source", "frame"]].assign(source=index["source"].astype(str))
        if is_labelled(index):
            table = table.join(index[["label", "method", "released"]])
        return table.assign(pos=np.arange(len(index)))
    names = [f.relative_to(faces).as_posix() for f in _image_files(faces)]
    source = [n.rsplit("/", 1)[0] if "/" in n else n for n in names]
    return pd.DataFrame({"file": names, "source": source, "pos": np.arange(len(names))})


def score_faces(
    version: SavedVersion,
    faces: Path,
    extractor: SavedExtractor | None = None,
    chosen: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Scores of the faces in a faceset or image folder (those of `chosen`, a subset of what
    `list_faces` returns; all when None), through the extractor first if one is given (then a
    `miss` column); returns the table (with `pos`) and the skipped files."""
    if chosen is None:
        chosen = list_faces(faces)
    pos = chosen["pos"].to_numpy(dtype=np.int64)
    if _is_faceset(faces):
        return _score_faceset(version, faces, extractor, pos), []
    return _score_folder(version, faces, extractor, pos)


def _score_chunk(
    version: SavedVersion, extractor: SavedExtractor | None, images: Any
) -> tuple[np.ndarray, np.ndarray]:
    """P(fake) and miss flags of a chunk of uint8 faces, as the arena scores them."""
    from deepfake_arena.rounds.extraction import apply_misses

    miss = np.zeros(len(images), dtype=bool)
    if extractor is not None:
        images, miss = extractor(images)
    if images.shape[-1] != version.resolution:
        images = _resize_u8(images, version.resolution)
    return apply_misses(version.score(images), miss), miss


def _table(
    columns: dict[str, Any], scores: list[np.ndarray], misses: list[np.ndarray], extractor: Any
) -> pd.DataFrame:
    table = pd.DataFrame(columns)
    table["score"] = np.concatenate(scores) if scores else np.zeros(0)
    if extractor is not None:
        table["miss"] = np.concatenate(misses) if misses else np.zeros(0, dtype=bool)
    return table


def _score_faceset(
    version: SavedVersion, faces: Path, extractor: SavedExtractor | None, pos: np.ndarray
) -> pd.DataFrame:
    from deepfake_arena.world.faceset import Faceset

    fs = Faceset(faces, columns=("file", "source", "frame"))
    scores, misses = [], []
    for start in range(0, len(pos), CHUNK):
        p, m = _score_chunk(version, extractor, fs.images(pos[start : start + CHUNK]))
        scores.append(p)
        misses.append(m)
    index = fs.index.reset_index(drop=True).iloc[pos]
    columns = {
        "file": index["file"].to_numpy(),
        "source": index["source"].astype(str).to_numpy(),
        "frame": index["frame"].to_numpy(),
        "pos": pos,
    }
    return _table(columns, scores, misses, extractor)


def _resize_u8(images: Any, size: int) -> Any:
    import torch
    import torch.nn.functional as F

    x = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)


def _image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ArenaUserError(f"--faces {folder}: no faceset and no PNG/JPEG images found")
    return files


def _decode(files: list[Path], size: int, skipped: list[str], root: Path) -> Iterator[tuple[Path, Any]]:
    from PIL import Image

    for f in files:
        try:
            with Image.open(f) as im:
                im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale when much larger
                rgb = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
                yield f, np.asarray(rgb, dtype=np.uint8)
        except (OSError, ValueError, Image.DecompressionBombError):
            skipped.append(f.relative_to(root).as_posix())


def _score_folder(
    version: SavedVersion, folder: Path, extractor: SavedExtractor | None, pos: np.ndarray
) -> tuple[pd.DataFrame, list[str]]:
    import torch

    every = _image_files(folder)
    files = [every[i] for i in pos]
    place = {f: int(i) for f, i in zip(files, pos, strict=True)}
    size = extractor.resolution if extractor is not None else version.resolution
    skipped: list[str] = []
    names: list[str] = []
    scores: list[np.ndarray] = []
    misses: list[np.ndarray] = []
    for start in range(0, len(files), CHUNK):
        decoded = list(_decode(files[start : start + CHUNK], size, skipped, folder))
        if not decoded:
            continue
        names += [f.relative_to(folder).as_posix() for f, _ in decoded]
        batch = torch.from_numpy(np.stack([a for _, a in decoded])).permute(0, 3, 1, 2).contiguous()
        p, m = _score_chunk(version, extractor, batch)
        scores.append(p)
        misses.append(m)
    if not names:
        raise ArenaUserError(f"--faces {folder}: none of the {len(files)} images could be read")
    source = [n.rsplit("/", 1)[0] if "/" in n else n for n in names]
    where = [place[folder / n] for n in names]
    return _table({"file": names, "source": source, "pos": where}, scores, misses, extractor), skipped


# --------------------------------------------------------------------------- labels and metrics


def metric_lines(table: pd.DataFrame, level: str, n_bootstrap: int) -> list[str]:
    """The arena's metrics on labelled scores, one printable line each, named by level."""
    from deepfake_arena.metrics import compute_metrics, level_metric, video_level

    y, p = table["label"].to_numpy(), table["score"].to_numpy()
    if level == "video":
        try:
            y, p, _ = video_level(y, p, table["source"].to_numpy())
        except ValueError as exc:
            raise ArenaUserError(f"--level video: {exc}") from None
    if len(set(y.tolist())) < 2:
        raise ArenaUserError("the labels hold one class only; AUC and friends need reals and fakes")
    values = compute_metrics(y, p, n_bootstrap=n_bootstrap, seed=0)
    lines = [f"level: {level} ({len(y)} {'sources' if level == 'video' else 'faces'})"]
    for name, mv in values.items():
        lines.append(f"{level_metric(name, level):<20} {mv.value:.4f}  [{mv.ci_low:.4f}, {mv.ci_high:.4f}]")
    return lines


def _write(table: pd.DataFrame, out: Path) -> None:
    from deepfake_arena.store.atomic import write_bytes_atomic

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        write_bytes_atomic(out, table.to_csv(index=False).encode())
    else:
        import io

        buf = io.BytesIO()
        table.to_parquet(buf, index=False)
        write_bytes_atomic(out, buf.getvalue())


def metric_blocks(table: pd.DataFrame, level: str, n_bootstrap: int) -> list[str]:
    """The pooled metric lines, then one block per method of the fakes (every real against that
    method's fakes), as `arena score` prints them."""
    lines = metric_lines(table, level, n_bootstrap)
    if "method" not in table:
        return lines
    fakes = table[table["label"] == 1]
    methods = sorted({str(m) for m in fakes["method"].dropna()})
    reals = table[table["label"] == 0]
    for m in methods:
        own = fakes[fakes["method"].astype("string") == m]
        lines.append(f"method {m}: {len(reals)} real vs {len(own)} fake faces")
        if len(reals) == 0:
            lines.append("  (no real faces to rank its fakes against)")
            continue
        lines += ["  " + line for line in metric_lines(pd.concat([reals, own]), level, n_bootstrap)]
    return lines
