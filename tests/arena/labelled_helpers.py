"""A labelled faceset for the tests: a real ingest of small photos the test writes (faces the
synthetic world renders, with their exact landmarks), then the label columns added to its index.

`add_labels` stands in for `arena ingest SRC --labels FILE` (built in parallel): it writes the
columns that command keeps in the index, `label` (Int8: 0 real, 1 fake), `method` (string) and
`released` (string 'YYYY-MM-DD'), all nullable, and rewrites the index's sha256 in the
manifest, which readers check. The photos are all real; the rows labelled fake only stand for
fakes, which is all the plumbing under test needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from deepfake_arena.store.atomic import sha256_file
from deepfake_arena.world.ingest import IngestOptions, ingest

Labeller = Callable[[pd.Series], tuple[int | None, str | None, str | None]]


def add_labels(faceset: Path, labeller: Labeller) -> pd.DataFrame:
    """Give every index row (label, method, released) from `labeller(row)`; returns the index."""
    manifest = json.loads((faceset / "manifest.json").read_text())
    index_file = faceset / manifest["index"]["file"]
    df = pd.read_parquet(index_file)
    values = [labeller(row) for _, row in df.iterrows()]
    df["label"] = pd.array([v[0] for v in values], dtype="Int8")
    df["method"] = pd.array([v[1] for v in values], dtype="string")
    df["released"] = pd.array([v[2] for v in values], dtype="string")
    df.to_parquet(index_file, index=False)
    manifest["index"]["sha256"] = sha256_file(index_file)
    (faceset / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return df


RELEASED = {"A": "2018-05-01", "B": "2019-08-15"}


def second_photo_fake(row: pd.Series) -> tuple[int | None, str | None, str | None]:
    """Each identity's first photo real, its second a fake: method A for odd identities, B for
    even ones (released 2018-05 and 2019-08)."""
    ident = int(row["identity"])
    if Path(row["file"]).stem.endswith("_0"):
        return 0, None, None
    method = "A" if ident % 2 else "B"
    return 1, method, RELEASED[method]


def write_photos(tmp: Path, identities: int, per_identity: int = 2, px: int = 128) -> tuple[Path, Path]:
    """`per_identity` PNG photos of each of `identities` synthetic identities in SRC/<identity>/,
    and a landmarks file (box and five points per photo) for `arena ingest --landmarks`."""
    import torch
    from PIL import Image

    from deepfake_arena.faces import to_uint8
    from deepfake_arena.world.synthetic import SyntheticWorld

    world = SyntheticWorld(identities, px, seed=3)
    src, lines = tmp / "src", []
    for k in range(per_identity):
        ids = torch.arange(identities)
        faces = world.render(ids, torch.Generator().manual_seed(k))
        images = to_uint8(faces.images).permute(0, 2, 3, 1).numpy()
        for i in range(identities):
            rel = f"{i + 1:03d}/{i + 1:03d}_{k}.png"
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i]).save(src / rel)
            pts = faces.landmarks[i].tolist()
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            w = max(xs) - min(xs)
            box = [min(xs) - 0.6 * w, min(ys) - 0.9 * w, max(xs) + 0.6 * w, max(ys) + 0.6 * w]
            lines.append(json.dumps({"file": rel, "box": box, "landmarks5": pts, "score": 1.0}))
    lm = tmp / "landmarks.jsonl"
    lm.write_text("\n".join(lines) + "\n")
    return src, lm


def labelled_faceset(tmp: Path, identities: int = 16, size: int = 32) -> Path:
    """Ingest `identities` identities' photos (2 each) at `size` px and label them with
    :func:`second_photo_fake`."""
    src, lm = write_photos(tmp, identities)
    out = tmp / "labelled"
    ingest(src, out, IngestOptions(size=size, landmarks=lm, batch=8, progress=False))
    add_labels(out, second_photo_fake)
    return out
