"""Frame sampling from videos with PyAV: a fixed rate and a cap per video.

A video is one source: its frames share a source id, so they never cross a train/eval/vault
split. A file PyAV cannot open or decode any frame from is rejected as `unreadable_video`; a
decode error after some frames keeps the frames already read (a truncated download still has
usable faces) and reports the error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from deepfake_arena.world.ingest.decode import Rejected

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".webm", ".mkv", ".m4v"})


def _open(path: Path) -> Any:
    """The video's av container; `Rejected("unreadable_video")` for an empty or unreadable file."""
    import av

    if path.stat().st_size == 0:
        raise Rejected("unreadable_video", "0 bytes")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise Rejected("unreadable_video", str(exc)) from None


def sample_frames(path: Path, fps: float, max_frames: int) -> Iterator[tuple[int, Image.Image]]:
    """Yield (frame number, RGB frame) at about `fps` frames per second, at most `max_frames`.

    Frame numbers count decoded frames from 0, so (video, frame) names a frame for good (a
    landmarks file refers to frames by these numbers).
    Raises `Rejected("unreadable_video")` when the file yields no frame at all.
    """
    import av

    if fps <= 0 or max_frames < 1:
        raise ValueError(f"fps must be > 0 and max_frames >= 1, got {fps} and {max_frames}")
    container = _open(path)
    yielded = 0
    try:
        if not container.streams.video:
            raise Rejected("unreadable_video", "no video stream")
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        step = max(rate / fps, 1.0)  # take a frame every `step` decoded frames
        next_take = 0.0
        try:
            for number, frame in enumerate(container.decode(stream)):
                if number + 1e-6 < next_take:
                    continue
                next_take += step
                yield number, frame.to_image()
                yielded += 1
                if yielded >= max_frames:
                    break
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            if yielded == 0:
                raise Rejected("unreadable_video", str(exc)) from None
        if yielded == 0:
            raise Rejected("unreadable_video", "no decodable frame")
    finally:
        container.close()
