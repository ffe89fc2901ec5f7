"""Replicates and sweeps: one spec with `seeds: [...]` and/or `sweep: {dotted.key: [values]}`
expands into member runs, each a plain run of its own under `runs/<name>/<member>/`.

Every member is validated before anything starts, so a bad sweep key or value fails at once.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

from deepfake_arena.errors import SpecError
from deepfake_arena.spec import RunSpec, apply_overrides, validate_spec


@dataclass(frozen=True)
class Member:
    name: str
    settings: dict[str, Any]  # dotted key -> value, seed included
    spec: RunSpec


def is_sweep(raw: dict[str, Any]) -> bool:
    return bool(raw.get("seeds")) or bool(raw.get("sweep"))


def _member_name(settings: dict[str, Any]) -> str:
    parts = [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in settings.items()]
    name = "__".join(p.replace("seed=", "seed", 1) if p.startswith("seed=") else p for p in parts)
    return re.sub(r"[^A-Za-z0-9_.=+-]", "-", name)


def expand(raw: dict[str, Any]) -> list[Member]:
    """Every combination of the sweep values, for every seed; validated, in a stable order."""
    base = {k: v for k, v in raw.items() if k not in ("seeds", "sweep")}
    sweep = raw.get("sweep") or {}
    if not isinstance(sweep, dict) or not all(isinstance(v, list) and v for v in sweep.values()):
        raise SpecError("sweep: must map dotted keys to non-empty lists of values")
    seeds = raw.get("seeds") or [base.get("seed", 0)]
    if not isinstance(seeds, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds):
        raise SpecError(f"seeds: must be a list of integers, got {seeds!r}"[:200])
    keys = list(sweep)
    members = []
    for seed in seeds:
        for combo in itertools.product(*(sweep[k] for k in keys)):
            settings = {"seed": seed, **dict(zip(keys, combo, strict=True))}
            data = apply_overrides(base, [(k.split("."), v) for k, v in settings.items()])
            try:
                spec = validate_spec(data)
            except SpecError as exc:
                raise SpecError(f"sweep member {_member_name(settings)}: {exc}") from None
            members.append(Member(_member_name(settings), settings, spec))
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise SpecError("sweep members are not distinct; repeated seeds or values?")
    return members
