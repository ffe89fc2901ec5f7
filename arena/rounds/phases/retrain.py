"""Retrain: each detector's strategy on the round's training reals and fakes, and post's scoring
task submitted with it, to start as soon as that detector's own retrain ends (a frozen detector
is scored while the others still train)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from deepfake_arena.rounds.cluster import Cluster, Ref
from deepfake_arena.rounds.payloads import RetrainResult
from deepfake_arena.rounds.records import DetectorState, MadeFakes, Retrained, ScoredSets
from deepfake_arena.rounds.state import ArenaState
from deepfake_arena.seeding import derive_seed


@dataclass(frozen=True)
class Training:
    """The refs of the retrain tasks and of the post scoring tasks that wait for them."""

    retrains: list[Ref]
    post: list[Ref]


def start_retrain(cluster: Cluster, state: ArenaState, r: int, made: MadeFakes, sets: ScoredSets) -> Training:
    """Submit every detector's retrain and, behind each, its post scoring of every scored set."""
    spec = cluster.spec
    retrains = [
        cluster.retrain.remote(
            d,
            state.detectors[d.name].weights,
            state.detectors[d.name].memory,
            state.detectors[d.name].times_trained,
            made.train_reals_ref,
            made.train_fakes_ref,
            r,
            derive_seed(spec.seed, "detector", d.name, r),
            cluster.det_cpus,
            spec.device,
        )
        for d in spec.detectors
    ]
    post = [
        cluster.score_retrained.remote(
            d,
            rt,
            state.detectors[d.name].weights,
            cluster.det_cpus,
            spec.device,
            sets.eval_ref,
            *sets.past_refs,
            *sets.ext_refs,
        )
        for d, rt in zip(spec.detectors, retrains, strict=True)
    ]
    return Training(retrains, post)


def retrained(state: ArenaState, r: int, names: list[str], results: list[RetrainResult]) -> Retrained:
    """Each detector's state after round r's retrain, and its fit report (None: did not train)."""
    detectors: dict[str, DetectorState] = {}
    reports = {}
    for name, res in zip(names, results, strict=True):
        old = state.detectors[name]
        if res.weights is None:
            detectors[name] = DetectorState(old.weights, old.times_trained, old.trained_round, res.memory)
        else:
            detectors[name] = DetectorState(res.weights, old.times_trained + 1, r, res.memory)
        reports[name] = asdict(res.report) if res.report is not None else None
    return Retrained(detectors, reports)
