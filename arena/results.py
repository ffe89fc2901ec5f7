"""The results table: one tidy row per (run, seed, round, detector, detector_round, strain,
family, generation, phase, metric). Torch-free, so analysts' tools start fast.

Analysts load every committed round of a run with one call:

    >>> import arena.results
    >>> df = arena.results.load("runs/quickstart-20261126-101500")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from shlex import quote

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from arena.ledger import LEDGER, CorruptFile, committed_rounds, verified_path

RESULTS_FILE = "results.parquet"
PHASES = ("zero_day", "post", "past", "sealed")  # sealed: the vault, never trained on
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

    Each round's results.parquet is checked against the sha256 in its round's manifest first: a
    damaged file raises CorruptFile (a one-line user error) instead of changing the table.

    Given a sweep directory, every member's rows, with a `member` column and one per swept key.
    """
    run_dir = Path(run_dir)
    if (run_dir / "sweep.json").is_file():
        from arena.sweep import load_sweep

        return load_sweep(run_dir)
    if not (run_dir / "spec.resolved.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not an arena run directory (no spec.resolved.json)")
    state = committed_rounds(run_dir, deep=False)
    if state.missing_ledger:
        raise CorruptFile(f"{run_dir / LEDGER} is missing; `arena resume {quote(str(run_dir))}` rebuilds it")
    tables = [pq.read_table(verified_path(run_dir, r, RESULTS_FILE)) for r in state.rounds]
    if not tables:
        return SCHEMA.empty_table().to_pandas()
    return pa.concat_tables(tables).to_pandas()
