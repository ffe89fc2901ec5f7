"""The records a round hands between its phases and across Ray (deepfake_arena.rounds.records, payloads),
the early-work object, and the small phase steps that build them."""

from __future__ import annotations

import inspect
import pickle
from dataclasses import fields

import numpy as np
import pytest

from deepfake_arena.detectors.training import FitReport
from deepfake_arena.rounds import tasks as work
from deepfake_arena.rounds.early_work import EarlyWork
from deepfake_arena.rounds.generator_side import MakeInputs
from deepfake_arena.rounds.payloads import (
    GeneratorWeights,
    KeptWeights,
    MadePart,
    Measured,
    RetrainResult,
    SplitArrays,
    SwappedPart,
)
from deepfake_arena.rounds.phases.make import scored_set
from deepfake_arena.rounds.phases.retrain import retrained
from deepfake_arena.rounds.records import DetectorState, StrainFakes
from deepfake_arena.rounds.state import ArenaState


def _arrays(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (3, 3, 8, 8), dtype=np.uint8)


def _measured() -> Measured:
    return Measured(0.8, np.ones(3), np.full(3, 30.0), 0.2, _arrays(1), _arrays(2))


PAYLOADS = [
    GeneratorWeights({"w": np.arange(6.0).reshape(2, 3)}, {"family": "autoencoder"}),
    KeptWeights(2, GeneratorWeights({"w": np.zeros(2)})),
    MadePart({"train": _arrays(0)}, _measured(), None, 1.5, 0.25, (10.0, 11.5)),
    SwappedPart(
        {
            "eval": SplitArrays(
                _arrays(3),
                np.ones((3, 1, 8, 8)),
                None,
                _arrays(4),
                np.ones((3, 5, 2)),
                np.arange(5, dtype=np.uint8),
            )
        },
        0.5,
    ),  # noqa: E501
    RetrainResult({"conv.weight": np.ones((2, 2))}, {"optim/step": np.array([3])}, None),
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: type(p).__name__)
def test_payloads_pickle_as_ray_sends_them_with_the_arrays_out_of_band(payload):
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(payload, protocol=5, buffer_callback=buffers.append)
    assert buffers, "numpy arrays travel as out-of-band buffers, not inside the pickle"
    back = pickle.loads(data, buffers=buffers)
    assert type(back) is type(payload)
    for f in fields(payload):
        _assert_same(getattr(back, f.name), getattr(payload, f.name))


def _assert_same(a: object, b: object) -> None:
    if isinstance(b, np.ndarray):
        np.testing.assert_array_equal(a, b)
    elif isinstance(b, dict):
        assert isinstance(a, dict) and list(a) == list(b)
        for k in b:
            _assert_same(a[k], b[k])
    elif hasattr(b, "__dataclass_fields__"):
        for f in fields(b):  # type: ignore[arg-type]
            _assert_same(getattr(a, f.name), getattr(b, f.name))
    else:
        assert a == b


def test_the_make_inputs_are_the_make_tasks_keyword_arguments():
    """A field added to MakeInputs without a parameter of make_fakes (or the reverse) fails here."""
    params = inspect.signature(work.make_fakes).parameters
    keyword_only = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert sorted(MakeInputs().keywords()) == sorted(keyword_only)
    weights = GeneratorWeights({})
    assert MakeInputs(surrogate="s", weights=weights).keywords()["weights"] is weights


def test_early_work_is_taken_once_by_its_round():
    early = EarlyWork()
    early.reals[3] = {"train": "ref-t", "eval": "ref-e"}
    assert early.take_reals(2) is None
    assert early.take_reals(3) == {"train": "ref-t", "eval": "ref-e"}
    assert early.take_reals(3) is None, "taken: the round submits its own"
    early.made[3] = {("blend-0001", ("eval", 2)): "ref-m"}
    assert early.take_made(3) == {("blend-0001", ("eval", 2)): "ref-m"} and early.take_made(3) == {}
    early.swapped[3] = {("a", ("train", 4)): "swap-a", ("b", ("train", 4)): "swap-b"}
    assert early.take_swap(3, ("a", ("train", 4))) == "swap-a"
    assert early.take_swap(3, ("a", ("train", 4))) is None, "a swap is finished once"
    assert early.take_swap(4, ("b", ("train", 4))) is None, "another round's swap is not this one's"
    early.forget_swaps(3)
    assert early.take_swap(3, ("b", ("train", 4))) is None and early.swapped == {}


def test_the_surrogate_kept_by_early_tasks_is_reused_even_when_it_is_none():
    early = EarlyWork()
    calls: list[int] = []

    def compute() -> str:
        calls.append(1)
        return "fresh"

    early.surrogate[2] = None  # round 1 started round 2's tasks with no detector to query
    assert early.take_surrogate(2, compute) is None and calls == []
    assert early.take_surrogate(2, compute) == "fresh" and calls == [1]


def test_a_scored_set_is_the_reals_then_each_strains_fakes_of_the_split():
    reals = _arrays(0)[:2]
    fakes = [
        StrainFakes({"eval": _arrays(1)[:3], "train": _arrays(2)}, _measured(), None, 1.0, 0.0),
        StrainFakes({"eval": _arrays(3)[:1], "train": _arrays(4)}, _measured(), None, 1.0, 0.0),
    ]
    strains = [{"id": f"blend-000{i}", "genome": {"family": "blend"}} for i in (1, 2)]
    ev = scored_set(reals, fakes, "eval", strains)
    assert ev.labels.tolist() == [0, 0, 1, 1, 1, 1]
    assert ev.strain_index.tolist() == [-1, -1, 0, 0, 0, 1]
    np.testing.assert_array_equal(ev.images[2:5], fakes[0].fakes["eval"])
    assert ev.strains == [{"id": "blend-0001", "family": "blend"}, {"id": "blend-0002", "family": "blend"}]


def test_a_retrain_that_kept_its_weights_keeps_the_version_and_a_new_one_counts():
    old = DetectorState({"w": np.zeros(1)}, times_trained=2, trained_round=3)
    state = ArenaState(4, [], 1, {"frozen": old, "tuned": old})
    report = FitReport(5, 0.3, None, False, 1.0, 80.0, [{"step": 5, "loss": 0.3}])
    new = retrained(
        state,
        5,
        ["frozen", "tuned"],
        [RetrainResult(None, {"m": np.ones(1)}, None), RetrainResult({"w": np.ones(1)}, {}, report)],
    )
    frozen, tuned = new.detectors["frozen"], new.detectors["tuned"]
    assert (frozen.weights, frozen.times_trained, frozen.trained_round) == (old.weights, 2, 3)
    assert list(frozen.memory) == ["m"]
    assert tuned.times_trained == 3 and tuned.trained_round == 5 and tuned.weights is not None
    assert new.reports == {"frozen": None, "tuned": {**new.reports["tuned"], "steps_run": 5}}
    assert new.reports["tuned"] is not None and new.reports["tuned"]["curve"] == [{"step": 5, "loss": 0.3}]
