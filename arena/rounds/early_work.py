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
from dataclasses import dataclass, field
from typing import Any

from deepfake_arena.rounds.generator_side import MakeJob, longest_first, make_tasks, needs_surrogate

TaskKey = tuple[Any, ...]  # a make task's name across rounds (generator_side.task_key)
Ref = Any  # a Ray object ref (or the in-process executor's stand-in)


@dataclass
class EarlyWork:
    """The work round r started for round r+1, by round: taken (and so forgotten) by that round.

    `reals`: refs of its real faces per split; `made`: its make tasks started beside the retrain
    or during post; `swapped`: the swaps of its guided strains started beside the retrain, whose
    last stages `made` tasks finish; `surrogate`: the deployed detectors those tasks query, so
    that the round's own tasks query the same (a ref, or None).
    """

    reals: dict[int, dict[str, Ref]] = field(default_factory=dict)
    made: dict[int, dict[TaskKey, Ref]] = field(default_factory=dict)
    swapped: dict[int, dict[TaskKey, Ref]] = field(default_factory=dict)
    surrogate: dict[int, Ref] = field(default_factory=dict)

    def take_reals(self, r: int) -> dict[str, Ref] | None:
        return self.reals.pop(r, None)

    def take_surrogate(self, r: int, compute: Callable[[], Ref]) -> Ref:
        """The surrogate round r's early tasks were given, if it started any; else `compute()`."""
        return self.surrogate.pop(r) if r in self.surrogate else compute()

    def take_made(self, r: int) -> dict[TaskKey, Ref]:
        return self.made.pop(r, {})

    def take_swap(self, r: int, key: TaskKey) -> Ref | None:
        """The swap of round r's task `key` if it was started early (each is finished once)."""
        return self.swapped.get(r, {}).pop(key, None)

    def forget_swaps(self, r: int) -> None:
        """Round r's make tasks are all submitted: every swap started early was finished."""
        self.swapped.pop(r, None)


def start_beside(
    ray: Any,
    retraining: list[Any],
    jobs: list[MakeJob],
    submit: Callable[[MakeJob, dict[str, int]], Any],
    swap: Callable[[MakeJob, dict[str, int]], Any],
    slots: int,
) -> tuple[dict[TaskKey, Ref], dict[TaskKey, Ref], float]:
    """Run `jobs`' detector-free work while the `retraining` refs are pending.

    First the make tasks of the strains that query no detector (`submit`), then the swaps of
    those that do (`swap`, `deepfake_arena.rounds.fake_stages`): their last stages wait for the retrained
    versions. At most `slots` run at once, each kind longest first, and none starts after the
    retrain ends, so post's scoring waits for at most those few. Returns ({task_key: make ref},
    {task_key: swap ref}, the seconds spent waiting for them after the retrain ended:
    generation time, not training).
    """
    made: dict[TaskKey, Ref] = {}
    swapped: dict[TaskKey, Ref] = {}
    free = [job for job in jobs if not needs_surrogate(job.strain)]
    guided = [job for job in jobs if needs_surrogate(job.strain)]
    queue = [(free[j], c, submit, made) for j, c in _longest_first(free)] + [
        (guided[j], c, swap, swapped)
        for j, c in _longest_first(guided)
        if not guided[j].trains  # its swap and training are one task
    ]
    pending, running = list(retraining), list[Any]()
    while pending:
        while queue and len(running) < slots:
            job, split_counts, start, into = queue.pop(0)
            ref = into[job.key(split_counts)] = start(job, split_counts)
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
    skip: set[TaskKey],
) -> dict[TaskKey, Ref]:
    """Submit now the `n` longest tasks of `jobs` whose keys are not in `skip`: {task_key: ref}.

    Called once the retrained detectors exist, behind post's scoring tasks: Ray runs them as the
    scoring frees cores. `n` should leave the driver a core for post's metrics and the commit.
    """
    return {
        jobs[j].key(split_counts): submit(jobs[j], split_counts)
        for j, split_counts in _longest_first(jobs, skip)[:n]
    }


def _longest_first(jobs: list[MakeJob], skip: Collection[TaskKey] = ()) -> list[tuple[int, dict[str, int]]]:
    """The make tasks of `jobs` not in `skip`, as (job index, split counts), longest first."""
    tasks = [(j, c) for j, c in make_tasks(jobs) if jobs[j].key(c) not in skip]
    costs = [jobs[j].cost(split_counts) for j, split_counts in tasks]
    return [tasks[i] for i in longest_first(costs)]
