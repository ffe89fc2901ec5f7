"""`arena ingest`: scan SRC, work out what is new or changed, process it in batches, commit.

Batches run in-process, or with `workers > 1` as Ray actors (each loads face-alignment once and
takes batch after batch; `device='cuda'` gives each a GPU share). Results come back in order, so
the faceset does not depend on the number of workers. A tqdm bar counts files and shows faces/s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.world.ingest.decode import Rejected
from deepfake_arena.world.ingest.labelling import apply_labels
from deepfake_arena.world.ingest.landmarks_file import LandmarksFile
from deepfake_arena.world.ingest.options import DEFAULT_CREDIT, IngestOptions
from deepfake_arena.world.ingest.process import BatchProcessor, BatchResult
from deepfake_arena.world.ingest.safe_read import sha256_regular
from deepfake_arena.world.ingest.scan import SourceFile, read_mapping, scan_all
from deepfake_arena.world.ingest.store import FacesetWriter
from deepfake_arena.world.labels import read_label_file


@dataclass
class Plan:
    """Which scanned files to process, which to keep as they are, and why."""

    todo: list[SourceFile] = field(default_factory=list)
    keep: set[str] = field(default_factory=set)
    touched: dict[str, int] = field(default_factory=dict)
    new: int = 0
    changed: int = 0
    removed: int = 0


def _same_sha256(path: Path, want: str) -> bool:
    """Whether a regular file still hashes to `want` (streamed; a FIFO or device never does)."""
    try:
        return sha256_regular(path) == want
    except Rejected:
        return False


def plan(src: Path, files: list[SourceFile], known: Any, lmfile: LandmarksFile | None) -> Plan:
    """New or changed files (by size, mtime, then sha256; identity and landmarks too) are redone."""
    p = Plan()
    prev = {r.file: r for r in known.itertuples(index=False)} if len(known) else {}
    for f in files:
        old = prev.get(f.rel)
        digest = lmfile.digest(f.rel) if lmfile is not None else ""
        if old is None:
            p.new += 1
            p.todo.append(f)
            continue
        same_meta = old.identity == f.identity and old.lm_digest == digest and old.size == f.size
        if same_meta and old.mtime_ns == f.mtime_ns:
            p.keep.add(f.rel)
        elif same_meta and f.size >= 0 and _same_sha256(src / f.rel, old.sha256):
            p.keep.add(f.rel)
            p.touched[f.rel] = f.mtime_ns
        else:
            p.changed += 1
            p.todo.append(f)
    p.removed = len(set(prev) - {f.rel for f in files})
    return p


class _Worker:
    """The Ray actor body: one BatchProcessor (and face-alignment model) per worker."""

    def __init__(self, src: str, options: IngestOptions, num_cpus: float) -> None:
        import torch

        torch.set_num_threads(max(1, int(num_cpus)))
        lm = LandmarksFile(options.landmarks) if options.landmarks is not None else None
        self.processor = BatchProcessor(Path(src), options, lm)

    def run(self, files: list[SourceFile]) -> BatchResult:
        return self.processor(files)


def _results(
    src: Path, options: IngestOptions, lmfile: LandmarksFile | None, batches: list[list[SourceFile]]
):
    """Yield one BatchResult per batch, in order, in-process or from Ray actors."""
    if options.workers <= 1 or len(batches) <= 1:
        processor = BatchProcessor(src, options, lmfile)
        for b in batches:
            yield processor(b)
        return
    import ray
    from ray.util import ActorPool

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=options.workers, include_dashboard=False, log_to_driver=False)
    try:
        gpus = 1.0 / options.workers if options.device == "cuda" else 0.0
        actor = ray.remote(num_cpus=1, num_gpus=gpus)(_Worker)
        n = min(options.workers, len(batches))
        pool = ActorPool([actor.remote(str(src), options, 1) for _ in range(n)])  # type: ignore[attr-defined]
        yield from pool.map(lambda a, b: a.run.remote(b), batches)
    finally:
        if started:
            ray.shutdown()


def ingest(src: str | Path, out: str | Path, options: IngestOptions) -> dict[str, Any]:
    """Ingest SRC into the faceset OUT (created, or brought up to date); returns the manifest."""
    import torch
    from tqdm import tqdm

    src, out = Path(src), Path(out)
    if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
        raise ArenaUserError(f"--out {out} must not lie inside SRC {src} (it would be ingested too)")
    lmfile = LandmarksFile(options.landmarks) if options.landmarks is not None else None
    mapping = read_mapping(options.mapping) if options.mapping is not None else None
    given_labels = read_label_file(options.labels) if options.labels is not None else None
    files, skipped = scan_all(src, mapping)
    if not files:
        raise ArenaUserError(f"no photos or videos under {src} ({len(skipped)} other entries skipped)")
    credit = options.credit
    if credit is None and not (out / "manifest.json").is_file():
        credit = DEFAULT_CREDIT.format(src=src.name)
    writer = FacesetWriter(out, options.size, options.content(), credit, options.shard_rows)
    labels = given_labels if given_labels is not None else writer.stored_labels()
    labelled = None
    if labels is not None:  # unlisted files and unknown labels are quarantined, never decoded
        labelled = apply_labels(files, labels, mapping)
        files = labelled.files
        empty = BatchResult(
            torch.zeros(0, 3, options.size, options.size, dtype=torch.uint8), torch.zeros(0, 68, 2)
        )
        writer.add(replace(empty, quarantine=labelled.rejected, seen=len(labelled.rejected)))
    p = plan(src, files, writer.known_files(), lmfile)
    if p.todo and (lmfile is None or lmfile.needs_fan):
        from deepfake_arena.world.ingest.fan import check_weights

        check_weights(options.weights, detect=lmfile is None)  # before any work or worker starts
    batches = [p.todo[i : i + options.batch] for i in range(0, len(p.todo), options.batch)]
    t0 = time.perf_counter()
    seen = ingested = faces = 0
    write_s = 0.0
    reasons: dict[str, int] = {}
    for q in labelled.rejected if labelled is not None else []:
        seen += 1
        reasons[q["reason"]] = reasons.get(q["reason"], 0) + 1
    bar = tqdm(total=len(p.todo), unit="file", desc="ingest", disable=not options.progress)
    for batch, result in zip(batches, _results(src, options, lmfile, batches), strict=True):
        write_s += writer.add(result)
        seen, ingested, faces = seen + result.seen, ingested + result.ingested, faces + len(result.faces)
        for q in result.quarantine:
            reasons[q["reason"]] = reasons.get(q["reason"], 0) + 1
        rate = faces / max(time.perf_counter() - t0, 1e-9)
        bar.set_postfix(faces=faces, faces_per_s=f"{rate:.1f}", refresh=False)
        bar.update(len(batch))
    bar.close()
    quarantined = seen - ingested
    summary = {
        "files": {"scanned": len(files), "new": p.new, "changed": p.changed, "unchanged": len(p.keep),
                  "removed": p.removed},
        "entries": len(files) + len(skipped),  # = files.scanned + skipped: every entry below SRC
        "skipped": len(skipped),
        "skipped_reasons": {r: list(skipped.values()).count(r) for r in sorted(set(skipped.values()))},
        "skipped_entries": dict(list(skipped.items())[:1000]),
        "seen": seen,
        "ingested": ingested,
        "quarantined": quarantined,
        "faces": faces,
        "reasons": dict(sorted(reasons.items())),
        "seconds": round(time.perf_counter() - t0, 3),
        "shard_write_s": write_s,
        "rebuilt": writer.rebuild,
    }  # fmt: skip
    if labels is not None and labelled is not None:
        summary["labels"] = {
            "file": str(options.labels) if options.labels is not None else "kept from the last ingest",
            "rows": len(labels),
            "unmatched": labelled.unmatched,
        }
    manifest = writer.commit(p.keep, summary, p.touched, labels)
    return manifest


def format_summary(manifest: dict[str, Any], out: Path) -> str:
    """The lines `arena ingest` prints at the end."""
    s, t, c = manifest["last_ingest"], manifest["totals"], manifest["counts"]
    f = s["files"]
    why = ", ".join(f"{k} {v}" for k, v in s["reasons"].items()) or "none"
    lab = s.get("labels")
    labelled = []
    if lab is not None:
        listed = f"{lab['rows']} rows from {lab['file']}"
        unmatched = f"; {lab['unmatched']} name no file of SRC (ignored)" if lab["unmatched"] else ""
        labelled = [f"labels:     {listed}{unmatched}; files it does not list are quarantined not_in_labels"]
    return "\n".join(
        [
            *labelled,
            f"files:      {f['scanned']} scanned: {f['new']} new, {f['changed']} changed, "
            f"{f['unchanged']} unchanged, {f['removed']} removed"
            + (" (options changed: rebuilt)" if s["rebuilt"] else ""),
            f"this run:   seen {s['seen']} = ingested {s['ingested']} + quarantined {s['quarantined']} "
            f"({s['faces']} faces, {s['seconds']:.1f} s)",
            f"quarantine: {why}",
            f"skipped:    {s.get('skipped', 0)} of {s.get('entries', f['scanned'])} entries below SRC ("
            + (", ".join(f"{k} {v}" for k, v in s.get("skipped_reasons", {}).items()) or "none")
            + "); see last_ingest.skipped_entries in the manifest",
            f"faceset:    seen {t['seen']} = ingested {t['ingested']} + quarantined {t['quarantined']}; "
            f"{c['faces']} faces of {c['identities']} identities, {manifest['size']} px -> {out}",
        ]
    )
