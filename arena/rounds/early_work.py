"""Next round's make tasks, started while this round's detectors retrain and are scored.

From round 2 on the population evolves on zero-day scores, so the next strains are known before
the retrain. Their make tasks that query no detector (no guided evasion) need nothing the retrain
produces: started beside it, they fill the CPUs it leaves idle (a frozen detector's retrain is
instant, a lone fine-tune uses one CPU). Those that query the deployed detectors need the
retrained versions only for their last stages: their swaps run beside the retrain too
(`deepfake_arena.rounds.fake_stages`), and the longest of them are finished as soon as those versions exist,
behind post's scoring tasks, through post and commit on the cores the scoring frees. Fakes come
from each task's own seeded streams, so a task started early makes exactly the fakes it would
make in its own round (tests/test_end_to_end.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any

from deepfake_arena.rounds.generator_side import (
    MakeJob,
    longest_first,
    make_cost,
    make_tasks,
    needs_surrogate,
    task_key,
    trains_in_task,
)


def start_beside(
    ray: Any,
    retraining: list[Any],
    jobs: list[MakeJob],
    submit: Callable[[MakeJob, dict[str, int]], Any],
    swap: Callable[[MakeJob, dict[str, int]], Any],
    slots: int,
) -> tuple[dict[tuple[Any, ...], Any], dict[tuple[Any, ...], Any], float]:
    """Run `jobs`' detector-free work while the `retraining` refs are pending.

    First the make tasks of the strains that query no detector (`submit`), then the swaps of
    those that do (`swap`, `deepfake_arena.rounds.fake_stages`): their last stages wait for the retrained
    versions. At most `slots` run at once, each kind longest first, and none starts after the
    retrain ends, so post's scoring waits for at most those few. Returns ({task_key: make ref},
    {task_key: swap ref}, the seconds spent waiting for them after the retrain ended:
    generation time, not training).
    """
    made: dict[tuple[Any, ...], Any] = {}
    swapped: dict[tuple[Any, ...], Any] = {}
    free = [job for job in jobs if not needs_surrogate(job[0])]
    guided = [job for job in jobs if needs_surrogate(job[0])]
    queue = [(free[j], c, submit, made) for j, c in _longest_first(free)] + [
        (guided[j], c, swap, swapped)
        for j, c in _longest_first(guided)
        if not trains_in_task(guided[j][2])  # its swap and training are one task
    ]
    pending, running = list(retraining), list[Any]()
    while pending:
        while queue and len(running) < slots:
            job, split_counts, start, into = queue.pop(0)
            ref = into[task_key(job[0], split_counts)] = start(job, split_counts)
            running.append(ref)
        ready, _ = ray.wait(pending + running, num_returns=1)
        pending = [x for x in pending if x not in ready]
        running = [x for x in running if x not in ready]
    t = time.perf_counter()
    if running:
        ray.wait(running, num_returns=len(running))
    return made, swapped, time.perf_counter() - t


def start_longest(
    jobs: list[MakeJob],
    submit: Callable[[MakeJob, dict[str, int]], Any],
    n: int,
    skip: set[tuple[Any, ...]],
) -> dict[tuple[Any, ...], Any]:
    """Submit now the `n` longest tasks of `jobs` whose keys are not in `skip`: {task_key: ref}.

    Called once the retrained detectors exist, behind post's scoring tasks: Ray runs them as the
    scoring frees cores. `n` should leave the driver a core for post's metrics and the commit.
    """
    return {
        task_key(jobs[j][0], split_counts): submit(jobs[j], split_counts)
        for j, split_counts in _longest_first(jobs, skip)[:n]
    }


def _longest_first(
    jobs: list[MakeJob], skip: Collection[tuple[Any, ...]] = ()
) -> list[tuple[int, dict[str, int]]]:
    """The make tasks of `jobs` not in `skip`, as (job index, split counts), longest first."""
    tasks = [(j, c) for j, c in make_tasks(jobs) if task_key(jobs[j][0], c) not in skip]
    costs = [make_cost(jobs[j][0], split_counts, jobs[j][2]) for j, split_counts in tasks]
    return [tasks[i] for i in longest_first(costs)]
