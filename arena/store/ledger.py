"""The run's ledger and manifests: which rounds count, and whether their files are intact.

A round counts only once its ledger line is complete and its manifest and files match their
sha256. Torch-free, so the analysis tools can use it and start fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from arena.store.atomic import sha256_file

LEDGER = "ledger.jsonl"
MANIFEST = "manifest.json"


def round_dir_name(r: int) -> str:
    return f"r{r:04d}"


@dataclass
class LedgerState:
    """Rounds that verified, in order, and what was found wrong beyond them."""

    rounds: list[int] = field(default_factory=list)
    entries: list[dict[str, object]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

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
    """None when the round's manifest and files match their hashes, else what is wrong."""
    r = int(entry["round"])  # type: ignore[call-overload]
    rdir = Path(run_dir) / "rounds" / round_dir_name(r)
    manifest_path = rdir / MANIFEST
    if not manifest_path.is_file():
        return f"round {r}: {manifest_path} is missing"
    if sha256_file(manifest_path) != entry.get("manifest_sha256"):
        return f"round {r}: manifest.json does not match its ledger hash"
    try:
        manifest = json.loads(manifest_path.read_text())
    except ValueError:
        return f"round {r}: manifest.json is not valid JSON"
    if not deep:
        return None
    for rel, digest in manifest.get("files", {}).items():
        path = rdir / rel
        if not path.is_file():
            return f"round {r}: {rel} is missing"
        if sha256_file(path) != digest:
            return f"round {r}: {rel} does not match its sha256 (corrupt or truncated)"
    return None


def committed_rounds(run_dir: Path, *, deep: bool = True) -> LedgerState:
    """The verified prefix of the ledger: rounds 1..k in order, each intact.

    A problem in round k stops the walk there: later rounds were built on it.
    """
    entries, problems = read_ledger_lines(run_dir)
    state = LedgerState(problems=list(problems))
    for entry in entries:
        r = int(entry["round"])  # type: ignore[call-overload]
        if r != state.last + 1:
            state.problems.append(f"ledger jumps from round {state.last} to {r}; later rounds ignored")
            break
        problem = verify_round(run_dir, entry, deep=deep)
        if problem:
            state.problems.append(problem + "; falling back to the last good round")
            break
        state.rounds.append(r)
        state.entries.append(entry)
    return state
