"""The embedded default, run as the README runs it: it must finish and show the race."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

import deepfake_arena.results
from tests.conftest import QUICKSTART, REPO

pytestmark = pytest.mark.slow


def test_quickstart_shows_the_race(tmp_path):
    t0 = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "deepfake_arena.cli",
            "run",
            str(QUICKSTART),
            "--name",
            "qs",
            "--runs-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    wall = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "cat-and-mouse plot:" in proc.stdout
    df = deepfake_arena.results.load(tmp_path / "qs")
    auc = df[(df.metric == "auc") & (df.strain == "all")]
    for det, g in auc[auc.strategy != "frozen"].groupby("detector"):
        zero_day = g[g.phase == "zero_day"].set_index("round").value
        post = g[g.phase == "post"].set_index("round").value.loc[zero_day.index]
        # The sawtooth: on average over rounds, retraining recovers what the new generation took.
        assert (post - zero_day).mean() > 0, f"{det}: post {post.tolist()} vs zero-day {zero_day.tolist()}"
    frozen = auc[(auc.strategy == "frozen") & (auc.phase == "post")].sort_values("round").value
    assert frozen.iloc[-1] < frozen.iloc[0], "a frozen detector decays against evolving generators"
    print(f"quickstart wall time {wall:.0f} s")
    # The README quotes this run's figures (docs/img/quickstart_figures.json, `make readme-figures`).
    from benchmarks import readme_figures

    quoted = json.loads(readme_figures.FIGURES.read_text())
    for key, value in readme_figures.derive(tmp_path / "qs").items():
        stale = f"stale README figure {key}: run make readme-figures"
        assert quoted[key] == (value if value is None else pytest.approx(value, abs=0.011)), stale
