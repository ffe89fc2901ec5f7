"""Ingestion of real photo and video datasets into an aligned faceset (`arena ingest`).

One job per module: `scan` (which files, whose faces), `decode` (robust photo decoding),
`video` (frame sampling), `landmarks_file` (precomputed landmarks), `fan` (face-alignment from
local weights), `align` (batched similarity alignment), `process` (a batch of files -> faces and
quarantine rows), `store` (shards, tables, manifest), `runner` (incremental plan, Ray, progress),
`cli` (the command). Reading a faceset is `deepfake_arena.world.faceset`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["IngestOptions", "ingest"]


def __getattr__(name: str) -> Any:
    # Lazy: `arena --help` imports the ingest CLI's arguments, not torch.
    if name == "IngestOptions":
        from deepfake_arena.world.ingest.options import IngestOptions

        return IngestOptions
    if name == "ingest":
        from deepfake_arena.world.ingest.runner import ingest

        return ingest
    raise AttributeError(name)
