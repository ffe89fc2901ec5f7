"""The house's walls (../shared/DESIGN.md, Layout), read from the source: which room may import which.

Rooms, lowest first: the pure core (faces, face ops, registry, seeding, errors, metrics, fault
hooks, the allocator), `store`, `world`, `rounds`; `analysis` reads only the store, the spec and the
results table. The components (`generators`, `detectors`) use only the pure core. The spec and
the results table are shared by the rooms above the store; they and the entry points (the CLI,
`arena score`, launch) may import any room. Every import
counts, at module level or inside a function, so a lazy import cannot hide a crossing.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("arena", "generators", "detectors")
ROOMS = ("store", "world", "rounds", "analysis")
PURE_CORE = {
    "faces",
    "face_ops",
    "registry",
    "seeding",
    "errors",
    "metrics",
    "allocator",
}
ALLOWED = {
    "core": {"core"},
    "store": {"core", "store"},
    "world": {"core", "store", "world", "spec"},
    "rounds": {"core", "store", "world", "rounds", "generators", "detectors", "spec", "results", "faults"},
    "analysis": {"core", "store", "analysis", "results", "spec"},
    "generators": {"core", "generators"},
    "detectors": {"core", "detectors"},
}


def module_name(path: Path) -> str:
    """The installed name: arena/ is the import root deepfake_arena, the components its subpackages."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts = ["deepfake_arena", *parts[1:]] if parts[0] == "arena" else ["deepfake_arena", *parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "deepfake_arena":
        return parts[0]
    if len(parts) > 1 and parts[1] in ("generators", "detectors"):
        return parts[1]
    if len(parts) > 1 and parts[1] in ROOMS:
        return parts[1]
    if len(parts) == 1:
        return "entry"  # the package itself: `arena.run`, the notebook API
    if parts[1] in PURE_CORE:
        return "core"
    if parts[1] == "faults":
        return "faults"  # the tests' fault hooks: the round loop may call them, the store never
    if parts[1] in ("spec", "spec_generators", "results"):
        return "spec" if parts[1] != "results" else "results"
    return "entry"


def project_modules() -> dict[str, Path]:
    return {module_name(f): f for p in PACKAGES for f in (ROOT / p).rglob("*.py")}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules a file imports (the longest known module prefix of each name)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import mod` imports pkg.mod; `from mod import name` imports mod
            names = [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            if parts:
                found.add(".".join(parts))
    return found


def graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports; a package a module sits in is not counted (Python
    imports it before the module in any case, so it adds no dependency)."""
    modules = project_modules()
    return {
        m: {t for t in imports_of(f, modules) if t != m and not m.startswith(t + ".")}
        for m, f in modules.items()
    }


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative enough for ~100)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_rooms_import_only_rooms_below_them() -> None:
    crossings = []
    for module, targets in graph().items():
        room = room_of(module)
        allowed = ALLOWED.get(room)
        if allowed is None:  # entry points and the results table may import anything
            continue
        for target in sorted(targets):
            if room_of(target) not in allowed:
                crossings.append(f"{module} ({room}) imports {target} ({room_of(target)})")
    assert crossings == []


def test_the_room_check_sees_a_crossing() -> None:
    assert room_of("deepfake_arena.store.run_dir") == "store"
    assert room_of("deepfake_arena.rounds.loop") == "rounds"
    assert "rounds" not in ALLOWED["store"] and "rounds" not in ALLOWED["generators"]
    assert room_of("deepfake_arena.faces") == "core" and room_of("deepfake_arena.cli") == "entry"
    assert room_of("deepfake_arena.detectors.meso") == "detectors" and room_of("torch") == "torch"
    modules = project_modules()
    assert "deepfake_arena.detectors.registry" in modules and "deepfake_arena.world.ingest" in modules


def test_arena_has_its_rooms() -> None:
    assert all((ROOT / "arena" / room / "__init__.py").is_file() for room in ROOMS)


@pytest.mark.parametrize("room", ["deepfake_arena.analysis", "deepfake_arena.store"])
def test_analysis_and_store_never_import_torch(room: str) -> None:
    """Analysts' tools start fast: every module of these rooms imports without torch."""
    modules = sorted(m for m in project_modules() if m == room or m.startswith(room + "."))
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    code += "sys.exit(3 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_code_imports_only_the_import_root() -> None:
    """`import generators` from a checkout would load a second copy of a package (its registries
    twice) and fails once installed: every import goes through deepfake_arena."""
    old = {"arena", "generators", "detectors"}
    stale = []
    for folder in (*PACKAGES, "tests", "benchmarks"):
        for f in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                stale += [f"{f.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in old]
    assert stale == []
