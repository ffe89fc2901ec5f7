"""External evaluation through Ray: a tiny labelled faceset of "real deepfakes" is scored every
round by every zero-day and post version (phase `external`), drawn and reported."""

from __future__ import annotations

import pandas as pd
import pytest

import deepfake_arena.results
from deepfake_arena.world.ingest import IngestOptions, ingest
from tests.arena.ingest_helpers import copy_identities, needs_faces
from tests.conftest import QUICKSTART, TINY
from tests.conftest import arena_cli as _arena

pytestmark = [pytest.mark.slow, needs_faces]


def test_every_version_scores_the_external_set_every_round(tmp_path):
    src, lm = copy_identities(tmp_path, 6)
    files = sorted(p.relative_to(src).as_posix() for p in src.rglob("*.jpg"))
    methods = ["faceswap", "deepfakes"]
    rows = [
        {"file": f, "label": i % 2, "method": methods[(i // 2) % 2] if i % 2 else "", "released": "2019-09"}
        for i, f in enumerate(files)
    ]
    labels = tmp_path / "labels.csv"
    pd.DataFrame(rows).to_csv(labels, index=False)
    faceset = tmp_path / "real"
    ingest(src, faceset, IngestOptions(size=32, landmarks=lm, labels=labels, progress=False))
    runs = tmp_path / "runs"
    base = [str(QUICKSTART), *TINY, "rounds=2"]
    external = f"evaluation.external=[{{name: real, path: {faceset}}}]"
    proc = _arena("run", *base, external, "--name", "ext", "--runs-dir", str(runs))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    df = deepfake_arena.results.load(runs / "ext")
    ext = df[df.phase == "external"]
    assert set(ext["round"]) == {1, 2} and set(ext.family) == {"real"}
    assert set(ext.strain) == {"faceswap", "deepfakes", "all"}
    auc = ext[(ext.metric == "auc") & (ext.strain == "all")]
    assert (auc.n == 12).all() and auc.value.between(0, 1).all()
    versions = {(d, r): sorted(g.detector_round) for (d, r), g in auc.groupby(["detector", "round"])}
    # Round 1: the post versions. Round 2: the fine-tuned detector's deployed (1) and retrained (2)
    # versions; the frozen one's single version, written once.
    assert versions == {
        ("meso4-finetune", 1): [1], ("meso4-frozen", 1): [1],
        ("meso4-finetune", 2): [1, 2], ("meso4-frozen", 2): [1],
    }  # fmt: skip
    # A version kept from round 1 scores the same in round 2 (its scores were reused, not redone).
    ft = auc[auc.detector == "meso4-finetune"].set_index(["round", "detector_round"]).value
    assert ft[(1, 1)] == ft[(2, 1)]
    # `arena score` of the saved round-1 version on the same faceset agrees (32 px: no resize).
    version = runs / "ext" / "rounds" / "r0001" / "detectors" / "meso4-finetune.safetensors"
    out = tmp_path / "scores.csv"
    scored = _arena("score", "--detector", str(version), "--faces", str(faceset), "--out", str(out),
                    "--bootstrap", "0")  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    line = next(x for x in scored.stdout.splitlines() if x.startswith("auc "))
    assert float(line.split()[1]) == pytest.approx(ft[(1, 1)], abs=1e-4)
    assert "method faceswap: 6 real vs 3 fake faces" in scored.stdout
    # The line in the cat-and-mouse plot and the report's section.
    csv = pd.read_csv(runs / "ext" / "report" / "cat_and_mouse_auc.csv", keep_default_na=False)
    assert set(csv["set"]) == {"", "real"}
    report = _arena("report", str(runs / "ext"), "--out", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "r.html").read_text()
    assert "External evaluation: real deepfakes" in text and "faceswap" in text
    # The external phase changes nothing else: the same run without it has the same other rows.
    proc = _arena("run", *base, "--name", "plain", "--runs-dir", str(runs))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    plain = deepfake_arena.results.load(runs / "plain").drop(columns="run")
    rest = df[df.phase != "external"].drop(columns="run")
    key = [c for c in deepfake_arena.results.KEY if c != "run"]
    pd.testing.assert_frame_equal(
        rest.sort_values(key).reset_index(drop=True),
        plain.sort_values(key).reset_index(drop=True),
        check_exact=True,
    )
