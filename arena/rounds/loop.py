"""The round loop (DESIGN.md "One round"): make, zero-day, retrain, post, evolve, commit.

From round 2 evolve runs right after zero-day (its scores are evolve's only input), so the next
round's real faces and make tasks that query no detector can run beside the retrain, and the
longest of the rest through post and commit (`deepfake_arena.rounds.early_work`); round 1, with nothing
deployed, evolves on post scores after post. Each detector's post scoring starts as soon as its
own retrain ends (a frozen detector is scored while the others still train).

A round is a function of (state, spec) to (next state, files). The driver owns the loop, Ray
and the files; the work itself runs as Ray tasks (`deepfake_arena.rounds.cluster`). Each phase is a
function of `rounds.phases` that takes and returns the records of `rounds.records`;
`RoundRunner.play` calls them in order and times them.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from deepfake_arena.faults import driver_fault
from deepfake_arena.results import ALL
from deepfake_arena.rounds import extraction
from deepfake_arena.rounds.cluster import Cluster, Ref
from deepfake_arena.rounds.early_work import EarlyWork
from deepfake_arena.rounds.generator_side import round_jobs, vault_strains
from deepfake_arena.rounds.phases.ahead import start_beside, start_querying, state_after
from deepfake_arena.rounds.phases.commit import commit, write_round
from deepfake_arena.rounds.phases.evolve import evolve
from deepfake_arena.rounds.phases.make import make_phase, query_seconds, surrogate_ref
from deepfake_arena.rounds.phases.retrain import Training, retrained, start_retrain
from deepfake_arena.rounds.phases.score import past_set, post, scored_sets, zero_day
from deepfake_arena.rounds.progress import Progress
from deepfake_arena.rounds.records import (
    Deployed,
    Evolved,
    MadeFakes,
    PhaseScores,
    Retrained,
    Row,
    ScoredSets,
)
from deepfake_arena.rounds.scored_inputs import ScoredInputs
from deepfake_arena.rounds.state import ArenaState, deployed_versions, load_state
from deepfake_arena.spec import RunSpec
from deepfake_arena.store.run_dir import RunStore

Timings = dict[str, float]  # wall seconds per phase: the round's timings.json


class RoundRunner:
    """Plays rounds of one run on Ray: the run's context, and what it keeps between rounds."""

    def __init__(
        self, spec: RunSpec, store: RunStore, run_name: str, progress: Progress, executor: str = "ray"
    ) -> None:
        self.spec, self.store, self.run_name, self.progress = spec, store, run_name, progress
        self.cluster = Cluster(spec, executor)
        self.last_summary = ""  # the pooled AUCs of the last committed round, for the progress line
        # Work that needs no result of the retrain is started while it runs, to fill the cores a
        # lone retraining detector leaves idle: the round's sample grid (drawn in a driver thread)
        # and, on Ray, the next round's real faces, detector-free make tasks and guided strains'
        # swaps (`deepfake_arena.rounds.early_work`; in-process they could only run serially).
        self.drawing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sample-grid")
        self.start_early = executor == "ray"
        self.early = EarlyWork()
        self.vault = vault_strains(spec)  # the sealed strains: the same in every round
        self.inputs = ScoredInputs(spec, store, self.cluster)  # the extractor and external sets

    def close(self) -> None:
        self.drawing.shutdown(wait=True)

    def play(self, state: ArenaState, r: int) -> ArenaState:
        """One round: each phase in order, its record handed to the next."""
        timings: Timings = {}
        t_round = time.perf_counter()
        made, ext_ref, new_extractor = self._make(state, r, timings)
        sets = self._scored_sets(r, made, ext_ref, timings)
        driver_fault("after_make", r)
        base: Row = {"run": self.run_name, "seed": self.spec.seed, "round": r}
        deployed = self._zero_day(state, r, base, made, sets, timings)
        # Evolve as soon as its scores exist: from round 2 on the zero-day ones, so the next
        # population's make tasks that query no detector can run beside the retrain.
        evolved = None
        if deployed.scores.probs:
            evolved = self._evolve(state, r, made, deployed.scores.probs, "zero_day", timings)
        training, new = self._retrain(state, r, made, sets, evolved, ext_ref, timings)
        scores = self._post(r, base, (made, sets, deployed), training, new, evolved, ext_ref, timings)
        if evolved is None:  # round 1: nothing was deployed, so it evolves on post scores
            evolved = self._evolve(state, r, made, scores.probs, "post", timings)
        rows = deployed.scores.rows + scores.rows
        self._commit(r, rows, made, new, evolved, new_extractor, timings, t_round)
        return state_after(r, evolved, new, made)

    def _make(
        self, state: ArenaState, r: int, timings: Timings
    ) -> tuple[MadeFakes, Ref, extraction.Extractor | None]:
        """Make (`phases.make`): with the round's extractor, trained now in its first round."""
        spec = self.spec
        self.progress.phase(r, "make", f"{len(state.strains)} strains")
        t, start = time.perf_counter(), time.time()
        reals = self.early.take_reals(r)  # started early by round r-1, else now
        if reals is None:
            reals = self.cluster.reals(r, bool(self.vault))
        versions = lambda: deployed_versions(spec, self.store, state, r)  # noqa: E731
        # the same weights as round r-1's early tasks were given, if it started any
        surrogate = self.early.take_surrogate(
            r, lambda: surrogate_ref(self.cluster, state.strains + self.vault, versions)
        )
        ext_ref, new_extractor = self.inputs.extractor(r)
        jobs = round_jobs(spec, state.strains, self.vault, state.generator_weights, surrogate, ext_ref)
        made, parts = make_phase(
            self.cluster,
            self.early,
            r,
            state.strains,
            self.vault,
            jobs,
            reals,
            state.generator_weights,
            self.drawing,
        )
        timings["make"] = time.perf_counter() - t
        timings["make_queries"] = query_seconds(parts, start, timings["make"])
        return made, ext_ref, new_extractor

    def _scored_sets(self, r: int, made: MadeFakes, ext_ref: Ref, timings: Timings) -> ScoredSets:
        t = time.perf_counter()
        past = [(j, past_set(self.store, j)) for j in range(1, r)]
        sets = scored_sets(self.inputs, past, made, ext_ref)
        # Without an extractor this is only reading the kept past sets: post's work, as it always was.
        timings["extract" if ext_ref is not None else "post"] = time.perf_counter() - t
        return sets

    def _zero_day(
        self, state: ArenaState, r: int, base: Row, made: MadeFakes, sets: ScoredSets, timings: Timings
    ) -> Deployed:
        self.progress.phase(r, "zero_day")
        t = time.perf_counter()
        versions = deployed_versions(self.spec, self.store, state, r)
        deployed = zero_day(self.cluster, self.inputs, versions, base, made, sets)
        timings["zero_day"] = time.perf_counter() - t
        return deployed

    def _evolve(
        self, state: ArenaState, r: int, made: MadeFakes, probs: dict, phase: str, timings: Timings
    ) -> Evolved:
        t = time.perf_counter()
        self.progress.phase(r, "evolve")
        evolved = evolve(self.spec, state, r, made, self.vault, probs, phase)
        timings["evolve"] = time.perf_counter() - t
        return evolved

    def _retrain(
        self,
        state: ArenaState,
        r: int,
        made: MadeFakes,
        sets: ScoredSets,
        evolved: Evolved | None,
        ext_ref: Ref,
        timings: Timings,
    ) -> tuple[Training, Retrained]:
        """Retrain (`phases.retrain`), with round r+1's early work started beside it."""
        spec = self.spec
        self.progress.phase(r, "retrain", ", ".join(f"{d.name}:{d.strategy}" for d in spec.detectors))
        t = time.perf_counter()
        training = start_retrain(self.cluster, state, r, made, sets)
        if self.start_early and r < spec.rounds:  # queued behind the retrains, run beside them
            self.early.reals[r + 1] = self.cluster.reals(r + 1, bool(self.vault))
            if evolved is not None:
                timings["make_ahead"] = start_beside(
                    self.cluster, self.early, r, training.retrains, evolved, made, self.vault, ext_ref
                )
        results = self.cluster.ray.get(training.retrains)
        new = retrained(state, r, [d.name for d in spec.detectors], results)
        timings["retrain"] = time.perf_counter() - t - timings.get("make_ahead", 0.0)
        return training, new

    def _post(
        self,
        r: int,
        base: Row,
        scored: tuple[MadeFakes, ScoredSets, Deployed],
        training: Training,
        new: Retrained,
        evolved: Evolved | None,
        ext_ref: Ref,
        timings: Timings,
    ) -> PhaseScores:
        """Post (`phases.score.post`), with round r+1's longest make tasks started behind it."""
        made, sets, deployed = scored
        self.progress.phase(r, "post")
        t = time.perf_counter()
        if self.start_early and evolved is not None and r < self.spec.rounds:  # queued behind the scoring
            nxt = state_after(r, evolved, new, made)
            start_querying(self.cluster, self.early, self.store, r + 1, nxt, self.vault, ext_ref)
        results = self.cluster.ray.get(training.post)
        scores = post(self.spec, self.inputs, results, base, made, sets, deployed, new)
        timings["post"] = timings.get("post", 0.0) + time.perf_counter() - t
        return scores

    def _commit(
        self,
        r: int,
        rows: list[Row],
        made: MadeFakes,
        new: Retrained,
        evolved: Evolved,
        new_extractor: extraction.Extractor | None,
        timings: Timings,
        t_round: float,
    ) -> None:
        self.progress.phase(r, "commit")
        t = time.perf_counter()
        tmp: Path = self.store.begin_round(r)
        write_round(tmp, self.spec, rows, made, new, evolved, new_extractor)
        self.last_summary = _summary(rows)
        timings["commit"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t_round
        commit(self.store, r, tmp, timings)


def run_rounds(
    spec: RunSpec, store: RunStore, run_name: str, progress: Progress, start: int, executor: str = "ray"
) -> ArenaState:
    """Play rounds start+1..spec.rounds, committing each; returns the final state."""
    state = load_state(spec, store, start)
    runner = RoundRunner(spec, store, run_name, progress, executor)
    try:
        for r in range(start + 1, spec.rounds + 1):
            state = runner.play(state, r)
            progress.round_done(r, runner.last_summary)
    finally:
        runner.close()
    return state


def _summary(rows: list[Row]) -> str:
    """The round's pooled zero-day and post AUCs, for the progress line."""
    return "; ".join(
        f"{row['detector']} {row['phase']} AUC {row['value']:.3f}"
        for row in rows
        if row["metric"] == "auc" and row["strain"] == ALL and row["phase"] in ("zero_day", "post")
    )
