"""The extractor stage: the miss rule, re-alignment, misses scored as misses, its file on disk."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from deepfake_arena.detectors.landmarker import LandmarkNet
from deepfake_arena.errors import ArenaUserError
from deepfake_arena.rounds import extraction
from deepfake_arena.store.atomic import sha256_file

SIZE = 32
TEMPLATE = torch.tensor(
    [[12.5, 12.8], [19.5, 12.8], [16.0, 16.5], [13.0, 20.1], [19.0, 20.1]], dtype=torch.float64
)


def constant_payload(points: torch.Tensor) -> extraction.Extractor:
    """An extractor that answers `points` (pixels of a SIZE crop) whatever it is shown."""
    net = LandmarkNet(width=4)
    state = net.state_dict()
    state["head.weight"] = torch.zeros_like(state["head.weight"])
    state["head.bias"] = (points.float() / (SIZE - 1) * 2 - 1).flatten()
    return extraction.Extractor({k: v.numpy() for k, v in state.items()}, TEMPLATE.numpy(), width=4)


def images(n: int = 3) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))


def test_points_on_the_template_keep_the_crop_and_are_no_miss():
    x = images()
    aligned, miss, residual = extraction.extract(constant_payload(TEMPLATE), 0.25, x)
    assert not miss.any() and float(residual.max()) < 1e-4
    assert torch.allclose(aligned, x, atol=1e-4)


def test_shifted_points_misplace_the_crop_without_a_miss():
    x = images()
    aligned, miss, _ = extraction.extract(constant_payload(TEMPLATE + torch.tensor([3.0, 0.0])), 0.25, x)
    assert not miss.any()
    # The extractor thinks the face sits 3 px right: the crop is moved 3 px left to re-centre it.
    assert torch.allclose(aligned[..., 4:-4, 4:-4], x[..., 4:-4, 7:-1], atol=1e-4)


@pytest.mark.parametrize(
    "points",
    [
        TEMPLATE[[3, 1, 2, 0, 4]],  # eyes and mouth swapped on one side: no similarity fits
        (TEMPLATE - 16) * 2.5 + 16,  # a face 2.5x the template's size
        torch.full((5, 2), 16.0, dtype=torch.float64),  # every point in one place
    ],
)
def test_points_that_are_no_face_are_a_miss(points):
    _, miss, _ = extraction.extract(constant_payload(points), 0.25, images())
    assert miss.all()


def test_a_miss_is_scored_as_nothing_flagged_and_counted():
    probs = np.array([0.9, 0.8, 0.7, 0.6])
    miss = np.array([False, True, False, True])
    assert extraction.apply_misses(probs, miss).tolist() == [0.9, 0.0, 0.7, 0.0]
    assert extraction.apply_misses(probs, None) is probs
    labels = np.array([0] * 4 + [1] * 10)
    strain_index = np.array([-1] * 4 + [0] * 6 + [1] * 4)
    flags = np.array([True, False, False, False] + [True] * 3 + [False] * 3 + [True] + [False] * 3)
    strains = [{"id": "blend-1", "family": "blend"}, {"id": "blend-2", "family": "blend"}]
    rows = extraction.miss_rows({"round": 1}, flags, labels, strain_index, strains, 0.95)
    got = {(r["strain"], r["metric"]): r for r in rows}
    assert got[("blend-1", "extractor_miss")]["value"] == 0.5 and got[("blend-1", "extractor_miss")]["n"] == 6
    assert got[("blend-2", "extractor_miss")]["value"] == 0.25
    assert got[("all", "extractor_miss")]["value"] == 0.4 and got[("all", "extractor_miss")]["n"] == 10
    real = got[("all", "extractor_miss_real")]
    assert real["value"] == 0.25 and real["n"] == 4
    # Wilson 95% interval of 4/10: (0.168, 0.687)
    assert got[("all", "extractor_miss")]["ci_low"] == pytest.approx(0.1682, abs=1e-3)
    assert got[("all", "extractor_miss")]["ci_high"] == pytest.approx(0.6873, abs=1e-3)


def test_the_saved_extractor_reads_back_only_when_it_matches_round_one(tmp_path):
    payload = constant_payload(TEMPLATE)
    extraction.save(tmp_path / extraction.FILE, payload)
    manifest = {"round": 1, "files": {extraction.FILE: sha256_file(tmp_path / extraction.FILE)}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    back = extraction.load(tmp_path)
    assert back.width == 4 and np.array_equal(back.template, payload.template)
    assert all(np.array_equal(back.weights[k], v) for k, v in payload.weights.items())
    x = images()
    assert torch.equal(extraction.extract(back, 0.25, x)[0], extraction.extract(payload, 0.25, x)[0])
    data = bytearray((tmp_path / extraction.FILE).read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / extraction.FILE).write_bytes(bytes(data))
    with pytest.raises(ArenaUserError, match="does not match its round's manifest"):
        extraction.load(tmp_path)
    (tmp_path / extraction.FILE).unlink()
    with pytest.raises(ArenaUserError, match="missing"):
        extraction.load(tmp_path)


def test_extract_task_works_on_uint8_sets_in_chunks():
    payload = constant_payload(TEMPLATE)
    a = (images(5) * 255).round().to(torch.uint8).numpy()
    out = extraction.extract_task(payload, extraction.ExtractorSpec(), 1, "cpu", a, a[:0])
    (aligned, miss), (empty, none) = out
    assert aligned.dtype == np.uint8 and aligned.shape == a.shape and miss.shape == (5,) and not miss.any()
    assert np.abs(aligned.astype(int) - a.astype(int)).max() <= 1
    assert empty.shape == (0, 3, SIZE, SIZE) and none.shape == (0,)


def _keep(folder, payload=None) -> None:
    """A committed round's folder: its manifest, with the extractor listed when one is kept."""
    folder.mkdir()
    files = {}
    if payload is not None:
        extraction.save(folder / extraction.FILE, payload)
        files[extraction.FILE] = sha256_file(folder / extraction.FILE)
    (folder / "manifest.json").write_text(json.dumps({"files": files}))


