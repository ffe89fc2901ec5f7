"""The detector-architecture registry and the one place where a config dict becomes a network.

A registered class is an ``nn.Module`` whose ``__init__`` takes one typed config (a frozen
dataclass with defaults) and which names that type in a ``config_class`` class attribute. Specs
carry plain dicts; :func:`build_detector_network` validates them here, at the boundary (pydantic,
against the dataclass's field types), so a typo in a spec fails with the valid keys instead of
a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError
from torch import nn
from typing_extensions import TypedDict

from deepfake_arena.registry import Registry

# The built-in architectures, one module each, imported at the registry's first lookup.
ARCHITECTURES = ("efficientnet", "meso", "mesoinception", "mesonet_published", "spectrum", "xception")
DETECTORS: Registry[type[nn.Module]] = Registry(
    "detector architecture",
    "deepfake_arena.detectors",
    [f"deepfake_arena.detectors.{m}" for m in ARCHITECTURES],
)


@functools.cache
def _adapter(config_class: type) -> TypeAdapter[Any]:
    """Pydantic's validator of the keys a config dict may give: each field of ``config_class``
    under its own type, optional, no other key. Strict, on JSON values (what a spec holds): an
    int is a float but a bool or a string is no number, and a list is a tuple."""
    hints = typing.get_type_hints(config_class)
    keys = TypedDict(  # type: ignore[misc]  # a TypedDict made from the dataclass's fields
        config_class.__name__, {f.name: hints[f.name] for f in dataclasses.fields(config_class)}, total=False
    )
    keys.__pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[attr-defined]
    return TypeAdapter(keys)


def _type_name(hint: Any) -> str:
    return str(getattr(hint, "__name__", hint))


def validate_config(config_class: type, values: Mapping[str, Any] | None, what: str) -> Any:
    """Build ``config_class(**values)``, rejecting unknown keys and wrong types with a clear message.

    The values are checked by pydantic against the dataclass's field types (`_adapter`); the
    dataclass's own ``__post_init__`` then checks ranges.

    Raises:
        ValueError: one line naming the offending key and the valid keys (with their types).
    """
    values = dict(values or {})
    hints = typing.get_type_hints(config_class)
    fields = {f.name: hints[f.name] for f in dataclasses.fields(config_class)}
    valid = ", ".join(f"{k}: {_type_name(t)}" for k, t in fields.items()) or "(none)"
    try:
        text = json.dumps(values)
    except (TypeError, ValueError) as err:  # not JSON values
        raise ValueError(f"{what} config {values!r}: values must be JSON numbers, strings, lists") from err
    try:
        checked = _adapter(config_class).validate_json(text)
    except ValidationError as err:
        first = err.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else "?"
        if first["type"] == "extra_forbidden" or key not in fields:
            raise ValueError(f"unknown {what} config key {key!r}; valid keys: {valid}") from None
        value = values[key]
        raise ValueError(
            f"{what} config key {key!r} must be {_type_name(fields[key])}, "
            f"got {value!r} ({type(value).__name__}); valid keys: {valid}"
        ) from None
    try:
        return config_class(**checked)
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
