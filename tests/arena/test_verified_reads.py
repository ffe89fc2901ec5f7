"""Readers check every round file they read against its round's manifest (issue 25 #3): one
flipped bit in a results table is reported, never silently turned into other numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepfake_arena.cli import main
from deepfake_arena.results import load
from deepfake_arena.store.atomic import sha256_file
from deepfake_arena.store.ledger import CorruptFile
from deepfake_arena.store.round_files import save_detector
from tests.arena.fake_runs import make_run


def _flip(path, at=-40):
    data = bytearray(path.read_bytes())
    data[at] ^= 0x04
    path.write_bytes(bytes(data))


@pytest.fixture
def run(tmp_path):
    return make_run(tmp_path, "run", rounds=3)


def test_load_refuses_a_flipped_bit_in_results(run):
    assert len(load(run))
    _flip(run / "rounds" / "r0002" / "results.parquet")
    with pytest.raises(CorruptFile, match="r0002/results.parquet does not match"):
        load(run)


def test_load_refuses_a_run_whose_ledger_is_missing(run):
    (run / "ledger.jsonl").unlink()
    with pytest.raises(CorruptFile, match="ledger.jsonl is missing"):
        load(run)


def test_status_plot_report_effects_say_so(run, capsys):
    _flip(run / "rounds" / "r0002" / "results.parquet")
    assert main(["status", str(run)]) == 0
    out = capsys.readouterr().out
    assert "state:     damaged" in out and "complete" not in out
    assert "r0002/results.parquet does not match" in out
    for argv in (["plot", str(run)], ["report", str(run)], ["effects", str(run), "--no-plots"]):
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "results.parquet does not match" in err, (argv, err)


def test_plot_skips_only_the_figures_of_a_damaged_population(run, capsys):
    _flip(run / "rounds" / "r0003" / "population.json", at=5)
    assert main(["plot", str(run)]) == 0
    out = capsys.readouterr().out
    assert "skipped lineage:" in out and "population.json does not match" in out
    assert (run / "report" / "cat_and_mouse_auc.png").is_file()


def test_score_checks_a_detector_against_its_round_manifest(tmp_path, capsys):
    rdir = tmp_path / "run" / "rounds" / "r0001"
    (rdir / "detectors").mkdir(parents=True)
    path = rdir / "detectors" / "d.safetensors"
    meta = {"arch": "meso4", "arch_config": {}, "resolution": 32, "memory_parts": []}
    save_detector(path, {"w": np.zeros(3, np.float32)}, meta)
    manifest = {"round": 1, "files": {"detectors/d.safetensors": sha256_file(path)}}
    (rdir / "manifest.json").write_text(json.dumps(manifest))
    _flip(path)
    faces = tmp_path / "faces"
    faces.mkdir()
    argv = ["score", "--detector", str(path), "--faces", str(faces), "--out", str(tmp_path / "s.csv")]
    assert main(argv) == 1
    assert "does not match its round's manifest" in capsys.readouterr().err
