"""`arena ingest` reads only what it should (issue 25 #6, #7): FIFOs and devices named like photos
are quarantined without being opened for reading, an oversized file is refused before it is read,
and --out must be a new or empty folder or a faceset, whose foreign files are never deleted."""

from __future__ import annotations

import os
import threading

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.world.ingest import IngestOptions, ingest
from deepfake_arena.world.ingest.decode import Rejected
from deepfake_arena.world.ingest.safe_read import read_photo_bytes, sha256_regular


def _opts(lm):
    return IngestOptions(size=64, progress=False, landmarks=lm)


def _source(tmp_path):
    src = tmp_path / "src"
    (src / "p1").mkdir(parents=True)
    Image.fromarray(np.full((48, 48, 3), 120, np.uint8)).save(src / "p1" / "plain.png")
    lm = tmp_path / "landmarks.jsonl"
    lm.write_text("")  # no faces listed: every photo is `no_face`, and no model is needed
    return src, lm


def _ingest_within(seconds, *args):
    result: dict[str, object] = {}

    def go():
        try:
            result["manifest"] = ingest(*args)
        except BaseException as exc:  # reported below
            result["error"] = exc

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"ingest still running after {seconds} s"
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["manifest"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_devices_and_huge_files_are_quarantined_unread(tmp_path):
    src, lm = _source(tmp_path)
    os.mkfifo(src / "p1" / "pipe.jpg")
    os.symlink("/dev/zero", src / "p1" / "zero.jpg")
    with open(src / "p1" / "huge.jpg", "wb") as fh:  # sparse: 1.5 GB on paper, nothing on disk
        fh.truncate(1536 << 20)
    os.mkfifo(src / "p1" / "clip.mp4")
    manifest = _ingest_within(60, src, tmp_path / "fs", _opts(lm))
    q = pd.read_parquet(tmp_path / "fs" / "quarantine.parquet").set_index("file")["reason"].to_dict()
    assert q == {
        "p1/clip.mp4": "not_a_file",
        "p1/huge.jpg": "file_too_large",
        "p1/pipe.jpg": "not_a_file",
        "p1/plain.png": "no_face",
    }
    assert manifest["last_ingest"]["quarantined"] == 4
    assert manifest["last_ingest"]["skipped_entries"] == {"p1/zero.jpg": "link_outside_src"}  # never read
    # A second ingest re-checks them without hanging on the FIFOs either.
    _ingest_within(60, src, tmp_path / "fs", _opts(lm))


def test_safe_reads_refuse_before_reading(tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes(b"x" * 100)
    with pytest.raises(Rejected, match="file_too_large"):
        read_photo_bytes(big, max_bytes=99)
    assert read_photo_bytes(big, max_bytes=100)[0] == b"x" * 100
    with pytest.raises(Rejected, match="not_a_file"):
        sha256_regular(tmp_path)


def test_out_that_is_not_a_faceset_is_refused_and_kept(tmp_path):
    src, lm = _source(tmp_path)
    out = tmp_path / "elsewhere"
    (out / "shards").mkdir(parents=True)
    (out / "shards" / "model.safetensors").write_bytes(b"someone else's weights")
    with pytest.raises(ArenaUserError, match="not empty and holds no faceset"):
        ingest(src, out, _opts(lm))
    assert (out / "shards" / "model.safetensors").read_bytes() == b"someone else's weights"
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ArenaUserError, match="--out"):
        ingest(src, tmp_path / "afile" / "fs", _opts(lm))


def test_reingest_deletes_only_shards_a_manifest_named(tmp_path):
    src, lm = _source(tmp_path)
    out = tmp_path / "fs"
    ingest(src, out, _opts(lm))
    foreign = out / "shards" / "foreign.safetensors"
    foreign.write_bytes(b"not ours")
    Image.fromarray(np.full((48, 48, 3), 30, np.uint8)).save(src / "p1" / "another.png")
    ingest(src, out, _opts(lm))
    assert foreign.read_bytes() == b"not ours"


def test_every_entry_is_accounted_for_and_links_stay_inside_src(tmp_path):
    src, lm = _source(tmp_path)
    outside = tmp_path / "outside.png"
    Image.fromarray(np.full((48, 48, 3), 60, np.uint8)).save(outside)
    (src / "p1" / "in_link.png").symlink_to(src / "p1" / "plain.png")
    (src / "p1" / "out_link.png").symlink_to(outside)
    (src / "loop").symlink_to(src)  # a folder link back to SRC: not descended
    (src / ".hidden.png").write_bytes(b"x")
    (src / "README.txt").write_text("notes")
    m = ingest(src, tmp_path / "fs", _opts(lm))["last_ingest"]
    assert m["skipped_entries"] == {
        ".hidden.png": "hidden",
        "README.txt": "not_a_photo_or_video",
        "loop/": "link_to_folder",
        "p1/out_link.png": "link_outside_src",
    }
    assert m["entries"] == m["files"]["scanned"] + m["skipped"] == 6
    assert m["seen"] == m["ingested"] + m["quarantined"] == 2  # plain.png and in_link.png


def test_landmark_boxes_must_fit_the_photo(tmp_path):
    import json

    src, lm = _source(tmp_path)
    five = [[10, 10], [30, 10], [20, 20], [12, 30], [28, 30]]
    lm.write_text(json.dumps({"file": "p1/plain.png", "box": [0, 0, 1e31, 1e31], "landmarks5": five}) + "\n")
    ingest(src, tmp_path / "fs", _opts(lm))
    q = pd.read_parquet(tmp_path / "fs" / "quarantine.parquet")
    assert q.reason.tolist() == ["bad_box"]


def test_bad_options_are_refused_together_in_one_line():
    with pytest.raises(ArenaUserError) as err:
        IngestOptions(size=8, policy="nope", fps=0, workers=0, batch=0)
    msg = str(err.value)
    assert msg.startswith("--size must be in [16, 1024], got 8; --policy must be one of ")
    assert "--fps must be > 0, got 0; " in msg and "--workers must be >= 1, got 0; " in msg
    assert msg.endswith("batch, shard_rows and max_pixels must be >= 1") and "\n" not in msg
    assert "--min-size" not in msg and "--device" not in msg, "only the bad ones are named"
    assert IngestOptions(size=16).size == 16 and IngestOptions(size=1024).size == 1024  # inclusive
