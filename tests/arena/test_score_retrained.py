"""Post's scoring task takes its detector's retrain result (rounds.tasks.score_retrained), so Ray
can start it as soon as that one retrain ends: it scores the new version, or the old one where
the strategy kept it (a frozen detector), exactly as `score` would."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_arena.detectors import Detector
from deepfake_arena.rounds import tasks as work
from deepfake_arena.rounds.payloads import RetrainResult
from deepfake_arena.spec import load_spec
from tests.conftest import QUICKSTART, TINY


def _weights(spec, seed: int) -> dict[str, np.ndarray]:
    det = Detector(spec.arch, dict(spec.arch_config), device="cpu", seed=seed)
    return {k: v.numpy() for k, v in det.state_dict().items()}


def test_scores_the_new_version_or_the_kept_one():
    spec = load_spec(QUICKSTART, list(TINY))[0].detectors[0]
    old, new = _weights(spec, 1), _weights(spec, 2)
    images = np.random.default_rng(0).integers(0, 256, (6, 3, 32, 32), dtype=np.uint8)
    by_old = work.score(spec, old, {}, 1, "cpu", images)[0]
    by_new = work.score(spec, new, {}, 1, "cpu", images)[0]
    assert not np.allclose(by_old, by_new)
    kept = work.score_retrained(spec, RetrainResult(None, {}, None), old, 1, "cpu", images)[0]
    retrained = work.score_retrained(spec, RetrainResult(new, {}, None), old, 1, "cpu", images)[0]
    np.testing.assert_array_equal(kept, by_old)
    np.testing.assert_array_equal(retrained, by_new)
    with pytest.raises(ValueError, match=f"{spec.name} was never trained"):
        work.score_retrained(spec, RetrainResult(None, {}, None), None, 1, "cpu", images)
