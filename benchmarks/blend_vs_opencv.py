"""Batched kornia face swap vs a per-image OpenCV loop doing the same steps.

Steps (both sides): similarity transform from the 5 landmarks, warp of the source onto the
target, an ellipse face mask eroded and feathered, LAB mean/std colour transfer inside the mask,
feathered alpha blend. The OpenCV loop is the baseline, measured in the same run; the figure is
the ratio of throughputs (batched / loop). On a GPU the batched side also runs at a large batch
(`--gpu-batch`), where launch overheads no longer decide; the OpenCV loop's rate per image does
not depend on the batch. Not a timed test.

    python benchmarks/blend_vs_opencv.py [--sizes 64 128] [--batch 64] [--device cpu|cuda]
        [--gpu-batch 1024] [--smoke]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch
from device_options import add_device_argument, checked, median_seconds

from deepfake_arena import face_ops
from deepfake_arena.allocator import tune_malloc
from deepfake_arena.world.synthetic import SyntheticWorld

ERODE, FEATHER, STRENGTH = 1.0, 2.0, 0.8


def batched(src: torch.Tensor, src_lm: torch.Tensor, tgt: torch.Tensor, tgt_lm: torch.Tensor) -> torch.Tensor:
    matrix = face_ops.estimate_similarity(src_lm, tgt_lm)
    face = face_ops.warp_to(src, matrix, tgt.shape[-1]).clamp(0, 1)
    mask = face_ops.face_mask(tgt_lm, tgt.shape[-1], "ellipse", 1.0, ERODE, FEATHER)
    face = face_ops.color_transfer_lab(face, tgt, mask, STRENGTH)
    return face_ops.alpha_blend(face, tgt, mask)


def opencv_one(src: np.ndarray, src_lm: np.ndarray, tgt: np.ndarray, tgt_lm: np.ndarray) -> np.ndarray:
    """One image, HWC float32 in [0, 1], with OpenCV's own calls for each step."""
    size = tgt.shape[0]
    matrix, _ = cv2.estimateAffinePartial2D(src_lm, tgt_lm, method=cv2.LMEDS)
    face = cv2.warpAffine(src, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    eyes, mouth = tgt_lm[:2].mean(0), tgt_lm[3:].mean(0)
    centre = eyes + 0.4 * (mouth - eyes)
    eye_d = float(np.linalg.norm(tgt_lm[1] - tgt_lm[0]))
    axes = (int(round(eye_d)), int(round(1.05 * np.linalg.norm(mouth - eyes) * 1.4)))
    angle = float(np.degrees(np.arctan2(*(tgt_lm[1] - tgt_lm[0])[::-1])))
    mask = np.zeros((size, size), np.float32)
    cv2.ellipse(mask, (int(centre[0]), int(centre[1])), axes, angle, 0, 360, 1.0, -1, cv2.LINE_AA)
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=int(ERODE))
    mask = cv2.GaussianBlur(mask, (0, 0), FEATHER)[..., None]
    lab_f, lab_t = cv2.cvtColor(face, cv2.COLOR_RGB2Lab), cv2.cvtColor(tgt, cv2.COLOR_RGB2Lab)
    w = mask / max(float(mask.sum()), 1e-6)
    mf, mt = (lab_f * w).sum((0, 1)), (lab_t * w).sum((0, 1))
    sf = np.sqrt(((lab_f - mf) ** 2 * w).sum((0, 1))) + 1e-6
    st = np.sqrt(((lab_t - mt) ** 2 * w).sum((0, 1)))
    moved = (lab_f - mf) / sf * st + mt
    lab = lab_f + STRENGTH * (moved - lab_f)
    face = np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB), 0, 1)
    return face * mask + tgt * (1 - mask)


def faces(size: int, batch: int):  # type: ignore[no-untyped-def]
    world = SyntheticWorld(16, size, seed=0)
    gen = torch.Generator().manual_seed(0)
    s = world.render(torch.randint(16, (batch,), generator=gen), gen)
    t = world.render(torch.randint(16, (batch,), generator=gen), gen)
    return s, t


def kornia_rate(size: int, batch: int, repeats: int, device: str) -> float:
    s, t = faces(size, batch)
    sd, sld, td, tld = (x.to(device) for x in (s.images, s.landmarks, t.images, t.landmarks))

    return batch / median_seconds(lambda: batched(sd, sld, td, tld), repeats, device)


def run(size: int, batch: int, repeats: int, device: str) -> tuple[float, float]:
    s, t = faces(size, batch)
    src_np = s.images.permute(0, 2, 3, 1).contiguous().numpy()
    tgt_np = t.images.permute(0, 2, 3, 1).contiguous().numpy()
    slm, tlm = s.landmarks.numpy().astype(np.float32), t.landmarks.numpy().astype(np.float32)

    def opencv_loop() -> None:
        for i in range(batch):
            opencv_one(src_np[i], slm[i], tgt_np[i], tlm[i])

    return kornia_rate(size, batch, repeats, device), batch / median_seconds(opencv_loop, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--gpu-batch", type=int, default=1024, help="also this batch on a GPU")
    add_device_argument(ap)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    checked(args.device)
    if args.smoke:
        args.batch, args.repeats, args.gpu_batch = 8, 1, 16
    tune_malloc()  # as every round task runs (deepfake_arena.allocator); OpenCV's loop runs under it too
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    print(f"blend steps, {args.threads} thread(s), device {args.device}, batch {args.batch}")
    for size in args.sizes:
        k, c = run(size, args.batch, args.repeats, args.device)
        print(
            f"  {size:>3} px: kornia batched {k:8.0f} fakes/s | OpenCV per-image loop (baseline) "
            f"{c:8.0f} fakes/s | ratio {k / c:.2f}"
        )
        if args.device != "cpu":
            big = kornia_rate(size, args.gpu_batch, args.repeats, args.device)
            print(
                f"  {size:>3} px: kornia batched at B={args.gpu_batch} {big:8.0f} fakes/s | "
                f"ratio {big / c:.2f}"
            )


if __name__ == "__main__":
    main()
