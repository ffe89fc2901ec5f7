"""The resource check that runs before anything starts (deepfake_arena.launch.check_resources), on the
totals a Ray cluster reports, so GPU clusters are covered on a machine without one."""

from __future__ import annotations

import pytest

from deepfake_arena.errors import ArenaUserError
from deepfake_arena.launch import check_resources
from deepfake_arena.spec import load_spec
from tests.conftest import QUICKSTART

GPU_NODE = {"CPU": 16.0, "GPU": 1.0, "memory": 64e9}
CPU_NODE = {"CPU": 2.0, "memory": 8e9}


def _spec(*overrides: str):
    return load_spec(QUICKSTART, list(overrides))[0]


@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_a_gpu_device_without_reserved_gpus_fails_on_a_gpu_cluster(device):
    """Ray hides the GPUs from tasks that reserve none: every task would run on the CPU."""
    spec = _spec(f"device={device}", "resources.detector.num_gpus=0.5")
    with pytest.raises(
        ArenaUserError, match=r"resources.generator.num_gpus is 0.*hides the cluster's 1 GPUs"
    ):
        check_resources(spec, GPU_NODE)


def _refusal(spec, total) -> str | None:
    """The check's message for this spec on a cluster with these totals, None when it passes."""
    try:
        check_resources(spec, total)
    except ArenaUserError as exc:
        return str(exc)
    return None


def test_reserved_gpu_fractions_pass_on_a_gpu_cluster():
    spec = _spec("device=cuda", "resources.generator.num_gpus=0.25", "resources.detector.num_gpus=0.25")
    assert _refusal(spec, GPU_NODE) is None


def test_cpu_runs_and_cuda_fallback_pass_where_they_should():
    assert _refusal(_spec("device=cpu"), GPU_NODE) is None  # the CPU on a GPU node, as asked
    assert _refusal(_spec("device=cuda"), CPU_NODE) is None  # no GPU anywhere: the documented fallback


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("resources.detector.num_gpus=2", "resources.detector.num_gpus=2.0 but the cluster has 1 GPUs"),
        ("resources.generator.num_cpus=32", "resources.generator.num_cpus=32.0 but the cluster has 16 CPUs"),
        ("resources.detector.memory=100000000000", "resources.detector.memory=100000000000 bytes"),
    ],
)
def test_more_than_the_cluster_has_fails(override, message):
    with pytest.raises(ArenaUserError, match=message):
        check_resources(_spec(override), GPU_NODE)
