"""The results table: one tidy row per (run, seed, round, detector, detector_round, strain,
family, generation, phase, metric). Torch-free, so analysts' tools start fast.

Analysts load every committed round of a run with one call, filtered on any column:

    >>> import deepfake_arena.results
    >>> df = deepfake_arena.results.load("runs/quickstart-20261126-101500")
    >>> zd = deepfake_arena.results.load("runs/quickstart-20261126-101500", phase="zero_day", pooled=False)

Rows that pool every strain of a generation (`strain == "all"`) sit beside the per-strain rows;
the boolean `pooled` column marks them, so an average over strains can leave them out. `method`
names the labelled faceset's method of a recorded strain's rows (and of an external set's
per-method rows), null otherwise. Files written before a column existed load with `pooled`
derived from `strain` and `method` null.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from shlex import quote
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from deepfake_arena.store.ledger import LEDGER, CorruptFile, committed_rounds, verified_path

RESULTS_FILE = "results.parquet"
SWEEP_FILE = "sweep.json"  # in a sweep directory: its members and their settings
# sealed: the vault, never trained on; external: labelled real deepfakes (rounds.external), where
# family is the set's name and strain the method (or `all`), generation the round
PHASES = ("zero_day", "post", "past", "sealed", "external")
ALL = "all"  # the strain/family label of rows that pool every strain of a generation
# Phases "jpeg95", "jpeg75", ...: the post versions on this round's eval faces re-encoded as JPEG at
# that quality (spec evaluation.jpeg_qualities, deepfake_arena.rounds.recompress; off by default).
JPEG_PREFIX = "jpeg"


def jpeg_phase(quality: int) -> str:
    return f"{JPEG_PREFIX}{int(quality)}"


def jpeg_quality(phase: str) -> int | None:
    """The quality of a `jpegQ` phase, None for any other phase."""
    rest = phase[len(JPEG_PREFIX) :] if phase.startswith(JPEG_PREFIX) else ""
    return int(rest) if rest.isdigit() else None


SCHEMA = pa.schema(
    [
        ("run", pa.string()),
        ("seed", pa.int64()),
        ("round", pa.int64()),
        ("detector", pa.string()),
        ("arch", pa.string()),
        ("strategy", pa.string()),
        ("detector_round", pa.int64()),
        ("strain", pa.string()),
        ("family", pa.string()),
        ("generation", pa.int64()),
        ("phase", pa.string()),
        ("metric", pa.string()),
        ("value", pa.float64()),
        ("ci_low", pa.float64()),
        ("ci_high", pa.float64()),
        ("n", pa.int64()),
        ("pooled", pa.bool_()),  # strain == ALL: the row pools every strain of the generation
        ("method", pa.string()),  # the labelled faceset's method of a recorded strain or external row
    ]
)
KEY = [
    "run",
    "seed",
    "round",
    "detector",
    "detector_round",
    "strain",
    "family",
    "generation",
    "phase",
    "metric",
]


DERIVED = ("pooled",)  # columns computed from the others, never given by the rows


def to_table(rows: Sequence[dict[str, object]]) -> pa.Table:
    """Rows as a table in the fixed schema; a missing or extra column is an error, not a guess."""
    names = [n for n in SCHEMA.names if n not in DERIVED]
    for row in rows:
        if set(row) != set(names):
            missing, extra = set(names) - set(row), set(row) - set(names)
            raise ValueError(f"result row has missing {sorted(missing)} / extra {sorted(extra)} columns")
    columns: dict[str, list[object]] = {name: [row[name] for row in rows] for name in names}
    columns["pooled"] = [row["strain"] == ALL for row in rows]
    return pa.table({name: columns[name] for name in SCHEMA.names}, schema=SCHEMA)


def write_results(path: Path, rows: Sequence[dict[str, object]]) -> None:
    pq.write_table(to_table(rows), path)


def read_round(path: Path) -> pa.Table:
    """One round's results file in today's schema; a file from before a column existed gets it
    derived (`pooled` from `strain`) or null (`method`)."""
    table = pq.read_table(path)
    if "pooled" not in table.column_names:
        strain = table.column("strain").to_pylist()
        table = table.append_column(pa.field("pooled", pa.bool_()), pa.array([s == ALL for s in strain]))
    if "method" not in table.column_names:
        table = table.append_column(pa.field("method", pa.string()), pa.nulls(table.num_rows, pa.string()))
    return table.select(SCHEMA.names).cast(SCHEMA)


def load(run_dir: str | Path, **filters: object) -> pd.DataFrame:
    """All committed rounds of a run as one DataFrame (rounds still in flight are not included).

    Each round's results.parquet is checked against the sha256 in its round's manifest first: a
    damaged file raises CorruptFile (a one-line user error) instead of changing the table.

    Given a sweep directory, every member's rows, with a `member` column and one per swept key.

    Given a sweep directory, every member's rows, with a `member` column and one per swept key; a
    sweep member loaded alone has its swept keys' columns too. `filters` keep the rows whose
    column equals the value, or any of a list's values: `phase="zero_day"`, `metric=["auc", "ap"]`,
    `pooled=False`, `detector=...`; an unknown column is a ValueError naming the columns.
    """
    run_dir = Path(run_dir)
    if (run_dir / "sweep.json").is_file():
        return select(load_sweep(run_dir), **filters)
    if not (run_dir / "spec.resolved.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not an arena run directory (no spec.resolved.json)")
    state = committed_rounds(run_dir, deep=False)
    if state.missing_ledger:
        raise CorruptFile(f"{run_dir / LEDGER} is missing; `arena resume {quote(str(run_dir))}` rebuilds it")
    tables = [read_round(verified_path(run_dir, r, RESULTS_FILE)) for r in state.rounds]
    df = (pa.concat_tables(tables) if tables else SCHEMA.empty_table()).to_pandas()
    for key, value in swept_settings(run_dir).items():
        df[key] = json.dumps(value) if isinstance(value, list | dict) else value
    return select(df, **filters)


def swept_settings(run_dir: Path) -> dict[str, object]:
    """The swept keys' values of a sweep member (from its sweep's index); {} for a plain run.

    Seeds are left out: replicates differ only in the `seed` column, as in `load_sweep`."""
    index = run_dir.parent / "sweep.json"
    if not index.is_file():
        return {}
    try:
        members = json.loads(index.read_text()).get("members", [])
    except (OSError, ValueError):
        return {}
    for m in members:
        if m.get("name") == run_dir.name:
            return {k: v for k, v in sorted(m.get("settings", {}).items()) if k != "seed"}
    return {}


def select(df: pd.DataFrame, **filters: object) -> pd.DataFrame:
    """Rows of `df` whose columns match `filters` (a value, or any of a list/tuple/set of them)."""
    unknown = sorted(set(filters) - set(df.columns))
    if unknown and not df.empty:
        raise ValueError(f"no column {', '.join(unknown)} to filter on; columns: {', '.join(df.columns)}")
    keep = pd.Series(True, index=df.index)
    for col, value in filters.items():
        if col not in df.columns:
            continue
        wanted = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
        keep &= df[col].isin(wanted)
    return df[keep].reset_index(drop=True) if filters else df


def read_sweep(sweep_dir: Path) -> list[dict[str, Any]]:
    """The members listed in sweep.json; a damaged file is a one-line error naming it."""
    from deepfake_arena.errors import ArenaUserError
    from deepfake_arena.preflight import NAME_RE

    path = Path(sweep_dir) / SWEEP_FILE
    try:
        members = json.loads(path.read_bytes())["members"]
        if not all(isinstance(m, dict) and NAME_RE.fullmatch(str(m["name"])) for m in members):
            raise ValueError("a member without a valid name")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArenaUserError(f"{path} is damaged ({' '.join(str(exc).split())[:120]})") from None
    return list(members)


def load_sweep(sweep_dir: str | Path) -> pd.DataFrame:
    """Every member's committed rounds, with a `member` column and one column per swept key."""
    sweep_dir = Path(sweep_dir)
    frames = []
    members = read_sweep(sweep_dir)
    keys = sorted({k for m in members for k in m["settings"] if k != "seed"})
    for m in members:
        member_dir = sweep_dir / m["name"]
        if not (member_dir / "spec.resolved.json").is_file():
            continue
        df = load(member_dir)
        df.insert(0, "member", m["name"])
        for k in keys:
            value = m["settings"].get(k)
            df[k] = json.dumps(value) if isinstance(value, list | dict) else value
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
