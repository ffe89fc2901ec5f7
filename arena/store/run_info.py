"""What the analysis tools need to know about run directories besides their results: the resolved
spec, which runs are seeds of the same condition, and whose faces a run shows (the credit line).
Torch-free; reads JSON only."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepfake_arena.errors import ArenaUserError

SPEC_FILE = "spec.resolved.json"
# The photos a `folder` world is built from by default; shown next to any face image of such a run.
LONDON_SET_CREDIT = "Face Research Lab London Set, DeBruine & Jones (2017), CC BY 4.0"


def read_spec(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / SPEC_FILE
    if not path.is_file():
        raise ArenaUserError(f"{run_dir} is not an arena run directory (no {SPEC_FILE})")
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:  # unreadable, truncated, not UTF-8
        raise ArenaUserError(
            f"{path} is damaged (not readable JSON: {' '.join(str(exc).split())[:120]})"
        ) from None
    if not isinstance(data, dict):
        raise ArenaUserError(f"{path} is damaged (not a JSON object)")
    return data


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def expand_run_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Run directories, with a sweep directory replaced by its members that have started."""
    out: list[Path] = []
    for p in map(Path, paths):
        if (p / "sweep.json").is_file():
            members = _read_json(p / "sweep.json").get("members", [])
            found = [p / m["name"] for m in members if (p / m["name"] / SPEC_FILE).is_file()]
            if not found:
                raise ArenaUserError(f"sweep {p} has no started member runs yet")
            out += found
        elif (p / SPEC_FILE).is_file():
            out.append(p)
        else:
            raise ArenaUserError(f"{p} is not an arena run directory (no {SPEC_FILE})")
    if len({q.resolve() for q in out}) != len(out):
        raise ArenaUserError("a run directory is given twice")
    return out


def world_credit(run_dir: Path) -> str | None:
    """The credit line for the faces a run shows, or None for the built-in synthetic world.

    Taken from run metadata when present (`world.credit` in the resolved spec, or `world_credit`
    in env.json); otherwise a non-synthetic world is credited to the London Set it is built from.
    """
    spec = _read_json(Path(run_dir) / SPEC_FILE)
    env = _read_json(Path(run_dir) / "env.json")
    world = spec.get("world") or {}
    credit = world.get("credit") or env.get("world_credit")
    if credit:
        return str(credit)
    if world.get("kind", "synthetic") == "synthetic":
        return None
    return LONDON_SET_CREDIT


@dataclass
class Condition:
    """Runs whose resolved specs are equal but for the seed: replicates of one experiment."""

    label: str
    run_dirs: list[Path]
    spec: dict[str, Any]

    @property
    def seeds(self) -> list[int]:
        return [int(read_spec(d).get("seed", 0)) for d in self.run_dirs]


def _label(dirs: list[Path]) -> str:
    names = [d.name for d in dirs]
    if len(names) == 1:
        return names[0]
    stripped = {re.sub(r"(^|__|-)seed-?\d+(?=__|-|$)", "", n).strip("_-") for n in names}
    base = stripped.pop() if len(stripped) == 1 else ""
    return f"{base or dirs[0].parent.name or names[0]} ({len(names)} seeds)"


def conditions(run_dirs: Iterable[Path]) -> list[Condition]:
    """Group runs into conditions (same spec but the seed), in the order they were given."""
    groups: dict[str, list[Path]] = {}
    specs: dict[str, dict[str, Any]] = {}
    for d in run_dirs:
        spec = read_spec(d)
        key = json.dumps({k: v for k, v in spec.items() if k not in ("seed", "seeds")}, sort_keys=True)
        groups.setdefault(key, []).append(Path(d))
        specs.setdefault(key, spec)
    out = [Condition(_label(dirs), dirs, specs[key]) for key, dirs in groups.items()]
    labels = [c.label for c in out]
    for c in out:
        if labels.count(c.label) > 1:
            c.label = f"{c.label} [{c.run_dirs[0].parent.name}]"
    return out


# ---------------------------------------------------------------------------------- provenance
VERSIONED = ("torch", "kornia", "ray", "diffusers", "numpy", "pandas", "pydantic")


def package_versions(names: Iterable[str] = VERSIONED) -> dict[str, str | None]:
    """Installed versions of the packages a run's numbers depend on (None: not installed), read
    from the installed metadata, so nothing heavy is imported."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def git_commit(where: Path | None = None) -> dict[str, Any] | None:
    """The checkout's commit and whether tracked files differ from it, when the code runs from a
    git checkout (None from an installed wheel, or without git)."""
    import shutil
    import subprocess

    root = Path(where) if where else Path(__file__).resolve().parents[1]
    if not (root / ".git").exists() or shutil.which("git") is None:
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if head.returncode != 0:
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}
