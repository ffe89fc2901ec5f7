"""The extractor-miss plot on hand-built results rows: what each line pools, and over seeds."""

import numpy as np
import pandas as pd
import pytest

from deepfake_arena.analysis.plots.extractor import has_extractor, miss_table, plot_extractor

# Misses (k of n) of round 1 and 2's fakes per strain: two blend strains, one diffusion strain.
STRAINS = {
    ("blend-1", "blend"): [(1, 8), (2, 8)],
    ("blend-2", "blend"): [(3, 8), (0, 8)],
    ("diff-1", "diffusion"): [(4, 8), (7, 8)],
}


def _row(run, seed, rnd, det, strain, family, phase, metric, k, n):
    return {"run": run, "seed": seed, "round": rnd, "detector": det, "strain": strain, "family": family,
            "generation": rnd, "phase": phase, "metric": metric, "value": k / n, "ci_low": 0.0,
            "ci_high": 1.0, "n": n}  # fmt: skip


def results(run="a", seed=0, extra=0) -> pd.DataFrame:
    rows = []
    for det in ("meso4", "xception"):  # every detector's rows describe the same extracted faces
        for rnd in (1, 2):
            for (strain, family), kn in STRAINS.items():
                k, n = kn[rnd - 1]
                rows.append(_row(run, seed, rnd, det, strain, family, "post", "extractor_miss", k + extra, n))
            total = sum(kn[rnd - 1][0] + extra for kn in STRAINS.values())
            rows.append(_row(run, seed, rnd, det, "all", "all", "post", "extractor_miss", total, 24))
            rows.append(_row(run, seed, rnd, det, "all", "all", "post", "extractor_miss_real", 1, 20))
            rows.append(_row(run, seed, rnd, det, "all", "all", "sealed", "extractor_miss", 2, 10))
            rows.append(_row(run, seed, rnd, det, "all", "all", "post", "auc", 9, 10))
    return pd.DataFrame(rows)


def test_lines_pool_strains_per_family_once_whatever_the_detectors(tmp_path):
    t = miss_table(results()).set_index(["round", "line"])
    assert len(t) == 2 * 5, "3 pooled lines and 2 families per round, one copy across the 2 detectors"
    assert t.loc[(1, "family blend"), "value"] == pytest.approx(4 / 16)
    assert t.loc[(2, "family blend"), "value"] == pytest.approx(2 / 16)
    assert t.loc[(2, "family diffusion"), "value"] == 7 / 8 and t.loc[(2, "family diffusion"), "n"] == 8
    assert t.loc[(1, "fakes of the round"), "value"] == pytest.approx(8 / 24)
    assert t.loc[(1, "reals"), "value"] == pytest.approx(0.05)
    assert t.loc[(1, "sealed vault fakes"), "value"] == pytest.approx(0.2)
    # Wilson 95% interval of 4 of 16: (0.102, 0.495)
    assert t.loc[(1, "family blend"), "ci_low"] == pytest.approx(0.1018, abs=1e-3)
    assert t.loc[(1, "family blend"), "ci_high"] == pytest.approx(0.4950, abs=1e-3)
    path = plot_extractor(results(), tmp_path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5_000
    assert len(pd.read_csv(path.with_suffix(".csv"))) == 10


def test_several_seeds_are_averaged_with_a_ci_over_seeds(tmp_path):
    df = pd.concat([results("a", 0), results("b", 1, extra=1)], ignore_index=True)
    csv = pd.read_csv(plot_extractor(df, tmp_path).with_suffix(".csv")).set_index(["round", "line"])
    both = [4 / 16, 6 / 16]  # seed 1 misses one more face per strain
    assert csv.loc[(1, "family blend"), "value"] == pytest.approx(np.mean(both))
    half = 12.706204736174698 / 16  # t(0.975, df=1) * sem; two seeds 1/8 apart: sem = 1/16
    assert csv.loc[(1, "family blend"), "ci_low"] == pytest.approx(np.mean(both) - half)
    assert csv.loc[(1, "family blend"), "ci_high"] == pytest.approx(np.mean(both) + half)
    assert (csv.n_runs == 2).all()


def test_runs_without_an_extractor_skip_the_plot(tmp_path):
    df = results()
    assert has_extractor(df) and not has_extractor(df[df.metric == "auc"])
    assert "no face extractor" in plot_extractor(df[df.metric == "auc"], tmp_path)
    assert not list(tmp_path.iterdir())
