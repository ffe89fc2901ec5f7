"""The notebook API: `arena.run(spec, overrides=..., callbacks=...)` runs a simulation as
`arena run` does and returns a `Run` with its results DataFrame, its directory and its plots.

A notebook user works in Python objects, not in shell words: a spec may be a path or a dict,
overrides a mapping of dotted keys to values, and each committed round can be handed to callbacks
(a live plot, a logger) as it lands. `arena.open_run(dir)` wraps an existing run the same way.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.rounds.progress import Progress


@dataclass(frozen=True)
class RoundEvent:
    """What a callback gets after each committed round: the round, its run and its rows."""

    round: int
    total_rounds: int
    run_dir: Path
    summary: str

    @property
    def results(self) -> pd.DataFrame:
        """This round's rows of the results table."""
        from deepfake_arena.results import load

        return load(self.run_dir, round=self.round)


Callback = Callable[[RoundEvent], None]


@dataclass
class Run:
    """A run directory and what a notebook wants from it."""

    dir: Path
    _plots: list[Path] = field(default_factory=list, repr=False)

    @property
    def results(self) -> pd.DataFrame:
        """Every committed round's rows (`deepfake_arena.results.load`), read afresh on each access."""
        from deepfake_arena.results import load

        return load(self.dir)

    @property
    def spec(self) -> dict[str, Any]:
        """The resolved spec the run was made with (a sweep: its index of members)."""
        if (self.dir / "sweep.json").is_file():
            return dict(json.loads((self.dir / "sweep.json").read_text()))
        from deepfake_arena.store.run_info import read_spec

        return read_spec(self.dir)

    def plots(self, metric: str = "auc") -> list[Path]:
        """Draw every plot into `dir/report/` (as `arena plot`); returns the files written."""
        from deepfake_arena.analysis.plots.core import plot_dir

        self._plots = [Path(p.path) for p in plot_dir(self.dir, metric) if p.path]
        return list(self._plots)

    def _repr_html_(self) -> str:  # a notebook shows the directory and the committed rounds
        df = self.results
        rounds = int(df["round"].max()) if len(df) else 0
        return f"<b>arena run</b> <code>{self.dir}</code>: {rounds} committed rounds, {len(df)} result rows"


class _CallbackProgress(Progress):
    """Progress lines as usual, and the callbacks after each committed round."""

    def __init__(self, total: int, first: int, run_dir: Path, callbacks: Sequence[Callback], quiet: bool):
        import io

        super().__init__(total, first, io.StringIO() if quiet else None)
        self.run_dir = run_dir
        self.callbacks = list(callbacks)

    def round_done(self, r: int, summary: str) -> None:
        super().round_done(r, summary)
        event = RoundEvent(r, self.total, self.run_dir, summary)
        for callback in self.callbacks:
            callback(event)


def _override_words(overrides: Mapping[str, Any] | Sequence[str] | None) -> list[str]:
    """`{"rounds": 3, "world.identities": {...}}` as the CLI's `key=value` words (JSON is YAML)."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    if isinstance(overrides, str):
        raise ArenaUserError("overrides: a mapping of dotted keys to values, or a list of key=value words")
    return [str(word) for word in overrides]


def run(
    spec: str | Path | Mapping[str, Any],
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    *,
    callbacks: Iterable[Callback] = (),
    name: str | None = None,
    runs_dir: str | Path = "runs",
    address: str | None = None,
    num_cpus: int | None = None,
    quiet: bool = False,
) -> Run:
    """Run a simulation to its last round and return it.

    spec: a YAML spec's path, or the spec itself as a dict. overrides: dotted keys to values
    (`{"rounds": 3, "detectors.0.strategy": "frozen"}`) or `["rounds=3"]`. callbacks: called
    with a `RoundEvent` after each committed round (single runs; a sweep's members run
    concurrently and take none). quiet: no progress lines.
    """
    from deepfake_arena.launch import default_run_name, start_run
    from deepfake_arena.rounds.sweep import is_sweep
    from deepfake_arena.spec import apply_overrides, parse_overrides, read_spec_file, validate_spec

    words = _override_words(overrides)
    callbacks = list(callbacks)
    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(spec, Mapping):
            path = Path(tmp) / f"{name or 'notebook'}.yaml"
            path.write_text(yaml.safe_dump(json.loads(json.dumps(dict(spec))), sort_keys=False))
        else:
            path = Path(spec)
        raw, _ = read_spec_file(path)
        raw = apply_overrides(raw, parse_overrides(words))
        runs_dir = Path(runs_dir)
        name = name or default_run_name(path, runs_dir)
        progress: Progress | None = None
        if is_sweep(raw):
            if callbacks:
                raise ArenaUserError("callbacks apply to a single run, not to a sweep's concurrent members")
        else:
            resolved = validate_spec(raw)
            progress = _CallbackProgress(resolved.rounds, 1, runs_dir / name, callbacks, quiet)
        out = start_run(
            path, words, name=name, runs_dir=runs_dir, address=address, num_cpus=num_cpus, progress=progress
        )
    return Run(Path(out))


def open_run(run_dir: str | Path) -> Run:
    """An existing run (or sweep) directory as a `Run`."""
    path = Path(run_dir)
    if not ((path / "spec.resolved.json").is_file() or (path / "sweep.json").is_file()):
        raise ArenaUserError(f"{path} is not an arena run directory (no spec.resolved.json)")
    return Run(path)
