"""The detector side of the spec: training modes, strategy sizes and the release lag."""

from __future__ import annotations

import pytest

from deepfake_arena.errors import SpecError
from deepfake_arena.spec import load_spec
from tests.conftest import QUICKSTART


def test_defaults_and_new_keys_validate():
    spec, _ = load_spec(
        QUICKSTART,
        [
            "release_lag=2",
            "detectors.0.strategy=replay",
            "detectors.0.replay_size=64",
            "detectors.1.strategy=ensemble",
            "detectors.1.ensemble_k=4",
            "detectors.1.training=sbi",
            "detectors.1.training_config={blend_ratio: [0.5, 1.0], rotate: 2}",
            "detectors.1.arch=xception",
            "detectors.1.arch_config={width: 0.25, middle_blocks: 1}",
        ],
    )
    assert spec.release_lag == 2
    assert spec.detectors[0].replay_size == 64 and spec.detectors[0].training == "supervised"
    assert spec.detectors[1].ensemble_k == 4 and spec.detectors[1].training == "sbi"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "detectors.0.training=gan",
            "detectors.0.training: unknown training mode 'gan'; valid choices: sbi, supervised",
        ),
        (
            "detectors.0.training_config={colour: 0.1}",
            "detectors.0.training_config: training 'supervised' takes no",
        ),
        (
            "detectors.0.training=sbi",  # paired below with a bad sbi key
            None,
        ),
        ("detectors.0.replay_size=0", "detectors.0.replay_size: Input should be greater than or equal to 1"),
        ("detectors.0.ensemble_k=0", "detectors.0.ensemble_k: Input should be greater than or equal to 1"),
        ("release_lag=-1", "release_lag: Input should be greater than or equal to 0"),
        ("release_lag=5", "release_lag 5 leaves no round with a deployed detector in 6 rounds"),
        ("detectors.0.arch_config={width: 9.0}", "detectors.0.arch_config"),
        ("detectors.0.scratch.jpeg_quality=0", "detectors.0.scratch.jpeg_quality: Input should be greater"),
    ],
)
def test_bad_detector_settings_name_the_key(override, message):
    if message is None:  # a valid override on its own
        load_spec(QUICKSTART, [override])
        return
    with pytest.raises(SpecError) as info:
        load_spec(QUICKSTART, [override])
    assert message in str(info.value)


def test_bad_sbi_config_names_the_valid_keys():
    with pytest.raises(
        SpecError, match="detectors.0.training_config: unknown training 'sbi' config key 'colur'"
    ):
        load_spec(QUICKSTART, ["detectors.0.training=sbi", "detectors.0.training_config={colur: 0.1}"])
