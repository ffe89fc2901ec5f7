"""A confirmatory protocol: what was registered before the runs, and whether runs match it.

Why: an effect "shown" on the seeds its spec was tuned on is a forking-paths result. A
registration file (runs/effects/registration.yaml) names, before any confirmatory run, the specs
of the arms by content hash, the fresh seeds, the tests (statistic, arm or paired arm
difference, predicted direction), alpha and the correction. `arena effects --registration FILE`
labels a verdict *confirmed* only when a condition's runs have the registered spec hash and
exactly the registered seeds; anything else is *exploratory*.

Canonical form of a spec for its hash (`spec_hash`): the validated spec
(`RunSpec.model_dump(mode="json")`, i.e. every default filled in, the same mapping a run writes to
spec.resolved.json) without the keys that name replicates or grids, `seed`, `seeds` and `sweep`, and
without every key whose value is null or an empty list (a feature that is off: so a feature added to
the spec after registration, off by default, leaves a registered hash alone), serialised as JSON
with sorted keys and separators (",", ":"), UTF-8; its SHA-256 in hex. A spec file's hash
(`spec_file_hash`) is that of its validated contents with the seeds removed, so a sweep member's
resolved spec and the file it came from hash the same; comments and key order do not count, any
changed value does.

Torch-free (the hash of a spec file validates it, which imports the registries' names only).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from deepfake_arena.errors import ArenaUserError

REPLICATE_KEYS = ("seed", "seeds", "sweep")
CONFIRMATORY, EXPLORATORY = "confirmatory", "exploratory"
DIFF = "selection-drift"  # the arm of a paired test: selection minus drift, seed by seed


def _without_off(value: Any) -> Any:
    """Mappings without their null and empty-list entries, at every depth."""
    if isinstance(value, dict):
        return {k: _without_off(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_without_off(v) for v in value]
    return value


def canonical(spec: dict[str, Any]) -> str:
    """The canonical JSON text of a resolved spec: replicate keys and features that are off (null,
    empty list) dropped, keys sorted, compact."""
    body = {k: v for k, v in spec.items() if k not in REPLICATE_KEYS}
    return json.dumps(_without_off(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def spec_hash(resolved: dict[str, Any]) -> str:
    """SHA-256 (hex) of a resolved spec's canonical form (a run's spec.resolved.json)."""
    return hashlib.sha256(canonical(resolved).encode("utf-8")).hexdigest()


def spec_file_hash(path: str | Path) -> str:
    """The hash of a YAML spec file: validated (defaults filled in), seeds and sweep removed."""
    from deepfake_arena.spec import read_spec_file, validate_spec

    raw, _ = read_spec_file(path)
    body = {k: v for k, v in raw.items() if k not in REPLICATE_KEYS}
    return spec_hash(validate_spec(body).model_dump(mode="json"))


# ------------------------------------------------------------------------------- the file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArmReg(_Strict):
    spec: str = Field(description="the spec file, relative to the repository root")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    sha256_v1: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="the hash as first registered (nulls included)"
    )
    description: str = ""


class TestReg(_Strict):
    """One registered effect statistic, tested in every arm and as the paired selection - drift
    difference over seeds."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    effect: int = Field(ge=1, le=99)
    name: str = Field(description="the effect's name in analysis.effects.measure (Effect.name)")
    stat: str = Field(description="the statistic's name in analysis.effects.measure (Stat.name)")
    null: float = 0.0
    alternative: Literal["greater", "less"] | None = Field(
        description="predicted side of the null in each arm; None: not tested per arm (a level)"
    )
    difference: Literal["greater", "less"] | None = Field(
        description="predicted side of 0 of selection - drift, paired by seed; None: no prediction "
        "between the arms (not tested as a difference)"
    )
    source: str = Field(
        description="what would produce the effect if not the race (world design / spec schedule), "
        "named before the runs"
    )
    why: str = ""


class Registration(_Strict):
    registered: str = Field(description="UTC time the protocol was fixed (the commit is the evidence)")
    alpha: float = Field(gt=0, lt=1)
    correction: Literal["holm"]
    seeds: list[int] = Field(min_length=2, max_length=1000)
    arms: dict[str, ArmReg] = Field(min_length=1)
    tests: list[TestReg] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Registration:
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds are repeated")
        ids = [t.id for t in self.tests]
        if len(set(ids)) != len(ids):
            raise ValueError("test ids are repeated")
        if not {"selection", "drift"} <= set(self.arms):
            raise ValueError("the arms must include selection and drift (the paired difference)")
        return self

    def arm_of_hash(self, digest: str) -> str | None:
        return next((name for name, a in self.arms.items() if a.sha256 == digest), None)


def load_registration(path: str | Path) -> Registration:
    """Read and validate a registration file; a bad file is a one-line user error."""
    path = Path(path)
    if not path.is_file():
        raise ArenaUserError(f"registration file not found: {path}")
    if path.stat().st_size > 1_000_000:
        raise ArenaUserError(f"{path}: a registration file is at most 1 MB")
    try:
        raw = yaml.safe_load(path.read_text())
        return Registration.model_validate(raw)
    except yaml.YAMLError as exc:
        raise ArenaUserError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top)"
        raise ArenaUserError(f"{path}: {where}: {err['msg']}") from None


def check_files(reg: Registration, root: str | Path) -> list[str]:
    """Problems with the registered spec files under `root`: missing, or a hash that changed."""
    problems = []
    for name, arm in reg.arms.items():
        p = Path(root) / arm.spec
        if not p.is_file():
            problems.append(f"arm {name}: {arm.spec} not found")
        elif (h := spec_file_hash(p)) != arm.sha256:
            problems.append(f"arm {name}: {arm.spec} changed since registration (sha256 {h[:12]})")
    return problems


# ------------------------------------------------------------------------------- matching runs


@dataclass(frozen=True)
class Match:
    """How one condition (runs equal but for the seed) stands against a registration."""

    arm: str | None  # the registered arm, by hash, else by folder name; None: not an arm
    evidence: str  # CONFIRMATORY or EXPLORATORY
    reason: str  # why exploratory ("" when confirmatory)


def match(
    reg: Registration | None,
    resolved: dict[str, Any],
    seeds: list[int],
    folder_names: list[str],
    unfinished: list[int] | None = None,
) -> Match:
    """A condition's arm and evidence: confirmatory only for a registered hash and exactly its
    seeds, every run finished (`unfinished`: seeds whose runs have not committed every round).

    `folder_names`: the run folder and its parents' names (a sweep folder named `drift` makes the
    condition the drift arm, exploratory, when its hash does not match).
    """
    if reg is None:
        arm = next((n for n in folder_names if n in ("selection", "drift", "static")), None)
        return Match(arm, EXPLORATORY, "no registration given")
    digest = spec_hash(resolved)
    arm = reg.arm_of_hash(digest)
    if arm is None:
        named = next((n for n in folder_names if n in reg.arms), None)
        return Match(named, EXPLORATORY, f"spec sha256 {digest[:12]} is not a registered arm's")
    have, want = sorted(seeds), sorted(reg.seeds)
    if have != want:
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        parts = ([f"missing seeds {missing}"] if missing else []) + (
            [f"unregistered seeds {extra}"] if extra else []
        )
        if len(have) != len(set(have)):
            parts.append("a seed is repeated")
        return Match(arm, EXPLORATORY, "; ".join(parts))
    if unfinished:
        return Match(arm, EXPLORATORY, f"seeds {sorted(unfinished)} have not finished every round")
    return Match(arm, CONFIRMATORY, "")
