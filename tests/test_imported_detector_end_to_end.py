"""End to end through real Ray: a detector deployed with published MesoNet weights.

One tiny run (the TINY overrides, 3 rounds at 32 px): `meso4-finetune` as in the quickstart, and
`published` = `meso4-published` with Keras HDF5 weights the test writes, strategy frozen. The
imported detector meets the generators from round 1's zero-day on and never trains.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import deepfake_arena.results
from deepfake_arena.detectors.weights_import import import_weights
from deepfake_arena.rounds.state import load_version
from tests.conftest import QUICKSTART, TINY, arena_cli
from tests.detectors.keras_files import random_published, write_keras_h5

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("imported")
    layers, names = random_published("meso4", np.random.default_rng(0))
    h5 = write_keras_h5(tmp / "Meso4_test.h5", layers, names)
    overrides = [
        *TINY,
        "detectors.1.name=published",
        "detectors.1.arch=meso4-published",
        f"detectors.1.weights={{path: {h5}}}",
    ]
    proc = arena_cli("run", str(QUICKSTART), *overrides, "--name", "imp", "--runs-dir", str(tmp / "runs"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp / "runs" / "imp", h5


def test_the_imported_detector_is_deployed_from_round_one_and_never_trains(run):
    run_dir, h5 = run
    df = deepfake_arena.results.load(run_dir)
    zero_day = df[df.phase == "zero_day"]
    assert set(zero_day[zero_day["round"] == 1].detector) == {"published"}
    pub = df[df.detector == "published"]
    assert set(pub.detector_round) == {0} and set(pub.arch) == {"meso4-published"}
    assert set(zero_day[zero_day.detector == "published"]["round"]) == {1, 2, 3}
    imported = import_weights("meso4-published", {}, h5)
    for r in (1, 3):
        rdir = run_dir / "rounds" / f"r000{r}"
        version = load_version(rdir, "published")
        assert version.times_trained == 0 and version.trained_round == 0
        assert all(np.array_equal(version.weights[k], v.numpy()) for k, v in imported.items())
        assert json.loads((rdir / "training.json").read_text())["published"] is None


def test_a_bad_weights_file_stops_before_ray_with_one_line(tmp_path):
    (tmp_path / "x.h5").write_bytes(b"junk")
    proc = arena_cli(
        "run",
        str(QUICKSTART),
        "detectors.1.arch=meso4-published",
        f"detectors.1.weights={{path: {tmp_path / 'x.h5'}}}",
        "--runs-dir",
        str(tmp_path),
    )
    assert proc.returncode == 1
    assert "detectors.1.weights:" in proc.stderr and "not a readable HDF5 file" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
