"""`arena score`: a saved detector version scores a folder of images and an ingested faceset."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from deepfake_arena.cli import main
from deepfake_arena.detectors.base import Detector
from deepfake_arena.detectors.training import TrainConfig
from deepfake_arena.store.atomic import sha256_file
from deepfake_arena.store.round_files import save_detector, save_memory
from deepfake_arena.world.faceset import FORMAT, VERSION
from tests.detectors.toy import toy

SIZE = 32


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One thread: faster than two contended ones for these small convolutions."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def version(tmp_path_factory, one_torch_thread):
    """A meso4 version trained on the toy problem, saved as a run saves it (+ a 2-member ensemble)."""
    return save_version(tmp_path_factory.mktemp("run"))


def save_version(run) -> tuple[Path, Detector]:
    """A toy-trained meso4 version in run/rounds/r0002/detectors (single, and pair: an ensemble)."""
    folder = run / "rounds" / "r0002" / "detectors"
    folder.mkdir(parents=True)
    reals, fakes = toy(64, SIZE, seed=0)
    detector = Detector("meso4", seed=0)
    detector.fit(reals, fakes, TrainConfig(steps=20, batch_size=32, lr=1e-2), seed=0)
    weights = {k: v.numpy() for k, v in detector.state_dict().items()}
    meta = {"arch": "meso4", "arch_config": {}, "resolution": SIZE, "trained_round": 2, "memory_parts": []}
    save_detector(folder / "single.safetensors", weights, meta)
    other = {f"ensemble/0.{k}": v.numpy() for k, v in Detector("meso4", seed=5).state_dict().items()}
    parts = save_memory(folder, "pair", other)
    save_detector(folder / "pair.safetensors", weights, {**meta, "memory_parts": parts})
    return folder, detector


def _write_images(folder, images: torch.Tensor, prefix: str, size: int | None = None) -> list[str]:
    names = []
    for i, img in enumerate(images):
        name = f"{prefix}/{i:03d}.png"
        (folder / prefix).mkdir(parents=True, exist_ok=True)
        pil = Image.fromarray(img.permute(1, 2, 0).numpy())
        if size:
            pil = pil.resize((size, size), Image.Resampling.NEAREST)
        pil.save(folder / name)
        names.append(name)
    return names


def test_scores_a_folder_of_images_and_prints_metrics(version, tmp_path, capsys):
    folder, detector = version
    reals, fakes = toy(20, SIZE, seed=1)
    faces = tmp_path / "faces"
    real_names = _write_images(faces, reals, "real")
    fake_names = _write_images(faces, fakes, "fake", size=2 * SIZE)  # resized back to 32 px
    (faces / "notes.txt").write_text("not an image")
    (faces / "real" / "broken.png").write_bytes(b"\x89PNG not really")
    labels = tmp_path / "labels.csv"
    rows = [(n, "real") for n in real_names] + [(n, 1) for n in fake_names] + [("real/broken.png", 0)]
    pd.DataFrame(rows, columns=["file", "label"]).to_csv(labels, index=False)
    out = tmp_path / "scores.parquet"
    args = ["--faces", str(faces), "--labels", str(labels), "--out", str(out), "--bootstrap", "20"]
    assert main(["score", "--detector", str(folder / "single.safetensors"), *args]) == 0
    printed = capsys.readouterr()
    assert "skipped 1 unreadable image(s): real/broken.png" in printed.err
    table = pd.read_parquet(out)
    assert len(table) == 40 and set(table.columns) == {"file", "source", "score", "label"}
    expected = detector.score_uint8(reals)
    got = table.set_index("file").loc[real_names, "score"].to_numpy()
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-6)
    auc_line = next(line for line in printed.out.splitlines() if line.startswith("auc "))
    assert float(auc_line.split()[1]) > 0.9
    assert "level: frame (40 faces)" in printed.out

    # Video level: each sub-folder is one source, so two sources here.
    assert main(["score", "--detector", str(folder / "single.safetensors"), *args, "--level", "video"]) == 0
    printed = capsys.readouterr()
    assert "level: video (2 sources)" in printed.out and "video_auc" in printed.out


def test_an_ensemble_version_averages_its_members(version, tmp_path):
    folder, detector = version
    reals, _ = toy(4, SIZE, seed=2)
    faces = tmp_path / "faces"
    _write_images(faces, reals, "x")
    out = tmp_path / "s.csv"
    assert (
        main(
            [
                "score",
                "--detector",
                str(folder / "pair.safetensors"),
                "--faces",
                str(faces),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    other = Detector("meso4", seed=5)
    expected = (detector.score_uint8(reals) + other.score_uint8(reals)) / 2
    np.testing.assert_allclose(pd.read_csv(out).score.to_numpy(), expected.numpy(), atol=1e-6)


def _faceset(
    path, images: torch.Tensor, files: list[str], sources: list[str], labels: dict | None = None
) -> None:
    """A minimal faceset as `arena ingest` writes it: one shard, an index, a manifest (with
    `labels`, {column: values}, the columns of a labelled faceset)."""
    (path / "shards").mkdir(parents=True)
    save_file({"images": images.contiguous()}, str(path / "shards" / "s0001-0000.safetensors"))
    index = pd.DataFrame(
        {
            "file": files,
            "source": sources,
            "frame": list(range(len(files))),
            "shard": "s0001-0000.safetensors",
            "row": list(range(len(files))),
            **(labels or {}),
        }
    )
    index.to_parquet(path / "index.parquet")
    manifest = {
        "format": FORMAT, "version": VERSION, "generation": 1, "size": images.shape[-1], "credit": "test",
        "index": {"file": "index.parquet", "sha256": sha256_file(path / "index.parquet")},
        "quarantine": {}, "files": {}, "shards": {"s0001-0000.safetensors": {}},
        "counts": {"faces": len(files)},
    }  # fmt: skip
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_scores_an_ingested_faceset_at_video_level(version, tmp_path, capsys):
    folder, detector = version
    reals, fakes = toy(12, 2 * SIZE, seed=3)  # stored at 64 px, scored at the detector's 32
    images = torch.cat([reals, fakes])
    files = [f"real{i // 4}.mp4" for i in range(12)] + [f"fake{i // 4}.mp4" for i in range(12)]
    _faceset(tmp_path / "fs", images, files, sources=files)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({f: ("fake" if f.startswith("fake") else "real") for f in set(files)}))
    out = tmp_path / "scores.csv"
    code = main(
        ["score", "--detector", str(folder / "single.safetensors"), "--faces", str(tmp_path / "fs"),
         "--labels", str(labels), "--out", str(out), "--level", "video", "--bootstrap", "0"]
    )  # fmt: skip
    assert code == 0
    table = pd.read_csv(out)
    assert len(table) == 24 and table.frame.tolist() == list(range(24))
    assert "level: video (6 sources)" in capsys.readouterr().out
    # Through an extractor (trained at 32 px) whose points fit no face: the 64 px faces are missed.
    from tests.arena.test_extraction import TEMPLATE

    far = _run_extractor(tmp_path / "run", TEMPLATE * 1.8, 0.25)
    code = main(
        ["score", "--detector", str(folder / "single.safetensors"), "--faces", str(tmp_path / "fs"),
         "--extractor", str(far), "--out", str(out)]
    )  # fmt: skip
    table = pd.read_csv(out)
    assert code == 0 and table.frame.tolist() == list(range(24))
    assert table["miss"].all() and (table.score == 0).all()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda t, f: ["--detector", str(t / "nope.safetensors"), "--faces", str(t)], "no detector version"),
        (
            lambda t, f: ["--detector", str(f / "single.safetensors"), "--faces", str(t / "none")],
            "folder not found",
        ),
        (lambda t, f: ["--detector", str(f / "single.safetensors"), "--faces", str(t)], "no PNG/JPEG images"),
        (
            lambda t, f: ["--detector", str(f / "single.safetensors"), "--faces", str(t), "--out", "x.txt"],
            ".csv or",
        ),
    ],
)
def test_bad_input_is_one_clear_line(version, tmp_path, capsys, make, match):
    folder, _ = version
    assert main(["score", *make(tmp_path, folder)]) == 1
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1


def test_bad_labels_are_rejected(version, tmp_path, capsys):
    folder, _ = version
    reals, _ = toy(2, SIZE, seed=4)
    _write_images(tmp_path / "faces", reals, "a")
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\na/000.png,maybe\na/001.png,0\n")
    base = ["score", "--detector", str(folder / "single.safetensors"), "--faces", str(tmp_path / "faces")]
    assert main([*base, "--labels", str(labels), "--out", str(tmp_path / "s.csv")]) == 1
    assert "use 0/1 or real/fake" in capsys.readouterr().err
    labels.write_text("file,label\na/000.png,0\n")  # one face left out, the other one class only
    assert main([*base, "--labels", str(labels), "--out", str(tmp_path / "s.csv")]) == 1
    err = capsys.readouterr().err
    assert "1 of 2 faces have no label" in err and "one class only" in err


def _run_extractor(run, points: torch.Tensor, miss_threshold: float) -> Path:
    """A run folder whose round 1 keeps an extractor answering `points` whatever it is shown."""
    from deepfake_arena.rounds import extraction
    from tests.arena.test_extraction import constant_payload

    folder = run / "rounds" / "r0001"
    folder.mkdir(parents=True)
    extraction.save(folder / extraction.FILE, constant_payload(points))
    manifest = {"round": 1, "files": {extraction.FILE: sha256_file(folder / extraction.FILE)}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    spec = {"world": {"resolution": SIZE}, "extractor": {"miss_threshold": miss_threshold}}
    (run / "spec.resolved.json").write_text(json.dumps(spec))
    return folder / extraction.FILE


def test_faces_go_through_a_runs_extractor_and_its_misses_score_zero(version, tmp_path, capsys):
    from tests.arena.test_extraction import TEMPLATE

    folder, detector = version
    reals, fakes = toy(10, SIZE, seed=6)
    faces = tmp_path / "faces"
    _write_images(faces, reals, "real")
    _write_images(faces, fakes, "fake")
    base = ["score", "--detector", str(folder / "single.safetensors"), "--faces", str(faces)]

    def scored(*extra: str) -> pd.DataFrame:
        out = tmp_path / "s.csv"
        assert main([*base, "--out", str(out), *extra]) == 0
        return pd.read_csv(out).set_index("file")

    plain = scored()
    # Points on the template: the crops stay as they are, so the scores are the plain ones.
    on_path = str(_run_extractor(tmp_path / "on", TEMPLATE, 0.25))
    on_face = scored("--extractor", on_path)
    assert not on_face["miss"].any()
    np.testing.assert_allclose(on_face.loc[plain.index, "score"], plain["score"], atol=1e-6)
    with warnings.catch_warnings():  # without a GPU: the CPU, with a warning, extractor included
        warnings.simplefilter("ignore", UserWarning)
        on_cuda = scored("--extractor", on_path, "--device", "cuda")
    np.testing.assert_allclose(on_cuda.loc[plain.index, "score"], plain["score"], atol=1e-5)
    capsys.readouterr()
    # Points three times too spread: no face of this world, so every face is a miss, scored 0.
    spread = (TEMPLATE - TEMPLATE.mean(0)) * 3 + TEMPLATE.mean(0)
    missed = scored("--extractor", str(_run_extractor(tmp_path / "far", spread, 0.25)))
    assert missed["miss"].all() and (missed["score"] == 0).all()
    assert "20 of 20 faces missed (100.0%)" in capsys.readouterr().out
    # The nose 1 px off: a residual of 0.057 eye distances, a miss by this run's rule of 0.05 ...
    nose = TEMPLATE.clone()
    nose[2, 0] += 1.0
    path = str(_run_extractor(tmp_path / "nose", nose, 0.05))
    assert scored("--extractor", path)["miss"].all()
    # ... and not by a rule of 0.1 given here.
    assert not scored("--extractor", path, "--miss-threshold", "0.1")["miss"].any()


def test_a_bad_extractor_file_is_one_clear_line(version, tmp_path, capsys):
    from tests.arena.test_extraction import TEMPLATE

    folder, _ = version
    reals, _ = toy(2, SIZE, seed=4)
    _write_images(tmp_path / "faces", reals, "a")
    base = ["score", "--detector", str(folder / "single.safetensors"), "--faces", str(tmp_path / "faces")]
    _run_extractor(tmp_path / "ok", TEMPLATE, 0.25)
    path = _run_extractor(tmp_path / "run", TEMPLATE, 0.25)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    for extra, match in (
        (["--extractor", str(path)], "does not match its round's manifest"),
        (["--extractor", str(tmp_path / "x.safetensors")], "no face extractor at"),
        (["--miss-threshold", "0.1"], "--miss-threshold applies to --extractor"),
        (
            [
                "--extractor",
                str(tmp_path / "ok" / "rounds" / "r0001" / "extractor.safetensors"),
                "--miss-threshold",
                "0",
            ],
            "must be > 0",
        ),
    ):
        assert main([*base, *extra, "--out", str(tmp_path / "s.csv")]) == 1
        err = capsys.readouterr().err
        assert match in err and err.count("\n") == 1, err
