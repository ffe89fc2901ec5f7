"""`arena ingest` on real photos: counts, identities, geometry, splits, re-ingest, bad input."""

from __future__ import annotations

import io
import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image, ImageFilter

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.spec import WorldSpec
from deepfake_arena.world.faceset import Faceset, read_manifest
from deepfake_arena.world.ingest import IngestOptions, ingest
from deepfake_arena.world.ingest.align import template_px
from deepfake_arena.world.pools import World
from tests.arena.ingest_helpers import (
    LANDMARKS,
    LONDON_CREDIT,
    REAL,
    copy_identities,
    landmark_rows,
    needs_faces,
)

pytestmark = needs_faces


def _opts(**kw) -> IngestOptions:
    base = {"size": 64, "progress": False}
    return IngestOptions(**{**base, **kw})


@pytest.fixture(scope="module")
def london(tmp_path_factory):
    out = tmp_path_factory.mktemp("faceset") / "london"
    manifest = ingest(REAL, out, _opts(landmarks=LANDMARKS, credit=LONDON_CREDIT))
    return out, manifest


def test_the_london_set_ingests_every_face(london):
    out, m = london
    assert m["counts"] == {"faces": 204, "identities": 102, "sources": 204}
    assert m["last_ingest"]["seen"] == 204 == m["last_ingest"]["ingested"] + m["last_ingest"]["quarantined"]
    assert m["totals"] == {"seen": 204, "ingested": 204, "quarantined": 0}
    assert m["credit"] == LONDON_CREDIT and m["size"] == 64
    fs = Faceset(out, ("identity", "source", "file", "landmarks5", "colour", "grey"))
    assert sorted(set(fs.index.identity)) == sorted(p.name for p in REAL.iterdir() if p.is_dir())
    assert (fs.index.identity == fs.index.file.str.split("/").str[0]).all(), "identity = folder name"
    assert not fs.index.grey.any() and set(fs.index.colour) == {"rgb"}
    # Eye centres land on the template within a pixel or two (5-point least squares, real faces).
    err = (fs.landmarks5[:, :2] - template_px(64)[:2].float()).norm(dim=-1)
    assert float(err.max()) < 2.0 and float(err.mean()) < 0.7
    images = fs.images(np.array([5, 0, 5]))
    assert images.shape == (3, 3, 64, 64) and images.dtype == torch.uint8
    assert torch.equal(images[0], images[2]) and not torch.equal(images[0], images[1])
    assert (out / "quarantine.parquet").is_file() and len(pd.read_parquet(out / "quarantine.parquet")) == 0


def test_folder_world_splits_identities_disjoint(london):
    out, _ = london
    spec = WorldSpec(
        kind="folder", path=str(out), resolution=32, fractions={"train": 0.6, "eval": 0.3, "vault": 0.1}
    )
    assert spec.credit == LONDON_CREDIT
    world = World(spec, seed=3)
    pools = {k: set(v.tolist()) for k, v in world.pools.items()}
    assert [len(pools[k]) for k in ("train", "eval", "vault")] == [61, 30, 10]
    assert not (pools["train"] & pools["eval"]) and not (pools["train"] | pools["eval"]) & pools["vault"]
    src, tgt = world.pairs("eval", 12, torch.Generator().manual_seed(0))
    assert src.images.shape == (12, 3, 32, 32) and (src.identity != tgt.identity).all()
    assert set(src.identity.tolist()) | set(tgt.identity.tolist()) <= pools["eval"]
    assert float((src.landmarks[:, 0] - template_px(32)[0].float()).norm(dim=-1).max()) < 1.5
    again = World(spec, seed=3).reals("train", 6, torch.Generator().manual_seed(1))
    first = world.reals("train", 6, torch.Generator().manual_seed(1))
    assert torch.equal(first.images, again.images), "a draw is a function of its generator"
    with pytest.raises(ArenaUserError, match="identities"):
        WorldSpec(kind="folder", path=str(out), identities={"train": 100, "eval": 10, "vault": 0})


