"""Detector tests run torch on one thread: on a small shared CPU, two oneDNN threads fighting
other processes made the small convolutions here up to ten times slower, not faster."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
