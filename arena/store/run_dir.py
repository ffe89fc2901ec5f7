"""The run directory: creation, the commit protocol, recovery on resume.

Commit protocol for round r (DESIGN.md step 6): every file is written into
`rounds/.tmp-rNNNN-<pid>/` and fsynced, a manifest lists each file's sha256, the folder is
renamed to `rounds/rNNNN` and the parent fsynced, and only then is one ledger line appended.
A crash before the ledger line leaves a round that does not count; recovery moves it aside
into the run's quarantine folder (it never deletes a committed round).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from shlex import quote
from typing import Any

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.store.atomic import (
    append_line_durable,
    fsync_dir,
    fsync_file,
    sha256_file,
    write_text_atomic,
)
from deepfake_arena.store.ledger import LEDGER, MANIFEST, committed_rounds, rebuild_entries, round_dir_name
from deepfake_arena.store.lock import RunLock

OVERRIDES = "overrides.json"  # the command-line overrides a run was started with, beside spec.yaml
FORMAT_VERSION = 2  # of the run folder; 1: written before the version was recorded
QUARANTINE = "quarantine"  # damaged or unledgered rounds set aside by recovery, never deleted


class RunStore:
    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(run_dir)
        self.rounds_dir = self.dir / "rounds"
        self.lock = RunLock(self.dir)
        self._stamp: str | None = None

    # -- creation ----------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        run_dir: Path,
        spec_text: str,
        resolved: str,
        env: dict[str, object],
        overrides: list[str] | None = None,
    ) -> RunStore:
        """A new run folder: the spec as given (spec.yaml) and the overrides it was started with
        (overrides.json), the spec it runs (spec.resolved.json), the environment and hashes."""
        cls.check_new(run_dir)
        (run_dir / "rounds").mkdir(parents=True, exist_ok=True)
        write_text_atomic(run_dir / "spec.yaml", spec_text)
        write_text_atomic(run_dir / OVERRIDES, json.dumps(list(overrides or []), indent=2))
        write_text_atomic(run_dir / "spec.resolved.json", resolved)
        env = {
            **env,
            "spec_sha256": hashlib.sha256(resolved.encode()).hexdigest(),
            "spec_yaml_sha256": hashlib.sha256(spec_text.encode()).hexdigest(),
            "format_version": FORMAT_VERSION,
        }
        write_text_atomic(run_dir / "env.json", json.dumps(env, indent=2, sort_keys=True))
        (run_dir / LEDGER).touch()
        fsync_dir(run_dir)
        return cls(run_dir)

    @staticmethod
    def check_new(run_dir: Path) -> None:
        """A run starts only in a missing or empty directory (checked before Ray starts, too)."""
        if run_dir.exists() and any(run_dir.iterdir()):
            raise ArenaUserError(
                f"run directory {run_dir} already exists; "
                f"use `arena resume {quote(str(run_dir))}` or another --name"
            )

    def check_exists(self) -> None:
        if not (self.dir / "spec.resolved.json").is_file():
            raise ArenaUserError(f"{self.dir} is not an arena run directory (no spec.resolved.json)")

    def resolved_spec_text(self) -> str:
        return (self.dir / "spec.resolved.json").read_text()

    def resolved_spec(self) -> dict[str, Any]:
        """spec.resolved.json as a mapping; a damaged file is a one-line error naming it."""
        from deepfake_arena.store.run_info import read_spec

        return read_spec(self.dir)

    def spec_was_edited(self) -> bool:
        """True when spec.resolved.json no longer matches the hash recorded when the run began."""
        path = self.dir / "env.json"
        try:
            env = json.loads(path.read_bytes())
        except (OSError, ValueError):
            raise ArenaUserError(
                f"{path} is missing or damaged: it holds the hash that shows spec.resolved.json is the "
                "spec the run started with; restore it from a backup (or start the run again)"
            ) from None
        return not isinstance(env, dict) or env.get("spec_sha256") != sha256_file(
            self.dir / "spec.resolved.json"
        )

    def format_version(self) -> int:
        """The run folder's format: `format_version` in env.json; 1 for folders from before it was
        recorded. Raises a one-line error for a folder written by a newer arena."""
        try:
            env = json.loads((self.dir / "env.json").read_bytes())
        except (OSError, ValueError):
            return FORMAT_VERSION  # spec_was_edited names the missing file
        version = env.get("format_version", 1) if isinstance(env, dict) else 1
        if not isinstance(version, int) or version < 1:
            raise ArenaUserError(f"{self.dir / 'env.json'}: format_version {version!r} is not a version")
        if version > FORMAT_VERSION:
            raise ArenaUserError(
                f"{self.dir} was written in run folder format {version}; this arena reads formats up "
                f"to {FORMAT_VERSION}: resume it with the newer arena that wrote it"
            )
        return version

    def upgrade_format(self) -> str | None:
        """Bring an older run folder to FORMAT_VERSION, recording the step in env.json (under the
        lock, before any round is played); a note saying so, or None when already current.

        1 -> 2: nothing on disk changes (overrides.json and the spec.yaml hash were not recorded
        then, so they are left out); genomes saved before a gene existed take its documented,
        behaviour-preserving default when read (deepfake_arena.generators.genome.Genome.from_dict)."""
        version = self.format_version()
        if version == FORMAT_VERSION:
            return None
        path = self.dir / "env.json"
        env = json.loads(path.read_bytes())
        steps = list(env.get("format_upgrades") or [])
        steps.append({"from": version, "to": FORMAT_VERSION, "at": time.time()})
        env.update(format_version=FORMAT_VERSION, format_upgrades=steps)
        write_text_atomic(path, json.dumps(env, indent=2, sort_keys=True))
        return (
            f"run folder format {version} upgraded to {FORMAT_VERSION} (recorded in env.json); genes "
            "added since take their documented defaults"
        )

    def spec_yaml_note(self) -> str | None:
        """A warning when spec.yaml was edited after the run started (resume runs the resolved spec
        the run started with, never the edited file); None when unchanged or not recorded."""
        try:
            env = json.loads((self.dir / "env.json").read_text())
            want = env.get("spec_yaml_sha256") if isinstance(env, dict) else None
            now = sha256_file(self.dir / "spec.yaml") if want else None
        except (OSError, ValueError):
            return None
        if want is None or now == want:
            return None
        return (
            f"{self.dir / 'spec.yaml'} was edited after the run started; resume ignores it and goes on "
            "with spec.resolved.json (the spec the run started with). To run the edited spec, start it "
            "with `arena run`, or give its changes as overrides to `arena resume --force`"
        )

    def branch(self, resolved: str) -> RunStore:
        """A new run that shares this one's committed rounds (hard links) and goes on under a new spec."""
        state = committed_rounds(self.dir)
        last = state.last
        target = self.dir.with_name(f"{self.dir.name}-branch-{time.strftime('%Y%m%d-%H%M%S')}")
        env = json.loads((self.dir / "env.json").read_text())
        env.update(branched_from=str(self.dir), branched_after_round=last)
        new = RunStore.create(target, (self.dir / "spec.yaml").read_text(), resolved, env)
        for r in range(1, last + 1):
            shutil.copytree(self.round_path(r), new.round_path(r), copy_function=os.link)
        fsync_dir(new.rounds_dir)
        write_text_atomic(new.dir / LEDGER, _ledger_text(state.entries))
        return new

    # -- recovery ----------------------------------------------------------------------------
    def recover(self) -> tuple[int, list[str]]:
        """Verify the ledger and files, set aside anything after the last good round, clean temp dirs.

        Committed work is never deleted: a lost ledger is rebuilt from the rounds whose manifests
        and files verify; a damaged round and the rounds built on it are moved into
        `quarantine/<time>/` inside the run; a damaged file nothing depends on (REDRAWABLE) is
        moved there alone and recorded as dropped in its round's ledger line, and the round counts.
        Returns the last good round and human-readable notes of what was found and done.
        """
        notes: list[str] = []
        upgraded = self.upgrade_format()
        if upgraded:
            notes.append(upgraded)
        ledger = self.dir / LEDGER
        self.rounds_dir.mkdir(exist_ok=True)
        if ledger.is_symlink() or (ledger.exists() and not ledger.is_file()):
            where = self._quarantine(ledger, LEDGER)
            notes.append(f"{LEDGER} was not a plain file; moved to {where}")
        rebuilt = not ledger.exists()
        if rebuilt:
            entries = rebuild_entries(self.dir)
            write_text_atomic(ledger, _ledger_text(entries))
            notes.append(
                f"{LEDGER} was missing; rebuilt from the verified manifests of rounds 1..{len(entries)}"
            )
        state = committed_rounds(self.dir)
        problems = [p for p in state.problems if not p.endswith("set aside")]
        notes += problems
        rewrite = bool(problems)
        for r, rel in state.droppable:
            where = self._quarantine(self.round_path(r) / rel, f"{round_dir_name(r)}/{rel}")
            entry = state.entries[r - 1]
            entry["dropped"] = sorted({*(entry.get("dropped") or []), rel})  # type: ignore[misc]
            notes.append(f"round {r}: {rel} is corrupt; nothing depends on it; moved to {where}")
            rewrite = True
        if rewrite:
            if ledger.exists() and problems:
                backup = ledger.with_name(f"{LEDGER}.bad-{int(time.time())}")
                shutil.copy2(ledger, backup)
                notes.append(f"ledger rewritten to rounds 1..{state.last}; old ledger kept as {backup.name}")
            write_text_atomic(ledger, _ledger_text(state.entries))
        first_bad = state.last + 1
        for child in sorted(self.rounds_dir.iterdir()):
            if child.name.startswith(".tmp-"):
                shutil.rmtree(child)  # never committed: written before its rename
                notes.append(f"removed unfinished round folder {child.name}")
            elif child.name.startswith("r") and child.name[1:].isdigit() and int(child.name[1:]) > state.last:
                r = int(child.name[1:])
                where = self._quarantine(child, child.name)
                if r == first_bad and problems:
                    why = "is corrupt"
                elif problems:
                    why = f"was built on corrupt round {first_bad}"
                elif rebuilt:
                    why = "did not verify when the ledger was rebuilt"
                else:
                    why = "has no ledger line (the driver stopped before its commit)"
                notes.append(f"round {r} {why}; moved to {where}, to be played again")
        return state.last, notes

    def _quarantine(self, path: Path, rel: str) -> str:
        """Move `path` under `quarantine/<stamp>/<rel>` inside the run; returns that place, relative."""
        if self._stamp is None:
            self._stamp = time.strftime("%Y%m%d-%H%M%S")
            k = 1
            while (self.dir / QUARANTINE / self._stamp).exists():
                k += 1
                self._stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{k}"
        target = self.dir / QUARANTINE / self._stamp / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            os.replace(path, target)
            fsync_dir(path.parent)
            fsync_dir(target.parent)
        return target.relative_to(self.dir).as_posix()

    # -- the commit protocol -----------------------------------------------------------------
    def round_path(self, r: int) -> Path:
        return self.rounds_dir / round_dir_name(r)

    def begin_round(self, r: int) -> Path:
        tmp = self.rounds_dir / f".tmp-{round_dir_name(r)}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        (tmp / "detectors").mkdir(parents=True)
        return tmp

    def commit_round(
        self,
        r: int,
        tmp: Path,
        extra: dict[str, object] | None = None,
        fault: Callable[[str, int], None] | None = None,
    ) -> None:
        """Hash and fsync the round's files, write its manifest, rename it into place. `fault` is
        the round loop's fault-injection hook (`deepfake_arena.faults.driver_fault`), called at the commit's
        points; the store itself knows nothing of the tests."""
        fault = fault or (lambda point, r: None)
        files = {}
        for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
            fsync_file(path)
            files[path.relative_to(tmp).as_posix()] = sha256_file(path)
        manifest = {"round": r, "files": files, "created": time.time(), **(extra or {})}
        manifest_path = tmp / MANIFEST
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
        fsync_file(manifest_path)
        for sub in {p.parent for p in tmp.rglob("*")} | {tmp}:
            fsync_dir(sub)
        fault("enospc", r)
        fault("before_rename", r)
        final = self.round_path(r)
        if final.exists():  # left by a crash after the rename but before the ledger line
            shutil.rmtree(final)
        os.replace(tmp, final)
        fsync_dir(self.rounds_dir)
        fault("after_rename", r)
        line = json.dumps(
            {"round": r, "manifest_sha256": sha256_file(final / MANIFEST), "committed_at": time.time()},
            sort_keys=True,
        )
        if os.environ.get("ARENA_FAULT") == f"mid_ledger:{r}":
            with open(self.dir / LEDGER, "a") as fh:
                fh.write(line[: len(line) // 2])
                fh.flush()
                os.fsync(fh.fileno())
            os._exit(137)
        append_line_durable(self.dir / LEDGER, line)

    def write_round_files(self, tmp: Path, writers: dict[str, Callable[[Path], None]]) -> None:
        for rel, writer in writers.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            writer(path)


def _ledger_text(entries: list[dict[str, object]]) -> str:
    """Ledger lines for verified entries, as a rewrite after a fallback or a branch writes them."""
    return "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries)
