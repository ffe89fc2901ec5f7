"""`evaluation.external` is checked before Ray starts; external rows and their roles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from deepfake_arena.analysis.external import pooled, summary_table
from deepfake_arena.errors import SpecError
from deepfake_arena.rounds.external import ExternalSet, external_rows, load_external
from deepfake_arena.spec import validate_spec
from tests.arena.test_score_faces import _faceset


def _spec(tmp_path, *external):
    return {"detectors": [{"name": "d"}], "evaluation": {"external": list(external)}}


def _labelled(path, labels, methods):
    images = torch.arange(len(labels) * 3 * 8 * 8, dtype=torch.int64).remainder(256).to(torch.uint8)
    images = images.view(len(labels), 3, 8, 8)
    files = [f"f{i}" for i in range(len(labels))]
    cols = {"label": pd.array(labels, dtype="Int8"), "method": pd.array(methods, dtype="string")}
    _faceset(path, images, files, files, cols)


def test_external_sets_are_checked_before_anything_starts(tmp_path):
    _labelled(tmp_path / "ok", [0, 1, 1, 0], [None, "a", "b", None])
    spec = validate_spec(_spec(tmp_path, {"name": "ok", "path": str(tmp_path / "ok")}), check_names=False)
    assert spec.evaluation.external[0].path == str((tmp_path / "ok").resolve())
    _faceset(tmp_path / "plain", torch.zeros(2, 3, 8, 8, dtype=torch.uint8), ["a", "b"], ["a", "b"])
    _labelled(tmp_path / "fakes", [1, 1], ["a", "a"])
    cases = [
        ({"name": "x", "path": str(tmp_path / "none")}, "evaluation.external x: no faceset at"),
        ({"name": "x", "path": str(tmp_path / "plain")}, "has no labels; make it with: arena ingest"),
        ({"name": "x", "path": str(tmp_path / "fakes")}, "holds fake faces only"),
        ({"name": "a b", "path": str(tmp_path / "ok")}, "String should match pattern"),
    ]
    for ext, match in cases:
        with pytest.raises(SpecError, match=match) as info:
            validate_spec(_spec(tmp_path, ext), check_names=False)
        assert "\n" not in str(info.value)
    twice = [{"name": "ok", "path": str(tmp_path / "ok")}] * 2
    with pytest.raises(SpecError, match="repeated: ok"):
        validate_spec(_spec(tmp_path, *twice), check_names=False)


def test_an_external_set_is_read_resized_and_subsampled(tmp_path):
    _labelled(tmp_path / "ok", [0, 1, 1, 0, 1], [None, "b", "a", None, None])
    ext = load_external(str(tmp_path / "ok"), "ok", 16, seed=0, max_faces=None)
    assert ext.images.shape == (5, 3, 16, 16) and ext.images.dtype == np.uint8
    assert ext.methods == ["a", "b"] and ext.method_index.tolist() == [-1, 1, 0, -1, -2]
    sub = load_external(str(tmp_path / "ok"), "ok", 8, seed=0, max_faces=3)
    assert len(sub.labels) == 3
    assert (load_external(str(tmp_path / "ok"), "ok", 8, seed=0, max_faces=3).images == sub.images).all()


def test_external_rows_are_per_method_and_pooled_and_keep_their_set(tmp_path):
    from deepfake_arena.spec import RunSpec

    spec = RunSpec.model_validate({"detectors": [{"name": "d"}], "metrics": {"bootstrap": 0}})
    ext = ExternalSet("dfdc", np.zeros((5, 3, 8, 8), np.uint8), np.array([0, 1, 1, 0, 1], np.uint8),
                      np.array([-1, 1, 0, -1, -2], np.int32), ["a", "b"])  # fmt: skip
    base = {"run": "r", "seed": 0, "round": 2, "detector": "d", "arch": "meso4", "strategy": "finetune",
            "detector_round": 1, "generation": 2}  # fmt: skip
    rows = pd.DataFrame(external_rows(spec, base, np.array([0.1, 0.9, 0.2, 0.3, 0.8]), ext, None))
    assert set(rows.strain) == {"a", "b", "all"} and set(rows.family) == {"dfdc"}
    all_ = rows.strain == "all"
    assert (rows[~all_].method == rows[~all_].strain).all() and rows[all_].method.isna().all()
    assert set(rows.phase) == {"external"}
    auc = rows[rows.metric == "auc"].set_index("strain")
    assert auc.loc["b", "value"] == 1.0 and auc.loc["a", "value"] == 0.5 and auc.loc["all", "n"] == 5
    # Roles: the deployed (zero-day) version 1 and the post version 2 of round 2.
    arena = pd.DataFrame([{**base, "strain": "all", "family": "all", "phase": "zero_day", "metric": "auc"},
                          {**base, "detector_round": 2, "strain": "all", "family": "all", "phase": "post",
                           "metric": "auc"}])  # fmt: skip
    post = rows.assign(detector_round=2, value=rows.value + 0.0)
    df = pd.concat([arena, rows, post], ignore_index=True)
    got = pooled(df, "auc")
    assert sorted(zip(got.detector_round, got.phase, strict=True)) == [(1, "zero_day"), (2, "post")]
    table = summary_table(df, "auc")
    assert table["round 2"].tolist()[0] == f"{auc.loc['all', 'value']:.3f} -> {auc.loc['all', 'value']:.3f}"
    assert table.method.tolist()[0] == "all (pooled)"
