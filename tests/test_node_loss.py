"""A node lost mid-round: two simulated Ray nodes on one machine (ray.cluster_utils.Cluster);
the worker node is removed while the round's work runs on it, and the run still completes with
the results of an uninterrupted run."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import deepfake_arena.results
from deepfake_arena.results import KEY
from tests.conftest import QUICKSTART, REPO, TINY

pytestmark = pytest.mark.slow
TWO = [*TINY, "rounds=2"]


def _table(run_dir) -> pd.DataFrame:
    key = [k for k in KEY if k != "run"]
    return deepfake_arena.results.load(run_dir).drop(columns="run").sort_values(key).reset_index(drop=True)


def test_node_removed_mid_round(tmp_path):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker = cluster.add_node(num_cpus=1)
    try:
        cmd = [
            sys.executable,
            "-m",
            "deepfake_arena.cli",
            "run",
            str(QUICKSTART),
            *TWO,
            "--name",
            "n",
            "--runs-dir",
            str(tmp_path),
            "--address",
            cluster.address,
        ]
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        removed = False
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("[round 2/2] retrain") and not removed:
                cluster.remove_node(worker, allow_graceful=False)
                removed = True
        _, err = proc.communicate(timeout=600)
        assert removed
        assert proc.returncode == 0, err
    finally:
        cluster.shutdown()
    ref = subprocess.run(
        [
            sys.executable,
            "-m",
            "deepfake_arena.cli",
            "run",
            str(QUICKSTART),
            *TWO,
            "--name",
            "ref",
            "--runs-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ref.returncode == 0, ref.stderr
    pd.testing.assert_frame_equal(_table(tmp_path / "n"), _table(tmp_path / "ref"), check_exact=True)
