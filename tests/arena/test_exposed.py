"""Lab detectors (`exposed: false`): scored like the others, never met by the generators."""

from __future__ import annotations

import numpy as np
import pytest

from arena.errors import SpecError
from arena.generator_round import fitness_records
from arena.spec import validate_spec
from generators import FAMILIES
from generators.genome import default_genome
from generators.population import Strain


def _spec(*exposed: bool):
    dets = [{"name": f"d{i}", "exposed": e} for i, e in enumerate(exposed)]
    return validate_spec({"detectors": dets})


def test_every_detector_hidden_is_refused():
    with pytest.raises(SpecError, match="at least one detector must be exposed"):
        _spec(False, False)
    assert [d.exposed for d in _spec(True, False).detectors] == [True, False]


def test_only_exposed_detectors_select_the_strains():
    genome = default_genome(FAMILIES.get("blend").gene_space)
    strains = [Strain(f"blend-000{i}", genome, [], 1, []).to_dict() for i in range(2)]
    fakes = [{"ssim": np.ones(2), "psnr": np.full(2, 40.0), "spectral": 0.1, "seconds": 1.0}] * 2
    index = np.array([-1, 0, 0, 1, 1])
    probs = {
        "d0": np.array([0.5, 0.9, 0.9, 0.1, 0.1]),  # exposed: strain 1 evades it
        "d1": np.array([0.5, 0.1, 0.1, 0.9, 0.9]),  # a lab detector: strain 0 would evade it
    }
    fitness, records = fitness_records(_spec(True, False), strains, fakes, index, probs, "zero_day")
    assert [r["evasion"] for r in records] == pytest.approx([0.1, 0.9])
    assert fitness["blend-0001"] > fitness["blend-0000"]
    both, _ = fitness_records(_spec(True, True), strains, fakes, index, probs, "zero_day")
    assert both["blend-0000"] == pytest.approx(both["blend-0001"])


def test_evasion_queries_only_deployed_exposed_detectors():
    from arena.generator_round import surrogate_detectors
    from arena.loop import DetectorState

    spec = _spec(True, False, True)
    w = {"conv.weight": np.zeros(1)}
    versions = {"d0": DetectorState(w, 1, 1), "d1": DetectorState(w, 1, 1), "d2": DetectorState()}
    assert [d.name for d, _ in surrogate_detectors(spec, versions)] == ["d0"]
