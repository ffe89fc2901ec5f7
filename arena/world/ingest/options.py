"""Ingest options, checked where they enter (the CLI and the Python entry point share them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.world.ingest.decode import DEFAULT_MAX_PIXELS

POLICIES = ("largest", "all", "skip")
DEFAULT_CREDIT = "Real faces ingested from {src}; credit the dataset's creators as its licence asks"


@dataclass(frozen=True)
class IngestOptions:
    """What decides the content of a faceset; changing any of the `content_keys` rebuilds it.

    size: side of the aligned crops (px). policy: what to do with several faces in one input
    (largest: keep the largest; all: keep each; skip: quarantine the input). min_size: smallest
    face box side (photo px). min_sharpness: smallest Laplacian variance of the crop (see
    `deepfake_arena.world.ingest.align.sharpness`; 0 disables). fps, max_frames: video sampling rate and cap.
    labels: a labels file (`world.labels`): real/fake, method, release date and clip of each file;
    not content (a changed labels file relabels the faceset without re-aligning a face).
    """

    size: int = 128
    policy: str = "largest"
    min_size: int = 40
    min_sharpness: float = 5.0
    fps: float = 1.0
    max_frames: int = 32
    max_pixels: int = DEFAULT_MAX_PIXELS
    landmarks: Path | None = None
    weights: Path | None = None
    mapping: Path | None = None
    labels: Path | None = None
    credit: str | None = None
    workers: int = 1
    device: str = "cpu"
    batch: int = 16
    shard_rows: int = 1024
    fan_flip: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        checks = [
            (not 16 <= self.size <= 1024, f"--size must be in [16, 1024], got {self.size}"),
            (
                self.policy not in POLICIES,
                f"--policy must be one of {', '.join(POLICIES)}, got {self.policy!r}",
            ),
            (self.min_size < 1, f"--min-size must be >= 1 px, got {self.min_size}"),
            (self.min_sharpness < 0, f"--min-sharpness must be >= 0, got {self.min_sharpness}"),
            (not self.fps > 0, f"--fps must be > 0, got {self.fps}"),
            (self.max_frames < 1, f"--max-frames must be >= 1, got {self.max_frames}"),
            (self.workers < 1, f"--workers must be >= 1, got {self.workers}"),
            (self.device not in ("cpu", "cuda"), f"--device must be cpu or cuda, got {self.device!r}"),
            (
                self.batch < 1 or self.shard_rows < 1 or self.max_pixels < 1,
                "batch, shard_rows and max_pixels must be >= 1",
            ),
        ]
        problems = [message for bad, message in checks if bad]
        if problems:
            raise ArenaUserError("; ".join(problems))

    def content(self) -> dict[str, Any]:
        """The options that decide what lands in the faceset (not how fast it gets there)."""
        keys = ("size", "policy", "min_size", "min_sharpness", "fps", "max_frames", "max_pixels")
        return {k: v for k, v in asdict(self).items() if k in keys}
