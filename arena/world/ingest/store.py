"""Writing a faceset: uint8 safetensors shards, Parquet tables, and a manifest written last.

    FACESET/
      manifest.json                      the commit point: lists every file below with its sha256
      index.parquet                      one row per face (see `deepfake_arena.world.faceset.INDEX_COLUMNS`)
      quarantine.parquet                 one row per rejected input, with its reason
      files.parquet                      one row per source file: size, mtime, sha256 (re-ingest)
      labels.parquet                     a labelled faceset's labels file, as read (`world.labels`)
      shards/sGGGG-KKKK.safetensors      images (N, 3, S, S) uint8, landmarks68 (N, 68, 2) float32

Every ingest is a new generation G: its shards get new names (live shards are never overwritten),
then the three tables are replaced (each atomically), then the manifest (atomically), and only
then are shards no row references any more deleted. A crash before the manifest leaves tables
that no longer match the manifest's sha256: readers refuse them with a clear message, and the
next ingest notices and rebuilds. Faces of unchanged files keep their rows in old shards.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from safetensors.torch import save

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.store.atomic import sha256_file, write_bytes_atomic, write_text_atomic
from deepfake_arena.world.faceset import FORMAT, MANIFEST, VERSION, read_manifest
from deepfake_arena.world.ingest.align import TEMPLATE
from deepfake_arena.world.ingest.options import DEFAULT_CREDIT
from deepfake_arena.world.ingest.process import BatchResult

QUARANTINE_COLUMNS = ["file", "frame", "identity", "reason", "detail"]
FILE_COLUMNS = ["file", "kind", "identity", "size", "mtime_ns", "sha256", "lm_digest"]


def _parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), buf)
    return buf.getvalue()


class FacesetWriter:
    """Accumulates batch results into shards and commits a new generation of the faceset.

    Args:
        out: the faceset folder (created if absent).
        size: crop side; must match an existing faceset unless `content` changed (then rebuilt).
        content: the options that decide the content (`IngestOptions.content()`).
        credit: the credit line to show wherever these faces are shown (None: keep the old one).
        shard_rows: faces per shard.
    """

    def __init__(
        self, out: Path, size: int, content: dict[str, Any], credit: str | None, shard_rows: int
    ) -> None:
        self.out, self.size, self.content = out, size, content
        self.shard_rows = shard_rows
        if out.exists() and not out.is_dir():
            raise ArenaUserError(f"--out {out} is a file, not a folder")
        if out.is_dir() and not (out / MANIFEST).exists() and any(out.iterdir()):
            raise ArenaUserError(
                f"--out {out} is not empty and holds no faceset ({MANIFEST}); give a new or empty folder "
                "(ingest writes and deletes files there)"
            )
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / "shards").mkdir(exist_ok=True)
        except OSError as exc:
            raise ArenaUserError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
        self._written: list[str] = []
        self.previous = read_manifest(out) if (out / MANIFEST).exists() else None
        self.rebuild = self.previous is not None and (
            self.previous["options"] != content or not _tables_match(out, self.previous)
        )
        self.generation = 1 if self.previous is None else int(self.previous["generation"]) + 1
        # A re-ingest without --credit keeps the credit the faceset was made with.
        kept = self.previous["credit"] if self.previous is not None else None
        self.credit = credit or kept or DEFAULT_CREDIT.format(src="the source folder")
        empty = {c: pd.Series(dtype=object) for c in FILE_COLUMNS}
        if self.previous is None or self.rebuild:
            self.old_index = pd.DataFrame()
            self.old_quarantine = pd.DataFrame(columns=QUARANTINE_COLUMNS)
            self.old_files = pd.DataFrame(empty)
        else:
            self.old_index = pd.read_parquet(out / self.previous["index"]["file"])
            self.old_quarantine = pd.read_parquet(out / self.previous["quarantine"]["file"])
            self.old_files = pd.read_parquet(out / self.previous["files"]["file"])
        self._labels_file = None
        if self.previous is not None and "labels" in self.previous:
            path = out / self.previous["labels"]["file"]
            if path.is_file() and sha256_file(path) == self.previous["labels"]["sha256"]:
                self._labels_file = path
        self._rows: list[dict[str, Any]] = []
        self._quarantine: list[dict[str, Any]] = []
        self._files: list[dict[str, Any]] = []
        self._pending: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._pending_n = 0
        self._shards: dict[str, dict[str, Any]] = {}

    def stored_labels(self) -> pd.DataFrame | None:
        """The labels the faceset was made with (a re-ingest without --labels keeps them), or None."""
        if self._labels_file is None:
            return None
        from deepfake_arena.world.labels import OPTIONAL

        table = pd.read_parquet(self._labels_file)
        table["label"] = table["label"].astype("Int8")
        for key in OPTIONAL:
            table[key] = table[key].astype("string")
        return table

    def known_files(self) -> pd.DataFrame:
        """The source files the current generation holds (empty on a first ingest or a rebuild)."""
        return self.old_files

    def add(self, result: BatchResult) -> float:
        """Buffer one batch; writes full shards. Returns seconds spent writing shards."""
        t = 0.0
        n0 = len(self._rows)
        for k, row in enumerate(result.faces):
            self._rows.append({**row, "_order": n0 + k})
        self._quarantine.extend(result.quarantine)
        self._files.extend(result.files)
        if len(result.faces):
            self._pending.append((result.images, result.landmarks68))
            self._pending_n += len(result.faces)
        while self._pending_n >= self.shard_rows:
            t += self._flush(self.shard_rows)
        return t

    def _flush(self, n: int) -> float:
        t0 = time.perf_counter()
        images = torch.cat([p[0] for p in self._pending])
        lm68 = torch.cat([p[1] for p in self._pending])
        take, rest = images[:n], images[n:]
        lm_take, lm_rest = lm68[:n], lm68[n:]
        self._pending = [(rest, lm_rest)] if len(rest) else []
        self._pending_n = len(rest)
        name = f"s{self.generation:04d}-{len(self._shards):04d}.safetensors"
        data = save({"images": take.contiguous(), "landmarks68": lm_take.contiguous()})
        write_bytes_atomic(self.out / "shards" / name, data)
        self._written.append(name)
        first = sum(s["rows"] for s in self._shards.values())
        for row in self._rows[first : first + len(take)]:
            row["shard"], row["row"] = name, row["_order"] - first
        self._shards[name] = {"rows": len(take), "sha256": _sha(data)}
        return time.perf_counter() - t0

    def commit(
        self,
        keep: set[str],
        summary: dict[str, Any],
        touched: dict[str, int] | None = None,
        labels: pd.DataFrame | None = None,
    ) -> dict[str, Any]:
        """Write the new generation: files in `keep` keep their old rows, the rest are replaced.

        `touched` maps kept files whose mtime changed (content hash unchanged) to their new
        mtime, so the next ingest need not hash them again. `labels` (a labels table, see
        `world.labels`) sets every face's label, method, released and source, and is kept in the
        faceset. Returns the manifest written.
        """
        flush_s = self._flush(self._pending_n) if self._pending_n else 0.0
        g = self.generation
        new_index = pd.DataFrame(self._rows).drop(columns="_order") if self._rows else pd.DataFrame()
        old_index = (
            self.old_index[self.old_index["file"].isin(keep)] if len(self.old_index) else self.old_index
        )
        index_parts = [d for d in (old_index, new_index) if len(d)]
        if index_parts:  # every input of a first ingest can be rejected: then the index is empty
            index = pd.concat(index_parts, ignore_index=True)
            index = index.sort_values(["file", "frame", "face"], kind="stable").reset_index(drop=True)
        else:
            index = pd.DataFrame(columns=["file", "identity", "source", "frame", "face", "shard", "row"])
        if labels is not None:
            from deepfake_arena.world.ingest.labelling import label_columns

            index = label_columns(index, labels)
        old_q = self.old_quarantine[self.old_quarantine["file"].isin(keep)]
        quarantine = pd.concat([old_q, pd.DataFrame(self._quarantine, columns=QUARANTINE_COLUMNS)])
        quarantine = quarantine.sort_values(["file", "frame"], kind="stable").reset_index(drop=True)
        quarantine["frame"] = quarantine["frame"].astype("int64")
        old_f = self.old_files[self.old_files["file"].isin(keep)].copy()
        if touched:
            new_mtime = old_f["file"].map(touched)
            old_f["mtime_ns"] = new_mtime.fillna(old_f["mtime_ns"]).astype("int64")
        parts = [d for d in (old_f, pd.DataFrame(self._files, columns=FILE_COLUMNS)) if len(d)]
        files = pd.concat(parts).sort_values("file") if parts else pd.DataFrame(columns=FILE_COLUMNS)
        files = files.reset_index(drop=True)
        tables = {}
        for key, df in (("index", index), ("quarantine", quarantine), ("files", files)):
            name = f"{key}.parquet"
            data = _parquet_bytes(df)
            write_bytes_atomic(self.out / name, data)
            tables[key] = {"file": name, "sha256": _sha(data), "rows": len(df)}
        if labels is not None:
            data = _parquet_bytes(labels)
            write_bytes_atomic(self.out / "labels.parquet", data)
            tables["labels"] = {"file": "labels.parquet", "sha256": _sha(data), "rows": len(labels)}
        shards = dict(self._shards)
        if self.previous is not None and not self.rebuild:
            used = set(index["shard"]) if len(index) else set()
            for name, meta in self.previous["shards"].items():
                if name in used:
                    shards[name] = meta
        ingested_inputs = index[["file", "frame"]].drop_duplicates().shape[0] if len(index) else 0
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "generation": g,
            "size": self.size,
            "template": TEMPLATE.tolist(),
            "credit": self.credit,
            "options": self.content,
            **tables,
            "shards": dict(sorted(shards.items())),
            "counts": {
                "faces": len(index),
                "identities": int(index["identity"].nunique()) if len(index) else 0,
                "sources": int(index["source"].nunique()) if len(index) else 0,
            },
            "totals": {
                "seen": ingested_inputs + len(quarantine),
                "ingested": ingested_inputs,
                "quarantined": len(quarantine),
            },
            "last_ingest": {**summary, "shard_write_s": summary.get("shard_write_s", 0.0) + flush_s},
        }
        write_text_atomic(self.out / MANIFEST, json.dumps(manifest, indent=2))
        self._clean(manifest)
        return manifest

    def _clean(self, manifest: dict[str, Any]) -> None:
        """Remove shards the new manifest no longer names (after it is in place): only those the
        previous manifest named, or this ingest wrote. A file the faceset never listed is left."""
        ours = set(self.previous["shards"]) if self.previous else set()
        ours |= set(self._written)
        for name in sorted(ours - set(manifest["shards"])):
            (self.out / "shards" / name).unlink(missing_ok=True)


def _tables_match(out: Path, manifest: dict[str, Any]) -> bool:
    """False after an ingest that died between replacing the tables and the manifest."""
    for key in ("index", "quarantine", "files"):
        path = out / manifest[key]["file"]
        if not path.is_file() or sha256_file(path) != manifest[key]["sha256"]:
            return False
    return True


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def verify(out: Path) -> None:
    """Check every file the manifest names against its sha256; raises ArenaUserError."""
    m = read_manifest(out)
    for key in ("index", "quarantine", "files", *(["labels"] if "labels" in m else [])):
        if sha256_file(out / m[key]["file"]) != m[key]["sha256"]:
            raise ArenaUserError(f"faceset {out}: {m[key]['file']} does not match its sha256")
    for name, meta in m["shards"].items():
        if sha256_file(out / "shards" / name) != meta["sha256"]:
            raise ArenaUserError(f"faceset {out}: shard {name} does not match its sha256")
