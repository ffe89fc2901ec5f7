"""A tiny simulation on real faces: `arena ingest`, then `arena run` with world.kind=folder, through Ray."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import arena.results
from arena.faceset import Faceset
from arena.ingest import IngestOptions, ingest
from tests.arena.ingest_helpers import LONDON_CREDIT, copy_identities, needs_faces
from tests.conftest import QUICKSTART, REPO, TINY

pytestmark = [pytest.mark.slow, needs_faces]


def _arena(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "arena.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=600
    )


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
    df = arena.results.load(run)
    assert set(df["round"]) == {1, 2} and df.value.notna().all()
    assert {"zero_day", "post", "past"} <= set(df.phase)
    resolved = json.loads((run / "spec.resolved.json").read_text())
    assert resolved["world"]["kind"] == "folder" and resolved["world"]["credit"] == LONDON_CREDIT
    for r in (1, 2):
        assert (run / "rounds" / f"r{r:04d}" / "samples.png").stat().st_size > 10_000
    assert (run / "report" / "cat_and_mouse_auc.png").stat().st_size > 10_000
    bad = _arena("run", str(QUICKSTART), "world.kind=folder", f"world.path={tmp_path / 'nope'}",
                 "--runs-dir", str(runs))  # fmt: skip
    assert bad.returncode == 1 and "no faceset at" in bad.stderr and "arena ingest" in bad.stderr
