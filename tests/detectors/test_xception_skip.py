"""Xception's strided 1x1 skip convs run as subsample + 1x1 (detectors.xception.StridedPointwise):
the same function and weights as the strided conv, without torch 2.13's oneDNN backward of
strided 1x1 channels-last convs, which corrupts the heap on AVX-512 CPUs."""

from __future__ import annotations

import subprocess
import sys

import torch
from torch import nn

from deepfake_arena.detectors.xception import StridedPointwise
from tests.conftest import REPO


def test_same_output_gradients_and_state_dict_as_the_strided_conv():
    torch.manual_seed(0)
    ours = StridedPointwise(8, 16, 2)
    ref = nn.Conv2d(8, 16, 1, 2, bias=False)
    assert list(ours.state_dict()) == list(ref.state_dict()) == ["weight"]
    ref.load_state_dict(ours.state_dict())
    for size in (9, 12):  # odd sides keep ceil(H / 2) rows either way
        x = torch.rand(3, 8, size, size, requires_grad=True)
        y = ours(x)
        with torch.backends.mkldnn.flags(enabled=False):  # the reference, off the faulty path
            y_ref = ref(x)
        assert y.shape == y_ref.shape == (3, 16, (size + 1) // 2, (size + 1) // 2)
        torch.testing.assert_close(y, y_ref)
        g, g_ref = (
            torch.autograd.grad(out.square().sum(), (x, m.weight)) for out, m in ((y, ours), (y_ref, ref))
        )
        for a, b in zip(g, g_ref, strict=True):
            torch.testing.assert_close(a, b)


def test_xception_trains_at_128_px_channels_last_on_one_thread():
    """The shape that crashed: batch 32 at 128 px, channels-last, one thread (a worker's setup).
    In a subprocess, so a crash is a failed test rather than a dead test run."""
    code = (
        "import torch; torch.set_num_threads(1)\n"
        "from detectors import Detector\n"
        "net = Detector('xception', {}, device='cpu', seed=0).network.train()\n"
        "x = torch.rand(32, 3, 128, 128).contiguous(memory_format=torch.channels_last)\n"
        "net = net.to(memory_format=torch.channels_last)\n"
        "for _ in range(2):\n"
        "    net.zero_grad(); net(x).float().sum().backward()\n"
        "print('trained')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "trained" in proc.stdout, proc.stderr[-2000:]
