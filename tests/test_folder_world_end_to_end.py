"""A tiny simulation on real faces: `arena ingest`, then `arena run` with world.kind=folder, through Ray."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import deepfake_arena.results
from deepfake_arena.analysis.plots.core import plot_dir
from deepfake_arena.world.faceset import Faceset
from deepfake_arena.world.ingest import IngestOptions, ingest
from tests.arena.ingest_helpers import LONDON_CREDIT, copy_identities, needs_faces
from tests.conftest import QUICKSTART, TINY
from tests.conftest import arena_cli as _arena

pytestmark = [pytest.mark.slow, needs_faces]


def test_ingest_then_run_on_real_faces(tmp_path):
    src, lm = copy_identities(tmp_path, 16)  # TINY asks for 8 + 6 + 2 identities
    faceset = tmp_path / "faceset"
    proc = _arena("ingest", str(src), "--out", str(faceset), "--size", "32", "--landmarks", str(lm),
                  "--credit", LONDON_CREDIT, "--quiet", "--workers", "2", "--batch", "8")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "seen 32 = ingested 32 + quarantined 0" in proc.stdout
    # Ray workers give the same faceset as one in-process worker.
    ingest(src, tmp_path / "local", IngestOptions(size=32, landmarks=lm, batch=8, progress=False))
    ray_fs, local_fs = (
        Faceset(faceset, ("file", "landmarks5")),
        Faceset(tmp_path / "local", ("file", "landmarks5")),
    )
    assert ray_fs.index.file.tolist() == local_fs.index.file.tolist()
    assert torch.equal(ray_fs.images(np.arange(32)), local_fs.images(np.arange(32)))
    runs = tmp_path / "runs"
    proc = _arena("run", str(QUICKSTART), *TINY, "rounds=2", "world.kind=folder", f"world.path={faceset}",
                  "--name", "real", "--runs-dir", str(runs))  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = runs / "real"
    df = deepfake_arena.results.load(run)
    assert set(df["round"]) == {1, 2} and df.value.notna().all()
    assert {"zero_day", "post", "past"} <= set(df.phase)
    resolved = json.loads((run / "spec.resolved.json").read_text())
    assert resolved["world"]["kind"] == "folder" and resolved["world"]["credit"] == LONDON_CREDIT
    for r in (1, 2):
        assert (run / "rounds" / f"r{r:04d}" / "samples.png").stat().st_size > 10_000
    assert (run / "report" / "cat_and_mouse_auc.png").stat().st_size > 10_000
    # A branch that puts an extractor in front of the detectors trains one in its first round.
    extractor = "extractor={steps: 40, faces: 64, batch_size: 16}"
    proc = _arena("resume", str(run), "rounds=3", extractor, "--force")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (branch,) = runs.glob("real-branch-*")
    assert (branch / "rounds" / "r0003" / "extractor.safetensors").is_file()
    assert json.loads((branch / "rounds" / "r0003" / "extractor.json").read_text())["steps"] == 40
    got = deepfake_arena.results.load(branch)
    assert set(got[got.metric == "extractor_miss"]["round"]) == {3}
    old = got[got["round"] <= 2].drop(columns="run").reset_index(drop=True)
    pd.testing.assert_frame_equal(old, df.drop(columns="run").reset_index(drop=True), check_exact=True)
    bad = _arena("run", str(QUICKSTART), "world.kind=folder", f"world.path={tmp_path / 'nope'}",
                 "--runs-dir", str(runs))  # fmt: skip
    assert bad.returncode == 1 and "no faceset at" in bad.stderr and "arena ingest" in bad.stderr


def test_faces_go_through_the_extractor_and_a_sealed_strain_attacks_it(tmp_path):
    src, lm = copy_identities(tmp_path, 16)
    faceset = tmp_path / "faceset"
    ingest(src, faceset, IngestOptions(size=32, landmarks=lm, batch=8, progress=False))
    runs = tmp_path / "runs"
    spec = [
        str(QUICKSTART), *TINY, "rounds=2", "world.kind=folder", f"world.path={faceset}",
        "extractor={steps: 80, faces: 64, batch_size: 16}",
        "vault.strains=[{family: blend, genes: {extractor_attack: whitebox, extractor_budget: 0.03, "
        "extractor_steps: 4}}]",
        "vault.reals=8", "vault.fakes_per_strain=8", "--runs-dir", str(runs),
    ]  # fmt: skip
    ref = _arena("run", *spec, "--name", "ref")
    assert ref.returncode == 0, ref.stdout[-3000:] + ref.stderr[-3000:]
    # Killed in round 2, then resumed: round 2 must read the extractor back from round 1's files.
    killed = _arena("run", *spec, "--name", "ext", env={"ARENA_FAULT": "after_make:2"})
    assert killed.returncode == 137, killed.stderr[-3000:]
    resumed = _arena("resume", str(runs / "ext"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    run = runs / "ext"
    df = deepfake_arena.results.load(run)
    key = ["round", "detector", "detector_round", "strain", "generation", "phase", "metric"]
    both = [deepfake_arena.results.load(runs / n).drop(columns="run").sort_values(key).reset_index(drop=True)
            for n in ("ext", "ref")]  # fmt: skip
    pd.testing.assert_frame_equal(both[0], both[1], check_exact=True)
    miss = df[df.metric == "extractor_miss"]
    assert set(miss.phase) == {"zero_day", "post", "past", "sealed"}
    assert miss.value.between(0, 1).all() and (miss.ci_low <= miss.value).all()
    pooled = miss[(miss.strain == "all") & (miss.phase == "post")]
    assert (pooled.n == 3 * 8).all()  # every eval fake of the 3 strains went through the extractor
    assert len(df[df.metric == "extractor_miss_real"]) > 0
    report = json.loads((run / "rounds" / "r0001" / "extractor.json").read_text())
    assert report["mean_error_px"] > 0 and 0 <= report["eval_real_miss_rate"] <= 1
    assert (run / "rounds" / "r0001" / "extractor.safetensors").is_file()
    assert not (run / "rounds" / "r0002" / "extractor.safetensors").exists()
    # A branch that trains its extractor otherwise trains its own; its rounds read that one.
    branched = _arena("resume", str(run), "rounds=4", "extractor.width=8", "--force")
    assert branched.returncode == 0, branched.stdout[-3000:] + branched.stderr[-3000:]
    (branch,) = runs.glob("ext-branch-*")
    from deepfake_arena.store.round_files import load_detector

    _, meta = load_detector(branch / "rounds" / "r0003" / "extractor.safetensors")
    assert meta["width"] == 8 and meta["trained_for"]["width"] == 8
    _, meta = load_detector(run / "rounds" / "r0001" / "extractor.safetensors")
    assert meta["trained_for"]["width"] == 16
    assert not (branch / "rounds" / "r0004" / "extractor.safetensors").exists()
    (plot,) = [p for p in plot_dir(run) if p.name == "extractor_miss"]
    drawn = pd.read_csv(plot.csv)
    fresh = drawn[drawn.line == "fakes of the round"]
    assert fresh["round"].tolist() == [1, 2] and (fresh.n == 3 * 8).all()
    assert set(drawn.line) == {"fakes of the round", "sealed vault fakes", "reals", "family blend"}
    sealed = miss[(miss.phase == "sealed") & (miss.strain != "all")]
    assert set(sealed.family) == {"blend"} and (sealed.n == 8).all()
