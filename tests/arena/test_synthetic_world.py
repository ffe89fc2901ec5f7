"""Tests for the synthetic world renderer: contract, determinism, identity stability, landmarks."""

from __future__ import annotations

import pytest
import torch

from deepfake_arena.faces import FaceBatch
from deepfake_arena.world.synthetic import SyntheticWorld


def _render(world: SyntheticWorld, ids: list[int], seed: int) -> FaceBatch:
    return world.render(torch.tensor(ids, dtype=torch.int64), torch.Generator().manual_seed(seed))


def _skin_colour(faces: FaceBatch) -> torch.Tensor:
    """Mean colour of a cheek patch, located from the landmarks (between eye and mouth corner).

    Shape:
        -> (B, 3)
    """
    lm = faces.landmarks
    out = []
    for i in range(len(faces)):
        patches = []
        for k in (0, 1):
            x, y = (lm[i, k] * 0.5 + lm[i, 3 + k] * 0.5).round().long().tolist()
            patches.append(faces.images[i, :, y - 1 : y + 2, x - 1 : x + 2].reshape(3, -1))
        out.append(torch.cat(patches, 1).mean(1))
    return torch.stack(out)


def test_shapes_dtypes_and_range() -> None:
    world = SyntheticWorld(10, resolution=32, seed=0)
    faces = _render(world, [0, 3, 9, 3], seed=1)
    assert faces.images.shape == (4, 3, 32, 32) and faces.images.dtype == torch.float32
    assert faces.landmarks.shape == (4, 5, 2) and faces.landmarks.dtype == torch.float32
    assert float(faces.images.min()) >= 0.0 and float(faces.images.max()) <= 1.0
    assert faces.identity.tolist() == [0, 3, 9, 3]
    assert faces.source.dtype == torch.int64 and len(set(faces.source.tolist())) == 4
    assert float(faces.images.std()) > 0.05  # not a blank canvas


def test_same_generator_seed_replays_exactly() -> None:
    a = _render(SyntheticWorld(8, 32, seed=5), [1, 2, 7], seed=3)
    b = _render(SyntheticWorld(8, 32, seed=5), [1, 2, 7], seed=3)
    for name in ("images", "landmarks", "identity", "source"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name


def test_different_generator_seed_changes_the_image_not_the_person() -> None:
    world = SyntheticWorld(8, 48, seed=0)
    a, b = _render(world, [4, 4], seed=0), _render(world, [4, 4], seed=1)
    assert not torch.equal(a.images, b.images)
    assert a.source.tolist() != b.source.tolist()
    assert torch.equal(world.params[4], SyntheticWorld(20, 48, seed=0).params[4])
    assert not torch.equal(world.params[4], SyntheticWorld(8, 48, seed=1).params[4])


def test_identity_colour_is_stable_within_and_distinct_across_identities() -> None:
    world = SyntheticWorld(12, 64, seed=0)
    ids = list(range(12))
    a, b = _skin_colour(_render(world, ids, seed=10)), _skin_colour(_render(world, ids, seed=11))
    within = (a - b).norm(dim=1).mean()
    across = (a[:, None] - b[None]).norm(dim=2)
    across = across[~torch.eye(12, dtype=torch.bool)].mean()
    assert within < 0.5 * across, (float(within), float(across))


def test_eye_landmarks_sit_on_dark_pupils() -> None:
    world = SyntheticWorld(24, 128, seed=2)
    faces = _render(world, list(range(24)), seed=0)
    lum = faces.images.mean(1)
    b = torch.arange(24)
    for k in (0, 1):
        eye_x, eye_y = faces.landmarks[:, k].round().long().unbind(1)
        cheek = faces.landmarks[:, k] * 0.5 + faces.landmarks[:, 3 + k] * 0.5
        cheek_x, cheek_y = cheek.round().long().unbind(1)
        margin = lum[b, cheek_y, cheek_x] - lum[b, eye_y, eye_x]
        assert bool((margin > 0.03).all()), margin


def test_landmark_geometry_is_sane() -> None:
    world = SyntheticWorld(16, 64, seed=0)
    faces = _render(world, list(range(16)), seed=4)
    lm = faces.landmarks
    assert bool((lm[:, 0, 0] < lm[:, 1, 0]).all()) and bool((lm[:, 3, 0] < lm[:, 4, 0]).all())
    eyes_y, mouth_y = lm[:, :2, 1].mean(1), lm[:, 3:, 1].mean(1)
    assert bool((eyes_y < lm[:, 2, 1]).all()) and bool((lm[:, 2, 1] < mouth_y).all())
    # Aligned-crop layout: eyes near 40% from the top, mouth lower, all well inside the crop.
    assert bool(((eyes_y / 64 - 0.4).abs() < 0.1).all()), eyes_y / 64
    assert bool(((lm > 4) & (lm < 60)).all())
    inter_ocular = (lm[:, 1] - lm[:, 0]).norm(dim=1) / 64
    assert bool(((inter_ocular > 0.12) & (inter_ocular < 0.32)).all()), inter_ocular


def test_128_pixels_renders() -> None:
    faces = _render(SyntheticWorld(3, 128, seed=0), [0, 1, 2], seed=0)
    assert faces.images.shape == (3, 3, 128, 128)
    assert bool(((faces.landmarks > 0) & (faces.landmarks < 127)).all())


@pytest.mark.parametrize(
    ("identity", "error"),
    [
        (torch.tensor([0, 5]), ValueError),  # out of range
        (torch.tensor([-1]), ValueError),
        (torch.tensor([0.0, 1.0]), TypeError),  # wrong dtype
        (torch.tensor([0, 1], dtype=torch.int32), TypeError),
        (torch.tensor([[0, 1]]), ValueError),  # wrong shape
        (torch.tensor([], dtype=torch.int64), ValueError),
        ([0, 1], TypeError),
    ],
)
def test_bad_identity_raises(identity: object, error: type[Exception]) -> None:
    world = SyntheticWorld(5, 32)
    with pytest.raises(error):
        world.render(identity, torch.Generator())  # type: ignore[arg-type]


def test_bad_construction_and_generator_raise() -> None:
    with pytest.raises(ValueError, match="resolution"):
        SyntheticWorld(5, resolution=16)
    with pytest.raises(ValueError, match="n_identities"):
        SyntheticWorld(0)
    with pytest.raises(TypeError, match="generator"):
        SyntheticWorld(5, 32).render(torch.tensor([0]), 123)  # type: ignore[arg-type]
