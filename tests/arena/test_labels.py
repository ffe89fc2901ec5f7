"""Labels files and labelled facesets: `arena ingest SRC --labels FILE` keeps real/fake, method,
release date and clip of every face; bad labels files are one clear line."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from deepfake_arena.cli import main
from deepfake_arena.errors import ArenaUserError
from deepfake_arena.world.faceset import Faceset, is_labelled, labelled_index
from deepfake_arena.world.ingest import IngestOptions, ingest
from deepfake_arena.world.labels import normalise_released, read_label_file
from tests.arena.ingest_helpers import copy_identities, landmark_rows, needs_faces


def _opts(**kw) -> IngestOptions:
    return IngestOptions(**{"size": 32, "progress": False, **kw})


def test_a_labels_file_reads_words_months_and_optional_columns(tmp_path):
    f = tmp_path / "l.csv"
    f.write_text(
        "file,label,method,released,source\n"
        "a/1.jpg,REAL,,,\n"
        "./a/2.jpg, fake ,faceswap,2019-09,clip1\n"
        "a/3.jpg,1,deepfakes,2018-02-28,clip1\n"
        "a/4.jpg,maybe,,,\n"
    )
    t = read_label_file(f)
    assert t.file.tolist() == ["a/1.jpg", "a/2.jpg", "a/3.jpg", "a/4.jpg"]
    assert t.label.tolist()[:3] == [0, 1, 1] and pd.isna(t.label[3]) and t.label_raw[3] == "maybe"
    assert str(t.label.dtype) == "Int8" and str(t.method.dtype) == "string"
    assert t.released.tolist()[1:3] == ["2019-09-01", "2018-02-28"] and pd.isna(t.released[0])
    j = tmp_path / "l.json"
    j.write_text(
        json.dumps([{"file": "x.png", "label": 0}, {"file": "y.png", "label": "fake", "method": "nt"}])
    )
    assert read_label_file(j).method.tolist()[1] == "nt"
    assert normalise_released("2020-01") == "2020-01-01"


@pytest.mark.parametrize(
    ("content", "name", "match"),
    [
        (b"", "l.csv", "empty"),
        (b"file,label\n\xff\xfe,1\n", "l.csv", "not UTF-8"),
        (b'file,label\n"a.jpg,1\n', "l.csv", "not a valid CSV"),
        (b"name,kind\na,1\n", "l.csv", "needs columns 'file' and 'label'"),
        (b"file,label\na,1\na,0\n", "l.csv", "line 3: 'a' is listed twice"),
        (b"file,label,released\na,1,2019-13\n", "l.csv", "not a calendar date"),
        (b"file,label,released\na,1,Sept 2019\n", "l.csv", "not YYYY-MM"),
        (b"[1, 2]", "l.json", "JSON list of objects"),
        (b"[{", "l.json", "not valid JSON"),
        (b"file,label\n", "l.csv", "no rows"),
    ],
)
def test_a_bad_labels_file_is_one_line(tmp_path, content, name, match):
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(ArenaUserError, match=match) as info:
        read_label_file(f)
    assert "\n" not in str(info.value)


def test_an_oversized_labels_file_is_refused(tmp_path, monkeypatch):
    import deepfake_arena.world.labels

    monkeypatch.setattr(deepfake_arena.world.labels, "MAX_BYTES", 10)
    f = tmp_path / "l.csv"
    f.write_text("file,label\na.jpg,1\n")
    with pytest.raises(ArenaUserError, match="more than the 10"):
        read_label_file(f)


def _labels(path, rows: list[dict]) -> None:
    pd.DataFrame(rows).to_csv(path, index=False)


@needs_faces
def test_ingest_keeps_labels_and_quarantines_unknown_and_unlisted_files(tmp_path, capsys):
    src, lm = copy_identities(tmp_path, 4)  # 001..004, two photos each
    files = sorted(p.relative_to(src).as_posix() for p in src.rglob("*.jpg"))
    assert len(files) == 8
    rows = [
        {"file": files[0], "label": "real", "method": "", "released": "", "source": "001/clip"},
        {"file": files[1], "label": "real", "method": "", "released": "", "source": "001/clip"},
        {"file": files[2], "label": "fake", "method": "faceswap", "released": "2019-09", "source": ""},
        {"file": files[3], "label": 1, "method": "deepfakes", "released": "2018-02-14", "source": ""},
        {"file": files[4], "label": 0, "method": "", "released": "", "source": ""},
        {"file": files[5], "label": "maybe", "method": "", "released": "", "source": ""},
        {"file": files[6], "label": 1, "method": "faceswap", "released": "2019-09", "source": ""},
        {"file": "gone/x.jpg", "label": 0, "method": "", "released": "", "source": ""},
    ]  # files[7] is not listed
    labels = tmp_path / "labels.csv"
    _labels(labels, rows)
    out = tmp_path / "fs"
    code = main(["ingest", str(src), "--out", str(out), "--size", "32", "--landmarks", str(lm),
                 "--labels", str(labels), "--quiet"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert "quarantine: not_in_labels 1, unknown_label 1" in printed
    assert "8 rows from" in printed and "1 name no file of SRC" in printed
    assert "seen 8 = ingested 6 + quarantined 2" in printed
    q = pd.read_parquet(out / "quarantine.parquet").set_index("file")
    assert q.loc[files[5], "reason"] == "unknown_label" and "'maybe'" in q.loc[files[5], "detail"]
    assert q.loc[files[7], "reason"] == "not_in_labels"
    index = labelled_index(out)
    assert is_labelled(index) and len(index) == 6
    assert str(index.label.dtype) == "Int8" and str(index.method.dtype) == "string"
    assert str(index.released.dtype) == "string"
    by = index.set_index("file")
    assert by.label.to_dict() == {
        files[0]: 0,
        files[1]: 0,
        files[2]: 1,
        files[3]: 1,
        files[4]: 0,
        files[6]: 1,
    }
    assert by.loc[files[2], "released"] == "2019-09-01" and by.loc[files[3], "method"] == "deepfakes"
    assert pd.isna(by.loc[files[0], "method"]) and pd.isna(by.loc[files[0], "released"])
    # Frames of one clip share its source; the others are their own.
    assert by.loc[files[0], "source"] == by.loc[files[1], "source"] == "001/clip"
    assert by.loc[files[4], "source"] == files[4]
    assert Faceset(out, ("source", "label")).index.label.notna().all()

    # A re-ingest without --labels keeps them; a corrected labels file ingests the two files.
    again = ingest(src, out, _opts(landmarks=lm))
    assert again["counts"]["faces"] == 6 and labelled_index(out).label.notna().all()
    rows[5]["label"] = "fake"
    rows.append({"file": files[7], "label": "real", "method": "", "released": "", "source": ""})
    _labels(labels, rows)
    fixed = ingest(src, out, _opts(landmarks=lm, labels=labels))
    assert fixed["counts"]["faces"] == 8 and fixed["totals"]["quarantined"] == 0
    assert labelled_index(out).set_index("file").loc[files[5], "label"] == 1


@needs_faces
def test_flat_frames_of_one_clip_are_one_identity_and_a_split_clip_is_refused(tmp_path):
    rows = [r for r in landmark_rows() if r["file"].split("/")[0] in ("001", "002")]
    src = tmp_path / "flat"
    src.mkdir()
    lm = tmp_path / "lm.jsonl"
    with open(lm, "w") as fh:
        for r in rows:
            flat = r["file"].replace("/", "_")
            shutil.copy(copy_src(r["file"]), src / flat)
            fh.write(json.dumps({**r, "file": flat}) + "\n")
    names = sorted(p.name for p in src.iterdir())
    labels = tmp_path / "l.csv"
    _labels(
        labels,
        [{"file": n, "label": 0, "source": "clipA" if i < 2 else "clipB"} for i, n in enumerate(names)],
    )
    ingest(src, tmp_path / "fs", _opts(landmarks=lm, labels=labels))
    index = labelled_index(tmp_path / "fs")
    assert sorted(set(index.identity)) == ["clipA", "clipB"]
    assert (index.identity == index.source).all()
    # In identity folders a clip that spans two identities would be cut by a split: refused.
    src2, lm2 = copy_identities(tmp_path / "ids", 2)
    files = sorted(p.relative_to(src2).as_posix() for p in src2.rglob("*.jpg"))
    _labels(labels, [{"file": f, "label": 1, "source": "one"} for f in files])
    with pytest.raises(ArenaUserError, match="source 'one' spans identities 001, 002"):
        ingest(src2, tmp_path / "fs2", _opts(landmarks=lm2, labels=labels))


def copy_src(rel: str):
    from tests.arena.ingest_helpers import REAL

    return REAL / rel


@needs_faces
def test_an_unlabelled_faceset_reads_with_null_label_columns(tmp_path):
    src, lm = copy_identities(tmp_path, 2)
    ingest(src, tmp_path / "fs", _opts(landmarks=lm))
    index = labelled_index(tmp_path / "fs")
    assert len(index) == 4 and not is_labelled(index)
    assert index.label.isna().all() and str(index.label.dtype) == "Int8"
    assert "label" not in pd.read_parquet(tmp_path / "fs" / "index.parquet").columns


def test_ingest_with_a_bad_labels_file_is_one_line_and_writes_nothing(tmp_path, capsys):
    from PIL import Image

    (tmp_path / "src").mkdir()
    Image.new("RGB", (40, 40)).save(tmp_path / "src" / "a.jpg")
    (tmp_path / "l.csv").write_bytes(b"")
    out = tmp_path / "fs"
    assert (
        main(["ingest", str(tmp_path / "src"), "--out", str(out), "--labels", str(tmp_path / "l.csv")]) == 1
    )
    err = capsys.readouterr().err
    assert "the file is empty" in err and err.count("\n") == 1 and not out.exists()
