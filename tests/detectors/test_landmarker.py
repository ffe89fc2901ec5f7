"""The face extractor's landmark regressor: geometry of its jitter, and that training localises."""

import pytest
import torch

from deepfake_arena.detectors.landmarker import LandmarkNet, jitter, train_landmarker
from tests.generators.test_blend import faces

SIZE = 32


def test_net_maps_crops_to_pixel_landmarks_with_input_gradients():
    net = LandmarkNet(width=8)
    x = torch.rand(2, 3, SIZE, SIZE, requires_grad=True)
    points = net(x)
    assert points.shape == (2, 5, 2)
    (grad,) = torch.autograd.grad(points.sum(), x)
    assert float(grad.abs().sum()) > 0  # what a white-box attack on the extractor needs


def test_jitter_moves_the_landmarks_with_the_pixels():
    # A bright dot at each landmark must land where the jittered landmark says it is.
    b, points = 4, torch.tensor([[8.0, 9.0], [23.0, 9.0], [16.0, 16.0], [10.0, 24.0], [22.0, 24.0]])
    images = torch.zeros(b * 5, 3, SIZE, SIZE)
    for k, (x, y) in enumerate(points.tolist()):
        images[k::5, :, int(y), int(x)] = 1.0
    landmarks = points.repeat(b, 1).view(b * 5, 1, 2).expand(-1, 5, -1).contiguous()
    moved, moved_points = jitter(images, landmarks, torch.Generator().manual_seed(0), strength=1.0)
    grey = moved.mean(1).flatten(1)
    peak = grey.argmax(1)
    found = torch.stack([peak % SIZE, peak // SIZE], -1).float()
    assert float((found - moved_points[:, 0]).norm(dim=-1).max()) <= 1.5
    assert float((moved_points - landmarks).norm(dim=-1).max()) > 1.0  # it did move them


def test_training_localises_better_than_guessing_the_mean_face():
    train, held_out = faces(96, seed=1, size=SIZE), faces(32, seed=2, size=SIZE)
    net = train_landmarker(
        train.images, train.landmarks, torch.Generator().manual_seed(0), steps=200, batch_size=32, width=8
    )
    with torch.no_grad():
        error = (net(held_out.images) - held_out.landmarks).norm(dim=-1).mean()
    guess = (train.landmarks.mean(0) - held_out.landmarks).norm(dim=-1).mean()
    assert float(error) < 0.6 * float(guess), (float(error), float(guess))
    again = train_landmarker(
        train.images, train.landmarks, torch.Generator().manual_seed(0), steps=3, batch_size=8, width=8
    )
    twice = train_landmarker(
        train.images, train.landmarks, torch.Generator().manual_seed(0), steps=3, batch_size=8, width=8
    )
    assert all(
        torch.equal(a, b)
        for a, b in zip(again.state_dict().values(), twice.state_dict().values(), strict=True)
    )


def test_bad_training_input_is_refused():
    with pytest.raises(ValueError, match=r"landmarks \(N, 5, 2\)"):
        train_landmarker(torch.rand(4, 3, SIZE, SIZE), torch.rand(4, 68, 2), torch.Generator())
    with pytest.raises(ValueError, match="steps and batch_size"):
        train_landmarker(torch.rand(4, 3, SIZE, SIZE), torch.rand(4, 5, 2), torch.Generator(), steps=0)
