"""Labels files: which faces are real or fake, made by which method, released when, from which clip.

One reader for `arena ingest --labels` (the labels end up in the faceset's index) and
`arena score --labels`. A labels file is CSV with a header row, or JSON: a list of objects (the
older `{file: label}` object is read too). Columns:

- `file`: the file's path relative to the source folder (POSIX slashes);
- `label`: 0/1 or real/fake (any case); any other word is kept as unknown (label <NA>, the word in
  `label_raw`) for the caller to quarantine or refuse;
- optional `method` (the manipulation, e.g. faceswap), `released` (YYYY-MM or YYYY-MM-DD, kept as
  YYYY-MM-DD, day 01 when only the month is given) and `source` (the clip a frame belongs to).

Files are bounded (`MAX_BYTES`); an empty, non-UTF-8 or malformed file is one-line ArenaUserError.
"""

from __future__ import annotations

import datetime
import io
import json
import re
from pathlib import Path

import pandas as pd

from deepfake_arena.errors import ArenaUserError

MAX_BYTES = 64 << 20  # a labels file of 64 MiB names about a million files
LABEL_COLUMNS = ("label", "method", "released")  # what a labelled faceset's index gains
OPTIONAL = ("method", "released", "source")
WORDS = {"0": 0, "1": 1, "real": 0, "fake": 1}
_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


def normalise_released(value: str) -> str:
    """'YYYY-MM' -> 'YYYY-MM-01'; 'YYYY-MM-DD' checked and kept; ValueError for anything else."""
    m = _DATE.match(value.strip())
    if m is None:
        raise ValueError(f"released {value!r} is not YYYY-MM or YYYY-MM-DD")
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        raise ValueError(f"released {value!r} is not a calendar date") from None


def label_of(word: object) -> int | None:
    """0 or 1 for 0/1/real/fake (any case, surrounding spaces ignored); None for anything else."""
    return WORDS.get(str(word).strip().lower())


def _text(path: Path, what: str) -> str:
    if not path.is_file():
        raise ArenaUserError(f"{what} {path}: file not found")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ArenaUserError(f"{what} {path}: {size} bytes, more than the {MAX_BYTES} a labels file may have")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArenaUserError(f"{what} {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise ArenaUserError(f"{what} {path}: the file is empty")
    return text


def _records(path: Path, text: str, what: str) -> list[dict[str, object]]:
    """The file's rows as dicts, from JSON or CSV."""
    if path.suffix.lower() == ".json":
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArenaUserError(f"{what} {path}: not valid JSON ({exc})") from None
        if isinstance(raw, dict):  # {file: label}
            return [{"file": k, "label": v} for k, v in raw.items()]
        if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
            raise ArenaUserError(
                f"{what} {path}: expected a JSON list of objects (file, label, ...) "
                "or an object {file: label}"
            )
        return raw
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArenaUserError(f"{what} {path}: not a valid CSV file ({first})") from None
    return df.to_dict("records")


def read_label_file(path: str | Path, what: str = "--labels") -> pd.DataFrame:
    """The labels file as a table, one row per file.

    Columns: file (str), label (Int8, <NA> for an unknown word), label_raw (the word as written),
    method, released (YYYY-MM-DD), source (string, <NA> where not given). Raises ArenaUserError
    (one line) for a missing, oversized, empty, non-UTF-8 or malformed file, a missing `file` or
    `label` column, an empty or repeated file, or a `released` that is not a date.
    """
    path = Path(path)
    text = _text(path, what)
    records = _records(path, text, what)
    if not records:
        raise ArenaUserError(f"{what} {path}: no rows (a header and at least one file,label row)")
    columns = {str(k).strip() for r in records for k in r}
    if not {"file", "label"} <= columns:
        raise ArenaUserError(f"{what} {path}: needs columns 'file' and 'label', got {sorted(columns)}")
    json_file = path.suffix.lower() == ".json"
    rows, seen = [], set()
    for number, rec in enumerate(records, 1 if json_file else 2):
        where = f"{what} {path}: {'item' if json_file else 'line'} {number}"
        rec = {str(k).strip(): v for k, v in rec.items()}
        file = str(rec.get("file") if rec.get("file") is not None else "").strip().replace("\\", "/")
        file = file.removeprefix("./")
        if not file:
            raise ArenaUserError(f"{where}: empty file")
        if file in seen:
            raise ArenaUserError(f"{where}: {file!r} is listed twice")
        seen.add(file)
        raw = "" if rec.get("label") is None else str(rec["label"]).strip()
        row: dict[str, object] = {"file": file, "label": label_of(raw), "label_raw": raw}
        for key in OPTIONAL:
            value = rec.get(key)
            value = None if value is None or str(value).strip() == "" else str(value).strip()
            if key == "released" and value is not None:
                try:
                    value = normalise_released(value)
                except ValueError as exc:
                    raise ArenaUserError(f"{where}: {exc}") from None
            row[key] = value
        rows.append(row)
    table = pd.DataFrame(rows, columns=["file", "label", "label_raw", *OPTIONAL])
    table["label"] = table["label"].astype("Int8")
    for key in OPTIONAL:
        table[key] = table[key].astype("string")
    return table
