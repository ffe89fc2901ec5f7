"""A generation's scored images and the results rows made from its scores: per strain (its
fakes against the reals) and pooled, with the extractor's misses when one is on; and the part
of a generation that later versions re-score (`kept_eval_set`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from deepfake_arena.metrics import compute_metrics
from deepfake_arena.results import ALL
from deepfake_arena.rounds import extraction
from deepfake_arena.seeding import derive_seed
from deepfake_arena.spec import RunSpec


@dataclass
class EvalSet:
    images: np.ndarray
    labels: np.ndarray
    strain_index: np.ndarray  # -1 for reals
    strains: list[dict[str, str]]  # id, family (and a recorded strain's method) of each strain index


def strain_meta(strain: dict[str, Any]) -> dict[str, str]:
    """What a generation's eval set keeps of a population strain: id and family, and a recorded
    strain's method (the key only when it has one, so other runs' eval sets stay as they were)."""
    meta = {"id": strain["id"], "family": strain["genome"]["family"]}
    if strain.get("method") is not None:
        meta["method"] = strain["method"]
    return meta


def metric_rows(
    spec: RunSpec,
    base: dict[str, Any],
    probs: np.ndarray,
    ev: EvalSet,
    salt: tuple[object, ...],
    miss: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Rows for each strain of a generation (reals vs that strain's fakes) and pooled ('all'),
    plus the extractor's miss rates when faces went through one (`miss`: a flag per image)."""
    rows = []
    reals = ev.labels == 0
    groups: list[tuple[str, str, str | None, np.ndarray]] = [
        (s["id"], s["family"], s.get("method"), reals | (ev.strain_index == i))
        for i, s in enumerate(ev.strains)
    ]
    groups.append((ALL, ALL, None, np.ones_like(reals)))
    for strain, family, method, sel in groups:
        values = compute_metrics(
            ev.labels[sel],
            probs[sel],
            n_bootstrap=spec.metrics.bootstrap,
            confidence=spec.metrics.confidence,
            seed=derive_seed(*salt, strain) % (2**32),
        )
        for metric, mv in values.items():
            rows.append(
                {
                    **base,
                    "strain": strain,
                    "family": family,
                    "metric": metric,
                    "value": float(mv.value),
                    "ci_low": float(mv.ci_low),
                    "ci_high": float(mv.ci_high),
                    "n": int(mv.n),
                    "method": method,
                }
            )
    if miss is not None:
        rows += extraction.miss_rows(
            base, miss, ev.labels, ev.strain_index, ev.strains, spec.metrics.confidence
        )
    return rows


def kept_eval_set(ev: EvalSet, budget: int) -> EvalSet:
    """The first `budget` reals and `budget` fakes per strain: what later versions re-score."""
    keep = np.zeros(len(ev.labels), dtype=bool)
    keep[np.flatnonzero(ev.labels == 0)[:budget]] = True
    for i in range(len(ev.strains)):
        keep[np.flatnonzero(ev.strain_index == i)[:budget]] = True
    return EvalSet(ev.images[keep], ev.labels[keep], ev.strain_index[keep], ev.strains)
