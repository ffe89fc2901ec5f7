"""Turn a batch of source files into aligned faces and quarantine rows: the unit of ingest work.

`BatchProcessor` is pure compute on files (no faceset, no Ray): the runner calls it in-process
or inside Ray actors, one batch of files at a time. Each photo and each sampled video frame is an
*input*; an input ends either with at least one face in the faceset or as one quarantine row, so
`seen = ingested + quarantined` holds by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfake_arena.world.ingest.align import align_faces, reduce68
from deepfake_arena.world.ingest.decode import Photo, Rejected, decode_photo
from deepfake_arena.world.ingest.landmarks_file import LandmarksFile
from deepfake_arena.world.ingest.options import IngestOptions
from deepfake_arena.world.ingest.safe_read import read_photo_bytes, sha256_regular
from deepfake_arena.world.ingest.scan import SourceFile
from deepfake_arena.world.ingest.video import sample_frames

ALIGN_CHUNK = 64  # faces per kornia warp call


@dataclass
class Candidate:
    """A face found in one input, before alignment. Points are photo pixels."""

    input: int  # index into BatchResult-local inputs
    face: int
    box: tuple[float, float, float, float]
    lm5: np.ndarray  # (5, 2)
    lm68: np.ndarray | None  # (68, 2)
    score: float
    landmarker: str  # file | fan


@dataclass
class _Input:
    file: SourceFile
    frame: int
    photo: Photo
    n_faces: int = 0


@dataclass
class BatchResult:
    """What one batch produced. images: (F, 3, S, S) uint8; landmarks68: (F, 68, 2) float32."""

    images: torch.Tensor
    landmarks68: torch.Tensor
    faces: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    seen: int = 0
    ingested: int = 0


def _box_side(box: tuple[float, float, float, float]) -> float:
    return min(box[2] - box[0], box[3] - box[1])


class BatchProcessor:
    """Decodes, landmarks, filters and aligns the faces of a list of files.

    Args:
        src: the source folder; files are given relative to it.
        options: the ingest options.
        landmarks: the precomputed landmarks file, or None to run face-alignment on everything.
    """

    def __init__(self, src: Path, options: IngestOptions, landmarks: LandmarksFile | None) -> None:
        from deepfake_arena.allocator import tune_malloc

        tune_malloc()  # in-process or in a Ray actor, the warps and resizes are op chains too
        self.src, self.opt, self.lmfile = src, options, landmarks
        self._fan: Any = None
        needs_fan = landmarks is None or landmarks.needs_fan
        if needs_fan:
            from deepfake_arena.world.ingest.fan import check_weights

            check_weights(options.weights, detect=landmarks is None)  # fail before any work

    def fan(self) -> Any:
        if self._fan is None:
            from deepfake_arena.world.ingest.fan import FanLandmarker

            self._fan = FanLandmarker(
                self.opt.weights,
                device=self.opt.device,
                detect=self.lmfile is None,
                batch=self.opt.batch,
                flip=self.opt.fan_flip,
            )
        return self._fan

    # ------------------------------------------------------------------ inputs

    def _inputs(self, f: SourceFile, out: BatchResult) -> list[_Input]:
        """Decode one file into inputs (a photo, or sampled frames); rejects go to quarantine."""
        path = self.src / f.rel
        record = {"file": f.rel, "size": f.size, "mtime_ns": f.mtime_ns, "sha256": "", "kind": f.kind}
        record["identity"], record["lm_digest"] = f.identity, self._digest(f.rel)
        out.files.append(record)
        if f.kind == "photo":
            try:
                # read once, a regular file within the size limit: hashed and decoded from memory
                data, record["sha256"] = read_photo_bytes(path)
                photo = decode_photo(data, self.opt.max_pixels)
            except OSError as exc:
                self._reject(out, f, -1, Rejected("unreadable", str(exc)))
                return []
            except Rejected as exc:
                self._reject(out, f, -1, exc)
                return []
            return [_Input(f, -1, photo)]
        inputs = []
        try:
            record["sha256"] = sha256_regular(path)  # checks it is a regular file, before any decoder
            for number, frame in sample_frames(path, self.opt.fps, self.opt.max_frames):
                inputs.append(_Input(f, number, Photo(frame, "rgb", False)))
        except (Rejected, OSError) as exc:
            rej = exc if isinstance(exc, Rejected) else Rejected("unreadable_video", str(exc))
            if not inputs:
                self._reject(out, f, -1, rej)
        return inputs

    def _digest(self, rel: str) -> str:
        return self.lmfile.digest(rel) if self.lmfile is not None else ""

    def _reject(self, out: BatchResult, f: SourceFile, frame: int, rej: Rejected) -> None:
        out.seen += 1
        out.quarantine.append(
            {
                "file": f.rel,
                "frame": frame,
                "identity": f.identity,
                "reason": rej.reason,
                "detail": rej.detail,
            }
        )

    # ------------------------------------------------------------------ landmarks

    def _candidates(self, k: int, inp: _Input) -> list[Candidate]:
        """Faces of one input, from the landmarks file and/or face-alignment."""
        # None: no landmarks file, so face-alignment detects the faces itself.
        entries = self.lmfile.get(inp.file.rel, inp.frame) if self.lmfile is not None else None
        cands: list[Candidate] = []
        need_fan = []
        for e in entries or []:
            if e.landmarks5 is not None or e.landmarks68 is not None:
                lm68 = np.asarray(e.landmarks68, np.float64) if e.landmarks68 is not None else None
                if e.landmarks5 is not None:
                    lm5 = np.asarray(e.landmarks5, np.float64)
                else:
                    lm5 = reduce68(torch.from_numpy(lm68)[None])[0].numpy()  # type: ignore[arg-type]
                cands.append(
                    Candidate(k, 0, e.box, lm5, lm68, e.score if e.score is not None else 1.0, "file")
                )
            else:
                need_fan.append(e.box)
        if entries is None or need_fan:
            image = np.asarray(inp.photo.image)
            for face in self.fan()(image, need_fan if entries is not None else None):
                lm68 = face.points.astype(np.float64)
                lm5 = reduce68(torch.from_numpy(lm68)[None])[0].numpy()
                cands.append(Candidate(k, 0, face.box, lm5, lm68, face.score, "fan"))
        for i, c in enumerate(cands):
            c.face = i
        return cands

    def _choose(self, inp: _Input, cands: list[Candidate]) -> tuple[list[Candidate], Rejected | None]:
        """Apply the several-faces policy and the size and landmark checks to one input's faces."""
        inp.n_faces = len(cands)
        if not cands:
            return [], Rejected("no_face", "no face found" if self.lmfile is None else "no face listed")
        if len(cands) > 1:
            if self.opt.policy == "skip":
                return [], Rejected("several_faces", f"{len(cands)} faces and --policy skip")
            if self.opt.policy == "largest":
                cands = [max(cands, key=lambda c: (c.box[2] - c.box[0]) * (c.box[3] - c.box[1]))]
        w, h = inp.photo.image.size
        kept: list[Candidate] = []
        first_rej: Rejected | None = None
        for c in cands:
            rej = self._check(c, w, h)
            if rej is None:
                kept.append(c)
            elif first_rej is None:
                first_rej = rej
        return kept, (first_rej if not kept else None)

    def _check(self, c: Candidate, w: int, h: int) -> Rejected | None:
        side = _box_side(c.box)
        x0, y0, x1, y1 = c.box
        fits = np.isfinite(side) and side <= 2 * max(w, h) and x1 > 0 and y1 > 0 and x0 < w and y0 < h
        if not fits:  # a box of 1e31 px, or one beside the photo, is no face of it
            return Rejected("bad_box", f"face box {list(c.box)} does not fit the {w}x{h} photo")
        if side < self.opt.min_size:
            return Rejected("face_too_small", f"face box side {side:.0f} px < --min-size {self.opt.min_size}")
        pts = c.lm5 if c.lm68 is None else np.concatenate([c.lm5, c.lm68])
        margin = 0.5 * side
        inside = (
            (pts[:, 0] > -margin)
            & (pts[:, 0] < w + margin)
            & (pts[:, 1] > -margin)
            & (pts[:, 1] < h + margin)
        )
        eye = float(np.linalg.norm(pts[1] - pts[0]))
        if not (np.isfinite(pts).all() and inside.all()) or eye < 1.0:
            return Rejected("bad_landmarks", "landmarks outside the photo or eyes coincide")
        return None

    # ------------------------------------------------------------------ main

    def __call__(self, files: list[SourceFile]) -> BatchResult:
        s = self.opt.size
        out = BatchResult(torch.zeros(0, 3, s, s, dtype=torch.uint8), torch.zeros(0, 68, 2))
        inputs: list[_Input] = []
        for f in files:
            inputs.extend(self._inputs(f, out))
        chosen: list[Candidate] = []
        pending: dict[int, Rejected] = {}
        for k, inp in enumerate(inputs):
            kept, rej = self._choose(inp, self._candidates(k, inp))
            chosen.extend(kept)
            if rej is not None:
                pending[k] = rej
        images, lm68s, rows = [], [], []
        for start in range(0, len(chosen), ALIGN_CHUNK):
            chunk = chosen[start : start + ALIGN_CHUNK]
            has68 = [c.lm68 is not None for c in chunk]
            lm68 = np.stack([c.lm68 if c.lm68 is not None else np.zeros((68, 2)) for c in chunk])
            al = align_faces(
                [inputs[c.input].photo.image for c in chunk],
                torch.from_numpy(np.stack([c.lm5 for c in chunk])),
                s,
                torch.from_numpy(lm68),
                device=self.opt.device if torch.cuda.is_available() else "cpu",
            )
            assert al.landmarks68 is not None
            for j, c in enumerate(chunk):
                sharp = float(al.sharpness[j])
                if sharp < self.opt.min_sharpness:
                    pending.setdefault(
                        c.input,
                        Rejected(
                            "too_blurred", f"sharpness {sharp:.2f} < --min-sharpness {self.opt.min_sharpness}"
                        ),
                    )
                    continue
                inp = inputs[c.input]
                images.append(al.images[j])
                lm68s.append(al.landmarks68[j] if has68[j] else torch.full((68, 2), float("nan")))
                rows.append(self._row(inp, c, al.landmarks5[j], sharp, has68[j]))
        ok_inputs = {r["_input"] for r in rows}
        for k, inp in enumerate(inputs):
            if k in ok_inputs:
                out.seen += 1
                out.ingested += 1
            else:
                self._reject(out, inp.file, inp.frame, pending.get(k, Rejected("no_face")))
        for r in rows:
            del r["_input"]
        out.faces = rows
        if images:
            out.images = torch.stack(images)
            out.landmarks68 = torch.stack(lm68s).float()
        return out

    def _row(self, inp: _Input, c: Candidate, lm5: torch.Tensor, sharp: float, has68: bool) -> dict[str, Any]:
        return {
            "_input": c.input,
            "file": inp.file.rel,
            "identity": inp.file.identity,
            "source": inp.file.source,
            "frame": inp.frame,
            "face": c.face,
            "box": [float(v) for v in c.box],
            "landmarks5": [float(v) for v in lm5.flatten()],
            "source_landmarks5": [float(v) for v in c.lm5.flatten()],
            "has_landmarks68": has68,
            "landmarker": c.landmarker,
            "det_score": float(c.score),
            "face_px": float(_box_side(c.box)),
            "eye_px": float(np.linalg.norm(c.lm5[1] - c.lm5[0])),
            "sharpness": sharp,
            "colour": inp.photo.colour,
            "grey": inp.photo.grey,
            "exif_rotated": inp.photo.rotated,
            "faces_in_input": inp.n_faces,
        }
