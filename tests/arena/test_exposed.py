"""Lab detectors (`exposed: false`): scored like the others, never met by the generators."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_arena.errors import SpecError
from deepfake_arena.generators import FAMILIES
from deepfake_arena.generators.genome import default_genome
from deepfake_arena.generators.population import Strain
from deepfake_arena.rounds.generator_side import fitness_records
from deepfake_arena.rounds.payloads import Measured
from deepfake_arena.rounds.records import StrainFakes
from deepfake_arena.spec import validate_spec


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
    shown = np.zeros((1, 3, 4, 4), np.uint8)
    measured = Measured(1.0, np.ones(2), np.full(2, 40.0), 0.1, shown, shown)
    fakes = [StrainFakes({"eval": shown}, measured, None, 1.0, 0.0)] * 2
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
    from deepfake_arena.rounds.generator_side import surrogate_detectors
    from deepfake_arena.rounds.state import DetectorState

    spec = _spec(True, False, True)
    w = {"conv.weight": np.zeros(1)}
    versions = {"d0": DetectorState(w, 1, 1), "d1": DetectorState(w, 1, 1), "d2": DetectorState()}
    assert [d.name for d, _, _ in surrogate_detectors(spec, versions)] == ["d0"]


def test_evasion_queries_an_ensemble_as_it_is_deployed():
    """The surrogate a guided strain queries scores what the arena scores: an ensemble version
    averages its kept members (deepfake_arena.detectors.strategies.score_version), not its newest alone."""
    import torch

    from deepfake_arena.detectors import Detector
    from deepfake_arena.detectors.strategies import score_version
    from deepfake_arena.faces import from_uint8
    from deepfake_arena.rounds.strain_work import surrogate_scorer
    from deepfake_arena.spec import DetectorSpec

    def weights(seed: int) -> dict[str, np.ndarray]:
        return {k: v.numpy() for k, v in Detector("meso4", seed=seed).state_dict().items()}

    newest = weights(0)
    memory = {f"ensemble/0.{k}": v for k, v in weights(5).items()}
    memory |= {f"ensemble/1.{k}": v for k, v in weights(9).items()}
    spec = DetectorSpec(name="e", strategy="ensemble")
    images = torch.randint(
        0, 256, (6, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    tensors = lambda d: {k: torch.from_numpy(v) for k, v in d.items()}  # noqa: E731
    deployed = score_version(Detector("meso4"), tensors(newest), tensors(memory), images)
    with torch.no_grad():
        queried = surrogate_scorer([(spec, newest, memory)], "cpu")(from_uint8(images))
        alone = surrogate_scorer([(spec, newest, {})], "cpu")(from_uint8(images))
    torch.testing.assert_close(queried, deployed, atol=1e-6, rtol=0)
    assert (alone - deployed).abs().max() > 1e-3, "the members change the score"
