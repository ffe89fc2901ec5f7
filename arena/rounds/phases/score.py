"""Zero-day and post: the deployed versions meet the new generation before retraining; the new
versions score it, every kept earlier generation and the vault after.

Each detector's post scoring task was submitted with its retrain task (phases/retrain.py) and
starts as soon as that ends. Results rows keep one order: per detector, its
external rows, then its rows on this generation, the past ones and the vault.
"""

from __future__ import annotations

import numpy as np

from deepfake_arena.results import jpeg_phase
from deepfake_arena.rounds import extraction
from deepfake_arena.rounds.cluster import Cluster
from deepfake_arena.rounds.recompress import jpeg_sets
from deepfake_arena.rounds.records import (
    Deployed,
    DetectorState,
    MadeFakes,
    PhaseScores,
    Retrained,
    Row,
    ScoredSets,
)
from deepfake_arena.rounds.scored_inputs import ScoredInputs, det_cols
from deepfake_arena.rounds.scored_sets import EvalSet, metric_rows
from deepfake_arena.rounds.tasks import scoring_memory
from deepfake_arena.spec import DetectorSpec, RunSpec
from deepfake_arena.store.round_files import EVAL_SET, load_eval_set
from deepfake_arena.store.run_dir import RunStore


def scored_sets(
    inputs: ScoredInputs, past: list[tuple[int, EvalSet]], made: MadeFakes, ext_ref: object
) -> ScoredSets:
    """Everything scored this round, as the detectors will see it (through the extractor, if any):
    this generation's eval set, the kept `past` generations, this generation re-encoded at each
    `evaluation.jpeg_qualities` (none unless the spec asks) and the vault, riding last."""
    recoded = jpeg_sets(made.ev, inputs.spec.evaluation.jpeg_qualities)
    scored = (
        [made.ev]
        + [p for _, p in past]
        + [q for _, q in recoded]
        + ([made.sealed] if made.sealed is not None else [])
    )
    refs, misses = inputs.extracted(ext_ref, [e.images for e in scored])
    ext_refs = inputs.external_sets(ext_ref)
    return ScoredSets(past, refs[0], refs[1:], misses, ext_refs, recoded)


def zero_day(
    cluster: Cluster,
    inputs: ScoredInputs,
    versions: dict[str, DetectorState],
    base: Row,
    made: MadeFakes,
    sets: ScoredSets,
) -> Deployed:
    """The deployed versions' scores on this generation (the evasion evolution's rewards) and
    their rows; a version's external scores are reused when the last round kept them."""
    spec, r = cluster.spec, base["round"]
    deployed = [d for d in spec.detectors if versions[d.name].weights is not None]
    kept = [inputs.kept_external(d.name, versions[d.name].trained_round) for d in deployed]
    refs = [
        cluster.score.remote(
            d,
            versions[d.name].weights,
            scoring_memory(versions[d.name].memory),
            cluster.det_cpus,
            spec.device,
            sets.eval_ref,
            *(sets.ext_refs if ext_kept is None else []),
        )
        for d, ext_kept in zip(deployed, kept, strict=True)
    ]
    rows: list[Row] = []
    probs = {}
    for d, ext_kept, (p, *ext_probs) in zip(deployed, kept, cluster.ray.get(refs), strict=True):
        trained_round = versions[d.name].trained_round
        rows += inputs.external_rows(base, d, trained_round, ext_kept or ext_probs)
        probs[d.name] = extraction.apply_misses(p, sets.misses[0])
        cols = {**base, **det_cols(d), "detector_round": trained_round, "generation": r, "phase": "zero_day"}
        rows += metric_rows(
            spec, cols, probs[d.name], made.ev, (spec.seed, r, d.name, "zero_day", r), sets.misses[0]
        )
    return Deployed(versions, [d.name for d in deployed], PhaseScores(rows, probs))


def post(
    spec: RunSpec,
    inputs: ScoredInputs,
    results: list[list[np.ndarray]],
    base: Row,
    made: MadeFakes,
    sets: ScoredSets,
    deployed: Deployed,
    retrained: Retrained,
) -> PhaseScores:
    """The new versions' rows from their post scoring tasks' `results` (one list per detector:
    this generation, the past ones, the vault, then the external sets)."""
    rows: list[Row] = []
    probs = {}
    n_sets = len(sets.misses)
    for d, scores in zip(spec.detectors, results, strict=True):
        own, ext_probs = scores[:n_sets], scores[n_sets:]
        own = [extraction.apply_misses(p, m) for p, m in zip(own, sets.misses, strict=True)]
        trained_round = retrained.detectors[d.name].trained_round
        # A version both deployed and post (frozen) had its external rows written at zero-day.
        if not (d.name in deployed.names and deployed.versions[d.name].trained_round == trained_round):
            rows += inputs.external_rows(base, d, trained_round, ext_probs)
        inputs.keep_external(d.name, trained_round, ext_probs)
        probs[d.name] = own[0]
        rows += version_rows(
            spec, {**base, **det_cols(d), "detector_round": trained_round}, d, own, made, sets
        )
    return PhaseScores(rows, probs)


def version_rows(
    spec: RunSpec, cols: Row, d: DetectorSpec, scores: list[np.ndarray], made: MadeFakes, sets: ScoredSets
) -> list[Row]:
    """One new version's rows: on this generation (`post`), each kept earlier one (`past`), this
    generation at each JPEG quality (`jpegQ`) and the vault (`sealed`), from its scores on each in
    that order."""
    r = cols["round"]
    salt = (spec.seed, r, d.name, "post", r)
    post_cols = {**cols, "generation": r, "phase": "post"}
    rows = metric_rows(spec, post_cols, scores[0], made.ev, salt, sets.misses[0])
    for k, (j, pset) in enumerate(sets.past, start=1):
        salt = (spec.seed, r, d.name, "past", j)
        rows += metric_rows(
            spec, {**cols, "generation": j, "phase": "past"}, scores[k], pset, salt, sets.misses[k]
        )
    for k, (q, qset) in enumerate(sets.recoded, start=1 + len(sets.past)):
        phase = jpeg_phase(q)
        salt = (spec.seed, r, d.name, phase, r)
        rows += metric_rows(
            spec, {**cols, "generation": r, "phase": phase}, scores[k], qset, salt, sets.misses[k]
        )
    if made.sealed is not None:
        salt = (spec.seed, r, d.name, "sealed", r)
        sealed_cols = {**cols, "generation": r, "phase": "sealed"}
        rows += metric_rows(spec, sealed_cols, scores[-1], made.sealed, salt, sets.misses[-1])
    return rows


def past_set(store: RunStore, j: int) -> EvalSet:
    """Generation j's kept eval set, read back from its committed round."""
    images, labels, strain_index, strains = load_eval_set(store.round_path(j) / EVAL_SET)
    return EvalSet(images, labels, strain_index, strains)
