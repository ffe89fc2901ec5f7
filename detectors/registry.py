"""The detector-architecture registry and the one place where a config dict becomes a network.

A registered class is an ``nn.Module`` whose ``__init__`` takes one typed config (a frozen
dataclass with defaults) and which names that type in a ``config_class`` class attribute. Specs
carry plain dicts; :func:`build_detector_network` validates them here, at the boundary, so a typo
in a spec fails with the valid keys instead of a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

from torch import nn

from deepfake_arena.registry import Registry

# The built-in architectures, one module each, imported at the registry's first lookup.
ARCHITECTURES = ("efficientnet", "meso", "mesoinception", "mesonet_published", "spectrum", "xception")
DETECTORS: Registry[type[nn.Module]] = Registry(
    "detector architecture",
    "deepfake_arena.detectors",
    [f"deepfake_arena.detectors.{m}" for m in ARCHITECTURES],
)


def _type_ok(value: Any, expected: Any) -> bool:
    """Strict scalar type check: bool is not an int, an int is a float, ``X | None`` allows None."""
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(expected))
    if origin is typing.Literal:
        return value in typing.get_args(expected)
    if origin is tuple:
        args = typing.get_args(expected)
        if not isinstance(value, (tuple, list)):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_type_ok(v, args[0]) for v in value)
        return len(value) == len(args) and all(_type_ok(v, a) for v, a in zip(value, args, strict=True))
    if expected is type(None):
        return value is None
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(expected, type):
        return isinstance(value, expected)
    return True  # an annotation this checker does not understand: let the dataclass decide


def validate_config(config_class: type, values: Mapping[str, Any] | None, what: str) -> Any:
    """Build ``config_class(**values)``, rejecting unknown keys and wrong types with a clear message.

    Raises:
        ValueError: naming the offending key and the valid keys (with their types).
    """
    values = dict(values or {})
    hints = typing.get_type_hints(config_class)
    fields = {f.name: hints[f.name] for f in dataclasses.fields(config_class)}
    valid = ", ".join(f"{k}: {getattr(t, '__name__', t)}" for k, t in fields.items()) or "(none)"
    for key, value in values.items():
        if key not in fields:
            raise ValueError(f"unknown {what} config key {key!r}; valid keys: {valid}")
        if not _type_ok(value, fields[key]):
            raise ValueError(
                f"{what} config key {key!r} must be {getattr(fields[key], '__name__', fields[key])}, "
                f"got {value!r} ({type(value).__name__}); valid keys: {valid}"
            )
    coerced = {k: float(v) if fields[k] is float else v for k, v in values.items()}
    try:
        return config_class(**coerced)
    except (TypeError, ValueError) as err:  # __post_init__ range checks
        raise ValueError(f"invalid {what} config {values}: {err}") from err


def build_detector_network(name: str, config: Mapping[str, Any] | None = None) -> nn.Module:
    """Look up ``name`` in :data:`DETECTORS`, validate ``config`` and build the (untrained) network.

    Weights are initialised from torch's global RNG; callers that need a reproducible init seed it
    inside ``torch.random.fork_rng`` (see ``deepfake_arena.detectors.base.Detector``).
    """
    cls = DETECTORS.get(name)
    config_class = getattr(cls, "config_class", None)
    if not (isinstance(config_class, type) and dataclasses.is_dataclass(config_class)):
        raise TypeError(f"detector architecture {name!r} must define config_class (a dataclass)")
    return cls(validate_config(config_class, config, f"detector {name!r}"))
