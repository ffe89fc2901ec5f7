"""Make: every strain's fakes (and the vault's), the round's reals, and the eval set they form.

A strain's splits are separate tasks, submitted longest first; tasks the previous round started
early (`deepfake_arena.rounds.early_work`) are taken, not submitted again. Fakes come from each task's own
seeded streams, so where and when a task runs does not change them.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import numpy as np

from deepfake_arena.rounds.cluster import Cluster, Ref
from deepfake_arena.rounds.early_work import EarlyWork
from deepfake_arena.rounds.generator_side import (
    MakeJob,
    StrainDict,
    collect_weights,
    longest_first,
    make_tasks,
    needs_surrogate,
    surrogate_detectors,
)
from deepfake_arena.rounds.payloads import GenWeights, MadePart
from deepfake_arena.rounds.query_clock import phase_query_seconds
from deepfake_arena.rounds.records import DetectorState, MadeFakes, StrainFakes
from deepfake_arena.rounds.scored_sets import EvalSet, strain_meta


def surrogate_ref(
    cluster: Cluster, strains: list[StrainDict], versions: Callable[[], dict[str, DetectorState]]
) -> Ref:
    """The deployed detectors' weights (an object ref) for strains with guided evasion, or None;
    the `versions` deployed are read only when a strain queries them."""
    if not any(needs_surrogate(s) for s in strains):
        return None
    live = surrogate_detectors(cluster.spec, versions())
    return cluster.ray.put(live) if live else None


def submit(cluster: Cluster, early: EarlyWork, r: int, jobs: list[MakeJob]) -> tuple[list[Any], list[Ref]]:
    """Round r's make tasks as (job index, split counts) and their refs, in the tasks' order:
    those started early taken, the rest submitted longest first."""
    tasks = make_tasks(jobs)
    refs: list[Ref] = [None] * len(tasks)
    ahead = early.take_made(r)  # tasks round r-1 started during its retrain and post
    keys = [jobs[j].key(split_counts) for j, split_counts in tasks]
    for i in longest_first([jobs[j].cost(split_counts) for j, split_counts in tasks]):
        j, split_counts = tasks[i]
        refs[i] = ahead[keys[i]] if keys[i] in ahead else submit_one(cluster, early, r, jobs[j], split_counts)
    early.forget_swaps(r)  # every swap started early was finished just now
    return tasks, refs


def submit_one(cluster: Cluster, early: EarlyWork, r: int, job: MakeJob, split_counts: dict[str, int]) -> Ref:
    """One make task of round r: the last stages of its swap if that was started early, else whole."""
    return cluster.make(r, job, split_counts, early.take_swap(r, job.key(split_counts)))


def by_strain(n_jobs: int, tasks: list[Any], parts: list[MadePart]) -> list[StrainFakes]:
    """Each job's (strain's) fakes, merged from its tasks' parts."""
    grouped: list[list[MadePart]] = [[] for _ in range(n_jobs)]
    for (j, _), part in zip(tasks, parts, strict=True):
        grouped[j].append(part)
    return [StrainFakes.merge(p) for p in grouped]


def scored_set(reals: np.ndarray, fakes: list[StrainFakes], split: str, strains: list[StrainDict]) -> EvalSet:
    """Reals, then each strain's fakes of `split`, labelled 0/1, with each image's strain index."""
    return EvalSet(
        images=np.concatenate([reals] + [f.fakes[split] for f in fakes]),
        labels=np.concatenate(
            [np.zeros(len(reals), np.uint8)] + [np.ones(len(f.fakes[split]), np.uint8) for f in fakes]
        ),
        strain_index=np.concatenate(
            [np.full(len(reals), -1, np.int32)]
            + [np.full(len(f.fakes[split]), i, np.int32) for i, f in enumerate(fakes)]
        ),
        # a population strain keeps its recorded method (strain_meta); the vault's keep id and family
        strains=[
            strain_meta(s) if split == "eval" else {"id": s["id"], "family": s["genome"]["family"]}
            for s in strains
        ],
    )


def make_phase(
    cluster: Cluster,
    early: EarlyWork,
    r: int,
    strains: list[StrainDict],
    vault: list[StrainDict],
    jobs: list[MakeJob],
    reals_refs: dict[str, Ref],
    old_weights: GenWeights,
    drawing: Executor,
) -> tuple[MadeFakes, list[MadePart]]:
    """Round r's fakes and reals, this generation's eval set (and the vault's sealed set), the
    sample grid started in a driver thread, and the training data put in the object store."""
    from deepfake_arena.rounds.samples import sample_grid_png
    from deepfake_arena.world.pools import world_credit

    ray = cluster.ray
    tasks, fake_refs = submit(cluster, early, r, jobs)
    reals_train, reals_eval = ray.get([reals_refs["train"], reals_refs["eval"]])
    parts = ray.get(fake_refs)
    made = by_strain(len(jobs), tasks, parts)
    fakes, vault_fakes = made[: len(strains)], made[len(strains) :]
    gen_weights, new_weights = collect_weights(r, strains + vault, made, old_weights)
    sealed = scored_set(ray.get(reals_refs["vault"]), vault_fakes, "vault", vault) if vault else None
    ev = scored_set(reals_eval, fakes, "eval", strains)
    credit = world_credit(cluster.spec.world)  # real faces carry their dataset's credit line
    shown = [(f.measures.targets, f.measures.shown) for f in fakes + vault_fakes]
    grid_png = drawing.submit(sample_grid_png, r, strains + vault, shown, reals_eval, credit)
    made_fakes = MadeFakes(
        fakes,
        vault_fakes,
        gen_weights,
        new_weights,
        ev,
        sealed,
        train_reals_ref=ray.put(reals_train),
        train_fakes_ref=ray.put(np.concatenate([f.fakes["train"] for f in fakes])),
        grid_png=grid_png,
    )
    return made_fakes, parts


def query_seconds(parts: list[MadePart], start: float, seconds: float) -> float:
    """Of make's wall time, the time inside the deployed detectors (evasion's score queries) and
    the extractor: measured in each task, apportioned to the phase's wall time by the part of
    each task that ran in it (those started early too: the phase waited for them)."""
    return phase_query_seconds(((*p.span, float(p.query_seconds)) for p in parts), start, start + seconds)
