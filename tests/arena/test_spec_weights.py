"""A detector spec's `weights`: checked (and mapped) before Ray starts, one line per problem."""

from __future__ import annotations

import pytest
import torch

from deepfake_arena.detectors.base import Detector
from deepfake_arena.errors import SpecError
from deepfake_arena.rounds.state import initial_state
from deepfake_arena.spec import load_spec
from tests.conftest import QUICKSTART


def test_weights_resolve_and_become_the_initial_version(tmp_path):
    state = Detector("meso4", seed=9).state_dict()
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "w.pth")
    spec, _ = load_spec(
        QUICKSTART,
        [f"detectors.0.weights={{path: {tmp_path / 'w.pth'}}}", "detectors.0.strategy=frozen"],
    )
    assert spec.detectors[0].weights is not None and spec.detectors[0].weights.format == "auto"
    first = initial_state(spec).detectors
    d0 = first[spec.detectors[0].name]
    assert d0.trained_round == 0 and d0.times_trained == 0 and d0.weights is not None
    assert all((torch.from_numpy(d0.weights[k]) == v).all() for k, v in state.items())
    assert all(first[d.name].weights is None for d in spec.detectors[1:])


@pytest.mark.parametrize(
    ("make", "override", "message"),
    [
        (None, "detectors.0.weights={path: NOPE}", "detectors.0.weights: weights file not found: "),
        (
            "bad",
            "detectors.0.weights={path: FILE}",
            r"detectors.0.weights: .*w.pt does not fit detector 'meso4': missing \(1\): features.0.0.weight",
        ),
        ("good", "detectors.0.weights={path: FILE, format: pickle}", "detectors.0.weights.format: "),
        ("good", "detectors.0.strategy=scratch", "strategy 'scratch' re-initialises the detector"),
        ("good", "detectors.0.arch=meso4-published", "detectors.0.weights: .*missing"),
    ],
)
def test_bad_weights_fail_in_one_line(make, override, message, tmp_path):
    state = Detector("meso4").state_dict()
    if make == "bad":
        del state["features.0.0.weight"]
    torch.save(state, tmp_path / "w.pt")
    extra = [f"detectors.0.weights={{path: {tmp_path / 'w.pt'}}}"] if make else []
    override = override.replace("FILE", str(tmp_path / "w.pt")).replace("NOPE", str(tmp_path / "none.pt"))
    with pytest.raises(SpecError, match=message) as err:
        load_spec(QUICKSTART, [*extra, override])
    assert "\n" not in str(err.value)
