"""The results table: one tidy row per (run, seed, round, detector, detector_round, strain,
family, generation, phase, metric). Torch-free, so analysts' tools start fast.

Analysts load every committed round of a run with one call:

    >>> import arena.results
    >>> df = arena.results.load("runs/quickstart-20261126-101500")
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from arena.store.ledger import committed_rounds, round_dir_name

RESULTS_FILE = "results.parquet"
SWEEP_FILE = "sweep.json"  # in a sweep directory: its members and their settings
# sealed: the vault, never trained on; external: labelled real deepfakes (arena.rounds.external), where
# family is the set's name and strain the method (or `all`), generation the round
PHASES = ("zero_day", "post", "past", "sealed", "external")
ALL = "all"  # the strain/family label of rows that pool every strain of a generation

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


def to_table(rows: Sequence[dict[str, object]]) -> pa.Table:
    """Rows as a table in the fixed schema; a missing or extra column is an error, not a guess."""
    names = SCHEMA.names
    for row in rows:
        if set(row) != set(names):
            missing, extra = set(names) - set(row), set(row) - set(names)
            raise ValueError(f"result row has missing {sorted(missing)} / extra {sorted(extra)} columns")
    columns = {name: [row[name] for row in rows] for name in names}
    return pa.table(columns, schema=SCHEMA)


def write_results(path: Path, rows: Sequence[dict[str, object]]) -> None:
    pq.write_table(to_table(rows), path)


def load(run_dir: str | Path) -> pd.DataFrame:
    """All committed rounds of a run as one DataFrame (rounds still in flight are not included).

    Given a sweep directory, every member's rows, with a `member` column and one per swept key.
    """
    run_dir = Path(run_dir)
    if (run_dir / "sweep.json").is_file():
        return load_sweep(run_dir)
    if not (run_dir / "spec.resolved.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not an arena run directory (no spec.resolved.json)")
    state = committed_rounds(run_dir, deep=False)
    tables = [pq.read_table(run_dir / "rounds" / round_dir_name(r) / RESULTS_FILE) for r in state.rounds]
    if not tables:
        return SCHEMA.empty_table().to_pandas()
    return pa.concat_tables(tables).to_pandas()


def read_sweep(sweep_dir: Path) -> list[dict[str, Any]]:
    return list(json.loads((Path(sweep_dir) / SWEEP_FILE).read_text())["members"])


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
