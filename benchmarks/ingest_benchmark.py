"""Ingest speed: faces/s for alignment and for shard writing, each against a baseline run here.

Alignment: `align_faces` on batches of 64 photos, against the same code called one face at a
time, and against a naive per-image warp of the whole full-resolution photo (no antialiasing
canvas). Shard writing: `FacesetWriter` (uint8 safetensors shards + Parquet index + manifest)
against one PNG file per face, the usual "folder of crops". Photos are the shared London Set
when present (`../shared/faces/real` beside the repo), else random 900 px images.

    python benchmarks/ingest_benchmark.py [--faces 64] [--sizes 64 128] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from device_options import add_device_argument, cpu_only
from PIL import Image

from deepfake_arena.allocator import tune_malloc
from deepfake_arena.face_ops import warp_to
from deepfake_arena.world.ingest.align import align_faces, similarity_to_template, template_px

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "faces" / "real"


def photos(n: int) -> tuple[list[Image.Image], torch.Tensor, str]:
    lm_file = REAL / "landmarks.jsonl"
    if lm_file.is_file():
        rows = [json.loads(x) for x in lm_file.read_text().splitlines() if x.strip()][:n]
        imgs = [Image.open(REAL / r["file"]).convert("RGB") for r in rows]
        return imgs, torch.tensor([r["landmarks5"] for r in rows], dtype=torch.float64), "London Set photos"
    gen = np.random.default_rng(0)
    imgs = [Image.fromarray(gen.integers(0, 255, (900, 900, 3), dtype=np.uint8)) for _ in range(n)]
    lm = (template_px(128) * 2.4 + 300).expand(n, 5, 2).clone()
    return imgs, lm, "random 900 px images (shared faces not found)"


def timed(fn, repeat: int = 2) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_align(imgs: list[Image.Image], lm: torch.Tensor, size: int) -> None:
    n = len(imgs)
    batched = timed(lambda: [align_faces(imgs[i : i + 64], lm[i : i + 64], size) for i in range(0, n, 64)])
    one = timed(lambda: [align_faces([imgs[i]], lm[i : i + 1], size) for i in range(n)])
    tensors = [torch.from_numpy(np.array(im)).permute(2, 0, 1)[None].float() / 255 for im in imgs]
    m = similarity_to_template(lm, size).float()
    naive = timed(lambda: [warp_to(tensors[i], m[i : i + 1], size) for i in range(n)])
    print(
        f"align {size:>3} px: batched {n / batched:7.1f} faces/s | one face per call {n / one:7.1f} "
        f"(x{one / batched:.2f} slower) | aliased full-res warp per photo {n / naive:7.1f} "
        f"(x{naive / batched:.2f}; no antialiasing, the shortcut the canvas avoids)"
    )


def bench_write(n: int, size: int) -> None:
    from deepfake_arena.world.ingest.process import BatchResult
    from deepfake_arena.world.ingest.store import FacesetWriter

    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8)
    rows = [
        {"file": f"{i}.jpg", "identity": str(i // 2), "source": f"{i}.jpg", "frame": -1, "face": 0,
         "box": [0.0, 0.0, 1.0, 1.0], "landmarks5": [0.0] * 10}
        for i in range(n)
    ]  # fmt: skip

    def shards() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            w = FacesetWriter(Path(tmp) / "fs", size, {"size": size}, "bench", shard_rows=1024)
            w.add(BatchResult(images, torch.zeros(n, 68, 2), faces=rows, seen=n, ingested=n))
            w.commit(set(), {})

    def pngs() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            arr = images.permute(0, 2, 3, 1).numpy()
            for i in range(n):
                Image.fromarray(arr[i]).save(Path(tmp) / f"{i}.png")

    t_shard, t_png = timed(shards), timed(pngs)
    print(f"write {size:>3} px: shards+index+manifest {n / t_shard:8.1f} faces/s | one PNG per face "
          f"{n / t_png:8.1f} (x{t_png / t_shard:.2f} slower)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=64)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--threads", type=int, default=1)
    add_device_argument(ap)
    args = ap.parse_args()
    if cpu_only(args.device, "ingest's alignment of decoded photos and its shard writing"):
        return
    tune_malloc()  # as the arena's round tasks run (deepfake_arena.allocator)
    torch.set_num_threads(args.threads)
    imgs, lm, what = photos(args.faces)
    for im in imgs:
        im.load()
    print(f"{len(imgs)} faces from {what}, {args.threads} thread(s)")
    for size in args.sizes:
        bench_align(imgs, lm, size)
    for size in args.sizes:
        bench_write(max(args.faces, 512), size)


if __name__ == "__main__":
    main()
