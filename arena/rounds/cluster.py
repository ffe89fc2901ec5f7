"""The round's Ray tasks, with their resources, and the few calls of Ray the round makes.

Detectors are Ray tasks, not long-lived actors: a detector version is small, so passing its
weights costs little, a task frees its CPUs between phases on small machines, and a retried
task is idempotent. `executor="local"` runs every task serially in this process instead
(`deepfake_arena.rounds.executor`), to measure what Ray costs.
"""

from __future__ import annotations

from typing import Any

from deepfake_arena.rounds import extraction, fake_stages
from deepfake_arena.rounds import tasks as work
from deepfake_arena.rounds.generator_side import MakeJob
from deepfake_arena.spec import RunSpec

Ref = Any  # a Ray object ref (or the in-process executor's stand-in)


class Cluster:
    """The remote functions of a run's rounds, each with its resources and 3 retries."""

    def __init__(self, spec: RunSpec, executor: str = "ray") -> None:
        if executor == "ray":
            import ray
        else:  # serially in this process, to measure what Ray costs (benchmarks/ray_overhead.py)
            from deepfake_arena.rounds.executor import InProcess as ray  # type: ignore[no-redef]

        self.ray = ray
        self.spec = spec
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

    def reals(self, r: int, vault: bool) -> dict[str, Ref]:
        """Refs of round r's real faces per split (train, eval and, with a vault, vault)."""
        spec = self.spec
        wr = spec.world.reals_per_round
        counts = {"train": wr.train, "eval": wr.eval}
        if vault:
            counts["vault"] = spec.vault.reals
        return {
            split: self.make_reals.remote(spec.world, spec.seed, r, split, n, self.gen_cpus)
            for split, n in counts.items()
        }

    def make(self, r: int, job: MakeJob, split_counts: dict[str, int], swap: Ref | None) -> Ref:
        """A make task of round r: the last stages of its `swap` if that was started early, else whole."""
        from deepfake_arena.generators.population import Strain

        spec, inputs = self.spec, job.inputs
        if swap is not None:
            queried = {"surrogate": inputs.surrogate, "extractor": inputs.extractor}
            return self.finish_fakes.remote(
                swap, spec.world, spec.seed, r, self.gen_cpus, spec.device, **queried
            )
        strain = Strain.from_dict(job.strain)
        return self.make_fakes.remote(
            spec.world, spec.seed, r, strain, split_counts, self.gen_cpus, spec.device, **inputs.keywords()
        )

    def swap(self, r: int, job: MakeJob, split_counts: dict[str, int]) -> Ref:
        """The swap of a round-r make task whose last stages query detectors still retraining."""
        from deepfake_arena.generators.population import Strain

        spec = self.spec
        strain = Strain.from_dict(job.strain)
        weights = {"weights": job.inputs.weights}  # keywords for Ray (its typing stubs take none)
        return self.swap_faces.remote(
            spec.world, spec.seed, r, strain, split_counts, self.gen_cpus, spec.device, **weights
        )

    def slots(self) -> int:
        """How many make tasks the cluster runs at once."""
        return max(1, int(self.ray.cluster_resources().get("CPU", 1) // self.gen_cpus))
