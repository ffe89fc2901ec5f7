"""The next round's work, started during this one (`deepfake_arena.rounds.early_work`): its reals and
detector-free make tasks beside the retrain, the longest of the rest once the retrained
versions they query exist. Kept in the runner's `EarlyWork` until round r + 1 takes it."""

from __future__ import annotations

from deepfake_arena.rounds import early_work
from deepfake_arena.rounds.cluster import Cluster, Ref
from deepfake_arena.rounds.early_work import EarlyWork
from deepfake_arena.rounds.generator_side import StrainDict, round_jobs
from deepfake_arena.rounds.phases.make import submit_one, surrogate_ref
from deepfake_arena.rounds.records import Evolved, MadeFakes, Retrained
from deepfake_arena.rounds.state import ArenaState, deployed_versions
from deepfake_arena.store.run_dir import RunStore


def start_beside(
    cluster: Cluster,
    early: EarlyWork,
    r: int,
    retrains: list[Ref],
    evolved: Evolved,
    made: MadeFakes,
    vault: list[StrainDict],
    ext_ref: Ref,
) -> float:
    """Round r+1's make tasks that query no detector, and the swaps of those that do, started
    while round r's `retrains` run; returns the seconds waited for them after the retrain."""
    spec = cluster.spec
    jobs = round_jobs(spec, evolved.strains, vault, made.gen_weights, None, ext_ref)
    early.made[r + 1], early.swapped[r + 1], waited = early_work.start_beside(
        cluster.ray,
        retrains,
        jobs,
        lambda job, split_counts: submit_one(cluster, early, r + 1, job, split_counts),
        lambda job, split_counts: cluster.swap(r + 1, job, split_counts),
        max(1, cluster.slots() - len(spec.detectors)),
    )
    return waited


def start_querying(
    cluster: Cluster,
    early: EarlyWork,
    store: RunStore,
    r: int,
    next_state: ArenaState,
    vault: list[StrainDict],
    ext_ref: Ref,
) -> None:
    """Start the longest of round r's make tasks not yet started, now that the versions they
    query exist (`next_state` is the state round r will start from): as many as leave the
    driver a core for post's metrics and the commit. Their surrogate is kept for round r's own."""
    spec = cluster.spec
    versions = lambda: deployed_versions(spec, store, next_state, r)  # noqa: E731
    surrogate = early.surrogate[r] = surrogate_ref(cluster, next_state.strains + vault, versions)
    jobs = round_jobs(spec, next_state.strains, vault, next_state.generator_weights, surrogate, ext_ref)
    ahead = early.made.setdefault(r, {})
    submit = lambda job, split_counts: submit_one(cluster, early, r, job, split_counts)  # noqa: E731
    ahead.update(early_work.start_longest(jobs, submit, max(1, cluster.slots() - 1), set(ahead)))


def state_after(r: int, evolved: Evolved, retrained: Retrained, made: MadeFakes) -> ArenaState:
    """The state round r + 1 starts from."""
    return ArenaState(r, evolved.strains, evolved.next_id, retrained.detectors, made.gen_weights)
