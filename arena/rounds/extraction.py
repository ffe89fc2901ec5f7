"""The face extractor in front of the detectors on real-photo worlds: find, re-align, or miss.

In deployment a detector scores what a face extractor hands it. With `extractor:` in the spec,
the arena trains one (`deepfake_arena.detectors.landmarker.LandmarkNet`) on the train split's real faces in
round 1, keeps it in `rounds/r0001/extractor.safetensors` (verified against that round's
manifest when read back, and recorded with the settings it was trained under: a branch of the run
that adds an extractor or changes those settings trains its own in its first round and keeps it
there), and every scored image, real or fake, goes through it first:

* its five predicted landmarks are fitted to the world's template by the least-squares
  similarity (`deepfake_arena.face_ops.estimate_similarity`), and the crop is re-aligned by that matrix;
* a face whose points do not fit a face (RMS residual above `miss_threshold` eye distances, or a
  scale off by more than 1.5x) is a **miss**: the pipeline flags nothing, so it is scored
  P(fake) = 0 (`MISS_SCORE`) instead of an imputed 0.5, and counted (`extractor_miss` rows).

Generators whose genome carries the extractor attack get the extractor as a differentiable
landmark function (`landmark_function`). Detectors still train on the world's own aligned
crops: the defender curates its training set; only what it meets in the field is extracted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from deepfake_arena.spec import ExtractorSpec, WorldSpec

MISS_SCORE = 0.0  # P(fake) of a face the extractor missed: nothing was flagged
MAX_SCALE = 1.5  # a fitted scale beyond x1.5 or /1.5 of the template's is no face of this world
FILE = "extractor.safetensors"
REPORT = "extractor.json"


@dataclass(frozen=True)
class Extractor:
    """The extractor as it travels between tasks: its weights, template and width; what it was
    trained from (`trained_for`, JSON values: None on a file from before it was recorded) and,
    when trained in this run's process, its training report (JSON values, saved as REPORT).

    Shape: template: (5, 2) float64 pixels.
    """

    weights: dict[str, np.ndarray]
    template: np.ndarray
    width: int
    trained_for: dict[str, Any] | None = None  # JSON: compared with `trained_for()` and saved
    report: dict[str, float | int] | None = None


def train_task(world: WorldSpec, spec: ExtractorSpec, seed: int, num_cpus: float, device: str) -> Extractor:
    """Train the run's extractor on train-split reals; report its error on eval-split reals.

    Returns the `Extractor` with its `report`.
    """
    from deepfake_arena.detectors.landmarker import train_landmarker
    from deepfake_arena.rounds.worker import setup_worker
    from deepfake_arena.seeding import torch_generator
    from deepfake_arena.world.pools import World

    dev = setup_worker(num_cpus, device)
    t0 = time.perf_counter()
    w = World(world, seed)
    faces = w.reals("train", spec.faces, torch_generator(seed, "extractor", "faces"))
    net = train_landmarker(
        faces.images.to(dev),
        faces.landmarks.to(dev, torch.float32),
        torch_generator(seed, "extractor", "train", device=dev),
        steps=spec.steps,
        batch_size=spec.batch_size,
        lr=spec.lr,
        width=spec.width,
    )
    payload = Extractor(
        weights={k: v.detach().cpu().contiguous().numpy() for k, v in net.state_dict().items()},
        template=faces.landmarks.to(torch.float64).mean(0).numpy(),
        width=spec.width,
        trained_for=trained_for(world, spec, seed),
    )
    held_out = w.reals("eval", spec.faces // 2, torch_generator(seed, "extractor", "check"))
    with torch.no_grad():
        points = net(held_out.images.to(dev)).cpu()
    error = (points - held_out.landmarks.to(points.dtype)).norm(dim=-1)
    eye = (held_out.landmarks[:, 1] - held_out.landmarks[:, 0]).norm(dim=-1)
    template = torch.as_tensor(payload.template, device=dev)
    _, miss, residual = fit_to_template(net, template, spec.miss_threshold, held_out.images.to(dev))
    report = {
        "faces": spec.faces,
        "steps": spec.steps,
        "eval_faces": len(held_out),
        "mean_error_px": float(error.mean()),
        "mean_error_eye_distances": float((error.mean(1) / eye).mean()),
        "eval_real_miss_rate": float(miss.double().mean()),
        "median_residual": float(residual.median()),
        "seconds": time.perf_counter() - t0,
    }
    return replace(payload, report=report)


TRAINING_FIELDS = ("steps", "batch_size", "lr", "width", "faces")


def trained_for(world: WorldSpec, spec: ExtractorSpec, seed: int) -> dict[str, Any]:
    """What an extractor's weights follow from: the world, the seed and its training settings
    (not `miss_threshold`, which applies when faces are scored), as plain JSON values."""
    import json

    key = {"world": world.model_dump(mode="json"), "seed": seed}
    key.update({name: getattr(spec, name) for name in TRAINING_FIELDS})
    return dict(json.loads(json.dumps(key)))


def landmark_function(payload: Extractor, device: str | torch.device = "cpu") -> Any:
    """The payload's LandmarkNet on `device`, in eval mode with frozen parameters: the extractor
    as a generator sees it, (B, 3, H, W) in [0, 1] -> (B, 5, 2), differentiable to its input."""
    from deepfake_arena.detectors.landmarker import LandmarkNet

    net = LandmarkNet(int(payload.width))
    net.load_state_dict({k: torch.from_numpy(np.array(v, copy=True)) for k, v in payload.weights.items()})
    net = net.to(device).eval()
    net.requires_grad_(False)
    return net


def extract(
    payload: Extractor, miss_threshold: float, images: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Re-aligned crops, miss flags and fit residuals for a batch of float images (see
    `fit_to_template`); builds the payload's network on the images' device."""
    template = torch.as_tensor(payload.template, device=images.device)
    return fit_to_template(landmark_function(payload, images.device), template, miss_threshold, images)


