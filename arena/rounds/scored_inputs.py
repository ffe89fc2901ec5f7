"""What a run's detectors score besides the round's own faces, kept across its rounds: the face
extractor in front of every scored set (trained once per run, or read back), and the external
sets (read once per run; each version's scores kept for the next round, where that version is
the deployed one, so it is scored once, not twice).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from deepfake_arena.rounds import extraction
from deepfake_arena.rounds.cluster import Cluster, Ref
from deepfake_arena.rounds.external import ExternalSet
from deepfake_arena.rounds.records import Row
from deepfake_arena.spec import DetectorSpec, RunSpec
from deepfake_arena.store.run_dir import RunStore


def det_cols(d: DetectorSpec) -> Row:
    """The columns that name a detector in a results row."""
    return {"detector": d.name, "arch": d.arch, "strategy": d.strategy}


class ScoredInputs:
    """The run's extractor (an object ref, once trained or read) and external sets (refs)."""

    def __init__(self, spec: RunSpec, store: RunStore, cluster: Cluster) -> None:
        self.spec, self.store, self.cluster = spec, store, cluster
        self.extractor_ref: Ref = None
        self.external: list[ExternalSet] = []
        self.external_refs: list[Ref] = []
        self.external_misses: list[np.ndarray | None] = []
        self.external_scored: dict[str, tuple[int, list[np.ndarray]]] = {}  # detector -> its version's

    def extractor(self, r: int) -> tuple[Ref, extraction.Extractor | None]:
        """(object ref of the run's face extractor or None, the extractor when trained just now).

        Trained in round 1 (once per run); later rounds and resumed runs read the newest kept
        one. A branch that added the extractor, or changed what it is trained from, trains its
        own in its first round (kept with that round).
        """
        spec, ray = self.spec, self.cluster.ray
        if spec.extractor is None:
            return None, None
        if self.extractor_ref is not None:
            return self.extractor_ref, None
        if r > 1:
            kept = extraction.newest(self.store.round_path(k) for k in range(r - 1, 0, -1))
            if extraction.still_valid(kept, extraction.trained_for(spec.world, spec.extractor, spec.seed)):
                self.extractor_ref = ray.put(kept)
                return self.extractor_ref, None
        trained = ray.get(
            self.cluster.train_extractor.remote(
                spec.world, spec.extractor, spec.seed, self.cluster.det_cpus, spec.device
            )
        )
        self.extractor_ref = ray.put(trained)
        return self.extractor_ref, trained

    def extracted(self, ext_ref: Ref, image_sets: list[np.ndarray]) -> tuple[list[Ref], list[Any]]:
        """Object refs of the image sets as the detectors see them, and each set's miss flags
        (None without an extractor)."""
        ray, spec = self.cluster.ray, self.spec
        if ext_ref is None:
            return [ray.put(x) for x in image_sets], [None] * len(image_sets)
        out = ray.get(
            self.cluster.extract.remote(
                ext_ref, spec.extractor, self.cluster.det_cpus, spec.device, *image_sets
            )
        )
        return [ray.put(a) for a, _ in out], [m for _, m in out]

    def external_sets(self, ext_ref: Ref) -> list[Ref]:
        """Object refs of the external sets' faces as the detectors see them (through the
        extractor, if any): read, resized and put once per run."""
        if not self.spec.evaluation.external or self.external_refs:
            return self.external_refs
        from deepfake_arena.rounds.external import load_external

        spec = self.spec
        self.external = [
            load_external(e.path, e.name, spec.world.resolution, spec.seed, e.max_faces)
            for e in spec.evaluation.external
        ]
        self.external_refs, self.external_misses = self.extracted(ext_ref, [e.images for e in self.external])
        # The object store holds the faces now; the driver keeps only the labels and methods.
        self.external = [replace(e, images=np.empty(0, np.uint8)) for e in self.external]
        return self.external_refs

    def kept_external(self, name: str, trained_round: int) -> list[np.ndarray] | None:
        """A version's raw scores on the external sets if the last round kept them, else None."""
        if not self.external:
            return []  # nothing to score: no external sets
        kept = self.external_scored.get(name)
        return kept[1] if kept is not None and kept[0] == trained_round else None

    def keep_external(self, name: str, trained_round: int, probs: list[np.ndarray]) -> None:
        """Keep a version's raw external scores for the next round, where it is deployed."""
        if probs:
            self.external_scored[name] = (trained_round, probs)

    def external_rows(
        self, base: Row, d: DetectorSpec, trained_round: int, probs: list[np.ndarray]
    ) -> list[Row]:
        """Phase `external` rows of one version on every external set (deepfake_arena.rounds.external)."""
        from deepfake_arena.rounds.external import external_rows

        rows: list[Row] = []
        cols = {**base, **det_cols(d), "detector_round": trained_round, "generation": base["round"]}
        for ext, p, miss in zip(self.external, probs, self.external_misses, strict=True):
            rows += external_rows(self.spec, cols, extraction.apply_misses(p, miss), ext, miss)
        return rows
