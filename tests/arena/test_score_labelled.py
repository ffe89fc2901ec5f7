"""`arena score` on a labelled faceset: its own labels, metrics per method and pooled, `--where`
subsets, and a labels file that covers only some faces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from deepfake_arena.cli import main
from deepfake_arena.metrics import auc
from tests.arena.test_score_faces import SIZE, _faceset, save_version
from tests.detectors.toy import toy


@pytest.fixture(scope="module")
def version(tmp_path_factory):
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # faster than two contended threads for these small convolutions
    yield save_version(tmp_path_factory.mktemp("run"))
    torch.set_num_threads(before)


@pytest.fixture
def labelled(tmp_path):
    """12 real faces (3 clips), 6 faceswap and 6 deepfakes fakes, labelled in the index."""
    reals, fakes = toy(12, SIZE, seed=7)
    images = torch.cat([reals, fakes])
    files = [f"real/{i}.png" for i in range(12)] + [f"fake/{i}.png" for i in range(12)]
    sources = [f"r{i // 4}" for i in range(12)] + [f"f{i // 3}" for i in range(12)]
    method = [None] * 12 + ["faceswap"] * 6 + ["deepfakes"] * 6
    released = [None] * 12 + ["2019-09-01"] * 6 + ["2018-02-01"] * 6
    labels = {
        "label": pd.array([0] * 12 + [1] * 12, dtype="Int8"),
        "method": pd.array(method, dtype="string"),
        "released": pd.array(released, dtype="string"),
    }
    _faceset(tmp_path / "fs", images, files, sources, labels)
    return tmp_path / "fs"


def _score(version_file, faces, out, *extra):
    return main(["score", "--detector", str(version_file), "--faces", str(faces), "--out", str(out),
                 "--bootstrap", "0", *extra])  # fmt: skip


def test_a_labelled_faceset_is_scored_with_its_labels_per_method_and_pooled(
    version, labelled, tmp_path, capsys
):
    folder, _ = version
    out = tmp_path / "s.parquet"
    assert _score(folder / "single.safetensors", labelled, out) == 0
    printed = capsys.readouterr().out
    table = pd.read_parquet(out)
    assert len(table) == 24 and {"label", "method", "released"} <= set(table.columns)
    y, p = table.label.to_numpy(), table.score.to_numpy()
    lines = printed.splitlines()
    pooled = next(line for line in lines if line.startswith("auc "))
    assert float(pooled.split()[1]) == pytest.approx(auc(y, p), abs=1e-4)
    for m in ("faceswap", "deepfakes"):
        head = lines.index(f"method {m}: 12 real vs 6 fake faces")
        got = next(line for line in lines[head:] if line.strip().startswith("auc "))
        sel = (table.label == 0) | (table.method == m)
        assert float(got.split()[1]) == pytest.approx(auc(y[sel], p[sel]), abs=1e-4)
    # Video level groups by the clip.
    assert _score(folder / "single.safetensors", labelled, out, "--level", "video") == 0
    assert "level: video (7 sources)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("where", "n", "note"),
    [
        (["method=faceswap"], 18, "18 of 24 faces"),  # its fakes and the reals
        (["label=fake", "released=2019"], 6, "6 of 24 faces"),
        (["source=r0,f0"], 7, "7 of 24 faces"),
        (["method=faceswap,deepfakes", "source=r1,r2,f3"], 11, "11 of 24 faces"),
    ],
)
def test_where_scores_a_subset(version, labelled, tmp_path, capsys, where, n, note):
    folder, _ = version
    out = tmp_path / "s.csv"
    code = _score(folder / "single.safetensors", labelled, out, *[a for w in where for a in ("--where", w)])
    captured = capsys.readouterr()
    table = pd.read_csv(out)
    assert len(table) == n and note in captured.err
    if where == ["method=faceswap"]:
        assert code == 0 and set(table.method.dropna()) == {"faceswap"} and (table.label == 0).sum() == 12
        assert "method deepfakes" not in captured.out


def test_a_labels_file_covering_some_faces_scores_those_and_counts_the_rest(
    version, labelled, tmp_path, capsys
):
    folder, _ = version
    labels = tmp_path / "l.csv"
    rows = [(f"real/{i}.png", "real", "", "") for i in range(6)] + [
        (f"fake/{i}.png", "fake", "nt", "c") for i in range(4)
    ]
    pd.DataFrame(rows, columns=["file", "label", "method", "source"]).to_csv(labels, index=False)
    out = tmp_path / "s.csv"
    assert _score(folder / "single.safetensors", labelled, out, "--labels", str(labels)) == 0
    captured = capsys.readouterr()
    assert "14 of 24 faces have no label in" in captured.err and "left out, 10 scored" in captured.err
    table = pd.read_csv(out)
    assert len(table) == 10 and set(table.method.dropna()) == {"nt"}
    assert (table[table.label == 1].source == "c").all(), "the labels file's clip replaces the faceset's"
    assert "method nt: 6 real vs 4 fake faces" in captured.out


@pytest.mark.parametrize(
    ("where", "match"),
    [
        ("colour=red", "key one of label, method, source, released"),
        ("method=", "expected key=value"),
        ("label=maybe", "not 0/1 or real/fake"),
        ("method=nope", "no face has it (methods: deepfakes, faceswap)"),
    ],
)
def test_a_bad_where_is_one_line(version, labelled, tmp_path, capsys, where, match):
    folder, _ = version
    assert _score(folder / "single.safetensors", labelled, tmp_path / "s.csv", "--where", where) == 1
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1


def test_where_on_labels_needs_labels(version, tmp_path, capsys):
    folder, _ = version
    reals, _ = toy(3, SIZE, seed=9)
    _faceset(tmp_path / "fs", reals, ["a", "b", "c"], ["a", "b", "c"])
    assert (
        _score(folder / "single.safetensors", tmp_path / "fs", tmp_path / "s.csv", "--where", "method=x") == 1
    )
    assert "have no labels" in capsys.readouterr().err
    assert (
        _score(folder / "single.safetensors", tmp_path / "fs", tmp_path / "s.csv", "--where", "source=b") == 0
    )
    assert pd.read_csv(tmp_path / "s.csv").file.tolist() == ["b"]
    assert np.isfinite(pd.read_csv(tmp_path / "s.csv").score).all()
