"""Every plot of `arena plot` on hand-built runs: the PNG exists and its CSV holds the numbers of
the table it was drawn from (tests/arena/fake_runs.py gives the known values)."""

import json

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from deepfake_arena.analysis import derived as analysis
from deepfake_arena.analysis.plots.core import plot_cat_and_mouse, plot_dir, plot_run
from tests.arena.fake_runs import FROZEN, ROUNDS, make_run, population


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    run = make_run(root, "one", sealed=True)
    plots = {p.name: p for p in plot_dir(run)}
    return run, plots


def _csv(plots, name) -> pd.DataFrame:
    p = plots[name]
    assert p.path is not None, p.note
    assert p.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.path.stat().st_size > 5_000
    return pd.read_csv(p.csv)


def test_every_plot_is_drawn_and_the_extractor_one_left_out_without_an_extractor(drawn):
    run, plots = drawn
    assert list(plots) == [
        "cat_and_mouse",
        "decay_gap",
        "heatmap",
        "forgetting",
        "vault_gap",
        "red_queen",
        "lineage",
        "samples",
    ]
    assert all(p.path is not None and p.path.parent == run / "report" for p in plots.values())
    assert next(iter(plots.values())).path.name == "cat_and_mouse_auc.png"  # launch prints it first


def test_decay_gap_csv(drawn):
    csv = _csv(drawn[1], "decay_gap")
    mean = csv[csv.kind == "mean"].set_index(["detector", "gap"]).value
    assert mean[("ft", 1)] == pytest.approx(0.4) and mean[("ft", 0)] == pytest.approx(0.9)
    assert mean[("ft", -4)] == pytest.approx(0.5)  # version 5 on generation 1
    np.testing.assert_allclose([mean[("fz", k)] for k in range(ROUNDS)], FROZEN)
    assert (csv.kind == "cell").sum() == len(analysis.score_matrix(analysis.load_runs([drawn[0]])))


def test_forgetting_csv(drawn):
    csv = _csv(drawn[1], "forgetting")
    per_gen = csv[(csv.kind == "per_generation") & (csv.detector == "ft")].sort_values("generation")
    np.testing.assert_allclose(per_gen.forgetting, [0.4, 0.3, 0.2, 0.1])
    bars = csv[csv.kind == "mean_over_generations"].set_index("detector").value
    assert bars["ft"] == pytest.approx(0.25) and bars["fz"] == pytest.approx(0.01)


def test_vault_gap_csv_and_external_references(drawn):
    csv = _csv(drawn[1], "vault_gap")
    ours = csv[csv.source == "this run"].set_index(["detector", "set"]).value
    assert ours[("ft", "gap")] == pytest.approx(0.3) and ours[("ft", "sealed")] == pytest.approx(0.6)
    assert ours[("fz", "seen")] == pytest.approx(np.mean(FROZEN))
    refs = csv[csv.source == "external reference"]
    assert sorted(refs.value.round(4)) == [0.6518, 0.708, 0.8256, 0.964]


def test_red_queen_csv_matches_population_files(drawn):
    run, plots = drawn
    csv = _csv(plots, "red_queen")
    fit = csv[(csv.series == "population_fitness") & (csv.stat == "mean")].set_index("round").value
    for r in range(1, ROUNDS + 1):
        stored = json.loads((run / "rounds" / f"r{r:04d}" / "population.json").read_text())["strains"]
        assert fit[r] == pytest.approx(np.mean([s["fitness"] for s in stored]))
    unlocks = csv[csv.series == "family_unlock"].set_index("family").debut_round
    assert unlocks["autoencoder"] == 3 and unlocks["blend"] == 1
    zd = csv[(csv.series == "detector_score") & (csv.phase == "zero_day") & (csv.detector == "ft")]
    np.testing.assert_allclose(zd.value, 0.4)


def test_lineage_csv(drawn):
    csv = _csv(drawn[1], "lineage")
    assert len(csv) == sum(len(population(r)) for r in range(1, ROUNDS + 1))
    b1 = csv[csv.strain == "b1"]
    assert b1.lane.nunique() == 1 and sorted(b1["round"]) == list(range(1, ROUNDS + 1))
    assert csv[csv.strain == "a2"].parents.iloc[0] == "a1"


def test_samples_csv(drawn):
    csv = _csv(drawn[1], "samples")
    assert sorted(csv["round"].unique()) == list(range(1, ROUNDS + 1))
    fakes = csv[csv.kind == "fake"]
    first = fakes[fakes.pair == 0].set_index("round").strain
    assert first[3] == "a1"  # the fittest strain of round 3 (fitness 0.6)
    assert csv.credit.isna().all()  # synthetic world: no credit line


def test_several_seeds_are_averaged_with_a_ci(tmp_path):
    runs = [make_run(tmp_path, f"s{s}", seed=s, rounds=3) for s in (0, 1)]
    path = plot_cat_and_mouse(analysis.load_runs(runs), tmp_path)
    cm = pd.read_csv(path.with_suffix(".csv"))
    zd = cm[(cm.detector == "ft") & (cm.phase == "zero_day")]
    np.testing.assert_allclose(zd.value, 0.35)  # seeds 0 and 1: 0.4 and 0.3
    # a Student t interval over the two seeds: 0.35 +- t(0.975, 1) * 0.05 (sd / sqrt(n))
    half = scipy.stats.t.ppf(0.975, 1) * 0.05
    np.testing.assert_allclose(zd.ci_low, 0.35 - half)
    np.testing.assert_allclose(zd.ci_high, 0.35 + half)
    assert (cm.n_runs == 2).all()


def test_plot_dir_errors_are_one_line(tmp_path):
    with pytest.raises(ValueError, match="not an arena run directory"):
        plot_run(tmp_path)


def test_arena_plot_on_a_sweep_without_torch(tmp_path):
    """`arena plot SWEEP`: plots per condition (seeds pooled), skipped plots said, torch never imported."""
    import subprocess
    import sys

    from tests.conftest import REPO

    sweep = tmp_path / "sw"
    for s in (0, 1):
        make_run(sweep, f"seed{s}", seed=s, rounds=2)
    members = [{"name": f"seed{s}", "settings": {"seed": s}} for s in (0, 1, 2)]  # seed2 not started
    (sweep / "sweep.json").write_text(json.dumps({"members": members}))
    argv = ["plot", str(sweep)]
    code = (
        "import sys; from deepfake_arena.cli import main; "
        + f"rc = main({argv!r}); sys.exit(rc or 9 * ('torch' in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # 9: plotting imported torch
    lines = proc.stdout.splitlines()
    assert any(line.startswith("skipped vault_gap: no sealed") for line in lines)
    folder = sweep / "report" / "sw--2-seeds-"
    cm = pd.read_csv(folder / "cat_and_mouse_auc.csv")
    assert (cm.n_runs == 2).all() and str(folder / "cat_and_mouse_auc.png") in lines
