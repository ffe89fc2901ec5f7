"""benchmarks/sim_to_real.py end to end at a tiny size: a labelled faceset built here (real London
Set photos; "fakes" are other photos labelled fake, by identity), a real `arena run` in a folder
world of its train half's reals, and the table of AUCs clustered by source beside the cues."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from deepfake_arena.world.faceset import labelled_index
from deepfake_arena.world.ingest import IngestOptions, ingest
from tests.arena.ingest_helpers import copy_identities, needs_faces
from tests.conftest import REPO

pytestmark = [pytest.mark.slow, needs_faces]


def _labelled(tmp_path, n_ids=10):
    src, lm = copy_identities(tmp_path, n_ids)
    files = sorted(p.relative_to(src).as_posix() for p in src.rglob("*.jpg"))
    ids = sorted({f.split("/")[0] for f in files})
    # Every identity has real photos and "fake" ones; each photo is its own source (clip).
    rows = [{"file": f, "label": i % 2, "method": ("swap", "reenact")[(i // 2) % 2] if i % 2 else ""}
            for i, f in enumerate(files)]  # fmt: skip
    labels = tmp_path / "labels.csv"
    pd.DataFrame(rows).to_csv(labels, index=False)
    faceset = tmp_path / "set"
    ingest(src, faceset, IngestOptions(size=32, landmarks=lm, labels=labels, progress=False))
    assert len(ids) == n_ids
    return src, faceset


def test_sim_to_real_smoke(tmp_path):
    src, faceset = _labelled(tmp_path)
    work = tmp_path / "work"
    proc = subprocess.run(
        [sys.executable, "benchmarks/sim_to_real.py", str(faceset), "--src", str(src), "--smoke",
         "--work", str(work)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for name in ("cue: file size", "cue: sharpness", "cue: brightness", "reference: meso4",
                 "arena: meso4-finetune", "arena: meso4-frozen", "AUC swap", "AUC reenact",
                 "baseline: best trivial cue", "| ratio |"):  # fmt: skip
        assert name in out, out
    # The arena trained in a world of the train half's REAL faces only, identities disjoint.
    index = labelled_index(faceset)
    world = pd.read_parquet(work / "world" / "index.parquet")
    assert set(world["file"]) <= set(index.loc[index["label"] == 0, "file"])
    run_ids = set(world["identity"])
    header = out.splitlines()[0]
    assert "identities disjoint" in header
    test_ids = set(index["identity"]) - run_ids
    assert test_ids and (work / "runs" / "sim" / "rounds").is_dir()


def test_an_unlabelled_faceset_is_a_one_line_error(tmp_path):
    src, lm = copy_identities(tmp_path, 4)
    ingest(src, tmp_path / "plain", IngestOptions(size=32, landmarks=lm, progress=False))
    proc = subprocess.run([sys.executable, "benchmarks/sim_to_real.py", str(tmp_path / "plain")],
                          cwd=REPO, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 1 and "not a labelled faceset" in proc.stderr
    assert "Traceback" not in proc.stderr


def _bench():
    import importlib.util

    spec = importlib.util.spec_from_file_location("sim_to_real", REPO / "benchmarks" / "sim_to_real.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_interval_resamples_sources_not_faces():
    """Frames of a clip are not independent: 4 clips of 50 near-identical frames give a wide
    interval, the same scores as 200 independent sources a narrow one."""
    import numpy as np

    bench = _bench()
    rng = np.random.default_rng(0)
    y = np.repeat([0, 0, 1, 1], 50)
    clip_score = np.repeat([0.2, 0.6, 0.5, 0.9], 50)
    p = clip_score + rng.normal(0, 0.01, 200)
    value, lo, hi = bench.clustered_auc(y, p, np.repeat(["a", "b", "c", "d"], 50), 500, 0)
    _, lo_f, hi_f = bench.clustered_auc(y, p, np.arange(200).astype(str), 500, 0)
    assert lo <= value <= hi
    assert hi - lo > 0.3 and hi_f - lo_f < 0.15
    # A cue's raw values (not probabilities) are ranked first; the direction flips the AUC.
    assert bench.auc(y, 1000 * p) == value and abs(bench.auc(y, -p) - (1 - value)) < 1e-12