def test_missing_or_invalid_faceset_is_a_clear_error(tmp_path):
    with pytest.raises(ArenaUserError, match="no faceset at .*arena ingest"):
        WorldSpec(kind="folder", path=str(tmp_path / "none"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{}")
    with pytest.raises(ArenaUserError, match="not a deepfake-arena faceset"):
        read_manifest(tmp_path / "bad")
    with pytest.raises(ValueError, match="needs world.path"):
        WorldSpec(kind="folder")


def test_reingest_processes_only_new_or_changed_files(tmp_path):
    src, lm = copy_identities(tmp_path, 4)
    out = tmp_path / "fs"
    first = ingest(src, out, _opts(landmarks=lm))
    assert first["counts"]["faces"] == 8 and first["last_ingest"]["files"]["new"] == 8
    shard_files = set((out / "shards").iterdir())
    again = ingest(src, out, _opts(landmarks=lm))
    assert again["last_ingest"]["files"] == {
        "scanned": 8,
        "new": 0,
        "changed": 0,
        "unchanged": 8,
        "removed": 0,
    }
    assert again["last_ingest"]["seen"] == 0 and again["counts"]["faces"] == 8
    assert set((out / "shards").iterdir()) == shard_files, "nothing rewritten"
    files = sorted(p for p in src.rglob("*.jpg"))
    os.utime(files[0], ns=(1, 1))  # touched, same bytes: hashed, kept
    img = Image.open(files[1]).convert("RGB")
    img.save(files[1], quality=60)  # changed bytes
    files[2].unlink()  # removed
    (src / "new").mkdir()
    shutil.copy(files[3], src / "new" / "x.jpg")  # new, but not in the landmarks file: no face
    third = ingest(src, out, _opts(landmarks=lm))
    f = third["last_ingest"]["files"]
    assert (f["new"], f["changed"], f["unchanged"], f["removed"]) == (1, 1, 6, 1)
    assert third["last_ingest"]["seen"] == 2 and third["last_ingest"]["quarantined"] == 1
    assert third["counts"]["faces"] == 7 and third["totals"] == {"seen": 8, "ingested": 7, "quarantined": 1}
    q = pd.read_parquet(out / "quarantine.parquet")
    assert q.to_dict("records")[0]["reason"] == "no_face" and q.file.tolist() == ["new/x.jpg"]
    fs = Faceset(out, ("file",))
    assert len(fs.images(np.arange(len(fs)))) == 7
    rebuilt = ingest(src, out, _opts(landmarks=lm, size=32))
    assert rebuilt["last_ingest"]["rebuilt"] and rebuilt["size"] == 32 and rebuilt["counts"]["faces"] == 7


# ---------------------------------------------------------------------------------------------- bad input


def _jpeg(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory):
    """Every kind of awkward input, each in its own identity folder, with a landmarks file."""
    root = tmp_path_factory.mktemp("bad")
    src = root / "src"
    row = landmark_rows()[0]
    photo = Image.open(REAL / row["file"]).convert("RGB")
    lines = []

    def put(name: str, data: bytes, faces: list[dict] | None = None) -> None:
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        for face in faces if faces is not None else [row]:
            lines.append({**face, "file": name})

    good = _jpeg(photo)
    put("ok/a.jpg", good)
    put("empty/a.jpg", b"")
    put("truncated/a.jpg", good[: len(good) // 2])
    put("text/a.jpg", b"this is not an image, only named like one\n" * 20)
    put("cmyk/a.jpg", _jpeg(photo.convert("CMYK")))
    grey16 = (np.asarray(photo.convert("L"), np.uint16) * 257).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(grey16).save(buf, "PNG")
    put("grey16/a.png", buf.getvalue())
    put("grey/a.jpg", _jpeg(photo.convert("L")))
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.new("L", photo.size, 200))
    buf = io.BytesIO()
    rgba.save(buf, "PNG")
    put("rgba/a.png", buf.getvalue())
    buf = io.BytesIO()
    photo.convert("P", palette=Image.Palette.ADAPTIVE).save(buf, "PNG")
    put("palette/a.png", buf.getvalue())
    # Stored turned 90 deg anticlockwise; EXIF orientation 6 tells a viewer to turn it clockwise.
    exif = Image.Exif()
    exif[0x0112] = 6
    put("exif/a.jpg", _jpeg(photo.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes()))
    buf = io.BytesIO()
    Image.new("L", (2100, 1000)).save(buf, "PNG")
    put("huge/a.png", buf.getvalue())  # over the test's 2 MP guard
    put("noface/a.jpg", good, faces=[])
    second = {
        **row,
        "box": [10.0, 10.0, 150.0, 160.0],
        "landmarks5": [[p[0] - 330, p[1] - 330] for p in row["landmarks5"]],
    }
    put("several/a.jpg", good, faces=[row, second])
    tiny = {**row, "box": [300.0, 300.0, 320.0, 318.0]}
    put("small/a.jpg", good, faces=[tiny])
    put("blurred/a.jpg", _jpeg(photo.filter(ImageFilter.GaussianBlur(40))))
    put("video/broken.mp4", b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000), faces=[])
    lm = root / "landmarks.jsonl"
    lm.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return src, lm


EXPECTED = {
    "empty": "empty_file",
    "truncated": "truncated",
    "text": "not_an_image",
    "huge": "too_large",
    "noface": "no_face",
    "several": "several_faces",
    "small": "face_too_small",
    "blurred": "too_blurred",
    "video": "unreadable_video",
}
INGESTED = {
    "ok": "rgb",
    "cmyk": "cmyk",
    "grey16": "grey16",
    "grey": "grey",
    "rgba": "rgba",
    "palette": "palette",
    "exif": "rgb",
}


def test_every_bad_input_is_quarantined_with_its_reason(bad_folder, tmp_path):
    src, lm = bad_folder
    out = tmp_path / "fs"
    m = ingest(src, out, _opts(landmarks=lm, policy="skip", max_pixels=2_000_000, min_sharpness=20.0))
    q = pd.read_parquet(out / "quarantine.parquet")
    assert dict(zip(q.file.str.split("/").str[0], q.reason, strict=True)) == EXPECTED
    assert q.detail.str.len().gt(0).all()
    s = m["last_ingest"]
    assert s["seen"] == len(EXPECTED) + len(INGESTED) == s["ingested"] + s["quarantined"]
    assert s["quarantined"] == len(EXPECTED) and m["totals"]["quarantined"] == len(EXPECTED)
    fs = Faceset(out, ("file", "colour", "grey", "exif_rotated", "landmarks5", "sharpness"))
    got = dict(zip(fs.index.file.str.split("/").str[0], fs.index.colour, strict=True))
    assert got == INGESTED
    grey = fs.index[fs.index.grey]
    assert set(grey.file.str.split("/").str[0]) == {"grey", "grey16"}, "greyscale is marked"
    imgs = fs.images(np.arange(len(fs))).float()
    for i, (name, is_grey) in enumerate(zip(fs.index.file, fs.index.grey, strict=True)):
        spread = (imgs[i] - imgs[i].mean(0, keepdim=True)).abs().max()
        assert (float(spread) == 0) == bool(is_grey), f"{name}: grey replicated to 3 equal channels"
    ok = imgs[fs.index.file.tolist().index("ok/a.jpg")]
    upright = imgs[fs.index.file.tolist().index("exif/a.jpg")]
    assert (ok - upright).abs().mean() < 3, "the EXIF-rotated photo was turned upright before alignment"
    assert fs.index.set_index("file").loc["exif/a.jpg", "exif_rotated"]


def test_several_faces_policies(bad_folder, tmp_path):
    src, lm = bad_folder
    largest = ingest(src, tmp_path / "l", _opts(landmarks=lm, policy="largest", max_pixels=2_000_000))
    every = ingest(src, tmp_path / "a", _opts(landmarks=lm, policy="all", max_pixels=2_000_000))
    for m in (largest, every):
        assert m["last_ingest"]["seen"] == m["last_ingest"]["ingested"] + m["last_ingest"]["quarantined"]
    fl = Faceset(tmp_path / "l", ("file", "faces_in_input", "face_px"))
    fa = Faceset(tmp_path / "a", ("file", "faces_in_input"))
    row = fl.index[fl.index.file == "several/a.jpg"]
    assert len(row) == 1 and int(row.faces_in_input.iloc[0]) == 2 and float(row.face_px.iloc[0]) > 200
    assert (fa.index.file == "several/a.jpg").sum() == 2
    assert every["counts"]["faces"] == largest["counts"]["faces"] + 1


def test_bad_options_and_landmark_files_fail_clearly(tmp_path):
    with pytest.raises(ArenaUserError, match="--policy"):
        IngestOptions(policy="random")
    lm = tmp_path / "lm.jsonl"
    lm.write_text('{"file": "a.jpg", "box": [0, 0, 10]}\n')
    (tmp_path / "src").mkdir()
    Image.new("RGB", (40, 40)).save(tmp_path / "src" / "a.jpg")
    with pytest.raises(ArenaUserError, match=r"lm.jsonl:1: 'box'"):
        ingest(tmp_path / "src", tmp_path / "out", _opts(landmarks=lm))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArenaUserError, match="no photos or videos"):
        ingest(tmp_path / "empty", tmp_path / "o2", _opts())
    with pytest.raises(ArenaUserError, match="source folder not found"):
        ingest(tmp_path / "nowhere", tmp_path / "o3", _opts())


def test_a_first_ingest_that_rejects_everything_writes_an_empty_faceset(tmp_path):
    src, lm = copy_identities(tmp_path, 1)
    (person,) = src.iterdir()
    (person / "noise.png").write_bytes(b"not a png")
    kept = sorted(p for p in person.iterdir() if p.name != "noise.png")
    for p in kept:
        shutil.move(p, tmp_path / p.name)
    m = ingest(src, tmp_path / "fs", _opts(landmarks=lm))
    assert m["counts"]["faces"] == 0 and m["last_ingest"]["quarantined"] == 1
    q = pd.read_parquet(tmp_path / "fs" / "quarantine.parquet")
    assert q.reason.tolist() == ["not_an_image"]
    for p in kept:  # the photos arrive later: the next ingest adds them
        shutil.move(tmp_path / p.name, p)
    m = ingest(src, tmp_path / "fs", _opts(landmarks=lm))
    assert m["counts"]["faces"] == len(kept) and m["last_ingest"]["ingested"] == len(kept)
