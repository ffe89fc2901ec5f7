"""`deepfake_arena.detectors.registry.validate_config`: pydantic checks a config dict against the dataclass's
field types (strict, as JSON values), then the dataclass checks its ranges; every refusal is
one line that names the key and the valid keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from deepfake_arena.detectors.registry import validate_config
from deepfake_arena.detectors.sbi import SelfBlendConfig


@dataclass(frozen=True)
class Example:
    rate: float = 0.5
    steps: int = 3
    mode: Literal["fast", "slow"] = "fast"
    window: tuple[float, float] = (0.0, 1.0)
    path: str | None = None
    flag: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.rate < 1:
            raise ValueError(f"rate must be in [0, 1), got {self.rate}")


def test_values_of_the_declared_types_build_the_dataclass():
    got = validate_config(Example, {"rate": 0, "steps": 7, "mode": "slow", "window": [0.2, 0.4]}, "x")
    assert got == Example(rate=0.0, steps=7, mode="slow", window=(0.2, 0.4))
    assert isinstance(got.rate, float) and isinstance(got.window, tuple)  # coerced as declared
    assert validate_config(Example, {"path": None, "flag": True}, "x") == Example(flag=True)
    assert validate_config(Example, {"path": "a/b"}, "x").path == "a/b"
    assert validate_config(Example, None, "x") == Example()


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"rat": 0.1}, "^unknown x config key 'rat'; valid keys: rate: float, steps: int, mode: "),
        ({"rate": "0.5"}, "^x config key 'rate' must be float, got '0.5' \\(str\\); valid keys: rate"),
        ({"rate": True}, "^x config key 'rate' must be float, got True \\(bool\\)"),
        ({"steps": 2.5}, "^x config key 'steps' must be int, got 2.5"),
        ({"steps": False}, "^x config key 'steps' must be int"),
        ({"mode": "medium"}, "^x config key 'mode' must be "),
        ({"window": [0.1]}, "^x config key 'window' must be tuple"),
        ({"window": [0.1, "0.2"]}, "^x config key 'window' must be tuple"),
        ({"path": 3}, "^x config key 'path' must be "),
        ({"flag": 1}, "^x config key 'flag' must be bool"),
        ({"rate": {1, 2}}, "^x config .*values must be JSON"),
        ({"rate": 1.5}, "^invalid x config .*rate must be in \\[0, 1\\), got 1.5"),
    ],
)
def test_a_bad_value_is_refused_in_one_line(values, match):
    with pytest.raises(ValueError, match=match) as err:
        validate_config(Example, values, "x")
    assert "\n" not in str(err.value)


def test_an_architecture_config_and_a_training_config_go_through_it():
    assert validate_config(SelfBlendConfig, {"mask_scale": [0.9, 1.1]}, "t").mask_scale == (0.9, 1.1)
    with pytest.raises(ValueError, match="unknown t config key 'colur'; valid keys: template: tuple"):
        validate_config(SelfBlendConfig, {"colur": 0.1}, "t")
