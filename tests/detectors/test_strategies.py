"""Retraining strategies: frozen trains once, scratch forgets, finetune remembers and resumes
exactly from a saved version, replay keeps a bounded fair reservoir, ensemble averages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deepfake_arena.detectors.base import Detector
from deepfake_arena.detectors.strategies import (
    STRATEGIES,
    TRAININGS,
    StrategyOptions,
    deployed_members,
    memory_part,
    retrain,
    score_version,
)
from deepfake_arena.detectors.training import TrainConfig
from deepfake_arena.store.round_files import load_detector, load_memory, save_detector, save_memory

SCRATCH = TrainConfig(steps=3, batch_size=8)
FINETUNE = TrainConfig(steps=2, batch_size=8)


def _data(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    u8 = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=g)
    return u8[:8], u8[8:]


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def _round(strategy: str, detector: Detector, r: int, data_seed: int, memory, **kw):
    return retrain(
        strategy,
        detector,
        *_data(data_seed),
        round=r,
        times_trained=r - 1,
        scratch=SCRATCH,
        finetune=FINETUNE,
        seed=11,
        memory=memory,
        **kw,
    )


def _rounds(strategy: str, data_seeds: tuple[int, ...], **kw) -> tuple[Detector, list]:
    detector = Detector("meso4", seed=0)
    results, memory = [], {}
    for r, data_seed in enumerate(data_seeds, start=1):
        results.append(_round(strategy, detector, r, data_seed, memory, **kw))
        memory = results[-1].memory
    return detector, results


def test_the_registered_strategies_and_training_modes():
    assert STRATEGIES.names() == ["ensemble", "finetune", "frozen", "replay", "scratch"]
    assert TRAININGS.names() == ["sbi", "supervised"]


def test_frozen_trains_once_then_never_changes():
    detector = Detector("meso4", seed=0)
    init = detector.state_dict()
    first = _round("frozen", detector, 1, 1, {})
    assert first.report is not None and first.report.steps_run == SCRATCH.steps
    trained = detector.state_dict()
    assert not _equal(init, trained)
    for r in (2, 3):
        result = _round("frozen", detector, r, r, first.memory)
        assert result.report is None and result.memory == first.memory
        assert _equal(trained, detector.state_dict())


def test_scratch_forgets_round_one_and_keeps_no_memory():
    a, results = _rounds("scratch", (1, 99))
    b, _ = _rounds("scratch", (2, 99))
    assert [r.report.steps_run for r in results] == [SCRATCH.steps, SCRATCH.steps]
    assert all(r.memory == {} for r in results)
    assert _equal(a.state_dict(), b.state_dict())


def test_finetune_remembers_round_one_and_carries_its_optimiser():
    a, results = _rounds("finetune", (1, 99))
    b, _ = _rounds("finetune", (2, 99))
    assert [r.report.steps_run for r in results] == [SCRATCH.steps, FINETUNE.steps]
    assert not _equal(a.state_dict(), b.state_dict())
    optim = memory_part(results[-1].memory, "optim")
    steps = {k: float(v) for k, v in optim.items() if k.endswith(".step")}
    assert steps and set(steps.values()) == {SCRATCH.steps + FINETUNE.steps}


def test_strategies_are_reproducible():
    for strategy in ("finetune", "replay", "ensemble"):
        a, _ = _rounds(strategy, (1, 2))
        b, _ = _rounds(strategy, (1, 2))
        assert _equal(a.state_dict(), b.state_dict()), strategy


def _save_version(folder: Path, detector: Detector, memory) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    parts = save_memory(folder, "det", {k: v.numpy() for k, v in memory.items()})
    weights = {k: v.numpy() for k, v in detector.state_dict().items()}
    save_detector(folder / "det.safetensors", weights, {"memory_parts": parts})


def _load_version(folder: Path, drop_optimiser: bool = False):
    weights, meta = load_detector(folder / "det.safetensors")
    parts = [p for p in meta["memory_parts"] if not (drop_optimiser and p == "optim")]
    memory = load_memory(folder, "det", parts)
    detector = Detector("meso4", seed=123)  # a different init: everything must come from the files
    detector.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    return detector, {k: torch.from_numpy(v) for k, v in memory.items()}


class _Killed(RuntimeError):
    pass


@pytest.mark.parametrize("strategy", ["finetune", "replay"])
def test_a_run_killed_mid_round_resumes_from_the_saved_version_to_the_same_weights(strategy, tmp_path):
    uninterrupted, _ = _rounds(strategy, (1, 2, 3))

    detector, results = _rounds(strategy, (1, 2))
    _save_version(tmp_path / "r2", detector, results[-1].memory)
    # Round 3 dies half-way through its fit, leaving the in-memory detector half-trained.
    calls = {"n": 0}

    def die(*_):
        calls["n"] += 1
        if calls["n"] > 1:
            raise _Killed("killed mid-fit")

    handle = detector.network.register_forward_pre_hook(die)
    with pytest.raises(_Killed):
        _round(strategy, detector, 3, 3, results[-1].memory)
    handle.remove()

    resumed, memory = _load_version(tmp_path / "r2")
    _round(strategy, resumed, 3, 3, memory)
    assert _equal(resumed.state_dict(), uninterrupted.state_dict())

    # The saved optimiser is what makes it exact: without it the weights differ.
    fresh_optimiser, memory = _load_version(tmp_path / "r2", drop_optimiser=True)
    _round(strategy, fresh_optimiser, 3, 3, memory)
    assert not _equal(fresh_optimiser.state_dict(), uninterrupted.state_dict())


def test_replay_keeps_its_bound_and_trains_on_past_rounds():
    options = StrategyOptions(replay_size=12)
    detector, results = _rounds("replay", (1, 2, 3), options=options)
    offered = [torch.cat(_data(s)[:1]) for s in (1, 2, 3)]
    for r, result in enumerate(results, start=1):
        buffer = memory_part(result.memory, "replay")
        assert buffer["reals"].shape[0] == min(12, 8 * r) and buffer["fakes"].shape[0] == min(12, 8 * r)
        assert buffer["seen"].tolist() == [8 * r, 8 * r]
    # Every kept real is one of the offered reals, and after 3 rounds more than one round is kept.
    kept = memory_part(results[-1].memory, "replay")["reals"]
    origin = [next(i for i, o in enumerate(offered) if any(torch.equal(k, x) for x in o)) for k in kept]
    assert len(set(origin)) > 1
    # Replay differs from finetune: the buffer is in the training data from round 2 on.
    finetuned, _ = _rounds("finetune", (1, 2, 3))
    assert not _equal(detector.state_dict(), finetuned.state_dict())


def test_ensemble_keeps_the_previous_versions_and_averages_them(tmp_path):
    options = StrategyOptions(ensemble_k=3)
    detector = Detector("meso4", seed=0)
    memory: dict = {}
    versions = []
    for r in (1, 2, 3, 4):
        memory = _round("ensemble", detector, r, r, memory, options=options).memory
        versions.append(detector.state_dict())
        members = deployed_members(detector.state_dict(), memory)
        assert len(members) == min(r, 3)
        for member, version in zip(members, reversed(versions), strict=False):
            assert _equal(dict(member), version)  # newest first: r, r-1, r-2
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    single = []
    for version in versions[-3:]:
        scorer = Detector("meso4")
        scorer.load_state_dict(version)
        single.append(scorer.score_uint8(images))
    expected = torch.stack(single).mean(0)
    got = score_version(Detector("meso4"), detector.state_dict(), memory, images)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    assert not torch.allclose(got, single[-1])  # the average is not just the newest version


def test_sbi_training_never_looks_at_the_given_fakes():
    reals, _ = _data(1)
    a, b = Detector("meso4", seed=0), Detector("meso4", seed=0)
    kw = {"round": 1, "times_trained": 0, "scratch": SCRATCH, "finetune": FINETUNE, "seed": 3}
    ra = retrain("finetune", a, reals, torch.zeros_like(reals), training="sbi", **kw)
    rb = retrain("finetune", b, reals, torch.full_like(reals, 255), training="sbi", **kw)
    assert ra.report is not None and rb.report is not None
    assert _equal(a.state_dict(), b.state_dict())
    c = Detector("meso4", seed=0)
    retrain("finetune", c, reals, torch.full_like(reals, 255), **kw)
    assert not _equal(a.state_dict(), c.state_dict())


def test_unknown_names_list_the_valid_ones():
    kw = {"round": 1, "times_trained": 0, "scratch": SCRATCH, "finetune": FINETUNE, "seed": 0}
    with pytest.raises(
        KeyError, match="unknown retraining strategy 'nope'; valid choices: ensemble, finetune"
    ):
        retrain("nope", Detector("meso4"), *_data(0), **kw)
    with pytest.raises(KeyError, match="unknown training mode 'nope'; valid choices: sbi, supervised"):
        retrain("finetune", Detector("meso4"), *_data(0), training="nope", **kw)
    with pytest.raises(ValueError, match="unknown training 'sbi' config key 'bogus'"):
        retrain("finetune", Detector("meso4"), *_data(0), training="sbi", training_config={"bogus": 1}, **kw)


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="replay_size"):
        StrategyOptions(replay_size=0)
    assert np.isfinite(StrategyOptions().replay_size)


def test_a_pretrained_detector_is_never_trained_by_frozen_and_finetuned_by_the_others():
    detector = Detector("meso4", seed=5)
    imported = detector.state_dict()
    result = _round("frozen", detector, 1, 1, {}, pretrained=True)
    assert result.report is None and _equal(imported, detector.state_dict())
    result = _round("finetune", detector, 1, 1, {}, pretrained=True)
    assert result.report is not None and result.report.steps_run == FINETUNE.steps  # not SCRATCH's
    assert not _equal(imported, detector.state_dict())
