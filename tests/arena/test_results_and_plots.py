"""The results table and the plots, on hand-built tables: schema checks, and CSVs that hold
exactly the numbers the plots draw."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from deepfake_arena.analysis.plots.core import (
    cat_and_mouse_table,
    heatmap_table,
    plot_cat_and_mouse,
    plot_heatmap,
    plot_run,
)
from deepfake_arena.results import load, to_table, write_results
from deepfake_arena.store.run_dir import RunStore
from tests.arena.fake_runs import row


def _row(**kw):
    return row(**{"detector": "d", **kw})


def _sawtooth(rounds=4):
    """Zero-day AUC 0.6 + 0.01 r, post AUC 0.9 + 0.01 r, past 0.8, for one finetune detector."""
    rows = []
    for r in range(1, rounds + 1):
        rows.append(_row(round=r, detector_round=r, generation=r, phase="post", value=0.9 + 0.01 * r))
        if r > 1:
            rows.append(
                _row(round=r, detector_round=r - 1, generation=r, phase="zero_day", value=0.6 + 0.01 * r)
            )
        for j in range(1, r):
            rows.append(_row(round=r, detector_round=r, generation=j, phase="past", value=0.8))
    return pd.DataFrame(rows)


def test_to_table_rejects_missing_and_extra_columns():
    with pytest.raises(ValueError, match="missing \\['n'\\]"):
        row = _row()
        del row["n"]
        to_table([row])
    with pytest.raises(ValueError, match="extra \\['bogus'\\]"):
        to_table([_row(bogus=1)])


def test_cat_and_mouse_csv_holds_the_drawn_numbers(tmp_path):
    df = _sawtooth()
    path = plot_cat_and_mouse(df, tmp_path)
    csv = pd.read_csv(path.with_suffix(".csv"))
    assert len(csv) == 4 + 3
    zd = csv[csv.phase == "zero_day"].sort_values("round")
    np.testing.assert_allclose(zd.value, [0.62, 0.63, 0.64])
    assert list(cat_and_mouse_table(df).phase[:3]) == ["post", "zero_day", "post"]
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_heatmap_cells(tmp_path):
    df = _sawtooth()
    table = heatmap_table(df)
    cell = {(t.detector_round, t.generation): t.value for t in table.itertuples()}
    assert cell[(3, 3)] == pytest.approx(0.93)  # post on the diagonal
    assert cell[(3, 4)] == pytest.approx(0.64)  # zero-day: version 3 on generation 4
    assert cell[(3, 1)] == pytest.approx(0.8)  # past
    assert len(cell) == 4 + 3 + 6
    path = plot_heatmap(df, tmp_path)
    assert len(pd.read_csv(path.with_suffix(".csv"))) == len(cell)


def test_load_reads_only_committed_rounds(tmp_path):
    store = RunStore.create(tmp_path / "run", "x", json.dumps({"rounds": 3}), {})
    for r in (1, 2):
        tmp = store.begin_round(r)
        write_results(tmp / "results.parquet", [_row(round=r)])
        store.commit_round(r, tmp)
    tmp = store.begin_round(3)  # in flight: not committed
    write_results(tmp / "results.parquet", [_row(round=3)])
    df = load(store.dir)
    assert sorted(df["round"]) == [1, 2]
    assert list(df.columns)[:3] == ["run", "seed", "round"]
    paths = plot_run(store.dir)
    assert all(p.exists() for p in paths)


def test_load_errors_on_a_non_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an arena run directory"):
        load(tmp_path)


def test_analysis_tools_do_not_import_torch():
    code = (
        "import sys, deepfake_arena.results, deepfake_arena.analysis.plots.core, deepfake_arena.cli;"
        " sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