def test_the_newest_kept_extractor_is_read_and_its_settings_decide_if_it_still_serves(tmp_path):
    from deepfake_arena.spec import ExtractorSpec, WorldSpec

    world, spec = WorldSpec(), ExtractorSpec()
    want = extraction.trained_for(world, spec, 0)
    first = replace(constant_payload(TEMPLATE), trained_for=want)
    branch = replace(constant_payload(TEMPLATE + 1), trained_for={**want, "width": 8})
    r1, r2, r3 = (tmp_path / f"r{k}" for k in (1, 2, 3))
    _keep(r1, first)
    _keep(r2)
    _keep(r3, branch)
    assert extraction.newest([r2]) is None and extraction.newest([]) is None
    got = extraction.newest([r2, r1])
    assert got is not None and got.trained_for == want and extraction.still_valid(got, want)
    assert np.array_equal(got.weights["head.bias"], first.weights["head.bias"])
    newer = extraction.newest([r3, r2, r1])
    assert newer is not None and np.array_equal(newer.weights["head.bias"], branch.weights["head.bias"])
    assert not extraction.still_valid(newer, want), "trained at another width"
    assert not extraction.still_valid(None, want)
    assert extraction.still_valid(replace(first, trained_for=None), want), "a file from before the record"
    # What decides it: the world, the seed, the training settings; not the miss threshold.
    assert extraction.trained_for(world, ExtractorSpec(miss_threshold=0.5), 0) == want
    assert extraction.trained_for(world, spec, 1) != want
    assert extraction.trained_for(world, ExtractorSpec(steps=10), 0) != want
    assert extraction.trained_for(WorldSpec(resolution=48), spec, 0) != want