def fit_to_template(
    net: Any, template: torch.Tensor, miss_threshold: float, images: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Landmarks by `net`, fitted to `template` by a similarity: the re-aligned crops, the miss
    flags and the fit residuals.

    Shape:
        template: (5, 2) pixels; images: (B, 3, H, W) in [0, 1] -> aligned (B, 3, H, W) in
        [0, 1], miss (B,) bool, residual (B,) float64 in eye distances of the template.
    """
    from deepfake_arena.face_ops import estimate_similarity, transform_points, warp_to

    template = template.to(torch.float64)
    with torch.no_grad():
        points = net(images).to(torch.float64)
    target = template.expand_as(points).contiguous()
    eye = (template[1] - template[0]).norm()
    # Points bunched into one spot admit no similarity (and are no face): fit the template there.
    collapsed = (points - points.mean(1, keepdim=True)).norm(dim=-1).amax(1) < 1e-3 * eye
    collapsed = collapsed | ~torch.isfinite(points).flatten(1).all(1)
    points = torch.where(collapsed.view(-1, 1, 1), target, points)
    matrix = estimate_similarity(points, target)
    fitted = transform_points(points, matrix)
    residual = (fitted - target).norm(dim=-1).pow(2).mean(1).sqrt() / eye
    scale = matrix[:, :, 0].norm(dim=-1)  # |(a, b)| of [[a, -b, tx], [b, a, ty]]
    bad = collapsed | ~torch.isfinite(residual) | ~torch.isfinite(scale)
    miss = bad | (residual > miss_threshold) | (scale > MAX_SCALE) | (scale < 1 / MAX_SCALE)
    matrix = torch.where(
        bad.view(-1, 1, 1), torch.eye(2, 3, dtype=matrix.dtype, device=matrix.device), matrix
    )
    aligned = warp_to(images, matrix.to(images.dtype), (images.shape[-2], images.shape[-1])).clamp(0, 1)
    return aligned, miss, torch.nan_to_num(residual, nan=float("inf"))


def extract_task(
    payload: Extractor, spec: ExtractorSpec, num_cpus: float, device: str, *image_sets: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(re-aligned uint8 images, miss flags) for each uint8 image set, in chunks of 512."""
    from deepfake_arena.faces import from_uint8, to_uint8
    from deepfake_arena.rounds.worker import setup_worker

    dev = setup_worker(num_cpus, device)
    net = landmark_function(payload, dev)  # built once for every set and chunk
    template = torch.as_tensor(payload.template, device=dev)
    out = []
    for images in image_sets:
        aligned, misses = [], []
        for start in range(0, len(images), 512):
            x = from_uint8(torch.from_numpy(np.array(images[start : start + 512], copy=True))).to(dev)
            a, m, _ = fit_to_template(net, template, spec.miss_threshold, x)
            aligned.append(to_uint8(a).cpu().numpy())
            misses.append(m.cpu().numpy())
        out.append(
            (
                np.concatenate(aligned) if aligned else np.zeros_like(images),
                np.concatenate(misses) if misses else np.zeros(0, dtype=bool),
            )
        )
    return out


def apply_misses(probs: np.ndarray, miss: np.ndarray | None) -> np.ndarray:
    """Scores with every missed face set to MISS_SCORE (a miss is scored, not imputed)."""
    return probs if miss is None else np.where(miss, MISS_SCORE, probs)


def miss_rows(
    base: dict[str, Any], miss: np.ndarray, labels: np.ndarray, strain_index: np.ndarray,
    strains: list[dict[str, str]], confidence: float,
) -> list[dict[str, Any]]:  # fmt: skip
    """`extractor_miss` rows (share of each strain's fakes, and of all fakes, the extractor
    missed) and one `extractor_miss_real` row (share of reals missed), with Wilson intervals."""
    from scipy.stats import binomtest

    from deepfake_arena.results import ALL

    def row(strain: str, family: str, metric: str, sel: np.ndarray, method: str | None = None) -> dict:
        n, k = int(sel.sum()), int(miss[sel].sum())
        low, high = (np.nan, np.nan)
        if n:
            ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
            low, high = ci.low, ci.high
        value = k / n if n else np.nan
        return {**base, "strain": strain, "family": family, "metric": metric, "value": float(value),
                "ci_low": float(low), "ci_high": float(high), "n": n, "method": method}  # fmt: skip

    rows = [
        row(s["id"], s["family"], "extractor_miss", strain_index == i, s.get("method"))
        for i, s in enumerate(strains)
    ]
    rows.append(row(ALL, ALL, "extractor_miss", labels == 1))
    rows.append(row(ALL, ALL, "extractor_miss_real", labels == 0))
    return rows


def save(path: Any, payload: Extractor) -> None:
    """Weights, template, width and training settings in one safetensors file (no pickle), as
    detectors are saved."""
    from deepfake_arena.store.round_files import save_detector

    tensors = {f"net.{k}": v for k, v in payload.weights.items()}
    meta = {"width": int(payload.width), "trained_for": payload.trained_for}
    save_detector(path, {**tensors, "template": payload.template}, meta)


def load(folder: Any) -> Extractor:
    """The extractor kept in a committed round's folder, checked against that round's manifest."""
    import json
    from pathlib import Path

    from deepfake_arena.errors import ArenaUserError
    from deepfake_arena.store.atomic import sha256_file
    from deepfake_arena.store.ledger import MANIFEST
    from deepfake_arena.store.round_files import load_detector

    folder = Path(folder)
    path = folder / FILE
    want = json.loads((folder / MANIFEST).read_text()).get("files", {}).get(FILE)
    if not path.is_file() or want is None or sha256_file(path) != want:
        raise ArenaUserError(
            f"{path}: the run's face extractor is missing or does not match its round's manifest; "
            "the run cannot score faces the way it did (restore the file, or start the run again)"
        )
    tensors, meta = load_detector(path)
    weights = {k.removeprefix("net."): v for k, v in tensors.items() if k.startswith("net.")}
    return Extractor(weights, tensors["template"], int(meta["width"]), meta.get("trained_for"))


def newest(round_folders: Any) -> Extractor | None:
    """The extractor of the first of `round_folders` (committed rounds, newest first) whose
    manifest lists one, read and verified by `load`; None when no round kept one."""
    import json
    from pathlib import Path

    from deepfake_arena.store.ledger import MANIFEST

    for folder in round_folders:
        if FILE in json.loads((Path(folder) / MANIFEST).read_text()).get("files", {}):
            return load(folder)
    return None


def still_valid(payload: Extractor | None, want: dict[str, Any]) -> bool:
    """Whether a kept extractor is the one the spec asks for (`trained_for`); a file written
    before the settings were recorded is taken as it is."""
    if payload is None:
        return False
    return payload.trained_for in (None, want)
