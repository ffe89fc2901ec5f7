"""Published weights onto arena architectures: Keras HDF5 MesoNet files (built here with h5py)
give exactly the published network's outputs, torch state dicts round-trip, misfits fail in one
line that lists what does not fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from deepfake_arena.detectors.base import Detector
from deepfake_arena.detectors.registry import build_detector_network
from deepfake_arena.detectors.weights_import import WeightsError, import_weights
from tests.detectors.keras_files import published_logits, random_published, write_keras_h5

ARCHS = {"meso4": "meso4-published", "mesoinception4": "mesoinception4-published"}


class Pickled:
    """A class torch.load(weights_only=True) must refuse to rebuild."""


def _inputs(n: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, (n, 256, 256, 3)).astype(np.float32)


@pytest.mark.parametrize("published", ["meso4", "mesoinception4"])
@pytest.mark.parametrize("tf_names", [False, True])
def test_keras_import_equals_the_published_layer_maths(published, tf_names, tmp_path):
    rng = np.random.default_rng(1)
    layers, names = random_published(published, rng, tf_names=tf_names)
    rng.shuffle(names)  # the file's layer order must not matter: Keras numbers them by creation
    path = write_keras_h5(tmp_path / "w.h5", layers, names, whole_model=tf_names)
    arch = ARCHS[published]
    state = import_weights(arch, {}, path)
    det = Detector(arch, {})
    det.load_state_dict(state)
    x = _inputs()
    expected = published_logits(published, layers, x)
    assert np.std(expected) > 0.1  # not a saturated, constant output
    with torch.no_grad():
        logits = det.network(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
    probs = det.score(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()).numpy()
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-expected)), atol=1e-5)


def test_the_published_presets_differ_from_the_arena_defaults():
    """Same parameter shapes as the arena's meso4 would not make the same function: the preset
    orders conv -> ReLU -> BN with Keras' BN epsilon on unscaled inputs."""
    net = build_detector_network("meso4-published", {})
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert {m.eps for m in bns} == {1e-3}
    assert sum(p.numel() for p in net.parameters()) == 27_977
    block = net.features[0]
    assert [type(m).__name__ for m in block.modules()][1:] == [
        "Sequential",
        "Conv2d",
        "ReLU",
        "BatchNorm2d",
        "MaxPool2d",
    ]


def test_a_smaller_input_is_resized_to_256_or_rejected():
    net = build_detector_network("meso4-published", {}).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        big = torch.nn.functional.interpolate(x, size=(256, 256), mode="bilinear", antialias=True)
        assert torch.allclose(net(x), net(big))
    strict = build_detector_network("meso4-published", {"resize": False}).eval()
    with pytest.raises(ValueError, match="256 x 256"):
        strict(x)


def test_keras_weights_onto_another_architecture_fail_with_one_line(tmp_path):
    layers, names = random_published("meso4", np.random.default_rng(0))
    path = write_keras_h5(tmp_path / "m.h5", layers, names)
    with pytest.raises(WeightsError, match="published MesoNet presets"):
        import_weights("meso4", {}, path)
    with pytest.raises(WeightsError, match="the file has 4 conv layers, mesoinception4-published has 16"):
        import_weights("mesoinception4-published", {}, path)
    bad = [
        (n, [(w, a[..., :-1] if w == "kernel" and a.ndim == 4 and n.endswith("_2") else a) for w, a in ws])
        for n, ws in layers
    ]
    write_keras_h5(tmp_path / "bad.h5", bad, names)
    with pytest.raises(WeightsError, match=r"conv2d_2 -> features\.1\.0\.0\.weight: file \(7, 8, 5, 5\)"):
        import_weights("meso4-published", {}, tmp_path / "bad.h5")


def test_torch_state_dict_round_trip_with_wrapper_prefix(tmp_path):
    src = Detector("meso4", {}, seed=3)
    state = src.state_dict()
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 7}, tmp_path / "a.pth")
    save_file({f"model.{k}": v for k, v in state.items()}, str(tmp_path / "a.safetensors"))
    for name in ("a.pth", "a.safetensors"):
        got = import_weights("meso4", {}, tmp_path / name)
        assert got.keys() == state.keys()
        assert all(torch.equal(got[k], state[k]) for k in state)
    dst = Detector("meso4", {}, seed=4)
    dst.load_state_dict(import_weights("meso4", {}, tmp_path / "a.pth"))
    x = torch.rand(3, 3, 64, 64)
    assert torch.equal(dst.score(x), src.score(x))


def test_torch_mismatch_lists_the_keys(tmp_path):
    state = Detector("meso4", {}).state_dict()
    state["head.2.weight"] = torch.zeros(8, 1024)
    state["extra.bias"] = torch.zeros(3)
    del state["features.0.0.weight"]
    torch.save(state, tmp_path / "x.pt")
    with pytest.raises(WeightsError) as err:
        import_weights("meso4", {}, tmp_path / "x.pt")
    msg = str(err.value)
    assert "\n" not in msg
    assert "missing (1): features.0.0.weight" in msg
    assert "unexpected (1): extra.bias" in msg
    assert "head.2.weight: file (8, 1024), meso4 (16, 1024)" in msg


def test_bad_files_fail_with_one_line(tmp_path):
    with pytest.raises(WeightsError, match="weights file not found"):
        import_weights("meso4", {}, tmp_path / "none.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a zip")
    with pytest.raises(WeightsError, match="not a readable PyTorch state dict"):
        import_weights("meso4", {}, tmp_path / "junk.pth")
    torch.save({"w": Pickled()}, tmp_path / "obj.pt")  # an arbitrary object: never unpickled
    with pytest.raises(WeightsError, match="not a readable PyTorch state dict"):
        import_weights("meso4", {}, tmp_path / "obj.pt")
    torch.save({"a": 1}, tmp_path / "empty.pt")
    with pytest.raises(WeightsError, match="holds no state dict"):
        import_weights("meso4", {}, tmp_path / "empty.pt")
    (tmp_path / "w.onnx").write_bytes(b"x")
    with pytest.raises(WeightsError, match="set weights.format"):
        import_weights("meso4", {}, tmp_path / "w.onnx")
    (tmp_path / "n.h5").write_bytes(b"not hdf5")
    with pytest.raises(WeightsError, match="not a readable HDF5 file"):
        import_weights("meso4-published", {}, tmp_path / "n.h5")
