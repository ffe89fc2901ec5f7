"""Each component's config type is defined once, beside the component, and the spec embeds it: a
value the spec accepts is a value the component accepts, refused before anything starts."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from deepfake_arena.detectors.train_config import StrategyOptions, TrainConfig
from deepfake_arena.errors import SpecError
from deepfake_arena.generators.train_budget import TrainBudget
from deepfake_arena.spec import DetectorSpec, GeneratorTrainSpec, validate_spec

BASE = {"detectors": [{"name": "d", "arch": "meso4", "strategy": "finetune"}]}


def with_detector(**train: object) -> dict[str, object]:
    return {"detectors": [{**BASE["detectors"][0], "finetune": {"steps": 5, **train}}]}  # type: ignore[index]


def test_the_spec_embeds_the_training_config() -> None:
    assert DetectorSpec.model_fields["scratch"].annotation is TrainConfig
    assert issubclass(GeneratorTrainSpec, TrainBudget)
    spec = validate_spec(with_detector(jitter=0.25), check_names=False)
    assert isinstance(spec.detectors[0].finetune, TrainConfig) and spec.detectors[0].finetune.jitter == 0.25


@pytest.mark.parametrize(
    ("train", "key"),
    [({"jitter": 0.5}, "jitter"), ({"batch_size": 7}, "batch_size"), ({"val_fraction": 0.5}, "val_fraction"),
     ({"wobble": 1}, "wobble")],
)  # fmt: skip
def test_what_training_refuses_the_spec_refuses(train: dict[str, object], key: str) -> None:
    """jitter 0.5 passed the spec and failed inside a Ray retrain task after round 1's fakes."""
    with pytest.raises(SpecError, match=key):
        validate_spec(with_detector(**train), check_names=False)
    with pytest.raises(Exception, match=key):
        TrainConfig(steps=5, **train)  # type: ignore[arg-type]


def test_a_generator_budget_has_one_set_of_defaults() -> None:
    spec = validate_spec(BASE, check_names=False)
    default = GeneratorTrainSpec()
    assert default.budget() == TrainBudget()
    assert {f.name for f in dataclasses.fields(GeneratorTrainSpec)} == {
        *(f.name for f in dataclasses.fields(TrainBudget)), "pretrained"
    }
    assert spec.population.training == {}
    for bad, message in [({"resolution": 20}, "resolution"), ({"stepz": 3}, "valid keys here: batch_size")]:
        with pytest.raises(SpecError, match=message):
            validate_spec({**BASE, "population": {"training": {"autoencoder": bad}}}, check_names=False)


def test_reading_a_spec_imports_no_torch() -> None:
    code = "import sys, deepfake_arena.spec\n"
    code += "deepfake_arena.spec.validate_spec({'detectors': [{'name': 'd'}]}, check_names=False)\n"
    code += "sys.exit(3 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_strategy_options_are_the_strategys_own() -> None:
    spec = validate_spec(BASE, check_names=False).detectors[0]
    assert spec.strategy_options() == StrategyOptions()
    for bad in ({"ensemble_k": 33}, {"replay_size": 0}):
        with pytest.raises(SpecError, match=next(iter(bad))):
            validate_spec({"detectors": [{**BASE["detectors"][0], **bad}]}, check_names=False)  # type: ignore[index]
        with pytest.raises(Exception, match=next(iter(bad))):
            StrategyOptions(**bad)  # type: ignore[arg-type]
