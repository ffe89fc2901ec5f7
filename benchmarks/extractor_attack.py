"""How far the extractor attack moves the arena's face extractor, against clean faces as baseline.

Ingests the shared London Set photos (../shared/faces, with their landmarks) at --size px, trains
the run-style extractor (`rounds.extraction.train_task`) on the train split, then attacks held-out
real faces white-box and black-box at a few L-inf budgets and prints, beside the clean figures:
mean landmark error (eye distances), miss rate, and the seconds per face of the attack.
Faces: Face Research Lab London Set, DeBruine & Jones (2017), CC BY 4.0.

    python benchmarks/extractor_attack.py [--size 64] [--faces 128] [--steps 400] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from device_options import add_device_argument, checked, clock

from deepfake_arena.allocator import tune_malloc

REPO = Path(__file__).resolve().parents[1]
FACES = REPO / ".." / "shared" / "faces" / "real"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--faces", type=int, default=128, help="held-out faces attacked")
    ap.add_argument("--steps", type=int, default=400, help="extractor training steps")
    ap.add_argument("--budgets", type=float, nargs="+", default=[0.01, 0.03])
    add_device_argument(ap)
    args = ap.parse_args()
    device = checked(args.device)
    if not (FACES / "landmarks.jsonl").is_file():
        print(f"skipped: no shared faces at {FACES.resolve()}")
        return 0
    from deepfake_arena.generators.evasion import guided_perturbation, landmark_displacement
    from deepfake_arena.rounds.extraction import extract, landmark_function, train_task
    from deepfake_arena.seeding import torch_generator
    from deepfake_arena.spec import ExtractorSpec, WorldSpec
    from deepfake_arena.world.ingest import IngestOptions, ingest
    from deepfake_arena.world.pools import World

    tune_malloc()  # as the arena's round tasks run (deepfake_arena.allocator)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "faceset"
        ingest(FACES, out, IngestOptions(size=args.size, landmarks=FACES / "landmarks.jsonl", progress=False))
        world = WorldSpec(
            kind="folder", path=str(out), resolution=args.size,
            identities={"train": 60, "eval": 30, "vault": 10},
        )  # fmt: skip
        spec = ExtractorSpec(steps=args.steps)
        payload = train_task(world, spec, 0, 1, device)
        faces = World(world, 0).reals("eval", args.faces, torch_generator(1, "attacked")).to(device)
    report = payload.report
    assert report is not None, "train_task reports on its extractor"
    error_px, seconds = report["mean_error_px"], report["seconds"]
    print(f"extractor: {error_px:.2f} px mean error on held-out reals, trained in {seconds:.1f} s")
    objective = landmark_displacement(landmark_function(payload, device), faces.landmarks)

    def measure(x: torch.Tensor) -> tuple[float, float]:
        with torch.no_grad():
            error = float(-objective(x).mean())
        _, miss, _ = extract(payload, spec.miss_threshold, x)
        return error, float(miss.double().mean())

    clean_error, clean_miss = measure(faces.images)
    print(f"{'attack':<24}{'error (eye dist.)':>18}{'ratio':>8}{'miss rate':>11}{'s/face':>9}")
    print(f"{'none (baseline)':<24}{clean_error:>18.3f}{1.0:>8.2f}{clean_miss:>11.1%}{0:>9.4f}")
    for mode in ("whitebox", "blackbox"):
        for budget in args.budgets:
            t = clock(device)
            x = guided_perturbation(
                faces.images, objective, budget, 6, torch.ones_like(faces.images[:, :1]), mode=mode,
                generator=torch.Generator(device=device).manual_seed(0),
            )  # fmt: skip
            seconds = (clock(device) - t) / len(faces)
            error, miss = measure(x)
            name = f"{mode} L-inf {budget:g}, 6 steps"
            print(f"{name:<24}{error:>18.3f}{error / clean_error:>8.2f}{miss:>11.1%}{seconds:>9.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
