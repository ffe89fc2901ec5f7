"""Alignment geometry: crops land the landmarks on the template, in the pixels too."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from deepfake_arena.world.ingest.align import TEMPLATE, align_faces, reduce68, sharpness, template_px


def _dots(w: int, h: int, points: np.ndarray) -> Image.Image:
    """A dark photo with a bright 5x5 dot centred on each (integer) point."""
    a = np.zeros((h, w, 3), np.uint8)
    for x, y in points.round().astype(int):
        a[y - 2 : y + 3, x - 2 : x + 3] = 255
    return Image.fromarray(a)


def _blob_centres(crop: np.ndarray, expect: np.ndarray) -> np.ndarray:
    """Intensity-weighted centre of the bright blob near each expected point."""
    grey = crop.astype(np.float64).mean(-1)
    ys, xs = np.mgrid[: grey.shape[0], : grey.shape[1]]
    out = []
    for ex, ey in expect:
        near = ((xs - ex) ** 2 + (ys - ey) ** 2 < 6**2) * grey
        out.append([(near * xs).sum() / near.sum(), (near * ys).sum() / near.sum()])
    return np.array(out)


def test_pixels_follow_the_landmarks_onto_the_template():
    gen = np.random.default_rng(0)
    photos, lms = [], []
    for w, h, scale, angle in [(900, 700, 8.0, 0.2), (500, 800, 5.0, -0.35), (300, 300, 2.5, 0.0)]:
        tpl = template_px(64).numpy()
        c, r = np.cos(angle), np.sin(angle)
        pts = (tpl - 32) @ np.array([[c, r], [-r, c]]) * scale + [w / 2, h / 2] + gen.normal(0, 0.3, (5, 2))
        pts = pts.round()
        photos.append(_dots(w, h, pts))
        lms.append(pts)
    al = align_faces(photos, torch.tensor(np.stack(lms)), 64)
    assert al.images.shape == (3, 3, 64, 64) and al.images.dtype == torch.uint8
    assert al.landmarks5.shape == (3, 5, 2) and al.landmarks68 is None
    for i in range(3):
        expect = al.landmarks5[i].numpy()
        found = _blob_centres(al.images[i].permute(1, 2, 0).numpy(), expect)
        assert np.abs(found - expect).max() < 1.0, (i, found, expect)
        assert np.abs(expect - template_px(64).numpy()).max() < 1.0


def test_68_points_are_carried_and_reduced():
    pts68 = torch.rand(2, 68, 2) * 100 + 50
    five = reduce68(pts68)
    assert five.shape == (2, 5, 2)
    assert torch.allclose(five[:, 0], pts68[:, 36:42].mean(1)) and torch.equal(five[:, 4], pts68[:, 54])
    with pytest.raises(ValueError, match="68"):
        reduce68(torch.rand(1, 5, 2))
    photos = [Image.new("RGB", (300, 300), (90, 90, 90))] * 2
    lm5 = (template_px(64).float() * 3 + 20).expand(2, 5, 2)
    al = align_faces(photos, lm5, 64, landmarks68=pts68)
    assert al.landmarks68 is not None and al.landmarks68.shape == (2, 68, 2)
    assert torch.allclose(al.landmarks68, (pts68 - 20) / 3, atol=1e-3)


def test_sharpness_drops_with_blur_and_template_is_sane():
    img = torch.rand(1, 3, 64, 64)
    blurred = torch.nn.functional.avg_pool2d(img, 5, 1, 2)
    assert float(sharpness(img)) > 10 * float(sharpness(blurred))
    assert TEMPLATE[0, 0] < TEMPLATE[1, 0] and TEMPLATE[0, 1] < TEMPLATE[3, 1]
