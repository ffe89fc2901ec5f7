"""Videos (written here with PyAV) and the face-alignment paths (FAN, S3FD) with weights saved here."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from deepfake_arena.world.faceset import Faceset
from deepfake_arena.world.ingest import IngestOptions, ingest
from deepfake_arena.world.ingest.fan import (
    FanLandmarker,
    WeightsMissing,
    check_weights,
    detector_file,
    weight_files,
)
from tests.arena.ingest_helpers import REAL, landmark_rows, needs_faces
from tests.conftest import REPO

pytestmark = needs_faces


def _write_video(path, frames: list[np.ndarray], fps: int = 10) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_a_video_is_sampled_and_ingested_as_one_source(tmp_path):
    rows = landmark_rows()[:2]
    src = tmp_path / "src"
    lines = []
    for k, row in enumerate(rows):
        photo = Image.open(REAL / row["file"]).convert("RGB").resize((320, 320), Image.Resampling.LANCZOS)
        scale = 320 / 900
        frames = []
        for i in range(20):  # the face drifts right by 1 px per frame
            a = np.full((320, 320, 3), 200, np.uint8)
            a[:, i:] = np.asarray(photo)[:, : 320 - i]
            frames.append(a)
            lines.append(
                {
                    "file": f"person{k}/clip.mp4",
                    "frame": i,
                    "box": [(v * scale) + (i if j % 2 == 0 else 0) for j, v in enumerate(row["box"])],
                    "landmarks5": [[x * scale + i, y * scale] for x, y in row["landmarks5"]],
                }
            )
        (src / f"person{k}").mkdir(parents=True)
        _write_video(src / f"person{k}" / "clip.mp4", frames)
    (src / "broken").mkdir()
    (src / "broken" / "x.webm").write_bytes(b"\x1aE\xdf\xa3 not really a webm")
    lm = tmp_path / "lm.jsonl"
    lm.write_text("".join(json.dumps(x) + "\n" for x in lines))
    opts = IngestOptions(size=48, fps=2.0, max_frames=3, landmarks=lm, progress=False, min_size=20)
    m = ingest(src, tmp_path / "fs", opts)
    fs = Faceset(tmp_path / "fs", ("file", "identity", "source", "frame", "landmarks5"))
    assert fs.index.groupby("source").frame.apply(list).to_dict() == {
        "person0/clip.mp4": [0, 5, 10],
        "person1/clip.mp4": [0, 5, 10],
    }, "2 of 10 frames per second, at most 3 per video"
    assert set(fs.index.identity) == {"person0", "person1"}
    assert m["last_ingest"]["seen"] == 7 and m["last_ingest"]["ingested"] == 6
    q = pd.read_parquet(tmp_path / "fs" / "quarantine.parquet")
    assert q.reason.tolist() == ["unreadable_video"] and q.file.tolist() == ["broken/x.webm"]
    imgs = fs.images(np.arange(6)).float()
    assert (imgs[0] - imgs[1]).abs().mean() < 8, "the drift is undone by alignment"


@pytest.fixture(scope="module")
def fan_weights(tmp_path_factory):
    """face-alignment's own FAN, randomly initialised, saved under the name it expects."""
    from face_alignment.models import FAN

    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    (name,) = weight_files(detect=False)
    torch.save(FAN(4).state_dict(), folder / name)
    return folder


def _first_photo_folder(tmp_path):
    """The first London Set row, and an empty identity folder `p` of a source tree to put it in."""
    src = tmp_path / "src" / "p"
    src.mkdir(parents=True)
    return landmark_rows()[0], src


@pytest.mark.slow
def test_face_alignment_gives_68_points_inside_given_boxes(tmp_path, fan_weights):
    row, src = _first_photo_folder(tmp_path)
    (src / "a.jpg").write_bytes((REAL / row["file"]).read_bytes())
    # Boxes only: face-alignment finds the points. Two boxes in one photo, one FAN batch.
    boxes = [row["box"], [500.0, 520.0, 700.0, 740.0]]
    lm = tmp_path / "boxes.jsonl"
    lm.write_text("".join(json.dumps({"file": "p/a.jpg", "box": b}) + "\n" for b in boxes))
    opts = IngestOptions(
        size=32,
        landmarks=lm,
        weights=fan_weights,
        policy="all",
        min_sharpness=0,
        fan_flip=False,
        progress=False,
    )
    m = ingest(tmp_path / "src", tmp_path / "fs", opts)
    assert m["last_ingest"]["seen"] == m["last_ingest"]["ingested"] == 1 and m["counts"]["faces"] == 2
    fs = Faceset(tmp_path / "fs", ("landmarker", "has_landmarks68", "box", "shard", "row"))
    assert set(fs.index.landmarker) == {"fan"} and fs.index.has_landmarks68.all()
    assert [list(b) for b in fs.index.box] == boxes, "face-alignment used the given boxes"
    from safetensors import safe_open

    with safe_open(str(tmp_path / "fs" / "shards" / fs.index.shard[0]), framework="pt") as fh:
        lm68 = fh.get_tensor("landmarks68")
    assert lm68.shape == (2, 68, 2) and torch.isfinite(lm68).all()


