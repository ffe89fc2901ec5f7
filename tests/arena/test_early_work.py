"""Next round's detector-free make tasks, run beside the retrain on a real local Ray."""

from __future__ import annotations

import time

import pytest

from deepfake_arena.rounds.early_work import start_beside, start_longest
from deepfake_arena.rounds.generator_side import MakeInputs, MakeJob
from deepfake_arena.spec import GeneratorTrainSpec


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def _job(i: int, evasion: str, inputs: MakeInputs | None = None) -> MakeJob:
    strain = {
        "id": f"blend-{i:04d}",
        "genome": {"family": "blend", "genes": {"evasion": evasion, "evasion_steps": 3}},
    }
    return MakeJob(strain, {"train": 4, "eval": 2}, inputs or MakeInputs())


@pytest.mark.slow
def test_detector_free_tasks_then_swaps_start_one_slot_at_a_time_and_none_after_the_retrain(ray_local):
    ray = ray_local

    @ray.remote(num_cpus=1)
    def retrain(seconds: float) -> float:
        time.sleep(seconds)
        return time.time()

    @ray.remote(num_cpus=1)
    def work(kind: str, name: str, seconds: float) -> tuple[str, str, float, float]:
        t0 = time.time()
        time.sleep(seconds)
        return kind, name, t0, time.time()

    ray.get([work.remote("warm", "", 0.1), work.remote("warm", "", 0.1)])  # both workers up first
    trains = _job(5, "whitebox", MakeInputs(train=GeneratorTrainSpec()))
    jobs = [_job(0, "blackbox"), _job(1, "off"), _job(2, "off"), _job(3, "whitebox"), _job(4, "off"), trains]

    def run(seconds: float) -> tuple[dict, dict, float, float, list]:
        rt = [retrain.remote(seconds)]
        made, swapped, waited = start_beside(
            ray,
            rt,
            jobs,
            lambda job, splits: work.remote("make", job.strain["id"], 0.4),
            lambda job, splits: work.remote("swap", job.strain["id"], 0.1),
            slots=1,
        )
        end = ray.get(rt[0])
        return made, swapped, waited, end, ray.get(list(made.values()) + list(swapped.values()))

    # Long enough for everything: the six detector-free tasks (one per split), then the swaps of
    # the guided strains, except the one whose task trains its weights (swap and training are one).
    made, swapped, waited, end, runs = run(3.5)
    assert {key[0] for key in made} == {"blend-0001", "blend-0002", "blend-0004"} and len(made) == 6
    assert {key[0] for key in swapped} == {"blend-0000", "blend-0003"} and len(swapped) == 4
    assert all(key[1:] in ((("train", 4),), (("eval", 2),)) for key in [*made, *swapped])
    last_make = max(t0 for kind, _, t0, _ in runs if kind == "make")
    assert all(t0 > last_make for kind, _, t0, _ in runs if kind == "swap"), "detector-free tasks first"
    spans = sorted((t0, t1) for _, _, t0, t1 in runs)
    assert all(b[0] >= a[1] - 0.05 for a, b in zip(spans[:-1], spans[1:], strict=True)), (
        "one slot: one at a time"
    )
    # Short: only what fits starts, none after the retrain ends, and the wait covers the last one.
    made, swapped, waited, end, runs = run(1.5)
    assert 2 <= len(made) < 6 and not swapped, "about 1.5 s / 0.4 s tasks start, not all six"
    assert all(t0 < end for _, _, t0, _ in runs), "none starts after the retrain ends"
    assert 0 <= waited < 0.5 and max(t1 for _, _, _, t1 in runs) <= end + waited + 0.1


def test_once_the_retrained_versions_exist_the_longest_tasks_not_yet_started_start():
    """Guided strains cost passes per fake: more steps, longer tasks; black-box probes cost more
    than white-box gradients. Tasks started beside the retrain are not started twice."""
    guided = MakeInputs(surrogate="deployed")
    jobs = [_job(0, "off"), _job(1, "blackbox", guided), _job(2, "whitebox", guided), _job(3, "off")]
    submitted: list[tuple[str, tuple]] = []

    def submit(job, split_counts):
        submitted.append((job.strain["id"], tuple(split_counts.items())))
        return f"ref-{len(submitted)}"

    started = start_longest(jobs, submit, 3, set())
    assert submitted == [
        ("blend-0001", (("train", 4),)),  # black-box, 3 steps: 28 passes per fake, 4 fakes
        ("blend-0001", (("eval", 2),)),  # 28 x 2
        ("blend-0002", (("train", 4),)),  # white-box, 3 steps: 10 x 4
    ]
    assert started == {
        ("blend-0001", ("train", 4)): "ref-1",
        ("blend-0001", ("eval", 2)): "ref-2",
        ("blend-0002", ("train", 4)): "ref-3",
    }
    submitted.clear()
    skip = {("blend-0001", ("train", 4)), ("blend-0002", ("train", 4))}  # started beside the retrain
    assert list(start_longest(jobs, submit, 2, skip)) == [
        ("blend-0001", ("eval", 2)),
        ("blend-0002", ("eval", 2)),
    ]
    assert start_longest(jobs, submit, 0, skip) == {}


def test_the_typed_payloads_cross_ray_intact(ray_local):
    """What the round's tasks return and take crosses Ray's object store as the same record."""
    import numpy as np

    from deepfake_arena.rounds.payloads import GeneratorWeights, MadePart, Measured, RetrainResult

    ray = ray_local
    fakes = np.arange(2 * 3 * 4 * 4, dtype=np.uint8).reshape(2, 3, 4, 4)
    measured = Measured(0.7, np.ones(2), np.full(2, 31.0), 0.1, fakes, fakes)
    part = MadePart(
        {"eval": fakes}, measured, GeneratorWeights({"w": np.ones(3)}, {"k": "v"}), 1.0, 0.5, (1.0, 2.0)
    )

    @ray.remote(num_cpus=1)
    def echo(made: MadePart) -> RetrainResult:
        assert isinstance(made, MadePart) and made.weights is not None
        return RetrainResult({"w": made.fakes["eval"].astype(np.float32)}, made.weights.tensors, None)

    back = ray.get(ray.put(part))
    assert isinstance(back, MadePart) and back.span == (1.0, 2.0) and back.weights is not None
    assert back.measured is not None and back.measured.quality == 0.7 and back.weights.meta == {"k": "v"}
    np.testing.assert_array_equal(back.fakes["eval"], fakes)
    result = ray.get(echo.remote(part))
    assert isinstance(result, RetrainResult) and result.weights is not None
    np.testing.assert_array_equal(result.weights["w"], fakes.astype(np.float32))
    np.testing.assert_array_equal(result.memory["w"], np.ones(3))
