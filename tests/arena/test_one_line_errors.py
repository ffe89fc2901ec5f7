"""Damaged files and odd inputs end in one line naming the file, never a traceback (issue 25 #11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_arena.cli import main
from deepfake_arena.errors import ArenaUserError
from deepfake_arena.spec import load_spec, resolved_json
from deepfake_arena.store.run_dir import RunStore
from deepfake_arena.world.ingest.landmarks_file import LandmarksFile
from deepfake_arena.world.labels import read_label_file as read_labels

QUICKSTART = Path(__file__).resolve().parents[2] / "runs" / "quickstart.yaml"


@pytest.fixture
def run(tmp_path):
    spec, text = load_spec(QUICKSTART, ["rounds=2"])
    return RunStore.create(tmp_path / "run", text, resolved_json(spec), {}).dir


def _one_line(capsys, match):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and match in err, err


def test_missing_env_json(run, capsys):
    (run / "env.json").unlink()
    assert main(["resume", str(run)]) == 1
    _one_line(capsys, "env.json is missing or damaged")


def test_truncated_resolved_spec(run, capsys):
    spec = run / "spec.resolved.json"
    spec.write_bytes(spec.read_bytes()[:50])
    for argv in (["resume", str(run)], ["status", str(run)]):
        assert main(argv) == 1, argv
        _one_line(capsys, "spec.resolved.json is damaged")
    for argv in (["plot", str(run)], ["report", str(run)]):  # no rounds yet: that is said first
        assert main(argv) == 1, argv
        _one_line(capsys, "arena: error:")


def test_non_utf8_landmarks_line(tmp_path):
    lm = tmp_path / "lm.jsonl"
    lm.write_bytes(b'{"file": "a.jpg", "box": [0, 0, 9, 9]}\n{"file": "caf\xe9.jpg"}\n')
    with pytest.raises(ArenaUserError, match="lm.jsonl:2: not UTF-8"):
        LandmarksFile(lm)


@pytest.mark.parametrize("content", [b"", b"file,label\n\xff\xfe,1\n", b"\x00\x01\x02"])
def test_empty_or_non_utf8_labels(tmp_path, content):
    for name in ("labels.csv", "labels.json"):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ArenaUserError, match="--labels"):
            read_labels(path)


def test_score_out_under_a_file(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    argv = ["score", "--detector", "d.safetensors", "--faces", str(tmp_path)]
    assert main([*argv, "--out", str(tmp_path / "afile" / "s.csv")]) == 1
    _one_line(capsys, "is a file, not a folder")


@pytest.mark.parametrize("content", [b"{", b'{"members": [{"name": "../../x"}]}', b"\xff", b"[]"])
def test_damaged_sweep_index(tmp_path, capsys, content):
    (tmp_path / "sweep.json").write_bytes(content)
    for argv in (["status", str(tmp_path)], ["resume", str(tmp_path)]):
        assert main(argv) == 1, argv
        _one_line(capsys, "sweep.json is damaged")
