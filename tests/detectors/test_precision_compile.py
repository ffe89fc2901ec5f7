"""The GPU-path options, run on the CPU: bf16/fp16 autocast and torch.compile must train and
score there too (slower or not), and compile must not change what is learned or saved."""

from __future__ import annotations

import shutil

import pytest
import torch

from deepfake_arena.detectors import Detector, TrainConfig
from tests.detectors.toy import toy


def _toy():
    return toy(16, 32, seed=0)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_autocast_trains_and_scores_on_cpu(precision):
    reals, fakes = _toy()
    det = Detector("meso4", device="cpu", seed=0, precision=precision)
    before = {k: v.clone() for k, v in det.state_dict().items()}
    report = det.fit(reals, fakes, TrainConfig(steps=3, batch_size=8, augment=False), seed=1)
    assert report.steps_run == 3 and torch.isfinite(torch.tensor(report.final_loss))
    assert any(not torch.equal(before[k], v) for k, v in det.state_dict().items())
    p = det.score_uint8(reals[:4])
    assert p.dtype == torch.float32 and bool(((p >= 0) & (p <= 1)).all())


def test_unknown_precision_is_rejected():
    with pytest.raises(ValueError, match="valid choices: fp32, bf16, fp16"):
        Detector("meso4", precision="fp8")


@pytest.mark.slow
def test_compile_on_cpu_trains_and_scores_like_eager():
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("torch.compile on the CPU needs a C compiler (inductor builds C++ kernels); none found")
    reals, fakes = _toy()
    compiled = Detector("meso4", seed=0, compile=True)
    before = {k: v.clone() for k, v in compiled.state_dict().items()}
    compiled.fit(reals, fakes, TrainConfig(steps=2, batch_size=8, augment=False), seed=1)
    state = compiled.state_dict()
    assert set(state) == set(before), "saved state keeps the plain module's names"
    assert any(not torch.equal(before[k], v) for k, v in state.items()), "compiled training updates weights"
    # Compiled kernels draw their own dropout masks, so training differs from eager's; the same
    # weights must score the same.
    eager = Detector("meso4", seed=0)
    eager.load_state_dict(state)
    torch.testing.assert_close(
        compiled.score_uint8(reals[:4]), eager.score_uint8(reals[:4]), atol=1e-4, rtol=0
    )
