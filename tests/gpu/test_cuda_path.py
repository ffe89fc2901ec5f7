"""The GPU path on a real GPU: the face ops, every generator family, the detectors with each
precision and torch.compile, and a simulation through Ray with its tasks on the GPU.

Skipped where torch sees no CUDA GPU (CI's machines have none); run on a GPU machine with
`python -m pytest tests/gpu`. The CPU side of the same options is tested everywhere
(tests/detectors/test_precision_compile.py).
"""

from __future__ import annotations

import pytest
import torch

import deepfake_arena.results
from deepfake_arena import face_ops
from deepfake_arena.detectors import Detector, TrainConfig
from deepfake_arena.faces import FaceBatch
from deepfake_arena.generators.registry import FAMILIES, TrainBudget, get_family
from tests.conftest import QUICKSTART, TINY
from tests.conftest import arena_cli as _arena
from tests.detectors.toy import toy
from tests.generators.test_blend import faces
from tests.generators.test_family_contract import busy

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA GPU visible to torch: these test the GPU path on one"
)
SIZE = 64
# cuDNN convolutions run in TF32 by default (torch.backends.cudnn.allow_tf32), ~1e-3 relative.
ATOL = 3e-3


def test_face_ops_on_cuda_match_the_cpu():
    src, dst = faces(4, seed=1, size=SIZE), faces(4, seed=2, size=SIZE)
    results = {}
    for device in ("cpu", "cuda"):
        s, d = src.to(device), dst.to(device)
        matrix = face_ops.estimate_similarity(s.landmarks, d.landmarks)
        warped = face_ops.warp_to(s.images, matrix, SIZE).clamp(0, 1)
        ellipse = face_ops.face_mask(d.landmarks, SIZE, "ellipse", 1.0, 1.0, 2.0)
        hull = face_ops.face_mask(d.landmarks, SIZE, "hull", 1.1, 0.0, 1.0)
        lab = face_ops.color_transfer_lab(warped, d.images, ellipse, 0.8)
        results[device] = {
            "matrix": matrix,
            "warp": warped,
            "ellipse": ellipse,
            "hull": hull,
            "lab": lab,
            "alpha": face_ops.alpha_blend(lab, d.images, ellipse),
            "laplacian": face_ops.laplacian_blend(lab, d.images, hull, 3),
            "blur": face_ops.gaussian_blur(d.images, torch.tensor([0.5, 1.0, 1.5, 2.0], device=device)),
            "jpeg": face_ops.jpeg(d.images, 60.0),
            "resize": face_ops.resize_roundtrip(d.images, 0.5),
        }
    for name, on_gpu in results["cuda"].items():
        assert on_gpu.device.type == "cuda", name
        assert torch.isfinite(on_gpu).all(), name
        torch.testing.assert_close(on_gpu.cpu(), results["cpu"][name], atol=ATOL, rtol=0, msg=name)


@pytest.mark.parametrize("name", FAMILIES.names())
def test_every_family_makes_fakes_on_cuda(name):
    """Each family trains (where it learns) and makes fakes on the GPU, evasion included."""
    source, target = faces(3, seed=1, size=32).to("cuda"), faces(3, seed=2, size=32).to("cuda")
    family = get_family(name)
    genome = busy(name)
    genome = type(genome)(name, {**genome.genes, "evasion": "whitebox", "evasion_steps": 2})
    gen = torch.Generator(device="cuda").manual_seed(0)
    weights = None
    if family.learns:
        both = FaceBatch(
            *(
                torch.cat([getattr(source, k), getattr(target, k)])
                for k in ("images", "landmarks", "identity", "source")
            )
        )
        weights = family.prepare(both, genome, gen, TrainBudget(steps=3, resolution=16, batch_size=4))
    surrogate = Detector("meso4", device="cuda", seed=0)

    def scorer(x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(surrogate.network(x.contiguous(memory_format=torch.channels_last)))

    out = family.make(source, target, genome, gen, weights=weights, surrogate=scorer)
    assert out.images.device.type == "cuda" and out.images.shape == target.images.shape
    assert torch.isfinite(out.images).all() and 0 <= float(out.images.min()) <= float(out.images.max()) <= 1


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_detector_trains_on_cuda_and_scores_like_the_cpu(precision):
    reals, fakes = toy(16, 32, seed=0)
    det = Detector("meso4", device="cuda", seed=0, precision=precision)
    before = {k: v.clone() for k, v in det.state_dict().items()}
    report = det.fit(reals, fakes, TrainConfig(steps=5, batch_size=8, augment=True), seed=1)
    assert report.steps_run == 5 and torch.isfinite(torch.tensor(report.final_loss))
    state = det.state_dict()
    assert all(v.device.type == "cpu" for v in state.values()), "saved state is on the CPU"
    assert any(not torch.equal(before[k], v) for k, v in state.items())
    on_cpu = Detector("meso4", device="cpu", seed=0)
    on_cpu.load_state_dict(state)
    p_gpu, p_cpu = det.score_uint8(reals[:8]), on_cpu.score_uint8(reals[:8])
    assert p_gpu.device.type == "cpu" and p_gpu.dtype == torch.float32
    tol = ATOL if precision == "fp32" else 3e-2  # half-precision activations
    torch.testing.assert_close(p_gpu, p_cpu, atol=tol, rtol=0)


def test_compiled_detector_on_cuda_scores_like_eager():
    reals, fakes = toy(16, 32, seed=0)
    compiled = Detector("xception", device="cuda", seed=0, compile=True)
    compiled.fit(reals, fakes, TrainConfig(steps=3, batch_size=8, augment=False), seed=1)
    eager = Detector("xception", device="cuda", seed=0)
    eager.load_state_dict(compiled.state_dict())
    torch.testing.assert_close(
        compiled.score_uint8(reals[:8]), eager.score_uint8(reals[:8]), atol=ATOL, rtol=0
    )


@pytest.mark.slow
def test_a_simulation_runs_its_tasks_on_the_gpu_through_ray(tmp_path):
    """device: cuda with a quarter GPU per task; guided evasion (white- and black-box) queries
    the detectors on the GPU and one detector trains in bf16. A task that fell back to the CPU
    warns, and the warning is made an error here, so the run would fail."""
    overrides = [
        *TINY,
        "device=cuda",
        "resources.generator.num_gpus=0.25",
        "resources.detector.num_gpus=0.25",
        "detectors.0.precision=bf16",
        "vault.strains=[{family: blend, genes: {evasion: whitebox, evasion_steps: 2}}, "
        "{family: blend, genes: {evasion: blackbox, evasion_steps: 2}}]",
        "vault.reals=8",
        "vault.fakes_per_strain=8",
    ]
    strict = {"PYTHONWARNINGS": "error:device 'cuda' asked for but no GPU is visible:UserWarning"}
    proc = _arena(
        "run", str(QUICKSTART), *overrides, "--name", "gpu", "--runs-dir", str(tmp_path), env=strict
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    df = deepfake_arena.results.load(tmp_path / "gpu")
    assert {"post", "zero_day", "past", "sealed"} <= set(df.phase)
    assert df.value.notna().all() and sorted(df["round"].unique()) == [1, 2, 3]
    assert (tmp_path / "gpu" / "report" / "cat_and_mouse_auc.png").read_bytes()[:4] == b"\x89PNG"
