"""The round loop (DESIGN.md "One round"): make, zero-day, retrain, post, evolve, commit.

From round 2 evolve runs right after zero-day (its scores are evolve's only input), so the next
round's real faces and make tasks that query no detector can run beside the retrain, and the
longest of the rest through post and commit (`deepfake_arena.rounds.early_work`); round 1, with nothing
deployed, evolves on post scores after post. Each detector's post scoring starts as soon as its
own retrain ends (a frozen detector is scored while the others still train).

A round is a function of (state, spec) to (next state, files). The driver owns the loop, Ray
and the files; the work itself runs as Ray tasks (`deepfake_arena.rounds.tasks`). Detectors are Ray tasks, not
long-lived actors: a detector version is small, so passing its weights costs little, a task
frees its CPUs between phases on small machines, and a retried task is idempotent.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np

from deepfake_arena.faults import driver_fault
from deepfake_arena.results import ALL, RESULTS_FILE, jpeg_phase, write_results
from deepfake_arena.rounds import extraction, fake_stages
from deepfake_arena.rounds import tasks as work
from deepfake_arena.rounds.early_work import start_beside, start_longest
from deepfake_arena.rounds.generator_side import (
    GenWeights,
    MakeJob,
    collect_weights,
    fitness_records,
    innovations,
    longest_first,
    make_cost,
    make_tasks,
    merge_made,
    needs_surrogate,
    population_size,
    round_jobs,
    save_weights,
    surrogate_detectors,
    task_key,
    vault_strains,
)
from deepfake_arena.rounds.progress import Progress
from deepfake_arena.rounds.query_clock import phase_query_seconds
from deepfake_arena.rounds.recompress import jpeg_sets
from deepfake_arena.rounds.scored_sets import EvalSet, kept_eval_set, metric_rows, strain_meta
from deepfake_arena.rounds.state import ArenaState, DetectorState, initial_detectors, load_state, load_version
from deepfake_arena.seeding import derive_seed, torch_generator
from deepfake_arena.spec import DetectorSpec, RunSpec
from deepfake_arena.store.round_files import (
    EVAL_SET,
    POPULATION,
    load_eval_set,
    save_detector,
    save_eval_set,
    save_json,
    save_memory,
)
from deepfake_arena.store.run_dir import RunStore

# -------------------------------------------------------------------------------------------
# The round


class RoundRunner:
    """Plays rounds of one run on Ray; holds the remote functions and the run's context."""

    def __init__(
        self, spec: RunSpec, store: RunStore, run_name: str, progress: Progress, executor: str = "ray"
    ) -> None:
        if executor == "ray":
            import ray
        else:  # serially in this process, to measure what Ray costs (benchmarks/ray_overhead.py)
            from deepfake_arena.rounds.executor import InProcess as ray  # type: ignore[no-redef]

        self.ray = ray
        self.spec = spec
        self.store = store
        self.run_name = run_name
        self.progress = progress
        self.last_summary = ""  # the pooled AUCs of the last committed round, for the progress line
        gen, det = spec.resources.generator, spec.resources.detector
        self.gen_cpus, self.det_cpus = gen.num_cpus, det.num_cpus
        opts_gen = {**gen.ray_options(), "max_retries": 3}
        opts_det = {**det.ray_options(), "max_retries": 3}
        self.make_reals = ray.remote(work.make_reals).options(**opts_gen)
        self.make_fakes = ray.remote(work.make_fakes).options(**opts_gen)
        self.swap_faces = ray.remote(fake_stages.swap_faces).options(**opts_gen)
        self.finish_fakes = ray.remote(fake_stages.finish_fakes).options(**opts_gen)
        self.score = ray.remote(work.score).options(**opts_det)
        self.score_retrained = ray.remote(work.score_retrained).options(**opts_det)
        self.retrain = ray.remote(work.retrain).options(**opts_det)
        self.extract = ray.remote(extraction.extract_task).options(**opts_det)
        self.train_extractor = ray.remote(extraction.train_task).options(**opts_det)
        self.extractor_ref: Any = None  # the run's face extractor (object ref), once trained or read
        # Work that needs no result of the retrain is started while it runs, to fill the cores a
        # lone retraining detector leaves idle: the round's sample grid (drawn in a driver thread)
        # and, on Ray, the next round's real faces, detector-free make tasks and guided strains'
        # swaps (`deepfake_arena.rounds.early_work`; in-process they could only run serially).
        self.drawing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sample-grid")
        self.start_early = executor == "ray"
        self.vault = vault_strains(spec)  # the sealed strains: the same in every round
        self.next_reals: dict[int, dict[str, Any]] = {}  # round -> refs of its reals, started early
        self.made_ahead: dict[int, dict[tuple[Any, ...], Any]] = {}  # round -> {task key: ref}
        self.swapped_ahead: dict[int, dict[tuple[Any, ...], Any]] = {}  # round -> {task key: swap ref}
        self.surrogate_ahead: dict[int, Any] = {}  # round -> the surrogate its early tasks query
        # External sets (rounds.external): read once per run; each version's scores kept for the
        # next round, where that version is the deployed one (scored once, not twice).
        self.external: list[Any] = []
        self.external_refs: list[Any] = []
        self.external_misses: list[Any] = []
        self.external_scored: dict[str, tuple[int, list[np.ndarray]]] = {}  # detector -> its version's

    def close(self) -> None:
        self.drawing.shutdown(wait=True)

    def _reals(self, r: int) -> dict[str, Any]:
        """Refs of round r's real faces per split: started early by round r-1, else now."""
        if r in self.next_reals:
            return self.next_reals.pop(r)
        spec = self.spec
        wr = spec.world.reals_per_round
        counts = {"train": wr.train, "eval": wr.eval}
        if self.vault:
            counts["vault"] = spec.vault.reals
        return {
            split: self.make_reals.remote(spec.world, spec.seed, r, split, n, self.gen_cpus)
            for split, n in counts.items()
        }

    def play(self, state: ArenaState, r: int) -> ArenaState:
        spec, ray = self.spec, self.ray
        timings: dict[str, float] = {}
        t_round = time.perf_counter()

        # 1. Make -------------------------------------------------------------------------
        self.progress.phase(r, "make", f"{len(state.strains)} strains")
        t, make_start = time.perf_counter(), time.time()
        reals_refs = self._reals(r)
        vault = self.vault
        # the same weights as round r-1's early tasks were given, if it started any
        surrogate = self.surrogate_ahead.pop(r) if r in self.surrogate_ahead else self._surrogate(state, r)
        ext_ref, new_extractor = self._extractor(r)
        jobs = round_jobs(spec, state.strains, vault, state.generator_weights, surrogate, ext_ref)
        tasks = make_tasks(jobs)
        fake_refs: list[Any] = [None] * len(tasks)
        ahead = self.made_ahead.pop(r, {})  # tasks round r-1 started during its retrain and post
        costs = [make_cost(jobs[j][0], split_counts, jobs[j][2]) for j, split_counts in tasks]
        keys = [task_key(jobs[j][0], split_counts) for j, split_counts in tasks]
        early = [key in ahead for key in keys]
        for i in longest_first(costs):  # results keep the tasks' order
            j, split_counts = tasks[i]
            fake_refs[i] = ahead[keys[i]] if early[i] else self._make(r, jobs[j], split_counts)
        self.swapped_ahead.pop(r, None)  # every swap started early was finished just now
        reals_train, reals_eval = ray.get([reals_refs["train"], reals_refs["eval"]])
        parts = ray.get(fake_refs)
        by_job: list[list[dict[str, Any]]] = [[] for _ in jobs]
        for (j, _), part in zip(tasks, parts, strict=True):
            by_job[j].append(part)
        made = [merge_made(p) for p in by_job]
        fakes, vault_fakes = made[: len(state.strains)], made[len(state.strains) :]
        gen_weights, new_weights = collect_weights(r, state.strains + vault, made, state.generator_weights)
        sealed = self._sealed_set(ray.get(reals_refs["vault"]), vault, vault_fakes) if vault else None
        strains_meta = [strain_meta(s) for s in state.strains]
        ev = EvalSet(
            images=np.concatenate([reals_eval] + [f["eval"] for f in fakes]),
            labels=np.concatenate(
                [np.zeros(len(reals_eval), np.uint8)] + [np.ones(len(f["eval"]), np.uint8) for f in fakes]
            ),
            strain_index=np.concatenate(
                [np.full(len(reals_eval), -1, np.int32)]
                + [np.full(len(f["eval"]), i, np.int32) for i, f in enumerate(fakes)]
            ),
            strains=strains_meta,
        )
        from deepfake_arena.rounds.samples import sample_grid_png
        from deepfake_arena.world.pools import world_credit

        credit = world_credit(spec.world)  # real faces carry their dataset's credit line
        grid_png = self.drawing.submit(
            sample_grid_png, r, state.strains + vault, fakes + vault_fakes, reals_eval, credit
        )
        train_reals_ref = ray.put(reals_train)
        train_fakes_ref = ray.put(np.concatenate([f["train"] for f in fakes]))
        timings["make"] = time.perf_counter() - t
        # Of make, the time inside the deployed detectors (evasion's score queries) and the
        # extractor: measured in each task, apportioned to the phase's wall time by the part of
        # each task that ran in it (those started early too: the phase waited for them).
        timings["make_queries"] = phase_query_seconds(
            ((*p["span"], float(p.get("query_seconds", 0.0))) for p in parts),
            make_start,
            make_start + timings["make"],
        )
        # Everything scored this round, as the detectors will see it (through the extractor, if any).
        t = time.perf_counter()
        past = [(j, self._past_set(j)) for j in range(1, r)]
        recoded = jpeg_sets(ev, spec.evaluation.jpeg_qualities)  # [] unless the spec asks
        scored = (
            [ev] + [p for _, p in past] + [p for _, p in recoded] + ([sealed] if sealed is not None else [])
        )
        scored_refs, misses = self._extracted(ext_ref, [e.images for e in scored])
        ext_refs = self._external(ext_ref)
        eval_ref, past_refs = scored_refs[0], scored_refs[1:]  # then the JPEG sets; the vault rides last
        # Without an extractor this is only reading the kept past sets: post's work, as it always was.
        timings["extract" if ext_ref is not None else "post"] = time.perf_counter() - t
        driver_fault("after_make", r)

        rows: list[dict[str, Any]] = []
        base = {"run": self.run_name, "seed": spec.seed, "round": r}

        # 2. Zero-day: the deployed versions meet the new generation before retraining ------
        self.progress.phase(r, "zero_day")
        t = time.perf_counter()
        versions = self._deployed_versions(state, r)
        deployed = [d for d in spec.detectors if versions[d.name].weights is not None]
        # The external sets ride along unless this version's scores on them are kept from last round.
        zd_ext = [self._kept_external(d.name, versions[d.name].trained_round) for d in deployed]
        zd_refs = [
            self.score.remote(
                d,
                versions[d.name].weights,
                work.scoring_memory(versions[d.name].memory),
                self.det_cpus,
                spec.device,
                eval_ref,
                *(ext_refs if ext_kept is None else []),
            )
            for d, ext_kept in zip(deployed, zd_ext, strict=True)
        ]
        zd_probs: dict[str, np.ndarray] = {}  # the evasion evolution rewards (rounds.generator_side)
        for d, ext_kept, (probs, *ext_probs) in zip(deployed, zd_ext, ray.get(zd_refs), strict=True):
            rows += self._external_rows(base, d, versions[d.name].trained_round, ext_kept or ext_probs)
            probs = extraction.apply_misses(probs, misses[0])
            zd_probs[d.name] = probs
            ds = versions[d.name]
            rows += metric_rows(
                spec,
                {
                    **base,
                    **_det_cols(d),
                    "detector_round": ds.trained_round,
                    "generation": r,
                    "phase": "zero_day",
                },
                probs,
                ev,
                (spec.seed, r, d.name, "zero_day", r),
                misses[0],
            )
        timings["zero_day"] = time.perf_counter() - t

        # Evolve as soon as its scores exist: from round 2 on the zero-day ones (the detectors the
        # strains met in the wild), so the next population is known before the retrain and its
        # make tasks that query no detector can run beside it. Round 1 evolves on post scores.
        evolved = None
        if zd_probs:
            t = time.perf_counter()
            evolved = self._evolve(state, r, ev, zd_probs, "zero_day", fakes, vault_fakes, gen_weights)
            timings["evolve"] = time.perf_counter() - t

        # 3. Retrain ----------------------------------------------------------------------
        self.progress.phase(r, "retrain", ", ".join(f"{d.name}:{d.strategy}" for d in spec.detectors))
        t = time.perf_counter()
        rt_refs = [
            self.retrain.remote(
                d,
                state.detectors[d.name].weights,
                state.detectors[d.name].memory,
                state.detectors[d.name].times_trained,
                train_reals_ref,
                train_fakes_ref,
                r,
                derive_seed(spec.seed, "detector", d.name, r),
                self.det_cpus,
                spec.device,
            )
            for d in spec.detectors
        ]
        post_refs = [  # each runs once its own detector's retrain ends
            self.score_retrained.remote(
                d,
                rt,
                state.detectors[d.name].weights,
                self.det_cpus,
                spec.device,
                eval_ref,
                *past_refs,
                *ext_refs,
            )
            for d, rt in zip(spec.detectors, rt_refs, strict=True)
        ]
        if self.start_early and r < spec.rounds:  # queued behind the retrains, run beside them
            self.next_reals[r + 1] = self._reals(r + 1)
            if evolved is not None:
                self.made_ahead[r + 1], self.swapped_ahead[r + 1], timings["make_ahead"] = start_beside(
                    ray,
                    rt_refs,
                    round_jobs(spec, evolved[1], vault, gen_weights, None, ext_ref),
                    lambda job, split_counts: self._make(r + 1, job, split_counts),
                    lambda job, split_counts: self._swap(r + 1, job, split_counts),
                    max(1, self._make_slots() - len(spec.detectors)),
                )
        new_detectors: dict[str, DetectorState] = {}
        reports: dict[str, Any] = {}
        for d, res in zip(spec.detectors, ray.get(rt_refs), strict=True):
            old = state.detectors[d.name]
            if res["weights"] is None:
                new_detectors[d.name] = DetectorState(
                    old.weights, old.times_trained, old.trained_round, res["memory"]
                )
            else:
                new_detectors[d.name] = DetectorState(res["weights"], old.times_trained + 1, r, res["memory"])
            reports[d.name] = res["report"]
        timings["retrain"] = time.perf_counter() - t - timings.get("make_ahead", 0.0)

        # 4. Post: the new versions on this generation and on every kept earlier one -------
        # (each scoring task was submitted with its retrain task and started when that ended)
        self.progress.phase(r, "post")
        t = time.perf_counter()
        if self.start_early and evolved is not None and r < spec.rounds:  # queued behind the scoring
            next_state = ArenaState(r, evolved[1], evolved[2], new_detectors, gen_weights)
            self._start_querying(next_state, r + 1, ext_ref)
        post_probs: dict[str, np.ndarray] = {}
        for d, results in zip(spec.detectors, ray.get(post_refs), strict=True):
            results, ext_probs = results[: len(misses)], results[len(misses) :]
            results = [extraction.apply_misses(p, m) for p, m in zip(results, misses, strict=True)]
            ds = new_detectors[d.name]
            cols = {**base, **_det_cols(d), "detector_round": ds.trained_round}
            # A version both deployed and post (frozen) had its external rows written at zero-day.
            if not (d in deployed and versions[d.name].trained_round == ds.trained_round):
                rows += self._external_rows(base, d, ds.trained_round, ext_probs)
            if ext_probs:
                self.external_scored[d.name] = (ds.trained_round, ext_probs)
            post_probs[d.name] = results[0]
            rows += metric_rows(
                spec,
                {**cols, "generation": r, "phase": "post"},
                results[0],
                ev,
                (spec.seed, r, d.name, "post", r),
                misses[0],
            )
            for k, (j, pset) in enumerate(past, start=1):
                rows += metric_rows(
                    spec,
                    {**cols, "generation": j, "phase": "past"},
                    results[k],
                    pset,
                    (spec.seed, r, d.name, "past", j),
                    misses[k],
                )
            for k, (q, qset) in enumerate(recoded, start=1 + len(past)):
                rows += metric_rows(
                    spec,
                    {**cols, "generation": r, "phase": jpeg_phase(q)},
                    results[k],
                    qset,
                    (spec.seed, r, d.name, jpeg_phase(q), r),
                    misses[k],
                )
            if sealed is not None:
                rows += metric_rows(
                    spec,
                    {**cols, "generation": r, "phase": "sealed"},
                    results[-1],
                    sealed,
                    (spec.seed, r, d.name, "sealed", r),
                    misses[-1],
                )
        timings["post"] = timings.get("post", 0.0) + time.perf_counter() - t

        # 5. Evolve (round 1; later rounds evolved after zero-day) -------------------------
        if evolved is None:
            t = time.perf_counter()
            evolved = self._evolve(state, r, ev, post_probs, "post", fakes, vault_fakes, gen_weights)
            timings["evolve"] = time.perf_counter() - t
        pop_record, next_strains, next_id = evolved

        # 6. Commit -----------------------------------------------------------------------
        self.progress.phase(r, "commit")
        t = time.perf_counter()
        tmp = self.store.begin_round(r)
        write_results(tmp / RESULTS_FILE, rows)
        self.last_summary = _summary(rows)
        kept = kept_eval_set(ev, spec.evaluation.past_budget)
        save_eval_set(tmp / EVAL_SET, kept.images, kept.labels, kept.strain_index, kept.strains)
        for d in spec.detectors:
            ds = new_detectors[d.name]
            assert ds.weights is not None, "every detector trains in round 1"
            meta = {
                "arch": d.arch,
                "arch_config": d.arch_config,
                "strategy": d.strategy,
                "training": d.training,
                "resolution": spec.world.resolution,
                "times_trained": ds.times_trained,
                "trained_round": ds.trained_round,
                "memory_parts": save_memory(tmp / "detectors", d.name, ds.memory),
            }
            save_detector(tmp / "detectors" / f"{d.name}.safetensors", ds.weights, meta)
        save_json(tmp / POPULATION, {**pop_record, "next": next_strains, "next_strain_id": next_id})
        save_weights(tmp, new_weights)  # generators/<strain>.safetensors, trained this round
        save_json(tmp / "training.json", reports)
        if new_extractor is not None:  # trained this round: kept with it, verified on read
            extraction.save(tmp / extraction.FILE, new_extractor)
            save_json(tmp / extraction.REPORT, new_extractor["report"])
        (tmp / "samples.png").write_bytes(grid_png.result())
        timings["commit"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t_round
        save_json(tmp / "timings.json", timings)
        self.store.commit_round(r, tmp, fault=driver_fault)
        return ArenaState(r, next_strains, next_id, new_detectors, gen_weights)

    def _make(self, r: int, job: MakeJob, split_counts: dict[str, int]) -> Any:
        """A make task of round r: the last stages of its swap if that was started early, else whole."""
        spec = self.spec
        strain, _, kw = job
        swap = self.swapped_ahead.get(r, {}).pop(task_key(strain, split_counts), None)
        if swap is not None:
            queried = {"surrogate": kw["surrogate"], "extractor": kw.get("extractor")}
            return self.finish_fakes.remote(
                swap, spec.world, spec.seed, r, self.gen_cpus, spec.device, **queried
            )
        return self.make_fakes.remote(
            spec.world, spec.seed, r, strain, split_counts, self.gen_cpus, spec.device, **kw
        )

    def _swap(self, r: int, job: MakeJob, split_counts: dict[str, int]) -> Any:
        """The swap of a round-r make task whose last stages query detectors still retraining."""
        spec = self.spec
        strain, _, kw = job
        weights = {"weights": kw.get("weights")}  # keywords for Ray (its typing stubs take none)
        return self.swap_faces.remote(
            spec.world, spec.seed, r, strain, split_counts, self.gen_cpus, spec.device, **weights
        )

    def _make_slots(self) -> int:
        """How many make tasks the cluster runs at once."""
        return max(1, int(self.ray.cluster_resources().get("CPU", 1) // self.gen_cpus))

    def _start_querying(self, state: ArenaState, r: int, ext_ref: Any) -> None:
        """Start the longest of round r's make tasks not yet started, now that the versions they
        query exist (`state` is the state round r will start from): as many as leave the driver
        a core for post's metrics and the commit. Their surrogate is kept for round r's own."""
        surrogate = self.surrogate_ahead[r] = self._surrogate(state, r)
        jobs = round_jobs(self.spec, state.strains, self.vault, state.generator_weights, surrogate, ext_ref)
        ahead = self.made_ahead.setdefault(r, {})
        submit = lambda job, split_counts: self._make(r, job, split_counts)  # noqa: E731
        ahead.update(start_longest(jobs, submit, max(1, self._make_slots() - 1), set(ahead)))

    def _surrogate(self, state: ArenaState, r: int) -> Any:
        """The deployed detectors' weights (an object ref) for strains with guided evasion, or None."""
        if not any(needs_surrogate(s) for s in state.strains + self.vault):
            return None
        live = surrogate_detectors(self.spec, self._deployed_versions(state, r))
        return self.ray.put(live) if live else None

    def _extractor(self, r: int) -> tuple[Any, dict[str, Any] | None]:
        """(object ref of the run's face extractor or None, its payload when trained just now).

        Trained in round 1 (once per run); later rounds and resumed runs read the newest kept
        one. A branch that added the extractor, or changed what it is trained from, trains its
        own in its first round (kept with that round).
        """
        if self.spec.extractor is None:
            return None, None
        if self.extractor_ref is not None:
            return self.extractor_ref, None
        if r > 1:
            kept = extraction.newest(self.store.round_path(k) for k in range(r - 1, 0, -1))
            want = extraction.trained_for(self.spec.world, self.spec.extractor, self.spec.seed)
            if extraction.still_valid(kept, want):
                self.extractor_ref = self.ray.put(kept)
                return self.extractor_ref, None
        payload = self.ray.get(
            self.train_extractor.remote(
                self.spec.world, self.spec.extractor, self.spec.seed, self.det_cpus, self.spec.device
            )
        )
        self.extractor_ref = self.ray.put(payload)
        return self.extractor_ref, payload

    def _extracted(self, ext_ref: Any, image_sets: list[np.ndarray]) -> tuple[list[Any], list[Any]]:
        """Object refs of the image sets as the detectors see them, and each set's miss flags
        (None without an extractor)."""
        if ext_ref is None:
            return [self.ray.put(x) for x in image_sets], [None] * len(image_sets)
        out = self.ray.get(
            self.extract.remote(ext_ref, self.spec.extractor, self.det_cpus, self.spec.device, *image_sets)
        )
        return [self.ray.put(a) for a, _ in out], [m for _, m in out]

    def _external(self, ext_ref: Any) -> list[Any]:
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
        self.external_refs, self.external_misses = self._extracted(ext_ref, [e.images for e in self.external])
        # The object store holds the faces now; the driver keeps only the labels and methods.
        self.external = [replace(e, images=np.empty(0, np.uint8)) for e in self.external]
        return self.external_refs

    def _kept_external(self, name: str, trained_round: int) -> list[np.ndarray] | None:
        """A version's raw scores on the external sets if the last round kept them, else None."""
        if not self.external:
            return []  # nothing to score: no external sets
        kept = self.external_scored.get(name)
        return kept[1] if kept is not None and kept[0] == trained_round else None

    def _external_rows(
        self, base: dict[str, Any], d: DetectorSpec, trained_round: int, probs: list[np.ndarray]
    ) -> list[dict[str, Any]]:
        """Phase `external` rows of one version on every external set (deepfake_arena.rounds.external)."""
        from deepfake_arena.rounds.external import external_rows

        rows: list[dict[str, Any]] = []
        cols = {**base, **_det_cols(d), "detector_round": trained_round, "generation": base["round"]}
        for ext, p, miss in zip(self.external, probs, self.external_misses, strict=True):
            rows += external_rows(self.spec, cols, extraction.apply_misses(p, miss), ext, miss)
        return rows

    def _sealed_set(
        self, reals: np.ndarray, vault: list[dict[str, Any]], fakes: list[dict[str, Any]]
    ) -> EvalSet:
        """Vault reals and sealed fakes: scored by every new version, never trained or selected on."""
        return EvalSet(
            images=np.concatenate([reals] + [f["vault"] for f in fakes]),
            labels=np.concatenate(
                [np.zeros(len(reals), np.uint8)] + [np.ones(len(f["vault"]), np.uint8) for f in fakes]
            ),
            strain_index=np.concatenate(
                [np.full(len(reals), -1, np.int32)]
                + [np.full(len(f["vault"]), i, np.int32) for i, f in enumerate(fakes)]
            ),
            strains=[{"id": s["id"], "family": s["genome"]["family"]} for s in vault],
        )

    def _deployed_versions(self, state: ArenaState, r: int) -> dict[str, DetectorState]:
        """The versions deployed in round r: trained through round r-1-release_lag (the latest
        ones without lag, else read back from that committed round); never-trained when none."""
        source = r - 1 - self.spec.release_lag
        if source == state.round:
            return state.detectors
        if source < 1:  # untrained, or the published weights a detector imported
            return initial_detectors(self.spec)
        return {d.name: load_version(self.store.round_path(source), d.name) for d in self.spec.detectors}

    def _past_set(self, j: int) -> EvalSet:
        images, labels, strain_index, strains = load_eval_set(self.store.round_path(j) / EVAL_SET)
        return EvalSet(images, labels, strain_index, strains)

    def _evolve(
        self,
        state: ArenaState,
        r: int,
        ev: EvalSet,
        probs: dict[str, np.ndarray],
        phase: str,
        fakes: list[dict[str, Any]],
        vault_fakes: list[dict[str, Any]],
        gen_weights: GenWeights,
    ) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
        """Fitness = evasion x quality (deepfake_arena.rounds.generator_side.fitness_records), then selection,
        crossover and mutation; families whose innovation round is r + 1 join as new strains.
        Returns round r's population record, the next population and the next free strain id.

        `probs` are the zero-day scores of the deployed detectors (the ones the strains met in the
        wild), or in round 1, before anything is deployed, the freshly trained versions' (`post`);
        only the exposed detectors' count (a lab detector, `exposed: false`, selects nothing).
        """
        from deepfake_arena.generators.population import Strain, evolve

        self.progress.phase(r, "evolve")
        pop = self.spec.population
        fitness, records = fitness_records(self.spec, state.strains, fakes, ev.strain_index, probs, phase)
        children = evolve(
            [Strain.from_dict(s) for s in state.strains],
            fitness,
            size=population_size(self.spec, r),
            elite=pop.elite,
            rate=pop.mutation_rate,
            scale=pop.mutation_scale,
            crossover_prob=pop.crossover,
            tournament=pop.tournament,
            generator=torch_generator(self.spec.seed, "evolve", r),
            next_round=r + 1,
            id_start=state.next_strain_id,
        )
        known = {s["id"] for s in state.strains}
        next_id = state.next_strain_id + sum(1 for c in children if c.id not in known)
        newborn = innovations(self.spec, r + 1, next_id)
        nxt = [c.to_dict() for c in children] + newborn
        record = {
            "round": r,
            "strains": records,
            "vault": [
                {**s, "seconds": float(f["seconds"]), "quality": float(f["quality"])}
                for s, f in zip(self.vault, vault_fakes, strict=True)
            ],
            "evaded": phase,
            "generator_weights": {sid: w["round"] for sid, w in gen_weights.items()},
        }
        return record, nxt, next_id + len(newborn)


def _det_cols(d: DetectorSpec) -> dict[str, Any]:
    return {"detector": d.name, "arch": d.arch, "strategy": d.strategy}


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


def _summary(rows: list[dict[str, Any]]) -> str:
    """The round's pooled zero-day and post AUCs, for the progress line."""
    return "; ".join(
        f"{row['detector']} {row['phase']} AUC {row['value']:.3f}"
        for row in rows
        if row["metric"] == "auc" and row["strain"] == ALL and row["phase"] in ("zero_day", "post")
    )