def _s3fd_weights(folder, fan_weights, finds_faces: bool):
    """face-alignment's S3FD with its heads set by hand, saved beside the FAN weights.

    Box offsets are zero, so every box is its prior; only the coarsest scale (stride 128, priors of
    512 px) scores "face", everywhere, or no scale does.
    """
    from face_alignment.detection.sfd.net_s3fd import s3fd

    folder.mkdir()
    (name,) = weight_files(detect=False)
    (folder / name).symlink_to(fan_weights / name)
    torch.manual_seed(0)
    net = s3fd()
    with torch.no_grad():
        for layer, module in net.named_modules():
            if layer.endswith(("_mbox_conf", "_mbox_loc")):
                module.weight.zero_()
                module.bias.zero_()
            if layer.endswith("_mbox_conf"):  # the last channel is "face"
                module.bias[-1] = 10.0 if finds_faces and layer.startswith("conv7_2") else -10.0
    torch.save(net.state_dict(), folder / detector_file())
    return folder


@pytest.mark.slow
def test_without_boxes_s3fd_from_a_local_file_finds_the_faces(tmp_path, fan_weights):
    row, src = _first_photo_folder(tmp_path)
    photo = Image.open(REAL / row["file"]).convert("RGB").resize((256, 256), Image.Resampling.LANCZOS)
    photo.save(src / "a.png")
    finds = _s3fd_weights(tmp_path / "finds", fan_weights, finds_faces=True)
    blind = _s3fd_weights(tmp_path / "blind", fan_weights, finds_faces=False)

    faces = FanLandmarker(finds, detect=True, flip=False)(np.asarray(photo), None)
    assert len(faces) >= 2, "priors 256 px apart overlap by less than NMS's 0.3 and are both kept"
    for face in faces:
        x0, y0, x1, y1 = face.box
        assert (x1 - x0, y1 - y0) == (512, 512), "a prior of the stride-128 scale"
        assert (x0 + x1) / 2 % 128 == 64 and (y0 + y1) / 2 % 128 == 64, "centred on that scale's grid"
        assert face.points.shape == (68, 2) and np.isfinite(face.points).all()
    assert FanLandmarker(blind, detect=True, flip=False)(np.asarray(photo), None) == []

    # Through `arena ingest` with no landmarks file: S3FD, then FAN, then the landmark checks.
    # The FAN here is untrained, so the faces S3FD finds fail those checks; none is found blind.
    opts = dict(size=32, policy="largest", min_sharpness=0, fan_flip=False, progress=False)
    reasons = {}
    for name, weights in (("finds", finds), ("blind", blind)):
        out = tmp_path / f"{name}-faceset"  # not the weights' folder: ingest refuses a foreign --out
        m = ingest(tmp_path / "src", out, IngestOptions(weights=weights, **opts))
        assert m["last_ingest"]["seen"] == m["last_ingest"]["quarantined"] == 1
        q = pd.read_parquet(out / "quarantine.parquet")
        reasons[name] = (q.reason.item(), q.detail.item())
    assert reasons["finds"][0] == "bad_landmarks"
    assert reasons["blind"] == ("no_face", "no face found")


def test_missing_weights_name_the_files_and_where_they_go(tmp_path):
    with pytest.raises(WeightsMissing, match=r"2DFAN4-.*\.pth\.tar.*s3fd-.*\.pth.*--weights DIR"):
        check_weights(tmp_path, detect=True)
    row = landmark_rows()[0]
    src = tmp_path / "src" / "a"
    src.mkdir(parents=True)
    (src / "x.jpg").write_bytes((REAL / row["file"]).read_bytes())
    proc = subprocess.run(
        [sys.executable, "-m", "deepfake_arena.cli", "ingest",
         str(tmp_path / "src"), "--out", str(tmp_path / "fs"),
         "--weights", str(tmp_path / "empty"), "--quiet"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and "weights missing" in lines[0]
        and "s3fd" in lines[0]
        and "Traceback" not in proc.stderr
    )
    assert not (tmp_path / "fs" / "manifest.json").exists()
