"""68-point landmarks by face-alignment (Bulat & Tzimiropoulos' FAN), from local weights only.

face-alignment downloads its weights on first use, which cannot happen on an offline machine or a
cluster node. Here the weights must already be in `--weights DIR` (or the torch hub cache,
`$TORCH_HOME/hub/checkpoints`) under the file names face-alignment itself uses; anything missing
fails before any work with a message naming the files and where to put them, never a download.

With precomputed boxes the S3FD detector is not needed (face-alignment's `folder` detector takes
the boxes as they are); without boxes S3FD finds the faces. `compile=False` by default: torch's
compilation costs minutes per process and is worth it only for long GPU runs.
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from deepfake_arena.errors import ArenaUserError

FAN_KEY = "2DFAN-4"


class WeightsMissing(ArenaUserError):
    """face-alignment's weight files are not where they must be; the message names them."""


def _file_name(url: str) -> str:
    return Path(urlparse(url).path).name


def weight_files(detect: bool) -> dict[str, str]:
    """The file names face-alignment expects, mapped to the URL it would fetch them from."""
    from face_alignment.api import models_urls
    from face_alignment.detection.sfd.sfd_detector import models_urls as sfd_urls

    files = {_file_name(models_urls[FAN_KEY]): models_urls[FAN_KEY]}
    if detect:
        files[detector_file()] = sfd_urls["s3fd"]
    return files


def detector_file() -> str:
    """S3FD's weight file name, as face-alignment caches it."""
    from face_alignment.detection.sfd.sfd_detector import models_urls as sfd_urls

    return _file_name(sfd_urls["s3fd"])


def default_weights_dir() -> Path:
    """Where face-alignment looks by default: `$TORCH_HOME/hub/checkpoints`."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def check_weights(weights_dir: Path | None, detect: bool) -> Path:
    """The weights folder, after checking every needed file is in it; raises `WeightsMissing`."""
    folder = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    needed = weight_files(detect)
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        where = (
            "--weights DIR"
            if weights_dir is not None
            else "$TORCH_HOME/hub/checkpoints (or pass --weights DIR)"
        )
        urls = "; ".join(f"{name} <- {needed[name]}" for name in missing)
        raise WeightsMissing(
            f"face-alignment weights missing in {folder}: {', '.join(missing)}. Nothing is downloaded "
            f"here: copy these files into {where} ({urls}), "
            "or give precomputed landmarks with --landmarks FILE"
        )
    return folder


@contextlib.contextmanager
def _hub_checkpoints(folder: Path) -> Iterator[None]:
    """Point torch hub's checkpoint folder at `folder` while face-alignment loads its network."""
    import torch.hub

    old = torch.hub.get_dir()
    if (Path(old) / "checkpoints").resolve() == folder.resolve():
        yield
        return
    with tempfile.TemporaryDirectory(prefix="arena-hub-") as tmp:
        (Path(tmp) / "checkpoints").symlink_to(folder.resolve(), target_is_directory=True)
        torch.hub.set_dir(tmp)
        try:
            yield
        finally:
            torch.hub.set_dir(old)


@dataclass(frozen=True)
class FanFace:
    """One face: box (x0, y0, x1, y1) photo px, points (68, 2) photo px, mean heatmap score."""

    box: tuple[float, float, float, float]
    points: np.ndarray
    score: float


class FanLandmarker:
    """face-alignment's `FaceAlignment` built from local weights, one photo per call.

    Args:
        weights_dir: folder with the weight files (None: the torch hub cache).
        device: 'cpu' or 'cuda'.
        detect: also load S3FD to find faces in photos given without boxes.
        batch: faces per FAN forward pass.
        flip: also run FAN on the mirrored crop and average (face-alignment's default; twice
            the compute for slightly steadier points).
    """

    def __init__(
        self,
        weights_dir: Path | None,
        device: str = "cpu",
        detect: bool = False,
        batch: int = 8,
        flip: bool = True,
    ):
        import face_alignment

        folder = check_weights(weights_dir, detect)
        detector = "sfd" if detect else "folder"
        kwargs = {}
        if detect:  # an explicit path makes face-alignment load it with weights_only=True
            kwargs["path_to_detector"] = str(folder / detector_file())
        with _hub_checkpoints(folder):
            self.fa = face_alignment.FaceAlignment(
                face_alignment.LandmarksType.TWO_D,
                device=device,
                face_detector=detector,
                face_detector_kwargs=kwargs,
                compile=False,
                max_batch_size=batch,
                flip_input=flip,
            )
        self.detect = detect

    def __call__(
        self, image: np.ndarray, boxes: list[tuple[float, float, float, float]] | None
    ) -> list[FanFace]:
        """Landmarks of the faces in one photo, inside `boxes`, or wherever S3FD finds faces.

        Shape:
            image: (H, W, 3) uint8 RGB; returns one FanFace per face.
        """
        if boxes is None and not self.detect:
            raise ValueError("this landmarker was built without a detector: give it boxes")
        given = None if boxes is None else [np.asarray(b, dtype=np.float64) for b in boxes]
        if given is not None and not given:
            return []
        with warnings.catch_warnings():  # a photo without faces is counted in the quarantine
            warnings.filterwarnings("ignore", message="No faces were detected")
            points, scores, found = self.fa.get_landmarks_from_image(
                image, detected_faces=given, return_bboxes=True, return_landmark_score=True
            )
        if points is None:
            return []
        out = []
        for pts, sc, box in zip(points, scores, found, strict=True):
            x0, y0, x1, y1 = (float(v) for v in np.asarray(box)[:4])
            out.append(FanFace((x0, y0, x1, y1), np.asarray(pts, np.float32)[:, :2], float(np.mean(sc))))
        return out
