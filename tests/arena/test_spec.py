"""Spec validation: every bad spec fails before anything starts, naming the key and the choices."""

from pathlib import Path

import pytest
import yaml

from deepfake_arena.errors import SpecError
from deepfake_arena.spec import apply_overrides, load_spec, parse_overrides, validate_spec

QUICKSTART = Path(__file__).parents[2] / "runs" / "quickstart.yaml"


def _raw() -> dict:
    return yaml.safe_load(QUICKSTART.read_text())


def test_quickstart_validates():
    spec, text = load_spec(QUICKSTART)
    assert spec.rounds >= 3
    assert text.startswith("#")
    assert [d.strategy for d in spec.detectors]


def test_overrides_are_applied_and_validated(tmp_path):
    spec, _ = load_spec(
        QUICKSTART, ["rounds=3", "seed=7", "detectors.1.strategy=scratch", "world.resolution=32"]
    )
    assert (spec.rounds, spec.seed, spec.detectors[1].strategy, spec.world.resolution) == (
        3,
        7,
        "scratch",
        32,
    )


@pytest.mark.parametrize(
    "override, message",
    [
        ("rounds=zero", "rounds: Input should be a valid integer"),
        ("bogus=1", "bogus: unknown key; valid keys here: detectors, device"),
        ("world.colour=red", "world.colour: unknown key; valid keys here: capture_drift, credit, fractions"),
        ("world.kind=cartoon", "world.kind: Input should be 'synthetic'"),
        ("device=tpu", "device: Input should be 'cpu', 'cuda' or 'auto'"),
        (
            "detectors.0.arch=resnet9000",
            "detectors.0.arch: unknown detector architecture 'resnet9000'; "
            "valid choices: efficientnet, meso4, meso4-published, mesoinception4, "
            "mesoinception4-published, spectrum, xception",
        ),
        (
            "detectors.0.strategy=yolo",
            "detectors.0.strategy: unknown retraining strategy 'yolo'; "
            "valid choices: ensemble, finetune, frozen, replay, scratch",
        ),
        (
            "population.families=[blend, magic]",
            "population.families.1: unknown generator family 'magic'; "
            "valid choices: autoencoder, blend, diffusion",
        ),
        ("population.elite=99", "elite (99) cannot exceed size"),
        (
            "detectors.0.scratch.stepz=3",
            "detectors.0.scratch.stepz: unknown key; valid keys here: augment, batch_size",
        ),
        ("detectors.1.name=meso4-finetune", "detector names must be unique; repeated: meso4-finetune"),
        ("detectors.0.arch_config={width: 3}", "detectors.0.arch_config"),
        ("metrics.confidence=1.5", "metrics.confidence: Input should be less than 1"),
    ],
)
def test_bad_specs_name_the_key_and_choices(override, message):
    with pytest.raises(SpecError) as info:
        load_spec(QUICKSTART, [override])
    assert message in str(info.value)


def test_missing_detectors_and_non_mapping():
    with pytest.raises(SpecError, match="detectors: Field required"):
        validate_spec({"rounds": 2})
    with pytest.raises(SpecError, match="must be a mapping"):
        validate_spec([1, 2])  # type: ignore[arg-type]


def test_bad_override_syntax_and_index():
    with pytest.raises(SpecError, match="not of the form key.path=value"):
        parse_overrides(["rounds"])
    with pytest.raises(SpecError, match="index must be 0..1"):
        apply_overrides(_raw(), parse_overrides(["detectors.5.strategy=frozen"]))


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(SpecError, match="spec file not found"):
        load_spec(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rounds: [1,\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(bad)


def test_resources_memory_becomes_a_ray_option():
    spec, _ = load_spec(QUICKSTART, ["resources.detector.memory=2000000000"])
    assert spec.resources.detector.ray_options() == {
        "num_cpus": 1.0,
        "num_gpus": 0.0,
        "memory": 2_000_000_000,
    }
    assert "memory" not in spec.resources.generator.ray_options()
    with pytest.raises(SpecError, match="resources.detector.memory: Input should be greater than 0"):
        load_spec(QUICKSTART, ["resources.detector.memory=0"])


def test_jpeg_qualities_are_off_by_default_and_checked():
    """Off ([]) by default, so the registered arms' and the quickstart's hashes stay as they were;
    a quality outside [1, 100] or repeated is an error that names the key."""
    from deepfake_arena.analysis.effects.registration import spec_file_hash
    from tests.conftest import REPO

    raw = yaml.safe_load(QUICKSTART.read_text())
    assert validate_spec(raw).evaluation.jpeg_qualities == []
    with pytest.raises(SpecError, match="jpeg_qualities"):
        validate_spec({**raw, "evaluation": {"jpeg_qualities": [50, 50]}})
    with pytest.raises(SpecError, match="jpeg_qualities"):
        validate_spec({**raw, "evaluation": {"jpeg_qualities": [0]}})
    reg = yaml.safe_load((REPO / "runs" / "effects" / "registration.yaml").read_text())
    assert spec_file_hash(REPO / "runs" / "effects" / "selection.yaml") == reg["arms"]["selection"]["sha256"]
