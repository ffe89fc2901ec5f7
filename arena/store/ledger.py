"""The run's ledger and manifests: which rounds count, and whether their files are intact.

A round counts only once its ledger line is complete and its manifest and files match their
sha256. Torch-free, so the analysis tools can use it and start fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from shlex import quote
from typing import Any

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.store.atomic import sha256_file

LEDGER = "ledger.jsonl"
MANIFEST = "manifest.json"
# Files of a round that no result and no later round depends on: a damaged one is moved to the
# run's quarantine and recorded in the round's ledger line as dropped; the round still counts.
REDRAWABLE = frozenset({"samples.png", "timings.json"})


class CorruptFile(ArenaUserError):
    """A round file that does not match the sha256 its round's manifest records."""


def round_dir_name(r: int) -> str:
    return f"r{r:04d}"


@dataclass
class LedgerState:
    """Rounds that verified, in order, and what was found wrong beyond them."""

    rounds: list[int] = field(default_factory=list)
    entries: list[dict[str, object]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # (round, file) of damaged files the results do not depend on, in rounds that still count
    droppable: list[tuple[int, str]] = field(default_factory=list)
    missing_ledger: bool = False

    @property
    def last(self) -> int:
        return self.rounds[-1] if self.rounds else 0


def read_ledger_lines(run_dir: Path) -> tuple[list[dict[str, object]], list[str]]:
    """Parsed complete lines; a torn (unterminated or unparsable) line ends the ledger."""
    path = Path(run_dir) / LEDGER
    if not path.exists():
        return [], []
    entries: list[dict[str, object]] = []
    problems: list[str] = []
    if not path.is_file() or path.is_symlink():
        return [], [f"{LEDGER} is not a plain file; `arena resume` sets it aside and rebuilds it"]
    data = path.read_bytes()
    lines = data.split(b"\n")
    for i, raw in enumerate(lines):
        if i == len(lines) - 1:
            if raw.strip():
                problems.append(f"ledger line {i + 1} is incomplete (torn write); ignored")
            break
        try:
            entry = json.loads(raw)
            if not isinstance(entry, dict) or not isinstance(entry.get("round"), int):
                raise ValueError("no round")
        except ValueError:
            problems.append(f"ledger line {i + 1} is corrupt; it and later lines are ignored")
            break
        entries.append(entry)
    return entries, problems


def verify_round(run_dir: Path, entry: dict[str, object], *, deep: bool = True) -> str | None:
    """None when the round's manifest and files match their hashes, else what is wrong.

    A damaged file in REDRAWABLE is not a problem here; :func:`droppable_files` lists those.
    """
    problem, _ = _check_round(run_dir, entry, deep=deep)
    return problem


def droppable_files(run_dir: Path, entry: dict[str, object]) -> list[str]:
    """Damaged (missing or mismatched) files of a round that nothing depends on."""
    return _check_round(run_dir, entry, deep=True)[1]


def read_manifest(rdir: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((rdir / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return None
    return manifest


def _check_round(run_dir: Path, entry: dict[str, object], *, deep: bool) -> tuple[str | None, list[str]]:
    r = int(entry["round"])  # type: ignore[call-overload]
    rdir = Path(run_dir) / "rounds" / round_dir_name(r)
    manifest_path = rdir / MANIFEST
    if not manifest_path.is_file():
        return f"round {r}: {manifest_path} is missing", []
    if sha256_file(manifest_path) != entry.get("manifest_sha256"):
        return f"round {r}: manifest.json does not match its ledger hash", []
    manifest = read_manifest(rdir)
    if manifest is None:
        return f"round {r}: manifest.json is not valid JSON", []
    if not deep:
        return None, []
    dropped = set(entry.get("dropped") or [])  # type: ignore[call-overload]
    bad: list[str] = []
    for rel, digest in manifest["files"].items():
        if rel in dropped:
            continue
        path = rdir / rel
        if not path.is_file():
            problem = f"round {r}: {rel} is missing"
        elif sha256_file(path) != digest:
            problem = f"round {r}: {rel} does not match its sha256 (corrupt or truncated)"
        else:
            continue
        if rel in REDRAWABLE:
            bad.append(rel)
        else:
            return problem, bad
    return None, bad


def rebuild_entries(run_dir: Path) -> list[dict[str, object]]:
    """Ledger lines for rounds 1, 2, ... whose manifests name their own round and whose files all
    match, up to the first that does not: what a lost ledger.jsonl said, as far as the disk can show."""
    entries: list[dict[str, object]] = []
    r = 1
    while True:
        rdir = Path(run_dir) / "rounds" / round_dir_name(r)
        manifest = read_manifest(rdir)
        if manifest is None or manifest.get("round") != r:
            return entries
        entry: dict[str, object] = {
            "round": r,
            "manifest_sha256": sha256_file(rdir / MANIFEST),
            "committed_at": manifest.get("created"),
            "rebuilt": True,
        }
        problem, bad = _check_round(run_dir, entry, deep=True)
        if problem:
            return entries
        if bad:
            entry["dropped"] = bad
        entries.append(entry)
        r += 1


def verified_path(run_dir: Path, r: int, rel: str) -> Path:
    """The path of file `rel` of committed round r, after checking it against the round's manifest.

    Raises CorruptFile (a one-line user error) when it does not match; readers call this for
    every round file they read, so one flipped bit cannot change a table without a word.
    """
    rdir = Path(run_dir) / "rounds" / round_dir_name(r)
    path = rdir / rel
    manifest = read_manifest(rdir)
    want = manifest["files"].get(rel) if manifest else None
    if want is None:
        raise CorruptFile(f"{path}: not listed in its round's manifest; cannot verify it")
    if not path.is_file() or sha256_file(path) != want:
        raise CorruptFile(
            f"{path} does not match the sha256 in its round's manifest (corrupt); "
            f"`arena resume {quote(str(run_dir))}` moves the damaged round aside and plays it again"
        )
    return path


def committed_rounds(run_dir: Path, *, deep: bool = True) -> LedgerState:
    """The verified prefix of the ledger: rounds 1..k in order, each intact.

    A problem in round k stops the walk there: later rounds were built on it. A damaged file
    that nothing depends on (REDRAWABLE) does not: it is listed in `droppable`.
    """
    entries, problems = read_ledger_lines(run_dir)
    state = LedgerState(problems=list(problems))
    if not (Path(run_dir) / LEDGER).exists():
        state.missing_ledger = True
        state.problems.append(f"{LEDGER} is missing; `arena resume` rebuilds it from the round manifests")
    for entry in entries:
        r = int(entry["round"])  # type: ignore[call-overload]
        if r != state.last + 1:
            state.problems.append(f"ledger jumps from round {state.last} to {r}; later rounds ignored")
            break
        problem, bad = _check_round(run_dir, entry, deep=deep)
        if problem:
            state.problems.append(problem + "; falling back to the last good round")
            break
        for rel in bad:
            state.droppable.append((r, rel))
            state.problems.append(f"round {r}: {rel} is damaged; nothing depends on it, so it is set aside")
        state.rounds.append(r)
        state.entries.append(entry)
    return state
