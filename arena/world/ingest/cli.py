"""The `arena ingest` subcommand: its arguments and what it runs (wired in by `deepfake_arena.cli`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "ingest",
        help="turn a folder of photos or videos into an aligned faceset for `world.kind: folder`",
        description="Photos in SRC/<identity>/ (or flat: one identity per file unless --identities "
        "maps them) and videos (mp4/avi/mov/webm, one source each) become aligned face crops. Bad "
        "input is quarantined with its reason, never fatal. Re-running processes only new or "
        "changed files.",
    )
    p.add_argument("src", help="source folder of photos and/or videos")
    p.add_argument("--out", required=True, help="faceset folder to create or update")
    p.add_argument("--size", type=int, default=128, help="side of the aligned crops in px (default 128)")
    p.add_argument(
        "--landmarks",
        type=Path,
        help="precomputed landmarks, JSON lines (see arena/world/ingest/landmarks_file.py)",
    )
    p.add_argument(
        "--weights",
        type=Path,
        help="folder with face-alignment's weight files (default: $TORCH_HOME/hub/checkpoints)",
    )
    p.add_argument(
        "--identities", type=Path, help="CSV file,identity mapping files of a flat SRC to identities"
    )
    p.add_argument(
        "--labels",
        type=Path,
        help="CSV or JSON labels file: file,label (0/1 or real/fake) and optional method, released "
        "(YYYY-MM[-DD]), source (the clip a frame belongs to); every file of SRC must be listed "
        "(unlisted ones and unknown labels are quarantined); see docs/real-deepfakes.md",
    )
    p.add_argument(
        "--policy", choices=["largest", "all", "skip"], default="largest", help="several faces in one input"
    )
    p.add_argument(
        "--min-size", type=int, default=40, help="smallest face box side in source px (default 40)"
    )
    p.add_argument(
        "--min-sharpness", type=float, default=5.0, help="smallest crop sharpness; 0 keeps all (default 5)"
    )
    p.add_argument("--fps", type=float, default=1.0, help="video frames sampled per second (default 1)")
    p.add_argument("--max-frames", type=int, default=32, help="most frames taken from one video (default 32)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Ray workers for decoding and landmarking (default 1: in-process)",
    )
    p.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="where face-alignment and the warp run"
    )
    p.add_argument(
        "--credit",
        help="credit line shown with these faces (sample grids, reports), e.g. the dataset's licence credit",
    )
    p.add_argument("--batch", type=int, default=16, help="files per batch (default 16)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from deepfake_arena.world.ingest.options import IngestOptions
    from deepfake_arena.world.ingest.runner import format_summary, ingest

    options = IngestOptions(
        size=args.size,
        policy=args.policy,
        min_size=args.min_size,
        min_sharpness=args.min_sharpness,
        fps=args.fps,
        max_frames=args.max_frames,
        landmarks=args.landmarks,
        weights=args.weights,
        mapping=args.identities,
        labels=args.labels,
        credit=args.credit,
        workers=args.workers,
        device=args.device,
        batch=args.batch,
        progress=not args.quiet,
    )
    manifest = ingest(args.src, args.out, options)
    print(format_summary(manifest, Path(args.out)))
    return 0
